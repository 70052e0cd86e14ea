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

/* The same fields from CRLF and from bare LF originals. */
static void test_crlf_and_lf(void)
{
    static const struct index_case cases[] = {
        {LIT("Received: from x by y; Wed, 25 Nov 2026 16:30:40 +0100\r\n"
             "From: \"Doe, John\" <john@example.com>\r\n"
             "To: a@x.org, \"B\" <b@y.org>\r\n"
             "Cc: =?UTF-8?Q?J=C3=B6rg?= <j@x.de>, c@z.org\r\n"
             "Date: Wed, 25 Nov 2026 16:30:35 +0100\r\n"
             "Subject: Hello there\r\n"
             "Message-ID: <abc.123@x.example>\r\n"
             "\r\n"
             "Subject: not a header, this is the body\r\n"
             "From: body@x.org\r\n"),
         .counted = 1, .n_from = 1, .n_to = 2, .n_cc = 2,
         .from = {{"Doe, John", "john@example.com"}}, .to = {{NULL, "a@x.org"}, {"B", "b@y.org"}},
         .cc = {{"J\xc3\xb6rg", "j@x.de"}, {NULL, "c@z.org"}}, .date = "2026-11-25T15:30:35Z",
         .date_raw = "Wed, 25 Nov 2026 16:30:35 +0100", .subject = "Hello there",
         .subject_raw = "Hello there", .message_id = "abc.123@x.example"},
        {LIT("From: Alice <alice@example.org>\n"
             "To: bob@example.com\n"
             "Subject: plain\n"
             "\ttwo lines\n"
             "Date: Thu, 1 Jan 1970 00:00:00 +0000\n"
             "Message-Id: <lf@x>\n"
             "\n"
             "body\n"),
         .from = {{"Alice", "alice@example.org"}}, .to = {{NULL, "bob@example.com"}}, .counted = 1,
         .n_from = 1, .n_to = 1, .n_cc = 0, .subject_raw = "plain\n\ttwo lines",
         .subject = "plain\ttwo lines", .date = "1970-01-01T00:00:00Z",
         .date_raw = "Thu, 1 Jan 1970 00:00:00 +0000", .message_id = "lf@x"},
    };

    check_headers(cases);
}

static void test_folded_encoded_subject(void)
{
    static const struct index_case cases[] = {
        {LIT("Subject: =?UTF-8?B?SMOpbGxv?=\r\n"
             " =?UTF-8?Q?_W=C3=B6rld?=\r\n"
             "Date:\r\n"
             "  Wed, 25 Nov 2026\r\n"
             "\t16:30:35 -0500  \r\n"
             "\r\n"),
         .subject = "H\xc3\xa9llo W\xc3\xb6rld",
         .subject_raw = "=?UTF-8?B?SMOpbGxv?=\r\n =?UTF-8?Q?_W=C3=B6rld?=",
         .date_raw = "\r\n  Wed, 25 Nov 2026\r\n\t16:30:35 -0500  ",
         .date = "2026-11-25T21:30:35Z"},
    };

    check_headers(cases);
}

static void test_missing_and_bad(void)
{
    static const struct index_case cases[] = {
        {LIT("X-Mailer: none\r\n\r\nbody\r\n"), .counted = 1, .date = ABSENT, .date_raw = ABSENT,
         .subject = ABSENT, .subject_raw = ABSENT, .message_id = ABSENT},
        {LIT("Date: not a date at all\r\nSubject:\r\nMessage-ID: <>\r\n"
             "From: <<<>>> ,,, @@\r\nTo:\r\n\r\n"),
         .date = ABSENT, .date_raw = "not a date at all", .subject = "", .subject_raw = "",
         .message_id = ABSENT, .counted = 1},
        /* an empty header: the message starts with its empty line */
        {LIT("\r\nSubject: body text\r\n"), .subject_raw = ABSENT, .subject = ABSENT},
        {LIT("\nSubject: body text\n"), .subject_raw = ABSENT},
        /* an empty file */
        {LIT(""), .subject_raw = ABSENT, .counted = 1},
    };
    struct archive_record rec;
    const char *error = NULL;

    check_headers(cases);

    /* unreadable fd: the one real error */
    memset(&rec, 0, sizeof(rec));
    CHECK(index_fields_extract(-1, &rec, &error) == -1);
    CHECK(error != NULL);
    record_free(&rec);
}

static void test_first_occurrence_and_syntax(void)
{
    static const struct index_case cases[] = {
        {LIT("From mbox-line Wed Nov 25 16:30:35 2026\r\n"
             " stray continuation\r\n"
             "SUBJECT :\tfirst \r\n"
             "Subject: second\r\n"
             "message-id:\r\n <folded@id>\r\n"
             "Date: Wed, 25 Nov 2026 16:30:35 +0000\r\n"
             "Date: Thu, 26 Nov 2026 16:30:35 +0000\r\n"
             "\r\n"),
         .subject_raw = "first ", .subject = "first", .message_id = "folded@id",
         .date = "2026-11-25T16:30:35Z"},
    };

    check_headers(cases);
}

static void test_no_body(void)
{
    static const struct index_case cases[] = {
        {LIT("From: a@b.example\r\nSubject: only a header\r\n"), .from = {{NULL, "a@b.example"}},
         .subject_raw = "only a header"},
        /* no line ending at all, and a fold that runs into EOF */
        {LIT("Subject: cut"), .subject_raw = "cut"},
        {LIT("Subject: cut\r\n more"), .subject_raw = "cut\r\n more", .subject = "cut more"},
        /* mixed line endings: LF then CRLF make the empty line */
        {LIT("Subject: mixed\n\r\nSubject: body\r\n"), .subject_raw = "mixed"},
        {LIT("To: t@x.org\r\n\nCc: body@x.org\r\n"), .counted = 1, .n_to = 1},
    };

    check_headers(cases);
}

static void test_nul_bytes(void)
{
    static const struct index_case cases[] = {
        {LIT("Subject: a\0b\r\n"
             "X-Bin: \0\0\0\xff\r\n"
             "From: c@d.example\r\n"
             "To: \0x@y.example\r\n"
             "Date: Wed, 25 Nov 2026 16:30:35 +0000\0junk\r\n"
             "\r\n"
             "\0body\0"),
         .subject_raw = "a", .subject = "a", .from = {{NULL, "c@d.example"}}, .counted = 1,
         .n_from = 1, .date_raw = "Wed, 25 Nov 2026 16:30:35 +0000",
         .date = "2026-11-25T16:30:35Z"},
    };

    check_headers(cases);
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

    /* what lies beyond INDEX_FIELDS_HEADER_MAX is not seen; a field
     * straddling the limit is dropped, not cut; one that ends exactly at the
     * limit is seen; the empty line straddles the 64 KiB read size, at every
     * offset */
    static const struct {
        const char *head;
        size_t pad_to;
        const char *tail;
        struct index_case want;
    } cases[] = {
        {"Subject: early\r\nFrom: early@x.org\r\n",
         2 * 1024 * 1024,
         "Cc: late@x.org\r\n\r\nbody\r\n",
         {.subject_raw = "early", .from = {{NULL, "early@x.org"}}, .counted = 1, .n_from = 1}},
        {"",
         INDEX_FIELDS_HEADER_MAX - 10,
         "Subject: straddles the limit\r\n\r\n",
         {.subject_raw = ABSENT}},
        {"",
         INDEX_FIELDS_HEADER_MAX - 15,
         "Subject: fits\r\nCc: over@x.org\r\n\r\n",
         {.subject_raw = "fits", .counted = 1}},
        {"Subject: s\r\n",
         65536 - 2,
         "\r\nSubject: body\r\nCc: body@x.org\r\n",
         {.subject_raw = "s", .counted = 1}},
        {"Subject: s\r\n",
         65536 - 1,
         "\r\nSubject: body\r\nCc: body@x.org\r\n",
         {.subject_raw = "s", .counted = 1}},
        {"Subject: s\r\n",
         65536,
         "\r\nSubject: body\r\nCc: body@x.org\r\n",
         {.subject_raw = "s", .counted = 1}},
        {"Subject: s\r\n",
         65536 + 1,
         "\r\nSubject: body\r\nCc: body@x.org\r\n",
         {.subject_raw = "s", .counted = 1}},
    };
    for (size_t i = 0; i < N_CASES(cases); i++) {
        struct index_case want = cases[i].want;
        len = strlen(cases[i].head);
        memcpy(buf, cases[i].head, len);
        pad(buf, &len, cases[i].pad_to);
        len += (size_t)sprintf(buf + len, "%s", cases[i].tail);
        want.msg = buf;
        want.len = len;
        check_cases_at(__LINE__, &want, 1, 0);
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
    static const struct index_case cases[] = {
        {LIT("Received: by gw.example (Postfix, from userid 0)\r\n\tid 4XyZ1aBcD2; Wed, 25 Nov "
             "2026 10:00:00 +0100\r\nReceived: by x (Postfix) id 4OTHER99\r\n\r\n"),
         .received_id = "4XyZ1aBcD2", .loop_archive_id = ABSENT},
        {LIT("Received: from c.example (c.example [192.0.2.1])\r\n\tby mx.example (Postfix) with "
             "ESMTPS id 4Q2w3e4R5t\r\n\tfor <b@example.com>; Wed, 25 Nov 2026\r\n\r\n"),
         .received_id = "4Q2w3e4R5t", .loop_archive_id = ABSENT},
        {LIT("Received: from c by mx (Exim 4.96) with esmtp id 1t2u3v-000ABC-9z\r\n\r\n"),
         .received_id = ABSENT, .loop_archive_id = ABSENT},
        {LIT("Subject: x\r\nReceived: by mx (Postfix) id AB\r\n\r\n"), /* too short */
         .received_id = ABSENT, .loop_archive_id = ABSENT},
        {LIT("X-Tabularium-Archive-Id: 6B070F6A6089D03379F3\r\n\r\n"), .received_id = ABSENT,
         .loop_archive_id = "6B070F6A6089D03379F3"},
        {LIT("X-Tabularium-Archive-Id: ../../etc/passwd\r\n\r\n"), .received_id = ABSENT,
         .loop_archive_id = ABSENT},
        {LIT("x-tabularium-archive-id:\r\n 6B070F6A6089D03379F3\r\n\r\n"), .received_id = ABSENT,
         .loop_archive_id = "6B070F6A6089D03379F3"},
    };

    check_headers(cases);
}

/* The by-host of the topmost Received: (delivery checks it is ours before
 * taking the queue id). */
static void test_received_by(void)
{
    static const struct index_case cases[] = {
        {LIT("Received: from c.example (c.example [192.0.2.1])\r\n\tby Mx.Example (Postfix) with "
             "ESMTPS id 4Q2w3e4R5t\r\n\tfor <b@example.com>; Wed, 25 Nov 2026\r\n"
             "Received: by other.example (Postfix) id 4OTHER99\r\n\r\n"),
         .received_by = "mx.example", .received_id = "4Q2w3e4R5t"},
        {LIT("Received: by GW.Example.ORG (Postfix, from userid 0)\r\n\tid 4XyZ1aBcD2; Wed, 25 "
             "Nov 2026 10:00:00 +0100\r\n\r\n"),
         .received_by = "gw.example.org", .received_id = "4XyZ1aBcD2"},
        {LIT("Received: from x (helo by fake.example) by real.example with SMTP id "
             "4AbCdEf\r\n\r\n"),
         .received_by = "real.example", .received_id = ABSENT},
        {LIT("Received: from x (HELO y) (by (nested) by fake.example)\r\n by\r\n "
             "[192.0.2.7] (Postfix) id 4AbCdEf; Wed, 25 Nov 2026\r\n\r\n"),
         .received_by = "[192.0.2.7]", .received_id = "4AbCdEf"},
        {LIT("Received: from x with SMTP; Wed, 25 Nov 2026\r\n\r\n"), .received_by = ABSENT,
         .received_id = ABSENT},
        {LIT("Received: from nearby.example (Postfix) id 4AbCdEf\r\n\r\n"), .received_by = ABSENT,
         .received_id = "4AbCdEf"},
        {LIT("Received: by ;\r\n\r\n"), .received_by = ABSENT, .received_id = ABSENT},
        {LIT("Subject: no received\r\n\r\n"), .received_by = ABSENT, .received_id = ABSENT},
    };
    char *msg = malloc(1024);

    check_headers(cases);
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

INDEX_TEST_MAIN("test_index_fields", test_crlf_and_lf, test_folded_encoded_subject,
                test_missing_and_bad, test_first_occurrence_and_syntax, test_no_body,
                test_nul_bytes, test_big_headers, test_received_and_loop_id, test_received_by)
