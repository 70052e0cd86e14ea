/*
 * NAME
 *	ldap_auth 3
 * SUMMARY
 *	sign-in against LDAP or Active Directory, and the user's addresses
 * SYNOPSIS
 *	#include "web/ldap_auth.h"
 * DESCRIPTION
 *	Finds the user's entry (a search with the service account, or
 *	anonymously), binds as that entry with the password given, and
 *	returns the entry's DN and its mail addresses: every `mail` value
 *	and the SMTP addresses of `proxyAddresses` (Active Directory's
 *	"SMTP:primary" and "smtp:alias"; X400:, SIP: and other types are
 *	not mail addresses and are skipped).
 *
 *	The user name is escaped (RFC 4515) before it goes into the search
 *	filter, so "*", "(", ")", "\" and NUL in it match themselves. An empty
 *	password is refused before any bind: LDAP treats a simple bind with
 *	an empty password as an anonymous bind that succeeds (RFC 4513 5.1.2).
 *	A name that matches no entry, or more than one, is refused.
 * DIAGNOSTICS
 *	TAB_OK: signed in. TAB_PERM: wrong name or password, no or several
 *	entries, a malformed filter or base (the reason says which, never the
 *	password). TAB_RETRY: the server is unreachable, times out or is
 *	busy. *error_r is valid until the next call.
 */
#ifndef TAB_LDAP_AUTH_H
#define TAB_LDAP_AUTH_H

#include "common/result.h"
#include "common/strlist.h"

struct ldap_auth_config {
    const char *uri;     /* ldap://host[:port] or ldaps://host[:port] (several: space-separated) */
    int starttls;        /* StartTLS on ldap:// (required when set) */
    const char *ca_file; /* CA certificates for ldaps:// and StartTLS; NULL: the system's */
    const char *base;    /* search base, e.g. "ou=people,dc=example,dc=com" */
    const char *filter;  /* with %s for the user name, e.g. "(&(objectClass=person)(uid=%s))" */
    const char *bind_dn; /* service account for the search; NULL or "": anonymous */
    const char *bind_password;
    int timeout; /* seconds for connect and each operation; 0: 10 */
};

/* Sign user in. On TAB_OK *dn_r (free()) is the entry's DN and the
 * addresses are added to *addresses (lower-cased domain part kept as
 * given; duplicates ignored case-insensitively). */
enum tab_result ldap_auth_login(const struct ldap_auth_config *cfg, const char *user,
                                const char *password, char **dn_r, struct strlist *addresses,
                                const char **error_r);

/* The RFC 4515 escaped form of s (free()). */
char *ldap_auth_escape(const char *s);

#endif
