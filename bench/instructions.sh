#!/bin/bash
# NAME
#	instructions.sh - instructions tabulariumd executes per message (callgrind)
# SYNOPSIS
#	bench/instructions.sh [TABULARIUMD...]
# DESCRIPTION
#	Wall-clock figures (bench.sh) drift with whatever else the machine
#	does; the number of instructions a fixed workload executes does not.
#	For each daemon binary given (default: ./build/tabulariumd), starts it
#	under valgrind --tool=callgrind, following every process it forks
#	(master, workers, catalog writer, indexer), with Maildir + SQLite in a
#	temporary directory and process_limit = 4, sends BENCH_INSN_COUNT
#	(400) messages of BENCH_INSN_SIZE (4096) bytes with smtp-source -L in
#	4 sessions, stops it with SIGTERM and prints the instructions (Ir)
#	summed over all its processes, and per message. Start-up and idle
#	work are included, the same for every binary: compare binaries in
#	one run, e.g. a build of main against one of a branch.
#
#	Needs root (the daemon drops to mail_owner, account "tabularium";
#	make account), valgrind and smtp-source (postfix).
# DIAGNOSTICS
#	Exit 2 when the daemon does not listen within 60 s or a message is
#	missing from the Maildir afterwards; the daemon's log is printed.
set -euo pipefail
COUNT=${BENCH_INSN_COUNT:-400}
SIZE=${BENCH_INSN_SIZE:-4096}
[ $# -gt 0 ] || set -- ./build/tabulariumd
W=$(mktemp -d "${TMPDIR:-/tmp}/tab-insn.XXXXXX")
trap 'rm -rf "$W"' EXIT
chmod 0755 "$W"
n=0
for bin in "$@"; do
    n=$((n + 1))
    d=$W/run.$n
    mkdir -p "$d/data/queue" "$d/cg"
    chmod -R 0777 "$d"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$d/t.conf" <<CONF
data_directory = $d/data
queue_directory = $d/data/queue
archive_store = maildir:$d/data/Maildir
archive_catalog = sqlite:$d/data/catalog.db
lmtp_listen = inet:127.0.0.1:$port
process_limit = 4
max_use = 100000
CONF
    valgrind --tool=callgrind --trace-children=yes -q \
        --callgrind-out-file="$d/cg/cg.%p" "$bin" -f -c "$d/t.conf" >"$d/log" 2>&1 &
    vg=$!
    up=0
    for _ in $(seq 1 120); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
        sleep 0.5
    done
    if [ $up = 0 ]; then cat "$d/log"; kill "$vg" 2>/dev/null; exit 2; fi
    smtp-source -L -s 4 -m "$COUNT" -l "$SIZE" -f a@example.com \
        -t archive+b=example.com@archive.test "127.0.0.1:$port"
    sleep 3 # the indexer's last batch
    kill -TERM "$vg"
    wait "$vg" || true
    got=$(find "$d/data/Maildir/new" -type f | wc -l)
    if [ "$got" != "$COUNT" ]; then cat "$d/log"; echo "$bin: $got of $COUNT stored" >&2; exit 2; fi
    cat "$d"/cg/cg.* | awk -v bin="$bin" -v n="$COUNT" -v size="$SIZE" \
        '/^summary:/ {s += $2} END {printf "%s: %d x %d B: %.0f instructions, %.0f per message\n", bin, n, size, s, s / n}'
done
