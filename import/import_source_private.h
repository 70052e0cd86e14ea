/*
 * NAME
 *	import_source_private 3h
 * SUMMARY
 *	what the file sources of tabularium import share
 * DESCRIPTION
 *	The driver table behind import_source.h and the writer that copies
 *	a message into the spool file, hashing and measuring it as it goes
 *	(import_spool.c).
 */
#ifndef TAB_IMPORT_SOURCE_PRIVATE_H
#define TAB_IMPORT_SOURCE_PRIVATE_H

#include <stddef.h>

#include "common/sha256.h"
#include "import/import_source.h"

struct import_writer {
    struct import_msg *msg;
    struct sha256_ctx *sha;
    uint64_t line;
    int prev; /* last byte written, -1 none */
};

/* Empty msg->fd and start a message. */
int import_writer_begin(struct import_writer *w, struct import_msg *msg, const char **error_r);
int import_writer_add(struct import_writer *w, const void *data, size_t len, const char **error_r);
/* Finish: msg->sha256, ends_with_newline; fd back at 0. */
int import_writer_end(struct import_writer *w, const char **error_r);
/* Copy len bytes of in_fd (at its offset) into the message. */
int import_writer_copy_fd(struct import_writer *w, int in_fd, uint64_t len, const char **error_r);

/* The spool file of one source: "<spool_dir>/<pid>.import.<n>", unlinked
 * at once (nothing to clean up after a crash). */
int import_spool_open(const char *spool_dir, const char **error_r);

struct import_source_vfuncs {
    const char *format;
    int (*next)(struct import_source *src, struct import_msg *msg, const char **error_r);
    int (*seek)(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                const char **error_r);
    uint64_t (*bytes)(const struct import_source *src, uint64_t *total_r);
    void (*close)(struct import_source *src);
};

struct import_source {
    const struct import_source_vfuncs *v;
    const char *format;
    int spool_fd;
    uint64_t seq;
};

struct import_source *import_mbox_open(const char *path, const char *variant, int spool_fd,
                                       const char **error_r);
/* maildir: 1 a Maildir tree, 0 a tree of .eml files. */
struct import_source *import_dir_open(const char *path, int maildir, int spool_fd,
                                      const char **error_r);
struct import_source *import_file_open(const char *path, int spool_fd, const char **error_r);
/* A zip of .eml files (import_zip.c); import_zip_is_zip(): 1 when path is one. */
struct import_source *import_zip_open(const char *path, int spool_fd, const char **error_r);
int import_zip_is_zip(const char *path);

#endif
