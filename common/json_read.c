/*
 * NAME
 *	json_read 3
 * SUMMARY
 *	a strict JSON reader: text into a read-only tree
 * DESCRIPTION
 *	A recursive descent over RFC 8259 (common/json_read.h says what is
 *	accepted beyond the grammar). Values are appended to one growing
 *	array in document order; a container's members follow it, each
 *	member's "next" skipping its own subtree, so that the tree needs no
 *	pointer fix-up when the array moves. Decoded strings go into one
 *	buffer of len + 1 bytes: a string's decoded form plus its NUL is
 *	never longer than its text with the two quotes, so it cannot
 *	overflow.
 *
 *	Owns parsing only: what a document means is its caller's business
 *	(the export manifest: search/read/cli_export_verify.c).
 * DIAGNOSTICS
 *	Errors are "at byte N: WHAT" (N counted from 0) in the caller's
 *	buffer. Memory comes from malloc()/realloc(), never the aborting
 *	x*alloc(): a document too large to hold is a JSON_READ_LIMIT error,
 *	not the end of the process.
 */
#include "common/json_read.h"
#include "common/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_doc {
    struct json_value *values;
    size_t n_values;
    char *strings;
};

struct json_parser {
    const unsigned char *start, *p, *end;
    const struct json_limits *limits;
    struct json_value *values;
    size_t n_values, cap_values;
    char *strings; /* len + 1 bytes */
    size_t n_strings;
    char *error;
    size_t error_size;
    int status; /* JSON_READ_INVALID or JSON_READ_LIMIT once failed */
};

static int json_fail(struct json_parser *jp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record the first error, at the current position. Returns -1. */
static int json_fail(struct json_parser *jp, int status, const char *fmt, ...)
{
    char what[JSON_READ_ERROR_SIZE];
    va_list ap;

    if (jp->status != JSON_READ_OK)
        return -1;
    jp->status = status;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (jp->error_size > 0)
        snprintf(jp->error, jp->error_size, "at byte %zu: %s", (size_t)(jp->p - jp->start), what);
    return -1;
}

/* A printable form of the byte at p for a message. */
static const char *json_byte_name(const struct json_parser *jp, char buf[16])
{
    if (jp->p >= jp->end)
        return "the end of the text";
    if (*jp->p >= 0x21 && *jp->p <= 0x7E)
        snprintf(buf, 16, "'%c'", *jp->p);
    else
        snprintf(buf, 16, "byte 0x%02X", *jp->p);
    return buf;
}

static void json_skip_space(struct json_parser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

/* Append a value; its index, or -1 (failed). */
static long json_append(struct json_parser *jp, enum json_type type, const char *key)
{
    struct json_value *v;

    if (jp->n_values >= jp->limits->max_values) {
        json_fail(jp, JSON_READ_LIMIT, "more than %zu values", jp->limits->max_values);
        return -1;
    }
    if (jp->n_values == jp->cap_values) {
        size_t cap = jp->cap_values ? jp->cap_values * 2 : 64;
        if (cap > jp->limits->max_values)
            cap = jp->limits->max_values;
        if (cap > ((size_t)-1 / 2) / sizeof(*v)) {
            json_fail(jp, JSON_READ_LIMIT, "out of memory");
            return -1;
        }
        v = realloc(jp->values, cap * sizeof(*v));
        if (v == NULL) {
            json_fail(jp, JSON_READ_LIMIT, "out of memory for %zu values", cap);
            return -1;
        }
        jp->values = v;
        jp->cap_values = cap;
    }
    v = &jp->values[jp->n_values];
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->key = key;
    return (long)jp->n_values++;
}

/* Four hex digits after "\u" at p; the code unit, or -1. */
static long json_hex4(const unsigned char *p, const unsigned char *end)
{
    long cu = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        cu = cu * 16 + d;
    }
    return cu;
}

static char *json_put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* The "\uXXXX" (or surrogate pair) at p, p[0] == 'u', as a code point;
 * advances p past it. -1 (failed) when it is not one. */
static long json_unicode_escape(struct json_parser *jp)
{
    long hi = json_hex4(jp->p + 1, jp->end), lo;

    if (hi < 0)
        return json_fail(jp, JSON_READ_INVALID, "\\u needs four hex digits");
    if (hi == 0)
        return json_fail(jp, JSON_READ_INVALID, "\\u0000 in a string");
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return json_fail(jp, JSON_READ_INVALID, "\\u%04lX: a low surrogate alone", hi);
    if (hi < 0xD800 || hi > 0xDBFF) {
        jp->p += 5;
        return hi;
    }
    if (jp->end - jp->p < 11 || jp->p[5] != '\\' || jp->p[6] != 'u' ||
        (lo = json_hex4(jp->p + 7, jp->end)) < 0xDC00 || lo > 0xDFFF)
        return json_fail(jp, JSON_READ_INVALID, "\\u%04lX: a high surrogate without a low one", hi);
    jp->p += 11;
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* The string at p (at its '"'), decoded into the string buffer. */
static int json_string_parse(struct json_parser *jp, const char **s_r, size_t *len_r)
{
    char *start = jp->strings + jp->n_strings, *o = start;
    char name[16];

    jp->p++; /* the opening quote */
    for (;;) {
        unsigned char c;

        if (jp->p >= jp->end)
            return json_fail(jp, JSON_READ_INVALID, "the text ends inside a string");
        c = *jp->p;
        if (c == '"') {
            jp->p++;
            break;
        }
        if (c < 0x20)
            return json_fail(jp, JSON_READ_INVALID, "%s in a string: escape it",
                             json_byte_name(jp, name));
        if (c >= 0x80) {
            size_t n = utf8_seq(jp->p, (size_t)(jp->end - jp->p), NULL);
            if (n == 0)
                return json_fail(jp, JSON_READ_INVALID, "not UTF-8");
            memcpy(o, jp->p, n);
            o += n;
            jp->p += n;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            jp->p++;
            continue;
        }
        if (++jp->p >= jp->end)
            return json_fail(jp, JSON_READ_INVALID, "the text ends inside a string");
        switch (*jp->p) {
        case '"':
        case '\\':
        case '/':
            *o++ = (char)*jp->p;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            long cp = json_unicode_escape(jp);
            if (cp < 0)
                return -1;
            o = json_put_utf8(o, (unsigned long)cp);
            continue; /* p is past the escape */
        }
        default:
            return json_fail(jp, JSON_READ_INVALID, "\\%s: no such escape",
                             json_byte_name(jp, name));
        }
        jp->p++;
    }
    *o++ = '\0';
    *s_r = start;
    *len_r = (size_t)(o - start) - 1;
    jp->n_strings += (size_t)(o - start);
    return 0;
}

/* The number at p: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json_number_parse(struct json_parser *jp, const char *key)
{
    const unsigned char *s = jp->p, *q = jp->p;
    int integral = 1, negative = 0;
    uint64_t mag = 0, limit;
    long i;

    if (q < jp->end && *q == '-') {
        negative = 1;
        q++;
    }
    if (q >= jp->end || *q < '0' || *q > '9') {
        jp->p = q;
        return json_fail(jp, JSON_READ_INVALID, "a digit expected");
    }
    if (*q == '0') {
        q++;
        if (q < jp->end && *q >= '0' && *q <= '9') {
            jp->p = q;
            return json_fail(jp, JSON_READ_INVALID, "a number with a leading zero");
        }
    } else {
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < jp->end && *q == '.') {
        integral = 0;
        if (++q >= jp->end || *q < '0' || *q > '9') {
            jp->p = q;
            return json_fail(jp, JSON_READ_INVALID, "a digit expected after '.'");
        }
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < jp->end && (*q == 'e' || *q == 'E')) {
        integral = 0;
        if (++q < jp->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= jp->end || *q < '0' || *q > '9') {
            jp->p = q;
            return json_fail(jp, JSON_READ_INVALID, "a digit expected in the exponent");
        }
        while (q < jp->end && *q >= '0' && *q <= '9')
            q++;
    }
    i = json_append(jp, JSON_INTEGER, key);
    if (i < 0)
        return -1;
    /* Integral and within int64_t: an integer. */
    limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (const unsigned char *d = s + negative; integral && d < q; d++) {
        unsigned digit = (unsigned)(*d - '0');
        if (mag > (limit - digit) / 10)
            integral = 0;
        else
            mag = mag * 10 + digit;
    }
    if (integral) {
        jp->values[i].u.integer = negative ? (int64_t)(0 - mag) : (int64_t)mag;
    } else {
        /* strtod() needs a NUL after the number: copy it. */
        size_t n = (size_t)(q - s);
        char small[64], *buf = n < sizeof(small) ? small : malloc(n + 1);
        if (buf == NULL)
            return json_fail(jp, JSON_READ_LIMIT, "out of memory");
        memcpy(buf, s, n);
        buf[n] = '\0';
        jp->values[i].type = JSON_REAL;
        jp->values[i].u.real = strtod(buf, NULL); /* out of range: +-HUGE_VAL or 0 */
        if (buf != small)
            free(buf);
    }
    jp->p = q;
    return 0;
}

/* The literal word (true, false, null) at p. */
static int json_literal_parse(struct json_parser *jp, const char *word, enum json_type type,
                              const char *key)
{
    size_t n = strlen(word);

    if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, word, n) != 0)
        return json_fail(jp, JSON_READ_INVALID, "not a JSON value");
    jp->p += n;
    return json_append(jp, type, key) < 0 ? -1 : 0;
}

static int json_key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0 when the object at index obj has no member name twice. */
static int json_keys_unique(struct json_parser *jp, size_t obj)
{
    const struct json_value *o = &jp->values[obj];
    const struct json_value *m;
    const char **keys;
    size_t n = 0;
    int ret = 0;

    if (o->count < 2)
        return 0;
    keys = malloc(o->count * sizeof(*keys));
    if (keys == NULL)
        return json_fail(jp, JSON_READ_LIMIT, "out of memory");
    for (m = o + 1; n < o->count; m += m->next)
        keys[n++] = m->key;
    qsort(keys, n, sizeof(*keys), json_key_cmp);
    for (size_t i = 1; i < n && ret == 0; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            ret = json_fail(jp, JSON_READ_INVALID, "the member \"%.40s\" twice in one object",
                            keys[i]);
    free(keys);
    return ret;
}

static int json_value_parse(struct json_parser *jp, unsigned depth, const char *key);

/* An array or object at p (at its '[' or '{'). */
static int json_container_parse(struct json_parser *jp, unsigned depth, const char *key)
{
    int object = *jp->p == '{';
    char close = object ? '}' : ']';
    long self, prev = -1;
    char name[16];

    if (depth >= jp->limits->max_depth)
        return json_fail(jp, JSON_READ_INVALID, "nested deeper than %u", jp->limits->max_depth);
    self = json_append(jp, object ? JSON_OBJECT : JSON_ARRAY, key);
    if (self < 0)
        return -1;
    jp->p++;
    json_skip_space(jp);
    if (jp->p < jp->end && *jp->p == close) {
        jp->p++;
        return 0;
    }
    for (;;) {
        const char *member_key = NULL;
        size_t child = jp->n_values, key_len;

        json_skip_space(jp);
        if (object) {
            if (jp->p >= jp->end || *jp->p != '"')
                return json_fail(jp, JSON_READ_INVALID, "a member name expected, not %s",
                                 json_byte_name(jp, name));
            if (json_string_parse(jp, &member_key, &key_len) < 0)
                return -1;
            json_skip_space(jp);
            if (jp->p >= jp->end || *jp->p != ':')
                return json_fail(jp, JSON_READ_INVALID, "':' expected, not %s",
                                 json_byte_name(jp, name));
            jp->p++;
        }
        if (json_value_parse(jp, depth + 1, member_key) < 0)
            return -1;
        if (prev >= 0)
            jp->values[prev].next = child - (size_t)prev;
        prev = (long)child;
        jp->values[self].count++;
        json_skip_space(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == close) {
            jp->p++;
            break;
        }
        return json_fail(jp, JSON_READ_INVALID, "',' or '%c' expected, not %s", close,
                         json_byte_name(jp, name));
    }
    return object ? json_keys_unique(jp, (size_t)self) : 0;
}

static int json_value_parse(struct json_parser *jp, unsigned depth, const char *key)
{
    char name[16];

    json_skip_space(jp);
    if (jp->p >= jp->end)
        return json_fail(jp, JSON_READ_INVALID, "a value expected, not the end of the text");
    switch (*jp->p) {
    case '{':
    case '[':
        return json_container_parse(jp, depth, key);
    case '"': {
        const char *s;
        size_t len;
        long i = json_append(jp, JSON_STRING, key);
        if (i < 0 || json_string_parse(jp, &s, &len) < 0)
            return -1;
        jp->values[i].u.string = s;
        jp->values[i].count = len;
        return 0;
    }
    case 't':
        return json_literal_parse(jp, "true", JSON_TRUE, key);
    case 'f':
        return json_literal_parse(jp, "false", JSON_FALSE, key);
    case 'n':
        return json_literal_parse(jp, "null", JSON_NULL, key);
    default:
        if (*jp->p == '-' || (*jp->p >= '0' && *jp->p <= '9'))
            return json_number_parse(jp, key);
        return json_fail(jp, JSON_READ_INVALID, "a value expected, not %s",
                         json_byte_name(jp, name));
    }
}

int json_read(const char *text, size_t len, const struct json_limits *limits,
              struct json_doc **doc_r, char *error, size_t error_size)
{
    struct json_parser jp;
    struct json_doc *doc;
    char name[16];

    *doc_r = NULL;
    if (error_size > 0)
        error[0] = '\0';
    memset(&jp, 0, sizeof(jp));
    jp.start = jp.p = (const unsigned char *)text;
    jp.end = jp.start + len;
    jp.limits = limits;
    jp.error = error;
    jp.error_size = error_size;
    if (len == (size_t)-1 || (jp.strings = malloc(len + 1)) == NULL) {
        json_fail(&jp, JSON_READ_LIMIT, "out of memory for %zu bytes of text", len);
        return jp.status;
    }
    if (json_value_parse(&jp, 0, NULL) == 0) {
        json_skip_space(&jp);
        if (jp.p < jp.end)
            json_fail(&jp, JSON_READ_INVALID, "%s after the value", json_byte_name(&jp, name));
    }
    if (jp.status != JSON_READ_OK) {
        free(jp.values);
        free(jp.strings);
        return jp.status;
    }
    doc = malloc(sizeof(*doc));
    if (doc == NULL) {
        free(jp.values);
        free(jp.strings);
        json_fail(&jp, JSON_READ_LIMIT, "out of memory");
        return jp.status;
    }
    doc->values = jp.values;
    doc->n_values = jp.n_values;
    doc->strings = jp.strings;
    *doc_r = doc;
    return JSON_READ_OK;
}

const struct json_value *json_doc_root(const struct json_doc *doc)
{
    return doc != NULL && doc->n_values > 0 ? &doc->values[0] : NULL;
}

void json_doc_free(struct json_doc **doc)
{
    if (*doc == NULL)
        return;
    free((*doc)->values);
    free((*doc)->strings);
    free(*doc);
    *doc = NULL;
}

const struct json_value *json_first(const struct json_value *v)
{
    if (v == NULL || (v->type != JSON_ARRAY && v->type != JSON_OBJECT) || v->count == 0)
        return NULL;
    return v + 1;
}

const struct json_value *json_next(const struct json_value *member)
{
    return member != NULL && member->next > 0 ? member + member->next : NULL;
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
    if (v == NULL || v->type != JSON_OBJECT)
        return NULL;
    for (const struct json_value *m = json_first(v); m != NULL; m = json_next(m))
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

const char *json_string(const struct json_value *v)
{
    return v != NULL && v->type == JSON_STRING ? v->u.string : NULL;
}

int json_int64(const struct json_value *v, int64_t *n_r)
{
    if (v == NULL || v->type != JSON_INTEGER)
        return -1;
    *n_r = v->u.integer;
    return 0;
}
