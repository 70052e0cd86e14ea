/*
 * NAME
 *	archive_read 3h
 * SUMMARY
 *	read a stored archive copy through its store and check it
 * SYNOPSIS
 *	struct archive_read_result res;
 *	archive_read(st, rec, ARCHIVE_EMIT_ORIGINAL, write_fn, ctx, &res);
 *	if (archive_read_verdict(rec, &res, 1, why, sizeof(why)) != 0) ...
 * DESCRIPTION
 *	The one place that streams a stored copy back (show, verify, export,
 *	reindex): the store's read() (backends/store.h) hands the copy over
 *	in chunks in this process, with no child process or pipe; every
 *	byte is hashed (the wrapped copy's SHA-256 and size) and the
 *	attached original found (after the blank line that ends the header
 *	of the first MIME part, which must be message/rfc822; exactly
 *	rec->size bytes, see mail/archive_write.h), whose SHA-256 it
 *	computes too. Nothing is held in memory or in a file.
 *
 *	The emit callback receives the wrapped copy, the original only, or
 *	nothing (verify), chunk by chunk as it arrives; a failed check is
 *	known only at the end, so a caller that writes must say so after.
 *
 *	Never trusts the stored bytes: a truncated, altered or foreign copy
 *	gives a verdict, not a crash.
 * DIAGNOSTICS
 *	archive_read() returns 0 when the copy was read to the end (check the
 *	verdict), -1 otherwise with res->status saying why: the store's own
 *	message in res->error for MISSING and STORE_FAIL, the emit
 *	callback's errno in res->error_errno for EMIT_FAIL (the read stopped
 *	there).
 */
#ifndef TAB_ARCHIVE_READ_H
#define TAB_ARCHIVE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "backends/record.h"
#include "backends/store.h"
#include "common/sha256.h"

enum archive_emit {
    ARCHIVE_EMIT_NONE,     /* only hash */
    ARCHIVE_EMIT_WRAPPED,  /* the stored archive message as it is */
    ARCHIVE_EMIT_ORIGINAL, /* only the attached original */
};

enum archive_read_status {
    ARCHIVE_READ_OK,         /* read to the end */
    ARCHIVE_READ_MISSING,    /* the store has no such copy or cannot read it (TAB_PERM) */
    ARCHIVE_READ_STORE_FAIL, /* the store failed (TAB_RETRY): try again later */
    ARCHIVE_READ_EMIT_FAIL,  /* the callback failed (errno in error_errno) */
};

struct archive_read_result {
    enum archive_read_status status;
    int error_errno;
    uint64_t wrapped_bytes;
    char wrapped_sha256[SHA256_HEX_SIZE];
    char original_sha256[SHA256_HEX_SIZE];
    uint64_t original_missing; /* bytes of the original the copy ended before */
    const char *layout_error;  /* NULL, or why the original was not found */
    char error[512];           /* the store's message for MISSING / STORE_FAIL */
};

/* Write len bytes; 0 ok, -1 with errno set. */
typedef int archive_emit_fn(const char *buf, size_t len, void *ctx);

int archive_read(struct store *st, const struct archive_record *rec, enum archive_emit emit,
                 archive_emit_fn *fn, void *ctx, struct archive_read_result *res);

/* After archive_read() returned 0: 0 when the copy matches the catalog
 * (wrapped SHA-256 and size; with check_original also the original's
 * layout and SHA-256), else -1 and one line in why saying what differs. */
int archive_read_verdict(const struct archive_record *rec, const struct archive_read_result *res,
                         int check_original, char *why, size_t why_size);

/* An archive_emit_fn for a file descriptor: ctx points at the int fd. */
int archive_emit_fd(const char *buf, size_t len, void *ctx);

#endif
