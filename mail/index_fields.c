/*
 * NAME
 *	index_fields 3
 * SUMMARY
 *	catalog fields from the original's header and body, with GMime
 * SYNOPSIS
 *	#include "mail/index_fields.h"
 *
 *	index_fields_init();
 *	if (index_fields_extract(orig_fd, &rec, &error) < 0) ...
 *	if (index_fields_extract_body(orig_fd, &rec, &error) < 0) ...
 *	index_fields_deinit();
 * DESCRIPTION
 *	The only module that links against GMime (notmuch's rule: the MIME
 *	library stays behind one file).
 *
 *	index_fields_extract() owns the reading of the original's header
 *	block: from offset 0 up to and including the first empty line, or to
 *	EOF when there is none, never more than INDEX_FIELDS_HEADER_MAX
 *	bytes. The body is not read, so a 50 MB message costs the same as a
 *	small one.
 *
 *	The header block is split into fields here, not by GMime's message
 *	parser, because the wrapper needs the RAW values of Date: and Subject:
 *	byte for byte (folding, 8-bit bytes, encoded-words) and because the
 *	same occurrence must feed the raw and the decoded field. The first
 *	Date:, Subject: and Message-ID: count (RFC 5322 allows one each);
 *	every From:, To: and Cc: contributes its addresses, up to
 *	INDEX_FIELDS_ADDRESSES_MAX per field kind. Address lists are parsed
 *	here (groups flattened into their members; an empty group is kept as
 *	a name without address), and so are dates (UTC; NULL when not clearly
 *	a date, never a guess). GMime decodes RFC 2047 words and raw 8-bit
 *	text to UTF-8, and message ids. The topmost Received: gives
 *	received_id (when Postfix wrote it) and received_by (its by-host).
 *
 *	A raw value is the text after the colon without the blanks that
 *	precede it on the first line, up to the end of its last continuation
 *	line, without that line's ending. A NUL byte cannot live in a C
 *	string: a value is cut at its first NUL.
 *
 *	index_fields_extract_body() owns the full-text fields: it reads the
 *	whole original once, line by line, and walks its MIME structure
 *	(multiparts, message/rfc822 parts, multipart/digest defaults). The
 *	content of inline text/plain and text/html parts is decoded (base64,
 *	quoted-printable), converted to UTF-8 from its charset (undeclared
 *	8-bit text is taken as UTF-8 where valid, else Latin-1; anything else
 *	that is not valid UTF-8 becomes U+FFFD), HTML is reduced to its text
 *	(tags, comments, <script> and <style> dropped, common entities
 *	decoded), white space and control characters collapse into single
 *	spaces. Of a multipart/alternative only the first alternative that
 *	has text is indexed. The text stops at INDEX_FIELDS_TEXT_MAX bytes,
 *	on a character boundary. Every leaf part with a file name, with
 *	Content-Disposition: attachment, or that is not text, is an
 *	attachment: its decoded file name and its lower-case type are
 *	recorded, up to INDEX_FIELDS_ATTACHMENTS_MAX of them.
 *
 *	Memory does not grow with the message: the scanner keeps one read
 *	buffer, a bounded stack of boundaries, three bounded header fields
 *	of the current part and the text. GMime's message parser is not
 *	used for the body: it keeps every part in memory (the note before
 *	struct body_reader gives the figures).
 *
 *	This module must never fail on message content: broken, missing,
 *	duplicated or binary headers leave fields NULL or empty; broken MIME
 *	(missing boundaries, unterminated multiparts, bad encodings,
 *	unknown charsets) yields whatever text can be read.
 *
 *	No parser here may use stack or time that grows faster than its
 *	input: a sender chooses the nesting and the size. Every parser of
 *	message content, with its bound (n: bytes of the value, at most
 *	INDEX_FIELDS_HEADER_MAX in the header, INDEX_FIELDS_MIME_FIELD_MAX
 *	in a part's header):
 *	  header split       one pass over at most INDEX_FIELDS_HEADER_MAX bytes
 *	  unfolding          GMime g_mime_utils_header_unfold: one pass, O(n)
 *	  From/To/Cc         parse_addresses, ours: no recursion (group and
 *	                     comment nesting are counters), O(n), at most
 *	                     INDEX_FIELDS_ADDRESSES_MAX addresses per field kind
 *	  display names,     decode_words: GMime's RFC 2047 tokenizer (not
 *	  Subject:, names    recursive) only up to the last "?=", which keeps it
 *	  of attachments     O(n); 8-bit text by g_mime_utils_decode_8bit, O(n)
 *	                     per charset tried
 *	  IDN domains        g_hostname_to_unicode, only within DNS limits
 *	                     (labels of 63, names of 253 bytes)
 *	  Date:              date_parse, ours: one pass, comments counted, O(n)
 *	  Message-ID:        GMime g_mime_utils_decode_message_id: one pass,
 *	                     comments counted (GMime's skip_comment), O(n)
 *	  Received:          parse_received_id and parse_received_by: one pass
 *	                     each, O(n); the by-host at most
 *	                     INDEX_FIELDS_BY_HOST_MAX bytes
 *	  Content-Type,      mime_value_parse, ours: one pass, 4 parameters
 *	  -Disposition       kept, RFC 2231 sections at most MIME_PARAM_SECTIONS
 *	                     per parameter, O(n) with n <= 16 kB per field
 *	  MIME walker        one line at a time, at most INDEX_FIELDS_MIME_DEPTH
 *	                     levels (a fixed array, no recursion); per line
 *	                     at most that many boundary compares
 *	  transfer decoding  GMime g_mime_encoding_step: O(n), streaming
 *	  charsets           GMime's iconv filter: O(n), streaming
 *	  HTML to text       html_put: a state machine, at most two nested
 *	                     calls, O(n), fixed-size tag and entity buffers
 *	  body text          stops at INDEX_FIELDS_TEXT_MAX bytes
 *	GMime's own address list, date and parameter parsers are not used:
 *	the first recursed once per nested group (45 000 nested groups in a
 *	90 kB Cc: overflowed the stack), the second returned midnight UTC
 *	for a zone glued to the time, the third is quadratic in the number
 *	of parameters.
 * DIAGNOSTICS
 *	index_fields_extract() and index_fields_extract_body() return -1
 *	with *error_r only when the file cannot be read. Oddities of the
 *	MIME structure are logged at debug level.
 */

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "common/log.h"
#include "common/strlist.h"
#include "mail/index_fields.h"

#define INDEX_FIELDS_CHUNK (64 * 1024)

void index_fields_init(void)
{
    g_mime_init();
}

void index_fields_deinit(void)
{
    g_mime_shutdown();
}

/* Length of the header block in buf[0..len) including its terminating
 * empty line, or 0 when the block has not ended within len bytes. */
static size_t header_end(const char *buf, size_t len, size_t from)
{
    if (from == 0) {
        /* An empty header: the message starts with its empty line. */
        if (len >= 1 && buf[0] == '\n')
            return 1;
        if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
            return 2;
    }
    for (size_t i = from; i < len; i++) {
        const char *nl = memchr(buf + i, '\n', len - i);
        if (nl == NULL)
            break;
        i = (size_t)(nl - buf);
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Read the header block into a heap buffer (NUL-terminated for GMime's
 * sake; the length excludes the terminator). */
static int read_header_block(int fd, char **buf_r, size_t *len_r, const char **error_r)
{
    char *buf = NULL;
    size_t len = 0, cap = 0, end = 0;

    for (;;) {
        size_t want;
        ssize_t n;

        if (len >= INDEX_FIELDS_HEADER_MAX)
            break;
        want = INDEX_FIELDS_HEADER_MAX - len;
        if (want > INDEX_FIELDS_CHUNK)
            want = INDEX_FIELDS_CHUNK;
        if (len + want + 1 > cap) {
            cap = len + want + 1;
            buf = xrealloc(buf, cap);
        }
        n = pread(fd, buf + len, want, (off_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            *error_r = "cannot read the original's header";
            return -1;
        }
        if (n == 0)
            break;
        /* Re-scan the last two bytes: an empty line may straddle reads. */
        end = header_end(buf, len + (size_t)n, len >= 2 ? len - 2 : 0);
        len += (size_t)n;
        if (end > 0)
            break;
    }
    if (end > 0) {
        len = end;
    } else if (len >= INDEX_FIELDS_HEADER_MAX) {
        /* Over the limit: parse whole lines only, so that the last field
         * is not a cut-off fragment posing as a complete value. */
        const char *nl = memrchr(buf, '\n', len);
        if (nl != NULL)
            len = (size_t)(nl - buf) + 1;
    }
    if (buf == NULL)
        buf = xmalloc(1);
    buf[len] = '\0';
    *buf_r = buf;
    *len_r = len;
    return 0;
}

/* GMime's converters fall back to Latin-1 for undeclared 8-bit text, but a
 * catalog column must be valid UTF-8 whatever an encoded-word claimed. */
static char *utf8_dup(const char *s)
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
static char *unfold(const char *raw)
{
    char *u = g_mime_utils_header_unfold(raw);
    char *out = xstrdup(u != NULL ? u : "");

    g_free(u);
    return out;
}

/* Text without encoded words: UTF-8 as it is, else GMime's 8-bit guess
 * (its user charsets, then Latin-1), as its decoders do for such runs. */
static char *decode_plain(const char *s, size_t n)
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
static char *decode_words(const char *s, int phrase)
{
    size_t n = strlen(s);
    const char *last = NULL, *tail;
    char *head, *dec, *rest, *out;

    for (size_t i = n; i >= 2 && last == NULL; i--)
        if (s[i - 2] == '?' && s[i - 1] == '=')
            last = s + i - 2;
    if (last == NULL || strstr(s, "=?") == NULL)
        return decode_plain(s, n);
    tail = last + 2;
    head = xstrndup(s, (size_t)(tail - s));
    dec = phrase ? g_mime_utils_header_decode_phrase(NULL, head)
                 : g_mime_utils_header_decode_text(NULL, head);
    rest = decode_plain(tail, strlen(tail));
    out = xasprintf("%s%s", dec != NULL ? dec : head, rest);
    g_free(dec);
    free(head);
    free(rest);
    return out;
}

/*
 * Address lists (RFC 5322 3.4 with the obsolete forms of 4.4), parsed
 * here rather than by GMime, whose parser recurses once per nested group:
 * 45 000 nested groups in a 90 kB Cc: overflowed the worker's stack.
 *
 * One pass from left to right, no recursion: groups are a counter (their
 * members flattened into the list, an empty group kept as a name without
 * address), comments a nesting counter. The only steps back are to the
 * start of the current address (a phrase that turns out to be a
 * local-part), and a comma in an unquoted display name ("Doe, John
 * <j@x>", as GMime accepts) is decided by one look ahead whose answer is
 * kept for the commas it crossed: every byte is looked at a bounded
 * number of times. The loose forms GMime accepts are kept: dots and
 * commas in unquoted names, extra angle brackets, a missing ">", an
 * unclosed quote or comment, an address without domain, a name in a
 * comment after the address.
 */
struct addr_scan {
    const char *unclosed;  /* a quoted string starting here or later is not closed */
    const char *ahead_end; /* the stretch a comma look-ahead crossed */
    int ahead_joins;       /* and whether its commas are part of a name */
    const char *reach;     /* the furthest any scan of the current list went */
    GString *addr;
};

/* GMime's atom: not a special, a blank or a control character; 8-bit
 * bytes are atom characters (UTF-8 names and addresses). */
static int addr_atext(char c)
{
    unsigned char u = (unsigned char)c;

    return u > 0x20 && u != 0x7f && strchr("()<>@,;:\\\".[]", c) == NULL;
}

static int addr_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Past the comment at p ("("), nesting counted; an unclosed one runs to
 * the end of the value. *content_len_r: its text without the parentheses. */
static const char *addr_skip_comment(const char *p, size_t *content_len_r)
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
static const char *addr_skip_cfws(const char *p, const char **comment_r, size_t *comment_len_r)
{
    for (;;) {
        size_t n;
        const char *c;

        while (addr_blank(*p))
            p++;
        if (*p != '(')
            return p;
        c = p + 1;
        p = addr_skip_comment(p, &n);
        if (comment_r != NULL && *comment_r == NULL) {
            *comment_r = c;
            *comment_len_r = n;
        }
    }
}

static const char *addr_cfws(const char *p)
{
    return addr_skip_cfws(p, NULL, NULL);
}

/* The same, noting how far the scan went: a comment may run far beyond
 * the address that failed on it, and the next one starts after it. */
static const char *scan_cfws(struct addr_scan *sc, const char *p)
{
    p = addr_skip_cfws(p, NULL, NULL);
    if (p > sc->reach)
        sc->reach = p;
    return p;
}

/*
 * Past the quoted string at p; NULL when it is not closed. When the one
 * at p is not, none after it is either (every quote after p was escaped,
 * and a scan from a later quote meets the same escapes), so that is
 * remembered: a list of '"\",' must not be scanned to its end once per
 * comma.
 */
static const char *addr_skip_quoted(struct addr_scan *sc, const char *p)
{
    const char *start = p;

    if (sc->unclosed != NULL && p >= sc->unclosed)
        return NULL;
    for (p++; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        else if (*p == '"') {
            if (p + 1 > sc->reach)
                sc->reach = p + 1;
            return p + 1;
        }
    }
    sc->unclosed = start;
    return NULL;
}

/*
 * Does the comma at p continue a display name? Only if the words and
 * commas after it end at "<" or ":". The answer holds for every comma
 * of the stretch looked at, so that stretch is never looked at again.
 */
static int addr_comma_joins(struct addr_scan *sc, const char *p)
{
    const char *q;

    if (p < sc->ahead_end)
        return sc->ahead_joins;
    for (q = p;;) {
        q = addr_cfws(q);
        if (*q == '"') {
            const char *e = addr_skip_quoted(sc, q);
            q = e != NULL ? e : q + 1;
        } else if (addr_atext(*q)) {
            while (addr_atext(*q))
                q++;
        } else if (*q == ',' || *q == '.') {
            q++;
        } else {
            break;
        }
    }
    sc->ahead_end = q;
    sc->ahead_joins = *q == '<' || *q == ':';
    return sc->ahead_joins;
}

/* An IDN domain in Unicode, as GMime (with libidn2) gave it. */
static void addr_domain_unicode(GString *addr, size_t domain_at)
{
    size_t label = 0;
    char *u;

    if (g_ascii_strncasecmp(addr->str + domain_at, "xn--", 4) != 0 &&
        strstr(addr->str + domain_at, ".xn--") == NULL)
        return;
    /* DNS limits (RFC 1035 2.3.4), as libidn2 checks them: beyond, the
     * name is not a host name and stays as written */
    if (addr->len - domain_at > 253)
        return;
    for (const char *c = addr->str + domain_at; *c != '\0'; c++)
        if ((label = *c == '.' ? 0 : label + 1) > 63)
            return;
    /* GLib decodes bad Punycode to code points beyond U+10FFFF (found by
     * fuzzing "xn--bcher-k888888d"): such a name stays as written */
    u = g_hostname_to_unicode(addr->str + domain_at);
    if (u != NULL && g_utf8_validate(u, -1, NULL)) {
        g_string_truncate(addr, domain_at);
        g_string_append(addr, u);
    }
    g_free(u);
}

/*
 * The addr-spec at p (local-part, then "@" domain when there is one) into
 * sc->addr, comments and folding dropped, quoted local-parts kept quoted.
 * Past it (before the blanks and comments that follow it), or NULL on a
 * syntax error or bytes that are not UTF-8.
 */
static const char *addr_spec(struct addr_scan *sc, const char *p)
{
    GString *a = sc->addr;
    const char *w, *q;
    size_t domain_at;

    g_string_truncate(a, 0);
    for (;;) {
        w = p;
        if (*p == '"') {
            if ((p = addr_skip_quoted(sc, p)) == NULL)
                return NULL;
        } else if (addr_atext(*p)) {
            while (addr_atext(*p))
                p++;
        } else {
            return NULL;
        }
        g_string_append_len(a, w, p - w);
        q = scan_cfws(sc, p);
        if (*q == '@') {
            p = q;
            break;
        }
        if (*q != '.')
            return g_utf8_validate(a->str, (gssize)a->len, NULL) ? p : NULL;
        g_string_append_c(a, '.');
        p = scan_cfws(sc, q + 1);
    }
    p = scan_cfws(sc, p + 1);
    g_string_append_c(a, '@');
    domain_at = a->len;
    if (*p == '[') {
        /* a domain literal; blanks inside are dropped */
        for (g_string_append_c(a, *p++); *p != ']'; p++) {
            if (*p == '\0' || *p == '[' || *p == '\\')
                return NULL;
            if (!addr_blank(*p))
                g_string_append_c(a, *p);
        }
        g_string_append_c(a, *p++);
    } else {
        for (;;) {
            if (!addr_atext(*p))
                return NULL;
            w = p;
            while (addr_atext(*p))
                p++;
            g_string_append_len(a, w, p - w);
            q = scan_cfws(sc, p);
            if (*q != '.')
                break;
            q = scan_cfws(sc, q + 1);
            if (!addr_atext(*q)) { /* "a@example.com.": the final dot is dropped */
                p = q;
                break;
            }
            g_string_append_c(a, '.');
            p = q;
        }
    }
    if (!g_utf8_validate(a->str, (gssize)a->len, NULL))
        return NULL;
    addr_domain_unicode(a, domain_at);
    return p;
}

/* "<" [obs-route ":"] addr-spec ">" at p into sc->addr; past it or NULL. */
static const char *addr_angle(struct addr_scan *sc, const char *p)
{
    while (*p == '<')
        p++;
    p = scan_cfws(sc, p);
    if (*p == '@') {
        /* obs-route "@a.example,@b.example:" is dropped */
        while (*p != '\0' && *p != ':' && *p != '>')
            p++;
        if (p > sc->reach)
            sc->reach = p;
        if (*p != ':')
            return NULL;
        p = scan_cfws(sc, p + 1);
    }
    if ((p = addr_spec(sc, p)) == NULL)
        return NULL;
    p = scan_cfws(sc, p);
    while (*p == '>') /* missing or extra ">": tolerated */
        p++;
    return p;
}

/* A display name from its raw text: quotes and escapes removed, RFC 2047
 * words decoded, blanks trimmed; NULL when nothing is left. */
static char *addr_name(const char *s, size_t n)
{
    char *buf, *dec, *w, *start, *end;
    const char *r;

    if (n == 0)
        return NULL;
    buf = decode_plain(s, n);
    for (r = w = buf; *r != '\0'; r++) {
        if (*r == '\\' && r[1] != '\0')
            *w++ = *++r;
        else if (*r != '"')
            *w++ = *r;
    }
    *w = '\0';
    dec = decode_words(buf, 1);
    free(buf);
    for (start = dec; addr_blank(*start); start++)
        ;
    end = start + strlen(start);
    while (end > start && addr_blank(end[-1]))
        end--;
    *end = '\0';
    buf = *start != '\0' ? utf8_dup(start) : NULL;
    free(dec);
    return buf;
}

/* Keep one address (name is consumed) unless the cap is reached. */
static void addr_add(struct record_addrs *out, char *name, const char *addr)
{
    if (out->n < INDEX_FIELDS_ADDRESSES_MAX && (name != NULL || (addr != NULL && *addr != '\0')))
        record_addrs_add(out, name, addr != NULL && *addr != '\0' ? addr : NULL);
    free(name);
}

static void parse_addresses(struct record_addrs *out, const char *raw)
{
    char *value = unfold(raw);
    struct addr_scan sc = {.unclosed = NULL, .addr = g_string_new(NULL)};
    const char *p = value;
    char *group_name = NULL;
    size_t group_first = 0;
    size_t depth = 0; /* open groups; only the outermost one is kept */

    for (;;) {
        const char *start, *phrase_end, *q, *comment = NULL;
        size_t words = 0, comment_len = 0;
        char *name = NULL;

        p = scan_cfws(&sc, p);
        if (*p == '\0' || out->n >= INDEX_FIELDS_ADDRESSES_MAX)
            break;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ';') {
            p++;
            if (depth > 0 && --depth == 0) {
                if (out->n == group_first) /* "undisclosed-recipients:;" */
                    addr_add(out, group_name, NULL);
                else
                    free(group_name);
                group_name = NULL;
            }
            continue;
        }

        /* the phrase: a display name, a group name or a local-part */
        start = phrase_end = p;
        for (;;) {
            if (*p == '"') {
                if ((q = addr_skip_quoted(&sc, p)) == NULL) {
                    p = scan_cfws(&sc, p + 1); /* an unclosed quote is dropped */
                    continue;
                }
                p = q;
            } else if (addr_atext(*p)) {
                while (addr_atext(*p))
                    p++;
            } else if (words > 0 && (*p == '.' || (*p == ',' && addr_comma_joins(&sc, p)))) {
                p = scan_cfws(&sc, p + 1);
                continue;
            } else {
                break;
            }
            words++;
            phrase_end = p;
            p = scan_cfws(&sc, p);
        }

        if (*p == '<') {
            name = addr_name(start, (size_t)(phrase_end - start));
            if ((q = addr_angle(&sc, p)) == NULL)
                goto skip;
            addr_add(out, name, sc.addr->str);
            p = q;
            continue;
        }
        if (*p == ':') {
            name = addr_name(start, (size_t)(phrase_end - start));
            if (depth++ == 0) {
                group_name = name;
                group_first = out->n;
            } else {
                free(name);
            }
            while (*p == ':' || addr_blank(*p))
                p++;
            continue;
        }
        if (words == 0)
            goto skip;

        /* an addr-spec: parse the phrase again as one */
        if ((q = addr_spec(&sc, start)) == NULL)
            goto skip;
        while (addr_blank(*q))
            q++;
        q = addr_skip_cfws(q, &comment, &comment_len);
        if (*q == '<' && strchr(sc.addr->str, '@') != NULL) {
            /* "user@example.com <user@example.com>": the first is a name */
            const char *e = q;
            while (e > start && addr_blank(e[-1]))
                e--;
            name = addr_name(start, (size_t)(e - start));
            if ((q = addr_angle(&sc, q)) == NULL)
                goto skip;
        } else if (strchr(sc.addr->str, '@') == NULL && *q != '\0' && *q != ',' && *q != ';' &&
                   *q != '>') {
            goto skip; /* "John Smith": words, not an address */
        } else {
            if (comment != NULL)
                name = addr_name(comment, comment_len);
            if (*q == '>')
                q++;
        }
        addr_add(out, name, sc.addr->str);
        p = q;
        continue;
    skip:
        /* not an address: on to the next separator after whatever was
         * scanned (an unclosed comment must not be scanned again from
         * each comma inside it) */
        free(name);
        if (sc.reach > p)
            p = sc.reach;
        while (*p != '\0' && *p != ',' && *p != ';')
            p++;
    }
    if (depth > 0 && out->n == group_first) /* a group left open at the end */
        addr_add(out, group_name, NULL);
    else
        free(group_name);
    if (*p != '\0')
        log_debug("index_fields: more than %d addresses in a field; the rest are not indexed",
                  INDEX_FIELDS_ADDRESSES_MAX);
    g_string_free(sc.addr, TRUE);
    free(value);
}

static void set_field(char **field, char *value)
{
    free(*field);
    *field = value;
}

/*
 * Dates (RFC 5322 3.3 and the obsolete forms of 4.3), parsed here: GMime
 * gives midnight UTC for a zone glued to the time ("10:37:15+0200", as
 * real mail has it), a wrong date that date searches then miss. What is
 * not clearly a date gives NULL, never a guess. Accepted: an optional day
 * name (with or without its comma), day, month name, a 4-digit year or a
 * 2- or 3-digit one (RFC 5322 4.3: below 50 is 20xx, else 19xx; 3 digits
 * add 1900), hh:mm with optional :ss, a zone +hhmm / -hhmm (also +hh:mm),
 * glued to the time or not, UT, GMT, UTC, Z, the US zones, a military
 * letter (taken as -0000, i.e. UTC, as RFC 5322 says), or none (UTC);
 * comments and any white space between the parts; and the asctime()
 * order "Tue Dec  1 10:37:15 2026". After the zone, only comments and
 * one alphabetic zone name ("+0200 CEST") may follow.
 */
struct date_lex {
    const char *p;
};

/* Past blanks and comments (nesting counted). */
static void date_skip_cfws(struct date_lex *lx)
{
    size_t n;

    lx->p = addr_skip_cfws(lx->p, NULL, &n);
}

/* 1..max digits; -1 when there are none or more. */
static int date_number(struct date_lex *lx, int max, int *digits_r)
{
    int v = 0, n = 0;

    while (isdigit((unsigned char)lx->p[n])) {
        if (n == max)
            return -1;
        v = v * 10 + (lx->p[n] - '0');
        n++;
    }
    if (n == 0)
        return -1;
    lx->p += n;
    if (digits_r != NULL)
        *digits_r = n;
    return v;
}

/* Letters at p (at most max, else 0). */
static size_t date_word(const char *p, size_t max)
{
    size_t n = 0;

    while (isalpha((unsigned char)p[n])) {
        if (n == max)
            return 0;
        n++;
    }
    return n;
}

/* A month name (its first three letters, or the whole name): 1..12, or 0. */
static int date_month(struct date_lex *lx)
{
    static const char *const months[] = {"january",   "february", "march",    "april",
                                         "may",       "june",     "july",     "august",
                                         "september", "october",  "november", "december"};
    size_t n = date_word(lx->p, 9);

    if (n < 3)
        return 0;
    for (int m = 0; m < 12; m++)
        if ((n == 3 || n == strlen(months[m])) && g_ascii_strncasecmp(lx->p, months[m], n) == 0) {
            lx->p += n;
            return m + 1;
        }
    return 0;
}

static int date_day_name(const char *p, size_t n)
{
    static const char *const days[] = {"monday", "tuesday",  "wednesday", "thursday",
                                       "friday", "saturday", "sunday"};

    for (int d = 0; d < 7; d++)
        if ((n == 3 || n == strlen(days[d])) && g_ascii_strncasecmp(p, days[d], n) == 0)
            return 1;
    return 0;
}

/* hh:mm[:ss]; 0 or -1. */
static int date_time(struct date_lex *lx, int *h, int *m, int *s)
{
    if ((*h = date_number(lx, 2, NULL)) < 0 || *lx->p != ':')
        return -1;
    lx->p++;
    if ((*m = date_number(lx, 2, NULL)) < 0)
        return -1;
    *s = 0;
    if (*lx->p == ':') {
        lx->p++;
        if ((*s = date_number(lx, 2, NULL)) < 0)
            return -1;
    }
    return *h <= 23 && *m <= 59 && *s <= 60 ? 0 : -1;
}

/* The zone at p, east of UTC in seconds; 0 when there is none (UTC);
 * -1 when it is there but not understood. */
static int date_zone(struct date_lex *lx, long *off_r)
{
    static const struct {
        const char *name;
        int hours;
    } zones[] = {{"UT", 0},   {"GMT", 0},  {"UTC", 0},  {"Z", 0},    {"EST", -5}, {"EDT", -4},
                 {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
    size_t n;

    *off_r = 0;
    if (*lx->p == '+' || *lx->p == '-') {
        int sign = *lx->p == '-' ? -1 : 1, hh, mm, digits;
        lx->p++;

        if ((hh = date_number(lx, 4, &digits)) < 0)
            return -1;
        if (digits == 4) {
            mm = hh % 100;
            hh /= 100;
        } else if (digits == 2 && *lx->p == ':') {
            lx->p++;
            if ((mm = date_number(lx, 2, &digits)) < 0 || digits != 2)
                return -1;
        } else {
            return -1;
        }
        if (hh > 23 || mm > 59)
            return -1;
        *off_r = sign * (hh * 3600L + mm * 60L);
        return 0;
    }
    n = date_word(lx->p, 5);
    if (n == 0)
        return isalpha((unsigned char)*lx->p) ? -1 : 0;
    for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
        if (strlen(zones[i].name) == n && g_ascii_strncasecmp(lx->p, zones[i].name, n) == 0) {
            lx->p += n;
            *off_r = zones[i].hours * 3600L;
            return 0;
        }
    if (n == 1 && *lx->p != 'j' && *lx->p != 'J') { /* military: -0000 */
        lx->p++;
        return 0;
    }
    return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static long date_days(int y, int m, int d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int date_month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* The date in value as seconds since the epoch; -1 when it is not one. */
static int date_parse(const char *value, time_t *t_r)
{
    struct date_lex lx = {.p = value};
    int day, month, year, ydigits, h, m, s;
    long off = 0;
    size_t n;

    date_skip_cfws(&lx);
    if ((n = date_word(lx.p, 9)) > 0 && date_day_name(lx.p, n)) {
        lx.p += n;
        date_skip_cfws(&lx);
        if (*lx.p == ',')
            lx.p++;
        date_skip_cfws(&lx);
    }
    if (isdigit((unsigned char)*lx.p)) {
        /* day month year time [zone] */
        day = date_number(&lx, 2, NULL);
        date_skip_cfws(&lx);
        if (day < 0 || (month = date_month(&lx)) == 0)
            return -1;
        date_skip_cfws(&lx);
        if ((year = date_number(&lx, 4, &ydigits)) < 0)
            return -1;
        date_skip_cfws(&lx);
        if (date_time(&lx, &h, &m, &s) < 0)
            return -1;
    } else {
        /* asctime(): month day time year [zone] */
        if ((month = date_month(&lx)) == 0)
            return -1;
        date_skip_cfws(&lx);
        if ((day = date_number(&lx, 2, NULL)) < 0)
            return -1;
        date_skip_cfws(&lx);
        if (date_time(&lx, &h, &m, &s) < 0)
            return -1;
        date_skip_cfws(&lx);
        if ((year = date_number(&lx, 4, &ydigits)) < 0)
            return -1;
    }
    /* the zone may be glued to the time: no blank needed */
    date_skip_cfws(&lx);
    if (date_zone(&lx, &off) < 0)
        return -1;
    date_skip_cfws(&lx);
    if ((n = date_word(lx.p, 5)) > 0) { /* "+0200 CEST": a name for the zone given */
        lx.p += n;
        date_skip_cfws(&lx);
    }
    if (*lx.p != '\0')
        return -1;

    if (ydigits == 2)
        year += year < 50 ? 2000 : 1900;
    else if (ydigits == 3)
        year += 1900;
    if (year < 1000 || day < 1 || day > date_month_days(year, month))
        return -1;
    if (s == 60)
        s = 59; /* a leap second stays in its minute */
    *t_r = (time_t)(date_days(year, month, day) * 86400L + h * 3600L + m * 60L + s - off);
    return 0;
}

static void parse_date(struct archive_record *rec, const char *raw)
{
    char *value = unfold(raw);
    time_t t;

    set_field(&rec->date, NULL);
    if (date_parse(value, &t) == 0) {
        char buf[21];
        record_format_time(t, buf);
        rec->date = xstrdup(buf);
    }
    free(value);
}

static void parse_subject(struct archive_record *rec, const char *raw)
{
    char *value = unfold(raw);
    char *decoded = decode_words(value, 0);

    set_field(&rec->subject, utf8_dup(decoded));
    free(decoded);
    free(value);
}

static void parse_message_id(struct archive_record *rec, const char *raw)
{
    char *value = unfold(raw);
    char *id = g_mime_utils_decode_message_id(value);

    set_field(&rec->message_id, id != NULL && *id != '\0' ? utf8_dup(id) : NULL);
    g_free(id);
    free(value);
}

/* Field names compare case-insensitively (RFC 5322 1.2.2). */
/* The queue id in a Received: header that Postfix wrote ("... (Postfix)
 * with ESMTP id 4XyZ1abc for ..." or "by host (Postfix, from userid 0)
 * id 4XyZ1abc; ..."); NULL for another MTA's header. */
static char *parse_received_id(const char *raw)
{
    char *text = unfold(raw);
    char *id = NULL;
    const char *p;

    if (strstr(text, "(Postfix") == NULL)
        goto out;
    for (p = text; (p = strstr(p, "id ")) != NULL; p += 3) {
        if (p != text && p[-1] != ' ' && p[-1] != '\t')
            continue;
        const char *q = p + 3;
        size_t n = 0;
        while (isalnum((unsigned char)q[n]))
            n++;
        if (n >= 5 && n <= 64 && (q[n] == '\0' || q[n] == ' ' || q[n] == ';' || q[n] == '\t')) {
            id = xstrndup(q, n);
            break;
        }
    }
out:
    free(text);
    return id;
}

/* Bytes of a Received: by-host kept (a host name has at most 253). */
#define INDEX_FIELDS_BY_HOST_MAX 255

/*
 * The host after "by" in a Received: value (RFC 5321 4.4: "by" Domain or
 * address literal), lower case; NULL when there is none or it is longer
 * than INDEX_FIELDS_BY_HOST_MAX. "by" inside a comment ("(helo by x)")
 * does not count. One pass, comments skipped by a nesting counter.
 */
static char *parse_received_by(const char *raw)
{
    char *text = unfold(raw), *host = NULL;
    const char *p = text;
    size_t n;

    while (*p != '\0') {
        if (*p == '(') {
            p = addr_skip_comment(p, &n);
            continue;
        }
        if ((p == text || addr_blank(p[-1]) || p[-1] == ')') &&
            g_ascii_strncasecmp(p, "by", 2) == 0 && addr_blank(p[2])) {
            const char *h = addr_cfws(p + 2);
            n = 0;
            while (h[n] != '\0' && (g_ascii_isalnum(h[n]) || strchr(".-_[]:", h[n]) != NULL))
                n++;
            if (n > 0 && n <= INDEX_FIELDS_BY_HOST_MAX)
                host = g_ascii_strdown(h, (gssize)n);
            break;
        }
        p++;
    }
    if (host != NULL) {
        char *out = xstrdup(host);
        g_free(host);
        host = out;
    }
    free(text);
    return host;
}

static int field_is(const char *line, size_t name_len, const char *name)
{
    return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

int index_fields_extract(int fd, struct archive_record *rec, const char **error_r)
{
    char *buf;
    size_t len, i = 0;
    int seen_date = 0, seen_subject = 0, seen_mid = 0, seen_received = 0, seen_loop = 0;

    if (read_header_block(fd, &buf, &len, error_r) < 0)
        return -1;

    while (i < len) {
        size_t line = i, name_len = 0, v, vend, next;
        const char *nl;
        char *raw;

        /* The empty line ends the header. */
        if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
            break;
        while (i < len && (unsigned char)buf[i] > 0x20 && (unsigned char)buf[i] < 0x7f &&
               buf[i] != ':')
            i++;
        name_len = i - line;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
            i++;

        /* The value runs to the end of the last continuation line. */
        v = i + 1;
        vend = len;
        next = len;
        for (size_t p = i; p < len;) {
            nl = memchr(buf + p, '\n', len - p);
            if (nl == NULL)
                break;
            p = (size_t)(nl - buf) + 1;
            if (p < len && (buf[p] == ' ' || buf[p] == '\t'))
                continue;
            vend = (size_t)(nl - buf);
            if (vend > 0 && buf[vend - 1] == '\r' && vend - 1 >= v)
                vend--;
            next = p;
            break;
        }
        if (i >= len || buf[i] != ':' || name_len == 0) {
            /* Not a field (a "From " line, a stray continuation): skip. */
            i = next;
            continue;
        }
        while (v < vend && (buf[v] == ' ' || buf[v] == '\t'))
            v++;
        if (v > vend)
            v = vend;
        raw = xstrndup(buf + v, vend - v); /* stops at a NUL byte */
        i = next;

        if (field_is(buf + line, name_len, "From")) {
            parse_addresses(&rec->hdr_from, raw);
        } else if (field_is(buf + line, name_len, "To")) {
            parse_addresses(&rec->hdr_to, raw);
        } else if (field_is(buf + line, name_len, "Cc")) {
            parse_addresses(&rec->hdr_cc, raw);
        } else if (field_is(buf + line, name_len, "Date") && !seen_date) {
            seen_date = 1;
            parse_date(rec, raw);
            set_field(&rec->date_raw, raw);
            raw = NULL;
        } else if (field_is(buf + line, name_len, "Subject") && !seen_subject) {
            seen_subject = 1;
            parse_subject(rec, raw);
            set_field(&rec->subject_raw, raw);
            raw = NULL;
        } else if (field_is(buf + line, name_len, "Message-ID") && !seen_mid) {
            seen_mid = 1;
            parse_message_id(rec, raw);
        } else if (field_is(buf + line, name_len, "Received") && !seen_received) {
            seen_received = 1; /* only the topmost one: added by the MTA that delivers to us */
            set_field(&rec->received_id, parse_received_id(raw));
            set_field(&rec->received_by, parse_received_by(raw));
        } else if (field_is(buf + line, name_len, "X-Tabularium-Archive-Id") && !seen_loop) {
            seen_loop = 1;
            char *id = unfold(raw);
            if (archive_id_valid(id))
                set_field(&rec->loop_archive_id, id);
            else
                free(id);
        }
        free(raw);
    }
    free(buf);
    return 0;
}

/*
 * Body text and attachments.
 *
 * GMime's tree parser keeps one object per MIME part in memory (measured:
 * 2.3 GB of RSS for a 43 MB message of 1.2 million tiny parts), so the
 * structure is walked here instead, one line at a time, by a scanner whose
 * memory is fixed: a stack of at most INDEX_FIELDS_MIME_DEPTH boundaries,
 * three header fields of one part (INDEX_FIELDS_MIME_FIELD_MAX each) and
 * the text collected so far. GMime still does what it is good at:
 * decoding base64 / quoted-printable in steps, RFC 2047 words in file
 * names (through decode_words), and converting charsets with its iconv
 * filter; Content-Type and Content-Disposition are parsed here (see
 * mime_value_parse).
 */

/* Nested multiparts and message/rfc822 parts; deeper content is skipped. */
#define INDEX_FIELDS_MIME_DEPTH 32
/* RFC 2046 allows 70; longer boundaries are taken as broken. */
#define INDEX_FIELDS_BOUNDARY_MAX 200
/* Content-Type, Content-Disposition or Content-Transfer-Encoding of a part. */
#define INDEX_FIELDS_MIME_FIELD_MAX (16 * 1024)

/* The original, read front to back in INDEX_FIELDS_CHUNK pieces. */
struct body_reader {
    int fd;
    off_t offset; /* file offset of buf[len] */
    size_t pos, len;
    int eof;
    int midline; /* the last piece handed out did not end its line */
    char buf[INDEX_FIELDS_CHUNK];
};

/*
 * The next line, with its line ending, or a piece of a line longer than
 * the buffer (*first_r is 1 for a piece that starts a line). 1: a piece,
 * 0: end of file, -1: read error.
 */
static int body_reader_line(struct body_reader *r, char **line_r, size_t *len_r, int *first_r)
{
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        ssize_t n;

        if (nl != NULL || (r->eof && r->pos < r->len) ||
            (r->pos == 0 && r->len == sizeof(r->buf))) {
            size_t end = nl != NULL ? (size_t)(nl - r->buf) + 1 : r->len;
            *line_r = r->buf + r->pos;
            *len_r = end - r->pos;
            *first_r = !r->midline;
            r->midline = nl == NULL;
            r->pos = end;
            return 1;
        }
        if (r->eof)
            return 0;
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        n = pread(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, r->offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            r->eof = 1;
        r->len += (size_t)n;
        r->offset += n;
    }
}

/* One open multipart. */
struct mime_level {
    char *boundary;
    size_t boundary_len;
    int msg_depth;   /* message/rfc822 nesting of the multipart itself */
    int digest;      /* multipart/digest: parts default to message/rfc822 */
    int alternative; /* multipart/alternative: index one alternative */
    int alternative_done;
    int quiet; /* no text from inside (an alternative already indexed) */
};

enum mime_field {
    MIME_TYPE,
    MIME_DISPOSITION,
    MIME_ENCODING,
    MIME_FIELDS,
    MIME_NONE = MIME_FIELDS
};

enum mime_state {
    MIME_HEADER, /* in a part's (or message's) header */
    MIME_TEXT,   /* in an indexed text part's content */
    MIME_SKIP,   /* anything else: preamble, epilogue, attachments */
};

enum html_state {
    HTML_TEXT,
    HTML_TAG_OPEN, /* after "<" */
    HTML_TAG,      /* inside a tag, up to ">" */
    HTML_TAG_QUOTE,
    HTML_COMMENT,
    HTML_RAW,    /* content of <script> or <style>, dropped */
    HTML_ENTITY, /* after "&" */
};

struct mime_scan {
    struct archive_record *rec;
    enum mime_state state;
    struct mime_level levels[INDEX_FIELDS_MIME_DEPTH];
    int n_levels;

    /* the part whose header is being read */
    char *field[MIME_FIELDS];
    size_t field_len[MIME_FIELDS];
    int field_seen[MIME_FIELDS];
    enum mime_field cur_field;
    int msg_depth, digest, quiet;

    /* the text part being decoded */
    int html;
    GMimeEncoding decoder;
    int decoding;
    GMimeFilter *charset;
    int latin1;          /* undeclared charset: bytes that are not UTF-8 are Latin-1 */
    unsigned char u8[4]; /* an incomplete UTF-8 sequence */
    int u8_have, u8_need;
    int produced;
    char *decoded;
    size_t decoded_cap;

    /* HTML stripping */
    enum html_state hs;
    char tag[16];
    size_t tag_len;
    int tag_done, tag_closing;
    char quote;
    int dashes;
    const char *raw_end; /* "</script" or "</style" */
    size_t raw_match;
    char entity[12];
    size_t entity_len;

    /* the collected text */
    char *text;
    size_t text_len, text_cap;
    int space; /* white space seen since the last character */
    int text_full;
    int dropped_attachments;
};

static void text_reserve(struct mime_scan *sc, size_t need);

/* Append one character (a valid UTF-8 sequence) to the text, collapsing
 * white space and control characters into one space. */
static void text_put(struct mime_scan *sc, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t need;

    if (sc->text_full)
        return;
    if ((n == 1 && (u[0] <= 0x20 || u[0] == 0x7f)) || (n == 2 && u[0] == 0xc2 && u[1] <= 0xa0)) {
        sc->space = 1; /* C0, DEL, C1 and no-break space */
        return;
    }
    sc->produced = 1;
    need = n + (sc->space && sc->text_len > 0);
    if (sc->text_len + need > INDEX_FIELDS_TEXT_MAX) {
        sc->text_full = 1;
        return;
    }
    if (sc->text_len + need + 1 > sc->text_cap)
        text_reserve(sc, need);
    if (sc->space && sc->text_len > 0)
        sc->text[sc->text_len++] = ' ';
    sc->space = 0;
    for (size_t i = 0; i < n; i++) /* 1 to 4 bytes: no memcpy call */
        sc->text[sc->text_len++] = s[i];
}

/* Grow the text buffer to hold need more bytes and the terminator. */
static void text_reserve(struct mime_scan *sc, size_t need)
{
    size_t cap = sc->text_cap;

    if (sc->text_len + need + 1 <= cap)
        return;
    if (cap == 0)
        cap = 4096;
    while (cap < sc->text_len + need + 1 && cap < INDEX_FIELDS_TEXT_MAX + 1)
        cap *= 2;
    if (cap > INDEX_FIELDS_TEXT_MAX + 1)
        cap = INDEX_FIELDS_TEXT_MAX + 1;
    sc->text = xrealloc(sc->text, cap);
    sc->text_cap = cap;
}

/*
 * A run of n printable ASCII characters (0x21..0x7e) that nothing else
 * needs to look at: the same as text_put() for each, in one copy. The
 * first goes through text_put() (the pending space, the limit), the rest
 * fill what room is left; one that does not fit ends the text, as in
 * text_put().
 */
static void text_put_run(struct mime_scan *sc, const char *s, size_t n)
{
    size_t room;
    int full = 0;

    text_put(sc, s, 1);
    if (sc->text_full || n == 1)
        return;
    s++;
    n--;
    room = INDEX_FIELDS_TEXT_MAX - sc->text_len;
    if (n > room) {
        n = room;
        full = 1;
    }
    text_reserve(sc, n);
    memcpy(sc->text + sc->text_len, s, n);
    sc->text_len += n;
    sc->text_full = full;
}

static void text_put_unichar(struct mime_scan *sc, gunichar c)
{
    char buf[6];

    if (c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    text_put(sc, buf, (size_t)g_unichar_to_utf8(c, buf));
}

static void text_put_ascii(struct mime_scan *sc, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        text_put(sc, s + i, 1);
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
static void html_entity_end(struct mime_scan *sc, int terminated)
{
    static const struct {
        const char *name;
        gunichar c;
    } named[] = {{"amp", '&'},  {"lt", '<'},    {"gt", '>'},
                 {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '}};
    const char *e = sc->entity;
    gunichar c = 0;
    int known = 0;

    sc->entity[sc->entity_len] = '\0';
    if (e[0] == '#' && sc->entity_len > 1) {
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
        text_put_unichar(sc, c);
    } else {
        text_put_ascii(sc, "&", 1);
        text_put_ascii(sc, e, sc->entity_len);
        if (terminated)
            text_put_ascii(sc, ";", 1);
    }
    sc->entity_len = 0;
}

static void html_tag_end(struct mime_scan *sc)
{
    sc->tag[sc->tag_len] = '\0';
    sc->hs = HTML_TEXT;
    if (!sc->tag_closing && strcasecmp(sc->tag, "script") == 0) {
        sc->hs = HTML_RAW;
        sc->raw_end = "</script";
        sc->raw_match = 0;
    } else if (!sc->tag_closing && strcasecmp(sc->tag, "style") == 0) {
        sc->hs = HTML_RAW;
        sc->raw_end = "</style";
        sc->raw_match = 0;
    } else if (!html_inline_tag(sc->tag)) {
        sc->space = 1;
    }
}

/* One character of HTML (a valid UTF-8 sequence s of n bytes). */
static void html_put(struct mime_scan *sc, const char *s, size_t n)
{
    char c = n == 1 ? s[0] : '\0'; /* the markup is ASCII */

    switch (sc->hs) {
    case HTML_TEXT:
        if (c == '<') {
            sc->hs = HTML_TAG_OPEN;
        } else if (c == '&') {
            sc->hs = HTML_ENTITY;
            sc->entity_len = 0;
        } else {
            text_put(sc, s, n);
        }
        return;
    case HTML_TAG_OPEN:
        sc->tag_len = 0;
        sc->tag_done = 0;
        sc->tag_closing = 0;
        if (isalpha((unsigned char)c) || c == '!' || c == '?') {
            sc->hs = HTML_TAG;
            sc->tag[sc->tag_len++] = c;
        } else if (c == '/') {
            sc->hs = HTML_TAG;
            sc->tag_closing = 1;
        } else {
            /* "a < b" is text */
            sc->hs = HTML_TEXT;
            text_put_ascii(sc, "<", 1);
            html_put(sc, s, n);
        }
        return;
    case HTML_TAG:
        if (!sc->tag_done) {
            if ((isalnum((unsigned char)c) || c == '-') && sc->tag_len < sizeof(sc->tag) - 1) {
                sc->tag[sc->tag_len++] = c;
                if (sc->tag_len == 3 && memcmp(sc->tag, "!--", 3) == 0) {
                    sc->hs = HTML_COMMENT;
                    sc->dashes = 0;
                }
                return;
            }
            sc->tag_done = 1;
        }
        if (c == '>')
            html_tag_end(sc);
        else if (c == '"' || c == '\'') {
            sc->hs = HTML_TAG_QUOTE;
            sc->quote = c;
        }
        return;
    case HTML_TAG_QUOTE:
        if (c == sc->quote)
            sc->hs = HTML_TAG;
        return;
    case HTML_COMMENT:
        if (c == '>' && sc->dashes >= 2) {
            sc->hs = HTML_TEXT;
            sc->space = 1;
        }
        sc->dashes = c == '-' ? sc->dashes + 1 : 0;
        return;
    case HTML_RAW:
        if (c != '\0' && tolower((unsigned char)c) == sc->raw_end[sc->raw_match]) {
            if (sc->raw_end[++sc->raw_match] == '\0') {
                /* the end tag: skip to its ">" */
                sc->hs = HTML_TAG;
                sc->tag_len = 0;
                sc->tag_done = 1;
                sc->tag_closing = 1;
            }
        } else {
            sc->raw_match = c == '<' ? 1 : 0;
        }
        return;
    case HTML_ENTITY:
        if (c == ';') {
            html_entity_end(sc, 1);
            sc->hs = HTML_TEXT;
        } else if ((isalnum((unsigned char)c) || c == '#') &&
                   sc->entity_len < sizeof(sc->entity) - 1) {
            sc->entity[sc->entity_len++] = c;
        } else {
            html_entity_end(sc, 0);
            sc->hs = HTML_TEXT;
            html_put(sc, s, n);
        }
        return;
    }
}

static void text_char(struct mime_scan *sc, const char *s, size_t n)
{
    if (sc->html)
        html_put(sc, s, n);
    else
        text_put(sc, s, n);
}

/* Bytes that are not UTF-8: Latin-1 for undeclared text, else U+FFFD. */
static void utf8_invalid(struct mime_scan *sc, const unsigned char *b, size_t n)
{
    if (!sc->latin1) {
        text_char(sc, "\xef\xbf\xbd", 3);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (b[i] >= 0xa0) {
            char l1[2] = {(char)(0xc0 | (b[i] >> 6)), (char)(0x80 | (b[i] & 0x3f))};
            text_char(sc, l1, 2);
        } else {
            text_char(sc, "\xef\xbf\xbd", 3);
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
static void utf8_feed(struct mime_scan *sc, const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char b = p[i];
        unsigned char lo = 0x80, hi = 0xbf;

        if (sc->u8_have == 0 && b > 0x20 && b < 0x7f &&
            (!sc->html || (sc->hs == HTML_TEXT && b != '<' && b != '&'))) {
            /* Fast path: a run of printable ASCII that is text as it stands
             * (in HTML: outside markup, without '<' or '&'). */
            size_t j = i + 1 + ascii_run(p + i + 1, n - i - 1, sc->html);
            text_put_run(sc, (const char *)p + i, j - i);
            i = j;
            continue;
        }
        if (sc->u8_have == 0) {
            i++;
            if (b < 0x80) {
                text_char(sc, (const char *)&b, 1);
                continue;
            }
            if (b >= 0xc2 && b <= 0xdf)
                sc->u8_need = 2;
            else if (b >= 0xe0 && b <= 0xef)
                sc->u8_need = 3;
            else if (b >= 0xf0 && b <= 0xf4)
                sc->u8_need = 4;
            else {
                utf8_invalid(sc, &b, 1);
                continue;
            }
            sc->u8[sc->u8_have++] = b;
            continue;
        }
        if (sc->u8_have == 1) {
            if (sc->u8[0] == 0xe0)
                lo = 0xa0; /* overlong */
            else if (sc->u8[0] == 0xed)
                hi = 0x9f; /* surrogates */
            else if (sc->u8[0] == 0xf0)
                lo = 0x90; /* overlong */
            else if (sc->u8[0] == 0xf4)
                hi = 0x8f; /* beyond U+10FFFF */
        }
        if (b < lo || b > hi) {
            /* b is not consumed: it may start the next character */
            utf8_invalid(sc, sc->u8, (size_t)sc->u8_have);
            sc->u8_have = 0;
            continue;
        }
        i++;
        sc->u8[sc->u8_have++] = b;
        if (sc->u8_have == sc->u8_need) {
            text_char(sc, (const char *)sc->u8, (size_t)sc->u8_have);
            sc->u8_have = 0;
        }
    }
}

static void text_feed(struct mime_scan *sc, char *data, size_t len)
{
    if (sc->decoding) {
        size_t need = g_mime_encoding_outlen(&sc->decoder, len);
        if (need > sc->decoded_cap) {
            sc->decoded = xrealloc(sc->decoded, need);
            sc->decoded_cap = need;
        }
        len = g_mime_encoding_step(&sc->decoder, data, len, sc->decoded);
        data = sc->decoded;
    }
    if (sc->charset != NULL) {
        char *out;
        size_t outlen, outprespace;
        g_mime_filter_filter(sc->charset, data, len, 0, &out, &outlen, &outprespace);
        data = out;
        len = outlen;
    }
    utf8_feed(sc, (const unsigned char *)data, len);
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

static void text_begin(struct mime_scan *sc, int html, const char *charset, const char *encoding)
{
    GMimeContentEncoding enc =
        encoding ? g_mime_content_encoding_from_string(encoding) : GMIME_CONTENT_ENCODING_DEFAULT;

    sc->state = MIME_TEXT;
    sc->html = html;
    sc->hs = HTML_TEXT;
    sc->u8_have = 0;
    sc->produced = 0;
    /* x-uuencode needs its "begin" line found first; it is read as is. */
    sc->decoding =
        enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    if (sc->decoding)
        g_mime_encoding_init_decode(&sc->decoder, enc);
    sc->latin1 = charset_is_undeclared(charset);
    sc->charset = NULL;
    if (!sc->latin1 && !charset_is_utf8(charset)) {
        sc->charset = g_mime_filter_charset_new(charset, "UTF-8");
        if (sc->charset == NULL)
            log_debug("index_fields: unknown charset \"%s\": text kept where it is UTF-8", charset);
    }
}

static void text_end(struct mime_scan *sc)
{
    if (sc->state != MIME_TEXT)
        return;
    if (sc->charset != NULL) {
        char *out;
        size_t outlen, outprespace;
        g_mime_filter_complete(sc->charset, NULL, 0, 0, &out, &outlen, &outprespace);
        utf8_feed(sc, (const unsigned char *)out, outlen);
        g_object_unref(sc->charset);
        sc->charset = NULL;
    }
    if (sc->u8_have > 0)
        utf8_invalid(sc, sc->u8, (size_t)sc->u8_have);
    sc->u8_have = 0;
    if (sc->html && sc->hs == HTML_ENTITY)
        html_entity_end(sc, 0);
    else if (sc->html && sc->hs == HTML_TAG_OPEN)
        text_put_ascii(sc, "<", 1);
    sc->space = 1; /* parts never run into each other */
    if (sc->produced)
        for (int i = 0; i < sc->n_levels; i++)
            if (sc->levels[i].alternative)
                sc->levels[i].alternative_done = 1;
    sc->state = MIME_SKIP;
}

/* "type/subtype" in lower case, token characters only. */
static char *mime_type_string(const char *type, const char *subtype)
{
    char *s = xasprintf("%.60s/%.60s", type, subtype);

    for (char *p = s; *p != '\0'; p++) {
        *p = (char)g_ascii_tolower(*p);
        if (!g_ascii_isalnum(*p) && strchr("/!#$&^_.+-", *p) == NULL)
            *p = '_';
    }
    return s;
}

/* UTF-8 file name cut to INDEX_FIELDS_FILENAME_MAX bytes on a character
 * boundary; NULL for none. */
static char *attachment_filename(const char *name)
{
    char *valid, *end;

    if (name == NULL || *name == '\0')
        return NULL;
    valid = utf8_dup(name);
    if (strlen(valid) > INDEX_FIELDS_FILENAME_MAX) {
        end = g_utf8_find_prev_char(valid, valid + INDEX_FIELDS_FILENAME_MAX + 1);
        *(end != NULL ? end : valid) = '\0';
    }
    return valid;
}

static void attachment_add(struct mime_scan *sc, const char *filename, const char *type,
                           const char *subtype)
{
    char *name, *ctype;

    if (sc->rec->n_attachments >= INDEX_FIELDS_ATTACHMENTS_MAX) {
        if (sc->dropped_attachments++ == 0)
            log_debug("index_fields: more than %d attachments; the rest are not recorded",
                      INDEX_FIELDS_ATTACHMENTS_MAX);
        return;
    }
    name = attachment_filename(filename);
    ctype = mime_type_string(type, subtype);
    record_add_attachment(sc->rec, name, ctype);
    free(name);
    free(ctype);
}

static char *mime_field_value(struct mime_scan *sc, enum mime_field f)
{
    if (sc->field[f] == NULL)
        return NULL;
    sc->field[f][sc->field_len[f]] = '\0';
    return unfold(sc->field[f]);
}

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
enum mime_param { MIME_BOUNDARY, MIME_CHARSET, MIME_NAME, MIME_FILENAME, MIME_PARAMS };

/* RFC 2231 sections kept per parameter; a file name of 255 UTF-8 bytes
 * needs at most a few. */
#define MIME_PARAM_SECTIONS 32

struct mime_value {
    char type[64], subtype[64]; /* lower case; type "" when unparsable */
    char *param[MIME_PARAMS];
};

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
            out = utf8_dup(conv);
            g_free(conv);
        }
    }
    if (out == NULL)
        out = decode_plain(s->str, s->len);
    free(charset);
    g_string_free(s, TRUE);
    return out;
}

/* Content-Type (with_subtype) or Content-Disposition value into *mv. */
static void mime_value_parse(const char *value, int with_subtype, struct mime_value *mv)
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
    p = addr_cfws(p);
    if (mime_token(&p, mv->type, sizeof(mv->type)) && with_subtype) {
        p = addr_cfws(p);
        if (*p != '/' || (p = addr_cfws(p + 1), !mime_token(&p, mv->subtype, sizeof(mv->subtype))))
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
                p = addr_skip_comment(p, &n);
            } else {
                p++;
            }
        }
        if (*p == '\0')
            break;
        p = addr_cfws(p + 1);
        if (!mime_token(&p, attr, sizeof(attr)))
            continue;
        p = addr_cfws(p);
        if (*p != '=')
            continue;
        p = addr_cfws(p + 1);

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
            while (v->len > 0 && addr_blank(v->str[v->len - 1]))
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
            char *d = decode_words(mv->param[i], 0);
            free(mv->param[i]);
            mv->param[i] = d;
        }
        for (int k = 0; k < MIME_PARAM_SECTIONS; k++)
            free(sect[i][k]);
    }
    g_string_free(v, TRUE);
}

static void mime_value_free(struct mime_value *mv)
{
    for (int i = 0; i < MIME_PARAMS; i++)
        free(mv->param[i]);
}

static void mime_push(struct mime_scan *sc, const char *boundary, const char *subtype)
{
    struct mime_level *l = &sc->levels[sc->n_levels++];

    l->boundary_len = strlen(boundary);
    l->boundary = xstrndup(boundary, l->boundary_len);
    l->msg_depth = sc->msg_depth;
    l->digest = strcmp(subtype, "digest") == 0;
    l->alternative = strcmp(subtype, "alternative") == 0;
    l->alternative_done = 0;
    l->quiet = sc->quiet;
}

static void mime_pop(struct mime_scan *sc)
{
    sc->n_levels--;
    free(sc->levels[sc->n_levels].boundary);
    sc->levels[sc->n_levels].boundary = NULL;
}

static void mime_header_reset(struct mime_scan *sc)
{
    for (int f = 0; f < MIME_FIELDS; f++) {
        sc->field_len[f] = 0;
        sc->field_seen[f] = 0;
        if (sc->field[f] != NULL)
            sc->field[f][0] = '\0';
    }
    sc->cur_field = MIME_NONE;
    sc->state = MIME_HEADER;
}

/* The header of a part or message has ended: decide what its content is. */
static void mime_part_begin(struct mime_scan *sc)
{
    char *type_value = mime_field_value(sc, MIME_TYPE);
    char *disp_value = mime_field_value(sc, MIME_DISPOSITION);
    char *encoding = mime_field_value(sc, MIME_ENCODING);
    struct mime_value ct, disp;
    const char *type, *subtype, *filename;
    int attachment, depth_ok, parsed;

    /* an unparsable Content-Type is text/plain (RFC 2045 5.2) */
    mime_value_parse(type_value, 1, &ct);
    mime_value_parse(disp_value, 0, &disp);
    parsed = ct.type[0] != '\0';
    if (parsed) {
        type = ct.type;
        subtype = ct.subtype;
    } else {
        type = sc->digest ? "message" : "text";
        subtype = sc->digest ? "rfc822" : "plain";
    }
    attachment = strcmp(disp.type, "attachment") == 0;
    filename = disp.param[MIME_FILENAME];
    if (filename == NULL || *filename == '\0')
        filename = parsed ? ct.param[MIME_NAME] : NULL;
    if (filename != NULL && *filename == '\0')
        filename = NULL;
    depth_ok = sc->n_levels + sc->msg_depth < INDEX_FIELDS_MIME_DEPTH;
    sc->state = MIME_SKIP;

    if (strcmp(type, "multipart") == 0) {
        const char *boundary = ct.param[MIME_BOUNDARY];
        if (boundary == NULL || *boundary == '\0' || strlen(boundary) > INDEX_FIELDS_BOUNDARY_MAX)
            log_debug("index_fields: multipart without a usable boundary: content not indexed");
        else if (!depth_ok)
            log_debug("index_fields: MIME nesting deeper than %d: content not indexed",
                      INDEX_FIELDS_MIME_DEPTH);
        else
            mime_push(sc, boundary, subtype);
    } else if (strcmp(type, "message") == 0 &&
               (strcmp(subtype, "rfc822") == 0 || strcmp(subtype, "global") == 0) &&
               (encoding == NULL ||
                g_mime_content_encoding_from_string(encoding) < GMIME_CONTENT_ENCODING_BASE64)) {
        /* A forwarded message: its own parts follow, at the same boundaries. */
        if (attachment || filename != NULL)
            attachment_add(sc, filename, type, subtype);
        if (depth_ok) {
            sc->msg_depth++;
            sc->digest = 0;
            mime_header_reset(sc);
        }
    } else {
        int text = strcmp(type, "text") == 0 &&
                   (strcmp(subtype, "plain") == 0 || strcmp(subtype, "html") == 0);
        if (attachment || filename != NULL || strcmp(type, "text") != 0)
            attachment_add(sc, filename, type, subtype);
        if (text && !attachment && !sc->quiet && !sc->text_full)
            text_begin(sc, strcmp(subtype, "html") == 0, parsed ? ct.param[MIME_CHARSET] : NULL,
                       encoding);
    }
    mime_value_free(&ct);
    mime_value_free(&disp);
    free(type_value);
    free(disp_value);
    free(encoding);
}

static void mime_field_append(struct mime_scan *sc, const char *s, size_t n)
{
    enum mime_field f = sc->cur_field;
    size_t room;

    if (f == MIME_NONE)
        return;
    room = INDEX_FIELDS_MIME_FIELD_MAX - sc->field_len[f];
    if (n > room)
        n = room;
    if (sc->field[f] == NULL)
        sc->field[f] = xmalloc(INDEX_FIELDS_MIME_FIELD_MAX + 1);
    memcpy(sc->field[f] + sc->field_len[f], s, n);
    sc->field_len[f] += n;
}

static void mime_header_line(struct mime_scan *sc, const char *line, size_t len, int first)
{
    static const char *const names[MIME_FIELDS] = {
        [MIME_TYPE] = "Content-Type",
        [MIME_DISPOSITION] = "Content-Disposition",
        [MIME_ENCODING] = "Content-Transfer-Encoding",
    };
    size_t i = 0;

    if (!first) {
        mime_field_append(sc, line, len);
        return;
    }
    if ((len == 1 && line[0] == '\n') || (len == 2 && line[0] == '\r' && line[1] == '\n')) {
        mime_part_begin(sc);
        return;
    }
    if (line[0] == ' ' || line[0] == '\t') {
        mime_field_append(sc, line, len);
        return;
    }
    sc->cur_field = MIME_NONE;
    while (i < len && (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f &&
           line[i] != ':')
        i++;
    if (i == 0 || i >= len || line[i] != ':')
        return; /* not a field: skipped, as in the message header */
    for (int f = 0; f < MIME_FIELDS; f++) {
        if (field_is(line, i, names[f]) && !sc->field_seen[f]) {
            sc->field_seen[f] = 1;
            sc->cur_field = (enum mime_field)f;
            mime_field_append(sc, line + i + 1, len - i - 1);
        }
    }
}

/*
 * Is this line a delimiter of an open multipart? The innermost match
 * wins, so an inner boundary that extends an outer one is found. 1 with
 * the level and whether it closes the multipart ("--boundary--").
 */
static int mime_delimiter(struct mime_scan *sc, const char *line, size_t len, int *level_r,
                          int *close_r)
{
    if (len < 2 || line[0] != '-' || line[1] != '-')
        return 0;
    for (int k = sc->n_levels - 1; k >= 0; k--) {
        const struct mime_level *l = &sc->levels[k];
        const char *rest = line + 2 + l->boundary_len;
        size_t rest_len, j;

        if (len < 2 + l->boundary_len || memcmp(line + 2, l->boundary, l->boundary_len) != 0)
            continue;
        rest_len = len - 2 - l->boundary_len;
        if (rest_len >= 2 && rest[0] == '-' && rest[1] == '-') {
            *level_r = k;
            *close_r = 1;
            return 1;
        }
        for (j = 0; j < rest_len &&
                    (rest[j] == ' ' || rest[j] == '\t' || rest[j] == '\r' || rest[j] == '\n');
             j++)
            ;
        if (j == rest_len) {
            *level_r = k;
            *close_r = 0;
            return 1;
        }
    }
    return 0;
}

static void mime_delimiter_found(struct mime_scan *sc, int k, int close)
{
    if (sc->state == MIME_HEADER)
        mime_part_begin(sc); /* a part without body, or without the empty line */
    text_end(sc);
    while (sc->n_levels > k + 1)
        mime_pop(sc);
    if (close) {
        sc->msg_depth = sc->levels[k].msg_depth;
        sc->quiet = sc->levels[k].quiet;
        mime_pop(sc);
        sc->state = MIME_SKIP; /* the epilogue */
        return;
    }
    sc->msg_depth = sc->levels[k].msg_depth;
    sc->digest = sc->levels[k].digest;
    sc->quiet =
        sc->levels[k].quiet || (sc->levels[k].alternative && sc->levels[k].alternative_done);
    mime_header_reset(sc);
}

int index_fields_extract_body(int fd, struct archive_record *rec, const char **error_r)
{
    /* Not calloc: the 64 KiB buffer needs no zeroing (it cost more than
     * parsing a 4 KiB message). */
    struct body_reader *r = xmalloc(sizeof(*r));
    struct mime_scan sc;
    char *line;
    size_t len;
    int first, rc, level, close, ret = 0;

    memset(&sc, 0, sizeof(sc));
    sc.rec = rec;
    memset(r, 0, offsetof(struct body_reader, buf));
    r->fd = fd;
    mime_header_reset(&sc);

    while ((rc = body_reader_line(r, &line, &len, &first)) > 0) {
        if (first && sc.n_levels > 0 && mime_delimiter(&sc, line, len, &level, &close)) {
            mime_delimiter_found(&sc, level, close);
            continue;
        }
        if (sc.state == MIME_HEADER)
            mime_header_line(&sc, line, len, first);
        else if (sc.state == MIME_TEXT && !sc.text_full)
            text_feed(&sc, line, len);
    }
    if (rc < 0) {
        *error_r = "cannot read the original's body";
        ret = -1;
    } else {
        if (sc.state == MIME_HEADER)
            mime_part_begin(&sc); /* a message that is all header */
        text_end(&sc);
        if (sc.n_levels > 0)
            log_debug("index_fields: %d multipart(s) not closed at the end of the message",
                      sc.n_levels);
    }
    if (sc.charset != NULL) /* a read error in the middle of a text part */
        g_object_unref(sc.charset);
    while (sc.n_levels > 0)
        mime_pop(&sc);
    for (int f = 0; f < MIME_FIELDS; f++)
        free(sc.field[f]);
    free(sc.decoded);
    free(rec->body_text);
    rec->body_text = NULL;
    if (ret == 0 && sc.text_len > 0) {
        sc.text[sc.text_len] = '\0';
        rec->body_text = sc.text;
        sc.text = NULL;
    }
    free(sc.text);
    free(r);
    return ret;
}
