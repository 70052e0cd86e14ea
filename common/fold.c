/*
 * NAME
 *	fold 3
 * SUMMARY
 *	the index form of text: folded words, CJK bigrams
 * SYNOPSIS
 *	#include "common/fold.h"
 * DESCRIPTION
 *	Implements fold.h with GNU libunistring (u8_casefold with NFKD, the
 *	general categories): the Unicode tables come from Debian's library,
 *	not from this project. The input is scanned once; each raw word is
 *	folded on its own and the folded form scanned again, because
 *	decomposition can turn one character into a separator.
 * DIAGNOSTICS
 *	A word libunistring cannot fold (it reports an error only for
 *	allocation failure or invalid input, which the scan never hands it)
 *	is left out. Allocation failure aborts.
 */
#include "common/fold.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* The scripts written without spaces between words. */
static int fold_is_cjk(ucs4_t c)
{
    return (c >= 0x3040 && c <= 0x30FF) || /* Hiragana, Katakana */
           (c >= 0x31F0 && c <= 0x31FF) || /* Katakana phonetic extensions */
           (c >= 0x3400 && c <= 0x4DBF) || /* CJK extension A */
           (c >= 0x4E00 && c <= 0x9FFF) || /* CJK unified ideographs */
           (c >= 0xF900 && c <= 0xFAFF) || /* CJK compatibility ideographs */
           (c >= 0xAC00 && c <= 0xD7AF) || /* Hangul syllables */
           (c >= 0x1100 && c <= 0x11FF) || /* Hangul jamo */
           (c >= 0x20000 && c <= 0x3FFFF); /* CJK extensions B and later */
}

static int fold_is_word_char(ucs4_t c)
{
    return uc_is_general_category(c, UC_CATEGORY_L) || uc_is_general_category(c, UC_CATEGORY_N) ||
           uc_is_general_category(c, UC_CATEGORY_M);
}

struct fold_out {
    struct buf *out;
    size_t words;
};

static void fold_emit(struct fold_out *o, const uint8_t *w, size_t n)
{
    if (n == 0 || n > FOLD_WORD_MAX)
        return;
    if (o->out->len > 0)
        buf_add(o->out, " ", 1);
    buf_add(o->out, w, n);
    o->words++;
}

/* The bigrams of a run of CJK characters (starts[i]: byte offset of the
 * i-th of n, starts[n] the end). */
static void fold_emit_cjk(struct fold_out *o, const uint8_t *run, const size_t *starts, size_t n)
{
    if (n == 1) {
        fold_emit(o, run, starts[1]);
        return;
    }
    for (size_t i = 0; i + 1 < n; i++)
        fold_emit(o, run + starts[i], starts[i + 2] - starts[i]);
}

/* Scan folded text f (n bytes, valid UTF-8): letters and digits make
 * words, marks are dropped, CJK runs become bigrams, anything else
 * separates. */
static void fold_scan_folded(struct fold_out *o, const uint8_t *f, size_t n)
{
    uint8_t word_small[256];
    size_t starts_small[257];
    int small = n < sizeof(word_small);
    uint8_t *word = small ? word_small : malloc(n + 1);
    size_t *starts = small ? starts_small : malloc((n + 1) * sizeof(*starts));
    size_t wlen = 0, ncjk = 0, cjk_from = 0;
    const uint8_t *p = f, *end = f + n;

    if (word == NULL || starts == NULL)
        abort();
    while (p < end) {
        ucs4_t c;
        int len = u8_mbtouc(&c, p, (size_t)(end - p));
        int cjk = fold_is_cjk(c);

        if (ncjk > 0 && !cjk) { /* the CJK run ends */
            starts[ncjk] = wlen - cjk_from;
            fold_emit_cjk(o, word + cjk_from, starts, ncjk);
            wlen = cjk_from;
            ncjk = 0;
        }
        if (cjk) {
            if (ncjk == 0) { /* letters before it are a word of their own */
                fold_emit(o, word, wlen);
                wlen = cjk_from = 0;
            }
            starts[ncjk++] = wlen - cjk_from;
            memcpy(word + wlen, p, (size_t)len);
            wlen += (size_t)len;
        } else if (uc_is_general_category(c, UC_CATEGORY_M)) {
            /* a mark: dropped ("e" + U+0301 -> "e") */
        } else if (fold_is_word_char(c)) {
            memcpy(word + wlen, p, (size_t)len);
            wlen += (size_t)len;
        } else {
            fold_emit(o, word, wlen);
            wlen = 0;
        }
        p += len;
    }
    if (ncjk > 0) {
        starts[ncjk] = wlen - cjk_from;
        fold_emit_cjk(o, word + cjk_from, starts, ncjk);
    } else {
        fold_emit(o, word, wlen);
    }
    if (!small) {
        free(starts);
        free(word);
    }
}

/* Fold one raw word (valid UTF-8) and scan the result. */
static void fold_word(struct fold_out *o, const uint8_t *w, size_t n)
{
    uint8_t small[256];
    size_t flen = sizeof(small);
    uint8_t *f = u8_casefold(w, n, NULL, UNINORM_NFKD, small, &flen);

    if (f == NULL)
        return;
    fold_scan_folded(o, f, flen);
    if (f != small)
        free(f);
}

/* A word of ASCII letters and digits folds to its lower case: the same
 * answer as libunistring's, without the call (most words of most mail). */
static void fold_ascii_word(struct fold_out *o, const uint8_t *w, size_t n)
{
    uint8_t lower[FOLD_WORD_MAX];

    if (n > FOLD_WORD_MAX)
        return;
    for (size_t i = 0; i < n; i++)
        lower[i] = w[i] >= 'A' && w[i] <= 'Z' ? (uint8_t)(w[i] - 'A' + 'a') : w[i];
    fold_emit(o, lower, n);
}

static int fold_is_ascii_word_char(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

size_t fold_words(const char *s, size_t len, struct buf *out)
{
    const uint8_t *p = (const uint8_t *)s, *end, *word = NULL;
    struct fold_out o = {out, 0};
    int ascii = 1; /* the word so far is ASCII only */

    if (len == (size_t)-1)
        len = strlen(s);
    end = p + len;
    buf_reserve(out, 0); /* NUL-terminated even when nothing is added */
    out->data[out->len] = '\0';
    while (p < end) {
        ucs4_t c = *p;
        int n = 1, is_word;

        if (c < 0x80) {
            is_word = fold_is_ascii_word_char(*p);
        } else {
            n = u8_mbtouc(&c, p, (size_t)(end - p)); /* U+FFFD for a bad byte: a separator */
            is_word = fold_is_word_char(c);
        }
        if (is_word) {
            if (word == NULL) {
                word = p;
                ascii = 1;
            }
            ascii &= c < 0x80;
        } else if (word != NULL) {
            (ascii ? fold_ascii_word : fold_word)(&o, word, (size_t)(p - word));
            word = NULL;
        }
        p += n;
    }
    if (word != NULL)
        (ascii ? fold_ascii_word : fold_word)(&o, word, (size_t)(end - word));
    return o.words;
}
