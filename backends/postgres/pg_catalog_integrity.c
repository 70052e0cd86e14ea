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
 *	statements; a walk reads one snapshot (REPEATABLE READ).
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

/* Call fn for every link of rows (with rcpts); stops when fn says so. */
static int pg_catalog_chain_rows(PGresult *rows, const struct pg_chain_rcpts *rcpts,
                                 catalog_chain_fn *fn, void *ctx)
{
    for (int i = 0; i < PQntuples(rows); i++) {
        struct chain_link link;
        int stop;

        pg_chain_fill(rows, i, rcpts, &link);
        stop = fn(&link, ctx);
        catalog_chain_link_free(&link);
        if (stop)
            return 1;
    }
    return 0;
}

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

/*
 * In one snapshot: the chain head into head_r (unless NULL), the links of
 * sql (a chain query with n text parameters) with every copy's
 * recipients, and with orphans the messages that have no copy left; then,
 * after the snapshot ends, each of them to fn until it asks to stop.
 */
enum tab_result pg_catalog_chain_links(struct pg_catalog *pc, const char *what, const char *sql,
                                       int n, const char *const *values, const char *what_rcpts,
                                       struct chain_seal *head_r, int orphans, catalog_chain_fn *fn,
                                       void *ctx, const char **error_r)
{
    struct pg_chain_rcpts rcpts = {NULL, NULL, 0};
    PGresult *rows = NULL, *res = NULL;
    enum tab_result r;
    int began, stop;

    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        return r;
    if (head_r != NULL) {
        r = pg_catalog_read_head(pc, head_r, error_r);
        if (r != TAB_OK)
            goto out;
    }
    r = pg_catalog_run(pc, what, sql, n, values, &rows, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, what_rcpts, PG_CHAIN_RCPTS, 0, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    pg_chain_rcpts_load(&rcpts, res);
    res = NULL;
    if (orphans) {
        r = pg_catalog_run(pc, what,
                           "SELECT archive_id FROM messages m WHERE NOT EXISTS"
                           " (SELECT 1 FROM copies c WHERE c.message = m.id) ORDER BY id",
                           0, NULL, &res, error_r);
        if (r != TAB_OK)
            goto out;
    }
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
        if (r != TAB_OK)
            goto out;
    }
    stop = pg_catalog_chain_rows(rows, &rcpts, fn, ctx);
    for (int i = 0; !stop && res != NULL && i < PQntuples(res); i++) {
        struct chain_link link;
        memset(&link, 0, sizeof(link));
        link.kind = CHAIN_MESSAGE_NO_COPY;
        snprintf(link.message_archive_id, sizeof(link.message_archive_id), "%s",
                 PQgetvalue(res, i, 0));
        memcpy(link.archive_id, link.message_archive_id, sizeof(link.archive_id));
        stop = fn(&link, ctx);
    }
out:
    if (began)
        pg_conn_rollback(pc->conn);
    pg_chain_rcpts_free(&rcpts);
    PQclear(rows);
    PQclear(res);
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
    static const char totals[] =
        "SELECT (SELECT count(*) FROM messages), (SELECT COALESCE(sum(size), 0) FROM messages),"
        " (SELECT count(*) FROM copies), (SELECT COALESCE(sum(wrapped_size), 0) FROM copies),"
        " (SELECT count(*) FROM messages WHERE envelope_status = 'incomplete'),"
        " (SELECT count(DISTINCT archive_id) FROM holds), (SELECT count(*) FROM expired),"
        " (SELECT count(*) FROM forwards WHERE status = 'deferred'),"
        " (SELECT count(*) FROM forwards WHERE status = 'sent'),"
        " (SELECT count(*) FROM forwards WHERE status = 'held'),"
        " (SELECT count(*) FROM forwards WHERE status = 'queued'),"
        " (SELECT count(*) FROM forwards WHERE status = 'deleted'),"
        " (SELECT COALESCE(extract(epoch FROM min(arrival))::bigint, 0) FROM messages),"
        " (SELECT COALESCE(extract(epoch FROM max(arrival))::bigint, 0) FROM messages),"
        " (SELECT count(*) FROM messages WHERE index_status = 'degraded')";
    static const struct {
        const char *period;
        const char *sql;
    } periods[] = {
        {"day", "SELECT to_char(arrival AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*), sum(size)"
                " FROM messages GROUP BY 1 ORDER BY 1"},
        {"month", "SELECT to_char(arrival AT TIME ZONE 'UTC', 'YYYY-MM'), count(*), sum(size)"
                  " FROM messages GROUP BY 1 ORDER BY 1"},
    };
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
    PQclear(res);
    res = NULL;
    for (size_t p = 0; fn != NULL && p < sizeof(periods) / sizeof(periods[0]); p++) {
        int stop = 0;
        r = pg_catalog_run(pc, "stats", periods[p].sql, 0, NULL, &res, error_r);
        if (r != TAB_OK)
            goto out;
        for (int i = 0; !stop && i < PQntuples(res); i++)
            stop = fn(periods[p].period, PQgetvalue(res, i, 0),
                      strtoll(PQgetvalue(res, i, 1), NULL, 10),
                      strtoll(PQgetvalue(res, i, 2), NULL, 10), ctx);
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
