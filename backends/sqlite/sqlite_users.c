/*
 * NAME
 *	sqlite_users 3
 * SUMMARY
 *	SQLite catalog driver: the web interface's accounts and API tokens
 * SYNOPSIS
 *	#include "backends/sqlite/sqlite_private.h"
 * DESCRIPTION
 *	Owns the tables web_users, web_user_addresses and web_tokens (schema
 *	version 9, docs/schema.md): catalog_user_put() writes an account and
 *	replaces its addresses in one transaction; catalog_user_delete()
 *	removes it, its addresses and its tokens (foreign keys cascade);
 *	tokens are stored by their SHA-256 only.
 * DIAGNOSTICS
 *	TAB_PERM "already exists", "no such account", "unknown token";
 *	otherwise what sqlite_fail_db() and sqlite_write_fail() make of
 *	the SQLite error (TAB_RETRY for busy, I/O, ...).
 */
#include <stdlib.h>
#include <string.h>

#include "backends/sqlite/sqlite_private.h"

/* Every address of u replaces the account's (inside the transaction). */
static int sqlite_user_addresses(struct sqlite_catalog *sc, const struct catalog_user *u)
{
    const char *del[1] = {u->name};

    if (sqlite_exec_params(sc, "DELETE FROM web_user_addresses WHERE name = ?1", 1, del) < 0)
        return -1;
    for (size_t i = 0; i < u->addresses.n; i++) {
        const char *ins[2] = {u->name, u->addresses.v[i]};
        if (sqlite_exec_params(sc,
                               "INSERT OR IGNORE INTO web_user_addresses (name, address)"
                               " VALUES (?1, ?2)",
                               2, ins) < 0)
            return -1;
    }
    return 0;
}

enum tab_result sqlite_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char now[21];
    int64_t n = 0;
    sqlite3_stmt *st = NULL;

    record_format_time(time(NULL), now);
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "account", error_r);
    if (sqlite3_prepare_v2(sc->db, "SELECT count(*) FROM web_users WHERE name = ?1", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite_bind_text(st, 1, u->name) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        (void)sqlite3_finalize(st);
        return sqlite_write_fail(sc, "account", error_r);
    }
    n = sqlite3_column_int64(st, 0);
    (void)sqlite3_finalize(st);
    if (create && n > 0) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "account %s already exists", u->name);
    }
    if (!create && n == 0) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "no such account: %s", u->name);
    }
    const char *disabled = u->disabled ? "1" : "0";
    const char *values[7] = {u->name,        u->roles, u->auth, u->password_hash,
                             u->totp_secret, now,      disabled};
    if (sqlite_exec_params(sc,
                           create ? "INSERT INTO web_users (name, roles, auth, password_hash,"
                                    " totp_secret, created, disabled)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                                  : "UPDATE web_users SET roles = ?2, auth = ?3,"
                                    " password_hash = ?4, totp_secret = ?5, disabled = ?7"
                                    " WHERE name = ?1",
                           7, values) < 0 ||
        sqlite_user_addresses(sc, u) < 0)
        return sqlite_write_fail(sc, "account", error_r);
    return sqlite_commit(sc, "account", error_r);
}

/* The addresses of the account in u->name. */
static int sqlite_user_load_addresses(struct sqlite_catalog *sc, struct catalog_user *u)
{
    sqlite3_stmt *st;
    int rc;

    if (sqlite_prepare_text(sc,
                            "SELECT address FROM web_user_addresses WHERE name = ?1"
                            " ORDER BY address",
                            u->name, &st) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        strlist_add(&u->addresses, (const char *)sqlite3_column_text(st, 0));
    (void)sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

#define SQLITE_USER_COLUMNS "name, roles, auth, password_hash, totp_secret, created, disabled"

static void sqlite_user_fill(sqlite3_stmt *st, struct catalog_user *u)
{
    memset(u, 0, sizeof(*u));
    u->name = sqlite_column_dup(st, 0);
    u->roles = sqlite_column_dup(st, 1);
    u->auth = sqlite_column_dup(st, 2);
    u->password_hash = sqlite_column_dup(st, 3);
    u->totp_secret = sqlite_column_dup(st, 4);
    u->created = sqlite_column_time(st, 5);
    u->disabled = sqlite3_column_int(st, 6) != 0;
}

enum tab_result sqlite_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    int rc;

    memset(u_r, 0, sizeof(*u_r));
    if (sqlite_begin_read(sc) < 0)
        return sqlite_fail_db(sc, error_r, "account");
    if (sqlite_prepare_text(sc, "SELECT " SQLITE_USER_COLUMNS " FROM web_users WHERE name = ?1",
                            name, &st) < 0) {
        sqlite_end(sc);
        return sqlite_fail_db(sc, error_r, "account");
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        sqlite_user_fill(st, u_r);
    (void)sqlite3_finalize(st);
    if (rc == SQLITE_ROW && sqlite_user_load_addresses(sc, u_r) == 0) {
        sqlite_end(sc);
        return TAB_OK;
    }
    catalog_user_free(u_r);
    sqlite_end(sc);
    if (rc == SQLITE_DONE)
        return sqlite_fail(sc, TAB_PERM, error_r, "no such account: %s", name);
    return sqlite_fail_db(sc, error_r, "account");
}

enum tab_result sqlite_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                 const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    int rc, stop = 0;

    if (sqlite_begin_read(sc) < 0)
        return sqlite_fail_db(sc, error_r, "accounts");
    if (sqlite3_prepare_v2(sc->db, "SELECT " SQLITE_USER_COLUMNS " FROM web_users ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite_end(sc);
        return sqlite_fail_db(sc, error_r, "accounts");
    }
    while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct catalog_user u;
        sqlite_user_fill(st, &u);
        if (sqlite_user_load_addresses(sc, &u) < 0) {
            catalog_user_free(&u);
            rc = SQLITE_ERROR;
            break;
        }
        stop = fn(&u, ctx);
        catalog_user_free(&u);
    }
    (void)sqlite3_finalize(st);
    sqlite_end(sc);
    if (!stop && rc != SQLITE_DONE)
        return sqlite_fail_db(sc, error_r, "accounts");
    return TAB_OK;
}

enum tab_result sqlite_user_delete(struct catalog *cat, const char *name, const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    const char *values[1] = {name};

    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0 ||
        sqlite_exec_params(sc, "DELETE FROM web_users WHERE name = ?1", 1, values) < 0)
        return sqlite_write_fail(sc, "account", error_r);
    if (sqlite3_changes(sc->db) == 0) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "no such account: %s", name);
    }
    return sqlite_commit(sc, "account", error_r);
}

enum tab_result sqlite_token_add(struct catalog *cat, const char *name, const char *token_sha256,
                                 const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    char now[21];

    record_format_time(time(NULL), now);
    const char *values[3] = {token_sha256, name, now};
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0 ||
        sqlite_exec_params(sc,
                           "INSERT INTO web_tokens (sha256, name, created)"
                           " SELECT ?1, name, ?3 FROM web_users WHERE name = ?2",
                           3, values) < 0)
        return sqlite_write_fail(sc, "token", error_r);
    if (sqlite3_changes(sc->db) == 0) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "no such account: %s", name);
    }
    return sqlite_commit(sc, "token", error_r);
}

enum tab_result sqlite_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                  const char **error_r)
{
    struct sqlite_catalog *sc = sqlite_catalog_of(cat);
    sqlite3_stmt *st;
    char now[21];
    int rc;

    *name_r = NULL;
    if (sqlite_exec_stmt(sc->st[ST_BEGIN]) < 0)
        return sqlite_write_fail(sc, "token", error_r);
    if (sqlite_prepare_text(sc, "SELECT name FROM web_tokens WHERE sha256 = ?1", token_sha256,
                            &st) < 0)
        return sqlite_write_fail(sc, "token", error_r);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *name_r = sqlite_column_dup(st, 0);
    (void)sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        sqlite_rollback(sc);
        return sqlite_fail(sc, TAB_PERM, error_r, "unknown token");
    }
    record_format_time(time(NULL), now);
    const char *values[2] = {token_sha256, now};
    if (rc != SQLITE_ROW ||
        sqlite_exec_params(sc, "UPDATE web_tokens SET last_used = ?2 WHERE sha256 = ?1", 2,
                           values) < 0) {
        free(*name_r);
        *name_r = NULL;
        return sqlite_write_fail(sc, "token", error_r);
    }
    enum tab_result r = sqlite_commit(sc, "token", error_r);
    if (r != TAB_OK) {
        free(*name_r);
        *name_r = NULL;
    }
    return r;
}
