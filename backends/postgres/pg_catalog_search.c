/*
 * NAME
 *	pg_catalog_search 3
 * SUMMARY
 *	PostgreSQL catalog driver: search and get
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns search() and get(), and reading a message's rows back into an
 *	archive record, in one snapshot. Full-text search uses the
 *	'simple' configuration (no stemming, any language) and
 *	websearch_to_tsquery(), which accepts any input.
 *
 *	Must never put user text into SQL: search() assembles its WHERE
 *	clause from constant fragments and numbers its parameters itself,
 *	and escapes LIKE metacharacters in user text.
 * DIAGNOSTICS
 *	TAB_RETRY with "pgsql NAME: WHAT: SERVER MESSAGE", after ROLLBACK;
 *	get() of an unknown archive id is TAB_PERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/postgres/pg_catalog_private.h"
#include "common/strlist.h"

/* Fill rec from message mid and copy copy_id ("" : the first copy). */
static enum tab_result pg_catalog_load(struct pg_catalog *pc, const char *mid, const char *copy_id,
                                       struct archive_record *rec, const char **error_r)
{
    const char *values[1] = {mid};
    const char *status;
    PGresult *res = NULL;
    enum tab_result r;

    memset(rec, 0, sizeof(*rec));
    r = pg_catalog_exec(pc, PC_MESSAGE_BY_ID, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) != 1) {
        /* Removed between search and load (tabularium expire). */
        r = pg_conn_fail(pc->conn, TAB_RETRY, error_r, "message row %s disappeared", mid);
        goto out;
    }
    pg_catalog_copy(res, 0, 0, rec->archive_id, sizeof(rec->archive_id));
    rec->queue_id = pg_catalog_dup(res, 0, 1);
    pg_catalog_copy(res, 0, 2, rec->sha256, sizeof(rec->sha256));
    rec->message_id = pg_catalog_dup(res, 0, 3);
    rec->envelope_from = pg_catalog_dup(res, 0, 4);
    status = PQgetvalue(res, 0, 5);
    rec->envelope_status =
        strcmp(status, ENVELOPE_COMPLETE) == 0 ? ENVELOPE_COMPLETE : ENVELOPE_INCOMPLETE;
    if (!PQgetisnull(res, 0, 6)) {
        char date[21];
        record_format_time((time_t)strtoll(PQgetvalue(res, 0, 6), NULL, 10), date);
        rec->date = xstrdup(date);
    }
    rec->date_raw = pg_catalog_dup(res, 0, 7);
    rec->subject = pg_catalog_dup(res, 0, 8);
    rec->subject_raw = pg_catalog_dup(res, 0, 9);
    rec->arrival = (time_t)strtoll(PQgetvalue(res, 0, 10), NULL, 10);
    rec->size = strtoull(PQgetvalue(res, 0, 11), NULL, 10);
    rec->mail_params = pg_catalog_dup(res, 0, 12);
    rec->xforward = pg_catalog_dup(res, 0, 13);
    rec->index_status =
        strcmp(PQgetvalue(res, 0, 14), INDEX_DEGRADED) == 0 ? INDEX_DEGRADED : INDEX_FULL;
    rec->index_note = pg_catalog_dup(res, 0, 15);
    if (rec->queue_id == NULL)
        rec->queue_id = xstrdup("");
    if (rec->envelope_from == NULL)
        rec->envelope_from = xstrdup("");
    PQclear(res);
    res = NULL;

    if (*copy_id != '\0') {
        const char *copy_values[1] = {copy_id};
        r = pg_catalog_exec(pc, PC_COPY_BY_ID, copy_values, &res, error_r);
    } else {
        r = pg_catalog_exec(pc, PC_FIRST_COPY, values, &res, error_r);
    }
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) > 0) {
        rec->store = pg_catalog_dup(res, 0, 0);
        rec->location = pg_catalog_dup(res, 0, 1);
        pg_catalog_copy(res, 0, 2, rec->wrapped_sha256, sizeof(rec->wrapped_sha256));
        rec->wrapped_size = strtoull(PQgetvalue(res, 0, 3), NULL, 10);
        if (!PQgetisnull(res, 0, 4))
            rec->retain_until = (time_t)strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    }
    PQclear(res);
    res = NULL;

    r = pg_catalog_exec(pc, PC_RCPTS, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++)
        record_add_rcpt(rec, PQgetvalue(res, i, 0), pg_catalog_value(res, i, 1),
                        pg_catalog_value(res, i, 2), pg_catalog_value(res, i, 3));
    PQclear(res);
    res = NULL;

    r = pg_catalog_exec(pc, PC_ADDRS, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++) {
        struct record_addrs *a = record_addrs_field(rec, PQgetvalue(res, i, 0));
        if (a != NULL) /* the CHECK constraint allows no other field */
            record_addrs_add(a, pg_catalog_value(res, i, 1), pg_catalog_value(res, i, 2));
    }
    PQclear(res);
    res = NULL;

    r = pg_catalog_exec(pc, PC_ATTACHMENTS, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++)
        record_add_attachment(rec, pg_catalog_value(res, i, 0), pg_catalog_value(res, i, 1));

out:
    PQclear(res);
    if (r != TAB_OK)
        record_free(rec);
    return r;
}

/* Append fragment to sql with every "$@" replaced by "$n". */
static void pg_catalog_append(char **sql, const char *fragment, int n)
{
    size_t len = strlen(*sql) + strlen(fragment) * 4 + 1;
    char *out = xmalloc(len), *w;
    const char *p;

    w = out + strlen(*sql);
    memcpy(out, *sql, strlen(*sql));
    for (p = fragment; *p != '\0'; p++) {
        if (p[0] == '$' && p[1] == '@') {
            w += snprintf(w, len - (size_t)(w - out), "$%d", n);
            p++;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    free(*sql);
    *sql = out;
}

/* The WHERE clause fragments; "$@" is the fragment's parameter. */
static const char pg_catalog_search_from[] =
    " AND (m.envelope_from ILIKE $@ ESCAPE '\\'"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from'"
    " AND (h.address ILIKE $@ ESCAPE '\\' OR h.name ILIKE $@ ESCAPE '\\')))";
static const char pg_catalog_search_to[] =
    " AND (EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    " AND r.address ILIKE $@ ESCAPE '\\')"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    " AND h.field IN ('to', 'cc')"
    " AND (h.address ILIKE $@ ESCAPE '\\' OR h.name ILIKE $@ ESCAPE '\\')))";
static const char pg_catalog_search_subject[] = " AND m.subject ILIKE $@ ESCAPE '\\'";
static const char pg_catalog_search_message_id[] =
    " AND md5(m.message_id) = md5($@) AND m.message_id = $@";
static const char pg_catalog_search_degraded[] = " AND m.index_status = 'degraded'";
static const char pg_catalog_search_since[] =
    " AND COALESCE(m.date, m.arrival) >= to_timestamp($@::double precision)";
static const char pg_catalog_search_until[] =
    " AND COALESCE(m.date, m.arrival) < to_timestamp($@::double precision)";
static const char pg_catalog_search_text[] =
    " AND m.fts @@ websearch_to_tsquery('tabularium'::regconfig, translate($@, '<>', '  '))";
static const char pg_catalog_search_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id"
    " AND a.filename ILIKE $@ ESCAPE '\\')";
static const char pg_catalog_search_has_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id)";
static const char pg_catalog_search_limit[] = " LIMIT $@::bigint";

/* Add a condition with one parameter (value already in arena). */
static void pg_catalog_where(char **sql, const char *fragment, const char **values, int *n,
                             const char *value)
{
    values[*n] = value;
    (*n)++;
    pg_catalog_append(sql, fragment, *n);
}

static const char *pg_catalog_like(struct strlist *arena, const char *s)
{
    char *like = catalog_like_substring(s);
    const char *clean = pg_catalog_text(arena, like, 0);

    free(like);
    return clean;
}

enum tab_result pg_catalog_search(struct catalog *cat, const struct search_query *q,
                                  catalog_row_fn *fn, void *ctx, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT, ids = STRLIST_INIT;
    const char *values[16];
    struct pg_stmt st = {NULL, "search", NULL, 0, 0};
    char *sql = xstrdup("SELECT m.id FROM messages m WHERE true");
    PGresult *res = NULL;
    enum tab_result r;
    int n = 0, began;

    if (q->from)
        pg_catalog_where(&sql, pg_catalog_search_from, values, &n,
                         pg_catalog_like(&arena, q->from));
    if (q->to)
        pg_catalog_where(&sql, pg_catalog_search_to, values, &n, pg_catalog_like(&arena, q->to));
    if (q->subject)
        pg_catalog_where(&sql, pg_catalog_search_subject, values, &n,
                         pg_catalog_like(&arena, q->subject));
    if (q->message_id) {
        char *bare = catalog_message_id_bare(q->message_id);
        pg_catalog_where(&sql, pg_catalog_search_message_id, values, &n,
                         pg_catalog_text(&arena, bare, 0));
        free(bare);
    }
    if (q->since)
        pg_catalog_where(&sql, pg_catalog_search_since, values, &n,
                         pg_catalog_printf(&arena, "%lld", (long long)q->since));
    if (q->until)
        pg_catalog_where(&sql, pg_catalog_search_until, values, &n,
                         pg_catalog_printf(&arena, "%lld", (long long)q->until));
    if (q->text)
        pg_catalog_where(&sql, pg_catalog_search_text, values, &n,
                         pg_catalog_text(&arena, q->text, 0));
    if (q->attachment)
        pg_catalog_where(&sql, pg_catalog_search_attachment, values, &n,
                         pg_catalog_like(&arena, q->attachment));
    if (q->has_attachment)
        pg_catalog_append(&sql, pg_catalog_search_has_attachment, 0);
    if (q->degraded)
        pg_catalog_append(&sql, pg_catalog_search_degraded, 0);
    pg_catalog_append(&sql, " ORDER BY COALESCE(m.date, m.arrival) DESC, m.id DESC", 0);
    if (q->limit > 0)
        pg_catalog_where(&sql, pg_catalog_search_limit, values, &n,
                         pg_catalog_printf(&arena, "%ld", q->limit));
    st.sql = sql;
    st.nparams = n;

    /* One snapshot for the search and the rows it loads. */
    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_conn_exec(pc->conn, &st, values, NULL, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++)
        strlist_add(&ids, PQgetvalue(res, i, 0));
    PQclear(res);
    res = NULL;
    for (size_t i = 0; i < ids.n; i++) {
        struct archive_record rec;
        int stop;

        r = pg_catalog_load(pc, ids.v[i], "", &rec, error_r);
        if (r != TAB_OK)
            goto out;
        stop = fn(&rec, ctx);
        record_free(&rec);
        if (stop)
            break;
    }
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
    }
out:
    if (r != TAB_OK && began)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    free(sql);
    strlist_free(&ids);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_get(struct catalog *cat, const char *archive_id,
                               struct archive_record *rec_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    struct pg_found found;
    enum tab_result r;

    memset(rec_r, 0, sizeof(*rec_r));
    r = pg_catalog_find(pc, archive_id, PG_FIND_READ, NULL, &arena, &found, error_r);
    if (r == TAB_OK)
        r = pg_catalog_load(pc, found.message, found.copy, rec_r, error_r);
    strlist_free(&arena);
    return r;
}
