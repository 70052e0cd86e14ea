/*
 * NAME
 *	test_cli_output - unit tests for search/cli_output.c
 * DESCRIPTION
 *	Prints through the JSON and text printers into a memory stream and
 *	compares the exact bytes: escaping of quotes, backslashes and control
 *	characters, U+FFFD for every kind of invalid UTF-8 (and valid
 *	multi-byte UTF-8 kept), nesting and separators, numbers, null. The
 *	JSON results are also checked to be valid UTF-8 JSON by python3 when
 *	it is installed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "search/cli_output.h"
#include "tests/unit/check.h"

struct capture {
    FILE *f;
    char *buf;
    size_t len;
    struct cli_output *o;
};

static void capture_begin(struct capture *c, int json)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    if (c->f == NULL) {
        perror("open_memstream");
        exit(2);
    }
    c->o = json ? cli_output_json_new(c->f) : cli_output_text_new(c->f);
}

/* The printed bytes; the caller frees them. */
static char *capture_end(struct capture *c)
{
    cli_output_free(&c->o);
    CHECK(c->o == NULL);
    if (fclose(c->f) != 0) {
        perror("fclose");
        exit(2);
    }
    return c->buf;
}

/* One JSON string value of len bytes, as printed. */
static char *json_string(const char *s, size_t len)
{
    struct capture c;

    capture_begin(&c, 1);
    c.o->string_len(c.o, s, len);
    return capture_end(&c);
}

static char *text_string(const char *s)
{
    struct capture c;

    capture_begin(&c, 0);
    c.o->string(c.o, s);
    return capture_end(&c);
}

#define CHECK_JSON(in, expected) CHECK_STR_FREE(json_string(in, sizeof(in) - 1), expected)
#define CHECK_TEXT(in, expected) CHECK_STR_FREE(text_string(in), expected)

#define FFFD "\xEF\xBF\xBD"

static void test_json_escaping(void)
{
    CHECK_JSON("plain", "\"plain\"");
    CHECK_JSON("", "\"\"");
    CHECK_JSON("say \"hi\"", "\"say \\\"hi\\\"\"");
    CHECK_JSON("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    CHECK_JSON("a\tb\r\nc", "\"a\\u0009b\\u000d\\u000ac\"");
    CHECK_JSON("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    CHECK_JSON("esc\x1b[31m", "\"esc\\u001b[31m\"");
    CHECK_JSON("nul\0byte", "\"nul\\u0000byte\"");
    /* '/' needs no escape and must come out as is. */
    CHECK_JSON("a/b <c@d>", "\"a/b <c@d>\"");
}

static void test_json_utf8(void)
{
    /* Valid UTF-8 of every length is kept byte for byte. */
    CHECK_JSON("Gr\xC3\xBC\xC3\x9F"
               "e",
               "\"Gr\xC3\xBC\xC3\x9F"
               "e\"");
    CHECK_JSON("\xE2\x82\xAC 5", "\"\xE2\x82\xAC 5\"");
    CHECK_JSON("\xF0\x9F\x93\xA7", "\"\xF0\x9F\x93\xA7\"");
    CHECK_JSON("\xED\x9F\xBF", "\"\xED\x9F\xBF\"");         /* U+D7FF, just below surrogates */
    CHECK_JSON("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\""); /* U+10FFFF */
    CHECK_JSON("\xC2\x80", "\"\xC2\x80\"");                 /* C1 control: valid JSON as is */

    /* Latin-1 bytes as an old MUA sends them. */
    CHECK_JSON("caf\xE9", "\"caf" FFFD "\"");
    CHECK_JSON("\xE9t\xE9", "\"" FFFD "t" FFFD "\"");
    /* A lone continuation byte, invalid lead bytes. */
    CHECK_JSON("a\x80z", "\"a" FFFD "z\"");
    CHECK_JSON("\xFF\xFE", "\"" FFFD FFFD "\"");
    /* Overlong forms, including the classic overlong "/" and NUL. */
    CHECK_JSON("\xC0\xAF", "\"" FFFD FFFD "\"");
    CHECK_JSON("\xC1\xBF", "\"" FFFD FFFD "\"");
    CHECK_JSON("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");
    CHECK_JSON("\xF0\x80\x80\xAF", "\"" FFFD FFFD FFFD FFFD "\"");
    /* Surrogates and code points above U+10FFFF. */
    CHECK_JSON("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");
    CHECK_JSON("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
    CHECK_JSON("\xF5\x80", "\"" FFFD FFFD "\"");
    /* Truncated sequences: the maximal subpart is one U+FFFD. */
    CHECK_JSON("\xE2\x82", "\"" FFFD "\"");
    CHECK_JSON("\xE2\x82x", "\"" FFFD "x\"");
    CHECK_JSON("\xF0\x9F\x93", "\"" FFFD "\"");
    CHECK_JSON("\xF0\x9F\x93\"", "\"" FFFD "\\\"\"");
    /* A good sequence right after a broken one survives. */
    CHECK_JSON("\xE2\xC3\xA9", "\"" FFFD "\xC3\xA9\"");
}

static void test_json_structure(void)
{
    struct capture c;
    char *got;

    capture_begin(&c, 1);
    c.o->begin_map(c.o);
    c.o->map_key(c.o, "archive_id");
    c.o->string(c.o, "6B07109F0E41E02BC658");
    c.o->map_key(c.o, "envelope_to");
    c.o->begin_list(c.o);
    c.o->string(c.o, "bob@example.com");
    c.o->string(c.o, "dave@hidden.example");
    c.o->end(c.o);
    c.o->map_key(c.o, "header_cc");
    c.o->begin_list(c.o);
    c.o->end(c.o);
    c.o->map_key(c.o, "date");
    c.o->string(c.o, NULL);
    c.o->map_key(c.o, "size");
    c.o->integer(c.o, 5120);
    c.o->map_key(c.o, "neg");
    c.o->integer(c.o, -42);
    c.o->map_key(c.o, "big");
    c.o->integer(c.o, INT64_MAX);
    c.o->map_key(c.o, "zero");
    c.o->integer(c.o, 0);
    c.o->map_key(c.o, "held");
    c.o->boolean(c.o, 1);
    c.o->map_key(c.o, "gone");
    c.o->boolean(c.o, 0);
    c.o->map_key(c.o, "x\"y");
    c.o->null(c.o);
    c.o->map_key(c.o, "nested");
    c.o->begin_list(c.o);
    c.o->begin_map(c.o);
    c.o->map_key(c.o, "a");
    c.o->integer(c.o, 1);
    c.o->end(c.o);
    c.o->begin_list(c.o);
    c.o->end(c.o);
    c.o->end(c.o);
    c.o->end(c.o);
    c.o->separator(c.o);
    c.o->begin_map(c.o);
    c.o->end(c.o);
    c.o->separator(c.o);
    got = capture_end(&c);
    CHECK_STR(got, "{\"archive_id\":\"6B07109F0E41E02BC658\","
                   "\"envelope_to\":[\"bob@example.com\",\"dave@hidden.example\"],"
                   "\"header_cc\":[],\"date\":null,\"size\":5120,\"neg\":-42,"
                   "\"big\":9223372036854775807,\"zero\":0,\"held\":true,\"gone\":false,"
                   "\"x\\\"y\":null,\"nested\":[{\"a\":1},[]]}\n"
                   "{}\n");
    free(got);
}

static void test_text(void)
{
    struct capture c;
    char *got;

    CHECK_TEXT("Quarterly report", "Quarterly report");
    CHECK_TEXT("Gr\xC3\xBC\xC3\x9F"
               "e",
               "Gr\xC3\xBC\xC3\x9F"
               "e");
    /* Folding remnants become spaces, other controls "?": no escape
     * sequence and no forged second line reaches the terminal. */
    CHECK_TEXT("a\tb\r\n c", "a b   c");
    CHECK_TEXT("evil\x1b[31mred\x07\x7f", "evil?[31mred??");
    CHECK_TEXT("csi\xC2\x9B"
               "31m",
               "csi?31m");
    CHECK_TEXT("caf\xE9", "caf" FFFD);
    CHECK_TEXT("\xC2\xA0nbsp", "\xC2\xA0nbsp"); /* U+00A0 is not a control */

    capture_begin(&c, 0);
    c.o->begin_map(c.o);
    c.o->map_key(c.o, "ignored");
    c.o->string(c.o, "ID");
    c.o->string(c.o, "2026-11-25T16:40:10Z");
    c.o->begin_list(c.o);
    c.o->string(c.o, "a@x");
    c.o->string(c.o, "b@y");
    c.o->end(c.o);
    c.o->null(c.o);
    c.o->integer(c.o, 7);
    c.o->string(c.o, "line\nbreak");
    c.o->end(c.o);
    c.o->separator(c.o);
    c.o->string(c.o, "second");
    c.o->separator(c.o);
    got = capture_end(&c);
    CHECK_STR(got, "ID  2026-11-25T16:40:10Z  a@x, b@y  -  7  line break\nsecond\n");
    free(got);
}

/* Every JSON output above, fed to a real JSON parser in strict UTF-8 mode. */
static void test_json_parses(const char *dir)
{
    static const char *const inputs[] = {
        "caf\xE9", "\xF0\x9F\x93", "\xED\xA0\x80", "a\x01\"\\", "\xC0\xAF", "ok \xE2\x82\xAC",
    };
    char path[4200], cmd[8600];
    FILE *f;
    int rc;

    if (system("python3 -c '' 2>/dev/null") != 0) {
        fprintf(stderr, "python3 missing: JSON validity not checked\n");
        return;
    }
    snprintf(path, sizeof(path), "%s/lines.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct cli_output *o = cli_output_json_new(f);
        o->begin_map(o);
        o->map_key(o, "s");
        o->string(o, inputs[i]);
        o->end(o);
        o->separator(o);
        cli_output_free(&o);
    }
    CHECK(fclose(f) == 0);
    snprintf(cmd, sizeof(cmd),
             "python3 -c 'import json,sys\n"
             "lines = open(sys.argv[1], \"rb\").read().decode(\"utf-8\").splitlines()\n"
             "assert len(lines) == 6, lines\n"
             "v = [json.loads(l)[\"s\"] for l in lines]\n"
             "assert v[0] == \"caf\\ufffd\", v[0]\n"
             "assert v[3] == \"a\\x01\\\"\\\\\", v[3]\n"
             "assert v[5] == \"ok \\u20ac\", v[5]' '%s'",
             path);
    rc = system(cmd);
    CHECK(rc == 0);
}

int main(void)
{
    const char *dir = check_tmpdir("test_cli_output");

    test_json_escaping();
    test_json_utf8();
    test_json_structure();
    test_text();
    test_json_parses(dir);
    return check_done();
}
