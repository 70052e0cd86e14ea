/*
 * NAME
 *	test_index_address 1
 * SUMMARY
 *	unit test of mail/index_address.c
 * DESCRIPTION
 *	From:, To: and Cc: as real mail writes them (groups, quoted and
 *	folded names, routes, comments, IDN, bytes that are not UTF-8) and
 *	as an attacker would (45 000 nested groups, 100 000 addresses,
 *	commas, comments and quotes that never close): the addresses kept,
 *	in order, at most INDEX_FIELDS_ADDRESSES_MAX, in linear time.
 */
#include "tests/unit/index_check.h"

static void test_addresses(void)
{
    static const struct index_case cases[] = {
        {LIT("From: \"Doe, John\" <john@example.com>\r\n"
             "To: friends: a@x.org, \"B\" <b@y.org>;, c@z.org\r\n"
             "Cc: undisclosed-recipients:;\r\n"
             "To: second@header.example\r\n"
             "Cc: \"a b\"@quoted.example,\r\n"
             "  Folded Name\r\n"
             "   <folded@x.org>\r\n"
             "\r\n"),
         .from = {{"Doe, John", "john@example.com"}}, .counted = 1, .n_from = 1, .n_to = 4,
         .to = {{NULL, "a@x.org"},
                {"B", "b@y.org"},
                {NULL, "c@z.org"},
                {NULL, "second@header.example"}},
         .n_cc = 3,
         .cc = {{"undisclosed-recipients", NULL},
                {NULL, "\"a b\"@quoted.example"},
                {"Folded Name", "folded@x.org"}}},
        /* nested groups are flattened; an empty group is its name; a group
         * left open still counts */
        {LIT("To: outer: inner: a@x.test;, b@x.test;, empty:;\r\n"
             "Cc: open: c@x.test, \"D\" <d@x.test>\r\n\r\n"),
         .counted = 1, .n_to = 3, .to = {{NULL, "a@x.test"}, {NULL, "b@x.test"}, {"empty", NULL}},
         .n_cc = 2, .cc = {{NULL, NULL}, {"D", "d@x.test"}}},
    };

    check_headers(cases);
}

/* Header text of tokens joined into lines of at most 900 bytes (folded
 * with CRLF SP), as a sender staying under line limits would. */
struct folder {
    char *buf;
    size_t len, cap, line;
};

static void fold_add(struct folder *f, const char *tok)
{
    size_t n = strlen(tok);

    if (f->len + n + 8 > f->cap) {
        f->cap = (f->len + n + 8) * 2;
        f->buf = realloc(f->buf, f->cap);
        if (f->buf == NULL)
            exit(2);
    }
    if (f->line > 0 && f->line + n > 900) {
        memcpy(f->buf + f->len, "\r\n ", 3);
        f->len += 3;
        f->line = 1;
    }
    memcpy(f->buf + f->len, tok, n);
    f->len += n;
    f->line += n;
    f->buf[f->len] = '\0';
}

static void test_hostile_addresses(void)
{
    struct archive_record rec;
    struct folder f = {0};
    char tok[32];

    /* 45 000 nested groups in a Cc: of 900-byte lines: GMime recursed per
     * group until the stack overflowed (SIGSEGV) */
    fold_add(&f, "From: a@b.test\r\nCc: ");
    for (int i = 0; i < 45000; i++)
        fold_add(&f, "g:");
    fold_add(&f, "x@y.test");
    for (int i = 0; i < 45000; i++)
        fold_add(&f, ";");
    fold_add(&f, "\r\nSubject: after the groups\r\n\r\nbody\r\n");
    CHECK(f.len > 90000 && f.len < 200000);
    CHECK(extract_quickly(f.buf, f.len, &rec) == 0);
    CHECK(rec.hdr_cc.n == 1);
    check_addr(&rec.hdr_cc, 0, NULL, "x@y.test");
    check_addr(&rec.hdr_from, 0, NULL, "a@b.test");
    CHECK_STR(rec.subject, "after the groups");
    record_free(&rec);

    /* 100 000 addresses in one header: the first INDEX_FIELDS_ADDRESSES_MAX
     * are kept, in order, and a later To: adds nothing */
    f.len = f.line = 0;
    fold_add(&f, "To: ");
    for (int i = 0; i < 100000; i++) {
        snprintf(tok, sizeof(tok), "%x@t,", i);
        fold_add(&f, tok);
    }
    fold_add(&f, "\r\nTo: late@t\r\n\r\n");
    CHECK(f.len < INDEX_FIELDS_HEADER_MAX);
    CHECK(extract_quickly(f.buf, f.len, &rec) == 0);
    CHECK(rec.hdr_to.n == INDEX_FIELDS_ADDRESSES_MAX);
    check_addr(&rec.hdr_to, 0, NULL, "0@t");
    snprintf(tok, sizeof(tok), "%x@t", INDEX_FIELDS_ADDRESSES_MAX - 1);
    check_addr(&rec.hdr_to, INDEX_FIELDS_ADDRESSES_MAX - 1, NULL, tok);
    record_free(&rec);

    /* 100 000 unquoted commas in one display name ("Doe, John <j@x>" as
     * GMime accepts it) and without the angle address: each comma must not
     * look ahead to the end again */
    for (int angle = 0; angle < 2; angle++) {
        f.len = f.line = 0;
        fold_add(&f, "To: ");
        for (int i = 0; i < 100000; i++)
            fold_add(&f, "a, ");
        fold_add(&f, angle ? "z <z@t>\r\n\r\n" : "z\r\n\r\n");
        CHECK(extract_quickly(f.buf, f.len, &rec) == 0);
        if (angle) {
            CHECK(rec.hdr_to.n == 1 && rec.hdr_to.v[0].name != NULL &&
                  strcmp(rec.hdr_to.v[0].address, "z@t") == 0 &&
                  strncmp(rec.hdr_to.v[0].name, "a, a, a,", 8) == 0);
        } else {
            CHECK(rec.hdr_to.n == INDEX_FIELDS_ADDRESSES_MAX);
            check_addr(&rec.hdr_to, 0, NULL, "a");
        }
        record_free(&rec);
    }

    /* 50 000 nested comments in From:, closed and unclosed, and 100 000
     * unclosed quotes */
    for (int shape = 0; shape < 3; shape++) {
        f.len = f.line = 0;
        fold_add(&f, shape == 2 ? "From: x <a@b.test> " : "From: ");
        for (int i = 0; i < (shape == 2 ? 100000 : 50000); i++)
            fold_add(&f, shape == 2 ? "\"" : "(");
        if (shape == 0)
            for (int i = 0; i < 50000; i++)
                fold_add(&f, ")");
        if (shape != 2)
            fold_add(&f, " <a@b.test>");
        fold_add(&f, "\r\nTo: c@d.test\r\n\r\n");
        CHECK(extract_quickly(f.buf, f.len, &rec) == 0);
        if (shape == 0)
            check_addr(&rec.hdr_from, 0, NULL, "a@b.test");
        else if (shape == 2)
            check_addr(&rec.hdr_from, 0, "x", "a@b.test");
        else
            CHECK(rec.hdr_from.n == 0); /* the address is inside the comment */
        check_addr(&rec.hdr_to, 0, NULL, "c@d.test");
        record_free(&rec);
    }

    /* shapes a random sweep found quadratic (15 s for 300 kB): an
     * obs-route without its ":", an unclosed comment after "@", escaped
     * quotes that never close */
    {
        static const char *const units[] = {"@,<", " q@(?,", "\"\\\",", "a (b,", "<@a,"};
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            f.len = f.line = 0;
            fold_add(&f, "To: ok@x.test, ");
            for (int i = 0; i < 150000; i++)
                fold_add(&f, units[u]);
            fold_add(&f, "\r\n\r\n");
            CHECK(extract_quickly(f.buf, f.len, &rec) == 0);
            check_addr(&rec.hdr_to, 0, NULL, "ok@x.test");
            record_free(&rec);
        }
    }
    free(f.buf);
}

/* What GMime's address parser gave for the loose forms of real mail, kept. */
static void test_address_forms(void)
{
    static const struct index_case cases[] = {
        {LIT("To: Doe, John <j@x.test>, <@r1.test,@r2.test:route@c.test>,\r\n"
             "  u@c.test (Comment (nested) Name), u2 (x) @ c . test,\r\n"
             "  user@d.test <user@d.test>, \"Unclosed <q@x.test>\r\n"
             "Cc: <<extra@x.test>>, missing@x.test>, Name <open@x.test,\r\n"
             "  John Smith, alice, a@[192.0.2.1], dot@x.test., Dr. J. Doe <j@d.test>,\r\n"
             "  \"a\\\"b\" <esc@x.test>, =?UTF-8?Q?J=C3=B6rg?= <jo@x.test>,\r\n"
             "  x@xn--bcher-kva.example, y@xn--bcher-k888888d\r\n\r\n"),
         .counted = 1, .n_to = 6,
         .to = {{"Doe, John", "j@x.test"},
                {NULL, "route@c.test"},
                {"Comment (nested) Name", "u@c.test"},
                {NULL, "u2@c.test"},
                {"user@d.test", "user@d.test"},
                {"Unclosed", "q@x.test"}},
         .n_cc = 11,
         .cc = {{NULL, "extra@x.test"},
                {NULL, "missing@x.test"},
                {"Name", "open@x.test"},
                /* "John Smith" is words, not an address; "alice" has no domain */
                {NULL, "alice"},
                {NULL, "a@[192.0.2.1]"},
                {NULL, "dot@x.test"},
                {"Dr. J. Doe", "j@d.test"},
                {"a\"b", "esc@x.test"},
                {"J\xc3\xb6rg", "jo@x.test"},
                {NULL, "x@b\xc3\xbc"
                       "cher.example"},
                /* bad Punycode (GLib decodes it beyond U+10FFFF) stays as written */
                {NULL, "y@xn--bcher-k888888d"}}},
        /* bytes that are not UTF-8: a Latin-1 name is converted, an address
         * is dropped rather than indexed wrong */
        {LIT("From: Caf\xe9 <cafe@x.test>, b\xff@x.test\r\n\r\n"), .counted = 1, .n_from = 1,
         .from = {{"Caf\xc3\xa9", "cafe@x.test"}}},
    };

    check_headers(cases);
}

INDEX_TEST_MAIN("test_index_address", test_addresses, test_hostile_addresses, test_address_forms)
