/*
 * NAME
 *	sqlite_search 3
 * SUMMARY
 *	SQLite catalog driver: search, get and the full-text query
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns search() and get(), and reading a message's rows back into an
 *	archive record. search() assembles its WHERE clause from constant
 *	fragments only, escapes LIKE metacharacters in user text, and
 *	translates websearch syntax into an FTS5 query in which every word
 *	and phrase is a string, so no input is an FTS5 syntax error.
 *
 *	search() with a text or attachment query first indexes whatever is
 *	still pending (sqlite_indexer.c), when the connection can write, so
 *	no caller misses a message; index_pending(cat, 0, ...) counts what
 *	it could not.
 *
 *	Must never put user text into SQL: user text reaches SQLite only
 *	through named parameters.
 * DIAGNOSTICS
 *	TAB_RETRY with "sqlite PATH: search: SQLITE MESSAGE" (or "get"); a
 *	row that vanished between search and load is TAB_RETRY too. get()
 *	of an unknown archive id is TAB_PERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strlist.h"

/* Append rows of ST_RCPTS / ST_ADDRS / ST_ATTACHMENTS for message_id to rec. */
static int sqlite_load_lists(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                             struct archive_record *rec)
{
    sqlite3_stmt *st = sc->st[ST_RCPTS];
    int rc;

    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        record_add_rcpt(
            rec, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
    if (rc != SQLITE_DONE)
        return -1;
    sqlite_stmt_done(st);

    st = sc->st[ST_ADDRS];
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *field = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *address = (const char *)sqlite3_column_text(st, 2);
        struct record_addrs *a = record_addrs_field(rec, field);

        if (a != NULL) /* the CHECK constraint allows no other field */
            record_addrs_add(a, name, address);
    }
    if (rc != SQLITE_DONE)
        return -1;
    sqlite_stmt_done(st);

    st = sc->st[ST_ATTACHMENTS];
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        record_add_attachment(rec, (const char *)sqlite3_column_text(st, 0),
                              (const char *)sqlite3_column_text(st, 1));
    if (rc != SQLITE_DONE)
        return -1;
    sqlite_stmt_done(st);
    return 0;
}

/*
 * Fill rec from message message_id and its copy copy_id (0: the first
 * copy). The statements are reset whatever happens; on failure the caller
 * reads sqlite3_errmsg() before its next SQLite call.
 */
static enum tab_result sqlite_load(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                                   sqlite3_int64 copy_id, struct archive_record *rec,
                                   const char **error_r)
{
    sqlite3_stmt *st = sc->st[ST_MESSAGE_BY_ID];
    enum tab_result r = TAB_OK;
    const char *status;
    char *arrival = NULL;
    int rc;

    memset(rec, 0, sizeof(*rec));
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK)
        goto db_error;
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        /* A row vanished between search and load: another process removed it. */
        r = sqlite_fail(sc, TAB_RETRY, error_r, "message row %lld disappeared",
                        (long long)message_id);
        goto out;
    }
    if (rc != SQLITE_ROW)
        goto db_error;
    sqlite_column_copy(st, 0, rec->archive_id, sizeof(rec->archive_id));
    rec->queue_id = sqlite_column_dup(st, 1);
    sqlite_column_copy(st, 2, rec->sha256, sizeof(rec->sha256));
    rec->message_id = sqlite_column_dup(st, 3);
    rec->envelope_from = sqlite_column_dup(st, 4);
    status = (const char *)sqlite3_column_text(st, 5);
    rec->envelope_status = status != NULL && strcmp(status, ENVELOPE_COMPLETE) == 0
                               ? ENVELOPE_COMPLETE
                               : ENVELOPE_INCOMPLETE;
    rec->date = sqlite_column_dup(st, 6);
    rec->date_raw = sqlite_column_dup(st, 7);
    rec->subject = sqlite_column_dup(st, 8);
    rec->subject_raw = sqlite_column_dup(st, 9);
    arrival = sqlite_column_dup(st, 10);
    if (arrival == NULL || record_parse_time(arrival, &rec->arrival) < 0)
        rec->arrival = 0;
    rec->size = (uint64_t)sqlite3_column_int64(st, 11);
    rec->mail_params = sqlite_column_dup(st, 12);
    rec->xforward = sqlite_column_dup(st, 13);
    status = (const char *)sqlite3_column_text(st, 14);
    rec->index_status =
        status != NULL && strcmp(status, INDEX_DEGRADED) == 0 ? INDEX_DEGRADED : INDEX_FULL;
    rec->index_note = sqlite_column_dup(st, 15);
    if (rec->queue_id == NULL)
        rec->queue_id = xstrdup("");
    if (rec->envelope_from == NULL)
        rec->envelope_from = xstrdup("");
    sqlite_stmt_done(st);

    st = sc->st[copy_id ? ST_COPY_BY_ID : ST_FIRST_COPY];
    if (sqlite3_bind_int64(st, 1, copy_id ? copy_id : message_id) != SQLITE_OK)
        goto db_error;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rec->store = sqlite_column_dup(st, 0);
        rec->location = sqlite_column_dup(st, 1);
        sqlite_column_copy(st, 2, rec->wrapped_sha256, sizeof(rec->wrapped_sha256));
        rec->wrapped_size = (uint64_t)sqlite3_column_int64(st, 3);
        rec->retain_until = sqlite_column_time(st, 4);
    } else if (rc != SQLITE_DONE) {
        goto db_error;
    }
    sqlite_stmt_done(st);

    if (sqlite_load_lists(sc, message_id, rec) < 0)
        goto db_error;
    goto out;

db_error:
    r = sqlite_fail_db(sc, error_r, "read message");
out:
    if (r != TAB_OK) {
        sqlite_stmts_reset(sc);
        record_free(rec);
    }
    free(arrival);
    return r;
}

/*
 * The WHERE clause is built from the constant fragments below, chosen by
 * which fields of q are set; user text only ever reaches SQLite through
 * the named parameters.
 */
static const char sqlite_search_from[] =
    " AND (m.envelope_from LIKE :from ESCAPE '\\'"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from'"
    " AND (h.address LIKE :from ESCAPE '\\' OR h.name LIKE :from ESCAPE '\\')))";
static const char sqlite_search_to[] =
    " AND (EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    " AND r.address LIKE :to ESCAPE '\\')"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    " AND h.field IN ('to', 'cc')"
    " AND (h.address LIKE :to ESCAPE '\\' OR h.name LIKE :to ESCAPE '\\')))";
static const char sqlite_search_subject[] = " AND m.subject LIKE :subject ESCAPE '\\'";
static const char sqlite_search_message_id[] =
    " AND substr(m.message_id, 1, " SQLITE_KEY_PREFIX
    ") = substr(:message_id, 1, " SQLITE_KEY_PREFIX ") AND +m.message_id = :message_id";
static const char sqlite_search_degraded[] = " AND m.index_status = 'degraded'";
static const char sqlite_search_since[] = " AND COALESCE(m.date, m.arrival) >= :since";
static const char sqlite_search_until[] = " AND COALESCE(m.date, m.arrival) < :until";

/* Full text: q->text after sqlite_fts_query() (":text" needs at least one
 * word that is not negated; ":text_not" holds only negated words). */
static const char sqlite_search_text[] =
    " AND m.id IN (SELECT rowid FROM message_text WHERE message_text MATCH :text)";
static const char sqlite_search_text_not[] =
    " AND m.id NOT IN (SELECT rowid FROM message_text WHERE message_text MATCH :text_not)";
static const char sqlite_search_text_empty[] = " AND 0";
static const char sqlite_search_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id"
    " AND a.filename LIKE :attachment ESCAPE '\\')";
static const char sqlite_search_has_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id)";

/* Append s to *buf as an FTS5 string: in double quotes, quotes doubled.
 * Inside a string every character is text to the tokenizer: no column
 * filter, NEAR, prefix "*", "^" or operator can come from user input. */
static void sqlite_fts_append_string(struct strlist *out, const char *s, size_t len)
{
    char *q = xmalloc(2 * len + 3), *w = q;

    *w++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            *w++ = '"';
        *w++ = s[i];
    }
    *w++ = '"';
    *w = '\0';
    strlist_add(out, q);
    free(q);
}

/* A term the tokenizer splits into nothing ("*", "--", "...") would turn
 * the whole query into "match nothing"; such terms are dropped. */
static int sqlite_fts_has_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            return 1;
    }
    return 0;
}

static void sqlite_strlist_take(struct strlist *l, char *s)
{
    strlist_add(l, s);
    free(s);
}

/* l's strings joined by sep, in parentheses when paren and more than one. */
static char *sqlite_join(const struct strlist *l, const char *sep, int paren)
{
    char *joined = strlist_join(l, sep);

    if (!paren || l->n < 2)
        return joined;
    char *out = xasprintf("(%s)", joined);
    free(joined);
    return out;
}

/*
 * Translate websearch syntax (as PostgreSQL's websearch_to_tsquery) into
 * an FTS5 query: words and "quoted phrases" must all match; "a OR b"
 * matches either; -word and -"a phrase" must not match. Every word and
 * phrase becomes an FTS5 string, so no input is an FTS5 syntax error.
 * *pos_r: the positive part, or NULL when there is none; *neg_r: the
 * negated terms joined with OR, or NULL.
 */
/* Whether a word or phrase other than "or" follows (for the OR operator). */
/* Query separators: white space, and '<' '>' which the PostgreSQL catalog
 * reads as spaces too (its parser would take "<word>" for a tag). */
#define SQLITE_FTS_SPACE " \t\r\n\f\v<>"

static int sqlite_fts_is_or(const char *p, size_t len)
{
    return len == 2 && strncasecmp(p, "OR", 2) == 0;
}

/* Whether a word or phrase follows (an "or" after "or" is the word). */
static int sqlite_fts_next_is_term(const char *p)
{
    while (*p != '\0' && strchr(SQLITE_FTS_SPACE, *p) != NULL)
        p++;
    return *p != '\0';
}

/* One OR-separated clause: all of pos, none of neg. */
struct sqlite_fts_clause {
    struct strlist pos, neg;
};

/* Close the current clause into clauses (FTS5 text) or, when it has no
 * positive term, keep its negations apart in *only_neg (usable only when it
 * is the whole query: FTS5 cannot express "everything except"). */
static void sqlite_fts_close(struct sqlite_fts_clause *c, struct strlist *clauses,
                             struct strlist *only_neg, int *neg_clauses)
{
    if (c->pos.n > 0) {
        char *and = sqlite_join(&c->pos, " AND ", 1);
        if (c->neg.n > 0) {
            char * or = sqlite_join(&c->neg, " OR ", 0);
            sqlite_strlist_take(clauses, xasprintf("(%s NOT (%s))", and, or));
            free(or);
            free(and);
        } else {
            sqlite_strlist_take(clauses, and);
        }
    } else if (c->neg.n > 0) {
        (*neg_clauses)++;
        for (size_t i = 0; i < c->neg.n; i++)
            strlist_add(only_neg, c->neg.v[i]);
    }
    strlist_free(&c->pos);
    strlist_free(&c->neg);
}

/*
 * websearch_to_tsquery semantics, as the PostgreSQL catalog has them: terms
 * are ANDed, "or" (any case) between two terms separates clauses and binds
 * looser than AND ("a b or c" is (a AND b) OR c), "-term" and "- term"
 * exclude within their clause, a leading, trailing or second "or" is the
 * word "or". Known difference: a clause of exclusions only ("a or -b") can
 * stand alone ("-b": everything without b) but is dropped next to others.
 */
static void sqlite_fts_query(const char *text, char **pos_r, char **neg_r)
{
    struct strlist clauses = STRLIST_INIT, only_neg = STRLIST_INIT;
    struct sqlite_fts_clause c = {STRLIST_INIT, STRLIST_INIT};
    const char *p = text;
    int pending_or = 0, neg_clauses = 0;

    while (*p != '\0') {
        const char *start;
        size_t len;
        int negated = 0;

        if (strchr(SQLITE_FTS_SPACE, *p) != NULL) {
            p++;
            continue;
        }
        if (*p == '-') { /* "-word" and "- word" both exclude the word */
            negated = 1;
            p++;
            while (*p != '\0' && strchr(SQLITE_FTS_SPACE, *p) != NULL)
                p++;
            if (*p == '\0')
                break;
        }
        if (*p == '"') {
            start = ++p;
            while (*p != '\0' && *p != '"')
                p++;
            len = (size_t)(p - start);
            if (*p == '"')
                p++;
        } else {
            start = p;
            while (*p != '\0' && *p != '"' && strchr(SQLITE_FTS_SPACE, *p) == NULL)
                p++;
            len = (size_t)(p - start);
            if (!negated && !pending_or && sqlite_fts_is_or(start, len) && c.pos.n + c.neg.n > 0 &&
                sqlite_fts_next_is_term(p)) {
                pending_or = 1;
                continue;
            }
        }
        if (!sqlite_fts_has_token(start, len))
            continue;
        if (pending_or) {
            sqlite_fts_close(&c, &clauses, &only_neg, &neg_clauses);
            pending_or = 0;
        }
        sqlite_fts_append_string(negated ? &c.neg : &c.pos, start, len);
    }
    sqlite_fts_close(&c, &clauses, &only_neg, &neg_clauses);
    *pos_r = clauses.n > 0 ? sqlite_join(&clauses, " OR ", 0) : NULL;
    *neg_r = clauses.n == 0 && neg_clauses == 1 ? sqlite_join(&only_neg, " OR ", 0) : NULL;
    strlist_free(&clauses);
    strlist_free(&only_neg);
}

/*
 * Before a full-text query: index what add() left in text_pending, so
 * that the query sees every archived message, whoever asks (search,
 * export, hold). In batches, so deliveries get the write lock between
 * them, and for at most SQLITE_SEARCH_INDEX_MS. A read-only connection
 * or a failure leaves the rest to the indexer; the caller can count it
 * with index_pending(cat, 0, ...).
 */
static void sqlite_index_before_search(struct sqlite_catalog *sc)
{
    long long deadline = clock_monotonic_ms() + SQLITE_SEARCH_INDEX_MS;
    const char *error;
    int done;

    if (sqlite3_db_readonly(sc->db, "main") == 1)
        return;
    do {
        if (sqlite_index_pending(&sc->cat, SQLITE_INDEX_BATCH_ROWS, &done, NULL, &error) !=
            TAB_OK) {
            log_debug("%s", error);
            return;
        }
    } while (done > 0 && clock_monotonic_ms() < deadline);
}

static int sqlite_bind_named(sqlite3_stmt *st, const char *name, const char *value)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i == 0)
        return SQLITE_RANGE;
    return sqlite3_bind_text(st, i, value, -1, SQLITE_STATIC);
}

/* Bind name to the LIKE pattern that finds value inside a column
 * (*like_r: the pattern, for the caller to free), unless value is NULL. */
static int sqlite_bind_like(sqlite3_stmt *st, const char *name, const char *value, char **like_r)
{
    if (value == NULL)
        return SQLITE_OK;
    *like_r = catalog_like_substring(value);
    return sqlite_bind_named(st, name, *like_r);
}

/* Bind name to t as stored (formatted into buf), unless t is 0. */
static int sqlite_bind_time(sqlite3_stmt *st, const char *name, time_t t, char buf[21])
{
    if (t == 0)
        return SQLITE_OK;
    record_format_time(t, buf);
    return sqlite_bind_named(st, name, buf);
}

enum tab_result sqlite_search(struct catalog *cat, const struct search_query *q, catalog_row_fn *fn,
                              void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char *like_from = NULL, *like_to = NULL, *like_subject = NULL, *message_id = NULL;
    char *like_attachment = NULL, *fts_pos = NULL, *fts_neg = NULL, *fts_match = NULL;
    const char *text_sql = "", *text_not_sql = "";
    char since[21], until[21];
    sqlite3_stmt *st = NULL;
    enum tab_result r = TAB_OK;
    char *sql;
    int rc;

    /* Attachments of from_store messages are found by the indexer too. */
    if (q->text != NULL || q->attachment != NULL || q->has_attachment)
        sqlite_index_before_search(sc);
    if (q->text != NULL) {
        sqlite_fts_query(q->text, &fts_pos, &fts_neg);
        if (fts_pos != NULL && fts_neg != NULL) {
            fts_match = xasprintf("%s NOT (%s)", fts_pos, fts_neg);
            text_sql = sqlite_search_text;
        } else if (fts_pos != NULL) {
            fts_match = xstrdup(fts_pos);
            text_sql = sqlite_search_text;
        } else if (fts_neg != NULL) {
            text_not_sql = sqlite_search_text_not;
        } else {
            text_sql = sqlite_search_text_empty; /* nothing to look for */
        }
    }
    sql = xasprintf("SELECT m.id FROM messages m WHERE 1%s%s%s%s%s%s%s%s%s%s%s"
                    " ORDER BY COALESCE(m.date, m.arrival) DESC, m.id DESC%s",
                    q->from ? sqlite_search_from : "", q->to ? sqlite_search_to : "",
                    q->subject ? sqlite_search_subject : "",
                    q->message_id ? sqlite_search_message_id : "",
                    q->since ? sqlite_search_since : "", q->until ? sqlite_search_until : "",
                    text_sql, text_not_sql, q->attachment ? sqlite_search_attachment : "",
                    q->has_attachment ? sqlite_search_has_attachment : "",
                    q->degraded ? sqlite_search_degraded : "", q->limit > 0 ? " LIMIT :limit" : "");
    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto db_error;

    if (sqlite_bind_like(st, ":from", q->from, &like_from) != SQLITE_OK ||
        sqlite_bind_like(st, ":to", q->to, &like_to) != SQLITE_OK ||
        sqlite_bind_like(st, ":subject", q->subject, &like_subject) != SQLITE_OK)
        goto db_error;
    if (q->message_id) {
        message_id = catalog_message_id_bare(q->message_id);
        if (sqlite_bind_named(st, ":message_id", message_id) != SQLITE_OK)
            goto db_error;
    }
    if (sqlite_bind_time(st, ":since", q->since, since) != SQLITE_OK ||
        sqlite_bind_time(st, ":until", q->until, until) != SQLITE_OK)
        goto db_error;
    if (fts_match != NULL && sqlite_bind_named(st, ":text", fts_match) != SQLITE_OK)
        goto db_error;
    if (fts_pos == NULL && fts_neg != NULL &&
        sqlite_bind_named(st, ":text_not", fts_neg) != SQLITE_OK)
        goto db_error;
    if (sqlite_bind_like(st, ":attachment", q->attachment, &like_attachment) != SQLITE_OK)
        goto db_error;
    if (q->limit > 0 &&
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"), q->limit) != SQLITE_OK)
        goto db_error;

    /* While st is active the connection holds one read transaction, so
     * the per-row loads see the same snapshot as the search. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct archive_record rec;
        int stop;

        r = sqlite_load(sc, sqlite3_column_int64(st, 0), 0, &rec, error_r);
        if (r != TAB_OK)
            goto out;
        stop = fn(&rec, ctx);
        record_free(&rec);
        if (stop)
            goto out;
    }
    if (rc == SQLITE_DONE)
        goto out;

db_error:
    r = sqlite_fail_db(sc, error_r, "search");
out:
    (void)sqlite3_finalize(st);
    free(sql);
    free(like_from);
    free(like_to);
    free(like_subject);
    free(message_id);
    free(like_attachment);
    free(fts_pos);
    free(fts_neg);
    free(fts_match);
    return r;
}

enum tab_result sqlite_get(struct catalog *cat, const char *archive_id,
                           struct archive_record *rec_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = sc->st[ST_MESSAGE_BY_ARCHIVE_ID];
    sqlite3_int64 message_id = 0, copy_id = 0;
    enum tab_result r;
    int rc;

    memset(rec_r, 0, sizeof(*rec_r));
    if (sqlite_bind_text(st, 1, archive_id) != SQLITE_OK)
        goto db_error;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        message_id = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        goto db_error;
    sqlite_stmt_done(st);

    if (message_id == 0) {
        st = sc->st[ST_COPY_BY_ARCHIVE_ID];
        if (sqlite_bind_text(st, 1, archive_id) != SQLITE_OK)
            goto db_error;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            copy_id = sqlite3_column_int64(st, 0);
            message_id = sqlite3_column_int64(st, 1);
        } else if (rc != SQLITE_DONE) {
            goto db_error;
        }
        sqlite_stmt_done(st);
    }
    if (message_id == 0)
        return sqlite_fail(sc, TAB_PERM, error_r, "archive id %s not found", archive_id);
    return sqlite_load(sc, message_id, copy_id, rec_r, error_r);

db_error:
    r = sqlite_fail_db(sc, error_r, "get");
    sqlite_stmt_done(st);
    return r;
}
