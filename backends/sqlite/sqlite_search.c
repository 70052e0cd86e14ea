/*
 * NAME
 *	sqlite_search 3
 * SUMMARY
 *	SQLite catalog driver: search, get and the full-text query
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns search(), count() and get(), and reading a message's rows back
 *	into an archive record, with the semantics of backends/fts.h
 *	(docs/search.md). A query is one SELECT assembled from constant
 *	fragments only: exact addresses through the prefix indexes (the
 *	two-step compare below), domains through the reversed-domain
 *	indexes, wildcards as GLOB with only '*' special, and every word
 *	query (--text, --subject, the words form of --from/--to) as one
 *	FTS5 query over message_fts whose phrases are double-quoted strings
 *	of folded words, so no input is an FTS5 syntax error. A word query
 *	runs from the FTS5 side, newest rowid first, and stops when the page
 *	(limit, offset) is full; stale documents (sqlite_fts.c) never match.
 *	Newest first is archive order (messages.id DESC).
 *
 *	A word or attachment query first indexes whatever is still pending
 *	(sqlite_indexer.c), when the connection can write, so no caller
 *	misses a message; index_health() counts what it could not.
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

#include "backends/fts.h"
#include "backends/sqlite/sqlite_private.h"
#include "common/buf.h"
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
    rec->envelope_status =
        envelope_status_of(status) != NULL ? envelope_status_of(status) : ENVELOPE_INCOMPLETE;
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
 * The statement is built from the constant fragments below, chosen by
 * which fields of q are set; user text only ever reaches SQLite through
 * the named parameters, and the FTS5 query (":fts") holds only folded
 * words in double-quoted strings (backends/fts.h).
 *
 * Exact addresses go through the prefix index of addresses (schema
 * version 11): the substr() term selects the index entries (COLLATE
 * NOCASE: ASCII case ignored), the "+" term compares the whole value (see
 * sqlite_schema_v7). Domains go through the reversed-domain index: the
 * range [key, key + '/') holds the domain and its subdomains ("key.")
 * but also "key-x" ('-' sorts before '.'), which the second term drops.
 */
#define SQLITE_SEARCH_EXACT(col, param)                                                            \
    "substr(" col ", 1, " SQLITE_KEY_PREFIX ") = substr(" param ", 1, " SQLITE_KEY_PREFIX          \
    ") COLLATE NOCASE AND +" col " = " param " COLLATE NOCASE"
#define SQLITE_SEARCH_DOMAIN(col, param)                                                           \
    col " >= " param " AND " col " < " param " || '/' AND (" col " = " param " OR substr(" col     \
        ", length(" param ") + 1, 1) = '.')"

/*
 * The --from/--to forms (schema version 11: every address once, in
 * addresses; the rows refer to it by id): the ids of the messages a form
 * matches (an IN list over the (address, message) indexes, built whole:
 * cheap for an address in few messages), and the same as a test of one
 * message (EXISTS, through the per-message indexes and the address's
 * primary key: cheap when the address is in many messages, because a
 * newest-first scan then fills its page after a few rows; "+" keeps
 * SQLite off the address indexes there). A probe of the IN query
 * chooses (SQLITE_SEARCH_DENSE).
 */
struct sqlite_address_form {
    const char *ids, *exists;
};

#define SQLITE_ADDRESSES(cond) "SELECT id FROM addresses WHERE " cond
#define SQLITE_FROM_IDS(addresses)                                                                 \
    "SELECT id FROM messages WHERE sender_id IN (" addresses ") UNION ALL SELECT message FROM"     \
    " header_address_rows WHERE address_id IN (" addresses ") AND field = 'from'"
#define SQLITE_TO_IDS(addresses)                                                                   \
    "SELECT message FROM recipient_rows WHERE address_id IN (" addresses ") UNION ALL SELECT"      \
    " message FROM header_address_rows WHERE address_id IN (" addresses                            \
    ") AND field IN ('to', 'cc')"
#define SQLITE_FROM_EXISTS(cond)                                                                   \
    "(EXISTS (SELECT 1 FROM addresses a WHERE a.id = m.sender_id AND " cond                        \
    ") OR EXISTS (SELECT 1"                                                                        \
    " FROM header_address_rows h JOIN addresses a ON a.id = h.address_id WHERE h.message = m.id"   \
    " AND h.field = 'from' AND " cond "))"
#define SQLITE_TO_EXISTS(cond)                                                                     \
    "(EXISTS (SELECT 1 FROM recipient_rows r JOIN addresses a ON a.id = r.address_id"              \
    " WHERE r.message = m.id AND " cond ") OR EXISTS (SELECT 1 FROM header_address_rows h"         \
    " JOIN addresses a ON a.id = h.address_id WHERE h.message = m.id AND h.field IN ('to', 'cc')"  \
    " AND " cond "))"
/* An exact address has one id per spelling: the list is built once. */
#define SQLITE_FROM_HAS(addresses)                                                                 \
    "(+m.sender_id IN (" addresses ") OR EXISTS (SELECT 1 FROM header_address_rows h"              \
    " WHERE h.message = m.id AND h.field = 'from' AND +h.address_id IN (" addresses ")))"
#define SQLITE_TO_HAS(addresses)                                                                   \
    "(EXISTS (SELECT 1 FROM recipient_rows r WHERE r.message = m.id AND +r.address_id IN "         \
    "(" addresses ")) OR EXISTS (SELECT 1 FROM header_address_rows h WHERE h.message = m.id"       \
    " AND h.field IN ('to', 'cc') AND +h.address_id IN (" addresses ")))"
#define SQLITE_DOMAIN_TEST(col, param)                                                             \
    "(+" col " = " param " OR (+" col " > " param " AND +" col " < " param                         \
    " || '/' AND substr(" col ", length(" param ") + 1, 1) = '.'))"

static const struct sqlite_address_form sqlite_address_forms[2][3] = {
    {
        /* --from: the envelope sender or a header From address */
        {SQLITE_FROM_IDS(SQLITE_ADDRESSES(SQLITE_SEARCH_EXACT("address", ":from"))),
         SQLITE_FROM_HAS(SQLITE_ADDRESSES(SQLITE_SEARCH_EXACT("address", ":from")))},
        {SQLITE_FROM_IDS(SQLITE_ADDRESSES(SQLITE_SEARCH_DOMAIN("rdomain", ":from"))),
         SQLITE_FROM_EXISTS(SQLITE_DOMAIN_TEST("a.rdomain", ":from"))},
        {SQLITE_FROM_IDS(SQLITE_ADDRESSES("lower(address) GLOB :from")),
         SQLITE_FROM_EXISTS("lower(a.address) GLOB :from")},
    },
    {
        /* --to: an envelope recipient or a header To/Cc address */
        {SQLITE_TO_IDS(SQLITE_ADDRESSES(SQLITE_SEARCH_EXACT("address", ":to"))),
         SQLITE_TO_HAS(SQLITE_ADDRESSES(SQLITE_SEARCH_EXACT("address", ":to")))},
        {SQLITE_TO_IDS(SQLITE_ADDRESSES(SQLITE_SEARCH_DOMAIN("rdomain", ":to"))),
         SQLITE_TO_EXISTS(SQLITE_DOMAIN_TEST("a.rdomain", ":to"))},
        {SQLITE_TO_IDS(SQLITE_ADDRESSES("lower(address) GLOB :to")),
         SQLITE_TO_EXISTS("lower(a.address) GLOB :to")},
    },
};
static const char sqlite_search_message_id[] =
    " AND substr(m.message_id, 1, " SQLITE_KEY_PREFIX
    ") = substr(:message_id, 1, " SQLITE_KEY_PREFIX ") AND +m.message_id = :message_id";
static const char sqlite_search_degraded[] = " AND m.index_status = 'degraded'";
static const char sqlite_search_since[] = " AND COALESCE(m.date, m.arrival) >= :since";
static const char sqlite_search_until[] = " AND COALESCE(m.date, m.arrival) < :until";
static const char sqlite_search_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id"
    " AND a.filename LIKE :attachment ESCAPE '\\')";
static const char sqlite_search_has_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id)";
static const char sqlite_search_nothing[] = " AND 0";

/* Full text driven from the FTS5 side, newest (highest rowid) first, so a
 * common word stops after the first page; stale documents never match. */
static const char sqlite_search_fts_from[] =
    " FROM message_fts f CROSS JOIN messages m ON m.id = f.rowid"
    " WHERE message_fts MATCH :fts AND f.rowid NOT IN (SELECT message FROM fts_stale)";
static const char sqlite_search_fts_order[] = " ORDER BY f.rowid DESC";
/* A date range bounds the rowids the FTS5 side reads: a window far back
 * would otherwise read every newer match first. The messages of the
 * range lie between the least and the greatest id in it (the date index
 * finds both by reading the range once). */
#define SQLITE_SEARCH_IN_RANGE(agg)                                                                \
    "(SELECT " agg "(id) FROM messages INDEXED BY messages_when"                                   \
    " WHERE COALESCE(date, arrival) >= :since AND COALESCE(date, arrival) < :until)"
static const char sqlite_search_fts_dates[] = " AND f.rowid >= " SQLITE_SEARCH_IN_RANGE(
    "min") " AND f.rowid <= " SQLITE_SEARCH_IN_RANGE("max");
/* Everything but what the negated terms match ("-word" alone). */
static const char sqlite_search_fts_not[] =
    " AND m.id NOT IN (SELECT rowid FROM message_fts WHERE message_fts MATCH :fts_not)"
    " AND m.id NOT IN (SELECT message FROM fts_stale)";
static const char sqlite_search_plain_from[] = " FROM messages m WHERE 1";
static const char sqlite_search_plain_order[] = " ORDER BY m.id DESC";

/* Append phrase to out as an FTS5 string: in double quotes, quotes
 * doubled (folded words hold none; the quoting is for safety only). */
static void sqlite_fts_string(struct buf *out, const char *phrase)
{
    buf_add(out, "\"", 1);
    for (const char *p = phrase; *p != '\0'; p++) {
        if (*p == '"')
            buf_add(out, "\"", 1);
        buf_add(out, p, 1);
    }
    buf_add(out, "\"", 1);
}

/* A clause: (p1 AND p2 ...) NOT (n1 OR n2 ...); negated terms only when
 * neg_only (the caller then uses NOT IN). */
static void sqlite_fts_clause(struct buf *out, const struct fts_clause *c, int neg_only)
{
    int first = 1;

    buf_add(out, "(", 1);
    for (size_t i = 0; i < c->n; i++) {
        if (c->terms[i].negated != neg_only)
            continue;
        if (!first)
            buf_add_str(out, neg_only ? " OR " : " AND ");
        sqlite_fts_string(out, c->terms[i].phrase);
        first = 0;
    }
    buf_add(out, ")", 1);
    if (neg_only || c->positive == c->n)
        return;
    buf_add_str(out, " NOT (");
    first = 1;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->terms[i].negated)
            continue;
        if (!first)
            buf_add_str(out, " OR ");
        sqlite_fts_string(out, c->terms[i].phrase);
        first = 0;
    }
    buf_add(out, ")", 1);
}

/* One part of the FTS5 query, restricted to columns (e.g. "{subject body}"),
 * ANDed to what out holds. */
static void sqlite_fts_part(struct buf *out, const char *columns, const struct fts_query *q)
{
    if (out->len > 0)
        buf_add_str(out, " AND ");
    buf_add_str(out, columns);
    buf_add_str(out, " : (");
    for (size_t i = 0; i < q->n; i++) {
        if (i > 0)
            buf_add_str(out, " OR ");
        sqlite_fts_clause(out, &q->clauses[i], 0);
    }
    buf_add(out, ")", 1);
}

/* The value to bind for a --from/--to match that is not words (heap):
 * the key, or the GLOB pattern in which only '*' is special. */
static char *sqlite_address_bind(const struct address_match *m)
{
    struct buf b = BUF_INIT;

    if (m->kind != ADDRESS_WILDCARD)
        return xstrdup(m->key);
    for (const char *p = m->key; *p != '\0'; p++) {
        if (*p == '[')
            buf_add_str(&b, "[[]");
        else if (*p == '?')
            buf_add_str(&b, "[?]");
        else
            buf_add(&b, p, 1);
    }
    return b.data != NULL ? b.data : xstrdup("");
}

static int sqlite_address_form_index(enum address_match_kind kind)
{
    return kind == ADDRESS_EXACT ? 0 : kind == ADDRESS_DOMAIN ? 1 : 2;
}

/* A search_query as one SELECT and what it binds. */
struct sqlite_query {
    char *sql;
    char *from, *to, *message_id, *attachment, *fts, *fts_not;
    char *addr_sql[2]; /* the --from, --to fragments, or NULL */
    char since[21], until[21];
    int uses_fts; /* any part reads message_fts: index pending text first */
};

static void sqlite_query_free(struct sqlite_query *sq)
{
    free(sq->addr_sql[0]);
    free(sq->addr_sql[1]);
    free(sq->sql);
    free(sq->from);
    free(sq->to);
    free(sq->message_id);
    free(sq->attachment);
    free(sq->fts);
    free(sq->fts_not);
}

/* Whether the IN list of form (bound to value as param) would hold at
 * least SQLITE_SEARCH_DENSE messages: then a newest-first scan with the
 * EXISTS test fills a page sooner than the list is built. 0 on error
 * (the query then reports it). */
static int sqlite_address_dense(struct sqlite_catalog *sc, const char *ids, const char *param,
                                const char *value)
{
    /* Tests run both forms on a small catalog (test_catalog_sqlite.c). */
    const char *knob = getenv("TABULARIUM_TEST_SQLITE_DENSE");
    int limit = knob != NULL && atoi(knob) > 0 ? atoi(knob) : SQLITE_SEARCH_DENSE;
    char *sql = xasprintf("SELECT count(*) FROM (%s LIMIT %d)", ids, limit);
    sqlite3_stmt *st = NULL;
    int dense = 0;

    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, param), value, -1, SQLITE_STATIC) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        dense = sqlite3_column_int(st, 0) >= limit;
    (void)sqlite3_finalize(st);
    free(sql);
    return dense;
}

/* The statement for q: its rows (count 0: ids, newest first, paged) or
 * their number (count 1). sc: for the density probes of --from/--to. */
static void sqlite_query_build(struct sqlite_catalog *sc, const struct search_query *q, int count,
                               struct sqlite_query *sq)
{
    struct buf fts = BUF_INIT, fts_not = BUF_INIT;
    struct fts_query text = {NULL, 0}, subject = {NULL, 0};
    struct address_match addr[2];
    const char *values[2] = {q->from, q->to}, *params[2] = {":from", ":to"};
    const char *columns[2] = {"{sender}", "{recipients}"};
    const char *nothing = "", *not_sql = "";
    const char *head, *order;

    memset(sq, 0, sizeof(*sq));
    memset(addr, 0, sizeof(addr));
    if (q->text != NULL) {
        if (fts_query_parse(q->text, &text) < 0)
            nothing = sqlite_search_nothing;
        else if (text.n == 1 && text.clauses[0].positive == 0) {
            sqlite_fts_clause(&fts_not, &text.clauses[0], 1);
            not_sql = sqlite_search_fts_not;
        } else
            sqlite_fts_part(&fts, "{subject body}", &text);
    }
    if (q->subject != NULL) {
        if (fts_query_phrase(q->subject, &subject) < 0)
            nothing = sqlite_search_nothing;
        else
            sqlite_fts_part(&fts, "{subject}", &subject);
    }
    for (int w = 0; w < 2; w++) {
        const struct sqlite_address_form *form;
        char **bind = w == 0 ? &sq->from : &sq->to;

        if (values[w] == NULL)
            continue;
        if (address_match_parse(values[w], &addr[w]) < 0) {
            nothing = sqlite_search_nothing;
            continue;
        }
        if (addr[w].kind == ADDRESS_WORDS) {
            sqlite_fts_part(&fts, columns[w], &addr[w].words);
            continue;
        }
        form = &sqlite_address_forms[w][sqlite_address_form_index(addr[w].kind)];
        *bind = sqlite_address_bind(&addr[w]);
        /* A count reads every match either way: the list is cheaper. */
        if (!count && sqlite_address_dense(sc, form->ids, params[w], *bind))
            sq->addr_sql[w] = xasprintf(" AND %s", form->exists);
        else
            sq->addr_sql[w] = xasprintf(" AND m.id IN (%s)", form->ids);
    }
    if (fts.len > 0) {
        sq->fts = fts.data;
        head = sqlite_search_fts_from;
        order = sqlite_search_fts_order;
    } else {
        buf_free(&fts);
        head = sqlite_search_plain_from;
        order = sqlite_search_plain_order;
    }
    if (fts_not.len > 0) {
        sq->fts_not = fts_not.data;
    } else {
        buf_free(&fts_not);
    }
    sq->uses_fts = sq->fts != NULL || sq->fts_not != NULL;
    if (q->message_id != NULL)
        sq->message_id = catalog_message_id_bare(q->message_id);
    if (q->attachment != NULL)
        sq->attachment = catalog_like_substring(q->attachment);
    if (q->since != 0)
        record_format_time(q->since, sq->since);
    if (q->until != 0)
        record_format_time(q->until, sq->until);
    sq->sql = xasprintf(
        "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", count ? "SELECT count(*)" : "SELECT m.id", head,
        nothing, sq->addr_sql[0] ? sq->addr_sql[0] : "", sq->addr_sql[1] ? sq->addr_sql[1] : "",
        q->message_id ? sqlite_search_message_id : "", q->since ? sqlite_search_since : "",
        q->until ? sqlite_search_until : "",
        sq->fts != NULL && q->since && q->until ? sqlite_search_fts_dates : "", not_sql,
        q->attachment ? sqlite_search_attachment : "",
        q->has_attachment ? sqlite_search_has_attachment : "",
        q->degraded ? sqlite_search_degraded : "", count ? "" : order,
        !count && (q->limit > 0 || q->offset > 0) ? " LIMIT :limit" : "",
        !count && q->offset > 0 ? " OFFSET :offset" : "", "");
    fts_query_free(&text);
    fts_query_free(&subject);
    address_match_free(&addr[0]);
    address_match_free(&addr[1]);
}

static int sqlite_bind_named(sqlite3_stmt *st, const char *name, const char *value)
{
    int i;

    if (value == NULL || *value == '\0')
        return SQLITE_OK; /* not in this statement */
    i = sqlite3_bind_parameter_index(st, name);
    if (i == 0)
        return SQLITE_RANGE;
    return sqlite3_bind_text(st, i, value, -1, SQLITE_STATIC);
}

/* Prepare sq's statement and bind its values (q: limit and offset). */
static int sqlite_query_prepare(struct sqlite_catalog *sc, const struct search_query *q,
                                const struct sqlite_query *sq, int count, sqlite3_stmt **st_r)
{
    sqlite3_stmt *st;

    *st_r = NULL;
    if (sqlite3_prepare_v2(sc->db, sq->sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    *st_r = st;
    if (sqlite_bind_named(st, ":from", sq->from) != SQLITE_OK ||
        sqlite_bind_named(st, ":to", sq->to) != SQLITE_OK ||
        sqlite_bind_named(st, ":message_id", sq->message_id) != SQLITE_OK ||
        sqlite_bind_named(st, ":since", sq->since) != SQLITE_OK ||
        sqlite_bind_named(st, ":until", sq->until) != SQLITE_OK ||
        sqlite_bind_named(st, ":fts", sq->fts) != SQLITE_OK ||
        sqlite_bind_named(st, ":fts_not", sq->fts_not) != SQLITE_OK ||
        sqlite_bind_named(st, ":attachment", sq->attachment) != SQLITE_OK)
        return -1;
    if (!count && (q->limit > 0 || q->offset > 0) &&
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":limit"),
                           q->limit > 0 ? q->limit : -1) != SQLITE_OK)
        return -1;
    if (!count && q->offset > 0 &&
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), q->offset) != SQLITE_OK)
        return -1;
    return 0;
}

/*
 * Before a full-text query: index what add() left in text_pending, so
 * that the query sees every archived message, whoever asks (search,
 * export, hold). In batches, so deliveries get the write lock between
 * them, and for at most SQLITE_SEARCH_INDEX_MS. A read-only connection
 * or a failure leaves the rest to the indexer; the caller can count it
 * with index_health().
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

enum tab_result sqlite_search(struct catalog *cat, const struct search_query *q, catalog_row_fn *fn,
                              void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct sqlite_query sq;
    sqlite3_stmt *st = NULL;
    enum tab_result r = TAB_OK;
    int rc;

    sqlite_query_build(sc, q, 0, &sq);
    /* Attachments of from_store messages are found by the indexer too. */
    if (sq.uses_fts || q->attachment != NULL || q->has_attachment)
        sqlite_index_before_search(sc);
    if (sqlite_query_prepare(sc, q, &sq, 0, &st) < 0)
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
    sqlite_query_free(&sq);
    return r;
}

enum tab_result sqlite_count_matches(struct catalog *cat, const struct search_query *q,
                                     long long *n_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct sqlite_query sq;
    sqlite3_stmt *st = NULL;
    enum tab_result r = TAB_OK;

    *n_r = 0;
    sqlite_query_build(sc, q, 1, &sq);
    if (sq.uses_fts || q->attachment != NULL || q->has_attachment)
        sqlite_index_before_search(sc);
    if (sqlite_query_prepare(sc, q, &sq, 1, &st) < 0 || sqlite3_step(st) != SQLITE_ROW)
        r = sqlite_fail_db(sc, error_r, "count");
    else
        *n_r = sqlite3_column_int64(st, 0);
    (void)sqlite3_finalize(st);
    sqlite_query_free(&sq);
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
