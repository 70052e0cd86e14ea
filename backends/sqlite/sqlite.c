/*
 * NAME
 *	sqlite 3
 * SUMMARY
 *	SQLite catalog driver: the connection, its statements and helpers
 * SYNOPSIS
 *	archive_catalog = sqlite:/var/lib/tabularium/catalog.db
 * DESCRIPTION
 *	Owns one SQLite database file: its connection settings, the
 *	statements prepared at open, the helpers every part of the driver
 *	uses (errors, bindings, transactions, WAL sync) and the table of
 *	methods that implements struct catalog. The methods live by concern
 *	(backends/sqlite/sqlite_private.h): the schema in sqlite_schema.c,
 *	deliveries in sqlite_ingest.c, search in sqlite_search.c, the
 *	full-text index in sqlite_fts.c, its backlog in sqlite_indexer.c, the chain, seals, audit
 *and stats in sqlite_integrity.c, holds and expiry in sqlite_retention.c.
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
 *	wait_limit() lets the catalog writer bound a lock wait by a
 *	request's age. Temporary files (statement and savepoint journals)
 *	are kept in memory. The daemon's connections may cache
 *	SQLITE_CACHE_KB of pages (catalog_open_for_daemon()); every
 *	connection checkpoints every SQLITE_CHECKPOINT_PAGES WAL frames.
 *
 *	Must never put user text into SQL: every value is a bound
 *	parameter.
 * DIAGNOSTICS
 *	Every SQLite failure that the content of a row does not cause is
 *	TAB_RETRY (busy, locked, I/O, disk full, corruption, read-only: none
 *	is the client's fault), with a message "sqlite PATH: WHAT: SQLITE
 *	MESSAGE". Open errors are returned in a static buffer that stays
 *	valid until the next catalog_sqlite_open().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/safe_file.h"

/* Each connection's page cache (KiB) and WAL frames between automatic
 * checkpoints (catalog_sqlite_open()). */
#define SQLITE_CACHE_KB 131072
#define SQLITE_CHECKPOINT_PAGES 8192
#define SQLITE_STR_(x) #x
#define SQLITE_STR(x) SQLITE_STR_(x)

/* The lookup of an exact value through an index over its prefix: the
 * prefix term for the index, the whole value for the match ("+": see
 * sqlite_schema_v7). */
#define SQLITE_KEY(col, param)                                                                     \
    "substr(" #col ", 1, " SQLITE_KEY_PREFIX ") = substr(" #param ", 1, " SQLITE_KEY_PREFIX        \
    ") AND +" #col " = " #param

/* A copy as sqlite_load() reads it (ST_FIRST_COPY, ST_COPY_BY_ID). */
#define ST_COPY_SELECT                                                                             \
    "SELECT store, location, wrapped_sha256, wrapped_size, retain_until FROM copies"

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
    /* The id is never one of a stale full-text document (sqlite_fts.c),
     * whose words would count for the new message. */
    [ST_INSERT_MESSAGE] =
        "INSERT INTO messages (id, archive_id, queue_id, sha256, message_id, envelope_from,"
        " envelope_status, date, date_raw, subject, subject_raw, arrival, size,"
        " mail_params, xforward, index_status, index_note, sender_id)"
        " VALUES (max(COALESCE((SELECT max(id) FROM messages), 0),"
        " COALESCE((SELECT max(message) FROM fts_stale), 0)) + 1,"
        " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
        SQLITE_ADDRESS_ID("?5") ")",
    [ST_INSERT_COPY] = "INSERT INTO copies (message, archive_id, store, location,"
                       " wrapped_sha256, wrapped_size, stored, arrival, retain_until)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* Once per message, whatever the case (NOCASE column): a later
     * transaction of the message adds only its new recipients. The
     * addresses exist already (ST_INSERT_ADDRESS). */
    [ST_INSERT_RCPT] = "INSERT INTO recipient_rows (message, address_id, archive_rcpt_id, orcpt, notify,"
                       " copy) SELECT ?1, " SQLITE_ADDRESS_ID("?2") ", " SQLITE_ADDRESS_ID(
                           "?3") ", ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM recipient_rows r"
                                 " JOIN addresses a ON a.id = r.address_id WHERE r.message = ?1"
                                 " AND a.address = ?2)",
    [ST_INSERT_ADDR] = "INSERT INTO header_address_rows (message, field, position, name, address_id)"
                       " VALUES (?1, ?2, ?3, ?4, " SQLITE_ADDRESS_ID("?5") ")",
    /* Before a statement that refers to the address ?1 (schema version 11). */
    [ST_INSERT_ADDRESS] = "INSERT INTO addresses (address, rdomain) SELECT ?1, tab_rdomain(?1)"
                          " WHERE ?1 IS NOT NULL AND " SQLITE_ADDRESS_ID("?1") " IS NULL",
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
    [ST_FIRST_COPY] = ST_COPY_SELECT " WHERE message = ?1 ORDER BY id LIMIT 1",
    [ST_COPY_BY_ID] = ST_COPY_SELECT " WHERE id = ?1",
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
    [ST_PENDING_DELETE] = "DELETE FROM text_pending WHERE message = ?1",
    /* An indexed message to index again (a later copy added recipients);
     * a degraded one keeps its empty body. */
    [ST_REFRESH_TEXT] = "INSERT OR IGNORE INTO text_pending (message, subject, body, from_store)"
                        " SELECT id, NULL, CASE WHEN index_status = 'degraded' THEN NULL ELSE ?2"
                        " END, CASE WHEN index_status = 'degraded' THEN 0 ELSE ?3 END"
                        " FROM messages WHERE id = ?1 AND fts_hash IS NOT NULL",
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

char sqlite_open_error[1024];

enum tab_result sqlite_fail(struct sqlite_catalog *sc, enum tab_result r, const char **error_r,
                            const char *fmt, ...)
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
enum tab_result sqlite_fail_db(struct sqlite_catalog *sc, const char **error_r, const char *what)
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
enum tab_result sqlite_classify(int rc)
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

void sqlite_stmt_done(sqlite3_stmt *st)
{
    /* reset() repeats the step's error code, already handled by the caller. */
    (void)sqlite3_reset(st);
    (void)sqlite3_clear_bindings(st);
}

/* After a failure: reset whichever prepared statement the failing path
 * left bound or mid-step (all but the rollbacks, which run next). */
void sqlite_stmts_reset(struct sqlite_catalog *sc)
{
    for (int i = 0; i < ST_COUNT; i++)
        if (i != ST_ROLLBACK && i != ST_ROLLBACK_TO)
            sqlite_stmt_done(sc->st[i]);
}

/* Bind s, or NULL when s is NULL. The caller keeps s alive until
 * sqlite_stmt_done(), so SQLite need not copy it. */
int sqlite_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

char *sqlite_column_dup(sqlite3_stmt *st, int i)
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
void sqlite_column_copy(sqlite3_stmt *st, int i, char *buf, size_t size)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(buf, size, "%s", s ? (const char *)s : "");
}

/* A time column ("YYYY-MM-DDTHH:MM:SSZ"); 0 for NULL or malformed. */
time_t sqlite_column_time(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    time_t t;

    if (s == NULL || record_parse_time((const char *)s, &t) < 0)
        return 0;
    return t;
}

/* The original failure is what the caller reports; a failed ROLLBACK is
 * only logged (SQLite rolls back a hot journal on the next open anyway). */
void sqlite_rollback(struct sqlite_catalog *sc)
{
    int rc;

    if (sqlite3_get_autocommit(sc->db))
        return; /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    rc = sqlite3_step(sc->st[ST_ROLLBACK]);
    if (rc != SQLITE_DONE)
        log_error("sqlite %s: rollback: %s", sc->path, sqlite3_errmsg(sc->db));
    sqlite_stmt_done(sc->st[ST_ROLLBACK]);
}

/*
 * Make every committed transaction durable: fdatasync the WAL through our
 * own descriptor (reopened if SQLite replaced the file). Called after
 * COMMIT, outside the write lock. A missing WAL means a checkpoint has
 * moved everything into the database file, which SQLite synced.
 */
int sqlite_sync_wal(struct sqlite_catalog *sc)
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

/* Step an INSERT (or other statement without rows) and reset it. */
int sqlite_exec_stmt(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        sqlite_stmt_done(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A read transaction around several statements: one snapshot. */
int sqlite_begin_read(struct sqlite_catalog *sc)
{
    return sqlite3_exec(sc->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

void sqlite_end(struct sqlite_catalog *sc)
{
    if (!sqlite3_get_autocommit(sc->db))
        (void)sqlite3_exec(sc->db, "COMMIT", NULL, NULL, NULL);
}

/* Prepare sql and bind its one parameter ?1 to value (NULL: SQL NULL).
 * -1: see sqlite3_errmsg (nothing left to finalize). */
int sqlite_prepare_text(struct sqlite_catalog *sc, const char *sql, const char *value,
                        sqlite3_stmt **st_r)
{
    if (sqlite3_prepare_v2(sc->db, sql, -1, st_r, NULL) != SQLITE_OK)
        return -1;
    if (sqlite_bind_text(*st_r, 1, value) != SQLITE_OK) {
        (void)sqlite3_finalize(*st_r);
        *st_r = NULL;
        return -1;
    }
    return 0;
}

/* Finalize st after a loop over its rows that ended with rc: TAB_OK at
 * the end or when the caller stopped at a row, else "WHAT: MESSAGE". */
enum tab_result sqlite_rows_end(struct sqlite_catalog *sc, sqlite3_stmt *st, int rc,
                                const char *what, const char **error_r)
{
    enum tab_result r = TAB_OK;

    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = sqlite_fail_db(sc, error_r, what);
    (void)sqlite3_finalize(st);
    return r;
}

/* Run sql with text parameters (NULL: SQL NULL) to completion. */
int sqlite_exec_params(struct sqlite_catalog *sc, const char *sql, int n, const char *const *values)
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
enum tab_result sqlite_commit(struct sqlite_catalog *sc, const char *what, const char **error_r)
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

enum tab_result sqlite_write_fail(struct sqlite_catalog *sc, const char *what, const char **error_r)
{
    enum tab_result r = sqlite_fail_db(sc, error_r, what);
    sqlite_stmt_done(sc->st[ST_BEGIN]);
    sqlite_rollback(sc);
    return r;
}

/* One number from sql (no parameters); -1 on error. */
int sqlite_count(struct sqlite_catalog *sc, const char *sql, int64_t *n_r)
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
    sqlite_fts_close(sc->fts);
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

static const struct catalog_vfuncs sqlite_vfuncs = {
    CATALOG_VFUNCS_MANDATORY(sqlite),
    CATALOG_VFUNCS_RECORDS(sqlite),
    CATALOG_VFUNCS_USERS(sqlite),
    .add_batch = sqlite_add_batch,
    .wait_limit = sqlite_wait_limit,
    .set_text_source = sqlite_set_text_source,
    .changed = sqlite_changed,
    .index_pending = sqlite_index_pending,
    .count = sqlite_count_matches,
    .index_health = sqlite_index_health,
    .unindex = sqlite_unindex,
    .index_check = sqlite_index_check,
    .index_rebuild = sqlite_index_rebuild,
};

struct catalog *catalog_sqlite_open(const char *spec, const struct tab_config *cfg,
                                    const char **error_r)
{
    static const char *const pragmas[] = {
        "PRAGMA synchronous = NORMAL", /* + fdatasync of the WAL after COMMIT, see above */
        "PRAGMA foreign_keys = ON",
        /* Statement and savepoint journals in memory: as files in /var/tmp
         * they cost an inode created and freed per transaction. */
        "PRAGMA temp_store = MEMORY",
        /* Checkpoint every SQLITE_CHECKPOINT_PAGES WAL frames rather than
         * 1000: a leaf page that several batches change in the meantime
         * is copied into the database once, not once per checkpoint. */
        "PRAGMA wal_autocheckpoint = " SQLITE_STR(SQLITE_CHECKPOINT_PAGES),
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
    /* The daemon's writers (catalog_open_for_daemon()): SQLITE_CACHE_KB
     * of page cache instead of SQLite's 2 MB. The catalog writer inserts
     * into some twenty B-trees per message at random keys; with 2 MB it
     * re-read their pages from the OS for every batch (34 pread64 a
     * message at 100,000 messages). Commands keep SQLite's default, so a
     * walk of a million-message chain stays small. */
    what = "PRAGMA cache_size";
    if (catalog_opened_for_daemon() &&
        sqlite3_exec(db, "PRAGMA cache_size = -" SQLITE_STR(SQLITE_CACHE_KB), NULL, NULL, NULL) !=
            SQLITE_OK)
        goto db_error;
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        what = pragmas[i];
        if (sqlite3_exec(db, pragmas[i], NULL, NULL, NULL) != SQLITE_OK)
            goto db_error;
    }
    what = "functions";
    if (sqlite_register_functions(db) < 0)
        goto db_error;
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
    what = "prepare";
    if ((sc->fts = sqlite_fts_open(db)) == NULL)
        goto db_error;
    sc->path = xstrdup(spec);
    sc->cat.v = &sqlite_vfuncs;
    sc->cat.name = "sqlite";
    return &sc->cat;

db_error:
    snprintf(sqlite_open_error, sizeof(sqlite_open_error), "sqlite %s: %s: %s", spec, what,
             db != NULL ? sqlite3_errmsg(db) : "out of memory");
fail:
    if (sc != NULL) {
        for (int i = 0; i < ST_COUNT; i++)
            (void)sqlite3_finalize(sc->st[i]);
        sqlite_fts_close(sc->fts);
        free(sc->wal_path);
        free(sc);
    }
    (void)sqlite3_close(db);
    return NULL;
}
