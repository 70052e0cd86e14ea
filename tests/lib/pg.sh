# shellcheck shell=bash
# NAME
#	pg.sh - a private PostgreSQL server for tests (sourced, or run as a script)
# SYNOPSIS
#	. "$TAB_SRC/tests/lib/pg.sh"
#	pg_start DIR            initdb + start in DIR; prints the conninfo,
#	                        sets PG_DIR, PG_SOCKDIR, PG_CONNINFO, PG_DB
#	pg_stop [MODE]          pg_ctl stop -m MODE (default fast); the data stays
#	pg_start_again          start the stopped server again (same data)
#	pg_psql [PSQL-ARGS...]  psql -X -v ON_ERROR_STOP=1 on the test database
#	pg_destroy              stop (fast, then immediate) and remove DIR's data
#
#	bash tests/lib/pg.sh start DIR | stop DIR | destroy DIR
# DESCRIPTION
#	Runs PostgreSQL 15 from /usr/lib/postgresql/15/bin (or pg_config
#	--bindir) with its data in DIR/pgdata and its unix socket in
#	DIR/sock, listen_addresses = '' (no TCP port is opened), trust
#	authentication, database "tabularium" (UTF8, locale C.UTF-8). initdb
#	refuses to run as root, so as root every server command runs as the
#	user postgres (runuser), which must be able to reach DIR.
#
#	The conninfo is a libpq URI: postgresql:///tabularium?host=DIR/sock&user=postgres
#
#	Never touches a system cluster, /etc/postgresql or any other
#	directory than DIR.
# DIAGNOSTICS
#	Functions return 1 with the tail of DIR/postgres.log on stderr when
#	the server does not start or stop.

PG_BIN=${PG_BIN:-}
if [ -z "$PG_BIN" ]; then
    if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
        PG_BIN=/usr/lib/postgresql/15/bin
    else
        PG_BIN=$(pg_config --bindir 2>/dev/null) || PG_BIN=
    fi
fi
PG_DIR=${PG_DIR:-}
PG_SOCKDIR=${PG_SOCKDIR:-}
PG_CONNINFO=${PG_CONNINFO:-}
PG_DB=tabularium

# _pg_as_server CMD...: run CMD as the user that owns the cluster.
_pg_as_server() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_log_tail() {
    echo "--- $PG_DIR/postgres.log:" >&2
    tail -20 "$PG_DIR/postgres.log" >&2 2>/dev/null || true
}

_pg_set_dir() {
    PG_DIR=$(cd "$1" && pwd) || return 1
    PG_SOCKDIR=$PG_DIR/sock
    PG_CONNINFO="postgresql:///$PG_DB?host=$PG_SOCKDIR&user=postgres"
}

pg_start() {
    local dir=${1:-}
    [ -n "$dir" ] || { echo "pg_start: DIR missing" >&2; return 1; }
    [ -x "$PG_BIN/initdb" ] || { echo "pg_start: no PostgreSQL server binaries (PG_BIN=$PG_BIN)" >&2; return 1; }
    mkdir -p "$dir" || return 1
    _pg_set_dir "$dir" || return 1
    rm -rf "$PG_DIR/pgdata" "$PG_SOCKDIR"
    mkdir -m 0700 "$PG_DIR/pgdata" || return 1
    mkdir -m 0755 "$PG_SOCKDIR" || return 1
    : >"$PG_DIR/postgres.log"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR/pgdata" "$PG_SOCKDIR" "$PG_DIR/postgres.log" || return 1
        if ! runuser -u postgres -- test -w "$PG_DIR/pgdata"; then
            echo "pg_start: user postgres cannot reach $PG_DIR (a parent directory is not searchable)" >&2
            return 1
        fi
    fi
    # --no-sync: a test cluster need not survive a power cut of the test host.
    if ! _pg_as_server "$PG_BIN/initdb" -D "$PG_DIR/pgdata" -U postgres -A trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
        echo "pg_start: initdb failed:" >&2
        tail -20 "$PG_DIR/initdb.log" >&2
        return 1
    fi
    cat >>"$PG_DIR/pgdata/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_SOCKDIR'
max_connections = 50
shared_buffers = 32MB
EOF
    pg_start_again || return 1
    if ! _pg_as_server "$PG_BIN/createdb" -h "$PG_SOCKDIR" -U postgres -E UTF8 \
        --locale=C.UTF-8 -T template0 "$PG_DB" >>"$PG_DIR/postgres.log" 2>&1; then
        echo "pg_start: createdb failed" >&2
        _pg_log_tail
        return 1
    fi
    echo "$PG_CONNINFO"
}

pg_start_again() {
    [ -n "$PG_DIR" ] || { echo "pg_start_again: no server (pg_start first)" >&2; return 1; }
    if ! _pg_as_server "$PG_BIN/pg_ctl" -D "$PG_DIR/pgdata" -l "$PG_DIR/postgres.log" -w -t 30 \
        start >/dev/null 2>&1; then
        echo "pg_start_again: the server did not start" >&2
        _pg_log_tail
        return 1
    fi
}

pg_stop() {
    local mode=${1:-fast}
    [ -n "$PG_DIR" ] && [ -d "$PG_DIR/pgdata" ] || return 0
    [ -f "$PG_DIR/pgdata/postmaster.pid" ] || return 0
    if ! _pg_as_server "$PG_BIN/pg_ctl" -D "$PG_DIR/pgdata" -m "$mode" -w -t 30 stop >/dev/null 2>&1; then
        echo "pg_stop: the server did not stop (-m $mode)" >&2
        _pg_log_tail
        return 1
    fi
}

pg_psql() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" "$@"
}

pg_destroy() {
    [ -n "$PG_DIR" ] || return 0
    pg_stop fast || pg_stop immediate || true
    rm -rf "$PG_DIR/pgdata" "$PG_SOCKDIR"
}

# Script use: bash pg.sh start|stop|destroy DIR
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    case "${1:-}:${2:-}" in
    start:?*) pg_start "$2" ;;
    stop:?*) _pg_set_dir "$2" && pg_stop "${3:-fast}" ;;
    destroy:?*) _pg_set_dir "$2" && pg_destroy ;;
    *)
        echo "usage: pg.sh start|stop|destroy DIR" >&2
        exit 2
        ;;
    esac
fi
