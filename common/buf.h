/*
 * NAME
 *	buf 3h
 * SUMMARY
 *	the one growable byte buffer
 * SYNOPSIS
 *	struct buf b = BUF_INIT;
 *	buf_add(&b, p, n); buf_add_str(&b, "x");	b.data, b.len
 *	buf_reset(&b);	(len 0, memory kept)	buf_free(&b);
 * DESCRIPTION
 *	Appending is amortised linear: the size doubles, from BUF_MIN. The
 *	bytes are always followed by a NUL that len does not count (once
 *	anything was added, data is never NULL), so a buffer of text is a C
 *	string as it is; binary data may contain NULs of its own.
 *	buf_reserve_max() grows at most to a cap, for buffers with a bound
 *	of their own (the full-text limit).
 * DIAGNOSTICS
 *	Out of memory, or a size that would overflow, aborts (as xmalloc).
 */
#ifndef TAB_BUF_H
#define TAB_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;  /* bytes in data, without the NUL */
    size_t size; /* allocated */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
#define BUF_MIN 256

/* Room for n more bytes and the NUL. */
void buf_reserve(struct buf *b, size_t n);
/* As buf_reserve(), but never beyond max bytes allocated in all: returns
 * how many of the n bytes fit (the caller truncates). */
size_t buf_reserve_max(struct buf *b, size_t n, size_t max);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_add_str(struct buf *b, const char *s);
/* Append what fd gives until its end (EINTR retried): 0, or -1 with
 * errno (what was read stays in b). */
int buf_read_fd(struct buf *b, int fd);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
