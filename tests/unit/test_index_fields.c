/*
 * NAME
 *	test_index_fields 1
 * SUMMARY
 *	unit test of mail/index_fields.c
 * DESCRIPTION
 *	Writes originals to files (CRLF, bare LF, folded and encoded
 *	headers, 8-bit, NUL bytes, missing and broken fields, huge headers)
 *	and checks every catalog field the module fills, byte for byte.
 *
 *	Body text and attachments: multipart/alternative, transfer
 *	encodings and charsets, HTML stripping, nested message/rfc822,
 *	RFC 2231/2047 file names, broken MIME, the text cap, the attachment
 *	caps, and the peak memory (VmHWM) of 50 MB parts and of a message of
 *	300 000 tiny parts.
 */
#include "tests/unit/check.h"

#include <fcntl.h>
#include <time.h>
#include <sys/wait.h>

#include "backends/record.h"
#include "mail/index_fields.h"

static const char *tmpdir;

/* AddressSanitizer keeps freed blocks in a quarantine (256 MB by default)
 * that test_body_memory would see as peak RSS; it measures what the
 * extraction holds, not what it has freed. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "quarantine_size_mb=1";
}
#endif

/* Extract from len bytes of msg into a fresh *rec; returns the result. */
static int extract(const char *msg, size_t len, struct archive_record *rec)
{
    char path[4200];
    const char *error = NULL;
    int fd, r;

    memset(rec, 0, sizeof(*rec));
    snprintf(path, sizeof(path), "%s/orig", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, msg, len) != (ssize_t)len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    r = index_fields_extract(fd, rec, &error);
    if (r != 0)
        fprintf(stderr, "extract: %s\n", error ? error : "(no error)");
    close(fd);
    return r;
}

/* Strict UTF-8 check (no overlongs, no surrogates), independent of GMime. */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != 0) {
        int n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

#define EXTRACT(lit, rec) extract((lit), sizeof(lit) - 1, (rec))

#define check_addr(a, i, name, addr) check_addr_at(__LINE__, a, i, name, addr)
static void check_addr_at(int line, const struct record_addrs *a, size_t i, const char *name,
                          const char *addr)
{
    int failed = check_failed;

    CHECK(i < a->n);
    if (i < a->n) {
        if (name == NULL)
            CHECK(a->v[i].name == NULL);
        else
            CHECK_STR(a->v[i].name, name);
        if (addr == NULL)
            CHECK(a->v[i].address == NULL);
        else
            CHECK_STR(a->v[i].address, addr);
    }
    if (check_failed != failed)
        fprintf(stderr, "  (address %zu checked at line %d)\n", i, line);
}

static void test_crlf_basic(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("Received: from x by y; Wed, 25 Nov 2026 16:30:40 +0100\r\n"
                  "From: \"Doe, John\" <john@example.com>\r\n"
                  "To: a@x.org, \"B\" <b@y.org>\r\n"
                  "Cc: =?UTF-8?Q?J=C3=B6rg?= <j@x.de>, c@z.org\r\n"
                  "Date: Wed, 25 Nov 2026 16:30:35 +0100\r\n"
                  "Subject: Hello there\r\n"
                  "Message-ID: <abc.123@x.example>\r\n"
                  "\r\n"
                  "Subject: not a header, this is the body\r\n"
                  "From: body@x.org\r\n",
                  &rec) == 0);
    CHECK(rec.hdr_from.n == 1);
    check_addr(&rec.hdr_from, 0, "Doe, John", "john@example.com");
    CHECK(rec.hdr_to.n == 2);
    check_addr(&rec.hdr_to, 0, NULL, "a@x.org");
    check_addr(&rec.hdr_to, 1, "B", "b@y.org");
    CHECK(rec.hdr_cc.n == 2);
    check_addr(&rec.hdr_cc, 0, "J\xc3\xb6rg", "j@x.de");
    check_addr(&rec.hdr_cc, 1, NULL, "c@z.org");
    CHECK_STR(rec.date, "2026-11-25T15:30:35Z");
    CHECK_STR(rec.date_raw, "Wed, 25 Nov 2026 16:30:35 +0100");
    CHECK_STR(rec.subject, "Hello there");
    CHECK_STR(rec.subject_raw, "Hello there");
    CHECK_STR(rec.message_id, "abc.123@x.example");
    record_free(&rec);
}

static void test_bare_lf(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("From: Alice <alice@example.org>\n"
                  "To: bob@example.com\n"
                  "Subject: plain\n"
                  "\ttwo lines\n"
                  "Date: Thu, 1 Jan 1970 00:00:00 +0000\n"
                  "Message-Id: <lf@x>\n"
                  "\n"
                  "body\n",
                  &rec) == 0);
    check_addr(&rec.hdr_from, 0, "Alice", "alice@example.org");
    check_addr(&rec.hdr_to, 0, NULL, "bob@example.com");
    CHECK(rec.hdr_cc.n == 0);
    CHECK_STR(rec.subject_raw, "plain\n\ttwo lines");
    CHECK_STR(rec.subject, "plain\ttwo lines");
    CHECK_STR(rec.date, "1970-01-01T00:00:00Z");
    CHECK_STR(rec.date_raw, "Thu, 1 Jan 1970 00:00:00 +0000");
    CHECK_STR(rec.message_id, "lf@x");
    record_free(&rec);
}

static void test_folded_encoded_subject(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("Subject: =?UTF-8?B?SMOpbGxv?=\r\n"
                  " =?UTF-8?Q?_W=C3=B6rld?=\r\n"
                  "Date:\r\n"
                  "  Wed, 25 Nov 2026\r\n"
                  "\t16:30:35 -0500  \r\n"
                  "\r\n",
                  &rec) == 0);
    CHECK_STR(rec.subject, "H\xc3\xa9llo W\xc3\xb6rld");
    CHECK_STR(rec.subject_raw, "=?UTF-8?B?SMOpbGxv?=\r\n =?UTF-8?Q?_W=C3=B6rld?=");
    CHECK_STR(rec.date_raw, "\r\n  Wed, 25 Nov 2026\r\n\t16:30:35 -0500  ");
    CHECK_STR(rec.date, "2026-11-25T21:30:35Z");
    record_free(&rec);
}

static void test_8bit_subject(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("Subject: Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln\r\n"
                  "From: J\xc3\xb6rg <joerg@example.de>\r\n\r\n",
                  &rec) == 0);
    CHECK_STR(rec.subject, "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln");
    CHECK_STR(rec.subject_raw, "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln");
    check_addr(&rec.hdr_from, 0, "J\xc3\xb6rg", "joerg@example.de");
    record_free(&rec);

    /* Latin-1 without declaration: raw kept, decoded is valid UTF-8 */
    CHECK(EXTRACT("Subject: caf\xe9\r\n\r\n", &rec) == 0);
    CHECK_STR(rec.subject_raw, "caf\xe9");
    CHECK_STR(rec.subject, "caf\xc3\xa9");
    record_free(&rec);

    /* an encoded-word with an unknown charset still yields valid UTF-8 */
    CHECK(EXTRACT("Subject: =?x-unknown?B?/w==?= end\r\n\r\n", &rec) == 0);
    CHECK_STR(rec.subject_raw, "=?x-unknown?B?/w==?= end");
    CHECK(rec.subject != NULL && utf8_valid(rec.subject));
    record_free(&rec);
}

static void test_missing_and_bad(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("X-Mailer: none\r\n\r\nbody\r\n", &rec) == 0);
    CHECK(rec.hdr_from.n == 0 && rec.hdr_to.n == 0 && rec.hdr_cc.n == 0);
    CHECK(rec.date == NULL);
    CHECK(rec.date_raw == NULL);
    CHECK(rec.subject == NULL);
    CHECK(rec.subject_raw == NULL);
    CHECK(rec.message_id == NULL);
    record_free(&rec);

    CHECK(EXTRACT("Date: not a date at all\r\nSubject:\r\nMessage-ID: <>\r\n"
                  "From: <<<>>> ,,, @@\r\nTo:\r\n\r\n",
                  &rec) == 0);
    CHECK(rec.date == NULL);
    CHECK_STR(rec.date_raw, "not a date at all");
    CHECK_STR(rec.subject, "");
    CHECK_STR(rec.subject_raw, "");
    CHECK(rec.message_id == NULL);
    CHECK(rec.hdr_from.n == 0);
    CHECK(rec.hdr_to.n == 0);
    record_free(&rec);

    /* an empty header: the message starts with its empty line */
    CHECK(EXTRACT("\r\nSubject: body text\r\n", &rec) == 0);
    CHECK(rec.subject_raw == NULL && rec.subject == NULL);
    record_free(&rec);
    CHECK(EXTRACT("\nSubject: body text\n", &rec) == 0);
    CHECK(rec.subject_raw == NULL);
    record_free(&rec);

    /* an empty file */
    CHECK(extract("", 0, &rec) == 0);
    CHECK(rec.subject_raw == NULL && rec.hdr_from.n == 0);
    record_free(&rec);

    /* unreadable fd: the one real error */
    {
        const char *error = NULL;
        memset(&rec, 0, sizeof(rec));
        CHECK(index_fields_extract(-1, &rec, &error) == -1);
        CHECK(error != NULL);
        record_free(&rec);
    }
}

static void test_addresses(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("From: \"Doe, John\" <john@example.com>\r\n"
                  "To: friends: a@x.org, \"B\" <b@y.org>;, c@z.org\r\n"
                  "Cc: undisclosed-recipients:;\r\n"
                  "To: second@header.example\r\n"
                  "Cc: \"a b\"@quoted.example,\r\n"
                  "  Folded Name\r\n"
                  "   <folded@x.org>\r\n"
                  "\r\n",
                  &rec) == 0);
    check_addr(&rec.hdr_from, 0, "Doe, John", "john@example.com");
    CHECK(rec.hdr_to.n == 4);
    check_addr(&rec.hdr_to, 0, NULL, "a@x.org");
    check_addr(&rec.hdr_to, 1, "B", "b@y.org");
    check_addr(&rec.hdr_to, 2, NULL, "c@z.org");
    check_addr(&rec.hdr_to, 3, NULL, "second@header.example");
    CHECK(rec.hdr_cc.n == 3);
    check_addr(&rec.hdr_cc, 0, "undisclosed-recipients", NULL);
    check_addr(&rec.hdr_cc, 1, NULL, "\"a b\"@quoted.example");
    check_addr(&rec.hdr_cc, 2, "Folded Name", "folded@x.org");
    record_free(&rec);
}

static void test_first_occurrence_and_syntax(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("From mbox-line Wed Nov 25 16:30:35 2026\r\n"
                  " stray continuation\r\n"
                  "SUBJECT :\tfirst \r\n"
                  "Subject: second\r\n"
                  "message-id:\r\n <folded@id>\r\n"
                  "Date: Wed, 25 Nov 2026 16:30:35 +0000\r\n"
                  "Date: Thu, 26 Nov 2026 16:30:35 +0000\r\n"
                  "\r\n",
                  &rec) == 0);
    CHECK_STR(rec.subject_raw, "first ");
    CHECK_STR(rec.subject, "first");
    CHECK_STR(rec.message_id, "folded@id");
    CHECK_STR(rec.date, "2026-11-25T16:30:35Z");
    record_free(&rec);
}

static void test_no_body(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("From: a@b.example\r\nSubject: only a header\r\n", &rec) == 0);
    check_addr(&rec.hdr_from, 0, NULL, "a@b.example");
    CHECK_STR(rec.subject_raw, "only a header");
    record_free(&rec);

    /* no line ending at all, and a fold that runs into EOF */
    CHECK(EXTRACT("Subject: cut", &rec) == 0);
    CHECK_STR(rec.subject_raw, "cut");
    record_free(&rec);
    CHECK(EXTRACT("Subject: cut\r\n more", &rec) == 0);
    CHECK_STR(rec.subject_raw, "cut\r\n more");
    CHECK_STR(rec.subject, "cut more");
    record_free(&rec);

    /* mixed line endings: LF then CRLF make the empty line */
    CHECK(EXTRACT("Subject: mixed\n\r\nSubject: body\r\n", &rec) == 0);
    CHECK_STR(rec.subject_raw, "mixed");
    record_free(&rec);
    CHECK(EXTRACT("To: t@x.org\r\n\nCc: body@x.org\r\n", &rec) == 0);
    CHECK(rec.hdr_to.n == 1 && rec.hdr_cc.n == 0);
    record_free(&rec);
}

static void test_nul_bytes(void)
{
    struct archive_record rec;
    static const char msg[] = "Subject: a\0b\r\n"
                              "X-Bin: \0\0\0\xff\r\n"
                              "From: c@d.example\r\n"
                              "To: \0x@y.example\r\n"
                              "Date: Wed, 25 Nov 2026 16:30:35 +0000\0junk\r\n"
                              "\r\n"
                              "\0body\0";

    CHECK(extract(msg, sizeof(msg) - 1, &rec) == 0);
    CHECK_STR(rec.subject_raw, "a");
    CHECK_STR(rec.subject, "a");
    check_addr(&rec.hdr_from, 0, NULL, "c@d.example");
    CHECK(rec.hdr_to.n == 0);
    CHECK_STR(rec.date_raw, "Wed, 25 Nov 2026 16:30:35 +0000");
    CHECK_STR(rec.date, "2026-11-25T16:30:35Z");
    record_free(&rec);
}

/* Append header lines until *len is exactly target (at least 6 more bytes). */
static void pad(char *buf, size_t *len, size_t target)
{
    size_t r;

    if (target < *len + 6) {
        fprintf(stderr, "pad: bad target\n");
        exit(2);
    }
    while (target - *len >= 86) {
        memcpy(buf + *len, "X-Pad: ", 7);
        memset(buf + *len + 7, 'a', 71);
        memcpy(buf + *len + 78, "\r\n", 2);
        *len += 80;
    }
    r = target - *len;
    memcpy(buf + *len, "X-P:", 4);
    memset(buf + *len + 4, 'b', r - 6);
    memcpy(buf + *len + r - 2, "\r\n", 2);
    *len = target;
}

static void test_big_headers(void)
{
    struct archive_record rec;
    size_t cap = 3 * 1024 * 1024, len = 0;
    char *buf = malloc(cap);

    CHECK(buf != NULL);
    if (buf == NULL)
        return;

    /* 2 MB of header: what lies beyond INDEX_FIELDS_HEADER_MAX is not seen */
    len = 0;
    memcpy(buf, "Subject: early\r\nFrom: early@x.org\r\n", 35);
    len = 35;
    pad(buf, &len, 2 * 1024 * 1024);
    memcpy(buf + len, "Cc: late@x.org\r\n\r\nbody\r\n", 24);
    len += 24;
    CHECK(extract(buf, len, &rec) == 0);
    CHECK_STR(rec.subject_raw, "early");
    check_addr(&rec.hdr_from, 0, NULL, "early@x.org");
    CHECK(rec.hdr_cc.n == 0);
    record_free(&rec);

    /* a field straddling the limit is dropped, not cut */
    len = 0;
    pad(buf, &len, INDEX_FIELDS_HEADER_MAX - 10);
    memcpy(buf + len, "Subject: straddles the limit\r\n\r\n", 32);
    len += 32;
    CHECK(extract(buf, len, &rec) == 0);
    CHECK(rec.subject_raw == NULL);
    record_free(&rec);

    /* a field that ends exactly at the limit is seen */
    len = 0;
    pad(buf, &len, INDEX_FIELDS_HEADER_MAX - 15);
    memcpy(buf + len, "Subject: fits\r\nCc: over@x.org\r\n\r\n", 34);
    len += 34;
    CHECK(extract(buf, len, &rec) == 0);
    CHECK_STR(rec.subject_raw, "fits");
    CHECK(rec.hdr_cc.n == 0);
    record_free(&rec);

    /* the empty line straddles the 64 KiB read size, at every offset */
    for (size_t shift = 0; shift < 4; shift++) {
        len = 0;
        memcpy(buf, "Subject: s\r\n", 12);
        len = 12;
        pad(buf, &len, 65536 - 2 + shift);
        memcpy(buf + len, "\r\nSubject: body\r\nCc: body@x.org\r\n", 33);
        len += 33;
        CHECK(extract(buf, len, &rec) == 0);
        CHECK_STR(rec.subject_raw, "s");
        CHECK(rec.hdr_cc.n == 0);
        record_free(&rec);
    }

    /* one 2 MB line without any line ending */
    len = 0;
    memcpy(buf, "Subject: ", 9);
    memset(buf + 9, 'z', 2 * 1024 * 1024);
    len = 9 + 2 * 1024 * 1024;
    CHECK(extract(buf, len, &rec) == 0);
    CHECK(rec.subject_raw != NULL && strlen(rec.subject_raw) == INDEX_FIELDS_HEADER_MAX - 9);
    record_free(&rec);

    free(buf);
}

/* Queue id from the topmost Received: only when Postfix wrote it; the loop
 * guard's X-Tabularium-Archive-Id only when well-formed. */
static void test_received_and_loop_id(void)
{
    static const struct {
        const char *msg, *received_id, *loop_id;
    } cases[] = {
        {"Received: by gw.example (Postfix, from userid 0)\r\n\tid 4XyZ1aBcD2; Wed, 25 Nov "
         "2026 10:00:00 +0100\r\nReceived: by x (Postfix) id 4OTHER99\r\n\r\n",
         "4XyZ1aBcD2", NULL},
        {"Received: from c.example (c.example [192.0.2.1])\r\n\tby mx.example (Postfix) with "
         "ESMTPS id 4Q2w3e4R5t\r\n\tfor <b@example.com>; Wed, 25 Nov 2026\r\n\r\n",
         "4Q2w3e4R5t", NULL},
        {"Received: from c by mx (Exim 4.96) with esmtp id 1t2u3v-000ABC-9z\r\n\r\n", NULL, NULL},
        {"Subject: x\r\nReceived: by mx (Postfix) id AB\r\n\r\n", NULL, NULL}, /* too short */
        {"X-Tabularium-Archive-Id: 6B070F6A6089D03379F3\r\n\r\n", NULL, "6B070F6A6089D03379F3"},
        {"X-Tabularium-Archive-Id: ../../etc/passwd\r\n\r\n", NULL, NULL},
        {"x-tabularium-archive-id:\r\n 6B070F6A6089D03379F3\r\n\r\n", NULL, "6B070F6A6089D03379F3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct archive_record rec;
        memset(&rec, 0, sizeof(rec));
        CHECK(extract(cases[i].msg, strlen(cases[i].msg), &rec) == 0);
        if (cases[i].received_id)
            CHECK_STR(rec.received_id, cases[i].received_id);
        else
            CHECK(rec.received_id == NULL);
        if (cases[i].loop_id)
            CHECK_STR(rec.loop_archive_id, cases[i].loop_id);
        else
            CHECK(rec.loop_archive_id == NULL);
        record_free(&rec);
    }
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A quadratic parser takes minutes on the inputs below; a linear one well
 * under a second, ASan included. */
#define HOSTILE_SECONDS 10.0

/* Header text of tokens joined into lines of at most 900 bytes (folded
 * with CRLF SP), as a sender staying under line limits would. */
struct folder {
    char *buf;
    size_t len, cap, line;
};

static void fold_add(struct folder *f, const char *tok)
{
    size_t n = strlen(tok);

    if (f->len + n + 8 > f->cap) {
        f->cap = (f->len + n + 8) * 2;
        f->buf = realloc(f->buf, f->cap);
        if (f->buf == NULL)
            exit(2);
    }
    if (f->line > 0 && f->line + n > 900) {
        memcpy(f->buf + f->len, "\r\n ", 3);
        f->len += 3;
        f->line = 1;
    }
    memcpy(f->buf + f->len, tok, n);
    f->len += n;
    f->line += n;
    f->buf[f->len] = '\0';
}

static void test_hostile_addresses(void)
{
    struct archive_record rec;
    struct folder f = {0};
    double t0;
    char tok[32];

    /* 45 000 nested groups in a Cc: of 900-byte lines: GMime recursed per
     * group until the stack overflowed (SIGSEGV) */
    fold_add(&f, "From: a@b.test\r\nCc: ");
    for (int i = 0; i < 45000; i++)
        fold_add(&f, "g:");
    fold_add(&f, "x@y.test");
    for (int i = 0; i < 45000; i++)
        fold_add(&f, ";");
    fold_add(&f, "\r\nSubject: after the groups\r\n\r\nbody\r\n");
    CHECK(f.len > 90000 && f.len < 200000);
    t0 = now_s();
    CHECK(extract(f.buf, f.len, &rec) == 0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK(rec.hdr_cc.n == 1);
    check_addr(&rec.hdr_cc, 0, NULL, "x@y.test");
    check_addr(&rec.hdr_from, 0, NULL, "a@b.test");
    CHECK_STR(rec.subject, "after the groups");
    record_free(&rec);

    /* nested groups are flattened; an empty group is its name; a group
     * left open still counts */
    CHECK(EXTRACT("To: outer: inner: a@x.test;, b@x.test;, empty:;\r\n"
                  "Cc: open: c@x.test, \"D\" <d@x.test>\r\n\r\n",
                  &rec) == 0);
    CHECK(rec.hdr_to.n == 3);
    check_addr(&rec.hdr_to, 0, NULL, "a@x.test");
    check_addr(&rec.hdr_to, 1, NULL, "b@x.test");
    check_addr(&rec.hdr_to, 2, "empty", NULL);
    CHECK(rec.hdr_cc.n == 2);
    check_addr(&rec.hdr_cc, 1, "D", "d@x.test");
    record_free(&rec);

    /* 100 000 addresses in one header: the first INDEX_FIELDS_ADDRESSES_MAX
     * are kept, in order, and a later To: adds nothing */
    f.len = f.line = 0;
    fold_add(&f, "To: ");
    for (int i = 0; i < 100000; i++) {
        snprintf(tok, sizeof(tok), "%x@t,", i);
        fold_add(&f, tok);
    }
    fold_add(&f, "\r\nTo: late@t\r\n\r\n");
    CHECK(f.len < INDEX_FIELDS_HEADER_MAX);
    t0 = now_s();
    CHECK(extract(f.buf, f.len, &rec) == 0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK(rec.hdr_to.n == INDEX_FIELDS_ADDRESSES_MAX);
    check_addr(&rec.hdr_to, 0, NULL, "0@t");
    snprintf(tok, sizeof(tok), "%x@t", INDEX_FIELDS_ADDRESSES_MAX - 1);
    check_addr(&rec.hdr_to, INDEX_FIELDS_ADDRESSES_MAX - 1, NULL, tok);
    record_free(&rec);

    /* 100 000 unquoted commas in one display name ("Doe, John <j@x>" as
     * GMime accepts it) and without the angle address: each comma must not
     * look ahead to the end again */
    for (int angle = 0; angle < 2; angle++) {
        f.len = f.line = 0;
        fold_add(&f, "To: ");
        for (int i = 0; i < 100000; i++)
            fold_add(&f, "a, ");
        fold_add(&f, angle ? "z <z@t>\r\n\r\n" : "z\r\n\r\n");
        t0 = now_s();
        CHECK(extract(f.buf, f.len, &rec) == 0);
        CHECK(now_s() - t0 < HOSTILE_SECONDS);
        if (angle) {
            CHECK(rec.hdr_to.n == 1 && rec.hdr_to.v[0].name != NULL &&
                  strcmp(rec.hdr_to.v[0].address, "z@t") == 0 &&
                  strncmp(rec.hdr_to.v[0].name, "a, a, a,", 8) == 0);
        } else {
            CHECK(rec.hdr_to.n == INDEX_FIELDS_ADDRESSES_MAX);
            check_addr(&rec.hdr_to, 0, NULL, "a");
        }
        record_free(&rec);
    }

    /* 50 000 nested comments in From:, closed and unclosed, and 100 000
     * unclosed quotes */
    for (int shape = 0; shape < 3; shape++) {
        f.len = f.line = 0;
        fold_add(&f, shape == 2 ? "From: x <a@b.test> " : "From: ");
        for (int i = 0; i < (shape == 2 ? 100000 : 50000); i++)
            fold_add(&f, shape == 2 ? "\"" : "(");
        if (shape == 0)
            for (int i = 0; i < 50000; i++)
                fold_add(&f, ")");
        if (shape != 2)
            fold_add(&f, " <a@b.test>");
        fold_add(&f, "\r\nTo: c@d.test\r\n\r\n");
        t0 = now_s();
        CHECK(extract(f.buf, f.len, &rec) == 0);
        CHECK(now_s() - t0 < HOSTILE_SECONDS);
        if (shape == 0)
            check_addr(&rec.hdr_from, 0, NULL, "a@b.test");
        else if (shape == 2)
            check_addr(&rec.hdr_from, 0, "x", "a@b.test");
        else
            CHECK(rec.hdr_from.n == 0); /* the address is inside the comment */
        check_addr(&rec.hdr_to, 0, NULL, "c@d.test");
        record_free(&rec);
    }

    /* shapes a random sweep found quadratic (15 s for 300 kB): an
     * obs-route without its ":", an unclosed comment after "@", escaped
     * quotes that never close */
    {
        static const char *const units[] = {"@,<", " q@(?,", "\"\\\",", "a (b,", "<@a,"};
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            f.len = f.line = 0;
            fold_add(&f, "To: ok@x.test, ");
            for (int i = 0; i < 150000; i++)
                fold_add(&f, units[u]);
            fold_add(&f, "\r\n\r\n");
            t0 = now_s();
            CHECK(extract(f.buf, f.len, &rec) == 0);
            CHECK(now_s() - t0 < HOSTILE_SECONDS);
            check_addr(&rec.hdr_to, 0, NULL, "ok@x.test");
            record_free(&rec);
        }
    }
    free(f.buf);
}

/* What GMime's address parser gave for the loose forms of real mail, kept. */
static void test_address_forms(void)
{
    struct archive_record rec;

    CHECK(EXTRACT("To: Doe, John <j@x.test>, <@r1.test,@r2.test:route@c.test>,\r\n"
                  "  u@c.test (Comment (nested) Name), u2 (x) @ c . test,\r\n"
                  "  user@d.test <user@d.test>, \"Unclosed <q@x.test>\r\n"
                  "Cc: <<extra@x.test>>, missing@x.test>, Name <open@x.test,\r\n"
                  "  John Smith, alice, a@[192.0.2.1], dot@x.test., Dr. J. Doe <j@d.test>,\r\n"
                  "  \"a\\\"b\" <esc@x.test>, =?UTF-8?Q?J=C3=B6rg?= <jo@x.test>,\r\n"
                  "  x@xn--bcher-kva.example, y@xn--bcher-k888888d\r\n\r\n",
                  &rec) == 0);
    CHECK(rec.hdr_to.n == 6);
    check_addr(&rec.hdr_to, 0, "Doe, John", "j@x.test");
    check_addr(&rec.hdr_to, 1, NULL, "route@c.test");
    check_addr(&rec.hdr_to, 2, "Comment (nested) Name", "u@c.test");
    check_addr(&rec.hdr_to, 3, NULL, "u2@c.test");
    check_addr(&rec.hdr_to, 4, "user@d.test", "user@d.test");
    check_addr(&rec.hdr_to, 5, "Unclosed", "q@x.test");
    CHECK(rec.hdr_cc.n == 11);
    check_addr(&rec.hdr_cc, 0, NULL, "extra@x.test");
    check_addr(&rec.hdr_cc, 1, NULL, "missing@x.test");
    check_addr(&rec.hdr_cc, 2, "Name", "open@x.test");
    /* "John Smith" is words, not an address; "alice" has no domain */
    check_addr(&rec.hdr_cc, 3, NULL, "alice");
    check_addr(&rec.hdr_cc, 4, NULL, "a@[192.0.2.1]");
    check_addr(&rec.hdr_cc, 5, NULL, "dot@x.test");
    check_addr(&rec.hdr_cc, 6, "Dr. J. Doe", "j@d.test");
    check_addr(&rec.hdr_cc, 7, "a\"b", "esc@x.test");
    check_addr(&rec.hdr_cc, 8, "J\xc3\xb6rg", "jo@x.test");
    check_addr(&rec.hdr_cc, 9, NULL,
               "x@b\xc3\xbc"
               "cher.example");
    /* bad Punycode (GLib decodes it beyond U+10FFFF) stays as written */
    check_addr(&rec.hdr_cc, 10, NULL, "y@xn--bcher-k888888d");
    record_free(&rec);

    /* bytes that are not UTF-8: a Latin-1 name is converted, an address
     * is dropped rather than indexed wrong */
    CHECK(EXTRACT("From: Caf\xe9 <cafe@x.test>, b\xff@x.test\r\n\r\n", &rec) == 0);
    CHECK(rec.hdr_from.n == 1);
    check_addr(&rec.hdr_from, 0, "Caf\xc3\xa9", "cafe@x.test");
    record_free(&rec);
}

static void test_hostile_subject(void)
{
    struct archive_record rec;
    size_t n = 60000, len;
    char *buf = malloc(INDEX_FIELDS_HEADER_MAX), *want = malloc(3 * n + 16);
    double t0;

    CHECK(buf != NULL && want != NULL);
    if (buf == NULL || want == NULL)
        return;
    /* a 960 kB subject of 60 000 encoded words */
    len = (size_t)sprintf(buf, "Subject: ");
    for (size_t i = 0; i < n; i++, len += 16)
        memcpy(buf + len, "=?utf-8?q?abc?= ", 16);
    len += (size_t)sprintf(buf + len, "\r\n\r\n");
    for (size_t i = 0; i < n; i++)
        memcpy(want + 3 * i, "abc", 3);
    want[3 * n] = '\0';
    t0 = now_s();
    CHECK(extract(buf, len, &rec) == 0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK_STR(rec.subject, want);
    CHECK(rec.subject_raw != NULL && strlen(rec.subject_raw) == 16 * n);
    record_free(&rec);

    /* 120 000 openers "=?x?q?" never closed, after a real encoded word:
     * GMime alone took minutes (11 s for a third of this) */
    len = (size_t)sprintf(buf, "Subject: =?utf-8?q?ok?= ");
    for (size_t i = 0; i < 120000; i++, len += 8)
        memcpy(buf + len, "=?x?q?a ", 8);
    len += (size_t)sprintf(buf + len, "\r\n\r\n");
    t0 = now_s();
    CHECK(extract(buf, len, &rec) == 0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK(rec.subject != NULL && strncmp(rec.subject, "ok =?x?q?a =?x?q?a ", 19) == 0);
    CHECK(rec.subject != NULL && strlen(rec.subject) == 3 + 120000 * 8 - 1);
    record_free(&rec);

    /* the same in a display name */
    len = (size_t)sprintf(buf, "From: ");
    for (size_t i = 0; i < 100000; i++, len += 8)
        memcpy(buf + len, "=?x?q?a ", 8);
    len += (size_t)sprintf(buf + len, "<n@x.test>\r\n\r\n");
    t0 = now_s();
    CHECK(extract(buf, len, &rec) == 0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK(rec.hdr_from.n == 1 && rec.hdr_from.v[0].name != NULL &&
          strcmp(rec.hdr_from.v[0].address, "n@x.test") == 0 &&
          strncmp(rec.hdr_from.v[0].name, "=?x?q?a =?x?q?a", 15) == 0);
    record_free(&rec);
    free(buf);
    free(want);
}

/* Date: as real mail writes it; NULL where it is not clearly a date. */
static void test_dates(void)
{
    static const struct {
        const char *raw, *want;
    } cases[] = {
        {"Tue, 1 Dec 2026 10:37:15+0200", "2026-12-01T08:37:15Z"}, /* glued zone */
        {"Tue, 1 Dec 2026 10:37:15 +0200", "2026-12-01T08:37:15Z"},
        {"Tue, 01 Dec 2026 10:37:15 +0200 (CEST)", "2026-12-01T08:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15 +0200 CEST", "2026-12-01T08:37:15Z"},
        {"1 Dec 2026 10:37:15 +0200", "2026-12-01T08:37:15Z"},
        {"Tue,1 Dec 2026 10:37:15 -0500", "2026-12-01T15:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15-0500", "2026-12-01T15:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15 +02:00", "2026-12-01T08:37:15Z"},
        {"Tue, 1 Dec 2026 10:37 +0000", "2026-12-01T10:37:00Z"},
        {"  Tue ,  1   Dec   2026   10:37:15   GMT  ", "2026-12-01T10:37:15Z"},
        {"Tue, 1 Dec 2026\r\n\t10:37:15 UT", "2026-12-01T10:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15 UTC", "2026-12-01T10:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15GMT", "2026-12-01T10:37:15Z"},
        {"Tue, 1 Dec 26 10:37:15 EST", "2026-12-01T15:37:15Z"},
        {"Wed, 1 Dec 99 10:37:15 PDT", "1999-12-01T17:37:15Z"},
        {"Tue, 1 Dec 49 10:37:15 cdt", "2049-12-01T15:37:15Z"},
        {"Wed, 1 Dec 126 10:37:15 +0000", "2026-12-01T10:37:15Z"}, /* 3-digit year */
        {"Tue, 1 Dec 2026 10:37:15 Z", "2026-12-01T10:37:15Z"},
        {"Tue, 1 Dec 2026 10:37:15 A", "2026-12-01T10:37:15Z"}, /* military: -0000 */
        {"Tue, 1 Dec 2026 10:37:15", "2026-12-01T10:37:15Z"},   /* no zone: UTC */
        {"Tuesday, 1 December 2026 10:37:15 +0200", "2026-12-01T08:37:15Z"},
        {"Tue Dec  1 10:37:15 2026", "2026-12-01T10:37:15Z"}, /* asctime() */
        {"(c) Tue, 1 (x) Dec 2026 10:37:15 (y) +0100 ((z))", "2026-12-01T09:37:15Z"},
        {"Mon, 1 Jan 2024 00:30:00 +0100", "2023-12-31T23:30:00Z"},
        {"Thu, 29 Feb 2024 23:59:60 +0000", "2024-02-29T23:59:59Z"},
        {"Sat, 1 Jan 2000 00:00:00 -1200", "2000-01-01T12:00:00Z"},
        {"Tue, 1 Dec 2026 10:37:15 +0200 trailing junk 123", NULL},
        {"Tue, 1 Dec 2026 10:37:15 CEST", NULL}, /* a zone we cannot place */
        {"garbage", NULL},
        {"", NULL},
        {"Tue, 1 Foo 2026 10:37:15 +0000", NULL},
        {"Tue, 1 13 2026 10:37:15 +0000", NULL}, /* month 13 */
        {"Tue, 31 Feb 2026 10:37:15 +0000", NULL},
        {"Sun, 29 Feb 2026 10:37:15 +0000", NULL},
        {"Tue, 0 Dec 2026 10:37:15 +0000", NULL},
        {"Tue, 1 Dec 2026 25:00:00 +0000", NULL}, /* hour 25 */
        {"Tue, 1 Dec 2026 10:61:00 +0000", NULL},
        {"Tue, 1 Dec 2026 10:37:15 +2500", NULL},
        {"Tue, 1 Dec 2026 10:37:15 +02", NULL},
        {"Tue, 1 Dec 12026 10:37:15 +0000", NULL},
        {"Tue, 1 Dec 2026", NULL},
        {"2026-12-01 10:37:15", NULL},
        {"Tue, 1 Dec 2026 10:37:15 J", NULL},
    };
    char msg[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct archive_record rec;
        int n = snprintf(msg, sizeof(msg), "Date: %s\r\n\r\n", cases[i].raw);
        CHECK(extract(msg, (size_t)n, &rec) == 0);
        CHECK_STR(rec.date_raw, cases[i].raw + strspn(cases[i].raw, " \t"));
        if (cases[i].want != NULL)
            CHECK_STR(rec.date, cases[i].want);
        else if (rec.date != NULL) {
            CHECK(rec.date == NULL);
            fprintf(stderr, "  date \"%s\" gave %s\n", cases[i].raw, rec.date);
        }
        record_free(&rec);
    }

    /* 500 000 unclosed comments: NULL, quickly */
    {
        struct archive_record rec;
        size_t len = 0, n = 500000;
        char *buf = malloc(n + 64);
        double t0;
        CHECK(buf != NULL);
        if (buf == NULL)
            return;
        len = (size_t)sprintf(buf, "Date: Tue, 1 Dec 2026 ");
        memset(buf + len, '(', n);
        len += n;
        len += (size_t)sprintf(buf + len, "\r\n\r\n");
        t0 = now_s();
        CHECK(extract(buf, len, &rec) == 0);
        CHECK(now_s() - t0 < HOSTILE_SECONDS);
        CHECK(rec.date == NULL);
        record_free(&rec);
        free(buf);
    }
}

/* The by-host of the topmost Received: (delivery checks it is ours before
 * taking the queue id). */
static void test_received_by(void)
{
    static const struct {
        const char *msg, *by, *id;
    } cases[] = {
        {"Received: from c.example (c.example [192.0.2.1])\r\n\tby Mx.Example (Postfix) with "
         "ESMTPS id 4Q2w3e4R5t\r\n\tfor <b@example.com>; Wed, 25 Nov 2026\r\n"
         "Received: by other.example (Postfix) id 4OTHER99\r\n\r\n",
         "mx.example", "4Q2w3e4R5t"},
        {"Received: by GW.Example.ORG (Postfix, from userid 0)\r\n\tid 4XyZ1aBcD2; Wed, 25 Nov "
         "2026 10:00:00 +0100\r\n\r\n",
         "gw.example.org", "4XyZ1aBcD2"},
        {"Received: from x (helo by fake.example) by real.example with SMTP id 4AbCdEf\r\n\r\n",
         "real.example", NULL},
        {"Received: from x (HELO y) (by (nested) by fake.example)\r\n by\r\n "
         "[192.0.2.7] (Postfix) id 4AbCdEf; Wed, 25 Nov 2026\r\n\r\n",
         "[192.0.2.7]", "4AbCdEf"},
        {"Received: from x with SMTP; Wed, 25 Nov 2026\r\n\r\n", NULL, NULL},
        {"Received: from nearby.example (Postfix) id 4AbCdEf\r\n\r\n", NULL, "4AbCdEf"},
        {"Received: by ;\r\n\r\n", NULL, NULL},
        {"Subject: no received\r\n\r\n", NULL, NULL},
    };
    char *msg = malloc(1024);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct archive_record rec;
        CHECK(extract(cases[i].msg, strlen(cases[i].msg), &rec) == 0);
        if (cases[i].by != NULL)
            CHECK_STR(rec.received_by, cases[i].by);
        else
            CHECK(rec.received_by == NULL);
        if (cases[i].id != NULL)
            CHECK_STR(rec.received_id, cases[i].id);
        else
            CHECK(rec.received_id == NULL);
        record_free(&rec);
    }
    /* a host name longer than any real one is not reported */
    if (msg != NULL) {
        struct archive_record rec;
        int n = sprintf(msg, "Received: by ");
        memset(msg + n, 'h', 300);
        n += 300;
        n += sprintf(msg + n, ".example (Postfix) id 4AbCdEf\r\n\r\n");
        CHECK(extract(msg, (size_t)n, &rec) == 0);
        CHECK(rec.received_by == NULL);
        CHECK_STR(rec.received_id, "4AbCdEf");
        record_free(&rec);
    }
    free(msg);
}

/* Header and body extraction, as delivery runs them. */
static int extract_all(const char *msg, size_t len, struct archive_record *rec)
{
    char path[4200];
    const char *error = NULL;
    int fd, r;

    if (extract(msg, len, rec) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/orig", tmpdir);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    r = index_fields_extract_body(fd, rec, &error);
    if (r != 0)
        fprintf(stderr, "extract_body: %s\n", error ? error : "(no error)");
    close(fd);
    return r;
}

#define EXTRACT_ALL(lit, rec) extract_all((lit), sizeof(lit) - 1, (rec))

static void check_attachment(const struct archive_record *rec, size_t i, const char *filename,
                             const char *content_type)
{
    CHECK(i < rec->n_attachments);
    if (i >= rec->n_attachments)
        return;
    if (filename == NULL)
        CHECK(rec->attachments[i].filename == NULL);
    else
        CHECK_STR(rec->attachments[i].filename, filename);
    CHECK_STR(rec->attachments[i].content_type, content_type);
}

static void test_body_plain(void)
{
    struct archive_record rec;

    /* no MIME header at all: text/plain; white space and NUL collapse */
    CHECK(EXTRACT_ALL("Subject: plain\r\n\r\nHello,\r\n\r\n  this is\tthe body.\r\n", &rec) == 0);
    CHECK_STR(rec.body_text, "Hello, this is the body.");
    CHECK(rec.n_attachments == 0);
    record_free(&rec);

    {
        static const char msg[] = "Subject: nul\r\n\r\nbefore\0after\x01\x7f"
                                  "end\r\n";
        CHECK(extract_all(msg, sizeof(msg) - 1, &rec) == 0);
        CHECK_STR(rec.body_text, "before after end");
        record_free(&rec);
    }

    /* no body, an empty body, a body of white space: NULL, not "" */
    CHECK(EXTRACT_ALL("Subject: header only\r\n", &rec) == 0);
    CHECK(rec.body_text == NULL);
    record_free(&rec);
    CHECK(EXTRACT_ALL("Subject: empty\r\n\r\n", &rec) == 0);
    CHECK(rec.body_text == NULL);
    record_free(&rec);
    CHECK(EXTRACT_ALL("Subject: blank\r\n\r\n \r\n\t\r\n", &rec) == 0);
    CHECK(rec.body_text == NULL);
    record_free(&rec);
    CHECK(extract_all("", 0, &rec) == 0);
    CHECK(rec.body_text == NULL && rec.n_attachments == 0);
    record_free(&rec);

    /* undeclared 8-bit: UTF-8 where valid, Latin-1 where not */
    CHECK(EXTRACT_ALL("Subject: 8bit\r\n\r\nK\xc3\xb6ln und K\xf6ln\r\n", &rec) == 0);
    CHECK_STR(rec.body_text, "K\xc3\xb6ln und K\xc3\xb6ln");
    record_free(&rec);

    /* a second extraction replaces the text */
    CHECK(EXTRACT_ALL("\r\nfirst\r\n", &rec) == 0);
    {
        const char *error = NULL;
        char path[4200];
        int fd;
        snprintf(path, sizeof(path), "%s/orig", tmpdir);
        fd = open(path, O_RDWR | O_TRUNC);
        CHECK(fd >= 0 && write(fd, "\r\nsecond\r\n", 10) == 10);
        CHECK(index_fields_extract_body(fd, &rec, &error) == 0);
        CHECK_STR(rec.body_text, "second");
        close(fd);
    }
    record_free(&rec);

    /* unreadable fd: the one real error */
    {
        const char *error = NULL;
        memset(&rec, 0, sizeof(rec));
        CHECK(index_fields_extract_body(-1, &rec, &error) == -1);
        CHECK(error != NULL);
        CHECK(rec.body_text == NULL);
        record_free(&rec);
    }
}

static void test_body_alternative(void)
{
    struct archive_record rec;

    /* plain first: the HTML alternative adds nothing */
    CHECK(EXTRACT_ALL("MIME-Version: 1.0\r\n"
                      "Content-Type: multipart/alternative; boundary=\"alt\"\r\n"
                      "\r\n"
                      "This is the preamble, not indexed.\r\n"
                      "--alt\r\n"
                      "Content-Type: text/plain; charset=us-ascii\r\n"
                      "\r\n"
                      "Plain words here.\r\n"
                      "--alt\r\n"
                      "Content-Type: text/html; charset=us-ascii\r\n"
                      "\r\n"
                      "<p>Html words here.</p>\r\n"
                      "--alt--\r\n"
                      "Epilogue, not indexed.\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "Plain words here.");
    CHECK(rec.n_attachments == 0);
    record_free(&rec);

    /* an empty plain alternative: the HTML one is indexed; a related
     * part's image is an attachment */
    CHECK(EXTRACT_ALL("Content-Type: multipart/alternative; boundary=alt\r\n"
                      "\r\n"
                      "--alt\r\n"
                      "Content-Type: text/plain\r\n"
                      "\r\n"
                      "\r\n"
                      "--alt\r\n"
                      "Content-Type: multipart/related; boundary=rel\r\n"
                      "\r\n"
                      "--rel\r\n"
                      "Content-Type: text/html\r\n"
                      "\r\n"
                      "<div>Only <i>html</i></div>\r\n"
                      "--rel\r\n"
                      "Content-Type: image/png\r\n"
                      "Content-Transfer-Encoding: base64\r\n"
                      "\r\n"
                      "iVBORw0KGgo=\r\n"
                      "--rel--\r\n"
                      "--alt--\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "Only html");
    CHECK(rec.n_attachments == 1);
    check_attachment(&rec, 0, NULL, "image/png");
    record_free(&rec);
}

static void test_body_encodings(void)
{
    struct archive_record rec;

    /* quoted-printable ISO-8859-1 with a soft line break */
    CHECK(EXTRACT_ALL("MIME-Version: 1.0\r\n"
                      "Content-Type: text/plain; charset=\"ISO-8859-1\"\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n"
                      "\r\n"
                      "Caf=E9 cr=E8me br=FBl=\r\n"
                      "=E9e =3D done\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9"
                             "e = done");
    record_free(&rec);

    /* base64 UTF-8, split across lines at odd places; folded Content-Type */
    CHECK(EXTRACT_ALL("Content-Type: text/plain;\r\n"
                      "\tcharset=utf-8\r\n"
                      "Content-Transfer-Encoding: BASE64\r\n"
                      "\r\n"
                      "R3LDvMOfZSBh\r\n"
                      "dXMgS8O2bG4g4oKs\r\n"
                      "\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "Gr\xc3\xbc\xc3\x9f"
                             "e aus K\xc3\xb6ln \xe2\x82\xac");
    record_free(&rec);

    /* windows-1252 and KOI8-R through iconv */
    CHECK(EXTRACT_ALL("Content-Type: text/plain; charset=windows-1252\r\n\r\n"
                      "\x93quoted\x94 \x80 5\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac 5");
    record_free(&rec);
    CHECK(
        EXTRACT_ALL("Content-Type: text/plain; charset=koi8-r\r\n\r\n\xf0\xd2\xc9\xd7\xc5\xd4\r\n",
                    &rec) == 0);
    CHECK_STR(rec.body_text, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    record_free(&rec);

    /* declared UTF-8 that is not: U+FFFD, never invalid bytes */
    CHECK(EXTRACT_ALL("Content-Type: text/plain; charset=utf-8\r\n\r\n"
                      "a\xff"
                      "b \xc3 c \xed\xa0\x80 d \xf4\x90\x80\x80 e \xc0\xaf f\xe2\x82\r\n",
                      &rec) == 0);
    CHECK(rec.body_text != NULL && utf8_valid(rec.body_text));
    CHECK_STR(rec.body_text, "a\xef\xbf\xbd"
                             "b \xef\xbf\xbd c \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             " d \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd e "
                             "\xef\xbf\xbd\xef\xbf\xbd f\xef\xbf\xbd");
    record_free(&rec);

    /* an unknown charset: valid UTF-8 kept, the rest U+FFFD */
    CHECK(EXTRACT_ALL("Content-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
                      "ok \xc3\xa9 \xe9t\xe9\r\n",
                      &rec) == 0);
    CHECK(rec.body_text != NULL && utf8_valid(rec.body_text));
    CHECK_STR(rec.body_text, "ok \xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd");
    record_free(&rec);

    /* base64 with garbage in it: what decodes is kept */
    CHECK(EXTRACT_ALL("Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                      "aGVs!!bG8g\r\n***\r\nd29ybGQ=\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "hello world");
    record_free(&rec);
}

static void test_body_html(void)
{
    struct archive_record rec;

    CHECK(EXTRACT_ALL("Content-Type: text/html; charset=utf-8\r\n"
                      "\r\n"
                      "<!DOCTYPE html><html><head><title>T</title>\r\n"
                      "<style type=\"text/css\">p { color: red } secretstyle</style>\r\n"
                      "<SCRIPT>var x = '<b>secretscript</b>'; if (a < b) {}</SCRIPT >\r\n"
                      "</head><body><p class='a>b'>Hello&nbsp;<b>W</b>orld &amp; "
                      "&lt;friends&gt;\r\n"
                      "&#233;t&#xE9; &quot;q&quot; &bogus; a < b &amp</p>\r\n"
                      "<!-- secretcomment <p> -->after<br/>line&#0;x&#99999999;y\r\n"
                      "</body></html>\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "T Hello World & <friends> \xc3\xa9t\xc3\xa9 \"q\" &bogus; a < b "
                             "& after line\xef\xbf\xbdx\xef\xbf\xbdy");
    CHECK(rec.body_text != NULL && strstr(rec.body_text, "secret") == NULL);
    record_free(&rec);

    /* an HTML attachment is not body text */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\nContent-Type: text/html\r\n\r\n<p>inline</p>\r\n"
                      "--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; "
                      "filename=page.html\r\n\r\n<p>attached</p>\r\n--b--\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "inline");
    CHECK(rec.n_attachments == 1);
    check_attachment(&rec, 0, "page.html", "text/html");
    record_free(&rec);

    /* HTML 4 Latin-1 names (case matters) and common typographic ones */
    CHECK(EXTRACT_ALL("Content-Type: text/html\r\n\r\n"
                      "<p>Gr&uuml;&szlig;e f&uuml;r &Uuml;bersicht &euro;5 &ndash; &hellip; "
                      "&yuml;&Yacute; &UUML; &uuml</p>\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "Gr\xc3\xbc\xc3\x9f"
                             "e f\xc3\xbcr \xc3\x9c"
                             "bersicht \xe2\x82\xac"
                             "5 "
                             "\xe2\x80\x93 \xe2\x80\xa6 \xc3\xbf\xc3\x9d &UUML; &uuml");
    record_free(&rec);
}

static void test_body_nested(void)
{
    struct archive_record rec;

    /* an inner boundary that extends the outer one, a forwarded message
     * with its own multipart, and a digest whose parts default to
     * message/rfc822 */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; boundary=\"b\"\r\n"
                      "\r\n"
                      "--b\r\n"
                      "\r\n"
                      "outer text\r\n"
                      "--b\r\n"
                      "Content-Type: message/rfc822\r\n"
                      "Content-Disposition: attachment; filename=\"fwd.eml\"\r\n"
                      "\r\n"
                      "Subject: forwarded\r\n"
                      "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
                      "\r\n"
                      "--b1\r\n"
                      "Content-Type: text/plain\r\n"
                      "\r\n"
                      "inner plain\r\n"
                      "--b1\r\n"
                      "Content-Type: text/html\r\n"
                      "\r\n"
                      "<p>inner html</p>\r\n"
                      "--b1--\r\n"
                      "--b\r\n"
                      "Content-Type: multipart/digest; boundary=d\r\n"
                      "\r\n"
                      "--d\r\n"
                      "\r\n"
                      "Subject: digest one\r\n"
                      "\r\n"
                      "digest body\r\n"
                      "--d--\r\n"
                      "--b\r\n"
                      "Content-Type: application/pdf; name=inner.pdf\r\n"
                      "\r\n"
                      "%PDF\r\n"
                      "--b--\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "outer text inner plain digest body");
    CHECK(rec.n_attachments == 2);
    check_attachment(&rec, 0, "fwd.eml", "message/rfc822");
    check_attachment(&rec, 1, "inner.pdf", "application/pdf");
    record_free(&rec);
}

static void test_attachments(void)
{
    struct archive_record rec;

    CHECK(
        EXTRACT_ALL("Content-Type: multipart/mixed; boundary=\"=_x\"\r\n"
                    "\r\n"
                    "--=_x\r\n"
                    "Content-Type: text/plain\r\n"
                    "\r\n"
                    "see attached\r\n"
                    "--=_x\r\n"
                    "Content-Type: application/pdf\r\n"
                    "Content-Disposition: attachment;\r\n"
                    " filename*=UTF-8''%E2%82%AC%20rates.pdf\r\n"
                    "Content-Transfer-Encoding: base64\r\n"
                    "\r\n"
                    "JVBERi0=\r\n"
                    "--=_x\r\n"
                    "Content-Type: APPLICATION/VND.MS-EXCEL; name=\"=?UTF-8?B?w6RiYy54bHM=?=\"\r\n"
                    "\r\n"
                    "x\r\n"
                    "--=_x\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Disposition: attachment;\r\n"
                    " filename*0*=UTF-8''Gr%C3%BC;\r\n"
                    " filename*1=\"sse.txt\"\r\n"
                    "\r\n"
                    "attached text is not body text\r\n"
                    "--=_x\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Disposition: inline; filename=notes.txt\r\n"
                    "\r\n"
                    "inline notes\r\n"
                    "--=_x\r\n"
                    "Content-Type: image/gif\r\n"
                    "\r\n"
                    "GIF89a\r\n"
                    "--=_x\r\n"
                    "Content-Type: application/octet-stream\r\n"
                    "Content-Disposition: attachment; filename=\"caf\xe9.bin\"\r\n"
                    "\r\n"
                    "--=_x\r\n"
                    "Content-Type: text/plain\r\n"
                    "Content-Disposition: attachment\r\n"
                    "\r\n"
                    "nameless\r\n"
                    "--=_x--\r\n",
                    &rec) == 0);
    CHECK_STR(rec.body_text, "see attached inline notes");
    CHECK(rec.n_attachments == 7);
    check_attachment(&rec, 0, "\xe2\x82\xac rates.pdf", "application/pdf");
    check_attachment(&rec, 1,
                     "\xc3\xa4"
                     "bc.xls",
                     "application/vnd.ms-excel");
    check_attachment(&rec, 2, "Gr\xc3\xbcsse.txt", "text/plain");
    check_attachment(&rec, 3, "notes.txt", "text/plain");
    check_attachment(&rec, 4, NULL, "image/gif");
    CHECK(rec.n_attachments > 5 && rec.attachments[5].filename != NULL &&
          utf8_valid(rec.attachments[5].filename));
    check_attachment(&rec, 6, NULL, "text/plain");
    record_free(&rec);
}

/* Content-Type and Content-Disposition parameters: RFC 2231 sections in
 * any order and charsets, and 16 kB fields of hostile parameters in 300
 * parts (GMime's parser took 50 ms per such part). */
static void test_mime_params(void)
{
    struct archive_record rec;
    size_t cap = 12 * 1024 * 1024, len;
    char *buf = malloc(cap);
    double t0;

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; BOUNDARY=\"b\"; charset=x\r\n\r\n"
                      "--b\r\n"
                      "Content-Type: application/x-a; name*1=\"rt2.bin\"; name*0=part1-pa\r\n\r\n"
                      "--b\r\n"
                      "Content-Type: application/x-b;\r\n"
                      "  name*=iso-8859-1'de'Gr%FC%DFe.txt; name=\"plain.txt\"\r\n\r\n"
                      "--b\r\n"
                      "Content-Type: application/x-c (comment); name=unquoted name.doc (c)\r\n"
                      "Content-Disposition: ATTACHMENT; size=3; filename=\"q\\\"uote.doc\"\r\n\r\n"
                      "--b\r\n"
                      "Content-Type: text/plain; charset=\"iso-8859-1\" (Latin-1)\r\n\r\n"
                      "caf\xe9\r\n"
                      "--b--\r\n",
                      &rec) == 0);
    CHECK(rec.n_attachments == 3);
    check_attachment(&rec, 0, "part1-part2.bin", "application/x-a");
    check_attachment(&rec, 1,
                     "Gr\xc3\xbc\xc3\x9f"
                     "e.txt",
                     "application/x-b");
    check_attachment(&rec, 2, "q\"uote.doc", "application/x-c");
    CHECK_STR(rec.body_text, "caf\xc3\xa9");
    record_free(&rec);

    len = (size_t)sprintf(buf, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for (int part = 0; part < 300; part++) {
        len += (size_t)sprintf(buf + len, "--b\r\nContent-Type: application/x-%d; name=\"", part);
        for (int i = 0; i < 1900; i++, len += 8)
            memcpy(buf + len, "=?x?q?a ", 8);
        len += (size_t)sprintf(buf + len, "\"\r\nContent-Disposition: attachment");
        for (int i = 0; i < 1300; i++) /* 15 kB */
            len += (size_t)sprintf(buf + len, ";\r\n p%d=x", i);
        len += (size_t)sprintf(buf + len, ";\r\n filename*%d*=%%41\r\n\r\nx\r\n", part % 40);
    }
    len += (size_t)sprintf(buf + len, "--b--\r\n");
    CHECK(len < cap);
    t0 = now_s();
    CHECK(extract_all(buf, len, &rec) == 0);
    printf("300 parts of 16 kB hostile parameters: %.3f s\n", now_s() - t0);
    CHECK(now_s() - t0 < HOSTILE_SECONDS);
    CHECK(rec.n_attachments == 300);
    /* section 0 alone counts; without it the (plain) name is the file name */
    check_attachment(&rec, 0, "A", "application/x-0");
    CHECK(rec.n_attachments == 300 && rec.attachments[1].filename != NULL &&
          strncmp(rec.attachments[1].filename, "=?x?q?a =?x?q?a", 15) == 0);
    record_free(&rec);
    free(buf);
}

static void test_attachment_caps(void)
{
    struct archive_record rec;
    size_t cap = 1024 * 1024, len = 0;
    char *buf = malloc(cap);
    char name[400];

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    /* a 300-byte name of 2-byte characters: cut to 255 bytes or less,
     * on a character boundary */
    for (int i = 0; i < 150; i++)
        memcpy(name + 2 * i, "\xc3\xa9", 2);
    name[300] = '\0';
    len = (size_t)snprintf(buf, cap,
                           "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                           "--b\r\nContent-Type: application/zip; name=\"%s\"\r\n\r\nx\r\n",
                           name);
    for (int i = 0; i < INDEX_FIELDS_ATTACHMENTS_MAX + 5; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "--b\r\nContent-Type: image/png; name=p%d.png\r\n\r\nx\r\n", i);
    len += (size_t)snprintf(buf + len, cap - len,
                            "--b\r\nContent-Type: text/plain\r\n\r\nlast words\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.n_attachments == INDEX_FIELDS_ATTACHMENTS_MAX);
    CHECK(rec.n_attachments > 0 && rec.attachments[0].filename != NULL &&
          strlen(rec.attachments[0].filename) == 254 && utf8_valid(rec.attachments[0].filename));
    check_attachment(&rec, INDEX_FIELDS_ATTACHMENTS_MAX - 1, "p998.png", "image/png");
    CHECK_STR(rec.body_text, "last words");
    record_free(&rec);
    free(buf);
}

static void test_broken_mime(void)
{
    struct archive_record rec;

    /* a multipart without a boundary: its content is not indexed */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\nhidden\r\n--x--\r\n",
                      &rec) == 0);
    CHECK(rec.body_text == NULL);
    CHECK(rec.n_attachments == 0);
    record_free(&rec);

    /* the boundary never comes: the preamble is not text */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; boundary=nowhere\r\n\r\nhidden\r\n", &rec) ==
          0);
    CHECK(rec.body_text == NULL);
    record_free(&rec);

    /* no close delimiter, and a part header without the empty line */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\nContent-Type: image/jpeg\r\n"
                      "--b\r\nContent-Type: text/plain\r\n\r\nstill found\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "still found");
    CHECK(rec.n_attachments == 1);
    check_attachment(&rec, 0, NULL, "image/jpeg");
    record_free(&rec);

    /* an unparsable Content-Type is text/plain (RFC 2045 5.2) */
    CHECK(EXTRACT_ALL("Content-Type: garbage;;;\r\n\r\nreadable\r\n", &rec) == 0);
    CHECK_STR(rec.body_text, "readable");
    CHECK(rec.n_attachments == 0);
    record_free(&rec);

    /* "--b" followed by other text is not a delimiter; "--b--" closes
     * the multipart even with trailing junk */
    CHECK(EXTRACT_ALL("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                      "--b\r\n\r\none\r\n--bx two\r\n--b-- junk\r\nepilogue\r\n",
                      &rec) == 0);
    CHECK_STR(rec.body_text, "one --bx two");
    record_free(&rec);

    /* 40 nested multiparts: text below INDEX_FIELDS_MIME_DEPTH is found,
     * deeper text is not, and nothing crashes */
    {
        char *buf = malloc(64 * 1024);
        size_t len = 0;
        CHECK(buf != NULL);
        if (buf == NULL)
            return;
        len += (size_t)sprintf(buf + len, "Subject: deep\r\n");
        for (int i = 0; i < 40; i++) {
            len += (size_t)sprintf(
                buf + len, "Content-Type: multipart/mixed; boundary=\"l%d\"\r\n\r\n--l%d\r\n", i,
                i);
            if (i == 10)
                len += (size_t)sprintf(buf + len, "\r\nshallow\r\n--l%d\r\n", i);
        }
        len += (size_t)sprintf(buf + len, "\r\ndeep\r\n");
        CHECK(extract_all(buf, len, &rec) == 0);
        CHECK_STR(rec.body_text, "shallow");
        record_free(&rec);
        free(buf);
    }

    /* a message that ends inside a base64 text part and a QP escape */
    CHECK(EXTRACT_ALL("Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n"
                      "\r\nend=4",
                      &rec) == 0);
    CHECK(rec.body_text != NULL && strncmp(rec.body_text, "end", 3) == 0 &&
          utf8_valid(rec.body_text));
    record_free(&rec);
}

/* Write the file in pieces: the test itself must not hold 50 MB. */
static void write_all(int fd, const char *s, size_t n)
{
    if (n == 0)
        n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n) {
        fprintf(stderr, "write failed\n");
        exit(2);
    }
}

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Reset the peak RSS to the current RSS (Linux 4.0+). */
static int vm_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;

    if (f == NULL)
        return -1;
    ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/*
 * Peak memory of extracting a 50 MB base64 text part followed by a 50 MB
 * base64 attachment, and of a 10 MB message of 300 000 tiny parts:
 * the extraction must stay within a few MB over the text cap.
 */
static void test_body_memory(void)
{
    struct archive_record rec;
    char path[4200];
    char line[80];
    const char *error = NULL;
    long before, after;
    int fd;

    snprintf(path, sizeof(path), "%s/big", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    write_all(fd,
              "Subject: big\r\nContent-Type: multipart/mixed; boundary=big\r\n\r\n"
              "--big\r\nContent-Type: text/plain; charset=utf-8\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n",
              0);
    /* 76 base64 characters = 57 bytes "word word ..." per line */
    memcpy(line, "d29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdvcmQgd29yZCB3b3JkIHdv\r\n",
           78);
    for (int i = 0; i < 50 * 1024 * 1024 / 78; i++)
        write_all(fd, line, 78);
    write_all(fd,
              "--big\r\nContent-Type: application/zip; name=big.zip\r\n"
              "Content-Transfer-Encoding: base64\r\n\r\n",
              89);
    for (int i = 0; i < 50 * 1024 * 1024 / 78; i++)
        write_all(fd, line, 78);
    write_all(fd, "--big--\r\n", 0);

    memset(&rec, 0, sizeof(rec));
    CHECK(vm_hwm_reset() == 0);
    before = vm_hwm_kb();
    CHECK(index_fields_extract_body(fd, &rec, &error) == 0);
    after = vm_hwm_kb();
    close(fd);
    printf("body extraction of a 100 MB message: VmHWM %ld kB -> %ld kB (+%ld kB)\n", before, after,
           after - before);
    CHECK(before > 0 && after - before < 8 * 1024);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) <= INDEX_FIELDS_TEXT_MAX &&
          strlen(rec.body_text) > INDEX_FIELDS_TEXT_MAX - 8);
    CHECK(rec.body_text != NULL && strncmp(rec.body_text, "word word word", 14) == 0);
    CHECK(rec.n_attachments == 1);
    check_attachment(&rec, 0, "big.zip", "application/zip");
    record_free(&rec);

    /* GMime's parser needs about 2 KB per part; the scanner needs none */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    write_all(fd, "Content-Type: multipart/mixed; boundary=b\r\n\r\n", 0);
    for (int i = 0; i < 300000; i++)
        write_all(fd, "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n", 0);
    write_all(fd, "--b--\r\n", 0);
    CHECK(vm_hwm_reset() == 0);
    before = vm_hwm_kb();
    CHECK(index_fields_extract_body(fd, &rec, &error) == 0);
    after = vm_hwm_kb();
    close(fd);
    printf("body extraction of 300000 parts: VmHWM %ld kB -> %ld kB (+%ld kB)\n", before, after,
           after - before);
    CHECK(before > 0 && after - before < 8 * 1024);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == 300000 * 2 - 1);
    record_free(&rec);
    unlink(path);
}

static void test_text_cap(void)
{
    struct archive_record rec;
    size_t n = 3 * 1024 * 1024, len;
    char *buf = malloc(n + 64);

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    /* 3-byte characters without white space: the cap falls inside one */
    len = (size_t)sprintf(buf, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
    for (size_t i = 0; i + 3 <= n; i += 3, len += 3)
        memcpy(buf + len, "\xe2\x82\xac", 3);
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == INDEX_FIELDS_TEXT_MAX / 3 * 3);
    CHECK(rec.body_text != NULL && utf8_valid(rec.body_text));
    record_free(&rec);

    /* text of a later part stops at the cap too */
    len = (size_t)sprintf(buf, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n");
    memset(buf + len, 'a', INDEX_FIELDS_TEXT_MAX - 4);
    len += INDEX_FIELDS_TEXT_MAX - 4;
    len += (size_t)sprintf(buf + len, "\r\n--b\r\n\r\nbb cc\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK(rec.body_text != NULL && strlen(rec.body_text) == INDEX_FIELDS_TEXT_MAX - 1);
    CHECK(rec.body_text != NULL && strcmp(rec.body_text + INDEX_FIELDS_TEXT_MAX - 4, " bb") == 0);
    record_free(&rec);
    free(buf);
}

/* Byte-at-a-time reads are not possible through pread, but lines longer
 * than the 64 KiB read buffer are: a delimiter right after one is found. */
static void test_long_lines(void)
{
    struct archive_record rec;
    size_t len;
    char *buf = malloc(300 * 1024);

    CHECK(buf != NULL);
    if (buf == NULL)
        return;
    len = (size_t)sprintf(buf, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
                               "Content-Type: image/png\r\n\r\n");
    memset(buf + len, 'A', 200 * 1024);
    len += 200 * 1024;
    len += (size_t)sprintf(buf + len, "\r\n--b\r\n\r\nafter the long line\r\n--b--\r\n");
    CHECK(extract_all(buf, len, &rec) == 0);
    CHECK_STR(rec.body_text, "after the long line");
    CHECK(rec.n_attachments == 1);
    record_free(&rec);
    free(buf);
}

int main(void)
{
    tmpdir = check_tmpdir("test_index_fields");
    index_fields_init();
    /* first, while the heap is small */
    test_body_memory();
    test_crlf_basic();
    test_bare_lf();
    test_folded_encoded_subject();
    test_8bit_subject();
    test_missing_and_bad();
    test_addresses();
    test_first_occurrence_and_syntax();
    test_no_body();
    test_nul_bytes();
    test_big_headers();
    test_received_and_loop_id();
    test_hostile_addresses();
    test_address_forms();
    test_hostile_subject();
    test_dates();
    test_received_by();
    test_body_plain();
    test_body_alternative();
    test_body_encodings();
    test_body_html();
    test_body_nested();
    test_attachments();
    test_attachment_caps();
    test_mime_params();
    test_broken_mime();
    test_text_cap();
    test_long_lines();
    index_fields_deinit();
    return check_done();
}
