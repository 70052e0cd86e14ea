/*
 * NAME
 *	strlist 3
 * SUMMARY
 *	growable string lists and allocation wrappers
 * DESCRIPTION
 *	The x* allocators abort on failure: a worker out of memory has
 *	acknowledged nothing for the current transaction, so dying loudly
 *	(the master replaces it, Postfix retries) is the safe outcome.
 * DIAGNOSTICS
 *	"out of memory" on stderr/syslog, then abort().
 */
#include "common/strlist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

static void strlist_oom(void)
{
    log_error("fatal: out of memory");
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        strlist_oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        strlist_oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        strlist_oom();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p;

    n = strnlen(s, n); /* as strndup(): never reads past the string's end */
    p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *p;

    if (vasprintf(&p, fmt, ap) < 0)
        strlist_oom();
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

const char *xsetf(char **slot, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = xvasprintf(fmt, ap);
    va_end(ap);
    free(*slot);
    *slot = p;
    return p;
}

void strlist_add_n(struct strlist *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = xstrndup(s, len);
}

void strlist_add(struct strlist *l, const char *s)
{
    strlist_add_n(l, s, strlen(s));
}

int strlist_has_nocase(const struct strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

char *strlist_join(const struct strlist *l, const char *sep)
{
    size_t seplen = strlen(sep), len = 1;
    char *out, *w;

    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + (i > 0 ? seplen : 0);
    w = out = xmalloc(len);
    for (size_t i = 0; i < l->n; i++) {
        size_t n = strlen(l->v[i]);
        if (i > 0) {
            memcpy(w, sep, seplen);
            w += seplen;
        }
        memcpy(w, l->v[i], n);
        w += n;
    }
    *w = '\0';
    return out;
}

void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
