#!/bin/bash
# NAME
#	bench.sh - LMTP throughput, CPU and memory of tabulariumd against its peers
# SYNOPSIS
#	bench/bench.sh                      (make bench)
#	BENCH_QUICK=1 bench/bench.sh        (500 x 4 KiB, 100 x 100 KiB)
# DESCRIPTION
#	In one run, on loopback only, starts three LMTP servers on free ports:
#	    smtp-sink -L          the protocol ceiling (stores nothing)
#	    Dovecot LMTP          into Maildir (tests/lib/dovecot-lmtp.sh), the peer
#	    tabulariumd           maildir store + sqlite catalog, config written here
#	    tabulariumd pgsql     archive_store = archive_catalog = pgsql:CONNINFO on
#	                          a private PostgreSQL server (tests/lib/pg.sh:
#	                          initdb in the work directory, unix socket only),
#	                          when one can be started; else its rows are
#	                          skipped and the report says why
#	and drives each with Postfix's smtp-source -L ($BENCH_SESSIONS sessions)
#	through four cases: small and large messages, with a new connection per
#	message and with connection reuse (-d). Every case runs $BENCH_RUNS
#	times; the median of each figure is reported. Every run starts on an
#	empty store, and nothing is deleted while measuring: each run gets a
#	NEW directory (tabulariumd is restarted on data.N, Dovecot on
#	dovecot-mail.N) and the old ones stay until the end; only for pgsql
#	the database is dropped, created and "tabularium db init"ed (its
#	relation files, not one per message). Only one tabulariumd runs at a
#	time: each run starts its own.
#
#	Freed inodes: on ext4 without a journal (this machine's root) the inode
#	allocator skips every inode freed in the last 60 s (360 s while its
#	inode-table block is dirty) and reads each one's inode-table block, so
#	whoever runs right after thousands of deletions pays per new file (see
#	bench/README.md, "File system: freed inodes"). Hence the directories
#	above, and before the first measured run "sync" and a wait of
#	$BENCH_SETTLE seconds, so that files deleted before the bench (a test
#	suite, an earlier bench's cleanup) have left that window. The work
#	directory needs about runs x count x size x 2 per target: checked
#	with df first (2 GB must be left over).
#
#	CPU is utime+stime+cutime+cstime from /proc/PID/stat summed over the
#	server's process tree (the process started and all its descendants,
#	found through PPID), read before and after a run: exited children are
#	counted through their parent's cutime/cstime. For the pgsql rows the
#	PostgreSQL server's process tree (postmaster, backends, WAL writer,
#	checkpointer) is added: it does that target's storing.
#
#	Latency: bench/lmtp_latency.py sends LAT_SMALL/LAT_LARGE messages with
#	connection reuse, with 1 session and with $BENCH_SESSIONS at once,
#	and reports p50/p90/p99/max of the time from the end of DATA (the
#	final "." sent) to the recipient's reply, for every target.
#
#	Memory: VmHWM (peak RSS) of the tabulariumd worker of a freshly started
#	daemon with process_limit = 1: idle, after one small warm-up message and
#	after one $BENCH_BIG_SIZE byte message; the same for Dovecot's lmtp
#	processes, for comparison.
#
#	Writes a markdown report to stdout and to $BENCH_OUT
#	(bench/results-latest.md). Every server it started is stopped on exit.
#	Needs root (Dovecot, smtp-sink -u).
# ENVIRONMENT (defaults)
#	TABULARIUMD=./build/tabulariumd   missing binary: its rows are skipped
#	BENCH_SKIP_TAB=0 BENCH_SKIP_DOVECOT=0 BENCH_SKIP_SINK=0 BENCH_SKIP_RSS=0
#	BENCH_SKIP_PGSQL=0  PG_BIN=/usr/lib/postgresql/15/bin (tests/lib/pg.sh)
#	BENCH_SKIP_LAT=0  BENCH_LAT_SMALL_COUNT=1000 (200 quick)
#	BENCH_LAT_LARGE_COUNT=300 (100 quick)
#	BENCH_QUICK=0  BENCH_RUNS=3  BENCH_SESSIONS=10
#	BENCH_SMALL_COUNT=5000 (500 quick)  BENCH_SMALL_SIZE=4096
#	BENCH_LARGE_COUNT=1000 (100 quick)  BENCH_LARGE_SIZE=102400
#	BENCH_BIG_SIZE=52428800  BENCH_DOVECOT_FSYNC=optimized  BENCH_TAB_PROCS=20
#	BENCH_RUN_TIMEOUT=300 (seconds per smtp-source run)
#	BENCH_MAX_SECONDS=3600 (no new run starts after this)
#	BENCH_SETTLE=65 (seconds to wait after "sync" before the first measured
#	run; 0: no wait)
#	BENCH_TMP=${TMPDIR:-/tmp}  BENCH_KEEP=0 (1: keep the work directory)
#	BENCH_OUT=bench/results-latest.md
# DIAGNOSTICS
#	A failed or timed-out run is reported as "failed" in the table and makes
#	the exit status 1; the other rows are still measured. Exit 2 when a
#	prerequisite (root, smtp-source, python3) is missing or the work
#	directory's file system has too little free space for all runs.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
# shellcheck source=lib.sh
. "$SRC/bench/lib.sh"

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] && q=1 || q=0
SMALL_N=${BENCH_SMALL_COUNT:-$([ $q = 1 ] && echo 500 || echo 5000)}
LARGE_N=${BENCH_LARGE_COUNT:-$([ $q = 1 ] && echo 100 || echo 1000)}
LAT_SMALL_N=${BENCH_LAT_SMALL_COUNT:-$([ $q = 1 ] && echo 200 || echo 1000)}
LAT_LARGE_N=${BENCH_LAT_LARGE_COUNT:-$([ $q = 1 ] && echo 100 || echo 300)}
SMALL_SIZE=${BENCH_SMALL_SIZE:-4096}
LARGE_SIZE=${BENCH_LARGE_SIZE:-102400}
BIG_SIZE=${BENCH_BIG_SIZE:-52428800}
K=${BENCH_RUNS:-3}
SESSIONS=${BENCH_SESSIONS:-10}
FSYNC=${BENCH_DOVECOT_FSYNC:-optimized}
TAB_PROCS=${BENCH_TAB_PROCS:-20} # the product default
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
MAX_SECONDS=${BENCH_MAX_SECONDS:-3600}
SETTLE=${BENCH_SETTLE:-65}
OUT=${BENCH_OUT:-$HERE/results-latest.md}
SENDER=bench@sender.test
RCPT=archive+rcpt=bench.test@archive.test

[ "$(id -u)" = 0 ] || { echo "bench.sh: must run as root (Dovecot, smtp-sink)" >&2; exit 2; }
SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
[ -x "$SOURCE" ] && [ -x "$SINK" ] || { echo "bench.sh: smtp-source/smtp-sink missing (package postfix)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench.sh: python3 missing" >&2; exit 2; }
[[ "$SETTLE" =~ ^[0-9]+$ ]] || { echo "bench.sh: BENCH_SETTLE must be a number of seconds" >&2; exit 2; }
CLK_TCK=$(getconf CLK_TCK)

W=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/tabularium-bench.XXXXXX") || exit 2
chmod 755 "$W" # Dovecot delivers as vmail below it
REPORT=$W/report.md
STATUS=0
SINK_PID=

say() { echo "$*" >&2; }

cleanup() {
    trap - EXIT INT TERM
    [ -z "$SINK_PID" ] || { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; }
    stop_tabulariumd >/dev/null || true
    [ -z "$PG_DIR" ] || pg_destroy >/dev/null 2>&1 || say "bench.sh: the PostgreSQL server in $PG_DIR did not stop"
    dovecot_ctl stop >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench.sh: work directory kept: $W" >&2
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
# smtp-source runs under "timeout --foreground": it stays in our process group,
# so Ctrl-C ends it and, through its signal status, this script too.
trap 'echo "bench.sh: interrupted" >&2; exit 130' INT TERM

# procstat.py: the /proc readings, in one place. "ticks PID": summed CPU ticks
# of PID's process tree; "hwm PID [COMM]": "pid comm VmHWM-kB" for each
# descendant of PID (only those named COMM when given).
cat >"$W/procstat.py" <<'EOF'
import os, sys

def table():
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        # rest[0] is field 3 (state): ppid is field 4, utime..cstime 14..17
        procs[int(d)] = (int(rest[1]), comm, sum(int(x) for x in rest[11:15]))
    return procs

def tree(procs, root):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, v in procs.items() if v[0] == p)
    return out

def hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1

cmd, root = sys.argv[1], int(sys.argv[2])
procs = table()
if root not in procs:
    sys.exit("no process %d" % root)
members = tree(procs, root)
if cmd == "ticks":
    # "ticks PID [PID...]": the sum over several trees
    for r in sys.argv[3:]:
        if int(r) not in procs:
            sys.exit("no process %s" % r)
        members += tree(procs, int(r))
    print(sum(procs[p][2] for p in set(members)))
elif cmd == "hwm":
    want = sys.argv[3] if len(sys.argv) > 3 else None
    for p in members[1:]:
        if want is None or procs[p][1] == want:
            print(p, procs[p][1], hwm(p))
EOF

# ticks_of "PID [PID...]": CPU ticks of those process trees
# shellcheck disable=SC2086
ticks_of() { python3 "$W/procstat.py" ticks $1; }

free_port() {
    python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

median() { sort -g | awk '{a[NR]=$1} END{if(NR==0){print "";exit} print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }

size_label() {
    if [ $(($1 % 1048576)) = 0 ]; then
        echo "$(($1 / 1048576)) MiB"
    elif [ $(($1 % 1024)) = 0 ]; then
        echo "$(($1 / 1024)) KiB"
    else
        echo "$1 B"
    fi
}

# --- servers --------------------------------------------------------------

declare -A PORT ROOT LABEL
TARGETS=()

start_sink() {
    PORT[sink]=$(free_port)
    "$SINK" -L -u nobody -m 1000 "127.0.0.1:${PORT[sink]}" 1000 >"$W/smtp-sink.out" 2>&1 </dev/null &
    SINK_PID=$!
    ROOT[sink]=$SINK_PID
    wait_for_socket "inet:127.0.0.1:${PORT[sink]}" 10
}

# Every start of Dovecot gets new directories (see "Freed inodes" above):
# $W/dovecot.N for its config, sockets, state and log (a master started on
# its predecessor's base_dir would remove and recreate some 30 sockets) and
# $W/dovecot-mail.N for the mail. The old ones are kept until the end.
DV_N=0
dovecot_ctl() { DIR=$W/dovecot.$DV_N MAILROOT=$W/dovecot-mail.$DV_N "$SRC/tests/lib/dovecot-lmtp.sh" "$@"; }

start_dovecot() {
    local pidfile
    PORT[dovecot]=$(free_port)
    DV_N=$((DV_N + 1))
    pidfile=$W/dovecot.$DV_N/run/master.pid
    dovecot_ctl start "${PORT[dovecot]}" "$FSYNC" >&2 || return 1
    # the port can be open a moment before master.pid is written
    for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
    ROOT[dovecot]=$(cat "$pidfile") || return 1
}

# A restarted Dovecot on a new, empty MAILROOT (the old one is kept), so
# that nothing is deleted and no lmtp process remembers earlier peaks.
reset_dovecot() {
    dovecot_ctl stop >/dev/null
    start_dovecot
}

fresh_dovecot() { reset_dovecot; }

# write_tab_config FILE PROCESS_LIMIT DATA_DIRECTORY
write_tab_config() {
    mkdir -p "$W/tab"
    cat >"$1" <<EOF
# written by bench/bench.sh
data_directory = $3
queue_directory = $3/queue
archive_store = maildir:$3/Maildir
archive_catalog = sqlite:$3/catalog.db
lmtp_listen = inet:127.0.0.1:${PORT[tab]}
process_limit = $2
max_use = 100000
message_size_limit = $((BIG_SIZE * 2))
EOF
}

# A new, empty data directory $W/tab/data.N (the old ones are kept: see
# "Freed inodes" above), $TAB_CONF written for it with process_limit =
# $TAB_LIMIT, and a freshly started daemon.
TAB_N=0
reset_tab() {
    stop_tabulariumd >/dev/null || say "bench.sh: tabulariumd needed SIGKILL to stop"
    TAB_N=$((TAB_N + 1))
    mkdir -p "$W/tab/data.$TAB_N/queue"
    write_tab_config "$TAB_CONF" "$TAB_LIMIT" "$W/tab/data.$TAB_N"
    TAB_DAEMON_LOG=$W/tab/tabulariumd.log start_tabulariumd "$TAB_CONF" || return 1
    ROOT[tab]=$TAB_DAEMON_PID
}

# One worker only, so the warm-up and the big message meet the same process.
fresh_tab() {
    TAB_CONF=$W/tab/tabularium-rss.conf
    TAB_LIMIT=1
    reset_tab
}

reset_sink() { :; }

# --- tabulariumd on PostgreSQL ----------------------------------------------

PG_ADMIN=
PG_WHY=
PG_N=0

# write_pg_config DATA_DIRECTORY: the daemon's config for the pgsql target.
write_pg_config() {
    cat >"$PG_TAB_CONF" <<EOF
# written by bench/bench.sh
data_directory = $1
queue_directory = $1/queue
archive_store = pgsql:$PG_CONNINFO
archive_catalog = pgsql:$PG_CONNINFO
lmtp_listen = inet:127.0.0.1:${PORT[pg]}
process_limit = $TAB_PROCS
max_use = 100000
message_size_limit = $((BIG_SIZE * 2))
EOF
}

# start_pgsql: a private server in $W/pg, the schema, the daemon's config.
start_pgsql() {
    # not in $(...): pg_start sets PG_DIR, PG_SOCKDIR, PG_CONNINFO here
    pg_start "$W/pg" >/dev/null 2>"$W/pg-start.err" ||
        { PG_WHY=$(tr '\n' ' ' <"$W/pg-start.err" | sed 's/ *$//'); return 1; }
    PG_ADMIN="postgresql:///postgres?host=$PG_SOCKDIR&user=postgres"
    mkdir -p "$W/tabpg"
    PG_TAB_CONF=$W/tabpg/tabularium.conf
    reset_pg || { PG_WHY="the daemon or tabularium db init failed (log below)"; return 1; }
}

# An empty database with the current schema and a freshly started daemon.
# The database is dropped and created again, as before: that deletes the
# previous run's relation files (one per table, index and fork, not one per
# message: the messages are rows). The daemon's own data directory (its
# queue) is a new data.N.
reset_pg() {
    local tabcli
    tabcli=$(dirname "$TABULARIUMD")/tabularium
    stop_tabulariumd >/dev/null || say "bench.sh: tabulariumd needed SIGKILL to stop"
    PG_N=$((PG_N + 1))
    mkdir -p "$W/tabpg/data.$PG_N/queue"
    write_pg_config "$W/tabpg/data.$PG_N"
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_ADMIN" \
        -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
        -c "CREATE DATABASE $PG_DB TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'" \
        >>"$W/tabpg/reset.log" 2>&1 || { say "bench.sh: pgsql: cannot recreate the database"; return 1; }
    "$tabcli" -c "$PG_TAB_CONF" db init >>"$W/tabpg/reset.log" 2>&1 ||
        { say "bench.sh: pgsql: tabularium db init failed: $(tail -1 "$W/tabpg/reset.log")"; return 1; }
    TAB_DAEMON_LOG=$W/tabpg/tabulariumd.log start_tabulariumd "$PG_TAB_CONF" || return 1
    PG_POSTMASTER=$(head -1 "$PG_DIR/pgdata/postmaster.pid")
    ROOT[pg]="$TAB_DAEMON_PID $PG_POSTMASTER"
}

# --- measurement ----------------------------------------------------------

declare -A RATE MBS CPU PGCPU
CASES=()

# run_case TARGET CASE N SIZE REUSE(0|1): K runs, medians into RATE/MBS/CPU.
run_case() {
    local t=$1 c=$2 n=$3 size=$4 reuse=$5 i rates='' cpus='' t0 t1 c0 c1 rate cpu dflag=''
    local p0=0 p1=0 pgcpus=''
    [ "$reuse" = 1 ] && dflag=-d
    for i in $(seq "$K"); do
        if [ $SECONDS -ge "$MAX_SECONDS" ]; then
            say "bench.sh: BENCH_MAX_SECONDS=$MAX_SECONDS reached, skipping the rest"
            break
        fi
        "reset_$t" || { say "bench.sh: $t: reset failed"; break; }
        sync
        c0=$(ticks_of "${ROOT[$t]}") || break
        [ "$t" != pg ] || p0=$(ticks_of "$PG_POSTMASTER") || break
        t0=$(date +%s.%N)
        if ! timeout --foreground "$RUN_TIMEOUT" "$SOURCE" -L $dflag -s "$SESSIONS" -m "$n" -l "$size" \
            -f "$SENDER" -t "$RCPT" "127.0.0.1:${PORT[$t]}" >"$W/source.out" 2>&1; then
            say "bench.sh: $t / $c run $i: smtp-source failed or timed out:"
            tail -3 "$W/source.out" >&2
            rates=
            break
        fi
        t1=$(date +%s.%N)
        c1=$(ticks_of "${ROOT[$t]}") || break
        [ "$t" != pg ] || p1=$(ticks_of "$PG_POSTMASTER") || break
        pgcpus+="$(awk -v d=$((p1 - p0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN{printf "%.3f", d/hz/n*1000}') "
        rate=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/(b-a)}')
        cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$n" 'BEGIN{printf "%.3f", d/hz/n*1000}')
        say "  $t / $c run $i: $rate msgs/s, $cpu CPU s/1000 msgs"
        rates+="$rate "
        cpus+="$cpu "
    done
    if [ -z "$rates" ] || [ "$(echo $rates | wc -w)" -lt "$K" ]; then
        RATE[$t|$c]=failed
        MBS[$t|$c]=-
        CPU[$t|$c]=-
        STATUS=1
        return
    fi
    RATE[$t|$c]=$(printf '%s\n' $rates | median)
    MBS[$t|$c]=$(awk -v r="${RATE[$t|$c]}" -v s="$size" 'BEGIN{printf "%.2f", r*s/1e6}')
    CPU[$t|$c]=$(printf '%s\n' $cpus | median)
    [ "$t" != pg ] || PGCPU[$c]=$(printf '%s\n' $pgcpus | median)
}

# rss_probe TARGET [COMM]: on a fresh server, VmHWM of its workers when idle,
# after one SMALL_SIZE message (warm-up: libraries, caches, catalog pages
# touched once) and after one BIG_SIZE message. Sets RSS_IDLE, RSS_WARM,
# RSS_PEAK (largest VmHWM at each point) and RSS_GROWTH (largest growth of
# one worker from warm to after the big message), all in kB.
rss_probe() {
    local t=$1 comm=${2:-} idle warm after
    "fresh_$t" || return 1
    sleep 0.5
    idle=$(python3 "$W/procstat.py" hwm "${ROOT[$t]}" $comm)
    [ -n "$idle" ] || { say "bench.sh: $t: no worker processes found"; return 1; }
    rss_send "$t" "$SMALL_SIZE" || return 1
    warm=$(python3 "$W/procstat.py" hwm "${ROOT[$t]}" $comm)
    rss_send "$t" "$BIG_SIZE" || return 1
    after=$(python3 "$W/procstat.py" hwm "${ROOT[$t]}" $comm)
    RSS_IDLE=$(echo "$idle" | awk '$3>m{m=$3} END{print m+0}')
    RSS_WARM=$(echo "$warm" | awk '$3>m{m=$3} END{print m+0}')
    RSS_PEAK=$(echo "$after" | awk '$3>m{m=$3} END{print m+0}')
    # A worker that did not exist at warm-up is compared with the warm peak.
    RSS_GROWTH=$(awk -v base="$RSS_WARM" 'NR==FNR{b[$1]=$3; next}
        {d=$3-(($1 in b)?b[$1]:base); if(d>m)m=d} END{print m+0}' \
        <(echo "$warm") <(echo "$after"))
}

rss_send() { # rss_send TARGET SIZE: one message, one session
    if ! timeout --foreground "$RUN_TIMEOUT" "$SOURCE" -L -s 1 -m 1 -l "$2" -f "$SENDER" \
        -t "$RCPT" "127.0.0.1:${PORT[$1]}" >"$W/source.out" 2>&1; then
        say "bench.sh: $1: the $(size_label "$2") message failed:"
        tail -3 "$W/source.out" >&2
        return 1
    fi
}

# check_space: the runs' stores are kept until the end (see "Freed inodes"
# above), so all of them must fit, with 2 GB to spare. Estimate per target:
# the sum over its runs of count x size x 2 (message file, catalog, index,
# block rounding); pgsql keeps one run at a time (its database is dropped),
# so only its largest run counts. smtp-sink stores nothing.
check_space() {
    local run=0 lat=0 rss=0 pg=0 need=0 x avail spare=2000000000 mb=1000000
    run=$((K * 2 * 2 * (SMALL_N * SMALL_SIZE + LARGE_N * LARGE_SIZE)))
    [ "${BENCH_SKIP_LAT:-0}" = 1 ] ||
        lat=$((2 * 2 * (LAT_SMALL_N * SMALL_SIZE + LAT_LARGE_N * LARGE_SIZE)))
    [ "${BENCH_SKIP_RSS:-0}" = 1 ] || rss=$((2 * (SMALL_SIZE + BIG_SIZE)))
    for x in $((SMALL_N * SMALL_SIZE)) $((LARGE_N * LARGE_SIZE)) \
        $((LAT_SMALL_N * SMALL_SIZE)) $((LAT_LARGE_N * LARGE_SIZE)); do
        [ $((2 * x)) -le "$pg" ] || pg=$((2 * x))
    done
    [ "${BENCH_SKIP_DOVECOT:-0}" = 1 ] || need=$((need + run + lat + rss))
    if [ "${BENCH_SKIP_TAB:-0}" != 1 ] && [ -x "$TABULARIUMD" ]; then
        need=$((need + run + lat + rss))
    fi
    if [ "${BENCH_SKIP_PGSQL:-0}" != 1 ] && [ -x "$TABULARIUMD" ]; then
        need=$((need + pg))
    fi
    avail=$(df -P -k "$W" | awk 'NR == 2 {print $4}')
    avail=$((${avail:-0} * 1024))
    if [ $((need + spare)) -gt "$avail" ]; then
        say "bench.sh: not enough free space in $W: every run keeps its own store until" \
            "the end (no deletions while measuring), about $((need / mb)) MB for all runs," \
            "plus $((spare / mb)) MB to spare, but only $((avail / mb)) MB are free" \
            "(lower BENCH_RUNS or BENCH_*_COUNT, or set BENCH_TMP to a larger file system)"
        exit 2
    fi
    say "bench.sh: free space: $((avail / mb)) MB, about $((need / mb)) MB needed for the kept stores"
}

# skip_note WHAT VAR SUFFIX: why the tabulariumd target WHAT is not run
# (VAR=1 says skip it; SUFFIX follows the missing-executable note), or
# nothing when it may be.
skip_note() {
    if [ "${!2:-0}" = 1 ]; then
        echo "$1 skipped ($2=1)"
    elif [ ! -x "$TABULARIUMD" ]; then
        echo "$1 skipped: no executable at $TABULARIUMD$3"
    fi
}

# --- main -----------------------------------------------------------------

say "bench.sh: work directory $W"
check_space
if [ "${BENCH_SKIP_SINK:-0}" != 1 ]; then
    start_sink && TARGETS+=(sink) || { say "bench.sh: smtp-sink did not start"; STATUS=1; }
fi
LABEL[sink]="smtp-sink -L (ceiling)"
if [ "${BENCH_SKIP_DOVECOT:-0}" != 1 ]; then
    start_dovecot && TARGETS+=(dovecot) || { say "bench.sh: Dovecot did not start"; STATUS=1; }
fi
LABEL[dovecot]="Dovecot LMTP → Maildir (mail_fsync=$FSYNC)"
TAB_NOTE=$(skip_note tabulariumd BENCH_SKIP_TAB " (build it, or set TABULARIUMD)")
if [ -z "$TAB_NOTE" ]; then
    PORT[tab]=$(free_port)
    TAB_CONF=$W/tab/tabularium.conf
    TAB_LIMIT=$TAB_PROCS
    if reset_tab; then
        TARGETS+=(tab)
    else
        TAB_NOTE="tabulariumd skipped: it did not start (log below)"
        STATUS=1
    fi
fi
LABEL[tab]="tabulariumd maildir+sqlite"
[ -z "$TAB_NOTE" ] || say "bench.sh: $TAB_NOTE"
PG_NOTE=$(skip_note "tabulariumd pgsql" BENCH_SKIP_PGSQL "")
if [ -z "$PG_NOTE" ]; then
    PORT[pg]=$(free_port)
    if start_pgsql; then
        TARGETS+=(pg)
    else
        PG_NOTE="tabulariumd pgsql skipped: PostgreSQL could not be used: $PG_WHY"
    fi
fi
LABEL[pg]="tabulariumd pgsql store+catalog"
[ -z "$PG_NOTE" ] || say "bench.sh: $PG_NOTE"

# Files deleted just before the bench (a test suite, an earlier bench's
# cleanup) would make ext4 skip their inodes in the first runs: "sync" makes
# the inode-table blocks clean (a 60 s window instead of 360 s), then wait.
sync
if [ "$SETTLE" -gt 0 ]; then
    say "bench.sh: sync done; waiting BENCH_SETTLE=$SETTLE s so that inodes freed before the" \
        "bench leave ext4's recently-deleted window (bench/README.md, \"File system: freed inodes\")"
    sleep "$SETTLE"
else
    say "bench.sh: BENCH_SETTLE=0: not waiting; inodes freed in the last minute may slow the first runs"
fi

for spec in "$SMALL_N $SMALL_SIZE 0" "$SMALL_N $SMALL_SIZE 1" \
    "$LARGE_N $LARGE_SIZE 0" "$LARGE_N $LARGE_SIZE 1"; do
    set -- $spec
    c="$1 × $(size_label "$2"), $([ "$3" = 1 ] && echo "reuse (-d)" || echo "new conn")"
    CASES+=("$c")
    for t in "${TARGETS[@]}"; do
        say "bench.sh: $t / $c"
        run_case "$t" "$c" "$1" "$2" "$3"
    done
done

# Latency: bench/lmtp_latency.py, end of DATA to the reply, on a freshly
# reset server, with one session (nothing else running) and with
# $SESSIONS sessions at once (the load of the throughput runs).
declare -A LAT=()
LAT_CASES=()
if [ "${BENCH_SKIP_LAT:-0}" != 1 ]; then
    for spec in "$LAT_SMALL_N $SMALL_SIZE 1" "$LAT_SMALL_N $SMALL_SIZE $SESSIONS" \
        "$LAT_LARGE_N $LARGE_SIZE 1" "$LAT_LARGE_N $LARGE_SIZE $SESSIONS"; do
        set -- $spec
        c="$1 × $(size_label "$2"), $3 session$([ "$3" = 1 ] || echo s)"
        LAT_CASES+=("$c")
        for t in "${TARGETS[@]}"; do
            if [ $SECONDS -ge "$MAX_SECONDS" ]; then
                LAT[$t|$c]="| skipped (BENCH_MAX_SECONDS) | | | | |"
                continue
            fi
            say "bench.sh: $t / latency $c"
            "reset_$t" || { LAT[$t|$c]="| reset failed | | | | |"; STATUS=1; continue; }
            if out=$(timeout --foreground "$RUN_TIMEOUT" python3 "$HERE/lmtp_latency.py" 127.0.0.1 \
                "${PORT[$t]}" "$1" "$2" "$3" 2>&1); then
                LAT[$t|$c]=$(echo "$out" | awk '{for(i=1;i<=NF;i++){split($i,a,"=");v[a[1]]=a[2]}}
                    END{printf "| %s | %s | %s | %s | %s |", v["p50"], v["p90"], v["p99"], v["max"], v["greeting_max"]}')
                say "  $out"
            else
                say "bench.sh: $t / latency $c failed: $out"
                LAT[$t|$c]="| failed | | | | |"
                STATUS=1
            fi
        done
    done
fi

declare -A RSS=()
if [ "${BENCH_SKIP_RSS:-0}" != 1 ]; then
    for t in "${TARGETS[@]}"; do
        case $t in
        tab) comm=tabulariumd ;; # the workers; the helpers are reported apart
        dovecot) comm=lmtp ;;
        *) continue ;;
        esac
        say "bench.sh: $t: peak RSS with one $(size_label "$BIG_SIZE") message"
        if rss_probe "$t" $comm; then
            RSS[$t]=$(awk -v l="${LABEL[$t]}" -v i="$RSS_IDLE" -v w="$RSS_WARM" -v p="$RSS_PEAK" \
                -v d="$RSS_GROWTH" 'BEGIN{printf "| %s | %.1f | %.1f | %.1f | %.1f |", l, i/1024, w/1024, p/1024, d/1024}')
            if [ "$t" = tab ]; then
                # The catalog writer and the indexer (which reads the big
                # message back for its text) are not workers: their peaks,
                # once the indexer has had time for it.
                sleep 3
                RSS_HELPERS=$(python3 "$W/procstat.py" hwm "${ROOT[$t]}" |
                    awk '$2 != "tabulariumd" {printf "%s%s %.1f MiB", n++ ? ", " : "", $2, $3/1024}')
            fi
        else
            RSS[$t]="| ${LABEL[$t]} | failed | failed | failed | failed |"
            STATUS=1
        fi
    done
fi

verdict() { # verdict RATIO WANT: "≥ WANT×: met" etc.
    awk -v r="$1" -v w="$2" 'BEGIN{ if (r=="n/a") print "≥ " w "×: n/a";
        else if (r+0 >= w+0) print "≥ " w "×: met"; else print "≥ " w "×: **NOT met**" }'
}

ratio() { # ratio A B: A/B with two decimals, or n/a
    awk -v a="$1" -v b="$2" 'BEGIN{ if (a+0>0 && b+0>0) printf "%.2f", a/b; else print "n/a" }'
}

{
    echo "# Tabularium LMTP benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(uname -srm), $(nproc) CPUs" \
        "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
    echo "- commit: $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo unknown);" \
        "tabulariumd: $([ -x "$TABULARIUMD" ] && echo "$TABULARIUMD" || echo absent)"
    echo "- client: smtp-source -L, $SESSIONS sessions, 1 recipient, sizes are smtp-source -l;" \
        "median of $K runs$([ $q = 1 ] && echo ", QUICK mode")"
    echo "- CPU: server process tree (utime+stime+children), seconds per 1000 messages; MB/s = msgs/s × size / 10^6"
    [ -z "$TAB_NOTE" ] || echo "- **$TAB_NOTE**"
    [ -z "$PG_NOTE" ] || echo "- **$PG_NOTE**"
    [[ " ${TARGETS[*]} " != *" pg "* ]] || echo "- pgsql: PostgreSQL $("$PG_BIN/postgres" -V | awk '{print $3}')," \
        "private server (shared_buffers = 32MB, fsync and synchronous_commit on);" \
        "its CPU is included in the pgsql rows"
    echo
    echo "| target | case | msgs/s | MB/s | CPU s / 1000 msgs |"
    echo "|---|---|---:|---:|---:|"
    for c in "${CASES[@]}"; do
        for t in "${TARGETS[@]}"; do
            echo "| ${LABEL[$t]} | $c | ${RATE[$t|$c]} | ${MBS[$t|$c]} | ${CPU[$t|$c]} |"
        done
    done
    echo
    echo "## Ratios (msgs/s)"
    echo
    if [[ " ${TARGETS[*]} " == *" tab "* ]] || [[ " ${TARGETS[*]} " == *" pg "* ]]; then
        echo "| case | tabulariumd / Dovecot | target | tabulariumd / smtp-sink |" \
            "tabulariumd-pgsql / Dovecot | target | tabulariumd-pgsql / smtp-sink |"
        echo "|---|---:|---|---:|---:|---|---:|"
        for c in "${CASES[@]}"; do
            small=0
            [[ "$c" != *"$(size_label "$SMALL_SIZE"),"* ]] || small=1
            r=$(ratio "${RATE[tab|$c]:-}" "${RATE[dovecot|$c]:-}")
            [ $small = 1 ] && want=2.0 || want=1.5
            rp=$(ratio "${RATE[pg|$c]:-}" "${RATE[dovecot|$c]:-}")
            echo "| $c | $r | $(verdict "$r" "$want") | $(ratio "${RATE[tab|$c]:-}" "${RATE[sink|$c]:-}")" \
                "| $rp | $([ $small = 1 ] && verdict "$rp" 1.0 || echo "—")" \
                "| $(ratio "${RATE[pg|$c]:-}" "${RATE[sink|$c]:-}") |"
        done
    else
        echo "No tabulariumd rows in this run. Dovecot / smtp-sink:"
        echo
        echo "| case | Dovecot / smtp-sink |"
        echo "|---|---:|"
        for c in "${CASES[@]}"; do
            echo "| $c | $(ratio "${RATE[dovecot|$c]:-}" "${RATE[sink|$c]:-}") |"
        done
    fi
    if [[ " ${TARGETS[*]} " == *" pg "* ]]; then
        echo
        echo "## tabulariumd pgsql: where the CPU goes (seconds per 1000 msgs)"
        echo
        echo "| case | total | tabulariumd processes | PostgreSQL server |"
        echo "|---|---:|---:|---:|"
        for c in "${CASES[@]}"; do
            echo "| $c | ${CPU[pg|$c]} | $(awk -v a="${CPU[pg|$c]}" -v b="${PGCPU[$c]:-}" \
                'BEGIN{ if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/) printf "%.3f", a-b; else print "-" }') | ${PGCPU[$c]:--} |"
        done
    fi
    if [ ${#LAT_CASES[@]} -gt 0 ]; then
        echo
        echo "## Latency: end of DATA to the reply (ms)"
        echo
        echo "bench/lmtp_latency.py: the clock starts when the terminating \".\" has been"
        echo "sent (the body is already transferred) and stops at the recipient's reply;"
        echo "connection reuse; N messages spread over the sessions; nearest-rank percentiles."
        echo "\"greeting\": the longest wait of a session from connect() to the 220 greeting"
        echo "(sessions beyond tabulariumd's process_limit wait in the listen queue)."
        echo
        echo "| target | case | p50 | p90 | p99 | max | greeting |"
        echo "|---|---|---:|---:|---:|---:|---:|"
        for c in "${LAT_CASES[@]}"; do
            for t in "${TARGETS[@]}"; do
                echo "| ${LABEL[$t]} | $c ${LAT[$t|$c]:-| - | - | - | - | - |}"
            done
        done
    fi
    if [ ${#RSS[@]} -gt 0 ]; then
        echo
        echo "## Peak RSS (VmHWM, MiB) with one $(size_label "$BIG_SIZE") message"
        echo
        echo "Largest VmHWM of a worker: fresh, after one $(size_label "$SMALL_SIZE") warm-up message, after the"
        echo "big message; growth = the largest rise of one worker caused by the big message."
        echo "tabulariumd runs with process_limit = 1 here, so both messages meet the same worker."
        echo
        echo "| target | idle | after warm-up | after big message | growth (tabulariumd target < 4 MiB) |"
        echo "|---|---:|---:|---:|---:|"
        for t in tab dovecot; do
            [ -z "${RSS[$t]:-}" ] || echo "${RSS[$t]}"
        done
        if [ -n "${RSS_HELPERS:-}" ]; then
            echo
            echo "tabulariumd's helper processes after the big message (VmHWM, not workers): $RSS_HELPERS."
        fi
    fi
    if [[ "$TAB_NOTE" == *"log below"* ]]; then
        echo
        echo '```'
        tail -20 "$W/tab/tabulariumd.log" 2>/dev/null
        echo '```'
    fi
    if [[ "$PG_NOTE" == *"log below"* ]]; then
        echo
        echo '```'
        tail -10 "$W/tabpg/reset.log" "$W/tabpg/tabulariumd.log" 2>/dev/null
        echo '```'
    fi
} >"$REPORT"

cat "$REPORT"
cp "$REPORT" "$OUT" && say "bench.sh: report written to $OUT"
exit $STATUS
