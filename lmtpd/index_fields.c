/*
 * NAME
 *	index_fields 3
 * SUMMARY
 *	catalog fields from the original's header and body, with GMime
 * SYNOPSIS
 *	#include "lmtpd/index_fields.h"
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
 *	every From:, To: and Cc: contributes its addresses. GMime then decodes
 *	each value: RFC 2047 words and raw 8-bit text to UTF-8, address lists
 *	(groups flattened into their members; an empty group is kept as a
 *	name without address), dates, message ids.
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
#include "lmtpd/index_fields.h"

#define INDEX_FIELDS_CHUNK (64 * 1024)

/* Groups cannot nest in RFC 5322, but GMime's list type allows it; a bound
 * keeps a hostile header from recursing deeply. */
#define INDEX_FIELDS_GROUP_DEPTH 4

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

static void add_addresses(struct record_addrs *out, InternetAddressList *list, int depth)
{
    int n = internet_address_list_length(list);

    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        const char *gname = internet_address_get_name(ia);
        char *name = gname != NULL && *gname != '\0' ? utf8_dup(gname) : NULL;

        if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            const char *gaddr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
            char *addr = gaddr != NULL && *gaddr != '\0' ? utf8_dup(gaddr) : NULL;
            record_addrs_add(out, name, addr);
            free(addr);
        } else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            InternetAddressList *members =
                internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia));
            if (members == NULL || internet_address_list_length(members) == 0) {
                /* "undisclosed-recipients:;" still says something. */
                record_addrs_add(out, name, NULL);
            } else if (depth < INDEX_FIELDS_GROUP_DEPTH) {
                add_addresses(out, members, depth + 1);
            }
        }
        free(name);
    }
}

/* Unfolded copy of a raw value, for GMime's decoders. */
static char *unfold(const char *raw)
{
    char *u = g_mime_utils_header_unfold(raw);
    char *out = xstrdup(u != NULL ? u : "");

    g_free(u);
    return out;
}

/* GMime 3.2 leaks 128 bytes when a domain literal is followed by an
 * unclosed comment ("a@[1](x", found by fuzzing): close open comments
 * before parsing. Only the parser's input changes, never stored bytes. */
static char *close_comments(char *v)
{
    int depth = 0, quoted = 0;

    for (const char *p = v; *p; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (quoted) {
            if (*p == '"')
                quoted = 0;
            continue;
        }
        if (*p == '"' && depth == 0)
            quoted = 1;
        else if (*p == '(')
            depth++;
        else if (*p == ')' && depth > 0)
            depth--;
    }
    if (depth == 0)
        return v;
    size_t n = strlen(v);
    char *out = xmalloc(n + (size_t)depth + 1);
    memcpy(out, v, n);
    memset(out + n, ')', (size_t)depth);
    out[n + (size_t)depth] = '\0';
    free(v);
    return out;
}

static void parse_addresses(struct record_addrs *out, const char *raw)
{
    char *value = close_comments(unfold(raw));
    InternetAddressList *list = internet_address_list_parse(NULL, value);

    if (list != NULL) {
        add_addresses(out, list, 0);
        g_object_unref(list);
    }
    free(value);
}

static void set_field(char **field, char *value)
{
    free(*field);
    *field = value;
}

static void parse_date(struct archive_record *rec, const char *raw)
{
    char *value = unfold(raw);
    GDateTime *dt = g_mime_utils_header_decode_date(value);

    set_field(&rec->date, NULL);
    if (dt != NULL) {
        char buf[21];
        record_format_time((time_t)g_date_time_to_unix(dt), buf);
        rec->date = xstrdup(buf);
        g_date_time_unref(dt);
    }
    free(value);
}

static void parse_subject(struct archive_record *rec, const char *raw)
{
    char *value = unfold(raw);
    char *decoded = g_mime_utils_header_decode_text(NULL, value);

    set_field(&rec->subject, utf8_dup(decoded != NULL ? decoded : value));
    g_free(decoded);
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
 * the text collected so far. GMime still does what it is good at: parsing
 * Content-Type and Content-Disposition (RFC 2231 parameters, RFC 2047
 * words in file names), decoding base64 / quoted-printable / uuencode in
 * steps, and converting charsets with its iconv filter.
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

/* GMime answers application/octet-stream for a Content-Type it cannot
 * parse; RFC 2045 5.2 says such a part is text/plain. */
static GMimeContentType *mime_content_type(const char *value)
{
    GMimeContentType *ct;
    const char *v = value;

    if (value == NULL)
        return NULL;
    ct = g_mime_content_type_parse(NULL, value);
    if (ct == NULL)
        return NULL;
    while (*v == ' ' || *v == '\t')
        v++;
    if (g_mime_content_type_is_type(ct, "application", "octet-stream") &&
        g_ascii_strncasecmp(v, "application/octet-stream", 24) != 0) {
        g_object_unref(ct);
        return NULL;
    }
    return ct;
}

static void mime_push(struct mime_scan *sc, const char *boundary, GMimeContentType *ct)
{
    struct mime_level *l = &sc->levels[sc->n_levels++];

    l->boundary_len = strlen(boundary);
    l->boundary = xstrndup(boundary, l->boundary_len);
    l->msg_depth = sc->msg_depth;
    l->digest = g_mime_content_type_is_type(ct, "multipart", "digest");
    l->alternative = g_mime_content_type_is_type(ct, "multipart", "alternative");
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
    GMimeContentType *ct = mime_content_type(type_value);
    GMimeContentDisposition *disp = NULL;
    const char *type, *subtype, *filename = NULL;
    int attachment = 0, depth_ok;

    if (ct != NULL) {
        type = g_mime_content_type_get_media_type(ct);
        subtype = g_mime_content_type_get_media_subtype(ct);
    } else {
        type = sc->digest ? "message" : "text";
        subtype = sc->digest ? "rfc822" : "plain";
    }
    if (disp_value != NULL && (disp = g_mime_content_disposition_parse(NULL, disp_value)) != NULL) {
        attachment = g_mime_content_disposition_is_attachment(disp);
        filename = g_mime_content_disposition_get_parameter(disp, "filename");
    }
    if ((filename == NULL || *filename == '\0') && ct != NULL)
        filename = g_mime_content_type_get_parameter(ct, "name");
    if (filename != NULL && *filename == '\0')
        filename = NULL;
    depth_ok = sc->n_levels + sc->msg_depth < INDEX_FIELDS_MIME_DEPTH;
    sc->state = MIME_SKIP;

    if (g_ascii_strcasecmp(type, "multipart") == 0) {
        const char *boundary =
            ct != NULL ? g_mime_content_type_get_parameter(ct, "boundary") : NULL;
        if (boundary == NULL || *boundary == '\0' || strlen(boundary) > INDEX_FIELDS_BOUNDARY_MAX)
            log_debug("index_fields: multipart without a usable boundary: content not indexed");
        else if (!depth_ok)
            log_debug("index_fields: MIME nesting deeper than %d: content not indexed",
                      INDEX_FIELDS_MIME_DEPTH);
        else
            mime_push(sc, boundary, ct);
    } else if (g_ascii_strcasecmp(type, "message") == 0 &&
               (g_ascii_strcasecmp(subtype, "rfc822") == 0 ||
                g_ascii_strcasecmp(subtype, "global") == 0) &&
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
        int text =
            g_ascii_strcasecmp(type, "text") == 0 &&
            (g_ascii_strcasecmp(subtype, "plain") == 0 || g_ascii_strcasecmp(subtype, "html") == 0);
        if (attachment || filename != NULL || g_ascii_strcasecmp(type, "text") != 0)
            attachment_add(sc, filename, type, subtype);
        if (text && !attachment && !sc->quiet && !sc->text_full)
            text_begin(sc, g_ascii_strcasecmp(subtype, "html") == 0,
                       ct != NULL ? g_mime_content_type_get_parameter(ct, "charset") : NULL,
                       encoding);
    }
    if (ct != NULL)
        g_object_unref(ct);
    if (disp != NULL)
        g_object_unref(disp);
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
