/*
 * NAME
 *	test_common_syntax 1
 * SUMMARY
 *	unit tests for host_port, smtp_reply and mac_expand: the one parser
 *	of each syntax that several processes read
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/host_port.h"
#include "common/mac_expand.h"
#include "common/smtp_reply.h"

static void check_split(const char *spec, const char *def, const char *host, const char *port,
                        int bracketed)
{
    struct host_port hp;
    const char *error = NULL;

    CHECK(host_port_split(spec, def, &hp, &error) == 0);
    CHECK_STR(hp.host, host);
    if (port == NULL)
        CHECK(hp.port == NULL);
    else
        CHECK_STR(hp.port, port);
    CHECK(hp.bracketed == bracketed);
    host_port_free(&hp);
}

static void test_host_port(void)
{
    struct host_port hp;
    const char *error = NULL;

    check_split("[192.0.2.1]:587", "25", "192.0.2.1", "587", 1);
    check_split("[::1]", "25", "::1", "25", 1);
    check_split("[::1]:", "25", "::1", "", 1);
    check_split("[mx.example]", NULL, "mx.example", NULL, 1);
    check_split("mx.example:2525", "25", "mx.example", "2525", 0);
    check_split("example.com", "25", "example.com", "25", 0);
    check_split("example.com", NULL, "example.com", NULL, 0);
    check_split("example.com:", "25", "example.com", "", 0);
    check_split("::1:24", NULL, "::1", "24", 0); /* the last ":" splits */
    check_split(":2424", NULL, "", "2424", 0);
    check_split("[]:24", NULL, "", "24", 1);

    CHECK(host_port_split("[::1", "25", &hp, &error) < 0);
    CHECK_STR(error, "missing \"]\"");
    host_port_free(&hp);
    CHECK(host_port_split("[::1]x:25", "25", &hp, &error) < 0);
    CHECK_STR(error, "garbage after \"]\"");
    host_port_free(&hp);

    CHECK(host_port_number("25") == 25);
    CHECK(host_port_number("65535") == 65535);
    CHECK(host_port_number("65536") == -1);
    CHECK(host_port_number("0") == -1);
    CHECK(host_port_number("25x") == -1);
    CHECK(host_port_number("smtp") == -1);
    CHECK(host_port_number("") == -1);
    CHECK(host_port_number(NULL) == -1);
}

static void test_smtp_reply(void)
{
    struct smtp_reply_line r;

    CHECK(smtp_reply_line_parse("250-PIPELINING", 14, &r) == 0);
    CHECK(r.code == 250 && !r.last && r.text_len == 10 && memcmp(r.text, "PIPELINING", 10) == 0);
    CHECK(smtp_reply_line_parse("550 5.1.1 unknown user", 22, &r) == 0);
    CHECK(r.code == 550 && r.last && r.text_len == 18);
    CHECK(smtp_reply_line_parse("220", 3, &r) == 0);
    CHECK(r.code == 220 && r.last && r.text_len == 0 && strcmp(r.text, "") == 0);
    CHECK(smtp_reply_line_parse("250 ", 4, &r) == 0);
    CHECK(r.last && r.text_len == 0);
    /* the class is the client's to judge */
    CHECK(smtp_reply_line_parse("099 odd", 7, &r) == 0 && r.code == 99);
    /* only len bytes count */
    CHECK(smtp_reply_line_parse("250-more", 3, &r) == 0 && r.last);

    CHECK(smtp_reply_line_parse("25", 2, &r) < 0);
    CHECK(smtp_reply_line_parse("250x", 4, &r) < 0);
    CHECK(smtp_reply_line_parse("2a0 ok", 6, &r) < 0);
    CHECK(smtp_reply_line_parse("* OK IMAP", 9, &r) < 0);
    CHECK(smtp_reply_line_parse("", 0, &r) < 0);
}

static const char *const test_params[][2] = {
    {"data", "/var/lib/tab"},
    {"queue", "$data/spool"},
    {"both", "${queue}:$(data)"},
    {"loop", "x$loop"},
    {"empty", ""},
};

static char *test_lookup(void *ctx, const char *name, int depth, const char **error_r)
{
    const struct mac_expand *mx = ctx;

    for (size_t i = 0; i < sizeof(test_params) / sizeof(test_params[0]); i++)
        if (strcmp(test_params[i][0], name) == 0)
            return mac_expand(mx, test_params[i][1], depth, error_r);
    return NULL;
}

static void check_expand(int flags, const char *raw, const char *want, const char *error_has)
{
    struct mac_expand mx = {.flags = flags, .max_depth = 10, .lookup = test_lookup};
    const char *error = NULL;
    char *v;

    mx.ctx = &mx;
    v = mac_expand(&mx, raw, 0, &error);
    if (want != NULL) {
        CHECK_STR(v, want);
        CHECK(error == NULL);
    } else {
        CHECK(v == NULL);
        CHECK(error != NULL && strstr(error, error_has) != NULL);
        if (error == NULL || strstr(error, error_has) == NULL)
            fprintf(stderr, "  %s: got error %s\n", raw, error ? error : "(none)");
    }
    free(v);
}

static void test_mac_expand(void)
{
    const int postfix = MAC_EXPAND_PARENS | MAC_EXPAND_DOLLAR;

    check_expand(0, "plain text", "plain text", NULL);
    check_expand(0, "", "", NULL);
    check_expand(0, "$queue", "/var/lib/tab/spool", NULL);
    check_expand(0, "${queue}/x", "/var/lib/tab/spool/x", NULL);
    check_expand(0, "a${empty}b", "ab", NULL);
    check_expand(0, "$data.d", "/var/lib/tab.d", NULL);
    /* Postfix's forms only when asked for */
    check_expand(0, "$(data)", NULL, "bad parameter reference in \"$(data)\"");
    check_expand(postfix, "$(data)", "/var/lib/tab", NULL);
    check_expand(0, "5$$", NULL, "bad parameter reference");
    check_expand(postfix, "5$$", "5$", NULL);
    check_expand(postfix, "$both", "/var/lib/tab/spool:/var/lib/tab", NULL);
    check_expand(0, "$both", NULL, "bad parameter reference in \"${queue}:$(data)\"");
    /* errors */
    check_expand(0, "$nope", NULL, "unknown parameter \"$nope\" in \"$nope\"");
    check_expand(0, "${data", NULL, "bad parameter reference in \"${data\"");
    check_expand(postfix, "${data?x}", NULL, "bad parameter reference");
    check_expand(0, "cost: 5$", NULL, "bad parameter reference");
    check_expand(0, "$ x", NULL, "bad parameter reference");
    check_expand(0, "$loop", NULL, "parameter expansion too deep (a loop?) in \"x$loop\"");
}

int main(void)
{
    test_host_port();
    test_smtp_reply();
    test_mac_expand();
    return check_done();
}
