/*
 * NAME
 *	spec_type 3
 * SUMMARY
 *	the "type:spec" lookup shared by the store and catalog registries
 * SYNOPSIS
 *	#include "backends/spec_type.h"
 * DESCRIPTION
 *	Owns the one parse of a "type:spec" specification and the list of
 *	known types in messages, for backends/store.c and
 *	backends/catalog.c, which keep their own tables and wording.
 * DIAGNOSTICS
 *	None: a missing ':' or an unknown type is a NULL row, which the
 *	registry turns into its message.
 */
#include "backends/spec_type.h"

#include <stdio.h>
#include <string.h>

static const char *spec_type_name(const struct spec_table *t, size_t i)
{
    const char *row = (const char *)t->rows + i * t->row_size;
    const char *name;

    memcpy(&name, row, sizeof(name));
    return name;
}

/* "a, b, c": the types of t, into buf. */
static void spec_type_known(const struct spec_table *t, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < t->n && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i > 0 ? ", " : "", spec_type_name(t, i));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

const void *spec_type_lookup(const struct spec_table *t, const char *spec, const char **rest_r,
                             const char **error_r)
{
    static char error[1024];
    const char *colon = spec != NULL ? strchr(spec, ':') : NULL;
    char known[256];

    *rest_r = NULL;
    *error_r = error;
    if (colon != NULL) {
        size_t type_len = (size_t)(colon - spec);
        *rest_r = colon + 1;
        for (size_t i = 0; i < t->n; i++) {
            const char *type = spec_type_name(t, i);
            if (strlen(type) == type_len && strncmp(type, spec, type_len) == 0)
                return (const char *)t->rows + i * t->row_size;
        }
    }
    spec_type_known(t, known, sizeof(known));
    if (spec == NULL || *spec == '\0')
        snprintf(error, sizeof(error), "no %s configured (%s = type:spec; known types: %s)",
                 t->what, t->setting, known);
    else if (colon == NULL)
        snprintf(error, sizeof(error), "%s \"%s\": expected type:spec (known types: %s)", t->what,
                 spec, known);
    else
        snprintf(error, sizeof(error), "%s \"%s\": unknown type \"%.*s\" (known types: %s)",
                 t->what, spec, (int)(colon - spec), spec, known);
    return NULL;
}
