/*
 * NAME
 *	export_sink 3
 * SUMMARY
 *	where tabularium export writes: buffered, hashed, and mbox's changes
 * DESCRIPTION
 *	Owns the bytes of an export file as they are written: the buffer,
 *	each message's SHA-256 and size, the mbox "From " line, the LF line
 *	ends and the mboxrd quoting (docs/export.md, "Line ends"), and
 *	cutting an mbox entry off again. The undo of both mbox changes is
 *	in search/read/cli_export_verify.c; the two must agree byte for
 *	byte.
 *
 *	Never holds a message: the quoting keeps at most a line start's
 *	'>' count and a partial "From ", the line ends at most one CR.
 *	Whether a message is all CRLF is known only at its end: the first
 *	line end decides, and a bare LF after CRLF makes export_emit_mbox()
 *	fail with s->restart set, for export_one_mbox() to rewind the entry
 *	and read the message again as stored.
 * DIAGNOSTICS
 *	Functions return -1 with errno from write(), ftruncate() or lseek();
 *	the caller names the file.
 */
#include "search/read/export_sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "common/strlist.h"
#include "search/read/export_manifest.h"

int export_sink_flush(struct export_sink *s)
{
    if (s->buf_len == 0)
        return 0;
    if (safe_write_all(s->fd, s->buf, s->buf_len) < 0)
        return -1;
    s->buf_len = 0;
    return 0;
}

int export_sink_put(struct export_sink *s, const char *data, size_t len)
{
    sha256_update(s->hash, data, len);
    s->bytes += len;
    s->file_bytes += len;
    while (len > 0) {
        size_t n = EXPORT_BUF_SIZE - s->buf_len;
        if (n > len)
            n = len;
        memcpy(s->buf + s->buf_len, data, n);
        s->buf_len += n;
        data += n;
        len -= n;
        if (s->buf_len == EXPORT_BUF_SIZE && export_sink_flush(s) < 0)
            return -1;
    }
    return 0;
}

static int export_sink_put_gt(struct export_sink *s, uint64_t n)
{
    static const char gts[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

    while (n > 0) {
        size_t k = n < sizeof(gts) - 1 ? (size_t)n : sizeof(gts) - 1;
        if (export_sink_put(s, gts, k) < 0)
            return -1;
        n -= k;
    }
    return 0;
}

/* archive_emit_fn for eml and maildir: the bytes as they are. */
int export_emit_plain(const char *buf, size_t len, void *ctx)
{
    return export_sink_put(ctx, buf, len);
}

/* What a line start held back: the '>'s and a partial "From ". */
static int export_mbox_release(struct export_sink *s)
{
    if (export_sink_put_gt(s, s->gt) < 0 || export_sink_put(s, "From ", s->from_len) < 0)
        return -1;
    s->line_start = 0;
    s->gt = 0;
    s->from_len = 0;
    return 0;
}

/* mboxrd: one more '>' before ^>*From . */
static int export_mbox_quote(struct export_sink *s, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (s->line_start) {
            char c = buf[i];
            if (s->from_len == 0 && c == '>') {
                s->gt++;
                i++;
                continue;
            }
            if (c == "From "[s->from_len]) {
                i++;
                if (++s->from_len == 5) {
                    if (export_sink_put(s, ">", 1) < 0 || export_mbox_release(s) < 0)
                        return -1;
                }
                continue;
            }
            if (export_mbox_release(s) < 0)
                return -1;
        }
        /* Inside a line: copy through its end. */
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl == NULL ? len - i : (size_t)(nl - (buf + i)) + 1;
        if (export_sink_put(s, buf + i, n) < 0)
            return -1;
        i += n;
        if (nl != NULL)
            s->line_start = 1;
    }
    return 0;
}

/*
 * archive_emit_fn for mbox: the line ends, then mboxrd quoting. A
 * message whose first line ends in CRLF is written with LF, as mail
 * clients expect in an mbox; one whose first line ends in a bare LF is
 * written as stored. A bare LF after CRLF was decided cannot be undone
 * by "every LF back to CRLF": the callback fails with s->restart set,
 * and the message is written again as stored (export_one_mbox()).
 */
int export_emit_mbox(const char *buf, size_t len, void *ctx)
{
    struct export_sink *s = ctx;
    size_t start = 0;

    if (len == 0)
        return 0;
    s->content_bytes += len;
    s->content_last = buf[len - 1];
    if (s->line_ends == EXPORT_ENDS_AS_STORED)
        return export_mbox_quote(s, buf, len);
    if (s->cr_held && buf[0] != '\n') {
        s->cr_held = 0; /* a CR inside a line */
        if (export_mbox_quote(s, "\r", 1) < 0)
            return -1;
    }
    for (;;) {
        const char *nl = memchr(buf + start, '\n', len - start);
        size_t j;

        if (nl == NULL)
            break;
        j = (size_t)(nl - buf);
        if (!(j > 0 ? buf[j - 1] == '\r' : s->cr_held)) {
            if (s->line_ends == EXPORT_ENDS_CRLF_AS_LF) {
                s->restart = 1;
                errno = EAGAIN;
                return -1;
            }
            /* The first line end is a bare LF: nothing was changed yet. */
            s->line_ends = EXPORT_ENDS_AS_STORED;
            return export_mbox_quote(s, buf + start, len - start);
        }
        s->line_ends = EXPORT_ENDS_CRLF_AS_LF;
        s->cr_held = 0;
        if ((j > start && export_mbox_quote(s, buf + start, j - 1 - start) < 0) ||
            export_mbox_quote(s, "\n", 1) < 0)
            return -1;
        start = j + 1;
    }
    if (start < len) {
        size_t n = len - start;
        if (buf[len - 1] == '\r') {
            s->cr_held = 1; /* a line end, or not: the next byte tells */
            n--;
        }
        return export_mbox_quote(s, buf + start, n);
    }
    return 0;
}

/* The mbox "From " line: sender (white space and controls as "_") and
 * the arrival in UTC, asctime layout. */
int export_mbox_from_line(struct export_sink *s, const struct archive_record *rec)
{
    const char *from = rec->envelope_from;
    char date[64];
    struct tm tm;
    char *sender;
    int ret;

    if (from == NULL || *from == '\0')
        from = "MAILER-DAEMON";
    sender = xstrdup(from);
    for (unsigned char *p = (unsigned char *)sender; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7F)
            *p = '_';
    if (gmtime_r(&rec->arrival, &tm) == NULL ||
        strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        snprintf(date, sizeof(date), "Thu Jan  1 00:00:00 1970");
    ret = export_sink_put(s, "From ", 5) < 0 || export_sink_put(s, sender, strlen(sender)) < 0 ||
                  export_sink_put(s, " ", 1) < 0 || export_sink_put(s, date, strlen(date)) < 0 ||
                  export_sink_put(s, "\n", 1) < 0
              ? -1
              : 0;
    free(sender);
    return ret;
}

/* Start a message in the sink: fresh per-message hash, line-end and
 * quoting state. */
void export_sink_begin(struct export_sink *s, enum export_line_ends line_ends)
{
    s->hash = sha256_new();
    s->bytes = 0;
    s->line_ends = line_ends;
    s->cr_held = 0;
    s->restart = 0;
    s->line_start = 1;
    s->gt = 0;
    s->from_len = 0;
    s->content_bytes = 0;
    s->content_last = '\n';
}

/* Drop what the mbox file got after offset (the entry being written). */
int export_sink_rewind(struct export_sink *s, uint64_t offset)
{
    uint64_t buffered_from = s->file_bytes - s->buf_len;

    if (offset >= buffered_from) {
        s->buf_len = (size_t)(offset - buffered_from);
    } else {
        s->buf_len = 0;
        if (ftruncate(s->fd, (off_t)offset) < 0 || lseek(s->fd, (off_t)offset, SEEK_SET) < 0)
            return -1;
    }
    s->file_bytes = offset;
    return 0;
}

int export_mbox_finish(struct export_sink *s)
{
    if (s->cr_held) {
        s->cr_held = 0;
        if (export_mbox_quote(s, "\r", 1) < 0)
            return -1;
    }
    if (export_mbox_release(s) < 0)
        return -1;
    if (s->content_bytes > 0 && s->content_last != '\n' && export_sink_put(s, "\n", 1) < 0)
        return -1;
    return export_sink_put(s, "\n", 1);
}
