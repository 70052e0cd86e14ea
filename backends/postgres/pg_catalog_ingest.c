/*
 * NAME
 *	pg_catalog_ingest 3
 * SUMMARY
 *	PostgreSQL catalog driver: what deliveries write
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns known_recipients(), add(), reindex() and forward_status(). A
 *	message is keyed on (queue id, SHA-256), or (Message-ID, SHA-256)
 *	when the queue id is unknown; a later transaction of the same
 *	message adds a copy and its new recipients. Finding or creating the
 *	message runs under a transaction-scoped advisory lock on that key,
 *	so two workers that receive parts of one message at the same moment
 *	merge instead of racing.
 *
 *	add() either continues the transaction that the pgsql store opened
 *	for this copy on the same connection (pg_conn_take_over) or opens
 *	its own, and commits. When a pgsql store shares the connection but
 *	its transaction for the copy is gone (the connection broke in
 *	between), add() refuses: index rows must never point at bytes that
 *	were rolled back.
 *
 *	add() ends by appending the copy to the tamper-evident chain
 *	(docs/integrity.md) in one statement: lock chain_head FOR UPDATE,
 *	hash the link in PostgreSQL (sha256() over the encoding's first
 *	lines, built from the head, and the tail tabularium encoded from the
 *	values as stored), write seq/prev_hash/hash into the copy, move the
 *	head; add() recomputes the hash and refuses a mismatch. The row lock
 *	is taken last and held only until the commit, so concurrent workers
 *	queue there briefly and write one chain in commit order; one round
 *	trip inside the lock instead of three roughly doubled the 4 KiB
 *	throughput with connection reuse (bench/README.md). Needs
 *	PostgreSQL 11 or later (sha256()).
 *
 *	The message row carries its search words (fts, addr_fts: pg_fts.h,
 *	folded here from the record, no copy of the body text) and every
 *	address its reversed domain; a later copy that adds recipients
 *	rewrites addr_fts. A message with an attachment that may hold text
 *	is queued in attachment_text_pending in the same transaction, for
 *	the indexer (pg_attach_text.c). messages.index_status marks a message archived
 *	with its envelope only (degraded); reindex() replaces its header
 *	fields, words and attachments in one transaction, never touching
 *	what the chain covers.
 * DIAGNOSTICS
 *	TAB_RETRY after ROLLBACK, except in add() and reindex() when the
 *	server refused the record's values (pg_conn_content_error: SQLSTATE
 *	class 22, 23 or 54), which would fail the same way again: TAB_PERM.
 *	When add() continues the pgsql store's transaction, its rows are in a
 *	savepoint: a refused record is rolled back alone and the store's
 *	transaction stays open for a second add() of the same copy (with a
 *	degraded record). reindex() of an unknown archive id is TAB_PERM.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/fts.h"
#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_fts.h"
#include "common/strlist.h"

/* The reversed domain of address as stored (pg_fts_rdomain()), in arena. */
static const char *pg_catalog_rdomain(struct strlist *arena, const char *address)
{
    char *rd = pg_fts_rdomain(address, 0);
    const char *kept;

    if (rd == NULL)
        return NULL;
    kept = pg_catalog_printf(arena, "%s", rd);
    free(rd);
    return kept;
}

/* messages.fts and addr_fts of rec (pg_fts.h), as tsvector text in arena. */
static void pg_catalog_vectors(struct strlist *arena, const struct archive_record *rec,
                               const char **fts_r, const char **addr_r)
{
    struct fts_doc doc;
    char *v;

    fts_doc_build(&doc, rec);
    v = pg_fts_text_vector(&doc);
    strlist_add(arena, v);
    free(v);
    *fts_r = arena->v[arena->n - 1];
    v = pg_fts_addr_vector(&doc);
    strlist_add(arena, v);
    free(v);
    *addr_r = arena->v[arena->n - 1];
    fts_doc_free(&doc);
}

/*
 * Write fts and addr_fts of message mid from the rows it has and, when
 * given, the header fields, subject and body text of hdr (reindex(),
 * index rebuild); without hdr only addr_fts changes (a later copy added
 * recipients).
 */
enum tab_result pg_catalog_refresh_vectors(struct pg_catalog *pc, const char *mid,
                                           const struct archive_record *hdr, struct strlist *arena,
                                           const char **error_r)
{
    struct archive_record stored, doc_rec;
    const char *fts, *addr;
    enum tab_result r = pg_catalog_load(pc, mid, "", &stored, error_r);

    if (r != TAB_OK)
        return r;
    /* the envelope from the rows (the chain's), the rest from hdr */
    doc_rec = stored;
    if (hdr != NULL) {
        doc_rec.subject = hdr->subject;
        doc_rec.body_text = hdr->body_text;
        doc_rec.hdr_from = hdr->hdr_from;
        doc_rec.hdr_to = hdr->hdr_to;
        doc_rec.hdr_cc = hdr->hdr_cc;
    }
    pg_catalog_vectors(arena, &doc_rec, &fts, &addr);
    if (hdr != NULL) {
        const char *values[3] = {mid, fts, addr};
        r = pg_catalog_do(pc, "reindex: update words",
                          "UPDATE messages SET fts = $2::tsvector, addr_fts = $3::tsvector"
                          " WHERE id = $1::bigint",
                          3, values, error_r);
    } else {
        const char *values[2] = {mid, addr};
        r = pg_catalog_do(pc, "add: update recipient words",
                          "UPDATE messages SET addr_fts = $2::tsvector WHERE id = $1::bigint", 2,
                          values, error_r);
    }
    record_free(&stored);
    return r;
}

enum tab_result pg_catalog_known_recipients(struct catalog *cat, const char *queue_id,
                                            const char *sha256, const char *message_id,
                                            struct strlist *rcpts_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    enum pg_catalog_stmt st = PC_KNOWN_RCPTS;
    const char *values[2];
    PGresult *res;
    enum tab_result r;

    if (queue_id == NULL || *queue_id == '\0') {
        if (message_id == NULL || *message_id == '\0')
            return TAB_OK;
        queue_id = message_id;
        st = PC_KNOWN_RCPTS_BY_MSGID;
    }
    values[0] = pg_catalog_text(&arena, queue_id, 0);
    values[1] = pg_catalog_text(&arena, sha256, 0);
    r = pg_catalog_exec(pc, st, values, &res, error_r);
    if (r == TAB_OK) {
        for (int i = 0; i < PQntuples(res); i++)
            strlist_add(rcpts_r, PQgetvalue(res, i, 0));
        PQclear(res);
    }
    strlist_free(&arena);
    return r;
}

static enum tab_result pg_catalog_insert_addrs(struct pg_catalog *pc, const char *mid,
                                               const char *field, const struct record_addrs *a,
                                               struct strlist *arena, const char **error_r)
{
    for (size_t i = 0; i < a->n; i++) {
        const char *values[6] = {mid,
                                 field,
                                 pg_catalog_printf(arena, "%zu", i),
                                 pg_catalog_text(arena, a->v[i].name, 0),
                                 pg_catalog_text(arena, a->v[i].address, 0),
                                 pg_catalog_rdomain(arena, a->v[i].address)};
        enum tab_result r = pg_catalog_exec_do(pc, PC_INSERT_ADDR, values, error_r);
        if (r != TAB_OK)
            return r;
    }
    return TAB_OK;
}

static enum tab_result pg_catalog_insert_attachments(struct pg_catalog *pc, const char *mid,
                                                     const struct archive_record *rec,
                                                     struct strlist *arena, const char **error_r)
{
    for (size_t i = 0; i < rec->n_attachments; i++) {
        const char *values[4] = {mid, pg_catalog_printf(arena, "%zu", i),
                                 pg_catalog_text(arena, rec->attachments[i].filename, 0),
                                 pg_catalog_text(arena, rec->attachments[i].content_type, 0)};
        enum tab_result r = pg_catalog_exec_do(pc, PC_INSERT_ATTACHMENT, values, error_r);
        if (r != TAB_OK)
            return r;
    }
    return TAB_OK;
}

/* The header addresses (From, To, Cc) and the attachments of rec: what a
 * message's header says, written once per message and again by reindex(). */
static enum tab_result pg_catalog_insert_header(struct pg_catalog *pc, const char *mid,
                                                const struct archive_record *rec,
                                                struct strlist *arena, const char **error_r)
{
    enum tab_result r = pg_catalog_insert_addrs(pc, mid, "from", &rec->hdr_from, arena, error_r);

    if (r == TAB_OK)
        r = pg_catalog_insert_addrs(pc, mid, "to", &rec->hdr_to, arena, error_r);
    if (r == TAB_OK)
        r = pg_catalog_insert_addrs(pc, mid, "cc", &rec->hdr_cc, arena, error_r);
    if (r == TAB_OK)
        r = pg_catalog_insert_attachments(pc, mid, rec, arena, error_r);
    return r;
}

/* rec's Date: as epoch seconds in arena. An unparseable or out-of-range
 * Date: is NULL, as in the SQLite catalog; date_raw keeps what the header
 * said. */
static const char *pg_catalog_date(struct strlist *arena, const struct archive_record *rec)
{
    time_t date;

    if (rec->date == NULL || record_parse_time(rec->date, &date) != 0)
        return NULL;
    return pg_catalog_printf(arena, "%lld", (long long)date);
}

/* The message row for rec: found by its key, or created (*created_r). */
static enum tab_result pg_catalog_message(struct pg_catalog *pc, const struct archive_record *rec,
                                          struct strlist *arena, const char **mid_r, int *created_r,
                                          struct chain_link *link, const char **error_r)
{
    const char *queue_id = pg_catalog_text(arena, rec->queue_id ? rec->queue_id : "", 0);
    const char *message_id = pg_catalog_text(arena, rec->message_id, 0);
    const char *sha256 = pg_catalog_text(arena, rec->sha256, 0);
    const char *fts, *addr;
    PGresult *res;
    enum tab_result r;
    char *note;

    *created_r = 0;
    if (*queue_id != '\0' || (message_id != NULL && *message_id != '\0')) {
        int by_queue_id = *queue_id != '\0';
        const char *key[1] = {pg_catalog_printf(arena, "%s %s %s", by_queue_id ? "q" : "m",
                                                by_queue_id ? queue_id : message_id, sha256)};
        const char *find[2] = {by_queue_id ? queue_id : message_id, sha256};

        /* Held until commit: a concurrent add() of the same message waits
         * here and then finds the row this one creates. */
        r = pg_catalog_exec_do(pc, PC_LOCK_KEY, key, error_r);
        if (r != TAB_OK)
            return r;
        r = pg_catalog_exec(pc, by_queue_id ? PC_FIND_MESSAGE : PC_FIND_MESSAGE_BY_MSGID, find,
                            &res, error_r);
        if (r != TAB_OK)
            return r;
        if (PQntuples(res) > 0) {
            /* The chain records the message as its first copy stored it. */
            *mid_r = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 0));
            free(link->envelope_from);
            link->envelope_from = xstrdup(PQgetvalue(res, 0, 1));
            link->size = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
            PQclear(res);
            return TAB_OK;
        }
        PQclear(res);
    }

    pg_catalog_vectors(arena, rec, &fts, &addr);
    note = catalog_index_note(rec);
    const char *values[19] = {
        rec->archive_id,
        queue_id,
        sha256,
        message_id,
        pg_catalog_text(arena, rec->envelope_from ? rec->envelope_from : "", 0),
        rec->envelope_status ? rec->envelope_status : ENVELOPE_INCOMPLETE,
        pg_catalog_date(arena, rec),
        pg_catalog_text(arena, rec->date_raw, 0),
        pg_catalog_text(arena, rec->subject, PG_CATALOG_SUBJECT_MAX),
        pg_catalog_text(arena, rec->subject_raw, 0),
        pg_catalog_printf(arena, "%lld", (long long)rec->arrival),
        pg_catalog_printf(arena, "%" PRIu64, rec->size),
        pg_catalog_text(arena, rec->mail_params, 0),
        pg_catalog_text(arena, rec->xforward, 0),
        fts,
        catalog_index_status(rec),
        pg_catalog_text(arena, note, INDEX_NOTE_MAX),
        addr,
        pg_catalog_rdomain(arena, rec->envelope_from),
    };
    free(note);
    r = pg_catalog_exec(pc, PC_INSERT_MESSAGE, values, &res, error_r);
    if (r != TAB_OK)
        return r;
    *mid_r = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 0));
    *created_r = 1;
    PQclear(res);
    return TAB_OK;
}

/*
 * Make link the new head of the chain: lock the head row (concurrent
 * add()s queue here until this transaction ends, so the chain is one
 * line in commit order), hash, write seq and hashes into the copy, move
 * the head.
 */
static enum tab_result pg_catalog_chain_append(struct pg_catalog *pc, const char *copy_id,
                                               struct chain_link *link, struct strlist *arena,
                                               const char **error_r)
{
    static const char hexdigits[] = "0123456789abcdef";
    char computed[SHA256_HEX_SIZE];
    size_t len;
    char *tail = catalog_chain_encode_tail(link, &len);
    char *hex = xmalloc(2 * len + 1);
    const char *values[2];
    PGresult *res;
    enum tab_result r;

    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = hexdigits[(unsigned char)tail[i] >> 4];
        hex[2 * i + 1] = hexdigits[(unsigned char)tail[i] & 15];
    }
    hex[2 * len] = '\0';
    free(tail);
    values[0] = copy_id;
    values[1] = pg_catalog_printf(arena, "%s", hex);
    free(hex);
    r = pg_catalog_exec(pc, PC_CHAIN_LINK, values, &res, error_r);
    if (r != TAB_OK)
        return r;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return pg_conn_fail(pc->conn, TAB_RETRY, error_r, "chain: head row or copy %s missing",
                            copy_id);
    }
    link->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(link->prev_hash, sizeof(link->prev_hash), "%s", PQgetvalue(res, 0, 1));
    snprintf(link->hash, sizeof(link->hash), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    /* The database hashed what tabularium would have: or nothing commits. */
    catalog_chain_hash(link, computed);
    if (strcmp(computed, link->hash) != 0)
        return pg_conn_fail(pc->conn, TAB_RETRY, error_r,
                            "chain: link %lld hashed %s in PostgreSQL, %s here",
                            (long long)link->seq, link->hash, computed);
    return TAB_OK;
}

/* Around the catalog rows of a copy whose store transaction add() continues. */
static const struct pg_stmt pg_catalog_savepoint = {NULL, "savepoint", "SAVEPOINT tab_catalog_add",
                                                    0, 0};
static const struct pg_stmt pg_catalog_rollback_to = {
    NULL, "rollback to savepoint", "ROLLBACK TO SAVEPOINT tab_catalog_add", 0, 0};

enum tab_result pg_catalog_add(struct catalog *cat, const struct archive_record *given,
                               const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *mid = NULL, *copy_id;
    struct chain_link link;
    PGresult *res = NULL;
    const char *ignored;
    enum tab_result r;
    int created, store_txn = 0, new_rcpts = 0;

    memset(&link, 0, sizeof(link));

    if (rec->store == NULL || rec->location == NULL) {
        pg_conn_rollback(pc->conn);
        return pg_conn_fail(pc->conn, TAB_PERM, error_r, "add %s: record has no store location",
                            rec->archive_id);
    }
    if (rec->size > INT64_MAX || rec->wrapped_size > INT64_MAX) {
        pg_conn_rollback(pc->conn);
        return pg_conn_fail(pc->conn, TAB_PERM, error_r, "add %s: size out of range",
                            rec->archive_id);
    }
    if (pg_conn_take_over(pc->conn, rec->location)) {
        /* A refused record must not take the stored bytes with it: the
         * caller may add() the copy again with a degraded record. */
        r = pg_conn_exec(pc->conn, &pg_catalog_savepoint, NULL, NULL, NULL, &res, error_r);
        PQclear(res);
        res = NULL;
        if (r != TAB_OK) {
            pg_conn_rollback(pc->conn);
            return r;
        }
        store_txn = 1;
    } else {
        if (pg_conn_has_store(pc->conn) && strcmp(rec->store, "pgsql") == 0) {
            /* Never index bytes that were rolled back. */
            pg_conn_rollback(pc->conn);
            return pg_conn_fail(pc->conn, TAB_RETRY, error_r,
                                "add %s: the store's transaction for %s is gone (connection"
                                " lost?); not cataloged",
                                rec->archive_id, rec->location);
        }
        r = pg_conn_begin(pc->conn, error_r);
        if (r != TAB_OK)
            return r;
    }

    /* The chain link of this copy, with the values as stored (UTF-8-clean). */
    snprintf(link.archive_id, sizeof(link.archive_id), "%s", rec->archive_id);
    link.arrival = rec->arrival;
    link.queue_id = xstrdup(pg_catalog_text(&arena, rec->queue_id ? rec->queue_id : "", 0));
    link.envelope_from =
        xstrdup(pg_catalog_text(&arena, rec->envelope_from ? rec->envelope_from : "", 0));
    snprintf(link.sha256, sizeof(link.sha256), "%s", pg_catalog_text(&arena, rec->sha256, 0));
    link.size = rec->size;
    snprintf(link.wrapped_sha256, sizeof(link.wrapped_sha256), "%s", rec->wrapped_sha256);
    link.wrapped_size = rec->wrapped_size;
    link.store = xstrdup(pg_catalog_text(&arena, rec->store, 0));
    link.location = xstrdup(pg_catalog_text(&arena, rec->location, 0));
    link.retain_until = rec->retain_until;

    r = pg_catalog_message(pc, rec, &arena, &mid, &created, &link, error_r);
    if (r != TAB_OK)
        goto fail;
    {
        const char *values[8] = {
            mid,
            rec->archive_id,
            link.store,
            link.location,
            rec->wrapped_sha256,
            pg_catalog_printf(&arena, "%" PRIu64, rec->wrapped_size),
            pg_catalog_printf(&arena, "%lld", (long long)rec->arrival),
            rec->retain_until ? pg_catalog_printf(&arena, "%lld", (long long)rec->retain_until)
                              : NULL};
        r = pg_catalog_exec(pc, PC_INSERT_COPY, values, &res, error_r);
    }
    if (r != TAB_OK)
        goto fail;
    copy_id = pg_catalog_printf(&arena, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;

    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct record_rcpt *rcpt = &rec->rcpts[i];
        const char *values[7] = {
            mid,
            pg_catalog_text(&arena, rcpt->address ? rcpt->address : "", 0),
            pg_catalog_text(&arena, rcpt->archive_rcpt, 0),
            pg_catalog_text(&arena, rcpt->orcpt, 0),
            pg_catalog_text(&arena, rcpt->notify, 0),
            copy_id,
            pg_catalog_rdomain(&arena, rcpt->address),
        };
        r = pg_catalog_exec(pc, PC_INSERT_RCPT, values, &res, error_r);
        if (r != TAB_OK)
            goto fail;
        /* The rows this copy added are the ones its link covers. */
        if (strcmp(PQcmdTuples(res), "1") == 0) {
            strlist_add(&link.rcpts, values[1]);
            new_rcpts = 1;
        }
        PQclear(res);
        res = NULL;
    }

    /* The first transaction's header and body are the message's: a
     * retried transaction carries the same bytes (same SHA-256). */
    if (created) {
        r = pg_catalog_insert_header(pc, mid, rec, &arena, error_r);
        if (r == TAB_OK) /* the indexer reads its attachments' text later */
            r = pg_attach_text_queue(pc, mid, rec, 0, error_r);
        if (r != TAB_OK)
            goto fail;
    } else if (new_rcpts) {
        /* the recipients' words now include this copy's */
        r = pg_catalog_refresh_vectors(pc, mid, NULL, &arena, error_r);
        if (r != TAB_OK)
            goto fail;
    }

    /* Last: the chain head stays locked only until the commit. */
    r = pg_catalog_chain_append(pc, copy_id, &link, &arena, error_r);
    if (r != TAB_OK)
        goto fail;

    r = pg_conn_commit(pc->conn, error_r);
    strlist_free(&arena);
    catalog_chain_link_free(&link);
    return r;

fail:
    PQclear(res);
    strlist_free(&arena);
    catalog_chain_link_free(&link);
    if (r == TAB_RETRY && pg_conn_content_error(pc->conn)) {
        /* The server refused this record's values: it would again. */
        r = TAB_PERM;
        /* *error_r stays the refusal's message: a statement that
         * succeeds leaves the connection's message alone. */
        if (store_txn && pg_conn_exec(pc->conn, &pg_catalog_rollback_to, NULL, NULL, NULL, &res,
                                      &ignored) == TAB_OK) {
            PQclear(res);
            pg_conn_hand_over(pc->conn, rec->location);
            return r;
        }
    }
    pg_conn_rollback(pc->conn);
    return r;
}

/* One row per forwarded copy, replaced by each outcome; outside any store
 * transaction (the forwarder has its own connection), so it commits at once. */
enum tab_result pg_catalog_forward_status(struct catalog *cat, const char *archive_id,
                                          const char *status, const char *detail,
                                          const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[3] = {pg_catalog_text(&arena, archive_id, 0),
                             pg_catalog_text(&arena, status, 0),
                             detail != NULL ? pg_catalog_text(&arena, detail, 0) : NULL};
    enum tab_result r = pg_catalog_exec_do(pc, PC_FORWARD_STATUS, values, error_r);

    strlist_free(&arena);
    return r;
}

/*
 * Replace the header index fields, body text and attachments of one
 * message and its index status, in one transaction (docs/schema-pgsql.md).
 * FOR UPDATE on the message row: an expire of the same message waits, and
 * so does a second reindex. The chain covers none of these columns.
 * PostgreSQL indexes the text in the row itself (fts, written here from
 * the record), so rec->index_later means nothing here: the caller passes the
 * body text and attachments; the text inside the attachments is queued
 * again for the indexer.
 */
enum tab_result pg_catalog_reindex(struct catalog *cat, const struct archive_record *given,
                                   const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *mid;
    struct pg_found found;
    enum tab_result r;
    char *note;

    r = pg_conn_begin(pc->conn, error_r);
    if (r == TAB_OK)
        r = pg_catalog_find(pc, rec->archive_id, PG_FIND_UPDATE, "reindex", &arena, &found,
                            error_r);
    if (r != TAB_OK)
        goto out;
    mid = found.message;
    note = catalog_index_note(rec);
    {
        const char *uv[8] = {
            mid,
            pg_catalog_text(&arena, rec->message_id, 0),
            pg_catalog_date(&arena, rec),
            pg_catalog_text(&arena, rec->date_raw, 0),
            pg_catalog_text(&arena, rec->subject, PG_CATALOG_SUBJECT_MAX),
            pg_catalog_text(&arena, rec->subject_raw, 0),
            catalog_index_status(rec),
            pg_catalog_text(&arena, note, INDEX_NOTE_MAX),
        };
        free(note);
        r = pg_catalog_do(pc, "reindex: update message",
                          "UPDATE messages SET message_id = $2,"
                          " date = to_timestamp($3::double precision), date_raw = $4,"
                          " subject = $5, subject_raw = $6, index_status = $7,"
                          " index_note = $8 WHERE id = $1::bigint",
                          8, uv, error_r);
        if (r != TAB_OK)
            goto out;
    }
    {
        const char *dv[1] = {mid};
        r = pg_catalog_do(pc, "reindex: delete header addresses",
                          "DELETE FROM header_addresses WHERE message = $1::bigint", 1, dv,
                          error_r);
        if (r == TAB_OK)
            r = pg_catalog_do(pc, "reindex: delete attachments",
                              "DELETE FROM attachments WHERE message = $1::bigint", 1, dv, error_r);
        if (r != TAB_OK)
            goto out;
    }
    r = pg_catalog_insert_header(pc, mid, rec, &arena, error_r);
    if (r == TAB_OK) /* the body text given has no attachments' text */
        r = pg_attach_text_queue(pc, mid, rec, 1, error_r);
    if (r != TAB_OK)
        goto out;
    /* the words from this record, the envelope's from the rows */
    r = pg_catalog_refresh_vectors(pc, mid, rec, &arena, error_r);
out:
    r = pg_conn_end(pc->conn, r, error_r);
    if (r == TAB_RETRY && pg_conn_content_error(pc->conn))
        r = TAB_PERM;
    strlist_free(&arena);
    return r;
}
