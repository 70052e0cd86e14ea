/*
 * NAME
 *	cidr 3
 * SUMMARY
 *	network lists for lmtp_client_access
 * DESCRIPTION
 *	Parsing uses inet_pton only; matching compares prefix bits. An empty
 *	list matches nothing.
 * DIAGNOSTICS
 *	Parse errors name the entry ("bad network \"10.0.0/8\"").
 */
#include "common/cidr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/strlist.h"

/* The text of the last failure (const char **error_r). */
static char *cidr_error;

static int cidr_parse_one(const char *word, struct cidr_entry *e)
{
    char buf[80];
    char *slash, *host = buf;
    size_t len = strlen(word);

    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, word, len + 1);
    slash = strchr(buf, '/');
    if (slash)
        *slash++ = '\0';
    if (*host == '[') {
        size_t hl = strlen(host);
        if (hl < 2 || host[hl - 1] != ']')
            return -1;
        host[hl - 1] = '\0';
        host++;
    }
    memset(e, 0, sizeof(*e));
    if (inet_pton(AF_INET, host, e->addr) == 1) {
        e->family = AF_INET;
        e->prefix = 32;
    } else if (inet_pton(AF_INET6, host, e->addr) == 1) {
        e->family = AF_INET6;
        e->prefix = 128;
    } else {
        return -1;
    }
    if (slash) {
        char *end;
        long p = strtol(slash, &end, 10);
        if (!isdigit((unsigned char)*slash) || *end != '\0' || p < 0 || p > e->prefix)
            return -1;
        e->prefix = (int)p;
    }
    return 0;
}

int cidr_list_parse(const char *text, struct cidr_list *list, const char **error_r)
{
    const char *p = text;

    list->v = NULL;
    list->n = 0;
    while (*p) {
        size_t n;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        n = strcspn(p, " ,\t");
        if (n == 0)
            break;
        char *word = xstrndup(p, n);
        list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
        if (cidr_parse_one(word, &list->v[list->n]) < 0) {
            *error_r =
                xsetf(&cidr_error, "bad network \"%s\" (use e.g. 127.0.0.0/8 or ::1/128)", word);
            free(word);
            cidr_list_free(list);
            return -1;
        }
        free(word);
        list->n++;
        p += n;
    }
    return 0;
}

static int cidr_bits_match(const unsigned char *a, const unsigned char *b, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;

    if (memcmp(a, b, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int cidr_list_match(const struct cidr_list *list, const struct sockaddr *sa)
{
    unsigned char v4[4], v6[16];
    int have4 = 0, have6 = 0;

    if (sa->sa_family == AF_INET) {
        memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        have4 = 1;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(v6, a6, 16);
        have6 = 1;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(v4, v6 + 12, 4);
            have4 = 1;
        }
    } else {
        return 0;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct cidr_entry *e = &list->v[i];
        if ((e->family == AF_INET && have4 && cidr_bits_match(v4, e->addr, e->prefix)) ||
            (e->family == AF_INET6 && have6 && cidr_bits_match(v6, e->addr, e->prefix)))
            return 1;
    }
    return 0;
}

void cidr_list_free(struct cidr_list *list)
{
    free(list->v);
    list->v = NULL;
    list->n = 0;
}
