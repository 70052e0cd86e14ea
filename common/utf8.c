/*
 * NAME
 *	utf8 3
 * SUMMARY
 *	the one UTF-8 validator
 * DESCRIPTION
 *	See common/utf8.h. Reads at most len bytes; never fails otherwise.
 */
#include "common/utf8.h"

size_t utf8_seq(const unsigned char *s, size_t len, size_t *bad_r)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i, bad_unused;

    if (bad_r == NULL)
        bad_r = &bad_unused;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *bad_r = 1;
        return 0;
    }
    for (i = 1; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *bad_r = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}
