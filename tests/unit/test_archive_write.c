/*
 * NAME
 *	test_archive_write 1
 * SUMMARY
 *	unit test of mail/archive_write.c
 * DESCRIPTION
 *	Wraps originals (CRLF, bare LF, no final newline, 8-bit, NUL, long
 *	lines, boundary collisions across read chunks) and compares the
 *	archive message byte for byte with what ARCHITECTURE.md section 3
 *	prescribes; checks the attachment's SHA-256 against the original's,
 *	the wrapped hash and size, and that GMime reads the result back.
 */
#include "tests/unit/check.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <gmime/gmime.h>

#include "backends/record.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "mail/index_fields.h"
#include "lmtpd/spool.h"
#include "mail/archive_write.h"

/* Test seam in archive_write.c (not in archive_write.h): the random part of each boundary. */
extern void (*archive_boundary_hook)(unsigned attempt, char hex[17]);

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
static struct original_info info_of(const char *p, size_t len)
{
    struct original_info info = {0};
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
    struct original_info info = info_of(orig, len);
    int in = write_file("orig", orig, len);
    int out = write_file("wrap", "", 0);
    char *res = NULL;

    *error_r = NULL;
    *ret_r = archive_write(rec, &info, in, out, "mx.example.org", error_r);
    if (*ret_r == 0)
        res = read_all(out, out_len);
    close(in);
    close(out);
    return res;
}

/* The archive message the spec prescribes for header + boundary + original. */
static char *expected(const char *header, const char *boundary, const char *cte, const char *orig,
                      size_t len, size_t *elen)
{
    char *head = xasprintf("%sContent-Type: multipart/mixed; boundary=\"%s\"\r\n"
                           "Content-Transfer-Encoding: %s\r\n\r\n--%s\r\n"
                           "Content-Type: message/rfc822\r\n"
                           "Content-Transfer-Encoding: %s\r\n"
                           "Content-Disposition: inline\r\n\r\n",
                           header, boundary, cte, boundary, cte);
    char *tail = xasprintf("\r\n--%s--\r\n", boundary);
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

/* The header rec_init() records produce, with the given Date/Subject lines. */
static char *std_header(const struct archive_record *rec, const char *date_subject)
{
    return xasprintf("From: <sender@example.org>\r\n"
                     "To: <bob@example.com>\r\n"
                     "%s"
                     "Message-ID: <" ID "@mx.example.org>\r\n"
                     "X-Tabularium-Archive-Id: " ID "\r\n"
                     "X-Tabularium-Queue-Id: 4XyZ1\r\n"
                     "X-Tabularium-Original-SHA256: %s\r\n"
                     "X-Tabularium-Envelope: complete\r\n"
                     "X-Tabularium-Envelope-From: <sender@example.org>\r\n"
                     "X-Tabularium-Envelope-To: <bob@example.com>\r\n"
                     "MIME-Version: 1.0\r\n",
                     date_subject, rec->sha256);
}

/*
 * The attachment as a reader finds it: after the part header's empty line,
 * up to "CRLF--B--" (or "--B--" when the original ended with LF).
 */
/* RFC 2046: the CRLF before the close delimiter belongs to it, so the
 * attachment is everything between the part header and "\r\n--B--\r\n". */
static int attachment_matches(const char *out, size_t out_len, const char *boundary,
                              const char *sha)
{
    char *close_delim = xasprintf("\r\n--%s--\r\n", boundary);
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
static void check_wrap(struct archive_record *rec, const char *orig, size_t len, const char *header,
                       const char *boundary, const char *cte)
{
    size_t out_len = 0, elen = 0;
    int ret;
    const char *error;
    char *out = wrap(rec, orig, len, &out_len, &ret, &error);
    char *exp = expected(header, boundary, cte, orig, len, &elen);
    char hex[SHA256_HEX_SIZE];

    CHECK(ret == 0);
    if (ret != 0) {
        fprintf(stderr, "  archive_write: %s\n", error ? error : "(null)");
        goto out;
    }
    CHECK(out_len == elen && memcmp(out, exp, elen) == 0);
    if (out_len != elen || memcmp(out, exp, elen) != 0) {
        size_t i = 0;
        while (i < out_len && i < elen && out[i] == exp[i])
            i++;
        fprintf(stderr, "  output differs at byte %zu (got %zu bytes, want %zu)\n", i, out_len,
                elen);
        fprintf(stderr, "  got:  %.*s\n  want: %.*s\n",
                (int)(out_len - i < 120 ? out_len - i : 120), out + i,
                (int)(elen - i < 120 ? elen - i : 120), exp + i);
    }
    CHECK(attachment_matches(out, out_len, boundary, rec->sha256));
    sha_of(out, out_len, hex);
    CHECK_STR(rec->wrapped_sha256, hex);
    CHECK(rec->wrapped_size == out_len);
out:
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

/* Wrap len bytes of orig with the raw Date: and Subject: given (and the
 * arrival time, where not 0): the standard header with date_subject, the
 * boundary and the Content-Transfer-Encoding must come out. */
static void wrap_case(const char *orig, size_t len, const char *date_raw, const char *subject_raw,
                      time_t arrival, const char *date_subject, const char *boundary,
                      const char *cte)
{
    struct archive_record rec;
    char *hdr;

    rec_init(&rec, orig, len);
    if (arrival != 0)
        rec.arrival = arrival;
    set_raw(&rec, date_raw, subject_raw);
    hdr = std_header(&rec, date_subject);
    check_wrap(&rec, orig, len, hdr, boundary, cte);
    free(hdr);
    record_free(&rec);
}

/* The Date: line written for the arrival time rec_init() sets. */
#define ARRIVAL_DATE "Date: Wed, 25 Nov 2026 15:30:35 +0000\r\n"

/* An original without Date: or Subject: of its own, wrapped with the
 * boundary given. */
static void boundary_case(const char *orig, size_t len, const char *boundary, const char *cte)
{
    wrap_case(orig, len, NULL, NULL, 0, ARRIVAL_DATE, boundary, cte);
}

static void test_cte_cases(void)
{
    static const char crlf[] =
        "From: a@b.example\r\nSubject: Hello\r\n\r\nline one\r\nline two\r\n";
    static const char lf[] = "From: a@b.example\nSubject: Hello\n\nbare lf\n";
    static const char nonl[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nno final newline";
    static const char eight[] =
        "From: a@b.example\r\nSubject: Hello\r\n\r\nGr\xc3\xbc\xc3\x9f\x65\r\n";
    static const char nul[] = "From: a@b.example\r\nSubject: Hello\r\n\r\nnul \0 byte\r\n";
    static const char cr[] = "From: a@b.example\r\n\r\nbare\rcr\r\n";
    static const char ends_cr[] = "From: a@b.example\r\n\r\nends with cr\r";
    char *longline;

    archive_boundary_hook = hook_fixed;
    static const struct {
        const char *orig;
        size_t len;
        const char *cte;
    } cases[] = {
        {crlf, sizeof(crlf) - 1, "7bit"},         {lf, sizeof(lf) - 1, "binary"},
        {nonl, sizeof(nonl) - 1, "7bit"},         {eight, sizeof(eight) - 1, "8bit"},
        {nul, sizeof(nul) - 1, "binary"},         {cr, sizeof(cr) - 1, "binary"},
        {ends_cr, sizeof(ends_cr) - 1, "binary"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        wrap_case(cases[i].orig, cases[i].len, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello", 0,
                  DATE_SUBJECT, B0, cases[i].cte);

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
        wrap_case(longline, len, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello", 0, DATE_SUBJECT, B0,
                  extra ? "binary" : "7bit");
    }
    free(longline);

    /* an empty original */
    wrap_case("", 0, "Wed, 25 Nov 2026 16:30:35 +0100", "Hello", 0, DATE_SUBJECT, B0, "7bit");
}

/* Wrap orig with the given raw Date/Subject and expect date_subject lines. */
static void header_case(const char *date_raw, const char *subject_raw, time_t arrival,
                        const char *date_subject)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";

    wrap_case(orig, sizeof(orig) - 1, date_raw, subject_raw, arrival, date_subject, B0, "7bit");
}

static void test_date_subject(void)
{
    static const char *const bad[] = {
        "x\r\nBcc: evil@x.org", "x\nBcc: evil@x.org", "x\rBcc: evil@x.org", "x\r\n", "x\n", "x\r"};
    char overlong[1200], *line;

    archive_boundary_hook = hook_fixed;

    /* Date fallback: arrival time in RFC 5322 form; no Subject */
    header_case(NULL, NULL, 0, ARRIVAL_DATE);
    header_case(NULL, NULL, 1772323209, "Date: Sun, 1 Mar 2026 00:00:09 +0000\r\n");

    /* folding kept; bare-LF folding becomes CRLF; 8-bit and encoded-words verbatim */
    header_case("Wed, 25 Nov 2026\n 16:30:35 +0100",
                "=?UTF-8?B?SMOpbGxv?=\r\n\t=?UTF-8?Q?_W=C3=B6rld?= Gr\xc3\xbc\xc3\x9f\x65", 0,
                "Date: Wed, 25 Nov 2026\r\n 16:30:35 +0100\r\n"
                "Subject: =?UTF-8?B?SMOpbGxv?=\r\n\t=?UTF-8?Q?_W=C3=B6rld?= "
                "Gr\xc3\xbc\xc3\x9f\x65\r\n");

    /* a value that starts with its fold gets no blank after the colon */
    header_case(NULL, "\r\n\tfolded first", 0,
                "Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject:\r\n\tfolded first\r\n");
    header_case(NULL, "\n\tfolded first", 0,
                "Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject:\r\n\tfolded first\r\n");

    /* an empty Subject is still copied */
    header_case(NULL, "", 0, "Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject: \r\n");

    /* injection attempts: a line break not followed by a blank, a bare CR:
     * Date falls back to the arrival time, Subject is left out */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        header_case(bad[i], bad[i], 0, ARRIVAL_DATE);

    /* a header line may hold 998 bytes, not 999 */
    memset(overlong, 's', sizeof(overlong) - 1);
    overlong[998 - 9] = '\0';
    line = xasprintf("Date: Wed, 25 Nov 2026 15:30:35 +0000\r\nSubject: %s\r\n", overlong);
    header_case(NULL, overlong, 0, line);
    free(line);
    overlong[998 - 9] = 's';
    overlong[999 - 9] = '\0';
    header_case(NULL, overlong, 0, ARRIVAL_DATE);
    /* ... on every continuation line too */
    overlong[999 - 9] = 's';
    memcpy(overlong, "a\r\n ", 4);
    overlong[4 + 998] = '\0';
    header_case(NULL, overlong, 0, ARRIVAL_DATE);
}

/* Wrap a small original with rec as given; compare the From..To lines,
 * the X-Tabularium-Envelope line and the exact envelope fields (env). */
static void envelope_case(struct archive_record *rec, const char *from_to, const char *status,
                          const char *env)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    char *hdr;

    rec->size = sizeof(orig) - 1;
    sha_of(orig, sizeof(orig) - 1, rec->sha256);
    hdr = xasprintf("%s" ARRIVAL_DATE "Message-ID: <" ID "@mx.example.org>\r\n"
                    "X-Tabularium-Archive-Id: " ID "\r\n"
                    "%s"
                    "X-Tabularium-Original-SHA256: %s\r\n"
                    "X-Tabularium-Envelope: %s\r\n"
                    "%s"
                    "MIME-Version: 1.0\r\n",
                    from_to,
                    rec->queue_id != NULL && strcmp(rec->queue_id, "") != 0
                        ? "X-Tabularium-Queue-Id: 4XyZ1\r\n"
                        : "",
                    rec->sha256, status, env);
    check_wrap(rec, orig, sizeof(orig) - 1, hdr, B0, "7bit");
    free(hdr);
}

static void base_rec(struct archive_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->archive_id, ID, sizeof(ID));
    rec->queue_id = xstrdup("4XyZ1");
    rec->envelope_from = xstrdup("sender@example.org");
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->arrival = 1795620635;
}

/* One case of test_envelope_headers: base_rec() changed as given, and what
 * the wrapper must write for it (see envelope_case). */
struct envelope_row {
    const char *envelope_from, *queue_id; /* NULL: base_rec's */
    int incomplete;                       /* ENVELOPE_INCOMPLETE */
    struct {
        const char *rcpt, *orig;
    } rcpts[7]; /* up to the first NULL rcpt */
    struct addr_row {
        const char *name, *address;
    } hdr_from[2], hdr_to[3], hdr_cc[4]; /* up to the first all-NULL one */
    const char *from_to, *env;           /* the X-Tabularium-Envelope: value follows incomplete */
};

static void add_addrs(struct record_addrs *a, const struct addr_row *row)
{
    for (; row->name != NULL || row->address != NULL; row++)
        record_addrs_add(a, row->name, row->address);
}

static void test_envelope_headers(void)
{
    static const struct envelope_row rows[] = {
        /* all envelope recipients, quoted where needed, folded before 78 */
        {.rcpts = {{"bob@example.com", "archive+bob=example.com@a.test"},
                   {"\"a b\"@x.org", "\"archive+a b=x.org\"@a.test"},
                   {"carol.longname@subdomain.example.net", "x"},
                   {"dave@example.com", "x"},
                   {"erin@example.com", "x"},
                   {"Bob@Example.com", "x"}},
         .from_to =
             "From: <sender@example.org>\r\n"
             "To: <bob@example.com>, <\"a b\"@x.org>, <carol.longname@subdomain.example.net>,\r\n"
             "\t<dave@example.com>, <erin@example.com>\r\n",
         /* every recipient, case and quoting as recorded; a space and a
          * quote are "+HH" so that the value has no white space of its own */
         .env = "X-Tabularium-Envelope-From: <sender@example.org>\r\n"
                "X-Tabularium-Envelope-To: <bob@example.com>\r\n"
                "X-Tabularium-Envelope-To: <+22a+20b+22@x.org>\r\n"
                "X-Tabularium-Envelope-To: <carol.longname@subdomain.example.net>\r\n"
                "X-Tabularium-Envelope-To: <dave@example.com>\r\n"
                "X-Tabularium-Envelope-To: <erin@example.com>\r\n"
                "X-Tabularium-Envelope-To: <Bob@Example.com>\r\n"},
        /* null sender; a comma in a local part; queue id filtered */
        {.envelope_from = "",
         .queue_id = "4Xy\r\nZ1 ",
         .rcpts = {{"doe,john@x.org", "x"}},
         .from_to = "From: <MAILER-DAEMON>\r\nTo: <\"doe,john\"@x.org>\r\n",
         .env = "X-Tabularium-Envelope-From: <>\r\n"
                "X-Tabularium-Envelope-To: <doe,john@x.org>\r\n"},
        /* an envelope address that tries to add a header is quoted */
        {.envelope_from = "a\r\nBcc: evil@x.org",
         .queue_id = "",
         .rcpts = {{"b>\r\nX: y@x.org", "x"}},
         .from_to = "From: <\"a??Bcc: evil\"@x.org>\r\n"
                    "To: <\"b>??X: y\"@x.org>\r\n",
         .env = "X-Tabularium-Envelope-From: <a+0D+0ABcc:+20evil@x.org>\r\n"
                "X-Tabularium-Envelope-To: <b+3E+0D+0AX:+20y@x.org>\r\n"},
        /* no recipients at all */
        {.from_to = "From: <sender@example.org>\r\nTo: undisclosed-recipients:;\r\n",
         .env = "X-Tabularium-Envelope-From: <sender@example.org>\r\n"},
        /* incomplete envelope (always_bcc): header To/Cc stand in */
        {.incomplete = 1,
         .rcpts = {{"archive@archive.test", "archive@archive.test"}},
         .hdr_to = {{"Bob", "bob@example.com"}, {"undisclosed-recipients", NULL}},
         .hdr_cc = {{NULL, "carol@x.org"}, {NULL, "BOB@example.com"}, {"Q", "\"q r\"@x.org"}},
         .hdr_from = {{"Not Me", "from@x.org"}},
         .from_to = "From: <sender@example.org>\r\n"
                    "To: <bob@example.com>, <carol@x.org>, <\"q r\"@x.org>\r\n",
         /* the envelope is what arrived, not the header stand-ins */
         .env = "X-Tabularium-Envelope-From: <sender@example.org>\r\n"
                "X-Tabularium-Envelope-To: <archive@archive.test>\r\n"},
        /* incomplete, but one recipient was decoded: it is listed first */
        {.incomplete = 1,
         .rcpts = {{"archive@archive.test", "archive@archive.test"},
                   {"dec@example.com", "archive+dec=example.com@archive.test"}},
         .hdr_to = {{NULL, "hdr@example.com"}},
         .from_to = "From: <sender@example.org>\r\n"
                    "To: <dec@example.com>, <hdr@example.com>\r\n",
         .env = "X-Tabularium-Envelope-From: <sender@example.org>\r\n"
                "X-Tabularium-Envelope-To: <archive@archive.test>\r\n"
                "X-Tabularium-Envelope-To: <dec@example.com>\r\n"},
        /* incomplete and nothing to show */
        {.incomplete = 1,
         .rcpts = {{"archive@archive.test", "archive@archive.test"}},
         .hdr_to = {{"undisclosed-recipients", NULL}},
         .from_to = "From: <sender@example.org>\r\nTo: undisclosed-recipients:;\r\n",
         .env = "X-Tabularium-Envelope-From: <sender@example.org>\r\n"
                "X-Tabularium-Envelope-To: <archive@archive.test>\r\n"},
    };

    archive_boundary_hook = hook_fixed;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct envelope_row *row = &rows[i];
        struct archive_record rec;

        base_rec(&rec);
        if (row->envelope_from != NULL) {
            free(rec.envelope_from);
            rec.envelope_from = xstrdup(row->envelope_from);
        }
        if (row->queue_id != NULL) {
            free(rec.queue_id);
            rec.queue_id = xstrdup(row->queue_id);
        }
        if (row->incomplete)
            rec.envelope_status = ENVELOPE_INCOMPLETE;
        for (size_t r = 0; r < 7 && row->rcpts[r].rcpt != NULL; r++)
            record_add_rcpt(&rec, row->rcpts[r].rcpt, row->rcpts[r].orig, NULL, NULL);
        add_addrs(&rec.hdr_to, row->hdr_to);
        add_addrs(&rec.hdr_cc, row->hdr_cc);
        add_addrs(&rec.hdr_from, row->hdr_from);
        envelope_case(&rec, row->from_to,
                      row->incomplete ? "incomplete (recipients from To/Cc headers)" : "complete",
                      row->env);
        record_free(&rec);
    }
}

/* A long address of n bytes: printable ASCII, the bytes the envelope
 * fields encode, 8-bit (UTF-8), then "@domain". seed varies the mix. */
static char *long_address(size_t n, unsigned seed)
{
    static const char mix[] = "abc.+=<>\"\\() ,;:x\xc3\xa9z";
    char *a = xmalloc(n + 1);
    size_t dom = strlen("@example.test");

    for (size_t i = 0; i < n - dom; i++)
        a[i] = mix[(i * 7 + seed) % (sizeof(mix) - 1)];
    memcpy(a + n - dom, "@example.test", dom + 1);
    return a;
}

/* 5,000-byte sender and recipients: no header line over 998 bytes, no
 * field that the envelope did not ask for, and the envelope read back from
 * the archive message is exactly what went in (issue 13). */
static void test_long_envelope(void)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    struct archive_record rec;
    struct strlist rcpts = STRLIST_INIT;
    char *from = NULL, *out;
    const char *error = NULL;
    size_t out_len = 0;
    int ret;

    archive_boundary_hook = hook_fixed;
    base_rec(&rec);
    free(rec.envelope_from);
    rec.envelope_from = long_address(5000, 1);
    rec.size = sizeof(orig) - 1;
    sha_of(orig, sizeof(orig) - 1, rec.sha256);
    {
        char *r1 = long_address(5000, 2), *r3 = long_address(5000, 3);
        char *plain = xmalloc(5001);
        memset(plain, 'p', 5000 - 13);
        memcpy(plain + 5000 - 13, "@example.test", 14);
        record_add_rcpt(&rec, r1, r1, NULL, NULL);
        record_add_rcpt(&rec, "short@example.com", "x", NULL, NULL);
        record_add_rcpt(&rec, r3, r3, NULL, NULL);
        record_add_rcpt(&rec, plain, plain, NULL, NULL);
        free(r1);
        free(r3);
        free(plain);
    }
    out = wrap(&rec, orig, sizeof(orig) - 1, &out_len, &ret, &error);
    CHECK(ret == 0);
    if (ret != 0) {
        fprintf(stderr, "  archive_write: %s\n", error);
        record_free(&rec);
        return;
    }

    /* Every line of the whole archive message fits RFC 5322; in the header
     * every line is a continuation or one of the fields wrap writes. */
    {
        static const char *const fields[] = {"From:",
                                             "To:",
                                             "Date:",
                                             "Subject:",
                                             "Message-ID:",
                                             "X-Tabularium-Archive-Id:",
                                             "X-Tabularium-Queue-Id:",
                                             "X-Tabularium-Original-SHA256:",
                                             "X-Tabularium-Envelope:",
                                             "X-Tabularium-Envelope-From:",
                                             "X-Tabularium-Envelope-To:",
                                             "MIME-Version:",
                                             "Content-Type:",
                                             "Content-Transfer-Encoding:",
                                             NULL};
        size_t max = 0, i = 0;
        int in_header = 1, n_to = 0, n_from = 0, bad_field = 0;
        while (i < out_len) {
            const char *line = out + i;
            const char *lf = memchr(line, '\n', out_len - i);
            size_t len = lf != NULL ? (size_t)(lf - line) : out_len - i;
            CHECK(len > 0 && line[len - 1] == '\r');
            if (len - 1 > max)
                max = len - 1;
            if (in_header && len == 1)
                in_header = 0;
            else if (in_header && line[0] != ' ' && line[0] != '\t') {
                int known = 0;
                for (int k = 0; fields[k] != NULL; k++)
                    known |= strncmp(line, fields[k], strlen(fields[k])) == 0;
                bad_field += !known;
                n_to += strncmp(line, "X-Tabularium-Envelope-To:", 25) == 0;
                n_from += strncmp(line, "X-Tabularium-Envelope-From:", 27) == 0;
                if (!known)
                    fprintf(stderr, "  unexpected header line: %.60s\n", line);
            }
            i += len + 1;
        }
        CHECK(max <= 998);
        CHECK(bad_field == 0);
        CHECK(n_from == 1 && n_to == 4);
    }
    /* People see what fits: the sender as an empty group, the one short
     * recipient and the plain 5,000-byte one is left out of To:. */
    CHECK(strncmp(out, "From: envelope-sender-too-long:;\r\nTo: <short@example.com>\r\n", 58) == 0);

    CHECK(archive_read_envelope(out, out_len, &from, &rcpts, &error) == 0);
    CHECK(from != NULL && strcmp(from, rec.envelope_from) == 0);
    CHECK(rcpts.n == rec.n_rcpts);
    for (size_t k = 0; k < rcpts.n && k < rec.n_rcpts; k++)
        CHECK(strcmp(rcpts.v[k], rec.rcpts[k].address) == 0);
    free(from);
    strlist_free(&rcpts);
    free(out);
    record_free(&rec);
}

/* The reader refuses what the writer never produces, returning nothing. */
static void test_read_envelope_errors(void)
{
    static const char *const bad[] = {
        "X-Tabularium-Envelope-From: a@b\r\n\r\n",           /* no brackets */
        "X-Tabularium-Envelope-From: <a+2@b>\r\n\r\n",       /* short +HH */
        "X-Tabularium-Envelope-From: <a+00@b>\r\n\r\n",      /* NUL */
        "X-Tabularium-Envelope-From: <a+G1@b>\r\n\r\n",      /* not hex */
        "X-Tabularium-Envelope-From: <a=b@c>\r\n\r\n",       /* '=' is never plain */
        "X-Tabularium-Envelope-From: <a\xc3\xa9@b>\r\n\r\n", /* raw 8-bit */
        "X-Tabularium-Envelope-From: <a@b>\r\nX-Tabularium-Envelope-From: <c@d>\r\n\r\n",
        "X-Tabularium-Envelope-From: <a@b>\r\nX-Tabularium-Envelope-To: <x\r\n\r\n",
        "To: <a@b>\r\n\r\nX-Tabularium-Envelope-From: <a@b>\r\n", /* only the header counts */
        NULL};
    struct strlist rcpts = STRLIST_INIT;
    char *from = (char *)"unset";
    const char *error = NULL;

    for (int i = 0; bad[i] != NULL; i++) {
        error = NULL;
        CHECK(archive_read_envelope(bad[i], strlen(bad[i]), &from, &rcpts, &error) == -1);
        CHECK(from == NULL && rcpts.n == 0 && error != NULL);
    }
    /* folding and white space anywhere, lower-case hex and field names */
    {
        static const char ok[] = "x-tabularium-envelope-from:\r\n <a +2b\r\n\t+2B b@ c>\r\n"
                                 "X-Tabularium-Envelope-To: <>\n"
                                 "\n";
        CHECK(archive_read_envelope(ok, sizeof(ok) - 1, &from, &rcpts, &error) == 0);
        CHECK(from != NULL && strcmp(from, "a++b@c") == 0);
        CHECK(rcpts.n == 1 && strcmp(rcpts.v[0], "") == 0);
        free(from);
        strlist_free(&rcpts);
    }
}

/* Many recipients: every To line <= 78 bytes, all listed in order. */
static void test_to_folding(void)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    struct archive_record rec;
    struct original_info info = info_of(orig, sizeof(orig) - 1);
    const char *error = NULL;
    char *out, *to, *end, *want;
    size_t out_len = 0, wl = 0;
    int in, fd, ret;

    archive_boundary_hook = hook_fixed;
    base_rec(&rec);
    want = xmalloc(200 * 40);
    for (int i = 0; i < 200; i++) {
        char *a = xasprintf("user%d@%s.example", i, i % 3 == 0 ? "long-subdomain" : "x");
        wl += (size_t)sprintf(want + wl, "%s<%s>", i == 0 ? "" : ", ", a);
        record_add_rcpt(&rec, a, a, NULL, NULL);
        free(a);
    }
    in = write_file("orig", orig, sizeof(orig) - 1);
    fd = write_file("wrap", "", 0);
    ret = archive_write(&rec, &info, in, fd, "mx.example.org", &error);
    CHECK(ret == 0);
    out = read_all(fd, &out_len);
    close(in);
    close(fd);

    to = strstr(out, "\r\nTo: ");
    end = to != NULL ? strstr(to, "\r\nDate: ") : NULL;
    CHECK(to != NULL && end != NULL);
    if (to != NULL && end != NULL) {
        char *joined = xmalloc((size_t)(end - to) + 1), *o = joined;
        int lines = 1, max = 0, cur = 0;
        for (const char *p = to + 2; p < end; p++) {
            if (p[0] == '\r' && p[1] == '\n') {
                CHECK(p[2] == '\t');
                if (cur > max)
                    max = cur;
                cur = 0;
                lines++;
                p += 2; /* skip CRLF; the TAB counts on the next line */
                cur = 1;
                *o++ = ' ';
                continue;
            }
            cur++;
            *o++ = *p;
        }
        if (cur > max)
            max = cur;
        *o = '\0';
        CHECK(max <= 78);
        CHECK(lines > 50);
        /* unfolded: "To: " + the list with ", " separators (", " + fold = ",\t"+...) */
        {
            /* a fold replaced ", " by ",\r\n\t": unfolding gives ", " again */
            char *w = xasprintf("To: %s", want);
            CHECK_STR(joined, w);
            free(w);
        }
        free(joined);
    }
    free(out);
    free(want);
    record_free(&rec);
}

static void test_boundary_collision(void)
{
    size_t len = 300 * 1024, pos;
    char *orig = xmalloc(len);
    struct archive_record rec;
    int n = 0;

    archive_boundary_hook = hook_fixed;

    /* The first boundary occurs at the start of a line that straddles the
     * 64 KiB read size and lies after the first flushed output: the wrap
     * must start over with the second boundary and leave no stale bytes. */
    for (size_t shift = 0; shift < 3; shift++) {
        memset(orig, 'x', len);
        memcpy(orig, "Subject: x\r\n\r\n", 14);
        for (size_t i = 80; i < len; i += 80)
            memcpy(orig + i - 2, "\r\n", 2);
        pos = 3 * 65536 - 5 + shift * 3;
        memcpy(orig + pos - 2, "\r\n--" B0 "\r\n", 2 + 2 + strlen(B0) + 2);
        memcpy(orig + len - 2, "\r\n", 2);
        boundary_case(orig, len, B1, "7bit");
        n++;
    }
    CHECK(n == 3);

    /* Bare CR starts a line too; a bare-LF original; the pattern at offset 0 */
    {
        static const char cr[] = "Subject: x\r\n\r\nbody\r--" B0 "--\r\n";
        static const char lf[] = "Subject: x\n\n--" B0 "\n";
        static const char first[] = "--" B0 "\r\n\r\nbody\r\n";
        boundary_case(cr, sizeof(cr) - 1, B1, "binary");
        boundary_case(lf, sizeof(lf) - 1, B1, "binary");
        boundary_case(first, sizeof(first) - 1, B1, "7bit");
    }

    /* Not at a line start, or only a prefix of it: no restart */
    {
        static const char mid[] = "Subject: x\r\n\r\nx--" B0 "\r\n --" B0 "\r\n--=_tabularium_\r\n";
        boundary_case(mid, sizeof(mid) - 1, B0, "7bit");
    }
    {
        /* the original ends inside the pattern */
        static const char cut[] = "Subject: x\r\n\r\n--=_tabularium_" ID "_000000000000000";
        boundary_case(cut, sizeof(cut) - 1, B0, "7bit");
    }

    /* Every try collides: an error, not a broken archive message */
    {
        static const char first[] = "--" B0 "\r\n\r\nbody\r\n";
        size_t out_len;
        int ret;
        const char *error;
        char *out;
        archive_boundary_hook = hook_always_zero;
        rec_init(&rec, first, sizeof(first) - 1);
        out = wrap(&rec, first, sizeof(first) - 1, &out_len, &ret, &error);
        CHECK(ret == -1);
        CHECK(out == NULL);
        CHECK(error != NULL && strstr(error, "boundary") != NULL);
        record_free(&rec);
        archive_boundary_hook = hook_fixed;
    }
    free(orig);
}

/* Without the hook: a fresh random boundary of the documented form. */
static void test_random_boundary(void)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    char seen[2][80];

    archive_boundary_hook = NULL;
    for (int i = 0; i < 2; i++) {
        struct archive_record rec;
        size_t out_len = 0;
        int ret;
        const char *error, *b;
        char *out;

        rec_init(&rec, orig, sizeof(orig) - 1);
        out = wrap(&rec, orig, sizeof(orig) - 1, &out_len, &ret, &error);
        CHECK(ret == 0);
        seen[i][0] = '\0';
        b = out != NULL ? strstr(out, "boundary=\"") : NULL;
        CHECK(b != NULL);
        if (b != NULL) {
            size_t bl;
            b += 10;
            bl = strcspn(b, "\"");
            CHECK(bl == 13 + 20 + 1 + 16);
            CHECK(strncmp(b, "=_tabularium_" ID "_", 34) == 0);
            CHECK(strspn(b + 34, "0123456789abcdef") == 16);
            snprintf(seen[i], sizeof(seen[i]), "%.*s", (int)bl, b);
            CHECK(attachment_matches(out, out_len, seen[i], rec.sha256));
        }
        free(out);
        record_free(&rec);
    }
    CHECK(strcmp(seen[0], seen[1]) != 0);
    archive_boundary_hook = hook_fixed;
}

static void test_errors(void)
{
    static const char orig[] = "Subject: x\r\n\r\nbody\r\n";
    struct archive_record rec;
    struct original_info info;
    const char *error = NULL;
    int in, out;

    archive_boundary_hook = hook_fixed;
    rec_init(&rec, orig, sizeof(orig) - 1);

    /* an original shorter than the DATA reader said */
    info = info_of(orig, sizeof(orig) - 1);
    info.size += 10;
    in = write_file("orig", orig, sizeof(orig) - 1);
    out = write_file("wrap", "", 0);
    CHECK(archive_write(&rec, &info, in, out, "mx", &error) == -1);
    CHECK(error != NULL && strstr(error, "shorter") != NULL);
    close(out);

    /* unwritable output */
    info.size -= 10;
    CHECK(archive_write(&rec, &info, in, -1, "mx", &error) == -1);
    CHECK(error != NULL && strstr(error, "write") != NULL);

    /* unreadable original */
    out = write_file("wrap", "", 0);
    CHECK(archive_write(&rec, &info, -1, out, "mx", &error) == -1);
    CHECK(error != NULL && strstr(error, "read") != NULL);
    close(out);
    close(in);

    /* an archive id that could inject */
    memcpy(rec.archive_id, "0123456789ABCDEF012\n", 21);
    in = write_file("orig", orig, sizeof(orig) - 1);
    out = write_file("wrap", "", 0);
    CHECK(archive_write(&rec, &info, in, out, "mx", &error) == -1);
    CHECK(error != NULL && strstr(error, "archive id") != NULL);
    close(in);
    close(out);
    record_free(&rec);
}

/* A 5 MB original with every byte value: streamed, byte-identical. */
static void test_large_binary(void)
{
    size_t len = 5 * 1024 * 1024 + 17;
    char *orig = xmalloc(len);
    unsigned x = 12345;

    archive_boundary_hook = hook_fixed;
    memcpy(orig, "Subject: big\r\n\r\n", 16);
    for (size_t i = 16; i < len; i++) {
        x = x * 1103515245u + 12345u;
        orig[i] = (char)(x >> 16);
    }
    boundary_case(orig, len, B0, "binary");
    free(orig);
}

/* GMime reads the archive message: multipart/mixed holding message/rfc822
 * whose header is the original's. */
static void test_gmime_reads_back(void)
{
    static const char orig[] = "From: Alice <alice@example.org>\r\n"
                               "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"
                               "Message-ID: <inner@example.org>\r\n\r\n"
                               "body line\r\n";
    struct archive_record rec;
    size_t out_len = 0;
    int ret;
    const char *error;
    char *out;

    archive_boundary_hook = NULL;
    rec_init(&rec, orig, sizeof(orig) - 1);
    set_raw(&rec, "Wed, 25 Nov 2026 16:30:35 +0100", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=");
    out = wrap(&rec, orig, sizeof(orig) - 1, &out_len, &ret, &error);
    CHECK(ret == 0 && out != NULL);
    if (out != NULL) {
        GMimeStream *stream = g_mime_stream_mem_new_with_buffer(out, out_len);
        GMimeParser *parser = g_mime_parser_new_with_stream(stream);
        GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
        CHECK(msg != NULL);
        if (msg != NULL) {
            GMimeObject *top = g_mime_message_get_mime_part(msg);
            CHECK_STR(g_mime_message_get_subject(msg), "Gr\xc3\xbc\xc3\x9f\x65");
            CHECK_STR(g_mime_message_get_message_id(msg), ID "@mx.example.org");
            CHECK(GMIME_IS_MULTIPART(top));
            if (GMIME_IS_MULTIPART(top)) {
                GMimeMultipart *mp = GMIME_MULTIPART(top);
                CHECK(g_mime_multipart_get_count(mp) == 1);
                if (g_mime_multipart_get_count(mp) == 1) {
                    GMimeObject *part = g_mime_multipart_get_part(mp, 0);
                    CHECK(GMIME_IS_MESSAGE_PART(part));
                    if (GMIME_IS_MESSAGE_PART(part)) {
                        GMimeMessage *inner =
                            g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
                        CHECK(inner != NULL);
                        if (inner != NULL) {
                            CHECK_STR(g_mime_message_get_message_id(inner), "inner@example.org");
                            CHECK_STR(g_mime_message_get_subject(inner), "Gr\xc3\xbc\xc3\x9f\x65");
                        }
                    }
                }
            }
            g_object_unref(msg);
        }
        g_object_unref(parser);
        g_object_unref(stream);
    }
    free(out);
    record_free(&rec);
}

/*
 * The SQLite catalog's indexer extracts body text and attachments from the
 * stored archive message, not from the original (indexer/indexer.c): the
 * original is its one message/rfc822 part, so both must give the same
 * text and the same attachments.
 */
static void test_index_through_wrapper(void)
{
    static const char *const origs[] = {
        "Subject: plain\r\n\r\nQuarterly numbers attached below.\r\nSecond line.\r\n",
        "Subject: none\r\n\r\n",
        "no header at all, just words\r\n",
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln\r\n"
        "--b1\r\nContent-Type: text/html\r\n\r\n<p>ignored alternative</p>\r\n--b1--\r\n",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b2\"\r\n\r\n"
        "--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><style>x{}</style><b>Budget</b> &amp; plan</html>\r\n"
        "--b2\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n"
        "Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
        "--b2\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner words\r\n"
        "--b2--\r\n",
        "Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n\r\n"
        "--never-closed\r\nContent-Type: text/plain\r\n\r\nbroken mime still indexed\r\n",
    };

    for (size_t i = 0; i < sizeof(origs) / sizeof(origs[0]); i++) {
        struct archive_record rec, direct, through;
        const char *error = NULL;
        size_t len = strlen(origs[i]), wlen = 0;
        int ret = -1;

        rec_init(&rec, origs[i], len);
        char *wrapped = wrap(&rec, origs[i], len, &wlen, &ret, &error);
        CHECK(ret == 0 && wrapped != NULL);
        memset(&direct, 0, sizeof(direct));
        memset(&through, 0, sizeof(through));
        int fo = write_file("orig-ix", origs[i], len);
        int fw = write_file("wrap-ix", wrapped ? wrapped : "", wlen);
        CHECK(index_fields_extract_body(fo, &direct, &error) == 0);
        CHECK(index_fields_extract_body(fw, &through, &error) == 0);
        if ((direct.body_text == NULL) != (through.body_text == NULL) ||
            (direct.body_text != NULL && strcmp(direct.body_text, through.body_text) != 0)) {
            fprintf(stderr, "sample %zu: original \"%s\", through the wrapper \"%s\"\n", i,
                    direct.body_text ? direct.body_text : "(null)",
                    through.body_text ? through.body_text : "(null)");
            CHECK(0);
        }
        CHECK(direct.n_attachments == through.n_attachments);
        for (size_t k = 0; k < direct.n_attachments && k < through.n_attachments; k++) {
            CHECK((direct.attachments[k].filename == NULL) ==
                  (through.attachments[k].filename == NULL));
            if (direct.attachments[k].filename != NULL && through.attachments[k].filename != NULL)
                CHECK_STR(through.attachments[k].filename, direct.attachments[k].filename);
            CHECK_STR(through.attachments[k].content_type, direct.attachments[k].content_type);
        }
        close(fo);
        close(fw);
        free(wrapped);
        record_free(&rec);
        record_free(&direct);
        record_free(&through);
    }
}

int main(void)
{
    tmpdir = check_tmpdir("test_archive_write");
    g_mime_init();
    test_cte_cases();
    test_date_subject();
    test_envelope_headers();
    test_to_folding();
    test_long_envelope();
    test_read_envelope_errors();
    test_boundary_collision();
    test_random_boundary();
    test_errors();
    test_large_binary();
    test_gmime_reads_back();
    test_index_through_wrapper();
    g_mime_shutdown();
    return check_done();
}
