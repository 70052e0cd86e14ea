/*
 * NAME
 *	pg_attach_text 3
 * SUMMARY
 *	PostgreSQL catalog driver: the text inside attachments (index_pending)
 * SYNOPSIS
 *	#include "backends/postgres/pg_attach_text.h"
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns the queue of messages whose attachments' text is not indexed
 *	yet (attachment_text_pending, schema version 9) and index_pending(),
 *	which the daemon's indexer (indexer/indexer.c) calls to work it off.
 *
 *	add() and reindex() queue a message, in their transaction, when one
 *	of its attachments may hold text (attach_text_candidate(), common/attach_kind.h); mail
 *	without such an attachment costs nothing more. The delivery has
 *	indexed the subject and body text already: until the indexer has
 *	run, a search finds the message by those, not by what its
 *	attachments say.
 *
 *	index_pending() takes the oldest queued messages, reads each one's
 *	first stored copy through the text source (set_text_source(): the
 *	body text with the attachments' text appended, each attachment read
 *	in a bounded child process as mail_owner) outside any transaction,
 *	then in one short transaction deletes each queue row and, only if
 *	that deleted it, writes the message's fts again from its subject and
 *	that text (pg_fts.h: the same folding, body and attachments at
 *	weight B, which --text matches and --subject does not). The whole
 *	vector is written rather than appended to (fts || ...): the body
 *	text is not kept in the catalog, the text source hands body and
 *	attachments together, and a vector built whole stays under
 *	PostgreSQL's tsvector limit (PG_FTS_VECTOR_MAX), where a
 *	concatenation could exceed it and fail for ever. It is what
 *	tabularium index rebuild writes for the message, too. A crash leaves
 *	rows queued, never indexed twice or lost; a second indexer that read
 *	the same rows finds them deleted and writes nothing.
 * DIAGNOSTICS
 *	TAB_RETRY with "pgsql NAME: index attachment text: ..." on a server
 *	failure (rolled back: the rows stay queued) or when the first queued
 *	copy cannot be read now (no text source, the store is down). A copy
 *	that is gone for good (expired, in another store, its text killed a
 *	parser before) is logged and its row dropped: the message keeps the
 *	words of its delivery.
 */
#include "backends/postgres/pg_attach_text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/fts.h"
#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_fts.h"
#include "common/attach_kind.h"
#include "common/log.h"
#include "common/strlist.h"

/* Messages per index_pending() call, whatever the caller asks: reading
 * one may take half of index_time_limit, and the daemon's stop waits for
 * the batch. And the text read per call. */
#define PG_ATTACH_BATCH_ROWS 16
#define PG_ATTACH_BATCH_BYTES (8 * 1024 * 1024)

int pg_attach_text_wanted(const struct archive_record *rec)
{
    for (size_t i = 0; i < rec->n_attachments; i++)
        if (attach_text_candidate(rec->attachments[i].content_type, rec->attachments[i].filename))
            return 1;
    return 0;
}

enum tab_result pg_attach_text_queue(struct pg_catalog *pc, const char *mid,
                                     const struct archive_record *rec, int replace,
                                     const char **error_r)
{
    const char *values[1] = {mid};

    if (pg_attach_text_wanted(rec) && !record_is_degraded(rec))
        return pg_catalog_do(pc, "queue attachment text",
                             "INSERT INTO attachment_text_pending (message) VALUES ($1::bigint)"
                             " ON CONFLICT DO NOTHING",
                             1, values, error_r);
    if (!replace)
        return TAB_OK;
    return pg_catalog_do(pc, "queue attachment text",
                         "DELETE FROM attachment_text_pending WHERE message = $1::bigint", 1,
                         values, error_r);
}

/* One queued message of a batch. */
struct pg_attach_row {
    char *mid;
    char *text; /* body and attachments; NULL: drop the row, keep the words */
};

static void pg_attach_rows_free(struct pg_attach_row *rows, int n)
{
    for (int i = 0; i < n; i++) {
        free(rows[i].mid);
        free(rows[i].text);
    }
}

/* Read up to max_rows queued messages and their text, outside any
 * transaction; stops before a copy that cannot be read now (*why_r). */
static enum tab_result pg_attach_read(struct pg_catalog *pc, int max_rows,
                                      struct pg_attach_row *rows, int *n_r, const char **why_r,
                                      const char **error_r)
{
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_printf(&arena, "%d", max_rows)};
    PGresult *res = NULL;
    size_t bytes = 0;
    enum tab_result r;

    *n_r = 0;
    r = pg_catalog_run(pc, "index attachment text: read the queue",
                       "SELECT p.message, m.archive_id, c.store, c.location"
                       " FROM attachment_text_pending p JOIN messages m ON m.id = p.message"
                       " LEFT JOIN LATERAL (SELECT store, location FROM copies"
                       " WHERE message = p.message ORDER BY id LIMIT 1) c ON true"
                       " ORDER BY p.message LIMIT $1::integer",
                       1, values, &res, error_r);
    strlist_free(&arena);
    if (r != TAB_OK)
        return r;
    for (int i = 0; i < PQntuples(res) && bytes < PG_ATTACH_BATCH_BYTES; i++) {
        const char *store = pg_catalog_value(res, i, 2), *location = pg_catalog_value(res, i, 3);
        struct archive_record text;
        const char *err = NULL;
        enum tab_result tr;

        if (pc->text_fn == NULL) {
            *why_r = "no text source to read the stored copies";
            break;
        }
        memset(&text, 0, sizeof(text));
        snprintf(text.archive_id, sizeof(text.archive_id), "%s", PQgetvalue(res, i, 1));
        tr = store == NULL ? TAB_PERM : pc->text_fn(pc->text_ctx, store, location, &text, &err);
        if (tr == TAB_RETRY) {
            *why_r = err;
            record_free(&text);
            break;
        }
        rows[*n_r].mid = xstrdup(PQgetvalue(res, i, 0));
        rows[*n_r].text = NULL;
        if (tr == TAB_PERM)
            log_warn("pgsql: %s: the text inside its attachments is not indexed: %s",
                     PQgetvalue(res, i, 1), err != NULL ? err : "it has no stored copy");
        else {
            rows[*n_r].text = text.body_text != NULL ? text.body_text : xstrdup("");
            text.body_text = NULL;
            bytes += strlen(rows[*n_r].text);
        }
        record_free(&text);
        (*n_r)++;
    }
    PQclear(res);
    return TAB_OK;
}

/* Inside the transaction: take row off the queue and, if that took it,
 * write its message's words (unless it is degraded meanwhile: then it
 * has none to add to). *done_r: 1 when the row was still queued. */
static enum tab_result pg_attach_index_one(struct pg_catalog *pc, const struct pg_attach_row *row,
                                           int *done_r, const char **error_r)
{
    const char *values[2] = {row->mid, NULL};
    struct archive_record rec;
    struct fts_doc doc;
    PGresult *res = NULL;
    enum tab_result r;
    char *fts;

    *done_r = 0;
    r = pg_catalog_run(pc, "index attachment text: take it off the queue",
                       "DELETE FROM attachment_text_pending WHERE message = $1::bigint", 1, values,
                       &res, error_r);
    if (r == TAB_OK && strcmp(PQcmdTuples(res), "1") != 0) {
        PQclear(res); /* indexed by another process meanwhile */
        return TAB_OK;
    }
    PQclear(res);
    res = NULL;
    if (r != TAB_OK)
        return r;
    *done_r = 1;
    if (row->text == NULL)
        return TAB_OK;
    /* the subject as it is now: a reindex meanwhile waits or went first */
    r = pg_catalog_run(pc, "index attachment text: read the subject",
                       "SELECT subject FROM messages WHERE id = $1::bigint"
                       " AND index_status <> 'degraded' FOR UPDATE",
                       1, values, &res, error_r);
    if (r != TAB_OK || PQntuples(res) == 0) {
        PQclear(res);
        return r;
    }
    memset(&rec, 0, sizeof(rec));
    rec.subject = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    rec.body_text = row->text;
    fts_doc_build(&doc, &rec);
    fts = pg_fts_text_vector(&doc);
    fts_doc_free(&doc);
    PQclear(res);
    values[1] = fts;
    r = pg_catalog_do(pc, "index attachment text: write the words",
                      "UPDATE messages SET fts = $2::tsvector WHERE id = $1::bigint", 2, values,
                      error_r);
    free(fts);
    return r;
}

enum tab_result pg_catalog_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                         int64_t *left_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct pg_attach_row rows[PG_ATTACH_BATCH_ROWS];
    const char *why = NULL;
    PGresult *res = NULL;
    int n = 0, done = 0;
    enum tab_result r = TAB_OK;

    *done_r = 0;
    if (left_r != NULL)
        *left_r = 0;
    if (max_rows > PG_ATTACH_BATCH_ROWS)
        max_rows = PG_ATTACH_BATCH_ROWS;
    if (max_rows > 0)
        r = pg_attach_read(pc, max_rows, rows, &n, &why, error_r);
    if (r == TAB_OK && n > 0) {
        r = pg_conn_begin(pc->conn, error_r);
        for (int i = 0; i < n && r == TAB_OK; i++) {
            int one;
            r = pg_attach_index_one(pc, &rows[i], &one, error_r);
            done += one;
        }
        r = pg_conn_end(pc->conn, r, error_r);
    }
    pg_attach_rows_free(rows, n);
    if (r != TAB_OK)
        return r;
    *done_r = done;
    if (n == 0 && why != NULL)
        return pg_conn_fail(pc->conn, TAB_RETRY, error_r, "index attachment text: %s", why);
    if (left_r != NULL) {
        r = pg_catalog_run(pc, "index attachment text: count",
                           "SELECT count(*) FROM attachment_text_pending", 0, NULL, &res, error_r);
        if (r == TAB_OK)
            *left_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return r;
}
