/*
 * NAME
 *	fuzz_wrap 1
 * SUMMARY
 *	libFuzzer target: the archive message, archive_write() (mail/archive_write.h)
 * DESCRIPTION
 *	The input is an original (any bytes). The record is what the daemon
 *	would have: index_fields_extract() of the same input, and an envelope
 *	parsed and decoded as lmtp_session.c and delivery.c do from the
 *	arguments in "X-Env-From: <...>" and "X-Env-To: <...>" header lines
 *	of the input. Without X-Env-To lines, From:/To: addresses that
 *	envelope_parse_path() accepts stand in for the envelope, and a Cc:
 *	makes it incomplete (then the header's To/Cc addresses, unchecked,
 *	are listed as recipients). The
 *	archive id is fixed and the boundary's random part comes from
 *	archive_write.c's test seam (attempt k: sixteen hex digits k), so an input can
 *	collide with the boundaries and every run of an input is the same.
 *
 *	Checked (ARCHITECTURE.md section 3, RFC 2046, RFC 5322):
 *	  - archive_write() succeeds, unless the original holds every boundary
 *	    tried;
 *	  - wrapped_size and wrapped_sha256 are those of the output;
 *	  - the header block (up to the first empty line) has only CRLF line
 *	    ends, no NUL, lines of at most 998 bytes, each a "Name:" field with
 *	    a printable name or a continuation starting with a blank; fields
 *	    the wrapper writes appear exactly once (none injected);
 *	  - Content-Transfer-Encoding is what the original's bytes need;
 *	  - after the header: "--B", the part header, the original byte for
 *	    byte, "\r\n--B--\r\n", and nothing else; "--B" starts no line of
 *	    the original.
 * DIAGNOSTICS
 *	abort() with the failed invariant on stderr.
 */
#include "tests/fuzz/fuzz.h"

#include <strings.h>

#include "backends/record.h"
#include "common/strlist.h"
#include "mail/envelope.h"
#include "mail/index_fields.h"
#include "mail/archive_write.h"

#define ID "0123456789ABCDEF0123"
#define LINE_MAX_RFC5322 998

/* Test seam in archive_write.c (not in archive_write.h). */
extern void (*archive_boundary_hook)(unsigned attempt, char hex[17]);

static int orig_fd = -1, out_fd = -1;

static void hook(unsigned attempt, char hex[17])
{
    memset(hex, "0123456789abcdef"[attempt % 16], 16);
    hex[16] = '\0';
}

/* An address the envelope could carry, or NULL. */
static const char *envelope_ok(const char *addr)
{
    char *path, *parsed = NULL;
    const char *params, *error;
    int ok;

    if (addr == NULL)
        return NULL;
    path = xasprintf("<%s>", addr);
    ok = envelope_parse_path(path, &parsed, &params, &error) == 0 && *params == '\0' &&
         strcmp(parsed, addr) == 0;
    free(parsed);
    free(path);
    return ok ? addr : NULL;
}

/*
 * The envelope as lmtp_session.c and delivery.c would build it from
 * "X-Env-From: <arg of MAIL FROM:>" and "X-Env-To: <arg of RCPT TO:>" lines
 * in the input's header (so the fuzzer controls it fully); 1 when there was
 * an X-Env-To line.
 */
static int envelope_from_input(struct archive_record *rec, const uint8_t *data, size_t size)
{
    static const char from_kw[] = "X-Env-From:", to_kw[] = "X-Env-To:";
    const char *p = (const char *)data, *end = p + size;
    int have_rcpt = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0)
            break; /* the end of the header */
        char *line = xstrndup(p, len), *addr = NULL;
        const char *params, *error;
        if (strncmp(line, from_kw, sizeof(from_kw) - 1) == 0 && rec->envelope_from == NULL &&
            envelope_parse_path(line + sizeof(from_kw) - 1, &addr, &params, &error) == 0) {
            rec->envelope_from = addr;
            addr = NULL;
        } else if (strncmp(line, to_kw, sizeof(to_kw) - 1) == 0 &&
                   envelope_parse_path(line + sizeof(to_kw) - 1, &addr, &params, &error) == 0 &&
                   addr[0] != '\0') {
            char *dec = envelope_decode_recipient(addr, "archive+");
            if (dec == NULL)
                rec->envelope_status = ENVELOPE_INCOMPLETE;
            record_add_rcpt(rec, dec != NULL ? dec : addr, addr, NULL, NULL);
            free(dec);
            have_rcpt = 1;
        }
        free(addr);
        free(line);
        p = nl != NULL ? nl + 1 : end;
    }
    return have_rcpt;
}

static void make_record(struct archive_record *rec, const uint8_t *data, size_t size)
{
    const char *error = NULL;
    const char *from = NULL;

    memset(rec, 0, sizeof(*rec));
    FUZZ_CHECK(index_fields_extract(orig_fd, rec, &error) == 0);
    memcpy(rec->archive_id, ID, sizeof(ID));
    rec->queue_id = xstrdup(rec->received_id != NULL  ? rec->received_id
                            : rec->message_id != NULL ? rec->message_id
                                                      : "");
    rec->envelope_status = ENVELOPE_COMPLETE;
    if (!envelope_from_input(rec, data, size)) {
        /* No envelope in the input: one from the header's addresses. */
        rec->envelope_status = rec->hdr_cc.n > 0 ? ENVELOPE_INCOMPLETE : ENVELOPE_COMPLETE;
        if (rec->hdr_cc.n > 0)
            record_add_rcpt(rec, "archive@archive.test", "archive@archive.test", NULL, NULL);
        for (size_t i = 0; i < rec->hdr_to.n; i++) {
            const char *a = envelope_ok(rec->hdr_to.v[i].address);
            if (a != NULL)
                record_add_rcpt(rec, a, "archive+x=y@archive.test", NULL, NULL);
        }
    }
    if (rec->envelope_from == NULL) {
        for (size_t i = 0; i < rec->hdr_from.n && from == NULL; i++)
            from = envelope_ok(rec->hdr_from.v[i].address);
        rec->envelope_from = xstrdup(from != NULL ? from : "");
    }
    rec->arrival = 1795620635;
    rec->size = size;
    fuzz_sha256_hex(data, size, rec->sha256);
}

static const char *expected_cte(const struct original_info *info)
{
    if (info->has_nul || info->has_bare_cr_lf || info->max_line > LINE_MAX_RFC5322)
        return "binary";
    return info->has_8bit ? "8bit" : "7bit";
}

/* 1 when pat starts a line of p (at 0, or after LF or CR). */
static int starts_a_line(const char *p, size_t len, const char *pat)
{
    size_t plen = strlen(pat);

    for (const char *q = p; (q = memmem(q, len - (size_t)(q - p), pat, plen)) != NULL; q++)
        if (q == p || q[-1] == '\n' || q[-1] == '\r')
            return 1;
    return 0;
}

/* Check the header block out[0..hlen) (without the empty line); returns
 * the boundary (heap). */
static char *check_header(const char *h, size_t hlen, const char *cte)
{
    static const char *once[] = {"From",
                                 "To",
                                 "Date",
                                 "Subject",
                                 "Message-ID",
                                 "X-Tabularium-Archive-Id",
                                 "X-Tabularium-Queue-Id",
                                 "X-Tabularium-Original-SHA256",
                                 "X-Tabularium-Envelope",
                                 "MIME-Version",
                                 "Content-Type",
                                 "Content-Transfer-Encoding",
                                 NULL};
    int seen[16] = {0};
    char *boundary = NULL;
    size_t i = 0;

    FUZZ_CHECK(hlen >= 7 && (memcmp(h, "From: <", 7) == 0 ||
                             memcmp(h, "From: envelope-sender-too-long:;\r\n", 34) == 0));
    while (i < hlen) {
        const char *line = h + i;
        const char *end = memmem(line, hlen - i, "\r\n", 2);
        size_t len = end != NULL ? (size_t)(end - line) : hlen - i;

        FUZZ_CHECK(end != NULL || i + len == hlen);
        FUZZ_CHECK(memchr(line, '\n', len) == NULL);
        FUZZ_CHECK(memchr(line, '\r', len) == NULL);
        FUZZ_CHECK(memchr(line, '\0', len) == NULL);
        FUZZ_CHECK(len <= LINE_MAX_RFC5322);
        if (line[0] == ' ' || line[0] == '\t') {
            FUZZ_CHECK(i > 0); /* a continuation needs a field to continue */
        } else {
            size_t n = 0;
            while (n < len && line[n] > ' ' && line[n] < 0x7f && line[n] != ':')
                n++;
            FUZZ_CHECK(n > 0 && n < len && line[n] == ':');
            for (int k = 0; once[k] != NULL; k++)
                if (strlen(once[k]) == n && strncasecmp(line, once[k], n) == 0) {
                    FUZZ_CHECK(seen[k] == 0);
                    seen[k] = 1;
                }
            static const char ct[] = "Content-Type: multipart/mixed; boundary=\"";
            if (len > sizeof(ct) && strncmp(line, ct, sizeof(ct) - 1) == 0) {
                FUZZ_CHECK(line[len - 1] == '"');
                boundary = xstrndup(line + sizeof(ct) - 1, len - sizeof(ct));
            }
            static const char cte_name[] = "Content-Transfer-Encoding: ";
            if (strncmp(line, cte_name, sizeof(cte_name) - 1) == 0)
                FUZZ_CHECK(len - (sizeof(cte_name) - 1) == strlen(cte) &&
                           memcmp(line + sizeof(cte_name) - 1, cte, strlen(cte)) == 0);
        }
        i += len + 2;
    }
    for (int k = 0; once[k] != NULL; k++)
        FUZZ_CHECK(seen[k] || strcmp(once[k], "Subject") == 0 ||
                   strcmp(once[k], "X-Tabularium-Queue-Id") == 0);
    FUZZ_CHECK(boundary != NULL);
    FUZZ_CHECK(strncmp(boundary, "=_tabularium_" ID "_", sizeof("=_tabularium_" ID "_") - 1) == 0);
    return boundary;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct archive_record rec;
    struct original_info info;
    const char *error = NULL;
    const char *cte;
    char sha[65];
    char *out, *boundary, *part;
    size_t out_len, hlen;
    int ret;

    if (orig_fd < 0) {
        index_fields_init();
        orig_fd = fuzz_memfd("fuzz-wrap-orig");
        out_fd = fuzz_memfd("fuzz-wrap-out");
        archive_boundary_hook = hook;
    }
    fuzz_fd_set(orig_fd, data, size);
    fuzz_fd_set(out_fd, "", 0);
    fuzz_info_of((const char *)data, size, &info);
    cte = expected_cte(&info);
    make_record(&rec, data, size);

    ret = archive_write(&rec, &info, orig_fd, out_fd, "archive.test", &error);
    if (ret < 0) {
        FUZZ_CHECK(error != NULL);
        FUZZ_CHECK(strcmp(error, "the original contains every MIME boundary tried") == 0);
        FUZZ_CHECK(
            starts_a_line((const char *)data, size, "--=_tabularium_" ID "_0000000000000000"));
        record_free(&rec);
        return 0;
    }

    out = fuzz_fd_slurp(out_fd, &out_len);
    FUZZ_CHECK(rec.wrapped_size == out_len);
    fuzz_sha256_hex(out, out_len, sha);
    FUZZ_CHECK(strcmp(sha, rec.wrapped_sha256) == 0);

    const char *empty = memmem(out, out_len, "\r\n\r\n", 4);
    FUZZ_CHECK(empty != NULL);
    hlen = (size_t)(empty - out);
    boundary = check_header(out, hlen, cte);

    /* RFC 2046: the part, the original byte for byte, the close delimiter. */
    part = xasprintf("--%s\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: "
                     "%s\r\nContent-Disposition: inline\r\n\r\n",
                     boundary, cte);
    const char *body = empty + 4;
    size_t body_len = out_len - hlen - 4, plen = strlen(part);
    char *close = xasprintf("\r\n--%s--\r\n", boundary);
    size_t clen = strlen(close);
    FUZZ_CHECK(body_len == plen + size + clen);
    FUZZ_CHECK(memcmp(body, part, plen) == 0);
    FUZZ_CHECK(size == 0 || memcmp(body + plen, data, size) == 0);
    FUZZ_CHECK(memcmp(body + plen + size, close, clen) == 0);

    char *delim = xasprintf("--%s", boundary);
    FUZZ_CHECK(!starts_a_line((const char *)data, size, delim));

    free(delim);
    free(close);
    free(part);
    free(boundary);
    free(out);
    record_free(&rec);
    return 0;
}
