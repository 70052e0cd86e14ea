/*
 * NAME
 *	fuzz_envelope 1
 * SUMMARY
 *	libFuzzer target: envelope paths, parameters, recipient decoding and
 *	header mailboxes (mail/envelope.h)
 * DESCRIPTION
 *	The input up to its first NUL is the text after "MAIL FROM:" or
 *	"RCPT TO:"; the text between the first and a second NUL, when there
 *	is one, is the recipient_encoding_prefix ("archive+" otherwise).
 *
 *	Checked for every input, because envelope.c is the gate between the
 *	client and headers, paths and SQL:
 *	  - a parsed address has no control character (CR, LF, NUL, ...), is a
 *	    part of the argument, at most ENVELOPE_ADDR_MAX bytes; the parameters pointer
 *	    lies inside the argument;
 *	  - parsed parameters are KEYWORD or KEYWORD=value with an upper-case
 *	    esmtp-keyword, a non-empty value, no control character, and
 *	    envelope_param() finds each;
 *	  - envelope_header_mailbox() of anything starts with '<', ends with
 *	    '>', has no control character; of a parsed address it is itself a
 *	    path that envelope_parse_path() accepts;
 *	  - envelope_decode_recipient() of anything has no control character
 *	    and re-parses with envelope_parse_path("<result>").
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr.
 */
#include "tests/fuzz/fuzz.h"

#include <ctype.h>

#include "common/strlist.h"
#include "mail/envelope.h"

#define ADDR_MAX ENVELOPE_ADDR_MAX

static int has_ctl(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

static void check_mailbox(const char *addr, int must_parse)
{
    char *mb = envelope_header_mailbox(addr);
    size_t len = strlen(mb);

    FUZZ_CHECK(len >= 2 && mb[0] == '<' && mb[len - 1] == '>');
    FUZZ_CHECK(!has_ctl(mb));
    if (addr[0] == '\0')
        FUZZ_CHECK(strcmp(mb, "<MAILER-DAEMON>") == 0);
    if (must_parse && addr[0] != '\0' && len - 2 <= ADDR_MAX) {
        char *again = NULL;
        const char *params, *error;
        int r = envelope_parse_path(mb, &again, &params, &error);
        if (r < 0)
            fprintf(stderr, "header mailbox %s of <%s> does not parse: %s\n", mb, addr, error);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(*params == '\0');
        FUZZ_CHECK(strlen(again) == len - 2 && memcmp(again, mb + 1, len - 2) == 0);
        free(again);
    }
    free(mb);
}

static void check_decoded(const char *addr, const char *prefix)
{
    char *dec = envelope_decode_recipient(addr, prefix);
    char *path, *again = NULL;
    const char *params, *error;

    if (dec == NULL)
        return;
    FUZZ_CHECK(!has_ctl(dec));
    FUZZ_CHECK(dec[0] != '\0');
    check_mailbox(dec, 1);
    /* Quoting may double a local part: beyond the path limit a re-parse
     * rightly says "too long", which is not what this checks. */
    if (strlen(dec) <= ADDR_MAX) {
        path = xasprintf("<%s>", dec);
        int r = envelope_parse_path(path, &again, &params, &error);
        if (r < 0)
            fprintf(stderr, "decoded %s of %s does not parse: %s\n", path, addr, error);
        FUZZ_CHECK(r == 0);
        FUZZ_CHECK(strcmp(again, dec) == 0);
        free(again);
        free(path);
    }
    free(dec);
}

static void check_params(const char *params)
{
    struct strlist list = STRLIST_INIT;
    const char *error;

    if (envelope_parse_params(params, &list, &error) == 0) {
        for (size_t i = 0; i < list.n; i++) {
            const char *e = list.v[i];
            size_t klen = strcspn(e, "=");
            FUZZ_CHECK(klen > 0);
            FUZZ_CHECK(!has_ctl(e));
            FUZZ_CHECK(strchr(e, ' ') == NULL);
            for (size_t k = 0; k < klen; k++)
                FUZZ_CHECK(isdigit((unsigned char)e[k]) || isupper((unsigned char)e[k]) ||
                           (e[k] == '-' && k > 0));
            if (e[klen] == '=')
                FUZZ_CHECK(e[klen + 1] != '\0');
            char *key = xstrndup(e, klen);
            FUZZ_CHECK(envelope_param(&list, key) != NULL);
            free(key);
        }
    }
    strlist_free(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *arg = xmalloc(size + 1);
    const char *prefix = "archive+";
    const char *params, *error;
    char *addr = NULL;
    size_t arglen;

    memcpy(arg, data, size);
    arg[size] = '\0';
    arglen = strlen(arg);
    if (arglen + 1 < size)
        prefix = arg + arglen + 1; /* up to the next NUL or the end */

    if (envelope_parse_path(arg, &addr, &params, &error) == 0) {
        FUZZ_CHECK(addr != NULL);
        FUZZ_CHECK(!has_ctl(addr));
        FUZZ_CHECK(strlen(addr) <= ADDR_MAX);
        FUZZ_CHECK(strstr(arg, addr) != NULL);
        FUZZ_CHECK(params >= arg && params <= arg + arglen);
        FUZZ_CHECK(*params != ' ');
        check_params(params);
        check_mailbox(addr, 1);
        check_decoded(addr, prefix);
        check_decoded(addr, "archive+");
        free(addr);
    } else {
        FUZZ_CHECK(addr == NULL);
        FUZZ_CHECK(error != NULL && error[0] != '\0');
    }
    /* Whatever a careless caller passes must still be header-safe. */
    check_params(arg);
    check_mailbox(arg, 0);
    check_decoded(arg, prefix);
    free(arg);
    return 0;
}
