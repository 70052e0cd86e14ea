/*
 * NAME
 *	test_fold - the one word form both catalogs index (common/fold.c)
 * DESCRIPTION
 *	Case and diacritic folding (French, German, Scandinavian, Turkish
 *	dotted I, ligatures, full-width forms), CJK bigrams inside sentences
 *	and next to Latin words, separators (punctuation, symbols, invalid
 *	UTF-8, NUL), long words left out, the word count, and that the
 *	output is NUL-terminated even when empty.
 */
#include <string.h>

#include "common/fold.h"
#include "tests/unit/check.h"

static void check_fold(const char *in, size_t len, const char *want, size_t want_words)
{
    struct buf b = BUF_INIT;
    size_t n = fold_words(in, len, &b);

    CHECK(b.data != NULL);
    if (b.data != NULL)
        CHECK_STR(b.data, want);
    CHECK(n == want_words);
    buf_free(&b);
}

int main(void)
{
    check_fold("Hello, World!", (size_t)-1, "hello world", 2);
    check_fold("RÉUNION réunion Réunion", (size_t)-1, "reunion reunion reunion", 3);
    check_fold("Straße STRASSE", (size_t)-1, "strasse strasse", 2);
    check_fold("Ærøskøbing Åse Zoë Müller José Álvarez", (size_t)-1,
               "ærøskøbing ase zoe muller jose alvarez", 6);
    check_fold("ﬁnance ＡＢＣ１２３", (size_t)-1, "finance abc123", 2);
    /* e + COMBINING ACUTE is the same word as é */
    check_fold("re\xcc\x81union", (size_t)-1, "reunion", 1);
    /* an invoice number is three words; a query folds the same */
    check_fold("Invoice INV-2026-004711.", (size_t)-1, "invoice inv 2026 004711", 4);
    /* addresses split into their parts */
    check_fold("Alice <Alice.Liddell@Example.COM>", (size_t)-1, "alice alice liddell example com",
               5);
    /* CJK: overlapping bigrams, a lone character stays, Latin next to it splits */
    check_fold("東京都に住む", (size_t)-1, "東京 京都 都に に住 住む", 5);
    check_fold("会議 A 会", (size_t)-1, "会議 a 会", 3);
    check_fold("abc東京def", (size_t)-1, "abc 東京 def", 3);
    check_fold("ｶﾀｶﾅ", (size_t)-1, "カタ タカ カナ", 3);
    /* separators: symbols, invalid UTF-8, an embedded NUL (with a length) */
    check_fold("a\xff"
               "b\xc3"
               "c",
               (size_t)-1, "a b c", 3);
    check_fold("one\0two", 7, "one two", 2);
    check_fold("50% off — €100", (size_t)-1, "50 off 100", 3);
    check_fold("½", (size_t)-1, "1 2", 2);
    /* nothing to index */
    check_fold("", (size_t)-1, "", 0);
    check_fold(" ,.;-- !", (size_t)-1, "", 0);
    /* a word over FOLD_WORD_MAX bytes is left out, its neighbours kept */
    {
        char in[200];
        memset(in, 'x', sizeof(in));
        memcpy(in, "ok ", 3);
        memcpy(in + sizeof(in) - 4, " ok", 4);
        check_fold(in, (size_t)-1, "ok ok", 2);
    }
    /* appends with one space */
    {
        struct buf b = BUF_INIT;
        fold_words("First", (size_t)-1, &b);
        fold_words("", (size_t)-1, &b);
        fold_words("SECOND", (size_t)-1, &b);
        CHECK_STR(b.data, "first second");
        buf_free(&b);
    }
    return check_done();
}
