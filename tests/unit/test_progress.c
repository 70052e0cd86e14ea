/*
 * NAME
 *	test_progress 1
 * SUMMARY
 *	unit test for common/progress.c: the line it draws
 * DESCRIPTION
 *	progress_format() with and without a total, thousands separators,
 *	the rate and time left only after a quarter of a second and some
 *	work, minutes and hours, a count past the total, a buffer too small
 *	(cut, NUL-terminated). Under ctest stderr is not a terminal:
 *	progress_new() returns NULL and every call accepts it.
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include "common/progress.h"

#include <unistd.h>

#include "tests/unit/check.h"

static void check_line(const char *what, const char *unit, uint64_t done, uint64_t total,
                       double elapsed, const char *want)
{
    char buf[256];
    size_t len = progress_format(buf, sizeof(buf), what, unit, done, total, elapsed);

    CHECK_STR(buf, want);
    CHECK(len == strlen(want));
}

int main(void)
{
    char small[16];

    check_line("verify", "copies", 0, 300000, 0.0, "verify: 0 of 300,000 copies (0.0%)");
    check_line("verify", "copies", 12345, 300000, 2.4,
               "verify: 12,345 of 300,000 copies (4.1%), 5,144/s, 0:56 left");
    check_line("verify", "copies", 12345, 300000, 0.1, "verify: 12,345 of 300,000 copies (4.1%)");
    check_line("verify", "copies", 300000, 300000, 60.0,
               "verify: 300,000 of 300,000 copies (100.0%), 5,000/s");
    check_line("verify", "copies", 1000, 1000000, 1.0,
               "verify: 1,000 of 1,000,000 copies (0.1%), 1,000/s, 16:39 left");
    check_line("verify", "copies", 10, 1000000, 1.0,
               "verify: 10 of 1,000,000 copies (0.0%), 10/s, 27:46:39 left");
    check_line("export", "messages", 999, 0, 0.5, "export: 999 messages, 1,998/s");
    check_line("export", "messages", 1234567890, 0, 0.0, "export: 1,234,567,890 messages");
    /* more done than announced: capped at 100%, no time left */
    check_line("verify", "copies", 12, 10, 1.0, "verify: 12 of 10 copies (100.0%), 12/s");

    CHECK(progress_format(small, sizeof(small), "verify", "copies", 12345, 300000, 2.4) ==
          sizeof(small) - 1);
    CHECK_STR(small, "verify: 12,345 ");

    if (!isatty(STDERR_FILENO)) {
        struct progress *p = progress_new("verify", "copies", 10);
        CHECK(p == NULL);
        progress_update(p, 5);
        progress_clear(p);
        progress_end(&p);
        CHECK(p == NULL);
    }
    return check_done();
}
