/*
 * NAME
 *	ldap_auth 3
 * SUMMARY
 *	sign-in against LDAP or Active Directory, and the user's addresses
 * SYNOPSIS
 *	#include "web/ldap_auth.h"
 *
 *	r = ldap_auth_login(&cfg, "alice", password, &dn, &addresses, &err);
 * DESCRIPTION
 *	Owns one short LDAP conversation per sign-in (OpenLDAP's libldap):
 *	connect (StartTLS when asked), bind as the service account or stay
 *	anonymous, search the base for the one entry the filter names, then
 *	bind as that entry with the user's password and read its addresses.
 *	Nothing is kept between sign-ins: a changed password or a disabled
 *	account takes effect at the next one.
 * DIAGNOSTICS
 *	See ldap_auth.h. The messages name the server's answer
 *	(ldap_err2string()) and, for a failed search, the base and filter.
 */
#include "web/ldap_auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

static char *ldap_auth_error;

static enum tab_result ldap_auth_fail(enum tab_result r, const char **error_r, const char *what,
                                      int rc)
{
    *error_r = xsetf(&ldap_auth_error, "LDAP %s: %s", what, ldap_err2string(rc));
    return r;
}

/* What an LDAP result code means for the sign-in. */
static enum tab_result ldap_auth_result(int rc)
{
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
    case LDAP_CONNECT_ERROR:
    case LDAP_NO_MEMORY:
    case LDAP_LOCAL_ERROR:
        return TAB_RETRY;
    default:
        return TAB_PERM;
    }
}

char *ldap_auth_escape(const char *s)
{
    char *out = xmalloc(strlen(s) * 3 + 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '*' || *p == '(' || *p == ')' || *p == '\\' || *p < 0x20 || *p == 0x7f) {
            snprintf(o, 4, "\\%02x", *p);
            o += 3;
        } else
            *o++ = (char)*p;
    }
    *o = '\0';
    return out;
}

/* The filter with every %s replaced by the escaped user name; NULL when
 * it has no %s or another % directive. */
static char *ldap_auth_filter(const char *filter, const char *user)
{
    char *esc = ldap_auth_escape(user);
    struct strlist parts = STRLIST_INIT;
    char *out = NULL;
    int subst = 0;

    for (const char *p = filter; *p != '\0';) {
        const char *pct = strchr(p, '%');
        if (pct == NULL) {
            strlist_add(&parts, p);
            break;
        }
        strlist_add_n(&parts, p, (size_t)(pct - p));
        if (pct[1] == 's') {
            strlist_add(&parts, esc);
            subst++;
        } else if (pct[1] == '%')
            strlist_add(&parts, "%");
        else
            goto out;
        p = pct + 2;
    }
    if (subst > 0)
        out = strlist_join(&parts, "");
out:
    strlist_free(&parts);
    free(esc);
    return out;
}

static void ldap_auth_add_address(struct strlist *addresses, const char *a, size_t len)
{
    char *addr = xstrndup(a, len);

    if (addr[0] != '\0' && strchr(addr, '@') != NULL && !strlist_has_nocase(addresses, addr))
        strlist_add(addresses, addr);
    free(addr);
}

/* mail and the SMTP entries of proxyAddresses. */
static void ldap_auth_addresses(LDAP *ld, LDAPMessage *entry, struct strlist *addresses)
{
    static const char *const attrs[] = {"mail", "proxyAddresses"};

    for (size_t i = 0; i < 2; i++) {
        struct berval **vals = ldap_get_values_len(ld, entry, attrs[i]);
        for (size_t j = 0; vals != NULL && vals[j] != NULL; j++) {
            const char *v = vals[j]->bv_val;
            size_t len = vals[j]->bv_len;
            if (memchr(v, '\0', len) != NULL)
                continue;
            if (i == 1) {
                if (len < 5 || strncasecmp(v, "smtp:", 5) != 0)
                    continue; /* X400:, SIP:, X500:, ... */
                v += 5;
                len -= 5;
            }
            ldap_auth_add_address(addresses, v, len);
        }
        ldap_value_free_len(vals);
    }
}

static int ldap_auth_simple_bind(LDAP *ld, const char *dn, const char *password)
{
    struct berval cred;

    cred.bv_val = (char *)(password != NULL ? password : "");
    cred.bv_len = strlen(cred.bv_val);
    return ldap_sasl_bind_s(ld, dn != NULL ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

enum tab_result ldap_auth_login(const struct ldap_auth_config *cfg, const char *user,
                                const char *password, char **dn_r, struct strlist *addresses,
                                const char **error_r)
{
    LDAP *ld = NULL;
    LDAPMessage *res = NULL, *entry;
    char *filter = NULL, *dn = NULL;
    static char *attrs[] = {"mail", "proxyAddresses", NULL};
    int version = LDAP_VERSION3, rc, n;
    int timeout_s = cfg->timeout > 0 ? cfg->timeout : 10;
    struct timeval tv = {.tv_sec = timeout_s};
    enum tab_result r = TAB_PERM;

    *dn_r = NULL;
    if (user == NULL || user[0] == '\0') {
        *error_r = "LDAP: no user name";
        return TAB_PERM;
    }
    if (password == NULL || password[0] == '\0') {
        /* An empty simple bind is an anonymous bind, which succeeds. */
        *error_r = "LDAP: an empty password is refused";
        return TAB_PERM;
    }
    if ((filter = ldap_auth_filter(cfg->filter, user)) == NULL) {
        *error_r = xsetf(&ldap_auth_error, "LDAP: the filter \"%s\" must contain %%s", cfg->filter);
        return TAB_PERM;
    }
    if ((rc = ldap_initialize(&ld, cfg->uri)) != LDAP_SUCCESS) {
        r = ldap_auth_fail(TAB_PERM, error_r, "URI", rc);
        goto out;
    }
    (void)ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    (void)ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    (void)ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    (void)ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    int require = LDAP_OPT_X_TLS_DEMAND, newctx = 0;
    (void)ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0')
        (void)ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg->ca_file);
    (void)ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &newctx);
    if (cfg->starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
        r = ldap_auth_fail(ldap_auth_result(rc), error_r, "StartTLS", rc);
        goto out;
    }
    if (cfg->bind_dn != NULL && cfg->bind_dn[0] != '\0' &&
        (rc = ldap_auth_simple_bind(ld, cfg->bind_dn, cfg->bind_password)) != LDAP_SUCCESS) {
        r = ldap_auth_fail(ldap_auth_result(rc) == TAB_RETRY ? TAB_RETRY : TAB_PERM, error_r,
                           "bind as the service account", rc);
        goto out;
    }
    rc = ldap_search_ext_s(ld, cfg->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL, NULL, &tv, 2,
                           &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
        r = ldap_auth_fail(ldap_auth_result(rc), error_r, "search", rc);
        goto out;
    }
    n = ldap_count_entries(ld, res);
    if (n != 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
        *error_r = xsetf(&ldap_auth_error, "LDAP: %s entries under %s match %s",
                         n == 0 ? "no" : "several", cfg->base, filter);
        r = TAB_PERM;
        goto out;
    }
    entry = ldap_first_entry(ld, res);
    char *entry_dn = ldap_get_dn(ld, entry);
    if (entry_dn == NULL) {
        *error_r = "LDAP: the entry has no DN";
        goto out;
    }
    dn = xstrdup(entry_dn);
    ldap_memfree(entry_dn);
    if ((rc = ldap_auth_simple_bind(ld, dn, password)) != LDAP_SUCCESS) {
        r = ldap_auth_fail(ldap_auth_result(rc), error_r, "bind as the user", rc);
        goto out;
    }
    ldap_auth_addresses(ld, entry, addresses);
    *dn_r = dn;
    dn = NULL;
    r = TAB_OK;
out:
    if (res != NULL)
        ldap_msgfree(res);
    if (ld != NULL)
        ldap_unbind_ext_s(ld, NULL, NULL);
    free(filter);
    free(dn);
    return r;
}
