#!/bin/bash
# NAME
#	postfix-mta.sh - a private Postfix instance that feeds an LMTP archive endpoint
# SYNOPSIS
#	postfix-mta.sh install
#	postfix-mta.sh start ENDPOINT         inet:127.0.0.1:PORT | unix:/abs/path
#	postfix-mta.sh inject -f FROM RCPT... <message
#	postfix-mta.sh wait-empty [SECONDS]   exit 1 (and print the queue) on timeout
#	postfix-mta.sh flush | mailq | log | status | stop
# DESCRIPTION
#	Runs a throwaway Postfix whose config, queue and data live under $PFDIR.
#	Every accepted message gets, through recipient_bcc_maps (pcre), one
#	archive recipient per original envelope recipient, Bcc included:
#	    user@dom  ->  archive+user=dom@$ARCHIVE_DOMAIN
#	The archive domain is routed by lmtp(8) to ENDPOINT; everything else is
#	discarded (or handed to a local smtp-sink with SINK=smtp-sink), so no
#	mail leaves the machine. SMTP is accepted on 127.0.0.1:$SMTP_PORT only.
#	No service is chrooted, so a unix:/abs/path endpoint works as written;
#	the lmtp client runs as user postfix and must be able to reach it.
#
#	It never reads or writes /etc/postfix and never touches the system
#	Postfix instance. Needs root (postfix start, sendmail -C).
#
#	"stop" is safe to call from a trap: it never fails, waits for the master
#	to go, and kills what is left of this instance (by pid) after a timeout.
# ENVIRONMENT (defaults)
#	PFDIR=${TAB_TEST_TMP:-${TMPDIR:-/tmp}}/tabularium-mta
#	SMTP_PORT=10025  ARCHIVE_DOMAIN=archive.test
#	RCPT_LIMIT=50 (lmtp_destination_recipient_limit)
#	XFORWARD=yes (lmtp_send_xforward_command)
#	BACKOFF=5s (minimal/maximal_backoff_time, queue_run_delay)
#	SINK=discard | smtp-sink (normal mail to smtp-sink on 127.0.0.1:$SINK_PORT=10026,
#	dumped to $PFDIR/sink/normal.dump)
#	MESSAGE_SIZE_LIMIT=104857600
#	LINE_LIMIT=0 (lmtp_line_length_limit: 0 as the README sets it; 998 is
#	Postfix's default, which folds longer lines)
#	ARCHIVE_NOTICES=no | yes (archive Postfix's own bounces, delay and
#	success notices as the README sets it up: the bounce, defer and trace
#	services post through a cleanup service "tabularium-cleanup" whose
#	header_checks BCC the notice's To: address as an archive recipient)
#	Mail to any address @bounce.test is rejected by the error(8) transport
#	(5.1.1), so a test can make Postfix bounce a message.
# DIAGNOSTICS
#	Exit 0 on success; 1 with a message on stderr (and the tail of
#	$PFDIR/maillog when Postfix itself failed); 2 for a usage error.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh" # tab_reap, _tab_descendants
PFDIR=${PFDIR:-${TAB_TEST_TMP:-${TMPDIR:-/tmp}}/tabularium-mta}
SMTP_PORT=${SMTP_PORT:-10025}
ARCHIVE_DOMAIN=${ARCHIVE_DOMAIN:-archive.test}
RCPT_LIMIT=${RCPT_LIMIT:-50}
XFORWARD=${XFORWARD:-yes}
SINK=${SINK:-discard}
SINK_PORT=${SINK_PORT:-10026}
BACKOFF=${BACKOFF:-5s}
MESSAGE_SIZE_LIMIT=${MESSAGE_SIZE_LIMIT:-104857600}
LINE_LIMIT=${LINE_LIMIT:-0}
ARCHIVE_NOTICES=${ARCHIVE_NOTICES:-no}
CONF=$PFDIR/etc
ME=$(basename "$0")
CMD=${1:-}
shift || true

die() {
    echo "$ME: $*" >&2
    exit 1
}
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }
master_pid() { cat "$PFDIR/spool/pid/master.pid" 2>/dev/null | tr -d ' \n' || true; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
running() { [ -f "$CONF/main.cf" ] && postfix -c "$CONF" status >/dev/null 2>&1; }


port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

do_install() {
    need_root
    local missing=()
    dpkg -s postfix >/dev/null 2>&1 || missing+=(postfix)
    dpkg -s postfix-pcre >/dev/null 2>&1 || missing+=(postfix-pcre)
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "$ME: installing ${missing[*]}" >&2
    # Without the preseed, postfix's postinst writes and starts a system instance.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

stop_sink() {
    [ -f "$PFDIR/sink.pid" ] || return 0
    local p
    p=$(cat "$PFDIR/sink.pid")
    if alive "$p"; then
        kill "$p" 2>/dev/null || true
        for _ in $(seq 20); do alive "$p" || break; sleep 0.1; done
        alive "$p" && kill -KILL "$p" 2>/dev/null || true
    fi
    rm -f "$PFDIR/sink.pid"
}

do_stop() {
    local pid kids
    pid=$(master_pid)
    if alive "$pid"; then
        kids=$(_tab_descendants "$pid")
        # "postfix stop" waits up to ~5 s for the master itself; children
        # normally exit with it.
        postfix -c "$CONF" stop >/dev/null 2>&1 || true
        # shellcheck disable=SC2086 # one pid a word
        tab_reap "$pid" 50 master $kids
        echo "postfix instance $CONF stopped"
    else
        echo "postfix instance $CONF not running"
    fi
    stop_sink
    return 0
}

# The README's setup for Postfix's own notices, with this instance's
# archive domain: Postfix adds no recipient_bcc_maps copies to mail it
# generates (post_mail.c submits it without CLEANUP_FLAG_BCC_OK), but a
# cleanup service of its own may apply header_checks to it, whose BCC
# action adds the archive recipient.
archive_notices() {
    sed "s/@archive\.invalid/@$ARCHIVE_DOMAIN/g" "$(dirname "$0")/../../config/internal_bcc.pcre" \
        >"$CONF/internal_bcc.pcre"
    postconf -c "$CONF" -M "tabularium-cleanup/unix = tabularium-cleanup unix n - n - 0 cleanup"
    postconf -c "$CONF" -P "tabularium-cleanup/unix/header_checks = pcre:$CONF/internal_bcc.pcre" \
        "tabularium-cleanup/unix/mime_header_checks =" \
        "tabularium-cleanup/unix/nested_header_checks =" \
        "tabularium-cleanup/unix/body_checks =" \
        "tabularium-cleanup/unix/non_smtpd_milters ="
    for s in bounce defer trace; do
        postconf -c "$CONF" -P "$s/unix/cleanup_service_name = tabularium-cleanup" \
            "$s/unix/internal_mail_filter_classes = bounce"
    done
}

do_start() {
    need_root
    local ep=${1:-}
    [ -n "$ep" ] || {
        echo "usage: $ME start inet:HOST:PORT|unix:/abs/path" >&2
        exit 2
    }
    case "$ep" in
    inet:*:[0-9]* | unix:/*) ;;
    [0-9]*:[0-9]*) ep="inet:$ep" ;;
    *) die "endpoint must be inet:HOST:PORT or unix:/absolute/path (got '$ep')" ;;
    esac
    command -v postfix >/dev/null || die "postfix not installed (run: $ME install)"
    do_stop >/dev/null
    port_open "$SMTP_PORT" && die "127.0.0.1:$SMTP_PORT is already in use (set SMTP_PORT)"
    mkdir -p "$CONF" "$PFDIR/spool" "$PFDIR/data"
    cp /usr/share/postfix/master.cf.dist "$CONF/master.cf"
    : >"$CONF/main.cf"
    # master.lock and the tls caches live in data_directory, owned by mail_owner.
    chown "$(postconf -c "$CONF" -h mail_owner)" "$PFDIR/data"
    local sink_transport="discard:normal mail discarded by the test MTA"
    if [ "$SINK" = smtp-sink ]; then
        mkdir -p "$PFDIR/sink"
        chown nobody "$PFDIR/sink"
        setsid smtp-sink -u nobody -D "$PFDIR/sink/normal.dump" "127.0.0.1:$SINK_PORT" 100 \
            >"$PFDIR/sink/smtp-sink.out" 2>&1 </dev/null &
        echo $! >"$PFDIR/sink.pid"
        sink_transport="smtp:[127.0.0.1]:$SINK_PORT"
    fi
    # The "if" guard keeps an archive address from getting an archive copy of
    # its own, which would loop.
    cat >"$CONF/recipient_bcc.pcre" <<EOF
# one archive recipient per original envelope recipient (generated by $ME)
if !/@${ARCHIVE_DOMAIN//./\\.}\$/
/^(.+)@(.+)\$/   archive+\${1}=\${2}@$ARCHIVE_DOMAIN
endif
EOF
    printf '%s  lmtp:%s\nbounce.test  error:5.1.1 unknown user (test MTA)\n' \
        "$ARCHIVE_DOMAIN" "$ep" >"$CONF/transport"
    postconf -c "$CONF" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $PFDIR/spool" \
        "data_directory = $PFDIR/data" \
        "syslog_name = postfix-tabtest" \
        "maillog_file = $PFDIR/maillog" \
        "maillog_file_prefixes = $PFDIR" \
        "myhostname = archive-gw.test" \
        "mydomain = test" \
        "myorigin = \$myhostname" \
        "mydestination =" \
        "local_recipient_maps =" \
        "alias_maps =" "alias_database =" \
        "inet_interfaces = 127.0.0.1" \
        "inet_protocols = ipv4" \
        "mynetworks = 127.0.0.0/8" \
        "smtpd_relay_restrictions = permit_mynetworks, reject" \
        "relayhost =" \
        "default_transport = $sink_transport" \
        "relay_transport = $sink_transport" \
        "local_transport = $sink_transport" \
        "transport_maps = texthash:$CONF/transport" \
        "recipient_bcc_maps = pcre:$CONF/recipient_bcc.pcre" \
        "lmtp_destination_recipient_limit = $RCPT_LIMIT" \
        "lmtp_send_xforward_command = $XFORWARD" \
        "lmtp_line_length_limit = $LINE_LIMIT" \
        "lmtp_host_lookup = native" "smtp_host_lookup = native" \
        "smtp_dns_support_level = disabled" \
        "smtputf8_enable = yes" \
        "message_size_limit = $MESSAGE_SIZE_LIMIT" \
        "mailbox_size_limit = 0" \
        "minimal_backoff_time = $BACKOFF" "maximal_backoff_time = $BACKOFF" \
        "queue_run_delay = $BACKOFF" \
        "biff = no"
    # No chroot (unix:/abs/path endpoints work as given); SMTP on a private port only.
    postconf -c "$CONF" -F '*/*/chroot = n'
    postconf -c "$CONF" -M# smtp/inet
    postconf -c "$CONF" -M "127.0.0.1:$SMTP_PORT/inet = 127.0.0.1:$SMTP_PORT inet n - n - - smtpd"
    if [ "$ARCHIVE_NOTICES" = yes ]; then archive_notices; fi
    postfix -c "$CONF" check >"$PFDIR/check.out" 2>&1 || {
        cat "$PFDIR/check.out" >&2
        die "postfix check failed"
    }
    postfix -c "$CONF" start >"$PFDIR/start.out" 2>&1 || {
        cat "$PFDIR/start.out" >&2
        tail -5 "$PFDIR/maillog" >&2 2>/dev/null || true
        die "postfix start failed"
    }
    for _ in $(seq 100); do port_open "$SMTP_PORT" && break; sleep 0.1; done
    port_open "$SMTP_PORT" || {
        tail -5 "$PFDIR/maillog" >&2 2>/dev/null || true
        die "smtpd did not come up on 127.0.0.1:$SMTP_PORT; see $PFDIR/maillog"
    }
    echo "test MTA up: smtp 127.0.0.1:$SMTP_PORT  $ARCHIVE_DOMAIN -> lmtp:$ep" \
        " other mail -> $sink_transport  config $CONF  log $PFDIR/maillog  master pid $(master_pid)"
}

do_wait_empty() {
    local t=${1:-30} end f
    end=$((SECONDS + t))
    while :; do
        f=$(find "$PFDIR/spool/maildrop" "$PFDIR/spool/incoming" "$PFDIR/spool/active" \
            "$PFDIR/spool/deferred" "$PFDIR/spool/hold" -type f -print -quit 2>/dev/null)
        [ -z "$f" ] && return 0
        [ $SECONDS -ge "$end" ] && break
        sleep 0.2
    done
    echo "$ME: queue not empty after ${t}s" >&2
    postqueue -c "$CONF" -p >&2 || true
    return 1
}

case "$CMD" in
install) do_install ;;
start) do_start "$@" ;;
stop) do_stop ;;
status)
    if running; then
        echo "running, master pid $(master_pid)"
    else
        echo "not running"
        exit 1
    fi
    ;;
inject)
    [ -f "$CONF/main.cf" ] || die "no instance under $PFDIR (run: $ME start ENDPOINT)"
    exec sendmail -C "$CONF" -i "$@"
    ;;
flush) postqueue -c "$CONF" -f ;;
mailq) postqueue -c "$CONF" -p ;;
log) cat "$PFDIR/maillog" 2>/dev/null || true ;;
wait-empty) do_wait_empty "$@" ;;
*)
    sed -n '2,9p' "$0" | sed 's/^#//'
    exit 2
    ;;
esac
