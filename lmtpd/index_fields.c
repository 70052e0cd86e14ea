/*
 * NAME
 *	index_fields 3
 * SUMMARY
 *	catalog fields from the original's header, with GMime
 * SYNOPSIS
 *	#include "lmtpd/index_fields.h"
 *
 *	index_fields_init();
 *	if (index_fields_extract(orig_fd, &rec, &error) < 0) ...
 *	index_fields_deinit();
 * DESCRIPTION
 *	The only module that links against GMime (notmuch's rule: the MIME
 *	library stays behind one file). It owns the reading of the original's
 *	header block: from offset 0 up to and including the first empty line,
 *	or to EOF when there is none, never more than INDEX_FIELDS_HEADER_MAX
 *	bytes. The body is never read, so a 50 MB message costs the same as a
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
 *	This module must never fail on message content: broken, missing,
 *	duplicated or binary headers leave fields NULL or empty.
 * DIAGNOSTICS
 *	index_fields_extract() returns -1 with *error_r only when the file
 *	cannot be read.
 */

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gmime/gmime.h>

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

static void parse_addresses(struct record_addrs *out, const char *raw)
{
    char *value = unfold(raw);
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
