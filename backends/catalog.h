/*
 * NAME
 *	catalog 3h
 * SUMMARY
 *	the catalog's public calls and its driver registry
 * SYNOPSIS
 *	struct catalog *cat = catalog_open("sqlite:/var/lib/tabularium/catalog.db", cfg, &err);
 *	if (catalog_add(cat, &rec, &err) != TAB_OK) ...
 *	if (catalog_can(cat, CATALOG_CAN_HOLD)) ...
 *	catalog_close(&cat);
 * DESCRIPTION
 *	The catalog indexes archived messages. One message is keyed on
 *	(queue id, SHA-256 of the original); a later transaction for the same
 *	message (Postfix split or retried its recipients) adds its stored copy
 *	and its new recipients to that message instead of a second one.
 *
 *	struct catalog is opaque: callers use one public call per
 *	operation (catalog_add(), catalog_search(), ...), which
 *	backends/catalog_calls.c dispatches through the driver's private,
 *	versioned vtable (backends/catalog_private.h; Dovecot's
 *	mail-storage-private.h, libgit2's sys/odb_backend.h). Most
 *	operations are optional in a driver: a call the driver lacks
 *	returns TAB_PERM with a static message, and catalog_can() tells a
 *	caller in advance when it must choose another path or say so in
 *	its own words.
 *
 *	catalog_add() returns TAB_OK only after commit (durable), and appends the
 *	copy to the tamper-evident chain in the same transaction (struct
 *	chain_link; docs/integrity.md). The chain covers the envelope, the
 *	hashes, sizes, store, location and retention, never the header
 *	index fields or the text: catalog_reindex() may replace those.
 *
 *	Errors are classified for the caller that chooses the LMTP reply:
 *	TAB_PERM when the row's content makes the database refuse it and a
 *	retry would fail the same way (a constraint, a value or row too
 *	large, bytes the encoding refuses); TAB_RETRY for everything that
 *	may pass later (connection, lock, I/O, disk full). A delivery that
 *	gets TAB_PERM stores the copy with a degraded record (record.h:
 *	INDEX_DEGRADED) instead of answering 451 again and again.
 *
 *	Header and envelope text is unbounded (a Message-ID, an address or a
 *	subject may be kilobytes long): no driver builds a B-tree over the
 *	raw text. An index covers a hash (PostgreSQL: md5()) or a bounded
 *	prefix (SQLite: substr(x, 1, 200)), and every lookup compares that
 *	expression and then the exact value (docs/schema.md,
 *	docs/schema-pgsql.md). Drivers are opened
 *	from "type:spec" through one table in catalog.c; open failures give
 *	NULL (CLI) or a failing driver (daemon), as in store.h.
 * DIAGNOSTICS
 *	*error_r points at a driver-owned message valid until the next call.
 */
#ifndef TAB_CATALOG_H
#define TAB_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backends/record.h"
#include "common/config.h"
#include "common/result.h"
#include "common/strlist.h"

/* What to look for (docs/search.md; backends/fts.h reads the values the
 * same way for both drivers). Every field set must hold (AND). */
struct search_query {
    const char *from;       /* envelope sender or header From: an address (exact, any case),
                               "@domain" (and its subdomains), a "*" wildcard, or words of
                               the names and addresses (address_match_parse()) */
    const char *to;         /* the same over envelope recipients (Bcc too) and To/Cc */
    const char *subject;    /* words of the decoded subject, in this order (a phrase) */
    const char *message_id; /* exact Message-ID (angle brackets optional) */
    time_t since;           /* 0: unbounded; compared with Date (arrival if none) */
    time_t until;           /* 0: unbounded; exclusive */
    long limit;             /* 0: no limit */
    long offset;            /* matches skipped first (newest first), for paging */
    const char *text;       /* full-text query over subject, body and attachment text,
                               websearch syntax: words (AND), "a phrase", OR, -word (NOT) */
    const char *attachment; /* substring of an attachment's file name */
    int has_attachment;     /* 1: only messages with at least one attachment */
    int degraded;           /* 1: only messages with a degraded index (INDEX_DEGRADED) */
};

/* Called once per match, newest first; rec is freed after the call.
 * Return non-zero to stop early. */
typedef int catalog_row_fn(const struct archive_record *rec, void *ctx);

/* One line of the audit table. */
struct catalog_audit_row {
    int64_t id;
    time_t at;
    const char *user, *action, *detail;
};
typedef int catalog_audit_fn(const struct catalog_audit_row *row, void *ctx);

/*
 * One link of the tamper-evident chain: one stored copy (one catalog_add()). The
 * hash covers the fields below in the encoding of catalog_chain_encode()
 * (docs/integrity.md), with the values exactly as the catalog stores them.
 */
enum chain_link_kind {
    CHAIN_COPY,            /* a copies row (message fields from its message row) */
    CHAIN_EXPIRED,         /* removed by expire: seq, archive id, hash, expired, user */
    CHAIN_MESSAGE_NO_COPY, /* a messages row without any copy: archive id only */
};

struct chain_link {
    enum chain_link_kind kind;
    int64_t seq;         /* 0: the row carries no seq */
    int message_missing; /* CHAIN_COPY whose messages row is gone */
    char prev_hash[SHA256_HEX_SIZE];
    char hash[SHA256_HEX_SIZE];
    char archive_id[ARCHIVE_ID_SIZE];         /* of the copy */
    char message_archive_id[ARCHIVE_ID_SIZE]; /* of its message */
    time_t arrival;                           /* of the copy's transaction */
    char *queue_id;
    char *envelope_from;
    struct strlist rcpts;         /* the recipients this copy added, sorted (strcmp) */
    char sha256[SHA256_HEX_SIZE]; /* of the original */
    uint64_t size;
    char wrapped_sha256[SHA256_HEX_SIZE];
    uint64_t wrapped_size;
    char *store;
    char *location;
    time_t retain_until; /* 0: forever */
    time_t expired;      /* CHAIN_EXPIRED: when */
    char *expired_by;    /* CHAIN_EXPIRED: who */
};
typedef int catalog_chain_fn(const struct chain_link *link, void *ctx);

/* A chain head as seal prints it: count = seq of the head link. */
struct chain_seal {
    time_t at;
    int64_t seq;
    char hash[SHA256_HEX_SIZE];
};

struct catalog_hold_row {
    const char *case_name, *archive_id, *user;
    time_t added;
};
typedef int catalog_hold_fn(const struct catalog_hold_row *row, void *ctx);

/* An account of the web interface (docs/web.md, "Accounts"): roles is a
 * comma-separated set of "user", "auditor", "officer", "admin" in that
 * order; auth "local" (password_hash: yescrypt, web/password.h) or "ldap"
 * (no hash: the directory checks the password). totp_secret: base32, or
 * NULL when one-time codes are off. addresses: the mail addresses a
 * "user" sees the mail of. */
struct catalog_user {
    char *name, *roles, *auth, *password_hash, *totp_secret;
    struct strlist addresses;
    time_t created;
    int disabled;
};
/* Free what a catalog_user_get() or a caller filled in (not u itself). */
void catalog_user_free(struct catalog_user *u);
typedef int catalog_user_fn(const struct catalog_user *u, void *ctx);

struct catalog_stats {
    int64_t messages, copies, bytes, wrapped_bytes, incomplete, held, expired;
    int64_t text_pending;  /* messages not yet in the full-text index (catalog_index_pending) */
    int64_t degraded;      /* messages with a degraded index (index_status) */
    time_t oldest, newest; /* arrival; 0 when empty */
    /* forward state: copies per forwards.status */
    int64_t fwd_deferred, fwd_sent, fwd_held, fwd_queued, fwd_deleted;
};
/* period: "day" or "month"; key "YYYY-MM-DD" / "YYYY-MM" (arrival, UTC). */
typedef int catalog_stats_row_fn(const char *period, const char *key, int64_t messages,
                                 int64_t bytes, void *ctx);

/* Body text and attachments of a stored copy, for a catalog that indexes
 * after the delivery what the worker did not extract (record.index_later):
 * fills rec->body_text and rec->attachments from the copy at (store,
 * location). TAB_RETRY: the store cannot be read now (try later);
 * TAB_PERM: never (another store, the copy is gone). */
typedef enum tab_result catalog_text_fn(void *ctx, const char *store, const char *location,
                                        struct archive_record *rec, const char **error_r);

/* Opaque: a driver's state behind its vtable (backends/catalog_private.h).
 * Callers use the calls below, never the methods. */
struct catalog;

/* What a caller may ask of a driver before calling, when it must know in
 * advance (to choose another path or print its own message). A call the
 * driver lacks returns TAB_PERM with a static message all the same. */
enum catalog_capability {
    CATALOG_CAN_ADD_BATCH,      /* catalog_add_batch() */
    CATALOG_CAN_WAIT_LIMIT,     /* catalog_wait_limit() has an effect */
    CATALOG_CAN_TEXT_SOURCE,    /* catalog_set_text_source() has an effect */
    CATALOG_CAN_REINDEX,        /* catalog_reindex() */
    CATALOG_CAN_FORWARD_STATUS, /* catalog_forward_status() */
    CATALOG_CAN_AUDIT,          /* catalog_audit() and catalog_audit_list() */
    CATALOG_CAN_CHAIN_WALK,     /* catalog_chain_walk() */
    CATALOG_CAN_SEAL,           /* catalog_seal() */
    CATALOG_CAN_HOLD,           /* catalog_hold() and catalog_hold_list() */
    CATALOG_CAN_EXPIRE,         /* catalog_expire_candidates(), catalog_expire_remove()
                                   and catalog_chain_walk() */
    CATALOG_CAN_STATS,          /* catalog_stats() */
    CATALOG_CAN_INDEX_PENDING,  /* catalog_index_pending(): the driver indexes text later */
    CATALOG_CAN_COUNT,          /* catalog_count() */
    CATALOG_CAN_INDEX_HEALTH,   /* catalog_index_health() */
    CATALOG_CAN_INDEX_REBUILD,  /* catalog_index_check() and catalog_index_rebuild() */
    CATALOG_CAN_USERS,          /* catalog_user_*() and catalog_token_*() */
};

/* 1 when cat has what cap names, else 0. */
int catalog_can(const struct catalog *cat, enum catalog_capability cap);
/* The driver name: "sqlite", "pgsql", "failing". */
const char *catalog_name(const struct catalog *cat);

/* Recipients already archived for the message with this key: (queue_id,
 * sha256), or, when the queue id is unknown (""), (message_id, sha256)
 * among messages without a queue id. Empty when the message is new or
 * both queue_id and message_id are unknown. */
enum tab_result catalog_known_recipients(struct catalog *cat, const char *queue_id,
                                         const char *sha256, const char *message_id,
                                         struct strlist *rcpts_r, const char **error_r);
/* Record a stored copy. If the message is already known (the key of
 * catalog_known_recipients(): queue id or Message-ID, with the SHA-256),
 * the copy and any new recipients join it; otherwise a new message is
 * created with rec->archive_id, with rec->index_status and
 * rec->index_note. Of a degraded record (INDEX_DEGRADED) only the
 * envelope, hashes, sizes, queue id, arrival, retention, store and
 * location are stored: its header fields, text and attachments are
 * ignored (catalog_record_as_stored), so its content cannot fail it
 * again, and it is not merged by Message-ID. A copy that joins a known
 * message never changes that message's index fields or status.
 * TAB_PERM: the record's content was refused and nothing of it was
 * written; a PostgreSQL store transaction that add was to continue
 * (same connection, same location) stays open for one more add of the
 * same copy, e.g. with a degraded record. */
enum tab_result catalog_add(struct catalog *cat, const struct archive_record *rec,
                            const char **error_r);
/* catalog_add() for several copies in one transaction (group commit: one
 * commit and one sync for all). results[i] and errors[i] (heap or NULL,
 * the caller frees) are each copy's outcome; a copy that fails does not
 * stop the others. Returns TAB_OK when the transaction was committed and
 * synced, else every result is that failure. Each copy runs in its own
 * savepoint: a copy refused for its content (TAB_PERM) is rolled back
 * alone. Optional (CATALOG_CAN_ADD_BATCH): without it, every result is
 * TAB_PERM; add one by one instead. */
enum tab_result catalog_add_batch(struct catalog *cat, const struct archive_record *const *recs,
                                  size_t n, enum tab_result *results, char **errors,
                                  const char **error_r);
/* Calls after this give up waiting for a lock held by another process at
 * until_ms (CLOCK_MONOTONIC, ms) instead of after the driver's own
 * timeout; 0 restores that. Does nothing without CATALOG_CAN_WAIT_LIMIT. */
void catalog_wait_limit(struct catalog *cat, long long until_ms);
/* Where catalog_index_pending() gets the text of copies added with
 * index_later (without a source such messages stay pending), and
 * catalog_index_rebuild() the text of every copy. Does nothing in a
 * driver without CATALOG_CAN_TEXT_SOURCE. */
void catalog_set_text_source(struct catalog *cat, catalog_text_fn *fn, void *ctx);
/* 1 when another connection committed since the last call (0 the first
 * time, on errors, and in a driver that cannot tell): the indexer keeps
 * out of the way of deliveries. */
int catalog_changed(struct catalog *cat);
enum tab_result catalog_search(struct catalog *cat, const struct search_query *q,
                               catalog_row_fn *fn, void *ctx, const char **error_r);
/* How many messages q matches (its limit and offset ignored), without
 * reading them. Optional: CATALOG_CAN_COUNT. */
enum tab_result catalog_count(struct catalog *cat, const struct search_query *q, long long *n_r,
                              const char **error_r);
/* Fill rec for one archive id (of the message or of any of its copies).
 * TAB_PERM with "not found" when unknown. */
enum tab_result catalog_get(struct catalog *cat, const char *archive_id,
                            struct archive_record *rec_r, const char **error_r);
/* Re-index message rec->archive_id (the message's archive id or one of
 * its copies'): in one transaction, replace every header index field
 * (hdr_from/to/cc, date, date_raw, subject, subject_raw, message_id),
 * the body text and attachments (or, with rec->index_later, leave them
 * to the driver's indexer: SQLite), and set index_status / index_note
 * from rec (NULL: full; a degraded rec clears the index fields, as
 * catalog_add() stores it). Never touches what the chain covers
 * (envelope, recipients, copies, hashes, sizes, retention), so
 * catalog_chain_walk() and verify stay valid. TAB_PERM "not found" for
 * an unknown archive id, or the content refused as in catalog_add()
 * (nothing changed). Optional: CATALOG_CAN_REINDEX. */
enum tab_result catalog_reindex(struct catalog *cat, const struct archive_record *rec,
                                const char **error_r);
/* Record what became of the forwarded copy archive_id
 * (forwarder/forwarder.c, tabularium queue): status "deferred" (still
 * queued; detail: the last reason), "sent" (detail: the remote reply),
 * "held" (detail: why), "queued" (released from hold by the operator),
 * "deleted" (removed by the operator). One row per copy, replaced by
 * each call, with the time. No row: queued and not tried yet, or
 * forwarding is off. Optional: CATALOG_CAN_FORWARD_STATUS. */
enum tab_result catalog_forward_status(struct catalog *cat, const char *archive_id,
                                       const char *status, const char *detail,
                                       const char **error_r);

/* --- Integrity, retention, holds, audit (docs/integrity.md). Every call
 * below is optional (see enum catalog_capability). --- */

/* Append one line to the audit table: who (login name or uid), what
 * (action: "show", "export", "hold add", "expire", "queue delete", ...)
 * and detail (the ids or the query, free text). Commits at once, in its
 * own transaction. */
enum tab_result catalog_audit(struct catalog *cat, const char *user, const char *action,
                              const char *detail, const char **error_r);
/* Audit lines since (0: all), oldest first. */
enum tab_result catalog_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                   void *ctx, const char **error_r);
/* Every link of the chain in seq order: the stored copies, the records
 * removed by expire (CHAIN_EXPIRED), then copies that carry no seq and
 * messages without any copy; and the chain head (at: now). One
 * snapshot. */
enum tab_result catalog_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                   catalog_chain_fn *fn, void *ctx, const char **error_r);
/* The chain head (seq 0 and 64 zeros for an empty chain). */
enum tab_result catalog_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                   const char **error_r);
/* Store the current head as a seal (time now) and return it. */
enum tab_result catalog_seal(struct catalog *cat, struct chain_seal *seal_r, const char **error_r);
/* Put (on) or take (off) message archive_id on/off hold for case_name.
 * *holds_r: how many cases hold the message afterwards. TAB_PERM "not
 * found" for an unknown message (archive_id may name any of its
 * copies); adding an existing hold or releasing a missing one is no
 * error (*changed_r = 0). locations_r gets the location of each copy,
 * for the store's own legal hold. */
enum tab_result catalog_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                             int on, const char *user, int *changed_r, int *holds_r,
                             struct strlist *locations_r, const char **error_r);
/* Holds of case_name (NULL: all), by case then message. */
enum tab_result catalog_hold_list(struct catalog *cat, const char *case_name, catalog_hold_fn *fn,
                                  void *ctx, const char **error_r);
/* Messages whose every copy is past its retain-until at now and that no
 * case holds, oldest first; one callback per copy. */
enum tab_result catalog_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                          void *ctx, const char **error_r);
/* Remove message archive_id and its rows, recording each of its copies
 * (seq, archive id, hash) in the expired table, in one transaction.
 * Refuses (TAB_PERM) a message that is held or not past retention. */
enum tab_result catalog_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                      const char *user, const char **error_r);
/* Before expire removes the stored copies of archive_id's message: take
 * it out of the full-text index while its copy can still be read (a
 * driver that must be given the indexed text to delete it: SQLite), and
 * queue it to be indexed again, in case it stays. Does nothing (TAB_OK)
 * in a driver without the method. */
enum tab_result catalog_unindex(struct catalog *cat, const char *archive_id, const char **error_r);
/* Overview for tabularium stats. */
enum tab_result catalog_stats(struct catalog *cat, struct catalog_stats *stats_r,
                              catalog_stats_row_fn *fn, void *ctx, const char **error_r);

/* --- Accounts of the web interface (docs/web.md). Optional:
 * CATALOG_CAN_USERS. Names are compared exactly; each call commits. --- */

/* Create (create = 1: TAB_PERM "already exists" when the name is taken)
 * or replace (create = 0: TAB_PERM "no such account") an account, its
 * addresses included; created is set by the catalog on creation. */
enum tab_result catalog_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                 const char **error_r);
/* One account; TAB_PERM "no such account". Free with catalog_user_free(). */
enum tab_result catalog_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                 const char **error_r);
/* Every account, by name. */
enum tab_result catalog_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                  const char **error_r);
/* Remove an account with its addresses and API tokens; TAB_PERM "no such
 * account". */
enum tab_result catalog_user_delete(struct catalog *cat, const char *name, const char **error_r);
/* Record an API token of an account by its SHA-256 (the token itself is
 * never stored); TAB_PERM "no such account". */
enum tab_result catalog_token_add(struct catalog *cat, const char *name, const char *token_sha256,
                                  const char **error_r);
/* The account a token's SHA-256 belongs to (*name_r: free()); TAB_PERM
 * "unknown token". Notes the time it was used. */
enum tab_result catalog_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                   const char **error_r);

/* Full-text indexing off the delivery path (indexer/indexer.c). A driver
 * that has it (CATALOG_CAN_INDEX_PENDING) makes catalog_add() store the
 * text durably but unindexed, and catalog_search() with q->text index
 * what is pending first when it can write (so no caller misses mail);
 * this moves up to max_rows pending messages into the full-text index
 * in one short transaction. *done_r: how many it moved (0: nothing was
 * pending). max_rows 0 only counts. left_r (may be NULL): how many are
 * still pending afterwards (a count(*): not for every batch).
 * PostgreSQL indexes subject and body text inside add and only the text
 * inside attachments here; its searches do not wait for it. */
enum tab_result catalog_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                      int64_t *left_r, const char **error_r);

/* What a full-text search cannot see (search warns about it, distinct
 * from "no match"): *pending_r messages not indexed yet, *stale_r
 * messages whose index entry could not be removed exactly and that
 * full-text matches exclude until the index is rebuilt. Optional
 * (CATALOG_CAN_INDEX_HEALTH): without it both are 0 and TAB_PERM. */
enum tab_result catalog_index_health(struct catalog *cat, int64_t *pending_r, int64_t *stale_r,
                                     const char **error_r);

/* What catalog_index_check() found (tabularium index check). */
struct catalog_index_report {
    int64_t messages;           /* messages in the catalog */
    int64_t indexed;            /* of them, with an entry in the full-text index */
    int64_t pending;            /* not indexed yet: the indexer's backlog, not damage */
    int64_t stale;              /* entry not removable exactly: excluded from matches */
    int64_t unindexed;          /* neither indexed, pending nor stale: text search misses them */
    int64_t damaged;            /* indexed, but their entry lacks their subject's words */
    int64_t documents;          /* entries the full-text index holds; -1 when it cannot tell */
    int64_t documents_expected; /* what the catalog's rows say it should hold */
    /* An unfinished catalog_index_rebuild() (resumed by the next one). */
    int rebuild_unfinished;
    int64_t rebuild_done, rebuild_total;
    time_t rebuild_since;
};
enum catalog_index_problem {
    CATALOG_INDEX_STALE,
    CATALOG_INDEX_UNINDEXED,
    CATALOG_INDEX_DAMAGED,
};
/* One message with a problem; non-zero to stop listing (the counts go on). */
typedef int catalog_index_problem_fn(const char *archive_id, enum catalog_index_problem what,
                                     void *ctx);
/* Compare the catalog's rows with its full-text index: counts in *r, one
 * fn call per problem message (stale, unindexed, damaged: a probe of
 * each indexed message's subject words). Reads only; the stored copies
 * are the caller's to check (catalog_chain_walk()). Optional:
 * CATALOG_CAN_INDEX_REBUILD. */
enum tab_result catalog_index_check(struct catalog *cat, struct catalog_index_report *r,
                                    catalog_index_problem_fn *fn, void *ctx, const char **error_r);

/* The state of a catalog_index_rebuild(), kept in the catalog between
 * calls and between runs (an interrupted rebuild resumes). */
struct catalog_index_rebuild {
    time_t since;    /* in: 0 the whole index, else messages archived since */
    int restarted;   /* out: an unfinished rebuild of another since was dropped */
    int64_t resumed; /* out: messages an earlier run had rebuilt already */
    int64_t done;    /* out: messages rebuilt so far, earlier runs included */
    int64_t total;   /* out: messages the rebuild covers (known when it started) */
    int64_t missing; /* out: copies that could not be read: indexed from the rows only */
    int finished;    /* out: 1 when the rebuilt index is in place and the state gone */
};
/* Re-derive the full-text index of rb->since's messages from their
 * stored copies (read through the text source, catalog_set_text_source())
 * and their rows: one call rebuilds up to max_rows more messages in one
 * committed batch, so the caller shows progress and a kill loses at
 * most one batch. Call until rb->finished. A rebuild whose state is in
 * the catalog with the same since continues where it stopped; with
 * another since it starts over (rb->restarted). The index stays
 * searchable throughout: it is the old one until the rebuilt one takes
 * its place (SQLite), or each message's words are replaced in place
 * (PostgreSQL). A copy that cannot be read for good (TAB_PERM from the
 * source) is indexed from the rows alone and counted in rb->missing;
 * TAB_RETRY from the source stops the batch (nothing of it committed).
 * Optional: CATALOG_CAN_INDEX_REBUILD. */
enum tab_result catalog_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                      int max_rows, const char **error_r);

/* Helpers for drivers, so that every catalog reads a query the same way. */
/* LIKE/ILIKE pattern matching s as a literal substring with ESCAPE '\\':
 * "%" + s + "%" with %, _ and \\ escaped. Heap. */
char *catalog_like_substring(const char *s);
/* A Message-ID as stored: blanks and one pair of angle brackets removed. Heap. */
char *catalog_message_id_bare(const char *s);
/* rec->index_status as stored: INDEX_DEGRADED or INDEX_FULL (for NULL). */
const char *catalog_index_status(const struct archive_record *rec);
/* rec->index_note as stored: NULL for a full index, else cut at
 * INDEX_NOTE_MAX bytes (not inside a UTF-8 sequence). Heap or NULL. */
char *catalog_index_note(const struct archive_record *rec);
/* What catalog_add() stores of rec: rec itself, or for a degraded record a
 * shallow copy in *buf without the header index fields, text and
 * attachments (and index_later 0: no indexer parses it later either).
 * Never free *buf: its strings are rec's. */
const struct archive_record *catalog_record_as_stored(const struct archive_record *rec,
                                                      struct archive_record *buf);

/* The chain hash of link (its seq, prev_hash and fields) as hex into
 * hash (SHA256_HEX_SIZE); docs/integrity.md documents the encoding. */
void catalog_chain_hash(const struct chain_link *link, char hash[SHA256_HEX_SIZE]);
/* The canonical encoding itself (heap, *len_r bytes), for tests and docs. */
char *catalog_chain_encode(const struct chain_link *link, size_t *len_r);
/* The encoding's fixed prefix up to (not including) seq and prev
 * ("tabularium-chain 1\n"), and its tail after the prev line: a driver
 * that hashes the link in its database (PostgreSQL, inside the chain
 * lock) joins prefix, "seq N\nprev H\n" and tail. Heap, *len_r set. */
char *catalog_chain_encode_tail(const struct chain_link *link, size_t *len_r);
/* Free link's heap fields and zero it. */
void catalog_chain_link_free(struct chain_link *link);
#define CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct catalog *catalog_open(const char *spec, const struct tab_config *cfg, const char **error_r);
/* For the rest of this process, catalogs opened afterwards may trade
 * memory for write speed (SQLite: a 128 MiB page cache per connection
 * instead of 2 MB). The daemon's long-lived writers call it (the catalog
 * writer, the indexer); commands do not, so a verify or an export of a
 * million messages stays small. */
void catalog_open_for_daemon(void);
/* 1 after catalog_open_for_daemon(): for drivers. */
int catalog_opened_for_daemon(void);
/* 0 when spec names a known driver type (a configuration check). */
int catalog_spec_check(const char *spec, const char **error_r);
/* 1 when spec's driver has index_pending (CATALOG_CAN_INDEX_PENDING; the master then runs the
 * indexer), without opening it. */
int catalog_spec_indexes_later(const char *spec);
/* 1 when spec's driver wants the workers to leave body text and
 * attachments to its indexer (record.index_later: SQLite); PostgreSQL
 * takes them at delivery. Without opening it. */
int catalog_spec_body_later(const char *spec);
/* 1 when spec's driver has add_batch and wants one writing process
 * (catalog_writer/catalog_writer.c), without opening it. */
int catalog_spec_batches(const char *spec);
/* The file when spec's driver keeps the catalog in a file on this host
 * (inside spec), else NULL. */
const char *catalog_spec_local_file(const char *spec);
struct catalog *catalog_open_or_failing(const char *spec, const struct tab_config *cfg);
void catalog_close(struct catalog **cat);

#endif
