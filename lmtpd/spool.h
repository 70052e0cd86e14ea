/*
 * NAME
 *	spool 3h
 * SUMMARY
 *	per-transaction spool files under queue_directory
 * DESCRIPTION
 *	The DATA reader streams the original into a spool file and notes
 *	what the wrapper must know about its bytes (struct original_info); the
 *	wrapper writes the archive message into a second spool file. Spool
 *	files are named "<pid>.<archive id>.{orig,wrap}" so that the master can
 *	remove a dead worker's leftovers. They are scratch space: nothing is
 *	acknowledged until the store has its own durable copy.
 */
#ifndef TAB_SPOOL_H
#define TAB_SPOOL_H

#include <stdint.h>

#include "mail/archive_write.h"

struct lmtp_io;

enum spool_status {
    SPOOL_OK = 0,
    SPOOL_TOOBIG,   /* message_size_limit exceeded: data read to its end, not kept */
    SPOOL_IO_ERROR, /* spool file write failed: data read to its end, not kept */
    SPOOL_LOST,     /* the client went away before the end of data */
    SPOOL_TIMEOUT,  /* the client was too slow (lmtp_timeout, lmtp_min_data_rate) */
};

/* The process's spool file for originals, "<queue_dir>/<pid>.orig": created
 * once, then emptied and reused by every transaction. Returns it truncated
 * and positioned at 0; *path_r is static. spool_orig_release() empties it
 * after a transaction; spool_orig_close() removes it (worker exit). */
int spool_orig_open(const char *queue_dir, const char **path_r, const char **error_r);
void spool_orig_release(void);
void spool_orig_close(void);

/* Create "<queue_dir>/<pid>.<archive_id>.<suffix>" (O_EXCL, mode 0600). *path_r heap. */
int spool_create(const char *queue_dir, const char *archive_id, const char *suffix, char **path_r,
                 const char **error_r);
/* The same without a name when the file system can (O_TMPFILE): nothing
 * to remove, no directory entry created and deleted per message; *path_r
 * is then "/proc/self/fd/N" (linkat(..., AT_SYMLINK_FOLLOW) gives it a
 * name) and *named_r 0. Otherwise spool_create() with *named_r 1. */
int spool_create_unnamed(const char *queue_dir, const char *archive_id, const char *suffix,
                         char **path_r, int *named_r, const char **error_r);
/* Stream DATA from io into fd up to the "." line: dot-unstuffing, any line
 * length, NUL and 8-bit bytes, bare LF, a last line without CRLF. Fills
 * info and the SHA-256 of the original. limit 0 = none. */
enum spool_status spool_receive(struct lmtp_io *io, int fd, long long limit,
                                struct original_info *info, char sha256_hex[65],
                                const char **error_r);
/* Remove leftovers: every spool file when pid is 0, else those of pid. */
void spool_cleanup(const char *queue_dir, long pid);

#endif
