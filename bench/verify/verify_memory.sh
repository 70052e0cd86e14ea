#!/bin/bash
# NAME
#	verify_memory.sh - the memory and time of tabularium verify, stats
#	and expire on a synthetic SQLite catalog of N messages
# SYNOPSIS
#	bench/verify/verify_memory.sh N [TABULARIUM...]
# DESCRIPTION
#	Archives one message through tabulariumd (Maildir + SQLite), grows
#	the catalog to N messages with clone_chain.py (a valid chain, every
#	copy naming the one stored file), then for each TABULARIUM binary
#	(default ./build/tabularium) prints the wall time and the maximum RSS
#	(/usr/bin/time -v) of "verify --sample 10" (the whole chain walked,
#	10 copies re-read), "stats" and "expire --dry-run" (every clone past
#	its retain-until). Work directory: $BENCH_TMP (default /tmp), kept
#	with BENCH_KEEP=1; BENCH_DIR=DIR measures again in the directory
#	of a kept run.
# ENVIRONMENT
#	TABULARIUMD (default ./build/tabulariumd).
set -eu
N=${1:?usage: verify_memory.sh N [TABULARIUM...]}
shift
[ $# -gt 0 ] || set -- ./build/tabularium
HERE=$(cd "$(dirname "$0")" && pwd)
TABULARIUMD=${TABULARIUMD:-./build/tabulariumd}
if [ -n "${BENCH_DIR:-}" ]; then
    W=$BENCH_DIR # a directory a kept run left: measure again, no setup
else
    W=$(mktemp -d "${BENCH_TMP:-/tmp}/verify-memory.XXXXXX")
    [ "${BENCH_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
    chmod 755 "$W"
    mkdir -p "$W/data/queue"
    chown -R "$(id -un tabularium 2>/dev/null || echo nobody)" "$W/data"
    cat >"$W/tabularium.conf" <<CONF
data_directory = $W/data
queue_directory = $W/data/queue
archive_store = maildir:$W/data/Maildir
archive_catalog = sqlite:$W/data/catalog.db
lmtp_listen = unix:$W/lmtp.sock
CONF
    "$TABULARIUMD" -f -c "$W/tabularium.conf" </dev/null 2>"$W/daemon.log" &
    pid=$!
    for _ in $(seq 100); do [ -S "$W/lmtp.sock" ] && break; sleep 0.1; done
    smtp-source -L -m 1 -l 2000 -f bench@x.test -t archive@y.test "unix:$W/lmtp.sock"
    kill "$pid"
    wait "$pid" || true
    python3 "$HERE/clone_chain.py" "$W/data/catalog.db" "$N" --retain-until 2020-01-01T00:00:00Z
fi
# peak_anon PID: the largest RssAnon (kB) of PID until it exits, sampled
# every 20 ms (max RSS also counts the pages of files verify maps).
peak_anon() {
    local peak=0 v
    while v=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null) && [ -n "$v" ]; do
        [ "$v" -gt "$peak" ] && peak=$v
        sleep 0.02
    done
    echo "$peak"
}
for bin in "$@"; do
    for cmd in "verify --sample 10" stats "expire --dry-run"; do
        # shellcheck disable=SC2086
        /usr/bin/time -v "$bin" -c "$W/tabularium.conf" $cmd >"$W/out" 2>"$W/time" &
        tpid=$!
        cpid=
        while [ -z "$cpid" ] && kill -0 "$tpid" 2>/dev/null; do cpid=$(pgrep -P "$tpid" | head -1); done
        anon=$(peak_anon "${cpid:-0}")
        wait "$tpid" || true
        printf '%s | %s | %s messages | %s s | %s KB max RSS | %s KB peak RssAnon | %s\n' \
            "$bin" "$cmd" "$N" \
            "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$W/time")" \
            "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$W/time")" "$anon" \
            "$(grep -v '^would-expire' "$W/out" | tail -1)"
    done
done
