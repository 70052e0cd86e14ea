/*
 * NAME
 *	sqlite_private 3h
 * SUMMARY
 *	what the files of the SQLite catalog driver share
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	The driver (catalog_sqlite_open(), in backends/catalog.h) is one
 *	struct catalog over one database file, split by concern:
 *	sqlite.c (the connection: open, close, statements prepared at open,
 *	WAL sync and the helpers below), sqlite_schema.c (the versioned
 *	schema and its upgrade), sqlite_ingest.c (known_recipients, add,
 *	add_batch, reindex, forward_status), sqlite_search.c (search, get,
 *	the full-text query), sqlite_indexer.c (index_pending: the text
 *	backlog), sqlite_fts.c and sqlite_fts_rebuild.c (the full-text
 *	index; index check and rebuild), sqlite_integrity.c (chain walk and head, seals, audit,
 *	stats) and sqlite_retention.c (holds and expiry).
 *
 *	Private to backends/sqlite/: no other folder may include it.
 *	Helpers that return -1 leave the reason in sqlite3_errmsg(); the
 *	caller turns it into its message with sqlite_fail_db() before the
 *	next SQLite call replaces it.
 * DIAGNOSTICS
 *	Messages are "sqlite PATH: WHAT: SQLITE MESSAGE", kept in the
 *	catalog (sc->error) until its next failure.
 */
#ifndef TAB_SQLITE_PRIVATE_H
#define TAB_SQLITE_PRIVATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "backends/catalog_private.h"

#define SQLITE_SCHEMA_VERSION 11
#define SQLITE_BUSY_TIMEOUT_MS 30000
/* One index_pending() transaction holds the write lock that deliveries
 * wait for: it moves at most this many rows, and stops adding rows once
 * it has moved this much text. */
#define SQLITE_INDEX_BATCH_ROWS 50
#define SQLITE_INDEX_BATCH_BYTES (2 * 1024 * 1024)
/* How long search() indexes pending text before a full-text query. */
#define SQLITE_SEARCH_INDEX_MS 30000
/* A --from/--to value in at least this many messages is tested message
 * by message, newest first, instead of listed whole (sqlite_search.c). */
#define SQLITE_SEARCH_DENSE 5000
/* Indexes over header and envelope text cover this many characters
 * (schema version 7, sqlite_schema.c). */
#define SQLITE_KEY_PREFIX "200"
/* The id of the address param in addresses (schema version 11): the
 * NOCASE prefix index selects the entries, "+" compares the exact bytes
 * (one row per spelling); NULL when there is none. */
#define SQLITE_ADDRESS_ID(param)                                                                   \
    "(SELECT id FROM addresses WHERE substr(address, 1, " SQLITE_KEY_PREFIX ") = substr(" param    \
    ", 1, " SQLITE_KEY_PREFIX ") COLLATE NOCASE AND +address = " param " COLLATE BINARY)"

/* The columns and options of the full-text table (schema version 8):
 * message_fts, and message_fts_rebuild while an index rebuild runs. */
#define SQLITE_FTS_TABLE_ARGS                                                                      \
    "fts5(subject, body, sender, recipients,"                                                      \
    " content = '', columnsize = 0, tokenize = 'unicode61 remove_diacritics 0')"

/* Statements prepared once at open (their SQL: sqlite.c). */
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
    ST_INSERT_ADDRESS,
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
    ST_PENDING_DELETE,
    ST_REFRESH_TEXT,
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
    struct sqlite_fts *fts; /* sqlite_fts.c: its statements, prepared at open */
};

static inline struct sqlite_catalog *sqlite_catalog_of(struct catalog *cat)
{
    return (struct sqlite_catalog *)cat;
}

/* Columns of a chain row, as sqlite_chain_fill() reads them. */
#define SQLITE_CHAIN_COLUMNS                                                                       \
    " c.seq, c.prev_hash, c.hash, c.archive_id, m.archive_id, c.arrival, m.queue_id,"              \
    " m.envelope_from, m.sha256, m.size, c.wrapped_sha256, c.wrapped_size, c.store,"               \
    " c.location, c.retain_until, m.id IS NULL, c.id"

/* sqlite.c: open errors, valid until the next catalog_sqlite_open(). */
extern char sqlite_open_error[1024];

/* sqlite.c: errors, statements, columns, transactions. */
enum tab_result sqlite_fail(struct sqlite_catalog *sc, enum tab_result r, const char **error_r,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));
enum tab_result sqlite_fail_db(struct sqlite_catalog *sc, const char **error_r, const char *what);
enum tab_result sqlite_classify(int rc);
void sqlite_stmt_done(sqlite3_stmt *st);
void sqlite_stmts_reset(struct sqlite_catalog *sc);
int sqlite_bind_text(sqlite3_stmt *st, int i, const char *s);
char *sqlite_column_dup(sqlite3_stmt *st, int i);
void sqlite_column_copy(sqlite3_stmt *st, int i, char *buf, size_t size);
time_t sqlite_column_time(sqlite3_stmt *st, int i);
void sqlite_rollback(struct sqlite_catalog *sc);
int sqlite_sync_wal(struct sqlite_catalog *sc);
int sqlite_exec_stmt(sqlite3_stmt *st);
int sqlite_prepare_text(struct sqlite_catalog *sc, const char *sql, const char *value,
                        sqlite3_stmt **st_r);
enum tab_result sqlite_rows_end(struct sqlite_catalog *sc, sqlite3_stmt *st, int rc,
                                const char *what, const char **error_r);
int sqlite_exec_params(struct sqlite_catalog *sc, const char *sql, int n,
                       const char *const *values);
int sqlite_count(struct sqlite_catalog *sc, const char *sql, int64_t *n_r);
int sqlite_begin_read(struct sqlite_catalog *sc);
void sqlite_end(struct sqlite_catalog *sc);
enum tab_result sqlite_commit(struct sqlite_catalog *sc, const char *what, const char **error_r);
enum tab_result sqlite_write_fail(struct sqlite_catalog *sc, const char *what,
                                  const char **error_r);

/* sqlite_users.c: the web interface's accounts (schema version 9). */
enum tab_result sqlite_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                const char **error_r);
enum tab_result sqlite_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                const char **error_r);
enum tab_result sqlite_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                 const char **error_r);
enum tab_result sqlite_user_delete(struct catalog *cat, const char *name, const char **error_r);
enum tab_result sqlite_token_add(struct catalog *cat, const char *name, const char *token_sha256,
                                 const char **error_r);
enum tab_result sqlite_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                  const char **error_r);

/* sqlite_schema.c */
int sqlite_schema_upgrade(sqlite3 *db, const char *path);
int sqlite_register_functions(sqlite3 *db);

/* sqlite_fts.c: the full-text index message_fts (schema version 8). */
struct sqlite_fts;
struct sqlite_fts *sqlite_fts_open(sqlite3 *db);
void sqlite_fts_close(struct sqlite_fts *f);
/* Index message id with body (NULL: none): its document is built from its
 * rows as they are now (fts_doc_build()). Inside a write transaction. */
int sqlite_fts_index(struct sqlite_fts *f, sqlite3_int64 id, const char *body);
/* Take message id out of the index before its rows change or go: rebuild
 * the document it was indexed with (body: empty, body_hint when not NULL,
 * then what text_fn reads from the stored copy) and delete exactly that,
 * or, when it cannot be rebuilt (the copy is gone, its text differs),
 * record the message in fts_stale. text_fn may be NULL. Inside a write
 * transaction.
 * -1: see sqlite3_errmsg. */
int sqlite_fts_remove(struct sqlite_fts *f, sqlite3_int64 id, const char *body_hint,
                      catalog_text_fn *text_fn, void *text_ctx);
/* The document of message id as sqlite_fts_index() would index it now
 * (every recipient), its hash and the last recipients row it covers.
 * 1, 0 when there is no such message, -1 (see sqlite3_errmsg). Free
 * doc_r with fts_doc_free() after 1. */
struct fts_doc;
int sqlite_fts_document(struct sqlite_fts *f, sqlite3_int64 id, const char *body,
                        struct fts_doc *doc_r, sqlite3_int64 *hash_r, sqlite3_int64 *rcpts_r);
/* The upgrade from schema version 7: message_fts from message_text. */
int sqlite_fts_upgrade(sqlite3 *db);
enum tab_result sqlite_index_health(struct catalog *cat, int64_t *pending_r, int64_t *stale_r,
                                    const char **error_r);
enum tab_result sqlite_unindex(struct catalog *cat, const char *archive_id, const char **error_r);

/* sqlite_fts_rebuild.c: tabularium index check and rebuild. */
enum tab_result sqlite_index_check(struct catalog *cat, struct catalog_index_report *r,
                                   catalog_index_problem_fn *fn, void *ctx, const char **error_r);
enum tab_result sqlite_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                     int max_rows, const char **error_r);

/* sqlite_ingest.c */
int sqlite_insert_attachments(struct sqlite_catalog *sc, sqlite3_int64 message_id,
                              const struct archive_record *rec);
enum tab_result sqlite_known_recipients(struct catalog *cat, const char *queue_id,
                                        const char *sha256, const char *message_id,
                                        struct strlist *rcpts_r, const char **error_r);
enum tab_result sqlite_add_batch(struct catalog *cat, const struct archive_record *const *recs,
                                 size_t n, enum tab_result *results, char **errors,
                                 const char **error_r);
enum tab_result sqlite_add(struct catalog *cat, const struct archive_record *rec,
                           const char **error_r);
enum tab_result sqlite_reindex(struct catalog *cat, const struct archive_record *given,
                               const char **error_r);
enum tab_result sqlite_forward_status(struct catalog *cat, const char *archive_id,
                                      const char *status, const char *detail, const char **error_r);

/* sqlite_search.c */
enum tab_result sqlite_search(struct catalog *cat, const struct search_query *q, catalog_row_fn *fn,
                              void *ctx, const char **error_r);
enum tab_result sqlite_count_matches(struct catalog *cat, const struct search_query *q,
                                     long long *n_r, const char **error_r);
enum tab_result sqlite_get(struct catalog *cat, const char *archive_id,
                           struct archive_record *rec_r, const char **error_r);

/* sqlite_indexer.c */
enum tab_result sqlite_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                     int64_t *left_r, const char **error_r);

/* sqlite_integrity.c */
extern const char sqlite_chain_rcpts[];
int sqlite_chain_fill(sqlite3_stmt *row, sqlite3_stmt *rcpts, struct chain_link *link);
enum tab_result sqlite_chain_links(struct sqlite_catalog *sc, const char *sql, const char *param,
                                   catalog_chain_fn *fn, void *ctx, int *stop_r, const char *what,
                                   const char **error_r);
enum tab_result sqlite_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                  catalog_chain_fn *fn, void *ctx, const char **error_r);
enum tab_result sqlite_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                  const char **error_r);
enum tab_result sqlite_seal(struct catalog *cat, struct chain_seal *seal_r, const char **error_r);
enum tab_result sqlite_audit(struct catalog *cat, const char *user, const char *action,
                             const char *detail, const char **error_r);
enum tab_result sqlite_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                  void *ctx, const char **error_r);
enum tab_result sqlite_stats(struct catalog *cat, struct catalog_stats *stats_r,
                             catalog_stats_row_fn *fn, void *ctx, const char **error_r);

/* sqlite_retention.c */
enum tab_result sqlite_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                            int on, const char *user, int *changed_r, int *holds_r,
                            struct strlist *locations_r, const char **error_r);
enum tab_result sqlite_hold_list(struct catalog *cat, const char *case_name, catalog_hold_fn *fn,
                                 void *ctx, const char **error_r);
enum tab_result sqlite_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                         void *ctx, const char **error_r);
enum tab_result sqlite_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                     const char *user, const char **error_r);

#endif
