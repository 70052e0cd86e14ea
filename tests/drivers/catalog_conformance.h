/*
 * NAME
 *	catalog_conformance 3h
 * SUMMARY
 *	the catalog conformance suite: checks every catalog driver must pass
 * DESCRIPTION
 *	Included by each driver's unit test (test_catalog_sqlite.c,
 *	test_catalog_pgsql.c), after check.h; static functions only, so
 *	each test program is still one source file. A suite function takes
 *	a struct conformance: the opened catalog, a hook that runs one
 *	query on a second connection (rows are checked with plain SQL
 *	because the schema is a public interface; queries are written in
 *	the SQL that SQLite and PostgreSQL share, $1 the one parameter) and
 *	an optional hook for driver-specific checks at named points (the
 *	SQLite text_pending table, PostgreSQL's cut of the body text).
 *
 *	conformance_search(): the search filters (--from, --to, --subject,
 *	--message-id, --since, --until, a limit), SQL and LIKE
 *	metacharacters in them as text, and the complete record a search
 *	hands over, on a catalog that holds nothing else.
 *
 *	conformance_merge_get(): copies of one message merge on (queue id,
 *	SHA-256) or (Message-ID, SHA-256), known_recipients() case folded
 *	and in order, get() by the message's or a copy's archive id.
 *
 *	conformance_text_filters(): --text, --subject, --attachment, --from,
 *	--to, --message-id, --since and --until on the messages
 *	conformance_merge_get() left and seven more; run right after it.
 *
 *	conformance_fulltext(): --text words, phrases, OR, -NOT and hostile
 *	query text, --attachment and --has-attachment, on a catalog that
 *	holds nothing else.
 *
 *	conformance_forward_status(): one forwards row a copy, replaced by
 *	each outcome.
 *
 *	conformance_content_errors(): content the database refuses (a
 *	CHECK constraint, a UNIQUE archive id) is TAB_PERM, stores nothing
 *	and leaves the connection usable.
 *
 *	conformance_hostile_values(): header and envelope values that no
 *	B-tree could hold whole (issue 13): a 9,000-character random
 *	Message-ID, a 6,000-character From address, a 100 KB subject of
 *	distinct words with 1 MiB of distinct words as body text, a
 *	5,000-character envelope recipient and a 300-character queue id are
 *	archived, read back, found by every lookup and search, and merged
 *	with a later transaction of the same message.
 *
 *	conformance_degraded_reindex() and conformance_index_rebuild() are
 *	in catalog_conformance_index.h.
 *
 *	conformance_search() and conformance_fulltext() want a catalog that
 *	holds nothing else (their results list every match; their records
 *	are numbered by conf_make_record(), which SQLite's own tests use
 *	too). The other parts work on a catalog that already holds other
 *	messages (PostgreSQL runs them on the database its other tests
 *	fill): their archive ids and Message-IDs are their own, and counts
 *	are taken relative to what was there before. conformance_merge_get()
 *	leaves messages that PostgreSQL's later tests search.
 * DIAGNOSTICS
 *	Failures are CHECK failures of check.h, with this file and line.
 */
#ifndef TAB_CATALOG_CONFORMANCE_H
#define TAB_CATALOG_CONFORMANCE_H

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "common/strlist.h"

#include "tests/unit/check.h"

struct conformance {
    struct catalog *cat;
    /* The rows of query on a second connection, $1 bound to param (no
     * parameter when NULL): "col|col" a row, rows joined by "\n", NULL
     * shown as "NULL" (like the sqlite3 shell). Heap; NULL on error. */
    char *(*sql)(const char *query, const char *param);
    /* Driver-specific checks at a named point of the suite, about the
     * record archive_id; NULL: none. */
    void (*at)(const char *point, const char *archive_id);
    /* Header text that is not UTF-8 ("caf\xe9"): 1, stored as given
     * (SQLite); 0, each bad byte replaced by U+FFFD (PostgreSQL). Either
     * way a --text search finds the same words. */
    int keeps_invalid_utf8;
};

static const char CONF_SHA_A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char CONF_SHA_B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char CONF_SHA_C[] = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
static const char CONF_SHA_D[] = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd";

/* CHECK_STR of a row query through the driver's hook; names the query
 * when it fails (the line is the suite's, shared by every driver). */
#define CONF_CHECK_SQL(conf, query, param, expected)                                               \
    do {                                                                                           \
        char *conf_got_ = (conf)->sql(query, param);                                               \
        if (conf_got_ == NULL || strcmp(conf_got_, expected) != 0)                                 \
            fprintf(stderr, "sql: %s\n", query);                                                   \
        CHECK_STR(conf_got_, expected);                                                            \
        free(conf_got_);                                                                           \
    } while (0)

/* n random characters from a 64-letter alphabet (about 6 bits each: what
 * no compression, pglz or lz4, shrinks, so no server can squeeze an
 * index entry), with the LIKE metacharacter "_"; seeded per run. Heap. */
static char *conf_random_text(size_t n)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+";
    static uint64_t state;
    char *s = xmalloc(n + 1);

    if (state == 0)
        state = ((uint64_t)time(NULL) * 2654435761u) ^ ((uint64_t)getpid() << 32) ^ 1;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s[i] = alphabet[state % 64];
    }
    s[n] = '\0';
    return s;
}

/* Distinct words, shortest first (prefix + "0".."z", "10".."zz", ... in
 * base 36), up to n bytes: the text whose tsvector is largest for its
 * size (about twice the input). Heap. */
static char *conf_distinct_words(const char *prefix, size_t n)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char *s = xmalloc(n + 64);
    size_t len = 0;

    for (unsigned long i = 0; len < n; i++) {
        char word[32];
        int w = (int)sizeof(word) - 1;
        word[w] = '\0';
        for (unsigned long v = i; w == (int)sizeof(word) - 1 || v > 0; v /= 36)
            word[--w] = digits[v % 36];
        len += (size_t)snprintf(s + len, 64, "%s%s ", prefix, word + w);
    }
    s[n] = '\0';
    return s;
}

static int conf_collect_id(const struct archive_record *rec, void *ctx)
{
    strlist_add(ctx, rec->archive_id);
    return 0;
}

/* The archive ids search(q) finds, comma-separated, in result order
 * (static; "(error)" when the search fails). */
static const char *conf_search_ids(struct catalog *cat, const struct search_query *q)
{
    static char out[8192];
    struct strlist l = STRLIST_INIT;
    const char *error = NULL;
    char *joined;

    if (catalog_search(cat, q, conf_collect_id, &l, &error) != TAB_OK) {
        fprintf(stderr, "search: %s\n", error ? error : "?");
        strlist_free(&l);
        return "(error)";
    }
    joined = strlist_join(&l, ",");
    snprintf(out, sizeof(out), "%s", joined);
    free(joined);
    strlist_free(&l);
    return out;
}

/* conf_search_ids() of a query with one field set (degraded: the flag). */
static const char *conf_only(struct catalog *cat, const char *field, const char *value)
{
    struct search_query q;

    memset(&q, 0, sizeof(q));
    if (strcmp(field, "from") == 0)
        q.from = value;
    else if (strcmp(field, "to") == 0)
        q.to = value;
    else if (strcmp(field, "subject") == 0)
        q.subject = value;
    else if (strcmp(field, "message_id") == 0)
        q.message_id = value;
    else if (strcmp(field, "text") == 0)
        q.text = value;
    else if (strcmp(field, "attachment") == 0)
        q.attachment = value;
    else if (strcmp(field, "degraded") == 0)
        q.degraded = 1;
    return conf_search_ids(cat, &q);
}

/* What a chain walk saw: links in order, each recomputing to its hash and
 * naming its predecessor's. */
struct conf_chain_check {
    long links, bad;
    int64_t last_seq;
    char last_hash[SHA256_HEX_SIZE];
};

static int conf_chain_check_link(const struct chain_link *link, void *ctx)
{
    struct conf_chain_check *c = ctx;
    char hash[SHA256_HEX_SIZE];

    if (link->kind != CHAIN_COPY) {
        c->bad++;
        return 0;
    }
    catalog_chain_hash(link, hash);
    if (strcmp(hash, link->hash) != 0 || link->seq != c->last_seq + 1 ||
        strcmp(link->prev_hash, c->last_hash) != 0)
        c->bad++;
    c->links++;
    c->last_seq = link->seq;
    memcpy(c->last_hash, link->hash, sizeof(c->last_hash));
    return 0;
}

/* The number of links of cat's chain; -1 if any is wrong or the head
 * does not match the last link. */
static long conf_chain_links(struct catalog *cat)
{
    struct conf_chain_check c = {0, 0, 0, CHAIN_GENESIS};
    struct chain_seal head;
    const char *error = NULL;

    if (catalog_chain_walk(cat, &head, conf_chain_check_link, &c, &error) != TAB_OK) {
        fprintf(stderr, "chain walk: %s\n", error ? error : "?");
        return -1;
    }
    if (c.bad > 0 || head.seq != c.last_seq || strcmp(head.hash, c.last_hash) != 0)
        return -1;
    return c.links;
}

/* An archive id of the suite's own range, new on each call. */
static void conf_new_id(char id[ARCHIVE_ID_SIZE])
{
    static unsigned long next = 1;

    snprintf(id, ARCHIVE_ID_SIZE, "%020lX", 0xC0000000000UL + next++);
}

/* A record with the fields every add needs; arrivals are in 2030, after
 * every other test's, so that the suite's records come first (newest
 * first) in a search. */
static void conf_record(struct archive_record *rec, const char *queue_id, const char *sha256,
                        const char *envelope_from)
{
    static time_t arrival = 1893456000; /* 2030-01-01 */

    memset(rec, 0, sizeof(*rec));
    conf_new_id(rec->archive_id);
    rec->queue_id = xstrdup(queue_id);
    snprintf(rec->sha256, sizeof(rec->sha256), "%s", sha256);
    rec->envelope_from = xstrdup(envelope_from);
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->arrival = arrival;
    arrival += 60;
    rec->size = 1000;
    snprintf(rec->wrapped_sha256, sizeof(rec->wrapped_sha256), "%s", CONF_SHA_C);
    rec->wrapped_size = 2002;
    rec->store = xstrdup("maildir");
    rec->location = xasprintf("cur/%s.eml", rec->archive_id);
}

/* What the store holds, for a driver that reads the text of a stored
 * copy again (conf_text_source): the body text each location was last
 * added or reindexed with. */
static struct strlist conf_store_locations = STRLIST_INIT, conf_store_bodies = STRLIST_INIT;

static void conf_store_text(const char *location, const char *body)
{
    if (location == NULL)
        return;
    for (size_t i = 0; i < conf_store_locations.n; i++)
        if (strcmp(conf_store_locations.v[i], location) == 0) {
            free(conf_store_bodies.v[i]);
            conf_store_bodies.v[i] = xstrdup(body != NULL ? body : "");
            return;
        }
    strlist_add(&conf_store_locations, location);
    strlist_add(&conf_store_bodies, body != NULL ? body : "");
}

/* A catalog_text_fn over conf_store_text(): the stored copy's text as
 * the indexer would read it; TAB_PERM for a copy the suite never gave. */
__attribute__((unused)) static enum tab_result conf_text_source(void *ctx, const char *store,
                                                                const char *location,
                                                                struct archive_record *rec,
                                                                const char **error_r)
{
    (void)ctx;
    (void)store;
    for (size_t i = 0; i < conf_store_locations.n; i++)
        if (strcmp(conf_store_locations.v[i], location) == 0) {
            free(rec->body_text);
            rec->body_text = xstrdup(conf_store_bodies.v[i]);
            return TAB_OK;
        }
    *error_r = "no such copy";
    return TAB_PERM;
}

static void conf_add(struct conformance *conf, struct archive_record *rec)
{
    const char *error = NULL;
    enum tab_result r;

    conf_store_text(rec->location, rec->body_text);
    r = catalog_add(conf->cat, rec, &error);

    CHECK(r == TAB_OK);
    if (r != TAB_OK)
        fprintf(stderr, "add %s: %s\n", rec->archive_id, error ? error : "?");
}

static void conf_at(struct conformance *conf, const char *point, const char *archive_id)
{
    if (conf->at != NULL)
        conf->at(point, archive_id);
}

/* Archive id n ("%020lX"): the numbered records of the parts that run
 * on a catalog of their own. */
static void conf_make_id(char id[ARCHIVE_ID_SIZE], unsigned long n)
{
    snprintf(id, ARCHIVE_ID_SIZE, "%020lX", n);
}

static time_t conf_parse_time(const char *s)
{
    time_t t = 0;
    if (record_parse_time(s, &t) < 0) {
        fprintf(stderr, "bad test time %s\n", s);
        exit(2);
    }
    return t;
}

/* A record with the fields every add needs; the caller adds the rest. */
static void conf_make_record(struct archive_record *rec, unsigned long id, const char *queue_id,
                             const char *sha256, const char *from, const char *subject,
                             const char *date, const char *arrival)
{
    memset(rec, 0, sizeof(*rec));
    conf_make_id(rec->archive_id, id);
    rec->queue_id = xstrdup(queue_id);
    snprintf(rec->sha256, sizeof(rec->sha256), "%s", sha256);
    rec->envelope_from = xstrdup(from);
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->subject = subject ? xstrdup(subject) : NULL;
    rec->date = date ? xstrdup(date) : NULL;
    rec->arrival = conf_parse_time(arrival);
    rec->size = 1000 + id;
    snprintf(rec->wrapped_sha256, sizeof(rec->wrapped_sha256), "%s", CONF_SHA_D);
    rec->wrapped_size = 2000 + id;
    rec->store = xstrdup("maildir");
    rec->location = xasprintf("cur/%lu.eml", id);
}

/* The message of the main scenario: 3 envelope recipients, one of them
 * (dave) a Bcc recipient that appears in no header. */
static void conf_make_record1(struct archive_record *rec)
{
    conf_make_record(rec, 1, "4XyZ1", CONF_SHA_A, "alice@example.org", "Quarterly Report",
                     "2024-03-01T10:00:00Z", "2024-03-01T10:00:05Z");
    rec->date_raw = xstrdup("Fri, 01 Mar 2024 11:00:00 +0100");
    rec->subject_raw = xstrdup("=?UTF-8?Q?Quarterly_Report?=");
    rec->message_id = xstrdup("q1@example.org");
    rec->mail_params = xstrdup("SIZE=1001 BODY=8BITMIME");
    rec->xforward = xstrdup("NAME=mx.example.org ADDR=192.0.2.1 IDENT=4XyZ1");
    record_add_rcpt(rec, "bob@example.com", "archive+bob=example.com@archive.test", NULL, "NEVER");
    record_add_rcpt(rec, "carol@example.com", "archive+carol=example.com@archive.test",
                    "rfc822;carol@example.com", NULL);
    record_add_rcpt(rec, "dave@secret.example", "archive+dave=secret.example@archive.test", NULL,
                    NULL);
    record_addrs_add(&rec->hdr_from, "Alice Liddell", "alice@example.org");
    record_addrs_add(&rec->hdr_to, "Bob", "bob@example.com");
    record_addrs_add(&rec->hdr_cc, NULL, "carol@example.com");
    record_addrs_add(&rec->hdr_cc, "undisclosed-recipients", NULL);
    rec->body_text = xstrdup("Revenue grew in all regions.");
    record_add_attachment(rec, "Q1 numbers.xlsx", "application/vnd.ms-excel");
    record_add_attachment(rec, NULL, "image/png");
}

/* search() results: archive ids joined by ",", and the first full record. */
struct conf_collect {
    char ids[4096];
    int calls;
    int stop_after; /* 0: never stop */
    struct archive_record first;
};

static int conf_collect_row(const struct archive_record *rec, void *ctx)
{
    struct conf_collect *c = ctx;
    size_t len = strlen(c->ids);

    snprintf(c->ids + len, sizeof(c->ids) - len, "%s%s", len ? "," : "", rec->archive_id);
    if (c->calls++ == 0) {
        /* Deep copy, so the test proves search handed over a complete record. */
        struct archive_record *f = &c->first;
        memcpy(f->archive_id, rec->archive_id, sizeof(f->archive_id));
        f->queue_id = xstrdup(rec->queue_id);
        f->envelope_from = xstrdup(rec->envelope_from);
        f->envelope_status = rec->envelope_status;
        for (size_t i = 0; i < rec->n_rcpts; i++)
            record_add_rcpt(f, rec->rcpts[i].address, rec->rcpts[i].archive_rcpt,
                            rec->rcpts[i].orcpt, rec->rcpts[i].notify);
        for (size_t i = 0; i < rec->hdr_from.n; i++)
            record_addrs_add(&f->hdr_from, rec->hdr_from.v[i].name, rec->hdr_from.v[i].address);
        for (size_t i = 0; i < rec->hdr_to.n; i++)
            record_addrs_add(&f->hdr_to, rec->hdr_to.v[i].name, rec->hdr_to.v[i].address);
        for (size_t i = 0; i < rec->hdr_cc.n; i++)
            record_addrs_add(&f->hdr_cc, rec->hdr_cc.v[i].name, rec->hdr_cc.v[i].address);
        f->mail_params = rec->mail_params ? xstrdup(rec->mail_params) : NULL;
        f->xforward = rec->xforward ? xstrdup(rec->xforward) : NULL;
        f->date = rec->date ? xstrdup(rec->date) : NULL;
        f->date_raw = rec->date_raw ? xstrdup(rec->date_raw) : NULL;
        f->subject = rec->subject ? xstrdup(rec->subject) : NULL;
        f->subject_raw = rec->subject_raw ? xstrdup(rec->subject_raw) : NULL;
        f->message_id = rec->message_id ? xstrdup(rec->message_id) : NULL;
        f->arrival = rec->arrival;
        f->size = rec->size;
        memcpy(f->sha256, rec->sha256, sizeof(f->sha256));
        f->wrapped_size = rec->wrapped_size;
        memcpy(f->wrapped_sha256, rec->wrapped_sha256, sizeof(f->wrapped_sha256));
        f->store = rec->store ? xstrdup(rec->store) : NULL;
        f->location = rec->location ? xstrdup(rec->location) : NULL;
        for (size_t i = 0; i < rec->n_attachments; i++)
            record_add_attachment(f, rec->attachments[i].filename,
                                  rec->attachments[i].content_type);
        f->body_text = rec->body_text ? xstrdup(rec->body_text) : NULL;
    }
    return c->stop_after && c->calls >= c->stop_after;
}

/* The archive ids search(q) finds as the numbers conf_make_id() gave
 * them, comma-separated (static). */
static const char *conf_search_nums(struct catalog *cat, const struct search_query *q)
{
    static char out[4096];
    const char *ids = conf_search_ids(cat, q);
    size_t len = 0;
    char *p = (char *)ids;

    if (strcmp(ids, "(error)") == 0)
        return ids;
    out[0] = '\0';
    while (*p != '\0') {
        unsigned long n = strtoul(p, &p, 16);
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lu", len ? "," : "", n);
        if (*p == ',')
            p++;
    }
    return out;
}

static const char *conf_text_nums(struct catalog *cat, const char *text)
{
    struct search_query q;

    memset(&q, 0, sizeof(q));
    q.text = text;
    return conf_search_nums(cat, &q);
}

/* A message of the full-text checks: archive id n, Date 2025-01-n, the
 * attachments of messages 1 and 4. */
static void conf_add_text(struct conformance *conf, unsigned long n, const char *subject,
                          const char *body)
{
    struct archive_record rec;
    char date[32];
    char qid[16];

    snprintf(date, sizeof(date), "2025-01-%02luT00:00:00Z", n);
    snprintf(qid, sizeof(qid), "FT%lu", n);
    conf_make_record(&rec, n, qid, CONF_SHA_A, "sender@example.org", subject, date, date);
    rec.body_text = body ? xstrdup(body) : NULL;
    if (n == 1) {
        record_add_attachment(&rec, "Q1-numbers 100%.xlsx", "application/vnd.ms-excel");
        record_add_attachment(&rec, "report_final.pdf", "application/pdf");
    } else if (n == 4) {
        record_add_attachment(&rec, NULL, "image/png");
    }
    conf_add(conf, &rec);
    record_free(&rec);
}

/*
 * Full-text search (--text) on a catalog that holds nothing else: every
 * word must match, in subject or body, any case, no diacritics; phrases,
 * OR (looser than AND), -NOT, as websearch_to_tsquery reads them; the
 * engine's own query syntax and SQL are plain text, never an error;
 * attachments by file-name substring with LIKE metacharacters literal,
 * combined with the other filters. Points for conf->at: "text added"
 * (before the first search), "text searched" (after it).
 */
static void conformance_fulltext(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct search_query q;

    conf_add_text(conf, 1, "Quarterly report",
                  "The quarterly numbers for Z\xc3\xbcrich are attached. Contact: bob@example.com");
    conf_add_text(conf, 2, "Lunch",
                  "Let's meet at the caf\xc3\xa9 near the station. NEAR(a b) subject: body: "
                  "\"quoted\" back\\slash \xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd\xe3\x81\xab"
                  "\xe4\xbd\x8f\xe3\x82\x93\xe3\x81\xa7\xe3\x81\x84\xe3\x81\xbe\xe3\x81\x99");
    conf_add_text(conf, 3, NULL, NULL);
    conf_add_text(conf, 4, "Re: report",
                  "R\xc3\xa9sum\xc3\xa9 of the meeting: the numbers look fine, an der "
                  "Stra\xc3\x9f"
                  "e");
    conf_add_text(conf, 5, "hostile", "* ^ ( ) : x AND y OR z NOT w");
    conf_at(conf, "text added", NULL);
    CHECK_STR(conf_text_nums(cat, "quarterly"), "1");
    conf_at(conf, "text searched", NULL);

    /* words: all must match, in subject or body, any case, no diacritics */
    CHECK_STR(conf_text_nums(cat, "quarterly"), "1");
    CHECK_STR(conf_text_nums(cat, "QUARTERLY Numbers"), "1");
    CHECK_STR(conf_text_nums(cat, "numbers"), "4,1");
    CHECK_STR(conf_text_nums(cat, "report"), "4,1");
    CHECK_STR(conf_text_nums(cat, "zurich"), "1");
    CHECK_STR(conf_text_nums(cat, "Z\xc3\xbcrich"), "1");
    CHECK_STR(conf_text_nums(cat, "cafe"), "2");
    CHECK_STR(conf_text_nums(cat, "resume meeting"), "4");
    CHECK_STR(conf_text_nums(cat, "bob@example.com"), "1");
    CHECK_STR(conf_text_nums(cat, "numbers lunch"), "");
    /* folding: ß is ss, both ways, on every catalog */
    CHECK_STR(conf_text_nums(cat, "strasse"), "4");
    CHECK_STR(conf_text_nums(cat, "STRASSE"), "4");
    CHECK_STR(conf_text_nums(cat, "Stra\xc3\x9f"
                                  "e"),
              "4");
    /* a CJK word inside a sentence without spaces ("Tokyo" in "I live in
     * Tokyo-to"), and one that is not there ("Osaka") */
    CHECK_STR(conf_text_nums(cat, "\xe6\x9d\xb1\xe4\xba\xac"), "2");
    CHECK_STR(conf_text_nums(cat, "\xe5\xa4\xa7\xe9\x98\xaa"), "");
    /* --text reads subject and body, not the addresses */
    CHECK_STR(conf_text_nums(cat, "sender"), "");
    /* phrases */
    CHECK_STR(conf_text_nums(cat, "\"numbers look\""), "4");
    CHECK_STR(conf_text_nums(cat, "\"look numbers\""), "");
    CHECK_STR(conf_text_nums(cat, "\"unterminated phrase"), "");
    CHECK_STR(conf_text_nums(cat, "\"the station"), "2");
    /* OR, NOT */
    CHECK_STR(conf_text_nums(cat, "lunch OR r\xc3\xa9sum\xc3\xa9"), "4,2");
    CHECK_STR(conf_text_nums(cat, "quarterly OR lunch OR fine"), "4,2,1");
    /* OR binds looser than AND, as in websearch_to_tsquery:
     * numbers OR (lunch AND meeting) */
    CHECK_STR(conf_text_nums(cat, "numbers OR lunch meeting"), "4,1");
    CHECK_STR(conf_text_nums(cat, "numbers -quarterly OR lunch"), "4,2");
    CHECK_STR(conf_text_nums(cat, "numbers -quarterly"), "4");
    CHECK_STR(conf_text_nums(cat, "numbers -\"numbers look\""), "1");
    CHECK_STR(conf_text_nums(cat, "-numbers"), "5,3,2");
    CHECK_STR(conf_text_nums(cat, "-numbers -lunch"), "5,3");
    /* as websearch_to_tsquery: "or" in any case is the operator between two
     * terms, and the word "or" anywhere else (leading, trailing, doubled) */
    CHECK_STR(conf_text_nums(cat, "numbers or lunch meeting"), "4,1");
    CHECK_STR(conf_text_nums(cat, "numbers OR"), "");
    CHECK_STR(conf_text_nums(cat, "or"), "5");
    CHECK_STR(conf_text_nums(cat, "OR"), "5");
    CHECK_STR(conf_text_nums(cat, "OR OR"), "5");
    CHECK_STR(conf_text_nums(cat, "- numbers"), "5,3,2"); /* "- word" excludes too */
    CHECK_STR(conf_text_nums(cat, ""), "");
    CHECK_STR(conf_text_nums(cat, "   "), "");

    /* hostile input is text: never query syntax of the engine, never an error */
    CHECK_STR(conf_text_nums(cat, "\""), "");
    CHECK_STR(conf_text_nums(cat, "\"\"\"\""), "");
    CHECK_STR(conf_text_nums(cat, "*"), "");
    CHECK_STR(conf_text_nums(cat, "numb*"), "");       /* no prefix query */
    CHECK_STR(conf_text_nums(cat, "^quarterly"), "1"); /* no initial-token query */
    /* no column filter: a phrase that no message has, or two words */
    CHECK_STR(conf_text_nums(cat, "subject:lunch"), ""); /* the phrase "subject lunch" */
    CHECK_STR(conf_text_nums(cat, "subject:"), "2");
    CHECK_STR(conf_text_nums(cat, "{subject body}: lunch"), "2");
    /* no NEAR group: the phrase "near meet" and station, or three words */
    CHECK_STR(conf_text_nums(cat, "NEAR(meet station)"), ""); /* the phrase "near meet" */
    CHECK_STR(conf_text_nums(cat, "NEAR(a b)"), "2");
    CHECK_STR(conf_text_nums(cat, "x AND y"), "5");
    CHECK_STR(conf_text_nums(cat, "x NOT y"), "5");
    CHECK_STR(conf_text_nums(cat, "quarterly AND lunch"), "");
    CHECK_STR(conf_text_nums(cat, "(quarterly"), "1");
    CHECK_STR(conf_text_nums(cat, "back\\slash"), "2");
    CHECK_STR(conf_text_nums(cat, "\\"), "");
    CHECK_STR(conf_text_nums(cat, "100%"), "");
    CHECK_STR(conf_text_nums(cat, "%"), "");
    CHECK_STR(conf_text_nums(cat, "'; DROP TABLE messages; --"), "");
    CHECK_STR(conf_text_nums(cat, "\"quoted\""), "2");
    CHECK_STR(conf_text_nums(cat, "\"\"quoted\"\""), "2");
    /* bytes that are not UTF-8: a word that no message has, or cleaned
     * away as the records' were; never an error */
    CHECK_STR(conf_text_nums(cat, "\xff\xfe numbers"), "4,1");
    CHECK_STR(conf_text_nums(cat, "\xc3"), "");
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages", NULL, "5");

    /* attachments: substring of the file name, LIKE metacharacters literal */
    memset(&q, 0, sizeof(q));
    q.attachment = "numbers";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.attachment = "NUMBERS 100%";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.attachment = "%";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.attachment = "_final";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.attachment = "s_1";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.attachment = "png"; /* the type is not the name */
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.attachment = "' OR 1=1 --";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.attachment = NULL;
    q.has_attachment = 1;
    CHECK_STR(conf_search_nums(cat, &q), "4,1");
    /* combined with the other filters */
    q.text = "numbers";
    q.attachment = ".pdf";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.attachment = NULL;
    q.text = "-quarterly";
    CHECK_STR(conf_search_nums(cat, &q), "4");
    q.has_attachment = 0;
    q.text = "report";
    q.subject = "Re:";
    CHECK_STR(conf_search_nums(cat, &q), "4");
    q.subject = NULL;
    q.limit = 1;
    CHECK_STR(conf_search_nums(cat, &q), "4");
    /* paging of a full-text query, newest first, and its count */
    q.text = "numbers OR lunch OR hostile";
    q.limit = 2;
    CHECK_STR(conf_search_nums(cat, &q), "5,4");
    q.offset = 2;
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    q.offset = 4;
    CHECK_STR(conf_search_nums(cat, &q), "");
    if (catalog_can(cat, CATALOG_CAN_COUNT)) {
        const char *error = NULL;
        long long n = -1;
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 4);
        q.text = "-numbers";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 3);
        q.text = "";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 0);
    }
}

/*
 * search() filters on a catalog that holds nothing else (docs/search.md):
 * --from (envelope sender or header From) and --to (envelope recipient,
 * Bcc too, or header To/Cc) as an exact address in any case, "@domain"
 * with its subdomains and no other domain, a '*' wildcard (nothing else
 * special), or words of the names and addresses, folded ("Zoë Müller"
 * finds "Zoe MULLER"); --subject as a phrase of folded words; SQL and
 * LIKE or GLOB metacharacters are plain text; --message-id exact, angle
 * brackets optional; --since inclusive and --until exclusive on Date or
 * arrival; filters combined with AND; newest (last archived) first,
 * paged by limit and offset, and counted; a callback that stops the
 * search; and the complete record handed to it.
 */
static void conformance_search(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct archive_record rec;
    struct search_query q;
    struct conf_collect c;
    const char *error = NULL;

    conf_make_record1(&rec);
    conf_add(conf, &rec);
    record_free(&rec);
    conf_make_record(&rec, 2, "5AbC2", CONF_SHA_B, "eve@evil.example", "Save 50%_off today",
                     "2024-04-01T00:00:00Z", "2024-04-01T00:00:09Z");
    rec.message_id = xstrdup("m2@example.net");
    record_add_rcpt(&rec, "frank@example.net", NULL, NULL, NULL);
    record_add_rcpt(&rec, "j\xc3\xb6rg@mail.\xe4\xbe\x8b\xe3\x81\x88.test", NULL, NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Eve", "eve@evil.example");
    conf_add(conf, &rec);
    record_free(&rec);

    /* No queue id, null sender, no Date: (sorted by arrival). */
    conf_make_record(&rec, 3, "", CONF_SHA_C, "", "back\\slash 100% Save 500 off R\xc3\xa9union",
                     NULL, "2024-05-02T00:00:00Z");
    rec.envelope_status = ENVELOPE_INCOMPLETE;
    record_add_rcpt(&rec, "grace@example.com", NULL, NULL, NULL);
    record_add_rcpt(&rec, "ops@EU.Mail.Example.NET", NULL, NULL, NULL);
    record_add_rcpt(&rec, "spam@my-example.net", NULL, NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Zoe MULLER", "zoe@muller.example");
    conf_add(conf, &rec);
    record_free(&rec);

    memset(&q, 0, sizeof(q));
    CHECK_STR(conf_search_nums(cat, &q), "3,2,1");

    /* from: an exact address, any case, envelope sender or header From */
    q.from = "ALICE@Example.ORG";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "<zoe@muller.example>";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.from = "ALICE@"; /* no substring unless asked for */
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = "alice@example";
    CHECK_STR(conf_search_nums(cat, &q), "");
    /* a domain, with its subdomains */
    q.from = "@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "@ORG";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "@ample.org";
    CHECK_STR(conf_search_nums(cat, &q), "");
    /* a wildcard: '*' only */
    q.from = "*@EVIL.*";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.from = "ali*";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "?lice@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = "[a]lice*";
    CHECK_STR(conf_search_nums(cat, &q), "");
    /* words of the names and addresses, folded */
    q.from = "liddell";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "Alice Liddell";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.from = "evil";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.from = "Zo\xc3\xab M\xc3\xbcller";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.from = "nobody";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = NULL;

    /* to: a Bcc recipient is only in the envelope */
    q.to = "DAVE@secret.example";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = "dave@secret";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.to = "@Example.COM";
    CHECK_STR(conf_search_nums(cat, &q), "3,1");
    q.to = "@example.net"; /* frank@, and ops@ of a subdomain; not my-example.net */
    CHECK_STR(conf_search_nums(cat, &q), "3,2");
    q.to = "@mail.example.net";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.to = "@ample.net";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.to = "@my-example.net";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.to = "*example.net";
    CHECK_STR(conf_search_nums(cat, &q), "3,2");
    q.to = "@\xe4\xbe\x8b\xe3\x81\x88.TEST"; /* an internationalised domain */
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.to = "J\xc3\xb6rg@Mail.\xe4\xbe\x8b\xe3\x81\x88.test";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.to = "undisclosed"; /* a header Cc name */
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = "eve"; /* a sender is not a recipient */
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.to = NULL;

    /* subject: a phrase of folded words */
    q.subject = "quarterly REPORT";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.subject = "report quarterly";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.subject = "R\xc3\x89UNION";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.subject = "reunion";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.subject = "save";
    CHECK_STR(conf_search_nums(cat, &q), "3,2");
    /* punctuation separates words: "50%_off" is "50 off", not "500 off" */
    q.subject = "50%_off";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.subject = "back\\slash";
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.subject = "%"; /* nothing to look for: no match (the CLI refuses it) */
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.subject = "Save 5_0";
    CHECK_STR(conf_search_nums(cat, &q), "");
    /* SQL and engine syntax in user text is just text */
    q.subject = "x' OR 1=1 --";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.subject = "save\" OR \"quarterly";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.subject = NULL;
    q.from = "x' OR 1=1 --";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = "%";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = "' OR 1=1 --@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = "*' OR '*";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.from = NULL;
    q.to = "') OR 1=1 OR ('";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.to = "@') OR 1=1 OR ('";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.to = NULL;
    q.message_id = "' OR ''='";
    CHECK_STR(conf_search_nums(cat, &q), "");

    /* Message-ID: exact, angle brackets optional */
    q.message_id = "q1@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.message_id = "<q1@example.org>";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.message_id = " <m2@example.net> ";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.message_id = "q1@example";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.message_id = "%";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.message_id = NULL;

    /* since inclusive, until exclusive, Date (or arrival when absent) */
    q.since = conf_parse_time("2024-04-01T00:00:00Z");
    CHECK_STR(conf_search_nums(cat, &q), "3,2");
    q.since = conf_parse_time("2024-04-01T00:00:01Z");
    CHECK_STR(conf_search_nums(cat, &q), "3");
    q.since = 0;
    q.until = conf_parse_time("2024-04-01T00:00:00Z");
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.since = conf_parse_time("2024-03-01");
    q.until = conf_parse_time("2024-05-02");
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    q.since = q.until = 0;

    /* filters combine with AND */
    q.to = "example";
    q.from = "alice";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = "@example.com";
    q.from = "@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = q.from = NULL;

    /* newest (last archived) first, in pages */
    q.limit = 2;
    CHECK_STR(conf_search_nums(cat, &q), "3,2");
    q.offset = 1;
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    q.offset = 2;
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.offset = 3;
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.limit = 0;
    q.offset = 1;
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    q.offset = 0;
    if (catalog_can(cat, CATALOG_CAN_COUNT)) {
        long long n = -1;
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 3);
        q.limit = 1; /* ignored */
        q.offset = 1;
        q.to = "@example.com";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 2);
        q.to = "nobody";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 0);
        q.to = NULL;
        q.limit = q.offset = 0;
    }

    /* a callback may stop the search */
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    CHECK(catalog_search(cat, &q, conf_collect_row, &c, &error) == TAB_OK);
    CHECK(c.calls == 1);
    record_free(&c.first);

    /* the record handed to the callback is complete */
    memset(&c, 0, sizeof(c));
    q.message_id = "q1@example.org";
    CHECK(catalog_search(cat, &q, conf_collect_row, &c, &error) == TAB_OK);
    CHECK(c.calls == 1);
    CHECK_STR(c.first.archive_id, "00000000000000000001");
    CHECK_STR(c.first.queue_id, "4XyZ1");
    CHECK_STR(c.first.sha256, CONF_SHA_A);
    CHECK_STR(c.first.envelope_from, "alice@example.org");
    CHECK_STR(c.first.envelope_status, "complete");
    CHECK_STR(c.first.message_id, "q1@example.org");
    CHECK_STR(c.first.date, "2024-03-01T10:00:00Z");
    CHECK_STR(c.first.date_raw, "Fri, 01 Mar 2024 11:00:00 +0100");
    CHECK_STR(c.first.subject, "Quarterly Report");
    CHECK_STR(c.first.subject_raw, "=?UTF-8?Q?Quarterly_Report?=");
    CHECK(c.first.arrival == conf_parse_time("2024-03-01T10:00:05Z"));
    CHECK(c.first.size == 1001);
    CHECK(c.first.wrapped_size == 2001);
    CHECK_STR(c.first.wrapped_sha256, CONF_SHA_D);
    CHECK_STR(c.first.store, "maildir");
    CHECK_STR(c.first.location, "cur/1.eml");
    CHECK_STR(c.first.mail_params, "SIZE=1001 BODY=8BITMIME");
    CHECK_STR(c.first.xforward, "NAME=mx.example.org ADDR=192.0.2.1 IDENT=4XyZ1");
    CHECK(c.first.n_rcpts == 3);
    if (c.first.n_rcpts == 3) {
        CHECK_STR(c.first.rcpts[0].address, "bob@example.com");
        CHECK_STR(c.first.rcpts[0].archive_rcpt, "archive+bob=example.com@archive.test");
        CHECK(c.first.rcpts[0].orcpt == NULL);
        CHECK_STR(c.first.rcpts[0].notify, "NEVER");
        CHECK_STR(c.first.rcpts[1].orcpt, "rfc822;carol@example.com");
        CHECK_STR(c.first.rcpts[2].address, "dave@secret.example");
    }
    CHECK(c.first.hdr_from.n == 1 && c.first.hdr_to.n == 1 && c.first.hdr_cc.n == 2);
    if (c.first.hdr_from.n == 1 && c.first.hdr_cc.n == 2) {
        CHECK_STR(c.first.hdr_from.v[0].name, "Alice Liddell");
        CHECK_STR(c.first.hdr_from.v[0].address, "alice@example.org");
        CHECK(c.first.hdr_cc.v[0].name == NULL);
        CHECK_STR(c.first.hdr_cc.v[0].address, "carol@example.com");
        CHECK_STR(c.first.hdr_cc.v[1].name, "undisclosed-recipients");
        CHECK(c.first.hdr_cc.v[1].address == NULL);
    }
    CHECK(c.first.n_attachments == 2);
    if (c.first.n_attachments == 2) {
        CHECK_STR(c.first.attachments[0].filename, "Q1 numbers.xlsx");
        CHECK_STR(c.first.attachments[0].content_type, "application/vnd.ms-excel");
        CHECK(c.first.attachments[1].filename == NULL);
        CHECK_STR(c.first.attachments[1].content_type, "image/png");
    }
    /* search results do not carry the (up to 1 MiB) body text */
    CHECK(c.first.body_text == NULL);
    record_free(&c.first);

    /* the null sender and a missing Date read back as stored */
    memset(&c, 0, sizeof(c));
    memset(&q, 0, sizeof(q));
    q.to = "grace";
    CHECK(catalog_search(cat, &q, conf_collect_row, &c, &error) == TAB_OK);
    CHECK_STR(c.first.envelope_from, "");
    CHECK_STR(c.first.queue_id, "");
    CHECK(c.first.date == NULL);
    CHECK_STR(c.first.envelope_status, "incomplete");
    record_free(&c.first);
}

/* A record of the merge checks: Date 2024-01-15T10:00:00Z (the
 * PostgreSQL test's later searches count on it), header From Sender. */
static void conf_merge_record(struct archive_record *rec, const char *queue_id, const char *sha256,
                              const char *message_id, const char *subject)
{
    conf_record(rec, queue_id, sha256, "sender@example.com");
    rec->message_id = message_id ? xstrdup(message_id) : NULL;
    rec->subject = subject ? xstrdup(subject) : NULL;
    rec->subject_raw = subject ? xstrdup(subject) : NULL;
    rec->date = xstrdup("2024-01-15T10:00:00Z");
    record_addrs_add(&rec->hdr_from, "Sender", "sender@example.com");
}

/*
 * Postfix retries some recipients of a transaction: the copies of one
 * message merge on (queue id, SHA-256), or without a queue id on
 * (Message-ID, SHA-256); known_recipients() lists the recipients, case
 * folded, in the order they came; get() reads the message by its own
 * archive id or by a copy's (with that copy's location). Leaves the
 * messages "merge one" (queue id QMERGE1, CONF_SHA_A; envelope alice,
 * bob, carol; header To Alice) and "no queue id" (nq@example.com) for
 * a driver's later tests. Point for conf->at: "merged" (the message's
 * archive id, after the second copy of QMERGE1).
 */
static void conformance_merge_get(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct archive_record a, b, c, d, got;
    struct strlist known = STRLIST_INIT;
    const char *error = NULL;

    /* (queue id, sha256): the second transaction joins the first */
    conf_merge_record(&a, "QMERGE1", CONF_SHA_A, "m1@example.com", "merge one");
    record_add_rcpt(&a, "alice@example.com", "archive+alice=example.com@archive.test", NULL, NULL);
    record_add_rcpt(&a, "bob@example.com", NULL, "rfc822;bob@example.com", "NEVER");
    record_addrs_add(&a.hdr_to, "Alice", "alice@example.com");
    conf_add(conf, &a);
    CHECK(catalog_known_recipients(cat, "QMERGE1", CONF_SHA_A, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 2 && strcmp(known.v[0], "alice@example.com") == 0 &&
          strcmp(known.v[1], "bob@example.com") == 0);
    strlist_free(&known);

    conf_merge_record(&b, "QMERGE1", CONF_SHA_A, "m1@example.com", "merge one");
    record_add_rcpt(&b, "BOB@example.com", NULL, NULL, NULL); /* same, case folded */
    record_add_rcpt(&b, "carol@example.com", NULL, NULL, NULL);
    conf_add(conf, &b);
    CHECK(catalog_known_recipients(cat, "QMERGE1", CONF_SHA_A, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 3 && strcmp(known.v[2], "carol@example.com") == 0);
    strlist_free(&known);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages WHERE queue_id = $1", "QMERGE1", "1");
    CONF_CHECK_SQL(conf,
                   "SELECT count(*) FROM copies c JOIN messages m ON m.id = c.message"
                   " WHERE m.queue_id = $1",
                   "QMERGE1", "2");
    conf_at(conf, "merged", a.archive_id);
    /* another SHA-256 with the same queue id is another message */
    CHECK(catalog_known_recipients(cat, "QMERGE1", CONF_SHA_B, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 0);

    /* get() by the message's and by the second copy's archive id */
    CHECK(catalog_get(cat, a.archive_id, &got, &error) == TAB_OK);
    CHECK_STR(got.archive_id, a.archive_id);
    CHECK_STR(got.location, a.location);
    CHECK_STR(got.queue_id, "QMERGE1");
    CHECK_STR(got.sha256, CONF_SHA_A);
    CHECK_STR(got.date, "2024-01-15T10:00:00Z");
    CHECK(got.arrival == a.arrival);
    CHECK(got.n_rcpts == 3);
    CHECK(got.n_rcpts == 3 && got.rcpts[1].orcpt != NULL &&
          strcmp(got.rcpts[1].orcpt, "rfc822;bob@example.com") == 0);
    CHECK(got.hdr_to.n == 1 && strcmp(got.hdr_to.v[0].name, "Alice") == 0);
    CHECK(got.hdr_from.n == 1);
    record_free(&got);
    CHECK(catalog_get(cat, b.archive_id, &got, &error) == TAB_OK);
    CHECK_STR(got.archive_id, a.archive_id); /* the message */
    CHECK_STR(got.location, b.location);     /* the copy asked for */
    record_free(&got);
    CHECK(catalog_get(cat, "FFFFFFFFFFFFFFFFFFFF", &got, &error) == TAB_PERM);
    CHECK(error != NULL && strstr(error, "not found") != NULL);

    /* no queue id: (Message-ID, sha256) */
    conf_merge_record(&c, "", CONF_SHA_B, "nq@example.com", "no queue id");
    record_add_rcpt(&c, "dave@example.com", NULL, NULL, NULL);
    conf_add(conf, &c);
    conf_merge_record(&d, "", CONF_SHA_B, "nq@example.com", "no queue id");
    record_add_rcpt(&d, "erin@example.com", NULL, NULL, NULL);
    conf_add(conf, &d);
    CHECK(catalog_known_recipients(cat, "", CONF_SHA_B, "nq@example.com", &known, &error) ==
          TAB_OK);
    CHECK(known.n == 2);
    strlist_free(&known);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages WHERE message_id = $1", "nq@example.com",
                   "1");
    CHECK(catalog_known_recipients(cat, "", CONF_SHA_B, "", &known, &error) == TAB_OK &&
          known.n == 0);

    record_free(&a);
    record_free(&b);
    record_free(&c);
    record_free(&d);
}

/* search → comma-separated subjects, in result order */
static int conf_collect_subject(const struct archive_record *rec, void *ctx)
{
    struct strlist *l = ctx;
    strlist_add(l, rec->subject ? rec->subject : "(none)");
    return 0;
}

static char *conf_search_subjects(struct catalog *cat, const struct search_query *q,
                                  enum tab_result *r)
{
    struct strlist l = STRLIST_INIT;
    const char *error = NULL;
    char *out;

    *r = catalog_search(cat, q, conf_collect_subject, &l, &error);
    if (*r != TAB_OK)
        fprintf(stderr, "search: %s\n", error);
    out = strlist_join(&l, ",");
    strlist_free(&l);
    return out;
}

/* CHECK_STR of a search by text */
static void conf_check_text(struct catalog *cat, const char *text, const char *want)
{
    struct search_query q;
    enum tab_result r;
    char *got;

    memset(&q, 0, sizeof(q));
    q.text = text;
    got = conf_search_subjects(cat, &q, &r);
    CHECK(r == TAB_OK);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "text search [%s]\n", text);
    CHECK_STR(got, want);
    free(got);
}

/*
 * Text search and filters on the messages conformance_merge_get() left
 * and seven more: --text words in subject and body, UTF-8 case folding,
 * phrases, OR, -NOT, hostile query text and invalid UTF-8 (stored as
 * U+FFFD or as given, searched as the same words); --subject as words and
 * --attachment as a substring, LIKE metacharacters literal;
 * --has-attachment; --from, --to (header To name too), --message-id,
 * --since/--until and a limit, newest first.
 */
static void conformance_text_filters(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    /* the subject "caf\xe9 latin1" as the driver stores it */
    const char *latin1 = conf->keeps_invalid_utf8 ? "caf\xe9 latin1" : "caf\xef\xbf\xbd latin1";
    const char *latin1_then = conf->keeps_invalid_utf8 ? "caf\xe9 latin1,1000 things"
                                                       : "caf\xef\xbf\xbd latin1,1000 things";
    static const struct {
        const char *subject, *body;
    } docs[] = {
        {"Budget", "The quarterly numbers for Z\xc3\xbcrich look good. Gr\xc3\xbc\xc3\x9f"
                   "e aus K\xc3\xb6ln"},
        {"Draft", "draft of the quarterly report, not final"},
        {"Report", "report quarterly: misc"},
        {"Hostile", "He said \"50% off\" \\ backslash O'Reilly 100%_done; DROP TABLE x; --"},
        {"100% sure", NULL},
        {"1000 things", NULL},
        {"caf\xe9 latin1", "na\xefve bytes"},
    };
    struct archive_record rec;
    struct search_query q;
    enum tab_result r;
    char *got;

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char sha[SHA256_HEX_SIZE];
        snprintf(sha, sizeof(sha), "%064zx", i + 1);
        conf_merge_record(&rec, "", sha, NULL, docs[i].subject);
        rec.body_text = docs[i].body ? xstrdup(docs[i].body) : NULL;
        if (i == 0) {
            record_add_attachment(&rec, "Invoice 2024.PDF", "application/pdf");
            record_add_attachment(&rec, NULL, "image/png");
        }
        if (i == 3)
            record_add_attachment(&rec, "100%_off.txt", "text/plain");
        conf_add(conf, &rec);
        record_free(&rec);
    }
    /* invalid UTF-8 was stored as U+FFFD, or as given */
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages WHERE subject = $1", latin1, "1");

    /* newest first: Hostile (i=3) before Report (i=2) ... */
    conf_check_text(cat, "quarterly", "Report,Draft,Budget");
    conf_check_text(cat, "quarterly report", "Report,Draft");
    conf_check_text(cat, "\"quarterly report\"", "Draft");
    conf_check_text(cat, "z\xc3\xbcrich OR draft", "Draft,Budget");
    conf_check_text(cat, "quarterly -draft", "Report,Budget");
    conf_check_text(cat, "K\xc3\x96LN", "Budget"); /* upper-case UTF-8 */
    conf_check_text(cat,
                    "gr\xc3\xbc\xc3\x9f"
                    "e",
                    "Budget");                /* ß */
    conf_check_text(cat, "budget", "Budget"); /* the subject is indexed too */
    conf_check_text(cat, "O'Reilly", "Hostile");
    conf_check_text(cat, "\"50% off\"", "Hostile");
    conf_check_text(cat, "'); DROP TABLE messages; --", "");
    conf_check_text(cat, "\\' \\\\ %", "");
    conf_check_text(cat, "\"unbalanced", "");
    conf_check_text(cat, "", "");
    /* invalid UTF-8 in the query is cleaned as the record was: same words */
    conf_check_text(cat, "na\xefve", latin1);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages WHERE subject = 'Hostile'", NULL, "1");

    memset(&q, 0, sizeof(q));
    q.subject = "100%";
    got = conf_search_subjects(cat, &q, &r);
    CHECK(r == TAB_OK);
    CHECK_STR(got, "100% sure");
    free(got);
    q.subject = "_";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "");
    free(got);

    memset(&q, 0, sizeof(q));
    q.attachment = "invoice 2024.pdf"; /* case-insensitive substring */
    got = conf_search_subjects(cat, &q, &r);
    CHECK(r == TAB_OK);
    CHECK_STR(got, "Budget");
    free(got);
    q.attachment = "%_o";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "Hostile");
    free(got);
    q.attachment = "%";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "Hostile");
    free(got);
    memset(&q, 0, sizeof(q));
    q.has_attachment = 1;
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "Hostile,Budget");
    free(got);
    q.text = "quarterly";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "Budget");
    free(got);
    CONF_CHECK_SQL(conf,
                   "SELECT COALESCE(filename, '-') || ' ' || content_type FROM attachments a"
                   " JOIN messages m ON m.id = a.message WHERE m.subject = $1 ORDER BY position",
                   "Budget", "Invoice 2024.PDF application/pdf\n- image/png");

    memset(&q, 0, sizeof(q));
    q.from = "SENDER@Example.COM";
    q.limit = 2;
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, latin1_then);
    free(got);
    memset(&q, 0, sizeof(q));
    q.to = "Carol@Example.com";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "merge one");
    free(got);
    q.to = "alice"; /* header To display name or address */
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "merge one");
    free(got);
    memset(&q, 0, sizeof(q));
    q.message_id = " <nq@example.com> ";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "no queue id");
    free(got);
    memset(&q, 0, sizeof(q));
    q.since = 1705312800 + 1; /* everything has Date: 2024-01-15T10:00:00Z */
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "");
    free(got);
    q.since = 1705312800;
    q.until = 1705312801;
    q.subject = "merge";
    got = conf_search_subjects(cat, &q, &r);
    CHECK_STR(got, "merge one");
    free(got);
}

/* The forwarder's record of each copy (forwarder/forwarder.c, tabularium
 * queue): one row, replaced by each outcome; a NULL detail stays NULL. */
static void conformance_forward_status(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    const char *error = NULL;

    CHECK(catalog_can(cat, CATALOG_CAN_FORWARD_STATUS));
    if (!catalog_can(cat, CATALOG_CAN_FORWARD_STATUS))
        return;
    CHECK(catalog_forward_status(cat, "6B070F6A6089D03379F3", "deferred", "connect refused",
                                 &error) == TAB_OK);
    CHECK(catalog_forward_status(cat, "6B070F6A6089D03379F3", "sent", "250 2.0.0 Ok: queued as X",
                                 &error) == TAB_OK);
    CONF_CHECK_SQL(conf, "SELECT status || '|' || detail FROM forwards WHERE archive_id = $1",
                   "6B070F6A6089D03379F3", "sent|250 2.0.0 Ok: queued as X");
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM forwards WHERE archive_id = $1",
                   "6B070F6A6089D03379F3", "1");
    CHECK(catalog_forward_status(cat, "6B070F6A6089D03379F4", "held", NULL, &error) == TAB_OK);
    CONF_CHECK_SQL(conf, "SELECT coalesce(detail, 'null') FROM forwards WHERE archive_id = $1",
                   "6B070F6A6089D03379F4", "null");
}

/*
 * Content the database refuses deterministically is TAB_PERM (a retry
 * would fail the same way), leaves nothing behind, and the connection
 * stays usable: an envelope status outside the schema's CHECK
 * constraint, then the same archive id twice (UNIQUE).
 */
static void conformance_content_errors(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct archive_record rec;
    const char *error = NULL;

    conf_record(&rec, "QPERM1", CONF_SHA_A, "sender@example.com");
    rec.subject = xstrdup("refused");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    rec.envelope_status = "bogus";
    CHECK(catalog_add(cat, &rec, &error) == TAB_PERM);
    CHECK(error != NULL && strstr(error, "envelope_status") != NULL);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM messages WHERE queue_id = $1", "QPERM1", "0");
    rec.envelope_status = ENVELOPE_COMPLETE;
    conf_add(conf, &rec);
    /* the same archive id once more */
    CHECK(catalog_add(cat, &rec, &error) == TAB_PERM);
    CONF_CHECK_SQL(conf,
                   "SELECT count(*) FROM copies c JOIN messages m ON m.id = c.message"
                   " WHERE m.queue_id = $1",
                   "QPERM1", "1");
    record_free(&rec);
}

/*
 * Header and envelope values that a B-tree cannot hold whole (issue 13;
 * PostgreSQL refused them with "index row requires 9080 bytes", "index
 * row size 6024 exceeds btree version 4 maximum 2704" and "string is too
 * long for tsvector"): add() succeeds, get() reads them back, every
 * lookup and search finds them, and a later transaction merges.
 * Points for conf->at: "hostile added" (the first record), "hostile
 * merged" (after the second transaction of the same message).
 */
static void conformance_hostile_values(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct archive_record rec, got;
    struct strlist known = STRLIST_INIT;
    const char *error = NULL;
    char *mid = conf_random_text(9000), *from_local = conf_random_text(6000);
    char *subject = conf_distinct_words("w", 100 * 1024);
    char *body = conf_distinct_words("", 1024 * 1024);
    char *rcpt_local = conf_random_text(5000), *queue_id = conf_random_text(300);
    char *from = xasprintf("%s@example.org", from_local);
    char *rcpt = xasprintf("%s@example.net", rcpt_local), *rcpt_upper = xstrdup(rcpt);
    char first[ARCHIVE_ID_SIZE], probe[64], last;
    long links = conf_chain_links(cat);

    CHECK(links >= 0);

    /* without a queue id: keyed on (Message-ID, SHA-256) */
    conf_record(&rec, "", CONF_SHA_A, from);
    rec.message_id = xstrdup(mid);
    rec.subject = xstrdup(subject);
    rec.subject_raw = xstrdup(subject);
    rec.date = xstrdup("2030-01-01T00:00:00Z");
    rec.body_text = xstrdup(body);
    record_addrs_add(&rec.hdr_from, from_local, from);
    record_add_rcpt(&rec, rcpt, NULL, NULL, NULL);
    memcpy(first, rec.archive_id, sizeof(first));
    conf_add(conf, &rec);
    record_free(&rec);

    CHECK(catalog_get(cat, first, &got, &error) == TAB_OK);
    CHECK_STR(got.message_id, mid);
    CHECK(got.hdr_from.n == 1 && strcmp(got.hdr_from.v[0].address, from) == 0);
    CHECK(got.subject != NULL && strcmp(got.subject, subject) == 0);
    CHECK(got.n_rcpts == 1 && strcmp(got.rcpts[0].address, rcpt) == 0);
    CHECK_STR(got.index_status, "full");
    CHECK(got.index_note == NULL);
    record_free(&got);
    conf_at(conf, "hostile added", first);

    CHECK(catalog_known_recipients(cat, "", CONF_SHA_A, mid, &known, &error) == TAB_OK);
    CHECK(known.n == 1 && strcmp(known.v[0], rcpt) == 0);
    strlist_free(&known);
    CHECK_STR(conf_only(cat, "message_id", mid), first);
    /* exact addresses of thousands of characters, any case; an address
     * that differs in its first character (in any case: a random 'A'
     * made 'a' is the same address) is another one */
    CHECK_STR(conf_only(cat, "from", from), first);
    CHECK_STR(conf_only(cat, "to", rcpt), first);
    {
        char *other = xstrdup(rcpt);
        other[0] = tolower((unsigned char)other[0]) == 'a' ? 'b' : 'a';
        CHECK_STR(conf_only(cat, "to", other), "");
        free(other);
    }
    /* a substring only through a wildcard */
    snprintf(probe, sizeof(probe), "*%.40s*", from_local + 5900);
    CHECK_STR(conf_only(cat, "from", probe), first);
    snprintf(probe, sizeof(probe), "*%.40s*", rcpt_local + 4900);
    CHECK_STR(conf_only(cat, "to", probe), first);
    {
        /* Without a wildcard, words: a piece cut inside words on both
         * ends (the random text has '_' and '+' between its words, and a
         * piece of whole words would rightly match). */
        size_t at = 4900;
        while (!isalnum((unsigned char)rcpt_local[at - 1]) ||
               !isalnum((unsigned char)rcpt_local[at]) ||
               !isalnum((unsigned char)rcpt_local[at + 39]) ||
               !isalnum((unsigned char)rcpt_local[at + 40]))
            at++;
        snprintf(probe, sizeof(probe), "%.40s", rcpt_local + at);
        CHECK_STR(conf_only(cat, "to", probe), "");
    }
    {
        /* three whole words from the end of the subject */
        const char *w = strchr(subject + 99000, ' ') + 1;
        const char *e = w;
        for (int k = 0; k < 3; k++)
            e = strchr(e, ' ') + 1;
        snprintf(probe, sizeof(probe), "%.*s", (int)(e - w - 1), w);
        CHECK_STR(conf_only(cat, "subject", probe), first);
    }
    CHECK_STR(conf_only(cat, "subject", "wa00 wa01"), first);
    /* words of the subject and of the start of the body (which a driver
     * may cut to fit its text index) */
    CHECK_STR(conf_only(cat, "text", "wzz 9zz"), first);
    /* a Message-ID that shares all but its last character is another one */
    last = mid[8999];
    mid[8999] = last == 'a' ? 'b' : 'a';
    CHECK_STR(conf_only(cat, "message_id", mid), "");
    mid[8999] = last;

    /* the same message again, the known recipient in other case: one
     * recipient row for it, the new one added, a copy more */
    for (char *p = rcpt_upper; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    conf_record(&rec, "", CONF_SHA_A, from);
    rec.message_id = xstrdup(mid);
    rec.subject = xstrdup("again");
    record_add_rcpt(&rec, rcpt_upper, NULL, NULL, NULL);
    record_add_rcpt(&rec, "second@example.net", NULL, NULL, NULL);
    conf_add(conf, &rec);
    record_free(&rec);
    CONF_CHECK_SQL(conf,
                   "SELECT count(*), count(DISTINCT r.message) FROM recipients r"
                   " JOIN messages m ON m.id = r.message WHERE m.message_id = $1",
                   mid, "2|1");
    CONF_CHECK_SQL(conf,
                   "SELECT count(*) FROM copies c JOIN messages m ON m.id = c.message"
                   " WHERE m.message_id = $1",
                   mid, "2");
    conf_at(conf, "hostile merged", first);

    /* a long queue id: keyed on (queue id, SHA-256) */
    conf_record(&rec, queue_id, CONF_SHA_B, "");
    record_add_rcpt(&rec, rcpt, NULL, NULL, NULL);
    conf_add(conf, &rec);
    record_free(&rec);
    CHECK(catalog_known_recipients(cat, queue_id, CONF_SHA_B, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 1 && strcmp(known.v[0], rcpt) == 0);
    strlist_free(&known);
    last = queue_id[299];
    queue_id[299] = last == 'a' ? 'b' : 'a';
    CHECK(catalog_known_recipients(cat, queue_id, CONF_SHA_B, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 0);
    queue_id[299] = last;
    strlist_free(&known);
    CHECK(conf_chain_links(cat) == links + 3);

    free(mid);
    free(from_local);
    free(subject);
    free(body);
    free(rcpt_local);
    free(queue_id);
    free(from);
    free(rcpt);
    free(rcpt_upper);
}

#endif
