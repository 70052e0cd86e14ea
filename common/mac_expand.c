/*
 * NAME
 *	mac_expand 3
 * SUMMARY
 *	expand "$name" references in a parameter value
 * SYNOPSIS
 *	#include "common/mac_expand.h"
 *
 *	struct mac_expand mx = {.max_depth = 10, .lookup = my_lookup, .ctx = cfg};
 *	char *value = mac_expand(&mx, raw, 0, &error);
 * DESCRIPTION
 *	Owns the syntax of a reference (mac_expand.h); what a name stands
 *	for, and whether its value is expanded further, is the lookup's.
 *	One pass over raw, the result grown on the heap.
 * DIAGNOSTICS
 *	NULL with a heap *error_r naming raw.
 */
#include "common/mac_expand.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/strlist.h"

/* The text of the last failure (const char **error_r). */
static char *mac_expand_error;

char *mac_expand(const struct mac_expand *mx, const char *raw, int depth, const char **error_r)
{
    struct buf out = BUF_INIT;

    *error_r = NULL;
    if (depth > mx->max_depth) {
        *error_r =
            xsetf(&mac_expand_error, "parameter expansion too deep (a loop?) in \"%s\"", raw);
        return NULL;
    }
    for (const char *s = raw; *s;) {
        const char *name_start, *name_end;
        char *name, *value;
        char close = '\0';

        if (*s != '$') {
            buf_add(&out, s++, 1);
            continue;
        }
        s++;
        if (*s == '$' && (mx->flags & MAC_EXPAND_DOLLAR)) {
            buf_add(&out, s++, 1);
            continue;
        }
        if (*s == '{' || (*s == '(' && (mx->flags & MAC_EXPAND_PARENS)))
            close = *s++ == '{' ? '}' : ')';
        name_start = s;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        name_end = s;
        if (name_end == name_start || (close != '\0' && *s++ != close)) {
            *error_r = xsetf(&mac_expand_error, "bad parameter reference in \"%s\"", raw);
            goto fail;
        }
        name = xstrndup(name_start, (size_t)(name_end - name_start));
        value = mx->lookup(mx->ctx, name, depth + 1, error_r);
        if (value == NULL && *error_r == NULL)
            *error_r = xsetf(&mac_expand_error, "unknown parameter \"$%s\" in \"%s\"", name, raw);
        free(name);
        if (value == NULL)
            goto fail;
        buf_add_str(&out, value);
        free(value);
    }
    return out.data != NULL ? out.data : xstrdup("");
fail:
    buf_free(&out);
    return NULL;
}
