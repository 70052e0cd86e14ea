/*
 * NAME
 *	sqlite_ingest 3
 * SUMMARY
 *	SQLite catalog driver: what deliveries write
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns known_recipients(), add(), add_batch(), reindex() and
 *	forward_status(): the rows of a stored copy, its message,
 *	recipients, header addresses, attachments and pending text.
 *
 *	Full text is indexed after the delivery, not in it: add() stores
 *	the subject and body text in text_pending (plain rows, durable with
 *	the rest of the transaction) -- or, for a record with index_later
 *	(the daemon's workers), only the subject and from_store = 1 --, and
 *	the indexer moves them into the FTS5 table message_fts later
 *	(sqlite_indexer.c, sqlite_fts.c). Every address is stored once, in
 *	addresses with its reversed domain (tab_rdomain()), and the rows
 *	refer to it by id (schema version 11).
 *
 *	add_batch() is add() for several copies in one transaction (each in
 *	a savepoint, one COMMIT and one WAL sync): the daemon's catalog
 *	writer (catalog_writer/catalog_writer.c) commits what its workers sent
 *	together.
 *
 *	Every add() ends by appending its copy to the tamper-evident chain
 *	(docs/integrity.md): it reads chain_head, hashes the copy's link
 *	(catalog_chain_hash) over the values as stored, writes seq,
 *	prev_hash and hash into the copy and moves the head, all inside the
 *	same BEGIN IMMEDIATE transaction, so concurrent workers write one
 *	chain in commit order.
 *
 *	messages.index_status marks a message archived with its envelope
 *	only (degraded); reindex() replaces its header fields, text and
 *	attachments later, in one write transaction, never touching what
 *	the chain covers.
 * DIAGNOSTICS
 *	A failure of add(), add_batch() (per copy, in its savepoint) or
 *	reindex() that the row's content causes, and would cause again (a
 *	constraint, SQLITE_TOOBIG, a type mismatch), is TAB_PERM: delivery
 *	then stores the copy with a degraded record instead of answering
 *	451 forever. Every other failure is TAB_RETRY. reindex() of an
 *	unknown archive id is TAB_PERM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/strlist.h"

enum tab_result sqlite_known_recipients(struct catalog *cat, const char *queue_id,
                                        const char *sha256, const char *message_id,
                                        struct strlist *rcpts_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = sc->st[ST_KNOWN_RCPTS];
    enum tab_result r = TAB_OK;
    int rc;

    if (queue_id == NULL || *queue_id == '\0') {
        if (message_id == NULL || *message_id == '\0')
            return TAB_OK;
        queue_id = message_id;
        st = sc->st[ST_KNOWN_RCPTS_BY_MSGID];
    }
    if (sqlite_bind_text(st, 1, queue_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, sha256) != SQLITE_OK) {
        r = sqlite_fail_db(sc, error_r, "known recipients");
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *address = sqlite3_column_text(st, 0);
        if (address == NULL) { /* NOT NULL column: only out of memory gets here */
            r = sqlite_fail(sc, TAB_RETRY, error_r, "known recipients: %s",
                            sqlite3_errstr(SQLITE_NOMEM));
            goto out;
        }
        strlist_add(rcpts_r, (const char *)address);
    }
    if (rc != SQLITE_DONE)
        r = sqlite_fail_db(sc, error_r, "known recipients");
    /* "Already archived" must mean durable too, also after a failed sync. */
    if (r == TAB_OK && rcpts_r->n > 0 && sc->wal_pending && sqlite_sync_wal(sc) < 0)
        r = sqlite_fail(sc, TAB_RETRY, error_r, "sync %s: %s", sc->wal_path, strerror(errno));
out:
    sqlite_stmt_done(st);
    return r;
}

/* The row of address in addresses, added unless it is there (schema
 * version 11: the statements that refer to an address look its id up).
 * NULL: nothing to do. -1: see sqlite3_errmsg. */
static int sqlite_insert_address(struct sqlite_catalog *sc, const char *address)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_ADDRESS];

    if (address == NULL)
        return 0;
    if (sqlite_bind_text(st, 1, address) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    return 0;
}

static int sqlite_insert_addrs(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                               const char *field, const struct record_addrs *a)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_ADDR];

    for (size_t i = 0; i < a->n; i++) {
        if (sqlite_insert_address(sc, a->v[i].address) < 0 ||
            sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, field) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite_bind_text(st, 4, a->v[i].name) != SQLITE_OK ||
            sqlite_bind_text(st, 5, a->v[i].address) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            return -1;
    }
    return 0;
}

/* The From, To and Cc addresses of rec. */
static int sqlite_insert_header(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                                const struct archive_record *rec)
{
    if (sqlite_insert_addrs(sc, message_id, "from", &rec->hdr_from) < 0 ||
        sqlite_insert_addrs(sc, message_id, "to", &rec->hdr_to) < 0 ||
        sqlite_insert_addrs(sc, message_id, "cc", &rec->hdr_cc) < 0)
        return -1;
    return 0;
}

/* rec's subject and body for the indexer (text_pending); with
 * index_later, the indexer reads the text from the stored copy. */
static int sqlite_insert_text(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                              const struct archive_record *rec, const char *body)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_TEXT];

    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, rec->subject) != SQLITE_OK ||
        sqlite_bind_text(st, 3, body) != SQLITE_OK ||
        sqlite3_bind_int(st, 4, rec->index_later ? 1 : 0) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    return 0;
}

int sqlite_insert_attachments(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                              const struct archive_record *rec)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_ATTACHMENT];

    for (size_t i = 0; i < rec->n_attachments; i++) {
        const struct record_attachment *a = &rec->attachments[i];
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite_bind_text(st, 3, a->filename) != SQLITE_OK ||
            sqlite_bind_text(st, 4,
                             a->content_type ? a->content_type : "application/octet-stream") !=
                SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            return -1;
    }
    return 0;
}

/*
 * Make link (filled but for seq and hashes) the new head of the chain:
 * read the head, hash, write seq/prev_hash/hash into copy copy_id, move
 * the head. Inside the caller's write transaction. -1: see sqlite3_errmsg.
 */
static int sqlite_chain_append(struct sqlite_catalog *sc, sqlite3_int64 copy_id,
                               struct chain_link *link)
{
    sqlite3_stmt *st = sc->st[ST_CHAIN_HEAD];

    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite_stmt_done(st);
        return -1;
    }
    link->seq = sqlite3_column_int64(st, 0) + 1;
    sqlite_column_copy(st, 1, link->prev_hash, sizeof(link->prev_hash));
    sqlite_stmt_done(st);
    catalog_chain_hash(link, link->hash);

    st = sc->st[ST_CHAIN_LINK_COPY];
    if (sqlite3_bind_int64(st, 1, link->seq) != SQLITE_OK ||
        sqlite_bind_text(st, 2, link->prev_hash) != SQLITE_OK ||
        sqlite_bind_text(st, 3, link->hash) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, copy_id) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    st = sc->st[ST_CHAIN_SET_HEAD];
    if (sqlite3_bind_int64(st, 1, link->seq) != SQLITE_OK ||
        sqlite_bind_text(st, 2, link->hash) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    return 0;
}

/* The rows of one stored copy, inside the caller's write transaction. On
 * failure the statements are reset and the caller rolls back. */
static enum tab_result sqlite_add_rows(struct sqlite_catalog *sc,
                                       const struct archive_record *given, const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    const char *queue_id = rec->queue_id ? rec->queue_id : "";
    const char *what = "find message";
    sqlite3_stmt *st;
    sqlite3_int64 message_id = 0, copy_id;
    char arrival[21], stored[21], retain_until[21];
    struct chain_link link;
    int created = 0, rc;
    enum tab_result r = TAB_OK;
    char *note;

    if (rec->store == NULL || rec->location == NULL)
        return sqlite_fail(sc, TAB_PERM, error_r, "add %s: record has no store location",
                           rec->archive_id);
    if (rec->size > INT64_MAX || rec->wrapped_size > INT64_MAX)
        return sqlite_fail(sc, TAB_PERM, error_r, "add %s: size out of range", rec->archive_id);
    record_format_time(rec->arrival, arrival);
    record_format_time(time(NULL), stored);
    record_format_time(rec->retain_until, retain_until);
    note = catalog_index_note(rec);

    /* The chain link of this copy, with the values as stored. */
    memset(&link, 0, sizeof(link));
    snprintf(link.archive_id, sizeof(link.archive_id), "%s", rec->archive_id);
    link.arrival = rec->arrival;
    link.queue_id = xstrdup(queue_id);
    link.envelope_from = xstrdup(rec->envelope_from ? rec->envelope_from : "");
    snprintf(link.sha256, sizeof(link.sha256), "%s", rec->sha256);
    link.size = rec->size;
    snprintf(link.wrapped_sha256, sizeof(link.wrapped_sha256), "%s", rec->wrapped_sha256);
    link.wrapped_size = rec->wrapped_size;
    link.store = xstrdup(rec->store);
    link.location = xstrdup(rec->location);
    link.retain_until = rec->retain_until;

    if (*queue_id != '\0' || (rec->message_id != NULL && *rec->message_id != '\0')) {
        st = sc->st[*queue_id != '\0' ? ST_FIND_MESSAGE : ST_FIND_MESSAGE_BY_MSGID];
        if (sqlite_bind_text(st, 1, *queue_id != '\0' ? queue_id : rec->message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, rec->sha256) != SQLITE_OK)
            goto db_error;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            /* The chain records the message as stored by its first copy. */
            message_id = sqlite3_column_int64(st, 0);
            free(link.envelope_from);
            link.envelope_from = sqlite_column_dup(st, 1);
            if (link.envelope_from == NULL)
                link.envelope_from = xstrdup("");
            link.size = (uint64_t)sqlite3_column_int64(st, 2);
        } else if (rc != SQLITE_DONE) {
            goto db_error;
        }
        sqlite_stmt_done(st);
    }

    if (message_id == 0) {
        what = "insert message";
        st = sc->st[ST_INSERT_MESSAGE];
        if (sqlite_insert_address(sc, rec->envelope_from ? rec->envelope_from : "") < 0 ||
            sqlite_bind_text(st, 1, rec->archive_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, queue_id) != SQLITE_OK ||
            sqlite_bind_text(st, 3, rec->sha256) != SQLITE_OK ||
            sqlite_bind_text(st, 4, rec->message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 5, rec->envelope_from ? rec->envelope_from : "") != SQLITE_OK ||
            sqlite_bind_text(st, 6,
                             rec->envelope_status ? rec->envelope_status : ENVELOPE_INCOMPLETE) !=
                SQLITE_OK ||
            sqlite_bind_text(st, 7, rec->date) != SQLITE_OK ||
            sqlite_bind_text(st, 8, rec->date_raw) != SQLITE_OK ||
            sqlite_bind_text(st, 9, rec->subject) != SQLITE_OK ||
            sqlite_bind_text(st, 10, rec->subject_raw) != SQLITE_OK ||
            sqlite_bind_text(st, 11, arrival) != SQLITE_OK ||
            sqlite3_bind_int64(st, 12, (sqlite3_int64)rec->size) != SQLITE_OK ||
            sqlite_bind_text(st, 13, rec->mail_params) != SQLITE_OK ||
            sqlite_bind_text(st, 14, rec->xforward) != SQLITE_OK ||
            sqlite_bind_text(st, 15, catalog_index_status(rec)) != SQLITE_OK ||
            sqlite3_bind_text(st, 16, note, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            goto db_error;
        message_id = sqlite3_last_insert_rowid(sc->db);
        created = 1;
    }

    what = "insert copy";
    st = sc->st[ST_INSERT_COPY];
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, rec->archive_id) != SQLITE_OK ||
        sqlite_bind_text(st, 3, rec->store) != SQLITE_OK ||
        sqlite_bind_text(st, 4, rec->location) != SQLITE_OK ||
        sqlite_bind_text(st, 5, rec->wrapped_sha256) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, (sqlite3_int64)rec->wrapped_size) != SQLITE_OK ||
        sqlite_bind_text(st, 7, stored) != SQLITE_OK ||
        sqlite_bind_text(st, 8, arrival) != SQLITE_OK ||
        sqlite_bind_text(st, 9, rec->retain_until ? retain_until : NULL) != SQLITE_OK ||
        sqlite_exec_stmt(st) < 0)
        goto db_error;
    copy_id = sqlite3_last_insert_rowid(sc->db);

    what = "insert recipient";
    st = sc->st[ST_INSERT_RCPT];
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct record_rcpt *rcpt = &rec->rcpts[i];
        if (sqlite_insert_address(sc, rcpt->address ? rcpt->address : "") < 0 ||
            sqlite_insert_address(sc, rcpt->archive_rcpt) < 0 ||
            sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, rcpt->address ? rcpt->address : "") != SQLITE_OK ||
            sqlite_bind_text(st, 3, rcpt->archive_rcpt) != SQLITE_OK ||
            sqlite_bind_text(st, 4, rcpt->orcpt) != SQLITE_OK ||
            sqlite_bind_text(st, 5, rcpt->notify) != SQLITE_OK ||
            sqlite3_bind_int64(st, 6, copy_id) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            goto db_error;
        /* The rows this copy added are the ones its link covers. */
        if (sqlite3_changes(sc->db) > 0)
            strlist_add(&link.rcpts, rcpt->address ? rcpt->address : "");
    }

    /* New recipients of an indexed message: index it again, so that the
     * words of its recipients column cover them (from the stored copy,
     * or this record's text: the same bytes). */
    what = "queue for the full-text index";
    if (!created && link.rcpts.n > 0) {
        st = sc->st[ST_REFRESH_TEXT];
        int from_store = rec->index_later || rec->body_text == NULL;
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, from_store ? NULL : rec->body_text) != SQLITE_OK ||
            sqlite3_bind_int(st, 3, from_store) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            goto db_error;
    }

    /* The first transaction's header is the message's header: a retried
     * transaction carries the same bytes (same SHA-256). */
    if (created) {
        what = "insert header address";
        if (sqlite_insert_header(sc, message_id, rec) < 0)
            goto db_error;
        what = "insert text";
        if (sqlite_insert_text(sc, message_id, rec, rec->body_text) < 0)
            goto db_error;
        what = "insert attachment";
        if (sqlite_insert_attachments(sc, message_id, rec) < 0)
            goto db_error;
    }

    /* Last, so the chain is in commit order: BEGIN IMMEDIATE already
     * serialises writers, one head row read and two row updates. */
    what = "chain";
    if (sqlite_chain_append(sc, copy_id, &link) < 0)
        goto db_error;

    catalog_chain_link_free(&link);
    free(note);
    return TAB_OK;

db_error:
    r = sqlite_fail(sc, sqlite_classify(sqlite3_extended_errcode(sc->db)), error_r,
                    "add %s: %s: %s", rec->archive_id, what, sqlite3_errmsg(sc->db));
    sqlite_stmts_reset(sc);
    catalog_chain_link_free(&link);
    free(note);
    return r;
}

/*
 * Group commit: every record in its own savepoint (one that fails is rolled
 * back alone and the others stay), then one COMMIT and one WAL sync for
 * all of them. A failed BEGIN, COMMIT or sync fails every record.
 */
enum tab_result sqlite_add_batch(struct catalog *cat, const struct archive_record *const *recs,
                                 size_t n, enum tab_result *results, char **errors,
                                 const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    enum tab_result r = TAB_OK;
    size_t added = 0;

    for (size_t i = 0; i < n; i++) {
        results[i] = TAB_RETRY;
        errors[i] = NULL;
    }
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0) {
        r = sqlite_fail_db(sc, error_r, "add: begin");
        sqlite_stmt_done(sc->st[ST_BEGIN]);
        goto fail_all;
    }
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        if (sqlite_exec_stmt(sc->st[ST_SAVEPOINT]) < 0) {
            r = sqlite_fail_db(sc, error_r, "add: savepoint");
            sqlite_stmt_done(sc->st[ST_SAVEPOINT]);
            sqlite_rollback(sc);
            goto fail_all;
        }
        results[i] = sqlite_add_rows(sc, recs[i], &err);
        if (results[i] == TAB_OK) {
            if (sqlite_exec_stmt(sc->st[ST_RELEASE]) < 0) {
                r = sqlite_fail_db(sc, error_r, "add: release");
                sqlite_stmt_done(sc->st[ST_RELEASE]);
                sqlite_rollback(sc);
                goto fail_all;
            }
            added++;
            continue;
        }
        errors[i] = xstrdup(err);
        /* ROLLBACK TO keeps the transaction (and the savepoint) open. */
        if (sqlite3_get_autocommit(sc->db) || sqlite_exec_stmt(sc->st[ST_ROLLBACK_TO]) < 0 ||
            sqlite_exec_stmt(sc->st[ST_RELEASE]) < 0) {
            r = sqlite_fail(sc, TAB_RETRY, error_r, "add: the transaction was lost after %s",
                            errors[i]);
            sqlite_stmt_done(sc->st[ST_ROLLBACK_TO]);
            sqlite_stmt_done(sc->st[ST_RELEASE]);
            sqlite_rollback(sc);
            goto fail_all;
        }
    }
    if (added == 0) {
        sqlite_rollback(sc);
        return TAB_OK;
    }
    if (sqlite_exec_stmt(sc->st[ST_COMMIT]) < 0) {
        r = sqlite_fail_db(sc, error_r, "add: commit");
        sqlite_stmt_done(sc->st[ST_COMMIT]);
        sqlite_rollback(sc);
        goto fail_all;
    }
    if (sqlite_sync_wal(sc) < 0) {
        r = sqlite_fail(sc, TAB_RETRY, error_r, "add: sync %s: %s", sc->wal_path, strerror(errno));
        goto fail_all;
    }
    return TAB_OK;

fail_all:
    for (size_t i = 0; i < n; i++) {
        free(errors[i]);
        errors[i] = xstrdup(*error_r);
        results[i] = r == TAB_OK ? TAB_RETRY : r;
    }
    return r == TAB_OK ? TAB_RETRY : r;
}

enum tab_result sqlite_add(struct catalog *cat, const struct archive_record *rec,
                           const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    enum tab_result result;
    char *error = NULL;

    (void)sqlite_add_batch(cat, &rec, 1, &result, &error, error_r);
    if (result != TAB_OK) {
        free(sc->error);
        sc->error = error;
        *error_r = sc->error;
        return result;
    }
    free(error);
    return TAB_OK;
}

/* One statement in autocommit mode: a status is never part of an add(). */
enum tab_result sqlite_forward_status(struct catalog *cat, const char *archive_id,
                                      const char *status, const char *detail, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = sc->st[ST_FORWARD_STATUS];
    char updated[21];
    enum tab_result r;

    record_format_time(time(NULL), updated);
    if (sqlite_bind_text(st, 1, archive_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, status) != SQLITE_OK ||
        sqlite_bind_text(st, 3, detail) != SQLITE_OK ||
        sqlite_bind_text(st, 4, updated) != SQLITE_OK || sqlite_exec_stmt(st) < 0) {
        r = sqlite_fail(sc, TAB_RETRY, error_r, "forward status %s: %s", archive_id,
                        sqlite3_errmsg(sc->db));
        sqlite_stmt_done(st);
        return r;
    }
    if (sqlite_sync_wal(sc) < 0)
        return sqlite_fail(sc, TAB_RETRY, error_r, "forward status %s: sync %s: %s", archive_id,
                           sc->wal_path, strerror(errno));
    return TAB_OK;
}

/* Run sql with ?1 = id and text parameters ?2... (NULL: SQL NULL) to
 * completion. -1: see sqlite3_errcode / errmsg (kept past finalize). */
static int sqlite_exec_id(struct sqlite_catalog *sc, const char *sql, sqlite3_int64 id, int n,
                          const char *const *values)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_bind_int64(st, 1, id);
    for (int i = 0; rc == SQLITE_OK && i < n; i++)
        rc = sqlite_bind_text(st, i + 2, values[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Replace the header index fields, text and attachments of one message
 * and its index status, in one write transaction. The chain covers none
 * of this (catalog_chain_encode: envelope, recipients, hashes, sizes,
 * store, location, retention), so every link stays valid. The text goes
 * through text_pending as in add(): the FTS5 row of the old text is
 * deleted here (exactly, or the message is marked stale: sqlite_fts.c),
 * and the indexer (or the next --text search) indexes the
 * new one; with index_later, it also reads the attachments from the
 * stored copy.
 */
enum tab_result sqlite_reindex(struct catalog *cat, const struct archive_record *given,
                               const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    sqlite3_int64 message_id = 0;
    const char *what = "begin";
    char *note = catalog_index_note(rec);
    enum tab_result r;
    int rc;

    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        goto db_error;
    what = "find message";
    for (int i = 0; i < 2 && message_id == 0; i++) {
        st = sc->st[i == 0 ? ST_MESSAGE_BY_ARCHIVE_ID : ST_COPY_BY_ARCHIVE_ID];
        if (sqlite_bind_text(st, 1, rec->archive_id) != SQLITE_OK)
            goto db_error;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            message_id = sqlite3_column_int64(st, i == 0 ? 0 : 1);
        else if (rc != SQLITE_DONE)
            goto db_error;
        sqlite_stmt_done(st);
    }
    if (message_id == 0) {
        sqlite_rollback(sc);
        free(note);
        return sqlite_fail(sc, TAB_PERM, error_r, "reindex: archive id %s not found",
                           rec->archive_id);
    }
    /* Before the rows change: the old document is rebuilt from them. */
    what = "remove the full-text entry";
    if (sqlite_fts_remove(sc->fts, message_id, NULL, sc->text_fn, sc->text_ctx) < 0)
        goto db_error;
    what = "update message";
    {
        const char *values[7] = {
            rec->message_id,           rec->date, rec->date_raw, rec->subject, rec->subject_raw,
            catalog_index_status(rec), note};
        if (sqlite_exec_id(sc,
                           "UPDATE messages SET message_id = ?2, date = ?3, date_raw = ?4,"
                           " subject = ?5, subject_raw = ?6, index_status = ?7, index_note = ?8"
                           " WHERE id = ?1",
                           message_id, 7, values) < 0)
            goto db_error;
    }
    what = "delete old index rows";
    if (sqlite_exec_id(sc, "DELETE FROM header_address_rows WHERE message = ?1", message_id, 0,
                       NULL) < 0 ||
        sqlite_exec_id(sc, "DELETE FROM attachments WHERE message = ?1", message_id, 0, NULL) < 0 ||
        sqlite_exec_id(sc, "DELETE FROM text_pending WHERE message = ?1", message_id, 0, NULL) < 0)
        goto db_error;
    what = "insert header address";
    if (sqlite_insert_header(sc, message_id, rec) < 0)
        goto db_error;
    what = "insert text";
    if (sqlite_insert_text(sc, message_id, rec, rec->index_later ? NULL : rec->body_text) < 0)
        goto db_error;
    what = "insert attachment";
    if (!rec->index_later && sqlite_insert_attachments(sc, message_id, rec) < 0)
        goto db_error;
    free(note);
    return sqlite_commit(sc, "reindex: commit", error_r);

db_error:
    r = sqlite_fail(sc, sqlite_classify(sqlite3_extended_errcode(sc->db)), error_r,
                    "reindex %s: %s: %s", rec->archive_id, what, sqlite3_errmsg(sc->db));
    sqlite_stmts_reset(sc);
    sqlite_rollback(sc);
    free(note);
    return r;
}
