# shellcheck shell=bash
# NAME
#	common.sh - shell helpers for Tabularium's script tests (sourced, bash)
# SYNOPSIS
#	. "$TAB_SRC/tests/lib/common.sh"
#	W=$(tab_tmpdir NAME)                 fresh empty directory
#	wait_for_socket unix:PATH|PATH|inet:HOST:PORT|HOST:PORT [SECONDS]
#	tab_wait SECONDS CMD...               poll CMD every 50 ms until it succeeds
#	ok MSG | fail MSG | check_eq MSG EXPECTED ACTUAL | finish
#	die MSG                              abort the test (exit 2)
#	sha256_of FILE                       hex SHA-256 on stdout
#	tab_dovecot_stop DIR                 stop the private Dovecot whose base_dir is DIR/run
#	tab_test_certs DIR                   DIR/ca.crt and DIR/server.{crt,key} for
#	                                     localhost and 127.0.0.1 (made once)
#	tab_conf_get CONF NAME               a parameter's value, $names expanded
#	start_tabulariumd CONF [ARGS...]     "$TABULARIUMD -f -c CONF ARGS" in the background
#	stop_tabulariumd                     SIGTERM, wait 10 s, then SIGKILL (and say so)
# DESCRIPTION
#	Small, dependency-free helpers shared by tests/transcripts/*.test and
#	tests/integration/*.test. ctest passes TABULARIUMD, TABULARIUM, TAB_SRC
#	and TAB_TEST_TMP in the environment; when run by hand the defaults are
#	the source tree this file lives in and its build/ directory.
#
#	start_tabulariumd waits until the daemon's lmtp_listen endpoint accepts
#	a connection; its stdout and stderr are appended to $TAB_DAEMON_LOG
#	(default: tabulariumd.log next to CONF; the file used is left in
#	$TAB_DAEMON_LOGFILE), its pid is in $TAB_DAEMON_PID. Only the process it started
#	(and that process's children) are ever signalled.
#
#	These helpers never touch the system's Postfix, Dovecot or /etc.
# DIAGNOSTICS
#	start_tabulariumd returns 1 with the tail of the daemon's log on stderr
#	when the daemon exits or its endpoint does not come up in
#	$TAB_DAEMON_START_TIMEOUT (10) seconds. stop_tabulariumd returns 1 when
#	SIGKILL was needed. finish exits 1 when any check failed or none ran.

TAB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TAB_SRC=${TAB_SRC:-$(cd "$TAB_LIB/../.." && pwd)}
TABULARIUMD=${TABULARIUMD:-$TAB_SRC/build/tabulariumd}
TABULARIUM=${TABULARIUM:-$TAB_SRC/build/tabularium}
TAB_PASSED=0
TAB_FAILED=0
TAB_DAEMON_PID=
TAB_DAEMON_STATUS=
TAB_DAEMON_LOGFILE=

die() {
    echo "FATAL: $*" >&2
    exit 2
}

ok() {
    TAB_PASSED=$((TAB_PASSED + 1))
    echo "ok - $*"
}

fail() {
    TAB_FAILED=$((TAB_FAILED + 1))
    echo "FAIL - $*"
}

# check_eq MSG EXPECTED ACTUAL: one ok/fail line; shows both values on failure.
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

finish() {
    echo "$TAB_PASSED passed, $TAB_FAILED failed"
    [ "$TAB_FAILED" -eq 0 ] && [ "$TAB_PASSED" -gt 0 ] && exit 0
    [ "$TAB_PASSED" -eq 0 ] && [ "$TAB_FAILED" -eq 0 ] && echo "no checks ran" >&2
    exit 1
}

# tab_tmpdir NAME: a fresh empty directory, printed on stdout. Mode 0755 so
# that unprivileged clients (Postfix's lmtp runs as "postfix") reach sockets in it.
# tab_worker_pids MASTER: the live workers of a tabulariumd master, one pid
# per line in pid order; not its helpers, whose process names start with
# "tab-" (tab-catalog, tab-indexer).
tab_worker_pids() {
    ps -o pid=,stat=,comm= --ppid "$1" 2>/dev/null |
        awk '$2 !~ /^Z/ && $3 !~ /^tab-/ {print $1}' | sort -n
}

tab_tmpdir() {
    [ -n "${1:-}" ] || die "tab_tmpdir: NAME missing"
    local base=${TAB_TEST_TMP:-${TMPDIR:-/tmp}}
    local d=$base/$1
    mkdir -p "$base" || die "tab_tmpdir: cannot create $base"
    rm -rf "$d" || die "tab_tmpdir: cannot remove old $d"
    mkdir -m 0755 "$d" || die "tab_tmpdir: cannot create $d"
    echo "$d"
}

sha256_of() {
    local h
    h=$(sha256sum <"$1") || return 1
    echo "${h%% *}"
}

# _tab_connect ENDPOINT: 0 when a connection to it succeeds right now. A
# stale unix socket file refuses connections, so mere existence is not enough.
_tab_connect() {
    case "$1" in
    unix:*) _tab_connect_unix "${1#unix:}" ;;
    inet:*) _tab_connect_inet "${1#inet:}" ;;
    /*) _tab_connect_unix "$1" ;;
    *:*) _tab_connect_inet "$1" ;;
    *) return 2 ;;
    esac
}

_tab_connect_unix() {
    [ -S "$1" ] || return 1
    python3 -c 'import socket,sys
s=socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])' "$1" 2>/dev/null
}

_tab_connect_inet() {
    local host=${1%:*} port=${1##*:}
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# tab_wait SECONDS CMD...: poll CMD every 50 ms; 0 when it succeeded.
tab_wait() {
    local end=$(($(date +%s%N) / 1000000 + $1 * 1000))
    shift
    while ! "$@"; do
        [ $(($(date +%s%N) / 1000000)) -ge "$end" ] && return 1
        sleep 0.05
    done
}

# wait_for_socket ENDPOINT [SECONDS]: wait until ENDPOINT accepts a connection.
wait_for_socket() {
    local ep=${1:-} t=${2:-10} end
    [ -n "$ep" ] || die "wait_for_socket: endpoint missing"
    end=$((SECONDS + t))
    while :; do
        _tab_connect "$ep"
        case $? in
        0) return 0 ;;
        2) die "wait_for_socket: bad endpoint '$ep' (unix:PATH or inet:HOST:PORT)" ;;
        esac
        [ $SECONDS -ge "$end" ] && break
        sleep 0.1
    done
    echo "wait_for_socket: $ep not accepting connections after ${t}s" >&2
    return 1
}

# tab_conf_get CONF NAME: the last "NAME = value" in CONF, with $name and
# ${name} references to other parameters of CONF expanded (not the daemon's
# built-in defaults: a test config that relies on those must spell them out).
tab_conf_get() {
    local conf=$1 name=$2 depth=${3:-0} line value ref out
    [ "$depth" -lt 10 ] || die "tab_conf_get: \$$name expands recursively in $conf"
    line=$(grep -E "^[[:space:]]*${name}[[:space:]]*=" "$conf" | tail -1) || return 1
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    value=${value%"${value##*[![:space:]]}"}
    out=
    while [[ $value =~ ^([^\$]*)\$(\{([a-z_0-9]+)\}|([a-z_0-9]+))(.*)$ ]]; do
        ref=${BASH_REMATCH[3]:-${BASH_REMATCH[4]}}
        out+=${BASH_REMATCH[1]}$(tab_conf_get "$conf" "$ref" $((depth + 1)))
        value=${BASH_REMATCH[5]}
    done
    echo "$out$value"
}

# _tab_descendants PID: the pids below PID (through PPID), one per line.
_tab_descendants() {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        _tab_descendants "$p"
    done
}

# tab_reap PID TENTHS WHAT [KIDS...]: after PID was asked to stop, wait up
# to TENTHS tenths of a second for it to go; if it is still there, say so
# on stderr (WHAT names it) and kill it, with the descendants it has then.
# What is left of KIDS (its children from before) is killed in any case:
# a wedged one must not keep a port or a directory busy for the next test.
tab_reap() {
    local pid=$1 tenths=$2 what=$3 kids p
    shift 3
    kids="$*"
    for _ in $(seq "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "$(basename "$0"): $what $pid did not stop, killing it" >&2
        kids="$kids $(_tab_descendants "$pid")"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for p in $kids; do
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    done
}

# _tab_any_running PID...: 0 when one of them exists and is not a zombie.
_tab_any_running() {
    local p st
    for p in "$@"; do
        st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
        [ "${st:0:1}" = Z ] || return 0
    done
    return 1
}

# start_tabulariumd CONF [ARGS...]: start the daemon in the foreground mode,
# in the background, and wait for its LMTP endpoint.
start_tabulariumd() {
    local conf=${1:-} ep t=${TAB_DAEMON_START_TIMEOUT:-10} end
    [ -n "$conf" ] && [ -f "$conf" ] || die "start_tabulariumd: no config file '$conf'"
    shift
    [ -x "$TABULARIUMD" ] || die "start_tabulariumd: $TABULARIUMD is not an executable"
    [ -z "$TAB_DAEMON_PID" ] || die "start_tabulariumd: already running (pid $TAB_DAEMON_PID)"
    ep=$(tab_conf_get "$conf" lmtp_listen) || true
    case "$ep" in
    unix:/* | inet:*:[0-9]*) ;;
    *) die "start_tabulariumd: $conf needs lmtp_listen = unix:/abs/path or inet:HOST:PORT (got '$ep')" ;;
    esac
    TAB_DAEMON_LOGFILE=${TAB_DAEMON_LOG:-$(dirname "$conf")/tabulariumd.log}
    TAB_DAEMON_STATUS=
    "$TABULARIUMD" -f -c "$conf" "$@" </dev/null 2>>"$TAB_DAEMON_LOGFILE" >&2 &
    TAB_DAEMON_PID=$!
    end=$((SECONDS + t))
    while :; do
        if ! kill -0 "$TAB_DAEMON_PID" 2>/dev/null; then
            wait "$TAB_DAEMON_PID" && TAB_DAEMON_STATUS=0 || TAB_DAEMON_STATUS=$?
            echo "start_tabulariumd: daemon exited with status $TAB_DAEMON_STATUS; log $TAB_DAEMON_LOGFILE:" >&2
            tail -20 "$TAB_DAEMON_LOGFILE" >&2
            TAB_DAEMON_PID=
            return 1
        fi
        _tab_connect "$ep" && return 0
        [ $SECONDS -ge "$end" ] && break
        sleep 0.05
    done
    echo "start_tabulariumd: $ep not up after ${t}s; log $TAB_DAEMON_LOGFILE:" >&2
    tail -20 "$TAB_DAEMON_LOGFILE" >&2
    stop_tabulariumd
    return 1
}

# stop_tabulariumd: SIGTERM, up to 10 s for a clean exit (the master stops
# its workers), then SIGKILL for the master and whatever it left behind.
# The exit status of the daemon ends up in $TAB_DAEMON_STATUS.
stop_tabulariumd() {
    local pid=$TAB_DAEMON_PID kids p killed=0
    [ -n "$pid" ] || return 0
    TAB_DAEMON_PID=
    kids=$(_tab_descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    # A zombie still answers kill -0: what counts is whether it still runs.
    for _ in $(seq 100); do
        _tab_any_running "$pid" || break
        sleep 0.1
    done
    if _tab_any_running "$pid"; then
        echo "stop_tabulariumd: pid $pid still running 10 s after SIGTERM: SIGKILL" >&2
        kids="$kids $(_tab_descendants "$pid")"
        kill -KILL "$pid" 2>/dev/null || true
        killed=1
    fi
    wait "$pid" 2>/dev/null && TAB_DAEMON_STATUS=0 || TAB_DAEMON_STATUS=$?
    kids=$(printf '%s\n' $kids | sort -u)
    # Workers told to stop by a master that did not wait for them get a
    # moment of their own before they count as left behind.
    for _ in $(seq 20); do
        _tab_any_running $kids || break
        sleep 0.1
    done
    for p in $kids; do
        if _tab_any_running "$p"; then
            echo "stop_tabulariumd: worker $p outlived the master: SIGKILL" >&2
            kill -KILL "$p" 2>/dev/null || true
            killed=1
        fi
    done
    # Let init reap what was killed, so a test that restarts at once does
    # not race with a dying worker still holding the socket or the store.
    for p in $kids; do
        for _ in $(seq 20); do
            [ -d "/proc/$p" ] || break
            sleep 0.05
        done
    done
    return $killed
}

# time_shim DIR: build DIR/later.so, an LD_PRELOAD library whose time()
# is the real one plus $TAB_TEST_TIME_SHIFT seconds, and print its path.
# For the CLI only (expire's "now"); nothing in the archive is touched.
# Only calls from the program itself are shifted: libcurl signs S3
# requests with the real time (the server refuses a skewed clock).
time_shim() {
    cat >"$1/later.c" <<'EOF_SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
time_t time(time_t *t)
{
    time_t (*real)(time_t *) = (time_t (*)(time_t *))dlsym(RTLD_NEXT, "time");
    const char *shift = getenv("TAB_TEST_TIME_SHIFT");
    Dl_info caller;
    int in_library = dladdr(__builtin_return_address(0), &caller) != 0 &&
                     caller.dli_fname != NULL && strstr(caller.dli_fname, ".so") != NULL;
    time_t now = real(NULL) + (shift && !in_library ? atol(shift) : 0);
    if (t)
        *t = now;
    return now;
}
EOF_SHIM
    cc -shared -fPIC -o "$1/later.so" "$1/later.c" -ldl || return 1
    echo "$1/later.so"
}

# tab_later SECONDS CMD...: run CMD with the time shim SECONDS ahead
# ($TAB_TIME_SHIM from time_shim).
tab_later() {
    local shift=$1
    shift
    TAB_TEST_TIME_SHIFT=$shift LD_PRELOAD=$TAB_TIME_SHIM \
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 "$@"
}

# code_version DIR MACRO: the value of "#define MACRO N" under DIR of the
# source tree (run from TAB_SRC or with a path under it), e.g. the schema
# versions a test expects.
code_version() {
    grep -rhoE "^#define $2 [0-9]+" "$1" | awk '{ print $3 }' | sort -u
}

# tab_test_certs DIR: a CA made for the tests (DIR/ca.crt, DIR/ca.key) and a
# server certificate it signed for "localhost" and 127.0.0.1
# (DIR/server.crt, DIR/server.key); kept when they exist.
tab_test_certs() {
    local d=$1
    [ -s "$d/server.crt" ] && return 0
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=Tabularium test CA" \
        -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/server.key" \
            -out "$d/server.csr" 2>/dev/null &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$d/san.ext" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
            -CAcreateserial -days 30 -extfile "$d/san.ext" -out "$d/server.crt" 2>/dev/null &&
        chmod 0600 "$d/ca.key" "$d/server.key"
}

# tab_dovecot_stop DIR: stop a private Dovecot (base_dir DIR/run) and its
# children; 0 with "stopped" or "not running" said.
tab_dovecot_stop() {
    local pid kids
    pid=$(cat "$1/run/master.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kids=$(ps -o pid= --ppid "$pid" 2>/dev/null || true)
        kill "$pid" # the master terminates its children
        # shellcheck disable=SC2086 # one pid a word
        tab_reap "$pid" 100 "dovecot master" $kids
        echo "dovecot (master pid $pid) stopped"
    else
        echo "dovecot not running"
    fi
}
