/*
 * NAME
 *	test_catalog_pgsql 1
 * SUMMARY
 *	unit tests of the PostgreSQL store and catalog drivers, on a real server
 * DESCRIPTION
 *	Uses the database named by $TAB_PGSQL_CONNINFO (tests/integration/
 *	pgsql.test passes a fresh one), or else starts a private server of
 *	its own with tests/lib/pg.sh (found next to this source file) and
 *	removes it at the end: the test never skips. It creates the schema
 *	with pg_schema_migrate(), as tabularium db init does.
 *
 *	Rows are checked with plain SQL on a second connection: the schema
 *	is a public interface. Covers the catalog conformance suite
 *	(catalog_conformance.h): merging on (queue id, SHA-256) and on
 *	(Message-ID, SHA-256) and get() by message and copy archive id
 *	first, then text search and filters on those messages (UTF-8 words
 *	and case folding, phrases, OR, -NOT, hostile query text, LIKE
 *	metacharacters, attachments, invalid UTF-8 in a record), the
 *	forwarder's status rows, content errors, hostile header values,
 *	degraded records and reindex() on the database the other tests
 *	fill; search filters and full-text search each on a database of
 *	their own. PostgreSQL's answers to the suite's two questions: a
 *	--text word with punctuation inside is a phrase (backends/fts.h),
 *	text that is not UTF-8 is stored cleaned.
 *
 *	The store conformance suite (store_conformance.h) on a store no
 *	catalog shares, which leaves no object or chunk behind.
 *
 *	Around them what only PostgreSQL shows: the recipients' order and
 *	Bcc flags, the words of a huge body bounded to one tsvector and no
 *	copy of the body text, no index key over raw header text, the
 *	lookups' plans, the UTF-8 cleaning of a degraded note; the search
 *	semantics of backends/fts.h on the tsvector columns (folding, CJK,
 *	columns, addresses, domains, wildcards, dense addresses, date ranges,
 *	paging, count, a later copy's recipients, reindex()); the text
 *	inside attachments (the queue add() and reindex() fill, index_pending()
 *	with a fake text source); the upgrade from schema version 6 (the words of
 *	the messages there, body_text dropped, the attachments that may hold
 *	text queued); the store's chunked bytes (NUL bytes, several chunks)
 *	streamed back by get(); one transaction for store and catalog (a
 *	catalog insert refused for its content keeps the stored bytes for a
 *	second, degraded add() of the copy; a connection killed between put
 *	and add stores nothing; a session ended by the server during COMMIT
 *	is resolved as rolled back); the store alone commits itself;
 *	reconnection after the server ended the session; schema version
 *	refusals (none, older, newer); conninfo redaction and the UTF-8
 *	cleaner.
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
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "backends/catalog.h"
#include "backends/postgres/pg_attach_text.h"
#include "backends/postgres/pg_conn.h"
#include "backends/postgres/pg_schema.h"
#include "backends/record.h"
#include "backends/store.h"
#include "common/log.h"
#include "common/strlist.h"

#include "tests/drivers/catalog_conformance.h"
#include "tests/drivers/catalog_conformance_index.h"
#include "tests/drivers/catalog_conformance_pages.h"
#include "tests/drivers/catalog_conformance_users.h"
#include "tests/drivers/store_conformance.h"

#define PG_VERSION_TEXT2(v) #v
#define PG_VERSION_TEXT1(v) PG_VERSION_TEXT2(v)
#define PG_VERSION_TEXT PG_VERSION_TEXT1(PG_SCHEMA_VERSION)

static char conninfo[4096];   /* the test database */
static char spec[4200];       /* "pgsql:" conninfo */
static char server_dir[4200]; /* our own server, or "" */
static char pg_sh[4200];
static PGconn *admin; /* the second connection that checks rows */
static unsigned long next_id = 1;

static void make_id(char id[ARCHIVE_ID_SIZE])
{
    snprintf(id, ARCHIVE_ID_SIZE, "%020lX", 0xA0000000UL + next_id++);
}

/* One value of a query without parameters on the admin connection. */
static char *sql_value(const char *sql)
{
    PGresult *res = PQexec(admin, sql);
    char *v = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        v = xstrdup(PQgetvalue(res, 0, 0));
    else if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
        fprintf(stderr, "sql %s: %s", sql, PQerrorMessage(admin));
    PQclear(res);
    return v;
}

/* sql_value() with one text parameter, compared with want. */
static int sql_is(const char *sql, const char *param, const char *want)
{
    const char *values[1] = {param};
    PGresult *res = PQexecParams(admin, sql, param != NULL ? 1 : 0, NULL, values, NULL, NULL, 0);
    int ok = 0;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
        const char *got = PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0);
        ok = strcmp(got, want) == 0;
        if (!ok)
            fprintf(stderr, "sql %s [%s]: got \"%s\", want \"%s\"\n", sql, param ? param : "", got,
                    want);
    } else {
        fprintf(stderr, "sql %s: %s\n", sql, PQerrorMessage(admin));
    }
    PQclear(res);
    return ok;
}

static int sql_exec(const char *sql)
{
    PGresult *res = PQexec(admin, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "sql %s: %s", sql, PQerrorMessage(admin));
    PQclear(res);
    return ok;
}

/* A conninfo for database db on the test server (from the admin session). */
static char *conninfo_for(const char *db)
{
    const char *host = PQhost(admin), *port = PQport(admin), *user = PQuser(admin);

    return xasprintf("host='%s' port='%s' user='%s' dbname='%s'", host, port, user, db);
}

static void fill(struct archive_record *rec, const char *queue_id, const char *sha,
                 const char *message_id, const char *subject, const char *body)
{
    memset(rec, 0, sizeof(*rec));
    make_id(rec->archive_id);
    rec->queue_id = xstrdup(queue_id);
    rec->envelope_from = xstrdup("sender@example.com");
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->message_id = message_id ? xstrdup(message_id) : NULL;
    rec->subject = subject ? xstrdup(subject) : NULL;
    rec->subject_raw = subject ? xstrdup(subject) : NULL;
    rec->body_text = body ? xstrdup(body) : NULL;
    rec->date = xstrdup("2024-01-15T10:00:00Z");
    rec->arrival = 1705312800 + (time_t)next_id; /* distinct, for a stable order */
    rec->size = 100;
    snprintf(rec->sha256, sizeof(rec->sha256), "%s", sha);
    snprintf(rec->wrapped_sha256, sizeof(rec->wrapped_sha256), "%s", CONF_SHA_C);
    rec->wrapped_size = 200;
    rec->store = xstrdup("maildir");
    rec->location = xasprintf("new/%s", rec->archive_id);
    record_addrs_add(&rec->hdr_from, "Sender", "sender@example.com");
}

static enum tab_result add(struct catalog *cat, struct archive_record *rec)
{
    const char *error = NULL;
    enum tab_result r = catalog_add(cat, rec, &error);
    if (r != TAB_OK)
        fprintf(stderr, "add %s: %s\n", rec->archive_id, error);
    return r;
}

/* struct conformance's sql hook: the rows of query on the admin
 * connection, $1 bound to param: "col|col" a row, rows joined by "\n",
 * NULL as "NULL". */
static char *pg_rows(const char *query, const char *param)
{
    const char *values[1] = {param};
    PGresult *res = PQexecParams(admin, query, param != NULL ? 1 : 0, NULL, values, NULL, NULL, 0);
    char *out = NULL;

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        out = xstrdup("");
        for (int row = 0; row < PQntuples(res); row++) {
            for (int col = 0; col < PQnfields(res); col++) {
                const char *v = PQgetisnull(res, row, col) ? "NULL" : PQgetvalue(res, row, col);
                char *next = xasprintf("%s%s%s", out, col ? "|" : (row ? "\n" : ""), v);
                free(out);
                out = next;
            }
        }
    } else {
        fprintf(stderr, "sql %s: %s", query, PQerrorMessage(admin));
    }
    PQclear(res);
    return out;
}

/* struct conformance's at hook: what only PostgreSQL does. */
static void pg_at(const char *point, const char *archive_id)
{
    if (strcmp(point, "merged") == 0) {
        /* the envelope recipients in the order they came, and which of
         * them no header names (Bcc) */
        CHECK(sql_is("SELECT string_agg(r.address, ',' ORDER BY r.id) FROM recipients r"
                     " JOIN messages m ON m.id = r.message WHERE m.archive_id = $1",
                     archive_id, "alice@example.com,bob@example.com,carol@example.com"));
        CHECK(sql_is("SELECT string_agg(recipient || ':' || bcc, ',' ORDER BY recipient)"
                     " FROM recipient_messages WHERE message_id = $1",
                     "m1@example.com",
                     "alice@example.com:false,bob@example.com:true,carol@example.com:true"));
    } else if (strcmp(point, "hostile added") == 0) {
        /* the words of a huge body fill one tsvector up to its limit, and
         * no copy of the body text is kept */
        CHECK(sql_is("SELECT length(fts) > 20000 AND pg_column_size(fts) < 1024 * 1024"
                     " FROM messages WHERE archive_id = $1",
                     archive_id, "t"));
        CHECK(sql_is("SELECT count(*) FROM information_schema.columns WHERE table_name ="
                     " 'messages' AND column_name = 'body_text'",
                     NULL, "0"));
    }
}

/* The conformance suite's view of cat: rows on the admin connection;
 * a --text word with punctuation inside is a phrase (fts.h); text that is
 * not UTF-8 is stored cleaned. */
static struct conformance pg_conformance(struct catalog *cat)
{
    struct conformance conf;

    memset(&conf, 0, sizeof(conf));
    conf.cat = cat;
    /* what the indexer reads: the text of the copies the suite stored */
    if (cat != NULL)
        catalog_set_text_source(cat, conf_text_source, NULL);
    conf.sql = pg_rows;
    conf.at = pg_at;
    conf.keeps_invalid_utf8 = 0;
    return conf;
}

static void test_redact_and_utf8(void)
{
    char *s;

    s = pg_conn_redact("host=/tmp user=x password=secret dbname=tab");
    CHECK(strstr(s, "secret") == NULL);
    CHECK(strstr(s, "dbname='tab'") != NULL && strstr(s, "host='/tmp'") != NULL);
    free(s);
    s = pg_conn_redact("postgresql://u:secret1@/tab?host=/tmp&password=secret2");
    CHECK(strstr(s, "secret") == NULL);
    CHECK(strstr(s, "user='u'") != NULL);
    free(s);
    CHECK_STR_FREE(pg_conn_redact("postgresql:///tab?host=/tmp"), "postgresql:///tab?host=/tmp");
    CHECK_STR_FREE(pg_conn_redact("tabularium"), "tabularium");

    s = pg_conn_utf8("caf\xe9 Z\xc3\xbcrich \xed\xa0\x80!", 0); /* Latin-1, valid, surrogate */
    CHECK_STR(s, "caf\xef\xbf\xbd Z\xc3\xbcrich \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!");
    free(s);
    s = pg_conn_utf8("ab\xc3\xbc", 3); /* never cuts a character in half */
    CHECK_STR(s, "ab");
    free(s);
    CHECK(pg_conn_utf8(NULL, 0) == NULL);
}

static void test_schema_refusals(void)
{
    const char *error = NULL;
    char *ci, *sp;
    const char *err = NULL;
    struct catalog *cat;
    struct store *st;
    PGconn *pg;
    int from, to;

    CHECK(sql_exec("DROP DATABASE IF EXISTS tab_unit_schema"));
    CHECK(sql_exec("CREATE DATABASE tab_unit_schema"));
    ci = conninfo_for("tab_unit_schema");
    sp = xasprintf("pgsql:%s", ci);

    cat = catalog_open(sp, NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "no tabularium schema: run tabularium db init") != NULL);
    st = store_open(sp, NULL, &error);
    CHECK(st == NULL);
    CHECK(error != NULL && strstr(error, "run tabularium db init") != NULL);

    pg = pg_conn_connect_plain(ci, &err);
    CHECK(pg != NULL);
    CHECK(pg_schema_migrate(pg, 1, 1, &from, &to, &err) == 0 && from == 0 && to == 1);
    cat = catalog_open(sp, NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL &&
          strstr(error, "schema version 1 is older than the version " PG_VERSION_TEXT
                        " this tabularium needs: run tabularium db upgrade") != NULL);
    /* init refuses an older schema, upgrade does it; both are idempotent */
    CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 1, &from, &to, &err) < 0);
    CHECK(err != NULL && strstr(err, "run tabularium db upgrade") != NULL);
    err = NULL;
    /* a copy written before the chain existed (two recipients, fed in
     * reverse byte order) */
    PQclear(PQexec(pg, "INSERT INTO messages (archive_id, queue_id, sha256, envelope_from,"
                       " envelope_status, arrival, size) VALUES ('6B0700000000000000A1', 'Q1',"
                       " 'aaaa', 'old@x.test', 'complete', to_timestamp(1700000000), 10);"
                       "INSERT INTO copies (message, archive_id, store, location, wrapped_sha256,"
                       " wrapped_size) VALUES (1, '6B0700000000000000A1', 'maildir', 'new/old',"
                       " 'bbbb', 20);"
                       "INSERT INTO recipients (message, address, copy) VALUES (1, 'z@y.test', 1),"
                       " (1, 'B@y.test', 1)"));
    CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 0, &from, &to, &err) == 0 && from == 1 &&
          to == PG_SCHEMA_VERSION);
    {
        /* rows from before version 6 have a full index */
        PGresult *res = PQexec(pg, "SELECT index_status, index_note IS NULL FROM messages");
        CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
        if (PQntuples(res) == 1) {
            CHECK_STR(PQgetvalue(res, 0, 0), "full");
            CHECK_STR(PQgetvalue(res, 0, 1), "t");
        }
        PQclear(res);
    }
    /* the upgrade chained it: link 1, its arrival the message's, recomputable */
    {
        struct chain_link link;
        PGresult *res = PQexec(pg, "SELECT c.seq, c.prev_hash, c.hash, h.seq, h.hash = c.hash,"
                                   " extract(epoch FROM c.arrival)::bigint"
                                   " FROM copies c, chain_head h");
        CHECK(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1);
        if (PQntuples(res) == 1) {
            CHECK_STR(PQgetvalue(res, 0, 0), "1");
            CHECK_STR(PQgetvalue(res, 0, 1), CHAIN_GENESIS);
            CHECK_STR(PQgetvalue(res, 0, 3), "1");
            CHECK_STR(PQgetvalue(res, 0, 4), "t");
            CHECK_STR(PQgetvalue(res, 0, 5), "1700000000");
            memset(&link, 0, sizeof(link));
            link.seq = 1;
            memcpy(link.prev_hash, CHAIN_GENESIS, sizeof(link.prev_hash));
            snprintf(link.archive_id, sizeof(link.archive_id), "6B0700000000000000A1");
            link.arrival = 1700000000;
            link.queue_id = xstrdup("Q1");
            link.envelope_from = xstrdup("old@x.test");
            strlist_add(&link.rcpts, "z@y.test");
            strlist_add(&link.rcpts, "B@y.test");
            snprintf(link.sha256, sizeof(link.sha256), "aaaa");
            link.size = 10;
            snprintf(link.wrapped_sha256, sizeof(link.wrapped_sha256), "bbbb");
            link.wrapped_size = 20;
            link.store = xstrdup("maildir");
            link.location = xstrdup("new/old");
            catalog_chain_hash(&link, link.hash);
            CHECK_STR(PQgetvalue(res, 0, 2), link.hash);
            catalog_chain_link_free(&link);
        }
        PQclear(res);
    }
    CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 0, &from, &to, &err) == 0 &&
          from == PG_SCHEMA_VERSION && to == PG_SCHEMA_VERSION);
    cat = catalog_open(sp, NULL, &error);
    CHECK(cat != NULL);
    catalog_close(&cat);

    PQclear(PQexec(pg, "INSERT INTO schema_version (version, tabularium) VALUES (99, 'future')"));
    cat = catalog_open(sp, NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL &&
          strstr(error, "schema version 99 is newer than the version " PG_VERSION_TEXT
                        " this tabularium knows: upgrade tabularium") != NULL);
    CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 0, &from, &to, &err) < 0);
    PQfinish(pg);

    /* a malformed conninfo is an open error, and no password shows */
    cat = catalog_open("pgsql:host=/tmp password=hunter2 port", NULL, &error);
    CHECK(cat == NULL);
    CHECK(error != NULL && strstr(error, "conninfo") != NULL);
    CHECK(error != NULL && strstr(error, "hunter2") == NULL);
    CHECK(sql_exec("DROP DATABASE tab_unit_schema WITH (FORCE)"));
    free(ci);
    free(sp);
}

/* The conformance suite's forwarder status rows. */
static void test_forward_status(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);

    conformance_forward_status(&conf);
}

/* The conformance suite's merge and get(), first on the empty database:
 * the later tests search its messages. */
static void test_merge_and_get(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);

    conformance_merge_get(&conf);
}

/* The conformance suite's text search and filters, on the messages
 * conformance_merge_get() left. */
static void test_fts_and_filters(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);

    conformance_text_filters(&conf);
}

/* The server ends the session during COMMIT (a deferred trigger
 * terminates its own backend): the driver asks a new session what became
 * of the transaction and reports it rolled back. */
static void test_commit_lost(struct catalog *cat)
{
    struct archive_record rec;
    const char *error = NULL;

    CHECK(sql_exec("CREATE FUNCTION kill_at_commit() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$BEGIN IF NEW.subject = 'kill at commit' THEN"
                   " PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(1);"
                   " END IF; RETURN NULL; END$$"));
    CHECK(sql_exec("CREATE CONSTRAINT TRIGGER kill_at_commit AFTER INSERT ON messages"
                   " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
                   " EXECUTE FUNCTION kill_at_commit()"));
    fill(&rec, "QKILL", CONF_SHA_A, NULL, "kill at commit", NULL);
    record_add_rcpt(&rec, "kill@example.com", NULL, NULL, NULL);
    CHECK(catalog_add(cat, &rec, &error) == TAB_RETRY);
    CHECK(error != NULL && strstr(error, "commit failed: commit: ") != NULL &&
          strstr(error, "; rolled back") != NULL);
    if (error != NULL && strstr(error, "rolled back") == NULL)
        fprintf(stderr, "commit lost: %s\n", error);
    CHECK(sql_is("SELECT count(*) FROM messages WHERE queue_id = $1", "QKILL", "0"));
    CHECK(sql_exec("DROP TRIGGER kill_at_commit ON messages"));
    CHECK(sql_exec("DROP FUNCTION kill_at_commit()"));
    /* the same record again, on the new session */
    CHECK(add(cat, &rec) == TAB_OK);
    CHECK(sql_is("SELECT count(*) FROM messages WHERE queue_id = $1", "QKILL", "1"));
    record_free(&rec);
}

/* A file of n bytes with NULs and every byte value; its path in path_r. */
static int make_file(const char *dir, const char *name, size_t n, char **path_r)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w+b");
    int fd;

    for (size_t i = 0; f != NULL && i < n; i++)
        fputc((int)((i * 7 + i / 256) & 0xFF), f);
    if (f == NULL || fclose(f) != 0) {
        free(path);
        return -1;
    }
    fd = open(path, O_RDONLY);
    *path_r = path;
    return fd;
}

/* Puts a file of size bytes as rec's copy in st (the store's own
 * transaction, left open for the catalog's add()): rec's store and
 * location are the store's afterwards. The file's path in path_r. */
static void put_file(struct store *st, const char *dir, const char *name, size_t size,
                     struct archive_record *rec, char **path_r)
{
    const char *error = NULL;
    int fd = make_file(dir, name, size, path_r);

    CHECK(fd >= 0);
    rec->wrapped_size = size;
    free(rec->store);
    free(rec->location);
    rec->location = NULL;
    CHECK(st->put(st, rec, fd, *path_r, &rec->location, &error) == TAB_OK);
    close(fd);
    rec->store = xstrdup("pgsql");
}

static int same_files(const char *a, const char *b)
{
    size_t la, lb;
    char *da = check_slurp(a, &la), *db = check_slurp(b, &lb);
    int same = da != NULL && db != NULL && la == lb && memcmp(da, db, la) == 0;

    free(da);
    free(db);
    return same;
}

/* Ends the server session whose pid pid_sql selects, and waits (at most
 * 10 s) until the server has let it go: pg_terminate_backend() only
 * signals, and a loaded machine may take a while. */
static void kill_backend(const char *pid_sql)
{
    char *pid = sql_value(pid_sql), *sql;

    CHECK(pid != NULL);
    sql = xasprintf("SELECT pg_terminate_backend(%s)", pid ? pid : "0");
    CHECK(sql_exec(sql));
    free(sql);
    sql = xasprintf("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", pid ? pid : "0");
    for (int i = 0; i < 200; i++) {
        char *n = sql_value(sql);
        int gone = n != NULL && strcmp(n, "0") == 0;

        free(n);
        if (gone)
            break;
        usleep(50 * 1000);
    }
    free(sql);
    free(pid);
}

static void test_store_and_transaction(struct catalog *cat, const char *dir)
{
    struct archive_record rec;
    struct store *st, *alone;
    const char *error = NULL;
    char *path, *out_path, *location = NULL;
    char alone_spec[4300];
    int fd, out;
    size_t size = 2 * 1024 * 1024 + 12345; /* three chunks */

    st = store_open(spec, NULL, &error);
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK_STR(st->name, "pgsql");

    /* success: bytes and rows commit together */
    fill(&rec, "QSTORE1", CONF_SHA_C, NULL, "stored", "stored body");
    put_file(st, dir, "copy1", size, &rec, &path);
    location = rec.location;
    CHECK(location != NULL && strncmp(location, "pgsql:", 6) == 0);
    /* not visible to others before the catalog commits */
    CHECK(sql_is("SELECT count(*) FROM store_objects WHERE archive_id = $1", rec.archive_id, "0"));
    CHECK(add(cat, &rec) == TAB_OK);
    CHECK(sql_is("SELECT count(*) || ' ' || sum(length(data)) FROM store_chunks c"
                 " JOIN store_objects o ON o.id = c.object WHERE o.archive_id = $1",
                 rec.archive_id, "3 2109497"));
    CHECK(sql_is("SELECT location FROM copies WHERE archive_id = $1", rec.archive_id, location));
    out_path = xasprintf("%s/copy1.out", dir);
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(store_get(st, location, out, &error) == TAB_OK);
    close(out);
    CHECK(same_files(path, out_path));
    CHECK(store_get(st, "pgsql:999999", out, &error) == TAB_PERM);
    CHECK(store_get(st, "pgsql:1; DROP TABLE x", out, &error) == TAB_PERM);
    CHECK(store_get(st, "new/x", out, &error) == TAB_PERM);
    unlink(path);
    free(path);
    free(out_path);
    record_free(&rec);

    /* a catalog insert refused for the record's content (a CHECK
     * constraint) is TAB_PERM and keeps the store's transaction open for a
     * second add() of the same copy, degraded: bytes and rows then commit
     * together */
    fill(&rec, "QSTORE2", CONF_SHA_C, NULL, "rolled back", NULL);
    put_file(st, dir, "copy2", 1000, &rec, &path);
    rec.envelope_status = "bogus";
    CHECK(catalog_add(cat, &rec, &error) == TAB_PERM);
    CHECK(error != NULL && strstr(error, "messages_envelope_status_check") != NULL);
    CHECK(sql_is("SELECT count(*) FROM store_objects WHERE archive_id = $1", rec.archive_id, "0"));
    CHECK(sql_is("SELECT count(*) FROM messages WHERE queue_id = $1", "QSTORE2", "0"));
    rec.envelope_status = ENVELOPE_COMPLETE;
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xstrdup("catalog refused the full record");
    CHECK(catalog_add(cat, &rec, &error) == TAB_OK);
    CHECK(sql_is("SELECT count(*) FROM store_objects WHERE archive_id = $1", rec.archive_id, "1"));
    CHECK(sql_is("SELECT index_status || ' ' || index_note FROM messages WHERE queue_id = $1",
                 "QSTORE2", "degraded catalog refused the full record"));
    unlink(path);
    free(path);
    record_free(&rec);

    /* the session is killed between put and add: nothing is cataloged */
    fill(&rec, "QSTORE3", CONF_SHA_C, NULL, "killed", NULL);
    put_file(st, dir, "copy3", 1000, &rec, &path);
    kill_backend("SELECT pid FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
                 " AND datname = current_database()");
    CHECK(catalog_add(cat, &rec, &error) == TAB_RETRY);
    CHECK(sql_is("SELECT count(*) FROM messages WHERE queue_id = $1", "QSTORE3", "0"));
    CHECK(sql_is("SELECT count(*) FROM store_objects WHERE archive_id = $1", rec.archive_id, "0"));
    /* and the next delivery reconnects */
    free(rec.location);
    rec.location = NULL;
    make_id(rec.archive_id);
    fd = open(path, O_RDONLY);
    CHECK(st->put(st, &rec, fd, path, &rec.location, &error) == TAB_OK);
    close(fd);
    CHECK(add(cat, &rec) == TAB_OK);
    CHECK(sql_is("SELECT count(*) FROM messages WHERE queue_id = $1", "QSTORE3", "1"));
    record_free(&rec);

    /* an idle session ended by the server: the next call reconnects */
    kill_backend("SELECT pid FROM pg_stat_activity WHERE application_name ="
                 " 'test_catalog_pgsql' AND datname = current_database()"
                 " AND pid <> pg_backend_pid()");
    {
        struct strlist known = STRLIST_INIT;
        CHECK(catalog_known_recipients(cat, "QMERGE1", CONF_SHA_A, NULL, &known, &error) == TAB_OK);
        CHECK(known.n == 3);
        strlist_free(&known);
    }

    /* a store on a conninfo no catalog shares commits by itself */
    snprintf(alone_spec, sizeof(alone_spec), "%s%sapplication_name=alone", spec,
             strchr(spec, '?') ? "&" : (strncmp(spec, "pgsql:postgres", 14) == 0 ? "?" : " "));
    alone = store_open(alone_spec, NULL, &error);
    CHECK(alone != NULL);
    if (alone != NULL) {
        fill(&rec, "QALONE", CONF_SHA_C, NULL, "alone", NULL);
        rec.wrapped_size = 1000;
        free(rec.location);
        rec.location = NULL;
        fd = open(path, O_RDONLY);
        CHECK(alone->put(alone, &rec, fd, path, &rec.location, &error) == TAB_OK);
        close(fd);
        CHECK(sql_is("SELECT count(*) FROM store_objects WHERE archive_id = $1", rec.archive_id,
                     "1"));
        record_free(&rec);
        store_close(&alone);
    }
    unlink(path);
    free(path);
    store_close(&st);
}

/* The store conformance suite, on a store no catalog shares (put()
 * commits by itself, as a store alone does). */
static void test_store_conformance(const char *dir)
{
    char suite_spec[4300], *before;
    const char *error = NULL;
    struct store_conformance conf = {
        .dir = dir, .unknown_location = "pgsql:999999999", .legal_hold = 0};

    snprintf(suite_spec, sizeof(suite_spec), "%s%sapplication_name=store_conformance", spec,
             strchr(spec, '?') ? "&" : (strncmp(spec, "pgsql:postgres", 14) == 0 ? "?" : " "));
    conf.st = store_open(suite_spec, NULL, &error);
    CHECK(conf.st != NULL);
    if (conf.st == NULL) {
        fprintf(stderr, "store_open: %s\n", error);
        return;
    }
    CHECK_STR(conf.st->name, "pgsql");
    before = sql_value("SELECT count(*) || ' ' || (SELECT count(*) FROM store_chunks)"
                       " FROM store_objects");
    store_conformance(&conf);
    /* what the suite removed went with its chunks */
    CHECK(before != NULL && sql_is("SELECT count(*) || ' ' || (SELECT count(*) FROM store_chunks)"
                                   " FROM store_objects",
                                   NULL, before));
    free(before);
    store_close(&conf.st);
}

/* EXPLAIN sql on the admin connection, with sequential scans off (the
 * test tables are tiny): whether the plan names index. */
static int plan_uses(const char *sql, const char *index)
{
    PGresult *res;
    int found = 0;
    char *explain = xasprintf("EXPLAIN %s", sql);

    PQclear(PQexec(admin, "SET enable_seqscan = off"));
    res = PQexec(admin, explain);
    for (int i = 0; PQresultStatus(res) == PGRES_TUPLES_OK && i < PQntuples(res); i++) {
        fprintf(stderr, "  plan: %s\n", PQgetvalue(res, i, 0));
        if (strstr(PQgetvalue(res, i, 0), index) != NULL)
            found = 1;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        fprintf(stderr, "explain: %s", PQerrorMessage(admin));
    PQclear(res);
    PQclear(PQexec(admin, "RESET enable_seqscan"));
    free(explain);
    return found;
}

/*
 * The conformance suite's hostile header values (catalog_conformance.h),
 * then what only PostgreSQL shows: no B-tree over the raw text of a
 * header or envelope column, and the lookups of the delivery path use
 * the md5() indexes.
 */
static void test_hostile_values(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);

    conformance_hostile_values(&conf);
    /* no B-tree over the raw text of a header or envelope column: every
     * index key that is a plain column is a number, a hash, our own id or
     * header_addresses.field (from, to or cc) */
    CHECK(sql_is("SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
                 " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey)"
                 " WHERE t.relname IN ('messages', 'recipients', 'header_addresses',"
                 " 'attachments', 'copies') AND a.atttypid = 'text'::regtype"
                 " AND a.attname NOT IN ('archive_id', 'sha256', 'field', 'rdomain',"
                 " 'envelope_from_rdomain')",
                 NULL, "0"));
    /* and the lookups of the delivery path use the md5() indexes */
    CHECK(plan_uses("SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message"
                    " WHERE m.sha256 = 'x' AND md5(m.queue_id) = md5('q') AND m.queue_id = 'q'"
                    " AND m.queue_id <> '' ORDER BY r.id",
                    "messages_queue_sha"));
    CHECK(plan_uses("SELECT id FROM messages WHERE md5(message_id) = md5('m')"
                    " AND message_id = 'm' AND sha256 = 's' AND queue_id = '' ORDER BY id LIMIT 1",
                    "messages_message_id"));
    CHECK(plan_uses("SELECT 1 FROM recipients WHERE message = 1 AND md5(lower(address)) ="
                    " md5(lower('a@b')) AND lower(address) = lower('a@b')",
                    "md5(lower(address)) = 'a1ca0ed6e42a23f4758e8a3f6b54de58'::text"));
}

/*
 * The conformance suite's content errors (TAB_PERM: a retry would fail
 * the same way), then the server's side of a degraded record's note.
 */
static void test_content_errors(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);
    struct archive_record rec;

    /* a CHECK constraint (SQLSTATE 23514), a UNIQUE violation (23505) */
    conformance_content_errors(&conf);

    /* a degraded record's note: invalid UTF-8 cleaned, at most 1000 bytes */
    fill(&rec, "QPERM2", CONF_SHA_B, NULL, NULL, NULL);
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xmalloc(3001);
    memset(rec.index_note, 0xFF, 3000);
    rec.index_note[3000] = '\0';
    CHECK(add(cat, &rec) == TAB_OK);
    CHECK(sql_is("SELECT octet_length(index_note) <= 1000 AND index_note LIKE '\xEF\xBF\xBD%'"
                 " FROM messages WHERE queue_id = $1",
                 "QPERM2", "t"));
    record_free(&rec);
}

/* The conformance suite's degraded records and reindex(), on the
 * database the other tests filled. */
static void test_degraded_reindex(struct catalog *cat)
{
    struct conformance conf = pg_conformance(cat);

    conformance_degraded_reindex(&conf);
}

/* A part of the conformance suite that wants a catalog holding nothing
 * else (its results list every match), on a new database db. */
static void pg_fresh(const char *db, void (*run)(struct conformance *conf))
{
    struct conformance conf = pg_conformance(NULL);
    PGconn *pg, *saved = admin;
    const char *error = NULL;
    char *ci, *sp, *sql;
    const char *err = NULL;
    int from, to;

    sql = xasprintf("DROP DATABASE IF EXISTS %s", db);
    CHECK(sql_exec(sql));
    free(sql);
    sql = xasprintf("CREATE DATABASE %s", db);
    CHECK(sql_exec(sql));
    free(sql);
    ci = conninfo_for(db);
    sp = xasprintf("pgsql:%s", ci);
    pg = pg_conn_connect_plain(ci, &err);
    CHECK(pg != NULL);
    if (pg != NULL) {
        PQclear(PQexec(pg, "SET client_min_messages = warning"));
        CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 1, &from, &to, &err) == 0);
        conf.cat = catalog_open(sp, NULL, &error);
        CHECK(conf.cat != NULL);
        if (conf.cat != NULL) {
            admin = pg; /* the row checks read this database */
            run(&conf);
            admin = saved;
            catalog_close(&conf.cat);
        } else {
            fprintf(stderr, "catalog_open: %s\n", error);
        }
        PQfinish(pg);
    }
    sql = xasprintf("DROP DATABASE %s WITH (FORCE)", db);
    CHECK(sql_exec(sql));
    free(sql);
    free(ci);
    free(sp);
}

/* The subjects search() finds for q, newest first, joined by ",";
 * "(error)" when it fails (static). */
static int collect_subject(const struct archive_record *rec, void *ctx)
{
    struct strlist *l = ctx;

    strlist_add(l, rec->subject != NULL ? rec->subject : "-");
    return 0;
}

static const char *found(struct catalog *cat, const struct search_query *q)
{
    static char out[1024];
    struct strlist l = STRLIST_INIT;
    const char *error = NULL;

    out[0] = '\0';
    if (catalog_search(cat, q, collect_subject, &l, &error) != TAB_OK) {
        fprintf(stderr, "search: %s\n", error ? error : "?");
        snprintf(out, sizeof(out), "(error)");
    } else {
        for (size_t i = 0; i < l.n; i++)
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "", l.v[i]);
    }
    strlist_free(&l);
    return out;
}

/* One field of a query set to value. */
static const char *found_by(struct catalog *cat, const char *field, const char *value)
{
    struct search_query q;

    memset(&q, 0, sizeof(q));
    if (strcmp(field, "text") == 0)
        q.text = value;
    else if (strcmp(field, "subject") == 0)
        q.subject = value;
    else if (strcmp(field, "from") == 0)
        q.from = value;
    else if (strcmp(field, "to") == 0)
        q.to = value;
    return found(cat, &q);
}

static long long counted(struct catalog *cat, const char *text)
{
    struct search_query q;
    const char *error = NULL;
    long long n = -1;

    memset(&q, 0, sizeof(q));
    q.text = text;
    if (catalog_count(cat, &q, &n, &error) != TAB_OK)
        fprintf(stderr, "count: %s\n", error ? error : "?");
    return n;
}

/* A message with subject s1 ("m1" ...), envelope sender env, one header
 * From, one envelope recipient and, if given, one Cc. */
static void sem_add(struct catalog *cat, const char *queue_id, const char *subject,
                    const char *body, const char *env, const char *from_name, const char *from,
                    const char *rcpt, const char *cc)
{
    struct archive_record rec;

    fill(&rec, queue_id, CONF_SHA_A, NULL, subject, body);
    free(rec.envelope_from);
    rec.envelope_from = xstrdup(env);
    free(rec.hdr_from.v[0].name); /* fill()'s one From, replaced */
    free(rec.hdr_from.v[0].address);
    rec.hdr_from.n = 0;
    record_addrs_add(&rec.hdr_from, from_name, from);
    record_add_rcpt(&rec, rcpt, NULL, NULL, NULL);
    record_addrs_add(&rec.hdr_to, NULL, rcpt);
    if (cc != NULL)
        record_addrs_add(&rec.hdr_cc, "Dave Cc", cc);
    CHECK(add(cat, &rec) == TAB_OK);
    record_free(&rec);
}

/*
 * The search semantics of backends/fts.h on PostgreSQL (docs/search.md):
 * folded words (case, diacritics, ß, CJK bigrams, words with digits as
 * the folding gives them, not as PostgreSQL's parser would split them;
 * a word stays where it is: one free position between the subject and the
 * body),
 * --subject only in the subject, no phrase across two columns, exact
 * addresses, whole domains with subdomains, wildcards only when asked,
 * the words of names; newest first, limit, offset and count; a later
 * copy's recipients and reindex() renew the words.
 */
static void sem_run(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct search_query q;
    struct archive_record rec;
    const char *error = NULL;
    long long n = 0;

    sem_add(cat, "QSEM1", "Réunion budget", "Die Straße in 東京都 ist INV-2026-004711, see 12e5x.",
            "bounce@mail.corp.example", "Zoë Müller", "zoe@Corp.Example", "bob@sub.corp.example",
            NULL);
    sem_add(cat, "QSEM2", "Lunch", "nothing here", "alice@other.test", NULL, "alice@other.test",
            "carol@corp.example.org", "dave@CORP.example");
    sem_add(cat, "QSEM3", "misc", "REUNION of the b_b team", "", NULL, NULL, "eve@xcorp.example",
            NULL);

    /* words: folded alike on both sides */
    CHECK_STR(found_by(cat, "subject", "RÉUNION"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "strasse"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "STRASSE"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "京都"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "東京都"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "inv-2026-004711"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "12e5x"), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "12e5"), ""); /* PostgreSQL's parser would split it */
    CHECK_STR(found_by(cat, "text", "reunion"), "misc,Réunion budget");
    CHECK_STR(found_by(cat, "subject", "reunion"), "Réunion budget");
    CHECK_STR(found_by(cat, "subject", "budget réunion"), "");
    CHECK_STR(found_by(cat, "text", "\"budget die\""), ""); /* subject, then body */
    CHECK_STR(found_by(cat, "text", "\"die strasse\""), "Réunion budget");
    CHECK_STR(found_by(cat, "text", "zoe"), ""); /* --text: subject and body */
    CHECK_STR(found_by(cat, "text", "reunion -budget"), "misc");
    CHECK_STR(found_by(cat, "text", "lunch OR tokyo OR 東京"), "Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "text", "'"), "");
    CHECK_STR(found_by(cat, "text", ""), "");

    /* addresses */
    CHECK_STR(found_by(cat, "from", "ZOE@corp.EXAMPLE"), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "<bounce@mail.corp.example>"), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "zoe@corp"), "");
    CHECK_STR(found_by(cat, "from", "@corp.example"), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "@CORP.example."), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "@other.test"), "Lunch");
    CHECK_STR(found_by(cat, "to", "@corp.example"), "Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "to", "@sub.corp.example"), "Réunion budget");
    CHECK_STR(found_by(cat, "to", "@example"), "misc,Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "to", "@orp.example"), "");
    CHECK_STR(found_by(cat, "to", "@example.org"), "Lunch");
    CHECK_STR(found_by(cat, "to", "*@*corp.example"), "misc,Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "to", "*@corp.example*"), "Lunch");
    CHECK_STR(found_by(cat, "to", "b_b*"), "");
    CHECK_STR(found_by(cat, "to", "%@corp.example"), "");
    CHECK_STR(found_by(cat, "to", "DAVE@corp.example"), "Lunch");
    CHECK_STR(found_by(cat, "from", "Zoë Müller"), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "zoe muller"), "Réunion budget");
    CHECK_STR(found_by(cat, "from", "muller bounce"), "");
    CHECK_STR(found_by(cat, "from", "bob"), "");
    CHECK_STR(found_by(cat, "to", "bob"), "Réunion budget");
    CHECK_STR(found_by(cat, "to", "dave cc"), "Lunch");
    CHECK_STR(found_by(cat, "to", " "), "");

    /* newest first, paging, count */
    memset(&q, 0, sizeof(q));
    CHECK_STR(found(cat, &q), "misc,Lunch,Réunion budget");
    q.limit = 2;
    CHECK_STR(found(cat, &q), "misc,Lunch");
    q.offset = 1;
    q.limit = 1;
    CHECK_STR(found(cat, &q), "Lunch");
    q.offset = 2;
    q.limit = 0;
    CHECK_STR(found(cat, &q), "Réunion budget");
    CHECK(counted(cat, "reunion") == 2);
    CHECK(counted(cat, "nothing") == 1);
    memset(&q, 0, sizeof(q));
    q.to = "@corp.example";
    q.limit = 1;
    CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 2);

    /* words in a date range: a full page from the range's newest
     * messages, or else the search proper; the same answers */
    memset(&q, 0, sizeof(q));
    q.text = "reunion";
    q.since = 1704067200; /* 2024-01-01 */
    q.limit = 1;
    CHECK_STR(found(cat, &q), "misc");
    q.offset = 1;
    CHECK_STR(found(cat, &q), "Réunion budget");
    q.offset = 0;
    q.limit = 5;
    CHECK_STR(found(cat, &q), "misc,Réunion budget");
    q.until = 1704067200 + 86400;
    q.limit = 1;
    CHECK_STR(found(cat, &q), "");
    q.since = 1705312800; /* the Date: itself */
    q.until = 0;
    q.text = NULL;
    q.to = "@corp.example";
    CHECK_STR(found(cat, &q), "Lunch");

    /* a later copy of message 1 adds a recipient: its words and domain */
    fill(&rec, "QSEM1", CONF_SHA_A, NULL, "Réunion budget", NULL);
    record_add_rcpt(&rec, "Frank.Late@LATE.example", NULL, NULL, NULL);
    CHECK(add(cat, &rec) == TAB_OK);
    record_free(&rec);
    CHECK_STR(found_by(cat, "to", "@late.example"), "Réunion budget");
    CHECK_STR(found_by(cat, "to", "frank late"), "Réunion budget");
    CHECK_STR(found_by(cat, "to", "bob"), "Réunion budget");

    /* reindex() writes the words of the record it is given */
    {
        char *id = NULL;
        PGresult *res = PQexec(admin, "SELECT archive_id FROM messages WHERE queue_id = 'QSEM3'");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            id = xstrdup(PQgetvalue(res, 0, 0));
        PQclear(res);
        CHECK(id != NULL);
        if (id != NULL) {
            CHECK(catalog_get(cat, id, &rec, &error) == TAB_OK);
            free(rec.subject);
            rec.subject = xstrdup("Renamed Überweisung");
            rec.body_text = xstrdup("fresh words");
            CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
            record_free(&rec);
            CHECK_STR(found_by(cat, "subject", "uberweisung"), "Renamed Überweisung");
            CHECK_STR(found_by(cat, "text", "fresh"), "Renamed Überweisung");
            CHECK_STR(found_by(cat, "text", "team"), "");
            CHECK_STR(found_by(cat, "to", "@xcorp.example"), "Renamed Überweisung");
            free(id);
        }
    }
    /* an address or domain in 50,000 rows or more is tested message by
     * message (pg_catalog_search.c): the same answers */
    CHECK(sql_exec("INSERT INTO recipients (message, address, rdomain)"
                   " SELECT m.id, 'u' || i || '@Dense.Example', 'elpmaxe.esned'"
                   " FROM messages m, generate_series(1, 25000) i"
                   " WHERE m.queue_id IN ('QSEM1', 'QSEM2');"
                   "INSERT INTO header_addresses (message, field, position, address, rdomain)"
                   " SELECT m.id, 'from', 1, 'Same@Dense.Example', 'elpmaxe.esned'"
                   " FROM messages m, generate_series(1, 50000) i WHERE m.queue_id = 'QSEM3';"
                   "ANALYZE recipients, header_addresses"));
    CHECK_STR(found_by(cat, "to", "@dense.example"), "Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "to", "@example"), "Renamed Überweisung,Lunch,Réunion budget");
    CHECK_STR(found_by(cat, "from", "@dense.example"), "Renamed Überweisung");
    CHECK_STR(found_by(cat, "from", "same@dense.example"), "Renamed Überweisung");
    CHECK_STR(found_by(cat, "to", "u7@dense.example"), "Lunch,Réunion budget");
    memset(&q, 0, sizeof(q));
    q.to = "@dense.example";
    q.text = "budget";
    CHECK_STR(found(cat, &q), "Réunion budget");
    CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 1);

    /* the stored words are the folded ones, with their columns' weights */
    CHECK(sql_is("SELECT fts::text FROM messages WHERE queue_id = $1", "QSEM2",
                 "'here':4B 'lunch':1A 'nothing':3B"));
    CHECK(sql_is(
        "SELECT envelope_from_rdomain || ' ' || (SELECT string_agg(rdomain, ' '"
        " ORDER BY id) FROM recipients r WHERE r.message = m.id AND rdomain <> 'elpmaxe.esned')"
        " FROM messages m"
        " WHERE queue_id = $1",
        "QSEM1", "elpmaxe.proc.liam elpmaxe.proc.bus elpmaxe.etal"));
}

/* A text source whose store is down. */
static enum tab_result store_down(void *ctx, const char *store, const char *location,
                                  struct archive_record *rec, const char **error_r)
{
    (void)ctx;
    (void)store;
    (void)location;
    (void)rec;
    *error_r = "the store is down";
    return TAB_RETRY;
}

/* A message with one attachment (type, name), its stored copy's text as
 * the indexer reads it (NULL: the store never had it); its archive id. */
static void attach_add(struct conformance *conf, const char *queue_id, const char *subject,
                       const char *body, const char *type, const char *name, const char *copy_text,
                       char id[ARCHIVE_ID_SIZE])
{
    struct archive_record rec;

    conf_record(&rec, queue_id, CONF_SHA_A, "alice@example.org");
    rec.subject = xstrdup(subject);
    rec.body_text = xstrdup(body);
    record_add_rcpt(&rec, "bob@example.com", NULL, NULL, NULL);
    record_add_attachment(&rec, name, type);
    memcpy(id, rec.archive_id, ARCHIVE_ID_SIZE);
    conf_add(conf, &rec);
    for (size_t i = 0; i < conf_store_locations.n; i++)
        if (strcmp(conf_store_locations.v[i], rec.location) == 0) {
            free(conf_store_bodies.v[i]);
            conf_store_bodies.v[i] = xstrdup(copy_text != NULL ? copy_text : "");
            if (copy_text == NULL) /* gone: the text source answers TAB_PERM */
                conf_store_locations.v[i][0] = '-';
        }
    record_free(&rec);
}

#define PENDING                                                                                    \
    "SELECT string_agg(m.archive_id, ',' ORDER BY m.id) FROM attachment_text_pending p"            \
    " JOIN messages m ON m.id = p.message"

/*
 * The text inside attachments (schema version 9): add() queues a message
 * with an attachment that may hold text, and only such a message; until
 * index_pending() it is found by its subject and body, not by what the
 * attachment says; then by both, --subject still only by its subject;
 * the queue empties, a second run does nothing; a copy the store cannot
 * read now keeps its row, one that is gone for good loses it; a later
 * copy keeps the words, reindex() queues again; stats and index check
 * count the queue.
 */
static void test_attachment_text(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    struct catalog_index_report rep;
    struct catalog_stats st;
    struct archive_record rec;
    char pdf[ARCHIVE_ID_SIZE], jpg[ARCHIVE_ID_SIZE], gone[ARCHIVE_ID_SIZE];
    const char *error = NULL;
    char *want;
    int64_t left = -1;
    int done = -1;

    CHECK(catalog_can(cat, CATALOG_CAN_INDEX_PENDING));
    attach_add(conf, "4Att1", "invoice attached", "please pay", "application/pdf", "inv.pdf",
               "please pay Invoice INV-2026-777 kumquat", pdf);
    attach_add(conf, "4Att2", "holiday photo", "see the photo", "image/jpeg", "beach.jpg",
               "see the photo", jpg);
    attach_add(conf, "4Att3", "lost scan", "a scan", "application/octet-stream", "scan.bin", NULL,
               gone);
    want = xasprintf("%s,%s", pdf, gone);
    CONF_CHECK_SQL(conf, PENDING, NULL, want);
    free(want);
    CHECK_STR(conf_only(cat, "text", "pay"), pdf);
    CHECK_STR(conf_only(cat, "text", "kumquat"), "");

    /* counting only; then a store that is down keeps every row */
    CHECK(catalog_index_pending(cat, 0, &done, &left, &error) == TAB_OK && done == 0 && left == 2);
    CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.text_pending == 2);
    memset(&rep, 0, sizeof(rep));
    CHECK(catalog_index_check(cat, &rep, NULL, NULL, &error) == TAB_OK);
    CHECK(rep.pending == 2 && rep.damaged == 0 && rep.unindexed == 0 && rep.messages == 3);
    catalog_set_text_source(cat, store_down, NULL);
    CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_RETRY);
    CHECK(error != NULL && strstr(error, "the store is down") != NULL);
    catalog_set_text_source(cat, NULL, NULL);
    CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_RETRY);
    CHECK(catalog_stats(cat, &st, NULL, NULL, &error) == TAB_OK && st.text_pending == 2);

    /* the indexer's run: the PDF's words, the lost copy dropped */
    catalog_set_text_source(cat, conf_text_source, NULL);
    CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_OK && done == 2 && left == 0);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM attachment_text_pending", NULL, "0");
    CHECK_STR(conf_only(cat, "text", "kumquat"), pdf);
    CHECK_STR(conf_only(cat, "text", "INV-2026-777"), pdf);
    CHECK_STR(conf_only(cat, "text", "\"invoice attached\""), pdf);
    CHECK_STR(conf_only(cat, "subject", "kumquat"), "");
    CHECK_STR(conf_only(cat, "subject", "invoice attached"), pdf);
    CHECK_STR(conf_only(cat, "text", "scan"), gone); /* its delivery's words */
    CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_OK && done == 0 && left == 0);
    memset(&rep, 0, sizeof(rep));
    CHECK(catalog_index_check(cat, &rep, NULL, NULL, &error) == TAB_OK);
    CHECK(rep.pending == 0 && rep.damaged == 0 && rep.unindexed == 0);

    /* a later copy with a new recipient keeps the words */
    conf_record(&rec, "4Att1", CONF_SHA_A, "alice@example.org");
    record_add_rcpt(&rec, "carol@example.com", NULL, NULL, NULL);
    record_add_attachment(&rec, "inv.pdf", "application/pdf");
    conf_add(conf, &rec);
    record_free(&rec);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM attachment_text_pending", NULL, "0");
    CHECK_STR(conf_only(cat, "text", "kumquat"), pdf);
    CHECK_STR(conf_only(cat, "to", "carol@example.com"), pdf);

    /* reindex(): the words of the record given, queued again */
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, pdf, sizeof(pdf));
    rec.subject = xstrdup("invoice attached");
    rec.body_text = xstrdup("please pay");
    record_add_attachment(&rec, "inv.pdf", "application/pdf");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    CONF_CHECK_SQL(conf, PENDING, NULL, pdf);
    CHECK_STR(conf_only(cat, "text", "kumquat"), "");
    CHECK(catalog_index_pending(cat, 50, &done, &left, &error) == TAB_OK && done == 1 && left == 0);
    CHECK_STR(conf_only(cat, "text", "kumquat"), pdf);

    /* reindexed as degraded: off the queue, no words from its copy */
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, pdf, sizeof(pdf));
    rec.subject = xstrdup("invoice attached");
    record_add_attachment(&rec, "inv.pdf", "application/pdf");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    CONF_CHECK_SQL(conf, PENDING, NULL, pdf);
    memset(&rec, 0, sizeof(rec));
    memcpy(rec.archive_id, pdf, sizeof(pdf));
    rec.index_status = INDEX_DEGRADED;
    rec.index_note = xstrdup("test");
    CHECK(catalog_reindex(cat, &rec, &error) == TAB_OK);
    record_free(&rec);
    CONF_CHECK_SQL(conf, "SELECT count(*) FROM attachment_text_pending", NULL, "0");
    CHECK_STR(conf_only(cat, "text", "kumquat"), "");
    (void)jpg;
}

/*
 * tabularium db upgrade from version 6: the words of the messages already
 * there come from their subject, body_text and address rows, the reversed
 * domains are filled in, and body_text goes.
 */
static void test_upgrade_from_6(void)
{
    struct catalog *cat;
    const char *error = NULL, *err = NULL;
    char *ci, *sp;
    PGconn *pg;
    PGresult *res;
    int from, to;

    CHECK(sql_exec("DROP DATABASE IF EXISTS tab_unit_v6"));
    CHECK(sql_exec("CREATE DATABASE tab_unit_v6"));
    ci = conninfo_for("tab_unit_v6");
    sp = xasprintf("pgsql:%s", ci);
    pg = pg_conn_connect_plain(ci, &err);
    CHECK(pg != NULL);
    if (pg == NULL)
        goto out;
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    CHECK(pg_schema_migrate(pg, 6, 1, &from, &to, &err) == 0 && to == 6);
    /* 1200 messages: more than one batch */
    res = PQexec(pg, "INSERT INTO messages (archive_id, queue_id, sha256, envelope_from,"
                     " envelope_status, arrival, size, subject, body_text)"
                     " SELECT 'V6' || lpad(i::text, 18, '0'), 'Q' || i, 'aa', 'Sender' || i ||"
                     " '@Old.Example', 'complete', to_timestamp(1700000000 + i), 10,"
                     " CASE WHEN i = 7 THEN 'Grüße aus Köln' ELSE 'subject ' || i END,"
                     " CASE WHEN i = 7 THEN 'Die Straße 東京都' ELSE 'body' END"
                     " FROM generate_series(1, 1200) i;"
                     "INSERT INTO recipients (message, address) SELECT id, 'rcpt@Sub.Dest.Example'"
                     " FROM messages;"
                     "INSERT INTO header_addresses (message, field, position, name, address)"
                     " SELECT id, 'from', 0, 'Hélène Old', 'helene@old.example' FROM messages"
                     " WHERE queue_id = 'Q7';"
                     /* 6,000 images (more than one batch), then what may hold text */
                     "INSERT INTO attachments (message, position, filename, content_type)"
                     " SELECT id, g, 'img' || g || '.png', 'image/png' FROM messages,"
                     " generate_series(1, 5) g;"
                     "INSERT INTO attachments (message, position, filename, content_type)"
                     " SELECT id, 9, 'scan.PDF', 'application/octet-stream' FROM messages"
                     " WHERE queue_id = 'Q7';"
                     "INSERT INTO attachments (message, position, filename, content_type)"
                     " SELECT id, g, 'a.docx', NULL FROM messages, generate_series(10, 11) g"
                     " WHERE queue_id = 'Q1199'");
    CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    CHECK(pg_schema_migrate(pg, PG_SCHEMA_VERSION, 0, &from, &to, &err) == 0 && from == 6 &&
          to == PG_SCHEMA_VERSION);
    if (err != NULL)
        fprintf(stderr, "upgrade: %s\n", err);
    cat = catalog_open(sp, NULL, &error);
    CHECK(cat != NULL);
    if (cat != NULL) {
        PGconn *saved = admin;
        struct search_query q;
        long long n = 0;

        admin = pg;
        CHECK_STR(found_by(cat, "text", "strasse 京都"), "Grüße aus Köln");
        CHECK_STR(found_by(cat, "subject", "GRUSSE"), "Grüße aus Köln");
        CHECK_STR(found_by(cat, "from", "helene"), "Grüße aus Köln");
        CHECK_STR(found_by(cat, "from", "HELENE@old.example"), "Grüße aus Köln");
        CHECK_STR(found_by(cat, "from", "sender7@old.example"), "Grüße aus Köln");
        memset(&q, 0, sizeof(q));
        q.from = "@old.example";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 1200);
        q.from = NULL;
        q.to = "@dest.example";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 1200);
        q.to = NULL;
        q.text = "body";
        CHECK(catalog_count(cat, &q, &n, &error) == TAB_OK && n == 1199);
        /* version 9: the messages with an attachment that may hold text */
        CHECK(sql_is("SELECT string_agg(m.queue_id, ',' ORDER BY m.id) FROM"
                     " attachment_text_pending p JOIN messages m ON m.id = p.message",
                     NULL, "Q7,Q1199"));
        CHECK(sql_is("SELECT count(*) FROM information_schema.columns WHERE table_name ="
                     " 'messages' AND column_name = 'body_text'",
                     NULL, "0"));
        CHECK(sql_is("SELECT count(*) FROM messages WHERE fts = ''::tsvector"
                     " OR envelope_from_rdomain <> 'elpmaxe.dlo'",
                     NULL, "0"));
        admin = saved;
        catalog_close(&cat);
    }
    PQfinish(pg);
out:
    CHECK(sql_exec("DROP DATABASE tab_unit_v6 WITH (FORCE)"));
    free(ci);
    free(sp);
}

/* Start a private server with tests/lib/pg.sh; 0 and conninfo set, or -1. */
static int start_server(const char *dir)
{
    char *cmd, *file;
    size_t len;
    char *text;

    snprintf(pg_sh, sizeof(pg_sh), "%s", __FILE__);
    *strrchr(pg_sh, '/') = '\0';
    strncat(pg_sh, "/../lib/pg.sh", sizeof(pg_sh) - strlen(pg_sh) - 1);
    snprintf(server_dir, sizeof(server_dir), "%s/pg", dir);
    file = xasprintf("%s/conninfo", dir);
    cmd = xasprintf("bash '%s' start '%s' >'%s'", pg_sh, server_dir, file);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot start a PostgreSQL server: %s\n", cmd);
        free(cmd);
        free(file);
        server_dir[0] = '\0';
        return -1;
    }
    free(cmd);
    text = check_slurp(file, &len);
    free(file);
    if (text == NULL || len == 0) {
        free(text);
        return -1;
    }
    text[strcspn(text, "\n")] = '\0';
    snprintf(conninfo, sizeof(conninfo), "%s", text);
    free(text);
    return 0;
}

static void stop_server(void)
{
    char *cmd;

    if (server_dir[0] == '\0')
        return;
    cmd = xasprintf("bash '%s' destroy '%s'", pg_sh, server_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot stop the server in %s\n", server_dir);
    free(cmd);
}

int main(void)
{
    const char *dir = check_tmpdir("test_catalog_pgsql");
    const char *env = getenv("TAB_PGSQL_CONNINFO");
    const char *error = NULL;
    struct catalog *cat;
    const char *err = NULL;
    int from, to;

    log_init("test_catalog_pgsql", 1, 0);
    if (env != NULL && *env != '\0') {
        snprintf(conninfo, sizeof(conninfo), "%s", env);
    } else if (start_server(dir) < 0) {
        CHECK(!"a PostgreSQL server for the test");
        return check_done();
    }
    snprintf(spec, sizeof(spec), "pgsql:%s", conninfo);
    admin = pg_conn_connect_plain(conninfo, &err);
    CHECK(admin != NULL);
    if (admin == NULL) {
        fprintf(stderr, "%s\n", err);
        stop_server();
        return check_done();
    }
    PQclear(PQexec(admin, "SET client_min_messages = warning"));
    CHECK(pg_schema_migrate(admin, PG_SCHEMA_VERSION, 1, &from, &to, &err) == 0);
    if (err != NULL)
        fprintf(stderr, "%s\n", err);

    test_redact_and_utf8();
    test_schema_refusals();
    cat = catalog_open(spec, NULL, &error);
    CHECK(cat != NULL);
    if (cat == NULL) {
        fprintf(stderr, "catalog_open: %s\n", error);
    } else {
        CHECK_STR(catalog_name(cat), "pgsql");
        test_merge_and_get(cat);
        test_forward_status(cat);
        test_fts_and_filters(cat);
        test_commit_lost(cat);
        test_store_and_transaction(cat, dir);
        test_store_conformance(dir);
        test_hostile_values(cat);
        test_content_errors(cat);
        test_degraded_reindex(cat);
        catalog_close(&cat);
        pg_fresh("tab_unit_search", conformance_search);
        pg_fresh("tab_unit_pages", conformance_address_pages);
        pg_fresh("tab_unit_users", conformance_users);
        pg_fresh("tab_unit_words", conformance_word_pages);
        pg_fresh("tab_unit_fts", conformance_fulltext);
        pg_fresh("tab_unit_rebuild", conformance_index_rebuild);
        pg_fresh("tab_unit_semantics", sem_run);
        pg_fresh("tab_unit_attach", test_attachment_text);
        test_upgrade_from_6();
    }
    PQfinish(admin);
    stop_server();
    return check_done();
}
