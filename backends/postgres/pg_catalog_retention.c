/*
 * NAME
 *	pg_catalog_retention 3
 * SUMMARY
 *	PostgreSQL catalog driver: legal holds and expiry
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns hold(), hold_list(), expire_candidates() and expire_remove().
 *	A message may go when every copy is past its retain-until and no
 *	case holds it. A hold takes FOR SHARE and expire_remove() FOR
 *	UPDATE on the message row, so the two never overlap on one message;
 *	expire_remove() re-checks retention and holds under that lock and
 *	records each removed link in the expired table.
 * DIAGNOSTICS
 *	hold() of an unknown archive id is TAB_PERM, as is expire_remove()
 *	of a message that is held, unknown or not past its retention. Every
 *	database failure is TAB_RETRY, after ROLLBACK.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_schema.h"
#include "common/strlist.h"

enum tab_result pg_catalog_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                                int on, const char *user, int *changed_r, int *holds_r,
                                struct strlist *locations_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *message, *mid;
    struct pg_found found;
    PGresult *res = NULL;
    enum tab_result r;

    *changed_r = *holds_r = 0;
    r = pg_conn_begin(pc->conn, error_r);
    /* FOR SHARE conflicts with expire's FOR UPDATE: a hold and an expiry
     * of one message never overlap. */
    if (r == TAB_OK)
        r = pg_catalog_find(pc, archive_id, PG_FIND_SHARE, NULL, &arena, &found, error_r);
    if (r != TAB_OK)
        goto out;
    mid = found.message;
    message = found.archive_id;
    {
        const char *hv[3] = {message, pg_catalog_text(&arena, case_name, 0),
                             pg_catalog_text(&arena, user, 0)};
        r = pg_catalog_run(pc, "hold",
                           on ? "INSERT INTO holds (archive_id, case_name, operator)"
                                " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
                              : "DELETE FROM holds WHERE archive_id = $1 AND case_name = $2",
                           on ? 3 : 2, hv, &res, error_r);
        if (r != TAB_OK)
            goto out;
        *changed_r = strcmp(PQcmdTuples(res), "0") != 0;
        PQclear(res);
        res = NULL;
    }
    {
        const char *lv[2] = {message, mid};
        r = pg_catalog_run(pc, "hold",
                           "SELECT (SELECT count(*) FROM holds WHERE archive_id = $1), location"
                           " FROM copies WHERE message = $2::bigint ORDER BY id",
                           2, lv, &res, error_r);
        if (r != TAB_OK)
            goto out;
        for (int i = 0; i < PQntuples(res); i++) {
            *holds_r = atoi(PQgetvalue(res, i, 0));
            if (locations_r != NULL)
                strlist_add(locations_r, PQgetvalue(res, i, 1));
        }
        PQclear(res);
        res = NULL;
    }
out:
    r = pg_conn_end(pc->conn, r, error_r);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_hold_list(struct catalog *cat, const char *case_name,
                                     catalog_hold_fn *fn, void *ctx, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {case_name != NULL ? pg_catalog_text(&arena, case_name, 0) : NULL};
    PGresult *res;
    enum tab_result r;

    r = pg_catalog_run(pc, "hold list",
                       "SELECT case_name, archive_id, operator, extract(epoch FROM added)::bigint"
                       " FROM holds WHERE $1::text IS NULL OR case_name = $1"
                       " ORDER BY case_name, archive_id",
                       1, values, &res, error_r);
    strlist_free(&arena);
    if (r != TAB_OK)
        return r;
    for (int i = 0; i < PQntuples(res); i++) {
        struct catalog_hold_row row = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                                       PQgetvalue(res, i, 2),
                                       (time_t)strtoll(PQgetvalue(res, i, 3), NULL, 10)};
        if (fn(&row, ctx))
            break;
    }
    PQclear(res);
    return TAB_OK;
}

#define PG_EXPIRABLE CATALOG_EXPIRABLE("to_timestamp($1::double precision)")

enum tab_result pg_catalog_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                             void *ctx, const char **error_r)
{
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_printf(&arena, "%lld", (long long)now)};
    enum tab_result r =
        pg_catalog_chain_links(pg_catalog_of(cat), "expire candidates",
                               "SELECT 0," PG_CHAIN_COLUMNS ", NULL::bigint, NULL::text"
                               " FROM copies c JOIN messages m ON m.id = c.message"
                               " WHERE" PG_EXPIRABLE " ORDER BY m.id, c.id",
                               1, values, "expire candidates", NULL, 0, fn, ctx, error_r);

    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                         const char *user, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[3] = {pg_catalog_printf(&arena, "%lld", (long long)now),
                             pg_catalog_text(&arena, archive_id, 0),
                             pg_catalog_text(&arena, user, 0)};
    PGresult *res = NULL;
    const char *mid;
    enum tab_result r;

    r = pg_conn_begin(pc->conn, error_r);
    if (r != TAB_OK)
        goto out;
    /* FOR UPDATE: a hold added meanwhile waits for this transaction. */
    r = pg_catalog_run(
        pc, "expire",
        "SELECT m.id FROM messages m WHERE m.archive_id = $2"
        " AND EXISTS (SELECT 1 FROM copies c WHERE c.message = m.id) AND" PG_EXPIRABLE
        " FOR UPDATE",
        2, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) == 0) {
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r,
                         "expire %s: not found, held, or not past its retention", archive_id);
        goto out;
    }
    mid = pg_catalog_printf(&arena, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    {
        const char *ev[3] = {mid, values[0], values[2]};
        r = pg_catalog_do(pc, "expire",
                          "INSERT INTO expired (seq, archive_id, message_archive_id, prev_hash,"
                          " hash, retain_until, expired, operator)"
                          " SELECT c.seq, c.archive_id, m.archive_id, c.prev_hash, c.hash,"
                          " c.retain_until, to_timestamp($2::double precision), $3"
                          " FROM copies c JOIN messages m ON m.id = c.message"
                          " WHERE c.message = $1::bigint AND c.seq IS NOT NULL",
                          3, ev, error_r);
        if (r != TAB_OK)
            goto out;
    }
    {
        const char *dv[1] = {mid};
        /* copies, recipients, header_addresses, attachments cascade. */
        r = pg_catalog_do(pc, "expire", "DELETE FROM messages WHERE id = $1::bigint", 1, dv,
                          error_r);
        if (r != TAB_OK)
            goto out;
    }
out:
    r = pg_conn_end(pc->conn, r, error_r);
    PQclear(res);
    strlist_free(&arena);
    return r;
}
