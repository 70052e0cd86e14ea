/*
 * NAME
 *	pg_users 3
 * SUMMARY
 *	PostgreSQL catalog driver: the web interface's accounts and API tokens
 * SYNOPSIS
 *	#include "backends/postgres/pg_catalog_private.h"
 * DESCRIPTION
 *	Owns the tables web_users, web_user_addresses and web_tokens (schema
 *	version 10, docs/schema-pgsql.md), with the meaning the SQLite
 *	driver gives them (sqlite_users.c): an account and its addresses
 *	are written in one transaction; removing an account removes its
 *	addresses and tokens; tokens are stored by their SHA-256 only.
 * DIAGNOSTICS
 *	TAB_PERM "already exists", "no such account", "unknown token";
 *	otherwise the server's error as pg_conn makes it (TAB_RETRY for a
 *	lost connection, ...).
 */
#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pg_catalog_private.h"

enum tab_result pg_catalog_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                    const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    PGresult *res = NULL;
    enum tab_result r = pg_conn_begin(pc->conn, error_r);
    const char *values[6] = {pg_catalog_text(&arena, u->name, 0),
                             pg_catalog_text(&arena, u->roles, 0),
                             pg_catalog_text(&arena, u->auth, 0),
                             u->password_hash ? pg_catalog_text(&arena, u->password_hash, 0) : NULL,
                             u->totp_secret ? pg_catalog_text(&arena, u->totp_secret, 0) : NULL,
                             u->disabled ? "true" : "false"};

    if (r != TAB_OK)
        goto out;
    r = pg_catalog_run(pc, "account",
                       create ? "INSERT INTO web_users (name, roles, auth, password_hash,"
                                " totp_secret, disabled) VALUES ($1, $2, $3, $4, $5, $6::boolean)"
                                " ON CONFLICT (name) DO NOTHING"
                              : "UPDATE web_users SET roles = $2, auth = $3, password_hash = $4,"
                                " totp_secret = $5, disabled = $6::boolean WHERE name = $1",
                       6, values, &res, error_r);
    if (r != TAB_OK)
        goto out;
    if (strcmp(PQcmdTuples(res), "0") == 0) {
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r,
                         create ? "account %s already exists" : "no such account: %s", u->name);
        goto out;
    }
    r = pg_catalog_do(pc, "account", "DELETE FROM web_user_addresses WHERE name = $1", 1, values,
                      error_r);
    for (size_t i = 0; r == TAB_OK && i < u->addresses.n; i++) {
        const char *av[2] = {values[0], pg_catalog_text(&arena, u->addresses.v[i], 0)};
        r = pg_catalog_do(pc, "account",
                          "INSERT INTO web_user_addresses (name, address) VALUES ($1, $2)"
                          " ON CONFLICT DO NOTHING",
                          2, av, error_r);
    }
out:
    r = pg_conn_end(pc->conn, r, error_r);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

#define PG_USER_COLUMNS                                                                            \
    "name, roles, auth, password_hash, totp_secret, extract(epoch FROM created)::bigint, disabled"

/* One account's row, then its addresses. */
static enum tab_result pg_users_fill(struct pg_catalog *pc, const PGresult *res, int row,
                                     struct catalog_user *u, const char **error_r)
{
    PGresult *ares = NULL;
    enum tab_result r;

    memset(u, 0, sizeof(*u));
    u->name = pg_catalog_dup(res, row, 0);
    u->roles = pg_catalog_dup(res, row, 1);
    u->auth = pg_catalog_dup(res, row, 2);
    u->password_hash = PQgetisnull(res, row, 3) ? NULL : pg_catalog_dup(res, row, 3);
    u->totp_secret = PQgetisnull(res, row, 4) ? NULL : pg_catalog_dup(res, row, 4);
    u->created = (time_t)strtoll(PQgetvalue(res, row, 5), NULL, 10);
    u->disabled = PQgetvalue(res, row, 6)[0] == 't';
    const char *values[1] = {u->name};
    r = pg_catalog_run(pc, "account",
                       "SELECT address FROM web_user_addresses WHERE name = $1"
                       " ORDER BY lower(address) COLLATE \"C\"",
                       1, values, &ares, error_r);
    for (int i = 0; r == TAB_OK && i < PQntuples(ares); i++)
        strlist_add(&u->addresses, PQgetvalue(ares, i, 0));
    PQclear(ares);
    if (r != TAB_OK)
        catalog_user_free(u);
    return r;
}

enum tab_result pg_catalog_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                    const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_text(&arena, name, 0)};
    PGresult *res = NULL;
    enum tab_result r;

    memset(u_r, 0, sizeof(*u_r));
    r = pg_catalog_run(pc, "account", "SELECT " PG_USER_COLUMNS " FROM web_users WHERE name = $1",
                       1, values, &res, error_r);
    if (r == TAB_OK && PQntuples(res) == 0)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "no such account: %s", name);
    else if (r == TAB_OK)
        r = pg_users_fill(pc, res, 0, u_r, error_r);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                     const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(
        pc, "accounts", "SELECT " PG_USER_COLUMNS " FROM web_users ORDER BY name COLLATE \"C\"", 0,
        NULL, &res, error_r);

    for (int i = 0; r == TAB_OK && i < PQntuples(res); i++) {
        struct catalog_user u;
        if ((r = pg_users_fill(pc, res, i, &u, error_r)) != TAB_OK)
            break;
        int stop = fn(&u, ctx);
        catalog_user_free(&u);
        if (stop)
            break;
    }
    PQclear(res);
    return r;
}

enum tab_result pg_catalog_user_delete(struct catalog *cat, const char *name, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_text(&arena, name, 0)};
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(pc, "account", "DELETE FROM web_users WHERE name = $1", 1,
                                       values, &res, error_r);

    if (r == TAB_OK && strcmp(PQcmdTuples(res), "0") == 0)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "no such account: %s", name);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_token_add(struct catalog *cat, const char *name,
                                     const char *token_sha256, const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[2] = {pg_catalog_text(&arena, token_sha256, 0),
                             pg_catalog_text(&arena, name, 0)};
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(pc, "token",
                                       "INSERT INTO web_tokens (sha256, name)"
                                       " SELECT $1, name FROM web_users WHERE name = $2",
                                       2, values, &res, error_r);

    if (r == TAB_OK && strcmp(PQcmdTuples(res), "0") == 0)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "no such account: %s", name);
    PQclear(res);
    strlist_free(&arena);
    return r;
}

enum tab_result pg_catalog_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                      const char **error_r)
{
    struct pg_catalog *pc = pg_catalog_of(cat);
    struct strlist arena = STRLIST_INIT;
    const char *values[1] = {pg_catalog_text(&arena, token_sha256, 0)};
    PGresult *res = NULL;
    enum tab_result r = pg_catalog_run(pc, "token",
                                       "UPDATE web_tokens SET last_used = now() WHERE sha256 = $1"
                                       " RETURNING name",
                                       1, values, &res, error_r);

    *name_r = NULL;
    if (r == TAB_OK && PQntuples(res) == 0)
        r = pg_conn_fail(pc->conn, TAB_PERM, error_r, "unknown token");
    else if (r == TAB_OK)
        *name_r = pg_catalog_dup(res, 0, 0);
    PQclear(res);
    strlist_free(&arena);
    return r;
}
