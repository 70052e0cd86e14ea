/*
 * NAME
 *	sqlite_integrity 3
 * SUMMARY
 *	SQLite catalog driver: chain walk and head, seals, audit, stats
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns the integrity methods (docs/integrity.md): chain_walk(),
 *	chain_head(), seal(), audit(), audit_list() and stats(), and the
 *	reading of chain rows (also used by the schema upgrade that chains
 *	existing copies and by expire_candidates()). They are not on the
 *	delivery path and prepare their statements per call; a walk reads
 *	one snapshot (one read transaction) along the indexes, sorting
 *	nothing in memory, and stats reads messages once: both keep memory
 *	flat whatever the catalog's size (bench/README.md).
 * DIAGNOSTICS
 *	TAB_RETRY with "sqlite PATH: WHAT: SQLITE MESSAGE"; a failed seal
 *	is rolled back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/strlist.h"

/*
 * The chain in seq order, read in three parts so that no part is sorted
 * in memory: the copies along their UNIQUE index copies_seq, the expired
 * links along their INTEGER PRIMARY KEY (the two merged in C), then the
 * copies without a seq (legacy or forged rows: few) in id order. A seq
 * of 2^63 - 1 goes with the last part, as when one query ordered by
 * COALESCE(seq, 2^63 - 1), id.
 */
#define SQLITE_SEQ_LAST "9223372036854775807"
static const char sqlite_chain_copies[] = "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL"
                                          " FROM copies c LEFT JOIN messages m ON m.id = c.message"
                                          " WHERE c.seq < " SQLITE_SEQ_LAST " ORDER BY c.seq";
static const char sqlite_chain_expired[] =
    "SELECT 1, e.seq, e.prev_hash, e.hash, e.archive_id, e.message_archive_id, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, e.retain_until, 0, 0, e.expired, e.operator"
    " FROM expired e ORDER BY e.seq";
static const char sqlite_chain_unsequenced[] =
    "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL"
    " FROM copies c LEFT JOIN messages m ON m.id = c.message"
    " WHERE c.seq IS NULL OR c.seq = " SQLITE_SEQ_LAST " ORDER BY c.id";

const char sqlite_chain_rcpts[] =
    "SELECT address FROM recipients WHERE copy = ?1 ORDER BY address COLLATE BINARY";

/* Fill link from the current row of a chain query (first column: kind)
 * and the recipients of its copy. -1: see sqlite3_errmsg. */
int sqlite_chain_fill(sqlite3_stmt *row, sqlite3_stmt *rcpts, struct chain_link *link)
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

/*
 * Each link that sql returns (a chain query: the kind, then
 * SQLITE_CHAIN_COLUMNS; ?1 bound to param unless it is NULL) to fn, with
 * its recipients; *stop_r is set when fn asks to stop. Inside the
 * caller's read transaction; a failure is "WHAT: SQLITE MESSAGE".
 */
enum tab_result sqlite_chain_links(struct sqlite_catalog *sc, const char *sql, const char *param,
                                   catalog_chain_fn *fn, void *ctx, int *stop_r, const char *what,
                                   const char **error_r)
{
    sqlite3_stmt *rows = NULL, *rcpts = NULL;
    struct chain_link link;
    enum tab_result r = TAB_OK;
    int rc = SQLITE_DONE;

    memset(&link, 0, sizeof(link));
    if (sqlite3_prepare_v2(sc->db, sql, -1, &rows, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_rcpts, -1, &rcpts, NULL) != SQLITE_OK ||
        (param != NULL && sqlite_bind_text(rows, 1, param) != SQLITE_OK))
        goto db_error;
    while (!*stop_r && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
        if (sqlite_chain_fill(rows, rcpts, &link) < 0)
            goto db_error;
        *stop_r = fn(&link, ctx);
        catalog_chain_link_free(&link);
    }
    if (*stop_r || rc == SQLITE_DONE)
        goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, what);
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(rows);
    (void)sqlite3_finalize(rcpts);
    return r;
}

/*
 * The copies and the expired links that carry a seq, to fn in seq order
 * (an expired link first at a seq both hold, as the one query that sorted
 * them did): a merge of two index walks, so memory stays flat whatever
 * the chain's length. Inside the caller's read transaction.
 */
static enum tab_result sqlite_chain_merge(struct sqlite_catalog *sc, catalog_chain_fn *fn,
                                          void *ctx, int *stop_r, const char **error_r)
{
    sqlite3_stmt *copies = NULL, *expired = NULL, *rcpts = NULL;
    struct chain_link link;
    enum tab_result r = TAB_OK;
    int rc_c, rc_e;

    memset(&link, 0, sizeof(link));
    if (sqlite3_prepare_v2(sc->db, sqlite_chain_copies, -1, &copies, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_expired, -1, &expired, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sc->db, sqlite_chain_rcpts, -1, &rcpts, NULL) != SQLITE_OK)
        goto db_error;
    rc_c = sqlite3_step(copies);
    rc_e = sqlite3_step(expired);
    while (!*stop_r && (rc_c == SQLITE_ROW || rc_e == SQLITE_ROW)) {
        int from_expired = rc_c != SQLITE_ROW ||
                           (rc_e == SQLITE_ROW &&
                            sqlite3_column_int64(expired, 1) <= sqlite3_column_int64(copies, 1));

        if (sqlite_chain_fill(from_expired ? expired : copies, rcpts, &link) < 0)
            goto db_error;
        *stop_r = fn(&link, ctx);
        catalog_chain_link_free(&link);
        if (from_expired)
            rc_e = sqlite3_step(expired);
        else
            rc_c = sqlite3_step(copies);
    }
    if (*stop_r || (rc_c == SQLITE_DONE && rc_e == SQLITE_DONE))
        goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "chain");
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(copies);
    (void)sqlite3_finalize(expired);
    (void)sqlite3_finalize(rcpts);
    return r;
}

enum tab_result sqlite_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                  catalog_chain_fn *fn, void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *rows = NULL;
    struct chain_link link;
    enum tab_result r;
    int rc, stop = 0;

    memset(&link, 0, sizeof(link));
    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    if (sqlite_begin_read(sc) < 0 || sqlite_read_head(sc, head_r) < 0)
        goto db_error;
    r = sqlite_chain_merge(sc, fn, ctx, &stop, error_r);
    if (r == TAB_OK && !stop)
        r = sqlite_chain_links(sc, sqlite_chain_unsequenced, NULL, fn, ctx, &stop, "chain",
                               error_r);
    if (r != TAB_OK || stop)
        goto out;
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
    if (stop || rc == SQLITE_DONE)
        goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "chain");
out:
    catalog_chain_link_free(&link);
    (void)sqlite3_finalize(rows);
    sqlite_end(sc);
    return r;
}

enum tab_result sqlite_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                  const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);

    memset(head_r, 0, sizeof(*head_r));
    head_r->at = time(NULL);
    if (sqlite_read_head(sc, head_r) < 0)
        return sqlite_fail_db(sc, error_r, "chain head");
    return TAB_OK;
}

enum tab_result sqlite_seal(struct catalog *cat, struct chain_seal *seal_r, const char **error_r)
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

enum tab_result sqlite_audit(struct catalog *cat, const char *user, const char *action,
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

enum tab_result sqlite_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                  void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    char from[21];
    int rc;

    record_format_time(since, from);
    if (sqlite_prepare_text(sc,
                            "SELECT id, at, operator, action, detail FROM audit"
                            " WHERE at >= ?1 ORDER BY id",
                            since ? from : "", &st) < 0)
        return sqlite_fail_db(sc, error_r, "audit list");
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
    return sqlite_rows_end(sc, st, rc, "audit list", error_r);
}

/* Messages and bytes of one day ("YYYY-MM-DD") of arrivals. */
struct sqlite_stats_day {
    char day[16];
    int64_t n, bytes;
};

struct sqlite_stats_days {
    struct sqlite_stats_day *v;
    size_t n, cap, last; /* last: the day of the row before, tried first */
};

/* The day of key (its first 10 bytes), added to days in order. */
static struct sqlite_stats_day *sqlite_stats_day(struct sqlite_stats_days *days, const char *key)
{
    char day[16];
    size_t lo = 0, hi = days->n;
    int c;

    snprintf(day, sizeof(day), "%.10s", key);
    /* Rows come mostly in arrival order: the day before is the likely one. */
    if (days->n > 0 && strcmp(days->v[days->last].day, day) == 0)
        return &days->v[days->last];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        c = strcmp(days->v[mid].day, day);
        if (c == 0)
            return &days->v[days->last = mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (days->n == days->cap) {
        days->cap = days->cap ? days->cap * 2 : 256;
        days->v = xrealloc(days->v, days->cap * sizeof(*days->v));
    }
    memmove(&days->v[lo + 1], &days->v[lo], (days->n - lo) * sizeof(*days->v));
    days->n++;
    memset(&days->v[lo], 0, sizeof(days->v[lo]));
    memcpy(days->v[lo].day, day, sizeof(day));
    days->last = lo;
    return &days->v[lo];
}

/* The rows of days to fn, as "day", then summed per "month" (the first 7
 * bytes); each period stops early when fn asks. */
static void sqlite_stats_periods(const struct sqlite_stats_days *days, catalog_stats_row_fn *fn,
                                 void *ctx)
{
    for (size_t i = 0; i < days->n; i++)
        if (fn("day", days->v[i].day, days->v[i].n, days->v[i].bytes, ctx))
            break;
    for (size_t i = 0; i < days->n;) {
        char month[8];
        int64_t n = 0, bytes = 0;

        snprintf(month, sizeof(month), "%.7s", days->v[i].day);
        for (; i < days->n && strncmp(days->v[i].day, month, 7) == 0; i++) {
            n += days->v[i].n;
            bytes += days->v[i].bytes;
        }
        if (fn("month", month, n, bytes, ctx))
            break;
    }
}

/*
 * Everything stats says of messages in one scan of the table, aggregated
 * here: a GROUP BY per day and per month sorted a million rows in memory
 * (temp_store = MEMORY), about 80 MB and a second each, where this keeps
 * one entry per day.
 */
static int sqlite_stats_messages(struct sqlite_catalog *sc, struct catalog_stats *s,
                                 struct sqlite_stats_days *days)
{
    char oldest[64] = "", newest[64] = "";
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_prepare_v2(sc->db,
                           "SELECT arrival, size, envelope_status = 'incomplete' FROM messages", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *arrival = (const char *)sqlite3_column_text(st, 0);
        int64_t size = sqlite3_column_int64(st, 1);

        arrival = arrival != NULL ? arrival : "";
        s->messages++;
        s->bytes += size;
        s->incomplete += sqlite3_column_int(st, 2);
        if (s->messages == 1 || strcmp(arrival, oldest) < 0)
            snprintf(oldest, sizeof(oldest), "%s", arrival);
        if (s->messages == 1 || strcmp(arrival, newest) > 0)
            snprintf(newest, sizeof(newest), "%s", arrival);
        if (days != NULL) {
            struct sqlite_stats_day *d = sqlite_stats_day(days, arrival);
            d->n++;
            d->bytes += size;
        }
    }
    (void)sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (record_parse_time(oldest, &s->oldest) < 0)
        s->oldest = 0;
    if (record_parse_time(newest, &s->newest) < 0)
        s->newest = 0;
    return 0;
}

enum tab_result sqlite_stats(struct catalog *cat, struct catalog_stats *stats_r,
                             catalog_stats_row_fn *fn, void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    struct catalog_stats *s = stats_r;
    struct sqlite_stats_days days = {NULL, 0, 0, 0};
    enum tab_result r = TAB_OK;

    const struct {
        const char *sql;
        int64_t *n;
    } counts[] = {
        {"SELECT count(*) FROM copies", &s->copies},
        {"SELECT CAST(total(wrapped_size) AS INTEGER) FROM copies", &s->wrapped_bytes},
        {"SELECT count(DISTINCT archive_id) FROM holds", &s->held},
        {"SELECT count(*) FROM expired", &s->expired},
        {"SELECT count(*) FROM text_pending", &s->text_pending},
        {"SELECT count(*) FROM messages WHERE index_status = 'degraded'", &s->degraded},
        {"SELECT count(*) FROM forwards WHERE status = 'deferred'", &s->fwd_deferred},
        {"SELECT count(*) FROM forwards WHERE status = 'sent'", &s->fwd_sent},
        {"SELECT count(*) FROM forwards WHERE status = 'held'", &s->fwd_held},
        {"SELECT count(*) FROM forwards WHERE status = 'queued'", &s->fwd_queued},
        {"SELECT count(*) FROM forwards WHERE status = 'deleted'", &s->fwd_deleted},
    };

    memset(s, 0, sizeof(*s));
    if (sqlite_begin_read(sc) < 0)
        goto db_error;
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if (sqlite_count(sc, counts[i].sql, counts[i].n) < 0)
            goto db_error;
    if (sqlite_stats_messages(sc, s, fn != NULL ? &days : NULL) < 0)
        goto db_error;
    if (fn != NULL)
        sqlite_stats_periods(&days, fn, ctx);
    goto out;
db_error:
    r = sqlite_fail_db(sc, error_r, "stats");
out:
    free(days.v);
    sqlite_end(sc);
    return r;
}
