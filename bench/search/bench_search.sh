#!/bin/bash
# NAME
#	bench_search.sh - search, full-text lag, catalog size and verify at archive scale
# SYNOPSIS
#	bench/search/bench_search.sh                        (make bench-search)
#	BENCH_SEARCH_SIZES="5000 20000" bench/search/bench_search.sh
# DESCRIPTION
#	Generates BENCH_SEARCH_SIZES' largest number of realistic messages
#	(gen_mail.py: Zipf vocabulary, 20,000 correspondents in 500 domains,
#	accented and CJK text, attachments, five years of dates), then for
#	each catalog in BENCH_SEARCH_CATALOGS
#	    sqlite   tabulariumd with archive_store = maildir:, archive_catalog = sqlite:
#	    pgsql    archive_store = maildir:, archive_catalog = pgsql: on a private
#	             PostgreSQL server (tests/lib/pg.sh, unix socket only)
#	starts one daemon on a free port on a new, empty data directory and
#	delivers the messages over LMTP (deliver.py, BENCH_SEARCH_SESSIONS
#	sessions) in steps up to each size: 0..S1, then S1..S2, ... After
#	each step it measures, in this order:
#	    ingest   msgs/s of the step (first greeting to last reply)
#	    lag      messages not yet in the full-text index right after the
#	             step's last 250, then every second until none: the
#	             seconds the index needed to catch up
#	    bytes    catalog (SQLite: catalog.db + -wal; PostgreSQL:
#	             pg_database_size), store (du of the Maildir), per message
#	             and per byte of mail delivered (the originals' sizes)
#	    queries  queries.py: the fixed query set, BENCH_SEARCH_REPS runs
#	             each through "tabularium -c CONF search ...", timed
#	             as whole processes; p50/p95/p99
#	    verify   "tabularium verify" (and "verify --jobs 2" when this
#	             build has it), msgs/s; skipped above BENCH_SEARCH_VERIFY_MAX
#	After the last step, the sustained burst (issue 15: "the full-text
#	index keeps up with a sustained 1,500 msgs/s: lag <= 10 s at the end
#	of a five-minute burst"): deliveries paced at BENCH_SEARCH_BURST_RATE
#	msgs/s (deliver.py --rate; sessions that fall behind send as fast as
#	the daemon takes them) for BENCH_SEARCH_BURST_SECONDS (--seconds; the spool holds
#	RATE x SECONDS more messages than the largest step); every second backlog.py samples the SQLite catalog's backlog and the
#	age of its oldest message; then the step's lag measurement (backlog
#	right after the last 250, seconds to empty). Off when
#	BENCH_SEARCH_BURST_SECONDS=0.
#	It writes a markdown report (report.py) to stdout and BENCH_SEARCH_OUT.
#	Nothing is deleted while measuring (bench/README.md, "File system:
#	freed inodes"): each catalog's run keeps its own directory until the
#	end; before the first delivery the script has synced and waited
#	BENCH_SEARCH_SETTLE seconds (generation counts towards it).
# ENVIRONMENT (defaults)
#	BENCH_SEARCH_SIZES="100000 300000 1000000"  increasing message counts
#	BENCH_SEARCH_CATALOGS="sqlite pgsql"  BENCH_SEARCH_SESSIONS=8
#	BENCH_SEARCH_REPS=20  BENCH_SEARCH_LIMIT=50 (0: listing queries unlimited)
#	BENCH_SEARCH_SEED=1  BENCH_SEARCH_SPOOL= (a directory to keep/reuse the
#	generated mail in; default: inside the work directory)
#	BENCH_SEARCH_VERIFY_MAX=1000000  BENCH_SEARCH_VERIFY_TIMEOUT=1800 (per verify run;
#	a verify that runs longer is reported as "< N/1800 msgs/s")
#	BENCH_SEARCH_LAG_MAX=3600 (seconds to wait for the full-text index)
#	BENCH_SEARCH_BURST_RATE=1500 (msgs/s)  BENCH_SEARCH_BURST_SECONDS=300 (0: no burst)
#	BENCH_SEARCH_TAB_PROCS=20 (process_limit)  BENCH_SEARCH_SETTLE=65
#	BENCH_SEARCH_PG_CONF= (extra postgresql.conf lines, e.g. "shared_buffers = 1GB")
#	BENCH_SEARCH_OUT=bench/results-search-latest.md
#	BENCH_TMP=${TMPDIR:-/tmp}  BENCH_KEEP=0 (1: keep the work directory)
#	TABULARIUMD=./build/tabulariumd  TABULARIUM=./build/tabularium  PG_BIN
# DIAGNOSTICS
#	Exit 2 when a prerequisite is missing (the binaries, python3, root
#	for a root-owned daemon's mail_owner), BENCH_SEARCH_SIZES is not an
#	increasing list of numbers, or df shows too little space or inodes
#	for the run (the figures are printed). A catalog whose daemon or
#	PostgreSQL server does not start is reported as skipped, with why. A
#	failed delivery, query, lag timeout or verify is reported in the table
#	and makes the exit status 1; the rest is still measured.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib.sh
. "$SRC/bench/lib.sh"

SIZES=${BENCH_SEARCH_SIZES:-100000 300000 1000000}
CATALOGS=${BENCH_SEARCH_CATALOGS:-sqlite pgsql}
SESSIONS=${BENCH_SEARCH_SESSIONS:-8}
REPS=${BENCH_SEARCH_REPS:-20}
LIMIT=${BENCH_SEARCH_LIMIT:-50}
SEED=${BENCH_SEARCH_SEED:-1}
SPOOL=${BENCH_SEARCH_SPOOL:-}
VERIFY_MAX=${BENCH_SEARCH_VERIFY_MAX:-1000000}
VERIFY_TIMEOUT=${BENCH_SEARCH_VERIFY_TIMEOUT:-1800}
LAG_MAX=${BENCH_SEARCH_LAG_MAX:-3600}
TAB_PROCS=${BENCH_SEARCH_TAB_PROCS:-20}
SETTLE=${BENCH_SEARCH_SETTLE:-65}
PG_EXTRA=${BENCH_SEARCH_PG_CONF:-}
BURST_RATE=${BENCH_SEARCH_BURST_RATE:-1500}
BURST_S=${BENCH_SEARCH_BURST_SECONDS:-300}
OUT=${BENCH_SEARCH_OUT:-$SRC/bench/results-search-latest.md}
TABCLI=${TABULARIUM:-$(dirname "$TABULARIUMD")/tabularium}

say() { echo "bench_search: $*" >&2; }
die2() {
    say "$*"
    exit 2
}

# --- arguments and prerequisites ------------------------------------------

read -r -a SIZE_LIST <<<"$SIZES"
[ ${#SIZE_LIST[@]} -gt 0 ] || die2 "BENCH_SEARCH_SIZES is empty"
prev=0
for n in "${SIZE_LIST[@]}"; do
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$prev" ] ||
        die2 "BENCH_SEARCH_SIZES must be increasing message counts (got '$SIZES')"
    prev=$n
done
MAX=$prev
read -r -a CAT_LIST <<<"$CATALOGS"
for c in "${CAT_LIST[@]}"; do
    case $c in sqlite | pgsql) ;; *) die2 "BENCH_SEARCH_CATALOGS: unknown catalog '$c' (sqlite, pgsql)" ;; esac
done
for v in SESSIONS REPS LIMIT SEED VERIFY_MAX VERIFY_TIMEOUT LAG_MAX TAB_PROCS SETTLE BURST_RATE BURST_S; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die2 "BENCH_SEARCH_$v must be a number (got '${!v}')"
done
# the burst's messages follow the steps' in the spool
BURST_N=$((BURST_RATE * BURST_S))
TOTAL=$((MAX + BURST_N))
command -v python3 >/dev/null || die2 "python3 missing"
[ -x "$TABULARIUMD" ] || die2 "no tabulariumd at $TABULARIUMD (make build, or set TABULARIUMD)"
[ -x "$TABCLI" ] || die2 "no tabularium CLI at $TABCLI (make build, or set TABULARIUM)"
if [ "$(id -u)" = 0 ] && ! id tabularium >/dev/null 2>&1; then
    die2 "the daemon's mail_owner account 'tabularium' does not exist (make account)"
fi

W=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/tabularium-bench-search.XXXXXX") || exit 2
chmod 755 "$W" # the daemon's mail_owner and the user postgres work below it
mkdir -p "$W/res"
STATUS=0

cleanup() {
    trap - EXIT INT TERM
    stop_tabulariumd >/dev/null 2>&1 || true
    [ -z "$PG_DIR" ] || pg_destroy >/dev/null 2>&1 || say "the PostgreSQL server in $PG_DIR did not stop"
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        say "work directory kept: $W"
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

free_port() {
    python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# now: seconds since the epoch with nanoseconds
now() { date +%s.%N; }

# --- space ----------------------------------------------------------------

# Per message and catalog run: a Maildir file (the archive message, about
# the original + 1.3 KB, in 4 KiB blocks) and the catalog with its indexes;
# measured at 20,000 messages (bench/README.md) and rounded up generously.
# The spool: the originals, about 2.4 KB each. 2 GB must be left over.
PER_MSG=${BENCH_SEARCH_PER_MSG:-16000}
SPOOL_PER_MSG=2600
check_space() {
    local need avail ifree ineed spare=2000000000 mb=1000000 reuse=0
    [ -n "$SPOOL" ] && [ -f "$SPOOL/DONE" ] && reuse=1
    need=$((TOTAL * PER_MSG * ${#CAT_LIST[@]}))
    [ $reuse = 1 ] || need=$((need + TOTAL * SPOOL_PER_MSG))
    avail=$(df -P -k "$W" | awk 'NR == 2 {print $4}')
    avail=$((${avail:-0} * 1024))
    ifree=$(df -P -i "$W" | awk 'NR == 2 {print $4}')
    ineed=$((TOTAL * ${#CAT_LIST[@]} + 100000))
    if [ $((need + spare)) -gt "$avail" ]; then
        say "not enough free space in $W for $TOTAL messages on ${#CAT_LIST[@]} catalog(s):" \
            "about $((need / mb)) MB (${PER_MSG} B per message and catalog$([ $reuse = 1 ] ||
                echo ", ${SPOOL_PER_MSG} B per generated message")) plus $((spare / mb)) MB to spare," \
            "but only $((avail / mb)) MB are free (lower BENCH_SEARCH_SIZES, or set BENCH_TMP" \
            "to a larger file system)"
        exit 2
    fi
    if [[ "$ifree" =~ ^[0-9]+$ ]] && [ "$ifree" -lt "$ineed" ]; then
        say "not enough free inodes in $W: a Maildir file per message and catalog needs about" \
            "$ineed, but only $ifree are free"
        exit 2
    fi
    say "free space: $((avail / mb)) MB, about $((need / mb)) MB needed; inodes: $ifree free, about $ineed needed"
}

# --- the daemon -------------------------------------------------------------

# write_conf CAT DATA_DIR PORT: the daemon's configuration for catalog CAT
write_conf() {
    local cat=$1 d=$2 catalog
    case $cat in
    sqlite) catalog=sqlite:$d/data/catalog.db ;;
    pgsql) catalog=pgsql:$PG_CONNINFO ;;
    esac
    cat >"$d/tabularium.conf" <<EOF
# written by bench/search/bench_search.sh
data_directory = $d/data
queue_directory = $d/data/queue
archive_store = maildir:$d/data/Maildir
archive_catalog = $catalog
lmtp_listen = inet:127.0.0.1:$3
process_limit = $TAB_PROCS
max_use = 100000
EOF
}

PG_WHY=
# start_pg: the private server, once, with the schema; sets PG_WHY when not
start_pg() {
    if [ -n "$PG_DIR" ]; then return 0; fi
    # not in $(...): pg_start sets PG_DIR, PG_SOCKDIR, PG_CONNINFO here
    if ! pg_start "$W/pg" >/dev/null 2>"$W/pg-start.err"; then
        PG_WHY=$(tr '\n' ' ' <"$W/pg-start.err" | sed 's/ *$//')
        return 1
    fi
    if [ -n "$PG_EXTRA" ]; then
        printf '%s\n' "$PG_EXTRA" >>"$PG_DIR/pgdata/postgresql.conf"
        pg_stop && pg_start_again || { PG_WHY="restart with BENCH_SEARCH_PG_CONF failed"; return 1; }
    fi
}

# catalog_bytes CAT DIR
catalog_bytes() {
    case $1 in
    sqlite)
        local b=0 f
        for f in "$2/data/catalog.db" "$2/data/catalog.db-wal"; do
            [ ! -f "$f" ] || b=$((b + $(stat -c %s "$f")))
        done
        echo "$b"
        ;;
    pgsql) pg_psql -At -c "SELECT pg_database_size(current_database())" ;;
    esac
}

# pending CAT DIR: messages not yet in the full-text index. SQLite: the
# rows of text_pending, read-only; otherwise (or without that table)
# "tabularium stats --json", key not_indexed; "?" when neither says.
pending() {
    local n=
    if [ "$1" = sqlite ]; then
        n=$(python3 - "$2/data/catalog.db" <<'EOF' 2>/dev/null || true
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
if c.execute("SELECT 1 FROM sqlite_master WHERE name = 'text_pending'").fetchone():
    print(c.execute("SELECT count(*) FROM text_pending").fetchone()[0])
EOF
        )
    fi
    if [ -z "$n" ]; then
        n=$("$TABCLI" -c "$2/tabularium.conf" stats --json 2>/dev/null |
            python3 -c 'import json,sys; print(json.load(sys.stdin).get("not_indexed", "?"))' 2>/dev/null) || n='?'
    fi
    echo "${n:-?}"
}

# measure_lag CAT DIR T_END OUT.json [WHAT]: sample pending() right away and
# then every second until 0 (or LAG_MAX seconds); WHAT ended at T_END.
measure_lag() {
    local cat=$1 d=$2 t_end=$3 out=$4 what=${5:-step} n t first samples='' caught=null
    first=$(pending "$cat" "$d")
    t=$(now)
    samples="[$(awk -v a="$t" -v b="$t_end" 'BEGIN{printf "%.1f", a-b}'),\"$first\"]"
    n=$first
    while [ "$n" != 0 ] && [ "$n" != '?' ]; do
        if awk -v a="$(now)" -v b="$t_end" -v m="$LAG_MAX" 'BEGIN{exit !(a-b > m)}'; then
            say "$cat: the full-text index did not catch up in $LAG_MAX s ($n left)"
            STATUS=1
            break
        fi
        sleep 1
        n=$(pending "$cat" "$d")
        t=$(now)
        samples+=",[$(awk -v a="$t" -v b="$t_end" 'BEGIN{printf "%.1f", a-b}'),\"$n\"]"
    done
    if [ "$first" = 0 ]; then
        caught=0
    elif [ "$n" = 0 ]; then
        caught=$(awk -v a="$t" -v b="$t_end" 'BEGIN{printf "%.1f", a-b}')
    fi
    printf '{"backlog": "%s", "catch_up_s": %s, "samples": [%s]}\n' "$first" "$caught" "$samples" >"$out"
    say "$cat: full-text backlog at the end of the $what: $first; caught up after ${caught} s"
}

# run_verify CAT DIR SIZE OUT.json: verify, and verify --jobs 2 when supported
run_verify() {
    local d=$2 n=$3 out=$4 t0 t1 rc jobs='' json='' label args
    if [ "$n" -gt "$VERIFY_MAX" ]; then
        echo '{"skipped": "above BENCH_SEARCH_VERIFY_MAX"}' >"$out"
        return
    fi
    if "$TABCLI" verify --help 2>&1 | grep -q -- '--jobs'; then jobs=1; fi
    for label in plain jobs2; do
        args=()
        if [ $label = jobs2 ]; then
            [ -n "$jobs" ] || { json+=", \"jobs2\": {\"status\": \"n/a (not in this build)\"}"; continue; }
            args=(--jobs 2)
        fi
        say "$1: verify${args[*]:+ ${args[*]}} at $n messages"
        t0=$(now)
        rc=0
        timeout --foreground "$VERIFY_TIMEOUT" "$TABCLI" -c "$d/tabularium.conf" verify "${args[@]}" \
            >"$d/verify-$label.out" 2>"$d/verify-$label.err" </dev/null || rc=$?
        t1=$(now)
        local st=ok
        case $rc in
        0) ;;
        3) st="findings (exit 3)" ;;
        124) st="timed out after $VERIFY_TIMEOUT s" ;;
        *) st="failed (exit $rc): $(tail -c 300 "$d/verify-$label.err" | tr '\n"\\' '   ')" ;;
        esac
        [ "$st" = ok ] || STATUS=1
        json+="$([ -n "$json" ] && echo ", ")\"$label\": {\"status\": \"$st\", \"seconds\": $(awk -v a="$t0" -v b="$t1" \
            'BEGIN{printf "%.2f", b-a}'), \"rate\": $(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{printf "%.1f", n/(b-a)}')}"
    done
    echo "{$json}" >"$out"
}

# run_burst CAT DIR PORT: the sustained burst after the last step, paced
# at BURST_RATE; results in $W/res/CAT-burst-{ingest,lag}.json
run_burst() {
    local cat=$1 d=$2 rc=0 t_end sample=()
    [ "$cat" != sqlite ] || sample=(--sample "python3 $HERE/backlog.py $d/data/catalog.db")
    say "$cat: sustained burst: messages $MAX..$((TOTAL - 1)) at $BURST_RATE msgs/s for $BURST_S s ($SESSIONS sessions)"
    python3 "$HERE/deliver.py" --spool "$SPOOL" --port "$3" --first "$MAX" --end "$TOTAL" \
        --sessions "$SESSIONS" --rate "$BURST_RATE" --seconds "$BURST_S" "${sample[@]}" >"$W/res/$cat-burst-ingest.json" || rc=$?
    t_end=$(now)
    [ $rc = 0 ] || { say "$cat: burst delivery had failures"; STATUS=1; }
    say "$cat: burst: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("samples",None); print(json.dumps(d))' \
        "$W/res/$cat-burst-ingest.json" 2>/dev/null)"
    measure_lag "$cat" "$d" "$t_end" "$W/res/$cat-burst-lag.json" burst
}

# run_catalog CAT: one daemon, all steps; results in $W/res/CAT-SIZE-*.json
run_catalog() {
    local cat=$1 d=$W/$1 port prev=0 n t_end rc
    mkdir -p "$d/data/queue"
    if [ "$cat" = pgsql ]; then
        start_pg || { echo "{\"skipped\": \"PostgreSQL could not be used: ${PG_WHY//\"/\'}\"}" >"$W/res/$cat.json"; return; }
    fi
    port=$(free_port)
    write_conf "$cat" "$d" "$port"
    if [ "$cat" = pgsql ] && ! "$TABCLI" -c "$d/tabularium.conf" db init >"$d/db-init.log" 2>&1; then
        echo "{\"skipped\": \"tabularium db init failed: $(tail -1 "$d/db-init.log" | tr '"\\' "' ")\"}" >"$W/res/$cat.json"
        STATUS=1
        return
    fi
    if ! TAB_DAEMON_LOG=$d/tabulariumd.log start_tabulariumd "$d/tabularium.conf"; then
        echo "{\"skipped\": \"tabulariumd did not start: $(tail -1 "$d/tabulariumd.log" | tr '"\\' "' ")\"}" >"$W/res/$cat.json"
        STATUS=1
        return
    fi
    echo "{\"ok\": true}" >"$W/res/$cat.json"
    for n in "${SIZE_LIST[@]}"; do
        say "$cat: delivering messages $prev..$((n - 1)) ($SESSIONS sessions)"
        rc=0
        python3 "$HERE/deliver.py" --spool "$SPOOL" --port "$port" --first "$prev" --end "$n" \
            --sessions "$SESSIONS" >"$W/res/$cat-$n-ingest.json" || rc=$?
        t_end=$(now)
        [ $rc = 0 ] || { say "$cat: delivery had failures: $(cat "$W/res/$cat-$n-ingest.json")"; STATUS=1; }
        say "$cat: $(cat "$W/res/$cat-$n-ingest.json")"
        measure_lag "$cat" "$d" "$t_end" "$W/res/$cat-$n-lag.json"
        printf '{"catalog": %s, "store_disk": %s, "store_apparent": %s}\n' \
            "$(catalog_bytes "$cat" "$d")" "$(du -sB1 "$d/data/Maildir" | cut -f1)" \
            "$(du -sb "$d/data/Maildir" | cut -f1)" >"$W/res/$cat-$n-bytes.json"
        say "$cat: sizes $(cat "$W/res/$cat-$n-bytes.json")"
        python3 "$HERE/queries.py" --facts "$SPOOL/facts.json" --size "$n" --cli "$TABCLI" \
            --conf "$d/tabularium.conf" --reps "$REPS" --limit "$LIMIT" \
            --out "$W/res/$cat-$n-queries.json" || { say "$cat: queries.py failed"; STATUS=1; }
        ! grep -q '"status": "failed"' "$W/res/$cat-$n-queries.json" 2>/dev/null || STATUS=1
        run_verify "$cat" "$d" "$n" "$W/res/$cat-$n-verify.json"
        prev=$n
    done
    [ "$BURST_N" = 0 ] || run_burst "$cat" "$d" "$port"
    stop_tabulariumd >/dev/null 2>&1 || say "$cat: tabulariumd needed SIGKILL to stop"
}

# --- main -----------------------------------------------------------------

T_START=$SECONDS
say "work directory $W"
check_space
sync
T_SYNC=$SECONDS

if [ -n "$SPOOL" ] && [ -f "$SPOOL/DONE" ] &&
    grep -q "seed=$SEED count=$TOTAL " "$SPOOL/DONE"; then
    say "reusing the generated mail in $SPOOL ($(cat "$SPOOL/DONE"))"
else
    if [ -n "$SPOOL" ] && [ -e "$SPOOL" ] && [ -n "$(ls -A "$SPOOL")" ]; then
        die2 "BENCH_SEARCH_SPOOL=$SPOOL is not empty and holds no complete spool for seed $SEED and $TOTAL messages"
    fi
    SPOOL=${SPOOL:-$W/spool}
    say "generating $TOTAL messages into $SPOOL"
    t0=$SECONDS
    # the steps' messages get the dates of a run without the burst (5
    # years over MAX messages); the burst's follow them
    python3 "$HERE/gen_mail.py" --count "$TOTAL" --seed "$SEED" --out "$SPOOL" \
        --years "$(awk -v t="$TOTAL" -v m="$MAX" 'BEGIN{printf "%.6f", 5 * t / m}')" 2>"$W/gen.log" ||
        { tail -20 "$W/gen.log" >&2; die2 "gen_mail.py failed"; }
    echo "{\"seconds\": $((SECONDS - t0))}" >"$W/res/gen.json"
    say "generated in $((SECONDS - t0)) s"
fi
wait_s=$((SETTLE - (SECONDS - T_SYNC)))
if [ "$wait_s" -gt 0 ]; then
    say "waiting $wait_s s more so that inodes freed before the bench leave ext4's recently-deleted window"
    sleep "$wait_s"
fi

for c in "${CAT_LIST[@]}"; do
    run_catalog "$c"
done

cat >"$W/res/run.json" <<EOF
{"seconds": $((SECONDS - T_START)), "burst_rate": $BURST_RATE, "burst_seconds": $BURST_S, "sizes": [$(
    IFS=,
    echo "${SIZE_LIST[*]}"
)], "catalogs": "$CATALOGS", "sessions": $SESSIONS, "reps": $REPS, "limit": $LIMIT, "seed": $SEED,
 "tab_procs": $TAB_PROCS, "pg_extra": "$(printf '%s' "$PG_EXTRA" | tr '\n"\\' "; '")",
 "pg_version": "$([ -x "$PG_BIN/postgres" ] && "$PG_BIN/postgres" -V | awk '{print $3}')",
 "commit": "$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$SRC" diff --quiet HEAD 2>/dev/null || echo "+dirty")",
 "workdir": "$W", "disk": "$(findmnt -no SOURCE,FSTYPE -T "$W" | tr -s ' ' | tr '"' "'")",
 "disk_size": "$(df -h --output=size "$W" | tail -1 | tr -d ' ')", "tabulariumd": "$TABULARIUMD"}
EOF
python3 "$HERE/report.py" "$W/res" "$SPOOL/facts.json" >"$W/report.md" || { say "report.py failed"; exit 1; }
cat "$W/report.md"
cp "$W/report.md" "$OUT" && say "report written to $OUT (wall time $((SECONDS - T_START)) s)"
exit $STATUS
