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
 *	library stays behind one module). This file owns the header block
 *	and the public calls; each parser lives in a file of its own, all
 *	of them behind mail/index_fields_private.h:
 *	  index_words.c        unfolding, comments, RFC 2047 words, 8-bit text
 *	  index_address.c      address lists
 *	  index_date.c         dates
 *	  index_mime.c         the MIME walker, index_fields_extract_body()
 *	  index_mime_params.c  Content-Type and Content-Disposition values
 *	  index_text.c         a text part's content: decoding, charsets,
 *	                       UTF-8, HTML to text, the collected text
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
 *	struct body_reader in index_mime.c gives the figures).
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
 *	  header split       here: one pass over at most INDEX_FIELDS_HEADER_MAX
 *	                     bytes
 *	  unfolding          index_words.c, GMime g_mime_utils_header_unfold:
 *	                     one pass, O(n)
 *	  From/To/Cc         index_address.c, index_address_parse, ours: no
 *	                     recursion (group and comment nesting are
 *	                     counters), O(n), at most INDEX_FIELDS_ADDRESSES_MAX
 *	                     addresses per field kind
 *	  display names,     index_words.c, index_words_decode: GMime's RFC 2047
 *	  Subject:, names    tokenizer (not recursive) only up to the last "?=",
 *	  of attachments     which keeps it O(n); 8-bit text by
 *	                     g_mime_utils_decode_8bit, O(n) per charset tried
 *	  IDN domains        index_address.c, g_hostname_to_unicode, only within
 *	                     DNS limits (labels of 63, names of 253 bytes)
 *	  Date:              index_date.c, index_date_parse, ours: one pass,
 *	                     comments counted, O(n)
 *	  Message-ID:        here, GMime g_mime_utils_decode_message_id: one
 *	                     pass, comments counted (GMime's skip_comment), O(n)
 *	  Received:          here, parse_received_id and parse_received_by: one
 *	                     pass each, O(n); the by-host at most
 *	                     INDEX_FIELDS_BY_HOST_MAX bytes
 *	  Content-Type,      index_mime_params.c, index_mime_params_parse, ours:
 *	  -Disposition       one pass, 4 parameters kept, RFC 2231 sections at
 *	                     most MIME_PARAM_SECTIONS per parameter, O(n) with
 *	                     n <= 16 kB per field
 *	  MIME walker        index_mime.c: one line at a time, at most
 *	                     INDEX_FIELDS_MIME_DEPTH levels (a fixed array, no
 *	                     recursion); per line at most that many boundary
 *	                     compares
 *	  transfer decoding  index_text.c, GMime g_mime_encoding_step: O(n),
 *	                     streaming
 *	  charsets           index_text.c, GMime's iconv filter: O(n), streaming
 *	  HTML to text       index_text.c, html_put: a state machine, at most
 *	                     two nested calls, O(n), fixed-size tag and entity
 *	                     buffers
 *	  body text          index_text.c: stops at INDEX_FIELDS_TEXT_MAX bytes
 *	  attachment text    attach_text.c, attach_text_formats.c (the indexer
 *	                     only, index_fields_extract_body_attachments()):
 *	                     each attachment in a child process with memory,
 *	                     CPU and wall-clock limits; the RTF reader one
 *	                     pass with counters, O(n); zip documents at most
 *	                     ATTACH_TEXT_ZIP_MAX bytes decompressed
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

#include "common/archive_id.h"
#include "common/strlist.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

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

static void set_field(char **field, char *value)
{
    free(*field);
    *field = value;
}

static void parse_date(struct archive_record *rec, const char *raw)
{
    char *value = index_words_unfold(raw);
    time_t t;

    set_field(&rec->date, NULL);
    if (index_date_parse(value, &t) == 0) {
        char buf[21];
        record_format_time(t, buf);
        rec->date = xstrdup(buf);
    }
    free(value);
}

static void parse_subject(struct archive_record *rec, const char *raw)
{
    char *value = index_words_unfold(raw);
    char *decoded = index_words_decode(value, 0);

    set_field(&rec->subject, index_words_utf8_dup(decoded));
    free(decoded);
    free(value);
}

static void parse_message_id(struct archive_record *rec, const char *raw)
{
    char *value = index_words_unfold(raw);
    char *id = g_mime_utils_decode_message_id(value);

    set_field(&rec->message_id, id != NULL && *id != '\0' ? index_words_utf8_dup(id) : NULL);
    g_free(id);
    free(value);
}

/* The queue id in a Received: header that Postfix wrote ("... (Postfix)
 * with ESMTP id 4XyZ1abc for ..." or "by host (Postfix, from userid 0)
 * id 4XyZ1abc; ..."); NULL for another MTA's header. */
static char *parse_received_id(const char *raw)
{
    char *text = index_words_unfold(raw);
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
    char *text = index_words_unfold(raw), *host = NULL;
    const char *p = text;
    size_t n;

    while (*p != '\0') {
        if (*p == '(') {
            p = index_words_skip_comment(p, &n);
            continue;
        }
        if ((p == text || index_words_blank(p[-1]) || p[-1] == ')') &&
            g_ascii_strncasecmp(p, "by", 2) == 0 && index_words_blank(p[2])) {
            const char *h = index_words_cfws(p + 2);
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

/* Field names compare case-insensitively (RFC 5322 1.2.2). */
int index_fields_name_is(const char *line, size_t name_len, const char *name)
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

        if (index_fields_name_is(buf + line, name_len, "From")) {
            index_address_parse(&rec->hdr_from, raw);
        } else if (index_fields_name_is(buf + line, name_len, "To")) {
            index_address_parse(&rec->hdr_to, raw);
        } else if (index_fields_name_is(buf + line, name_len, "Cc")) {
            index_address_parse(&rec->hdr_cc, raw);
        } else if (index_fields_name_is(buf + line, name_len, "Date") && !seen_date) {
            seen_date = 1;
            parse_date(rec, raw);
            set_field(&rec->date_raw, raw);
            raw = NULL;
        } else if (index_fields_name_is(buf + line, name_len, "Subject") && !seen_subject) {
            seen_subject = 1;
            parse_subject(rec, raw);
            set_field(&rec->subject_raw, raw);
            raw = NULL;
        } else if (index_fields_name_is(buf + line, name_len, "Message-ID") && !seen_mid) {
            seen_mid = 1;
            parse_message_id(rec, raw);
        } else if (index_fields_name_is(buf + line, name_len, "Received") && !seen_received) {
            seen_received = 1; /* only the topmost one: added by the MTA that delivers to us */
            set_field(&rec->received_id, parse_received_id(raw));
            set_field(&rec->received_by, parse_received_by(raw));
        } else if (index_fields_name_is(buf + line, name_len, "X-Tabularium-Archive-Id") &&
                   !seen_loop) {
            seen_loop = 1;
            char *id = index_words_unfold(raw);
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
