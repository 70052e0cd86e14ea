/*
 * NAME
 *	index_text 3
 * SUMMARY
 *	the searchable text of a message's text parts
 * SYNOPSIS
 *	#include "mail/index_fields_private.h"
 *
 *	index_text_begin(&tx, html, charset, encoding);
 *	index_text_feed(&tx, line, len);	(each line of the part)
 *	produced = index_text_end(&tx);
 *	rec->body_text = index_text_release(&tx);
 * DESCRIPTION
 *	Owns what becomes of a text/plain or text/html part's content, fed
 *	line by line by the MIME walker (index_mime.c): transfer decoding
 *	(base64, quoted-printable, with GMime's g_mime_encoding_step),
 *	conversion to UTF-8 from the declared charset (GMime's iconv filter;
 *	undeclared 8-bit text is UTF-8 where valid, else Latin-1; anything
 *	else that is not valid UTF-8 becomes U+FFFD), HTML reduced to its
 *	text, and the collected text itself: white space and control
 *	characters collapsed into single spaces, at most
 *	INDEX_FIELDS_TEXT_MAX bytes, cut on a character boundary.
 *
 *	Bounds: everything streams, O(n). html_put is a state machine with
 *	at most two nested calls and fixed-size tag and entity buffers.
 *	The hot path (runs of printable ASCII) is copied eight bytes at a
 *	time (bench/README.md); it stays in this one file.
 * DIAGNOSTICS
 *	None: an unknown charset is logged at debug level and the text is
 *	kept where it is UTF-8.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/strlist.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

static void text_reserve(struct index_text *tx, size_t need);

/* Append one character (a valid UTF-8 sequence) to the text, collapsing
 * white space and control characters into one space. */
static void text_put(struct index_text *tx, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t need;

    if (tx->text_full)
        return;
    if ((n == 1 && (u[0] <= 0x20 || u[0] == 0x7f)) || (n == 2 && u[0] == 0xc2 && u[1] <= 0xa0)) {
        tx->space = 1; /* C0, DEL, C1 and no-break space */
        return;
    }
    tx->produced = 1;
    need = n + (tx->space && tx->out.len > 0);
    if (tx->out.len + need > INDEX_FIELDS_TEXT_MAX) {
        tx->text_full = 1;
        return;
    }
    if (tx->out.len + need + 1 > tx->out.size)
        text_reserve(tx, need);
    if (tx->space && tx->out.len > 0)
        tx->out.data[tx->out.len++] = ' ';
    tx->space = 0;
    for (size_t i = 0; i < n; i++) /* 1 to 4 bytes: no memcpy call */
        tx->out.data[tx->out.len++] = s[i];
}

/* Grow the text buffer to hold need more bytes and the terminator, never
 * beyond the limit. */
static void text_reserve(struct index_text *tx, size_t need)
{
    (void)buf_reserve_max(&tx->out, need, INDEX_FIELDS_TEXT_MAX + 1);
}

/*
 * A run of n printable ASCII characters (0x21..0x7e) that nothing else
 * needs to look at: the same as text_put() for each, in one copy. The
 * first goes through text_put() (the pending space, the limit), the rest
 * fill what room is left; one that does not fit ends the text, as in
 * text_put().
 */
static void text_put_run(struct index_text *tx, const char *s, size_t n)
{
    size_t room;
    int full = 0;

    text_put(tx, s, 1);
    if (tx->text_full || n == 1)
        return;
    s++;
    n--;
    room = INDEX_FIELDS_TEXT_MAX - tx->out.len;
    if (n > room) {
        n = room;
        full = 1;
    }
    text_reserve(tx, n);
    memcpy(tx->out.data + tx->out.len, s, n);
    tx->out.len += n;
    tx->text_full = full;
}

static void text_put_unichar(struct index_text *tx, gunichar c)
{
    char buf[6];

    if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    text_put(tx, buf, (size_t)g_unichar_to_utf8(c, buf));
}

static void text_put_ascii(struct index_text *tx, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        text_put(tx, s + i, 1);
}

/* Formatting tags inside a word must not split it: "<b>W</b>ord". */
static int html_inline_tag(const char *name)
{
    static const char *const inline_tags[] = {
        "a",    "abbr",   "b",      "bdi", "bdo", "big",  "cite", "code", "del",  "dfn",
        "em",   "font",   "i",      "ins", "kbd", "mark", "q",    "s",    "samp", "small",
        "span", "strike", "strong", "sub", "sup", "time", "tt",   "u",    "var",  "wbr",
    };
    for (size_t i = 0; i < sizeof(inline_tags) / sizeof(inline_tags[0]); i++)
        if (strcasecmp(name, inline_tags[i]) == 0)
            return 1;
    return 0;
}

/* HTML 4 entity names for U+00A0..U+00FF, in code point order (case matters:
 * &Uuml; is not &uuml;), and a few common ones beyond Latin-1. */
static const char *const html_latin1[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
    "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
    "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
    "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
    "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
    "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
    "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};
static const struct {
    const char *name;
    gunichar c;
} html_more[] = {{"ndash", 0x2013}, {"mdash", 0x2014}, {"lsquo", 0x2018},  {"rsquo", 0x2019},
                 {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"hellip", 0x2026}, {"bull", 0x2022},
                 {"euro", 0x20AC},  {"trade", 0x2122}};

/* A named entity that needs its ";": 0 when unknown. */
static gunichar html_named_entity(const char *e)
{
    for (size_t i = 0; i < 96; i++)
        if (strcmp(e, html_latin1[i]) == 0)
            return (gunichar)(0xA0 + i);
    for (size_t i = 0; i < sizeof(html_more) / sizeof(html_more[0]); i++)
        if (strcmp(e, html_more[i].name) == 0)
            return html_more[i].c;
    return 0;
}

/* The entity collected after "&"; terminated: it ended with ";". As
 * browsers do, the few known names are decoded without ";" too. */
static void html_entity_end(struct index_text *tx, int terminated)
{
    static const struct {
        const char *name;
        gunichar c;
    } named[] = {{"amp", '&'},  {"lt", '<'},    {"gt", '>'},
                 {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '}};
    const char *e = tx->entity;
    gunichar c = 0;
    int known = 0;

    tx->entity[tx->entity_len] = '\0';
    if (e[0] == '#' && tx->entity_len > 1) {
        int hex = e[1] == 'x' || e[1] == 'X';
        const char *digits = e + 1 + hex;
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(digits, &end, hex ? 16 : 10);
        if (*digits != '\0' && *end == '\0' && errno == 0 && isxdigit((unsigned char)*digits)) {
            c = v > 0x10ffff ? 0xfffd : (gunichar)v;
            known = 1;
        }
    } else {
        for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
            if (strcasecmp(e, named[i].name) == 0) {
                c = named[i].c;
                known = 1;
            }
        if (!known && terminated && (c = html_named_entity(e)) != 0)
            known = 1;
    }
    if (known) {
        text_put_unichar(tx, c);
    } else {
        text_put_ascii(tx, "&", 1);
        text_put_ascii(tx, e, tx->entity_len);
        if (terminated)
            text_put_ascii(tx, ";", 1);
    }
    tx->entity_len = 0;
}

static void html_tag_end(struct index_text *tx)
{
    tx->tag[tx->tag_len] = '\0';
    tx->hs = HTML_TEXT;
    if (!tx->tag_closing && strcasecmp(tx->tag, "script") == 0) {
        tx->hs = HTML_RAW;
        tx->raw_end = "</script";
        tx->raw_match = 0;
    } else if (!tx->tag_closing && strcasecmp(tx->tag, "style") == 0) {
        tx->hs = HTML_RAW;
        tx->raw_end = "</style";
        tx->raw_match = 0;
    } else if (!html_inline_tag(tx->tag)) {
        tx->space = 1;
    }
}

/* One character of HTML (a valid UTF-8 sequence s of n bytes). */
static void html_put(struct index_text *tx, const char *s, size_t n)
{
    char c = n == 1 ? s[0] : '\0'; /* the markup is ASCII */

    switch (tx->hs) {
    case HTML_TEXT:
        if (c == '<') {
            tx->hs = HTML_TAG_OPEN;
        } else if (c == '&') {
            tx->hs = HTML_ENTITY;
            tx->entity_len = 0;
        } else {
            text_put(tx, s, n);
        }
        return;
    case HTML_TAG_OPEN:
        tx->tag_len = 0;
        tx->tag_done = 0;
        tx->tag_closing = 0;
        if (isalpha((unsigned char)c) || c == '!' || c == '?') {
            tx->hs = HTML_TAG;
            tx->tag[tx->tag_len++] = c;
        } else if (c == '/') {
            tx->hs = HTML_TAG;
            tx->tag_closing = 1;
        } else {
            /* "a < b" is text */
            tx->hs = HTML_TEXT;
            text_put_ascii(tx, "<", 1);
            html_put(tx, s, n);
        }
        return;
    case HTML_TAG:
        if (!tx->tag_done) {
            if ((isalnum((unsigned char)c) || c == '-') && tx->tag_len < sizeof(tx->tag) - 1) {
                tx->tag[tx->tag_len++] = c;
                if (tx->tag_len == 3 && memcmp(tx->tag, "!--", 3) == 0) {
                    tx->hs = HTML_COMMENT;
                    tx->dashes = 0;
                }
                return;
            }
            tx->tag_done = 1;
        }
        if (c == '>')
            html_tag_end(tx);
        else if (c == '"' || c == '\'') {
            tx->hs = HTML_TAG_QUOTE;
            tx->quote = c;
        }
        return;
    case HTML_TAG_QUOTE:
        if (c == tx->quote)
            tx->hs = HTML_TAG;
        return;
    case HTML_COMMENT:
        if (c == '>' && tx->dashes >= 2) {
            tx->hs = HTML_TEXT;
            tx->space = 1;
        }
        tx->dashes = c == '-' ? tx->dashes + 1 : 0;
        return;
    case HTML_RAW:
        if (c != '\0' && tolower((unsigned char)c) == tx->raw_end[tx->raw_match]) {
            if (tx->raw_end[++tx->raw_match] == '\0') {
                /* the end tag: skip to its ">" */
                tx->hs = HTML_TAG;
                tx->tag_len = 0;
                tx->tag_done = 1;
                tx->tag_closing = 1;
            }
        } else {
            tx->raw_match = c == '<' ? 1 : 0;
        }
        return;
    case HTML_ENTITY:
        if (c == ';') {
            html_entity_end(tx, 1);
            tx->hs = HTML_TEXT;
        } else if ((isalnum((unsigned char)c) || c == '#') &&
                   tx->entity_len < sizeof(tx->entity) - 1) {
            tx->entity[tx->entity_len++] = c;
        } else {
            html_entity_end(tx, 0);
            tx->hs = HTML_TEXT;
            html_put(tx, s, n);
        }
        return;
    }
}

static void text_char(struct index_text *tx, const char *s, size_t n)
{
    if (tx->html)
        html_put(tx, s, n);
    else
        text_put(tx, s, n);
}

/* Bytes that are not UTF-8: Latin-1 for undeclared text, else U+FFFD. */
static void utf8_invalid(struct index_text *tx, const unsigned char *b, size_t n)
{
    if (!tx->latin1) {
        text_char(tx, "\xef\xbf\xbd", 3);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (b[i] >= 0xa0) {
            char l1[2] = {(char)(0xc0 | (b[i] >> 6)), (char)(0x80 | (b[i] & 0x3f))};
            text_char(tx, l1, 2);
        } else {
            text_char(tx, "\xef\xbf\xbd", 3);
        }
    }
}

/* Bytes of x (eight at a time) below 0x21, above 0x7e, and, for HTML, '<'
 * or '&': any such byte makes the word nonzero (the classic "has less",
 * "has more" and "has zero" bit tricks; only "any" is needed, so the
 * borrow across bytes does not matter). */
#define ASCII_ONES 0x0101010101010101ULL
#define ASCII_HIGH 0x8080808080808080ULL
static uint64_t ascii_stop_bytes(uint64_t x, int html)
{
    uint64_t below = (x - ASCII_ONES * 0x21) & ~x;
    uint64_t above = (x + ASCII_ONES * (0x7f - 0x7e)) | x;
    uint64_t stop = below | above;

    if (html) {
        uint64_t lt = x ^ (ASCII_ONES * '<'), amp = x ^ (ASCII_ONES * '&');
        stop |= ((lt - ASCII_ONES) & ~lt) | ((amp - ASCII_ONES) & ~amp);
    }
    return stop & ASCII_HIGH;
}

/* How many of the n bytes at p are printable ASCII (0x21..0x7e) in a row,
 * not counting '<' and '&' in HTML. */
static size_t ascii_run(const unsigned char *p, size_t n, int html)
{
    size_t j = 0;
    uint64_t x;

    while (j + 8 <= n) {
        memcpy(&x, p + j, 8);
        if (ascii_stop_bytes(x, html) != 0)
            break;
        j += 8;
    }
    while (j < n && p[j] > 0x20 && p[j] < 0x7f && (!html || (p[j] != '<' && p[j] != '&')))
        j++;
    return j;
}

/* Feed converted bytes; only valid UTF-8 (RFC 3629) gets through. */
static void utf8_feed(struct index_text *tx, const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = p[i];
        unsigned char lo = 0x80, hi = 0xbf;

        if (tx->u8_have == 0 && b > 0x20 && b < 0x7f &&
            (!tx->html || (tx->hs == HTML_TEXT && b != '<' && b != '&'))) {
            /* Fast path: a run of printable ASCII that is text as it stands
             * (in HTML: outside markup, without '<' or '&'). */
            size_t j = i + 1 + ascii_run(p + i + 1, n - i - 1, tx->html);
            text_put_run(tx, (const char *)p + i, j - i);
            i = j;
            continue;
        }
        if (tx->u8_have == 0) {
            i++;
            if (b < 0x80) {
                text_char(tx, (const char *)&b, 1);
                continue;
            }
            if (b >= 0xc2 && b <= 0xdf)
                tx->u8_need = 2;
            else if (b >= 0xe0 && b <= 0xef)
                tx->u8_need = 3;
            else if (b >= 0xf0 && b <= 0xf4)
                tx->u8_need = 4;
            else {
                utf8_invalid(tx, &b, 1);
                continue;
            }
            tx->u8[tx->u8_have++] = b;
            continue;
        }
        if (tx->u8_have == 1) {
            if (tx->u8[0] == 0xe0)
                lo = 0xa0; /* overlong */
            else if (tx->u8[0] == 0xed)
                hi = 0x9f; /* surrogates */
            else if (tx->u8[0] == 0xf0)
                lo = 0x90; /* overlong */
            else if (tx->u8[0] == 0xf4)
                hi = 0x8f; /* beyond U+10FFFF */
        }
        if (b < lo || b > hi) {
            /* b is not consumed: it may start the next character */
            utf8_invalid(tx, tx->u8, (size_t)tx->u8_have);
            tx->u8_have = 0;
            continue;
        }
        i++;
        tx->u8[tx->u8_have++] = b;
        if (tx->u8_have == tx->u8_need) {
            text_char(tx, (const char *)tx->u8, (size_t)tx->u8_have);
            tx->u8_have = 0;
        }
    }
}

void index_decoder_begin(struct index_decoder *d, const char *encoding)
{
    GMimeContentEncoding enc =
        encoding ? g_mime_content_encoding_from_string(encoding) : GMIME_CONTENT_ENCODING_DEFAULT;

    d->active =
        enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    if (d->active)
        g_mime_encoding_init_decode(&d->state, enc);
}

size_t index_decoder_step(struct index_decoder *d, const char *data, size_t len,
                          const char **data_r)
{
    size_t need;

    *data_r = data;
    if (!d->active)
        return len;
    need = g_mime_encoding_outlen(&d->state, len);
    if (need > d->cap) {
        d->out = xrealloc(d->out, need);
        d->cap = need;
    }
    *data_r = d->out;
    return g_mime_encoding_step(&d->state, data, len, d->out);
}

void index_decoder_free(struct index_decoder *d)
{
    free(d->out);
    d->out = NULL;
    d->cap = 0;
    d->active = 0;
}

void index_text_feed(struct index_text *tx, char *data, size_t len)
{
    const char *decoded;

    len = index_decoder_step(&tx->decoder, data, len, &decoded);
    data = (char *)decoded;
    if (tx->charset != NULL) {
        char *out;
        size_t outlen, outprespace;
        g_mime_filter_filter(tx->charset, data, len, 0, &out, &outlen, &outprespace);
        data = out;
        len = outlen;
    }
    utf8_feed(tx, (const unsigned char *)data, len);
}

static int charset_is_utf8(const char *cs)
{
    return g_ascii_strcasecmp(cs, "utf-8") == 0 || g_ascii_strcasecmp(cs, "utf8") == 0;
}

static int charset_is_undeclared(const char *cs)
{
    return cs == NULL || g_ascii_strcasecmp(cs, "us-ascii") == 0 ||
           g_ascii_strcasecmp(cs, "ascii") == 0 || g_ascii_strncasecmp(cs, "unknown", 7) == 0 ||
           g_ascii_strncasecmp(cs, "x-unknown", 9) == 0;
}

void index_text_begin(struct index_text *tx, int html, const char *charset, const char *encoding)
{
    tx->html = html;
    tx->hs = HTML_TEXT;
    tx->u8_have = 0;
    tx->produced = 0;
    index_decoder_begin(&tx->decoder, encoding);
    tx->latin1 = charset_is_undeclared(charset);
    tx->charset = NULL;
    if (!tx->latin1 && !charset_is_utf8(charset)) {
        tx->charset = g_mime_filter_charset_new(charset, "UTF-8");
        if (tx->charset == NULL)
            log_debug("index_fields: unknown charset \"%s\": text kept where it is UTF-8", charset);
    }
}

int index_text_end(struct index_text *tx)
{
    if (tx->charset != NULL) {
        char *out;
        size_t outlen, outprespace;
        g_mime_filter_complete(tx->charset, NULL, 0, 0, &out, &outlen, &outprespace);
        utf8_feed(tx, (const unsigned char *)out, outlen);
        g_object_unref(tx->charset);
        tx->charset = NULL;
    }
    if (tx->u8_have > 0)
        utf8_invalid(tx, tx->u8, (size_t)tx->u8_have);
    tx->u8_have = 0;
    if (tx->html && tx->hs == HTML_ENTITY)
        html_entity_end(tx, 0);
    else if (tx->html && tx->hs == HTML_TAG_OPEN)
        text_put_ascii(tx, "<", 1);
    tx->space = 1; /* parts never run into each other */
    return tx->produced;
}

char *index_text_release(struct index_text *tx)
{
    char *text = NULL;

    if (tx->charset != NULL) /* a read error in the middle of a text part */
        g_object_unref(tx->charset);
    tx->charset = NULL;
    index_decoder_free(&tx->decoder);
    if (tx->out.len > 0) {
        tx->out.data[tx->out.len] = '\0';
        text = tx->out.data;
        tx->out = (struct buf)BUF_INIT;
    }
    buf_free(&tx->out);
    return text;
}
