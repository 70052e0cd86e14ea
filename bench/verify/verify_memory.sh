#!/bin/bash
# NAME
#	verify_memory.sh - the memory and time of tabularium verify, stats
#	and expire on a synthetic catalog of N messages
# SYNOPSIS
#	bench/verify/verify_memory.sh N [TABULARIUM...]
#	BENCH_CATALOG=pgsql bench/verify/verify_memory.sh N [TABULARIUM...]
# DESCRIPTION
#	Archives one message through tabulariumd (Maildir store; SQLite
#	catalog, or with BENCH_CATALOG=pgsql a private PostgreSQL server from
#	tests/lib/pg.sh), grows the catalog to N messages with clone_chain.py
#	(a valid chain, every copy naming the one stored file, every clone
#	past its retain-until), then for each TABULARIUM binary (default
#	./build/tabularium) prints, through measure.sh, the wall time, the
#	maximum RSS and the peak RssAnon of "verify --sample 10" (the whole
#	chain walked, 10 copies re-read), "stats" and (SQLite) "expire
#	--dry-run". Work directory: $BENCH_TMP (default /tmp), kept with
#	BENCH_KEEP=1 (SQLite); BENCH_DIR=DIR measures again in the directory
#	of a kept run.
# ENVIRONMENT
#	TABULARIUMD (default ./build/tabulariumd), TAB_SRC (default .).
set -eu
N=${1:?usage: verify_memory.sh N [TABULARIUM...]}
shift
[ $# -gt 0 ] || set -- ./build/tabularium
HERE=$(cd "$(dirname "$0")" && pwd)
TABULARIUMD=${TABULARIUMD:-./build/tabulariumd}
PG=
[ "${BENCH_CATALOG:-sqlite}" = pgsql ] && PG=1
RETAIN=2020-01-01T00:00:00Z
if [ -n "${BENCH_DIR:-}" ]; then
    W=$BENCH_DIR # a directory a kept run left: measure again, no setup
else
    W=$(mktemp -d "${BENCH_TMP:-/tmp}/verify-memory.XXXXXX")
    chmod 755 "$W"
    if [ -n "$PG" ]; then
        # shellcheck source=tests/lib/pg.sh
        . "${TAB_SRC:-.}/tests/lib/pg.sh"
        trap 'pg_destroy >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
        pg_start "$W/pg" >/dev/null
        CATALOG=pgsql:$PG_CONNINFO
    else
        [ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
        CATALOG=sqlite:$W/data/catalog.db
    fi
    mkdir -p "$W/data/queue"
    chown -R "$(id -un tabularium 2>/dev/null || echo nobody)" "$W/data"
    cat >"$W/tabularium.conf" <<CONF
data_directory = $W/data
queue_directory = $W/data/queue
archive_store = maildir:$W/data/Maildir
archive_catalog = $CATALOG
lmtp_listen = unix:$W/lmtp.sock
CONF
    [ -z "$PG" ] || "$1" -c "$W/tabularium.conf" db init >/dev/null
    "$TABULARIUMD" -f -c "$W/tabularium.conf" </dev/null 2>"$W/daemon.log" &
    pid=$!
    for _ in $(seq 100); do [ -S "$W/lmtp.sock" ] && break; sleep 0.1; done
    smtp-source -L -m 1 -l 2000 -f bench@x.test -t archive@y.test "unix:$W/lmtp.sock"
    kill "$pid"
    wait "$pid" || true
    if [ -z "$PG" ]; then
        python3 "$HERE/clone_chain.py" "$W/data/catalog.db" "$N" --retain-until "$RETAIN"
    else
        pg_psql -At -F'|' -c "SELECT h.seq, h.hash, m.envelope_from, m.sha256, m.size,
            c.store, c.location, c.wrapped_sha256, c.wrapped_size, r.address
            FROM chain_head h, messages m JOIN copies c ON c.message = m.id
            JOIN recipients r ON r.copy = c.id" >"$W/template"
        python3 "$HERE/clone_chain.py" --pg-stage "$W/template" "$N" \
            --retain-until "$RETAIN" >"$W/stage"
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
    s.arrival, '$RETAIN', s.seq, s.prev, s.hash
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
    fi
fi
# shellcheck source=bench/verify/measure.sh
. "$HERE/measure.sh"
export MEASURE_DIR=$W
for bin in "$@"; do
    measure "${PG:+pgsql }" "$N" "$W/tabularium.conf" "$bin" verify --sample 10
    measure "${PG:+pgsql }" "$N" "$W/tabularium.conf" "$bin" stats
    [ -n "$PG" ] || measure "" "$N" "$W/tabularium.conf" "$bin" expire --dry-run
done
