/*
 * NAME
 *	test_index_words 1
 * SUMMARY
 *	unit test of mail/index_words.c (header text to UTF-8)
 * DESCRIPTION
 *	Subjects and display names in raw 8-bit text (UTF-8, undeclared
 *	Latin-1) and RFC 2047 words (unknown charsets, 60 000 words,
 *	120 000 openers never closed): the decoded text is valid UTF-8, the
 *	raw value is kept, and the time stays linear.
 */
#include "tests/unit/index_check.h"

static void test_8bit_subject(void)
{
    static const struct index_case cases[] = {
        {LIT("Subject: Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln\r\n"
             "From: J\xc3\xb6rg <joerg@example.de>\r\n\r\n"),
         .subject = "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln",
         .subject_raw = "Gr\xc3\xbc\xc3\x9f\x65 aus K\xc3\xb6ln",
         .from = {{"J\xc3\xb6rg", "joerg@example.de"}}},
        /* Latin-1 without declaration: raw kept, decoded is valid UTF-8 */
        {LIT("Subject: caf\xe9\r\n\r\n"), .subject_raw = "caf\xe9", .subject = "caf\xc3\xa9"},
        /* an encoded-word with an unknown charset still yields valid UTF-8 */
        {LIT("Subject: =?x-unknown?B?/w==?= end\r\n\r\n"),
         .subject_raw = "=?x-unknown?B?/w==?= end", .subject_utf8 = 1},
    };

    check_headers(cases);
}

static void test_hostile_subject(void)
{
    struct archive_record rec;
    size_t n = 60000, len;
    char *buf = malloc(INDEX_FIELDS_HEADER_MAX), *want = malloc(3 * n + 16);

    CHECK(buf != NULL && want != NULL);
    if (buf == NULL || want == NULL)
        return;
    /* a 960 kB subject of 60 000 encoded words */
    len = build_repeated(buf, "Subject: ", "=?utf-8?q?abc?= ", n, "\r\n\r\n");
    build_repeated(want, "", "abc", n, "");
    CHECK(extract_quickly(buf, len, &rec) == 0);
    CHECK_STR(rec.subject, want);
    CHECK(rec.subject_raw != NULL && strlen(rec.subject_raw) == 16 * n);
    record_free(&rec);

    /* 120 000 openers "=?x?q?" never closed, after a real encoded word:
     * GMime alone took minutes (11 s for a third of this) */
    len = build_repeated(buf, "Subject: =?utf-8?q?ok?= ", "=?x?q?a ", 120000, "\r\n\r\n");
    CHECK(extract_quickly(buf, len, &rec) == 0);
    CHECK(rec.subject != NULL && strncmp(rec.subject, "ok =?x?q?a =?x?q?a ", 19) == 0);
    CHECK(rec.subject != NULL && strlen(rec.subject) == 3 + 120000 * 8 - 1);
    record_free(&rec);

    /* the same in a display name */
    len = build_repeated(buf, "From: ", "=?x?q?a ", 100000, "<n@x.test>\r\n\r\n");
    CHECK(extract_quickly(buf, len, &rec) == 0);
    CHECK(rec.hdr_from.n == 1 && rec.hdr_from.v[0].name != NULL &&
          strcmp(rec.hdr_from.v[0].address, "n@x.test") == 0 &&
          strncmp(rec.hdr_from.v[0].name, "=?x?q?a =?x?q?a", 15) == 0);
    record_free(&rec);
    free(buf);
    free(want);
}

INDEX_TEST_MAIN("test_index_words", test_8bit_subject, test_hostile_subject)
