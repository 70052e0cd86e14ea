/*
 * NAME
 *	index_words 3
 * SUMMARY
 *	header text for the catalog: unfolding, comments, RFC 2047 words,
 *	8-bit text to UTF-8
 * SYNOPSIS
 *	#include "mail/index_fields_private.h"
 *
 *	char *value = index_words_unfold(raw);
 *	char *subject = index_words_decode(value, 0);
 *	p = index_words_skip_cfws(p, &comment, &comment_len);
 * DESCRIPTION
 *	The lexical pieces every header parser of index_fields.c shares.
 *	index_words_skip_comment() and index_words_skip_cfws() step over
 *	comments (nesting counted, never recursive; an unclosed one runs to
 *	the end of the value) and blanks. index_words_decode() turns RFC 2047
 *	encoded words and raw 8-bit text into UTF-8 with GMime; the catalog
 *	gets valid UTF-8 whatever a message claims (index_words_utf8_dup).
 *
 *	Bounds: every function is one pass over its input, O(n); see
 *	index_words_decode() for how GMime's tokenizer is kept linear.
 * DIAGNOSTICS
 *	None: message content never makes these fail.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "common/strlist.h"
#include "mail/index_fields_private.h"

/* GMime's converters fall back to Latin-1 for undeclared 8-bit text, but a
 * catalog column must be valid UTF-8 whatever an encoded-word claimed. */
char *index_words_utf8_dup(const char *s)
{
    char *valid, *out;

    if (g_utf8_validate(s, -1, NULL))
        return xstrdup(s);
    valid = g_utf8_make_valid(s, -1);
    out = xstrdup(valid);
    g_free(valid);
    return out;
}

/* Unfolded copy of a raw value, for the decoders. */
char *index_words_unfold(const char *raw)
{
    char *u = g_mime_utils_header_unfold(raw);
    char *out = xstrdup(u != NULL ? u : "");

    g_free(u);
    return out;
}

/* Text without encoded words: UTF-8 as it is, else GMime's 8-bit guess
 * (its user charsets, then Latin-1), as its decoders do for such runs. */
char *index_words_decode_plain(const char *s, size_t n)
{
    char *g, *out;

    if (g_utf8_validate(s, (gssize)n, NULL))
        return xstrndup(s, n);
    g = g_mime_utils_decode_8bit(NULL, s, n);
    out = xstrdup(g != NULL ? g : "");
    g_free(g);
    return out;
}

/*
 * RFC 2047 words of s decoded to UTF-8; phrase: s is a display name
 * (RFC 2047 5.3), else unstructured text (5.1).
 *
 * GMime's tokenizer looks for the "?=" of every "=?charset?q?" it meets
 * until the end of the value, and starts over after the "=?" when there
 * is none: n unclosed openers cost n times the rest of the value
 * (measured: 11 s for 320 kB of "=?x?q?a "). No encoded word can start
 * after the last "?=", so GMime gets the text up to it, where every
 * search ends at the nearest "?=" and consumes the text it crossed; the
 * rest is plain text. Linear, not recursive.
 */
char *index_words_decode(const char *s, int phrase)
{
    size_t n = strlen(s);
    const char *last = NULL, *tail;
    char *head, *dec, *rest, *out;

    for (size_t i = n; i >= 2 && last == NULL; i--)
        if (s[i - 2] == '?' && s[i - 1] == '=')
            last = s + i - 2;
    if (last == NULL || strstr(s, "=?") == NULL)
        return index_words_decode_plain(s, n);
    tail = last + 2;
    head = xstrndup(s, (size_t)(tail - s));
    dec = phrase ? g_mime_utils_header_decode_phrase(NULL, head)
                 : g_mime_utils_header_decode_text(NULL, head);
    rest = index_words_decode_plain(tail, strlen(tail));
    out = xasprintf("%s%s", dec != NULL ? dec : head, rest);
    g_free(dec);
    free(head);
    free(rest);
    return out;
}

/* Past the comment at p ("("), nesting counted; an unclosed one runs to
 * the end of the value. *content_len_r: its text without the parentheses. */
const char *index_words_skip_comment(const char *p, size_t *content_len_r)
{
    const char *start = p;
    size_t depth = 0;

    for (; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')' && --depth == 0) {
            *content_len_r = (size_t)(p - start) - 1;
            return p + 1;
        }
    }
    *content_len_r = (size_t)(p - start) - 1;
    return p;
}

/* Past blanks and comments; the first comment's text in *comment_r. */
const char *index_words_skip_cfws(const char *p, const char **comment_r, size_t *comment_len_r)
{
    for (;;) {
        size_t n;
        const char *c;

        while (index_words_blank(*p))
            p++;
        if (*p != '(')
            return p;
        c = p + 1;
        p = index_words_skip_comment(p, &n);
        if (comment_r != NULL && *comment_r == NULL) {
            *comment_r = c;
            *comment_len_r = n;
        }
    }
}

const char *index_words_cfws(const char *p)
{
    return index_words_skip_cfws(p, NULL, NULL);
}
