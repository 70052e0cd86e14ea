/*
 * NAME
 *	pg_store 3
 * SUMMARY
 *	archive store driver: wrapped copies in PostgreSQL
 * SYNOPSIS
 *	archive_store = pgsql:postgresql:///tabularium?host=/run/postgresql
 *
 *	r = st->put(st, rec, fd, path, &location, &err);	location: "pgsql:<id>"
 *	r = st->read(st, location, chunk_fn, ctx, &err);
 * DESCRIPTION
 *	Stores each wrapped copy as one store_objects row (archive id, size,
 *	SHA-256) and its bytes as store_chunks rows of PG_STORE_CHUNK bytes,
 *	read from the spool descriptor one chunk at a time and sent as
 *	binary parameters: a 50 MB message never has to fit in memory, and
 *	the tables are ordinary tables (plain GRANTs, pg_dump, ON DELETE
 *	CASCADE), which large objects are not.
 *
 *	put() opens the transaction. When a pgsql catalog shares the
 *	connection (same conninfo, backends/postgres/pg_conn.c), it leaves
 *	the transaction open and hands it over: the catalog's add() inserts
 *	the index rows and commits both, so a copy is either stored and
 *	cataloged or neither. Alone, put() commits itself; the session's
 *	synchronous_commit = on makes COMMIT durable before it returns.
 *
 *	read() hands the chunks in order to the caller's callback, one row
 *	in memory at a time, and checks the total against the object's
 *	size.
 *	remove() deletes the object and its chunks (retention expiry); it
 *	has no legal hold of its own (the catalog's holds protect it).
 *
 *	Never modifies or removes the spool file; never formats user text
 *	into SQL.
 * DIAGNOSTICS
 *	TAB_RETRY for every database and read error (after ROLLBACK), with
 *	"pgsql NAME: WHAT: MESSAGE". TAB_PERM from read() for a location that
 *	is not "pgsql:<id>", an unknown id, or an object whose chunks do not
 *	add up to its size.
 */
#include "backends/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/postgres/pg_conn.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"

/* Bytes per store_chunks row: big enough that a round trip per chunk is
 * cheap, small enough to keep a worker's memory bounded. */
#define PG_STORE_CHUNK (1024 * 1024)
#define PG_STORE_LOCATION_PREFIX "pgsql:"

struct pg_store {
    struct store st; /* first: the driver calls receive &st */
    struct pg_conn *conn;
};

enum pg_store_stmt { PS_INSERT_OBJECT, PS_INSERT_CHUNK, PS_OBJECT, PS_CHUNK, PS_REMOVE, PS_COUNT };

static const struct pg_stmt pg_store_stmts[PS_COUNT] = {
    [PS_INSERT_OBJECT] = {"tab_store_insert_object", "insert object",
                          "INSERT INTO store_objects (archive_id, size, sha256)"
                          " VALUES ($1, $2::bigint, $3) RETURNING id",
                          3, 0},
    [PS_INSERT_CHUNK] = {"tab_store_insert_chunk", "insert chunk",
                         "INSERT INTO store_chunks (object, seq, data)"
                         " VALUES ($1::bigint, $2::integer, $3::bytea)",
                         3, 0},
    [PS_OBJECT] = {"tab_store_object", "read object",
                   "SELECT size FROM store_objects WHERE id = $1::bigint", 1, 0},
    [PS_CHUNK] = {"tab_store_chunk", "read chunk",
                  "SELECT data FROM store_chunks WHERE object = $1::bigint AND seq = $2::integer",
                  2, 1},
    /* The chunks go with it (ON DELETE CASCADE). */
    [PS_REMOVE] = {"tab_store_remove", "remove object",
                   "DELETE FROM store_objects WHERE id = $1::bigint", 1, 0},
};

static struct pg_store *pg_store_of(struct store *st)
{
    return (struct pg_store *)st;
}

static enum tab_result pg_store_put(struct store *st, const struct archive_record *rec, int fd,
                                    const char *path, char **location_r, const char **error_r)
{
    struct pg_store *ps = pg_store_of(st);
    char size[32], object[32], seq[16];
    char *buf = NULL;
    uint64_t total = 0;
    PGresult *res = NULL;
    enum tab_result r;

    (void)path;
    *location_r = NULL;
    snprintf(size, sizeof(size), "%" PRIu64, rec->wrapped_size);
    r = pg_conn_begin(ps->conn, error_r);
    if (r != TAB_OK)
        return r;
    {
        const char *values[3] = {rec->archive_id, size, rec->wrapped_sha256};
        r = pg_conn_exec(ps->conn, &pg_store_stmts[PS_INSERT_OBJECT], values, NULL, NULL, &res,
                         error_r);
    }
    if (r != TAB_OK)
        goto fail;
    snprintf(object, sizeof(object), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;

    buf = xmalloc(PG_STORE_CHUNK);
    for (int i = 0;; i++) {
        ssize_t n = safe_read_full(fd, buf, PG_STORE_CHUNK);
        if (n < 0) {
            r = pg_conn_fail(ps->conn, TAB_RETRY, error_r, "put %s: read spool file: %s",
                             rec->archive_id, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break; /* an empty copy has no chunks */
        snprintf(seq, sizeof(seq), "%d", i);
        const char *values[3] = {object, seq, buf};
        const int lengths[3] = {0, 0, (int)n};
        const int formats[3] = {0, 0, 1};
        r = pg_conn_exec(ps->conn, &pg_store_stmts[PS_INSERT_CHUNK], values, lengths, formats, &res,
                         error_r);
        if (r != TAB_OK)
            goto fail;
        PQclear(res);
        res = NULL;
        total += (uint64_t)n;
        if ((size_t)n < PG_STORE_CHUNK)
            break;
    }
    if (total != rec->wrapped_size) {
        r = pg_conn_fail(ps->conn, TAB_RETRY, error_r,
                         "put %s: the spool file has %" PRIu64 " bytes, expected %" PRIu64,
                         rec->archive_id, total, rec->wrapped_size);
        goto fail;
    }
    free(buf);
    buf = NULL;

    *location_r = xasprintf(PG_STORE_LOCATION_PREFIX "%s", object);
    if (pg_conn_has_catalog(ps->conn)) {
        pg_conn_hand_over(ps->conn, *location_r);
        return TAB_OK;
    }
    r = pg_conn_commit(ps->conn, error_r);
    if (r == TAB_OK)
        return TAB_OK;
    free(*location_r);
    *location_r = NULL;
    return r;

fail:
    PQclear(res);
    free(buf);
    pg_conn_rollback(ps->conn);
    return r;
}

/* The object id of "pgsql:<digits>", or 0. */
static long long pg_store_location_id(const char *location)
{
    const char *p;
    char *end;
    long long id;

    if (location == NULL ||
        strncmp(location, PG_STORE_LOCATION_PREFIX, strlen(PG_STORE_LOCATION_PREFIX)) != 0)
        return 0;
    p = location + strlen(PG_STORE_LOCATION_PREFIX);
    if (*p < '1' || *p > '9')
        return 0;
    errno = 0;
    id = strtoll(p, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    return id;
}

/* The object id of location as a statement parameter (object[32]);
 * TAB_PERM for a location that is not "pgsql:<digits>". */
static enum tab_result pg_store_object(struct pg_store *ps, const char *location, char object[32],
                                       const char **error_r)
{
    long long id = pg_store_location_id(location);

    if (id == 0)
        return pg_conn_fail(ps->conn, TAB_PERM, error_r, "bad location \"%s\"",
                            location != NULL ? location : "");
    snprintf(object, 32, "%lld", id);
    return TAB_OK;
}

static enum tab_result pg_store_read(struct store *st, const char *location, store_chunk_fn *fn,
                                     void *ctx, const char **error_r)
{
    struct pg_store *ps = pg_store_of(st);
    char object[32], seq[16];
    unsigned long long size, total = 0;
    PGresult *res;
    enum tab_result r = pg_store_object(ps, location, object, error_r);

    if (r != TAB_OK)
        return r;
    {
        const char *values[1] = {object};
        r = pg_conn_exec(ps->conn, &pg_store_stmts[PS_OBJECT], values, NULL, NULL, &res, error_r);
    }
    if (r != TAB_OK)
        return r;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return pg_conn_fail(ps->conn, TAB_PERM, error_r, "%s: no such object", location);
    }
    size = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    /* Objects never change once committed: no snapshot needed across
     * chunks. One row in memory at a time, handed over as it is. */
    for (int i = 0;; i++) {
        snprintf(seq, sizeof(seq), "%d", i);
        const char *values[2] = {object, seq};
        r = pg_conn_exec(ps->conn, &pg_store_stmts[PS_CHUNK], values, NULL, NULL, &res, error_r);
        if (r != TAB_OK)
            return r;
        if (PQntuples(res) == 0) {
            PQclear(res);
            break;
        }
        size_t n = (size_t)PQgetlength(res, 0, 0);
        int stop = n > 0 && fn(ctx, PQgetvalue(res, 0, 0), n) != 0;
        PQclear(res);
        if (stop)
            return TAB_STOPPED;
        total += n;
    }
    if (total != size)
        return pg_conn_fail(ps->conn, TAB_PERM, error_r,
                            "%s: the chunks hold %llu bytes, the object %llu", location, total,
                            size);
    return TAB_OK;
}

/* Retention expiry: one statement in autocommit mode (tabularium expire
 * is the only caller and removes the catalog rows afterwards); an object
 * already gone is no error. */
static enum tab_result pg_store_remove(struct store *st, const char *location, const char **error_r)
{
    struct pg_store *ps = pg_store_of(st);
    char object[32];
    const char *values[1] = {object};
    PGresult *res;
    enum tab_result r = pg_store_object(ps, location, object, error_r);

    if (r != TAB_OK)
        return r;
    r = pg_conn_exec(ps->conn, &pg_store_stmts[PS_REMOVE], values, NULL, NULL, &res, error_r);
    if (r != TAB_OK)
        return r;
    PQclear(res);
    return TAB_OK;
}

static void pg_store_close(struct store *st)
{
    struct pg_store *ps = pg_store_of(st);

    pg_conn_release(&ps->conn, PG_CONN_STORE);
    free(ps);
}

struct store *store_pgsql_open(const char *spec, const struct tab_config *cfg, const char **error_r)
{
    struct pg_conn *conn = pg_conn_acquire(spec, PG_CONN_STORE, error_r);
    struct pg_store *ps;

    (void)cfg;
    if (conn == NULL)
        return NULL;
    ps = xmalloc(sizeof(*ps));
    *ps = (struct pg_store){.st = {.name = "pgsql",
                                   .put = pg_store_put,
                                   .read = pg_store_read,
                                   .remove = pg_store_remove,
                                   .close = pg_store_close},
                            .conn = conn};
    return &ps->st;
}
