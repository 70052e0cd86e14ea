/*
 * NAME
 *	test_buf - the one growable byte buffer (common/buf.c)
 * DESCRIPTION
 *	Appends keep the bytes and a NUL after them, growth doubles, reset
 *	keeps the memory, binary data with NULs survives, and
 *	buf_reserve_max() never allocates beyond its cap.
 */
#include "common/buf.h"

#include <unistd.h>
#include "tests/unit/check.h"

int main(void)
{
    struct buf b = BUF_INIT;
    char big[1000];

    buf_add_str(&b, "From: ");
    buf_add(&b, "a@b.test\r\n", 10);
    CHECK_STR(b.data, "From: a@b.test\r\n");
    CHECK(b.len == 16);
    CHECK(b.size >= BUF_MIN);

    memset(big, 'x', sizeof(big));
    for (int i = 0; i < 100; i++)
        buf_add(&b, big, sizeof(big));
    CHECK(b.len == 16 + 100 * sizeof(big));
    CHECK(b.data[b.len] == '\0');
    CHECK(b.data[b.len - 1] == 'x' && b.data[15] == '\n');
    CHECK(b.size < 2 * (b.len + 1) + BUF_MIN); /* doubling, not more */

    size_t size = b.size;
    buf_reset(&b);
    CHECK(b.len == 0 && b.size == size && b.data[0] == '\0');

    buf_add(&b, "a\0b", 3);
    CHECK(b.len == 3 && memcmp(b.data, "a\0b", 4) == 0);
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.size == 0);

    /* Capped: at most 100 bytes allocated, so 99 of text. */
    CHECK(buf_reserve_max(&b, 50, 100) == 50);
    buf_add(&b, big, 50);
    CHECK(buf_reserve_max(&b, 80, 100) == 49);
    CHECK(b.size <= 100);
    buf_add(&b, big, 49);
    CHECK(b.len == 99 && b.data[99] == '\0');
    CHECK(buf_reserve_max(&b, 1, 100) == 0);
    buf_free(&b);

    /* Reading a descriptor to its end: more than one chunk, then EOF. */
    int fds[2];
    CHECK(pipe(fds) == 0);
    if (fork() == 0) {
        for (int i = 0; i < 200; i++)
            if (write(fds[1], big, sizeof(big)) != (ssize_t)sizeof(big))
                _exit(1);
        _exit(0);
    }
    (void)close(fds[1]);
    buf_add_str(&b, "head:");
    CHECK(buf_read_fd(&b, fds[0]) == 0);
    CHECK(b.len == 5 + 200 * sizeof(big) && b.data[b.len] == '\0');
    CHECK(memcmp(b.data, "head:xxx", 8) == 0);
    (void)close(fds[0]);
    CHECK(buf_read_fd(&b, fds[0]) == -1); /* closed: EBADF */
    buf_free(&b);

    /* Empty appends still give a C string. */
    buf_add(&b, "", 0);
    CHECK(b.data != NULL && b.data[0] == '\0' && b.len == 0);
    buf_free(&b);
    return check_done();
}
