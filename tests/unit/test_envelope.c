/*
 * NAME
 *	test_envelope 1
 * SUMMARY
 *	unit test of mail/envelope.c
 * DESCRIPTION
 *	Paths as Postfix and hostile clients send them, ESMTP parameters,
 *	decoding of archive+user=domain recipients, header mailboxes.
 */
#include "tests/unit/check.h"

#include "common/strlist.h"
#include "mail/envelope.h"

/* Parse arg; expect success with address want and parameters want_params. */
static void path_ok(const char *arg, const char *want, const char *want_params)
{
    char *addr = NULL;
    const char *params = NULL, *error = NULL;
    int r = envelope_parse_path(arg, &addr, &params, &error);

    CHECK(r == 0);
    if (r != 0) {
        fprintf(stderr, "  input: %s  error: %s\n", arg, error);
        return;
    }
    CHECK_STR(addr, want);
    CHECK_STR(params, want_params);
    free(addr);
}

static void path_bad(const char *arg, const char *want_error_part)
{
    char *addr = NULL;
    const char *params = NULL, *error = NULL;
    int r = envelope_parse_path(arg, &addr, &params, &error);

    CHECK(r == -1);
    CHECK(addr == NULL);
    if (r == 0) {
        fprintf(stderr, "  accepted: [%s] -> [%s]\n", arg, addr);
        free(addr);
        return;
    }
    CHECK(error != NULL && strstr(error, want_error_part) != NULL);
    if (error == NULL || strstr(error, want_error_part) == NULL)
        fprintf(stderr, "  input: [%s] error: %s\n", arg, error ? error : "(null)");
}

static void test_paths(void)
{
    path_ok("<bob@example.com>", "bob@example.com", "");
    path_ok("  <bob@example.com>  ", "bob@example.com", "");
    path_ok("<>", "", "");
    path_ok("<> SIZE=100", "", "SIZE=100");
    path_ok("<a@b.c> SIZE=123 BODY=8BITMIME", "a@b.c", "SIZE=123 BODY=8BITMIME");
    path_ok("<@relay1.example,@relay2.example:user@d.example>", "user@d.example", "");
    path_ok("<\"a b\"@x.org>", "\"a b\"@x.org", "");
    /* an escaped quote and '>' inside the quoted part do not end it */
    path_ok("<\"a\\\">b\"@x.org> NOTIFY=NEVER", "\"a\\\">b\"@x.org", "NOTIFY=NEVER");
    path_ok("<\"x@y\"@z.org>", "\"x@y\"@z.org", "");
    path_ok("<postmaster>", "postmaster", "");
    path_ok("<Postmaster>", "Postmaster", "");
    path_ok("<j\xc3\xb6rg@b\xc3\xbc\x63her.example>", "j\xc3\xb6rg@b\xc3\xbc\x63her.example", "");
    path_ok("<user@[192.0.2.1]>", "user@[192.0.2.1]", "");
    path_ok("<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]", "");
    path_ok("<archive+bob=example.com@archive.test> NOTIFY=NEVER ORCPT=rfc822;x@y",
            "archive+bob=example.com@archive.test", "NOTIFY=NEVER ORCPT=rfc822;x@y");

    path_bad("bob@example.com", "enclosed");
    path_bad("", "enclosed");
    path_bad("<bob@example.com", "missing >");
    path_bad("<bob@example.com>SIZE=1", "separated");
    path_bad("<\"a b@x.org>", "unbalanced quote");
    path_bad("<\"a\\\"@x.org>", "unbalanced quote");
    path_bad("<bob>", "no domain");
    path_bad("<bob@>", "invalid domain");
    path_bad("<@x.org>", "source route");
    path_bad("<@a,@b:>", "source route");
    path_bad("<a@b@>", "invalid domain");
    path_bad("<a b@x.org>", "invalid character");
    path_bad("<a<b@x.org>", "invalid character");
    path_bad("<a@x.org;rm>", "invalid domain");
    path_bad("<a@\"x\".org>", "invalid domain");
    path_bad("<bob@exa\rmple.com>", "control character");
    path_bad("<bob@example.com\r\nRCPT TO:<x@y>>", "control character");
    path_bad("<bo\x01"
             "b@example.com>",
             "control character");
    path_bad("<bob\x7f@example.com>", "control character");
    path_bad("<\"a\rb\"@x.org>", "control character");
    path_bad("<\"a\\\rb\"@x.org>", "control character");
    path_bad("<\"a\tb\"@x.org>", "control character");

    /* A NUL cuts the C string the session hands over: the '>' is gone. */
    {
        static const char with_nul[] = "<bob\0@example.com>";
        char buf[sizeof(with_nul)];
        memcpy(buf, with_nul, sizeof(with_nul));
        CHECK(memchr(buf, '\0', sizeof(buf) - 1) != NULL);
        path_bad(buf, "missing >");
    }
}

static void test_long_paths(void)
{
    size_t n = 5000;
    char *want = xmalloc(ENVELOPE_ADDR_MAX + 16), *arg = xmalloc(ENVELOPE_ADDR_MAX + 32);
    char *addr = NULL, *mb;
    const char *params, *error = NULL;

    /* 5,000 bytes, as Postfix relays from sendmail: accepted and kept whole
     * (it used to be a permanent 501 above 512 bytes). */
    memset(want, 'a', n - 13);
    memcpy(want + n - 13, "@example.test", 14);
    CHECK(strlen(want) == n);
    snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s> SIZE=10", want);
    CHECK(envelope_parse_path(arg, &addr, &params, &error) == 0);
    CHECK_STR(addr, want);
    CHECK_STR(params, "SIZE=10");
    free(addr);
    addr = NULL;

    /* ... and a long encoded archive recipient decodes whole. */
    {
        char *enc = xmalloc(n + 64), *dec;
        memset(want, 'b', n);
        memcpy(want + n, "@example.com", 13);
        snprintf(enc, n + 64, "archive+%.*s=example.com@archive.test", (int)n, want);
        dec = envelope_decode_recipient(enc, "archive+");
        CHECK(dec != NULL);
        if (dec != NULL)
            CHECK_STR(dec, want);
        free(dec);
        free(enc);
    }

    /* A long quoted local part full of what needs escaping parses, and its
     * header mailbox is itself a path that parses back to the same text. */
    {
        size_t o = 0;
        want[o++] = '"';
        for (size_t i = 0; i < 2000; i++) {
            want[o++] = '\\';
            want[o++] = i % 2 ? '"' : 'x';
            want[o++] = ' ';
        }
        memcpy(want + o, "\"@example.test", 15);
        snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s>", want);
        CHECK(envelope_parse_path(arg, &addr, &params, &error) == 0);
        CHECK_STR(addr, want);
        mb = envelope_header_mailbox(addr);
        free(addr);
        addr = NULL;
        CHECK(envelope_parse_path(mb, &addr, &params, &error) == 0);
        CHECK_STR(addr, want);
        free(addr);
        addr = NULL;
        free(mb);
    }

    /* Length never relaxes the other checks: a control character or a
     * line break at the end of 5,000 bytes is still refused. */
    memset(want, 'a', n - 13);
    memcpy(want + n - 13, "@example.tes\r", 14);
    snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s>", want);
    CHECK(envelope_parse_path(arg, &addr, &params, &error) == -1);
    CHECK(addr == NULL && strstr(error, "control character") != NULL);
    memcpy(want + n - 13, "@example.test", 14);
    snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s\r\nRCPT TO:<x@y>>", want);
    CHECK(envelope_parse_path(arg, &addr, &params, &error) == -1);
    CHECK(addr == NULL && strstr(error, "control character") != NULL);

    /* The parser's own bound, above any line limit the configuration
     * allows: exactly ENVELOPE_ADDR_MAX is accepted, one more is not. */
    memset(want, 'a', ENVELOPE_ADDR_MAX - 6);
    memcpy(want + ENVELOPE_ADDR_MAX - 6, "@x.org", 7);
    snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s>", want);
    CHECK(envelope_parse_path(arg, &addr, &params, &error) == 0);
    CHECK(addr != NULL && strlen(addr) == ENVELOPE_ADDR_MAX);
    free(addr);
    addr = NULL;
    memset(want, 'a', ENVELOPE_ADDR_MAX - 5);
    memcpy(want + ENVELOPE_ADDR_MAX - 5, "@x.org", 7);
    snprintf(arg, ENVELOPE_ADDR_MAX + 32, "<%s>", want);
    CHECK(envelope_parse_path(arg, &addr, &params, &error) == -1);
    CHECK(addr == NULL && strstr(error, "too long") != NULL);
    free(want);
    free(arg);
}

static void test_params(void)
{
    struct strlist l = STRLIST_INIT;
    const char *error = NULL;

    CHECK(envelope_parse_params("SIZE=123 body=8BITMIME SMTPUTF8 NOTIFY=NEVER ORCPT=rfc822;x@y", &l,
                                &error) == 0);
    CHECK(l.n == 5);
    if (l.n == 5) {
        CHECK_STR(l.v[0], "SIZE=123");
        CHECK_STR(l.v[1], "BODY=8BITMIME");
        CHECK_STR(l.v[2], "SMTPUTF8");
        CHECK_STR(l.v[3], "NOTIFY=NEVER");
        CHECK_STR(l.v[4], "ORCPT=rfc822;x@y");
    }
    CHECK_STR(envelope_param(&l, "SIZE"), "123");
    CHECK_STR(envelope_param(&l, "size"), "123");
    CHECK_STR(envelope_param(&l, "SMTPUTF8"), "");
    CHECK_STR(envelope_param(&l, "ORCPT"), "rfc822;x@y");
    CHECK(envelope_param(&l, "ENVID") == NULL);
    CHECK(envelope_param(&l, "SIZ") == NULL);
    CHECK(envelope_param(&l, "NOTIFY=NEVER") == NULL);
    strlist_free(&l);

    /* value case kept, keyword upper-cased, runs of spaces ignored */
    CHECK(envelope_parse_params("  envid=AbC+2Bx   ret=hdrs ", &l, &error) == 0);
    CHECK(l.n == 2);
    if (l.n == 2) {
        CHECK_STR(l.v[0], "ENVID=AbC+2Bx");
        CHECK_STR(l.v[1], "RET=hdrs");
    }
    strlist_free(&l);

    CHECK(envelope_parse_params("", &l, &error) == 0);
    CHECK(l.n == 0);

    CHECK(envelope_parse_params("SIZE=1 =x", &l, &error) == -1);
    CHECK(error != NULL && strstr(error, "keyword") != NULL);
    strlist_free(&l);
    CHECK(envelope_parse_params("SIZE=", &l, &error) == -1);
    strlist_free(&l);
    CHECK(envelope_parse_params("SI_ZE=1", &l, &error) == -1);
    strlist_free(&l);
    CHECK(envelope_parse_params("-X=1", &l, &error) == -1);
    strlist_free(&l);
    CHECK(envelope_parse_params("X-FOO=1", &l, &error) == 0);
    CHECK_STR(envelope_param(&l, "x-foo"), "1");
    strlist_free(&l);
    CHECK(envelope_parse_params("SIZE=1\r\nRSET", &l, &error) == -1);
    CHECK(error != NULL && strstr(error, "control") != NULL);
    strlist_free(&l);
    CHECK(envelope_parse_params("SIZE=1\tBODY=7BIT", &l, &error) == -1);
    strlist_free(&l);
}

static void decode_is(const char *addr, const char *prefix, const char *want)
{
    char *got = envelope_decode_recipient(addr, prefix);

    if (want == NULL) {
        CHECK(got == NULL);
        if (got != NULL)
            fprintf(stderr, "  %s decoded to %s, expected NULL\n", addr, got);
    } else {
        CHECK_STR(got, want);
    }
    free(got);
}

/* An address and what it decodes to. */
struct decoded {
    const char *addr, *want;
};

static void test_decode(void)
{
    static const struct decoded good[] = {
        {"archive+bob=example.com@archive.test", "bob@example.com"},
        {"archive+john=doe=example.com@archive.test", "john=doe@example.com"},
        {"Archive+Bob=Example.COM@archive.test", "Bob@Example.COM"},
        {"ARCHIVE+bob=example.com@archive.test", "bob@example.com"},
        {"archive+first.last=sub.example.org@a.test", "first.last@sub.example.org"},
        {"\"archive+a b=x.org\"@archive.test", "\"a b\"@x.org"},
        {"\"archive+a,b=x.org\"@archive.test", "\"a,b\"@x.org"},
        {"\"archive+a\\\"b=x.org\"@archive.test", "\"a\\\"b\"@x.org"},
        {"\"archive+a\\\\b=x.org\"@archive.test", "\"a\\\\b\"@x.org"},
        {"\"archive+a(b=x.org\"@archive.test", "\"a(b\"@x.org"},
        {"\"archive+.a=x.org\"@archive.test", "\".a\"@x.org"},
        {"\"archive+a..b=x.org\"@archive.test", "\"a..b\"@x.org"},
        /* quoted but needing no quotes once decoded: plain dot-atom */
        {"\"archive+bob=x.org\"@archive.test", "bob@x.org"},
        {"archive+j\xc3\xb6rg=b\xc3\xbc\x63her.example@a.test",
         "j\xc3\xb6rg@b\xc3\xbc\x63her.example"},
        {"archive+bob=[192.0.2.1]@a.test", "bob@[192.0.2.1]"},
    };
    /* not an address of the form prefix+local=domain@... */
    static const char *const bad[] = {
        "bob@example.com",
        "archive+bob@archive.test",
        "archive+=example.com@archive.test",
        "archive+bob=@archive.test",
        "archivebob=example.com@archive.test",
        "xarchive+bob=example.com@archive.test",
        "",
        "archive+",
        "\"archive+a=x y.org\"@archive.test",
        "\"archive+a=x\\\"y.org\"@archive.test",
        "postmaster",
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        decode_is(good[i].addr, "archive+", good[i].want);
    decode_is("arch+bob=example.com@archive.test", "arch+", "bob@example.com");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        decode_is(bad[i], "archive+", NULL);
}

static void mailbox_is(const char *addr, const char *want)
{
    char *got = envelope_header_mailbox(addr);

    CHECK_STR(got, want);
    free(got);
}

static void test_header_mailbox(void)
{
    mailbox_is("", "<MAILER-DAEMON>");
    mailbox_is("bob@example.com", "<bob@example.com>");
    mailbox_is("first.last+tag@example.com", "<first.last+tag@example.com>");
    mailbox_is("\"a b\"@x.org", "<\"a b\"@x.org>");
    mailbox_is("a b@x.org", "<\"a b\"@x.org>");
    mailbox_is("doe,john@x.org", "<\"doe,john\"@x.org>");
    mailbox_is("a\"b\"@x.org", "<\"a\\\"b\\\"\"@x.org>");
    /* an unbalanced quote hides the '@': the whole text becomes the local part */
    mailbox_is("a\"b@x.org", "<\"a\\\"b@x.org\">");
    mailbox_is("a\\b@x.org", "<\"a\\\\b\"@x.org>");
    mailbox_is("a>b@x.org", "<\"a>b\"@x.org>");
    mailbox_is("a<b@x.org", "<\"a<b\"@x.org>");
    mailbox_is("a.@x.org", "<\"a.\"@x.org>");
    mailbox_is("postmaster", "<postmaster>");
    mailbox_is("j\xc3\xb6rg@example.de", "<j\xc3\xb6rg@example.de>");
    /* a quoted local part that is already fine stays as sent */
    mailbox_is("\"a\\\"b\"@x.org", "<\"a\\\"b\"@x.org>");
    /* garbage a caller should never pass: quoted whole, nothing escapes */
    mailbox_is("a@x.org>\r\nBcc: <evil@x", "<\"a@x.org>??Bcc: <evil\"@x>");
    mailbox_is("a@b>c", "<\"a@b>c\">");
    mailbox_is("a\r\nX: y@x.org", "<\"a??X: y\"@x.org>");
}

int main(void)
{
    test_paths();
    test_long_paths();
    test_params();
    test_decode();
    test_header_mailbox();
    return check_done();
}
