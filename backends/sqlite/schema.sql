-- Tabularium SQLite catalog, schema version 7 (PRAGMA user_version = 7).
--
-- Reference copy for operators and reviewers. The source of truth is the
-- strings sqlite_schema_v1 to sqlite_schema_v7 in backends/sqlite/sqlite_schema.c:
-- a new file gets version 1 and then each later step; an older file gets
-- the steps it lacks. docs/schema.md documents the result as a stable
-- interface.
-- Times are UTC text "YYYY-MM-DDTHH:MM:SSZ", so text order is time order.

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    archive_id TEXT NOT NULL UNIQUE,
    queue_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    message_id TEXT,
    envelope_from TEXT NOT NULL,
    envelope_status TEXT NOT NULL CHECK (envelope_status IN ('complete', 'incomplete')),
    date TEXT,
    date_raw TEXT,
    subject TEXT,
    subject_raw TEXT,
    arrival TEXT NOT NULL,
    size INTEGER NOT NULL,
    mail_params TEXT,
    xforward TEXT
);
CREATE UNIQUE INDEX messages_queue_sha ON messages (queue_id, sha256) WHERE queue_id <> '';
CREATE INDEX messages_message_id ON messages (message_id);
CREATE INDEX messages_when ON messages (COALESCE(date, arrival));

CREATE TABLE copies (
    id INTEGER PRIMARY KEY,
    message INTEGER NOT NULL REFERENCES messages (id),
    archive_id TEXT NOT NULL UNIQUE,
    store TEXT NOT NULL,
    location TEXT NOT NULL,
    wrapped_sha256 TEXT NOT NULL,
    wrapped_size INTEGER NOT NULL,
    stored TEXT NOT NULL
);
CREATE INDEX copies_message ON copies (message);

CREATE TABLE recipients (
    message INTEGER NOT NULL REFERENCES messages (id),
    address TEXT NOT NULL COLLATE NOCASE,
    archive_rcpt TEXT,
    orcpt TEXT,
    notify TEXT,
    copy INTEGER REFERENCES copies (id),
    UNIQUE (message, address)
);
CREATE INDEX recipients_address ON recipients (address);
CREATE INDEX recipients_copy ON recipients (copy);

CREATE TABLE header_addresses (
    message INTEGER NOT NULL REFERENCES messages (id),
    field TEXT NOT NULL CHECK (field IN ('from', 'to', 'cc')),
    position INTEGER NOT NULL,
    name TEXT,
    address TEXT
);
CREATE INDEX header_addresses_message ON header_addresses (message, field, position);

CREATE VIEW message_overview AS
SELECT m.id,
       m.archive_id,
       m.queue_id,
       COALESCE(m.date, m.arrival) AS date_or_arrival,
       m.envelope_from,
       (SELECT group_concat(COALESCE(h.address, h.name), ', ')
          FROM header_addresses h
         WHERE h.message = m.id AND h.field = 'from') AS header_from,
       (SELECT group_concat(r.address, ', ')
          FROM recipients r WHERE r.message = m.id) AS recipients,
       (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,
       m.subject,
       m.message_id,
       m.size,
       m.envelope_status,
       (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies
  FROM messages m;

PRAGMA user_version = 1;

-- Version 2: full-text search and attachments.

-- One row per message, rowid = messages.id: the decoded Subject: and the
-- body text (text/plain and text/html parts, tags stripped, at most 1 MiB).
-- Not contentless: SQLite 3.40 cannot delete rows from a contentless FTS5
-- table without the original text, and expiring a message must remove its
-- words. Messages archived before version 2 have a NULL body.
CREATE VIRTUAL TABLE message_text USING fts5(subject, body,
    tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO message_text (rowid, subject, body) SELECT id, subject, NULL FROM messages;

CREATE TABLE attachments (
    message INTEGER NOT NULL REFERENCES messages (id),
    position INTEGER NOT NULL,
    filename TEXT,
    content_type TEXT NOT NULL
);
CREATE INDEX attachments_message ON attachments (message, position);

PRAGMA user_version = 2;

-- Version 3: what became of each copy forwarded to forward_recipient
-- (docs/forwarding.md). One row per copy, replaced by each outcome:
-- deferred, sent, held, queued (released from hold), deleted.
CREATE TABLE forwards (
    archive_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    detail TEXT,
    updated TEXT NOT NULL
);

PRAGMA user_version = 3;

-- Version 4: integrity, retention, holds and audit (docs/integrity.md).
-- Each copy is one link of the tamper-evident chain; the upgrade chains
-- the copies that exist already, in id order (done in C, in the same
-- transaction: SQLite has no SHA-256 function).
ALTER TABLE copies ADD COLUMN arrival TEXT;
ALTER TABLE copies ADD COLUMN retain_until TEXT;
ALTER TABLE copies ADD COLUMN seq INTEGER;
ALTER TABLE copies ADD COLUMN prev_hash TEXT;
ALTER TABLE copies ADD COLUMN hash TEXT;
UPDATE copies SET arrival = (SELECT m.arrival FROM messages m WHERE m.id = copies.message);
CREATE UNIQUE INDEX copies_seq ON copies (seq);
CREATE INDEX copies_retain_until ON copies (retain_until);
CREATE TABLE chain_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE expired (
    seq INTEGER PRIMARY KEY,
    archive_id TEXT NOT NULL,
    message_archive_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    retain_until TEXT,
    expired TEXT NOT NULL,
    operator TEXT NOT NULL
);
CREATE TABLE seals (
    id INTEGER PRIMARY KEY,
    sealed TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE holds (
    archive_id TEXT NOT NULL,
    case_name TEXT NOT NULL,
    added TEXT NOT NULL,
    operator TEXT NOT NULL,
    PRIMARY KEY (archive_id, case_name)
);
CREATE INDEX holds_case ON holds (case_name);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT
);

PRAGMA user_version = 4;

-- Version 5: full-text indexing off the delivery path. A delivery stores
-- the subject and body text here, in its own transaction (durable before
-- the 250); the daemon's indexer (indexer/indexer.c) moves rows into
-- message_text in short transactions, and a full-text search indexes what
-- is left first. A row here is a message that FTS5 queries cannot see yet.
CREATE TABLE text_pending (
    message INTEGER PRIMARY KEY REFERENCES messages (id),
    subject TEXT,
    body TEXT
);

PRAGMA user_version = 5;

-- Version 6: the daemon's workers no longer extract body text and
-- attachments; from_store = 1 rows get both from the message's first
-- stored copy when the indexer (or a search) indexes them.
ALTER TABLE text_pending ADD COLUMN from_store INTEGER NOT NULL DEFAULT 0;

PRAGMA user_version = 6;

-- Version 7: no index over the raw text of a header or envelope column (a
-- Message-ID or an address may be kilobytes long): indexes cover
-- substr(x, 1, 200), and lookups compare that prefix and then the whole
-- value, written with a unary + (or SQLite propagates the constant into
-- the prefix term and scans). The recipients table is rebuilt without
-- its UNIQUE (message, address) constraint (the daemon skips a known
-- recipient with NOT EXISTS under the write lock). index_status and
-- index_note: a message archived with its envelope only (degraded index).
ALTER TABLE messages ADD COLUMN index_status TEXT NOT NULL DEFAULT 'full'
    CHECK (index_status IN ('full', 'degraded'));
ALTER TABLE messages ADD COLUMN index_note TEXT;
DROP INDEX messages_queue_sha;
DROP INDEX messages_message_id;
CREATE INDEX messages_queue_sha ON messages (sha256, substr(queue_id, 1, 200))
    WHERE queue_id <> '';
CREATE INDEX messages_message_id ON messages (substr(message_id, 1, 200));
CREATE INDEX messages_degraded ON messages (id) WHERE index_status = 'degraded';
DROP VIEW message_overview;
CREATE TABLE recipients_v7 (
    message INTEGER NOT NULL REFERENCES messages (id),
    address TEXT NOT NULL COLLATE NOCASE,
    archive_rcpt TEXT,
    orcpt TEXT,
    notify TEXT,
    copy INTEGER REFERENCES copies (id)
);
INSERT INTO recipients_v7 (rowid, message, address, archive_rcpt, orcpt, notify, copy)
    SELECT rowid, message, address, archive_rcpt, orcpt, notify, copy FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_v7 RENAME TO recipients;
CREATE INDEX recipients_message ON recipients
    (message, substr(address, 1, 200) COLLATE NOCASE);
CREATE INDEX recipients_address ON recipients (substr(address, 1, 200) COLLATE NOCASE);
CREATE INDEX recipients_copy ON recipients (copy);
CREATE VIEW message_overview AS
SELECT m.id,
       m.archive_id,
       m.queue_id,
       COALESCE(m.date, m.arrival) AS date_or_arrival,
       m.envelope_from,
       (SELECT group_concat(COALESCE(h.address, h.name), ', ')
          FROM header_addresses h
         WHERE h.message = m.id AND h.field = 'from') AS header_from,
       (SELECT group_concat(r.address, ', ')
          FROM recipients r WHERE r.message = m.id) AS recipients,
       (SELECT count(*) FROM recipients r WHERE r.message = m.id) AS nrcpt,
       m.subject,
       m.message_id,
       m.size,
       m.envelope_status,
       (SELECT count(*) FROM copies c WHERE c.message = m.id) AS copies,
       m.index_status
  FROM messages m;

PRAGMA user_version = 7;
