/*
 * NAME
 *	test_index_date 1
 * SUMMARY
 *	unit test of mail/index_date.c
 * DESCRIPTION
 *	Date: values as real mail writes them (zones glued, named,
 *	military, missing; 2- and 3-digit years; comments; asctime()) give
 *	their UTC time; what is not clearly a date gives none, quickly.
 */
#include "tests/unit/index_check.h"

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
        CHECK(buf != NULL);
        if (buf == NULL)
            return;
        len = build_repeated(buf, "Date: Tue, 1 Dec 2026 ", "(", n, "\r\n\r\n");
        CHECK(extract_quickly(buf, len, &rec) == 0);
        CHECK(rec.date == NULL);
        record_free(&rec);
        free(buf);
    }
}

INDEX_TEST_MAIN("test_index_date", test_dates)
