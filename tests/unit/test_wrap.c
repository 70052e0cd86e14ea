/*
 * NAME
 *	test_wrap 1
 * SUMMARY
 *	unit test of lmtpd/wrap.c
 * DESCRIPTION
 *	Wraps originals (CRLF, bare LF, no final newline, 8-bit, NUL, long
 *	lines, boundary collisions across read chunks) and compares the
 *	archive message byte for byte with what ARCHITECTURE.md section 3
 *	prescribes; checks the attachment's SHA-256 against the original's,
 *	the wrapped hash and size, and that GMime reads the result back.
 */
/* check.h's check_tmpdir() trips -Wformat-truncation at -O2 (reported to
 * the lead); silence it here until the header is fixed. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gmime/gmime.h>

#include "backends/record.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "lmtpd/spool.h"
#include "lmtpd/wrap.h"

/* Test seam in wrap.c (not in wrap.h): the random part of each boundary. */
extern void (*wrap_boundary_hook)(unsigned attempt, char hex[17]);

#define ID "0123456789ABCDEF0123"
#define B0 "=_tabularium_" ID "_0000000000000000"
#define B1 "=_tabularium_" ID "_1111111111111111"

static const char *tmpdir;

static void hook_fixed(unsigned attempt, char hex[17])
{
    memset(hex, attempt == 0 ? '0' : '1', 16);
    hex[16] = '\0';
}

static void hook_always_zero(unsigned attempt, char hex[17])
{
    (void)attempt;
    memset(hex, '0', 16);
    hex[16] = '\0';
}

/* What the DATA reader records about an original (lmtpd/spool.h). */
static struct spool_info info_of(const char *p, size_t len)
{
    struct spool_info info = {0};
    uint64_t line = 0;

    info.size = len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x80)
            info.has_8bit = 1;
        if (c == 0)
            info.has_nul = 1;
        if (c == '\n' && (i == 0 || p[i - 1] != '\r'))
            info.has_bare_cr_lf = 1;
        if (c == '\r' && (i + 1 == len || p[i + 1] != '\n'))
            info.has_bare_cr_lf = 1;
        if (c == '\n') {
            if (line > 0 && p[i - 1] == '\r')
                line--;
            if (line > info.max_line)
                info.max_line = line;
            line = 0;
        } else {
            line++;
        }
    }
    if (line > info.max_line)
        info.max_line = line;
    info.ends_with_newline = len > 0 && p[len - 1] == '\n';
    return info;
}

static void sha_of(const void *p, size_t len, char hex[SHA256_HEX_SIZE])
{
    struct sha256_ctx *c = sha256_new();

    sha256_update(c, p, len);
    sha256_final_hex(c, hex);
}

static int write_file(const char *name, const char *p, size_t len)
{
    char path[4200];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (len > 0 && write(fd, p, len) != (ssize_t)len)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return fd;
}

static char *read_all(int fd, size_t *len_r)
{
    struct stat st;
    char *p;

    if (fstat(fd, &st) < 0)
        exit(2);
    p = malloc((size_t)st.st_size + 1);
    if (p == NULL || pread(fd, p, (size_t)st.st_size, 0) != st.st_size)
        exit(2);
    p[st.st_size] = '\0';
    *len_r = (size_t)st.st_size;
    return p;
}

static void rec_init(struct archive_record *rec, const char *orig, size_t len)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->archive_id, ID, sizeof(ID));
    rec->queue_id = xstrdup("4XyZ1");
    rec->envelope_from = xstrdup("sender@example.org");
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->arrival = 1795620635; /* Wed, 25 Nov 2026 15:30:35 +0000 */
    rec->size = len;
    sha_of(orig, len, rec->sha256);
    record_add_rcpt(rec, "bob@example.com", "archive+bob=example.com@archive.test", NULL, NULL);
}

/* Wrap orig; on success return the output (heap) and its length. */
static char *wrap(struct archive_record *rec, const char *orig, size_t len, size_t *out_len,
                  int *ret_r, const char **error_r)
{
    struct spool_info info = info_of(orig, len);
    int in = write_file("orig", orig, len);
    int out = write_file("wrap", "", 0);
    char *res = NULL;

    *error_r = NULL;
    *ret_r = wrap_write(rec, &info, in, out, "mx.example.org", error_r);
    if (*ret_r == 0)
        res = read_all(out, out_len);
    close(in);
    close(out);
    return res;
}

/* The archive message the spec prescribes for header + boundary + original. */
static char *expected(const char *header, const char *boundary, const char *cte,
                      const char *orig, size_t len, size_t *elen)
{
    struct spool_info info = info_of(orig, len);
    char *head = xasprintf("%sContent-Type: multipart/mixed; boundary=\"%s\"\r\n"
                           "Content-Transfer-Encoding: %s\r\n\r\n--%s\r\n"
                           "Content-Type: message/rfc822\r\n"
                           "Content-Transfer-Encoding: %s\r\n"
                           "Content-Disposition: inline\r\n\r\n",
                           header, boundary, cte, boundary, cte);
    char *tail = xasprintf("%s--%s--\r\n", info.ends_with_newline ? "" : "\r\n", boundary);
    size_t hl = strlen(head), tl = strlen(tail);
    char *e = xmalloc(hl + len + tl + 1);

    memcpy(e, head, hl);
    memcpy(e + hl, orig, len);
    memcpy(e + hl + len, tail, tl + 1);
    *elen = hl + len + tl;
    free(head);
    free(tail);
    return e;
}

/* The standard header for rec_init() with the given Date/Subject lines. */
static char *std_header(const char *date_subject, const char *cte_unused)
{
    (void)cte_unused;
    return xasprintf("From: <sender@example.org>\r\n"
                     "To: <bob@example.com>\r\n"
                     "%s"
                     "Message-ID: <" ID "@mx.example.org>\r\n"
                     "X-Tabularium-Archive-Id: " ID "\r\n"
                     "X-Tabularium-Queue-Id: 4XyZ1\r\n"
                     "X-Tabularium-Original-SHA256: %%s\r\n"
                     "X-Tabularium-Envelope: complete\r\n"
                     "MIME-Version: 1.0\r\n",
                     date_subject);
}

/*
 * The attachment as a reader finds it: after the part header's empty line,
 * up to "CRLF--B--" (or "--B--" when the original ended with LF).
 */
static int attachment_matches(const char *out, size_t out_len, const char *boundary,
                              int ends_nl, const char *sha)
{
    char *close_delim = xasprintf("%s--%s--\r\n", ends_nl ? "" : "\r\n", boundary);
    char *part_start = xasprintf("\r\n--%s\r\n", boundary);
    const char *p = NULL, *body;
    size_t cl = strlen(close_delim);
    char hex[SHA256_HEX_SIZE];
    int ok = 0;

    p = memmem(out, out_len, part_start, strlen(part_start));
    if (p == NULL)
        goto out;
    body = memmem(p, out_len - (size_t)(p - out), "\r\n\r\n", 4);
    if (body == NULL)
        goto out;
    body += 4;
    if (out_len < cl || memcmp(out + out_len - cl, close_delim, cl) != 0)
        goto out;
    sha_of(body, (size_t)(out + out_len - cl - body), hex);
    ok = strcmp(hex, sha) == 0;
out:
    free(close_delim);
    free(part_start);
    return ok;
}

/* Full check of one wrap against the prescribed bytes. */
static void check_wrap(struct archive_record *rec, const char *orig, size_t len,
                       const char *header_fmt, const char *boundary, const char *cte)
{
    size_t out_len = 0, elen = 0;
    int ret;
    const char *error;
    char *header = xasprintf(header_fmt, rec->sha256);
    char *out = wrap(rec, orig, len, &out_len, &ret, &error);
    char *exp = expected(header, boundary, cte, orig, len, &elen);
    char hex[SHA256_HEX_SIZE];

    CHECK(ret == 0);
    if (ret != 0) {
        fprintf(stderr, "  wrap_write: %s\n", error ? error : "(null)");
        goto out;
    }
    CHECK(out_len == elen && memcmp(out, exp, elen) == 0);
    if (out_len != elen || memcmp(out, exp, elen) != 0) {
        size_t i = 0;
        while (i < out_len && i < elen && out[i] == exp[i])
            i++;
        fprintf(stderr, "  output differs at byte %zu (got %zu bytes, want %zu)\n", i, out_len,
                elen);
        fprintf(stderr, "  got:  %.*s\n  want: %.*s\n", (int)(out_len - i < 120 ? out_len - i : 120),
                out + i, (int)(elen - i < 120 ? elen - i : 120), exp + i);
    }
    CHECK(attachment_matches(out, out_len, boundary, len > 0 && orig[len - 1] == '\n',
                             rec->sha256));
    sha_of(out, out_len, hex);
    CHECK_STR(rec->wrapped_sha256, hex);
    CHECK(rec->wrapped_size == out_len);
out:
    free(header);
    free(out);
    free(exp);
}

#define DATE_SUBJECT "Date: Wed, 25 Nov 2026 16:30:35 +0100\r\nSubject: Hello\r\n"

static void set_raw(struct archive_record *rec, const char *date_raw, const char *subject_raw)
{
    free(rec->date_raw);
    free(rec->subject_raw);
    rec->date_raw = date_raw ? xstrdup(date_raw) : NULL;
    rec->subject_raw = subject_raw ? xstrdup(subject_raw) : NULL;
}

static void test_cte_cases(void)
{
    static const char crlf[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nline one\r\nline two\r\n";
    static const char lf[] = "From: a@b.example\nSubject: Hello\n\nbare lf\n";
    static const char nonl[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nno final newline";
    static const char eight[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nGr\xc3\xbc\xc3\x9f\x65\r\n";
    static const char nul[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nnul \0 byte\r\n";
    static const char cr[] = "From: a@b.example\r\n\r\nbare\rcr\r\n";
    static const char ends_cr[] = "From: a@b.example\r\n\r\nends with cr\r";
    char *hdr = std_header(DATE_SUBJECT, NULL);
    char *longline;
    struct archive_record rec;

    wrap_boundary_hook = hook_fixed;
#define CASE(lit, cte)                                                                             \
    do {                                                                                           \
        rec_init(&rec, (lit), sizeof(lit) - 1);                                                    \
        set_raw(&rec, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello");                                 \
        check_wrap(&rec, (lit), sizeof(lit) - 1, hdr, B0, (cte));                                  \
        record_free(&rec);                                                                         \
    } while (0)
    CASE(crlf, "7bit");
    CASE(lf, "binary");
    CASE(nonl, "7bit");
    CASE(eight, "8bit");
    CASE(nul, "binary");
    CASE(cr, "binary");
    CASE(ends_cr, "binary");
#undef CASE

    /* 998 bytes on a line is still 7bit, 999 is not */
    longline = xmalloc(1100);
    for (int extra = 0; extra < 2; extra++) {
        size_t len = 0;
        memcpy(longline, "Subject: x\r\n\r\n", 14);
        len = 14;
        memset(longline + len, 'L', 998 + (size_t)extra);
        len += 998 + (size_t)extra;
        memcpy(longline + len, "\r\n", 2);
        len += 2;
        rec_init(&rec, longline, len);
        set_raw(&rec, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello");
        check_wrap(&rec, longline, len, hdr, B0, extra ? "binary" : "7bit");
        record_free(&rec);
    }
    free(longline);

    /* an empty original */
    rec_init(&rec, "", 0);
    set_raw(&rec, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello");
    check_wrap(&rec, "", 0, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);
}

static void test_headers(void)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    struct archive_record rec;
    char *hdr;

    wrap_boundary_hook = hook_fixed;

    /* Date fallback: arrival time; no Subject */
    hdr = std_header("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\n", NULL);
    rec_init(&rec, orig, sizeof(orig) - 1);
    check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);

    /* single-digit day, another weekday */
    hdr = std_header("Date: Sun, 1 Mar 2026 00:00:09 +0000\r\n", NULL);
    rec_init(&rec, orig, sizeof(orig) - 1);
    rec.arrival = 1772323209;
    check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);

    /* folding kept; bare-LF folding becomes CRLF; 8-bit and encoded-words verbatim */
    hdr = std_header("Date: Wed, 25 Nov 2026\r\n 16:30:35 +0100\r\n"
                     "Subject: =?UTF-8?B?SMOpbGxv?=\r\n\t=?UTF-8?Q?_W=C3=B6rld?= Gr\xc3\xbc\xc3\x9f\x65\r\n",
                     NULL);
    rec_init(&rec, orig, sizeof(orig) - 1);
    set_raw(&rec, "Wed, 25 Nov 2026\n 16:30:35 +0100",
            "=?UTF-8?B?SMOpbGxv?=\r\n\t=?UTF-8?Q?_W=C3=B6rld?= Gr\xc3\xbc\xc3\x9f\x65");
    check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);

    /* a value that starts with its fold gets no blank after the colon */
    hdr = std_header("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject:\r\n\tfolded first\r\n",
                     NULL);
    rec_init(&rec, orig, sizeof(orig) - 1);
    set_raw(&rec, NULL, "\r\n\tfolded first");
    check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);

    /* an empty Subject is still copied */
    hdr = std_header("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject: \r\n", NULL);
    rec_init(&rec, orig, sizeof(orig) - 1);
    set_raw(&rec, NULL, "");
    check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    record_free(&rec);
    free(hdr);

    /* injection attempts: line breaks not followed by a blank, bare CR,
     * overlong line: Date falls back, Subject is left out */
    {
        static const char *const bad[] = {"x\r\nBcc: evil@x.org", "x\nBcc: evil@x.org",
                                          "x\rBcc: evil@x.org", "x\r\n", "x\n"};
        char overlong[1200];
        memset(overlong, 's', sizeof(overlong) - 1);
        overlong[sizeof(overlong) - 1] = '\0';
        hdr = std_header("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\n", NULL);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            rec_init(&rec, orig, sizeof(orig) - 1);
            set_raw(&rec, bad[i], bad[i]);
            check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
            record_free(&rec);
        }
        rec_init(&rec, orig, sizeof(orig) - 1);
        set_raw(&rec, overlong, overlong);
        check_wrap(&rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
        record_free(&rec);
        free(hdr);

        /* 998 bytes on the Subject line including "Subject: " is fine */
        overlong[998 - 9] = '\0';
        hdr = std_header("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject: %s\r\n", NULL);
        {
            char *h2 = xasprintf(hdr, overlong);
            char *h3 = NULL;
            /* std_header's %%s for the hash became %s: re-escape for check_wrap */
            struct strlist dummy = STRLIST_INIT;
            (void)dummy;
            h3 = xmalloc(strlen(h2) * 2 + 1);
            {
                char *o = h3;
                for (const char *s = h2; *s; s++) {
                    *o++ = *s;
                    if (*s == '%' && s[1] != 's')
                        *o++ = '%';
                }
                *o = '\0';
            }
            rec_init(&rec, orig, sizeof(orig) - 1);
            set_raw(&rec, NULL, overlong);
            check_wrap(&rec, orig, sizeof(orig) - 1, h3, B0, "7bit");
            record_free(&rec);
            free(h2);
            free(h3);
        }
        free(hdr);
    }
}
