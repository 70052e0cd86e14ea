/*
 * NAME
 *	import_source 3h
 * SUMMARY
 *	the file sources of tabularium import: mbox, Maildir, .eml files
 * SYNOPSIS
 *	#include "import/import_source.h"
 * DESCRIPTION
 *	A source is a small driver: open, next message, position, close.
 *	import_source_open() detects the format of path when format is NULL
 *	("mbox", "mboxrd", "mboxo", "mboxcl2", "maildir", "eml", "zip"): a file
 *	that starts with "From " is an mbox, a zip archive a zip of .eml
 *	files, any other file one .eml message; a
 *	folder with cur/ or new/ (at its top or below) is a Maildir tree,
 *	any other folder a tree of .eml files.
 *
 *	import_source_next() copies the next message into msg->fd (one
 *	spool file per source under spool_dir, emptied for each message)
 *	and notes what the archive writer must know about its bytes and
 *	their SHA-256, as it copies: no message is ever held in memory.
 *	Messages come in a fixed order (an mbox in file order, files sorted
 *	by name), so that msg->seq (1, 2, ...) and msg->resume (an mbox's
 *	byte offset of the next message, a folder's count of files) name
 *	how far the source was read; import_source_seek() goes back there
 *	after a crash.
 *
 *	A message that cannot be read whole (an mbox that ends inside it,
 *	a Content-Length past the end of the file, a file that vanished or
 *	cannot be opened) comes back with msg->reject set to why: the caller
 *	reports it and goes on. A file that is not an .eml message in a
 *	tree of .eml files comes back with msg->skip set, for the same report.
 * DIAGNOSTICS
 *	open/next/seek: -1 with *error_r (a static or per-source message)
 *	when the source itself cannot be read on; next: 1 a message, 0 the end.
 */
#ifndef TAB_IMPORT_SOURCE_H
#define TAB_IMPORT_SOURCE_H

#include <stdint.h>
#include <time.h>

#include "common/sha256.h"

struct import_source;

struct import_msg {
    int fd; /* the original, from offset 0, size bytes (owned by the source) */
    uint64_t size, max_line;
    int has_8bit, has_nul, has_bare_cr_lf, ends_with_newline;
    char sha256[SHA256_HEX_SIZE];
    uint64_t seq;           /* 1 for the first message of the source */
    uint64_t resume;        /* import_source_seek() value just after it */
    char position[512];     /* where it is, for people: "byte 1234", "cur/x:2,S" */
    const char *folder;     /* Maildir folder ("" the top, ".Sent", "Sent/2019"), or NULL */
    char *from_line_sender; /* mbox From_ line's address, or NULL (heap) */
    time_t from_line_time;  /* mbox From_ line's date, or 0 */
    time_t mtime;           /* the file's mtime (Maildir, .eml), or 0 */
    const char *reject;     /* non-NULL: not read whole, why */
    const char *skip;       /* non-NULL: not a message, why */
};

/* spool_dir: where the spool file goes (queue_directory). */
struct import_source *import_source_open(const char *path, const char *format,
                                         const char *spool_dir, const char **error_r);
/* The format opened ("mboxrd", "mboxo", "mboxcl2", "maildir", "eml", "zip"). */
const char *import_source_format(const struct import_source *src);
/* Bytes of the source read so far, and in all (0 unknown): for progress. */
uint64_t import_source_bytes(const struct import_source *src, uint64_t *total_r);
int import_source_next(struct import_source *src, struct import_msg *msg, const char **error_r);
/* Go to where msg->resume of message number seq said, last being that
 * message's msg->position. 0 done; 1 the source is not what it was (files
 * moved, an mbox rewritten: *error_r says how), nothing moved; -1 error. */
int import_source_seek(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                       const char **error_r);
void import_source_close(struct import_source **src);

#endif
