# shellcheck shell=bash disable=SC2154
# (SC2154: the A_* variables come from audit.py through eval.)
# NAME
#	lib.sh - shared helpers for the fault tests (tests/faults/*.test)
# SYNOPSIS
#	. "$TAB_SRC/tests/faults/lib.sh"
#	faults_init NAME                  W=scratch dir, LONG=0|1, EXIT trap
#	long_or_short LONG-VALUE SHORT-VALUE
#	faults_conf FILE name=value...    write a tabulariumd configuration
#	faults_start CONF                 start_tabulariumd in its own process group
#	faults_mount_tmpfs DIR SIZE       mount a tmpfs owned by mail_owner (unmounted by the trap)
#	faults_mount_ext4 DIR SIZE IMAGE  loop-mount a fresh ext4 in IMAGE
#	faults_mkdir_owned DIR            mkdir -m 0700 owned by mail_owner
#	faults_load MODE ENDPOINT ...     tests/faults/load.py (summary JSON on stdout)
#	faults_audit ARGS...              tests/faults/audit.py; sets A_* variables
#	faults_row ARGS...                same, and appends a row to the results table
#	faults_spool_ok DIR MASTER        only live workers' empty "<pid>.orig" in DIR
#	faults_no_5xx LEDGER MSG          no 5xx reply in the ledger
#	faults_log_has REGEX              grep -E on the daemon's log
#	faults_free_port
# DESCRIPTION
#	The fault tests inject faults under load (process kills, full and
#	read-only file systems, a locked, full or corrupt catalog, a missing
#	spool) and then check with audit.py that nothing acknowledged was
#	lost and nothing was archived twice.
#
#	FAULTS_LONG=1 selects the long version (more messages, more rounds,
#	the 30 s catalog busy timeout); the default is the short one that
#	"make test" runs. Each test writes its rows of the fault table to
#	$FAULTS_RESULTS (default $TAB_TEST_TMP/faults-NAME.results.md, made
#	anew by every run), which docs/faults.md is filled from.
#
#	faults_start gives the daemon its own process group (setsid through a
#	small wrapper, so start_tabulariumd and stop_tabulariumd of
#	tests/lib/common.sh work unchanged and $TAB_DAEMON_PID is both the
#	master's pid and its group id): a test can then SIGKILL the master and
#	all its workers at once without hitting itself.
#
#	The EXIT trap stops the daemon, kills background jobs it was told
#	about (FAULTS_BG_PIDS), and unmounts every file system mounted by
#	faults_mount_tmpfs, innermost first, lazily (umount -l) as a last resort.
# ENVIRONMENT
#	TABULARIUMD, TAB_SRC, TAB_TEST_TMP (set by ctest); FAULTS_LONG, FAULTS_RESULTS;
#	FAULTS_MAIL_OWNER (tabularium: the daemon's default mail_owner).

. "$TAB_SRC/tests/lib/common.sh"

FAULTS_DIR=$TAB_SRC/tests/faults
LONG=0
[ "${FAULTS_LONG:-0}" = 1 ] && LONG=1
FAULTS_MOUNTS=()
FAULTS_BG_PIDS=()
FAULTS_REAL_TABULARIUMD=$TABULARIUMD
# The account the daemon's workers run as when started as root (the
# configurations written here leave mail_owner at its default).
FAULTS_MAIL_OWNER=${FAULTS_MAIL_OWNER:-tabularium}

faults_cleanup() {
    local p i m
    for p in "${FAULTS_BG_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "$TAB_DAEMON_PID" ]; then
        # A group kill may have left nothing; stop whatever is left.
        stop_tabulariumd >/dev/null 2>&1 || true
    fi
    for ((i = ${#FAULTS_MOUNTS[@]} - 1; i >= 0; i--)); do
        m=${FAULTS_MOUNTS[$i]}
        mountpoint -q "$m" || continue
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
            echo "faults_cleanup: cannot unmount $m" >&2
    done
}

# faults_init NAME: scratch directory $W, the results file, the EXIT trap.
faults_init() {
    W=$(tab_tmpdir "faults-$1")
    FAULTS_RESULTS=${FAULTS_RESULTS:-${TAB_TEST_TMP:-/tmp}/faults-$1.results.md}
    echo "<!-- $1: $([ "$LONG" = 1 ] && echo long || echo short) version, $(date -u '+%Y-%m-%d %H:%M UTC') -->" \
        >"$FAULTS_RESULTS" || die "cannot write $FAULTS_RESULTS"
    command -v python3 >/dev/null || die "python3 not installed"
    command -v sqlite3 >/dev/null || die "sqlite3 not installed"
    # The daemon gets its own process group (see DESCRIPTION).
    cat >"$W/tabulariumd" <<EOF
#!/bin/sh
exec setsid "$FAULTS_REAL_TABULARIUMD" "\$@"
EOF
    chmod 0755 "$W/tabulariumd" || die "cannot write $W/tabulariumd"
    TABULARIUMD=$W/tabulariumd
    trap faults_cleanup EXIT
    echo "# $1: $([ "$LONG" = 1 ] && echo long || echo short) version (FAULTS_LONG=$LONG)"
}

# long_or_short LONG SHORT: the value for this run.
long_or_short() {
    if [ "$LONG" = 1 ]; then echo "$1"; else echo "$2"; fi
}

faults_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# faults_conf FILE name=value...: myhostname is fixed, the rest as given.
faults_conf() {
    local f=$1 kv
    shift
    {
        echo "myhostname = archive-gw.test"
        for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
    } >"$f"
}

# faults_start CONF: start_tabulariumd, and check the daemon leads its group.
faults_start() {
    start_tabulariumd "$1" || return 1
    local pgid
    pgid=$(ps -o pgid= -p "$TAB_DAEMON_PID" | tr -d ' ')
    [ "$pgid" = "$TAB_DAEMON_PID" ] || die "faults_start: daemon $TAB_DAEMON_PID is in group $pgid, not its own"
}

# faults_owner_opts: "uid=U,gid=G" of mail_owner when the daemon will drop
# to it (started as root), else nothing. Workers create the Maildir and
# the catalog as that account, so a file system mounted for them must
# belong to it, as an operator's would.
faults_owner_opts() {
    local u g
    [ "$(id -u)" = 0 ] || return 0
    u=$(id -u "$FAULTS_MAIL_OWNER" 2>/dev/null) || die "no account $FAULTS_MAIL_OWNER (mail_owner)"
    g=$(id -g "$FAULTS_MAIL_OWNER")
    echo ",uid=$u,gid=$g"
}

# faults_mount_tmpfs DIR SIZE: a fresh tmpfs of SIZE (e.g. 2m) on DIR,
# owned by mail_owner.
faults_mount_tmpfs() {
    [ "$(id -u)" = 0 ] || die "mounting a tmpfs needs root"
    mkdir -p "$1" || die "cannot create $1"
    mount -t tmpfs -o "size=$2,mode=0700$(faults_owner_opts)" tmpfs "$1" ||
        die "cannot mount a tmpfs on $1"
    FAULTS_MOUNTS+=("$1")
}

# faults_mount_ext4 DIR SIZE IMAGE: an ext4 file system of SIZE in the file
# IMAGE (no reserved blocks: the workers are not root), loop-mounted on DIR.
# The loop device goes away with the unmount. (Growing it online would
# need CAP_SYS_RESOURCE, which containers often lack: tests free space by
# removing ballast files instead.)
faults_mount_ext4() {
    [ "$(id -u)" = 0 ] || die "mounting a loop device needs root"
    command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not installed (e2fsprogs)"
    mkdir -p "$1" || die "cannot create $1"
    rm -f "$3" && truncate -s "$2" "$3" || die "cannot create $3"
    mkfs.ext4 -q -F -m 0 "$3" >/dev/null || die "mkfs.ext4 $3 failed"
    mount -o loop "$3" "$1" || die "cannot mount $3 on $1"
    FAULTS_MOUNTS+=("$1")
}

# faults_mkdir_owned DIR: mkdir DIR mode 0700 for mail_owner (what an
# operator recreating a removed directory does).
faults_mkdir_owned() {
    if [ "$(id -u)" = 0 ]; then
        install -d -m 0700 -o "$FAULTS_MAIL_OWNER" -g "$(id -g "$FAULTS_MAIL_OWNER")" "$1"
    else
        mkdir -m 0700 "$1"
    fi
}

# faults_load MODE ENDPOINT ARGS...: the load client; its summary on stdout.
faults_load() {
    python3 "$FAULTS_DIR/load.py" "$@"
}

# faults_audit ARGS...: audit.py; its A_* assignments are evaluated here.
faults_audit() {
    local out
    out=$(python3 "$FAULTS_DIR/audit.py" "$@") || die "audit.py failed"
    eval "$out"
    echo "# audit: sent=$A_sent acked=$A_acked archived=$A_archived lost=$A_lost duplicates=$A_duplicates" \
        "451=$A_deferred 5xx=$A_rejected orphans=$A_orphans tmp=$A_tmp_files extra=$A_extra" \
        "integrity=$A_integrity problems=$A_problems"
}

# faults_row FAULT INDUCED TRIES AUDIT-ARGS...: audit, table row, and the
# checks every fault shares: nothing acknowledged lost, nothing twice, no
# 5xx, no broken copy, no acknowledged orphan, a sound catalog.
faults_row() {
    local fault=$1 induced=$2 tries=$3
    shift 3
    faults_audit "$@" --row "$fault" --induced "$induced" --tries "$tries" --results "$FAULTS_RESULTS"
    check_eq "$fault: acknowledged but not archived (lost)" 0 "$A_lost"
    check_eq "$fault: archived twice (duplicates)" 0 "$A_duplicates"
    check_eq "$fault: 5xx replies" 0 "$A_rejected"
    check_eq "$fault: catalog copies that do not verify" 0 "$A_broken"
    check_eq "$fault: orphan files acknowledged to the client" 0 "$A_orphans_acked"
    check_eq "$fault: PRAGMA integrity_check" ok "$A_integrity"
    check_eq "$fault: audit problems" 0 "$A_problems"
}

# faults_json_get JSON KEY: one field of load.py's summary.
faults_json_get() {
    python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"
}

# faults_spool_ok DIR MASTER: 0 when DIR holds nothing but "<pid>.orig"
# files of live children of MASTER, each empty; prints what else is there.
faults_spool_ok() {
    local dir=$1 master=$2 f name pid bad=0 kids
    kids=" $(ps -o pid= --ppid "$master" 2>/dev/null | tr -d ' ' | tr '\n' ' ') "
    for f in "$dir"/* "$dir"/.[!.]*; do
        [ -e "$f" ] || continue
        name=${f##*/}
        pid=${name%.orig}
        if [[ $name =~ ^[0-9]+\.orig$ ]] && [[ $kids == *" $pid "* ]] && [ ! -s "$f" ]; then
            continue
        fi
        # The catalog writer's socket (catalog_writer/catalog_writer.c), not a spool file.
        [ "$name" = catalog.sock ] && [ -S "$f" ] && continue
        echo "  spool: $name ($(stat -c %s "$f") bytes)"
        bad=1
    done
    return $bad
}

# faults_no_5xx LEDGER LABEL: a check that the ledger holds no 5xx.
faults_no_5xx() {
    check_eq "$2: no 5xx reply" 0 "$(grep -c '"ev": "reject"' "$1")"
}

# faults_count LEDGER EVENT: how many EVENT lines (ack, defer, ...).
faults_count() {
    grep -c "\"ev\": \"$2\"" "$1"
}

faults_log_has() {
    grep -qE -- "$1" "$TAB_DAEMON_LOGFILE"
}

# faults_wait SECONDS CMD...: tab_wait (tests/lib/common.sh).
faults_wait() { tab_wait "$@"; }

# faults_sanitizer_clean: no ASan/UBSan report in the daemon logs under $W.
faults_sanitizer_clean() {
    if grep -hE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$W"/*.log >"$W/san" 2>/dev/null; then
        fail "sanitizer reports: $(head -3 "$W/san" | tr '\n' '|')"
    else
        ok "no sanitizer reports in the daemon logs"
    fi
}
