/*
 * NAME
 *	sqlite_schema 3
 * SUMMARY
 *	SQLite catalog driver: the versioned schema and its upgrade
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 *
 *	if (sqlite_schema_upgrade(db, path) < 0) ... sqlite_open_error
 * DESCRIPTION
 *	Owns the schema of the catalog file: its versions (PRAGMA
 *	user_version, documented in docs/schema.md as a public interface
 *	that operators query with sqlite3) and the steps from each to the next,
 *	run at open. Step 4 chains the copies a catalog had before the
 *	tamper-evident chain existed.
 *
 *	Header and envelope text may be kilobytes long: no index covers
 *	such a column whole (schema version 7: substr(x, 1, 200)), and
 *	every lookup compares the prefix and then the exact value.
 *
 *	Version 8 replaces the full-text table by a contentless one
 *	(sqlite_fts.c) and adds the reversed-domain address keys; version 9
 *	adds the web interface's accounts (sqlite_users.c); version 10 lets
 *	envelope_status be 'imported' (tabularium import); version 11
 *	stores every distinct address once (addresses) and keeps the old
 *	recipients and header_addresses as views.
 *
 *	Must never open a database whose schema is newer than this code.
 * DIAGNOSTICS
 *	sqlite_schema_upgrade() returns -1 with the message in
 *	sqlite_open_error: a schema newer than this code or an invalid
 *	version, or the SQLite failure of a step, after ROLLBACK (the file
 *	keeps its old schema).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/fts.h"
#include "backends/sqlite/sqlite_private.h"
#include "common/log.h"

/*
 * Schema steps: sqlite_schema_steps[v] upgrades version v to v + 1. The
 * step and the new user_version commit in one transaction, so a crash
 * leaves either the old or the new schema. The versions are documented in
 * docs/schema.md.
 */
/* The start of message_overview's SELECT as version 1 wrote it; version 7
 * re-creates the view with index_status added. */
#define SQLITE_OVERVIEW_SELECT                                                                     \
    " SELECT m.id, m.archive_id, m.queue_id,"                                                      \
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"                                            \
    "  m.envelope_from,"                                                                           \
    "  (SELECT group_concat(COALESCE(h.address, h.name), ', ') FROM header_addresses h"            \
    "    WHERE h.message = m.id AND h.field = 'from') AS header_from,"                             \
    "  (SELECT group_concat(r.address, ', ') FROM recipients r"                                    \
    "    WHERE r.message = m.id) AS recipients,"                                                   \
    "  (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"                       \
    "  m.subject, m.message_id, m.size, m.envelope_status,"

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
    "CREATE VIEW message_overview AS" SQLITE_OVERVIEW_SELECT
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
    "CREATE VIEW message_overview AS" SQLITE_OVERVIEW_SELECT
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,"
    "  m.index_status"
    " FROM messages m;";

/*
 * Version 8: search that stays fast at archive scale (docs/search.md).
 * message_text, which kept a second copy of every body text, becomes
 * message_fts: a contentless FTS5 table (no text stored, rowid =
 * messages.id) over the folded document of backends/fts.h (subject,
 * body, sender, recipients; the tokenizer only splits: the text is
 * folded already). messages.fts_hash and fts_rcpts say what each
 * message was indexed with, so that it can be deleted exactly, and
 * fts_stale lists the messages whose document could not be rebuilt
 * (sqlite_fts.c). sqlite_fts_upgrade() then indexes the messages of
 * message_text from its body text and the rows, and drops it. Address
 * keys: the reversed domain of every address (address_rdomain(), the
 * connection's tab_rdomain() function) and indexes for exact addresses
 * (prefix, case ignored, as in version 7) and domains.
 */
static const char sqlite_schema_v8[] =
    "CREATE VIRTUAL TABLE message_fts USING " SQLITE_FTS_TABLE_ARGS ";"
    "ALTER TABLE messages ADD COLUMN fts_hash INTEGER;"
    "ALTER TABLE messages ADD COLUMN fts_rcpts INTEGER;"
    "ALTER TABLE messages ADD COLUMN sender_rdomain TEXT;"
    "ALTER TABLE recipients ADD COLUMN rdomain TEXT;"
    "ALTER TABLE header_addresses ADD COLUMN rdomain TEXT;"
    "UPDATE messages SET sender_rdomain = tab_rdomain(envelope_from);"
    "UPDATE recipients SET rdomain = tab_rdomain(address);"
    "UPDATE header_addresses SET rdomain = tab_rdomain(address);"
    "CREATE INDEX messages_sender ON messages"
    " (substr(envelope_from, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE);"
    "CREATE INDEX messages_sender_rdomain ON messages (sender_rdomain);"
    "CREATE INDEX recipients_rdomain ON recipients (rdomain);"
    "CREATE INDEX header_addresses_address ON header_addresses"
    " (field, substr(address, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE);"
    "CREATE INDEX header_addresses_rdomain ON header_addresses (field, rdomain);"
    "CREATE TABLE fts_stale ("
    " message INTEGER PRIMARY KEY,"
    " noted TEXT NOT NULL,"
    " reason TEXT NOT NULL);";

/*
 * Version 9: the accounts of the web interface (docs/web.md, "Accounts";
 * sqlite_users.c): who may sign in, with which roles and addresses, and
 * the SHA-256 of their API tokens (never a token itself). Removing an
 * account removes its addresses and tokens (foreign keys are on).
 */
static const char sqlite_schema_v9[] =
    "CREATE TABLE web_users ("
    " name TEXT PRIMARY KEY,"
    " roles TEXT NOT NULL,"
    " auth TEXT NOT NULL CHECK (auth IN ('local', 'ldap')),"
    " password_hash TEXT,"
    " totp_secret TEXT,"
    " created TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE web_user_addresses ("
    " name TEXT NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,"
    " address TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY (name, address));"
    "CREATE TABLE web_tokens ("
    " sha256 TEXT PRIMARY KEY,"
    " name TEXT NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,"
    " created TEXT NOT NULL,"
    " last_used TEXT);"
    "CREATE INDEX web_tokens_name ON web_tokens (name);";

/*
 * Version 10: envelope_status 'imported' (tabularium import: recipients
 * reconstructed from the header). SQLite cannot ALTER a CHECK, and
 * rebuilding messages would rewrite every row and its dependants; the
 * constraint only widens, so every row already satisfies it, which is the
 * case the SQLite manual allows editing sqlite_schema for ("ALTER TABLE",
 * section 7: removing CHECK constraints). sqlite_schema_widen_check()
 * then bumps schema_version so that every connection reads it again.
 */
static const char sqlite_schema_v10[] =
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_master SET sql = replace(sql,"
    " 'envelope_status IN (''complete'', ''incomplete'')',"
    " 'envelope_status IN (''complete'', ''incomplete'', ''imported'')')"
    " WHERE type = 'table' AND name = 'messages';"
    "PRAGMA writable_schema = OFF;";

/*
 * Version 11: every distinct address stored once (docs/schema.md,
 * "Addresses"). addresses holds each address as received (bytes kept:
 * the chain hashes and the full-text documents use them; two spellings
 * of one address are two rows, which a search finds both of through the
 * NOCASE prefix index) and its reversed domain. recipient_rows,
 * header_address_rows and messages.sender_id refer to it by id, and the
 * indexes that serve --from/--to hold small integers: (address,
 * message) for the IN form, the per-message indexes for the EXISTS
 * form. recipients and header_addresses become read-only views with
 * their version 8 columns (rowid included), so that what operators and
 * the read statements query keeps working. The rows keep their rowids
 * (the recipients' order). SQLite refuses to drop a table that a view
 * names: message_overview goes first and comes back over the tables.
 */
#define SQLITE_OVERVIEW_V11                                                                        \
    "CREATE VIEW message_overview AS"                                                              \
    " SELECT m.id, m.archive_id, m.queue_id,"                                                      \
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"                                            \
    "  m.envelope_from,"                                                                           \
    "  (SELECT group_concat(COALESCE(a.address, h.name), ', ') FROM header_address_rows h"         \
    "    LEFT JOIN addresses a ON a.id = h.address_id"                                             \
    "    WHERE h.message = m.id AND h.field = 'from') AS header_from,"                             \
    "  (SELECT group_concat(a.address, ', ') FROM recipient_rows r"                                \
    "    JOIN addresses a ON a.id = r.address_id WHERE r.message = m.id) AS recipients,"           \
    "  (SELECT count(*) FROM recipient_rows r WHERE r.message = m.id) AS nrcpt,"                   \
    "  m.subject, m.message_id, m.size, m.envelope_status,"                                        \
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,"                          \
    "  m.index_status"                                                                             \
    " FROM messages m;"

static const char sqlite_schema_v11[] =
    "CREATE TABLE addresses ("
    " id INTEGER PRIMARY KEY,"
    " address TEXT NOT NULL COLLATE NOCASE,"
    " rdomain TEXT);"
    "CREATE INDEX addresses_address ON addresses"
    " (substr(address, 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE);"
    "CREATE INDEX addresses_rdomain ON addresses (rdomain) WHERE rdomain IS NOT NULL;"
    /* every address of the version 8 rows, once, in the order first seen */
    "CREATE TEMP TABLE upgrade_addresses (address TEXT PRIMARY KEY, o INTEGER) WITHOUT ROWID;"
    "INSERT INTO temp.upgrade_addresses (address, o)"
    " SELECT address, min(o) FROM ("
    "  SELECT address, rowid * 4 AS o FROM recipients"
    "  UNION ALL SELECT archive_rcpt, rowid * 4 + 1 FROM recipients WHERE archive_rcpt IS NOT NULL"
    "  UNION ALL SELECT address, rowid * 4 + 2 FROM header_addresses WHERE address IS NOT NULL"
    "  UNION ALL SELECT envelope_from, id * 4 + 3 FROM messages)"
    " GROUP BY address COLLATE BINARY;"
    "INSERT INTO addresses (address, rdomain)"
    " SELECT address, tab_rdomain(address) FROM temp.upgrade_addresses ORDER BY o;"
    "DELETE FROM temp.upgrade_addresses;"
    "INSERT INTO temp.upgrade_addresses (address, o) SELECT address, id FROM addresses;"
    "CREATE TABLE recipient_rows ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " address_id INTEGER NOT NULL REFERENCES addresses (id),"
    " archive_rcpt_id INTEGER REFERENCES addresses (id),"
    " orcpt TEXT,"
    " notify TEXT,"
    " copy INTEGER REFERENCES copies (id));"
    "INSERT INTO recipient_rows (rowid, message, address_id, archive_rcpt_id, orcpt, notify, copy)"
    " SELECT r.rowid, r.message, a.o, b.o, r.orcpt, r.notify, r.copy FROM recipients r"
    " JOIN temp.upgrade_addresses a ON a.address = r.address COLLATE BINARY"
    " LEFT JOIN temp.upgrade_addresses b ON b.address = r.archive_rcpt ORDER BY r.rowid;"
    "CREATE INDEX recipient_rows_message ON recipient_rows (message);"
    "CREATE INDEX recipient_rows_address ON recipient_rows (address_id, message);"
    "CREATE INDEX recipient_rows_archive_rcpt ON recipient_rows (archive_rcpt_id)"
    " WHERE archive_rcpt_id IS NOT NULL;"
    "CREATE INDEX recipient_rows_copy ON recipient_rows (copy);"
    "CREATE TABLE header_address_rows ("
    " message INTEGER NOT NULL REFERENCES messages (id),"
    " field TEXT NOT NULL CHECK (field IN ('from', 'to', 'cc')),"
    " position INTEGER NOT NULL,"
    " name TEXT,"
    " address_id INTEGER REFERENCES addresses (id));"
    "INSERT INTO header_address_rows (rowid, message, field, position, name, address_id)"
    " SELECT h.rowid, h.message, h.field, h.position, h.name, a.o FROM header_addresses h"
    " LEFT JOIN temp.upgrade_addresses a ON a.address = h.address ORDER BY h.rowid;"
    "CREATE INDEX header_address_rows_message ON header_address_rows (message, field, position);"
    "CREATE INDEX header_address_rows_address ON header_address_rows (address_id, field, message)"
    " WHERE address_id IS NOT NULL;"
    "ALTER TABLE messages ADD COLUMN sender_id INTEGER;"
    "UPDATE messages SET sender_id ="
    " (SELECT o FROM temp.upgrade_addresses a WHERE a.address = messages.envelope_from);"
    "DROP INDEX messages_sender;"
    "DROP INDEX messages_sender_rdomain;"
    "ALTER TABLE messages DROP COLUMN sender_rdomain;"
    "CREATE INDEX messages_sender ON messages (sender_id);"
    "DROP TABLE temp.upgrade_addresses;"
    "DROP VIEW message_overview;"
    "DROP TABLE recipients;"
    "DROP TABLE header_addresses;"
    "CREATE VIEW recipients AS"
    " SELECT r.rowid AS rowid, r.message, a.address, b.address AS archive_rcpt, r.orcpt,"
    "  r.notify, r.copy, a.rdomain"
    " FROM recipient_rows r JOIN addresses a ON a.id = r.address_id"
    " LEFT JOIN addresses b ON b.id = r.archive_rcpt_id;"
    "CREATE VIEW header_addresses AS"
    " SELECT h.rowid AS rowid, h.message, h.field, h.position, h.name, a.address, a.rdomain"
    " FROM header_address_rows h LEFT JOIN addresses a ON a.id = h.address_id;" SQLITE_OVERVIEW_V11;

static const char *const sqlite_schema_steps[SQLITE_SCHEMA_VERSION] = {
    sqlite_schema_v1, sqlite_schema_v2,  sqlite_schema_v3,  sqlite_schema_v4,
    sqlite_schema_v5, sqlite_schema_v6,  sqlite_schema_v7,  sqlite_schema_v8,
    sqlite_schema_v9, sqlite_schema_v10, sqlite_schema_v11,
};

/* After sqlite_schema_v10: schema_version + 1, so that the edited CHECK is
 * parsed again (this connection and every other one); -1 on error. */
static int sqlite_schema_widen_check(sqlite3 *db)
{
    sqlite3_stmt *st;
    char sql[64];
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (v < 0)
        return -1;
    /* PRAGMA takes no parameters; the value is our own integer. */
    snprintf(sql, sizeof(sql), "PRAGMA schema_version = %d", v + 1);
    if (sqlite3_exec(db, "PRAGMA writable_schema = ON", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    v = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (sqlite3_exec(db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL) != SQLITE_OK ||
        v != SQLITE_OK)
        return -1;
    return 0;
}

/* tab_rdomain(address): address_rdomain() (backends/fts.h), or NULL. */
static void sqlite_rdomain_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *a = sqlite3_value_text(argv[0]);
    char *r;

    (void)argc;
    r = a != NULL ? address_rdomain((const char *)a) : NULL;
    if (r == NULL)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_text(ctx, r, -1, free);
}

/* The connection's own SQL functions: used by statements and schema
 * steps, never by a schema object (sqlite3 must still read the file). */
int sqlite_register_functions(sqlite3 *db)
{
    return sqlite3_create_function(db, "tab_rdomain", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                   sqlite_rdomain_fn, NULL, NULL) == SQLITE_OK
               ? 0
               : -1;
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
int sqlite_schema_upgrade(sqlite3 *db, const char *path)
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
        what = "index the text of message_text in message_fts";
        if (version + 1 == 8 && sqlite_fts_upgrade(db) < 0)
            goto db_error;
        what = "widen the envelope_status check";
        if (version + 1 == 10 && sqlite_schema_widen_check(db) < 0)
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
