/*
 * NAME
 *	test_index_fields 1
 * SUMMARY
 *	unit test of the header block of mail/index_fields.c
 * DESCRIPTION
 *	Writes originals to files (CRLF, bare LF, folded and encoded
 *	headers, NUL bytes, missing and broken fields, huge headers) and
 *	checks the fields the header block fills, byte for byte: the first
 *	occurrence of each, where the header ends, INDEX_FIELDS_HEADER_MAX,
 *	the Received: queue id and by-host, the loop guard's archive id.
 *	The parsers behind it have tests of their own (test_index_*.c).
 */
#include "tests/unit/index_check.h"

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

int main(void)
{
    tmpdir = check_tmpdir("test_index_fields");
    index_fields_init();
    test_crlf_basic();
    test_bare_lf();
    test_folded_encoded_subject();
    test_missing_and_bad();
    test_first_occurrence_and_syntax();
    test_no_body();
    test_nul_bytes();
    test_big_headers();
    test_received_and_loop_id();
    test_received_by();
    index_fields_deinit();
    return check_done();
}
