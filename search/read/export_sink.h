/*
 * NAME
 *	export_sink 3h
 * SUMMARY
 *	where tabularium export writes: buffered, hashed, and mbox's changes
 * DESCRIPTION
 *	Private to search/read/cli_export.c. A sink writes one export file
 *	(the mbox, or one eml or Maildir file at a time) through a 64 KiB
 *	buffer and hashes each message's exported bytes. For mbox it also
 *	makes the two changes search/read/cli_export_verify.c undoes: LF for
 *	CRLF when every line end of a message is CRLF, and mboxrd quoting.
 */
#ifndef TAB_EXPORT_SINK_H
#define TAB_EXPORT_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "backends/record.h"
#include "common/sha256.h"

/* An mbox entry's line ends: not known before the message's first. */
enum export_line_ends { EXPORT_ENDS_UNDECIDED, EXPORT_ENDS_CRLF_AS_LF, EXPORT_ENDS_AS_STORED };

/*
 * Where a message's bytes go: a file, through a buffer, hashed as the
 * exported bytes of this message (hash, bytes); file_bytes counts the
 * file. For mbox it also carries the line-end and mboxrd quoting state.
 */
struct export_sink {
    int fd;
    char *buf;
    size_t buf_len;
    struct sha256_ctx *hash; /* this message's exported bytes */
    uint64_t bytes;
    uint64_t file_bytes;
    /* mbox line ends: a CR held back until the next byte shows whether
     * it ends a line; restart: a bare LF came after CRLF was decided */
    enum export_line_ends line_ends;
    int cr_held;
    int restart;
    /* mboxrd: at a line start, '>' counted and a prefix of "From " seen */
    int line_start;
    uint64_t gt;
    size_t from_len;
    uint64_t content_bytes; /* bytes of the message itself (as stored) */
    char content_last;
};

/* Start a message: fresh hash, line-end and quoting state. */
void export_sink_begin(struct export_sink *s, enum export_line_ends line_ends);
/* Write the buffer out. 0 ok, -1 errno. */
int export_sink_flush(struct export_sink *s);
/* Append bytes as they are (hashed, counted). 0 ok, -1 errno. */
int export_sink_put(struct export_sink *s, const char *data, size_t len);
/* Drop what the mbox file got after offset (the entry being written).
 * 0 ok, -1 errno. */
int export_sink_rewind(struct export_sink *s, uint64_t offset);

/* archive_emit_fn for eml and maildir: the bytes as they are. */
int export_emit_plain(const char *buf, size_t len, void *ctx);
/* archive_emit_fn for mbox: line ends, then mboxrd quoting. Fails with
 * s->restart set when the message must be written again as stored. */
int export_emit_mbox(const char *buf, size_t len, void *ctx);
/* Before a message: its "From " line. 0 ok, -1 errno. */
int export_mbox_from_line(struct export_sink *s, const struct archive_record *rec);
/* After a message: what was held back, a line end when it had none at
 * its end, the blank line. 0 ok, -1 errno. */
int export_mbox_finish(struct export_sink *s);

#endif
