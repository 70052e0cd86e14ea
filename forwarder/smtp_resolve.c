/*
 * NAME
 *	smtp_resolve 3
 * SUMMARY
 *	where a forwarded copy goes: relayhost or MX hosts, and their addresses
 * DESCRIPTION
 *	smtp_destination() names the destination a session goes to (the
 *	relayhost, or the recipient's domain); smtp_resolve() turns it into
 *	the addresses to try, in order: relayhost as [host]:port without MX
 *	lookup, host[:port] and the bare recipient domain with MX lookup
 *	(by preference), falling back to the host's own address (RFC 5321
 *	5.1). At most SMTP_MAX_ADDRS addresses.
 * DIAGNOSTICS
 *	-1 with res DEFERRED: 4.3.5 for a destination that is not
 *	[host]:port or host[:port], 4.4.3 when no address is found.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/host_port.h"
#include "forwarder/smtp_client_private.h"

const char *smtp_destination(const struct smtp_client_config *cfg, const char *recipient)
{
    const char *at;

    if (cfg->relayhost[0] != '\0')
        return cfg->relayhost;
    at = strrchr(recipient, '@');
    return at ? at + 1 : recipient;
}

/* Split "[host]:port", "host:port", "host" (common/host_port.c) into
 * host, port (25 when none), and whether MX records apply (not for
 * [host]). -1 on syntax errors, an empty or too long host, or a port
 * that is not a number. */
static int smtp_parse_destination(const char *dest, char *host, size_t hostsize, int *port_r,
                                  int *mx_r)
{
    struct host_port hp;
    const char *why;
    int rc = -1;

    *port_r = 25;
    *mx_r = 1;
    if (host_port_split(dest, "25", &hp, &why) < 0)
        return -1;
    if (hp.host[0] != '\0' && strlen(hp.host) < hostsize &&
        (*port_r = host_port_number(hp.port)) > 0) {
        snprintf(host, hostsize, "%s", hp.host);
        *mx_r = !hp.bracketed;
        rc = 0;
    }
    host_port_free(&hp);
    return rc;
}

/* Append host's addresses to addrs. 0 ok, -1 (with gai error) none. */
static int smtp_add_host(const char *host, int port, struct smtp_addr *addrs, int *n,
                         const char **why_r)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        *why_r = gai_strerror(rc);
        return -1;
    }
    for (struct addrinfo *a = ai; a && *n < SMTP_MAX_ADDRS; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(addrs[*n].sa))
            continue;
        snprintf(addrs[*n].host, sizeof(addrs[*n].host), "%s", host);
        memcpy(&addrs[*n].sa, a->ai_addr, a->ai_addrlen);
        addrs[*n].salen = a->ai_addrlen;
        (*n)++;
    }
    freeaddrinfo(ai);
    return 0;
}

struct smtp_mx {
    int pref;
    char host[256];
};

static int smtp_mx_cmp(const void *a, const void *b)
{
    return ((const struct smtp_mx *)a)->pref - ((const struct smtp_mx *)b)->pref;
}

/* MX hosts of domain by preference; 0 when there are none (or no DNS). */
static int smtp_lookup_mx(const char *domain, struct smtp_mx *mx, int max, int *tempfail_r)
{
    unsigned char ans[4096];
    const unsigned char *p, *end;
    int len, n = 0, qd, an;

    *tempfail_r = 0;
    len = res_query(domain, C_IN, T_MX, ans, sizeof(ans));
    if (len < 0) {
        *tempfail_r = h_errno == TRY_AGAIN;
        return 0;
    }
    if (len < 12 || len > (int)sizeof(ans))
        return 0;
    end = ans + len;
    qd = ans[4] << 8 | ans[5];
    an = ans[6] << 8 | ans[7];
    p = ans + 12;
    while (qd-- > 0) {
        int skip = dn_skipname(p, end);
        if (skip < 0 || p + skip + 4 > end)
            return 0;
        p += skip + 4;
    }
    while (an-- > 0 && n < max) {
        int skip = dn_skipname(p, end);
        if (skip < 0 || p + skip + 10 > end)
            break;
        p += skip;
        int type = p[0] << 8 | p[1];
        int rdlen = p[8] << 8 | p[9];
        p += 10;
        if (p + rdlen > end)
            break;
        if (type == T_MX && rdlen > 2) {
            mx[n].pref = p[0] << 8 | p[1];
            if (dn_expand(ans, end, p + 2, mx[n].host, sizeof(mx[n].host)) >= 0)
                n++;
        }
        p += rdlen;
    }
    qsort(mx, (size_t)n, sizeof(*mx), smtp_mx_cmp);
    return n;
}

/* The addresses to try for destination, in order. 0, or -1 with res set. */
int smtp_resolve(const char *destination, struct smtp_addr *addrs, int *n_r, int *port_r,
                 struct smtp_result *res)
{
    char host[256];
    struct smtp_mx mx[SMTP_MAX_ADDRS];
    const char *why = "no address";
    int mx_lookup, nmx = 0, tempfail = 0;

    *n_r = 0;
    if (smtp_parse_destination(destination, host, sizeof(host), port_r, &mx_lookup) < 0) {
        smtp_result_set(res, SMTP_DEFERRED, "4.3.5",
                        "bad forward_relayhost or recipient domain \"%s\"", destination);
        return -1;
    }
    if (mx_lookup)
        nmx = smtp_lookup_mx(host, mx, SMTP_MAX_ADDRS, &tempfail);
    for (int i = 0; i < nmx; i++)
        (void)smtp_add_host(mx[i].host, *port_r, addrs, n_r, &why);
    /* No MX (or no DNS at all): the host's own address (RFC 5321 5.1). */
    if (nmx == 0)
        (void)smtp_add_host(host, *port_r, addrs, n_r, &why);
    if (*n_r == 0) {
        smtp_result_set(res, SMTP_DEFERRED, "4.4.3", "Host or domain name not found: %s%s", host,
                        tempfail ? " (temporary DNS failure)" : "");
        (void)why;
        return -1;
    }
    return 0;
}
