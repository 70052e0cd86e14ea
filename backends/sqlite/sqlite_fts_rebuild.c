/*
 * NAME
 *	sqlite_fts_rebuild 3
 * SUMMARY
 *	SQLite catalog driver: index check and index rebuild (tabularium index)
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	index_check() compares the catalog's rows with message_fts
 *	(sqlite_fts.c): the messages indexed (fts_hash set), pending
 *	(text_pending), stale (fts_stale) and unindexed (none of these: a
 *	full-text search misses them and nothing will index them); the
 *	documents FTS5 counts (its averages record) against those the rows
 *	expect; and, for each indexed message with a subject, a probe: a
 *	phrase of its first subject words on that rowid. A contentless table
 *	cannot be listed, so a document lost from the index is found by the
 *	count and named by the probe.
 *
 *	index_rebuild() re-derives the index from the stored copies (the
 *	text source) and the rows, in batches: the copies of a batch are
 *	read outside the write lock, then one short write transaction
 *	indexes them and moves the state (table index_rebuild, one row) on,
 *	so a killed rebuild resumes after its last committed batch. A batch
 *	whose state moved since it was read (a second rebuild at the same
 *	time) is refused rather than indexed twice.
 *
 *	A full rebuild (since 0) fills a new table, message_fts_rebuild,
 *	with the document of every message and keeps each hash in
 *	fts_rebuild; the old index serves searches meanwhile, and deliveries
 *	and the indexer go on writing it. When a batch finds no message
 *	left (inside its write transaction, so none can arrive unseen), the
 *	same transaction swaps the new table in, gives every message its
 *	new hash and empties fts_stale: stale words are gone with the old
 *	table. A message expired during the rebuild leaves its words in the
 *	new table: it becomes stale, as expire would have made it (also when
 *	its id names a new message by then: fts_rebuild keeps each archive
 *	id). A message
 *	that a later copy gave more recipients after its batch (and that
 *	the indexer re-indexed in the old table) is indexed again in the
 *	swap's transaction, as the indexer does it.
 *
 *	A rebuild --since (messages archived since then) re-indexes them in
 *	place, as the indexer does: the exact removal of sqlite_fts.c, then
 *	the new document. A stale message stays stale: only a full rebuild
 *	clears it.
 *
 *	The three work tables exist only while a rebuild is unfinished;
 *	they are no part of the versioned schema (docs/search.md).
 * DIAGNOSTICS
 *	TAB_RETRY with "sqlite PATH: index rebuild: WHAT: ..." on a
 *	database failure (the batch rolled back) or when the text source
 *	cannot read a copy now; TAB_PERM without a text source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/fts.h"
#include "backends/sqlite/sqlite_private.h"
#include "common/buf.h"
#include "common/log.h"

/* Subject words a probe looks for: enough to tell a document apart. */
#define SQLITE_PROBE_WORDS 12

/* Messages a rebuild --since covers; ?1 the time as arrival is written. */
#define SQLITE_REBUILD_SINCE " AND (?1 IS NULL OR m.arrival >= ?1)"

static const char sqlite_rebuild_tables[] = "DROP TABLE IF EXISTS message_fts_rebuild;"
                                            "DROP TABLE IF EXISTS fts_rebuild;"
                                            "DROP TABLE IF EXISTS index_rebuild;"
                                            "CREATE TABLE index_rebuild ("
                                            " id INTEGER PRIMARY KEY CHECK (id = 1),"
                                            " since INTEGER NOT NULL,"
                                            " started TEXT NOT NULL,"
                                            " next INTEGER NOT NULL,"
                                            " done INTEGER NOT NULL,"
                                            " total INTEGER NOT NULL,"
                                            " missing INTEGER NOT NULL);";

static const char sqlite_rebuild_full_tables[] =
    "CREATE TABLE fts_rebuild ("
    " message INTEGER PRIMARY KEY,"
    " archive_id TEXT NOT NULL," /* an id expire freed may be given again */
    " hash INTEGER NOT NULL,"
    " rcpts INTEGER NOT NULL);"
    "CREATE VIRTUAL TABLE message_fts_rebuild USING " SQLITE_FTS_TABLE_ARGS ";";

/* The rebuilt documents whose message is gone (expired meanwhile; its
 * id may even name a new message now): their words stay in the new
 * table under that rowid. */
#define SQLITE_REBUILD_GONE                                                                        \
    " FROM fts_rebuild r WHERE NOT EXISTS (SELECT 1 FROM messages m"                               \
    " WHERE m.id = r.message AND m.archive_id = r.archive_id)"

/* The rebuilt index in place of the old one (inside the last batch's
 * transaction). */
static const char sqlite_rebuild_swap[] =
    "DROP TABLE message_fts;"
    "ALTER TABLE message_fts_rebuild RENAME TO message_fts;"
    "DELETE FROM fts_stale;"
    "UPDATE messages SET fts_hash = NULL, fts_rcpts = NULL"
    " WHERE fts_hash IS NOT NULL AND id NOT IN (SELECT r.message FROM fts_rebuild r"
    " WHERE r.archive_id = messages.archive_id);"
    /* most documents read from the store as they were indexed: their
     * rows are not written again (the swap holds the write lock) */
    "UPDATE messages SET fts_hash = r.hash, fts_rcpts = r.rcpts FROM fts_rebuild r"
    " WHERE r.message = messages.id AND r.archive_id = messages.archive_id"
    " AND (messages.fts_hash IS NOT r.hash OR messages.fts_rcpts IS NOT r.rcpts);";

static const char sqlite_rebuild_drop[] = "DROP TABLE IF EXISTS message_fts_rebuild;"
                                          "DROP TABLE IF EXISTS fts_rebuild;"
                                          "DROP TABLE index_rebuild;";

/* 1 when table exists, 0 not, -1. */
static int sqlite_table_exists(struct sqlite_catalog *sc, const char *table)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite_prepare_text(sc, "SELECT 1 FROM sqlite_master WHERE name = ?1", table, &st) < 0)
        return -1;
    rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* The rebuild state: 1 found (rb's out fields set, *next_r), 0 none, -1. */
static int sqlite_rebuild_state(struct sqlite_catalog *sc, struct catalog_index_rebuild *rb,
                                sqlite3_int64 *next_r)
{
    sqlite3_stmt *st = NULL;
    int rc, exists = sqlite_table_exists(sc, "index_rebuild");

    if (exists <= 0)
        return exists;
    if (sqlite3_prepare_v2(sc->db, "SELECT since, next, done, total, missing FROM index_rebuild",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rb->since = (time_t)sqlite3_column_int64(st, 0);
        *next_r = sqlite3_column_int64(st, 1);
        rb->done = sqlite3_column_int64(st, 2);
        rb->total = sqlite3_column_int64(st, 3);
        rb->missing = sqlite3_column_int64(st, 4);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Bind ?1 of st: the since time as messages.arrival writes it, or NULL. */
static int sqlite_bind_since(sqlite3_stmt *st, time_t since)
{
    char buf[21];

    if (since == 0)
        return sqlite3_bind_null(st, 1);
    record_format_time(since, buf);
    return sqlite3_bind_text(st, 1, buf, -1, SQLITE_TRANSIENT);
}

/* Start a rebuild of rb->since over whatever state there was. */
static enum tab_result sqlite_rebuild_start(struct sqlite_catalog *sc,
                                            struct catalog_index_rebuild *rb, const char **error_r)
{
    sqlite3_stmt *st = NULL;
    char now[21];
    int rc;

    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "index rebuild: begin", error_r);
    if (sqlite3_exec(sc->db, sqlite_rebuild_tables, NULL, NULL, NULL) != SQLITE_OK ||
        (rb->since == 0 &&
         sqlite3_exec(sc->db, sqlite_rebuild_full_tables, NULL, NULL, NULL) != SQLITE_OK))
        return sqlite_write_fail(sc, "index rebuild: create its work tables", error_r);
    if (sqlite3_prepare_v2(sc->db, "SELECT count(*) FROM messages m WHERE 1" SQLITE_REBUILD_SINCE,
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite_bind_since(st, rb->since) != SQLITE_OK || (rc = sqlite3_step(st)) != SQLITE_ROW) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "index rebuild: count", error_r);
    }
    rb->total = sqlite3_column_int64(st, 0);
    rb->done = rb->missing = 0;
    (void)sqlite3_finalize(st);
    record_format_time(time(NULL), now);
    if (sqlite3_prepare_v2(sc->db,
                           "INSERT INTO index_rebuild (id, since, started, next, done, total,"
                           " missing) VALUES (1, ?1, ?2, 0, 0, ?3, 0)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, (sqlite3_int64)rb->since) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, now, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, rb->total) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "index rebuild: start", error_r);
    }
    (void)sqlite3_finalize(st);
    return sqlite_commit(sc, "index rebuild: start", error_r);
}

/* One message of a batch, read outside the write lock. */
struct sqlite_rebuild_row {
    sqlite3_int64 id;
    char *body; /* NULL: none (degraded, or its copy cannot be read) */
};

/* The body text of message id for its document: NULL for a degraded
 * message (it has none) and, logged and counted in *missing_r, for one
 * whose copy is gone (TAB_PERM). TAB_RETRY (*why_r): not now. */
static enum tab_result sqlite_rebuild_text(struct sqlite_catalog *sc, sqlite3_int64 id,
                                           int degraded, const char *store, const char *location,
                                           char **body_r, int64_t *missing_r, const char **why_r)
{
    struct archive_record text;
    const char *err = NULL;
    enum tab_result r;

    *body_r = NULL;
    if (degraded)
        return TAB_OK;
    memset(&text, 0, sizeof(text));
    r = store == NULL ? TAB_PERM : sc->text_fn(sc->text_ctx, store, location, &text, &err);
    if (r == TAB_RETRY) {
        *why_r = err;
    } else if (r == TAB_PERM) {
        log_warn("sqlite %s: message %lld: indexed without its body text: %s", sc->path,
                 (long long)id, err ? err : "it has no stored copy");
        (*missing_r)++;
        r = TAB_OK;
    } else {
        *body_r = text.body_text != NULL ? text.body_text : xstrdup("");
        text.body_text = NULL;
    }
    record_free(&text);
    return r;
}

/* The message, its degradation and its first copy, for sqlite_rebuild_text(). */
#define SQLITE_REBUILD_COPY                                                                        \
    " m.id, m.index_status = 'degraded', c.store, c.location"                                      \
    " FROM messages m LEFT JOIN copies c ON c.id ="                                                \
    " (SELECT min(id) FROM copies WHERE message = m.id)"

/* Up to max_rows messages after next with their body text from the
 * store. *n_r read; *why_r set when the read stopped early (a copy that
 * cannot be read now). -1 database error. */
static int sqlite_rebuild_read(struct sqlite_catalog *sc, time_t since, sqlite3_int64 next,
                               int max_rows, struct sqlite_rebuild_row *rows, int *n_r,
                               int64_t *missing_r, const char **why_r)
{
    sqlite3_stmt *st = NULL;
    int rc, n = 0;

    *n_r = 0;
    if (sqlite3_prepare_v2(sc->db,
                           "SELECT" SQLITE_REBUILD_COPY " WHERE m.id > ?2" SQLITE_REBUILD_SINCE
                           " ORDER BY m.id LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite_bind_since(st, since) != SQLITE_OK || sqlite3_bind_int64(st, 2, next) != SQLITE_OK ||
        sqlite3_bind_int(st, 3, max_rows) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows[n].id = sqlite3_column_int64(st, 0);
        if (sqlite_rebuild_text(sc, rows[n].id, sqlite3_column_int(st, 1),
                                (const char *)sqlite3_column_text(st, 2),
                                (const char *)sqlite3_column_text(st, 3), &rows[n].body, missing_r,
                                why_r) != TAB_OK)
            break;
        n++;
    }
    (void)sqlite3_finalize(st);
    *n_r = n;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Message id into the new table (full rebuild): 0, -1. */
static int sqlite_rebuild_full_one(struct sqlite_catalog *sc, sqlite3_stmt *ins, sqlite3_stmt *keep,
                                   sqlite3_int64 id, const char *body)
{
    struct fts_doc doc;
    sqlite3_int64 hash, rcpts;
    int found = sqlite_fts_document(sc->fts, id, body, &doc, &hash, &rcpts), ret = -1;

    if (found <= 0)
        return found; /* expired meanwhile */
    if (sqlite3_bind_int64(ins, 1, id) != SQLITE_OK)
        goto out;
    for (int i = 0; i < FTS_COLUMNS; i++)
        if (sqlite3_bind_text(ins, i + 2, doc.col[i].data, (int)doc.col[i].len, SQLITE_STATIC) !=
            SQLITE_OK)
            goto out;
    if (sqlite_exec_stmt(ins) < 0 || sqlite3_bind_int64(keep, 1, id) != SQLITE_OK ||
        sqlite3_bind_int64(keep, 2, hash) != SQLITE_OK ||
        sqlite3_bind_int64(keep, 3, rcpts) != SQLITE_OK || sqlite_exec_stmt(keep) < 0)
        goto out;
    ret = 0;
out:
    sqlite_stmt_done(ins);
    sqlite_stmt_done(keep);
    fts_doc_free(&doc);
    return ret;
}

/* Inside the batch's transaction: is any message of the rebuild left
 * after last? 1 yes, 0 no, -1. */
static int sqlite_rebuild_left(struct sqlite_catalog *sc, time_t since, sqlite3_int64 last)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(sc->db, "SELECT 1 FROM messages m WHERE m.id > ?2" SQLITE_REBUILD_SINCE,
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite_bind_since(st, since) != SQLITE_OK || sqlite3_bind_int64(st, 2, last) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* After the swap: a message that a later copy gave more recipients
 * after it was rebuilt (the indexer took that change into the old
 * index) is indexed again now, as the indexer would: its rebuilt
 * document removed exactly, the new one added. Rare, and inside the
 * write lock: its copy is read here. -1. */
static int sqlite_rebuild_catch_up(struct sqlite_catalog *sc)
{
    sqlite3_stmt *st = NULL;
    int64_t missing = 0; /* counted in its batch already */
    int rc;

    if (sqlite3_prepare_v2(sc->db,
                           "SELECT" SQLITE_REBUILD_COPY " JOIN fts_rebuild r ON r.message = m.id"
                           " AND r.archive_id = m.archive_id"
                           " WHERE (SELECT max(rowid) FROM recipient_rows WHERE message = m.id)"
                           " > r.rcpts",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0);
        const char *why = NULL;
        char *body = NULL;

        /* a copy that cannot be read now: the removal below makes it
         * stale rather than guess */
        (void)sqlite_rebuild_text(sc, id, sqlite3_column_int(st, 1),
                                  (const char *)sqlite3_column_text(st, 2),
                                  (const char *)sqlite3_column_text(st, 3), &body, &missing, &why);
        if (sqlite_fts_remove(sc->fts, id, body, sc->text_fn, sc->text_ctx) < 0 ||
            sqlite_fts_index(sc->fts, id, body) < 0) {
            free(body);
            rc = SQLITE_ERROR;
            break;
        }
        free(body);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The end of a full rebuild: the swap, the words of messages that were
 * expired meanwhile marked stale, the messages that changed caught up. */
static int sqlite_rebuild_finish_full(struct sqlite_catalog *sc)
{
    sqlite3_stmt *st = NULL;
    char now[21];
    int rc;

    if (sqlite3_exec(sc->db, sqlite_rebuild_swap, NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    record_format_time(time(NULL), now);
    if (sqlite3_prepare_v2(sc->db,
                           "INSERT INTO fts_stale (message, noted, reason) SELECT r.message, ?1,"
                           " 'expired during an index rebuild'" SQLITE_REBUILD_GONE,
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    return sqlite_rebuild_catch_up(sc);
}

enum tab_result sqlite_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                     int max_rows, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct catalog_index_rebuild was;
    struct sqlite_rebuild_row *rows = NULL;
    sqlite3_stmt *ins = NULL, *keep = NULL, *st = NULL;
    sqlite3_int64 next = 0, now_next = 0;
    const char *what = "read its state", *why = NULL;
    int64_t missing = 0;
    int n = 0, state, left;
    enum tab_result r;

    if (sc->text_fn == NULL)
        return sqlite_fail(sc, TAB_PERM, error_r,
                           "index rebuild: no text source to read the stored copies");
    if (max_rows < 1)
        max_rows = 1;
    memset(&was, 0, sizeof(was));
    state = sqlite_rebuild_state(sc, &was, &next);
    if (state < 0)
        return sqlite_fail_db(sc, error_r, "index rebuild: read its state");
    if (state == 0 || was.since != rb->since) {
        rb->restarted = state > 0;
        if ((r = sqlite_rebuild_start(sc, rb, error_r)) != TAB_OK)
            return r;
        next = 0;
    } else {
        if (rb->total == 0) /* the first call of this run */
            rb->resumed = was.done;
        rb->done = was.done;
        rb->total = was.total;
        rb->missing = was.missing;
    }

    rows = xcalloc((size_t)max_rows, sizeof(*rows));
    what = "read the messages";
    if (sqlite_rebuild_read(sc, rb->since, next, max_rows, rows, &n, &missing, &why) < 0)
        goto db_error;
    if (n == 0 && why != NULL) {
        r = sqlite_fail(sc, TAB_RETRY, error_r, "index rebuild: %s", why);
        goto out;
    }

    what = "begin";
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        goto db_error;
    /* Another rebuild that committed a batch since the state was read
     * would have these messages in the new table already: twice under
     * one rowid corrupts it. */
    what = "read its state";
    memset(&was, 0, sizeof(was));
    state = sqlite_rebuild_state(sc, &was, &now_next);
    if (state < 0)
        goto db_error;
    if (state == 0 || was.since != rb->since || now_next != next) {
        sqlite_rollback(sc);
        r = sqlite_fail(sc, TAB_RETRY, error_r,
                        "index rebuild: its state changed meanwhile (is another index rebuild"
                        " running?)");
        goto out;
    }
    what = "index";
    if (rb->since == 0 &&
        (sqlite3_prepare_v2(sc->db,
                            "INSERT INTO message_fts_rebuild (rowid, subject, body, sender,"
                            " recipients) VALUES (?1, ?2, ?3, ?4, ?5)",
                            -1, &ins, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(sc->db,
                            "INSERT OR REPLACE INTO fts_rebuild (message, archive_id, hash,"
                            " rcpts) SELECT id, archive_id, ?2, ?3 FROM messages WHERE id = ?1",
                            -1, &keep, NULL) != SQLITE_OK))
        goto db_error;
    for (int i = 0; i < n; i++) {
        if (rb->since == 0) {
            if (sqlite_rebuild_full_one(sc, ins, keep, rows[i].id, rows[i].body) < 0)
                goto db_error;
        } else if (sqlite_fts_remove(sc->fts, rows[i].id, rows[i].body, sc->text_fn, sc->text_ctx) <
                       0 ||
                   sqlite_fts_index(sc->fts, rows[i].id, rows[i].body) < 0) {
            goto db_error;
        }
        next = rows[i].id;
    }
    what = "save its state";
    if (sqlite3_prepare_v2(sc->db,
                           "UPDATE index_rebuild SET next = ?1, done = done + ?2,"
                           " missing = missing + ?3",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, next) != SQLITE_OK || sqlite3_bind_int(st, 2, n) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, missing) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE)
        goto db_error;
    (void)sqlite3_finalize(st);
    st = NULL;
    rb->done += n;
    rb->missing += missing;
    /* Caught up: nothing after the last message, and no delivery can add
     * one before the commit (this transaction holds the write lock). */
    left = why != NULL ? 1 : sqlite_rebuild_left(sc, rb->since, next);
    what = "finish";
    if (left < 0)
        goto db_error;
    if (!left) {
        if ((rb->since == 0 && sqlite_rebuild_finish_full(sc) < 0) ||
            sqlite3_exec(sc->db, sqlite_rebuild_drop, NULL, NULL, NULL) != SQLITE_OK)
            goto db_error;
    }
    (void)sqlite3_finalize(ins);
    (void)sqlite3_finalize(keep);
    ins = keep = NULL;
    r = sqlite_commit(sc, "index rebuild: commit", error_r);
    if (r == TAB_OK && !left) {
        rb->finished = 1;
        log_info("sqlite %s: index rebuild%s finished: %lld messages, %lld without their copy",
                 sc->path, rb->since != 0 ? " --since" : "", (long long)rb->done,
                 (long long)rb->missing);
    }
    goto out;

db_error:
    r = sqlite_fail(sc, TAB_RETRY, error_r, "index rebuild: %s: %s", what, sqlite3_errmsg(sc->db));
    (void)sqlite3_finalize(st);
    (void)sqlite3_finalize(ins);
    (void)sqlite3_finalize(keep);
    sqlite_stmts_reset(sc);
    sqlite_rollback(sc);
out:
    for (int i = 0; i < n; i++)
        free(rows[i].body);
    free(rows);
    return r;
}

/* The number of documents FTS5 keeps in its averages record (rowid 1 of
 * message_fts_data: a varint, then the column totals). -1 unknown. */
static int64_t sqlite_fts_documents(struct sqlite_catalog *sc)
{
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    if (sqlite3_prepare_v2(sc->db, "SELECT block FROM message_fts_data WHERE id = 1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_blob(st, 0);
        int len = sqlite3_column_bytes(st, 0);
        uint64_t v = 0;
        /* SQLite's varint: 7 bits a byte, high bit set but in the 9th. */
        for (int i = 0; i < len && i < 9; i++) {
            if (i == 8) {
                v = (v << 8) | p[i];
                n = (int64_t)v;
                break;
            }
            v = (v << 7) | (p[i] & 0x7f);
            if (!(p[i] & 0x80)) {
                n = (int64_t)v;
                break;
            }
        }
    } else {
        n = 0; /* nothing indexed yet */
    }
    (void)sqlite3_finalize(st);
    return n;
}

/* Each listed message to fn as what; *count_r how many. -1. */
static int sqlite_check_list(struct sqlite_catalog *sc, const char *sql,
                             enum catalog_index_problem what, catalog_index_problem_fn *fn,
                             void *ctx, int64_t *count_r)
{
    sqlite3_stmt *st = NULL;
    int rc, stop = 0;

    *count_r = 0;
    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        (*count_r)++;
        if (!stop && fn != NULL)
            stop = fn((const char *)sqlite3_column_text(st, 0), what, ctx);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The probe: is a phrase of the first subject words of each indexed
 * message in its document? -1. */
static int sqlite_check_probe(struct sqlite_catalog *sc, catalog_index_problem_fn *fn, void *ctx,
                              int64_t *damaged_r)
{
    sqlite3_stmt *rows = NULL, *probe = NULL;
    int rc = SQLITE_DONE, stop = 0;
    struct buf match = BUF_INIT;

    *damaged_r = 0;
    if (sqlite3_prepare_v2(sc->db,
                           "SELECT id, archive_id, subject FROM messages WHERE fts_hash IS NOT NULL"
                           " AND subject IS NOT NULL AND id NOT IN (SELECT message FROM fts_stale)"
                           " ORDER BY id",
                           -1, &rows, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db,
                           "SELECT 1 FROM message_fts WHERE message_fts MATCH ?1 AND rowid = ?2",
                           -1, &probe, NULL) != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
        struct fts_query q;
        const char *phrase;
        size_t words = 0, len;
        int prc;

        if (fts_query_phrase((const char *)sqlite3_column_text(rows, 2), &q) < 0)
            continue; /* no word in the subject: nothing to probe */
        phrase = q.clauses[0].terms[0].phrase;
        for (len = 0; phrase[len] != '\0'; len++)
            if (phrase[len] == ' ' && ++words == SQLITE_PROBE_WORDS)
                break;
        /* folded words hold letters and digits only: nothing to quote */
        buf_reset(&match);
        buf_add_str(&match, "subject : \"");
        buf_add(&match, phrase, len);
        buf_add_str(&match, "\"");
        fts_query_free(&q);
        if (sqlite3_bind_text(probe, 1, match.data, (int)match.len, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(probe, 2, sqlite3_column_int64(rows, 0)) != SQLITE_OK) {
            rc = SQLITE_ERROR;
            break;
        }
        prc = sqlite3_step(probe);
        sqlite_stmt_done(probe);
        if (prc == SQLITE_DONE) {
            (*damaged_r)++;
            if (!stop && fn != NULL)
                stop = fn((const char *)sqlite3_column_text(rows, 1), CATALOG_INDEX_DAMAGED, ctx);
        } else if (prc != SQLITE_ROW) {
            rc = prc;
            break;
        }
    }
out:
    (void)sqlite3_finalize(rows);
    (void)sqlite3_finalize(probe);
    buf_free(&match);
    return rc == SQLITE_DONE ? 0 : -1;
}

enum tab_result sqlite_index_check(struct catalog *cat, struct catalog_index_report *r,
                                   catalog_index_problem_fn *fn, void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct catalog_index_rebuild rb;
    sqlite3_int64 next;
    int64_t stale_rows = 0, indexed_live = 0;
    int state;

    if (sqlite_begin_read(sc) < 0)
        return sqlite_fail_db(sc, error_r, "index check: begin");
    memset(&rb, 0, sizeof(rb));
    if (sqlite_count(sc, "SELECT count(*) FROM messages", &r->messages) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM messages WHERE fts_hash IS NOT NULL", &r->indexed) <
            0 ||
        sqlite_count(sc, "SELECT count(*) FROM text_pending", &r->pending) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM fts_stale", &stale_rows) < 0 ||
        sqlite_count(sc,
                     "SELECT count(*) FROM messages WHERE fts_hash IS NOT NULL"
                     " AND id NOT IN (SELECT message FROM fts_stale)",
                     &indexed_live) < 0 ||
        sqlite_check_list(sc,
                          "SELECT m.archive_id FROM fts_stale s JOIN messages m ON m.id = s.message"
                          " ORDER BY m.id",
                          CATALOG_INDEX_STALE, fn, ctx, &r->stale) < 0 ||
        sqlite_check_list(sc,
                          "SELECT archive_id FROM messages m WHERE fts_hash IS NULL"
                          " AND id NOT IN (SELECT message FROM text_pending)"
                          " AND id NOT IN (SELECT message FROM fts_stale) ORDER BY id",
                          CATALOG_INDEX_UNINDEXED, fn, ctx, &r->unindexed) < 0 ||
        sqlite_check_probe(sc, fn, ctx, &r->damaged) < 0 ||
        (state = sqlite_rebuild_state(sc, &rb, &next)) < 0) {
        enum tab_result res = sqlite_fail_db(sc, error_r, "index check");
        sqlite_end(sc);
        return res;
    }
    /* A stale message keeps its words in the index: one document each. */
    r->documents = sqlite_fts_documents(sc);
    r->documents_expected = indexed_live + stale_rows;
    sqlite_end(sc);
    if (state > 0) {
        r->rebuild_unfinished = 1;
        r->rebuild_done = rb.done;
        r->rebuild_total = rb.total;
        r->rebuild_since = rb.since;
    }
    return TAB_OK;
}
