# shellcheck shell=bash
# NAME
#	ceph.sh - a throwaway single-node Ceph + radosgw for the S3 tests (sourced, bash)
# SYNOPSIS
#	. "$TAB_SRC/tests/lib/ceph.sh"
#	trap 'ceph_stop' EXIT
#	ceph_start DIR [LC_DEBUG_INTERVAL]   mon + memstore OSD + radosgw under DIR
#	rgw_stop | rgw_start                 stop / start only radosgw (outage tests)
#	s3 METHOD PATH [CURL ARGS...]        signed request to the gateway (curl --aws-sigv4)
#	s3_make_bucket NAME [lock]           a bucket, with Object Lock when "lock"
# DESCRIPTION
#	ceph_start creates a Ceph cluster that lives only in DIR: one monitor,
#	one OSD on memstore (RAM, 1 GiB at most), one radosgw, no cephx, all on
#	127.0.0.1 on ports that were free a moment before, and an S3 user. It
#	sets CEPH_ENDPOINT (http://127.0.0.1:PORT), CEPH_ACCESS_KEY and
#	CEPH_SECRET_KEY. "rgw lc debug interval" is LC_DEBUG_INTERVAL
#	(default 10): a lifecycle "day" lasts that many seconds, so expiry can
#	be tested; lifecycle runs every interval too.
#
#	ceph_stop sends SIGTERM to every daemon this file started (by the pids
#	it recorded, never by name), SIGKILL after 5 s, and removes DIR's
#	data. It is safe to call twice and from an EXIT trap after a failure.
#
#	The packages ceph-mon, ceph-osd, radosgw and ceph-common must be
#	installed (the Makefile's test-deps target installs them). Start-up
#	takes about 15 s: a test script starts one cluster and runs all its
#	cases against it.
# DIAGNOSTICS
#	ceph_start returns 1 and prints the tail of the failing daemon's log
#	when a daemon does not come up within its time limit.

CEPH_DIR=
CEPH_PIDS=
CEPH_RGW_PID=
CEPH_ENDPOINT=
CEPH_ACCESS_KEY=
CEPH_SECRET_KEY=

# _ceph_free_port: a TCP port on 127.0.0.1 that nobody listens on now.
_ceph_free_port() {
    python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _ceph_pid NAME: the pid a daemon wrote to DIR/run/NAME.pid.
_ceph_pid() {
    local f=$CEPH_DIR/run/$1.pid
    for _ in $(seq 100); do
        [ -s "$f" ] && { cat "$f"; return 0; }
        sleep 0.05
    done
    return 1
}

_ceph_fail() {
    echo "ceph_start: $1; log tail:" >&2
    tail -20 "$CEPH_DIR/log/$2.log" >&2 2>/dev/null
    return 1
}

ceph_start() {
    local d=${1:?ceph_start DIR} lc=${2:-10} fsid mon_port osd_id uuid c p try
    command -v ceph-mon >/dev/null && command -v radosgw >/dev/null ||
        { echo "ceph_start: ceph-mon/radosgw not installed" >&2; return 1; }
    CEPH_DIR=$d
    rm -rf "$d" && mkdir -p "$d"/{run,log,mon/ceph-a,osd/ceph-0} || return 1
    fsid=$(cat /proc/sys/kernel/random/uuid)
    mon_port=$(_ceph_free_port)
    CEPH_RGW_PORT=$(_ceph_free_port)
    cat >"$d/ceph.conf" <<C
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
mon initial members = a
ms bind msgr2 = false
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
run dir = $d/run
admin socket = $d/run/\$name.asok
log file = $d/log/\$name.log
pid file = $d/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
# [global], not [client.rgw.a]: radosgw-admin (client.admin) must agree
# on how long a day is, or an "lc process" it runs finds nothing due and
# marks the bucket done for the (real) day.
rgw lc debug interval = $lc
[mon]
mon data = $d/mon/\$cluster-\$id
[osd]
osd data = $d/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 1073741824
osd memory target = 268435456
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$CEPH_RGW_PORT
rgw thread pool size = 16
rgw dns name = localhost
C
    c="-c $d/ceph.conf"
    ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null || return 1
    monmaptool --create --add a "v1:127.0.0.1:$mon_port" --fsid "$fsid" "$d/monmap" >/dev/null || return 1
    ceph-mon $c --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.keyring" || return 1
    ceph-mon $c -i a || return 1
    p=$(_ceph_pid mon.a) || _ceph_fail "no monitor pid" mon.a || return 1
    CEPH_PIDS="$CEPH_PIDS $p"
    for _ in $(seq 80); do ceph $c --connect-timeout 2 mon stat >/dev/null 2>&1 && break; sleep 0.25; done
    uuid=$(cat /proc/sys/kernel/random/uuid)
    osd_id=$(ceph $c osd create "$uuid") || _ceph_fail "osd create failed" mon.a || return 1
    ceph-osd $c -i "$osd_id" --mkfs --osd-uuid "$uuid" 2>"$d/log/osd-mkfs.err" ||
        { echo "ceph_start: ceph-osd --mkfs failed: $(tail -3 "$d/log/osd-mkfs.err")" >&2; return 1; }
    # A monitor that has just formed a quorum may refuse a command once.
    for try in 1 2 3; do
        ceph $c osd crush add-bucket localhost host >/dev/null 2>>"$d/log/crush.err" &&
            ceph $c osd crush move localhost root=default >/dev/null 2>>"$d/log/crush.err" &&
            ceph $c osd crush add "osd.$osd_id" 1.0 host=localhost >/dev/null 2>>"$d/log/crush.err" &&
            break
        [ "$try" = 3 ] && { echo "ceph_start: crush map: $(tail -3 "$d/log/crush.err")" >&2; return 1; }
        sleep 1
    done
    # A fresh monitor now and then answers the OSD's first command with
    # "wrong fsid" and ceph-osd exits: that passes, so try again.
    for try in 1 2 3; do
        ceph-osd $c -i "$osd_id" 2>>"$d/log/osd-start.err" && break
        [ "$try" = 3 ] && { _ceph_fail "ceph-osd did not start" "osd.$osd_id"; return 1; }
        sleep 2
    done
    p=$(_ceph_pid "osd.$osd_id") || _ceph_fail "no osd pid" "osd.$osd_id" || return 1
    CEPH_PIDS="$CEPH_PIDS $p"
    for _ in $(seq 120); do ceph $c osd stat 2>/dev/null | grep -q '1 up' && break; sleep 0.25; done
    ceph $c osd stat 2>/dev/null | grep -q '1 up' || _ceph_fail "osd not up" "osd.$osd_id" || return 1
    rgw_start || return 1
    CEPH_ACCESS_KEY=TABTESTACCESSKEY
    CEPH_SECRET_KEY=tabtestsecret$RANDOM$RANDOM
    radosgw-admin $c user create --uid=tabtest --display-name=tabtest \
        --access-key="$CEPH_ACCESS_KEY" --secret="$CEPH_SECRET_KEY" >/dev/null ||
        _ceph_fail "cannot create the S3 user" client.rgw.a || return 1
}

# rgw_start: (re)start radosgw and wait until it answers HTTP.
rgw_start() {
    local p
    rm -f "$CEPH_DIR/run/client.rgw.a.pid"
    radosgw -c "$CEPH_DIR/ceph.conf" -n client.rgw.a || return 1
    p=$(_ceph_pid client.rgw.a) || _ceph_fail "no radosgw pid" client.rgw.a || return 1
    CEPH_RGW_PID=$p
    CEPH_ENDPOINT=http://127.0.0.1:$CEPH_RGW_PORT
    for _ in $(seq 240); do
        curl -s -o /dev/null "$CEPH_ENDPOINT/" && return 0
        sleep 0.25
    done
    _ceph_fail "radosgw not answering on $CEPH_ENDPOINT" client.rgw.a
}

# rgw_stop: SIGTERM radosgw (SIGKILL after 5 s) and wait until it is gone.
rgw_stop() {
    local p=$CEPH_RGW_PID
    [ -n "$p" ] || return 0
    CEPH_RGW_PID=
    kill -TERM "$p" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
}

ceph_stop() {
    local p alive
    rgw_stop
    [ -n "$CEPH_PIDS" ] || return 0
    # shellcheck disable=SC2086
    kill -TERM $CEPH_PIDS 2>/dev/null
    for _ in $(seq 50); do
        alive=0
        for p in $CEPH_PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for p in $CEPH_PIDS; do kill -KILL "$p" 2>/dev/null; done
    CEPH_PIDS=
    [ -n "$CEPH_DIR" ] && rm -rf "$CEPH_DIR/osd" "$CEPH_DIR/mon"
    return 0
}

# s3 METHOD PATH [CURL ARGS...]: a SigV4-signed request to the gateway as
# the test user; the body on stdout; fails (22) on an HTTP error.
s3() {
    local m=$1 path=$2
    shift 2
    curl -sS -X "$m" --aws-sigv4 "aws:amz:us-east-1:s3" \
        --user "$CEPH_ACCESS_KEY:$CEPH_SECRET_KEY" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$CEPH_ENDPOINT$path"
}

# s3_make_bucket NAME [lock]
s3_make_bucket() {
    if [ "${2:-}" = lock ]; then
        s3 PUT "/$1" -f -o /dev/null -H "x-amz-bucket-object-lock-enabled: true"
    else
        s3 PUT "/$1" -f -o /dev/null
    fi
}
