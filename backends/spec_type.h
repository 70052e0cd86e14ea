/*
 * NAME
 *	spec_type 3h
 * SUMMARY
 *	the "type:spec" lookup shared by the store and catalog registries
 * SYNOPSIS
 *	static const struct spec_table table = SPEC_TABLE(rows);
 *	const struct row *t = spec_type_find(&table, spec, &rest);
 * DESCRIPTION
 *	A registry is an array of rows whose first member is the type name
 *	(const char *). This finds the row for the part of a specification
 *	before its first ':' and lists the known types for messages; the
 *	registries word their own messages. Private to backends/.
 */
#ifndef TAB_SPEC_TYPE_H
#define TAB_SPEC_TYPE_H

#include <stddef.h>

struct spec_table {
    const void *rows; /* each row starts with its const char *type */
    size_t n;
    size_t row_size;
};

#define SPEC_TABLE(rows)                                                                           \
    {                                                                                              \
        (rows), sizeof(rows) / sizeof((rows)[0]), sizeof((rows)[0])                                \
    }

/* "a, b, c": the types of t, into buf. */
void spec_type_known(const struct spec_table *t, char *buf, size_t size);
/* The row of t whose type is spec up to its first ':', and in *rest_r
 * what follows the ':'. NULL when spec has no ':' (*rest_r NULL) or the
 * type is unknown (*rest_r set: the type is spec up to *rest_r - 1). */
const void *spec_type_find(const struct spec_table *t, const char *spec, const char **rest_r);

#endif
