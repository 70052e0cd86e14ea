/*
 * NAME
 *	pg_catalog 3
 * SUMMARY
 *	catalog driver: the archive index in PostgreSQL, with full-text search
 * SYNOPSIS
 *	archive_catalog = pgsql:postgresql:///tabularium?host=/run/postgresql
 * DESCRIPTION
 *	Implements struct catalog with the semantics of the SQLite driver
 *	(backends/sqlite/sqlite.c) on the schema of pg_schema.c, documented
 *	in docs/schema-pgsql.md: a message is keyed on (queue id, SHA-256),
 *	or (Message-ID, SHA-256) when the queue id is unknown; a later
 *	transaction of the same message adds a copy and its new recipients.
 *	Finding or creating the message runs under a transaction-scoped
 *	advisory lock on that key, so two workers that receive parts of one
 *	message at the same moment merge instead of racing.
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
 *	PostgreSQL 11 or later (sha256()). The integrity methods (chain walk,
 *	seals, holds, expiry, audit, stats) use unnamed statements; a hold
 *	takes FOR SHARE and expire_remove() FOR UPDATE on the message row,
 *	so the two never overlap on one message.
 *
 *	Text goes to the server as UTF-8: invalid bytes in a field become
 *	U+FFFD (the stored copy keeps the original bytes; NUL cannot occur
 *	in a C string), so every column stays text. The subject and body
 *	text are cut so that their tsvector stays below its 1 MB limit
 *	(PG_CATALOG_FTS_MAX). No index covers the raw text of a header or
 *	envelope column (schema version 6: md5()), since a B-tree entry
 *	must fit in 2704 bytes; every lookup compares md5() and then the
 *	exact value. messages.index_status marks a message archived with
 *	its envelope only (degraded); reindex() replaces its header fields,
 *	text and attachments in one transaction, never touching what the
 *	chain covers.
 *	Full-text search uses the 'simple' configuration (no stemming, any
 *	language) and websearch_to_tsquery(), which accepts any input.
 *
 *	Must never put user text into SQL: values are parameters; search()
 *	assembles its WHERE clause from constant fragments and numbers its
 *	parameters itself, and escapes LIKE metacharacters in user text.
 * DIAGNOSTICS
 *	Every database failure is TAB_RETRY with "pgsql NAME: WHAT: SERVER
 *	MESSAGE", after ROLLBACK, except in add() and reindex() when the
 *	server refused the record's values (pg_conn_content_error: SQLSTATE
 *	class 22, 23 or 54), which would fail the same way again: TAB_PERM.
 *	When add() continues the pgsql store's transaction, its rows are in a
 *	savepoint: a refused record is rolled back alone and the store's
 *	transaction stays open for a second add() of the same copy (with a
 *	degraded record). get(), hold() and reindex() of an unknown archive
 *	id are TAB_PERM, as is expire_remove() of a message that is held,
 *	unknown or not past its retention.
 *	Open fails for a malformed conninfo or a schema of another version
 *	("run tabularium db upgrade").
 */
#include "backends/catalog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/postgres/pg_conn.h"
#include "backends/postgres/pg_schema.h"
#include "common/log.h"
#include "common/strlist.h"

/*
 * The full-text column is to_tsvector(subject || body_text), and a tsvector
 * refuses more than 1 MB of lexemes and positions ("string is too long
 * for tsvector", SQLSTATE 54000): about twice its input for crafted text
 * (distinct words of three characters; measured). The subject is cut at
 * PG_CATALOG_SUBJECT_MAX bytes and the body text at PG_CATALOG_FTS_MAX
 * minus the subject's length, so no text makes the row fail.
 */
#define PG_CATALOG_FTS_MAX (384 * 1024)
#define PG_CATALOG_SUBJECT_MAX (128 * 1024)

struct pg_catalog {
    struct catalog cat; /* first: handed out as struct catalog */
    struct pg_conn *conn;
};

enum pg_catalog_stmt {
    PC_LOCK_KEY,
    PC_FIND_MESSAGE,
    PC_FIND_MESSAGE_BY_MSGID,
    PC_INSERT_MESSAGE,
    PC_INSERT_COPY,
    PC_INSERT_RCPT,
    PC_INSERT_ADDR,
    PC_INSERT_ATTACHMENT,
    PC_KNOWN_RCPTS,
    PC_KNOWN_RCPTS_BY_MSGID,
    PC_MESSAGE_BY_ID,
    PC_MESSAGE_BY_ARCHIVE_ID,
    PC_COPY_BY_ARCHIVE_ID,
    PC_FIRST_COPY,
    PC_COPY_BY_ID,
    PC_RCPTS,
    PC_ADDRS,
    PC_ATTACHMENTS,
    PC_FORWARD_STATUS,
    PC_CHAIN_LINK,
    PC_COUNT
};

static const struct pg_stmt pg_catalog_stmts[PC_COUNT] = {
    [PC_FORWARD_STATUS] = {"tab_cat_forward_status", "forward status",
                           "INSERT INTO forwards (archive_id, status, detail, updated)"
                           " VALUES ($1, $2, $3, now()) ON CONFLICT (archive_id) DO UPDATE"
                           " SET status = EXCLUDED.status, detail = EXCLUDED.detail,"
                           " updated = EXCLUDED.updated",
                           3, 0},
    /* The whole chain step in one statement: lock the head (held until
     * commit: every add() waits here for the one before), hash the link
     * (catalog_chain_encode: its first line, seq and prev from the head,
     * then the tail $2 that tabularium encoded, hex), write it into the
     * copy and move the head. Each round trip inside the lock would cost
     * every delivery; the caller recomputes the hash and refuses a
     * mismatch. sha256() needs PostgreSQL 11. */
    [PC_CHAIN_LINK] =
        {"tab_cat_chain_link", "chain link",
         "WITH head AS (SELECT seq + 1 AS seq, hash AS prev FROM chain_head"
         " WHERE id = 1 FOR UPDATE),"
         " l AS (SELECT seq, prev, encode(sha256(convert_to('tabularium-chain 1'"
         " || chr(10) || 'seq ' || seq::text || chr(10) || 'prev ' || prev || chr(10),"
         " 'UTF8') || decode($2, 'hex')), 'hex') AS hash FROM head),"
         " c AS (UPDATE copies SET seq = l.seq, prev_hash = l.prev, hash = l.hash"
         " FROM l WHERE copies.id = $1::bigint RETURNING copies.id)"
         " UPDATE chain_head SET seq = l.seq, hash = l.hash FROM l"
         " WHERE chain_head.id = 1 AND EXISTS (SELECT 1 FROM c)"
         " RETURNING l.seq, l.prev, l.hash",
         2, 0},
    [PC_LOCK_KEY] = {"tab_cat_lock_key", "lock message key",
                     "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, 0},
    /* Header and envelope text is found through an index over its md5()
     * (schema version 6), then compared whole. */
    [PC_FIND_MESSAGE] = {"tab_cat_find_message", "find message",
                         "SELECT id, envelope_from, size FROM messages WHERE sha256 = $2"
                         " AND md5(queue_id) = md5($1) AND queue_id = $1 AND queue_id <> ''",
                         2, 0},
    /* Without a queue id, the same Message-ID and the same bytes identify
     * the message. */
    [PC_FIND_MESSAGE_BY_MSGID] = {"tab_cat_find_message_by_msgid", "find message",
                                  "SELECT id, envelope_from, size FROM messages"
                                  " WHERE md5(message_id) = md5($1) AND message_id = $1"
                                  " AND sha256 = $2 AND queue_id = '' ORDER BY id LIMIT 1",
                                  2, 0},
    [PC_INSERT_MESSAGE] =
        {"tab_cat_insert_message", "insert message",
         "INSERT INTO messages (archive_id, queue_id, sha256, message_id, envelope_from,"
         " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
         " mail_params, xforward, body_text, index_status, index_note)"
         " VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::double precision), $8, $9, $10,"
         " to_timestamp($11::double precision), $12::bigint, $13, $14, $15, $16, $17)"
         " RETURNING id",
         17, 0},
    [PC_INSERT_COPY] = {"tab_cat_insert_copy", "insert copy",
                        "INSERT INTO copies (message, archive_id, store, location,"
                        " wrapped_sha256, wrapped_size, arrival, retain_until)"
                        " VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint,"
                        " to_timestamp($7::double precision), to_timestamp($8::double precision))"
                        " RETURNING id",
                        8, 0},
    /* Once per message whatever the case; concurrent add()s of one
     * message wait for each other on the advisory lock of its key. */
    [PC_INSERT_RCPT] = {"tab_cat_insert_rcpt", "insert recipient",
                        "INSERT INTO recipients (message, address, archive_rcpt, orcpt, notify,"
                        " copy) SELECT $1::bigint, $2::text, $3::text, $4::text, $5::text,"
                        " $6::bigint WHERE NOT EXISTS (SELECT 1 FROM recipients"
                        " WHERE message = $1::bigint AND md5(lower(address)) = md5(lower($2::text))"
                        " AND lower(address) = lower($2::text))",
                        6, 0},
    [PC_INSERT_ADDR] = {"tab_cat_insert_addr", "insert header address",
                        "INSERT INTO header_addresses (message, field, position, name, address)"
                        " VALUES ($1::bigint, $2, $3::integer, $4, $5)",
                        5, 0},
    [PC_INSERT_ATTACHMENT] = {"tab_cat_insert_attachment", "insert attachment",
                              "INSERT INTO attachments (message, position, filename,"
                              " content_type) VALUES ($1::bigint, $2::integer, $3, $4)",
                              4, 0},
    [PC_KNOWN_RCPTS] = {"tab_cat_known_rcpts", "known recipients",
                        "SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message"
                        " WHERE m.sha256 = $2 AND md5(m.queue_id) = md5($1) AND m.queue_id = $1"
                        " AND m.queue_id <> '' ORDER BY r.id",
                        2, 0},
    [PC_KNOWN_RCPTS_BY_MSGID] = {"tab_cat_known_rcpts_by_msgid", "known recipients",
                                 "SELECT r.address FROM recipients r WHERE r.message ="
                                 " (SELECT id FROM messages WHERE md5(message_id) = md5($1)"
                                 " AND message_id = $1 AND sha256 = $2 AND queue_id = ''"
                                 " ORDER BY id LIMIT 1)"
                                 " ORDER BY r.id",
                                 2, 0},
    [PC_MESSAGE_BY_ID] = {"tab_cat_message_by_id", "read message",
                          "SELECT archive_id, queue_id, sha256, message_id, envelope_from,"
                          " envelope_status, extract(epoch FROM date)::bigint, date_raw,"
                          " subject, subject_raw, extract(epoch FROM arrival)::bigint, size,"
                          " mail_params, xforward, index_status, index_note"
                          " FROM messages WHERE id = $1::bigint",
                          1, 0},
    [PC_MESSAGE_BY_ARCHIVE_ID] = {"tab_cat_message_by_archive_id", "get",
                                  "SELECT id FROM messages WHERE archive_id = $1", 1, 0},
    [PC_COPY_BY_ARCHIVE_ID] = {"tab_cat_copy_by_archive_id", "get",
                               "SELECT id, message FROM copies WHERE archive_id = $1", 1, 0},
    [PC_FIRST_COPY] = {"tab_cat_first_copy", "read copy",
                       "SELECT store, location, wrapped_sha256, wrapped_size,"
                       " extract(epoch FROM retain_until)::bigint FROM copies"
                       " WHERE message = $1::bigint ORDER BY id LIMIT 1",
                       1, 0},
    [PC_COPY_BY_ID] = {"tab_cat_copy_by_id", "read copy",
                       "SELECT store, location, wrapped_sha256, wrapped_size,"
                       " extract(epoch FROM retain_until)::bigint FROM copies"
                       " WHERE id = $1::bigint",
                       1, 0},
    [PC_RCPTS] = {"tab_cat_rcpts", "read recipients",
                  "SELECT address, archive_rcpt, orcpt, notify FROM recipients"
                  " WHERE message = $1::bigint ORDER BY id",
                  1, 0},
    [PC_ADDRS] = {"tab_cat_addrs", "read header addresses",
                  "SELECT field, name, address FROM header_addresses"
                  " WHERE message = $1::bigint ORDER BY position, id",
                  1, 0},
    [PC_ATTACHMENTS] = {"tab_cat_attachments", "read attachments",
                        "SELECT filename, content_type FROM attachments"
                        " WHERE message = $1::bigint ORDER BY position, id",
                        1, 0},
};

static struct pg_catalog *pg_catalog_of(struct catalog *cat)
{
    return (struct pg_catalog *)cat;
}

/* A UTF-8-clean copy of s kept in arena until the call ends; NULL for NULL. */
static const char *pg_catalog_text(struct strlist *arena, const char *s, size_t max)
{
    char *clean = pg_conn_utf8(s, max);

    if (clean == NULL)
        return NULL;
    strlist_add(arena, clean);
    free(clean);
    return arena->v[arena->n - 1];
}

static const char *pg_catalog_printf(struct strlist *arena, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The subject and body text as the full-text column may hold them (see
 * PG_CATALOG_FTS_MAX), UTF-8-clean, in arena. */
static void pg_catalog_fts_texts(struct strlist *arena, const struct archive_record *rec,
                                 const char **subject_r, const char **body_r)
{
    *subject_r = pg_catalog_text(arena, rec->subject, PG_CATALOG_SUBJECT_MAX);
    *body_r = pg_catalog_text(arena, rec->body_text,
                              PG_CATALOG_FTS_MAX - (*subject_r ? strlen(*subject_r) : 0));
}

static const char *pg_catalog_printf(struct strlist *arena, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort(); /* out of memory, as xasprintf */
    va_end(ap);
    strlist_add(arena, s);
    free(s);
    return arena->v[arena->n - 1];
}

static char *pg_catalog_dup(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return xstrdup(PQgetvalue(res, row, col));
}

/* A column's text, NULL for SQL NULL; valid until PQclear(). */
static const char *pg_catalog_value(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void pg_catalog_copy(const PGresult *res, int row, int col, char *buf, size_t size)
{
    snprintf(buf, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* Run statement i with text parameters. */
static enum tab_result pg_catalog_exec(struct pg_catalog *pc, enum pg_catalog_stmt i,
                                       const char *const *values, PGresult **res_r,
                                       const char **error_r)
{
    return pg_conn_exec(pc->conn, &pg_catalog_stmts[i], values, NULL, NULL, res_r, error_r);
}

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
        const char *field = PQgetvalue(res, i, 0);
        struct record_addrs *a = strcmp(field, "from") == 0 ? &rec->hdr_from
                                 : strcmp(field, "to") == 0 ? &rec->hdr_to
                                                            : &rec->hdr_cc;
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

static enum tab_result pg_catalog_known_recipients(struct catalog *cat, const char *queue_id,
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
        const char *values[5] = {mid, field, pg_catalog_printf(arena, "%zu", i),
                                 pg_catalog_text(arena, a->v[i].name, 0),
                                 pg_catalog_text(arena, a->v[i].address, 0)};
        PGresult *res;
        enum tab_result r = pg_catalog_exec(pc, PC_INSERT_ADDR, values, &res, error_r);
        if (r != TAB_OK)
            return r;
        PQclear(res);
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
        PGresult *res;
        enum tab_result r = pg_catalog_exec(pc, PC_INSERT_ATTACHMENT, values, &res, error_r);
        if (r != TAB_OK)
            return r;
        PQclear(res);
    }
    return TAB_OK;
}

/* The message row for rec: found by its key, or created (*created_r). */
static enum tab_result pg_catalog_message(struct pg_catalog *pc, const struct archive_record *rec,
                                          struct strlist *arena, const char **mid_r, int *created_r,
                                          struct chain_link *link, const char **error_r)
{
    const char *queue_id = pg_catalog_text(arena, rec->queue_id ? rec->queue_id : "", 0);
    const char *message_id = pg_catalog_text(arena, rec->message_id, 0);
    const char *sha256 = pg_catalog_text(arena, rec->sha256, 0);
    const char *subject, *body;
    PGresult *res;
    enum tab_result r;
    time_t date;
    char *note;

    *created_r = 0;
    if (*queue_id != '\0' || (message_id != NULL && *message_id != '\0')) {
        int by_queue_id = *queue_id != '\0';
        const char *key[1] = {pg_catalog_printf(arena, "%s %s %s", by_queue_id ? "q" : "m",
                                                by_queue_id ? queue_id : message_id, sha256)};
        const char *find[2] = {by_queue_id ? queue_id : message_id, sha256};

        /* Held until commit: a concurrent add() of the same message waits
         * here and then finds the row this one creates. */
        r = pg_catalog_exec(pc, PC_LOCK_KEY, key, &res, error_r);
        if (r != TAB_OK)
            return r;
        PQclear(res);
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

    pg_catalog_fts_texts(arena, rec, &subject, &body);
    note = catalog_index_note(rec);
    const char *values[17] = {
        rec->archive_id,
        queue_id,
        sha256,
        message_id,
        pg_catalog_text(arena, rec->envelope_from ? rec->envelope_from : "", 0),
        rec->envelope_status ? rec->envelope_status : ENVELOPE_INCOMPLETE,
        /* An unparseable or out-of-range Date: is NULL, as in the SQLite
         * catalog; date_raw keeps what the header said. */
        rec->date != NULL && record_parse_time(rec->date, &date) == 0
            ? pg_catalog_printf(arena, "%lld", (long long)date)
            : NULL,
        pg_catalog_text(arena, rec->date_raw, 0),
        subject,
        pg_catalog_text(arena, rec->subject_raw, 0),
        pg_catalog_printf(arena, "%lld", (long long)rec->arrival),
        pg_catalog_printf(arena, "%" PRIu64, rec->size),
        pg_catalog_text(arena, rec->mail_params, 0),
        pg_catalog_text(arena, rec->xforward, 0),
        body,
        catalog_index_status(rec),
        pg_catalog_text(arena, note, INDEX_NOTE_MAX),
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

static enum tab_result pg_catalog_add(struct catalog *cat, const struct archive_record *given,
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
    int created, store_txn = 0;

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
        const char *values[6] = {
            mid,
            pg_catalog_text(&arena, rcpt->address ? rcpt->address : "", 0),
            pg_catalog_text(&arena, rcpt->archive_rcpt, 0),
            pg_catalog_text(&arena, rcpt->orcpt, 0),
            pg_catalog_text(&arena, rcpt->notify, 0),
            copy_id,
        };
        r = pg_catalog_exec(pc, PC_INSERT_RCPT, values, &res, error_r);
        if (r != TAB_OK)
            goto fail;
        /* The rows this copy added are the ones its link covers. */
        if (strcmp(PQcmdTuples(res), "1") == 0)
            strlist_add(&link.rcpts, values[1]);
        PQclear(res);
        res = NULL;
    }

    /* The first transaction's header and body are the message's: a
     * retried transaction carries the same bytes (same SHA-256). */
    if (created) {
        r = pg_catalog_insert_addrs(pc, mid, "from", &rec->hdr_from, &arena, error_r);
        if (r == TAB_OK)
            r = pg_catalog_insert_addrs(pc, mid, "to", &rec->hdr_to, &arena, error_r);
        if (r == TAB_OK)
            r = pg_catalog_insert_addrs(pc, mid, "cc", &rec->hdr_cc, &arena, error_r);
        if (r != TAB_OK)
            goto fail;
        r = pg_catalog_insert_attachments(pc, mid, rec, &arena, error_r);
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

static enum tab_result pg_catalog_search(struct catalog *cat, const struct search_query *q,
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

static enum tab_result pg_catalog_get(struct catalog *cat, const char *archive_id,
                                      struct archive_record *rec_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_text(&arena, archive_id, 0)};
    char *mid = NULL, *copy_id = NULL;
    PGresult *res;
    enum tab_result r;

    memset(rec_r, 0, sizeof(*rec_r));
    r = pg_catalog_exec(pc, PC_MESSAGE_BY_ARCHIVE_ID, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) > 0)
        mid = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (mid == NULL) {
        r = pg_catalog_exec(pc, PC_COPY_BY_ARCHIVE_ID, values, &res, error_r);
        if (r != TAB_OK)
            goto out;
        if (PQntuples(res) > 0) {
            copy_id = xstrdup(PQgetvalue(res, 0, 0));
            mid = xstrdup(PQgetvalue(res, 0, 1));
        }
        PQclear(res);
    }
    if (mid == NULL)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "archive id %s not found", archive_id);
    else
        r = pg_catalog_load(pc, mid, copy_id != NULL ? copy_id : "", rec_r, error_r);
out:
    free(mid);
    free(copy_id);
    strlist_free(&arena);
    return r;
}

/* One row per forwarded copy, replaced by each outcome; outside any store
 * transaction (the forwarder has its own connection), so it commits at once. */
static enum tab_result pg_catalog_forward_status(struct catalog *cat, const char *archive_id,
                                                 const char *status, const char *detail,
                                                 const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[3] = {pg_catalog_text(&arena, archive_id, 0),
                             pg_catalog_text(&arena, status, 0),
                             detail != NULL ? pg_catalog_text(&arena, detail, 0) : NULL};
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_exec(pc, PC_FORWARD_STATUS, values, &res, error_r);

    PQclear(res);
    strlist_free(&arena);
    return r;
}

/*
 * Integrity, retention, holds, audit (docs/integrity.md), as the SQLite
 * driver. Not on the delivery path: unnamed statements.
 */

/* Run sql (n text parameters) once; *res_r for the caller to PQclear(). */
static enum tab_result pg_catalog_run(struct pg_catalog *pc, const char *what, const char *sql,
                                      int n, const char *const *values, PGresult **res_r,
                                      const char **error_r)
{
    struct pg_stmt st = {NULL, what, sql, n, 0};
    return pg_conn_exec(pc->conn, &st, values, NULL, NULL, res_r, error_r);
}

/* The same, for statements whose result is not needed. */
static enum tab_result pg_catalog_do(struct pg_catalog *pc, const char *what, const char *sql,
                                     int n, const char *const *values, const char **error_r)
{
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(pc, what, sql, n, values, &res, error_r);

    PQclear(res);
    return r;
}

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

static enum tab_result pg_catalog_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                             catalog_chain_fn *fn, void *ctx, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct pg_chain_rcpts rcpts = {NULL, NULL, 0};
    PGresult *rows = NULL, *res = NULL;
    enum tab_result r;
    int began, stop;

    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        return r;
    r = pg_catalog_run(pc, "chain head", "SELECT seq, hash FROM chain_head WHERE id = 1", 0, NULL,
                       &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) == 1) {
        head_r->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(head_r->hash, sizeof(head_r->hash), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    res = NULL;
    r = pg_catalog_run(pc, "chain", pg_catalog_chain_sql, 0, NULL, &rows, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "chain recipients", PG_CHAIN_RCPTS, 0, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    pg_chain_rcpts_load(&rcpts, res);
    res = NULL;
    r = pg_catalog_run(pc, "chain",
                       "SELECT archive_id FROM messages m WHERE NOT EXISTS"
                       " (SELECT 1 FROM copies c WHERE c.message = m.id) ORDER BY id",
                       0, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
        if (r != TAB_OK)
            goto out;
    }
    stop = pg_catalog_chain_rows(rows, &rcpts, fn, ctx);
    for (int i = 0; !stop && i < PQntuples(res); i++) {
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

static enum tab_result pg_catalog_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                             const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    PGresult *res;
    enum tab_result r;

    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    r = pg_catalog_run(pc, "chain head", "SELECT seq, hash FROM chain_head WHERE id = 1", 0, NULL,
                       &res, error_r);
    if (r != TAB_OK)
        return r;
    if (PQntuples(res) == 1) {
        head_r->seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(head_r->hash, sizeof(head_r->hash), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return TAB_OK;
}

static enum tab_result pg_catalog_seal(struct catalog *cat, struct chain_seal *seal_r,
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
    if (PQntuples(res) == 1) {
        seal_r->at = (time_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        seal_r->seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        snprintf(seal_r->hash, sizeof(seal_r->hash), "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return TAB_OK;
}

static enum tab_result pg_catalog_audit(struct catalog *cat, const char *user, const char *action,
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

static enum tab_result pg_catalog_audit_list(struct catalog *cat, time_t since,
                                             catalog_audit_fn *fn, void *ctx, const char **error_r)
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

static enum tab_result pg_catalog_hold(struct catalog *cat, const char *archive_id,
                                       const char *case_name, int on, const char *user,
                                       int *changed_r, int *holds_r, struct strlist *locations_r,
                                       const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *id = pg_catalog_text(&arena, archive_id, 0);
    const char *values[1] = {id};
    char *message = NULL, *mid = NULL;
    PGresult *res = NULL;
    enum tab_result r;

    *changed_r = *holds_r = 0;
    r = pg_conn_begin(pc->conn, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "hold",
                       "SELECT id, archive_id FROM messages WHERE archive_id = $1"
                       " UNION ALL SELECT m.id, m.archive_id FROM copies c"
                       " JOIN messages m ON m.id = c.message WHERE c.archive_id = $1"
                       " LIMIT 1",
                       1, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) > 0) {
        mid = xstrdup(PQgetvalue(res, 0, 0));
        message = xstrdup(PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    res = NULL;
    if (mid != NULL) {
        /* Conflicts with expire's FOR UPDATE: a hold and an expiry of
         * one message never overlap. */
        const char *lv[1] = {mid};
        r = pg_catalog_run(pc, "hold", "SELECT 1 FROM messages WHERE id = $1::bigint FOR SHARE", 1,
                           lv, &res, error_r);
        if (r != TAB_OK)
            goto out;
        if (PQntuples(res) == 0) {
            free(mid);
            mid = NULL;
        }
        PQclear(res);
        res = NULL;
    }
    if (mid == NULL) {
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "archive id %s not found", archive_id);
        goto out;
    }
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
    r = pg_conn_commit(pc->conn, error_r);
out:
    if (r != TAB_OK)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    free(message);
    free(mid);
    strlist_free(&arena);
    return r;
}

static enum tab_result pg_catalog_hold_list(struct catalog *cat, const char *case_name,
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

/* A message may go when every copy has a retain-until not after $1 and
 * no case holds it. */
#define PG_EXPIRABLE                                                                               \
    " NOT EXISTS (SELECT 1 FROM copies c2 WHERE c2.message = m.id"                                 \
    "  AND (c2.retain_until IS NULL OR c2.retain_until > to_timestamp($1::double precision)))"     \
    " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.archive_id = m.archive_id)"

static enum tab_result pg_catalog_expire_candidates(struct catalog *cat, time_t now,
                                                    catalog_chain_fn *fn, void *ctx,
                                                    const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    struct pg_chain_rcpts rcpts = {NULL, NULL, 0};
    const char *values[1] = {pg_catalog_printf(&arena, "%lld", (long long)now)};
    PGresult *rows = NULL, *res = NULL;
    enum tab_result r;
    int began;

    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "expire candidates",
                       "SELECT 0," PG_CHAIN_COLUMNS ", NULL::bigint, NULL::text"
                       " FROM copies c JOIN messages m ON m.id = c.message"
                       " WHERE" PG_EXPIRABLE " ORDER BY m.id, c.id",
                       1, values, &rows, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "expire candidates", PG_CHAIN_RCPTS, 0, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    pg_chain_rcpts_load(&rcpts, res);
    res = NULL;
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
        if (r != TAB_OK)
            goto out;
    }
    (void)pg_catalog_chain_rows(rows, &rcpts, fn, ctx);
out:
    if (began)
        pg_conn_rollback(pc->conn);
    pg_chain_rcpts_free(&rcpts);
    PQclear(rows);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

static enum tab_result pg_catalog_expire_remove(struct catalog *cat, const char *archive_id,
                                                time_t now, const char *user, const char **error_r)
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
    r = pg_conn_commit(pc->conn, error_r);
out:
    if (r != TAB_OK)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

static enum tab_result pg_catalog_stats(struct catalog *cat, struct catalog_stats *stats_r,
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

/*
 * Replace the header index fields, body text and attachments of one
 * message and its index status, in one transaction (docs/schema-pgsql.md).
 * FOR UPDATE on the message row: an expire of the same message waits, and
 * so does a second reindex. The chain covers none of these columns.
 * PostgreSQL indexes the text in the row itself (the generated fts
 * column), so rec->index_later means nothing here: the caller passes the
 * body text and attachments.
 */
static enum tab_result pg_catalog_reindex(struct catalog *cat, const struct archive_record *given,
                                          const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *id = pg_catalog_text(&arena, rec->archive_id, 0);
    const char *values[1] = {id};
    const char *mid = NULL, *subject, *body;
    PGresult *res = NULL;
    enum tab_result r;
    time_t date;
    char *note;

    r = pg_conn_begin(pc->conn, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "reindex",
                       "SELECT id FROM messages WHERE id = (SELECT id FROM messages"
                       " WHERE archive_id = $1 UNION ALL SELECT message FROM copies"
                       " WHERE archive_id = $1 LIMIT 1) FOR UPDATE",
                       1, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (PQntuples(res) > 0)
        mid = pg_catalog_printf(&arena, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (mid == NULL) {
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "reindex: archive id %s not found",
                         rec->archive_id);
        goto out;
    }
    pg_catalog_fts_texts(&arena, rec, &subject, &body);
    note = catalog_index_note(rec);
    {
        const char *uv[9] = {
            mid,
            pg_catalog_text(&arena, rec->message_id, 0),
            rec->date != NULL && record_parse_time(rec->date, &date) == 0
                ? pg_catalog_printf(&arena, "%lld", (long long)date)
                : NULL,
            pg_catalog_text(&arena, rec->date_raw, 0),
            subject,
            pg_catalog_text(&arena, rec->subject_raw, 0),
            body,
            catalog_index_status(rec),
            pg_catalog_text(&arena, note, INDEX_NOTE_MAX),
        };
        free(note);
        r = pg_catalog_do(pc, "reindex: update message",
                          "UPDATE messages SET message_id = $2,"
                          " date = to_timestamp($3::double precision), date_raw = $4,"
                          " subject = $5, subject_raw = $6, body_text = $7, index_status = $8,"
                          " index_note = $9 WHERE id = $1::bigint",
                          9, uv, error_r);
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
    r = pg_catalog_insert_addrs(pc, mid, "from", &rec->hdr_from, &arena, error_r);
    if (r == TAB_OK)
        r = pg_catalog_insert_addrs(pc, mid, "to", &rec->hdr_to, &arena, error_r);
    if (r == TAB_OK)
        r = pg_catalog_insert_addrs(pc, mid, "cc", &rec->hdr_cc, &arena, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_catalog_insert_attachments(pc, mid, rec, &arena, error_r);
    if (r != TAB_OK)
        goto out;
    r = pg_conn_commit(pc->conn, error_r);
out:
    if (r == TAB_RETRY && pg_conn_content_error(pc->conn))
        r = TAB_PERM;
    if (r != TAB_OK)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

static void pg_catalog_close(struct catalog *cat)
{
    struct pg_catalog *pc = pg_catalog_of(cat);

    pg_conn_release(&pc->conn, PG_CONN_CATALOG);
    free(pc);
}

struct catalog *catalog_pgsql_open(const char *spec, const struct tab_config *cfg,
                                   const char **error_r)
{
    struct pg_catalog *pc;
    struct pg_conn *conn;

    (void)cfg;
    conn = pg_conn_acquire(spec, PG_CONN_CATALOG, error_r);
    if (conn == NULL)
        return NULL;
    pc = xcalloc(1, sizeof(*pc));
    pc->conn = conn;
    pc->cat.name = "pgsql";
    pc->cat.known_recipients = pg_catalog_known_recipients;
    pc->cat.add = pg_catalog_add;
    pc->cat.search = pg_catalog_search;
    pc->cat.get = pg_catalog_get;
    pc->cat.reindex = pg_catalog_reindex;
    pc->cat.forward_status = pg_catalog_forward_status;
    pc->cat.audit = pg_catalog_audit;
    pc->cat.audit_list = pg_catalog_audit_list;
    pc->cat.chain_walk = pg_catalog_chain_walk;
    pc->cat.chain_head = pg_catalog_chain_head;
    pc->cat.seal = pg_catalog_seal;
    pc->cat.hold = pg_catalog_hold;
    pc->cat.hold_list = pg_catalog_hold_list;
    pc->cat.expire_candidates = pg_catalog_expire_candidates;
    pc->cat.expire_remove = pg_catalog_expire_remove;
    pc->cat.stats = pg_catalog_stats;
    pc->cat.close = pg_catalog_close;
    return &pc->cat;
}
