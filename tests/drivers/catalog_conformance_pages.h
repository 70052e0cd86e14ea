/*
 * NAME
 *	catalog_conformance_pages 3h
 * SUMMARY
 *	the catalog conformance suite, part three: pages of an address's
 *	messages
 * DESCRIPTION
 *	Included after catalog_conformance.h (whose struct conformance and
 *	helpers these use) by each driver's unit test; static functions only.
 *
 *	conformance_address_pages(): an address or a domain found in several
 *	places of one message (envelope recipient, To, Cc; envelope sender
 *	and From) lists the message once, newest first, and a page (limit,
 *	offset) of it is that slice of the whole list, with --from and --to
 *	together, a subdomain, a Message-ID beside the address, and counts.
 *	The PostgreSQL catalog reads such a search as merged index ranges
 *	(pg_catalog_search.c, "streams"): the same answers as the IN list of
 *	a count, on both catalogs.
 *
 *	conformance_word_pages(): pages of words among 200 messages whose
 *	words are all common and match rarely together (a phrase of two
 *	words every message has, adjacent in one of seven; a subject word
 *	that every body has; a word with an address): every page of every
 *	size is that slice of the whole list, newest first, and the count
 *	agrees. PostgreSQL reads such a page in growing id ranges, newest
 *	first (pg_catalog_search.c, pg_catalog_walk()), and --subject through
 *	an index over the subject's words alone: pages of 1 and 3 cross
 *	the ranges' edges.
 * DIAGNOSTICS
 *	Failures are CHECK failures of check.h, with this file and line.
 */
#ifndef TAB_CATALOG_CONFORMANCE_PAGES_H
#define TAB_CATALOG_CONFORMANCE_PAGES_H

#include "tests/drivers/catalog_conformance.h"

/* Every page of limit 2 of q, joined: must be the whole list. */
static const char *conf_pages_joined(struct catalog *cat, struct search_query q)
{
    static char all[1024];
    size_t len = 0;

    all[0] = '\0';
    q.limit = 2;
    for (q.offset = 0; q.offset < 20; q.offset += 2) {
        const char *page = conf_search_nums(cat, &q);
        if (*page == '\0')
            break;
        len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s", len ? "," : "", page);
    }
    return all;
}

/* The list, its pages joined and its count must agree with expected. */
static void conf_pages_check(struct catalog *cat, const char *from, const char *to,
                             const char *message_id, const char *expected, long long count)
{
    struct search_query q;
    const char *error = NULL;
    long long n = -1;

    memset(&q, 0, sizeof(q));
    q.from = from;
    q.to = to;
    q.message_id = message_id;
    CHECK_STR(conf_search_nums(cat, &q), expected);
    CHECK_STR(conf_pages_joined(cat, q), expected);
    if (catalog_can(cat, CATALOG_CAN_COUNT)) {
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK);
        CHECK(n == count);
    }
}

static void conformance_address_pages(struct conformance *conf)
{
    /* n, envelope sender, recipient?, To, Cc, From */
    static const struct {
        const char *sender;
        int rcpt;
        const char *to, *cc, *from;
    } m[] = {
        {"boss@example.org", 1, "pager@example.com", NULL, NULL},
        {"x@x.test", 0, NULL, "pager@example.com", "Boss@Example.org"},
        {"BOSS@example.org", 1, NULL, NULL, "boss@example.org"},
        {"x@x.test", 0, "other@example.com", NULL, NULL},
        {"boss@example.org", 0, "pager@example.com", "PAGER@example.com", NULL},
        {"x@x.test", 1, "pager@example.com", "pager@example.com", "someone@x.test"},
        {"boss@mail.example.org", 0, "pager@mail.example.com", NULL, NULL},
    };
    struct archive_record rec;

    for (unsigned long i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        char qid[16], date[32];
        snprintf(qid, sizeof(qid), "PG%lu", i + 1);
        snprintf(date, sizeof(date), "2025-03-%02luT00:00:00Z", i + 1);
        conf_make_record(&rec, i + 1, qid, CONF_SHA_A, m[i].sender, "pages", date, date);
        rec.message_id = xasprintf("pages%lu@example.org", i + 1);
        record_add_rcpt(&rec, m[i].rcpt ? "pager@example.com" : "nobody@x.test", NULL, NULL, NULL);
        if (m[i].to)
            record_addrs_add(&rec.hdr_to, NULL, m[i].to);
        if (m[i].cc)
            record_addrs_add(&rec.hdr_cc, NULL, m[i].cc);
        if (m[i].from)
            record_addrs_add(&rec.hdr_from, "Boss", m[i].from);
        conf_add(conf, &rec);
        record_free(&rec);
    }
    /* each message once, however many of its fields hold the address */
    conf_pages_check(conf->cat, NULL, "pager@example.com", NULL, "6,5,3,2,1", 5);
    conf_pages_check(conf->cat, NULL, "Pager@Example.COM", NULL, "6,5,3,2,1", 5);
    conf_pages_check(conf->cat, "boss@example.org", NULL, NULL, "5,3,2,1", 4);
    conf_pages_check(conf->cat, "boss@example.org", "pager@example.com", NULL, "5,3,2,1", 4);
    /* a domain and its subdomains, each message once */
    conf_pages_check(conf->cat, NULL, "@example.com", NULL, "7,6,5,4,3,2,1", 7);
    conf_pages_check(conf->cat, NULL, "@mail.example.com", NULL, "7", 1);
    conf_pages_check(conf->cat, "@example.org", NULL, NULL, "7,5,3,2,1", 5);
    conf_pages_check(conf->cat, "@example.org", "@example.com", NULL, "7,5,3,2,1", 5);
    /* with a condition of another kind */
    conf_pages_check(conf->cat, NULL, "pager@example.com", "pages5@example.org", "5", 1);
    conf_pages_check(conf->cat, NULL, "pager@example.com", "pages4@example.org", "", 0);
    conf_pages_check(conf->cat, NULL, "nobody@example.com", NULL, "", 0);
}

/* The numbers n in 200..1 (newest first) for which keep(n), joined by
 * ","; static. */
static const char *conf_words_expected(int (*keep)(unsigned long n))
{
    static char out[2048];
    size_t len = 0;

    out[0] = '\0';
    for (unsigned long n = 200; n >= 1; n--)
        if (keep(n))
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lu", len ? "," : "", n);
    return out;
}

static int conf_words_phrase(unsigned long n)
{
    return n % 7 == 0;
}
static int conf_words_subject(unsigned long n)
{
    return n % 13 == 0;
}
static int conf_words_from(unsigned long n)
{
    return n % 5 == 0;
}
static int conf_words_phrase_from(unsigned long n)
{
    return n % 35 == 0;
}
static int conf_words_every(unsigned long n)
{
    return n > 0;
}

/* q's whole list (no limit), every page of limit 1, 3 and 50 joined,
 * and its count must agree with expected (count numbers). */
static void conf_words_check(struct catalog *cat, struct search_query q, const char *expected,
                             long long count)
{
    static const long limits[] = {1, 3, 50};
    const char *error = NULL;
    long long n = -1;

    q.limit = 0;
    q.offset = 0;
    CHECK_STR(conf_search_nums(cat, &q), expected);
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        static char all[2048];
        size_t len = 0;

        all[0] = '\0';
        q.limit = limits[i];
        for (q.offset = 0; q.offset <= count; q.offset += q.limit) {
            const char *page = conf_search_nums(cat, &q);
            if (*page == '\0')
                break;
            len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s", len ? "," : "", page);
        }
        CHECK_STR(all, expected);
    }
    /* the first page alone: the newest of them */
    q.offset = 0;
    q.limit = 2;
    {
        char first[64];
        const char *comma = strchr(expected, ',');
        comma = comma != NULL ? strchr(comma + 1, ',') : NULL;
        snprintf(first, sizeof(first), "%.*s",
                 comma ? (int)(comma - expected) : (int)strlen(expected), expected);
        CHECK_STR(conf_search_nums(cat, &q), first);
    }
    if (catalog_can(cat, CATALOG_CAN_COUNT)) {
        q.limit = 0;
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK);
        CHECK(n == count);
    }
}

static void conformance_word_pages(struct conformance *conf)
{
    struct search_query q;

    for (unsigned long i = 1; i <= 200; i++) {
        struct archive_record rec;
        char qid[16], date[32];

        snprintf(qid, sizeof(qid), "WP%lu", i);
        snprintf(date, sizeof(date), "2025-06-%02luT%02lu:00:00Z", 1 + i / 24, i % 24);
        conf_make_record(&rec, i, qid, CONF_SHA_A, "sender@x.test",
                         i % 13 == 0 ? "Gamma report" : "Weekly report", date, date);
        /* every body has alpha, beta and gamma; "alpha beta" in one of seven */
        rec.body_text = xstrdup(i % 7 == 0 ? "Notes: alpha beta, then gamma."
                                           : "Notes: beta then alpha, then gamma.");
        record_add_rcpt(&rec, "archive@x.test", NULL, NULL, NULL);
        record_addrs_add(&rec.hdr_from, "Walker", i % 5 == 0 ? "walker@x.test" : "other@x.test");
        conf_add(conf, &rec);
        record_free(&rec);
    }
    memset(&q, 0, sizeof(q));
    q.text = "\"alpha beta\"";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_phrase), 28);
    q.text = "\"beta alpha\"";
    conf_words_check(conf->cat, q, "", 0);
    q.text = "gamma";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_every), 200);
    memset(&q, 0, sizeof(q));
    q.subject = "gamma";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_subject), 15);
    q.subject = "Gamma report";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_subject), 15);
    q.subject = "report gamma";
    conf_words_check(conf->cat, q, "", 0);
    q.subject = "alpha"; /* in every body, in no subject */
    conf_words_check(conf->cat, q, "", 0);
    memset(&q, 0, sizeof(q));
    q.text = "alpha";
    q.from = "walker@x.test";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_from), 40);
    q.text = "\"alpha beta\"";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_phrase_from), 5);
    q.from = "Walker@X.test";
    conf_words_check(conf->cat, q, conf_words_expected(conf_words_phrase_from), 5);
    q.from = "nobody@x.test";
    conf_words_check(conf->cat, q, "", 0);
}

#endif
