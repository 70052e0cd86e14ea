/*
 * NAME
 *	sqlite_retention 3
 * SUMMARY
 *	SQLite catalog driver: legal holds and expiry
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns hold(), hold_list(), expire_candidates() and expire_remove().
 *	A message may go when every copy is past its retain-until and no
 *	case holds it; expire_remove() re-checks both inside its write
 *	transaction and records each removed link in the expired table, so
 *	the chain still verifies. Its full-text document goes first, exactly
 *	or into fts_stale (sqlite_fts.c; expire calls unindex() before it
 *	removes the stored copies, so it is usually gone already).
 * DIAGNOSTICS
 *	hold() of an unknown archive id is TAB_PERM, as is expire_remove()
 *	of a message that is held, unknown or not past its retention. Every
 *	database failure is TAB_RETRY, after ROLLBACK.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backends/sqlite/sqlite_private.h"
#include "common/strlist.h"

/* The archive id of the message that archive_id names (itself or one of
 * its copies) into message_r; 0 found, 1 unknown, -1 error. */
static int sqlite_message_of(struct sqlite_catalog *sc, const char *archive_id,
                             char message_r[ARCHIVE_ID_SIZE], sqlite3_int64 *id_r)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite_prepare_text(sc,
                            "SELECT id, archive_id FROM messages WHERE archive_id = ?1"
                            " UNION ALL SELECT m.id, m.archive_id FROM copies c"
                            " JOIN messages m ON m.id = c.message WHERE c.archive_id = ?1"
                            " LIMIT 1",
                            archive_id, &st) < 0)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id_r = sqlite3_column_int64(st, 0);
        sqlite_column_copy(st, 1, message_r, ARCHIVE_ID_SIZE);
    }
    (void)sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

enum tab_result sqlite_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                            int on, const char *user, int *changed_r, int *holds_r,
                            struct strlist *locations_r, const char **error_r)
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

enum tab_result sqlite_hold_list(struct catalog *cat, const char *case_name, catalog_hold_fn *fn,
                                 void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    int rc;

    if (sqlite_prepare_text(sc,
                            "SELECT case_name, archive_id, operator, added FROM holds"
                            " WHERE ?1 IS NULL OR case_name = ?1 ORDER BY case_name, archive_id",
                            case_name, &st) < 0)
        return sqlite_fail_db(sc, error_r, "hold list");
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
    return sqlite_rows_end(sc, st, rc, "hold list", error_r);
}

#define SQLITE_EXPIRABLE CATALOG_EXPIRABLE("?1")

enum tab_result sqlite_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                         void *ctx, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char when[21];
    enum tab_result r;
    int stop = 0;

    record_format_time(now, when);
    if (sqlite_begin_read(sc) < 0)
        r = sqlite_fail_db(sc, error_r, "expire candidates");
    else
        r = sqlite_chain_links(sc,
                               "SELECT 0," SQLITE_CHAIN_COLUMNS ", NULL, NULL"
                               " FROM copies c JOIN messages m ON m.id = c.message"
                               " WHERE" SQLITE_EXPIRABLE " ORDER BY m.id, c.id",
                               when, fn, ctx, &stop, "expire candidates", error_r);
    sqlite_end(sc);
    return r;
}

enum tab_result sqlite_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                     const char *user, const char **error_r)
{
    static const char *const deletes[] = {
        /* The addresses of the message's rows (schema version 11): after
         * the rows, those no other row refers to go too, so that no
         * address outlives its last mail. */
        "INSERT OR IGNORE INTO temp.expire_addresses (id)"
        " SELECT address_id FROM recipient_rows WHERE message = ?1"
        " UNION SELECT archive_rcpt_id FROM recipient_rows WHERE message = ?1"
        "  AND archive_rcpt_id IS NOT NULL"
        " UNION SELECT address_id FROM header_address_rows WHERE message = ?1"
        "  AND address_id IS NOT NULL"
        " UNION SELECT sender_id FROM messages WHERE id = ?1 AND sender_id IS NOT NULL",
        "DELETE FROM recipient_rows WHERE message = ?1",
        "DELETE FROM header_address_rows WHERE message = ?1",
        "DELETE FROM attachments WHERE message = ?1",
        "DELETE FROM text_pending WHERE message = ?1",
        "DELETE FROM copies WHERE message = ?1",
        "DELETE FROM messages WHERE id = ?1",
        "DELETE FROM addresses WHERE id IN (SELECT id FROM temp.expire_addresses)"
        " AND NOT EXISTS (SELECT 1 FROM recipient_rows r WHERE r.address_id = addresses.id)"
        " AND NOT EXISTS (SELECT 1 FROM recipient_rows r WHERE r.archive_rcpt_id = addresses.id)"
        " AND NOT EXISTS (SELECT 1 FROM header_address_rows h WHERE h.address_id = addresses.id)"
        " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender_id = addresses.id)"
        " AND ?1 IS NOT NULL",
        "DELETE FROM temp.expire_addresses WHERE ?1 IS NOT NULL",
    };
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char when[21], mid_text[32];
    sqlite3_stmt *st = NULL;
    sqlite3_int64 mid = 0;
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
    if (rc == SQLITE_ROW) {
        mid = sqlite3_column_int64(st, 0);
        snprintf(mid_text, sizeof(mid_text), "%lld", (long long)mid);
    }
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
    if (sqlite3_exec(sc->db,
                     "CREATE TEMP TABLE IF NOT EXISTS expire_addresses"
                     " (id INTEGER PRIMARY KEY)",
                     NULL, NULL, NULL) != SQLITE_OK)
        return sqlite_write_fail(sc, "expire", error_r);
    /* Before its rows go: the document is rebuilt from them (sqlite_fts.c). */
    if (sqlite_fts_remove(sc->fts, mid, NULL, sc->text_fn, sc->text_ctx) < 0)
        return sqlite_write_fail(sc, "expire", error_r);
    for (size_t i = 0; i < sizeof(deletes) / sizeof(deletes[0]); i++) {
        const char *values[1] = {mid_text};
        if (sqlite_exec_params(sc, deletes[i], 1, values) < 0)
            return sqlite_write_fail(sc, "expire", error_r);
    }
    return sqlite_commit(sc, "expire", error_r);
}
