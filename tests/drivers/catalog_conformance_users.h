/*
 * NAME
 *	catalog_conformance_users 3h
 * SUMMARY
 *	the catalog conformance suite, part four: the web interface's accounts
 * DESCRIPTION
 *	Included after catalog_conformance.h by each driver's unit test;
 *	static functions only.
 *
 *	conformance_users(): an account is created with its roles, hash,
 *	one-time secret and addresses and read back as written (addresses
 *	deduplicated without regard to case, in order); a second creation
 *	of the name is refused; an update replaces roles, hash, secret,
 *	the disabled flag and the addresses; listing is by name; an API
 *	token is found by its SHA-256 only, its last use noted; removing
 *	the account removes its addresses and tokens; names and addresses
 *	with SQL and quote characters are stored as they are. The rows are
 *	checked through the driver's own SQL too (conf->sql).
 * DIAGNOSTICS
 *	Failures are CHECK failures of check.h, with this file and line.
 */
#ifndef TAB_CATALOG_CONFORMANCE_USERS_H
#define TAB_CATALOG_CONFORMANCE_USERS_H

#include "tests/drivers/catalog_conformance.h"

static int conf_users_names(const struct catalog_user *u, void *ctx)
{
    struct strlist *names = ctx;
    strlist_add(names, u->name);
    return 0;
}

static void conformance_users(struct conformance *conf)
{
    struct catalog *cat = conf->cat;
    const char *err = NULL;
    struct catalog_user u = {0}, got = {0};
    char *name = NULL, *rows;
    static const char tok1[] = "1111111111111111111111111111111111111111111111111111111111111111";
    static const char tok2[] = "2222222222222222222222222222222222222222222222222222222222222222";

    CHECK(catalog_can(cat, CATALOG_CAN_USERS));
    u.name = "alice";
    u.roles = "auditor,officer";
    u.auth = "local";
    u.password_hash = "$y$j9T$salt$hash";
    u.totp_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    strlist_add(&u.addresses, "Alice@Example.test");
    strlist_add(&u.addresses, "alice@example.test"); /* the same address */
    strlist_add(&u.addresses, "a.auditor@corp.example");
    CHECK(catalog_user_put(cat, &u, 1, &err) == TAB_OK);
    CHECK(catalog_user_put(cat, &u, 1, &err) == TAB_PERM && strstr(err, "already exists"));
    CHECK(catalog_user_get(cat, "alice", &got, &err) == TAB_OK);
    CHECK_STR(got.name, "alice");
    CHECK_STR(got.roles, "auditor,officer");
    CHECK_STR(got.auth, "local");
    CHECK_STR(got.password_hash, "$y$j9T$salt$hash");
    CHECK_STR(got.totp_secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    CHECK(got.addresses.n == 2);
    if (got.addresses.n == 2) {
        CHECK_STR(got.addresses.v[0], "a.auditor@corp.example");
        CHECK(strcasecmp(got.addresses.v[1], "alice@example.test") == 0);
    }
    CHECK(got.created > time(NULL) - 600 && got.created <= time(NULL) + 5);
    CHECK(!got.disabled);
    catalog_user_free(&got);

    /* An update replaces everything but the name and the creation. */
    strlist_free(&u.addresses);
    strlist_add(&u.addresses, "new@example.test");
    u.roles = "user";
    u.auth = "ldap";
    u.password_hash = NULL;
    u.totp_secret = NULL;
    u.disabled = 1;
    CHECK(catalog_user_put(cat, &u, 0, &err) == TAB_OK);
    CHECK(catalog_user_get(cat, "alice", &got, &err) == TAB_OK);
    CHECK_STR(got.roles, "user");
    CHECK_STR(got.auth, "ldap");
    CHECK(got.password_hash == NULL && got.totp_secret == NULL && got.disabled);
    CHECK(got.addresses.n == 1 && strcmp(got.addresses.v[0], "new@example.test") == 0);
    catalog_user_free(&got);
    u.name = "nobody";
    CHECK(catalog_user_put(cat, &u, 0, &err) == TAB_PERM && strstr(err, "no such account"));
    CHECK(catalog_user_get(cat, "nobody", &got, &err) == TAB_PERM &&
          strstr(err, "no such account"));

    /* Hostile names and addresses are data. */
    u.name = "o'brien\"; DROP TABLE web_users; --";
    strlist_free(&u.addresses);
    strlist_add(&u.addresses, "x'); DELETE FROM messages; --@example.test");
    CHECK(catalog_user_put(cat, &u, 1, &err) == TAB_OK);
    CHECK(catalog_user_get(cat, u.name, &got, &err) == TAB_OK);
    CHECK(got.addresses.n == 1 &&
          strcmp(got.addresses.v[0], "x'); DELETE FROM messages; --@example.test") == 0);
    catalog_user_free(&got);
    u.name = "bob";
    strlist_free(&u.addresses);
    CHECK(catalog_user_put(cat, &u, 1, &err) == TAB_OK);

    struct strlist names = STRLIST_INIT;
    CHECK(catalog_user_list(cat, conf_users_names, &names, &err) == TAB_OK);
    char *joined = strlist_join(&names, "|");
    CHECK_STR(joined, "alice|bob|o'brien\"; DROP TABLE web_users; --");
    free(joined);
    strlist_free(&names);

    /* Tokens: by SHA-256; unknown ones and tokens of unknown accounts refused. */
    CHECK(catalog_token_add(cat, "alice", tok1, &err) == TAB_OK);
    CHECK(catalog_token_add(cat, "bob", tok2, &err) == TAB_OK);
    CHECK(catalog_token_add(cat, "nobody", tok2, &err) == TAB_PERM);
    CHECK(catalog_token_user(cat, tok1, &name, &err) == TAB_OK);
    CHECK_STR(name, "alice");
    free(name);
    CHECK(catalog_token_user(cat, "3333", &name, &err) == TAB_PERM && name == NULL &&
          strstr(err, "unknown token"));
    rows = conf->sql("SELECT name, last_used IS NOT NULL FROM web_tokens ORDER BY name", NULL);
    CHECK(rows != NULL &&
          (strcmp(rows, "alice|1\nbob|0") == 0 || strcmp(rows, "alice|t\nbob|f") == 0));
    free(rows);

    /* Removing an account takes its addresses and tokens with it. */
    CHECK(catalog_user_delete(cat, "alice", &err) == TAB_OK);
    CHECK(catalog_user_delete(cat, "alice", &err) == TAB_PERM);
    CHECK(catalog_token_user(cat, tok1, &name, &err) == TAB_PERM);
    CHECK(catalog_token_user(cat, tok2, &name, &err) == TAB_OK);
    free(name);
    rows = conf->sql("SELECT count(*) FROM web_user_addresses WHERE name = 'alice'", NULL);
    CHECK_STR(rows, "0");
    free(rows);
    rows = conf->sql("SELECT count(*) FROM web_tokens WHERE name = 'alice'", NULL);
    CHECK_STR(rows, "0");
    free(rows);
}

#endif
