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
 *	Text goes to the server as UTF-8: invalid bytes in a field become
 *	U+FFFD (the stored copy keeps the original bytes), and body text is
 *	cut at PG_CATALOG_TEXT_MAX bytes, below what one tsvector can hold.
 *	Full-text search uses the 'simple' configuration (no stemming, any
 *	language) and websearch_to_tsquery(), which accepts any input.
 *
 *	Must never put user text into SQL: values are parameters; search()
 *	assembles its WHERE clause from constant fragments and numbers its
 *	parameters itself, and escapes LIKE metacharacters in user text.
 * DIAGNOSTICS
 *	Every database failure is TAB_RETRY with "pgsql NAME: WHAT: SERVER
 *	MESSAGE", after ROLLBACK. get() of an unknown archive id is TAB_PERM.
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
#include "common/log.h"
#include "common/strlist.h"

/* Bytes of body text indexed; a tsvector holds at most 1 MB of lexemes. */
#define PG_CATALOG_TEXT_MAX (512 * 1024)

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
    PC_COUNT
};

static const struct pg_stmt pg_catalog_stmts[PC_COUNT] = {
    [PC_FORWARD_STATUS] = {"tab_cat_forward_status", "forward status",
                           "INSERT INTO forwards (archive_id, status, detail, updated)"
                           " VALUES ($1, $2, $3, now()) ON CONFLICT (archive_id) DO UPDATE"
                           " SET status = EXCLUDED.status, detail = EXCLUDED.detail,"
                           " updated = EXCLUDED.updated",
                           3, 0},
    [PC_LOCK_KEY] = {"tab_cat_lock_key", "lock message key",
                     "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1, 0},
    [PC_FIND_MESSAGE] = {"tab_cat_find_message", "find message",
                         "SELECT id FROM messages"
                         " WHERE queue_id = $1 AND sha256 = $2 AND queue_id <> ''",
                         2, 0},
    /* Without a queue id, the same Message-ID and the same bytes identify
     * the message. */
    [PC_FIND_MESSAGE_BY_MSGID] = {"tab_cat_find_message_by_msgid", "find message",
                                  "SELECT id FROM messages"
                                  " WHERE message_id = $1 AND sha256 = $2 AND queue_id = ''"
                                  " ORDER BY id LIMIT 1",
                                  2, 0},
    [PC_INSERT_MESSAGE] =
        {"tab_cat_insert_message", "insert message",
         "INSERT INTO messages (archive_id, queue_id, sha256, message_id, envelope_from,"
         " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
         " mail_params, xforward, body_text)"
         " VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::double precision), $8, $9, $10,"
         " to_timestamp($11::double precision), $12::bigint, $13, $14, $15) RETURNING id",
         15, 0},
    [PC_INSERT_COPY] = {"tab_cat_insert_copy", "insert copy",
                        "INSERT INTO copies (message, archive_id, store, location,"
                        " wrapped_sha256, wrapped_size)"
                        " VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint) RETURNING id",
                        6, 0},
    [PC_INSERT_RCPT] = {"tab_cat_insert_rcpt", "insert recipient",
                        "INSERT INTO recipients (message, address, archive_rcpt, orcpt, notify,"
                        " copy) VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint)"
                        " ON CONFLICT (message, lower(address)) DO NOTHING",
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
                        " WHERE m.queue_id = $1 AND m.sha256 = $2 AND m.queue_id <> ''"
                        " ORDER BY r.id",
                        2, 0},
    [PC_KNOWN_RCPTS_BY_MSGID] = {"tab_cat_known_rcpts_by_msgid", "known recipients",
                                 "SELECT r.address FROM recipients r WHERE r.message ="
                                 " (SELECT id FROM messages WHERE message_id = $1"
                                 " AND sha256 = $2 AND queue_id = '' ORDER BY id LIMIT 1)"
                                 " ORDER BY r.id",
                                 2, 0},
    [PC_MESSAGE_BY_ID] = {"tab_cat_message_by_id", "read message",
                          "SELECT archive_id, queue_id, sha256, message_id, envelope_from,"
                          " envelope_status, extract(epoch FROM date)::bigint, date_raw,"
                          " subject, subject_raw, extract(epoch FROM arrival)::bigint, size,"
                          " mail_params, xforward FROM messages WHERE id = $1::bigint",
                          1, 0},
    [PC_MESSAGE_BY_ARCHIVE_ID] = {"tab_cat_message_by_archive_id", "get",
                                  "SELECT id FROM messages WHERE archive_id = $1", 1, 0},
    [PC_COPY_BY_ARCHIVE_ID] = {"tab_cat_copy_by_archive_id", "get",
                               "SELECT id, message FROM copies WHERE archive_id = $1", 1, 0},
    [PC_FIRST_COPY] = {"tab_cat_first_copy", "read copy",
                       "SELECT store, location, wrapped_sha256, wrapped_size FROM copies"
                       " WHERE message = $1::bigint ORDER BY id LIMIT 1",
                       1, 0},
    [PC_COPY_BY_ID] = {"tab_cat_copy_by_id", "read copy",
                       "SELECT store, location, wrapped_sha256, wrapped_size FROM copies"
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

/* The message row for rec: found by its key, or created (*created_r). */
static enum tab_result pg_catalog_message(struct pg_catalog *pc, const struct archive_record *rec,
                                          struct strlist *arena, const char **mid_r, int *created_r,
                                          const char **error_r)
{
    const char *queue_id = pg_catalog_text(arena, rec->queue_id ? rec->queue_id : "", 0);
    const char *message_id = pg_catalog_text(arena, rec->message_id, 0);
    const char *sha256 = pg_catalog_text(arena, rec->sha256, 0);
    PGresult *res;
    enum tab_result r;
    time_t date;

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
            *mid_r = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 0));
            PQclear(res);
            return TAB_OK;
        }
        PQclear(res);
    }

    const char *values[15] = {
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
        pg_catalog_text(arena, rec->subject, 0),
        pg_catalog_text(arena, rec->subject_raw, 0),
        pg_catalog_printf(arena, "%lld", (long long)rec->arrival),
        pg_catalog_printf(arena, "%" PRIu64, rec->size),
        pg_catalog_text(arena, rec->mail_params, 0),
        pg_catalog_text(arena, rec->xforward, 0),
        pg_catalog_text(arena, rec->body_text, PG_CATALOG_TEXT_MAX),
    };
    r = pg_catalog_exec(pc, PC_INSERT_MESSAGE, values, &res, error_r);
    if (r != TAB_OK)
        return r;
    *mid_r = pg_catalog_printf(arena, "%s", PQgetvalue(res, 0, 0));
    *created_r = 1;
    PQclear(res);
    return TAB_OK;
}

static enum tab_result pg_catalog_add(struct catalog *cat, const struct archive_record *rec,
                                      const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *mid = NULL, *copy_id;
    PGresult *res = NULL;
    enum tab_result r;
    int created;

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
    if (!pg_conn_take_over(pc->conn, rec->location)) {
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

    r = pg_catalog_message(pc, rec, &arena, &mid, &created, error_r);
    if (r != TAB_OK)
        goto fail;
    {
        const char *values[6] = {mid,
                                 rec->archive_id,
                                 pg_catalog_text(&arena, rec->store, 0),
                                 pg_catalog_text(&arena, rec->location, 0),
                                 rec->wrapped_sha256,
                                 pg_catalog_printf(&arena, "%" PRIu64, rec->wrapped_size)};
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
        for (size_t i = 0; i < rec->n_attachments; i++) {
            const char *values[4] = {mid, pg_catalog_printf(&arena, "%zu", i),
                                     pg_catalog_text(&arena, rec->attachments[i].filename, 0),
                                     pg_catalog_text(&arena, rec->attachments[i].content_type, 0)};
            r = pg_catalog_exec(pc, PC_INSERT_ATTACHMENT, values, &res, error_r);
            if (r != TAB_OK)
                goto fail;
            PQclear(res);
            res = NULL;
        }
    }

    r = pg_conn_commit(pc->conn, error_r);
    strlist_free(&arena);
    return r;

fail:
    PQclear(res);
    pg_conn_rollback(pc->conn);
    strlist_free(&arena);
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
static const char pg_catalog_search_message_id[] = " AND m.message_id = $@";
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
    pc->cat.forward_status = pg_catalog_forward_status;
    pc->cat.close = pg_catalog_close;
    return &pc->cat;
}
