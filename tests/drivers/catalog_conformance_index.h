/*
 * NAME
 *	catalog_conformance_index 3h
 * SUMMARY
 *	the catalog conformance suite, part two: the degraded index and index rebuild
 * DESCRIPTION
 *	Included after catalog_conformance.h (whose struct conformance and
 *	helpers these use) by each driver's unit test; static functions only.
 *
 *	conformance_degraded_reindex(): a degraded record (the envelope
 *	only: what delivery stores when the content cannot be indexed) is
 *	flagged, found by --degraded, counted by stats, stores no header
 *	field or text even when given them, keeps its note to
 *	INDEX_NOTE_MAX bytes; reindex() fills in the header fields, text and
 *	attachments, clears the flag, replaces rather than adds when run
 *	twice, can make a record degraded again, refuses an unknown archive
 *	id, and leaves the chain valid.
 *
 *	conformance_index_rebuild(): index check and a rebuild stopped,
 *	resumed, with a copy gone and a recipient added meanwhile, --since.
 * DIAGNOSTICS
 *	Failures are CHECK failures of check.h, with this file and line.
 */
#ifndef TAB_CATALOG_CONFORMANCE_INDEX_H
#define TAB_CATALOG_CONFORMANCE_INDEX_H

#include "tests/drivers/catalog_conformance.h"

/* "a" or "a,before" (search results, newest first, before the suite's). */
static char *conf_ids_then(const char *ids, const char *before)
{
    return xasprintf("%s%s%s", ids, *before != '\0' ? "," : "", before);
}

/*
 * A degraded record: flagged, found by --degraded, counted by stats, the
 * header fields and text it was given not stored; reindex() replaces the
 * header fields, text and attachments, clears the flag, and the chain
 * stays valid. Points for conf->at: "degraded stored" (a degraded record
 * given header fields, text, attachments and index_later), "reindexed
 * later" (that record reindexed with index_later), "degraded again" (a
 * reindexed record reindexed as degraded).
 */
static void conformance_degraded_reindex(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct archive_record rec, got;
    struct catalog_stats st;
    const char *error = NULL;
    char full[ARCHIVE_ID_SIZE], deg[ARCHIVE_ID_SIZE], deg3[ARCHIVE_ID_SIZE];
    char *long_note = conf_random_text(3000), *before_ids, *want;
    int64_t before;
    long links = conf_chain_links(cat);
    int done;

    CHECK(links >= 0);
    CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK);
    before = st.degraded;
    before_ids = xstrdup(conf_only(cat, "degraded", NULL));

    /* a full record, and the envelope only of another */
    conf_record(&rec, "4Full1", CONF_SHA_A, "alice@example.org");
    rec.subject = xstrdup("Fully indexed");
    rec.date = xstrdup("2030-01-01T00:00:00Z");
    rec.message_id = xstrdup("full-conformance@example.org");
    record_addrs_add(&rec.hdr_from, "Alice", "alice@example.org");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    rec.body_text = xstrdup("fully indexed words");
    memcpy(full, rec.archive_id, sizeof(full));
    conf_add(conf, &rec);
    record_free(&rec);

    conf_record(&rec, "4Deg2", CONF_SHA_B, "sender@example.org");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xstrdup("worker died on this message before (SIGSEGV)");
    memcpy(deg, rec.archive_id, sizeof(deg));
    conf_add(conf, &rec);
    record_free(&rec);

    want = conf_ids_then(deg, before_ids);
    CHECK_STR(conf_only(cat, "degraded", NULL), want);
    free(want);
    CHECK(catalog_get(cat, deg, &got, &error) == TAB_OK);
    CHECK(record_is_degraded(&got));
    CHECK_STR(got.index_note, "worker died on this message before (SIGSEGV)");
    CHECK(got.subject == NULL && got.hdr_from.n == 0 && got.n_rcpts == 1);
    record_free(&got);
    CHECK(catalog_get(cat, full, &got, &error) == TAB_OK);
    CHECK(!record_is_degraded(&got) && got.index_status != NULL &&
          strcmp(got.index_status, "full") == 0);
    record_free(&got);
    CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.degraded == before + 1);
    CONF_CHECK_SQL(conf, "SELECT index_status FROM message_overview WHERE archive_id = $1", full,
                   "full");
    CONF_CHECK_SQL(conf, "SELECT index_status FROM message_overview WHERE archive_id = $1", deg,
                   "degraded");

    /* a degraded record's header fields and text are not stored (and no
     * indexer reads its stored copy), its note is kept to INDEX_NOTE_MAX
     * bytes */
    conf_record(&rec, "4Deg3", CONF_SHA_C, "");
    rec.subject = xstrdup("ignored subject");
    rec.date = xstrdup("2030-01-01T00:00:00Z");
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xstrdup(long_note);
    rec.message_id = xstrdup("ignored@example.org");
    record_addrs_add(&rec.hdr_from, "Ignored", "ignored@example.org");
    record_add_attachment(&rec, "ignored.pdf", "application/pdf");
    rec.body_text = xstrdup("ignored body");
    rec.index_later = 1;
    memcpy(deg3, rec.archive_id, sizeof(deg3));
    conf_add(conf, &rec);
    record_free(&rec);
    CONF_CHECK_SQL(conf, "SELECT length(index_note) FROM messages WHERE archive_id = $1", deg3,
                   "1000");
    CONF_CHECK_SQL(conf,
                   "SELECT m.subject, m.message_id, m.date, (SELECT count(*) FROM"
                   " header_addresses WHERE message = m.id), (SELECT count(*) FROM attachments"
                   " WHERE message = m.id) FROM messages m WHERE m.archive_id = $1",
                   deg3, "NULL|NULL|NULL|0|0");
    conf_at(conf, "degraded stored", deg3);
    want = xasprintf("%s,%s", deg3, deg);
    {
        char *all = conf_ids_then(want, before_ids);
        CHECK_STR(conf_only(cat, "degraded", NULL), all);
        free(all);
    }
    free(want);

    /* reindex by the copy's archive id; the flag goes, the fields come */
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, deg, sizeof(deg));
    rec.message_id = xstrdup("reindexed-conformance@example.org");
    rec.subject = xstrdup("Reindexed at last");
    rec.subject_raw = xstrdup("Reindexed at last");
    rec.date = xstrdup("2030-01-01T23:00:00Z");
    rec.date_raw = xstrdup("Tue, 01 Jan 2030 23:00:00 +0000");
    record_addrs_add(&rec.hdr_from, "Sender", "sender@example.org");
    record_addrs_add(&rec.hdr_to, NULL, "bob@example.com");
    rec.body_text = xstrdup("the zyzzyva clause");
    record_add_attachment(&rec, "contract.pdf", "application/pdf");
    rec.index_status = INDEX_FULL;
    {
        /* what its stored copy holds (conf_text_source) */
        char *location = xasprintf("cur/%s.eml", deg);
        conf_store_text(location, rec.body_text);
        free(location);
    }
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    /* twice: the old text and attachments are replaced, not added to */
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    if (catalog_can(cat, CATALOG_CAN_INDEX_PENDING)) /* a driver that indexes text later */
        CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK);

    want = conf_ids_then(deg3, before_ids);
    CHECK_STR(conf_only(cat, "degraded", NULL), want);
    free(want);
    CHECK_STR(conf_only(cat, "message_id", "<reindexed-conformance@example.org>"), deg);
    CHECK_STR(conf_only(cat, "subject", "at last"), deg);
    CHECK_STR(conf_only(cat, "text", "zyzzyva"), deg);
    CHECK_STR(conf_only(cat, "attachment", "contract"), deg);
    CONF_CHECK_SQL(conf,
                   "SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message"
                   " WHERE m.archive_id = $1",
                   deg, "1");
    CHECK(catalog_get(cat, deg, &got, &error) == TAB_OK);
    CHECK(!record_is_degraded(&got) && got.index_note == NULL);
    CHECK_STR(got.subject, "Reindexed at last");
    CHECK_STR(got.date, "2030-01-01T23:00:00Z");
    CHECK(got.hdr_from.n == 1 && got.hdr_to.n == 1 && got.n_attachments == 1);
    CHECK(got.n_rcpts == 1 && got.wrapped_size == 2002); /* the envelope is untouched */
    record_free(&got);
    CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.degraded == before + 1);
    CHECK(conf_chain_links(cat) == links + 3);

    /* reindex with index_later: a driver that indexes later reads text
     * and attachments from the store, the others ignore the flag */
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, deg3, sizeof(deg3));
    rec.subject = xstrdup("later");
    rec.index_later = 1;
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    conf_at(conf, "reindexed later", deg3);

    /* reindexed as degraded again: back to the envelope only */
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, deg, sizeof(deg));
    rec.subject = xstrdup("ignored");
    record_addrs_add(&rec.hdr_from, NULL, "ignored@example.org");
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xstrdup("indexing failed again");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    CONF_CHECK_SQL(conf,
                   "SELECT index_status, index_note, subject, message_id, (SELECT count(*) FROM"
                   " header_addresses WHERE message = m.id), (SELECT count(*) FROM attachments"
                   " WHERE message = m.id) FROM messages m WHERE m.archive_id = $1",
                   deg, "degraded|indexing failed again|NULL|NULL|0|0");
    conf_at(conf, "degraded again", deg);
    CHECK(conf_chain_links(cat) == links + 3);

    memset(&rec, 0, sizeof(rec));
    snprintf(rec.archive_id, sizeof(rec.archive_id), "FFFFFFFFFFFFFFFFFFFF");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_PERM);
    CHECK(error != NULL && strstr(error, "not found") != NULL);
    record_free(&rec);
    free(before_ids);
    free(long_note);
}

/* catalog_index_check()'s problems as "KIND:ARCHIVE-ID" lines. */
static int conf_index_problem(const char *archive_id, enum catalog_index_problem what, void *ctx)
{
    char *line = xasprintf("%d:%s", (int)what, archive_id);

    strlist_add(ctx, line);
    free(line);
    return 0;
}

/* catalog_index_check() finds nothing wrong with the suite's messages. */
static void conf_index_healthy(struct catalog *cat, int64_t messages)
{
    struct catalog_index_report rep;
    struct strlist problems = STRLIST_INIT;
    const char *error = NULL;

    CHECK(catalog_index_check(cat, &rep, conf_index_problem, &problems, &error) == TAB_OK);
    CHECK(rep.messages == messages && rep.indexed == messages);
    CHECK(rep.stale == 0 && rep.unindexed == 0 && rep.damaged == 0 && problems.n == 0);
    CHECK(rep.documents < 0 || rep.documents == rep.documents_expected);
    CHECK(!rep.rebuild_unfinished);
    for (size_t i = 0; i < problems.n; i++)
        fprintf(stderr, "index problem %s\n", problems.v[i]);
    strlist_free(&problems);
}

/*
 * Index check and rebuild (tabularium index), on a catalog that holds
 * nothing else: five messages indexed are healthy; a rebuild in batches
 * of one stopped after two is seen by check and resumed by a new run
 * (resumed 2), which reads every copy again through the text source
 * and indexes the one whose copy is gone from its rows alone (missing
 * 1: its subject found, its body not); searches find everything during
 * and after; a recipient that a later copy adds after its message was
 * rebuilt is found by its words afterwards; a rebuild with another
 * since starts over (restarted), --since covers the messages archived
 * since then only, and leaves the index healthy.
 */
static void conformance_index_rebuild(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct catalog_index_report rep;
    struct catalog_index_rebuild rb;
    struct archive_record rec;
    struct search_query q;
    const char *error = NULL;
    int done = 0, rounds = 0;

    CHECK(catalog_can(cat, CATALOG_CAN_INDEX_REBUILD) && catalog_can(cat, CATALOG_CAN_TEXT_SOURCE));
    catalog_set_text_source(cat, conf_text_source, NULL);
    for (unsigned long n = 1; n <= 5; n++) {
        char subject[64], body[64], qid[16], date[32];

        snprintf(subject, sizeof(subject), "rebuildsubject%lu memo", n);
        snprintf(body, sizeof(body), "rebuildbody%lu", n);
        snprintf(qid, sizeof(qid), "RB%lu", n);
        snprintf(date, sizeof(date), "2025-02-%02luT00:00:00Z", n);
        conf_make_record(&rec, 0xB00 + n, qid, CONF_SHA_A, "sender@example.org", subject, date,
                         date);
        record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
        rec.body_text = xstrdup(body);
        conf_add(conf, &rec);
        if (n == 5) /* its copy is gone from the store */
            for (size_t i = 0; i < conf_store_locations.n; i++)
                if (strcmp(conf_store_locations.v[i], rec.location) == 0)
                    conf_store_locations.v[i][0] = '!';
        record_free(&rec);
    }
    /* a text search indexes what is pending first (SQLite) */
    CHECK_STR(conf_text_nums(cat, "rebuildbody5"), "2821");
    while (catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK && done > 0)
        ;
    conf_index_healthy(cat, 5);

    memset(&rb, 0, sizeof(rb));
    CHECK(catalog_index_rebuild(cat, &rb, 1, &error) == TAB_OK);
    CHECK(rb.done == 1 && rb.total == 5 && rb.resumed == 0 && !rb.finished && !rb.restarted);
    CHECK(catalog_index_rebuild(cat, &rb, 1, &error) == TAB_OK);
    CHECK(rb.done == 2 && !rb.finished);
    CHECK(catalog_index_check(cat, &rep, NULL, NULL, &error) == TAB_OK);
    CHECK(rep.rebuild_unfinished && rep.rebuild_done == 2 && rep.rebuild_total == 5 &&
          rep.rebuild_since == 0);
    CHECK_STR(conf_text_nums(cat, "rebuildbody1 OR rebuildbody4"), "2820,2817");

    /* a later copy of the first message adds a recipient */
    conf_make_record(&rec, 0xB10, "RB1", CONF_SHA_A, "sender@example.org", "rebuildsubject1 memo",
                     "2025-02-01T00:00:00Z", "2025-02-01T00:00:00Z");
    record_add_rcpt(&rec, "zebediah.newcomer@example.net", NULL, NULL, NULL);
    rec.body_text = xstrdup("rebuildbody1");
    conf_add(conf, &rec);
    record_free(&rec);
    while (catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK && done > 0)
        ;

    memset(&rb, 0, sizeof(rb)); /* a new run */
    while (!rb.finished && rounds++ < 20)
        if (catalog_index_rebuild(cat, &rb, 2, &error) != TAB_OK) {
            fprintf(stderr, "index rebuild: %s\n", error);
            CHECK(0);
            break;
        }
    CHECK(rb.finished && rb.resumed == 2 && rb.done == 5 && rb.total == 5 && rb.missing == 1);
    CHECK_STR(conf_text_nums(cat, "rebuildbody1"), "2817");
    CHECK_STR(conf_text_nums(cat, "rebuildbody4"), "2820");
    CHECK_STR(conf_text_nums(cat, "rebuildsubject5"), "2821");
    CHECK_STR(conf_text_nums(cat, "rebuildbody5"), ""); /* not invented */
    memset(&q, 0, sizeof(q));
    q.to = "zebediah newcomer";
    CHECK_STR(conf_search_nums(cat, &q), "2817");
    conf_index_healthy(cat, 5);

    /* another since: starts over; --since covers the later messages only */
    memset(&rb, 0, sizeof(rb));
    rb.since = conf_parse_time("2025-02-04T00:00:00Z");
    CHECK(catalog_index_rebuild(cat, &rb, 1, &error) == TAB_OK && rb.total == 2 && rb.done == 1);
    memset(&rb, 0, sizeof(rb));
    CHECK(catalog_index_rebuild(cat, &rb, 1, &error) == TAB_OK && rb.restarted && rb.done == 1 &&
          rb.total == 5);
    memset(&rb, 0, sizeof(rb));
    rb.since = conf_parse_time("2025-02-04T00:00:00Z");
    rounds = 0;
    while (!rb.finished && rounds++ < 20)
        if (catalog_index_rebuild(cat, &rb, 10, &error) != TAB_OK) {
            fprintf(stderr, "index rebuild --since: %s\n", error);
            CHECK(0);
            break;
        }
    CHECK(rb.finished && rb.restarted && rb.total == 2 && rb.done == 2 && rb.missing == 1);
    CHECK_STR(conf_text_nums(cat, "rebuildbody4 OR rebuildbody2"), "2820,2818");
    conf_index_healthy(cat, 5);
}

#endif
