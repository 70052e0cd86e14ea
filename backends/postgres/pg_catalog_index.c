/*
 * NAME
 *	pg_catalog_index 3
 * SUMMARY
 *	PostgreSQL catalog driver: index check and index rebuild (tabularium index)
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	The words of a message are its row's fts and addr_fts (pg_fts.h),
 *	written at delivery; the text inside its attachments is added to fts
 *	by the indexer (pg_attach_text.c) while the message waits in
 *	attachment_text_pending. index_check() counts the messages whose
 *	vectors are missing (unindexed: a text search misses them) and
 *	those that wait for their attachments' text (pending: the indexer's
 *	backlog, not damage), and probes each indexed message with a
 *	subject: the first words of its subject, as a phrase of weight A,
 *	must match its fts (damaged otherwise). It compares nothing else:
 *	there is no stale entry on PostgreSQL.
 *
 *	index_rebuild() recomputes both vectors of each message from its
 *	rows and the body text of its first stored copy with the text inside
 *	its attachments (read through the text source, set_text_source(),
 *	outside any transaction; the messages leave the attachment text
 *	queue in the same transaction), in
 *	batches by id, each committed with the state: a one-row work table
 *	index_rebuild, created when a rebuild starts and dropped when it
 *	ends, so that a rebuild run from any host resumes after its last
 *	committed batch. Searches see each message's old or new words,
 *	never none. A message delivered during the rebuild has its words
 *	from its delivery.
 * DIAGNOSTICS
 *	TAB_RETRY on a server failure (the batch rolled back) or when the
 *	text source cannot read a copy now; TAB_PERM without a text source.
 *	Creating the work table needs the CREATE privilege on the schema.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/fts.h"
#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_fts.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/strlist.h"

/* Subject words a probe looks for; messages per probe round trip. */
#define PG_PROBE_WORDS 12
#define PG_PROBE_BATCH 500

/* The messages a rebuild covers: $1 its since (0: all). */
#define PG_REBUILD_SINCE " AND ($1::bigint = 0 OR m.arrival >= to_timestamp($1::bigint))"

void pg_catalog_set_text_source(struct catalog *cat, catalog_text_fn *fn, void *ctx)
{
    struct pg_catalog *pc = pg_catalog_of(cat);

    pc->text_fn = fn;
    pc->text_ctx = ctx;
}

/* One number of a one-row result, as int64. */
static int64_t pg_index_int(const PGresult *res, int row, int col)
{
    const char *v = pg_catalog_value(res, row, col);
    return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* The rebuild state: 1 (rb's fields, *next_r), 0 none. */
static enum tab_result pg_rebuild_state(struct pg_catalog *pc, struct catalog_index_rebuild *rb,
                                        int64_t *next_r, int *found_r, const char **error_r)
{
    PGresult *res = NULL;
    enum tab_result r;

    *found_r = 0;
    r = pg_catalog_run(pc, "index rebuild: find its state",
                       "SELECT to_regclass('index_rebuild') IS NOT NULL", 0, NULL, &res, error_r);
    if (r != TAB_OK)
        return r;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        return TAB_OK;
    }
    PQclear(res);
    r = pg_catalog_run(pc, "index rebuild: read its state",
                       "SELECT since, next, done, total, missing FROM index_rebuild", 0, NULL, &res,
                       error_r);
    if (r == TAB_OK && PQntuples(res) == 1) {
        *found_r = 1;
        rb->since = (time_t)pg_index_int(res, 0, 0);
        *next_r = pg_index_int(res, 0, 1);
        rb->done = pg_index_int(res, 0, 2);
        rb->total = pg_index_int(res, 0, 3);
        rb->missing = pg_index_int(res, 0, 4);
    }
    PQclear(res);
    return r;
}

static enum tab_result pg_rebuild_start(struct pg_catalog *pc, struct catalog_index_rebuild *rb,
                                        const char **error_r)
{
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_printf(&arena, "%lld", (long long)rb->since)};
    enum tab_result r = pg_conn_begin(pc->conn, error_r);

    if (r == TAB_OK)
        r = pg_catalog_do(pc, "index rebuild: create its state",
                          "CREATE TABLE IF NOT EXISTS index_rebuild ("
                          " id integer PRIMARY KEY CHECK (id = 1),"
                          " since bigint NOT NULL,"
                          " started timestamptz NOT NULL DEFAULT now(),"
                          " next bigint NOT NULL,"
                          " done bigint NOT NULL,"
                          " total bigint NOT NULL,"
                          " missing bigint NOT NULL)",
                          0, NULL, error_r);
    if (r == TAB_OK)
        r = pg_catalog_do(pc, "index rebuild: start", "DELETE FROM index_rebuild", 0, NULL,
                          error_r);
    if (r == TAB_OK)
        r = pg_catalog_do(pc, "index rebuild: start",
                          "INSERT INTO index_rebuild (id, since, next, done, total, missing)"
                          " SELECT 1, $1::bigint, 0, 0, count(*), 0 FROM messages m"
                          " WHERE true" PG_REBUILD_SINCE,
                          1, values, error_r);
    r = pg_conn_end(pc->conn, r, error_r);
    strlist_free(&arena);
    if (r == TAB_OK) { /* since, total as committed */
        int64_t next;
        int found;
        r = pg_rebuild_state(pc, rb, &next, &found, error_r);
    }
    rb->done = rb->missing = 0;
    return r;
}

/* One message of a batch: its id, and its body text from the store. */
struct pg_rebuild_row {
    char *mid;
    char *body; /* NULL: none (degraded, or its copy cannot be read) */
};

/* The next batch: up to max_rows messages after id next (archived since
 * since), each with its first copy's store and location. */
static enum tab_result pg_rebuild_batch(struct pg_catalog *pc, struct strlist *arena, int64_t since,
                                        int64_t next, int max_rows, PGresult **res_r,
                                        const char **error_r)
{
    const char *values[3] = {pg_catalog_printf(arena, "%lld", (long long)since),
                             pg_catalog_printf(arena, "%lld", (long long)next),
                             pg_catalog_printf(arena, "%d", max_rows)};

    return pg_catalog_run(pc, "index rebuild: read the messages",
                          "SELECT m.id, m.index_status = 'degraded', c.store, c.location"
                          " FROM messages m LEFT JOIN LATERAL (SELECT store, location FROM copies"
                          " WHERE message = m.id ORDER BY id LIMIT 1) c ON true"
                          " WHERE m.id > $2::bigint" PG_REBUILD_SINCE
                          " ORDER BY m.id LIMIT $3::integer",
                          3, values, res_r, error_r);
}

enum tab_result pg_catalog_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                         int max_rows, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct catalog_index_rebuild was;
    struct strlist arena = STRLIST_INIT;
    struct pg_rebuild_row *rows = NULL;
    PGresult *res = NULL;
    const char *why = NULL;
    int64_t next = 0, missing = 0;
    int found = 0, n = 0, left = 1;
    enum tab_result r;

    if (pc->text_fn == NULL)
        return pg_conn_fail(pc->conn, TAB_PERM, error_r,
                            "index rebuild: no text source to read the stored copies");
    if (max_rows < 1)
        max_rows = 1;
    memset(&was, 0, sizeof(was));
    if ((r = pg_rebuild_state(pc, &was, &next, &found, error_r)) != TAB_OK)
        return r;
    if (!found || was.since != rb->since) {
        rb->restarted = found;
        if ((r = pg_rebuild_start(pc, rb, error_r)) != TAB_OK)
            return r;
        next = 0;
    } else {
        if (rb->total == 0)
            rb->resumed = was.done;
        rb->done = was.done;
        rb->total = was.total;
        rb->missing = was.missing;
    }

    if ((r = pg_rebuild_batch(pc, &arena, rb->since, next, max_rows, &res, error_r)) != TAB_OK)
        goto out;
    rows = xcalloc((size_t)max_rows, sizeof(*rows));
    for (int i = 0; i < PQntuples(res) && i < max_rows; i++) {
        const char *store = pg_catalog_value(res, i, 2), *location = pg_catalog_value(res, i, 3);
        struct archive_record text;
        const char *err = NULL;
        enum tab_result tr = TAB_OK;

        memset(&text, 0, sizeof(text));
        if (strcmp(PQgetvalue(res, i, 1), "t") != 0) {
            tr = store == NULL ? TAB_PERM : pc->text_fn(pc->text_ctx, store, location, &text, &err);
            if (tr == TAB_RETRY) {
                why = err;
                record_free(&text);
                break;
            }
        }
        rows[n].mid = xstrdup(PQgetvalue(res, i, 0));
        if (tr == TAB_PERM) {
            log_warn("pgsql: message %s: indexed without its body text: %s", rows[n].mid,
                     err ? err : "it has no stored copy");
            missing++;
        } else if (strcmp(PQgetvalue(res, i, 1), "t") != 0) {
            rows[n].body = text.body_text != NULL ? text.body_text : xstrdup("");
            text.body_text = NULL;
        }
        record_free(&text);
        n++;
    }
    if (why == NULL && PQntuples(res) < max_rows)
        left = 0; /* read to the end: deliveries meanwhile have their words */
    PQclear(res);
    res = NULL;
    if (n == 0 && why != NULL) {
        r = pg_conn_fail(pc->conn, TAB_RETRY, error_r, "index rebuild: %s", why);
        goto out;
    }

    r = pg_conn_begin(pc->conn, error_r);
    if (r == TAB_OK) { /* a second rebuild at the same time waits, then finds it moved */
        r = pg_catalog_run(pc, "index rebuild: lock its state",
                           "SELECT since, next FROM index_rebuild FOR UPDATE", 0, NULL, &res,
                           error_r);
        if (r == TAB_OK && (PQntuples(res) != 1 || pg_index_int(res, 0, 0) != rb->since ||
                            pg_index_int(res, 0, 1) != next))
            r = pg_conn_fail(pc->conn, TAB_RETRY, error_r,
                             "index rebuild: its state changed meanwhile (is another index"
                             " rebuild running?)");
        PQclear(res);
        res = NULL;
    }
    for (int i = 0; i < n && r == TAB_OK; i++) {
        struct archive_record stored;

        r = pg_catalog_load(pc, rows[i].mid, "", &stored, error_r);
        if (r == TAB_PERM) { /* expired meanwhile */
            r = TAB_OK;
            continue;
        }
        if (r != TAB_OK)
            break;
        free(stored.body_text);
        stored.body_text = rows[i].body;
        r = pg_catalog_refresh_vectors(pc, rows[i].mid, &stored, &arena, error_r);
        stored.body_text = NULL;
        record_free(&stored);
    }
    if (r == TAB_OK && n > 0) {
        /* their words now hold their attachments' text: off the queue */
        struct buf ids = BUF_INIT;
        buf_add_str(&ids, "{");
        for (int i = 0; i < n; i++) {
            buf_add_str(&ids, i > 0 ? "," : "");
            buf_add_str(&ids, rows[i].mid);
        }
        buf_add_str(&ids, "}");
        const char *values[1] = {ids.data};
        r = pg_catalog_do(pc, "index rebuild: take them off the attachment text queue",
                          "DELETE FROM attachment_text_pending WHERE message = ANY($1::bigint[])",
                          1, values, error_r);
        buf_free(&ids);
    }
    if (r == TAB_OK && n > 0) {
        const char *values[3] = {rows[n - 1].mid, pg_catalog_printf(&arena, "%d", n),
                                 pg_catalog_printf(&arena, "%lld", (long long)missing)};
        r = pg_catalog_do(pc, "index rebuild: save its state",
                          "UPDATE index_rebuild SET next = $1::bigint, done = done + $2::bigint,"
                          " missing = missing + $3::bigint",
                          3, values, error_r);
    }
    if (r == TAB_OK && !left)
        r = pg_catalog_do(pc, "index rebuild: finish", "DROP TABLE index_rebuild", 0, NULL,
                          error_r);
    r = pg_conn_end(pc->conn, r, error_r);
    if (r == TAB_OK) {
        rb->done += n;
        rb->missing += missing;
        if (!left) {
            rb->finished = 1;
            log_info("pgsql: index rebuild%s finished: %lld messages, %lld without their copy",
                     rb->since != 0 ? " --since" : "", (long long)rb->done, (long long)rb->missing);
        }
    }
out:
    PQclear(res);
    for (int i = 0; i < n; i++) {
        free(rows[i].mid);
        free(rows[i].body);
    }
    free(rows);
    strlist_free(&arena);
    return r;
}

/* An array literal element: double-quoted, " and \ escaped. */
static void pg_index_array_add(struct buf *b, const char *s)
{
    buf_add_str(b, b->len > 1 ? ",\"" : "\"");
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            buf_add(b, "\\", 1);
        buf_add(b, s, 1);
    }
    buf_add(b, "\"", 1);
}

/* Probe the messages of res (id, archive_id, subject): fn for each
 * whose fts lacks the phrase of its first subject words. */
static enum tab_result pg_index_probe(struct pg_catalog *pc, PGresult *res,
                                      struct catalog_index_report *r, catalog_index_problem_fn *fn,
                                      void *ctx, int *stop, const char **error_r)
{
    struct buf ids = BUF_INIT, queries = BUF_INIT;
    PGresult *bad = NULL;
    enum tab_result tr;

    buf_add_str(&ids, "{");
    buf_add_str(&queries, "{");
    for (int i = 0; i < PQntuples(res); i++) {
        struct fts_query q;
        char *tsq;

        if (fts_query_phrase(PQgetvalue(res, i, 2), &q) < 0)
            continue;
        /* the first words only: a phrase the probe can tell apart */
        if (q.clauses[0].terms[0].words > PG_PROBE_WORDS) {
            char *p = q.clauses[0].terms[0].phrase;
            size_t words = 0;
            for (; *p != '\0'; p++)
                if (*p == ' ' && ++words == PG_PROBE_WORDS) {
                    *p = '\0';
                    break;
                }
            q.clauses[0].terms[0].words = PG_PROBE_WORDS;
        }
        tsq = pg_fts_tsquery(&q, "A");
        fts_query_free(&q);
        pg_index_array_add(&ids, PQgetvalue(res, i, 0));
        pg_index_array_add(&queries, tsq);
        free(tsq);
    }
    buf_add_str(&ids, "}");
    buf_add_str(&queries, "}");
    {
        const char *values[2] = {ids.data, queries.data};
        tr = pg_catalog_run(pc, "index check: probe",
                            "SELECT m.archive_id FROM unnest($1::bigint[], $2::text[]) AS p(id, q)"
                            " JOIN messages m ON m.id = p.id WHERE NOT m.fts @@ p.q::tsquery"
                            " ORDER BY m.id",
                            2, values, &bad, error_r);
    }
    if (tr == TAB_OK)
        for (int i = 0; i < PQntuples(bad); i++) {
            r->damaged++;
            if (!*stop && fn != NULL)
                *stop = fn(PQgetvalue(bad, i, 0), CATALOG_INDEX_DAMAGED, ctx);
        }
    PQclear(bad);
    buf_free(&ids);
    buf_free(&queries);
    return tr;
}

/* The next PG_PROBE_BATCH indexed messages with a subject after id last. */
static enum tab_result pg_index_subjects(struct pg_catalog *pc, struct strlist *arena, int64_t last,
                                         PGresult **res_r, const char **error_r)
{
    const char *values[2] = {pg_catalog_printf(arena, "%lld", (long long)last),
                             pg_catalog_printf(arena, "%d", PG_PROBE_BATCH)};

    return pg_catalog_run(pc, "index check: subjects",
                          "SELECT id, archive_id, left(subject, 4096) FROM messages"
                          " WHERE id > $1::bigint AND fts IS NOT NULL AND subject IS NOT NULL"
                          " ORDER BY id LIMIT $2::integer",
                          2, values, res_r, error_r);
}

enum tab_result pg_catalog_index_check(struct catalog *cat, struct catalog_index_report *r,
                                       catalog_index_problem_fn *fn, void *ctx,
                                       const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    struct catalog_index_rebuild rb;
    PGresult *res = NULL;
    int64_t next, last = 0;
    int stop = 0, found = 0;
    enum tab_result tr;

    /* The counts and the messages without vectors in one round trip: one
     * row with a NULL archive id when every message has them. */
    if ((tr = pg_catalog_run(pc, "index check: counts",
                             "WITH n AS (SELECT count(*) AS messages, count(*) FILTER"
                             " (WHERE fts IS NOT NULL AND addr_fts IS NOT NULL) AS indexed"
                             " FROM messages)"
                             " SELECT n.messages, n.indexed, m.archive_id,"
                             " (SELECT count(*) FROM attachment_text_pending) FROM n"
                             " LEFT JOIN messages m ON m.fts IS NULL OR m.addr_fts IS NULL"
                             " ORDER BY m.id",
                             0, NULL, &res, error_r)) != TAB_OK)
        goto out;
    r->messages = pg_index_int(res, 0, 0);
    r->indexed = pg_index_int(res, 0, 1);
    r->pending = pg_index_int(res, 0, 3);
    r->documents = r->documents_expected = -1;
    for (int i = 0; i < PQntuples(res) && !PQgetisnull(res, i, 2); i++) {
        r->unindexed++;
        if (!stop && fn != NULL)
            stop = fn(PQgetvalue(res, i, 2), CATALOG_INDEX_UNINDEXED, ctx);
    }
    PQclear(res);
    res = NULL;
    for (;;) {
        int rows;

        if ((tr = pg_index_subjects(pc, &arena, last, &res, error_r)) != TAB_OK)
            goto out;
        rows = PQntuples(res);
        if (rows == 0)
            break;
        last = pg_index_int(res, rows - 1, 0);
        tr = pg_index_probe(pc, res, r, fn, ctx, &stop, error_r);
        PQclear(res);
        res = NULL;
        if (tr != TAB_OK || rows < PG_PROBE_BATCH)
            goto state;
    }
state:
    if (tr == TAB_OK) {
        memset(&rb, 0, sizeof(rb));
        tr = pg_rebuild_state(pc, &rb, &next, &found, error_r);
        if (tr == TAB_OK && found) {
            r->rebuild_unfinished = 1;
            r->rebuild_done = rb.done;
            r->rebuild_total = rb.total;
            r->rebuild_since = rb.since;
        }
    }
out:
    PQclear(res);
    strlist_free(&arena);
    return tr;
}
