/*
 * NAME
 *	spec_type 3h
 * SUMMARY
 *	the "type:spec" lookup shared by the store and catalog registries
 * SYNOPSIS
 *	static const struct spec_table table = SPEC_TABLE(rows);
 *	const struct row *t = spec_type_lookup(&table, spec, &rest, &error);
 * DESCRIPTION
 *	A registry is an array of rows whose first member is the type name
 *	(const char *). This finds the row for the part of a specification
 *	before its first ':', and words the one set of messages for a spec
 *	that names no driver. Private to backends/.
 */
#ifndef TAB_SPEC_TYPE_H
#define TAB_SPEC_TYPE_H

#include <stddef.h>

struct spec_table {
    const void *rows; /* each row starts with its const char *type */
    size_t n;
    size_t row_size;
    const char *what;    /* "catalog", "store": how messages name it */
    const char *setting; /* its parameter, e.g. "archive_catalog" */
};

#define SPEC_TABLE(rows, what, setting)                                                            \
    {                                                                                              \
        (rows), sizeof(rows) / sizeof((rows)[0]), sizeof((rows)[0]), (what), (setting)             \
    }

/* The row of t whose type is spec up to its first ':', and in *rest_r
 * what follows the ':'. NULL for an empty spec, one without a ':' or an
 * unknown type, with *error_r saying which and listing the known types
 * (valid until the next call). */
const void *spec_type_lookup(const struct spec_table *t, const char *spec, const char **rest_r,
                             const char **error_r);

#endif
