/*
 * NAME
 *	test_utf8 - the one UTF-8 validator (common/utf8.c)
 * DESCRIPTION
 *	Every kind of valid sequence, every kind of invalid one (overlong,
 *	surrogate, above U+10FFFF, stray continuation, cut short), and the
 *	maximal subpart that one U+FFFD replaces.
 */
#include "common/utf8.h"
#include "tests/unit/check.h"

struct utf8_case {
    const char *bytes;
    size_t len;  /* bytes available */
    size_t want; /* utf8_seq() */
    size_t bad;  /* *bad_r when want is 0 */
};

int main(void)
{
    static const struct utf8_case cases[] = {
        {"A", 1, 1, 0},
        {"\x7F", 1, 1, 0},
        {"\xC3\xA9", 2, 2, 0},         /* é */
        {"\xE2\x82\xAC", 3, 3, 0},     /* € */
        {"\xF0\x9F\x93\xA7", 4, 4, 0}, /* U+1F4E7 */
        {"\xF4\x8F\xBF\xBF", 4, 4, 0}, /* U+10FFFF */
        {"\xED\x9F\xBF", 3, 3, 0},     /* U+D7FF, below the surrogates */
        {"\xC0\xAF", 2, 0, 1},         /* overlong "/" */
        {"\xC1\xBF", 2, 0, 1},         /* overlong */
        {"\xE0\x80\xAF", 3, 0, 1},     /* overlong three bytes */
        {"\xF0\x8F\xBF\xBF", 4, 0, 1}, /* overlong four bytes */
        {"\xED\xA0\x80", 3, 0, 1},     /* U+D800, a surrogate */
        {"\xF4\x90\x80\x80", 4, 0, 1}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, 0, 1}, /* no such lead byte */
        {"\x80", 1, 0, 1},             /* stray continuation */
        {"\xC3", 1, 0, 1},             /* cut short */
        {"\xE2\x82", 2, 0, 2},         /* cut short after two */
        {"\xE2\x82\x41", 3, 0, 2},     /* ASCII where a continuation belongs */
        {"\xF0\x9F\x93\x41", 4, 0, 3},
        {"\xE2\x82\xAC", 2, 0, 2}, /* valid, but only two bytes available */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bad = 99;
        size_t got = utf8_seq((const unsigned char *)cases[i].bytes, cases[i].len, &bad);
        if (got != cases[i].want || (got == 0 && bad != cases[i].bad))
            fprintf(stderr, "case %zu: got %zu (bad %zu), want %zu (bad %zu)\n", i, got, bad,
                    cases[i].want, cases[i].bad);
        CHECK(got == cases[i].want);
        CHECK(got != 0 || bad == cases[i].bad);
        CHECK(utf8_seq((const unsigned char *)cases[i].bytes, cases[i].len, NULL) == got);
    }
    return check_done();
}
