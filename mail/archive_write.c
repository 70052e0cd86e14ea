/*
 * NAME
 *	wrap 3
 * SUMMARY
 *	the archive message (ARCHITECTURE.md section 3, the draft's Example 2)
 * SYNOPSIS
 *	#include "mail/archive_write.h"
 *
 *	if (archive_write(&rec, &info, orig_fd, wrap_fd, myhostname, &error) < 0) ...
 * DESCRIPTION
 *	Owns the layout of the archive message: a new header built from the
 *	envelope, Date: and Subject: copied from the original, and the
 *	original as the one message/rfc822 part of a multipart/mixed, copied
 *	byte for byte. Lines end in CRLF; the original's own bytes are never
 *	touched (archive quality: its SHA-256 is the one Postfix delivered).
 *
 *	The original is streamed from orig_fd with pread in WRAP_CHUNK pieces
 *	and never held in memory whole. While it streams, every line start is
 *	matched against "--" boundary (the match state survives chunk edges);
 *	a hit truncates out_fd and starts over with a fresh random boundary,
 *	at most WRAP_TRIES times. The output is hashed and counted as it is
 *	written (rec->wrapped_sha256, rec->wrapped_size).
 *
 *	The envelope is recorded exactly in X-Tabularium-Envelope-From/-To
 *	(one field per address, xtext in <...>, folded anywhere but inside a
 *	"+HH"; archive_write.h gives the format), whatever the addresses' length, and
 *	archive_read_envelope() reads it back: From:/To: are only for people
 *	and leave out what cannot fit a 998-byte line. A record whose index
 *	is degraded because the original was not parsed (safe mode) gets
 *	"X-Tabularium-Index: degraded (...)", fixed text.
 *
 *	Header injection is impossible by construction: envelope addresses
 *	go through envelope_header_mailbox() or the xtext encoding, which
 *	leaves only printable ASCII other than + = < > " \ ( ); the queue id, host name and
 *	hash are filtered to their alphabets; a Date: or Subject: whose raw
 *	value has a line break not followed by a blank, a bare CR, or a line
 *	over 998 bytes is not copied (Date: falls back to the arrival time,
 *	Subject: is omitted). Bare-LF folding in a copied value becomes CRLF;
 *	the other bytes, 8-bit included, are copied as they are.
 *
 *	The original is followed by CRLF and the close delimiter: RFC 2046
 *	makes that CRLF part of the delimiter, so a MIME parser returns the
 *	original exactly, whether or not it ended with a line break.
 * DIAGNOSTICS
 *	-1 with *error_r (static storage, overwritten by the next call) on
 *	read or write errors, a short original, an invalid archive id, or
 *	WRAP_TRIES boundary collisions. out_fd then holds garbage.
 *	archive_read_envelope(): -1 with a static message when the header has
 *	no X-Tabularium-Envelope-From (a copy archived before the field
 *	existed), two of them, or a field that is not "<" xtext ">"; it
 *	then returns no address at all, never a partial envelope.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/archive_id.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "mail/envelope.h"
#include "mail/archive_write.h"

#define WRAP_CHUNK (64 * 1024)
#define WRAP_TRIES 8
/* RFC 5322 2.1.1: SHOULD fold at 78, MUST NOT exceed 998. */
#define WRAP_FOLD 78
#define WRAP_LINE_MAX 998
#define WRAP_BOUNDARY_PREFIX "=_tabularium_"
#define WRAP_RANDOM_HEX 16
#define WRAP_BOUNDARY_SIZE                                                                         \
    (sizeof(WRAP_BOUNDARY_PREFIX) - 1 + ARCHIVE_ID_LEN + 1 + WRAP_RANDOM_HEX + 1)

/*
 * Test seam, deliberately absent from archive_write.h: a unit test cannot produce
 * an original that collides with a random boundary, so it may supply the
 * random part of try number "attempt" (16 hex digits + NUL). NULL in the
 * daemon. Declare it "extern" in the test to use it.
 */
void (*archive_boundary_hook)(unsigned attempt, char hex[WRAP_RANDOM_HEX + 1]) = NULL;

static char wrap_error[256];

static const char *wrap_errno(const char *what)
{
    snprintf(wrap_error, sizeof(wrap_error), "%s: %s", what, strerror(errno));
    return wrap_error;
}

/* Buffered, hashed, counted output: few large writes, one pass. */
struct wrap_out {
    int fd;
    char *buf;
    size_t len;
    struct sha256_ctx *sha;
    uint64_t size;
};

static int out_flush(struct wrap_out *o, const char **error_r)
{
    if (o->len > 0 && safe_write_all(o->fd, o->buf, o->len) < 0) {
        *error_r = wrap_errno("cannot write the archive message");
        return -1;
    }
    o->len = 0;
    return 0;
}

static int out_put(struct wrap_out *o, const void *data, size_t n, const char **error_r)
{
    sha256_update(o->sha, data, n);
    o->size += n;
    if (o->len + n > WRAP_CHUNK) {
        if (out_flush(o, error_r) < 0)
            return -1;
        if (n >= WRAP_CHUNK) {
            if (safe_write_all(o->fd, data, n) < 0) {
                *error_r = wrap_errno("cannot write the archive message");
                return -1;
            }
            return 0;
        }
    }
    memcpy(o->buf + o->len, data, n);
    o->len += n;
    return 0;
}

static int out_str(struct wrap_out *o, const char *s, const char **error_r)
{
    return out_put(o, s, strlen(s), error_r);
}

/* Discard what an attempt wrote: file, buffer, hash and count. */
static int out_reset(struct wrap_out *o, const char **error_r)
{
    char scratch[SHA256_HEX_SIZE];

    sha256_final_hex(o->sha, scratch);
    o->sha = sha256_new();
    o->len = 0;
    o->size = 0;
    if (ftruncate(o->fd, 0) < 0 || lseek(o->fd, 0, SEEK_SET) < 0) {
        *error_r = wrap_errno("cannot truncate the archive message");
        return -1;
    }
    return 0;
}

/* 1 when a raw Date:/Subject: value can follow "Name: " without starting
 * a new header line or breaking the line limit. */
static int raw_value_safe(const char *name, const char *raw)
{
    size_t line = strlen(name) + 2;

    for (const char *p = raw; *p != '\0'; p++) {
        if (*p == '\r' && p[1] != '\n')
            return 0;
        if (*p == '\n') {
            if (p[1] != ' ' && p[1] != '\t')
                return 0;
            line = 0;
            continue;
        }
        if (*p != '\r' && ++line > WRAP_LINE_MAX)
            return 0;
    }
    return 1;
}

/* "Name: raw" + CRLF; a value that starts with its fold gets no blank. */
static void add_raw_field(struct buf *t, const char *name, const char *raw)
{
    buf_add_str(t, name);
    buf_add_str(t, raw[0] == '\r' || raw[0] == '\n' ? ":" : ": ");
    for (const char *p = raw; *p != '\0'; p++) {
        if (*p == '\n' && (p == raw || p[-1] != '\r'))
            buf_add(t, "\r", 1);
        buf_add(t, p, 1);
    }
    buf_add_str(t, "\r\n");
}

/* RFC 5322 date-time for t in UTC, independent of the locale. */
static void format_rfc5322(time_t t, char buf[40])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(buf, 40, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Append the header mailbox for addr unless it is already listed. */
static void add_mailbox(struct strlist *list, const char *addr)
{
    char *mb = envelope_header_mailbox(addr);

    if (!strlist_has_nocase(list, mb))
        strlist_add(list, mb);
    free(mb);
}

/* "To: a, b," folded before WRAP_FOLD; a mailbox that could not fit a
 * line even alone is left out (it is whole in X-Tabularium-Envelope-To
 * and in the catalog). */
static void add_to_field(struct buf *t, const struct strlist *mbs)
{
    size_t line = 0;
    int first = 1;

    for (size_t i = 0; i < mbs->n; i++) {
        size_t n = strlen(mbs->v[i]);
        if (n > WRAP_LINE_MAX - 8)
            continue;
        if (first) {
            buf_add_str(t, "To: ");
            line = 4 + n;
            first = 0;
        } else if (line + 2 + n > WRAP_FOLD) {
            buf_add_str(t, ",\r\n\t");
            line = 1 + n;
        } else {
            buf_add_str(t, ", ");
            line += 2 + n;
        }
        buf_add(t, mbs->v[i], n);
    }
    buf_add_str(t, first ? "To: undisclosed-recipients:;\r\n" : "\r\n");
}

/* Bytes written as themselves in an envelope field: xtext's xchar (RFC
 * 3461: "!" to "~" except "+" and "="), less the few that mean something
 * in a header or would hide the field's closing '>'. Everything else,
 * 8-bit included, is "+HH". */
static int envelope_plain(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("+=<>\"\\()", c) == NULL;
}

/* "Name: <xtext>" folded before WRAP_FOLD, never inside a "+HH": the
 * value holds no white space of its own, so a reader drops all of it. */
static void add_envelope_field(struct buf *t, const char *name, const char *addr)
{
    size_t line = strlen(name) + 3;

    buf_add_str(t, name);
    buf_add_str(t, ": <");
    for (const unsigned char *p = (const unsigned char *)addr; *p != '\0'; p++) {
        char tok[4];
        size_t n = 1;

        if (envelope_plain(*p))
            tok[0] = (char)*p;
        else
            n = (size_t)snprintf(tok, sizeof(tok), "+%02X", *p);
        if (line + n > WRAP_FOLD) {
            buf_add_str(t, "\r\n ");
            line = 1;
        }
        buf_add(t, tok, n);
        line += n;
    }
    buf_add_str(t, line + 1 > WRAP_FOLD ? "\r\n >\r\n" : ">\r\n");
}

static void add_hdr_addrs(struct strlist *list, const struct record_addrs *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].address != NULL && a->v[i].address[0] != '\0')
            add_mailbox(list, a->v[i].address);
}

/* Keep only bytes of an alphabet: what is filtered cannot inject. */
static char *filter(const char *s, const char *extra)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;

    for (; *s != '\0'; s++) {
        char c = *s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c != '\0' && strchr(extra, c) != NULL))
            *o++ = c;
    }
    *o = '\0';
    return out;
}

static const char *choose_cte(const struct original_info *info)
{
    if (info->has_nul || info->has_bare_cr_lf || info->max_line > WRAP_LINE_MAX)
        return "binary";
    return info->has_8bit ? "8bit" : "7bit";
}

/* Everything before "Content-Type:", which alone depends on the boundary. */
static void build_header(const struct archive_record *rec, const char *myhostname, struct buf *t)
{
    int incomplete =
        rec->envelope_status != NULL && strcmp(rec->envelope_status, ENVELOPE_INCOMPLETE) == 0;
    struct strlist rcpts = STRLIST_INIT;
    char *mb, *queue_id, *host, *sha;
    char date[40];

    mb = envelope_header_mailbox(rec->envelope_from != NULL ? rec->envelope_from : "");
    /* A mailbox cannot be folded: one that would make the line longer than
     * 998 bytes becomes an empty group (RFC 6854); the sender is whole in
     * X-Tabularium-Envelope-From and in the catalog. */
    if (strlen(mb) > WRAP_LINE_MAX - 6)
        buf_add_str(t, "From: envelope-sender-too-long:;\r\n");
    else {
        buf_add_str(t, "From: ");
        buf_add_str(t, mb);
        buf_add_str(t, "\r\n");
    }
    free(mb);

    for (size_t i = 0; i < rec->n_rcpts; i++) {
        const struct record_rcpt *r = &rec->rcpts[i];
        if (r->address == NULL)
            continue;
        /* An undecodable RCPT (always_bcc) is the archive address itself,
         * not a recipient of the original. */
        if (incomplete && r->archive_rcpt != NULL && strcasecmp(r->address, r->archive_rcpt) == 0)
            continue;
        add_mailbox(&rcpts, r->address);
    }
    if (incomplete) {
        add_hdr_addrs(&rcpts, &rec->hdr_to);
        add_hdr_addrs(&rcpts, &rec->hdr_cc);
    }
    add_to_field(t, &rcpts);
    strlist_free(&rcpts);

    if (rec->date_raw != NULL && raw_value_safe("Date", rec->date_raw)) {
        add_raw_field(t, "Date", rec->date_raw);
    } else {
        format_rfc5322(rec->arrival != 0 ? rec->arrival : time(NULL), date);
        buf_add_str(t, "Date: ");
        buf_add_str(t, date);
        buf_add_str(t, "\r\n");
    }
    if (rec->subject_raw != NULL && raw_value_safe("Subject", rec->subject_raw))
        add_raw_field(t, "Subject", rec->subject_raw);

    host = filter(myhostname != NULL ? myhostname : "", ".-");
    buf_add_str(t, "Message-ID: <");
    buf_add_str(t, rec->archive_id);
    buf_add_str(t, "@");
    buf_add_str(t, host[0] != '\0' ? host : "localhost");
    buf_add_str(t, ">\r\nX-Tabularium-Archive-Id: ");
    buf_add_str(t, rec->archive_id);
    buf_add_str(t, "\r\n");
    free(host);

    queue_id = filter(rec->queue_id != NULL ? rec->queue_id : "", "");
    if (queue_id[0] != '\0' && strlen(queue_id) <= WRAP_LINE_MAX - 23) {
        buf_add_str(t, "X-Tabularium-Queue-Id: ");
        buf_add_str(t, queue_id);
        buf_add_str(t, "\r\n");
    }
    free(queue_id);

    sha = filter(rec->sha256, "");
    buf_add_str(t, "X-Tabularium-Original-SHA256: ");
    buf_add_str(t, sha);
    buf_add_str(t, "\r\nX-Tabularium-Envelope: ");
    if (rec->envelope_status != NULL && strcmp(rec->envelope_status, ENVELOPE_IMPORTED) == 0)
        buf_add_str(t, "imported (recipients from the header fields, by tabularium import)");
    else
        buf_add_str(t, incomplete ? "incomplete (recipients from To/Cc headers)" : "complete");
    buf_add_str(t, "\r\n");
    free(sha);
    /* Written without parsing the original (safe mode, mail/poison.c):
     * no Date: or Subject: copied; the catalog has the envelope alone. */
    if (record_is_degraded(rec))
        buf_add_str(t, "X-Tabularium-Index: degraded (archived without parsing the original)\r\n");

    /* The envelope itself, exactly: From:/To: above are for people and
     * may drop or re-quote an address; these fields are the record. */
    add_envelope_field(t, ARCHIVE_ENVELOPE_FROM,
                       rec->envelope_from != NULL ? rec->envelope_from : "");
    for (size_t i = 0; i < rec->n_rcpts; i++)
        if (rec->rcpts[i].address != NULL)
            add_envelope_field(t, ARCHIVE_ENVELOPE_TO, rec->rcpts[i].address);
    buf_add_str(t, "MIME-Version: 1.0\r\n");
}

static int make_boundary(const char *archive_id, unsigned attempt,
                         char boundary[WRAP_BOUNDARY_SIZE], const char **error_r)
{
    char hex[WRAP_RANDOM_HEX + 1];

    if (archive_boundary_hook != NULL) {
        archive_boundary_hook(attempt, hex);
        hex[WRAP_RANDOM_HEX] = '\0';
    } else {
        unsigned char rnd[WRAP_RANDOM_HEX / 2];
        ssize_t n;

        do {
            n = getrandom(rnd, sizeof(rnd), 0);
        } while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof(rnd)) {
            *error_r = wrap_errno("cannot get random bytes for the MIME boundary");
            return -1;
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    }
    snprintf(boundary, WRAP_BOUNDARY_SIZE, "%s%s_%s", WRAP_BOUNDARY_PREFIX, archive_id, hex);
    return 0;
}

/*
 * Line-start matcher for "--boundary". state >= 0: bytes of the pattern
 * matched on the current line so far; -1: this line cannot match. CR counts
 * as a line end too, because some MIME parsers split lines there.
 */
static int scan_collides(const char *pat, size_t plen, int *state, const char *p, size_t n)
{
    const char *end = p + n;
    int s = *state;

    while (p < end) {
        if (s < 0) {
            /* Nothing to match before the next line end: find it with
             * memchr instead of looking at every byte. */
            const char *lf = memchr(p, '\n', (size_t)(end - p));
            const char *cr = memchr(p, '\r', (size_t)((lf != NULL ? lf : end) - p));
            const char *eol = cr != NULL ? cr : lf;
            if (eol == NULL)
                break;
            p = eol + 1;
            s = 0;
            continue;
        }
        char c = *p++;
        if (c == pat[s]) {
            if ((size_t)++s == plen)
                return 1;
        } else if (c == '\n' || c == '\r') {
            s = 0;
        } else {
            s = -1;
        }
    }
    *state = s;
    return 0;
}

/* One attempt; 1 when the boundary occurs in the original (start over). */
static int write_attempt(const struct original_info *info, int orig_fd, struct wrap_out *o,
                         const struct buf *header, const char *boundary, const char *cte,
                         const char **error_r)
{
    char pat[WRAP_BOUNDARY_SIZE + 2];
    size_t plen;
    int state = 0;
    uint64_t off = 0;

    plen = (size_t)snprintf(pat, sizeof(pat), "--%s", boundary);

    if (out_put(o, header->data, header->len, error_r) < 0 ||
        out_str(o, "Content-Type: multipart/mixed; boundary=\"", error_r) < 0 ||
        out_str(o, boundary, error_r) < 0 ||
        out_str(o, "\"\r\nContent-Transfer-Encoding: ", error_r) < 0 ||
        out_str(o, cte, error_r) < 0 || out_str(o, "\r\n\r\n", error_r) < 0 ||
        out_str(o, pat, error_r) < 0 ||
        out_str(o, "\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: ", error_r) <
            0 ||
        out_str(o, cte, error_r) < 0 ||
        out_str(o, "\r\nContent-Disposition: inline\r\n\r\n", error_r) < 0)
        return -1;

    /* The original is read straight into the output buffer (no second
     * copy), checked for the boundary and hashed there. */
    while (off < info->size) {
        size_t room = WRAP_CHUNK - o->len;
        size_t want;
        ssize_t n;

        if (room == 0) {
            if (out_flush(o, error_r) < 0)
                return -1;
            room = WRAP_CHUNK;
        }
        want = info->size - off > room ? room : (size_t)(info->size - off);
        n = pread(orig_fd, o->buf + o->len, want, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *error_r = wrap_errno("cannot read the original");
            return -1;
        }
        if (n == 0) {
            *error_r = "the original is shorter than its recorded size";
            return -1;
        }
        if (scan_collides(pat, plen, &state, o->buf + o->len, (size_t)n))
            return 1;
        sha256_update(o->sha, o->buf + o->len, (size_t)n);
        o->size += (uint64_t)n;
        o->len += (size_t)n;
        off += (uint64_t)n;
    }

    /* RFC 2046: the CRLF before a delimiter belongs to the delimiter, so it
     * is always added; a MIME parser then extracts the original exactly. */
    if (out_str(o, "\r\n", error_r) < 0 || out_str(o, pat, error_r) < 0 ||
        out_str(o, "--\r\n", error_r) < 0 || out_flush(o, error_r) < 0)
        return -1;
    return 0;
}

int archive_write(struct archive_record *rec, const struct original_info *info, int orig_fd,
                  int out_fd, const char *myhostname, const char **error_r)
{
    struct buf header = BUF_INIT;
    struct wrap_out out = {out_fd, NULL, 0, NULL, 0};
    const char *cte = choose_cte(info);
    char boundary[WRAP_BOUNDARY_SIZE];
    int ret = -1, r = 1;

    if (!archive_id_valid(rec->archive_id)) {
        *error_r = "invalid archive id";
        return -1;
    }
    build_header(rec, myhostname, &header);
    out.buf = xmalloc(WRAP_CHUNK);
    out.sha = sha256_new();

    for (unsigned attempt = 0; attempt < WRAP_TRIES; attempt++) {
        if (attempt > 0 && out_reset(&out, error_r) < 0)
            goto out;
        if (make_boundary(rec->archive_id, attempt, boundary, error_r) < 0)
            goto out;
        r = write_attempt(info, orig_fd, &out, &header, boundary, cte, error_r);
        if (r <= 0)
            break;
    }
    if (r > 0) {
        *error_r = "the original contains every MIME boundary tried";
        goto out;
    }
    if (r < 0)
        goto out;
    sha256_final_hex(out.sha, rec->wrapped_sha256);
    out.sha = NULL;
    rec->wrapped_size = out.size;
    ret = 0;
out:
    if (out.sha != NULL) {
        char scratch[SHA256_HEX_SIZE];
        sha256_final_hex(out.sha, scratch);
    }
    free(out.buf);
    buf_free(&header);
    return ret;
}

/* Value of a header field with its folding and white space removed, or
 * -1 when it is not "<...>" with valid xtext inside; *addr_r on success. */
static int envelope_field_decode(const char *v, size_t len, char **addr_r)
{
    char *out = xmalloc(len + 1);
    size_t o = 0, i = 0, end = len;

    while (i < end && strchr(" \t\r\n", v[i]) != NULL)
        i++;
    while (end > i && strchr(" \t\r\n", v[end - 1]) != NULL)
        end--;
    if (end - i < 2 || v[i] != '<' || v[end - 1] != '>')
        goto bad;
    for (i++, end--; i < end; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '+') {
            unsigned hi, lo;
            if (end - i < 3 || sscanf(v + i + 1, "%1x%1x", &hi, &lo) != 2 ||
                !isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]) ||
                (hi | lo) == 0)
                goto bad;
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c > 0x20 && c < 0x7f && c != '=') {
            out[o++] = (char)c;
        } else {
            goto bad;
        }
    }
    out[o] = '\0';
    *addr_r = out;
    return 0;
bad:
    free(out);
    return -1;
}

int archive_read_envelope(const char *msg, size_t len, char **from_r, struct strlist *rcpts_r,
                          const char **error_r)
{
    static const char from_name[] = ARCHIVE_ENVELOPE_FROM ":";
    static const char to_name[] = ARCHIVE_ENVELOPE_TO ":";
    size_t i = 0;

    *from_r = NULL;
    while (i < len) {
        size_t start = i, vstart, end;
        const char *nl = memchr(msg + i, '\n', len - i);
        if (nl == msg + i || (nl == msg + i + 1 && msg[i] == '\r'))
            break; /* the empty line: end of the header */
        /* The field runs on over continuation lines. */
        for (end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
             end < len && (msg[end] == ' ' || msg[end] == '\t');) {
            nl = memchr(msg + end, '\n', len - end);
            end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
        }
        i = end;
        int is_from = end - start >= sizeof(from_name) - 1 &&
                      strncasecmp(msg + start, from_name, sizeof(from_name) - 1) == 0;
        int is_to = end - start >= sizeof(to_name) - 1 &&
                    strncasecmp(msg + start, to_name, sizeof(to_name) - 1) == 0;
        if (!is_from && !is_to)
            continue;
        vstart = start + (is_from ? sizeof(from_name) : sizeof(to_name)) - 1;
        char *addr;
        if (envelope_field_decode(msg + vstart, end - vstart, &addr) < 0) {
            *error_r =
                is_from ? "malformed " ARCHIVE_ENVELOPE_FROM : "malformed " ARCHIVE_ENVELOPE_TO;
            goto fail;
        }
        if (is_to) {
            strlist_add(rcpts_r, addr);
            free(addr);
        } else if (*from_r != NULL) {
            free(addr);
            *error_r = "repeated " ARCHIVE_ENVELOPE_FROM;
            goto fail;
        } else {
            *from_r = addr;
        }
    }
    if (*from_r == NULL) {
        *error_r = "no " ARCHIVE_ENVELOPE_FROM " (archived before it existed?)";
        goto fail;
    }
    return 0;
fail:
    free(*from_r);
    *from_r = NULL;
    strlist_free(rcpts_r);
    return -1;
}
