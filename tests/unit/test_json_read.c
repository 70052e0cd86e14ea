/*
 * NAME
 *	test_json_read - unit tests for common/json_read.c
 * DESCRIPTION
 *	Valid documents read into the expected tree (types, keys, order,
 *	integers and reals, every escape, surrogate pairs, UTF-8 kept);
 *	invalid ones are rejected with JSON_READ_INVALID and a message that
 *	names the byte (syntax, leading zeros, control characters, bad
 *	UTF-8, lone surrogates, \u0000, a member twice, trailing bytes);
 *	the depth and value limits hold (JSON_READ_INVALID and
 *	JSON_READ_LIMIT); numbers at and beyond the int64_t range; and what
 *	the JSON printer (search/cli_output.c) writes reads back. Finally
 *	every prefix of a document and a few thousand mutated copies are
 *	parsed: the reader must return, never crash (run under the
 *	sanitizer build too).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_read.h"
#include "search/cli_output.h"
#include "tests/unit/check.h"

static const struct json_limits test_limits = {64, 100000};

/* Parse s (strlen); the document, or NULL with the status in *status_r. */
static struct json_doc *parse_n(const char *s, size_t len, int *status_r, char *error)
{
    struct json_doc *doc;
    int st = json_read(s, len, &test_limits, &doc, error, JSON_READ_ERROR_SIZE);

    if (status_r != NULL)
        *status_r = st;
    CHECK((st == JSON_READ_OK) == (doc != NULL));
    return doc;
}

static struct json_doc *parse(const char *s)
{
    char error[JSON_READ_ERROR_SIZE];
    struct json_doc *doc = parse_n(s, strlen(s), NULL, error);
    if (doc == NULL)
        fprintf(stderr, "unexpected failure: %s: %s\n", s, error);
    return doc;
}

/* s must fail with status; the message must contain want. */
static void rejects(const char *s, size_t len, int status, const char *want)
{
    char error[JSON_READ_ERROR_SIZE];
    int st;
    struct json_doc *doc = parse_n(s, len, &st, error);

    CHECK(doc == NULL);
    json_doc_free(&doc);
    CHECK(st == status);
    if (strstr(error, want) == NULL || strncmp(error, "at byte ", 8) != 0) {
        check_failed++;
        fprintf(stderr, "rejects \"%.60s\": error \"%s\" lacks \"%s\"\n", s, error, want);
    } else {
        check_passed++;
    }
}

static void test_tree(void)
{
    struct json_doc *doc = parse(" {\"a\": [1, -2, 3.5, true, false, null, \"x\", {}, []],"
                                 " \"b\": {\"c\": {\"d\": \"deep\"}}, \"e\": 0}\r\n\t");
    const struct json_value *root, *a, *m;
    int64_t n = 0;
    size_t i = 0;
    static const enum json_type want[] = {JSON_INTEGER, JSON_INTEGER, JSON_REAL,
                                          JSON_TRUE,    JSON_FALSE,   JSON_NULL,
                                          JSON_STRING,  JSON_OBJECT,  JSON_ARRAY};

    CHECK(doc != NULL);
    root = json_doc_root(doc);
    CHECK(root != NULL && root->type == JSON_OBJECT && root->count == 3);
    a = json_get(root, "a");
    CHECK(a != NULL && a->type == JSON_ARRAY && a->count == 9);
    for (m = json_first(a); m != NULL; m = json_next(m), i++)
        CHECK(i < 9 && m->type == want[i] && m->key == NULL);
    CHECK(i == 9);
    m = json_first(a);
    CHECK(json_int64(m, &n) == 0 && n == 1);
    CHECK(json_int64(json_next(m), &n) == 0 && n == -2);
    CHECK(json_next(json_next(m))->u.real == 3.5);
    CHECK(json_int64(json_next(json_next(m)), &n) == -1); /* a real is no integer */
    CHECK_STR(json_string(json_get(json_get(json_get(root, "b"), "c"), "d")), "deep");
    CHECK(json_int64(json_get(root, "e"), &n) == 0 && n == 0);
    /* Members in document order, with their keys. */
    m = json_first(root);
    CHECK_STR(m->key, "a");
    CHECK_STR(json_next(m)->key, "b");
    CHECK_STR(json_next(json_next(m))->key, "e");
    CHECK(json_next(json_next(json_next(m))) == NULL);
    /* Lookups tolerate NULL and the wrong type. */
    CHECK(json_get(root, "missing") == NULL);
    CHECK(json_get(a, "a") == NULL);
    CHECK(json_get(NULL, "a") == NULL);
    CHECK(json_first(NULL) == NULL && json_next(NULL) == NULL);
    CHECK(json_first(json_get(root, "e")) == NULL);
    CHECK(json_string(NULL) == NULL && json_string(json_get(root, "e")) == NULL);
    CHECK(json_int64(NULL, &n) == -1);
    json_doc_free(&doc);
    CHECK(doc == NULL);
    json_doc_free(&doc); /* twice: harmless */

    /* Scalars at the top. */
    doc = parse("\"top\"");
    CHECK(doc != NULL && json_doc_root(doc)->type == JSON_STRING);
    CHECK_STR(json_string(json_doc_root(doc)), "top");
    json_doc_free(&doc);
    doc = parse("null");
    CHECK(doc != NULL && json_doc_root(doc)->type == JSON_NULL);
    json_doc_free(&doc);
}

static void test_strings(void)
{
    struct json_doc *doc = parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", "
                                 "\"\\ud83d\\ude00\", \"caf\xc3\xa9 \xf0\x9f\x98\x80\", \"\","
                                 " \"\\u001f\\u007f\"]");
    const struct json_value *m = json_first(json_doc_root(doc));

    CHECK(doc != NULL);
    CHECK_STR(json_string(m), "\"\\/\b\f\n\r\t");
    CHECK(m->count == 8);
    m = json_next(m);
    CHECK_STR(json_string(m), "\xc3\xa9\xe2\x82\xac");
    m = json_next(m);
    CHECK_STR(json_string(m), "\xf0\x9f\x98\x80"); /* U+1F600 from a surrogate pair */
    m = json_next(m);
    CHECK_STR(json_string(m), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    m = json_next(m);
    CHECK(json_string(m) != NULL && m->count == 0);
    m = json_next(m);
    CHECK_STR(json_string(m), "\x1f\x7f");
    json_doc_free(&doc);
    /* Keys are decoded too. */
    doc = parse("{\"\\u0061b\": 1}");
    CHECK(doc != NULL && json_get(json_doc_root(doc), "ab") != NULL);
    json_doc_free(&doc);
}

static void test_numbers(void)
{
    struct json_doc *doc = parse("[9223372036854775807, -9223372036854775808, "
                                 "9223372036854775808, -9223372036854775809, "
                                 "123456789012345678901234567890, -0, 0, 1e2, 1E-2, -0.5e+1, "
                                 "1e999, 10000000000000000000000000000000000000000000000000000000"
                                 "000000000000000000000000000000000000000000000000000000000000]");
    const struct json_value *m = json_first(json_doc_root(doc));
    int64_t n;

    CHECK(doc != NULL);
    CHECK(json_int64(m, &n) == 0 && n == INT64_MAX);
    m = json_next(m);
    CHECK(json_int64(m, &n) == 0 && n == INT64_MIN);
    m = json_next(m); /* one above: a real, never a wrapped integer */
    CHECK(m->type == JSON_REAL && m->u.real == 9223372036854775808.0);
    m = json_next(m);
    CHECK(m->type == JSON_REAL && m->u.real == -9223372036854775809.0);
    m = json_next(m);
    CHECK(m->type == JSON_REAL && m->u.real > 1.2e29 && m->u.real < 1.3e29);
    m = json_next(m);
    CHECK(json_int64(m, &n) == 0 && n == 0);
    m = json_next(m);
    CHECK(json_int64(m, &n) == 0 && n == 0);
    m = json_next(m); /* an exponent makes a real, even when integral */
    CHECK(m->type == JSON_REAL && m->u.real == 100.0);
    m = json_next(m);
    CHECK(m->type == JSON_REAL && m->u.real == 0.01);
    m = json_next(m);
    CHECK(m->type == JSON_REAL && m->u.real == -5.0);
    m = json_next(m);
    CHECK(m->type == JSON_REAL && isinf(m->u.real));
    m = json_next(m); /* 116 digits */
    CHECK(m->type == JSON_REAL && m->u.real > 9e114 && m->u.real < 1.1e115);
    CHECK(json_next(m) == NULL);
    json_doc_free(&doc);
}

static void test_invalid(void)
{
    rejects("", 0, JSON_READ_INVALID, "not the end of the text");
    rejects("   ", 3, JSON_READ_INVALID, "a value expected");
    rejects("{\"manifest_version\": 1", 22, JSON_READ_INVALID, "',' or '}' expected");
    rejects("[1,]", 4, JSON_READ_INVALID, "a value expected, not ']'");
    rejects("[1 2]", 5, JSON_READ_INVALID, "',' or ']' expected");
    rejects("{\"a\" 1}", 7, JSON_READ_INVALID, "':' expected");
    rejects("{a: 1}", 6, JSON_READ_INVALID, "a member name expected");
    rejects("{\"a\": 1,}", 9, JSON_READ_INVALID, "a member name expected");
    rejects("[01]", 4, JSON_READ_INVALID, "leading zero");
    rejects("[-]", 3, JSON_READ_INVALID, "a digit expected");
    rejects("[1.]", 4, JSON_READ_INVALID, "after '.'");
    rejects("[.5]", 4, JSON_READ_INVALID, "a value expected");
    rejects("[1e]", 4, JSON_READ_INVALID, "exponent");
    rejects("[+1]", 4, JSON_READ_INVALID, "a value expected");
    rejects("[NaN]", 5, JSON_READ_INVALID, "a value expected");
    rejects("[tru]", 5, JSON_READ_INVALID, "not a JSON value");
    rejects("[True]", 6, JSON_READ_INVALID, "a value expected");
    rejects("{} {}", 5, JSON_READ_INVALID, "'{' after the value");
    rejects("1 x", 3, JSON_READ_INVALID, "after the value");
    rejects("\xef\xbb\xbf{}", 5, JSON_READ_INVALID, "byte 0xEF");
    rejects("[\"abc", 5, JSON_READ_INVALID, "ends inside a string");
    rejects("[\"a\\", 4, JSON_READ_INVALID, "ends inside a string");
    rejects("[\"a\nb\"]", 7, JSON_READ_INVALID, "byte 0x0A in a string");
    rejects("[\"a\tb\"]", 7, JSON_READ_INVALID, "byte 0x09 in a string");
    rejects("[\"\\x41\"]", 8, JSON_READ_INVALID, "no such escape");
    rejects("[\"\\u12\"]", 8, JSON_READ_INVALID, "four hex digits");
    rejects("[\"\\u12G4\"]", 10, JSON_READ_INVALID, "four hex digits");
    rejects("[\"\\ud800\"]", 10, JSON_READ_INVALID, "without a low one");
    rejects("[\"\\ud800\\u0041\"]", 16, JSON_READ_INVALID, "without a low one");
    rejects("[\"\\ud800x\"]", 11, JSON_READ_INVALID, "without a low one");
    rejects("[\"\\udc00\"]", 10, JSON_READ_INVALID, "a low surrogate alone");
    /* NUL: escaped or raw, inside a string or outside, never accepted. */
    rejects("[\"a\\u0000b\"]", 12, JSON_READ_INVALID, "\\u0000 in a string");
    rejects("[\"a\0b\"]", 7, JSON_READ_INVALID, "byte 0x00 in a string");
    rejects("[1]\0", 4, JSON_READ_INVALID, "byte 0x00 after the value");
    /* UTF-8 as the printer checks it. */
    rejects("[\"\xff\"]", 5, JSON_READ_INVALID, "not UTF-8");
    rejects("[\"\xc3\"]", 5, JSON_READ_INVALID, "not UTF-8");
    rejects("[\"\xc0\xaf\"]", 6, JSON_READ_INVALID, "not UTF-8");     /* overlong */
    rejects("[\"\xed\xa0\x80\"]", 7, JSON_READ_INVALID, "not UTF-8"); /* surrogate */
    rejects("[\"\xf4\x90\x80\x80\"]", 8, JSON_READ_INVALID, "not UTF-8");
    rejects("[\"\xe2\x82\"", 6, JSON_READ_INVALID, "not UTF-8"); /* cut at the end */
    /* A member twice: which one counts would depend on the reader. */
    rejects("{\"a\": 1, \"b\": 2, \"a\": 3}", 24, JSON_READ_INVALID, "\"a\" twice");
    rejects("{\"a\": 1, \"\\u0061\": 1}", 21, JSON_READ_INVALID, "\"a\" twice");
    /* The position is the byte offset of the trouble. */
    {
        char error[JSON_READ_ERROR_SIZE];
        int st;
        struct json_doc *doc = parse_n("[1, 2, x]", 9, &st, error);
        CHECK(doc == NULL && st == JSON_READ_INVALID);
        CHECK_STR(error, "at byte 7: a value expected, not 'x'");
    }
    /* Only len bytes are read: what follows is not part of the text. */
    {
        struct json_doc *doc;
        char error[JSON_READ_ERROR_SIZE];
        CHECK(json_read("[1] garbage", 3, &test_limits, &doc, error, sizeof(error)) ==
              JSON_READ_OK);
        json_doc_free(&doc);
        CHECK(json_read("12345", 2, &test_limits, &doc, error, sizeof(error)) == JSON_READ_OK);
        CHECK(doc != NULL && json_doc_root(doc)->u.integer == 12);
        json_doc_free(&doc);
    }
}

static void test_limits_hold(void)
{
    struct json_limits lim = {3, 10};
    struct json_doc *doc;
    char error[JSON_READ_ERROR_SIZE];
    size_t big = 200000;
    char *deep = malloc(2 * big + 1);

    CHECK(json_read("[[[1]]]", 7, &lim, &doc, error, sizeof(error)) == JSON_READ_OK);
    json_doc_free(&doc);
    CHECK(json_read("[[[[1]]]]", 9, &lim, &doc, error, sizeof(error)) == JSON_READ_INVALID);
    CHECK(doc == NULL && strstr(error, "nested deeper than 3") != NULL);
    CHECK(json_read("{\"a\":{\"b\":{\"c\":{}}}}", 20, &lim, &doc, error, sizeof(error)) ==
          JSON_READ_INVALID);
    CHECK(json_read("[1,2,3,4,5,6,7,8,9]", 19, &lim, &doc, error, sizeof(error)) == JSON_READ_OK);
    json_doc_free(&doc);
    CHECK(json_read("[1,2,3,4,5,6,7,8,9,10]", 22, &lim, &doc, error, sizeof(error)) ==
          JSON_READ_LIMIT);
    CHECK(doc == NULL && strstr(error, "more than 10 values") != NULL);
    lim.max_depth = 0;
    CHECK(json_read("7", 1, &lim, &doc, error, sizeof(error)) == JSON_READ_OK);
    json_doc_free(&doc);
    CHECK(json_read("[]", 2, &lim, &doc, error, sizeof(error)) == JSON_READ_INVALID);

    /* 200000 levels: refused at the limit, no stack overflow. */
    memset(deep, '[', big);
    memset(deep + big, ']', big);
    deep[2 * big] = '\0';
    CHECK(json_read(deep, 2 * big, &test_limits, &doc, error, sizeof(error)) == JSON_READ_INVALID);
    CHECK(strstr(error, "nested deeper than 64") != NULL);
    /* "[0,0,...,0]": 99999 zeros and the array, against the value limit. */
    for (size_t i = 0; i < big - 2; i++)
        deep[i] = i == 0 ? '[' : i % 2 ? '0' : ',';
    deep[big - 2] = ']';
    lim.max_depth = 1;
    lim.max_values = 50000;
    CHECK(json_read(deep, big - 1, &lim, &doc, error, sizeof(error)) == JSON_READ_LIMIT);
    CHECK(doc == NULL && strstr(error, "more than 50000 values") != NULL);
    lim.max_values = big;
    CHECK(json_read(deep, big - 1, &lim, &doc, error, sizeof(error)) == JSON_READ_OK);
    CHECK(doc != NULL && json_doc_root(doc)->count == (big - 2) / 2);
    json_doc_free(&doc);
    /* Many members: the duplicate check scales (sorted, not pairwise). */
    {
        size_t n = 50000, len = 0;
        char *obj = malloc(n * 16 + 2);
        obj[len++] = '{';
        for (size_t i = 0; i < n; i++)
            len += (size_t)sprintf(obj + len, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        obj[len++] = '}';
        lim.max_values = n + 1;
        CHECK(json_read(obj, len, &lim, &doc, error, sizeof(error)) == JSON_READ_OK);
        CHECK(doc != NULL && json_get(json_doc_root(doc), "k49999") != NULL);
        json_doc_free(&doc);
        memcpy(obj + len - 15, "\"k0\"    ", 8); /* the last key, "k49999", becomes "k0" */
        CHECK(json_read(obj, len, &lim, &doc, error, sizeof(error)) == JSON_READ_INVALID);
        free(obj);
    }
    free(deep);
}

/* What the JSON printer writes, the reader reads back. */
static void test_printer_round_trip(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct cli_output *o = cli_output_json_new(f);
    struct json_doc *doc;
    char error[JSON_READ_ERROR_SIZE];
    const struct json_value *root;
    int64_t n;

    o->begin_map(o);
    o->map_key(o, "ctl");
    o->string(o, "tab\there \"quoted\" back\\slash \x01\x1f\x7f end");
    o->map_key(o, "bad");
    o->string(o, "caf\xe9 \xed\xa0\x80 \xf0\x9f\x98\x80"); /* Latin-1, a surrogate, U+1F600 */
    o->map_key(o, "n");
    o->integer(o, INT64_MIN);
    o->map_key(o, "null");
    o->string(o, NULL);
    o->map_key(o, "list");
    o->begin_list(o);
    o->boolean(o, 1);
    o->end(o);
    o->end(o);
    o->separator(o);
    cli_output_free(&o);
    CHECK(fclose(f) == 0);
    CHECK(json_read(buf, len, &test_limits, &doc, error, sizeof(error)) == JSON_READ_OK);
    root = json_doc_root(doc);
    CHECK_STR(json_string(json_get(root, "ctl")),
              "tab\there \"quoted\" back\\slash \x01\x1f\x7f end");
    CHECK_STR(json_string(json_get(root, "bad")),
              "caf\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80");
    CHECK(json_int64(json_get(root, "n"), &n) == 0 && n == INT64_MIN);
    CHECK(json_get(root, "null") != NULL && json_get(root, "null")->type == JSON_NULL);
    CHECK(json_first(json_get(root, "list"))->type == JSON_TRUE);
    json_doc_free(&doc);
    free(buf);
}

/* Every prefix and a few thousand mutations of a manifest-like document:
 * the reader returns, with a tree or an error, and never crashes. */
static void test_hostile(void)
{
    static const char base[] =
        "{\"manifest_version\": 1, \"format\": \"mbox\", \"messages\": [\n"
        "  {\"archive_id\": \"6932F1A00A1B2C3D4E5F\", \"envelope_to\": [\"a@b\", \"\\u00e9\"],"
        " \"offset\": 0, \"length\": 1234, \"x\": [true, false, null, -1.5e3, \"\\ud83d\\ude00\"]}"
        "\n  ], \"message_count\": 1}\n";
    static const char bytes[] = "{}[]\",:\\u0123456789-+.eE \n\xff\xc3\xed\x80tfn";
    size_t len = sizeof(base) - 1, ok = 0, bad = 0;
    char *text = malloc(len);
    uint32_t seed = 12345;
    struct json_doc *doc;
    char error[JSON_READ_ERROR_SIZE];

    for (size_t cut = 0; cut <= len; cut++) {
        char *t = malloc(cut + 1); /* exactly cut bytes: ASan sees any overread */
        memcpy(t, base, cut);
        int st = json_read(t, cut, &test_limits, &doc, error, sizeof(error));
        if (st == JSON_READ_OK)
            ok++;
        else
            bad++;
        json_doc_free(&doc);
        free(t);
    }
    CHECK(ok == 2 && bad == len - 1); /* the whole, and the whole without its "\n" */
    for (int round = 0; round < 5000; round++) {
        memcpy(text, base, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            text[at] = bytes[(seed >> 8) % (sizeof(bytes) - 1)];
        }
        int st = json_read(text, len, &test_limits, &doc, error, sizeof(error));
        CHECK(st == JSON_READ_OK ||
              (st == JSON_READ_INVALID && doc == NULL && strncmp(error, "at byte ", 8) == 0));
        if (st == JSON_READ_OK)
            CHECK(json_doc_root(doc) != NULL);
        json_doc_free(&doc);
    }
    free(text);
}

int main(void)
{
    test_tree();
    test_strings();
    test_numbers();
    test_invalid();
    test_limits_hold();
    test_printer_round_trip();
    test_hostile();
    return check_done();
}
