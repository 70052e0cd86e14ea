/*
 * NAME
 *	pg_conn 3
 * SUMMARY
 *	per-process PostgreSQL connection registry, reconnects, transactions
 * SYNOPSIS
 *	#include "backends/postgres/pg_conn.h"
 * DESCRIPTION
 *	Owns every libpq connection of the pgsql drivers in this process,
 *	keyed by the conninfo string exactly as configured. A worker opens
 *	its store and its catalog once and keeps them across LMTP sessions;
 *	when both name the same conninfo they get the same connection, and
 *	the store's put() can leave its transaction open for the catalog's
 *	add() to finish (pg_conn_hand_over / pg_conn_take_over): the copy's
 *	bytes and its index rows commit together or not at all.
 *
 *	Connecting: the conninfo (a libpq URI or key=value string, or a bare
 *	database name) goes to PQconnectdbParams as an expanded dbname, after
 *	a default connect_timeout that it may override and before
 *	client_encoding=UTF8, which it may not (the drivers send UTF-8).
 *	Passwords come from libpq's passfile (~/.pgpass, passfile=) or the
 *	conninfo; they never appear in a message from this module: names
 *	are redacted with pg_conn_redact().
 *
 *	A server that is down when the driver opens is no open error: the
 *	daemon would otherwise keep a failing driver until the worker is
 *	replaced. Each call reconnects when needed; a statement that found
 *	the connection broken while no transaction was open runs once more
 *	on a new connection (the usual case after a server restart: libpq
 *	notices only when it sends). Inside a transaction nothing is ever
 *	repeated, and no later statement may run on a new connection until
 *	the caller has rolled back: a COMMIT on a fresh connection would
 *	"succeed" with nothing to commit. The one exception is a COMMIT
 *	whose reply was lost: BEGIN also fetched txid_current(), and a new
 *	connection asks txid_status() whether it committed; when no new
 *	connection can be had, the outcome is reported unknown (TAB_RETRY).
 *
 *	A child process (tabularium show forks one to stream the store)
 *	must not use its parent's socket: it abandons the inherited PGconn
 *	without PQfinish (which would end the parent's session) and
 *	connects anew.
 *
 *	Must never format user text into SQL: statements take parameters.
 * DIAGNOSTICS
 *	Every failure is TAB_RETRY with "pgsql NAME: WHAT: MESSAGE"; the
 *	server's message is folded onto one line. pg_conn_content_error()
 *	then tells a refusal of the statement's values (SQLSTATE classes 22,
 *	23, 54: the same values fail the same way every time) from the rest,
 *	for a caller that must not retry those forever. A conninfo that libpq
 *	cannot parse and a schema of the wrong version fail
 *	pg_conn_acquire(). A password in the conninfo is logged as a
 *	warning (without the password) once per connection.
 */
#include "backends/postgres/pg_conn.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "backends/postgres/pg_schema.h"
#include "common/log.h"
#include "common/strlist.h"
#include "common/utf8.h"

/* Seconds libpq waits for a server that does not answer (TCP); the
 * conninfo's own connect_timeout wins. */
#define PG_CONN_CONNECT_TIMEOUT "10"

struct pg_conn {
    struct pg_conn *next;
    char *conninfo;          /* as configured: the registry key */
    char *name;              /* conninfo without password, for messages */
    PGconn *pg;              /* NULL: not connected */
    pid_t pid;               /* the process that owns pg */
    int stores, catalogs;    /* references by role */
    int txn;                 /* a transaction is open (or was, until rolled back) */
    int lost;                /* dropped after a failure: log the reconnect */
    char xid[32];            /* its transaction id, for a COMMIT whose reply was lost */
    char *handover;          /* location of the store's open transaction */
    struct strlist prepared; /* statement names prepared on pg */
    char *error;             /* last message, what *error_r points at */
    char sqlstate[6];        /* of the last statement the server refused, or "" */
};

static struct pg_conn *pg_conns;

/* pg_conn_acquire() has no connection yet to own its message. */
static char pg_conn_open_error[1024];
/* Nor has pg_conn_connect_plain(): its last message. */
static char *pg_conn_plain_error;

static int pg_conn_is_uri(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

/* A bare database name is not a conninfo string: libpq takes it as dbname. */
static int pg_conn_is_conninfo(const char *s)
{
    return pg_conn_is_uri(s) || strchr(s, '=') != NULL;
}

static void pg_conn_append_quoted(struct strlist *parts, const char *key, const char *val)
{
    size_t len = strlen(val);
    char *q = xmalloc(2 * len + 3), *w = q;

    *w++ = '\'';
    for (; *val != '\0'; val++) {
        if (*val == '\'' || *val == '\\')
            *w++ = '\\';
        *w++ = *val;
    }
    *w++ = '\'';
    *w = '\0';
    char *part = xasprintf("%s=%s", key, q);
    strlist_add(parts, part);
    free(part);
    free(q);
}

char *pg_conn_redact(const char *conninfo)
{
    PQconninfoOption *opts, *o;
    struct strlist parts = STRLIST_INIT;
    char *err = NULL, *out;
    int has_password = 0;

    if (!pg_conn_is_conninfo(conninfo))
        return xstrdup(conninfo);
    opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        PQfreemem(err);
        return xstrdup("(malformed conninfo)");
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            has_password = 1;
    if (!has_password) {
        PQconninfoFree(opts);
        return xstrdup(conninfo);
    }
    /* Rebuilt from the parsed options: no textual surgery on URIs that
     * could miss an encoded or repeated password. */
    for (o = opts; o->keyword != NULL; o++)
        if (o->val != NULL && *o->val != '\0' && strcmp(o->keyword, "password") != 0)
            pg_conn_append_quoted(&parts, o->keyword, o->val);
    PQconninfoFree(opts);
    out = strlist_join(&parts, " ");
    strlist_free(&parts);
    return out;
}

char *pg_conn_utf8(const char *s, size_t max)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    size_t len, used = 0;
    char *out;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    if (len > (SIZE_MAX - 1) / 3)
        abort(); /* cannot happen for a string in memory */
    out = xmalloc(3 * len + 1);
    while (*p != '\0') {
        size_t n = utf8_seq(p, len - (size_t)(p - (const unsigned char *)s), NULL);
        const char *piece = n > 0 ? (const char *)p : replacement;
        size_t piece_len = n > 0 ? n : 3;

        if (max > 0 && used + piece_len > max)
            break;
        memcpy(out + used, piece, piece_len);
        used += piece_len;
        p += n > 0 ? n : 1;
    }
    out[used] = '\0';
    return out;
}

/* The server's message on one line: "ERROR:  x\nDETAIL:  y\n" -> "ERROR: x DETAIL: y". */
static char *pg_conn_one_line(const char *msg)
{
    char *out = xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error"), *r, *w;
    int space = 0;

    for (r = w = out; *r != '\0'; r++) {
        if (*r == '\n' || *r == '\r' || *r == '\t' || *r == ' ') {
            space = 1;
            continue;
        }
        if (space && w != out)
            *w++ = ' ';
        space = 0;
        *w++ = *r;
    }
    *w = '\0';
    return out;
}

enum tab_result pg_conn_fail(struct pg_conn *c, enum tab_result r, const char **error_r,
                             const char *fmt, ...)
{
    va_list ap;
    char *what;

    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = xstrdup("(out of memory formatting the error)");
    va_end(ap);
    free(c->error);
    c->error = xasprintf("pgsql %s: %s", c->name, what);
    free(what);
    *error_r = c->error;
    return r;
}

static void pg_conn_notice(void *arg, const char *message)
{
    const char *name = arg;
    char *line = pg_conn_one_line(message);

    log_debug("pgsql %s: %s", name != NULL ? name : "", line);
    free(line);
}

/* A new libpq connection with our settings; NULL and a message on failure. */
static PGconn *pg_conn_connect_params(const char *conninfo, const char *name, char **error_r)
{
    const char *const keywords[] = {"connect_timeout", "dbname", "client_encoding",
                                    "fallback_application_name", NULL};
    const char *const values[] = {PG_CONN_CONNECT_TIMEOUT, conninfo, "UTF8",
                                  program_invocation_short_name, NULL};
    PGconn *pg;
    PGresult *res;

    pg = PQconnectdbParams(keywords, values, 1);
    if (pg == NULL) {
        *error_r = xstrdup("connect: out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        char *line = pg_conn_one_line(PQerrorMessage(pg));
        *error_r = xasprintf("connect: %s", line);
        free(line);
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, pg_conn_notice, (void *)name);
    /* Durable before 250, whatever the server's or the role's default. */
    res = PQexec(pg, "SET synchronous_commit = on");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char *line = pg_conn_one_line(PQerrorMessage(pg));
        *error_r = xasprintf("SET synchronous_commit: %s", line);
        free(line);
        PQclear(res);
        PQfinish(pg);
        return NULL;
    }
    PQclear(res);
    return pg;
}

PGconn *pg_conn_connect_plain(const char *conninfo, const char **error_r)
{
    char *name = pg_conn_redact(conninfo), *error = NULL;
    PGconn *pg;

    /* The notice processor keeps a pointer to the name: a static one. */
    pg = pg_conn_connect_params(conninfo, NULL, &error);
    if (pg == NULL) {
        free(pg_conn_plain_error);
        pg_conn_plain_error = xasprintf("pgsql %s: %s", name, error);
        *error_r = pg_conn_plain_error;
        free(error);
    }
    free(name);
    return pg;
}

/* Forget the connection (lost, or inherited from the parent process). */
static void pg_conn_drop(struct pg_conn *c, int finish)
{
    if (c->pg != NULL && finish)
        PQfinish(c->pg);
    c->pg = NULL;
    strlist_free(&c->prepared);
    free(c->handover);
    c->handover = NULL;
}

/*
 * Connect c. 0 ok; -1 the server cannot be reached (try again later);
 * -2 the schema does not match (the operator must act).
 */
static int pg_conn_connect(struct pg_conn *c, char **error_r)
{
    char *error = NULL;
    const char *schema_error;

    c->pg = pg_conn_connect_params(c->conninfo, c->name, &error);
    c->pid = getpid();
    if (c->pg == NULL) {
        *error_r = error;
        return -1;
    }
    if (pg_schema_check(c->pg, c->name, &schema_error) < 0) {
        *error_r = xstrdup(schema_error);
        pg_conn_drop(c, 1);
        return -2;
    }
    return 0;
}

/* A usable connection, reconnecting if needed; -1 with the message set. */
static int pg_conn_ready(struct pg_conn *c, const char **error_r)
{
    char *error = NULL;
    int lost;

    if (c->pid != getpid()) {
        pg_conn_drop(c, 0); /* the parent's socket: never write to it */
        c->txn = 0;
        c->pid = getpid();
    }
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return 0;
    if (c->txn) {
        pg_conn_fail(c, TAB_RETRY, error_r,
                     "the connection broke during a transaction: rolled back by the server");
        return -1;
    }
    lost = c->pg != NULL || c->lost;
    pg_conn_drop(c, 1);
    if (pg_conn_connect(c, &error) < 0) {
        /* Still lost: the reconnection that finally works says so. */
        c->lost = lost;
        pg_conn_fail(c, TAB_RETRY, error_r, "%s", error);
        free(error);
        return -1;
    }
    if (lost)
        log_info("pgsql %s: reconnected", c->name);
    c->lost = 0;
    return 0;
}

static int pg_conn_is_prepared(const struct pg_conn *c, const char *name)
{
    for (size_t i = 0; i < c->prepared.n; i++)
        if (strcmp(c->prepared.v[i], name) == 0)
            return 1;
    return 0;
}

static PGresult *pg_conn_run(struct pg_conn *c, const struct pg_stmt *st, const char *const *values,
                             const int *lengths, const int *formats)
{
    PGresult *res;

    /* PQexec: BEGIN and the transaction id in one round trip. */
    if (st->name == NULL && st->nparams == 0 && !st->binary_result)
        return PQexec(c->pg, st->sql);
    if (st->name == NULL)
        return PQexecParams(c->pg, st->sql, st->nparams, NULL, values, lengths, formats,
                            st->binary_result);
    if (!pg_conn_is_prepared(c, st->name)) {
        res = PQprepare(c->pg, st->name, st->sql, st->nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res;
        PQclear(res);
        strlist_add(&c->prepared, st->name);
    }
    return PQexecPrepared(c->pg, st->name, st->nparams, values, lengths, formats,
                          st->binary_result);
}

enum tab_result pg_conn_exec(struct pg_conn *c, const struct pg_stmt *st, const char *const *values,
                             const int *lengths, const int *formats, PGresult **res_r,
                             const char **error_r)
{
    *res_r = NULL;
    c->sqlstate[0] = '\0';
    for (int attempt = 0;; attempt++) {
        enum tab_result r;
        PGresult *res;
        char *line;
        int idle;

        if (pg_conn_ready(c, error_r) < 0)
            return TAB_RETRY;
        idle = !c->txn && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
        res = pg_conn_run(c, st, values, lengths, formats);
        if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK) {
            *res_r = res;
            return TAB_OK;
        }
        line = pg_conn_one_line(res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
        {
            const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
            snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state != NULL ? state : "");
        }
        PQclear(res);
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            pg_conn_drop(c, 1);
            c->lost = 1;
            if (attempt == 0 && idle) {
                log_warn("pgsql %s: connection lost (%s); reconnecting", c->name, line);
                free(line);
                continue;
            }
        }
        r = pg_conn_fail(c, TAB_RETRY, error_r, "%s: %s", st->what, line);
        free(line);
        return r;
    }
}

/* Roll back a transaction nobody finished: a store's hand-over that no
 * catalog add() took, or a caller that returned without rollback. */
static void pg_conn_abandon(struct pg_conn *c)
{
    if (!c->txn)
        return;
    if (c->handover != NULL)
        log_warn("pgsql %s: rolling back the stored copy %s that was never cataloged", c->name,
                 c->handover);
    else
        log_warn("pgsql %s: rolling back an unfinished transaction", c->name);
    pg_conn_rollback(c);
}

static enum tab_result pg_conn_begin_sql(struct pg_conn *c, const struct pg_stmt *st,
                                         const char **error_r)
{
    PGresult *res;
    enum tab_result r;

    if (c->pid == getpid())
        pg_conn_abandon(c);
    r = pg_conn_exec(c, st, NULL, NULL, NULL, &res, error_r);
    c->xid[0] = '\0';
    if (r == TAB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(c->xid, sizeof(c->xid), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if (r == TAB_OK)
        c->txn = 1;
    return r;
}

enum tab_result pg_conn_begin(struct pg_conn *c, const char **error_r)
{
    /* A transaction that writes gets an id anyway; knowing it lets a lost
     * COMMIT reply be resolved (pg_conn_commit). */
    static const struct pg_stmt begin = {NULL, "begin", "BEGIN; SELECT txid_current()", 0, 0};

    return pg_conn_begin_sql(c, &begin, error_r);
}

enum tab_result pg_conn_begin_read(struct pg_conn *c, int *began_r, const char **error_r)
{
    static const struct pg_stmt begin = {NULL, "begin",
                                         "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, 0};
    enum tab_result r;

    *began_r = 0;
    if (c->txn && c->pid == getpid())
        return TAB_OK;
    r = pg_conn_begin_sql(c, &begin, error_r);
    *began_r = r == TAB_OK;
    return r;
}

/*
 * The connection broke during COMMIT: the server may have committed
 * before the reply was lost (a fast shutdown does that). Ask a new
 * connection what became of the transaction. TAB_OK only for
 * "committed"; otherwise the outcome is reported unknown, and Postfix's
 * retry of the message finds it archived if it was.
 */
static enum tab_result pg_conn_resolve(struct pg_conn *c, const char *lost, const char **error_r)
{
    static const struct pg_stmt status = {"tab_txid_status", "transaction status",
                                          "SELECT txid_status($1::bigint)", 1, 0};
    const struct timespec pause = {0, 100 * 1000 * 1000};
    const char *values[1] = {c->xid};
    enum tab_result r = TAB_RETRY;
    char *state = NULL;

    c->txn = 0;
    /* "in progress": the old session has not finished ending yet. */
    for (int tries = 0; c->xid[0] != '\0' && tries < 20; tries++) {
        PGresult *res;
        const char *error;

        free(state);
        state = NULL;
        if (pg_conn_exec(c, &status, values, NULL, NULL, &res, &error) != TAB_OK)
            break;
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            state = xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        if (state == NULL || strcmp(state, "in progress") != 0)
            break;
        (void)nanosleep(&pause, NULL);
    }
    if (state != NULL && strcmp(state, "committed") == 0) {
        log_warn("pgsql %s: the reply to COMMIT was lost (%s); transaction %s did commit", c->name,
                 lost, c->xid);
        r = TAB_OK;
    } else if (state != NULL && strcmp(state, "aborted") == 0) {
        r = pg_conn_fail(c, TAB_RETRY, error_r, "commit failed: %s; rolled back", lost);
    } else {
        r = pg_conn_fail(c, TAB_RETRY, error_r,
                         "commit outcome unknown: %s; a retry of this message finds it"
                         " archived if it committed",
                         lost);
    }
    free(state);
    c->xid[0] = '\0';
    return r;
}

enum tab_result pg_conn_commit(struct pg_conn *c, const char **error_r)
{
    static const struct pg_stmt commit = {NULL, "commit", "COMMIT", 0, 0};
    PGresult *res;
    enum tab_result r;

    if (!c->txn || c->pg == NULL || PQtransactionStatus(c->pg) != PQTRANS_INTRANS) {
        r = pg_conn_fail(c, TAB_RETRY, error_r, "commit: no open transaction (connection lost?)");
        pg_conn_rollback(c);
        return r;
    }
    *error_r = NULL;
    r = pg_conn_exec(c, &commit, NULL, NULL, NULL, &res, error_r);
    if (r != TAB_OK && c->pg == NULL) { /* the connection broke */
        /* Without the "pgsql NAME: " that pg_conn_fail() adds again. */
        size_t skip = strlen("pgsql : ") + strlen(c->name);
        char *lost = xstrdup(strlen(*error_r) > skip ? *error_r + skip : *error_r);
        free(c->handover);
        c->handover = NULL;
        r = pg_conn_resolve(c, lost, error_r);
        free(lost);
        return r;
    }
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
    if (r == TAB_OK && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        r = pg_conn_fail(c, TAB_RETRY, error_r, "commit: the server rolled back (%s)",
                         PQcmdStatus(res));
    PQclear(res);
    c->txn = 0;
    free(c->handover);
    c->handover = NULL;
    return r;
}

enum tab_result pg_conn_end(struct pg_conn *c, enum tab_result r, const char **error_r)
{
    if (r == TAB_OK)
        return pg_conn_commit(c, error_r);
    pg_conn_rollback(c);
    return r;
}

void pg_conn_rollback(struct pg_conn *c)
{
    c->txn = 0;
    free(c->handover);
    c->handover = NULL;
    if (c->pg == NULL || c->pid != getpid() || PQstatus(c->pg) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return;
    PGresult *res = PQexec(c->pg, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char *line = pg_conn_one_line(PQerrorMessage(c->pg));
        /* The server rolls back when the session ends: end it. */
        log_error("pgsql %s: rollback: %s; closing the connection", c->name, line);
        free(line);
        pg_conn_drop(c, 1);
        c->lost = 1;
    }
    PQclear(res);
}

void pg_conn_hand_over(struct pg_conn *c, const char *location)
{
    free(c->handover);
    c->handover = xstrdup(location);
}

int pg_conn_take_over(struct pg_conn *c, const char *location)
{
    int mine = c->handover != NULL && location != NULL && strcmp(c->handover, location) == 0 &&
               c->txn && c->pg != NULL && c->pid == getpid() &&
               PQtransactionStatus(c->pg) == PQTRANS_INTRANS;

    free(c->handover);
    c->handover = NULL;
    return mine;
}

int pg_conn_content_error(const struct pg_conn *c)
{
    /* 22: data exception (invalid byte sequence, value out of range, ...);
     * 23: integrity constraint violation; 54: program limit exceeded
     * (index row size, tsvector or statement too large). */
    return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK &&
           (strncmp(c->sqlstate, "22", 2) == 0 || strncmp(c->sqlstate, "23", 2) == 0 ||
            strncmp(c->sqlstate, "54", 2) == 0);
}

const char *pg_conn_name(const struct pg_conn *c)
{
    return c->name;
}

int pg_conn_has_catalog(const struct pg_conn *c)
{
    return c->catalogs > 0;
}

int pg_conn_has_store(const struct pg_conn *c)
{
    return c->stores > 0;
}

static void pg_conn_warn_password(const char *conninfo, const char *name)
{
    PQconninfoOption *opts, *o;
    char *err = NULL;

    if (!pg_conn_is_conninfo(conninfo))
        return;
    opts = PQconninfoParse(conninfo, &err);
    if (opts == NULL) {
        PQfreemem(err);
        return;
    }
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            log_warn("pgsql %s: the conninfo holds a password, which configuration dumps show;"
                     " put it in a passfile (~/.pgpass or passfile=) instead",
                     name);
    PQconninfoFree(opts);
}

struct pg_conn *pg_conn_acquire(const char *conninfo, enum pg_conn_role role, const char **error_r)
{
    struct pg_conn *c;
    char *error = NULL, *name;
    int rc;

    *error_r = pg_conn_open_error;
    if (conninfo == NULL)
        conninfo = "";
    for (c = pg_conns; c != NULL; c = c->next)
        if (strcmp(c->conninfo, conninfo) == 0)
            goto found;

    name = pg_conn_redact(conninfo);
    if (pg_conn_is_conninfo(conninfo)) {
        PQconninfoOption *opts = PQconninfoParse(conninfo, &error);
        if (opts == NULL) {
            char *line = pg_conn_one_line(error);
            snprintf(pg_conn_open_error, sizeof(pg_conn_open_error), "pgsql %s: conninfo: %s", name,
                     line);
            free(line);
            PQfreemem(error);
            free(name);
            return NULL;
        }
        PQconninfoFree(opts);
    }
    c = xcalloc(1, sizeof(*c));
    c->conninfo = xstrdup(conninfo);
    c->name = name;
    pg_conn_warn_password(conninfo, name);
    rc = pg_conn_connect(c, &error);
    if (rc == -2) {
        snprintf(pg_conn_open_error, sizeof(pg_conn_open_error), "%s", error);
        free(error);
        free(c->conninfo);
        free(c->name);
        free(c);
        return NULL;
    }
    if (rc < 0) {
        log_warn("pgsql %s: %s; will connect again on each delivery", c->name, error);
        free(error);
    }
    c->next = pg_conns;
    pg_conns = c;
found:
    if (role == PG_CONN_STORE)
        c->stores++;
    else
        c->catalogs++;
    return c;
}

void pg_conn_release(struct pg_conn **cp, enum pg_conn_role role)
{
    struct pg_conn *c = *cp, **pp;

    if (c == NULL)
        return;
    *cp = NULL;
    if (role == PG_CONN_STORE)
        c->stores--;
    else
        c->catalogs--;
    if (c->stores > 0 || c->catalogs > 0)
        return;
    for (pp = &pg_conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (c->pid == getpid()) {
        pg_conn_abandon(c);
        pg_conn_drop(c, 1);
    } else {
        pg_conn_drop(c, 0);
    }
    free(c->conninfo);
    free(c->name);
    free(c->error);
    free(c);
}
