/*
 * NAME
 *	json_read 3h
 * SUMMARY
 *	a strict JSON reader: text into a read-only tree
 * SYNOPSIS
 *	struct json_limits lim = {64, 1000000};
 *	struct json_doc *doc;
 *	char error[JSON_READ_ERROR_SIZE];
 *	if (json_read(text, len, &lim, &doc, error, sizeof(error)) == JSON_READ_OK) {
 *		const struct json_value *root = json_doc_root(doc), *m;
 *		const char *fmt = json_string(json_get(root, "format"));
 *		for (m = json_first(json_get(root, "messages")); m; m = json_next(m))
 *			...;
 *		json_doc_free(&doc);
 *	}
 * DESCRIPTION
 *	The counterpart of the JSON printer (search/cli_output.c): it reads
 *	RFC 8259 JSON and nothing else, and what the printer writes always
 *	reads back. Stricter than the RFC where it makes a document
 *	ambiguous or a C string lie: a member name twice in one object,
 *	"\u0000" in a string (the tree's strings are C strings), bytes that
 *	are not UTF-8 (the printer's rules: no overlong forms, no surrogates,
 *	nothing above U+10FFFF), a lone surrogate escape, a byte order mark
 *	and anything after the value are rejected.
 *
 *	A number without fraction or exponent that fits is a JSON_INTEGER
 *	(int64_t); every other number is a JSON_REAL (strtod(), so under the
 *	C locale's decimal point, which tabularium never changes).
 *
 *	The tree lives in the document: one array of values (grown as
 *	needed) and one buffer of len + 1 bytes for the decoded strings;
 *	nothing in it points into the text. limits bounds
 *	the nesting (the parser recurses once per level) and the number of
 *	values (the memory: about 40 bytes each, beside the string buffer of
 *	at most len + 1 bytes).
 *
 *	Lookups take NULL and values of the wrong type and return NULL (or
 *	-1), so a chain such as json_string(json_get(json_get(r, "a"), "b"))
 *	needs one check at its end.
 * DIAGNOSTICS
 *	json_read() returns JSON_READ_OK, JSON_READ_INVALID (the text is not
 *	JSON this reader accepts, including nesting deeper than the limit)
 *	or JSON_READ_LIMIT (more values than the limit allows, or out of
 *	memory); error then says what and at which byte. Never aborts, never
 *	reads outside text[0..len).
 */
#ifndef TAB_JSON_READ_H
#define TAB_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#define JSON_READ_ERROR_SIZE 128

enum json_read_status { JSON_READ_OK = 0, JSON_READ_INVALID = -1, JSON_READ_LIMIT = -2 };

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_INTEGER,
    JSON_REAL,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    const char *key; /* in an object: the member's name; else NULL */
    size_t next;     /* values from this one to its next sibling; 0 for the last */
    size_t count;    /* array, object: members; string: bytes (no NUL among them) */
    union {
        int64_t integer;
        double real;
        const char *string; /* NUL-terminated */
    } u;
};

struct json_limits {
    unsigned max_depth; /* arrays and objects inside each other; 0: only scalars */
    size_t max_values;  /* every value counts, containers and members alike */
};

struct json_doc;

/* Parse text[0..len) into *doc_r (NULL on failure); error gets a message
 * on failure. Returns an enum json_read_status. */
int json_read(const char *text, size_t len, const struct json_limits *limits,
              struct json_doc **doc_r, char *error, size_t error_size);
const struct json_value *json_doc_root(const struct json_doc *doc);
/* Frees the document and every value in it; NULLs *doc. */
void json_doc_free(struct json_doc **doc);

/* The member named key of an object; NULL when v is no object or has none. */
const struct json_value *json_get(const struct json_value *v, const char *key);
/* The first member of an array or object; NULL when empty or not one. */
const struct json_value *json_first(const struct json_value *v);
/* The member after member in its array or object; NULL after the last. */
const struct json_value *json_next(const struct json_value *member);
/* v's string, or NULL when v is not a string. */
const char *json_string(const struct json_value *v);
/* 0 and *n_r set when v is a JSON_INTEGER, else -1. */
int json_int64(const struct json_value *v, int64_t *n_r);

#endif
