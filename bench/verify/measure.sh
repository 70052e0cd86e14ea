# shellcheck shell=bash
# NAME
#	measure.sh - the time and memory of one tabularium command (sourced
#	by verify_memory.sh and verify_memory_pg.sh)
# SYNOPSIS
#	. bench/verify/measure.sh
#	measure LABEL N CONF BIN ARGS...
# DESCRIPTION
#	Runs BIN -c CONF ARGS... under /usr/bin/time -v and prints one line:
#	BIN | LABEL ARGS | N messages | wall time | max RSS | peak RssAnon |
#	the last line of its output (would-expire lines left out). Max RSS
#	also counts the pages of files the command maps (verify's scratch
#	files): the peak RssAnon, sampled every 20 ms from /proc, is its
#	heap. Scratch files in $MEASURE_DIR (default /tmp).

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

measure() {
    local label=$1 n=$2 conf=$3 bin=$4 d=${MEASURE_DIR:-/tmp} tpid cpid= anon
    shift 4
    /usr/bin/time -v "$bin" -c "$conf" "$@" >"$d/measure.out" 2>"$d/measure.time" &
    tpid=$!
    while [ -z "$cpid" ] && kill -0 "$tpid" 2>/dev/null; do
        cpid=$(pgrep -P "$tpid" | head -1)
    done
    anon=$(peak_anon "${cpid:-0}")
    wait "$tpid" || true
    printf '%s | %s%s | %s messages | %s s | %s KB max RSS | %s KB peak RssAnon | %s\n' \
        "$bin" "$label" "$*" "$n" \
        "$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$d/measure.time")" \
        "$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$d/measure.time")" "$anon" \
        "$(grep -v '^would-expire' "$d/measure.out" | tail -1)"
}
