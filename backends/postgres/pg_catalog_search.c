/*
 * NAME
 *	pg_catalog_search 3
 * SUMMARY
 *	PostgreSQL catalog driver: search, count and get
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns search(), count() and get(), and reading a message's rows back
 *	into an archive record, in one snapshot. A query is read by
 *	backends/fts.h as on SQLite (docs/search.md): words become tsquery
 *	text over the tsvectors that tabularium wrote (pg_fts.h), one bind
 *	parameter cast with ::tsquery; an address is exact (md5() indexes),
 *	a domain (a range over the reversed domain), a wildcard (LIKE, a
 *	scan) or words (addr_fts); a search of addresses alone reads them as
 *	streams, newest first, as far as the page needs; a page of words walks
 *	the messages newest first in growing id ranges (pg_catalog_walk()).
 *	Results are newest first (id DESC) with LIMIT and OFFSET, and a page
 *	of them is read with five statements.
 *	Each search sets the planner for its own transaction
 *	(pg_catalog_plan()); docs/schema-pgsql.md has the measured reasons.
 *
 *	Must never put user text into SQL: search() assembles its WHERE
 *	clause from constant fragments and numbers its parameters itself,
 *	and escapes LIKE metacharacters in user text.
 * DIAGNOSTICS
 *	TAB_RETRY with "pgsql NAME: WHAT: SERVER MESSAGE", after ROLLBACK;
 *	get() of an unknown archive id is TAB_PERM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/fts.h"
#include "backends/postgres/pg_catalog_private.h"
#include "backends/postgres/pg_fts.h"
#include "common/buf.h"
#include "common/strlist.h"

/* The message columns of PC_MESSAGE_BY_ID, from column c of row. */
static void pg_catalog_fill_message(struct archive_record *rec, const PGresult *res, int row, int c)
{
    const char *status;

    pg_catalog_copy(res, row, c + 0, rec->archive_id, sizeof(rec->archive_id));
    rec->queue_id = pg_catalog_dup(res, row, c + 1);
    pg_catalog_copy(res, row, c + 2, rec->sha256, sizeof(rec->sha256));
    rec->message_id = pg_catalog_dup(res, row, c + 3);
    rec->envelope_from = pg_catalog_dup(res, row, c + 4);
    status = PQgetvalue(res, row, c + 5);
    rec->envelope_status =
        envelope_status_of(status) != NULL ? envelope_status_of(status) : ENVELOPE_INCOMPLETE;
    if (!PQgetisnull(res, row, c + 6)) {
        char date[21];
        record_format_time((time_t)strtoll(PQgetvalue(res, row, c + 6), NULL, 10), date);
        rec->date = xstrdup(date);
    }
    rec->date_raw = pg_catalog_dup(res, row, c + 7);
    rec->subject = pg_catalog_dup(res, row, c + 8);
    rec->subject_raw = pg_catalog_dup(res, row, c + 9);
    rec->arrival = (time_t)strtoll(PQgetvalue(res, row, c + 10), NULL, 10);
    rec->size = strtoull(PQgetvalue(res, row, c + 11), NULL, 10);
    rec->mail_params = pg_catalog_dup(res, row, c + 12);
    rec->xforward = pg_catalog_dup(res, row, c + 13);
    rec->index_status =
        strcmp(PQgetvalue(res, row, c + 14), INDEX_DEGRADED) == 0 ? INDEX_DEGRADED : INDEX_FULL;
    rec->index_note = pg_catalog_dup(res, row, c + 15);
    if (rec->queue_id == NULL)
        rec->queue_id = xstrdup("");
    if (rec->envelope_from == NULL)
        rec->envelope_from = xstrdup("");
}

/* The copy columns of PC_COPY_SELECT, from column c of row. */
static void pg_catalog_fill_copy(struct archive_record *rec, const PGresult *res, int row, int c)
{
    rec->store = pg_catalog_dup(res, row, c + 0);
    rec->location = pg_catalog_dup(res, row, c + 1);
    pg_catalog_copy(res, row, c + 2, rec->wrapped_sha256, sizeof(rec->wrapped_sha256));
    rec->wrapped_size = strtoull(PQgetvalue(res, row, c + 3), NULL, 10);
    if (!PQgetisnull(res, row, c + 4))
        rec->retain_until = (time_t)strtoll(PQgetvalue(res, row, c + 4), NULL, 10);
}

/* Rows first .. end-1 of res are the message's: recipients (c: address,
 * archive_rcpt, orcpt, notify), header addresses (field, name, address)
 * or attachments (filename, content_type). */
static void pg_catalog_fill_rcpts(struct archive_record *rec, const PGresult *res, int first,
                                  int end, int c)
{
    for (int i = first; i < end; i++)
        record_add_rcpt(rec, PQgetvalue(res, i, c), pg_catalog_value(res, i, c + 1),
                        pg_catalog_value(res, i, c + 2), pg_catalog_value(res, i, c + 3));
}

static void pg_catalog_fill_addrs(struct archive_record *rec, const PGresult *res, int first,
                                  int end, int c)
{
    for (int i = first; i < end; i++) {
        struct record_addrs *a = record_addrs_field(rec, PQgetvalue(res, i, c));
        if (a != NULL) /* the CHECK constraint allows no other field */
            record_addrs_add(a, pg_catalog_value(res, i, c + 1), pg_catalog_value(res, i, c + 2));
    }
}

static void pg_catalog_fill_attachments(struct archive_record *rec, const PGresult *res, int first,
                                        int end, int c)
{
    for (int i = first; i < end; i++)
        record_add_attachment(rec, pg_catalog_value(res, i, c), pg_catalog_value(res, i, c + 1));
}

/* A message's lists: the statement that reads them by message id, and
 * what fills them into the record. */
static const struct {
    enum pg_catalog_stmt stmt;
    void (*fill)(struct archive_record *rec, const PGresult *res, int first, int end, int c);
} pg_catalog_lists[] = {
    {PC_RCPTS, pg_catalog_fill_rcpts},
    {PC_ADDRS, pg_catalog_fill_addrs},
    {PC_ATTACHMENTS, pg_catalog_fill_attachments},
};

/* Fill rec from message mid and copy copy_id ("" : the first copy). */
enum tab_result pg_catalog_load(struct pg_catalog *pc, const char *mid, const char *copy_id,
                                struct archive_record *rec, const char **error_r)
{
    const char *values[1] = {mid};
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
    pg_catalog_fill_message(rec, res, 0, 0);
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
    if (PQntuples(res) > 0)
        pg_catalog_fill_copy(rec, res, 0, 0);
    PQclear(res);
    res = NULL;

    for (size_t i = 0; i < sizeof(pg_catalog_lists) / sizeof(pg_catalog_lists[0]); i++) {
        r = pg_catalog_exec(pc, pg_catalog_lists[i].stmt, values, &res, error_r);
        if (r != TAB_OK)
            goto out;
        pg_catalog_lists[i].fill(rec, res, 0, PQntuples(res), 0);
        PQclear(res);
        res = NULL;
    }

out:
    PQclear(res);
    if (r != TAB_OK)
        record_free(rec);
    return r;
}

/* The rows of res (ordered by column 0, a message id, ascending) that
 * belong to message mid: [*first, *end). */
static void pg_catalog_rows_of(const PGresult *res, long long mid, int *first, int *end)
{
    int lo = 0, hi = PQntuples(res);

    while (lo < hi) {
        int m = lo + (hi - lo) / 2;
        if (strtoll(PQgetvalue(res, m, 0), NULL, 10) < mid)
            lo = m + 1;
        else
            hi = m;
    }
    *first = lo;
    for (hi = lo; hi < PQntuples(res) && strtoll(PQgetvalue(res, hi, 0), NULL, 10) == mid; hi++)
        ;
    *end = hi;
}

/* What a page of results reads: one statement per table for all of its
 * messages ($1: an array of ids), each row led by its message's id. */
static const char *const pg_catalog_page_sql[5] = {
    "SELECT id, archive_id, queue_id, sha256, message_id, envelope_from, envelope_status,"
    " extract(epoch FROM date)::bigint, date_raw, subject, subject_raw,"
    " extract(epoch FROM arrival)::bigint, size, mail_params, xforward, index_status, index_note"
    " FROM messages WHERE id = ANY ($1::bigint[]) ORDER BY id",
    "SELECT DISTINCT ON (message) message, store, location, wrapped_sha256, wrapped_size,"
    " extract(epoch FROM retain_until)::bigint FROM copies WHERE message = ANY ($1::bigint[])"
    " ORDER BY message, id",
    "SELECT message, address, archive_rcpt, orcpt, notify FROM recipients"
    " WHERE message = ANY ($1::bigint[]) ORDER BY message, id",
    "SELECT message, field, name, address FROM header_addresses"
    " WHERE message = ANY ($1::bigint[]) ORDER BY message, position, id",
    "SELECT message, filename, content_type FROM attachments"
    " WHERE message = ANY ($1::bigint[]) ORDER BY message, position, id",
};

/* Hand the messages ids (in this order) to fn as complete records, read
 * with five statements whatever their number. *stop_r when fn said so. */
static enum tab_result pg_catalog_load_page(struct pg_catalog *pc, const struct strlist *ids,
                                            catalog_row_fn *fn, void *ctx, const char **error_r)
{
    PGresult *res[5] = {NULL, NULL, NULL, NULL, NULL};
    struct buf array = BUF_INIT;
    enum tab_result r = TAB_OK;
    const char *values[1];

    if (ids->n == 0)
        return TAB_OK;
    buf_add(&array, "{", 1);
    for (size_t i = 0; i < ids->n; i++) {
        if (i > 0)
            buf_add(&array, ",", 1);
        buf_add_str(&array, ids->v[i]); /* numbers from the server */
    }
    buf_add(&array, "}", 1);
    values[0] = array.data;
    for (int t = 0; t < 5 && r == TAB_OK; t++)
        r = pg_catalog_run(pc, "read results", pg_catalog_page_sql[t], 1, values, &res[t], error_r);
    for (size_t i = 0; i < ids->n && r == TAB_OK; i++) {
        long long mid = strtoll(ids->v[i], NULL, 10);
        struct archive_record rec;
        int first, end, stop;

        memset(&rec, 0, sizeof(rec));
        pg_catalog_rows_of(res[0], mid, &first, &end);
        if (first == end) {
            /* Removed between search and load (tabularium expire). */
            r = pg_conn_fail(pc->conn, TAB_RETRY, error_r, "message row %s disappeared", ids->v[i]);
            break;
        }
        pg_catalog_fill_message(&rec, res[0], first, 1);
        pg_catalog_rows_of(res[1], mid, &first, &end);
        if (first < end)
            pg_catalog_fill_copy(&rec, res[1], first, 1);
        pg_catalog_rows_of(res[2], mid, &first, &end);
        pg_catalog_fill_rcpts(&rec, res[2], first, end, 1);
        pg_catalog_rows_of(res[3], mid, &first, &end);
        pg_catalog_fill_addrs(&rec, res[3], first, end, 1);
        pg_catalog_rows_of(res[4], mid, &first, &end);
        pg_catalog_fill_attachments(&rec, res[4], first, end, 1);
        stop = fn(&rec, ctx);
        record_free(&rec);
        if (stop)
            break;
    }
    for (int t = 0; t < 5; t++)
        PQclear(res[t]);
    buf_free(&array);
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

/* --from: the envelope sender or a From address (fts.h's four forms),
 * as an IN list (what a count reads). Exact: the md5() indexes; domain:
 * the reversed-domain indexes, the domain itself or a subdomain ("."
 * sorts just before "/" in bytes), each a branch of its own so that every
 * branch is a scan of one index range (the indexes end in the message id)
 * with the planner's estimate of it. */
static const char pg_search_from_exact[] =
    " AND m.id IN (SELECT id FROM messages WHERE md5(lower(envelope_from)) = md5(lower($@))"
    " AND lower(envelope_from) = lower($@)"
    " UNION ALL SELECT message FROM header_addresses WHERE md5(lower(address)) = md5(lower($@))"
    " AND lower(address) = lower($@) AND field = 'from')";
static const char pg_search_from_domain[] =
    " AND m.id IN (SELECT id FROM messages WHERE envelope_from_rdomain = $@"
    " UNION ALL SELECT id FROM messages WHERE envelope_from_rdomain >= $@ || '.'"
    " AND envelope_from_rdomain < $@ || '/'"
    " UNION ALL SELECT message FROM header_addresses WHERE field = 'from' AND rdomain = $@"
    " UNION ALL SELECT message FROM header_addresses WHERE field = 'from'"
    " AND rdomain >= $@ || '.' AND rdomain < $@ || '/')";
static const char pg_search_from_wildcard[] =
    " AND (lower(m.envelope_from) LIKE lower($@) ESCAPE '\\'"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from'"
    " AND lower(h.address) LIKE lower($@) ESCAPE '\\'))";
/* --to: an envelope recipient (Bcc too) or a To/Cc address. */
static const char pg_search_to_exact[] =
    " AND m.id IN (SELECT message FROM recipients WHERE md5(lower(address)) = md5(lower($@))"
    " AND lower(address) = lower($@)"
    " UNION ALL SELECT message FROM header_addresses WHERE md5(lower(address)) = md5(lower($@))"
    " AND lower(address) = lower($@) AND field IN ('to', 'cc'))";
static const char pg_search_to_domain[] =
    " AND m.id IN (SELECT message FROM recipients WHERE rdomain = $@"
    " UNION ALL SELECT message FROM recipients WHERE rdomain >= $@ || '.' AND rdomain < $@ || '/'"
    " UNION ALL SELECT message FROM header_addresses WHERE field IN ('to', 'cc') AND rdomain = $@"
    " UNION ALL SELECT message FROM header_addresses WHERE field IN ('to', 'cc')"
    " AND rdomain >= $@ || '.' AND rdomain < $@ || '/')";
static const char pg_search_to_wildcard[] =
    " AND (EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    " AND lower(r.address) LIKE lower($@) ESCAPE '\\')"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    " AND h.field IN ('to', 'cc') AND lower(h.address) LIKE lower($@) ESCAPE '\\'))";
/* The same tests for one message (m): how a search checks an address
 * whose messages come from elsewhere (a stream below, GIN, the date
 * index), and the exact comparison behind the md5() of a stream. */
static const char pg_search_from_exact_row[] =
    " AND ((md5(lower(m.envelope_from)) = md5(lower($@)) AND lower(m.envelope_from) = lower($@))"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from'"
    " AND lower(h.address) = lower($@)))";
static const char pg_search_from_domain_row[] =
    " AND (m.envelope_from_rdomain = $@"
    " OR (m.envelope_from_rdomain >= $@ || '.' AND m.envelope_from_rdomain < $@ || '/')"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id AND h.field = 'from'"
    " AND (h.rdomain = $@ OR (h.rdomain >= $@ || '.' AND h.rdomain < $@ || '/'))))";
static const char pg_search_to_exact_row[] =
    " AND (EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    " AND md5(lower(r.address)) = md5(lower($@)) AND lower(r.address) = lower($@))"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    " AND h.field IN ('to', 'cc') AND lower(h.address) = lower($@)))";
static const char pg_search_to_domain_row[] =
    " AND (EXISTS (SELECT 1 FROM recipients r WHERE r.message = m.id"
    " AND (r.rdomain = $@ OR (r.rdomain >= $@ || '.' AND r.rdomain < $@ || '/')))"
    " OR EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    " AND h.field IN ('to', 'cc')"
    " AND (h.rdomain = $@ OR (h.rdomain >= $@ || '.' AND h.rdomain < $@ || '/'))))";

/* Streams: an address's or a domain's messages, newest first, one
 * ordered branch per index range (schema version 8: each index ends in
 * the message id), merged by the server (Merge Append) and read only as
 * far as the page needs: the first 50 of an address in 18,000 messages
 * read about 100 index entries (1 ms) where the IN list above read all
 * 18,000 and sorted them (240 ms at 100,000 messages). A subdomain range
 * spans several keys, so the server sorts that branch (few rows). */
static const char pg_stream_from_exact[] =
    "(SELECT id AS message FROM messages WHERE md5(lower(envelope_from)) = md5(lower($@))"
    " ORDER BY id DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE md5(lower(address)) = md5(lower($@))"
    " AND field = 'from' ORDER BY message DESC)";
static const char pg_stream_from_domain[] =
    "(SELECT id AS message FROM messages WHERE envelope_from_rdomain = $@ ORDER BY id DESC)"
    " UNION ALL (SELECT id FROM messages WHERE envelope_from_rdomain >= $@ || '.'"
    " AND envelope_from_rdomain < $@ || '/' ORDER BY id DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE field = 'from' AND rdomain = $@"
    " ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE field = 'from'"
    " AND rdomain >= $@ || '.' AND rdomain < $@ || '/' ORDER BY message DESC)";
static const char pg_stream_to_exact[] =
    "(SELECT message FROM recipients WHERE md5(lower(address)) = md5(lower($@))"
    " ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE md5(lower(address)) = md5(lower($@))"
    " AND field = 'to' ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE md5(lower(address)) = md5(lower($@))"
    " AND field = 'cc' ORDER BY message DESC)";
static const char pg_stream_to_domain[] =
    "(SELECT message FROM recipients WHERE rdomain = $@ ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM recipients WHERE rdomain >= $@ || '.' AND rdomain < $@ || '/'"
    " ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE field = 'to' AND rdomain = $@"
    " ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE field = 'cc' AND rdomain = $@"
    " ORDER BY message DESC)"
    " UNION ALL (SELECT message FROM header_addresses WHERE field IN ('to', 'cc')"
    " AND rdomain >= $@ || '.' AND rdomain < $@ || '/' ORDER BY message DESC)";
/* What a stream becomes in FROM: each message once, newest first. */
static const char pg_stream_head[] = "(SELECT message FROM (";
static const char pg_stream_tail[] =
    ") u GROUP BY message ORDER BY message DESC) a JOIN messages m ON m.id = a.message";

/* Words: tsquery text of folded words only (pg_fts.h), one parameter. */
static const char pg_search_words[] = " AND m.fts @@ $@::tsquery";
static const char pg_search_addr_words[] = " AND m.addr_fts @@ $@::tsquery";
/* Words of the subject: weight A of fts, the expression of the index
 * messages_fts_subject; the same as fts @@ the query at weight A. */
static const char pg_search_subject[] = " AND ts_filter(m.fts, '{a}') @@ $@::tsquery";
static const char pg_catalog_search_message_id[] =
    " AND md5(m.message_id) = md5($@) AND m.message_id = $@";
static const char pg_catalog_search_degraded[] = " AND m.index_status = 'degraded'";
static const char pg_catalog_search_since[] =
    " AND COALESCE(m.date, m.arrival) >= to_timestamp($@::double precision)";
static const char pg_catalog_search_until[] =
    " AND COALESCE(m.date, m.arrival) < to_timestamp($@::double precision)";
static const char pg_catalog_search_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id"
    " AND a.filename ILIKE $@ ESCAPE '\\')";
static const char pg_catalog_search_has_attachment[] =
    " AND EXISTS (SELECT 1 FROM attachments a WHERE a.message = m.id)";

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

/* A wildcard key (fts.h: '*' any run, nothing else special) as a LIKE
 * pattern with '\' as its escape, in arena. */
static const char *pg_catalog_glob(struct strlist *arena, const char *key)
{
    struct buf b = BUF_INIT;
    const char *out;

    buf_add(&b, "", 0);
    for (const char *p = key; *p != '\0'; p++) {
        if (*p == '*') {
            buf_add(&b, "%", 1);
            continue;
        }
        if (*p == '%' || *p == '_' || *p == '\\')
            buf_add(&b, "\\", 1);
        buf_add(&b, p, 1);
    }
    out = pg_catalog_text(arena, b.data, 0);
    buf_free(&b);
    return out;
}

/* A query's tsquery text in arena, with weights (NULL: any). */
static const char *pg_catalog_tsquery(struct strlist *arena, const struct fts_query *fq,
                                      const char *weights)
{
    char *text = pg_fts_tsquery(fq, weights);
    const char *kept = pg_catalog_printf(arena, "%s", text);

    free(text);
    return kept;
}

/* A field with nothing to look for ("%", "", "*"): no message matches
 * (the CLI refuses such a value before it gets here). */
static const char pg_search_nothing[] = " AND false";

/* How a query reads its address conditions (pg_catalog_query()). */
enum pg_address_use {
    PG_ADDRESS_IN,     /* each an IN list (count: every match is read anyway) */
    PG_ADDRESS_ROW,    /* each tested per message (with words or dates) */
    PG_ADDRESS_STREAM, /* the first one as a stream, the others per message */
};

/* The condition of --from (to = 0) or --to (to = 1) value: 0, or -1 when
 * the value has nothing to look for. With PG_ADDRESS_STREAM and no
 * *stream_r yet, an exact address or a domain becomes *stream_r (its
 * "$@" numbered) besides its per-message test. */
static int pg_catalog_address(char **sql, struct strlist *arena, const char **values, int *n,
                              const char *value, int to, enum pg_address_use use, char **stream_r)
{
    struct address_match m;
    const char *in = NULL, *row = NULL, *stream = NULL, *key = NULL;

    if (address_match_parse(value, &m) < 0) {
        address_match_free(&m);
        return -1;
    }
    switch (m.kind) {
    case ADDRESS_EXACT:
        in = to ? pg_search_to_exact : pg_search_from_exact;
        row = to ? pg_search_to_exact_row : pg_search_from_exact_row;
        stream = to ? pg_stream_to_exact : pg_stream_from_exact;
        key = pg_catalog_text(arena, m.key, 0);
        break;
    case ADDRESS_DOMAIN: {
        char *rd = pg_fts_rdomain(m.key, 1);
        /* longer than any stored one: a key no row has */
        in = to ? pg_search_to_domain : pg_search_from_domain;
        row = to ? pg_search_to_domain_row : pg_search_from_domain_row;
        stream = to ? pg_stream_to_domain : pg_stream_from_domain;
        key = pg_catalog_printf(arena, "%s", rd != NULL ? rd : "\x7f");
        free(rd);
        break;
    }
    case ADDRESS_WILDCARD:
        pg_catalog_where(sql, to ? pg_search_to_wildcard : pg_search_from_wildcard, values, n,
                         pg_catalog_glob(arena, m.key));
        break;
    case ADDRESS_WORDS:
        pg_catalog_where(sql, pg_search_addr_words, values, n,
                         pg_catalog_tsquery(arena, &m.words, to ? "B" : "A"));
        break;
    }
    if (key != NULL) {
        pg_catalog_where(sql, use == PG_ADDRESS_IN ? in : row, values, n, key);
        if (use == PG_ADDRESS_STREAM && *stream_r == NULL) {
            *stream_r = xstrdup("");
            pg_catalog_append(stream_r, stream, *n); /* the same parameter */
        }
    }
    address_match_free(&m);
    return 0;
}

/* How many of a date range's newest messages a search of words in that
 * range tries first: a word in one message of ten fills a page of 50
 * there (the first page of a common word in 15 ms instead of 150-300:
 * with a date range every row of the range would have its words read);
 * a rarer word costs these few hundred rows, then GIN. */
#define PG_DATE_FIRST 500
#define PG_SEARCH_STR2(x) #x
#define PG_SEARCH_STR(x) PG_SEARCH_STR2(x)

/* The parameters of a search: at most one per field and two for paging. */
#define PG_SEARCH_PARAMS 16

/* What pg_catalog_query() builds: a page (an address as a stream only
 * without words), a count, or a page with its first address as a stream
 * whatever else it has. */
#define PG_QUERY_PAGE 0
#define PG_QUERY_COUNT 1
#define PG_QUERY_STREAM 2

/* "SELECT what FROM messages m WHERE ..." for q into *sql_r, its
 * parameters in values (kept in arena); counting (PG_QUERY_*): a page,
 * a count (every match is read) or a page from the address's stream;
 * *words_r (unless NULL): whether it looks for words; *stream_r (unless
 * NULL): the stream's branches, or NULL.
 * A search for addresses alone (no words, no dates) reads its first
 * address as a stream: "FROM (stream) a JOIN messages m". A field with
 * nothing to look for (an empty --text, a --subject of punctuation)
 * matches nothing. */
static enum tab_result pg_catalog_query(const struct search_query *q, const char *what,
                                        int counting, struct strlist *arena, const char **values,
                                        int *n_r, char **sql_r, char **date_r, int *words_r,
                                        char **stream_r)
{
    char *sql = xstrdup(""), *stream = NULL;
    struct fts_query fq;
    int n = 0;
    enum pg_address_use use = counting == PG_QUERY_COUNT ? PG_ADDRESS_IN
                              : q->since || q->until     ? PG_ADDRESS_ROW
                              : counting == PG_QUERY_STREAM || !(q->text || q->subject)
                                  ? PG_ADDRESS_STREAM
                                  : PG_ADDRESS_ROW;

    *sql_r = NULL;
    for (int to = 0; to < 2; to++) {
        const char *value = to ? q->to : q->from;
        if (value != NULL &&
            pg_catalog_address(&sql, arena, values, &n, value, to, use, &stream) < 0)
            pg_catalog_append(&sql, pg_search_nothing, 0);
    }
    /* words of an address ("First Last"), of the subject or the text */
    if (words_r != NULL)
        *words_r = q->text != NULL || q->subject != NULL || strstr(sql, "addr_fts") != NULL;
    if (q->subject) {
        if (fts_query_phrase(q->subject, &fq) < 0) {
            pg_catalog_append(&sql, pg_search_nothing, 0);
        } else {
            /* the subject's words alone (schema version 10): GIN
             * answers a word without reading the row */
            pg_catalog_where(&sql, pg_search_subject, values, &n,
                             pg_catalog_tsquery(arena, &fq, NULL));
            fts_query_free(&fq);
        }
    }
    if (q->message_id) {
        char *bare = catalog_message_id_bare(q->message_id);
        pg_catalog_where(&sql, pg_catalog_search_message_id, values, &n,
                         pg_catalog_text(arena, bare, 0));
        free(bare);
    }
    if (q->since)
        pg_catalog_where(&sql, pg_catalog_search_since, values, &n,
                         pg_catalog_printf(arena, "%lld", (long long)q->since));
    if (q->until)
        pg_catalog_where(&sql, pg_catalog_search_until, values, &n,
                         pg_catalog_printf(arena, "%lld", (long long)q->until));
    if (date_r != NULL) {
        /* the newest candidates of the date range (pg_catalog_search()) */
        int k = n - (q->until ? 1 : 0) - (q->since ? 1 : 0);
        *date_r = xstrdup(" (SELECT id FROM messages WHERE true");
        if (q->since)
            pg_catalog_append(date_r,
                              " AND COALESCE(date, arrival) >="
                              " to_timestamp($@::double precision)",
                              ++k);
        if (q->until)
            pg_catalog_append(date_r,
                              " AND COALESCE(date, arrival) <"
                              " to_timestamp($@::double precision)",
                              ++k);
        pg_catalog_append(date_r, " ORDER BY id DESC LIMIT " PG_SEARCH_STR(PG_DATE_FIRST) ") c", 0);
    }
    if (q->text) {
        if (fts_query_parse(q->text, &fq) < 0) {
            pg_catalog_append(&sql, pg_search_nothing, 0);
        } else {
            /* subject and body, whatever the weight: GIN answers it alone */
            pg_catalog_where(&sql, pg_search_words, values, &n,
                             pg_catalog_tsquery(arena, &fq, NULL));
            fts_query_free(&fq);
        }
    }
    if (q->attachment)
        pg_catalog_where(&sql, pg_catalog_search_attachment, values, &n,
                         pg_catalog_like(arena, q->attachment));
    if (q->has_attachment)
        pg_catalog_append(&sql, pg_catalog_search_has_attachment, 0);
    if (q->degraded)
        pg_catalog_append(&sql, pg_catalog_search_degraded, 0);
    *n_r = n;
    if (stream != NULL)
        *sql_r = xasprintf("SELECT %s FROM %s%s%s WHERE true%s", what, pg_stream_head, stream,
                           pg_stream_tail, sql);
    else
        *sql_r = xasprintf("SELECT %s FROM messages m WHERE true%s", what, sql);
    if (stream_r != NULL)
        *stream_r = stream != NULL ? xstrdup(stream) : NULL;
    free(stream);
    free(sql);
    return TAB_OK;
}

/*
 * The planner's settings for one search, in its read transaction (SET
 * LOCAL: they end with it). A catalog's working set is in memory or on
 * SSD, where a random page costs about what a sequential one does; with
 * the default of 4 a rare word is looked for by walking the whole id
 * index backwards, reading every row's words, instead of through GIN
 * (600 ms instead of 20 at a million messages). A date range makes that
 * walk a trap of its own (the planner does not know that ids and dates
 * grow together: it expects the range's rows all along the walk), so
 * with since/until the rows come from bitmaps (the date index, GIN).
 * count() never reads every row's words in a sequential scan when GIN
 * answers (a common word: 7 s against under 1).
 */
static enum tab_result pg_catalog_plan(struct pg_catalog *pc, const struct search_query *q,
                                       int counting, int began, const char **error_r)
{
    enum tab_result r;

    if (!began)
        return TAB_OK; /* in someone else's transaction: leave its settings alone */
    r = pg_catalog_do(pc, "plan", "SET LOCAL random_page_cost = 1.1", 0, NULL, error_r);

    /* a page is a few index entries: two workers would only add their
     * start-up, and plan for the whole list (with the estimate of 200
     * groups for a stream, they read it all) */
    if (r == TAB_OK && !counting)
        r = pg_catalog_do(pc, "plan", "SET LOCAL max_parallel_workers_per_gather = 0", 0, NULL,
                          error_r);
    /* a stream (pg_catalog_query()) is taken newest first and as far as
     * the page needs only if the server groups it in order: it expects 200
     * groups whatever their number, and would rather hash them all */
    if (r == TAB_OK && !counting && (q->from || q->to) &&
        !(q->text || q->subject || q->since || q->until))
        r = pg_catalog_do(pc, "plan", "SET LOCAL enable_hashagg = off", 0, NULL, error_r);
    if (r == TAB_OK && (q->since || q->until))
        r = pg_catalog_do(pc, "plan", "SET LOCAL enable_indexscan = off", 0, NULL, error_r);
    if (r == TAB_OK && counting && (q->text || q->subject || q->from || q->to))
        r = pg_catalog_do(pc, "plan", "SET LOCAL enable_seqscan = off", 0, NULL, error_r);
    return r;
}

/* Messages read per round of pg_catalog_load_page(). */
#define PG_SEARCH_PAGE 200

/* fn, remembering that it asked to stop. */
struct pg_page_ctx {
    catalog_row_fn *fn;
    void *ctx;
    int stopped;
};

static int pg_page_row(const struct archive_record *rec, void *ctx)
{
    struct pg_page_ctx *p = ctx;

    p->stopped = p->fn(rec, p->ctx);
    return p->stopped;
}

/*
 * Words and an address (--text W --from ADDR): an address in at most
 * PG_FEW_ADDRESS messages is read as a stream (newest first, merged
 * index ranges) and each of its messages' words tested until the page
 * is full: at most that many rows, whatever the words. Otherwise (an
 * address in many messages, a wildcard, words of a name) GIN finds the
 * words' candidates in id ranges (pg_catalog_walk()) and each is
 * tested for the address. Measured at 300,000 messages (the server's
 * time of the benchmark's 20 word-and-address probes): p50 35 ms with
 * GIN in id ranges, 12 with the stream.
 * How many the address has is counted up to PG_FEW_ADDRESS + 1 in the
 * stream's indexes (index-only, under 1 ms). On *few_r, *sql_r and
 * values are the stream's query.
 */
#define PG_FEW_ADDRESS 2000

static enum tab_result pg_catalog_address_few(struct pg_catalog *pc, const struct search_query *q,
                                              int began, struct strlist *arena, const char **values,
                                              int *n_r, char **sql_r, int *few_r,
                                              const char **error_r)
{
    const char *svalues[PG_SEARCH_PARAMS];
    struct pg_stmt st = {NULL, "search", NULL, 0, 0};
    char *ssql = NULL, *stream = NULL, *count;
    PGresult *res = NULL;
    enum tab_result r;
    int sn = 0;

    *few_r = 0;
    r = pg_catalog_query(q, "m.id", PG_QUERY_STREAM, arena, svalues, &sn, &ssql, NULL, NULL,
                         &stream);
    if (r != TAB_OK || stream == NULL)
        goto out; /* no exact address or domain */
    count = xasprintf("SELECT count(*) FROM (SELECT 1 FROM (%s) u LIMIT %d) c WHERE true", stream,
                      PG_FEW_ADDRESS + 1);
    for (int i = 1; i <= sn; i++) { /* every parameter used */
        char *more = xasprintf("%s AND $%d::text IS NOT NULL", count, i);
        free(count);
        count = more;
    }
    st.sql = count;
    st.nparams = sn;
    r = pg_conn_exec(pc->conn, &st, svalues, NULL, NULL, &res, error_r);
    free(count);
    if (r != TAB_OK || strtoll(PQgetvalue(res, 0, 0), NULL, 10) > PG_FEW_ADDRESS)
        goto out;
    /* the stream is read in order only if grouped in order */
    if (began)
        r = pg_catalog_do(pc, "plan", "SET LOCAL enable_hashagg = off", 0, NULL, error_r);
    if (r != TAB_OK)
        goto out;
    *few_r = 1;
    free(*sql_r);
    *sql_r = ssql;
    ssql = NULL;
    memcpy(values, svalues, sizeof(svalues[0]) * (size_t)sn);
    *n_r = sn;
out:
    PQclear(res);
    free(ssql);
    free(stream);
    return r;
}

/*
 * A page of words without a date range, newest first in id ranges: the
 * newest PG_WALK_FIRST times the page's messages, then ranges
 * PG_WALK_GROW times longer each, down to the oldest message, until
 * the page is full. In each range the rows come from bitmaps
 * (enable_indexscan = off): GIN's candidates and the range's ids ANDed,
 * so only the candidates in the range are read and rechecked; a word
 * the planner knows as common is read row by row within the range.
 * Without ranges the planner, told that a page needs 50 of many
 * candidates, walked the id index backwards reading every row's words
 * for a phrase or a subject word that matches rarely (a phrase of two
 * words in 2 % and 69 % of 100,000 messages: 384 ms, 100,000 rows read,
 * for 27 hits; in ranges, 19 ms at most); and GIN alone, for a word in
 * most messages, reads all of them and sorts.
 */
#define PG_WALK_FIRST 10
#define PG_WALK_GROW 8

static enum tab_result pg_catalog_walk(struct pg_catalog *pc, const struct search_query *q,
                                       const char *sql, const char **values, int n, int began,
                                       struct strlist *ids, const char **error_r)
{
    struct pg_stmt st = {NULL, "search", NULL, n + 3, 0};
    long long need = (long long)q->limit + (q->offset > 0 ? (long long)q->offset : 0);
    long long skip = q->offset > 0 ? (long long)q->offset : 0, found = 0, oldest, hi, span;
    char lo_s[24], hi_s[24], left_s[24], *round = xstrdup(sql), *last = xstrdup(sql);
    PGresult *res = NULL;
    enum tab_result r;

    /* the ends of the id index (before index scans are off) */
    r = pg_catalog_run(pc, "search", "SELECT min(id), max(id) FROM messages", 0, NULL, &res,
                       error_r);
    if (r != TAB_OK || PQgetisnull(res, 0, 0))
        goto out; /* no message at all */
    oldest = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    hi = strtoll(PQgetvalue(res, 0, 1), NULL, 10) + 1;
    PQclear(res);
    res = NULL;
    if (began)
        r = pg_catalog_do(pc, "plan", "SET LOCAL enable_indexscan = off", 0, NULL, error_r);
    /* a range: $n+1 <= id < $n+2; the last one: id < $n+2 */
    pg_catalog_append(&round, " AND m.id >= $@::bigint", n + 1);
    pg_catalog_append(&round, " AND m.id < $@::bigint", n + 2);
    pg_catalog_append(&round, " ORDER BY m.id DESC LIMIT $@::bigint", n + 3);
    pg_catalog_append(&last, " AND $@::bigint IS NOT NULL", n + 1); /* every parameter used */
    pg_catalog_append(&last, " AND m.id < $@::bigint", n + 2);
    pg_catalog_append(&last, " ORDER BY m.id DESC LIMIT $@::bigint", n + 3);
    values[n] = lo_s;
    values[n + 1] = hi_s;
    values[n + 2] = left_s;
    span = need < (1LL << 40) / PG_WALK_FIRST ? need * PG_WALK_FIRST : 1LL << 40;
    while (r == TAB_OK && hi > oldest && found < need) {
        /* the rest at once when the next range would cover half of it */
        int rest = hi - oldest <= 2 * span;
        long long lo = rest ? oldest : hi - span;

        snprintf(lo_s, sizeof(lo_s), "%lld", lo);
        snprintf(hi_s, sizeof(hi_s), "%lld", hi);
        snprintf(left_s, sizeof(left_s), "%lld", need - found);
        st.sql = rest ? last : round;
        r = pg_conn_exec(pc->conn, &st, values, NULL, NULL, &res, error_r);
        for (int i = 0; r == TAB_OK && i < PQntuples(res); i++, found++) {
            if (skip > 0)
                skip--;
            else
                strlist_add(ids, PQgetvalue(res, i, 0));
        }
        PQclear(res);
        res = NULL;
        hi = lo;
        if (span < (1LL << 40))
            span *= PG_WALK_GROW;
    }
out:
    PQclear(res);
    free(round);
    free(last);
    return r;
}

enum tab_result pg_catalog_search(struct catalog *cat, const struct search_query *q,
                                  catalog_row_fn *fn, void *ctx, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT, ids = STRLIST_INIT;
    const char *values[PG_SEARCH_PARAMS];
    struct pg_stmt st = {NULL, "search", NULL, 0, 0};
    char *sql = NULL, *date_sql = NULL;
    PGresult *res = NULL;
    enum tab_result r;
    int n = 0, began = 0, stopped = 0, words = 0;
    /* a page of words in a date range: first among its newest messages */
    int date_first =
        (q->since || q->until) && q->limit > 0 && (q->text || q->subject || q->from || q->to);

    /* One snapshot for the search and the rows it loads. */
    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r == TAB_OK)
        r = pg_catalog_plan(pc, q, 0, began, error_r);
    if (r == TAB_OK)
        r = pg_catalog_query(q, "m.id", PG_QUERY_PAGE, &arena, values, &n, &sql,
                             date_first ? &date_sql : NULL, &words, NULL);
    if (r != TAB_OK)
        goto out;
    if (words && !date_first && q->limit > 0 && (q->text || q->subject) && (q->from || q->to)) {
        /* words and an address in few messages: the address's stream,
         * its words checked message by message */
        int few = 0;
        r = pg_catalog_address_few(pc, q, began, &arena, values, &n, &sql, &few, error_r);
        if (r != TAB_OK)
            goto out;
        words = !few;
    }
    if (words && !date_first && q->limit > 0) {
        /* a page of words: newest first in id ranges */
        r = pg_catalog_walk(pc, q, sql, values, n, began, &ids, error_r);
        if (r != TAB_OK)
            goto out;
        goto load;
    }
    /* newest first: the archive's order */
    pg_catalog_append(&sql, " ORDER BY m.id DESC", 0);
    if (q->limit > 0)
        pg_catalog_where(&sql, " LIMIT $@::bigint", values, &n,
                         pg_catalog_printf(&arena, "%ld", q->limit));
    if (q->offset > 0)
        pg_catalog_where(&sql, " OFFSET $@::bigint", values, &n,
                         pg_catalog_printf(&arena, "%ld", q->offset));
    st.nparams = n;
    if (date_first) {
        /* The same conditions over the range's newest messages only: when
         * they hold a full page, it is the page (every other match is
         * older); else the search proper. */
        static const char from[] = "FROM messages m WHERE true";
        char *at = strstr(sql, from);
        char *first = xasprintf("%.*sFROM%s JOIN messages m ON m.id = c.id WHERE true%s",
                                (int)(at - sql), sql, date_sql, at + strlen(from));
        st.sql = first;
        r = pg_conn_exec(pc->conn, &st, values, NULL, NULL, &res, error_r);
        free(first);
        if (r != TAB_OK)
            goto out;
        if (PQntuples(res) < q->limit) {
            PQclear(res);
            res = NULL;
        }
    }
    st.sql = sql;
    if (res == NULL)
        r = pg_conn_exec(pc->conn, &st, values, NULL, NULL, &res, error_r);
    if (r != TAB_OK)
        goto out;
    for (int i = 0; i < PQntuples(res); i++)
        strlist_add(&ids, PQgetvalue(res, i, 0));
    PQclear(res);
    res = NULL;
load:
    /* a page at a time: a few statements, not five per message */
    for (size_t first = 0; first < ids.n && r == TAB_OK && !stopped; first += PG_SEARCH_PAGE) {
        struct strlist page = STRLIST_INIT;
        struct pg_page_ctx pctx = {fn, ctx, 0};

        for (size_t i = first; i < ids.n && i < first + PG_SEARCH_PAGE; i++)
            strlist_add(&page, ids.v[i]);
        r = pg_catalog_load_page(pc, &page, pg_page_row, &pctx, error_r);
        stopped = pctx.stopped;
        strlist_free(&page);
    }
    if (r != TAB_OK)
        goto out;
    if (began) {
        r = pg_conn_commit(pc->conn, error_r);
        began = 0;
    }
out:
    if (r != TAB_OK && began)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    free(sql);
    free(date_sql);
    strlist_free(&ids);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_count(struct catalog *cat, const struct search_query *q, long long *n_r,
                                 const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[PG_SEARCH_PARAMS];
    struct pg_stmt st = {NULL, "count", NULL, 0, 0};
    char *sql = NULL;
    PGresult *res = NULL;
    enum tab_result r;
    int n = 0, began = 0;

    *n_r = 0;
    r = pg_conn_begin_read(pc->conn, &began, error_r);
    if (r == TAB_OK)
        r = pg_catalog_plan(pc, q, 1, began, error_r);
    if (r == TAB_OK)
        r = pg_catalog_query(q, "count(*)", PG_QUERY_COUNT, &arena, values, &n, &sql, NULL, NULL,
                             NULL);
    if (r == TAB_OK) {
        st.sql = sql;
        st.nparams = n;
        r = pg_conn_exec(pc->conn, &st, values, NULL, NULL, &res, error_r);
    }
    if (r == TAB_OK)
        *n_r = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    if (began && r == TAB_OK)
        r = pg_conn_commit(pc->conn, error_r);
    else if (began)
        pg_conn_rollback(pc->conn);
    PQclear(res);
    free(sql);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_get(struct catalog *cat, const char *archive_id,
                               struct archive_record *rec_r, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    struct pg_found found;
    enum tab_result r;

    memset(rec_r, 0, sizeof(*rec_r));
    r = pg_catalog_find(pc, archive_id, PG_FIND_READ, NULL, &arena, &found, error_r);
    if (r == TAB_OK)
        r = pg_catalog_load(pc, found.message, found.copy, rec_r, error_r);
    strlist_free(&arena);
    return r;
}
