/*
 * NAME
 *	sqlite_fts 3
 * SUMMARY
 *	SQLite catalog driver: the full-text index, its exact removal and its staleness
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 *
 *	sqlite_fts_index(sc->fts, id, body);
 *	sqlite_fts_remove(sc->fts, id, NULL, sc->text_fn, sc->text_ctx);
 * DESCRIPTION
 *	Owns message_fts (schema version 8): a contentless FTS5 table
 *	(content='', so no second copy of any text) whose rowid is
 *	messages.id and whose four columns are the folded document of
 *	backends/fts.h (subject, body, sender, recipients), built from the
 *	message's catalog rows as they are when it is indexed, and from its
 *	body text.
 *
 *	SQLite 3.40 can delete a row from a contentless table only when it
 *	is given the exact values that were indexed. So each indexed message
 *	keeps messages.fts_hash, the first 64 bits of the SHA-256 of its
 *	document, and messages.fts_rcpts, the last recipients row it
 *	covered (a later copy of the same message may add recipients).
 *	sqlite_fts_remove(), before expire or reindex changes the rows,
 *	rebuilds the document from the rows, with an empty body first (a
 *	degraded message, or one whose copy could not be read) and then
 *	with the body text read again from the first stored copy (the text
 *	source, as the indexer read it), and issues the FTS5 'delete' only
 *	when the hash matches. Otherwise (no text source, the copy is gone
 *	or its text reads differently now) it records the message in
 *	fts_stale: search excludes stale messages from every full-text
 *	match and reports how many there are (index_health), and their
 *	rowids are never given to a new message (ST_INSERT_MESSAGE), whose
 *	words would otherwise mix with the stale ones. Only an index rebuild
 *	clears them. A stale message is not indexed again.
 *
 *	Must never delete a document it could not rebuild exactly: FTS5
 *	would then corrupt its index silently.
 * DIAGNOSTICS
 *	-1 with the reason in sqlite3_errmsg() on a database failure; a
 *	document that cannot be rebuilt is not a failure (it becomes
 *	stale, logged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/fts.h"
#include "backends/sqlite/sqlite_private.h"
#include "common/log.h"
#include "common/sha256.h"

enum sqlite_fts_stmt {
    FS_MESSAGE,
    FS_RCPTS,
    FS_ADDRS,
    FS_INSERT,
    FS_DELETE,
    FS_SET_HASH,
    FS_STALE,
    FS_IS_STALE,
    FS_FIRST_COPY,
    FS_COUNT
};

static const char *const sqlite_fts_sql[FS_COUNT] = {
    [FS_MESSAGE] = "SELECT subject, envelope_from, fts_hash, fts_rcpts FROM messages WHERE id = ?1",
    [FS_RCPTS] = "SELECT rowid, address FROM recipients WHERE message = ?1 AND rowid <= ?2"
                 " ORDER BY rowid",
    [FS_ADDRS] = "SELECT field, name, address FROM header_addresses WHERE message = ?1"
                 " ORDER BY position, rowid",
    [FS_INSERT] = "INSERT INTO message_fts (rowid, subject, body, sender, recipients)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [FS_DELETE] = "INSERT INTO message_fts (message_fts, rowid, subject, body, sender, recipients)"
                  " VALUES ('delete', ?1, ?2, ?3, ?4, ?5)",
    [FS_SET_HASH] = "UPDATE messages SET fts_hash = ?2, fts_rcpts = ?3 WHERE id = ?1",
    [FS_STALE] = "INSERT OR REPLACE INTO fts_stale (message, noted, reason) VALUES (?1, ?2, ?3)",
    [FS_IS_STALE] = "SELECT 1 FROM fts_stale WHERE message = ?1",
    [FS_FIRST_COPY] = "SELECT store, location FROM copies WHERE message = ?1 ORDER BY id LIMIT 1",
};

struct sqlite_fts {
    sqlite3 *db;
    sqlite3_stmt *st[FS_COUNT];
};

struct sqlite_fts *sqlite_fts_open(sqlite3 *db)
{
    struct sqlite_fts *f = xcalloc(1, sizeof(*f));

    f->db = db;
    for (int i = 0; i < FS_COUNT; i++)
        if (sqlite3_prepare_v3(db, sqlite_fts_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &f->st[i],
                               NULL) != SQLITE_OK) {
            sqlite_fts_close(f);
            return NULL;
        }
    return f;
}

void sqlite_fts_close(struct sqlite_fts *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < FS_COUNT; i++)
        (void)sqlite3_finalize(f->st[i]);
    free(f);
}

static void sqlite_fts_reset(struct sqlite_fts *f)
{
    for (int i = 0; i < FS_COUNT; i++)
        sqlite_stmt_done(f->st[i]);
}

/* The first 64 bits of the SHA-256 of the four columns (each with its NUL). */
static sqlite3_int64 sqlite_fts_hash(const struct fts_doc *doc)
{
    struct sha256_ctx *h = sha256_new();
    char hex[SHA256_HEX_SIZE];

    for (int i = 0; i < FTS_COLUMNS; i++)
        sha256_update(h, doc->col[i].data, doc->col[i].len + 1);
    sha256_final_hex(h, hex);
    hex[16] = '\0';
    return (sqlite3_int64)strtoull(hex, NULL, 16);
}

/* What the document of message id is built from, now: rec (subject,
 * envelope sender, recipients up to rowid rcpt_max, or all when < 0,
 * header addresses); *hash_r / *rcpts_r: what messages holds (*indexed_r
 * 0 when it is not in message_fts). 1 found, 0 no such message, -1. */
static int sqlite_fts_rows(struct sqlite_fts *f, sqlite3_int64 id, sqlite3_int64 rcpt_max,
                           struct archive_record *rec, sqlite3_int64 *hash_r,
                           sqlite3_int64 *rcpts_r, int *indexed_r)
{
    sqlite3_stmt *st = f->st[FS_MESSAGE];
    int rc;

    memset(rec, 0, sizeof(*rec));
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite_stmt_done(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    rec->subject = sqlite_column_dup(st, 0);
    rec->envelope_from = sqlite_column_dup(st, 1);
    *indexed_r = sqlite3_column_type(st, 2) != SQLITE_NULL;
    *hash_r = sqlite3_column_int64(st, 2);
    *rcpts_r = sqlite3_column_int64(st, 3);
    sqlite_stmt_done(st);
    if (rcpt_max < 0)
        rcpt_max = INT64_MAX;
    else if (rcpt_max == 0)
        rcpt_max = *rcpts_r;

    st = f->st[FS_RCPTS];
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, rcpt_max) != SQLITE_OK)
        goto fail;
    *rcpts_r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *rcpts_r = sqlite3_column_int64(st, 0);
        record_add_rcpt(rec, (const char *)sqlite3_column_text(st, 1), NULL, NULL, NULL);
    }
    sqlite_stmt_done(st);
    if (rc != SQLITE_DONE)
        goto fail;

    st = f->st[FS_ADDRS];
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        goto fail;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct record_addrs *a = record_addrs_field(rec, (const char *)sqlite3_column_text(st, 0));
        if (a != NULL)
            record_addrs_add(a, (const char *)sqlite3_column_text(st, 1),
                             (const char *)sqlite3_column_text(st, 2));
    }
    sqlite_stmt_done(st);
    if (rc != SQLITE_DONE)
        goto fail;
    return 1;
fail:
    record_free(rec);
    return -1;
}

/* Bind the document's columns to st as ?2..?5. */
static int sqlite_fts_bind_doc(sqlite3_stmt *st, sqlite3_int64 id, const struct fts_doc *doc)
{
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        return -1;
    for (int i = 0; i < FTS_COLUMNS; i++)
        if (sqlite3_bind_text(st, i + 2, doc->col[i].data, (int)doc->col[i].len, SQLITE_STATIC) !=
            SQLITE_OK)
            return -1;
    return 0;
}

static int sqlite_fts_is_stale(struct sqlite_fts *f, sqlite3_int64 id)
{
    sqlite3_stmt *st = f->st[FS_IS_STALE];
    int rc;

    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    sqlite_stmt_done(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_fts_index(struct sqlite_fts *f, sqlite3_int64 id, const char *body)
{
    struct archive_record rec;
    struct fts_doc doc;
    sqlite3_int64 hash, rcpts;
    int indexed = 0, found, stale, ret = -1;

    found = sqlite_fts_rows(f, id, -1, &rec, &hash, &rcpts, &indexed);
    if (found <= 0)
        return found; /* expired meanwhile: nothing to index */
    stale = sqlite_fts_is_stale(f, id);
    if (stale < 0)
        goto out;
    /* Indexed already (twice would mix two documents under one rowid), or
     * stale: its old words are still under its rowid; a rebuild fixes it. */
    if (indexed || stale) {
        ret = 0;
        goto out;
    }
    rec.body_text = body != NULL ? xstrdup(body) : NULL;
    fts_doc_build(&doc, &rec);
    hash = sqlite_fts_hash(&doc);
    if (sqlite_fts_bind_doc(f->st[FS_INSERT], id, &doc) == 0 &&
        sqlite_exec_stmt(f->st[FS_INSERT]) == 0 &&
        sqlite3_bind_int64(f->st[FS_SET_HASH], 1, id) == SQLITE_OK &&
        sqlite3_bind_int64(f->st[FS_SET_HASH], 2, hash) == SQLITE_OK &&
        sqlite3_bind_int64(f->st[FS_SET_HASH], 3, rcpts) == SQLITE_OK &&
        sqlite_exec_stmt(f->st[FS_SET_HASH]) == 0)
        ret = 0;
    fts_doc_free(&doc);
out:
    if (ret < 0)
        sqlite_fts_reset(f);
    record_free(&rec);
    return ret;
}

/* The body text of message id read again from its first stored copy;
 * NULL (with *why_r) when it cannot be read. */
static char *sqlite_fts_body(struct sqlite_fts *f, sqlite3_int64 id, catalog_text_fn *text_fn,
                             void *text_ctx, const char **why_r, int *db_error_r)
{
    sqlite3_stmt *st = f->st[FS_FIRST_COPY];
    struct archive_record text;
    char *store = NULL, *location = NULL, *body = NULL;
    const char *err = NULL;
    int rc;

    *db_error_r = 0;
    if (text_fn == NULL) {
        *why_r = "no text source to read its stored copy";
        return NULL;
    }
    if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK) {
        *db_error_r = 1;
        return NULL;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store = sqlite_column_dup(st, 0);
        location = sqlite_column_dup(st, 1);
    }
    sqlite_stmt_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        *db_error_r = 1;
        return NULL;
    }
    if (store == NULL || location == NULL) {
        *why_r = "it has no stored copy";
    } else {
        memset(&text, 0, sizeof(text));
        if (text_fn(text_ctx, store, location, &text, &err) == TAB_OK) {
            body = text.body_text != NULL ? text.body_text : xstrdup("");
            text.body_text = NULL;
        } else {
            *why_r = "its stored copy cannot be read";
            log_info("message %lld: %s", (long long)id, err ? err : "stored copy unreadable");
        }
        record_free(&text);
    }
    free(store);
    free(location);
    return body;
}

int sqlite_fts_document(struct sqlite_fts *f, sqlite3_int64 id, const char *body,
                        struct fts_doc *doc_r, sqlite3_int64 *hash_r, sqlite3_int64 *rcpts_r)
{
    struct archive_record rec;
    sqlite3_int64 hash;
    int indexed, found;

    found = sqlite_fts_rows(f, id, -1, &rec, &hash, rcpts_r, &indexed);
    if (found <= 0) {
        if (found < 0)
            sqlite_fts_reset(f);
        return found;
    }
    rec.body_text = body != NULL ? xstrdup(body) : NULL;
    fts_doc_build(doc_r, &rec);
    *hash_r = sqlite_fts_hash(doc_r);
    record_free(&rec);
    return 1;
}

/* Delete doc of message id when its hash is hash: 1 deleted, 0 not this one. */
static int sqlite_fts_delete_if(struct sqlite_fts *f, sqlite3_int64 id, struct archive_record *rec,
                                const char *body, sqlite3_int64 hash)
{
    struct fts_doc doc;
    int ret = 0;

    free(rec->body_text);
    rec->body_text = body != NULL ? xstrdup(body) : NULL;
    fts_doc_build(&doc, rec);
    if (sqlite_fts_hash(&doc) == hash) {
        ret = sqlite_fts_bind_doc(f->st[FS_DELETE], id, &doc) == 0 &&
                      sqlite_exec_stmt(f->st[FS_DELETE]) == 0
                  ? 1
                  : -1;
    }
    fts_doc_free(&doc);
    return ret;
}

int sqlite_fts_remove(struct sqlite_fts *f, sqlite3_int64 id, const char *body_hint,
                      catalog_text_fn *text_fn, void *text_ctx)
{
    struct archive_record rec;
    sqlite3_int64 hash = 0, rcpts = 0;
    const char *why = "its text reads differently now";
    char *body = NULL, noted[21];
    int indexed = 0, found, deleted, db_error = 0, ret = -1;

    found = sqlite_fts_rows(f, id, 0, &rec, &hash, &rcpts, &indexed);
    if (found <= 0)
        return found;
    if (!indexed) { /* pending, or stale already */
        record_free(&rec);
        return 0;
    }
    deleted = sqlite_fts_delete_if(f, id, &rec, NULL, hash);
    if (deleted == 0 && body_hint != NULL)
        deleted = sqlite_fts_delete_if(f, id, &rec, body_hint, hash);
    if (deleted == 0) {
        body = sqlite_fts_body(f, id, text_fn, text_ctx, &why, &db_error);
        if (db_error)
            goto out;
        if (body != NULL)
            deleted = sqlite_fts_delete_if(f, id, &rec, body, hash);
    }
    if (deleted < 0)
        goto out;
    if (deleted == 0) {
        sqlite3_stmt *st = f->st[FS_STALE];
        record_format_time(time(NULL), noted);
        log_warn("message %lld: its words stay in the full-text index, excluded from matches"
                 " until an index rebuild: %s",
                 (long long)id, why);
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK ||
            sqlite3_bind_text(st, 2, noted, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite3_bind_text(st, 3, why, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            goto out;
    }
    {
        sqlite3_stmt *st = f->st[FS_SET_HASH];
        if (sqlite3_bind_int64(st, 1, id) != SQLITE_OK || sqlite3_bind_null(st, 2) != SQLITE_OK ||
            sqlite3_bind_null(st, 3) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            goto out;
    }
    ret = 0;
out:
    if (ret < 0)
        sqlite_fts_reset(f);
    free(body);
    record_free(&rec);
    return ret;
}

/*
 * Schema step 8 on a catalog of version 7: index every message that
 * message_text holds (its body text is there) in message_fts, then drop
 * message_text. Messages still in text_pending stay there. Inside the
 * upgrade transaction. -1: see sqlite3_errmsg.
 */
int sqlite_fts_upgrade(sqlite3 *db)
{
    struct sqlite_fts *f = sqlite_fts_open(db);
    sqlite3_stmt *rows = NULL;
    int rc, ret = -1;

    if (f == NULL)
        return -1;
    if (sqlite3_prepare_v2(db,
                           "SELECT t.rowid, t.body FROM message_text t"
                           " WHERE t.rowid IN (SELECT id FROM messages)"
                           " AND t.rowid NOT IN (SELECT message FROM text_pending)"
                           " ORDER BY t.rowid",
                           -1, &rows, NULL) != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW)
        if (sqlite_fts_index(f, sqlite3_column_int64(rows, 0),
                             (const char *)sqlite3_column_text(rows, 1)) < 0)
            goto out;
    if (rc != SQLITE_DONE)
        goto out;
    (void)sqlite3_finalize(rows);
    rows = NULL;
    if (sqlite3_exec(db, "DROP TABLE message_text", NULL, NULL, NULL) != SQLITE_OK)
        goto out;
    ret = 0;
out:
    (void)sqlite3_finalize(rows);
    sqlite_fts_close(f);
    return ret;
}

enum tab_result sqlite_index_health(struct catalog *cat, int64_t *pending_r, int64_t *stale_r,
                                    const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);

    if (sqlite_count(sc, "SELECT count(*) FROM text_pending", pending_r) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM fts_stale s JOIN messages m ON m.id = s.message",
                     stale_r) < 0)
        return sqlite_fail_db(sc, error_r, "index health");
    return TAB_OK;
}

/*
 * expire removes the stored copies first and the rows after: take the
 * document out now, while the copy can be read, and queue the message
 * to be indexed again (from the store), which expire_remove() undoes
 * when the expiry goes through. An indexer that indexes it again in
 * between makes it stale at expiry, never corrupt.
 */
enum tab_result sqlite_unindex(struct catalog *cat, const char *archive_id, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = NULL;
    sqlite3_int64 id = 0;
    int rc, indexed = 0;

    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "unindex", error_r);
    if (sqlite_prepare_text(sc,
                            "SELECT id, fts_hash IS NOT NULL FROM messages WHERE archive_id = ?1"
                            " UNION ALL SELECT m.id, m.fts_hash IS NOT NULL FROM copies c"
                            " JOIN messages m ON m.id = c.message WHERE c.archive_id = ?1 LIMIT 1",
                            archive_id, &st) < 0)
        return sqlite_write_fail(sc, "unindex", error_r);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        indexed = sqlite3_column_int(st, 1);
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_write_fail(sc, "unindex", error_r);
    if (!indexed) { /* unknown, pending or stale: nothing to take out */
        sqlite_rollback(sc);
        return TAB_OK;
    }
    if (sqlite_fts_remove(sc->fts, id, NULL, sc->text_fn, sc->text_ctx) < 0)
        return sqlite_write_fail(sc, "unindex", error_r);
    if (sqlite3_prepare_v2(sc->db,
                           "INSERT OR IGNORE INTO text_pending (message, subject, body, from_store)"
                           " SELECT ?1, NULL, NULL, 1 WHERE NOT EXISTS"
                           " (SELECT 1 FROM fts_stale WHERE message = ?1)",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, id) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "unindex", error_r);
    }
    (void)sqlite3_finalize(st);
    return sqlite_commit(sc, "unindex", error_r);
}
