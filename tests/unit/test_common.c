/*
 * NAME
 *	test_common 1
 * SUMMARY
 *	unit tests for archive_id, sha256 and strlist
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "backends/record.h"
#include "common/archive_id.h"
#include "common/retention.h"
#include "common/sha256.h"
#include "common/strlist.h"

static void test_archive_id(void)
{
    char a[ARCHIVE_ID_SIZE], b[ARCHIVE_ID_SIZE];
    int distinct = 1, ordered = 1;

    archive_id_new(a);
    CHECK(archive_id_valid(a));
    for (int i = 0; i < 10000; i++) {
        archive_id_new(b);
        distinct &= strcmp(a, b) != 0;
        ordered &= memcmp(a, b, 13) < 0; /* time part increases within a process */
        memcpy(a, b, sizeof(a));
    }
    CHECK(distinct);
    CHECK(ordered);
    CHECK(!archive_id_valid(NULL));
    CHECK(!archive_id_valid(""));
    CHECK(!archive_id_valid("6B070F6A6089D03379F"));   /* 19 */
    CHECK(!archive_id_valid("6B070F6A6089D03379F3A")); /* 21 */
    CHECK(!archive_id_valid("6b070f6a6089d03379f3"));  /* lower case */
    CHECK(!archive_id_valid("../../../../etc/passw"));
    CHECK(archive_id_valid("6B070F6A6089D03379F3"));

    /* two processes in the same microsecond still differ (pid field) */
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        archive_id_new(b);
        if (write(p[1], b, sizeof(b)) < 0)
            _exit(1);
        _exit(0);
    }
    archive_id_new(a);
    CHECK(read(p[0], b, sizeof(b)) == (ssize_t)sizeof(b));
    waitpid(pid, NULL, 0);
    CHECK(strcmp(a + 13, b + 13) != 0 || strcmp(a, b) != 0);
    CHECK(memcmp(a + 13, b + 13, 5) != 0);
    close(p[0]);
    close(p[1]);
}

static void test_sha256(const char *dir)
{
    char hex[SHA256_HEX_SIZE];
    struct sha256_ctx *ctx = sha256_new();
    sha256_final_hex(ctx, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ctx = sha256_new();
    sha256_update(ctx, "a", 1);
    sha256_update(ctx, "bc", 2);
    sha256_final_hex(ctx, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    char *path = xasprintf("%s/data", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, "xxabc", 5) == 5);
    CHECK(lseek(fd, 2, SEEK_SET) == 2);
    CHECK(sha256_fd(fd, -1, hex) == 0);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(lseek(fd, 2, SEEK_SET) == 2);
    CHECK(sha256_fd(fd, 3, hex) == 0);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(lseek(fd, 2, SEEK_SET) == 2);
    CHECK(sha256_fd(fd, 4, hex) == -1); /* the file is shorter than asked */
    close(fd);
    free(path);
}

static void test_strlist(void)
{
    struct strlist l = STRLIST_INIT;
    for (int i = 0; i < 100; i++) {
        char buf[32];
        snprintf(buf, sizeof(buf), "Item%d@Example.COM", i);
        strlist_add(&l, buf);
    }
    strlist_add_n(&l, "abcdef", 3);
    CHECK(l.n == 101);
    CHECK_STR(l.v[100], "abc");
    CHECK(strlist_has_nocase(&l, "item42@example.com"));
    CHECK(!strlist_has_nocase(&l, "item42@example.co"));
    strlist_free(&l);
    CHECK(l.n == 0 && l.v == NULL);
    char *empty = strlist_join(&l, ", ");
    CHECK_STR(empty, "");
    free(empty);
    strlist_add(&l, "a");
    char *one = strlist_join(&l, ", ");
    CHECK_STR(one, "a");
    strlist_add(&l, "");
    strlist_add(&l, "c d");
    char *three = strlist_join(&l, ", ");
    CHECK_STR(three, "a, , c d");
    free(one);
    free(three);
    strlist_free(&l);
    char *s = xasprintf("%s-%d", "x", 5);
    CHECK_STR(s, "x-5");
    free(s);
    /* xstrndup stops at the string's end, as strndup: a bound larger
     * than the string (a note cut at INDEX_NOTE_MAX) reads nothing past it. */
    char *shortdup = xstrndup("abc", 1000);
    CHECK(strcmp(shortdup, "abc") == 0);
    free(shortdup);
    shortdup = xstrndup("abcdef", 3);
    CHECK(strcmp(shortdup, "abc") == 0);
    free(shortdup);
}

static time_t utc(const char *s)
{
    time_t t = 0;
    CHECK(record_parse_time(s, &t) == 0);
    return t;
}

/* Retention ends on the calendar date, never a day early. */
static void test_retention(void)
{
    struct retention r;
    const char *why = NULL;

    CHECK(retention_parse("", &r, &why) == 0 && !r.set);
    CHECK(retention_until(&r, 1000) == 0);
    CHECK(retention_parse("90d", &r, &why) == 0 && r.set && r.count == 90 && r.unit == 'd');
    CHECK(retention_until(&r, utc("2026-01-01T00:00:00Z")) == utc("2026-04-01T00:00:00Z"));
    CHECK(retention_parse("2w", &r, &why) == 0);
    CHECK(retention_until(&r, utc("2026-11-25T10:00:00Z")) == utc("2026-12-09T10:00:00Z"));
    CHECK(retention_parse("7y", &r, &why) == 0);
    CHECK(retention_until(&r, utc("2026-03-01T12:34:56Z")) == utc("2033-03-01T12:34:56Z"));
    /* 29 February to a year without one: 1 March, later not earlier */
    CHECK(retention_parse("1y", &r, &why) == 0);
    CHECK(retention_until(&r, utc("2028-02-29T08:00:00Z")) == utc("2029-03-01T08:00:00Z"));
    CHECK(retention_until_spec("10y", utc("2026-11-25T00:00:00Z")) == utc("2036-11-25T00:00:00Z"));
    CHECK(retention_until_spec("", 5) == 0);
    const char *bad[] = {"7",   "y",   "7x",   "-1d",    "0d",
                         "7 y", "7yy", "101y", "36526d", "99999999999999999999d",
                         "1.5y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECK(retention_parse(bad[i], &r, &why) == -1 && why != NULL);
    }
}

int main(void)
{
    const char *dir = check_tmpdir("test_common");
    test_retention();
    test_archive_id();
    test_sha256(dir);
    test_strlist();
    return check_done();
}
