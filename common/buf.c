/*
 * NAME
 *	buf 3
 * SUMMARY
 *	the one growable byte buffer
 * DESCRIPTION
 *	See common/buf.h. Owns its memory; fails only by aborting.
 */
#include "common/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strlist.h"

/* buf_read_fd() reads at least this much at a time. */
#define BUF_READ_CHUNK 65536

static size_t buf_grow_to(size_t size, size_t need)
{
    if (size < BUF_MIN)
        size = BUF_MIN;
    while (size < need)
        size = size > SIZE_MAX / 2 ? need : size * 2;
    return size;
}

void buf_reserve(struct buf *b, size_t n)
{
    size_t need;

    if (n > SIZE_MAX - 1 - b->len)
        abort();
    need = b->len + n + 1;
    if (need <= b->size)
        return;
    b->size = buf_grow_to(b->size, need);
    b->data = xrealloc(b->data, b->size);
}

size_t buf_reserve_max(struct buf *b, size_t n, size_t max)
{
    size_t need;

    if (max <= b->len + 1)
        return 0;
    if (n > max - 1 - b->len)
        n = max - 1 - b->len;
    need = b->len + n + 1;
    if (need > b->size) {
        size_t size = buf_grow_to(b->size, need);
        b->size = size > max ? max : size;
        b->data = xrealloc(b->data, b->size);
    }
    return n;
}

void buf_add(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_add_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

int buf_read_fd(struct buf *b, int fd)
{
    for (;;) {
        ssize_t n;

        if (b->size - b->len < BUF_READ_CHUNK + 1)
            buf_reserve(b, BUF_READ_CHUNK);
        n = read(fd, b->data + b->len, b->size - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        b->len += (size_t)n;
        b->data[b->len] = '\0';
    }
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->size = 0;
}
