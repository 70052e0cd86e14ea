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

int main(void)
{
    tmpdir = check_tmpdir("test_index_words");
    index_fields_init();
    test_8bit_subject();
    test_hostile_subject();
    index_fields_deinit();
    return check_done();
}
