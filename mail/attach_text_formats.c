/*
 * NAME
 *	attach_text_formats 3
 * SUMMARY
 *	the in-process readers of attachment formats: HTML and RTF
 * SYNOPSIS
 *	#include "mail/attach_text.h"
 *
 *	if (attach_text_extract(fmt, data, len, charset, &out, max, &error) < 0) ...
 * DESCRIPTION
 *	One function per format, each appending the document's text to a
 *	buffer, at most max bytes:
 *	  HTML   index_text.c, the HTML to text of the message bodies (no
 *	         second one)
 *	  RTF    ours, below
 *	PDF, OOXML and ODF are read by the tab-attach-text program
 *	(attach_reader/attach_docs.c), which alone links poppler, libzip
 *	and libxml2: attach_text_extract() refuses them.
 *
 *	The RTF reader is one pass over the bytes with no recursion and no
 *	stack: the group depth is a counter, a skipped destination
 *	(\fonttbl, \colortbl, \stylesheet, \info, \pict, \object, any \*
 *	group, ...) is the depth at which skipping stops, and \ucN is kept
 *	for the first RTF_UC_DEPTH levels (deeper groups share the last).
 *	\'hh bytes are converted from the document's \ansicpg code page
 *	(Windows-1252 when there is none) and \uN characters (with their
 *	fallback characters skipped, surrogate pairs joined) taken as
 *	Unicode. O(n) time whatever the nesting: 100 000 nested groups are
 *	100 000 increments.
 *
 *	These functions are bounded in size, not in time or memory: the
 *	indexer calls them only in a child process with limits
 *	(attach_text.c).
 * DIAGNOSTICS
 *	-1 with a static *error_r for a document that cannot be read to its
 *	end (what was read stays in out), or of a format read elsewhere.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "common/buf.h"
#include "common/strlist.h"
#include "mail/attach_text.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

/* Levels of RTF groups whose \ucN is remembered. */
#define RTF_UC_DEPTH 64
/* Bytes of a control word's name and of its parameter's digits. */
#define RTF_WORD_MAX 32
#define RTF_PARAM_DIGITS 10

int attach_text_out_add(struct buf *out, size_t max, const char *s, size_t n)
{
    if (out->len >= max)
        return 0;
    if (n > max - out->len) {
        n = max - out->len;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        buf_add(out, s, n);
        return 0;
    }
    buf_add(out, s, n);
    return 1;
}

void attach_text_out_space(struct buf *out, size_t max)
{
    if (out->len > 0 && out->data[out->len - 1] != ' ')
        (void)attach_text_out_add(out, max, " ", 1);
}

/* HTML: the one HTML to text of index_text.c */

static int extract_html(const char *data, size_t len, const char *charset, struct buf *out,
                        size_t max)
{
    struct index_text tx;
    char *text;

    memset(&tx, 0, sizeof(tx));
    index_text_begin(&tx, 1, charset, NULL);
    for (size_t off = 0; off < len && !tx.text_full;) {
        size_t n = len - off < INDEX_FIELDS_CHUNK ? len - off : INDEX_FIELDS_CHUNK;
        /* index_text_feed() writes only into data it decoded itself. */
        index_text_feed(&tx, (char *)(uintptr_t)(data + off), n);
        off += n;
    }
    index_text_end(&tx);
    text = index_text_release(&tx);
    if (text != NULL)
        (void)attach_text_out_add(out, max, text, strlen(text));
    free(text);
    return 0;
}

/* RTF */

struct rtf {
    struct buf *out;
    size_t max;
    long depth;
    long skip_depth; /* skipping while depth >= skip_depth; 0: not skipping */
    int uc[RTF_UC_DEPTH];
    int fallback;    /* characters still to skip after a \uN */
    int group_start; /* the next control word opens a group: a destination? */
    int codepage;    /* \ansicpgN */
    unsigned hi;     /* a pending high surrogate */
    char bytes[64];  /* \'hh bytes not yet converted */
    size_t n_bytes;
};

static void rtf_flush(struct rtf *r)
{
    char cp[24];
    gchar *u;

    if (r->n_bytes == 0)
        return;
    /* iconv knows the Windows code pages as CPnnn (1250-1258, 932, 936,
     * 949, 950, ...); 65001 is UTF-8. */
    if (r->codepage == 65001)
        snprintf(cp, sizeof(cp), "UTF-8");
    else
        snprintf(cp, sizeof(cp), "CP%d", r->codepage > 0 ? r->codepage : 1252);
    u = g_convert(r->bytes, (gssize)r->n_bytes, "UTF-8", cp, NULL, NULL, NULL);
    if (u == NULL) /* an unknown code page: Latin-1 */
        u = g_convert(r->bytes, (gssize)r->n_bytes, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
    if (u != NULL)
        (void)attach_text_out_add(r->out, r->max, u, strlen(u));
    g_free(u);
    r->n_bytes = 0;
}

static int rtf_skipping(const struct rtf *r)
{
    return r->skip_depth > 0 && r->depth >= r->skip_depth;
}

static void rtf_byte(struct rtf *r, unsigned char c)
{
    if (rtf_skipping(r))
        return;
    if (r->fallback > 0) {
        r->fallback--;
        return;
    }
    if (c >= 0x80) {
        if (r->n_bytes == sizeof(r->bytes))
            rtf_flush(r);
        r->bytes[r->n_bytes++] = (char)c;
        return;
    }
    rtf_flush(r);
    if (c < 0x20 || c == 0x7f)
        c = ' '; /* control characters, NUL above all, are no text */
    if (c == ' ' && r->out->len > 0 && r->out->data[r->out->len - 1] == ' ')
        return;
    (void)attach_text_out_add(r->out, r->max, (const char *)&c, 1);
}

static void rtf_unichar(struct rtf *r, long n)
{
    char u8[8];
    gunichar c;

    if (rtf_skipping(r))
        return;
    rtf_flush(r);
    if (n < 0)
        n += 65536;
    c = (gunichar)n;
    if (c >= 0xd800 && c <= 0xdbff) {
        r->hi = c;
        return;
    }
    if (c >= 0xdc00 && c <= 0xdfff) {
        c = r->hi != 0 ? 0x10000 + ((r->hi - 0xd800) << 10) + (c - 0xdc00) : 0xfffd;
    }
    r->hi = 0;
    if (c == 0 || c > 0x10ffff)
        c = 0xfffd;
    (void)attach_text_out_add(r->out, r->max, u8, (size_t)g_unichar_to_utf8(c, u8));
}

static int rtf_uc(const struct rtf *r)
{
    return r->uc[r->depth < RTF_UC_DEPTH ? r->depth : RTF_UC_DEPTH - 1];
}

/* Destinations whose content is not text a reader sees. */
static int rtf_skipped_destination(const char *w)
{
    static const char *const names[] = {
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        "object",
        "themedata",
        "datastore",
        "latentstyles",
        "listtable",
        "listoverridetable",
        "rsidtbl",
        "generator",
        "xmlnstbl",
        "filetbl",
        "revtbl",
        "pgdsctbl",
        "fldinst",
        "colorschememapping",
        "bkmkstart",
        "bkmkend",
        "mmathPr",
        "private",
        "objdata",
        "blipuid",
        "shppict",
        "nonshppict",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(w, names[i]) == 0)
            return 1;
    return 0;
}

static int extract_rtf(const char *data, size_t len, struct buf *out, size_t max)
{
    struct rtf r;
    size_t i = 0;

    memset(&r, 0, sizeof(r));
    r.out = out;
    r.max = max;
    for (int k = 0; k < RTF_UC_DEPTH; k++)
        r.uc[k] = 1;
    while (i < len && out->len < max) {
        unsigned char c = (unsigned char)data[i++];

        if (c == '{') {
            rtf_flush(&r);
            if (r.depth < LONG_MAX / 2)
                r.depth++;
            if (r.depth < RTF_UC_DEPTH)
                r.uc[r.depth] = r.uc[r.depth - 1];
            r.group_start = 1;
            r.fallback = 0;
            continue;
        }
        if (c == '}') {
            rtf_flush(&r);
            if (r.depth > 0)
                r.depth--;
            if (r.skip_depth > 0 && r.depth < r.skip_depth)
                r.skip_depth = 0;
            r.group_start = 0;
            r.fallback = 0;
            continue;
        }
        if (c == '\r' || c == '\n') {
            continue;
        }
        if (c != '\\') {
            r.group_start = 0;
            rtf_byte(&r, c);
            continue;
        }
        if (i >= len)
            break;
        c = (unsigned char)data[i++];
        if (g_ascii_isalpha(c)) {
            char word[RTF_WORD_MAX + 1];
            size_t w = 0, digits = 0;
            long param = 0;
            int has_param = 0, neg = 0;

            word[w++] = (char)c;
            while (i < len && g_ascii_isalpha(data[i])) {
                if (w < RTF_WORD_MAX)
                    word[w++] = data[i];
                i++;
            }
            word[w] = '\0';
            if (i < len && data[i] == '-' && i + 1 < len && g_ascii_isdigit(data[i + 1])) {
                neg = 1;
                i++;
            }
            while (i < len && g_ascii_isdigit(data[i])) {
                if (digits++ < RTF_PARAM_DIGITS)
                    param = param * 10 + (data[i] - '0');
                has_param = 1;
                i++;
            }
            if (neg)
                param = -param;
            if (i < len && data[i] == ' ')
                i++; /* the delimiter belongs to the word */
            if (r.group_start && !rtf_skipping(&r) && rtf_skipped_destination(word))
                r.skip_depth = r.depth;
            r.group_start = 0;
            if (strcmp(word, "bin") == 0 && has_param && param > 0) {
                i += (size_t)param < len - i ? (size_t)param : len - i;
            } else if (strcmp(word, "u") == 0 && has_param) {
                rtf_unichar(&r, param);
                r.fallback = rtf_uc(&r);
            } else if (strcmp(word, "uc") == 0 && has_param && param >= 0 && param < 16) {
                r.uc[r.depth < RTF_UC_DEPTH ? r.depth : RTF_UC_DEPTH - 1] = (int)param;
            } else if (strcmp(word, "ansicpg") == 0 && has_param) {
                r.codepage = (int)param;
            } else if (strcmp(word, "par") == 0 || strcmp(word, "line") == 0 ||
                       strcmp(word, "tab") == 0 || strcmp(word, "cell") == 0 ||
                       strcmp(word, "row") == 0 || strcmp(word, "sect") == 0 ||
                       strcmp(word, "page") == 0 || strcmp(word, "emdash") == 0 ||
                       strcmp(word, "endash") == 0) {
                r.fallback = 0;
                rtf_byte(&r, ' ');
            }
            continue;
        }
        if (c == '*') {
            if (r.group_start && !rtf_skipping(&r))
                r.skip_depth = r.depth;
            continue;
        }
        r.group_start = 0;
        if (c == '\'') {
            unsigned v = 0;
            int ok = i + 2 <= len && g_ascii_isxdigit(data[i]) && g_ascii_isxdigit(data[i + 1]);
            if (ok) {
                v = (unsigned)(g_ascii_xdigit_value(data[i]) * 16 +
                               g_ascii_xdigit_value(data[i + 1]));
                i += 2;
                if (v >= 0x20)
                    rtf_byte(&r, (unsigned char)v); /* counts as a fallback character too */
                else if (r.fallback > 0)
                    r.fallback--;
            }
            continue;
        }
        if (c == '\\' || c == '{' || c == '}')
            rtf_byte(&r, c);
        else if (c == '~' || c == '\r' || c == '\n')
            rtf_byte(&r, ' ');
        else if (c == '_')
            rtf_byte(&r, '-');
        /* \- (optional hyphen), \| \: and the rest: nothing */
    }
    rtf_flush(&r);
    return 0;
}

int attach_text_extract(enum attach_format fmt, const char *data, size_t len, const char *charset,
                        struct buf *out, size_t max, const char **error_r)
{
    *error_r = NULL;
    switch (fmt) {
    case ATTACH_FORMAT_HTML:
        return extract_html(data, len, charset, out, max);
    case ATTACH_FORMAT_RTF:
        return extract_rtf(data, len, out, max);
    case ATTACH_FORMAT_PDF:
    case ATTACH_FORMAT_OOXML:
    case ATTACH_FORMAT_ODF:
        *error_r = "read by " ATTACH_TEXT_PROGRAM ", not in this process";
        return -1;
    case ATTACH_FORMAT_NONE:
        break;
    }
    *error_r = "no reader for this format";
    return -1;
}
