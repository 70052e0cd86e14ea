/*
 * NAME
 *	pg_schema 3
 * SUMMARY
 *	versioned migrations of the PostgreSQL store and catalog schema
 * SYNOPSIS
 *	#include "backends/postgres/pg_schema.h"
 *
 *	pg_schema_migrate(pg, PG_SCHEMA_VERSION, 1, &from, &to, &error);	db init
 *	pg_schema_check(pg, name, &error);					driver open
 * DESCRIPTION
 *	Owns the SQL text of every schema version. pg_schema_steps[v]
 *	takes version v to v + 1; a migration run applies the steps and
 *	records each in schema_version, all in one transaction under an
 *	advisory lock, so concurrent runs serialise and a failure leaves
 *	the previous version intact. docs/schema-pgsql.md documents the
 *	result as a public interface: steps only ever add (tables, nullable
 *	or generated columns, indexes, view columns at the end).
 *
 *	Version 1 is the catalog model of the SQLite driver (messages,
 *	copies, recipients, header_addresses, with timestamptz times), the
 *	store's tables (store_objects, store_chunks) and the views of the
 *	documentation. Version 2 adds full-text search (body_text, a
 *	generated tsvector over subject and body text with a GIN index) and
 *	attachments. Versions 3 and 4 add the full-text configuration and
 *	the forwards table; version 5 the integrity chain, retention, holds,
 *	seals and the audit table (docs/integrity.md), and chains the copies
 *	written before it (in id order) in the same transaction. Version 6
 *	replaces every B-tree over raw header or envelope text by one over
 *	md5() of it, and adds messages.index_status and index_note (the
 *	degraded index of docs/schema-pgsql.md). Version 7 replaces the body
 *	text and its generated tsvector by tsvectors of folded words that
 *	tabularium writes, and adds reversed-domain keys; its data step
 *	(pg_schema_fts_existing()) computes them in C for the messages
 *	already there, in batches, reporting progress (pg_schema_set_progress()).
 *	Version 8 ends each address and reversed-domain index in the
 *	message id (a page of an address's newest messages). Version 9 adds
 *	the queue of messages whose attachments' text the indexer has not
 *	read yet, and queues the messages already there that have an
 *	attachment which may hold text (pg_schema_queue_existing()).
 *
 *	Only tabularium db runs migrations; the drivers only check the
 *	version, and refuse an older schema (it lacks what they write) and a
 *	newer one (older code must not write what it does not understand).
 * DIAGNOSTICS
 *	-1 with a message in a buffer of this module, valid until its next
 *	call: the server's error with the step that
 *	failed, a database that is not UTF8, a schema that is missing (db
 *	upgrade), present but older (db init), or newer than this code.
 */
#include "backends/postgres/pg_schema.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/fts.h"
#include "backends/postgres/pg_fts.h"
#include "common/attach_kind.h"
#include "common/buf.h"
#include "common/strlist.h"

#define PG_SCHEMA_STR2(x) #x
#define PG_SCHEMA_STR(x) PG_SCHEMA_STR2(x)

/* pg_advisory_xact_lock key of migrations ("TABU" in ASCII). */
#define PG_SCHEMA_LOCK_KEY "1413563989"

/* The start of message_overview's SELECT as version 1 wrote it; versions
 * 2 and 6 re-create the view with columns added after these. */
#define PG_OVERVIEW_SELECT                                                                         \
    " SELECT m.id, m.archive_id, m.queue_id,"                                                      \
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"                                            \
    "  m.envelope_from,"                                                                           \
    "  (SELECT string_agg(COALESCE(h.address, h.name), ', ' ORDER BY h.position)"                  \
    "    FROM header_addresses h WHERE h.message = m.id AND h.field = 'from') AS header_from,"     \
    "  (SELECT string_agg(r.address, ', ' ORDER BY r.id) FROM recipients r"                        \
    "    WHERE r.message = m.id) AS recipients,"                                                   \
    "  (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,"                       \
    "  m.subject, m.message_id, m.size, m.envelope_status,"

static const char pg_schema_v1[] =
    "CREATE TABLE schema_version ("
    " version integer PRIMARY KEY,"
    " applied timestamptz NOT NULL DEFAULT now(),"
    " tabularium text NOT NULL);"

    "CREATE TABLE messages ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " archive_id text NOT NULL UNIQUE,"
    " queue_id text NOT NULL,"
    " sha256 text NOT NULL,"
    " message_id text,"
    " envelope_from text NOT NULL,"
    " envelope_status text NOT NULL CHECK (envelope_status IN ('complete', 'incomplete')),"
    " date timestamptz,"
    " date_raw text,"
    " subject text,"
    " subject_raw text,"
    " arrival timestamptz NOT NULL,"
    " size bigint NOT NULL CHECK (size >= 0),"
    " mail_params text,"
    " xforward text);"
    "CREATE UNIQUE INDEX messages_queue_sha ON messages (queue_id, sha256) WHERE queue_id <> '';"
    "CREATE INDEX messages_message_id ON messages (message_id, sha256);"
    "CREATE INDEX messages_when ON messages ((COALESCE(date, arrival)));"
    "CREATE INDEX messages_arrival ON messages (arrival);"
    "CREATE INDEX messages_envelope_from ON messages (lower(envelope_from));"

    "CREATE TABLE copies ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
    " archive_id text NOT NULL UNIQUE,"
    " store text NOT NULL,"
    " location text NOT NULL,"
    " wrapped_sha256 text NOT NULL,"
    " wrapped_size bigint NOT NULL CHECK (wrapped_size >= 0),"
    " stored timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX copies_message ON copies (message);"

    "CREATE TABLE recipients ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
    " address text NOT NULL,"
    " archive_rcpt text,"
    " orcpt text,"
    " notify text,"
    " copy bigint REFERENCES copies (id) ON DELETE SET NULL);"
    "CREATE UNIQUE INDEX recipients_message_address ON recipients (message, lower(address));"
    "CREATE INDEX recipients_address ON recipients (lower(address));"
    "CREATE INDEX recipients_copy ON recipients (copy);"

    "CREATE TABLE header_addresses ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
    " field text NOT NULL CHECK (field IN ('from', 'to', 'cc')),"
    " position integer NOT NULL,"
    " name text,"
    " address text);"
    "CREATE INDEX header_addresses_message ON header_addresses (message, field, position);"
    "CREATE INDEX header_addresses_address ON header_addresses (lower(address));"

    "CREATE TABLE store_objects ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " archive_id text NOT NULL,"
    " size bigint NOT NULL CHECK (size >= 0),"
    " sha256 text NOT NULL,"
    " stored timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX store_objects_archive_id ON store_objects (archive_id);"
    "CREATE TABLE store_chunks ("
    " object bigint NOT NULL REFERENCES store_objects (id) ON DELETE CASCADE,"
    " seq integer NOT NULL CHECK (seq >= 0),"
    " data bytea NOT NULL,"
    " PRIMARY KEY (object, seq));"

    "CREATE VIEW message_overview AS" PG_OVERVIEW_SELECT
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies"
    " FROM messages m;"

    "CREATE VIEW recipient_messages AS"
    " SELECT r.address AS recipient, m.id AS message, m.archive_id,"
    "  COALESCE(m.date, m.arrival) AS date_or_arrival,"
    "  m.envelope_from, m.subject, m.message_id, m.envelope_status,"
    "  NOT EXISTS (SELECT 1 FROM header_addresses h WHERE h.message = m.id"
    "   AND h.field IN ('to', 'cc') AND lower(h.address) = lower(r.address)) AS bcc,"
    "  c.archive_id AS copy_archive_id"
    " FROM recipients r JOIN messages m ON m.id = r.message"
    " LEFT JOIN copies c ON c.id = r.copy;"

    "CREATE VIEW sender_daily_counts AS"
    " SELECT (m.arrival AT TIME ZONE 'UTC')::date AS day, m.envelope_from AS sender,"
    "  count(*) AS messages, sum(m.size) AS bytes"
    " FROM messages m GROUP BY 1, 2;"

    "CREATE VIEW incomplete_envelopes AS"
    " SELECT m.id AS message, m.archive_id, m.arrival, m.envelope_from, m.subject, m.message_id,"
    "  (SELECT string_agg(r.address, ', ' ORDER BY r.id) FROM recipients r"
    "    WHERE r.message = m.id) AS envelope_recipients,"
    "  (SELECT string_agg(h.address, ', ' ORDER BY h.field DESC, h.position)"
    "    FROM header_addresses h WHERE h.message = m.id AND h.field IN ('to', 'cc'))"
    "   AS header_recipients"
    " FROM messages m WHERE m.envelope_status = 'incomplete';";

static const char pg_schema_v2[] =
    "ALTER TABLE messages ADD COLUMN body_text text;"
    /* 'simple': no stemming, no stop words, so every language's words
     * are found as written (case-folded by the database's locale). */
    "ALTER TABLE messages ADD COLUMN fts tsvector GENERATED ALWAYS AS"
    " (to_tsvector('simple'::regconfig, COALESCE(subject, '') || ' ' || COALESCE(body_text, '')))"
    " STORED;"
    "CREATE INDEX messages_fts ON messages USING gin (fts);"
    "CREATE TABLE attachments ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " message bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,"
    " position integer NOT NULL,"
    " filename text,"
    " content_type text);"
    "CREATE INDEX attachments_message ON attachments (message, position);"
    "CREATE OR REPLACE VIEW message_overview AS" PG_OVERVIEW_SELECT
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,"
    "  (SELECT count(*) FROM attachments a WHERE a.message = m.id) AS attachments"
    " FROM messages m;";

/* Full-text search as the SQLite catalog does it: accents ignored
 * (unaccent, a trusted extension since PostgreSQL 13), and '<' '>' read as
 * spaces, or the parser takes "<word>" for an XML tag and drops the word. */
static const char pg_schema_v3[] =
    "CREATE EXTENSION IF NOT EXISTS unaccent;"
    "CREATE TEXT SEARCH CONFIGURATION tabularium (COPY = simple);"
    "ALTER TEXT SEARCH CONFIGURATION tabularium"
    " ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;"
    "ALTER TABLE messages DROP COLUMN fts;"
    "ALTER TABLE messages ADD COLUMN fts tsvector GENERATED ALWAYS AS"
    " (to_tsvector('tabularium'::regconfig, translate(COALESCE(subject, '') || ' ' ||"
    " COALESCE(body_text, ''), '<>', '  '))) STORED;"
    "CREATE INDEX messages_fts ON messages USING gin (fts);";

/* What became of each copy forwarded to forward_recipient (the forwarder
 * and tabularium queue write it; as the SQLite catalog's forwards table). */
static const char pg_schema_v4[] = "CREATE TABLE forwards ("
                                   " archive_id text PRIMARY KEY,"
                                   " status text NOT NULL,"
                                   " detail text,"
                                   " updated timestamptz NOT NULL);";

/*
 * Integrity, retention, holds and audit (docs/integrity.md), as the
 * SQLite catalog's version 4: each copy is one link of the chain;
 * chain_head is the row every add() locks (SELECT ... FOR UPDATE) and
 * moves, so concurrent workers write one chain in commit order. Copies
 * from before are chained by pg_schema_chain_existing() in the same
 * transaction.
 */
static const char pg_schema_v5[] =
    "ALTER TABLE copies ADD COLUMN arrival timestamptz;"
    "ALTER TABLE copies ADD COLUMN retain_until timestamptz;"
    "ALTER TABLE copies ADD COLUMN seq bigint;"
    "ALTER TABLE copies ADD COLUMN prev_hash text;"
    "ALTER TABLE copies ADD COLUMN hash text;"
    "UPDATE copies c SET arrival = m.arrival FROM messages m WHERE m.id = c.message;"
    "CREATE UNIQUE INDEX copies_seq ON copies (seq);"
    "CREATE INDEX copies_retain_until ON copies (retain_until);"
    "CREATE TABLE chain_head ("
    " id integer PRIMARY KEY CHECK (id = 1),"
    " seq bigint NOT NULL,"
    " hash text NOT NULL);"
    "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '" CHAIN_GENESIS "');"
    "CREATE TABLE expired ("
    " seq bigint PRIMARY KEY,"
    " archive_id text NOT NULL,"
    " message_archive_id text NOT NULL,"
    " prev_hash text NOT NULL,"
    " hash text NOT NULL,"
    " retain_until timestamptz,"
    " expired timestamptz NOT NULL,"
    " operator text NOT NULL);"
    "CREATE TABLE seals ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " sealed timestamptz NOT NULL,"
    " seq bigint NOT NULL,"
    " hash text NOT NULL);"
    "CREATE TABLE holds ("
    " archive_id text NOT NULL,"
    " case_name text NOT NULL,"
    " added timestamptz NOT NULL DEFAULT now(),"
    " operator text NOT NULL,"
    " PRIMARY KEY (archive_id, case_name));"
    "CREATE INDEX holds_case ON holds (case_name);"
    "CREATE TABLE audit ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " at timestamptz NOT NULL DEFAULT now(),"
    " operator text NOT NULL,"
    " action text NOT NULL,"
    " detail text);";

/*
 * No B-tree over raw header or envelope text, and the degraded index flag
 * (as the SQLite catalog's version 7). A B-tree entry must fit in a third
 * of a page (2704 bytes): a 6,000-character From address or a
 * 9,000-character incompressible Message-ID made every add() fail with
 * "index row size ... exceeds btree maximum", a 451 on every retry. Each
 * such index now covers md5() of the text (32 bytes, immutable, so
 * indexable) and every lookup compares md5() and then the exact value.
 * The recipients' UNIQUE (message, lower(address)) is a plain index:
 * add() skips a recipient the message has already (NOT EXISTS), under
 * the advisory lock on the message's key. (queue_id, sha256) stays
 * UNIQUE over (sha256, md5(queue_id)): two different queue ids of one
 * original with the same MD5 are not a case to design for.
 */
static const char pg_schema_v6[] =
    "ALTER TABLE messages ADD COLUMN index_status text NOT NULL DEFAULT 'full'"
    " CHECK (index_status IN ('full', 'degraded'));"
    "ALTER TABLE messages ADD COLUMN index_note text;"
    "DROP INDEX messages_queue_sha;"
    "CREATE UNIQUE INDEX messages_queue_sha ON messages (sha256, md5(queue_id))"
    " WHERE queue_id <> '';"
    "DROP INDEX messages_message_id;"
    "CREATE INDEX messages_message_id ON messages (md5(message_id));"
    "DROP INDEX messages_envelope_from;"
    "CREATE INDEX messages_envelope_from ON messages (md5(lower(envelope_from)));"
    "CREATE INDEX messages_degraded ON messages (id) WHERE index_status = 'degraded';"
    "DROP INDEX recipients_message_address;"
    "CREATE INDEX recipients_message_address ON recipients (message, md5(lower(address)));"
    "DROP INDEX recipients_address;"
    "CREATE INDEX recipients_address ON recipients (md5(lower(address)));"
    "DROP INDEX header_addresses_address;"
    "CREATE INDEX header_addresses_address ON header_addresses (md5(lower(address)));"
    "CREATE OR REPLACE VIEW message_overview AS" PG_OVERVIEW_SELECT
    "  (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,"
    "  (SELECT count(*) FROM attachments a WHERE a.message = m.id) AS attachments,"
    "  m.index_status"
    " FROM messages m;";

/*
 * Search at archive scale with the words both catalogs index (issue 15,
 * backends/fts.h, docs/search.md), in two parts around a data step in C
 * (pg_schema_fts_existing()), because SQL cannot fold words as
 * common/fold.h does. No second copy of the body text: fts is a tsvector
 * that tabularium writes (pg_fts.h), no longer generated from body_text,
 * which goes. addr_fts holds the words of the sender and the recipients.
 * The reversed domain of each address (address_rdomain()) has a B-tree in
 * byte order (COLLATE "C"), for "@domain and its subdomains" as a range;
 * it is at most PG_RDOMAIN_MAX bytes (a longer one is NULL), so it never
 * meets the B-tree's row limit.
 */
static const char pg_schema_v7_columns[] =
    "ALTER TABLE messages DROP COLUMN fts;"
    "ALTER TABLE messages ADD COLUMN fts tsvector NOT NULL DEFAULT '';"
    "ALTER TABLE messages ADD COLUMN addr_fts tsvector NOT NULL DEFAULT '';"
    "ALTER TABLE messages ADD COLUMN envelope_from_rdomain text COLLATE \"C\";"
    "ALTER TABLE recipients ADD COLUMN rdomain text COLLATE \"C\";"
    "ALTER TABLE header_addresses ADD COLUMN rdomain text COLLATE \"C\";";
static const char pg_schema_v7[] =
    "ALTER TABLE messages DROP COLUMN body_text;"
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS tabularium;"
    "CREATE INDEX messages_fts ON messages USING gin (fts);"
    "CREATE INDEX messages_addr_fts ON messages USING gin (addr_fts);"
    "CREATE INDEX messages_envelope_from_rdomain ON messages (envelope_from_rdomain)"
    " INCLUDE (id);"
    "CREATE INDEX recipients_rdomain ON recipients (rdomain) INCLUDE (message);"
    "CREATE INDEX header_addresses_rdomain ON header_addresses (field, rdomain) INCLUDE (message);"
    /* words beyond the 10,000 most common are estimated rare, as they are
     * (the default 1,000 leaves every word under ~1 % "0.5 %"), so the
     * planner looks for them through GIN */
    "ALTER TABLE messages ALTER COLUMN fts SET STATISTICS 1000;"
    "ANALYZE messages, recipients, header_addresses;";

/*
 * The newest messages of an address or a domain without reading all of
 * them (issue 15): each address and reversed-domain index ends in the
 * message id, so that one address's (or one domain's) entries come in
 * message order and a first page of 50 reads about 50 entries per index
 * (pg_catalog_search.c, "streams"; a header address is looked for in
 * one field at a time, so the field comes before the id). Before, an
 * address in 18,000 of
 * 100,000 messages was a bitmap of all of them and a sort: 240 ms, now
 * 1 ms. The md5() indexes lose B-tree deduplication for it (one entry
 * per row instead of a posting list per address): about 330 bytes per
 * message more at 100,000 messages. And GIN pending lists of at most
 * 256 kB.
 */
static const char pg_schema_v8[] =
    "DROP INDEX recipients_address;"
    "CREATE INDEX recipients_address ON recipients (md5(lower(address)), message);"
    "DROP INDEX header_addresses_address;"
    "CREATE INDEX header_addresses_address ON header_addresses (md5(lower(address)), field,"
    " message);"
    "DROP INDEX messages_envelope_from;"
    "CREATE INDEX messages_envelope_from ON messages (md5(lower(envelope_from)), id);"
    "DROP INDEX recipients_rdomain;"
    "CREATE INDEX recipients_rdomain ON recipients (rdomain, message);"
    "DROP INDEX header_addresses_rdomain;"
    "CREATE INDEX header_addresses_rdomain ON header_addresses (field, rdomain, message);"
    "DROP INDEX messages_envelope_from_rdomain;"
    "CREATE INDEX messages_envelope_from_rdomain ON messages (envelope_from_rdomain, id);"
    /* every word query reads a GIN index's pending list entry by entry;
     * at 10,000 messages the server's 4 MB default made it 40 % of
     * messages_fts and 80 % of messages_addr_fts */
    "ALTER INDEX messages_fts SET (gin_pending_list_limit = 256);"
    "ALTER INDEX messages_addr_fts SET (gin_pending_list_limit = 256);"
    "ANALYZE messages, recipients, header_addresses;";

/*
 * The text inside attachments (issue 15): the messages whose attachments'
 * text the indexer has not read yet (backends/postgres/pg_attach_text.c).
 * add() queues a message with an attachment that may hold text; the
 * indexer adds that text to its fts and deletes the row. The upgrade
 * queues the messages already there that have such an attachment
 * (pg_schema_queue_existing()), so the running daemon's indexer reads
 * them after it.
 */
static const char pg_schema_v9[] =
    "CREATE TABLE attachment_text_pending ("
    " message bigint PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE);";

/*
 * The accounts of the web interface (docs/web.md, "Accounts";
 * pg_users.c), as in the SQLite catalog: who may sign in, with which
 * roles and addresses, and the SHA-256 of their API tokens.
 */
static const char pg_schema_v10[] =
    "CREATE TABLE web_users ("
    " name text PRIMARY KEY,"
    " roles text NOT NULL,"
    " auth text NOT NULL CHECK (auth IN ('local', 'ldap')),"
    " password_hash text,"
    " totp_secret text,"
    " created timestamptz NOT NULL DEFAULT now(),"
    " disabled boolean NOT NULL DEFAULT false);"
    "CREATE TABLE web_user_addresses ("
    " name text NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,"
    " address text NOT NULL);"
    "CREATE UNIQUE INDEX web_user_addresses_key ON web_user_addresses (name, lower(address));"
    "CREATE TABLE web_tokens ("
    " sha256 text PRIMARY KEY,"
    " name text NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,"
    " created timestamptz NOT NULL DEFAULT now(),"
    " last_used timestamptz);"
    "CREATE INDEX web_tokens_name ON web_tokens (name);";

/* envelope_status 'imported' (tabularium import: recipients reconstructed
 * from the header). The constraint widens: no row can fail it. */
static const char pg_schema_v11[] =
    "ALTER TABLE messages DROP CONSTRAINT messages_envelope_status_check;"
    "ALTER TABLE messages ADD CONSTRAINT messages_envelope_status_check"
    " CHECK (envelope_status IN ('complete', 'incomplete', 'imported'));";

/*
 * A subject word without reading the rows whose body has it (issue 15):
 * the subject is weight A of fts, which GIN does not keep, so --subject
 * rechecked every message with the word anywhere (a word in the subjects
 * of 84 and the bodies of 11,000 of 100,000 messages: 11,000 tsvectors
 * read, 60-90 ms; 200-300 ms before the id ranges of
 * pg_catalog_search.c). An index over the subject's words alone
 * (ts_filter() keeps their positions) answers it exactly: 0.6 ms. About
 * 36 bytes per message (3.6 MB at 100,000 messages, messages_fts 45 MB).
 */
static const char pg_schema_v12[] =
    "CREATE INDEX messages_fts_subject ON messages USING gin (ts_filter(fts, '{a}'));"
    "ALTER INDEX messages_fts_subject SET (gin_pending_list_limit = 256);"
    "ANALYZE messages;";

static const char *const pg_schema_steps[PG_SCHEMA_VERSION] = {
    pg_schema_v1, pg_schema_v2, pg_schema_v3, pg_schema_v4,  pg_schema_v5,  pg_schema_v6,
    pg_schema_v7, pg_schema_v8, pg_schema_v9, pg_schema_v10, pg_schema_v11, pg_schema_v12,
};

static char *pg_schema_error(PGconn *pg, const PGresult *res, const char *what);
static int pg_schema_query_params(PGconn *pg, const char *sql, int n, const char *const *values,
                                  const char *what, char **value_r, const char **error_r);
static int pg_schema_query(PGconn *pg, const char *sql, const char *what, char **value_r,
                           const char **error_r);

/* The last message, what *error_r points at: no connection owns it. */
static char *pg_schema_error_text;

/* Keep text (heap) as the module's message; -1. */
static int pg_schema_set(const char **error_r, char *text)
{
    free(pg_schema_error_text);
    pg_schema_error_text = text;
    *error_r = text;
    return -1;
}

static int pg_chain_copy_cmp(const void *key, const void *elem)
{
    long long k = *(const long long *)key, e = *(const long long *)elem;
    return k < e ? -1 : k > e;
}

void pg_chain_rcpts_load(struct pg_chain_rcpts *r, PGresult *res)
{
    r->res = res;
    r->n = PQntuples(res);
    r->copy = xmalloc((size_t)(r->n > 0 ? r->n : 1) * sizeof(*r->copy));
    for (int i = 0; i < r->n; i++)
        r->copy[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
}

void pg_chain_rcpts_free(struct pg_chain_rcpts *r)
{
    PQclear(r->res);
    free(r->copy);
    memset(r, 0, sizeof(*r));
}

static void pg_chain_copy_text(const PGresult *res, int row, int col, char *buf, size_t size)
{
    snprintf(buf, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static char *pg_chain_dup(const PGresult *res, int row, int col)
{
    return xstrdup(PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

static long long pg_chain_number(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void pg_chain_fill(const PGresult *res, int row, const struct pg_chain_rcpts *rcpts,
                   struct chain_link *link)
{
    long long copy;
    const long long *hit;

    memset(link, 0, sizeof(*link));
    link->kind = pg_chain_number(res, row, 0) == 1 ? CHAIN_EXPIRED : CHAIN_COPY;
    link->seq = pg_chain_number(res, row, 1);
    pg_chain_copy_text(res, row, 2, link->prev_hash, sizeof(link->prev_hash));
    pg_chain_copy_text(res, row, 3, link->hash, sizeof(link->hash));
    pg_chain_copy_text(res, row, 4, link->archive_id, sizeof(link->archive_id));
    pg_chain_copy_text(res, row, 5, link->message_archive_id, sizeof(link->message_archive_id));
    link->retain_until = (time_t)pg_chain_number(res, row, 15);
    if (link->kind == CHAIN_EXPIRED) {
        link->expired = (time_t)pg_chain_number(res, row, 18);
        link->expired_by = pg_chain_dup(res, row, 19);
        return;
    }
    link->arrival = (time_t)pg_chain_number(res, row, 6);
    link->queue_id = pg_chain_dup(res, row, 7);
    link->envelope_from = pg_chain_dup(res, row, 8);
    pg_chain_copy_text(res, row, 9, link->sha256, sizeof(link->sha256));
    link->size = (uint64_t)pg_chain_number(res, row, 10);
    pg_chain_copy_text(res, row, 11, link->wrapped_sha256, sizeof(link->wrapped_sha256));
    link->wrapped_size = (uint64_t)pg_chain_number(res, row, 12);
    link->store = pg_chain_dup(res, row, 13);
    link->location = pg_chain_dup(res, row, 14);
    link->message_missing = (int)pg_chain_number(res, row, 16);
    copy = pg_chain_number(res, row, 17);
    hit = rcpts->n > 0 ? bsearch(&copy, rcpts->copy, (size_t)rcpts->n, sizeof(*rcpts->copy),
                                 pg_chain_copy_cmp)
                       : NULL;
    if (hit == NULL)
        return;
    /* bsearch finds any row of the copy: back up to its first. */
    while (hit > rcpts->copy && hit[-1] == copy)
        hit--;
    for (int i = (int)(hit - rcpts->copy); i < rcpts->n && rcpts->copy[i] == copy; i++)
        strlist_add(&link->rcpts, PQgetvalue(rcpts->res, i, 1));
}

/* Version 5 on a database with copies: chain them in id order. */
static int pg_schema_chain_existing(PGconn *pg, const char **error_r)
{
    static const char rows_sql[] = "SELECT 0," PG_CHAIN_COLUMNS ", NULL, NULL"
                                   " FROM copies c LEFT JOIN messages m ON m.id = c.message"
                                   " ORDER BY c.id";
    struct pg_chain_rcpts rcpts = {NULL, NULL, 0};
    PGresult *rows = PQexec(pg, rows_sql), *res;
    char prev[SHA256_HEX_SIZE] = CHAIN_GENESIS;
    long long seq = 0;
    int ret = 0;

    if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
        pg_schema_set(error_r, pg_schema_error(pg, rows, "chain existing copies"));
        PQclear(rows);
        return -1;
    }
    res = PQexec(pg, PG_CHAIN_RCPTS);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_schema_set(error_r, pg_schema_error(pg, res, "chain existing copies"));
        PQclear(res);
        PQclear(rows);
        return -1;
    }
    pg_chain_rcpts_load(&rcpts, res);
    for (int i = 0; i < PQntuples(rows) && ret == 0; i++) {
        struct chain_link link;
        char seq_text[32];
        const char *values[4];

        pg_chain_fill(rows, i, &rcpts, &link);
        link.seq = ++seq;
        memcpy(link.prev_hash, prev, sizeof(prev));
        catalog_chain_hash(&link, link.hash);
        memcpy(prev, link.hash, sizeof(prev));
        snprintf(seq_text, sizeof(seq_text), "%lld", seq);
        values[0] = seq_text;
        values[1] = link.prev_hash;
        values[2] = link.hash;
        values[3] = PQgetvalue(rows, i, 17);
        ret = pg_schema_query_params(pg,
                                     "UPDATE copies SET seq = $1::bigint, prev_hash = $2,"
                                     " hash = $3 WHERE id = $4::bigint",
                                     4, values, "chain existing copies", NULL, error_r);
        catalog_chain_link_free(&link);
    }
    if (ret == 0) {
        char seq_text[32];
        const char *values[2] = {seq_text, prev};
        snprintf(seq_text, sizeof(seq_text), "%lld", seq);
        ret = pg_schema_query_params(pg,
                                     "UPDATE chain_head SET seq = $1::bigint, hash = $2"
                                     " WHERE id = 1",
                                     2, values, "chain existing copies", NULL, error_r);
    }
    pg_chain_rcpts_free(&rcpts);
    PQclear(rows);
    return ret;
}

static pg_schema_progress_fn *pg_schema_progress;
static void *pg_schema_progress_ctx;

void pg_schema_set_progress(pg_schema_progress_fn *fn, void *ctx)
{
    pg_schema_progress = fn;
    pg_schema_progress_ctx = ctx;
}

/* Messages per batch of the version 7 data step; rows per UPDATE. */
#define PG_SCHEMA_FTS_BATCH 500
#define PG_SCHEMA_ROWS_MAX 5000

/* UPDATE table from a VALUES list of rows (ncols text values each, the
 * first the row's id) in vals: sql_head "UPDATE t SET ... FROM (VALUES",
 * sql_tail ") v(...) WHERE ...". */
static int pg_schema_update_rows(PGconn *pg, const char *sql_head, const char *sql_tail,
                                 const char *const *casts, int ncols, struct strlist *vals,
                                 const char **error_r)
{
    size_t rows = vals->n / (size_t)ncols;

    for (size_t first = 0; first < rows; first += PG_SCHEMA_ROWS_MAX) {
        size_t n = rows - first < PG_SCHEMA_ROWS_MAX ? rows - first : PG_SCHEMA_ROWS_MAX;
        struct buf sql = BUF_INIT;
        int ret;

        buf_add_str(&sql, sql_head);
        for (size_t i = 0; i < n; i++) {
            buf_add_str(&sql, i ? ",(" : " (");
            for (int c = 0; c < ncols; c++) {
                char p[48];
                snprintf(p, sizeof(p), "%s$%zu%s", c ? "," : "", i * (size_t)ncols + (size_t)c + 1,
                         casts[c]);
                buf_add_str(&sql, p);
            }
            buf_add_str(&sql, ")");
        }
        buf_add_str(&sql, sql_tail);
        ret = pg_schema_query_params(pg, sql.data, (int)(n * (size_t)ncols),
                                     (const char *const *)vals->v + first * (size_t)ncols,
                                     "migrate to schema version 7: index existing messages", NULL,
                                     error_r);
        buf_free(&sql);
        if (ret < 0)
            return -1;
    }
    return 0;
}

/* Append id and the stored reversed domain of address to vals, when it has one. */
static void pg_schema_rdomain_row(struct strlist *vals, const char *id, const char *address)
{
    char *rd = pg_fts_rdomain(address, 0);

    if (rd == NULL)
        return;
    strlist_add(vals, id);
    strlist_add(vals, rd);
    free(rd);
}

/* One batch of messages (res: id, subject, body_text, envelope_from),
 * their header addresses (message, field, name, address, id) and
 * recipients (message, address, id), both in message order. */
static int pg_schema_fts_batch(PGconn *pg, PGresult *res, PGresult *addrs, PGresult *rcpts,
                               const char **error_r)
{
    static const char *const msg_casts[] = {"::bigint", "::tsvector", "::tsvector", ""};
    static const char *const row_casts[] = {"::bigint", ""};
    struct strlist mv = STRLIST_INIT, av = STRLIST_INIT, rv = STRLIST_INIT;
    int ai = 0, ri = 0, na = PQntuples(addrs), nr = PQntuples(rcpts), ret;

    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        long long mid = strtoll(id, NULL, 10);
        struct archive_record rec;
        struct fts_doc doc;
        char *v, *rd;

        memset(&rec, 0, sizeof(rec));
        rec.subject = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
        rec.body_text = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
        rec.envelope_from = PQgetvalue(res, i, 3);
        for (; ai < na && strtoll(PQgetvalue(addrs, ai, 0), NULL, 10) < mid; ai++)
            ;
        for (; ai < na && strtoll(PQgetvalue(addrs, ai, 0), NULL, 10) == mid; ai++) {
            const char *addr = PQgetisnull(addrs, ai, 3) ? NULL : PQgetvalue(addrs, ai, 3);
            struct record_addrs *a = record_addrs_field(&rec, PQgetvalue(addrs, ai, 1));
            if (a != NULL)
                record_addrs_add(a, PQgetisnull(addrs, ai, 2) ? NULL : PQgetvalue(addrs, ai, 2),
                                 addr);
            pg_schema_rdomain_row(&av, PQgetvalue(addrs, ai, 4), addr);
        }
        for (; ri < nr && strtoll(PQgetvalue(rcpts, ri, 0), NULL, 10) < mid; ri++)
            ;
        for (; ri < nr && strtoll(PQgetvalue(rcpts, ri, 0), NULL, 10) == mid; ri++) {
            record_add_rcpt(&rec, PQgetvalue(rcpts, ri, 1), NULL, NULL, NULL);
            pg_schema_rdomain_row(&rv, PQgetvalue(rcpts, ri, 2), PQgetvalue(rcpts, ri, 1));
        }
        fts_doc_build(&doc, &rec);
        strlist_add(&mv, id);
        v = pg_fts_text_vector(&doc);
        strlist_add(&mv, v);
        free(v);
        v = pg_fts_addr_vector(&doc);
        strlist_add(&mv, v);
        free(v);
        rd = pg_fts_rdomain(rec.envelope_from, 0);
        strlist_add(&mv, rd != NULL ? rd : "");
        free(rd);
        fts_doc_free(&doc);
        /* the strings are the result's: only the lists are the record's */
        rec.subject = rec.body_text = rec.envelope_from = NULL;
        record_free(&rec);
    }
    ret = pg_schema_update_rows(pg,
                                "UPDATE messages m SET fts = v.f, addr_fts = v.a,"
                                " envelope_from_rdomain = NULLIF(v.r, ''), body_text = NULL"
                                " FROM (VALUES",
                                ") v(id, f, a, r) WHERE m.id = v.id", msg_casts, 4, &mv, error_r);
    if (ret == 0)
        ret = pg_schema_update_rows(pg, "UPDATE header_addresses h SET rdomain = v.r FROM (VALUES",
                                    ") v(id, r) WHERE h.id = v.id", row_casts, 2, &av, error_r);
    if (ret == 0)
        ret = pg_schema_update_rows(pg, "UPDATE recipients r SET rdomain = v.r FROM (VALUES",
                                    ") v(id, r) WHERE r.id = v.id", row_casts, 2, &rv, error_r);
    strlist_free(&mv);
    strlist_free(&av);
    strlist_free(&rv);
    return ret;
}

/* Version 7 on a database with messages: compute what SQL cannot (the
 * folded words, the reversed domains) for every message, in batches, in
 * the migration's transaction; the body text goes with it. */
/* The rows of sql (n text parameters); NULL with the error set when it fails. */
static PGresult *pg_schema_rows(PGconn *pg, const char *sql, int n, const char *const *values,
                                const char *what, const char **error_r)
{
    PGresult *res = PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    pg_schema_set(error_r, pg_schema_error(pg, res, what));
    PQclear(res);
    return NULL;
}

/* The next rows of a data step's batch query (its $1: the last id done):
 * their number in *res_r, 0 at the end (nothing kept), -1 on failure. */
static int pg_schema_next_batch(PGconn *pg, const char *sql, const char *last, const char *what,
                                PGresult **res_r, const char **error_r)
{
    const char *values[1] = {last};
    PGresult *res = pg_schema_rows(pg, sql, 1, values, what, error_r);
    int n;

    if (res == NULL)
        return -1;
    n = PQntuples(res);
    if (n == 0)
        PQclear(res);
    else
        *res_r = res;
    return n;
}

static int pg_schema_fts_existing(PGconn *pg, const char **error_r)
{
    static const char what[] = "migrate to schema version 7: index existing messages";
    char *value = NULL, last[32] = "0";
    long long total, done = 0;

    if (pg_schema_query(pg, "SELECT count(*) FROM messages", what, &value, error_r) < 0)
        return -1;
    total = value != NULL ? strtoll(value, NULL, 10) : 0;
    free(value);
    while (done < total) {
        const char *v2[2];
        PGresult *res, *addrs = NULL, *rcpts = NULL;
        int n, ret = -1;

        n = pg_schema_next_batch(pg,
                                 "SELECT id, subject, body_text, envelope_from FROM messages"
                                 " WHERE id > $1::bigint ORDER BY id"
                                 " LIMIT " PG_SCHEMA_STR(PG_SCHEMA_FTS_BATCH),
                                 last, what, &res, error_r);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        v2[0] = PQgetvalue(res, 0, 0);
        v2[1] = PQgetvalue(res, n - 1, 0);
        addrs = pg_schema_rows(pg,
                               "SELECT message, field, name, address, id FROM header_addresses"
                               " WHERE message BETWEEN $1::bigint AND $2::bigint"
                               " ORDER BY message, position, id",
                               2, v2, what, error_r);
        if (addrs != NULL)
            rcpts = pg_schema_rows(pg,
                                   "SELECT message, address, id FROM recipients"
                                   " WHERE message BETWEEN $1::bigint AND $2::bigint"
                                   " ORDER BY message, id",
                                   2, v2, what, error_r);
        if (rcpts != NULL) {
            snprintf(last, sizeof(last), "%s", v2[1]);
            ret = pg_schema_fts_batch(pg, res, addrs, rcpts, error_r);
        }
        PQclear(res);
        PQclear(addrs);
        PQclear(rcpts);
        if (ret < 0)
            return -1;
        done += n;
        if (pg_schema_progress != NULL)
            pg_schema_progress(pg_schema_progress_ctx, done, total);
    }
    return 0;
}

/* Attachment rows per batch of the version 9 data step. */
#define PG_SCHEMA_ATTACH_BATCH 5000

/* Version 9 on a database with attachments: queue every message with one
 * that may hold text (attach_text_candidate(), a rule SQL does not
 * have), in batches of attachment rows, in the migration's transaction. */
static int pg_schema_queue_existing(PGconn *pg, const char **error_r)
{
    static const char what[] = "migrate to schema version 9: queue attachments' text";
    char *value = NULL, last[32] = "0";
    long long total, done = 0;
    int ret = 0;

    if (pg_schema_query(pg, "SELECT count(*) FROM attachments", what, &value, error_r) < 0)
        return -1;
    total = value != NULL ? strtoll(value, NULL, 10) : 0;
    free(value);
    while (done < total && ret == 0) {
        struct buf ids = BUF_INIT;
        PGresult *res;
        int n;

        n = pg_schema_next_batch(pg,
                                 "SELECT id, message, content_type, filename FROM attachments"
                                 " WHERE id > $1::bigint ORDER BY id"
                                 " LIMIT " PG_SCHEMA_STR(PG_SCHEMA_ATTACH_BATCH),
                                 last, what, &res, error_r);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        buf_add_str(&ids, "{");
        for (int i = 0; i < n; i++)
            if (attach_text_candidate(PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
                                      PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3))) {
                buf_add_str(&ids, ids.len > 1 ? "," : "");
                buf_add_str(&ids, PQgetvalue(res, i, 1));
            }
        buf_add_str(&ids, "}");
        snprintf(last, sizeof(last), "%s", PQgetvalue(res, n - 1, 0));
        PQclear(res);
        if (ids.len > 2) {
            const char *v2[1] = {ids.data};
            ret = pg_schema_query_params(pg,
                                         "INSERT INTO attachment_text_pending (message)"
                                         " SELECT DISTINCT m.id FROM messages m"
                                         " WHERE m.id = ANY($1::bigint[])"
                                         " AND m.index_status <> 'degraded'"
                                         " ON CONFLICT DO NOTHING",
                                         1, v2, what, NULL, error_r);
        }
        buf_free(&ids);
        done += n; /* no progress line: a rule in C per row, no words to fold */
    }
    return ret;
}

/* The server's message on one line, as a heap string with a prefix. */
static char *pg_schema_error(PGconn *pg, const PGresult *res, const char *what)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    char *line = xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error");
    char *out;
    size_t len = strlen(line);

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
        line[--len] = '\0';
    for (char *p = line; *p != '\0'; p++)
        if (*p == '\n')
            *p = ' ';
    out = xasprintf("%s: %s", what, line);
    free(line);
    return out;
}

/* Run a statement that returns at most one value: sql may hold several
 * statements when it has no parameters (values NULL). */
static int pg_schema_query_params(PGconn *pg, const char *sql, int n, const char *const *values,
                                  const char *what, char **value_r, const char **error_r)
{
    PGresult *res =
        values == NULL ? PQexec(pg, sql) : PQexecParams(pg, sql, n, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (value_r != NULL)
        *value_r = NULL;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        pg_schema_set(error_r, pg_schema_error(pg, res, what));
        PQclear(res);
        return -1;
    }
    if (value_r != NULL && st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        *value_r = xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

static int pg_schema_query(PGconn *pg, const char *sql, const char *what, char **value_r,
                           const char **error_r)
{
    return pg_schema_query_params(pg, sql, 0, NULL, what, value_r, error_r);
}

int pg_schema_version(PGconn *pg, int *version_r, const char **error_r)
{
    char *value = NULL;

    *version_r = 0;
    if (pg_schema_query(pg, "SELECT to_regclass('schema_version') IS NOT NULL",
                        "read schema version", &value, error_r) < 0)
        return -1;
    if (value == NULL || strcmp(value, "t") != 0) {
        free(value);
        return 0;
    }
    free(value);
    if (pg_schema_query(pg, "SELECT COALESCE(max(version), 0) FROM schema_version",
                        "read schema version", &value, error_r) < 0)
        return -1;
    *version_r = value != NULL ? atoi(value) : 0;
    free(value);
    return 0;
}

int pg_schema_check(PGconn *pg, const char *name, const char **error_r)
{
    int version;
    const char *error = NULL;

    /* The chain step hashes with sha256() (backends/postgres/pg_catalog_ingest.c). */
    if (PQserverVersion(pg) > 0 && PQserverVersion(pg) < 110000) {
        pg_schema_set(
            error_r,
            xasprintf("pgsql %s: PostgreSQL %d.%d is too old: tabularium needs 11 or later", name,
                      PQserverVersion(pg) / 10000, PQserverVersion(pg) % 10000 / 100));
        return -1;
    }
    if (pg_schema_version(pg, &version, &error) < 0) {
        pg_schema_set(error_r, xasprintf("pgsql %s: %s", name, error));
        return -1;
    }
    if (version == PG_SCHEMA_VERSION)
        return 0;
    if (version == 0)
        pg_schema_set(error_r,
                      xasprintf("pgsql %s: the database has no tabularium schema: run tabularium"
                                " db init",
                                name));
    else if (version < PG_SCHEMA_VERSION)
        pg_schema_set(error_r,
                      xasprintf("pgsql %s: schema version %d is older than the version %d this"
                                " tabularium needs: run tabularium db upgrade",
                                name, version, PG_SCHEMA_VERSION));
    else
        pg_schema_set(error_r,
                      xasprintf("pgsql %s: schema version %d is newer than the version %d this"
                                " tabularium knows: upgrade tabularium",
                                name, version, PG_SCHEMA_VERSION));
    return -1;
}

static int pg_schema_record(PGconn *pg, int version, const char **error_r)
{
    char v[16];
    const char *values[2] = {v, TAB_VERSION};

    snprintf(v, sizeof(v), "%d", version);
    return pg_schema_query_params(
        pg, "INSERT INTO schema_version (version, tabularium) VALUES ($1, $2)", 2, values,
        "record schema version", NULL, error_r);
}

int pg_schema_migrate(PGconn *pg, int target, int create, int *from_r, int *to_r,
                      const char **error_r)
{
    char *value = NULL, *what;
    int version = 0;

    *from_r = *to_r = 0;
    if (target < 1 || target > PG_SCHEMA_VERSION) {
        pg_schema_set(error_r,
                      xasprintf("schema version %d does not exist (this tabularium knows 1 to %d)",
                                target, PG_SCHEMA_VERSION));
        return -1;
    }
    if (pg_schema_query(pg, "BEGIN", "begin", NULL, error_r) < 0)
        return -1;
    if (pg_schema_query(pg, "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK_KEY ")", "lock schema",
                        NULL, error_r) < 0 ||
        pg_schema_version(pg, &version, error_r) < 0)
        goto fail;
    *from_r = *to_r = version;
    if (version > PG_SCHEMA_VERSION) {
        pg_schema_set(error_r,
                      xasprintf("schema version %d is newer than the version %d this tabularium"
                                " knows: upgrade tabularium",
                                version, PG_SCHEMA_VERSION));
        goto fail;
    }
    if (version == 0 && !create) {
        pg_schema_set(error_r,
                      xstrdup("the database has no tabularium schema: run tabularium db init"));
        goto fail;
    }
    if (version > 0 && create && version < target) {
        pg_schema_set(error_r,
                      xasprintf("the database has schema version %d already: run tabularium db"
                                " upgrade",
                                version));
        goto fail;
    }
    if (version > target) {
        pg_schema_set(error_r, xasprintf("schema version %d is newer than the requested version %d;"
                                         " migrations never go back",
                                         version, target));
        goto fail;
    }
    if (version == 0) {
        /* Text columns hold UTF-8 and full-text search needs to know it. */
        if (pg_schema_query(pg, "SHOW server_encoding", "server encoding", &value, error_r) < 0)
            goto fail;
        if (value == NULL || strcmp(value, "UTF8") != 0) {
            pg_schema_set(error_r, xasprintf("the database encoding is %s; tabularium needs UTF8"
                                             " (createdb -E UTF8 --locale=C.UTF-8 ...)",
                                             value != NULL ? value : "unknown"));
            free(value);
            goto fail;
        }
        free(value);
    }
    for (; version < target; version++) {
        what = xasprintf("migrate to schema version %d", version + 1);
        /* Version 7: the columns, the words computed here, then the rest. */
        if (version + 1 == 7 &&
            (pg_schema_query(pg, pg_schema_v7_columns, what, NULL, error_r) < 0 ||
             pg_schema_fts_existing(pg, error_r) < 0)) {
            free(what);
            goto fail;
        }
        if (pg_schema_query(pg, pg_schema_steps[version], what, NULL, error_r) < 0) {
            free(what);
            goto fail;
        }
        free(what);
        if (version + 1 == 5 && pg_schema_chain_existing(pg, error_r) < 0)
            goto fail;
        if (version + 1 == 9 && pg_schema_queue_existing(pg, error_r) < 0)
            goto fail;
        if (pg_schema_record(pg, version + 1, error_r) < 0)
            goto fail;
    }
    if (pg_schema_query(pg, "COMMIT", "commit", NULL, error_r) < 0)
        return -1;
    *to_r = version;
    return 0;

fail:
    PQclear(PQexec(pg, "ROLLBACK"));
    return -1;
}
