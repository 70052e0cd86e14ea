#!/bin/bash
# NAME
#	verify_memory_pg.sh - the memory and time of tabularium verify and
#	stats on a synthetic PostgreSQL catalog of N messages
# SYNOPSIS
#	bench/verify/verify_memory_pg.sh N [TABULARIUM...]
# DESCRIPTION
#	Starts a private PostgreSQL server (tests/lib/pg.sh), archives one
#	message through tabulariumd (Maildir store, pgsql catalog), grows
#	the catalog to N messages (clone_chain.py --pg-stage computes the
#	chain links, COPY and INSERT ... SELECT write them), then for each
#	TABULARIUM binary (default ./build/tabularium) prints the wall time,
#	the maximum RSS (/usr/bin/time -v) and the peak RssAnon of
#	"verify --sample 10" and "stats", as verify_memory.sh does for
#	SQLite. The server and the work directory ($BENCH_TMP, default
#	/tmp) are removed at the end.
# ENVIRONMENT
#	TABULARIUMD (default ./build/tabulariumd), TAB_SRC (default .).
set -eu
N=${1:?usage: verify_memory_pg.sh N [TABULARIUM...]}
shift
[ $# -gt 0 ] || set -- ./build/tabularium
HERE=$(cd "$(dirname "$0")" && pwd)
TABULARIUMD=${TABULARIUMD:-./build/tabulariumd}
TAB_SRC=${TAB_SRC:-.}
# shellcheck source=tests/lib/pg.sh
. "$TAB_SRC/tests/lib/pg.sh"
W=$(mktemp -d "${BENCH_TMP:-/tmp}/verify-memory-pg.XXXXXX")
chmod 755 "$W"
trap 'pg_destroy >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
pg_start "$W/pg" >/dev/null
mkdir -p "$W/data/queue"
chown -R "$(id -un tabularium 2>/dev/null || echo nobody)" "$W/data"
cat >"$W/tabularium.conf" <<CONF
data_directory = $W/data
queue_directory = $W/data/queue
archive_store = maildir:$W/data/Maildir
archive_catalog = pgsql:$PG_CONNINFO
lmtp_listen = unix:$W/lmtp.sock
CONF
"${1}" -c "$W/tabularium.conf" db init >/dev/null
"$TABULARIUMD" -f -c "$W/tabularium.conf" </dev/null 2>"$W/daemon.log" &
pid=$!
for _ in $(seq 100); do [ -S "$W/lmtp.sock" ] && break; sleep 0.1; done
smtp-source -L -m 1 -l 2000 -f bench@x.test -t archive@y.test "unix:$W/lmtp.sock"
kill "$pid"
wait "$pid" || true
pg_psql -At -F'|' -c "SELECT h.seq, h.hash, m.envelope_from, m.sha256, m.size, c.store,
    c.location, c.wrapped_sha256, c.wrapped_size, r.address
    FROM chain_head h, messages m JOIN copies c ON c.message = m.id
    JOIN recipients r ON r.copy = c.id" >"$W/template"
python3 "$HERE/clone_chain.py" --pg-stage "$W/template" "$N" \
    --retain-until 2020-01-01T00:00:00Z >"$W/stage"
pg_psql -q <<SQL
CREATE TABLE stage (aid text, arrival timestamptz, seq bigint, prev text, hash text);
\copy stage FROM '$W/stage' WITH (FORMAT text, DELIMITER '|')
INSERT INTO messages (archive_id, queue_id, sha256, message_id, envelope_from, envelope_status,
    date, date_raw, subject, subject_raw, arrival, size, index_status)
    SELECT s.aid, '', t.sha256, t.message_id, t.envelope_from, t.envelope_status, t.date,
    t.date_raw, t.subject, t.subject_raw, s.arrival, t.size, t.index_status
    FROM stage s, (SELECT * FROM messages ORDER BY id LIMIT 1) t;
INSERT INTO copies (message, archive_id, store, location, wrapped_sha256, wrapped_size, stored,
    arrival, retain_until, seq, prev_hash, hash)
    SELECT m.id, s.aid, t.store, t.location, t.wrapped_sha256, t.wrapped_size, s.arrival,
    s.arrival, '2020-01-01T00:00:00Z', s.seq, s.prev, s.hash
    FROM stage s JOIN messages m ON m.archive_id = s.aid,
    (SELECT * FROM copies ORDER BY id LIMIT 1) t;
INSERT INTO recipients (message, address, archive_rcpt, copy)
    SELECT c.message, t.address, t.archive_rcpt, c.id
    FROM stage s JOIN copies c ON c.archive_id = s.aid,
    (SELECT * FROM recipients ORDER BY id LIMIT 1) t;
UPDATE chain_head SET (seq, hash) = (SELECT seq, hash FROM stage ORDER BY seq DESC LIMIT 1)
    WHERE EXISTS (SELECT 1 FROM stage);
DROP TABLE stage;
VACUUM ANALYZE;
SQL
# peak_anon PID: the largest RssAnon (kB) of PID until it exits.
peak_anon() {
    local peak=0 v
    while v=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null) &&
        [ -n "$v" ]; do
        [ "$v" -gt "$peak" ] && peak=$v
        sleep 0.02
    done
    echo "$peak"
}
for bin in "$@"; do
    for cmd in "verify --sample 10" stats; do
        # shellcheck disable=SC2086
        /usr/bin/time -v "$bin" -c "$W/tabularium.conf" $cmd >"$W/out" 2>"$W/time" &
        tpid=$!
        cpid=
        while [ -z "$cpid" ] && kill -0 "$tpid" 2>/dev/null; do
            cpid=$(pgrep -P "$tpid" | head -1)
        done
        anon=$(peak_anon "${cpid:-0}")
        wait "$tpid" || true
        printf '%s | pgsql %s | %s messages | %s s | %s KB max RSS | %s KB peak RssAnon | %s\n' \
            "$bin" "$cmd" "$N" \
            "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/time")" \
            "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/time")" "$anon" \
            "$(tail -1 "$W/out")"
    done
done
