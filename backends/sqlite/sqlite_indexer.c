/*
 * NAME
 *	sqlite_indexer 3
 * SUMMARY
 *	SQLite catalog driver: the full-text backlog (index_pending)
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns index_pending(), called by the daemon's indexer
 *	(indexer/indexer.c) and before a full-text search: it moves what
 *	add() left in text_pending into the FTS5 table message_fts in
 *	short transactions (the FTS5 tokenizer was most of add()'s work;
 *	sqlite_fts.c builds each document from the message's rows and its
 *	body text),
 *	reading the text and attachments of from_store rows through the
 *	text source the caller set (set_text_source: the stored copy),
 *	outside the write lock.
 * DIAGNOSTICS
 *	TAB_RETRY with "sqlite PATH: index pending text: WHAT: ..." on a
 *	database failure (rolled back: the rows stay pending) or when the
 *	first row's stored copy cannot be read now. A row whose copy is
 *	gone for good is indexed with what add() stored, and logged.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/log.h"

/* One pending row of an index_pending() batch. */
struct sqlite_pending {
    sqlite3_int64 message;
    struct archive_record text; /* subject, body_text, attachments */
    int from_store;
};

/* Read up to max_rows pending rows (about SQLITE_INDEX_BATCH_BYTES of
 * text), the text of from_store rows from their stored copy, outside any
 * transaction. Stops before a row whose copy cannot be read now (*error_r
 * then says why) or that has no text source. */
static int sqlite_pending_read(struct sqlite_catalog *sc, int max_rows, struct sqlite_pending *rows,
                               const char **what_r, const char **error_r)
{
    sqlite3_stmt *next = sc->st[ST_PENDING_NEXT];
    sqlite3_int64 last = 0;
    size_t bytes = 0;
    int n = 0, rc;

    while (n < max_rows && bytes < SQLITE_INDEX_BATCH_BYTES) {
        struct sqlite_pending *p = &rows[n];
        char *store, *location;
        const char *err = NULL;
        enum tab_result r;

        *what_r = "read pending text";
        if (sqlite3_bind_int64(next, 1, last) != SQLITE_OK)
            return -1;
        rc = sqlite3_step(next);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return -1;
        memset(p, 0, sizeof(*p));
        p->message = last = sqlite3_column_int64(next, 0);
        p->text.subject = sqlite_column_dup(next, 1);
        p->text.body_text = sqlite_column_dup(next, 2);
        p->from_store = sqlite3_column_int(next, 3);
        store = sqlite_column_dup(next, 4);
        location = sqlite_column_dup(next, 5);
        sqlite_stmt_done(next);
        if (p->from_store) {
            r = sc->text_fn == NULL ? TAB_RETRY
                : store == NULL     ? TAB_PERM
                                    : sc->text_fn(sc->text_ctx, store, location, &p->text, &err);
            if (r == TAB_RETRY) {
                *error_r = sc->text_fn == NULL ? "no text source" : err;
                record_free(&p->text);
                free(store);
                free(location);
                break;
            }
            if (r == TAB_PERM)
                log_warn("sqlite %s: message %lld: body text and attachments not indexed: %s",
                         sc->path, (long long)p->message, err ? err : "it has no stored copy");
        }
        free(store);
        free(location);
        bytes += (p->text.subject ? strlen(p->text.subject) : 0) +
                 (p->text.body_text ? strlen(p->text.body_text) : 0);
        n++;
    }
    sqlite_stmt_done(next);
    return n;
}

/*
 * Move up to max_rows messages from text_pending into message_fts (and
 * the attachments of from_store rows into attachments), oldest first. The
 * text is read first, outside the write lock (a from_store row reads its
 * stored copy); then one write transaction deletes each row from
 * text_pending and, only if that deleted it (nobody indexed it
 * meanwhile), inserts its text: a crash leaves rows pending, never lost
 * or indexed twice. No fdatasync: a commit lost to a power failure only
 * leaves the rows pending again. An idle indexer costs one indexed read.
 * left_r (may be NULL): the rows still pending, counted afterwards.
 */
enum tab_result sqlite_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                     int64_t *left_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct sqlite_pending rows[SQLITE_INDEX_BATCH_ROWS];
    sqlite3_stmt *del = sc->st[ST_PENDING_DELETE];
    const char *what = "read pending text", *stopped = NULL;
    enum tab_result r = TAB_OK;
    int n = 0, done = 0;

    *done_r = 0;
    if (left_r != NULL)
        *left_r = 0;
    if (max_rows > SQLITE_INDEX_BATCH_ROWS)
        max_rows = SQLITE_INDEX_BATCH_ROWS;
    if (max_rows > 0) {
        n = sqlite_pending_read(sc, max_rows, rows, &what, &stopped);
        if (n < 0) {
            n = 0;
            goto db_error;
        }
    }
    if (n > 0) {
        what = "begin";
        if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
            goto db_error;
        for (int i = 0; i < n; i++) {
            what = "delete pending text";
            if (sqlite3_bind_int64(del, 1, rows[i].message) != SQLITE_OK ||
                sqlite_exec_stmt(del) < 0)
                goto db_error;
            if (sqlite3_changes(sc->db) == 0)
                continue; /* indexed by someone else meanwhile */
            /* indexed already: a later copy added recipients (add());
             * its document goes first, rebuilt with the text just read */
            what = "remove the old document";
            if (sqlite_fts_remove(sc->fts, rows[i].message, rows[i].text.body_text, sc->text_fn,
                                  sc->text_ctx) < 0)
                goto db_error;
            what = "index text";
            if (sqlite_fts_index(sc->fts, rows[i].message, rows[i].text.body_text) < 0)
                goto db_error;
            what = "insert attachment";
            if (rows[i].from_store &&
                sqlite_insert_attachments(sc, rows[i].message, &rows[i].text) < 0)
                goto db_error;
            done++;
        }
        what = "commit";
        if (sqlite_exec_stmt(sc->st[ST_COMMIT]) < 0)
            goto db_error;
    }
    for (int i = 0; i < n; i++)
        record_free(&rows[i].text);
    *done_r = done;
    if (n == 0 && stopped != NULL)
        return sqlite_fail(sc, TAB_RETRY, error_r, "index pending text: %s", stopped);
    if (left_r != NULL && sqlite_count(sc, "SELECT count(*) FROM text_pending", left_r) < 0)
        return sqlite_fail_db(sc, error_r, "index pending text: count");
    return TAB_OK;

db_error:
    r = sqlite_fail(sc, TAB_RETRY, error_r, "index pending text: %s: %s", what,
                    sqlite3_errmsg(sc->db));
    for (int i = 0; i < n; i++)
        record_free(&rows[i].text);
    sqlite_stmts_reset(sc);
    sqlite_rollback(sc);
    return r;
}
