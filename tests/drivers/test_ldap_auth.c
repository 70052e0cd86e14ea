/*
 * NAME
 *	test_ldap_auth 1
 * SUMMARY
 *	tests of LDAP sign-in: pure parts always, sign-in against slapd
 * DESCRIPTION
 *	Always: RFC 4515 escaping of user names; a filter without %s, an
 *	empty password and an empty name are refused before any connection.
 *
 *	With TAB_LDAP_URI (ldap://127.0.0.1:PORT), TAB_LDAP_READER_PASSWORD_FILE
 *	and TAB_LDAP_CA set (tests/integration/ldap-auth.test starts a slapd,
 *	tests/lib/slapd.sh, and runs this program): alice signs in, through
 *	the service account and anonymously-denied search, over plain LDAP
 *	and StartTLS, and gets her DN and her addresses (mail, and the SMTP
 *	and smtp entries of proxyAddresses, not X400 or SIP); a wrong
 *	password, an unknown user, a user name made of filter syntax
 *	("*", "alice)(uid=*", ...), and a name two entries share are refused
 *	as TAB_PERM without the password in the message; bob signs in with
 *	no address; StartTLS without the test CA fails as TAB_PERM or
 *	TAB_RETRY and never signs in; a port with no server is TAB_RETRY.
 *	Without the variables that part is skipped with a note
 *	(ldap-auth.test checks that it ran).
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strlist.h"
#include "web/ldap_auth.h"
#include "../unit/check.h"

static void test_pure(void)
{
    const char *err = NULL;
    char *dn = NULL;
    struct strlist a = STRLIST_INIT;
    struct ldap_auth_config cfg = {
        .uri = "ldap://127.0.0.1:1/", .base = "dc=x", .filter = "(uid=%s)", .timeout = 2};

    CHECK_STR_FREE(ldap_auth_escape("alice"), "alice");
    CHECK_STR_FREE(ldap_auth_escape("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    CHECK_STR_FREE(ldap_auth_escape("a\\b"), "a\\5cb");
    CHECK_STR_FREE(ldap_auth_escape("Ünïcode"), "Ünïcode");
    CHECK(ldap_auth_login(&cfg, "alice", "", &dn, &a, &err) == TAB_PERM &&
          strstr(err, "empty password") != NULL);
    CHECK(ldap_auth_login(&cfg, "", "pw", &dn, &a, &err) == TAB_PERM);
    cfg.filter = "(uid=alice)";
    CHECK(ldap_auth_login(&cfg, "alice", "pw", &dn, &a, &err) == TAB_PERM &&
          strstr(err, "%s") != NULL);
    cfg.filter = "(uid=%d)";
    CHECK(ldap_auth_login(&cfg, "alice", "pw", &dn, &a, &err) == TAB_PERM);
    CHECK(dn == NULL && a.n == 0);
}

/* Sign in and check the outcome; on TAB_OK the DN and the addresses
 * joined by ",". */
static enum tab_result login(const struct ldap_auth_config *cfg, const char *user,
                             const char *password, char **dn_r, char **addrs_r)
{
    struct strlist a = STRLIST_INIT;
    const char *err = NULL;
    enum tab_result r = ldap_auth_login(cfg, user, password, dn_r, &a, &err);

    if (r != TAB_OK) {
        CHECK(err != NULL && strstr(err, password) == NULL);
        CHECK(*dn_r == NULL && a.n == 0);
        printf("%s / %s: %s: %s\n", user, "***", tab_result_name(r), err);
    }
    *addrs_r = strlist_join(&a, ",");
    strlist_free(&a);
    return r;
}

static void test_server(const char *uri, const char *reader_pw, const char *ca)
{
    struct ldap_auth_config cfg = {.uri = uri,
                                   .base = "ou=people,dc=example,dc=test",
                                   .filter = "(&(objectClass=inetOrgPerson)(uid=%s))",
                                   .bind_dn = "cn=reader,dc=example,dc=test",
                                   .bind_password = reader_pw,
                                   .timeout = 5};
    char *dn = NULL, *addrs = NULL;

    for (int tls = 0; tls < 2; tls++) {
        cfg.starttls = tls;
        cfg.ca_file = tls ? ca : NULL;
        CHECK(login(&cfg, "alice", "alice-secret-1", &dn, &addrs) == TAB_OK);
        CHECK_STR(dn, "uid=alice,ou=people,dc=example,dc=test");
        CHECK_STR(addrs, "alice@example.test,Alice.Auditor@corp.example,alice@old.example");
        free(dn);
        free(addrs);
        dn = NULL;
    }
    cfg.starttls = 0;
    static const char *const refused[][2] = {
        {"alice", "wrong"},      {"alice", "alice-secret-1 "},       {"nobody", "alice-secret-1"},
        {"*", "alice-secret-1"}, {"alice)(uid=*", "alice-secret-1"}, {"al*", "alice-secret-1"},
        {"twin", "twin-secret"}, {"alice\\", "alice-secret-1"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CHECK(login(&cfg, refused[i][0], refused[i][1], &dn, &addrs) == TAB_PERM);
        free(addrs);
    }
    CHECK(login(&cfg, "bob", "bob-secret-2", &dn, &addrs) == TAB_OK);
    CHECK_STR(addrs, "");
    free(dn);
    free(addrs);
    dn = NULL;
    /* The service account's password wrong: refused, and it is not said. */
    cfg.bind_password = "not-the-reader";
    CHECK(login(&cfg, "alice", "alice-secret-1", &dn, &addrs) == TAB_PERM);
    free(addrs);
    cfg.bind_password = reader_pw;
    /* Anonymous search is not allowed by this directory: no entry. */
    cfg.bind_dn = NULL;
    CHECK(login(&cfg, "alice", "alice-secret-1", &dn, &addrs) == TAB_PERM);
    free(addrs);
    cfg.bind_dn = "cn=reader,dc=example,dc=test";
    /* StartTLS against a CA that did not sign the server's certificate. */
    cfg.starttls = 1;
    cfg.ca_file = "/etc/ssl/certs/ca-certificates.crt";
    CHECK(login(&cfg, "alice", "alice-secret-1", &dn, &addrs) != TAB_OK);
    free(addrs);
    cfg.starttls = 0;
    cfg.ca_file = NULL;
    /* No server there. */
    cfg.uri = "ldap://127.0.0.1:1/";
    CHECK(login(&cfg, "alice", "alice-secret-1", &dn, &addrs) == TAB_RETRY);
    free(addrs);
    printf("signed in against %s\n", uri);
}

int main(void)
{
    const char *uri = getenv("TAB_LDAP_URI"), *pwfile = getenv("TAB_LDAP_READER_PASSWORD_FILE");

    setvbuf(stdout, NULL, _IOLBF, 0);
    test_pure();
    if (uri != NULL && pwfile != NULL) {
        char *pw = check_slurp_line(pwfile);
        CHECK(pw != NULL);
        if (pw != NULL)
            test_server(uri, pw, getenv("TAB_LDAP_CA"));
        free(pw);
    } else
        printf("note: TAB_LDAP_URI not set: the slapd part is skipped\n");
    return check_done();
}
