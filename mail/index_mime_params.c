/*
 * NAME
 *	index_mime_params 3
 * SUMMARY
 *	Content-Type and Content-Disposition values of a MIME part
 * SYNOPSIS
 *	#include "mail/index_fields_private.h"
 *
 *	struct mime_value ct;
 *	index_mime_params_parse(value, 1, &ct);
 *	... ct.type, ct.subtype, ct.param[MIME_BOUNDARY] ...
 *	index_mime_params_free(&ct);
 * DESCRIPTION
 *	The type (and subtype) and the four parameters the MIME walker
 *	(index_mime.c) needs: boundary, charset, name and filename, decoded
 *	to UTF-8 (RFC 2231 sections and charsets, RFC 2047 words in names).
 *
 *	Bound: one pass, 4 parameters kept, RFC 2231 sections at most
 *	MIME_PARAM_SECTIONS per parameter, O(n) with n at most
 *	INDEX_FIELDS_MIME_FIELD_MAX per field.
 * DIAGNOSTICS
 *	None: an unparsable value leaves type "" and the parameters NULL.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "common/strlist.h"
#include "mail/index_fields_private.h"

/*
 * Content-Type and Content-Disposition, parsed here: GMime's parameter
 * parser is quadratic in the number of parameters (18 ms for a 16 kB
 * field) and hands every value with "=?" to its RFC 2047 decoder (32 ms
 * for a 16 kB name of unclosed words), per part. One pass here: the
 * type (and subtype), then only the four parameters indexing needs, the
 * others skipped. RFC 2231: "name*" and up to MIME_PARAM_SECTIONS
 * sections "name*0", "name*1*"..., percent-decoded and converted from
 * the charset of the first one; a plain value may carry RFC 2047 words
 * (not allowed there, but common in file names) and is decoded like a
 * subject. Values run to ";" or "(" when not quoted (unquoted blanks in
 * file names are common). The first occurrence of a parameter counts.
 */

/* RFC 2231 sections kept per parameter; a file name of 255 UTF-8 bytes
 * needs at most a few. */
#define MIME_PARAM_SECTIONS 32

/* RFC 2045 token characters. */
static int mime_tchar(char c)
{
    unsigned char u = (unsigned char)c;

    return u > 0x20 && u < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A token at *pp into out (lower case, at most max - 1 bytes); 0 when none. */
static int mime_token(const char **pp, char *out, size_t max)
{
    const char *p = *pp;
    size_t n = 0;

    while (mime_tchar(p[n]))
        n++;
    if (n == 0 || n >= max)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)g_ascii_tolower(p[i]);
    out[n] = '\0';
    *pp = p + n;
    return 1;
}

static int mime_hex(char c)
{
    return g_ascii_isxdigit(c) ? g_ascii_xdigit_value(c) : -1;
}

/* "%XX" decoded in place. */
static void mime_percent_decode(GString *s, size_t from)
{
    size_t r = from, w = from;

    while (r < s->len) {
        int hi, lo;
        if (s->str[r] == '%' && r + 2 < s->len && (hi = mime_hex(s->str[r + 1])) >= 0 &&
            (lo = mime_hex(s->str[r + 2])) >= 0) {
            s->str[w++] = (char)(hi * 16 + lo);
            r += 3;
        } else {
            s->str[w++] = s->str[r++];
        }
    }
    g_string_truncate(s, w);
}

/* The RFC 2231 sections of one parameter joined and decoded to UTF-8. */
static char *mime_param_2231(char **sect, const int *extended)
{
    GString *s = g_string_new(NULL);
    char *charset = NULL, *out;

    for (int i = 0; i < MIME_PARAM_SECTIONS && sect[i] != NULL; i++) {
        const char *v = sect[i];
        size_t from;
        if (i == 0 && extended[0]) {
            /* charset'language'value */
            const char *q1 = strchr(v, '\''), *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
            if (q2 != NULL) {
                charset = xstrndup(v, (size_t)(q1 - v));
                v = q2 + 1;
            }
        }
        from = s->len;
        g_string_append(s, v);
        if (extended[i])
            mime_percent_decode(s, from);
    }
    out = NULL;
    if (charset != NULL && *charset != '\0' && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
        g_ascii_strcasecmp(charset, "us-ascii") != 0) {
        char *conv = g_convert(s->str, (gssize)s->len, "UTF-8", g_mime_charset_iconv_name(charset),
                               NULL, NULL, NULL);
        if (conv != NULL) {
            out = index_words_utf8_dup(conv);
            g_free(conv);
        }
    }
    if (out == NULL)
        out = index_words_decode_plain(s->str, s->len);
    free(charset);
    g_string_free(s, TRUE);
    return out;
}

/* Content-Type (with_subtype) or Content-Disposition value into *mv. */
void index_mime_params_parse(const char *value, int with_subtype, struct mime_value *mv)
{
    static const char *const names[MIME_PARAMS] = {"boundary", "charset", "name", "filename"};
    char *sect[MIME_PARAMS][MIME_PARAM_SECTIONS];
    int extended[MIME_PARAMS][MIME_PARAM_SECTIONS];
    const char *p = value;
    GString *v = g_string_new(NULL);

    memset(mv, 0, sizeof(*mv));
    memset(sect, 0, sizeof(sect));
    memset(extended, 0, sizeof(extended));
    if (value == NULL) {
        g_string_free(v, TRUE);
        return;
    }
    p = index_words_cfws(p);
    if (mime_token(&p, mv->type, sizeof(mv->type)) && with_subtype) {
        p = index_words_cfws(p);
        if (*p != '/' ||
            (p = index_words_cfws(p + 1), !mime_token(&p, mv->subtype, sizeof(mv->subtype))))
            mv->type[0] = '\0';
    }
    while (*p != '\0') {
        char attr[64];
        const char *star;
        int which = -1, section = -1, ext = 0;

        /* on to the next ";" */
        while (*p != '\0' && *p != ';') {
            if (*p == '"') {
                for (p++; *p != '\0' && *p != '"'; p++)
                    if (*p == '\\' && p[1] != '\0')
                        p++;
                if (*p == '"')
                    p++;
            } else if (*p == '(') {
                size_t n;
                p = index_words_skip_comment(p, &n);
            } else {
                p++;
            }
        }
        if (*p == '\0')
            break;
        p = index_words_cfws(p + 1);
        if (!mime_token(&p, attr, sizeof(attr)))
            continue;
        p = index_words_cfws(p);
        if (*p != '=')
            continue;
        p = index_words_cfws(p + 1);

        /* which parameter, which RFC 2231 section */
        star = strchr(attr, '*');
        for (int i = 0; i < MIME_PARAMS; i++)
            if (star != NULL ? (size_t)(star - attr) == strlen(names[i]) &&
                                   strncmp(attr, names[i], (size_t)(star - attr)) == 0
                             : strcmp(attr, names[i]) == 0)
                which = i;
        if (which < 0)
            continue;
        if (star != NULL) {
            const char *d = star + 1;
            section = 0;
            if (g_ascii_isdigit(*d)) {
                section = 0;
                while (g_ascii_isdigit(*d) && section < MIME_PARAM_SECTIONS)
                    section = section * 10 + (*d++ - '0');
                ext = *d == '*';
                if (ext)
                    d++;
            } else {
                ext = 1; /* "name*=" */
            }
            if (*d != '\0' || section >= MIME_PARAM_SECTIONS)
                continue;
        }

        /* the value: a quoted string (unescaped) or up to ";" or "(" */
        g_string_truncate(v, 0);
        if (*p == '"') {
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                g_string_append_c(v, *p);
            }
            if (*p == '"')
                p++;
        } else {
            const char *s = p;
            while (*p != '\0' && *p != ';' && *p != '(')
                p++;
            g_string_append_len(v, s, p - s);
            while (v->len > 0 && index_words_blank(v->str[v->len - 1]))
                g_string_truncate(v, v->len - 1);
        }
        if (section >= 0) {
            if (sect[which][section] == NULL) {
                sect[which][section] = xstrndup(v->str, v->len);
                extended[which][section] = ext;
            }
        } else if (mv->param[which] == NULL) {
            mv->param[which] = xstrndup(v->str, v->len);
        }
    }
    for (int i = 0; i < MIME_PARAMS; i++) {
        if (sect[i][0] != NULL) { /* RFC 2231 wins over a plain value */
            free(mv->param[i]);
            mv->param[i] = mime_param_2231(sect[i], extended[i]);
        } else if (mv->param[i] != NULL && (i == MIME_NAME || i == MIME_FILENAME)) {
            char *d = index_words_decode(mv->param[i], 0);
            free(mv->param[i]);
            mv->param[i] = d;
        }
        for (int k = 0; k < MIME_PARAM_SECTIONS; k++)
            free(sect[i][k]);
    }
    g_string_free(v, TRUE);
}

void index_mime_params_free(struct mime_value *mv)
{
    for (int i = 0; i < MIME_PARAMS; i++)
        free(mv->param[i]);
}
