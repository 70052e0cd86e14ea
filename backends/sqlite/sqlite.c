/*
 * NAME
 *	sqlite 3
 * SUMMARY
 *	SQLite catalog driver
 * SYNOPSIS
 *	archive_catalog = sqlite:/var/lib/tabularium/catalog.db
 * DESCRIPTION
 *	Owns one SQLite database file: its versioned schema (PRAGMA
 *	user_version, documented in docs/schema.md as a public interface
 *	that operators query with sqlite3), its connection settings and the
 *	SQL that implements struct catalog.
 *
 *	Several worker processes write the same file at once. WAL lets
 *	readers and the single writer proceed together; busy_timeout makes a
 *	writer wait for the lock instead of failing; BEGIN IMMEDIATE takes
 *	the write lock up front, so a transaction never has to upgrade a read
 *	lock (which SQLite may refuse without calling the busy handler).
 *	Group commit: the connection runs with synchronous=NORMAL, so COMMIT
 *	appends to the WAL without syncing while it holds the write lock;
 *	add() then fdatasync()s the WAL file itself, after the lock is
 *	released, and returns TAB_OK only when that succeeded. Workers' syncs
 *	then overlap (the file system commits them together) instead of
 *	queueing behind one lock: the commit is just as durable before 250,
 *	and the lock is held for microseconds instead of a disk flush.
 *	(SQLite still syncs the WAL before each checkpoint, and the database
 *	after it.)
 *	Statements for the per-message path are prepared once at open.
 *
 *	Full text is indexed after the delivery, not in it: add() stores
 *	the subject and body text in text_pending (plain rows, durable with
 *	the rest of the transaction) -- or, for a record with index_later
 *	(the daemon's workers), only the subject and from_store = 1 --, and
 *	index_pending(), called by the daemon's indexer (indexer/indexer.c),
 *	moves them into the FTS5 table message_text in short transactions
 *	(the FTS5 tokenizer was most of add()'s work), reading the text and
 *	attachments of from_store rows through the text source the caller
 *	set (set_text_source: the stored copy), outside the write lock.
 *	search() with a text or attachment query first indexes whatever is
 *	still pending, when the connection can write, so no caller misses a
 *	message; index_pending(cat, 0, ...) counts what it could not.
 *
 *	add_batch() is add() for several copies in one transaction (each in
 *	a savepoint, one COMMIT and one WAL sync): the daemon's catalog
 *	writer (catalog_writer/catalog_writer.c) commits what its workers sent
 *	together. wait_limit() lets it bound a lock wait by a request's age.
 *	Temporary files (statement and savepoint journals) are kept in
 *	memory.
 *
 *	Every add() ends by appending its copy to the tamper-evident chain
 *	(docs/integrity.md): it reads chain_head, hashes the copy's link
 *	(catalog_chain_hash) over the values as stored, writes seq,
 *	prev_hash and hash into the copy and moves the head, all inside the
 *	same BEGIN IMMEDIATE transaction, so concurrent workers write one
 *	chain in commit order. The integrity methods (chain walk, seals,
 *	holds, expiry, audit, stats) are not on the delivery path and
 *	prepare their statements per call; expire_remove() re-checks
 *	retention and holds inside its write transaction and records each
 *	removed link in the expired table.
 *
 *	Header and envelope text may be kilobytes long: no index covers
 *	such a column whole (schema version 7: substr(x, 1, 200)), and
 *	every lookup compares the prefix and then the exact value.
 *	messages.index_status marks a message archived with its envelope
 *	only (degraded); reindex() replaces its header fields, text and
 *	attachments later, in one write transaction, never touching what
 *	the chain covers.
 *
 *	Must never put user text into SQL: every value is a bound
 *	parameter; search() assembles its WHERE clause from constant
 *	fragments only, and escapes LIKE metacharacters in user text.
 *	Must never open a database whose schema is newer than this code.
 * DIAGNOSTICS
 *	A failure of add(), add_batch() (per copy, in its savepoint) or
 *	reindex() that the row's content causes, and would cause again (a
 *	constraint, SQLITE_TOOBIG, a type mismatch), is TAB_PERM: delivery
 *	then stores the copy with a degraded record instead of answering
 *	451 forever. Every other SQLite failure is TAB_RETRY (busy, locked,
 *	I/O, disk full, corruption, read-only: none is the client's fault),
 *	with a message "sqlite PATH: WHAT: SQLITE MESSAGE". get(), hold()
 *	and reindex() of an unknown archive id are TAB_PERM, as is
 *	expire_remove() of a message that is held, unknown or not past its
 *	retention. Open errors are returned in
 *	a static buffer that stays valid until the next catalog_sqlite_open().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backends/catalog.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"

#define SQLITE_SCHEMA_VERSION 7
#define SQLITE_BUSY_TIMEOUT_MS 30000
/* One index_pending() transaction holds the write lock that deliveries
 * wait for: it moves at most this many rows, and stops adding rows once
 * it has moved this much text. */
#define SQLITE_INDEX_BATCH_ROWS 50
#define SQLITE_INDEX_BATCH_BYTES (2 * 1024 * 1024)
/* How long search() indexes pending text before a full-text query. */
#define SQLITE_SEARCH_INDEX_MS 30000

/*
 * Schema steps: sqlite_schema_steps[v] upgrades version v to v + 1. The
 * step and the new user_version commit in one transaction, so a crash
 * leaves either the old or the new schema. The versions are documented in
 * docs/schema.md; backends/sqlite/schema.sql is a reference copy of the
 * result.
 */
static const char sqlite_schema_v1[] =
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY,"
    " archive_id TEXT NOT NULL UNIQUE,"
    " queue_id TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " message_id TEXT,"
    " envelope_from TEXT NOT NULL,"
    " envelope_status TEXT NOT NULL CHECK (envelope_status IN ('complete', 'incomplete')),"
    " date TEXT,"
    " date_raw TEXT,"
    " subject TEXT,"
    " subject_raw TEXT,"
    " arrival TEXT NOT NULL,"
    " size INTEGER NOT NULL,"
    " mail_params TEXT,"
    " xforward TEXT);"
    "CREATE UNIQUE INDEX messages_queue_sha ON messages (queue_id, sha256)"
    " WHERE queue_id <> '';"
    "CREATE INDEX messages_message_id ON messages (message_id);"
    "CREATE INDEX messages_when ON messages (COALESCE(date, arrival));"
    "CREATE TABLE copies ("
    " id INTEGER PRIMARY KEY,"
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " archive_id TEXT NOT NULL UNIQUE,"
    " store TEXT NOT NULL,"
    " location TEXT NOT NULL,"
    " wrapped_sha256 TEXT NOT NULL,"
    " wrapped_size INTEGER NOT NULL,"
    " stored TEXT NOT NULL);"
    "CREATE INDEX copies_message ON copies (message);"
    "CREATE TABLE recipients ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " address TEXT NOT NULL COLLATE NOCASE,"
    " archive_rcpt TEXT,"
    " orcpt TEXT,"
    " notify TEXT,"
    " copy INTEGER REFERENCES copies (id),"
    " UNIQUE (message, address));"
    "CREATE INDEX recipients_address ON recipients (address);"
    "CREATE INDEX recipients_copy ON recipients (copy);"
    "CREATE TABLE header_addresses ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " field TEXT NOT NULL CHECK (field IN ('from', 'to', 'cc')),"
    " position INTEGER NOT NULL,"
    " name TEXT,"
    " address TEXT);"
    "CREATE INDEX header_addresses_message ON header_addresses (message, field, position);"
    "CREATE VIEW message_overview AS"
    " SELECT m.id, m.archive_id, m.queue_id,"
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"
    "  m.envelope_from,"
    "  (SELECT group_concat(COALESCE(h.address, h.name), ', ') FROM header_addresses h"
    "    WHERE h.message = m.id AND h.field = 'from') AS header_from,"
    "  (SELECT group_concat(r.address, ', ') FROM recipients r"
    "    WHERE r.message = m.id) AS recipients,"
    "  (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"
    "  m.subject, m.message_id, m.size, m.envelope_status,"
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies"
    " FROM messages m;";

/*
 * Version 2: full-text search and attachments. message_text keeps its own
 * copy of the text (not contentless): SQLite 3.40 (Debian 12) cannot
 * delete a row from a contentless FTS5 table without the original text,
 * and expiring a message must remove its words from the index too.
 * Messages archived before the upgrade are searchable by subject only.
 */
static const char sqlite_schema_v2[] =
    "CREATE VIRTUAL TABLE message_text USING fts5(subject, body,"
    " tokenize = 'unicode61 remove_diacritics 2');"
    "INSERT INTO message_text (rowid, subject, body) SELECT id, subject, NULL FROM messages;"
    "CREATE TABLE attachments ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " position INTEGER NOT NULL,"
    " filename TEXT,"
    " content_type TEXT NOT NULL);"
    "CREATE INDEX attachments_message ON attachments (message, position);";

/*
 * Version 3: what became of each copy forwarded to forward_recipient
 * (forwarder/forwarder.c, tabularium queue): one row per copy, replaced by
 * each outcome. No foreign key: the forwarder may report on a copy whose
 * catalog commit failed (delivery withdrew it a moment too late).
 */
static const char sqlite_schema_v3[] = "CREATE TABLE forwards ("
                                       " archive_id TEXT PRIMARY KEY,"
                                       " status TEXT NOT NULL,"
                                       " detail TEXT,"
                                       " updated TEXT NOT NULL);";

/*
 * Version 4: integrity, retention, holds and audit (docs/integrity.md).
 * Each copy is one link of the tamper-evident chain (seq, prev_hash,
 * hash) and carries its transaction's arrival and its retain-until;
 * chain_head is the one row every add() reads and moves under the write
 * lock. Copies that exist before the upgrade are chained in id order by
 * sqlite_chain_existing() in the same transaction.
 */
static const char sqlite_schema_v4[] =
    "ALTER TABLE copies ADD COLUMN arrival TEXT;"
    "ALTER TABLE copies ADD COLUMN retain_until TEXT;"
    "ALTER TABLE copies ADD COLUMN seq INTEGER;"
    "ALTER TABLE copies ADD COLUMN prev_hash TEXT;"
    "ALTER TABLE copies ADD COLUMN hash TEXT;"
    "UPDATE copies SET arrival = (SELECT m.arrival FROM messages m WHERE m.id = copies.message);"
    "CREATE UNIQUE INDEX copies_seq ON copies (seq);"
    "CREATE INDEX copies_retain_until ON copies (retain_until);"
    "CREATE TABLE chain_head ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " seq INTEGER NOT NULL,"
    " hash TEXT NOT NULL);"
    "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '" CHAIN_GENESIS "');"
    "CREATE TABLE expired ("
    " seq INTEGER PRIMARY KEY,"
    " archive_id TEXT NOT NULL,"
    " message_archive_id TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " retain_until TEXT,"
    " expired TEXT NOT NULL,"
    " operator TEXT NOT NULL);"
    "CREATE TABLE seals ("
    " id INTEGER PRIMARY KEY,"
    " sealed TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " hash TEXT NOT NULL);"
    "CREATE TABLE holds ("
    " archive_id TEXT NOT NULL,"
    " case_name TEXT NOT NULL,"
    " added TEXT NOT NULL,"
    " operator TEXT NOT NULL,"
    " PRIMARY KEY (archive_id, case_name));"
    "CREATE INDEX holds_case ON holds (case_name);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at TEXT NOT NULL,"
    " operator TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " detail TEXT);";

/*
 * Version 5: full-text indexing off the delivery path. add() stores the
 * subject and body text in text_pending, in its own transaction (so the
 * text is as durable as the rest of the message before the 250);
 * index_pending() (indexer/indexer.c, and search() before a --text query)
 * moves rows from there into message_text. Every message in
 * text_pending is a message whose words search cannot match yet.
 */
static const char sqlite_schema_v5[] = "CREATE TABLE text_pending ("
                                       " message INTEGER PRIMARY KEY REFERENCES messages (id),"
                                       " subject TEXT,"
                                       " body TEXT);";

/*
 * Version 6: the daemon's workers no longer extract body text and
 * attachments (record.index_later): text_pending.from_store = 1 marks a
 * message whose text and attachments index_pending() reads from its first
 * stored copy (through the text source indexer/indexer.c sets).
 */
static const char sqlite_schema_v6[] =
    "ALTER TABLE text_pending ADD COLUMN from_store INTEGER NOT NULL DEFAULT 0;";

/*
 * Version 7: no B-tree over raw header or envelope text, and the degraded
 * index flag. A Message-ID, a queue id or an address may be kilobytes
 * long (crafted mail, LMTP lines of 2048+ bytes): every index over such
 * text covers substr(x, 1, SQLITE_KEY_PREFIX) instead (characters, so at
 * most 800 bytes), and every lookup compares that expression and then the
 * exact value (with a unary "+", or SQLite's constant propagation
 * rewrites the prefix term away and scans). The recipients table is
 * rebuilt without its UNIQUE (message, address) constraint, whose index
 * was over the whole address: add() skips a recipient the message has
 * already (NOT EXISTS, under the write lock). The (queue id, SHA-256)
 * index is no longer UNIQUE for the same reason; add() finds the message
 * under the write lock before it creates one, as before. The view is
 * dropped and created again around the rebuild (with index_status at
 * the end): SQLite refuses to rename a table that a view names.
 * messages.index_status ('full' or 'degraded') and index_note: a
 * degraded message was archived with the envelope only (record.h).
 */
#define SQLITE_KEY_PREFIX "200"
static const char sqlite_schema_v7[] =
    "ALTER TABLE messages ADD COLUMN index_status TEXT NOT NULL DEFAULT 'full'"
    " CHECK (index_status IN ('full', 'degraded'));"
    "ALTER TABLE messages ADD COLUMN index_note TEXT;"
    "DROP INDEX messages_queue_sha;"
    "DROP INDEX messages_message_id;"
    "CREATE INDEX messages_queue_sha ON messages"
    " (sha256, substr(queue_id, 1, " SQLITE_KEY_PREFIX ")) WHERE queue_id <> '';"
    "CREATE INDEX messages_message_id ON messages (substr(message_id, 1, " SQLITE_KEY_PREFIX "));"
    "CREATE INDEX messages_degraded ON messages (id) WHERE index_status = 'degraded';"
    "DROP VIEW message_overview;"
    "CREATE TABLE recipients_v7 ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " address TEXT NOT NULL COLLATE NOCASE,"
    " archive_rcpt TEXT,"
    " orcpt TEXT,"
    " notify TEXT,"
    " copy INTEGER REFERENCES copies (id));"
    /* rowid kept: it is the recipients' order */
    "INSERT INTO recipients_v7 (rowid, message, address, archive_rcpt, orcpt, notify, copy)"
    " SELECT rowid, message, address, archive_rcpt, orcpt, notify, copy FROM recipients;"
    "DROP TABLE recipients;"
    "ALTER TABLE recipients_v7 RENAME TO recipients;"
    "CREATE INDEX recipients_message ON recipients"
    " (message, substr(address, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE);"
    "CREATE INDEX recipients_address ON recipients"
    " (substr(address, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE);"
    "CREATE INDEX recipients_copy ON recipients (copy);"
    "CREATE VIEW message_overview AS"
    " SELECT m.id, m.archive_id, m.queue_id,"
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"
    "  m.envelope_from,"
    "  (SELECT group_concat(COALESCE(h.address, h.name), ', ') FROM header_addresses h"
    "    WHERE h.message = m.id AND h.field = 'from') AS header_from,"
    "  (SELECT group_concat(r.address, ', ') FROM recipients r"
    "    WHERE r.message = m.id) AS recipients,"
    "  (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"
    "  m.subject, m.message_id, m.size, m.envelope_status,"
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,"
    "  m.index_status"
    " FROM messages m;";

static const char *const sqlite_schema_steps[SQLITE_SCHEMA_VERSION] = {
    sqlite_schema_v1, sqlite_schema_v2, sqlite_schema_v3, sqlite_schema_v4,
    sqlite_schema_v5, sqlite_schema_v6, sqlite_schema_v7,
};

/* The lookup of an exact value through an index over its prefix: the
 * prefix term for the index, the whole value for the match ("+": see
 * sqlite_schema_v7). */
#define SQLITE_KEY(col, param)                                                                     \
    "substr(" #col ", 1, " SQLITE_KEY_PREFIX ") = substr(" #param ", 1, " SQLITE_KEY_PREFIX        \
    ") AND +" #col " = " #param

/* Statements prepared once at open. */
enum sqlite_stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_FIND_MESSAGE,
    ST_FIND_MESSAGE_BY_MSGID,
    ST_INSERT_MESSAGE,
    ST_INSERT_COPY,
    ST_INSERT_RCPT,
    ST_INSERT_ADDR,
    ST_KNOWN_RCPTS,
    ST_KNOWN_RCPTS_BY_MSGID,
    ST_MESSAGE_BY_ID,
    ST_MESSAGE_BY_ARCHIVE_ID,
    ST_COPY_BY_ARCHIVE_ID,
    ST_FIRST_COPY,
    ST_COPY_BY_ID,
    ST_RCPTS,
    ST_ADDRS,
    ST_INSERT_TEXT,
    ST_PENDING_NEXT,
    ST_INDEX_TEXT,
    ST_PENDING_DELETE,
    ST_INSERT_ATTACHMENT,
    ST_ATTACHMENTS,
    ST_FORWARD_STATUS,
    ST_CHAIN_HEAD,
    ST_CHAIN_LINK_COPY,
    ST_CHAIN_SET_HEAD,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_COUNT
};

static const char *const sqlite_stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* queue_id <> '' lets the planner use the partial index; the prefix
     * term selects its entry and "+" keeps SQLite from propagating ?1
     * into it (schema version 7). */
    [ST_FIND_MESSAGE] = "SELECT id, envelope_from, size FROM messages"
                        " WHERE sha256 = ?2 AND " SQLITE_KEY(queue_id, ?1) " AND queue_id <> ''",
    /* Without a queue id (no XFORWARD, no Postfix Received:), the same
     * Message-ID and the same bytes identify the message. */
    [ST_FIND_MESSAGE_BY_MSGID] = "SELECT id, envelope_from, size FROM messages"
                                 " WHERE " SQLITE_KEY(message_id, ?1) " AND sha256 = ?2"
                                 " AND queue_id = '' ORDER BY id LIMIT 1",
    [ST_INSERT_MESSAGE] =
        "INSERT INTO messages (archive_id, queue_id, sha256, message_id, envelope_from,"
        " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
        " mail_params, xforward, index_status, index_note)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [ST_INSERT_COPY] = "INSERT INTO copies (message, archive_id, store, location,"
                       " wrapped_sha256, wrapped_size, stored, arrival, retain_until)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* Once per message, whatever the case (NOCASE column): a later
     * transaction of the message adds only its new recipients. */
    [ST_INSERT_RCPT] = "INSERT INTO recipients (message, address, archive_rcpt, orcpt, notify, copy)"
                       " SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM recipients"
                       " WHERE message = ?1 AND substr(address, 1, " SQLITE_KEY_PREFIX
                       ") = substr(?2, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE"
                       " AND +address = ?2)",
    [ST_INSERT_ADDR] = "INSERT INTO header_addresses (message, field, position, name, address)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_KNOWN_RCPTS] = "SELECT r.address FROM recipients r JOIN messages m ON m.id = r.message"
                       " WHERE m.sha256 = ?2 AND " SQLITE_KEY(m.queue_id, ?1) " AND m.queue_id <> ''"
                       " ORDER BY r.rowid",
    [ST_KNOWN_RCPTS_BY_MSGID] = "SELECT r.address FROM recipients r WHERE r.message ="
                                " (SELECT id FROM messages WHERE " SQLITE_KEY(message_id, ?1)
                                " AND sha256 = ?2 AND queue_id = '' ORDER BY id LIMIT 1)"
                                " ORDER BY r.rowid",
    [ST_MESSAGE_BY_ID] =
        "SELECT archive_id, queue_id, sha256, message_id, envelope_from, envelope_status,"
        " date, date_raw, subject, subject_raw, arrival, size, mail_params, xforward,"
        " index_status, index_note FROM messages WHERE id = ?1",
    [ST_MESSAGE_BY_ARCHIVE_ID] = "SELECT id FROM messages WHERE archive_id = ?1",
    [ST_COPY_BY_ARCHIVE_ID] = "SELECT id, message FROM copies WHERE archive_id = ?1",
    [ST_FIRST_COPY] = "SELECT store, location, wrapped_sha256, wrapped_size, retain_until"
                      " FROM copies WHERE message = ?1 ORDER BY id LIMIT 1",
    [ST_COPY_BY_ID] = "SELECT store, location, wrapped_sha256, wrapped_size, retain_until"
                      " FROM copies WHERE id = ?1",
    [ST_RCPTS] = "SELECT address, archive_rcpt, orcpt, notify FROM recipients"
                 " WHERE message = ?1 ORDER BY rowid",
    [ST_ADDRS] = "SELECT field, name, address FROM header_addresses"
                 " WHERE message = ?1 ORDER BY position, rowid",
    [ST_INSERT_TEXT] = "INSERT INTO text_pending (message, subject, body, from_store)"
                       " VALUES (?1, ?2, ?3, ?4)",
    /* With the first stored copy, where from_store text is read. */
    [ST_PENDING_NEXT] = "SELECT t.message, t.subject, t.body, t.from_store, c.store, c.location"
                        " FROM text_pending t LEFT JOIN copies c ON c.id ="
                        " (SELECT min(id) FROM copies WHERE message = t.message)"
                        " WHERE t.message > ?1 ORDER BY t.message LIMIT 1",
    [ST_INDEX_TEXT] = "INSERT INTO message_text (rowid, subject, body) VALUES (?1, ?2, ?3)",
    [ST_PENDING_DELETE] = "DELETE FROM text_pending WHERE message = ?1",
    [ST_INSERT_ATTACHMENT] = "INSERT INTO attachments (message, position, filename, content_type)"
                             " VALUES (?1, ?2, ?3, ?4)",
    [ST_ATTACHMENTS] = "SELECT filename, content_type FROM attachments"
                       " WHERE message = ?1 ORDER BY position",
    [ST_FORWARD_STATUS] = "INSERT INTO forwards (archive_id, status, detail, updated)"
                          " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (archive_id) DO UPDATE"
                          " SET status = excluded.status, detail = excluded.detail,"
                          " updated = excluded.updated",
    [ST_CHAIN_HEAD] = "SELECT seq, hash FROM chain_head WHERE id = 1",
    [ST_CHAIN_LINK_COPY] = "UPDATE copies SET seq = ?1, prev_hash = ?2, hash = ?3 WHERE id = ?4",
    [ST_CHAIN_SET_HEAD] = "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1",
    /* One record of an add_batch() transaction. */
    [ST_SAVEPOINT] = "SAVEPOINT add_one",
    [ST_RELEASE] = "RELEASE add_one",
    [ST_ROLLBACK_TO] = "ROLLBACK TO add_one",
};

struct sqlite_catalog {
    struct catalog cat; /* first: the driver is handed out as struct catalog */
    sqlite3 *db;
    char *path;
    char *error;                /* last error, owned; what *error_r points at */
    char *wal_path;             /* PATH-wal */
    int wal_fd;                 /* open on wal_path for fdatasync, or -1 */
    catalog_text_fn *text_fn;   /* index_pending(): text of from_store rows */
    sqlite3_int64 data_version; /* changed(): the last PRAGMA data_version, or 0 */
    void *text_ctx;
    int wal_pending; /* a commit's durability is unconfirmed (its sync failed) */
    sqlite3_stmt *st[ST_COUNT];
};

static char sqlite_open_error[1024];

static struct sqlite_catalog *sqlite_catalog_of(struct catalog *cat)
{
    return (struct sqlite_catalog *)cat;
}

static enum tab_result sqlite_fail(struct sqlite_catalog *sc, enum tab_result r,
                                   const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum tab_result sqlite_fail(struct sqlite_catalog *sc, enum tab_result r,
                                   const char **error_r, const char *fmt, ...)
{
    va_list ap;
    char *what;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&what, fmt, ap);
    va_end(ap);
    if (n < 0)
        what = xstrdup("(out of memory formatting the error)");
    free(sc->error);
    sc->error = xasprintf("sqlite %s: %s", sc->path, what);
    free(what);
    *error_r = sc->error;
    return r;
}

/* Call right after the failing step/bind, before reset or rollback
 * replace SQLite's message. */
static enum tab_result sqlite_fail_db(struct sqlite_catalog *sc, const char **error_r,
                                      const char *what)
{
    return sqlite_fail(sc, TAB_RETRY, error_r, "%s: %s", what, sqlite3_errmsg(sc->db));
}

/*
 * What a failed statement of add() or reindex() means for the caller: the
 * row's content was refused and would be again (a constraint, a value
 * over SQLite's length limit, a type mismatch): TAB_PERM; anything else
 * (busy, locked, I/O, disk full, out of memory) may pass later:
 * TAB_RETRY. rc: sqlite3_extended_errcode() right after the failure.
 */
static enum tab_result sqlite_classify(int rc)
{
    switch (rc & 0xFF) {
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return TAB_PERM;
    default:
        return TAB_RETRY;
    }
}

static void sqlite_stmt_done(sqlite3_stmt *st)
{
    /* reset() repeats the step's error code, already handled by the caller. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* Bind s, or NULL when s is NULL. The caller keeps s alive until
 * sqlite_stmt_done(), so SQLite need not copy it. */
static int sqlite_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static char *sqlite_column_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s;

    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    s = sqlite3_column_text(st, i);
    if (s == NULL) /* out of memory converting to text */
        return NULL;
    return xstrndup((const char *)s, (size_t)sqlite3_column_bytes(st, i));
}

/* Copy a text column into a fixed buffer ("" when NULL, truncated to fit). */
static void sqlite_column_copy(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, size, "%s", s ? (const char *)s : "");
}

/* A time column ("YYYY-MM-DDTHH:MM:SSZ"); 0 for NULL or malformed. */
static time_t sqlite_column_time(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    time_t t;

    if (s == NULL || record_parse_time((const char *)s, &t) < 0)
        return 0;
    return t;
}

/* The original failure is what the caller reports; a failed ROLLBACK is
 * only logged (SQLite rolls back a hot journal on the next open anyway). */
static void sqlite_rollback(struct sqlite_catalog *sc)
{
    int rc;

    if (sqlite3_get_autocommit(sc->db))
        return; /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    rc = sqlite3_step(sc->st[ST_ROLLBACK]);
    if (rc != SQLITE_DONE)
        log_error("sqlite %s: rollback: %s", sc->path, sqlite3_errmsg(sc->db));
    sqlite_stmt_done(sc->st[ST_ROLLBACK]);
}

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
        struct record_addrs *a;

        if (field == NULL)
            continue;
        if (strcmp(field, "from") == 0)
            a = &rec->hdr_from;
        else if (strcmp(field, "to") == 0)
            a = &rec->hdr_to;
        else if (strcmp(field, "cc") == 0)
            a = &rec->hdr_cc;
        else
            continue; /* the CHECK constraint makes this unreachable */
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
        sqlite_stmt_done(sc->st[ST_MESSAGE_BY_ID]);
        sqlite_stmt_done(sc->st[ST_FIRST_COPY]);
        sqlite_stmt_done(sc->st[ST_COPY_BY_ID]);
        sqlite_stmt_done(sc->st[ST_RCPTS]);
        sqlite_stmt_done(sc->st[ST_ADDRS]);
        sqlite_stmt_done(sc->st[ST_ATTACHMENTS]);
        record_free(rec);
    }
    free(arrival);
    return r;
}

/*
 * Make every committed transaction durable: fdatasync the WAL through our
 * own descriptor (reopened if SQLite replaced the file). Called after
 * COMMIT, outside the write lock. A missing WAL means a checkpoint has
 * moved everything into the database file, which SQLite synced.
 */
static int sqlite_sync_wal(struct sqlite_catalog *sc)
{
    struct stat fst, pst;

    if (sc->wal_fd >= 0 && (stat(sc->wal_path, &pst) < 0 || fstat(sc->wal_fd, &fst) < 0 ||
                            fst.st_ino != pst.st_ino || fst.st_dev != pst.st_dev)) {
        close(sc->wal_fd);
        sc->wal_fd = -1;
    }
    if (sc->wal_fd < 0) {
        sc->wal_fd = open(sc->wal_path, O_RDONLY | O_CLOEXEC);
        if (sc->wal_fd < 0) {
            if (errno != ENOENT)
                goto fail;
            sc->wal_pending = 0;
            return 0;
        }
    }
    if (fdatasync(sc->wal_fd) < 0)
        goto fail;
    sc->wal_pending = 0;
    return 0;
fail:
    sc->wal_pending = 1;
    return -1;
}

static enum tab_result sqlite_known_recipients(struct catalog *cat, const char *queue_id,
                                               const char *sha256, const char *message_id,
                                               struct strlist *rcpts_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = sc->st[ST_KNOWN_RCPTS];
    enum tab_result r = TAB_OK;
    int rc;

    if (queue_id == NULL || *queue_id == '\0') {
        if (message_id == NULL || *message_id == '\0')
            return TAB_OK;
        queue_id = message_id;
        st = sc->st[ST_KNOWN_RCPTS_BY_MSGID];
    }
    if (sqlite_bind_text(st, 1, queue_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, sha256) != SQLITE_OK) {
        r = sqlite_fail_db(sc, error_r, "known recipients");
        goto out;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *address = sqlite3_column_text(st, 0);
        if (address == NULL) { /* NOT NULL column: only out of memory gets here */
            r = sqlite_fail(sc, TAB_RETRY, error_r, "known recipients: %s",
                            sqlite3_errstr(SQLITE_NOMEM));
            goto out;
        }
        strlist_add(rcpts_r, (const char *)address);
    }
    if (rc != SQLITE_DONE)
        r = sqlite_fail_db(sc, error_r, "known recipients");
    /* "Already archived" must mean durable too, also after a failed sync. */
    if (r == TAB_OK && rcpts_r->n > 0 && sc->wal_pending && sqlite_sync_wal(sc) < 0)
        r = sqlite_fail(sc, TAB_RETRY, error_r, "sync %s: %s", sc->wal_path, strerror(errno));
out:
    sqlite_stmt_done(st);
    return r;
}

/* Step an INSERT (or other statement without rows) and reset it. */
static int sqlite_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        sqlite_stmt_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int sqlite_insert_addrs(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                               const char *field, const struct record_addrs *a)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_ADDR];

    for (size_t i = 0; i < a->n; i++) {
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, field) != SQLITE_OK ||
            sqlite3_bind_int64(st, 3, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite_bind_text(st, 4, a->v[i].name) != SQLITE_OK ||
            sqlite_bind_text(st, 5, a->v[i].address) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            return -1;
    }
    return 0;
}

static int sqlite_insert_attachments(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                                     const struct archive_record *rec)
{
    sqlite3_stmt *st = sc->st[ST_INSERT_ATTACHMENT];

    for (size_t i = 0; i < rec->n_attachments; i++) {
        const struct record_attachment *a = &rec->attachments[i];
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, (sqlite3_int64)i) != SQLITE_OK ||
            sqlite_bind_text(st, 3, a->filename) != SQLITE_OK ||
            sqlite_bind_text(st, 4,
                             a->content_type ? a->content_type : "application/octet-stream") !=
                SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            return -1;
    }
    return 0;
}

/*
 * Make link (filled but for seq and hashes) the new head of the chain:
 * read the head, hash, write seq/prev_hash/hash into copy copy_id, move
 * the head. Inside the caller's write transaction. -1: see sqlite3_errmsg.
 */
static int sqlite_chain_append(struct sqlite_catalog *sc, sqlite3_int64 copy_id,
                               struct chain_link *link)
{
    sqlite3_stmt *st = sc->st[ST_CHAIN_HEAD];

    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite_stmt_done(st);
        return -1;
    }
    link->seq = sqlite3_column_int64(st, 0) + 1;
    sqlite_column_copy(st, 1, link->prev_hash, sizeof(link->prev_hash));
    sqlite_stmt_done(st);
    catalog_chain_hash(link, link->hash);

    st = sc->st[ST_CHAIN_LINK_COPY];
    if (sqlite3_bind_int64(st, 1, link->seq) != SQLITE_OK ||
        sqlite_bind_text(st, 2, link->prev_hash) != SQLITE_OK ||
        sqlite_bind_text(st, 3, link->hash) != SQLITE_OK ||
        sqlite3_bind_int64(st, 4, copy_id) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    st = sc->st[ST_CHAIN_SET_HEAD];
    if (sqlite3_bind_int64(st, 1, link->seq) != SQLITE_OK ||
        sqlite_bind_text(st, 2, link->hash) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        return -1;
    return 0;
}

/* The rows of one stored copy, inside the caller's write transaction. On
 * failure the statements are reset and the caller rolls back. */
static enum tab_result sqlite_add_rows(struct sqlite_catalog *sc,
                                       const struct archive_record *given, const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    const char *queue_id = rec->queue_id ? rec->queue_id : "";
    const char *what = "find message";
    sqlite3_stmt *st;
    sqlite3_int64 message_id = 0, copy_id;
    char arrival[21], stored[21], retain_until[21];
    struct chain_link link;
    int created = 0, rc;
    enum tab_result r = TAB_OK;
    char *note;

    if (rec->store == NULL || rec->location == NULL)
        return sqlite_fail(sc, TAB_PERM, error_r, "add %s: record has no store location",
                           rec->archive_id);
    if (rec->size > INT64_MAX || rec->wrapped_size > INT64_MAX)
        return sqlite_fail(sc, TAB_PERM, error_r, "add %s: size out of range", rec->archive_id);
    record_format_time(rec->arrival, arrival);
    record_format_time(time(NULL), stored);
    record_format_time(rec->retain_until, retain_until);
    note = catalog_index_note(rec);

    /* The chain link of this copy, with the values as stored. */
    memset(&link, 0, sizeof(link));
    snprintf(link.archive_id, sizeof(link.archive_id), "%s", rec->archive_id);
    link.arrival = rec->arrival;
    link.queue_id = xstrdup(queue_id);
    link.envelope_from = xstrdup(rec->envelope_from ? rec->envelope_from : "");
    snprintf(link.sha256, sizeof(link.sha256), "%s", rec->sha256);
    link.size = rec->size;
    snprintf(link.wrapped_sha256, sizeof(link.wrapped_sha256), "%s", rec->wrapped_sha256);
    link.wrapped_size = rec->wrapped_size;
    link.store = xstrdup(rec->store);
    link.location = xstrdup(rec->location);
    link.retain_until = rec->retain_until;

    if (*queue_id != '\0' || (rec->message_id != NULL && *rec->message_id != '\0')) {
        st = sc->st[*queue_id != '\0' ? ST_FIND_MESSAGE : ST_FIND_MESSAGE_BY_MSGID];
        if (sqlite_bind_text(st, 1, *queue_id != '\0' ? queue_id : rec->message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, rec->sha256) != SQLITE_OK)
            goto db_error;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            /* The chain records the message as stored by its first copy. */
            message_id = sqlite3_column_int64(st, 0);
            free(link.envelope_from);
            link.envelope_from = sqlite_column_dup(st, 1);
            if (link.envelope_from == NULL)
                link.envelope_from = xstrdup("");
            link.size = (uint64_t)sqlite3_column_int64(st, 2);
        } else if (rc != SQLITE_DONE) {
            goto db_error;
        }
        sqlite_stmt_done(st);
    }

    if (message_id == 0) {
        what = "insert message";
        st = sc->st[ST_INSERT_MESSAGE];
        if (sqlite_bind_text(st, 1, rec->archive_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, queue_id) != SQLITE_OK ||
            sqlite_bind_text(st, 3, rec->sha256) != SQLITE_OK ||
            sqlite_bind_text(st, 4, rec->message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 5, rec->envelope_from ? rec->envelope_from : "") != SQLITE_OK ||
            sqlite_bind_text(st, 6,
                             rec->envelope_status ? rec->envelope_status : ENVELOPE_INCOMPLETE) !=
                SQLITE_OK ||
            sqlite_bind_text(st, 7, rec->date) != SQLITE_OK ||
            sqlite_bind_text(st, 8, rec->date_raw) != SQLITE_OK ||
            sqlite_bind_text(st, 9, rec->subject) != SQLITE_OK ||
            sqlite_bind_text(st, 10, rec->subject_raw) != SQLITE_OK ||
            sqlite_bind_text(st, 11, arrival) != SQLITE_OK ||
            sqlite3_bind_int64(st, 12, (sqlite3_int64)rec->size) != SQLITE_OK ||
            sqlite_bind_text(st, 13, rec->mail_params) != SQLITE_OK ||
            sqlite_bind_text(st, 14, rec->xforward) != SQLITE_OK ||
            sqlite_bind_text(st, 15, catalog_index_status(rec)) != SQLITE_OK ||
            sqlite3_bind_text(st, 16, note, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            goto db_error;
        message_id = sqlite3_last_insert_rowid(sc->db);
        created = 1;
    }

    what = "insert copy";
    st = sc->st[ST_INSERT_COPY];
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, rec->archive_id) != SQLITE_OK ||
        sqlite_bind_text(st, 3, rec->store) != SQLITE_OK ||
        sqlite_bind_text(st, 4, rec->location) != SQLITE_OK ||
        sqlite_bind_text(st, 5, rec->wrapped_sha256) != SQLITE_OK ||
        sqlite3_bind_int64(st, 6, (sqlite3_int64)rec->wrapped_size) != SQLITE_OK ||
        sqlite_bind_text(st, 7, stored) != SQLITE_OK ||
        sqlite_bind_text(st, 8, arrival) != SQLITE_OK ||
        sqlite_bind_text(st, 9, rec->retain_until ? retain_until : NULL) != SQLITE_OK ||
        sqlite_exec_stmt(st) < 0)
        goto db_error;
    copy_id = sqlite3_last_insert_rowid(sc->db);

    what = "insert recipient";
    st = sc->st[ST_INSERT_RCPT];
    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct record_rcpt *rcpt = &rec->rcpts[i];
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, rcpt->address ? rcpt->address : "") != SQLITE_OK ||
            sqlite_bind_text(st, 3, rcpt->archive_rcpt) != SQLITE_OK ||
            sqlite_bind_text(st, 4, rcpt->orcpt) != SQLITE_OK ||
            sqlite_bind_text(st, 5, rcpt->notify) != SQLITE_OK ||
            sqlite3_bind_int64(st, 6, copy_id) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
            goto db_error;
        /* The rows this copy added are the ones its link covers. */
        if (sqlite3_changes(sc->db) > 0)
            strlist_add(&link.rcpts, rcpt->address ? rcpt->address : "");
    }

    /* The first transaction's header is the message's header: a retried
     * transaction carries the same bytes (same SHA-256). */
    if (created) {
        what = "insert header address";
        if (sqlite_insert_addrs(sc, message_id, "from", &rec->hdr_from) < 0 ||
            sqlite_insert_addrs(sc, message_id, "to", &rec->hdr_to) < 0 ||
            sqlite_insert_addrs(sc, message_id, "cc", &rec->hdr_cc) < 0)
            goto db_error;
        what = "insert text";
        st = sc->st[ST_INSERT_TEXT];
        if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
            sqlite_bind_text(st, 2, rec->subject) != SQLITE_OK ||
            sqlite_bind_text(st, 3, rec->body_text) != SQLITE_OK ||
            sqlite3_bind_int(st, 4, rec->index_later ? 1 : 0) != SQLITE_OK ||
            sqlite_exec_stmt(st) < 0)
            goto db_error;
        what = "insert attachment";
        if (sqlite_insert_attachments(sc, message_id, rec) < 0)
            goto db_error;
    }

    /* Last, so the chain is in commit order: BEGIN IMMEDIATE already
     * serialises writers, one head row read and two row updates. */
    what = "chain";
    if (sqlite_chain_append(sc, copy_id, &link) < 0)
        goto db_error;

    catalog_chain_link_free(&link);
    free(note);
    return TAB_OK;

db_error:
    r = sqlite_fail(sc, sqlite_classify(sqlite3_extended_errcode(sc->db)), error_r,
                    "add %s: %s: %s", rec->archive_id, what, sqlite3_errmsg(sc->db));
    for (int i = 0; i < ST_COUNT; i++)
        if (i != ST_ROLLBACK && i != ST_ROLLBACK_TO)
            sqlite_stmt_done(sc->st[i]);
    catalog_chain_link_free(&link);
    free(note);
    return r;
}

/*
 * Group commit: every record in its own savepoint (one that fails is rolled
 * back alone and the others stay), then one COMMIT and one WAL sync for
 * all of them. A failed BEGIN, COMMIT or sync fails every record.
 */
static enum tab_result sqlite_add_batch(struct catalog *cat,
                                        const struct archive_record *const *recs, size_t n,
                                        enum tab_result *results, char **errors,
                                        const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    enum tab_result r = TAB_OK;
    size_t added = 0;

    for (size_t i = 0; i < n; i++) {
        results[i] = TAB_RETRY;
        errors[i] = NULL;
    }
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0) {
        r = sqlite_fail_db(sc, error_r, "add: begin");
        sqlite_stmt_done(sc->st[ST_BEGIN]);
        goto fail_all;
    }
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        if (sqlite_exec_stmt(sc->st[ST_SAVEPOINT]) < 0) {
            r = sqlite_fail_db(sc, error_r, "add: savepoint");
            sqlite_stmt_done(sc->st[ST_SAVEPOINT]);
            sqlite_rollback(sc);
            goto fail_all;
        }
        results[i] = sqlite_add_rows(sc, recs[i], &err);
        if (results[i] == TAB_OK) {
            if (sqlite_exec_stmt(sc->st[ST_RELEASE]) < 0) {
                r = sqlite_fail_db(sc, error_r, "add: release");
                sqlite_stmt_done(sc->st[ST_RELEASE]);
                sqlite_rollback(sc);
                goto fail_all;
            }
            added++;
            continue;
        }
        errors[i] = xstrdup(err);
        /* ROLLBACK TO keeps the transaction (and the savepoint) open. */
        if (sqlite3_get_autocommit(sc->db) || sqlite_exec_stmt(sc->st[ST_ROLLBACK_TO]) < 0 ||
            sqlite_exec_stmt(sc->st[ST_RELEASE]) < 0) {
            r = sqlite_fail(sc, TAB_RETRY, error_r, "add: the transaction was lost after %s",
                            errors[i]);
            sqlite_stmt_done(sc->st[ST_ROLLBACK_TO]);
            sqlite_stmt_done(sc->st[ST_RELEASE]);
            sqlite_rollback(sc);
            goto fail_all;
        }
    }
    if (added == 0) {
        sqlite_rollback(sc);
        return TAB_OK;
    }
    if (sqlite_exec_stmt(sc->st[ST_COMMIT]) < 0) {
        r = sqlite_fail_db(sc, error_r, "add: commit");
        sqlite_stmt_done(sc->st[ST_COMMIT]);
        sqlite_rollback(sc);
        goto fail_all;
    }
    if (sqlite_sync_wal(sc) < 0) {
        r = sqlite_fail(sc, TAB_RETRY, error_r, "add: sync %s: %s", sc->wal_path, strerror(errno));
        goto fail_all;
    }
    return TAB_OK;

fail_all:
    for (size_t i = 0; i < n; i++) {
        free(errors[i]);
        errors[i] = xstrdup(*error_r);
        results[i] = r == TAB_OK ? TAB_RETRY : r;
    }
    return r == TAB_OK ? TAB_RETRY : r;
}

static enum tab_result sqlite_add(struct catalog *cat, const struct archive_record *rec,
                                  const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    enum tab_result result;
    char *error = NULL;

    (void)sqlite_add_batch(cat, &rec, 1, &result, &error, error_r);
    if (result != TAB_OK) {
        free(sc->error);
        sc->error = error;
        *error_r = sc->error;
        return result;
    }
    free(error);
    return TAB_OK;
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

static enum tab_result sqlite_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                            int64_t *left_r, const char **error_r);

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

static enum tab_result sqlite_search(struct catalog *cat, const struct search_query *q,
                                     catalog_row_fn *fn, void *ctx, const char **error_r)
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

    if (q->from) {
        like_from = catalog_like_substring(q->from);
        if (sqlite_bind_named(st, ":from", like_from) != SQLITE_OK)
            goto db_error;
    }
    if (q->to) {
        like_to = catalog_like_substring(q->to);
        if (sqlite_bind_named(st, ":to", like_to) != SQLITE_OK)
            goto db_error;
    }
    if (q->subject) {
        like_subject = catalog_like_substring(q->subject);
        if (sqlite_bind_named(st, ":subject", like_subject) != SQLITE_OK)
            goto db_error;
    }
    if (q->message_id) {
        message_id = catalog_message_id_bare(q->message_id);
        if (sqlite_bind_named(st, ":message_id", message_id) != SQLITE_OK)
            goto db_error;
    }
    if (q->since) {
        record_format_time(q->since, since);
        if (sqlite_bind_named(st, ":since", since) != SQLITE_OK)
            goto db_error;
    }
    if (q->until) {
        record_format_time(q->until, until);
        if (sqlite_bind_named(st, ":until", until) != SQLITE_OK)
            goto db_error;
    }
    if (fts_match != NULL && sqlite_bind_named(st, ":text", fts_match) != SQLITE_OK)
        goto db_error;
    if (fts_pos == NULL && fts_neg != NULL &&
        sqlite_bind_named(st, ":text_not", fts_neg) != SQLITE_OK)
        goto db_error;
    if (q->attachment) {
        like_attachment = catalog_like_substring(q->attachment);
        if (sqlite_bind_named(st, ":attachment", like_attachment) != SQLITE_OK)
            goto db_error;
    }
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

static enum tab_result sqlite_get(struct catalog *cat, const char *archive_id,
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

/* One statement in autocommit mode: a status is never part of an add(). */
static enum tab_result sqlite_forward_status(struct catalog *cat, const char *archive_id,
                                             const char *status, const char *detail,
                                             const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = sc->st[ST_FORWARD_STATUS];
    char updated[21];
    enum tab_result r;

    record_format_time(time(NULL), updated);
    if (sqlite_bind_text(st, 1, archive_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, status) != SQLITE_OK ||
        sqlite_bind_text(st, 3, detail) != SQLITE_OK ||
        sqlite_bind_text(st, 4, updated) != SQLITE_OK || sqlite_exec_stmt(st) < 0) {
        r = sqlite_fail(sc, TAB_RETRY, error_r, "forward status %s: %s", archive_id,
                        sqlite3_errmsg(sc->db));
        sqlite_stmt_done(st);
        return r;
    }
    if (sqlite_sync_wal(sc) < 0)
        return sqlite_fail(sc, TAB_RETRY, error_r, "forward status %s: sync %s: %s", archive_id,
                           sc->wal_path, strerror(errno));
    return TAB_OK;
}

/*
 * Integrity, retention, holds, audit (docs/integrity.md). Not on the
 * delivery path: statements are prepared per call.
 */

/* Columns of a chain row, as sqlite_chain_fill() reads them. */
#define SQLITE_CHAIN_COLUMNS                                                                       \
    " c.seq, c.prev_hash, c.hash, c.archive_id, m.archive_id, c.arrival, m.queue_id,"              \
    " m.envelope_from, m.sha256, m.size, c.wrapped_sha256, c.wrapped_size, c.store,"               \
    " c.location, c.retain_until, m.id IS NULL, c.id"

/* The last column orders links without a seq after the others. */
static const char sqlite_chain_copies[] =
    "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL, COALESCE(c.seq, 9223372036854775807)"
    " FROM copies c LEFT JOIN messages m ON m.id = c.message"
    " UNION ALL"
    " SELECT 1, e.seq, e.prev_hash, e.hash, e.archive_id, e.message_archive_id, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, e.retain_until, 0, 0, e.expired, e.operator,"
    " e.seq FROM expired e"
    " ORDER BY 21, 18";

static const char sqlite_chain_rcpts[] =
    "SELECT address FROM recipients WHERE copy = ?1 ORDER BY address COLLATE BINARY";

/* Fill link from the current row of a chain query (first column: kind)
 * and the recipients of its copy. -1: see sqlite3_errmsg. */
static int sqlite_chain_fill(sqlite3_stmt *row, sqlite3_stmt *rcpts, struct chain_link *link)
{
    char *s;
    int rc;

    memset(link, 0, sizeof(*link));
    link->kind = sqlite3_column_int(row, 0) == 1 ? CHAIN_EXPIRED : CHAIN_COPY;
    link->seq = sqlite3_column_type(row, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(row, 1);
    sqlite_column_copy(row, 2, link->prev_hash, sizeof(link->prev_hash));
    sqlite_column_copy(row, 3, link->hash, sizeof(link->hash));
    sqlite_column_copy(row, 4, link->archive_id, sizeof(link->archive_id));
    sqlite_column_copy(row, 5, link->message_archive_id, sizeof(link->message_archive_id));
    link->retain_until = sqlite_column_time(row, 15);
    if (link->kind == CHAIN_EXPIRED) {
        link->expired = sqlite_column_time(row, 18);
        link->expired_by = sqlite_column_dup(row, 19);
        return 0;
    }
    link->arrival = sqlite_column_time(row, 6);
    s = sqlite_column_dup(row, 7);
    link->queue_id = s != NULL ? s : xstrdup("");
    s = sqlite_column_dup(row, 8);
    link->envelope_from = s != NULL ? s : xstrdup("");
    sqlite_column_copy(row, 9, link->sha256, sizeof(link->sha256));
    link->size = (uint64_t)sqlite3_column_int64(row, 10);
    sqlite_column_copy(row, 11, link->wrapped_sha256, sizeof(link->wrapped_sha256));
    link->wrapped_size = (uint64_t)sqlite3_column_int64(row, 12);
    link->store = sqlite_column_dup(row, 13);
    link->location = sqlite_column_dup(row, 14);
    link->message_missing = sqlite3_column_int(row, 16);

    if (sqlite3_bind_int64(rcpts, 1, sqlite3_column_int64(row, 17)) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(rcpts)) == SQLITE_ROW) {
        const unsigned char *a = sqlite3_column_text(rcpts, 0);
        strlist_add(&link->rcpts, a != NULL ? (const char *)a : "");
    }
    sqlite_stmt_done(rcpts);
    return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Schema step 4 on a catalog that has copies already: chain them in id
 * order (their arrival is their message's). Inside the upgrade
 * transaction. -1: see sqlite3_errmsg.
 */
static int sqlite_chain_existing(sqlite3 *db)
{
    static const char rows_sql[] = "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL"
                                   " FROM copies c LEFT JOIN messages m ON m.id = c.message"
                                   " ORDER BY c.id";
    sqlite3_stmt *rows = NULL, *rcpts = NULL, *update = NULL, *head = NULL;
    struct chain_link link;
    char prev[SHA256_HEX_SIZE] = CHAIN_GENESIS;
    int64_t seq = 0;
    int rc, ret = -1;

    memset(&link, 0, sizeof(link));
    if (sqlite3_prepare_v2(db, rows_sql, -1, &rows, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, sqlite_chain_rcpts, -1, &rcpts, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "UPDATE copies SET seq = ?1, prev_hash = ?2, hash = ?3 WHERE id = ?4",
                           -1, &update, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1", -1, &head,
                           NULL) != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
        sqlite3_int64 copy_id = sqlite3_column_int64(rows, 17);

        if (sqlite_chain_fill(rows, rcpts, &link) < 0)
            goto out;
        link.seq = ++seq;
        memcpy(link.prev_hash, prev, sizeof(prev));
        catalog_chain_hash(&link, link.hash);
        memcpy(prev, link.hash, sizeof(prev));
        if (sqlite3_bind_int64(update, 1, seq) != SQLITE_OK ||
            sqlite3_bind_text(update, 2, link.prev_hash, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_text(update, 3, link.hash, -1, SQLITE_STATIC) != SQLITE_OK ||
            sqlite3_bind_int64(update, 4, copy_id) != SQLITE_OK || sqlite_exec_stmt(update) < 0)
            goto out;
        catalog_chain_link_free(&link);
    }
    if (rc != SQLITE_DONE)
        goto out;
    if (sqlite3_bind_int64(head, 1, seq) != SQLITE_OK ||
        sqlite3_bind_text(head, 2, prev, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite_exec_stmt(head) < 0)
        goto out;
    ret = 0;
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(rows);
    (void)sqlite3_finalize(rcpts);
    (void)sqlite3_finalize(update);
    (void)sqlite3_finalize(head);
    return ret;
}

/* A read transaction around several statements: one snapshot. */
static int sqlite_begin_read(struct sqlite_catalog *sc)
{
    return sqlite3_exec(sc->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static void sqlite_end(struct sqlite_catalog *sc)
{
    if (!sqlite3_get_autocommit(sc->db))
        (void)sqlite3_exec(sc->db, "COMMIT", NULL, NULL, NULL);
}

static int sqlite_read_head(struct sqlite_catalog *sc, struct chain_seal *head_r);

/* Each row of rows as a chain link to fn (rcpts reads its recipients);
 * *stop_r is set when fn asks to stop. -1 on a database error. */
static int sqlite_chain_emit(sqlite3_stmt *rows, sqlite3_stmt *rcpts, struct chain_link *link,
                             catalog_chain_fn *fn, void *ctx, int *stop_r)
{
    int rc = SQLITE_DONE;

    while (!*stop_r && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (sqlite_chain_fill(rows, rcpts, link) < 0)
            return -1;
        *stop_r = fn(link, ctx);
        catalog_chain_link_free(link);
    }
    return *stop_r || rc == SQLITE_DONE ? 0 : -1;
}
static enum tab_result sqlite_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                         catalog_chain_fn *fn, void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *rows = NULL, *rcpts = NULL;
    struct chain_link link;
    enum tab_result r = TAB_OK;
    int rc, stop = 0;

    memset(&link, 0, sizeof(link));
    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    if (sqlite_begin_read(sc) < 0 || sqlite_read_head(sc, head_r) < 0 ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_copies, -1, &rows, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_rcpts, -1, &rcpts, NULL) != SQLITE_OK)
        goto db_error;
    if (sqlite_chain_emit(rows, rcpts, &link, fn, ctx, &stop) < 0)
        goto db_error;
    (void)sqlite3_finalize(rows);
    rows = NULL;
    if (!stop) {
        if (sqlite3_prepare_v2(sc->db,
                               "SELECT archive_id FROM messages m WHERE NOT EXISTS"
                               " (SELECT 1 FROM copies c WHERE c.message = m.id) ORDER BY id",
                               -1, &rows, NULL) != SQLITE_OK)
            goto db_error;
        while (!stop && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
            link.kind = CHAIN_MESSAGE_NO_COPY;
            sqlite_column_copy(rows, 0, link.message_archive_id, sizeof(link.message_archive_id));
            memcpy(link.archive_id, link.message_archive_id, sizeof(link.archive_id));
            stop = fn(&link, ctx);
            catalog_chain_link_free(&link);
        }
        if (!stop && rc != SQLITE_DONE)
            goto db_error;
    }
    goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "chain");
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(rows);
    (void)sqlite3_finalize(rcpts);
    sqlite_end(sc);
    return r;
}

static int sqlite_read_head(struct sqlite_catalog *sc, struct chain_seal *head_r)
{
    sqlite3_stmt *st = sc->st[ST_CHAIN_HEAD];
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        head_r->seq = sqlite3_column_int64(st, 0);
        sqlite_column_copy(st, 1, head_r->hash, sizeof(head_r->hash));
    }
    sqlite_stmt_done(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static enum tab_result sqlite_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                         const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);

    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    if (sqlite_read_head(sc, head_r) < 0)
        return sqlite_fail_db(sc, error_r, "chain head");
    return TAB_OK;
}

/* Run sql with text parameters (NULL: SQL NULL) to completion. */
static int sqlite_exec_params(struct sqlite_catalog *sc, const char *sql, int n,
                              const char *const *values)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    for (int i = 0; i < n; i++)
        if (sqlite_bind_text(st, i + 1, values[i]) != SQLITE_OK) {
            (void)sqlite3_finalize(st);
            return -1;
        }
    rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Commit a write transaction and make it durable. */
static enum tab_result sqlite_commit(struct sqlite_catalog *sc, const char *what,
                                     const char **error_r)
{
    if (sqlite_exec_stmt(sc->st[ST_COMMIT]) < 0) {
        enum tab_result r = sqlite_fail_db(sc, error_r, what);
        sqlite_stmt_done(sc->st[ST_COMMIT]);
        sqlite_rollback(sc);
        return r;
    }
    if (sqlite_sync_wal(sc) < 0)
        return sqlite_fail(sc, TAB_RETRY, error_r, "%s: sync %s: %s", what, sc->wal_path,
                           strerror(errno));
    return TAB_OK;
}

static enum tab_result sqlite_write_fail(struct sqlite_catalog *sc, const char *what,
                                         const char **error_r)
{
    enum tab_result r = sqlite_fail_db(sc, error_r, what);
    sqlite_stmt_done(sc->st[ST_BEGIN]);
    sqlite_rollback(sc);
    return r;
}

/* Run sql with ?1 = id and text parameters ?2... (NULL: SQL NULL) to
 * completion. -1: see sqlite3_errcode / errmsg (kept past finalize). */
static int sqlite_exec_id(struct sqlite_catalog *sc, const char *sql, sqlite3_int64 id, int n,
                          const char *const *values)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_bind_int64(st, 1, id);
    for (int i = 0; rc == SQLITE_OK && i < n; i++)
        rc = sqlite_bind_text(st, i + 2, values[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Replace the header index fields, text and attachments of one message
 * and its index status, in one write transaction. The chain covers none
 * of this (catalog_chain_encode: envelope, recipients, hashes, sizes,
 * store, location, retention), so every link stays valid. The text goes
 * through text_pending as in add(): the FTS5 row of the old text is
 * deleted here, and the indexer (or the next --text search) indexes the
 * new one; with index_later, it also reads the attachments from the
 * stored copy.
 */
static enum tab_result sqlite_reindex(struct catalog *cat, const struct archive_record *given,
                                      const char **error_r)
{
    struct archive_record envelope_only;
    const struct archive_record *rec = catalog_record_as_stored(given, &envelope_only);
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    sqlite3_int64 message_id = 0;
    const char *what = "begin";
    char *note = catalog_index_note(rec);
    enum tab_result r;
    int rc;

    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        goto db_error;
    what = "find message";
    for (int i = 0; i < 2 && message_id == 0; i++) {
        st = sc->st[i == 0 ? ST_MESSAGE_BY_ARCHIVE_ID : ST_COPY_BY_ARCHIVE_ID];
        if (sqlite_bind_text(st, 1, rec->archive_id) != SQLITE_OK)
            goto db_error;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            message_id = sqlite3_column_int64(st, i == 0 ? 0 : 1);
        else if (rc != SQLITE_DONE)
            goto db_error;
        sqlite_stmt_done(st);
    }
    if (message_id == 0) {
        sqlite_rollback(sc);
        free(note);
        return sqlite_fail(sc, TAB_PERM, error_r, "reindex: archive id %s not found",
                           rec->archive_id);
    }
    what = "update message";
    {
        const char *values[7] = {
            rec->message_id,           rec->date, rec->date_raw, rec->subject, rec->subject_raw,
            catalog_index_status(rec), note};
        if (sqlite_exec_id(sc,
                           "UPDATE messages SET message_id = ?2, date = ?3, date_raw = ?4,"
                           " subject = ?5, subject_raw = ?6, index_status = ?7, index_note = ?8"
                           " WHERE id = ?1",
                           message_id, 7, values) < 0)
            goto db_error;
    }
    what = "delete old index rows";
    if (sqlite_exec_id(sc, "DELETE FROM header_addresses WHERE message = ?1", message_id, 0, NULL) <
            0 ||
        sqlite_exec_id(sc, "DELETE FROM attachments WHERE message = ?1", message_id, 0, NULL) < 0 ||
        sqlite_exec_id(sc, "DELETE FROM message_text WHERE rowid = ?1", message_id, 0, NULL) < 0 ||
        sqlite_exec_id(sc, "DELETE FROM text_pending WHERE message = ?1", message_id, 0, NULL) < 0)
        goto db_error;
    what = "insert header address";
    if (sqlite_insert_addrs(sc, message_id, "from", &rec->hdr_from) < 0 ||
        sqlite_insert_addrs(sc, message_id, "to", &rec->hdr_to) < 0 ||
        sqlite_insert_addrs(sc, message_id, "cc", &rec->hdr_cc) < 0)
        goto db_error;
    what = "insert text";
    st = sc->st[ST_INSERT_TEXT];
    if (sqlite3_bind_int64(st, 1, message_id) != SQLITE_OK ||
        sqlite_bind_text(st, 2, rec->subject) != SQLITE_OK ||
        sqlite_bind_text(st, 3, rec->index_later ? NULL : rec->body_text) != SQLITE_OK ||
        sqlite3_bind_int(st, 4, rec->index_later ? 1 : 0) != SQLITE_OK || sqlite_exec_stmt(st) < 0)
        goto db_error;
    what = "insert attachment";
    if (!rec->index_later && sqlite_insert_attachments(sc, message_id, rec) < 0)
        goto db_error;
    free(note);
    return sqlite_commit(sc, "reindex: commit", error_r);

db_error:
    r = sqlite_fail(sc, sqlite_classify(sqlite3_extended_errcode(sc->db)), error_r,
                    "reindex %s: %s: %s", rec->archive_id, what, sqlite3_errmsg(sc->db));
    sqlite_stmt_done(sc->st[ST_BEGIN]);
    sqlite_stmt_done(sc->st[ST_MESSAGE_BY_ARCHIVE_ID]);
    sqlite_stmt_done(sc->st[ST_COPY_BY_ARCHIVE_ID]);
    sqlite_stmt_done(sc->st[ST_INSERT_ADDR]);
    sqlite_stmt_done(sc->st[ST_INSERT_TEXT]);
    sqlite_stmt_done(sc->st[ST_INSERT_ATTACHMENT]);
    sqlite_rollback(sc);
    free(note);
    return r;
}

static enum tab_result sqlite_seal(struct catalog *cat, struct chain_seal *seal_r,
                                   const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char at[21], seq[32];

    memset(seal_r, 0, sizeof(*seal_r));
    seal_r->at = time(NULL);
    record_format_time(seal_r->at, at);
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0 || sqlite_read_head(sc, seal_r) < 0)
        return sqlite_write_fail(sc, "seal", error_r);
    snprintf(seq, sizeof(seq), "%lld", (long long)seal_r->seq);
    {
        const char *values[3] = {at, seq, seal_r->hash};
        if (sqlite_exec_params(sc, "INSERT INTO seals (sealed, seq, hash) VALUES (?1, ?2, ?3)", 3,
                               values) < 0)
            return sqlite_write_fail(sc, "seal", error_r);
    }
    return sqlite_commit(sc, "seal", error_r);
}

static enum tab_result sqlite_audit(struct catalog *cat, const char *user, const char *action,
                                    const char *detail, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char at[21];
    const char *values[4] = {at, user, action, detail};

    record_format_time(time(NULL), at);
    if (sqlite_exec_params(sc,
                           "INSERT INTO audit (at, operator, action, detail)"
                           " VALUES (?1, ?2, ?3, ?4)",
                           4, values) < 0)
        return sqlite_fail_db(sc, error_r, "audit");
    if (sqlite_sync_wal(sc) < 0)
        return sqlite_fail(sc, TAB_RETRY, error_r, "audit: sync %s: %s", sc->wal_path,
                           strerror(errno));
    return TAB_OK;
}

static enum tab_result sqlite_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                         void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    char from[21];
    int rc;

    record_format_time(since, from);
    if (sqlite3_prepare_v2(sc->db,
                           "SELECT id, at, operator, action, detail FROM audit"
                           " WHERE at >= ?1 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail_db(sc, error_r, "audit list");
    if (sqlite_bind_text(st, 1, since ? from : "") != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return sqlite_fail_db(sc, error_r, "audit list");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct catalog_audit_row row = {
            sqlite3_column_int64(st, 0),
            sqlite_column_time(st, 1),
            (const char *)sqlite3_column_text(st, 2),
            (const char *)sqlite3_column_text(st, 3),
            (const char *)sqlite3_column_text(st, 4),
        };
        if (fn(&row, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        enum tab_result r = sqlite_fail_db(sc, error_r, "audit list");
        (void)sqlite3_finalize(st);
        return r;
    }
    (void)sqlite3_finalize(st);
    return TAB_OK;
}

/* The archive id of the message that archive_id names (itself or one of
 * its copies) into message_r; 0 found, 1 unknown, -1 error. */
static int sqlite_message_of(struct sqlite_catalog *sc, const char *archive_id,
                             char message_r[ARCHIVE_ID_SIZE], sqlite3_int64 *id_r)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db,
                           "SELECT id, archive_id FROM messages WHERE archive_id = ?1"
                           " UNION ALL SELECT m.id, m.archive_id FROM copies c"
                           " JOIN messages m ON m.id = c.message WHERE c.archive_id = ?1"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite_bind_text(st, 1, archive_id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id_r = sqlite3_column_int64(st, 0);
        sqlite_column_copy(st, 1, message_r, ARCHIVE_ID_SIZE);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

static enum tab_result sqlite_hold(struct catalog *cat, const char *archive_id,
                                   const char *case_name, int on, const char *user, int *changed_r,
                                   int *holds_r, struct strlist *locations_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char message[ARCHIVE_ID_SIZE], at[21];
    sqlite3_int64 mid = 0;
    sqlite3_stmt *st = NULL;
    int found, rc;

    *changed_r = *holds_r = 0;
    record_format_time(time(NULL), at);
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "hold", error_r);
    found = sqlite_message_of(sc, archive_id, message, &mid);
    if (found < 0)
        return sqlite_write_fail(sc, "hold", error_r);
    if (found > 0) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "archive id %s not found", archive_id);
    }
    {
        const char *values[4] = {message, case_name, at, user};
        if (sqlite_exec_params(sc,
                               on ? "INSERT OR IGNORE INTO holds (archive_id, case_name, added,"
                                    " operator) VALUES (?1, ?2, ?3, ?4)"
                                  : "DELETE FROM holds WHERE archive_id = ?1 AND case_name = ?2",
                               on ? 4 : 2, values) < 0)
            return sqlite_write_fail(sc, "hold", error_r);
        *changed_r = sqlite3_changes(sc->db) > 0;
    }
    if (sqlite3_prepare_v2(sc->db,
                           "SELECT (SELECT count(*) FROM holds WHERE archive_id = ?1), location"
                           " FROM copies WHERE message = ?2 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite_bind_text(st, 1, message) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, mid) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "hold", error_r);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *holds_r = sqlite3_column_int(st, 0);
        if (locations_r != NULL && sqlite3_column_text(st, 1) != NULL)
            strlist_add(locations_r, (const char *)sqlite3_column_text(st, 1));
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return sqlite_write_fail(sc, "hold", error_r);
    return sqlite_commit(sc, "hold", error_r);
}

static enum tab_result sqlite_hold_list(struct catalog *cat, const char *case_name,
                                        catalog_hold_fn *fn, void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db,
                           "SELECT case_name, archive_id, operator, added FROM holds"
                           " WHERE ?1 IS NULL OR case_name = ?1 ORDER BY case_name, archive_id",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlite_fail_db(sc, error_r, "hold list");
    if (sqlite_bind_text(st, 1, case_name) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return sqlite_fail_db(sc, error_r, "hold list");
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct catalog_hold_row row = {
            (const char *)sqlite3_column_text(st, 0),
            (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2),
            sqlite_column_time(st, 3),
        };
        if (fn(&row, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        enum tab_result r = sqlite_fail_db(sc, error_r, "hold list");
        (void)sqlite3_finalize(st);
        return r;
    }
    (void)sqlite3_finalize(st);
    return TAB_OK;
}

/* A message may go when every copy has a retain-until not after ?1 and
 * no case holds it. */
#define SQLITE_EXPIRABLE                                                                           \
    " NOT EXISTS (SELECT 1 FROM copies c2 WHERE c2.message = m.id"                                 \
    "  AND (c2.retain_until IS NULL OR c2.retain_until > ?1))"                                     \
    " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.archive_id = m.archive_id)"

static enum tab_result sqlite_expire_candidates(struct catalog *cat, time_t now,
                                                catalog_chain_fn *fn, void *ctx,
                                                const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *rows = NULL, *rcpts = NULL;
    struct chain_link link;
    char when[21];
    enum tab_result r = TAB_OK;
    int stop = 0;

    memset(&link, 0, sizeof(link));
    record_format_time(now, when);
    if (sqlite_begin_read(sc) < 0 ||
        sqlite3_prepare_v2(sc->db,
                           "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL"
                           " FROM copies c JOIN messages m ON m.id = c.message"
                           " WHERE" SQLITE_EXPIRABLE " ORDER BY m.id, c.id",
                           -1, &rows, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_rcpts, -1, &rcpts, NULL) != SQLITE_OK ||
        sqlite_bind_text(rows, 1, when) != SQLITE_OK)
        goto db_error;
    if (sqlite_chain_emit(rows, rcpts, &link, fn, ctx, &stop) < 0)
        goto db_error;
    goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "expire candidates");
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(rows);
    (void)sqlite3_finalize(rcpts);
    sqlite_end(sc);
    return r;
}

static enum tab_result sqlite_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                            const char *user, const char **error_r)
{
    static const char *const deletes[] = {
        "DELETE FROM recipients WHERE message = ?1",
        "DELETE FROM header_addresses WHERE message = ?1",
        "DELETE FROM attachments WHERE message = ?1",
        "DELETE FROM message_text WHERE rowid = ?1",
        "DELETE FROM text_pending WHERE message = ?1",
        "DELETE FROM copies WHERE message = ?1",
        "DELETE FROM messages WHERE id = ?1",
    };
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char when[21], mid_text[32];
    sqlite3_stmt *st = NULL;
    int rc;

    record_format_time(now, when);
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "expire", error_r);
    if (sqlite3_prepare_v2(
            sc->db,
            "SELECT m.id FROM messages m WHERE m.archive_id = ?2"
            " AND EXISTS (SELECT 1 FROM copies c WHERE c.message = m.id) AND" SQLITE_EXPIRABLE,
            -1, &st, NULL) != SQLITE_OK ||
        sqlite_bind_text(st, 1, when) != SQLITE_OK ||
        sqlite_bind_text(st, 2, archive_id) != SQLITE_OK) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "expire", error_r);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        snprintf(mid_text, sizeof(mid_text), "%lld", (long long)sqlite3_column_int64(st, 0));
    (void)sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r,
                           "expire %s: not found, held, or not past its retention", archive_id);
    }
    if (rc != SQLITE_ROW)
        return sqlite_write_fail(sc, "expire", error_r);
    {
        const char *values[3] = {mid_text, when, user};
        if (sqlite_exec_params(sc,
                               "INSERT INTO expired (seq, archive_id, message_archive_id,"
                               " prev_hash, hash, retain_until, expired, operator)"
                               " SELECT c.seq, c.archive_id, m.archive_id, c.prev_hash, c.hash,"
                               " c.retain_until, ?2, ?3 FROM copies c"
                               " JOIN messages m ON m.id = c.message"
                               " WHERE c.message = ?1 AND c.seq IS NOT NULL",
                               3, values) < 0)
            return sqlite_write_fail(sc, "expire", error_r);
    }
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
        const char *values[1] = {mid_text};
        if (sqlite_exec_params(sc, deletes[i], 1, values) < 0)
            return sqlite_write_fail(sc, "expire", error_r);
    }
    return sqlite_commit(sc, "expire", error_r);
}

/* One number from sql (no parameters); -1 on error. */
static int sqlite_count(struct sqlite_catalog *sc, const char *sql, int64_t *n_r)
{
    sqlite3_stmt *st;
    int rc;

    *n_r = 0;
    if (sqlite3_prepare_v2(sc->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n_r = sqlite3_column_int64(st, 0);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static enum tab_result sqlite_stats(struct catalog *cat, struct catalog_stats *stats_r,
                                    catalog_stats_row_fn *fn, void *ctx, const char **error_r)
{
    static const struct {
        const char *period;
        const char *sql;
    } periods[] = {
        {"day", "SELECT substr(arrival, 1, 10), count(*), total(size) FROM messages"
                " GROUP BY 1 ORDER BY 1"},
        {"month", "SELECT substr(arrival, 1, 7), count(*), total(size) FROM messages"
                  " GROUP BY 1 ORDER BY 1"},
    };
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct catalog_stats *s = stats_r;
    sqlite3_stmt *st = NULL;
    enum tab_result r = TAB_OK;
    int rc;

    memset(s, 0, sizeof(*s));
    if (sqlite_begin_read(sc) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM messages", &s->messages) < 0 ||
        sqlite_count(sc, "SELECT CAST(total(size) AS INTEGER) FROM messages", &s->bytes) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM copies", &s->copies) < 0 ||
        sqlite_count(sc, "SELECT CAST(total(wrapped_size) AS INTEGER) FROM copies",
                     &s->wrapped_bytes) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM messages WHERE envelope_status = 'incomplete'",
                     &s->incomplete) < 0 ||
        sqlite_count(sc, "SELECT count(DISTINCT archive_id) FROM holds", &s->held) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM expired", &s->expired) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM text_pending", &s->text_pending) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM messages WHERE index_status = 'degraded'",
                     &s->degraded) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM forwards WHERE status = 'deferred'",
                     &s->fwd_deferred) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM forwards WHERE status = 'sent'", &s->fwd_sent) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM forwards WHERE status = 'held'", &s->fwd_held) < 0 ||
        sqlite_count(sc, "SELECT count(*) FROM forwards WHERE status = 'queued'", &s->fwd_queued) <
            0 ||
        sqlite_count(sc, "SELECT count(*) FROM forwards WHERE status = 'deleted'",
                     &s->fwd_deleted) < 0)
        goto db_error;
    if (sqlite3_prepare_v2(sc->db, "SELECT min(arrival), max(arrival) FROM messages", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW)
        goto db_error;
    s->oldest = sqlite_column_time(st, 0);
    s->newest = sqlite_column_time(st, 1);
    (void)sqlite3_finalize(st);
    st = NULL;
    for (size_t p = 0; fn != NULL && p < sizeof(periods) / sizeof(periods[0]); p++) {
        if (sqlite3_prepare_v2(sc->db, periods[p].sql, -1, &st, NULL) != SQLITE_OK)
            goto db_error;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (fn(periods[p].period, (const char *)sqlite3_column_text(st, 0),
                   sqlite3_column_int64(st, 1), (int64_t)sqlite3_column_double(st, 2), ctx))
                break;
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            goto db_error;
        (void)sqlite3_finalize(st);
        st = NULL;
    }
    goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "stats");
out:
    (void)sqlite3_finalize(st);
    sqlite_end(sc);
    return r;
}

/* One pending row of an index_pending() batch. */
struct sqlite_pending {
    sqlite3_int64 message;
    struct archive_record text; /* subject, body_text, attachments */
    int from_store;
};

/* Read up to max_rows pending rows (about SQLITE_INDEX_BATCH_BYTES of
 * text), the text of from_store rows from their stored copy, outside any
 * transaction. Stops before a row whose copy cannot be read now (*error_r
 * then says why) or that has no text source. */
static int sqlite_pending_read(struct sqlite_catalog *sc, int max_rows, struct sqlite_pending *rows,
                               const char **what_r, const char **error_r)
{
    sqlite3_stmt *next = sc->st[ST_PENDING_NEXT];
    sqlite3_int64 last = 0;
    size_t bytes = 0;
    int n = 0, rc;

    while (n < max_rows && bytes < SQLITE_INDEX_BATCH_BYTES) {
        struct sqlite_pending *p = &rows[n];
        char *store, *location;
        const char *err = NULL;
        enum tab_result r;

        *what_r = "read pending text";
        if (sqlite3_bind_int64(next, 1, last) != SQLITE_OK)
            return -1;
        rc = sqlite3_step(next);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW)
            return -1;
        memset(p, 0, sizeof(*p));
        p->message = last = sqlite3_column_int64(next, 0);
        p->text.subject = sqlite_column_dup(next, 1);
        p->text.body_text = sqlite_column_dup(next, 2);
        p->from_store = sqlite3_column_int(next, 3);
        store = sqlite_column_dup(next, 4);
        location = sqlite_column_dup(next, 5);
        sqlite_stmt_done(next);
        if (p->from_store) {
            r = sc->text_fn == NULL ? TAB_RETRY
                : store == NULL     ? TAB_PERM
                                    : sc->text_fn(sc->text_ctx, store, location, &p->text, &err);
            if (r == TAB_RETRY) {
                *error_r = sc->text_fn == NULL ? "no text source" : err;
                record_free(&p->text);
                free(store);
                free(location);
                break;
            }
            if (r == TAB_PERM)
                log_warn("sqlite %s: message %lld: body text and attachments not indexed: %s",
                         sc->path, (long long)p->message, err ? err : "it has no stored copy");
        }
        free(store);
        free(location);
        bytes += (p->text.subject ? strlen(p->text.subject) : 0) +
                 (p->text.body_text ? strlen(p->text.body_text) : 0);
        n++;
    }
    sqlite_stmt_done(next);
    return n;
}

/*
 * Move up to max_rows messages from text_pending into message_text (and
 * the attachments of from_store rows into attachments), oldest first. The
 * text is read first, outside the write lock (a from_store row reads its
 * stored copy); then one write transaction deletes each row from
 * text_pending and, only if that deleted it (nobody indexed it
 * meanwhile), inserts its text: a crash leaves rows pending, never lost
 * or indexed twice. No fdatasync: a commit lost to a power failure only
 * leaves the rows pending again. An idle indexer costs one indexed read.
 * left_r (may be NULL): the rows still pending, counted afterwards.
 */
static enum tab_result sqlite_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                            int64_t *left_r, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct sqlite_pending rows[SQLITE_INDEX_BATCH_ROWS];
    sqlite3_stmt *ins = sc->st[ST_INDEX_TEXT], *del = sc->st[ST_PENDING_DELETE];
    const char *what = "read pending text", *stopped = NULL;
    enum tab_result r = TAB_OK;
    int n = 0, done = 0;

    *done_r = 0;
    if (left_r != NULL)
        *left_r = 0;
    if (max_rows > SQLITE_INDEX_BATCH_ROWS)
        max_rows = SQLITE_INDEX_BATCH_ROWS;
    if (max_rows > 0) {
        n = sqlite_pending_read(sc, max_rows, rows, &what, &stopped);
        if (n < 0) {
            n = 0;
            goto db_error;
        }
    }
    if (n > 0) {
        what = "begin";
        if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
            goto db_error;
        for (int i = 0; i < n; i++) {
            what = "delete pending text";
            if (sqlite3_bind_int64(del, 1, rows[i].message) != SQLITE_OK ||
                sqlite_exec_stmt(del) < 0)
                goto db_error;
            if (sqlite3_changes(sc->db) == 0)
                continue; /* indexed by someone else meanwhile */
            what = "index text";
            if (sqlite3_bind_int64(ins, 1, rows[i].message) != SQLITE_OK ||
                sqlite_bind_text(ins, 2, rows[i].text.subject) != SQLITE_OK ||
                sqlite_bind_text(ins, 3, rows[i].text.body_text) != SQLITE_OK ||
                sqlite_exec_stmt(ins) < 0)
                goto db_error;
            what = "insert attachment";
            if (rows[i].from_store &&
                sqlite_insert_attachments(sc, rows[i].message, &rows[i].text) < 0)
                goto db_error;
            done++;
        }
        what = "commit";
        if (sqlite_exec_stmt(sc->st[ST_COMMIT]) < 0)
            goto db_error;
    }
    for (int i = 0; i < n; i++)
        record_free(&rows[i].text);
    *done_r = done;
    if (n == 0 && stopped != NULL)
        return sqlite_fail(sc, TAB_RETRY, error_r, "index pending text: %s", stopped);
    if (left_r != NULL && sqlite_count(sc, "SELECT count(*) FROM text_pending", left_r) < 0)
        return sqlite_fail_db(sc, error_r, "index pending text: count");
    return TAB_OK;

db_error:
    r = sqlite_fail(sc, TAB_RETRY, error_r, "index pending text: %s: %s", what,
                    sqlite3_errmsg(sc->db));
    for (int i = 0; i < n; i++)
        record_free(&rows[i].text);
    sqlite_stmt_done(sc->st[ST_PENDING_NEXT]);
    sqlite_stmt_done(ins);
    sqlite_stmt_done(del);
    sqlite_stmt_done(sc->st[ST_INSERT_ATTACHMENT]);
    sqlite_stmt_done(sc->st[ST_BEGIN]);
    sqlite_stmt_done(sc->st[ST_COMMIT]);
    sqlite_rollback(sc);
    return r;
}

/* PRAGMA data_version: changes when another connection commits; reading
 * it touches only the WAL index in shared memory. */
static int sqlite_changed(struct catalog *cat)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st = NULL;
    int changed = 0;

    if (sqlite3_prepare_v2(sc->db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 v = sqlite3_column_int64(st, 0);
        changed = sc->data_version != 0 && v != sc->data_version;
        sc->data_version = v;
    }
    (void)sqlite3_finalize(st);
    return changed;
}

static void sqlite_set_text_source(struct catalog *cat, catalog_text_fn *fn, void *ctx)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);

    sc->text_fn = fn;
    sc->text_ctx = ctx;
}

static void sqlite_close(struct catalog *cat)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);

    for (int i = 0; i < ST_COUNT; i++)
        (void)sqlite3_finalize(sc->st[i]);
    /* All statements are finalized, so close cannot fail with BUSY; any
     * other failure leaves nothing uncommitted (add() commits or rolls back). */
    if (sc->db != NULL && sqlite3_close(sc->db) != SQLITE_OK)
        log_warn("sqlite %s: close: %s", sc->path, sqlite3_errmsg(sc->db));
    if (sc->wal_fd >= 0)
        close(sc->wal_fd);
    free(sc->wal_path);
    free(sc->path);
    free(sc->error);
    free(sc);
}

static int sqlite_user_version(sqlite3 *db, int *version_r)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *version_r = sqlite3_column_int(st, 0);
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int sqlite_version_check(const char *path, int version)
{
    if (version > SQLITE_SCHEMA_VERSION) {
        snprintf(sqlite_open_error, sizeof(sqlite_open_error),
                 "sqlite %s: catalog schema version %d is newer than the version %d this "
                 "tabularium knows; upgrade tabularium",
                 path, version, SQLITE_SCHEMA_VERSION);
        return -1;
    }
    if (version < 0) {
        snprintf(sqlite_open_error, sizeof(sqlite_open_error),
                 "sqlite %s: invalid catalog schema version %d", path, version);
        return -1;
    }
    return 0;
}

/*
 * Bring the schema to SQLITE_SCHEMA_VERSION. A current schema needs no
 * write lock (workers starting together do not queue, a write-protected
 * file can still be read); otherwise the version is read again inside one
 * write transaction, so that workers opening a new file at the same time
 * create it once. -1 with the message in sqlite_open_error.
 */
static int sqlite_schema_upgrade(sqlite3 *db, const char *path)
{
    const char *what = "read user_version";
    char set_version[64];
    int version = 0, created;

    if (sqlite_user_version(db, &version) < 0)
        goto db_error;
    if (sqlite_version_check(path, version) < 0)
        return -1;
    if (version == SQLITE_SCHEMA_VERSION)
        return 0;

    what = "begin";
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto db_error;
    what = "read user_version";
    if (sqlite_user_version(db, &version) < 0)
        goto db_error;
    if (sqlite_version_check(path, version) < 0) {
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    created = version == 0;
    for (; version < SQLITE_SCHEMA_VERSION; version++) {
        what = "create schema";
        if (sqlite3_exec(db, sqlite_schema_steps[version], NULL, NULL, NULL) != SQLITE_OK)
            goto db_error;
        what = "chain existing copies";
        if (version + 1 == 4 && sqlite_chain_existing(db) < 0)
            goto db_error;
        /* PRAGMA takes no parameters; the value is our own integer. */
        snprintf(set_version, sizeof(set_version), "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(db, set_version, NULL, NULL, NULL) != SQLITE_OK)
            goto db_error;
        if (!created)
            log_info("sqlite %s: catalog schema upgraded to version %d", path, version + 1);
    }
    what = "commit";
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto db_error;
    return 0;

db_error:
    snprintf(sqlite_open_error, sizeof(sqlite_open_error), "sqlite %s: %s (schema version %d): %s",
             path, what, version, sqlite3_errmsg(db));
    if (!sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/*
 * Switch the file to WAL. Workers opening a new file together race for
 * the exclusive lock this needs, and SQLite answers SQLITE_BUSY at once,
 * without calling the busy handler, when waiting could deadlock; so retry
 * here for as long as the busy timeout would have waited. -1 leaves the
 * error in sqlite3_errmsg(db).
 */
static int sqlite_set_wal(sqlite3 *db, const char *path)
{
    long long deadline = clock_monotonic_ms() + SQLITE_BUSY_TIMEOUT_MS;
    struct timespec pause = {0, 10 * 1000 * 1000};
    const unsigned char *mode;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_BUSY && clock_monotonic_ms() < deadline) {
        (void)sqlite3_reset(st);
        (void)nanosleep(&pause, NULL);
    }
    if (rc != SQLITE_ROW) {
        (void)sqlite3_finalize(st);
        return -1;
    }
    mode = sqlite3_column_text(st, 0);
    /* Some file systems cannot hold the WAL index: still correct, slower. */
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
        log_warn("sqlite %s: journal_mode is %s, not wal: concurrent workers will wait longer",
                 path, mode ? (const char *)mode : "unknown");
    (void)sqlite3_finalize(st);
    return 0;
}

/*
 * Busy handler: wait for another worker's commit in short steps. SQLite's
 * own busy_timeout handler sleeps 1, 2, 5, 10, ... 100 ms while a commit
 * holds the write lock for well under a millisecond; under load most of
 * a delivery's time went into those sleeps (measured with strace). Gives
 * up after SQLITE_BUSY_TIMEOUT_MS in total; the caller then answers 451.
 */
/* Set by wait_limit(): give up at this CLOCK_MONOTONIC time (ms) instead. */
static long long sqlite_wait_until;

static int sqlite_busy_wait(void *ctx, int count)
{
    static long long started; /* one wait at a time: the process is single-threaded */
    struct timespec pause = {0, 100 * 1000}; /* 0.1 ms */
    long long now = clock_monotonic_ms();

    (void)ctx;
    if (count == 0)
        started = now;
    if (sqlite_wait_until != 0 ? now >= sqlite_wait_until : now - started >= SQLITE_BUSY_TIMEOUT_MS)
        return 0;
    if (count > 200)
        pause.tv_nsec = 1000 * 1000; /* a long transaction (a reader's checkpoint?) */
    (void)nanosleep(&pause, NULL);
    return 1;
}

static void sqlite_wait_limit(struct catalog *cat, long long until_ms)
{
    (void)cat;
    sqlite_wait_until = until_ms;
}

/* mkdir -p the directory that holds path; a bare file name needs none. */
static int sqlite_make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int ret;

    if (slash == NULL || slash == path)
        return 0;
    dir = xstrndup(path, (size_t)(slash - path));
    ret = safe_mkdir_p(dir, 0750);
    if (ret < 0)
        snprintf(sqlite_open_error, sizeof(sqlite_open_error),
                 "sqlite %s: cannot create directory %s: %s", path, dir, strerror(errno));
    free(dir);
    return ret;
}

struct catalog *catalog_sqlite_open(const char *spec, const struct tab_config *cfg,
                                    const char **error_r)
{
    static const char *const pragmas[] = {
        "PRAGMA synchronous = NORMAL", /* + fdatasync of the WAL after COMMIT, see above */
        "PRAGMA foreign_keys = ON",
        /* Statement and savepoint journals in memory: as files in /var/tmp
         * they cost an inode created and freed per transaction. */
        "PRAGMA temp_store = MEMORY",
    };
    struct sqlite_catalog *sc = NULL;
    sqlite3 *db = NULL;
    const char *what;

    (void)cfg;
    *error_r = sqlite_open_error;
    if (spec == NULL || *spec == '\0') {
        snprintf(sqlite_open_error, sizeof(sqlite_open_error),
                 "sqlite catalog: empty database path (expected sqlite:/path/to/catalog.db)");
        return NULL;
    }
    if (sqlite_make_parent(spec) < 0)
        return NULL;

    what = "open";
    if (sqlite3_open_v2(spec, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK)
        goto db_error;
    /* Before anything that locks: switching to WAL needs the lock too. */
    what = "busy handler";
    if (sqlite3_busy_handler(db, sqlite_busy_wait, NULL) != SQLITE_OK)
        goto db_error;
    what = "journal_mode";
    if (sqlite_set_wal(db, spec) < 0)
        goto db_error;
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        what = pragmas[i];
        if (sqlite3_exec(db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
            goto db_error;
    }
    if (sqlite_schema_upgrade(db, spec) < 0)
        goto fail;

    sc = xcalloc(1, sizeof(*sc));
    sc->db = db;
    sc->wal_fd = -1;
    sc->wal_path = xasprintf("%s-wal", spec);
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(db, sqlite_stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sc->st[i],
                               NULL) != SQLITE_OK) {
            what = "prepare";
            goto db_error;
        }
    }
    sc->path = xstrdup(spec);
    sc->cat.name = "sqlite";
    sc->cat.known_recipients = sqlite_known_recipients;
    sc->cat.add = sqlite_add;
    sc->cat.add_batch = sqlite_add_batch;
    sc->cat.wait_limit = sqlite_wait_limit;
    sc->cat.set_text_source = sqlite_set_text_source;
    sc->cat.changed = sqlite_changed;
    sc->cat.search = sqlite_search;
    sc->cat.get = sqlite_get;
    sc->cat.reindex = sqlite_reindex;
    sc->cat.forward_status = sqlite_forward_status;
    sc->cat.audit = sqlite_audit;
    sc->cat.audit_list = sqlite_audit_list;
    sc->cat.chain_walk = sqlite_chain_walk;
    sc->cat.chain_head = sqlite_chain_head;
    sc->cat.seal = sqlite_seal;
    sc->cat.hold = sqlite_hold;
    sc->cat.hold_list = sqlite_hold_list;
    sc->cat.expire_candidates = sqlite_expire_candidates;
    sc->cat.expire_remove = sqlite_expire_remove;
    sc->cat.stats = sqlite_stats;
    sc->cat.index_pending = sqlite_index_pending;
    sc->cat.close = sqlite_close;
    return &sc->cat;

db_error:
    snprintf(sqlite_open_error, sizeof(sqlite_open_error), "sqlite %s: %s: %s", spec, what,
             db != NULL ? sqlite3_errmsg(db) : "out of memory");
fail:
    if (sc != NULL) {
        for (int i = 0; i < ST_COUNT; i++)
            (void)sqlite3_finalize(sc->st[i]);
        free(sc);
    }
    (void)sqlite3_close(db);
    return NULL;
}
