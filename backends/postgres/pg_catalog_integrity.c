/*
 * NAME
 *	pg_catalog_integrity 3
 * SUMMARY
 *	PostgreSQL catalog driver: chain walk and head, seals, audit, stats
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns the integrity methods (docs/integrity.md), as the SQLite
 *	driver has them: chain_walk(), chain_head(), seal(), audit(),
 *	audit_list() and stats(), and the walk over chain rows that
 *	expire_candidates() shares. Not on the delivery path: unnamed
 *	statements; a walk reads one snapshot (REPEATABLE READ) through a
 *	cursor, PG_CHAIN_BATCH rows and their recipients at a time, so that
 *	the client's memory does not grow with the chain.
 * DIAGNOSTICS
 *	Every database failure is TAB_RETRY with "pgsql NAME: WHAT: SERVER
 *	MESSAGE", after ROLLBACK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_schema.h"
#include "common/strlist.h"

static const char pg_catalog_chain_sql[] =
    "SELECT 0," PG_CHAIN_COLUMNS ", NULL::bigint, NULL::text"
    " FROM copies c LEFT JOIN messages m ON m.id = c.message"
    " UNION ALL"
    " SELECT 1, e.seq, e.prev_hash, e.hash, e.archive_id, e.message_archive_id, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, extract(epoch FROM e.retain_until)::bigint, 0, 0,"
    " extract(epoch FROM e.expired)::bigint, e.operator FROM expired e"
    " ORDER BY 2 NULLS LAST, 18";

/* seq and hash from column col on of the one row of res; 0 when res has
 * no row (seal unchanged). */
static int pg_catalog_seal_row(const PGresult *res, int col, struct chain_seal *seal)
{
    if (PQntuples(res) != 1)
        return 0;
    seal->seq = strtoll(PQgetvalue(res, 0, col), NULL, 10);
    snprintf(seal->hash, sizeof(seal->hash), "%s", PQgetvalue(res, 0, col + 1));
    return 1;
}

/* The chain head into head_r (its seq and hash; unchanged without a row). */
static enum tab_result pg_catalog_read_head(struct pg_catalog *pc, struct chain_seal *head_r,
                                            const char **error_r)
{
    PGresult *res;
    enum tab_result r = pg_catalog_run(
        pc, "chain head", "SELECT seq, hash FROM chain_head WHERE id = 1", 0, NULL, &res, error_r);

    if (r != TAB_OK)
        return r;
    (void)pg_catalog_seal_row(res, 0, head_r);
    PQclear(res);
    return TAB_OK;
}

/* Rows fetched at a time from a walk's cursor: all the client holds. */
#define PG_CHAIN_BATCH 1000
#define PG_CHAIN_BATCH_TEXT "1000"

/* The recipients of the copies of one batch, in the order pg_chain_fill()
 * looks them up in (recipients_copy index). */
static const char pg_catalog_batch_rcpts[] =
    "SELECT copy, address FROM recipients WHERE copy = ANY($1::bigint[])"
    " ORDER BY copy, address COLLATE \"C\"";

/* The copy ids (column 17) of the copy rows of rows, as an array
 * literal "{1,2,3}" (heap); NULL when there are none. */
static char *pg_catalog_batch_copies(const PGresult *rows)
{
    size_t size = (size_t)PQntuples(rows) * 22 + 3, len = 0;
    char *ids = xmalloc(size);

    ids[len++] = '{';
    for (int i = 0; i < PQntuples(rows); i++) {
        if (strcmp(PQgetvalue(rows, i, 0), "0") != 0 || PQgetisnull(rows, i, 17))
            continue;
        len += (size_t)snprintf(ids + len, size - len, "%s%lld", len > 1 ? "," : "",
                                strtoll(PQgetvalue(rows, i, 17), NULL, 10));
    }
    if (len == 1) {
        free(ids);
        return NULL;
    }
    snprintf(ids + len, size - len, "}");
    return ids;
}

/* One batch of chain rows (orphans: messages without a copy, their
 * archive id only) to fn with its copies' recipients; *stop_r when fn
 * asks to stop. */
static enum tab_result pg_catalog_chain_batch(struct pg_catalog *pc, const PGresult *rows,
                                              int orphans, const char *what_rcpts,
                                              catalog_chain_fn *fn, void *ctx, int *stop_r,
                                              const char **error_r)
{
    struct pg_chain_rcpts rcpts = {NULL, NULL, 0};
    char *ids = orphans ? NULL : pg_catalog_batch_copies(rows);

    if (ids != NULL) {
        const char *values[1] = {ids};
        PGresult *res;
        enum tab_result r =
            pg_catalog_run(pc, what_rcpts, pg_catalog_batch_rcpts, 1, values, &res, error_r);

        free(ids);
        if (r != TAB_OK)
            return r;
        pg_chain_rcpts_load(&rcpts, res);
    }
    for (int i = 0; !*stop_r && i < PQntuples(rows); i++) {
        struct chain_link link;

        if (orphans) {
            memset(&link, 0, sizeof(link));
            link.kind = CHAIN_MESSAGE_NO_COPY;
            snprintf(link.message_archive_id, sizeof(link.message_archive_id), "%s",
                     PQgetvalue(rows, i, 0));
            memcpy(link.archive_id, link.message_archive_id, sizeof(link.archive_id));
        } else {
            pg_chain_fill(rows, i, &rcpts, &link);
        }
        *stop_r = fn(&link, ctx);
        catalog_chain_link_free(&link);
    }
    pg_chain_rcpts_free(&rcpts);
    return TAB_OK;
}

/* The rows of sql (n text parameters) through a cursor, PG_CHAIN_BATCH
 * at a time, to pg_catalog_chain_batch(); inside the caller's
 * transaction, which the cursor lives in. */
static enum tab_result pg_catalog_chain_cursor(struct pg_catalog *pc, const char *what,
                                               const char *sql, int n, const char *const *values,
                                               int orphans, const char *what_rcpts,
                                               catalog_chain_fn *fn, void *ctx, int *stop_r,
                                               const char **error_r)
{
    char *declare = xasprintf("DECLARE tab_chain NO SCROLL CURSOR FOR %s", sql);
    enum tab_result r = pg_catalog_do(pc, what, declare, n, values, error_r);

    free(declare);
    while (r == TAB_OK && !*stop_r) {
        PGresult *rows;
        int got;

        r = pg_catalog_run(pc, what, "FETCH " PG_CHAIN_BATCH_TEXT " FROM tab_chain", 0, NULL, &rows,
                           error_r);
        if (r != TAB_OK)
            break;
        got = PQntuples(rows);
        r = pg_catalog_chain_batch(pc, rows, orphans, what_rcpts, fn, ctx, stop_r, error_r);
        PQclear(rows);
        if (got < PG_CHAIN_BATCH)
            break;
    }
    if (r == TAB_OK)
        r = pg_catalog_do(pc, what, "CLOSE tab_chain", 0, NULL, error_r);
    return r;
}

/*
 * In one snapshot: the chain head into head_r (unless NULL), then each
 * link of sql (a chain query with n text parameters) with its copy's
 * recipients, and with orphans each message that has no copy left, to
 * fn until it asks to stop. The rows come through a cursor a batch at a
 * time, so the client's memory does not grow with the chain; fn runs
 * inside the read-only transaction and must not use this catalog.
 */
enum tab_result pg_catalog_chain_links(struct pg_catalog *pc, const char *what, const char *sql,
                                       int n, const char *const *values, const char *what_rcpts,
                                       struct chain_seal *head_r, int orphans, catalog_chain_fn *fn,
                                       void *ctx, const char **error_r)
{
    enum tab_result r;
    int began, stop = 0;

    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        return r;
    if (head_r != NULL)
        r = pg_catalog_read_head(pc, head_r, error_r);
    if (r == TAB_OK)
        r = pg_catalog_chain_cursor(pc, what, sql, n, values, 0, what_rcpts, fn, ctx, &stop,
                                    error_r);
    if (r == TAB_OK && !stop && orphans)
        r = pg_catalog_chain_cursor(pc, what,
                                    "SELECT archive_id FROM messages m WHERE NOT EXISTS"
                                    " (SELECT 1 FROM copies c WHERE c.message = m.id) ORDER BY id",
                                    0, NULL, 1, what_rcpts, fn, ctx, &stop, error_r);
    if (began && r == TAB_OK)
        return pg_conn_commit(pc->conn, error_r);
    if (began)
        pg_conn_rollback(pc->conn);
    return r;
}

enum tab_result pg_catalog_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                      catalog_chain_fn *fn, void *ctx, const char **error_r)
{
    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    return pg_catalog_chain_links(pg_catalog_of(cat), "chain", pg_catalog_chain_sql, 0, NULL,
                                  "chain recipients", head_r, 1, fn, ctx, error_r);
}

enum tab_result pg_catalog_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                      const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);

    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    return pg_catalog_read_head(pc, head_r, error_r);
}

enum tab_result pg_catalog_seal(struct catalog *cat, struct chain_seal *seal_r,
                                const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    PGresult *res;
    enum tab_result r;

    memset(seal_r, 0, sizeof(*seal_r));
    r = pg_catalog_run(pc, "seal",
                       "INSERT INTO seals (sealed, seq, hash) SELECT now(), seq, hash"
                       " FROM chain_head WHERE id = 1"
                       " RETURNING extract(epoch FROM sealed)::bigint, seq, hash",
                       0, NULL, &res, error_r);
    if (r != TAB_OK)
        return r;
    if (pg_catalog_seal_row(res, 1, seal_r))
        seal_r->at = (time_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return TAB_OK;
}

enum tab_result pg_catalog_audit(struct catalog *cat, const char *user, const char *action,
                                 const char *detail, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[3] = {pg_catalog_text(&arena, user, 0), pg_catalog_text(&arena, action, 0),
                             pg_catalog_text(&arena, detail, 0)};
    enum tab_result r = pg_catalog_do(pc, "audit",
                                      "INSERT INTO audit (operator, action, detail)"
                                      " VALUES ($1, $2, $3)",
                                      3, values, error_r);

    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                      void *ctx, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_printf(&arena, "%lld", (long long)since)};
    PGresult *res;
    enum tab_result r;

    r = pg_catalog_run(pc, "audit list",
                       "SELECT id, extract(epoch FROM at)::bigint, operator, action, detail"
                       " FROM audit WHERE at >= to_timestamp($1::double precision) ORDER BY id",
                       1, values, &res, error_r);
    strlist_free(&arena);
    if (r != TAB_OK)
        return r;
    for (int i = 0; i < PQntuples(res); i++) {
        struct catalog_audit_row row = {
            strtoll(PQgetvalue(res, i, 0), NULL, 10),
            (time_t)strtoll(PQgetvalue(res, i, 1), NULL, 10),
            PQgetvalue(res, i, 2),
            PQgetvalue(res, i, 3),
            pg_catalog_value(res, i, 4),
        };
        if (fn(&row, ctx))
            break;
    }
    PQclear(res);
    return TAB_OK;
}

enum tab_result pg_catalog_stats(struct catalog *cat, struct catalog_stats *stats_r,
                                 catalog_stats_row_fn *fn, void *ctx, const char **error_r)
{
    /* messages is read once for its totals and once for the periods
     * (the months summed from the days), not once per figure: at a
     * million messages each scan is a second or more. */
    static const char totals[] =
        "SELECT m.n, m.bytes, (SELECT count(*) FROM copies),"
        " (SELECT COALESCE(sum(wrapped_size), 0) FROM copies), m.incomplete,"
        " (SELECT count(DISTINCT archive_id) FROM holds), (SELECT count(*) FROM expired),"
        " (SELECT count(*) FROM forwards WHERE status = 'deferred'),"
        " (SELECT count(*) FROM forwards WHERE status = 'sent'),"
        " (SELECT count(*) FROM forwards WHERE status = 'held'),"
        " (SELECT count(*) FROM forwards WHERE status = 'queued'),"
        " (SELECT count(*) FROM forwards WHERE status = 'deleted'), m.oldest, m.newest, m.degraded,"
        " (SELECT count(*) FROM attachment_text_pending)"
        " FROM (SELECT count(*) AS n, COALESCE(sum(size), 0) AS bytes,"
        " count(*) FILTER (WHERE envelope_status = 'incomplete') AS incomplete,"
        " COALESCE(extract(epoch FROM min(arrival))::bigint, 0) AS oldest,"
        " COALESCE(extract(epoch FROM max(arrival))::bigint, 0) AS newest,"
        " count(*) FILTER (WHERE index_status = 'degraded') AS degraded FROM messages) m";
    static const char periods[] =
        "WITH d AS (SELECT to_char(arrival AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS k, count(*) AS n,"
        " sum(size) AS bytes FROM messages GROUP BY 1)"
        " SELECT 'day', k, n, bytes FROM d"
        " UNION ALL SELECT 'month', substr(k, 1, 7), sum(n), sum(bytes) FROM d GROUP BY 2"
        " ORDER BY 1, 2";
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct catalog_stats *s = stats_r;
    PGresult *res = NULL;
    enum tab_result r;
    int began;
    int64_t *fields[] = {&s->messages,   &s->bytes,    &s->copies,     &s->wrapped_bytes,
                         &s->incomplete, &s->held,     &s->expired,    &s->fwd_deferred,
                         &s->fwd_sent,   &s->fwd_held, &s->fwd_queued, &s->fwd_deleted};

    memset(s, 0, sizeof(*s));
    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        return r;
    r = pg_catalog_run(pc, "stats", totals, 0, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        *fields[i] = strtoll(PQgetvalue(res, 0, (int)i), NULL, 10);
    s->oldest = (time_t)strtoll(PQgetvalue(res, 0, 12), NULL, 10);
    s->newest = (time_t)strtoll(PQgetvalue(res, 0, 13), NULL, 10);
    s->degraded = strtoll(PQgetvalue(res, 0, 14), NULL, 10);
    /* the attachments whose text the indexer has not read yet */
    s->text_pending = strtoll(PQgetvalue(res, 0, 15), NULL, 10);
    PQclear(res);
    res = NULL;
    if (fn != NULL) {
        int stop = 0;
        r = pg_catalog_run(pc, "stats", periods, 0, NULL, &res, error_r);
        if (r != TAB_OK)
            goto out;
        /* fn may stop a period early: "day" rows come first, then "month". */
        for (int i = 0; i < PQntuples(res); i++) {
            if (i > 0 && strcmp(PQgetvalue(res, i, 0), PQgetvalue(res, i - 1, 0)) != 0)
                stop = 0;
            if (!stop)
                stop = fn(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                          strtoll(PQgetvalue(res, i, 2), NULL, 10),
                          strtoll(PQgetvalue(res, i, 3), NULL, 10), ctx);
        }
        PQclear(res);
        res = NULL;
    }
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
    }
out:
    if (began)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    return r;
}
