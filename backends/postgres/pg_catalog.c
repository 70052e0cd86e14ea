/*
 * NAME
 *	pg_catalog 3
 * SUMMARY
 *	catalog driver: the archive index in PostgreSQL, with full-text search
 * SYNOPSIS
 *	archive_catalog = pgsql:postgresql:///tabularium?host=/run/postgresql
 * DESCRIPTION
 *	Implements struct catalog with the semantics of the SQLite driver
 *	(backends/sqlite/) on the schema of pg_schema.c, documented in
 *	docs/schema-pgsql.md. This file owns the driver's open and close,
 *	its named statements (prepared on first use on each connection) and
 *	the helpers the other files share
 *	(backends/postgres/pg_catalog_private.h); the methods live by
 *	concern: pg_catalog_ingest.c (add, reindex, forward status),
 *	pg_catalog_search.c (search, get), pg_catalog_integrity.c (chain,
 *	seals, audit, stats), pg_catalog_retention.c (holds, expiry),
 *	pg_catalog_index.c (index check and rebuild), pg_attach_text.c (the
 *	text inside attachments, read by the daemon's indexer).
 *
 *	Text goes to the server as UTF-8: invalid bytes in a field become
 *	U+FFFD (the stored copy keeps the original bytes; NUL cannot occur
 *	in a C string), so every column stays text. No index covers the raw
 *	text of a header or envelope column (schema version 6: md5()),
 *	since a B-tree entry must fit in 2704 bytes; every lookup compares
 *	md5() and then the exact value.
 *
 *	Must never put user text into SQL: values are parameters.
 * DIAGNOSTICS
 *	Every database failure is TAB_RETRY with "pgsql NAME: WHAT: SERVER
 *	MESSAGE", after ROLLBACK, except where a method says otherwise.
 *	Open fails for a malformed conninfo or a schema of another version
 *	("run tabularium db upgrade").
 */
#include "backends/catalog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_conn.h"
#include "common/strlist.h"

/* A copy as pg_catalog_load() reads it (PC_FIRST_COPY, PC_COPY_BY_ID). */
#define PC_COPY_SELECT                                                                             \
    "SELECT store, location, wrapped_sha256, wrapped_size,"                                        \
    " extract(epoch FROM retain_until)::bigint FROM copies"

#define PG_FIND_SQL                                                                                \
    "SELECT m.id, m.archive_id, COALESCE(c.id::text, '') FROM messages m"                          \
    " LEFT JOIN copies c ON c.archive_id = $1 AND m.archive_id <> $1"                              \
    " WHERE m.id = (SELECT id FROM messages WHERE archive_id = $1"                                 \
    " UNION ALL SELECT message FROM copies WHERE archive_id = $1 LIMIT 1)"

static const struct pg_stmt pg_catalog_stmts[PC_COUNT] = {
    [PC_FORWARD_STATUS] = {"tab_cat_forward_status", "forward status",
                           "INSERT INTO forwards (archive_id, status, detail, updated)"
                           " VALUES ($1, $2, $3, now()) ON CONFLICT (archive_id) DO UPDATE"
                           " SET status = EXCLUDED.status, detail = EXCLUDED.detail,"
                           " updated = EXCLUDED.updated",
                           3, 0},
    /* The whole chain step in one statement: lock the head (held until
     * commit: every add() waits here for the one before), hash the link
     * (catalog_chain_encode: its first line, seq and prev from the head,
     * then the tail $2 that tabularium encoded, hex), write it into the
     * copy and move the head. Each round trip inside the lock would cost
     * every delivery; the caller recomputes the hash and refuses a
     * mismatch. sha256() needs PostgreSQL 11. */
    [PC_CHAIN_LINK] =
        {"tab_cat_chain_link", "chain link",
         "WITH head AS (SELECT seq + 1 AS seq, hash AS prev FROM chain_head"
         " WHERE id = 1 FOR UPDATE),"
         " l AS (SELECT seq, prev, encode(sha256(convert_to('tabularium-chain 1'"
         " || chr(10) || 'seq ' || seq::text || chr(10) || 'prev ' || prev || chr(10),"
         " 'UTF8') || decode($2, 'hex')), 'hex') AS hash FROM head),"
         " c AS (UPDATE copies SET seq = l.seq, prev_hash = l.prev, hash = l.hash"
         " FROM l WHERE copies.id = $1::bigint RETURNING copies.id)"
         " UPDATE chain_head SET seq = l.seq, hash = l.hash FROM l"
         " WHERE chain_head.id = 1 AND EXISTS (SELECT 1 FROM c)"
         " RETURNING l.seq, l.prev, l.hash",
         2, 0},
    [PC_LOCK_KEY] = {"tab_cat_lock_key", "lock message key",
                     "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, 0},
    /* Header and envelope text is found through an index over its md5()
     * (schema version 6), then compared whole. */
    [PC_FIND_MESSAGE] = {"tab_cat_find_message", "find message",
                         "SELECT id, envelope_from, size FROM messages WHERE sha256 = $2"
                         " AND md5(queue_id) = md5($1) AND queue_id = $1 AND queue_id <> ''",
                         2, 0},
    /* Without a queue id, the same Message-ID and the same bytes identify
     * the message. */
    [PC_FIND_MESSAGE_BY_MSGID] = {"tab_cat_find_message_by_msgid", "find message",
                                  "SELECT id, envelope_from, size FROM messages"
                                  " WHERE md5(message_id) = md5($1) AND message_id = $1"
                                  " AND sha256 = $2 AND queue_id = '' ORDER BY id LIMIT 1",
                                  2, 0},
    [PC_INSERT_MESSAGE] =
        {"tab_cat_insert_message", "insert message",
         "INSERT INTO messages (archive_id, queue_id, sha256, message_id, envelope_from,"
         " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
         " mail_params, xforward, fts, index_status, index_note, addr_fts,"
         " envelope_from_rdomain)"
         " VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::double precision), $8, $9, $10,"
         " to_timestamp($11::double precision), $12::bigint, $13, $14, $15::tsvector, $16, $17,"
         " $18::tsvector, $19)"
         " RETURNING id",
         19, 0},
    [PC_INSERT_COPY] = {"tab_cat_insert_copy", "insert copy",
                        "INSERT INTO copies (message, archive_id, store, location,"
                        " wrapped_sha256, wrapped_size, arrival, retain_until)"
                        " VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint,"
                        " to_timestamp($7::double precision), to_timestamp($8::double precision))"
                        " RETURNING id",
                        8, 0},
    /* Once per message whatever the case; concurrent add()s of one
     * message wait for each other on the advisory lock of its key. */
    [PC_INSERT_RCPT] = {"tab_cat_insert_rcpt", "insert recipient",
                        "INSERT INTO recipients (message, address, archive_rcpt, orcpt, notify,"
                        " copy, rdomain) SELECT $1::bigint, $2::text, $3::text, $4::text,"
                        " $5::text, $6::bigint, $7::text WHERE NOT EXISTS (SELECT 1 FROM recipients"
                        " WHERE message = $1::bigint AND md5(lower(address)) = md5(lower($2::text))"
                        " AND lower(address) = lower($2::text))",
                        7, 0},
    [PC_INSERT_ADDR] = {"tab_cat_insert_addr", "insert header address",
                        "INSERT INTO header_addresses (message, field, position, name, address,"
                        " rdomain) VALUES ($1::bigint, $2, $3::integer, $4, $5, $6)",
                        6, 0},
    [PC_INSERT_ATTACHMENT] = {"tab_cat_insert_attachment", "insert attachment",
                              "INSERT INTO attachments (message, position, filename,"
                              " content_type) VALUES ($1::bigint, $2::integer, $3, $4)",
                              4, 0},
    [PC_KNOWN_RCPTS] = {"tab_cat_known_rcpts", "known recipients",
                        "SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message"
                        " WHERE m.sha256 = $2 AND md5(m.queue_id) = md5($1) AND m.queue_id = $1"
                        " AND m.queue_id <> '' ORDER BY r.id",
                        2, 0},
    [PC_KNOWN_RCPTS_BY_MSGID] = {"tab_cat_known_rcpts_by_msgid", "known recipients",
                                 "SELECT r.address FROM recipients r WHERE r.message ="
                                 " (SELECT id FROM messages WHERE md5(message_id) = md5($1)"
                                 " AND message_id = $1 AND sha256 = $2 AND queue_id = ''"
                                 " ORDER BY id LIMIT 1)"
                                 " ORDER BY r.id",
                                 2, 0},
    [PC_MESSAGE_BY_ID] = {"tab_cat_message_by_id", "read message",
                          "SELECT archive_id, queue_id, sha256, message_id, envelope_from,"
                          " envelope_status, extract(epoch FROM date)::bigint, date_raw,"
                          " subject, subject_raw, extract(epoch FROM arrival)::bigint, size,"
                          " mail_params, xforward, index_status, index_note"
                          " FROM messages WHERE id = $1::bigint",
                          1, 0},
    /* The copy's id only when $1 is not the message's own archive id. */
    [PC_FIND] = {"tab_cat_find", "find", PG_FIND_SQL, 1, 0},
    [PC_FIND_SHARE] = {"tab_cat_find_share", "find", PG_FIND_SQL " FOR SHARE OF m", 1, 0},
    [PC_FIND_UPDATE] = {"tab_cat_find_update", "find", PG_FIND_SQL " FOR UPDATE OF m", 1, 0},
    [PC_FIRST_COPY] = {"tab_cat_first_copy", "read copy",
                       PC_COPY_SELECT " WHERE message = $1::bigint ORDER BY id LIMIT 1", 1, 0},
    [PC_COPY_BY_ID] = {"tab_cat_copy_by_id", "read copy", PC_COPY_SELECT " WHERE id = $1::bigint",
                       1, 0},
    [PC_RCPTS] = {"tab_cat_rcpts", "read recipients",
                  "SELECT address, archive_rcpt, orcpt, notify FROM recipients"
                  " WHERE message = $1::bigint ORDER BY id",
                  1, 0},
    [PC_ADDRS] = {"tab_cat_addrs", "read header addresses",
                  "SELECT field, name, address FROM header_addresses"
                  " WHERE message = $1::bigint ORDER BY position, id",
                  1, 0},
    [PC_ATTACHMENTS] = {"tab_cat_attachments", "read attachments",
                        "SELECT filename, content_type FROM attachments"
                        " WHERE message = $1::bigint ORDER BY position, id",
                        1, 0},
};

/* A UTF-8-clean copy of s kept in arena until the call ends; NULL for NULL. */
const char *pg_catalog_text(struct strlist *arena, const char *s, size_t max)
{
    char *clean = pg_conn_utf8(s, max);

    if (clean == NULL)
        return NULL;
    strlist_add(arena, clean);
    free(clean);
    return arena->v[arena->n - 1];
}

const char *pg_catalog_printf(struct strlist *arena, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    strlist_add(arena, s);
    free(s);
    return arena->v[arena->n - 1];
}

char *pg_catalog_dup(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return xstrdup(PQgetvalue(res, row, col));
}

/* A column's text, NULL for SQL NULL; valid until PQclear(). */
const char *pg_catalog_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

void pg_catalog_copy(const PGresult *res, int row, int col, char *buf, size_t size)
{
    snprintf(buf, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* Run statement i with text parameters. */
enum tab_result pg_catalog_exec(struct pg_catalog *pc, enum pg_catalog_stmt i,
                                const char *const *values, PGresult **res_r, const char **error_r)
{
    return pg_conn_exec(pc->conn, &pg_catalog_stmts[i], values, NULL, NULL, res_r, error_r);
}

/* The same, for statements whose result is not needed. */
enum tab_result pg_catalog_exec_do(struct pg_catalog *pc, enum pg_catalog_stmt i,
                                   const char *const *values, const char **error_r)
{
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_exec(pc, i, values, &res, error_r);

    PQclear(res);
    return r;
}

/* Run sql (n text parameters) once; *res_r for the caller to PQclear(). */
enum tab_result pg_catalog_run(struct pg_catalog *pc, const char *what, const char *sql, int n,
                               const char *const *values, PGresult **res_r, const char **error_r)
{
    struct pg_stmt st = {NULL, what, sql, n, 0};
    return pg_conn_exec(pc->conn, &st, values, NULL, NULL, res_r, error_r);
}

/* The same, for statements whose result is not needed. */
enum tab_result pg_catalog_do(struct pg_catalog *pc, const char *what, const char *sql, int n,
                              const char *const *values, const char **error_r)
{
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(pc, what, sql, n, values, &res, error_r);

    PQclear(res);
    return r;
}

enum tab_result pg_catalog_find(struct pg_catalog *pc, const char *archive_id,
                                enum pg_find_lock lock, const char *what, struct strlist *arena,
                                struct pg_found *found_r, const char **error_r)
{
    static const enum pg_catalog_stmt stmt[] = {PC_FIND, PC_FIND_SHARE, PC_FIND_UPDATE};
    const char *values[1] = {pg_catalog_text(arena, archive_id, 0)};
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_exec(pc, stmt[lock], values, &res, error_r);

    memset(found_r, 0, sizeof(*found_r));
    if (r == TAB_OK && PQntuples(res) == 0)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "%s%sarchive id %s not found",
                         what != NULL ? what : "", what != NULL ? ": " : "", archive_id);
    if (r == TAB_OK) {
        found_r->message = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 0));
        found_r->archive_id = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 1));
        found_r->copy = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return r;
}

static void pg_catalog_close(struct catalog *cat)
{
    struct pg_catalog *pc = pg_catalog_of(cat);

    pg_conn_release(&pc->conn, PG_CONN_CATALOG);
    free(pc);
}

static const struct catalog_vfuncs pg_catalog_vfuncs = {
    CATALOG_VFUNCS_MANDATORY(pg_catalog),
    CATALOG_VFUNCS_RECORDS(pg_catalog),
    CATALOG_VFUNCS_USERS(pg_catalog),
    .count = pg_catalog_count,
    .set_text_source = pg_catalog_set_text_source,
    .index_check = pg_catalog_index_check,
    .index_rebuild = pg_catalog_index_rebuild,
    .index_pending = pg_catalog_index_pending,
};

struct catalog *catalog_pgsql_open(const char *spec, const struct tab_config *cfg,
                                   const char **error_r)
{
    struct pg_conn *conn = pg_conn_acquire(spec, PG_CONN_CATALOG, error_r);
    struct pg_catalog *pc;

    (void)cfg;
    if (conn == NULL)
        return NULL;
    pc = xmalloc(sizeof(*pc));
    *pc = (struct pg_catalog){.cat = {.v = &pg_catalog_vfuncs, .name = "pgsql"}, .conn = conn};
    return &pc->cat;
}
