/*
 * NAME
 *	test_catalog_sqlite 1
 * SUMMARY
 *	unit tests of the catalog registry and the SQLite catalog driver
 * DESCRIPTION
 *	Runs against real database files in check_tmpdir(). Rows are checked
 *	with plain SQL through a second connection, because the schema is a
 *	public interface: what operators see in sqlite3 is what is asserted.
 *	Covers the rows of one add, merging of retried transactions on
 *	(queue id, SHA-256) with text and attachments recorded once, get()
 *	by message and copy archive id, rollback of a failed add, two
 *	processes writing at once, schema version refusal, the registry's
 *	errors and the failing catalog; the in-place upgrade of a version 1
 *	file (to the current version). Full-text indexing off the delivery
 *	path: add() leaves the text in text_pending, index_pending() moves
 *	it in batches bounded by rows and bytes, a text search indexes what
 *	is pending first, expire removes a pending row. The catalog
 *	conformance suite (catalog_conformance.h: search filters, merging
 *	and get() with text search and filters after it, full-text search
 *	and attachments, forwarder status rows, content errors, hostile
 *	header values, degraded
 *	records and reindex()), each part on a fresh file, with what only
 *	SQLite shows around it: a --text word with punctuation inside is a
 *	phrase, text that is not UTF-8 is stored as given, text pending until the
 *	first search, no index over raw header text, the lookups' query
 *	plans, text_pending and message_fts of degraded and reindexed
 *	records. A copy id taken by another message is TAB_PERM, in
 *	add_batch() for that copy alone.
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "common/log.h"
#include "common/strlist.h"

#include "tests/drivers/catalog_conformance.h"
#include "tests/drivers/catalog_conformance_index.h"
#include "tests/drivers/catalog_conformance_pages.h"
#include "tests/drivers/catalog_conformance_users.h"

/* The schema version this code writes (SQLITE_SCHEMA_VERSION of the
 * driver's private header), as PRAGMA user_version prints it. */
#define SCHEMA_NOW "11"

static char db_path[4200];
static char db_spec[4300];

/* All rows of a query through a separate connection, "col|col" per row,
 * rows separated by "\n", NULL shown as "NULL" (like the sqlite3 shell);
 * $1 bound to param unless NULL (SQLite reads "$1" as a named parameter,
 * the first). */
static char *sql_param_at(const char *path, const char *query, const char *param)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *out = xstrdup("");
    int rc;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK ||
        (param != NULL && sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT) != SQLITE_OK)) {
        fprintf(stderr, "sql %s: %s\n", query, sqlite3_errmsg(db));
        exit(2);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *v = sqlite3_column_text(st, i);
            char *next = xasprintf("%s%s%s", out, i ? "|" : (*out ? "\n" : ""),
                                   v ? (const char *)v : "NULL");
            free(out);
            out = next;
        }
    }
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "sql %s: %s\n", query, sqlite3_errmsg(db));
        exit(2);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static char *sql_at(const char *path, const char *query)
{
    return sql_param_at(path, query, NULL);
}

static char *sql(const char *query)
{
    return sql_at(db_path, query);
}

#define CHECK_SQL_AT(path, query, expected) CHECK_STR_FREE(sql_at(path, query), expected)

#define CHECK_SQL(query, expected) CHECK_STR_FREE(sql(query), expected)

/* The database file the conformance suite runs on (sqlite_rows, sqlite_at). */
static char conf_path[4300];

/* struct conformance's sql hook: sql_param_at() on conf_path. */
static char *sqlite_rows(const char *query, const char *param)
{
    return sql_param_at(conf_path, query, param);
}

#define CHECK_CONF_SQL(query, param, expected) CHECK_STR_FREE(sqlite_rows(query, param), expected)

#define PENDING_ROW(col)                                                                           \
    "SELECT t.from_store, " col " FROM text_pending t JOIN messages m ON m.id = t.message"         \
    " WHERE m.archive_id = $1"
#define INDEXED "SELECT count(*) FROM messages WHERE fts_hash IS NOT NULL"
#define PENDING "SELECT count(*) FROM text_pending"

/* struct conformance's at hook: what only SQLite has (a fresh file per
 * suite, text_pending and the FTS5 table message_fts), point by point:
 * the rows of sql, with $1 the archive id where by_id. */
static const struct {
    const char *point, *sql, *expected;
    int by_id;
} sqlite_points[] = {
    /* nothing but the one message's rows in the file */
    {"hostile merged", "SELECT count(*), count(DISTINCT message) FROM recipients", "2|1", 0},
    {"hostile merged", "SELECT count(*) FROM copies", "2", 0},
    /* pending, but not to be read from the store, and no text */
    {"degraded stored", PENDING_ROW("t.body"), "0|NULL", 1},
    {"reindexed later", PENDING_ROW("t.subject"), "1|later", 1},
    /* pending until the first full-text search, which indexes them first */
    {"text added", INDEXED, "0", 0},
    {"text added", PENDING, "5", 0},
    {"text searched", INDEXED, "5", 0},
    {"text searched", PENDING, "0", 0},
    /* its old document deleted exactly (the text source serves the text it
     * was indexed with), nothing stale */
    {"degraded again",
     "SELECT fts_hash IS NULL, (SELECT count(*) FROM fts_stale) FROM messages"
     " WHERE archive_id = $1",
     "1|0", 1},
};

static void sqlite_at(const char *point, const char *archive_id)
{
    for (size_t i = 0; i < sizeof(sqlite_points) / sizeof(sqlite_points[0]); i++) {
        if (strcmp(point, sqlite_points[i].point) != 0)
            continue;
        if (sqlite_points[i].by_id)
            CHECK_CONF_SQL(sqlite_points[i].sql, archive_id, sqlite_points[i].expected);
        else
            CHECK_SQL_AT(conf_path, sqlite_points[i].sql, sqlite_points[i].expected);
    }
}

/* The catalog file dir/name (created on first use) for a part of the
 * conformance suite; NULL on error. */
static struct catalog *sqlite_conformance(const char *dir, const char *name,
                                          struct conformance *conf)
{
    const char *error = NULL;
    char spec[4400];

    snprintf(conf_path, sizeof(conf_path), "%s/%s", dir, name);
    snprintf(spec, sizeof(spec), "sqlite:%s", conf_path);
    memset(conf, 0, sizeof(*conf));
    conf->cat = catalog_open(spec, NULL, &error);
    CHECK(conf->cat != NULL);
    if (conf->cat == NULL)
        fprintf(stderr, "open %s: %s\n", conf_path, error);
    conf->sql = sqlite_rows;
    conf->at = sqlite_at;
    /* a text source that serves what the suite stored: old documents
     * are then rebuilt and deleted exactly (sqlite_fts.c) */
    catalog_set_text_source(conf->cat, conf_text_source, NULL);
    conf->keeps_invalid_utf8 = 1;
    return conf->cat;
}

static void test_add_and_rows(void)
{
    struct archive_record rec;
    struct catalog *cat;
    const char *error = NULL;
    char *s;

    cat = catalog_open(db_spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL) {
        fprintf(stderr, "open: %s\n", error);
        exit(1);
    }
    CHECK_STR(catalog_name(cat), "sqlite");
    conf_make_record1(&rec);
    CHECK(catalog_add(cat, &rec, &error) == TAB_OK);
    record_free(&rec);

    /* add() stores the text durably but unindexed; index_pending() moves
     * it into the full-text index (indexer/indexer.c calls it). */
    CHECK_SQL("SELECT message, subject, body FROM text_pending",
              "1|Quarterly Report|Revenue grew in all regions.");
    CHECK_SQL("SELECT count(*) FROM messages WHERE fts_hash IS NOT NULL", "0");
    CHECK_SQL("SELECT count(*) FROM message_fts WHERE message_fts MATCH 'regions'", "0");
    {
        struct catalog_stats st;
        int64_t left = -1;
        int done = -1;

        CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.text_pending == 1);
        /* max_rows 0 only counts */
        CHECK(catalog_index_pending(cat, 0, &done, &left, &error) == TAB_OK);
        CHECK(done == 0 && left == 1);
        CHECK_SQL("SELECT count(*) FROM text_pending", "1");
        CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_OK);
        CHECK(done == 1 && left == 0);
        CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK);
        CHECK(done == 0);
        CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.text_pending == 0);
    }
    CHECK_SQL("SELECT count(*) FROM text_pending", "0");
    catalog_close(&cat);
    CHECK(cat == NULL);

    /* What an operator sees with sqlite3, through another connection. */
    CHECK_SQL("PRAGMA user_version", SCHEMA_NOW);
    CHECK_SQL("PRAGMA journal_mode", "wal");
    CHECK_SQL("SELECT id, archive_id, queue_id, sha256, message_id, envelope_from,"
              " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
              " mail_params, xforward FROM messages",
              "1|00000000000000000001|4XyZ1|"
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|q1@example.org|"
              "alice@example.org|complete|2024-03-01T10:00:00Z|Fri, 01 Mar 2024 11:00:00 +0100|"
              "Quarterly Report|=?UTF-8?Q?Quarterly_Report?=|2024-03-01T10:00:05Z|1001|"
              "SIZE=1001 BODY=8BITMIME|NAME=mx.example.org ADDR=192.0.2.1 IDENT=4XyZ1");
    CHECK_SQL("SELECT id, message, archive_id, store, location, wrapped_sha256, wrapped_size"
              " FROM copies",
              "1|1|00000000000000000001|maildir|cur/1.eml|"
              "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd|2001");
    s = sql("SELECT stored FROM copies");
    {
        time_t t = 0;
        CHECK(record_parse_time(s, &t) == 0 && strlen(s) == 20 && s[19] == 'Z');
        CHECK(t > time(NULL) - 300 && t <= time(NULL));
    }
    free(s);
    CHECK_SQL("SELECT message, address, archive_rcpt, orcpt, notify, copy FROM recipients"
              " ORDER BY rowid",
              "1|bob@example.com|archive+bob=example.com@archive.test|NULL|NEVER|1\n"
              "1|carol@example.com|archive+carol=example.com@archive.test|"
              "rfc822;carol@example.com|NULL|1\n"
              "1|dave@secret.example|archive+dave=secret.example@archive.test|NULL|NULL|1");
    CHECK_SQL("SELECT message, field, position, name, address FROM header_addresses"
              " ORDER BY field, position",
              "1|cc|0|NULL|carol@example.com\n"
              "1|cc|1|undisclosed-recipients|NULL\n"
              "1|from|0|Alice Liddell|alice@example.org\n"
              "1|to|0|Bob|bob@example.com");
    CHECK_SQL("SELECT archive_id, date_or_arrival, envelope_from, header_from, recipients, nrcpt,"
              " subject, copies FROM message_overview",
              "00000000000000000001|2024-03-01T10:00:00Z|alice@example.org|alice@example.org|"
              "bob@example.com, carol@example.com, dave@secret.example|3|Quarterly Report|1");
    /* contentless: the words only, no second copy of the text */
    CHECK_SQL("SELECT id, fts_hash IS NOT NULL, fts_rcpts FROM messages", "1|1|3");
    CHECK_SQL("SELECT rowid FROM message_fts WHERE message_fts MATCH"
              " 'subject : quarterly AND body : revenue AND sender : liddell"
              " AND recipients : (dave AND secret AND undisclosed)'",
              "1");
    /* every address once (schema version 11), the rows by id */
    CHECK_SQL("SELECT a.rdomain FROM messages m JOIN addresses a ON a.id = m.sender_id",
              "gro.elpmaxe");
    CHECK_SQL("SELECT count(*), count(DISTINCT address COLLATE BINARY) FROM addresses", "7|7");
    CHECK_SQL("SELECT count(*) FROM recipient_rows r JOIN addresses a ON a.id = r.address_id"
              " JOIN addresses b ON b.id = r.archive_rcpt_id",
              "3");
    CHECK_SQL("SELECT group_concat(rdomain) FROM (SELECT rdomain FROM recipients ORDER BY rowid)",
              "moc.elpmaxe,moc.elpmaxe,elpmaxe.terces");
    CHECK_SQL("SELECT group_concat(COALESCE(rdomain, 'NULL')) FROM (SELECT rdomain"
              " FROM header_addresses ORDER BY field, position)",
              "moc.elpmaxe,NULL,gro.elpmaxe,moc.elpmaxe");
    CHECK_SQL("SELECT message, position, filename, content_type FROM attachments"
              " ORDER BY position",
              "1|0|Q1 numbers.xlsx|application/vnd.ms-excel\n1|1|NULL|image/png");
    CHECK_SQL("SELECT rowid FROM message_fts WHERE message_fts MATCH 'regions'", "1");
}

static void add_or_die(struct catalog *cat, struct archive_record *rec)
{
    const char *error = NULL;
    enum tab_result r = catalog_add(cat, rec, &error);
    CHECK(r == TAB_OK);
    if (r != TAB_OK)
        fprintf(stderr, "add %s: %s\n", rec->archive_id, error);
    record_free(rec);
}

/* Postfix retried some recipients of message 1: same queue id and SHA-256. */
static void test_merge(void)
{
    struct archive_record rec;
    struct search_query q;
    struct strlist known = STRLIST_INIT;
    struct catalog *cat;
    const char *error = NULL;

    cat = catalog_open(db_spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL)
        return;

    conf_make_record(&rec, 10, "4XyZ1", CONF_SHA_A, "alice@example.org", "Quarterly Report",
                     "2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z");
    record_add_rcpt(&rec, "BOB@example.com", NULL, NULL, NULL); /* already known, other case */
    record_add_rcpt(&rec, "erin@example.com", "archive+erin=example.com@archive.test", NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Alice Liddell", "alice@example.org");
    rec.body_text = xstrdup("Revenue grew in all regions.");
    record_add_attachment(&rec, "Q1 numbers.xlsx", "application/vnd.ms-excel");
    add_or_die(cat, &rec);

    CHECK_SQL("SELECT count(*) FROM messages WHERE queue_id = '4XyZ1'", "1");
    /* attachments were recorded with the message, not again; the message
     * is queued to be indexed again, for the words of its new recipient */
    CHECK_SQL("SELECT (SELECT count(*) FROM messages WHERE id = 1 AND fts_hash IS NOT NULL),"
              " (SELECT from_store || '|' || body FROM text_pending WHERE message = 1)",
              "1|0|Revenue grew in all regions.");
    CHECK_SQL("SELECT count(*) FROM attachments WHERE message = 1", "2");
    CHECK_SQL("SELECT message, archive_id, location FROM copies WHERE message = 1 ORDER BY id",
              "1|00000000000000000001|cur/1.eml\n1|0000000000000000000A|cur/10.eml");
    CHECK_SQL("SELECT r.address, c.archive_id FROM recipients r JOIN copies c ON c.id = r.copy"
              " WHERE r.message = 1 ORDER BY r.rowid",
              "bob@example.com|00000000000000000001\n"
              "carol@example.com|00000000000000000001\n"
              "dave@secret.example|00000000000000000001\n"
              "erin@example.com|0000000000000000000A");
    /* the header was recorded with the message, not again with the copy */
    CHECK_SQL("SELECT count(*) FROM header_addresses WHERE message = 1", "4");

    /* the same transaction again: a copy more, no recipient more */
    conf_make_record(&rec, 11, "4XyZ1", CONF_SHA_A, "alice@example.org", "Quarterly Report",
                     "2024-03-01T10:00:00Z", "2024-03-01T12:00:00Z");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    record_add_rcpt(&rec, "erin@example.com", NULL, NULL, NULL);
    add_or_die(cat, &rec);
    CHECK_SQL("SELECT count(*) FROM messages", "1");
    CHECK_SQL("SELECT count(*) FROM copies WHERE message = 1", "3");
    CHECK_SQL("SELECT count(*) FROM recipients WHERE message = 1", "4");
    CHECK_SQL("SELECT nrcpt, copies FROM message_overview WHERE archive_id = "
              "'00000000000000000001'",
              "4|3");

    /* the same queue id with other content is another message */
    conf_make_record(&rec, 12, "4XyZ1", CONF_SHA_B, "alice@example.org", "Other", NULL,
                     "2024-03-01T13:00:00Z");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    add_or_die(cat, &rec);
    CHECK_SQL("SELECT count(*) FROM messages WHERE queue_id = '4XyZ1'", "2");

    /* known_recipients */
    CHECK(catalog_known_recipients(cat, "4XyZ1", CONF_SHA_A, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 4);
    if (known.n == 4) {
        CHECK_STR(known.v[0], "bob@example.com");
        CHECK_STR(known.v[3], "erin@example.com");
    }
    CHECK(strlist_has_nocase(&known, "Dave@Secret.Example"));
    strlist_free(&known);
    CHECK(catalog_known_recipients(cat, "4XyZ1", CONF_SHA_C, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 0);
    CHECK(catalog_known_recipients(cat, "", CONF_SHA_C, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 0);
    CHECK(catalog_known_recipients(cat, "nosuch", CONF_SHA_A, NULL, &known, &error) == TAB_OK);
    CHECK(known.n == 0);
    strlist_free(&known);

    /* search finds the merged recipient; the record is the message's */
    memset(&q, 0, sizeof(q));
    q.to = "ERIN@example.com";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = "erin"; /* words: indexed again (search indexes what is pending) */
    CHECK_STR(conf_search_nums(cat, &q), "1");
    CHECK_SQL("SELECT fts_rcpts, (SELECT max(rowid) FROM recipients WHERE message = 1),"
              " (SELECT count(*) FROM fts_stale), (SELECT count(*) FROM text_pending)"
              " FROM messages WHERE id = 1",
              "4|4|0|0");

    /* get: by the message's archive id (first copy) or by a copy's */
    CHECK(catalog_get(cat, "00000000000000000001", &rec, &error) == TAB_OK);
    CHECK_STR(rec.archive_id, "00000000000000000001");
    CHECK_STR(rec.location, "cur/1.eml");
    CHECK(rec.n_rcpts == 4);
    CHECK(rec.hdr_cc.n == 2);
    CHECK(rec.n_attachments == 2);
    if (rec.n_attachments == 2)
        CHECK_STR(rec.attachments[0].filename, "Q1 numbers.xlsx");
    record_free(&rec);
    CHECK(catalog_get(cat, "0000000000000000000A", &rec, &error) == TAB_OK);
    CHECK_STR(rec.archive_id, "00000000000000000001");
    CHECK_STR(rec.location, "cur/10.eml");
    CHECK(rec.wrapped_size == 2010);
    CHECK_STR(rec.subject, "Quarterly Report");
    record_free(&rec);
    CHECK(catalog_get(cat, "FFFFFFFFFFFFFFFFFFFF", &rec, &error) == TAB_PERM);
    {
        char *expected = xasprintf("sqlite %s: archive id FFFFFFFFFFFFFFFFFFFF not found", db_path);
        CHECK_STR(error, expected);
        free(expected);
    }
    CHECK(catalog_get(cat, "' OR 1=1 --", &rec, &error) == TAB_PERM);

    catalog_close(&cat);
}

/* A failed add leaves nothing behind and the connection stays usable. */
static void test_rollback(void)
{
    struct archive_record rec;
    struct catalog *cat;
    const char *error = NULL;
    char *before_m, *before_r, *after;

    cat = catalog_open(db_spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL)
        return;
    before_m = sql("SELECT count(*) FROM messages");
    before_r = sql("SELECT count(*) FROM recipients");

    /* a new message whose copy reuses an existing copy's archive id: the
     * messages row is inserted, then the copies insert fails; a
     * constraint fails the same way on every try: TAB_PERM */
    conf_make_record(&rec, 10, "9New1", CONF_SHA_C, "x@example.org", "rollback", NULL,
                     "2024-06-01T00:00:00Z");
    snprintf(rec.archive_id, sizeof(rec.archive_id), "0000000000000000000A");
    record_add_rcpt(&rec, "y@example.org", NULL, NULL, NULL);
    CHECK(catalog_add(cat, &rec, &error) == TAB_PERM);
    CHECK(error != NULL && strstr(error, "UNIQUE") != NULL);
    CHECK(error != NULL && strstr(error, "0000000000000000000A") != NULL);
    record_free(&rec);
    after = sql("SELECT count(*) FROM messages");
    CHECK_STR(after, before_m);
    free(after);
    after = sql("SELECT count(*) FROM recipients");
    CHECK_STR(after, before_r);
    free(after);
    CHECK_SQL("SELECT count(*) FROM messages WHERE queue_id = '9New1'", "0");

    conf_make_record(&rec, 13, "9New1", CONF_SHA_C, "x@example.org", "after rollback", NULL,
                     "2024-06-01T00:00:00Z");
    record_add_rcpt(&rec, "y@example.org", NULL, NULL, NULL);
    add_or_die(cat, &rec);
    CHECK_SQL("SELECT subject FROM messages WHERE queue_id = '9New1'", "after rollback");

    free(before_m);
    free(before_r);
    catalog_close(&cat);
}

/* Opens its own connection, then waits for a byte on start_fd (-1: none)
 * so that both writers are connected before either writes. */
static int add_many(unsigned long first, int n, const char *who, int ready_fd, int start_fd)
{
    struct catalog *cat;
    const char *error = NULL;
    int failures = 0;

    cat = catalog_open(db_spec, NULL, &error);
    if (cat == NULL) {
        fprintf(stderr, "%s: open: %s\n", who, error);
        return n;
    }
    if (ready_fd >= 0 && (write(ready_fd, "r", 1) != 1 || close(ready_fd) != 0))
        failures++;
    if (start_fd >= 0) {
        char b;
        if (read(start_fd, &b, 1) != 1)
            failures++;
        (void)close(start_fd);
    }
    for (int i = 0; i < n; i++) {
        struct archive_record rec;
        char queue_id[32];

        snprintf(queue_id, sizeof(queue_id), "Q%lu", first + (unsigned long)i);
        conf_make_record(&rec, first + (unsigned long)i, queue_id, CONF_SHA_A, "load@example.org",
                         "load", NULL, "2024-07-01T00:00:00Z");
        record_add_rcpt(&rec, "r1@example.org", NULL, NULL, NULL);
        record_add_rcpt(&rec, "r2@example.org", NULL, NULL, NULL);
        record_addrs_add(&rec.hdr_from, NULL, "load@example.org");
        if (catalog_add(cat, &rec, &error) != TAB_OK) {
            fprintf(stderr, "%s: add %d: %s\n", who, i, error);
            failures++;
        }
        record_free(&rec);
    }
    catalog_close(&cat);
    return failures;
}

/* Two processes, two connections, one file: the busy timeout serialises them. */
static void test_concurrent(void)
{
    struct timeval t0, t1;
    int status = -1, failures, ready[2], start[2];
    pid_t pid;

    CHECK(pipe(ready) == 0 && pipe(start) == 0);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        (void)close(ready[0]);
        (void)close(start[1]);
        _exit(add_many(100000, 200, "child", ready[1], start[0]) ? 1 : 0);
    }
    (void)close(ready[1]);
    (void)close(start[0]);
    {
        char b;
        /* the child is connected; the parent connects, then both go */
        CHECK(read(ready[0], &b, 1) == 1);
        (void)close(ready[0]);
    }
    gettimeofday(&t0, NULL);
    failures = add_many(200000, 200, "parent", start[1], -1);
    gettimeofday(&t1, NULL);
    CHECK(failures == 0);
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_SQL("SELECT count(*) FROM messages WHERE subject = 'load'", "400");
    CHECK_SQL("SELECT count(*) FROM copies c JOIN messages m ON m.id = c.message"
              " WHERE m.subject = 'load'",
              "400");
    CHECK_SQL("SELECT count(*) FROM recipients r JOIN messages m ON m.id = r.message"
              " WHERE m.subject = 'load'",
              "800");
    CHECK_SQL("PRAGMA integrity_check", "ok");
    /* two writers, one chain: every copy a link, in commit order */
    {
        const char *error;
        struct catalog *cat = catalog_open(db_spec, NULL, &error);
        CHECK(cat != NULL);
        if (cat != NULL) {
            long links = conf_chain_links(cat);
            CHECK(links >= 400);
            CHECK_SQL("SELECT count(*) = count(seq) AND count(*) = max(seq) FROM copies", "1");
            catalog_close(&cat);
        }
    }
    printf("concurrent: parent added 200 in %.3f s while the child added 200\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6);
}

/* Workers started together on a new file: exactly one creates the schema,
 * none fails. The race SQLite loses without sqlite_set_wal()'s retry is
 * narrow (about one round in ten on 2 cores), hence several rounds. */
static void test_concurrent_create(const char *dir, int round)
{
    char path[4300], spec[4400];
    pid_t pids[8];
    int go[2];

    snprintf(path, sizeof(path), "%s/fresh%d/catalog.db", dir, round);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    CHECK(pipe(go) == 0);
    fflush(NULL);
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0);
        if (pids[i] == 0) {
            struct archive_record rec;
            const char *error = NULL;
            struct catalog *cat;
            int ret = 1;
            char b;

            /* all children open at once: EOF when the parent closes go[1] */
            (void)close(go[1]);
            if (read(go[0], &b, 1) != 0)
                _exit(1);
            cat = catalog_open(spec, NULL, &error);

            if (cat == NULL) {
                fprintf(stderr, "fresh open %d: %s\n", i, error);
                _exit(1);
            }
            conf_make_record(&rec, 300 + (unsigned long)i, "", CONF_SHA_A, "x@example.org", "fresh",
                             NULL, "2024-08-01T00:00:00Z");
            if (catalog_add(cat, &rec, &error) == TAB_OK)
                ret = 0;
            else
                fprintf(stderr, "fresh add %d: %s\n", i, error);
            record_free(&rec);
            catalog_close(&cat);
            _exit(ret);
        }
    }
    (void)close(go[0]);
    (void)close(go[1]);
    for (int i = 0; i < 8; i++) {
        int status = -1;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_SQL_AT(path, "SELECT count(*), min(archive_id), max(archive_id) FROM messages",
                 "8|0000000000000000012C|00000000000000000133");
    CHECK_SQL_AT(path, "PRAGMA user_version", SCHEMA_NOW);
}

static void test_open_errors(const char *dir)
{
    struct archive_record rec;
    struct search_query q;
    struct strlist known = STRLIST_INIT;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400];
    sqlite3 *db;
    int fd;

    /* a schema newer than the code */
    snprintf(path, sizeof(path), "%s/future.db", dir);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    error = NULL;
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "schema version 99 is newer") != NULL);
    CHECK(error != NULL && strstr(error, path) != NULL);
    catalog_close(&cat);

    /* not a database at all */
    snprintf(path, sizeof(path), "%s/garbage.db", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, "this is not sqlite, not even close........\n", 43) == 43);
    CHECK(close(fd) == 0);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "not a database") != NULL);

    /* registry */
    cat = catalog_open("nosuch:x", NULL, &error);
    CHECK(cat == NULL);
    {
        /* other drivers may follow "sqlite" in the list */
        const char *want = "catalog \"nosuch:x\": unknown type \"nosuch\" (known types: sqlite";
        CHECK(error != NULL && strncmp(error, want, strlen(want)) == 0);
    }
    cat = catalog_open("/var/lib/catalog.db", NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "expected type:spec") != NULL);
    cat = catalog_open("sqlite:", NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "empty database path") != NULL);
    cat = catalog_open("sqlitex:/tmp/x.db", NULL, &error);
    CHECK(cat == NULL);

    /* the failing catalog: a path below a regular file */
    snprintf(path, sizeof(path), "%s/regular", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && close(fd) == 0);
    snprintf(spec, sizeof(spec), "sqlite:%s/sub/catalog.db", path);
    cat = catalog_open_or_failing(spec, NULL);
    CHECK(cat != NULL);
    if (cat == NULL)
        return;
    CHECK_STR(catalog_name(cat), "failing");
    conf_make_record1(&rec);
    error = NULL;
    CHECK(catalog_add(cat, &rec, &error) == TAB_RETRY);
    CHECK(error != NULL && strstr(error, "catalog unavailable") != NULL);
    CHECK(error != NULL && strstr(error, "cannot create directory") != NULL);
    record_free(&rec);
    CHECK(catalog_known_recipients(cat, "4XyZ1", CONF_SHA_A, NULL, &known, &error) == TAB_RETRY);
    CHECK(known.n == 0);
    memset(&q, 0, sizeof(q));
    CHECK(catalog_search(cat, &q, conf_collect_row, NULL, &error) == TAB_RETRY);
    CHECK(catalog_get(cat, "00000000000000000001", &rec, &error) == TAB_RETRY);
    record_free(&rec);
    catalog_close(&cat);
    CHECK(cat == NULL);

    /* a working spec through catalog_open_or_failing is the real driver */
    cat = catalog_open_or_failing(db_spec, NULL);
    CHECK(cat != NULL && strcmp(catalog_name(cat), "sqlite") == 0);
    catalog_close(&cat);
}

static const char *text_ids(struct catalog *cat, const char *text)
{
    struct search_query q;

    memset(&q, 0, sizeof(q));
    q.text = text;
    return conf_search_nums(cat, &q);
}

static void test_fulltext(const char *dir)
{
    struct conformance conf;

    if (sqlite_conformance(dir, "fts/catalog.db", &conf) == NULL)
        return;
    conformance_fulltext(&conf);
    catalog_close(&conf.cat);
}

/*
 * A catalog written by tabularium before full-text search (schema
 * version 1, this exact SQL) is upgraded in place when opened: rows
 * kept, subjects searchable, new messages fully indexed.
 */
/* The catalog at path after sql (which leaves schema version from) ran on
 * it, opened: upgraded to the current version. NULL when that failed. */
static struct catalog *upgraded(const char *path, const char *sql, const char *from)
{
    char spec[4400];
    const char *error = NULL;
    struct catalog *cat;
    sqlite3 *db;

    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_SQL_AT(path, "PRAGMA user_version", from);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL) {
        fprintf(stderr, "open %s (version %s): %s\n", path, from, error);
        return NULL;
    }
    CHECK_SQL_AT(path, "PRAGMA user_version", SCHEMA_NOW);
    return cat;
}

/* A current catalog made version 8 again by SQL (the tables of version
 * 8, rows and rowids kept; the web accounts of version 9 go; version
 * 10's wider CHECK stays, which the step leaves as it is), for the
 * upgrade tests. */
static const char sqlite_to_v8[] =
    "BEGIN;"
    "DROP TABLE web_tokens; DROP TABLE web_user_addresses; DROP TABLE web_users;"
    "DROP VIEW message_overview;"
    "CREATE TABLE r8 (message INTEGER NOT NULL REFERENCES messages (id),"
    " address TEXT NOT NULL COLLATE NOCASE, archive_rcpt TEXT, orcpt TEXT, notify TEXT,"
    " copy INTEGER REFERENCES copies (id), rdomain TEXT);"
    "INSERT INTO r8 (rowid, message, address, archive_rcpt, orcpt, notify, copy, rdomain)"
    " SELECT rowid, message, address, archive_rcpt, orcpt, notify, copy, rdomain FROM recipients;"
    "CREATE TABLE h8 (message INTEGER NOT NULL REFERENCES messages (id),"
    " field TEXT NOT NULL CHECK (field IN ('from', 'to', 'cc')), position INTEGER NOT NULL,"
    " name TEXT, address TEXT, rdomain TEXT);"
    "INSERT INTO h8 (rowid, message, field, position, name, address, rdomain)"
    " SELECT rowid, message, field, position, name, address, rdomain FROM header_addresses;"
    "ALTER TABLE messages ADD COLUMN sender_rdomain TEXT;"
    "UPDATE messages SET sender_rdomain = (SELECT rdomain FROM addresses a"
    " WHERE a.id = messages.sender_id);"
    "DROP INDEX messages_sender;"
    "ALTER TABLE messages DROP COLUMN sender_id;"
    "DROP VIEW recipients; DROP VIEW header_addresses;"
    "DROP TABLE recipient_rows; DROP TABLE header_address_rows; DROP TABLE addresses;"
    "ALTER TABLE r8 RENAME TO recipients; ALTER TABLE h8 RENAME TO header_addresses;"
    "CREATE INDEX recipients_message ON recipients"
    " (message, substr(address, 1, 200) COLLATE NOCASE);"
    "CREATE INDEX recipients_address ON recipients (substr(address, 1, 200) COLLATE NOCASE);"
    "CREATE INDEX recipients_copy ON recipients (copy);"
    "CREATE INDEX header_addresses_message ON header_addresses (message, field, position);"
    "CREATE INDEX messages_sender ON messages (substr(envelope_from, 1, 200) COLLATE NOCASE);"
    "CREATE INDEX messages_sender_rdomain ON messages (sender_rdomain);"
    "CREATE INDEX recipients_rdomain ON recipients (rdomain);"
    "CREATE INDEX header_addresses_address ON header_addresses"
    " (field, substr(address, 1, 200) COLLATE NOCASE);"
    "CREATE INDEX header_addresses_rdomain ON header_addresses (field, rdomain);"
    "CREATE VIEW message_overview AS SELECT m.id, m.archive_id, m.queue_id,"
    "  COALESCE(m.date, m.arrival) AS date_or_arrival, m.envelope_from,"
    "  (SELECT group_concat(COALESCE(h.address, h.name), ', ') FROM header_addresses h"
    "    WHERE h.message = m.id AND h.field = 'from') AS header_from,"
    "  (SELECT group_concat(r.address, ', ') FROM recipients r"
    "    WHERE r.message = m.id) AS recipients,"
    "  (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"
    "  m.subject, m.message_id, m.size, m.envelope_status,"
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies, m.index_status"
    " FROM messages m;"
    "PRAGMA user_version = 8;"
    "COMMIT;";

/* What a catalog's address rows read as (the same through the version 8
 * tables and the version 11 views). */
#define ADDRESS_ROWS_SQL                                                                           \
    "SELECT group_concat(x, ';') FROM (SELECT rowid || ',' || message || ',' || address || ','"    \
    " || COALESCE(archive_rcpt, '-') || ',' || COALESCE(orcpt, '-') || ',' || copy || ','"         \
    " || COALESCE(rdomain, '-') AS x FROM recipients ORDER BY rowid) UNION ALL SELECT"             \
    " group_concat(y, ';') FROM (SELECT rowid || ',' || message || ',' || field || ',' ||"         \
    " position || ',' || COALESCE(name, '-') || ',' || COALESCE(address, '-') || ',' ||"           \
    " COALESCE(rdomain, '-') AS y FROM header_addresses ORDER BY rowid) UNION ALL SELECT"          \
    " group_concat(z, ';') FROM (SELECT header_from || ',' || recipients || ',' || nrcpt AS z"     \
    " FROM message_overview ORDER BY id)"

/*
 * A catalog of schema version 8 with data (made here from a new one by
 * SQL) is upgraded in place to version 11 (the address step): every address once, in the
 * spelling received (two spellings, two rows), the version 8 columns
 * readable through the views with the same rows in the same order,
 * searches and the chain unchanged, new deliveries find the addresses
 * there, and expire removes the addresses only its message had.
 */
/* A new catalog at DIR/SUB/catalog.db (its path into path) holding the
 * conformance suite's first record: what the upgrade tests start from
 * before they take the file back to an older version. NULL if it does
 * not open. */
static struct catalog *upgrade_fixture(const char *dir, const char *sub, char *path, size_t size)
{
    char spec[4400];
    const char *error = NULL;
    struct archive_record rec;
    struct catalog *cat;

    snprintf(path, size, "%s/%s/catalog.db", dir, sub);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL)
        return NULL;
    conf_make_record1(&rec);
    add_or_die(cat, &rec);
    return cat;
}

static void test_upgrade_v8(const char *dir)
{
    struct archive_record rec;
    struct search_query q;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400], *before, *after;

    if ((cat = upgrade_fixture(dir, "v8", path, sizeof(path))) == NULL)
        return;
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    conf_make_record(&rec, 2, "V8B", CONF_SHA_B, "Zoe@Muller.example", "Second",
                     "2024-03-02T00:00:00Z", "2024-03-02T00:00:00Z");
    record_add_rcpt(&rec, "BOB@example.com", NULL, NULL, NULL);
    record_add_rcpt(&rec, "ops@eu.corp.example", "archive+ops@archive.test", NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Zoe", "zoe@muller.example");
    record_addrs_add(&rec.hdr_to, "Bob", "bob@example.com");
    add_or_die(cat, &rec);
    CHECK(conf_chain_links(cat) == 2);
    catalog_close(&cat);
    before = sql_at(path, ADDRESS_ROWS_SQL);

    cat = upgraded(path, sqlite_to_v8, "8");
    if (cat == NULL) {
        free(before);
        return;
    }
    after = sql_at(path, ADDRESS_ROWS_SQL);
    CHECK_STR(after, before);
    free(before);
    free(after);
    CHECK_SQL_AT(path,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                 " AND name IN ('recipients', 'header_addresses')",
                 "0");
    /* once per spelling: Zoe@Muller.example and zoe@muller.example,
     * bob@ and BOB@example.com */
    CHECK_SQL_AT(path,
                 "SELECT count(*) FROM addresses WHERE lower(address) IN ('zoe@muller.example',"
                 " 'bob@example.com', 'alice@example.org')",
                 "5");
    CHECK_SQL_AT(path, "SELECT count(*) - count(DISTINCT address COLLATE BINARY) FROM addresses",
                 "0");
    CHECK_SQL_AT(path,
                 "SELECT m.id, a.address, a.rdomain FROM messages m"
                 " JOIN addresses a ON a.id = m.sender_id ORDER BY m.id",
                 "1|alice@example.org|gro.elpmaxe\n2|Zoe@Muller.example|elpmaxe.rellum");
    CHECK(conf_chain_links(cat) == 2);
    memset(&q, 0, sizeof(q));
    q.to = "bob@EXAMPLE.com";
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    q.to = "@corp.example";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.to = NULL;
    q.from = "ZOE@muller.example";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.from = "@example.org";
    CHECK_STR(conf_search_nums(cat, &q), "1");

    /* a new delivery refers to the addresses there */
    conf_make_record(&rec, 3, "V8C", CONF_SHA_C, "alice@example.org", "Third",
                     "2024-03-03T00:00:00Z", "2024-03-03T00:00:00Z");
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    record_add_rcpt(&rec, "new@fresh.example", NULL, NULL, NULL);
    rec.retain_until = conf_parse_time("2021-01-01T00:00:00Z");
    add_or_die(cat, &rec);
    CHECK_SQL_AT(path, "SELECT count(*) FROM addresses WHERE address = 'new@fresh.example'", "1");
    CHECK_SQL_AT(path, "SELECT count(*) FROM addresses", "13"); /* 12 before */
    memset(&q, 0, sizeof(q));
    q.to = "bob@example.com";
    CHECK_STR(conf_search_nums(cat, &q), "3,2,1");
    CHECK(conf_chain_links(cat) == 3);

    /* expire: the address only message 3 had goes with it */
    if (catalog_expire_remove(cat, "00000000000000000003", time(NULL), "test", &error) != TAB_OK) {
        CHECK(0);
        fprintf(stderr, "expire: %s\n", error ? error : "?");
    }
    CHECK_SQL_AT(path, "SELECT count(*) FROM addresses", "12");
    CHECK_SQL_AT(path, "SELECT count(*) FROM addresses WHERE address = 'new@fresh.example'", "0");
    CHECK_STR(conf_search_nums(cat, &q), "2,1");
    catalog_close(&cat);
}

static void test_upgrade_v1(const char *dir)
{
    static const char v1[] =
        "PRAGMA journal_mode = WAL;"
        "BEGIN;"
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, archive_id TEXT NOT NULL UNIQUE,"
        " queue_id TEXT NOT NULL, sha256 TEXT NOT NULL, message_id TEXT,"
        " envelope_from TEXT NOT NULL, envelope_status TEXT NOT NULL CHECK (envelope_status IN"
        " ('complete', 'incomplete')), date TEXT, date_raw TEXT, subject TEXT, subject_raw TEXT,"
        " arrival TEXT NOT NULL, size INTEGER NOT NULL, mail_params TEXT, xforward TEXT);"
        "CREATE UNIQUE INDEX messages_queue_sha ON messages (queue_id, sha256)"
        " WHERE queue_id <> '';"
        "CREATE INDEX messages_message_id ON messages (message_id);"
        "CREATE INDEX messages_when ON messages (COALESCE(date, arrival));"
        "CREATE TABLE copies (id INTEGER PRIMARY KEY, message INTEGER NOT NULL REFERENCES"
        " messages (id), archive_id TEXT NOT NULL UNIQUE, store TEXT NOT NULL, location TEXT NOT"
        " NULL, wrapped_sha256 TEXT NOT NULL, wrapped_size INTEGER NOT NULL, stored TEXT NOT"
        " NULL);"
        "CREATE INDEX copies_message ON copies (message);"
        "CREATE TABLE recipients (message INTEGER NOT NULL REFERENCES messages (id), address TEXT"
        " NOT NULL COLLATE NOCASE, archive_rcpt TEXT, orcpt TEXT, notify TEXT, copy INTEGER"
        " REFERENCES copies (id), UNIQUE (message, address));"
        "CREATE INDEX recipients_address ON recipients (address);"
        "CREATE INDEX recipients_copy ON recipients (copy);"
        "CREATE TABLE header_addresses (message INTEGER NOT NULL REFERENCES messages (id), field"
        " TEXT NOT NULL CHECK (field IN ('from', 'to', 'cc')), position INTEGER NOT NULL, name"
        " TEXT, address TEXT);"
        "CREATE INDEX header_addresses_message ON header_addresses (message, field, position);"
        "CREATE VIEW message_overview AS SELECT m.id, m.archive_id, m.queue_id,"
        " COALESCE(m.date, m.arrival) AS date_or_arrival, m.envelope_from,"
        " (SELECT group_concat(COALESCE(h.address, h.name), ', ') FROM header_addresses h"
        " WHERE h.message = m.id AND h.field = 'from') AS header_from,"
        " (SELECT group_concat(r.address, ', ') FROM recipients r WHERE r.message = m.id)"
        " AS recipients, (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"
        " m.subject, m.message_id, m.size, m.envelope_status,"
        " (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies FROM messages m;"
        "PRAGMA user_version = 1;"
        "INSERT INTO messages VALUES (1, '000000000000000000A1', 'OLD1', 'aa', 'old@x',"
        " 'old@example.org', 'complete', '2023-01-01T00:00:00Z', NULL, 'Archived long ago',"
        " NULL, '2023-01-01T00:00:00Z', 10, NULL, NULL);"
        "INSERT INTO messages VALUES (2, '000000000000000000A2', 'OLD2', 'bb', NULL,"
        " '', 'incomplete', NULL, NULL, NULL, NULL, '2023-01-02T00:00:00Z', 0, NULL, NULL);"
        "INSERT INTO copies VALUES (1, 1, '000000000000000000A1', 'maildir', 'new/a1', 'cc', 20,"
        " '2023-01-01T00:00:00Z');"
        "INSERT INTO copies VALUES (2, 2, '000000000000000000A2', 'maildir', 'new/a2', 'dd', 0,"
        " '2023-01-02T00:00:00Z');"
        "INSERT INTO recipients VALUES (1, 'bob@example.com', NULL, NULL, NULL, 1);"
        "INSERT INTO header_addresses VALUES (1, 'from', 0, 'Old', 'old@example.org');"
        "COMMIT;";
    struct archive_record rec;
    struct search_query q;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400];

    snprintf(path, sizeof(path), "%s/v1.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = upgraded(path, v1, "1");
    if (cat == NULL)
        return;
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending", "0");
    /* the copies from before the upgrade are chained, in id order */
    CHECK_SQL_AT(path,
                 "SELECT id, seq, length(hash), arrival = (SELECT arrival FROM messages"
                 " WHERE id = copies.message) FROM copies ORDER BY id",
                 "1|1|64|1\n2|2|64|1");
    CHECK(conf_chain_links(cat) == 2);
    CHECK_SQL_AT(path, "SELECT id, archive_id, subject FROM messages ORDER BY id",
                 "1|000000000000000000A1|Archived long ago\n2|000000000000000000A2|NULL");
    CHECK_SQL_AT(path, "SELECT id, fts_hash IS NOT NULL FROM messages ORDER BY id", "1|1\n2|1");
    CHECK_SQL_AT(path, "SELECT count(*) FROM sqlite_master WHERE name = 'message_text'", "0");
    CHECK_SQL_AT(path, "SELECT count(*) FROM attachments", "0");
    CHECK_SQL_AT(path, "SELECT archive_id, nrcpt, copies FROM message_overview ORDER BY id",
                 "000000000000000000A1|1|1\n000000000000000000A2|0|1");

    /* old messages: found by subject words, read back without attachments */
    CHECK_STR(text_ids(cat, "archived"), "161");
    CHECK(catalog_get(cat, "000000000000000000A1", &rec, &error) == TAB_OK);
    CHECK_STR(rec.subject, "Archived long ago");
    CHECK(rec.n_rcpts == 1 && rec.hdr_from.n == 1 && rec.n_attachments == 0);
    record_free(&rec);

    /* new messages get everything */
    conf_make_record(&rec, 3, "NEW3", CONF_SHA_C, "new@example.org", "Fresh",
                     "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z");
    rec.body_text = xstrdup("indexed body words");
    record_add_attachment(&rec, "new.pdf", "application/pdf");
    add_or_die(cat, &rec);
    CHECK_STR(text_ids(cat, "body words"), "3");
    memset(&q, 0, sizeof(q));
    q.has_attachment = 1;
    CHECK_STR(conf_search_nums(cat, &q), "3");
    memset(&q, 0, sizeof(q));
    CHECK_STR(conf_search_nums(cat, &q), "3,162,161");
    CHECK(conf_chain_links(cat) == 3);
    catalog_close(&cat);

    /* opening again changes nothing */
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL);
    catalog_close(&cat);
    CHECK_SQL_AT(path, "PRAGMA user_version", SCHEMA_NOW);
    CHECK_SQL_AT(path, "SELECT count(*) FROM messages WHERE fts_hash IS NOT NULL", "3");
}

/*
 * A catalog of schema version 7 (its full-text table message_text keeps
 * a copy of the text; made here from a new one by SQL) is upgraded in
 * place: message_fts indexes what message_text held, from its body text
 * and the rows, message_text goes, the address keys are filled, pending
 * text stays pending, and searches find the same messages.
 */
static void test_upgrade_v7(const char *dir)
{
    static const char to_v7[] =
        "BEGIN;"
        "DROP TABLE IF EXISTS web_tokens; DROP TABLE IF EXISTS web_user_addresses;"
        "DROP TABLE IF EXISTS web_users;"
        "DROP TABLE message_fts; DROP TABLE fts_stale;"
        "DROP INDEX messages_sender; DROP INDEX messages_sender_rdomain;"
        "DROP INDEX recipients_rdomain; DROP INDEX header_addresses_address;"
        "DROP INDEX header_addresses_rdomain;"
        "ALTER TABLE messages DROP COLUMN fts_hash; ALTER TABLE messages DROP COLUMN fts_rcpts;"
        "ALTER TABLE messages DROP COLUMN sender_rdomain;"
        "ALTER TABLE recipients DROP COLUMN rdomain;"
        "ALTER TABLE header_addresses DROP COLUMN rdomain;"
        "CREATE VIRTUAL TABLE message_text USING fts5(subject, body,"
        " tokenize = 'unicode61 remove_diacritics 2');"
        "INSERT INTO message_text (rowid, subject, body) VALUES"
        " (1, 'Quarterly Report', 'Revenue grew in all regions.'),"
        " (2, 'Zweite Nachricht', 'Gr\xc3\xbc\xc3\x9f"
        "e aus der Stra\xc3\x9f"
        "e');"
        "PRAGMA user_version = 7;"
        "COMMIT;";
    struct archive_record rec;
    struct search_query q;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400];
    int done = 0;

    if ((cat = upgrade_fixture(dir, "v7", path, sizeof(path))) == NULL)
        return;
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    conf_make_record(&rec, 2, "V7B", CONF_SHA_B, "Zoe@Muller.example", "Zweite Nachricht",
                     "2024-03-02T00:00:00Z", "2024-03-02T00:00:00Z");
    rec.body_text = xstrdup("Gr\xc3\xbc\xc3\x9f"
                            "e aus der Stra\xc3\x9f"
                            "e");
    record_add_rcpt(&rec, "ops@eu.corp.example", NULL, NULL, NULL);
    record_addrs_add(&rec.hdr_from, "Zoe MULLER", "zoe@muller.example");
    add_or_die(cat, &rec);
    CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK && done == 2);
    conf_make_record(&rec, 3, "V7C", CONF_SHA_C, "late@example.org", "Pending",
                     "2024-03-03T00:00:00Z", "2024-03-03T00:00:00Z");
    rec.body_text = xstrdup("still pending words");
    add_or_die(cat, &rec);
    catalog_close(&cat);

    {
        char *to_v87 = xasprintf("%s%s", sqlite_to_v8, to_v7);

        cat = upgraded(path, to_v87, "7");
        free(to_v87);
    }
    if (cat == NULL)
        return;
    CHECK_SQL_AT(path, "SELECT count(*) FROM sqlite_master WHERE name = 'message_text'", "0");
    CHECK_SQL_AT(path,
                 "SELECT m.id, m.fts_hash IS NOT NULL, a.rdomain FROM messages m"
                 " JOIN addresses a ON a.id = m.sender_id ORDER BY m.id",
                 "1|1|gro.elpmaxe\n2|1|elpmaxe.rellum\n3|0|gro.elpmaxe");
    CHECK_SQL_AT(path, "SELECT message FROM text_pending", "3");
    CHECK_SQL_AT(path, "SELECT rdomain FROM recipients WHERE message = 2", "elpmaxe.proc.ue");
    CHECK_STR(text_ids(cat, "regions"), "1");
    CHECK_STR(text_ids(cat, "strasse"), "2");
    CHECK_STR(text_ids(cat, "GRUSSE"), "2");
    CHECK_STR(text_ids(cat, "pending"), "3");
    memset(&q, 0, sizeof(q));
    q.to = "@corp.example";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.to = "@secret.example";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    q.to = NULL;
    q.from = "Zo\xc3\xab M\xc3\xbcller";
    CHECK_STR(conf_search_nums(cat, &q), "2");
    q.from = NULL;
    q.subject = "quarterly";
    CHECK_STR(conf_search_nums(cat, &q), "1");
    catalog_close(&cat);
}

/*
 * message_fts is contentless: a document is deleted only when it can be
 * rebuilt exactly (the rows and the text its stored copy gives), else the
 * message is marked stale, excluded from full-text matches and reported,
 * and its id is never given again. expire takes the document out first
 * (catalog_unindex(), while the copy can be read).
 */
static void test_fts_exact_delete(const char *dir)
{
    struct archive_record rec;
    struct search_query q;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400];
    int64_t pending = -1, stale = -1;
    time_t now = time(NULL);
    int done;

    snprintf(path, sizeof(path), "%s/exact/catalog.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL && catalog_can(cat, CATALOG_CAN_INDEX_HEALTH));
    if (cat == NULL)
        return;
    catalog_set_text_source(cat, conf_text_source, NULL);
    for (unsigned long i = 1; i <= 3; i++) {
        char qid[16];
        snprintf(qid, sizeof(qid), "EX%lu", i);
        conf_make_record(&rec, 0xE00 + i, qid, CONF_SHA_A, "s@example.org", "exact", NULL,
                         "2020-01-01T00:00:00Z");
        rec.body_text = xasprintf("common body%lu", i);
        rec.retain_until = conf_parse_time("2021-01-01T00:00:00Z");
        conf_store_text(rec.location, rec.body_text);
        add_or_die(cat, &rec);
    }
    CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK && done == 3);
    CHECK_STR(text_ids(cat, "common"), "3587,3586,3585");

    /* expire as the CLI does it: unindex, the copies go, then the rows */
    CHECK(catalog_unindex(cat, "00000000000000000E01", &error) == TAB_OK);
    CHECK_SQL_AT(path, "SELECT fts_hash IS NULL FROM messages WHERE id = 1", "1");
    CHECK_SQL_AT(path, "SELECT message, from_store FROM text_pending", "1|1");
    conf_store_text("cur/3585.eml", NULL); /* the copy is removed */
    CHECK(catalog_expire_remove(cat, "00000000000000000E01", now, "test", &error) == TAB_OK);
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending", "0");
    CHECK_SQL_AT(path, "SELECT count(*) FROM fts_stale", "0");
    CHECK_STR(text_ids(cat, "common"), "3587,3586");

    /* without unindex and without a readable copy: stale, but the message
     * is gone, so nothing to warn about */
    catalog_set_text_source(cat, NULL, NULL);
    CHECK(catalog_expire_remove(cat, "00000000000000000E02", now, "test", &error) == TAB_OK);
    CHECK_SQL_AT(path, "SELECT message, reason FROM fts_stale",
                 "2|no text source to read its stored copy");
    CHECK(catalog_index_health(cat, &pending, &stale, &error) == TAB_OK);
    CHECK(pending == 0 && stale == 0);
    CHECK_STR(text_ids(cat, "common"), "3587");

    /* reindexed while its text cannot be read again: stale, excluded,
     * reported; the new text is not indexed over the old words */
    memset(&rec, 0, sizeof(rec));
    conf_make_id(rec.archive_id, 0xE03);
    rec.subject = xstrdup("exact again");
    rec.body_text = xstrdup("fresh words");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_OK);
    CHECK(catalog_index_health(cat, &pending, &stale, &error) == TAB_OK);
    CHECK(pending == 0 && stale == 1);
    CHECK_STR(text_ids(cat, "common"), "");
    CHECK_STR(text_ids(cat, "fresh"), "");
    memset(&q, 0, sizeof(q));
    q.subject = "again";
    CHECK_STR(conf_search_nums(cat, &q), "");
    q.subject = NULL;
    q.from = "s@example.org"; /* found by everything but words */
    CHECK_STR(conf_search_nums(cat, &q), "3587");

    /* a new message never takes the id of a stale document */
    conf_make_record(&rec, 0xE04, "EX4", CONF_SHA_B, "s@example.org", "new", NULL,
                     "2024-01-01T00:00:00Z");
    rec.body_text = xstrdup("newest body2");
    add_or_die(cat, &rec);
    CHECK_SQL_AT(path, "SELECT id FROM messages WHERE archive_id = '00000000000000000E04'", "4");
    CHECK_STR(text_ids(cat, "body2"), "3588"); /* not message 2's old words */
    catalog_close(&cat);
}

/* index_pending() of n rows at most; checks the outcome, returns done. */
static int index_batch(struct catalog *cat, int max_rows, int64_t want_left)
{
    const char *error = NULL;
    int64_t left = -1;
    int done = -1;

    CHECK(catalog_index_pending(cat, max_rows, &done, &left, &error) == TAB_OK);
    CHECK(left == want_left);
    if (left != want_left)
        fprintf(stderr, "index_pending: left %lld, expected %lld\n", (long long)left,
                (long long)want_left);
    return done;
}

/*
 * Full-text indexing off the delivery path: batches stop at max_rows and
 * at about 2 MB of text, take the oldest rows first, make them
 * searchable; expire removes a message that was never indexed.
 */
static void test_index_pending(const char *dir)
{
    struct archive_record rec;
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400], qid[32];
    char *big;

    snprintf(path, sizeof(path), "%s/pending/catalog.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL && catalog_can(cat, CATALOG_CAN_INDEX_PENDING));
    if (cat == NULL)
        return;
    for (unsigned long i = 1; i <= 60; i++) {
        snprintf(qid, sizeof(qid), "IP%lu", i);
        conf_make_record(&rec, i, qid, CONF_SHA_A, "s@example.org", "small", NULL,
                         "2025-02-01T00:00:00Z");
        rec.body_text = xasprintf("body of message w%lu", i);
        add_or_die(cat, &rec);
    }
    CHECK_SQL_AT(path, "SELECT count(*), min(message), max(message) FROM text_pending", "60|1|60");
    CHECK_STR(index_batch(cat, 0, 60) == 0 ? "counted" : "moved", "counted");
    CHECK(index_batch(cat, 50, 10) == 50);
    CHECK_SQL_AT(path, "SELECT count(*), min(message) FROM text_pending", "10|51");
    CHECK_SQL_AT(path, "SELECT count(*), min(id), max(id) FROM messages WHERE fts_hash IS NOT NULL",
                 "50|1|50");
    CHECK_SQL_AT(path, "SELECT rowid FROM message_fts WHERE message_fts MATCH 'w42'", "42");

    /* three messages of 1 MiB of text: a batch stops at 2 MiB */
    big = xmalloc(1024 * 1024 + 1);
    memset(big, 'x', 1024 * 1024);
    big[1024 * 1024] = '\0';
    memcpy(big, "bigword ", 8);
    for (unsigned long i = 61; i <= 63; i++) {
        snprintf(qid, sizeof(qid), "IP%lu", i);
        conf_make_record(&rec, i, qid, CONF_SHA_A, "s@example.org", "big", NULL,
                         "2025-02-01T00:00:00Z");
        rec.body_text = xstrdup(big);
        add_or_die(cat, &rec);
    }
    free(big);
    CHECK(index_batch(cat, 50, 1) == 12); /* the 10 small ones and two big ones */
    CHECK_SQL_AT(path, "SELECT message, length(body) FROM text_pending", "63|1048576");
    /* not indexed yet, but a --text search indexes it first */
    CHECK_SQL_AT(path,
                 "SELECT group_concat(rowid) FROM message_fts WHERE message_fts"
                 " MATCH 'bigword'",
                 "61,62");
    CHECK_STR(text_ids(cat, "bigword"), "63,62,61");
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending", "0");
    CHECK(index_batch(cat, 50, 0) == 0);

    /* expire removes a message whose text is still pending */
    conf_make_record(&rec, 64, "IP64", CONF_SHA_A, "s@example.org", "old", NULL,
                     "2020-01-01T00:00:00Z");
    rec.body_text = xstrdup("expiring words");
    rec.retain_until = conf_parse_time("2021-01-01T00:00:00Z");
    add_or_die(cat, &rec);
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending WHERE message = 64", "1");
    CHECK(catalog_expire_remove(cat, "00000000000000000040", time(NULL), "test", &error) == TAB_OK);
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending", "0");
    CHECK_SQL_AT(path, "SELECT count(*) FROM messages WHERE id = 64", "0");
    CHECK_STR(text_ids(cat, "expiring"), "");
    catalog_close(&cat);
}

/* A text source standing in for the store (the daemon's reads the stored
 * copy, tests/integration/indexer.test): by location, text, "retry" (the
 * store is down) or "gone" (the copy is not there). */
static int fake_text_calls;

static enum tab_result fake_text(void *ctx, const char *store, const char *location,
                                 struct archive_record *rec, const char **error_r)
{
    (void)ctx;
    fake_text_calls++;
    CHECK_STR(store, "maildir");
    if (strstr(location, "retry") != NULL) {
        *error_r = "store down";
        return TAB_RETRY;
    }
    if (strstr(location, "gone") != NULL) {
        *error_r = "no such copy";
        return TAB_PERM;
    }
    rec->body_text = xasprintf("storeword %s", location);
    record_add_attachment(rec, "from-store.pdf", "application/pdf");
    return TAB_OK;
}

/*
 * Schema v6: a copy added with index_later has no text in the catalog;
 * index_pending() reads text and attachments through the text source,
 * outside its transaction, and without one leaves the message pending.
 */
static void test_index_from_store(const char *dir)
{
    static const char *const locs[] = {"new/a", "new/b-gone", "new/c-retry", "new/d"};
    struct archive_record rec;
    struct catalog *cat;
    struct search_query q;
    const char *error = NULL;
    char path[4300], spec[4400], qid[32];
    int done = -1;

    snprintf(path, sizeof(path), "%s/fromstore/catalog.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL && catalog_can(cat, CATALOG_CAN_TEXT_SOURCE));
    if (cat == NULL)
        return;
    for (unsigned long i = 0; i < 4; i++) {
        snprintf(qid, sizeof(qid), "FS%lu", i);
        conf_make_record(&rec, 80 + i, qid, CONF_SHA_A, "s@example.org", "fromstore", NULL,
                         "2025-03-01T00:00:00Z");
        free(rec.location);
        rec.location = xstrdup(locs[i]);
        rec.index_later = 1;
        add_or_die(cat, &rec);
    }
    CHECK_SQL_AT(path, "SELECT count(*), sum(from_store), count(body) FROM text_pending", "4|4|0");
    /* no text source: nothing moves, and the caller learns why */
    CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_RETRY);
    CHECK(done == 0 && strstr(error, "no text source") != NULL);
    CHECK_SQL_AT(path, "SELECT count(*) FROM text_pending", "4");

    catalog_set_text_source(cat, fake_text, NULL);
    /* a: indexed with its attachment; b: gone, indexed without body;
     * c: the store is down, so c and d stay pending */
    CHECK(index_batch(cat, 50, 2) == 2);
    CHECK(fake_text_calls == 3);
    CHECK_SQL_AT(path, "SELECT group_concat(message) FROM text_pending", "3,4");
    CHECK_SQL_AT(path, "SELECT rowid FROM message_fts WHERE message_fts MATCH 'storeword'", "1");
    CHECK_SQL_AT(path, "SELECT message, filename FROM attachments", "1|from-store.pdf");
    /* c still fails: nothing moves, and the caller gets the store's error */
    CHECK(catalog_index_pending(cat, 50, &done, NULL, &error) == TAB_RETRY);
    CHECK(done == 0 && strstr(error, "store down") != NULL);
    /* a search for attachments indexes what is pending first (up to c) */
    memset(&q, 0, sizeof(q));
    q.has_attachment = 1;
    CHECK_STR(conf_search_nums(cat, &q), "80");
    catalog_close(&cat);
}

/*
 * The conformance suite's hostile header values (catalog_conformance.h),
 * then what only SQLite shows: no index of the schema covers the raw
 * text of a header or envelope column, and the lookups' query plans use
 * the prefix indexes.
 */
/* Query plans the catalog relies on: what each must use, and whether it
 * must do without a sort (newest first straight from an index). */
static const struct {
    const char *sql;
    const char *uses[2];
    int no_sort;
} plans[] = {
    {"SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message WHERE m.sha256 = 'x'"
     " AND substr(m.queue_id, 1, 200) = substr('q', 1, 200) AND +m.queue_id = 'q'"
     " AND m.queue_id <> '' ORDER BY r.rowid",
     {"SEARCH m USING INDEX messages_queue_sha (sha256=? AND <expr>=?)",
      "SEARCH r USING INDEX recipient_rows_message (message=?)"},
     0},
    {"SELECT id FROM messages WHERE substr(message_id, 1, 200) = substr('m', 1, 200)"
     " AND +message_id = 'm' AND sha256 = 's' AND queue_id = '' ORDER BY id LIMIT 1",
     {"SEARCH messages USING INDEX messages_message_id (<expr>=?)", NULL},
     0},
    /* --to, exact (schema version 11): the address's id, then its rows */
    {"SELECT m.id FROM messages m WHERE 1 AND m.id IN (SELECT message FROM recipient_rows"
     " WHERE address_id IN (SELECT id FROM addresses WHERE substr(address, 1, 200) ="
     " substr('a@b', 1, 200) COLLATE NOCASE AND +address = 'a@b' COLLATE NOCASE) UNION ALL"
     " SELECT message FROM header_address_rows WHERE address_id IN (SELECT id FROM addresses"
     " WHERE substr(address, 1, 200) = substr('a@b', 1, 200) COLLATE NOCASE"
     " AND +address = 'a@b' COLLATE NOCASE) AND field IN ('to', 'cc'))"
     " ORDER BY m.id DESC LIMIT 50",
     {"SEARCH addresses USING INDEX addresses_address (<expr>=?)",
      "recipient_rows USING COVERING INDEX recipient_rows_address (address_id=?)"},
     1},
    {"SELECT m.id FROM messages m WHERE 1 AND m.id IN (SELECT message FROM recipient_rows"
     " WHERE address_id IN (SELECT id FROM addresses WHERE rdomain >= 'k' AND rdomain < 'k' || '/'"
     " AND (rdomain = 'k' OR substr(rdomain, 2, 1) = '.'))) ORDER BY m.id DESC",
     {"USING COVERING INDEX addresses_rdomain (rdomain>? AND rdomain<?)",
      "recipient_rows USING COVERING INDEX recipient_rows_address (address_id=?)"},
     0},
    {"SELECT m.id FROM messages m WHERE (EXISTS (SELECT 1 FROM recipient_rows r"
     " JOIN addresses a ON a.id = r.address_id WHERE r.message = m.id"
     " AND +a.address = 'a@b' COLLATE NOCASE) OR EXISTS (SELECT 1 FROM header_address_rows h"
     " JOIN addresses a ON a.id = h.address_id WHERE h.message = m.id"
     " AND h.field IN ('to', 'cc') AND +a.address = 'a@b' COLLATE NOCASE))"
     " ORDER BY m.id DESC LIMIT 50",
     {"SCAN m", "USING INDEX recipient_rows_message (message=?)"},
     1},
    {"SELECT m.id FROM message_fts f CROSS JOIN messages m ON m.id = f.rowid"
     " WHERE message_fts MATCH 'x' AND f.rowid NOT IN (SELECT message FROM fts_stale)"
     " ORDER BY f.rowid DESC LIMIT 50 OFFSET 50",
     {"SCAN f VIRTUAL TABLE", NULL},
     1},
};

static void test_hostile_values(const char *dir)
{
    struct conformance conf;

    if (sqlite_conformance(dir, "hostile.db", &conf) == NULL)
        return;
    conformance_hostile_values(&conf);

    /* no index of the schema covers the whole text of a header or
     * envelope column (expressions have no column name) */
    CHECK_SQL_AT(conf_path,
                 "SELECT count(*) FROM sqlite_master m, pragma_index_list(m.name) il,"
                 " pragma_index_xinfo(il.name) x WHERE m.type = 'table' AND x.key"
                 " AND x.name IN ('queue_id', 'message_id', 'envelope_from', 'address',"
                 " 'archive_rcpt', 'orcpt', 'notify', 'name', 'subject', 'subject_raw',"
                 " 'date_raw', 'filename', 'content_type', 'location', 'mail_params',"
                 " 'xforward', 'index_note')"
                 /* the web interface's accounts: what an operator typed,
                  * bounded by tabularium user, not mail */
                 " AND m.name NOT IN ('web_users', 'web_user_addresses', 'web_tokens')",
                 "0");
    /* the lookups use the prefix indexes; the shapes of search
     * (sqlite_search.c): an exact address and a domain through their
     * indexes, newest first without a sort; a word query from the FTS5
     * side in rowid order, stopping at the page */
    for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        char *sql = xasprintf("EXPLAIN QUERY PLAN %s", plans[i].sql);
        char *plan = sql_at(conf_path, sql);

        int ok = 1;

        for (size_t j = 0; j < 2 && plans[i].uses[j] != NULL; j++)
            ok &= strstr(plan, plans[i].uses[j]) != NULL;
        if (plans[i].no_sort)
            ok &= strstr(plan, "TEMP B-TREE") == NULL;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  query: %s\n  plan: %s\n", plans[i].sql, plan);
        free(plan);
        free(sql);
    }
    catalog_close(&conf.cat);
}

/* The parts of the conformance suite that need nothing around them,
 * each on a file of its own (so a search lists exactly the suite's
 * records), but the text filters on the messages the merge part left. */
static void test_conformance(const char *dir)
{
    static const struct {
        const char *file;
        void (*run)(struct conformance *conf);
    } parts[] = {
        {"search.db", conformance_search},
        {"pages.db", conformance_address_pages},
        {"words.db", conformance_word_pages},
        {"merge.db", conformance_merge_get},
        {"merge.db", conformance_text_filters}, /* on what merge left */
        {"forward.db", conformance_forward_status},
        {"content.db", conformance_content_errors},
        {"degraded.db", conformance_degraded_reindex},
        {"rebuild.db", conformance_index_rebuild},
        {"users.db", conformance_users},
    };
    struct conformance conf;

    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (sqlite_conformance(dir, parts[i].file, &conf) == NULL)
            continue;
        parts[i].run(&conf);
        catalog_close(&conf.cat);
    }
    /* again, with every --from/--to value taken as one in many messages:
     * the EXISTS form of the search finds the same (sqlite_search.c) */
    setenv("TABULARIUM_TEST_SQLITE_DENSE", "1", 1);
    if (sqlite_conformance(dir, "search-dense.db", &conf) != NULL) {
        conformance_search(&conf);
        catalog_close(&conf.cat);
    }
    if (sqlite_conformance(dir, "pages-dense.db", &conf) != NULL) {
        conformance_address_pages(&conf);
        catalog_close(&conf.cat);
    }
    if (sqlite_conformance(dir, "merge-dense.db", &conf) != NULL) {
        conformance_merge_get(&conf);
        conformance_text_filters(&conf);
        catalog_close(&conf.cat);
    }
    unsetenv("TABULARIUM_TEST_SQLITE_DENSE");
}

/* add_batch(): a copy refused for its content (a duplicate archive id:
 * a UNIQUE constraint) is TAB_PERM and rolled back alone. */
static void test_batch_content_error(const char *dir)
{
    struct archive_record recs[3];
    const struct archive_record *ptrs[3];
    enum tab_result results[3];
    char *errors[3];
    struct catalog *cat;
    const char *error = NULL;
    char path[4300], spec[4400];

    snprintf(path, sizeof(path), "%s/batch.db", dir);
    snprintf(spec, sizeof(spec), "sqlite:%s", path);
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL)
        return;
    conf_make_record(&recs[0], 1, "B1", CONF_SHA_A, "a@x", "one", NULL, "2024-01-01T00:00:00Z");
    conf_make_record(&recs[1], 1, "B2", CONF_SHA_B, "b@x", "dup", NULL, "2024-01-01T00:00:00Z");
    conf_make_record(&recs[2], 3, "B3", CONF_SHA_C, "c@x", "three", NULL, "2024-01-01T00:00:00Z");
    for (int i = 0; i < 3; i++)
        ptrs[i] = &recs[i];
    CHECK(catalog_add_batch(cat, ptrs, 3, results, errors, &error) == TAB_OK);
    CHECK(results[0] == TAB_OK && results[1] == TAB_PERM && results[2] == TAB_OK);
    CHECK(errors[1] != NULL && strstr(errors[1], "UNIQUE") != NULL);
    CHECK_SQL_AT(path, "SELECT queue_id FROM messages ORDER BY id", "B1\nB3");
    CHECK(conf_chain_links(cat) == 2);
    for (int i = 0; i < 3; i++) {
        free(errors[i]);
        record_free(&recs[i]);
    }
    catalog_close(&cat);
}

int main(void)
{
    const char *dir = check_tmpdir("test_catalog_sqlite");
    struct stat sb;

    log_init("test_catalog_sqlite", 1, 0);
    /* the parent directories do not exist yet: the driver creates them */
    snprintf(db_path, sizeof(db_path), "%s/var/lib/tabularium/catalog.db", dir);
    snprintf(db_spec, sizeof(db_spec), "sqlite:%s", db_path);

    test_add_and_rows();
    CHECK(stat(db_path, &sb) == 0 && S_ISREG(sb.st_mode));
    test_merge();
    test_rollback();
    test_concurrent();
    for (int round = 0; round < 10; round++)
        test_concurrent_create(dir, round);
    test_open_errors(dir);
    test_fulltext(dir);
    test_upgrade_v1(dir);
    test_upgrade_v7(dir);
    test_upgrade_v8(dir);
    test_index_pending(dir);
    test_index_from_store(dir);
    test_fts_exact_delete(dir);
    test_conformance(dir);
    test_hostile_values(dir);
    test_batch_content_error(dir);
    return check_done();
}
