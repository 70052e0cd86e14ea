/*
 * NAME
 *	archive_read 3
 * SUMMARY
 *	stream a stored copy from its store, hash it, find the original
 * DESCRIPTION
 *	The store's read() hands the copy over in chunks, in this process
 *	(no child, no pipe: a verify of a million copies costs no fork); each
 *	chunk is hashed, walked through the archive message's MIME layout
 *	byte by byte only through its few hundred header bytes, and the
 *	original inside hashed in whole chunks.
 */
#include "mail/archive_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/safe_file.h"

/* Enough of a part header line to recognise Content-Type: message/rfc822. */
#define ARCHIVE_READ_LINE_KEEP 128

enum archive_layout {
    LAYOUT_HEADER,      /* the archive message's own header */
    LAYOUT_BOUNDARY,    /* the first "--boundary" line */
    LAYOUT_PART_HEADER, /* the message/rfc822 part's header */
    LAYOUT_ORIGINAL,    /* rec->size bytes of the original */
    LAYOUT_TRAILER,     /* closing boundary */
};

struct archive_stream {
    enum archive_emit emit;
    archive_emit_fn *fn;
    void *ctx;
    enum archive_layout state;
    size_t line_len;                       /* bytes of the current line so far */
    char line[ARCHIVE_READ_LINE_KEEP + 1]; /* its first bytes */
    int rfc822_seen;                       /* the part header declared message/rfc822 */
    uint64_t original_left;
    struct sha256_ctx *wrapped_hash;
    struct sha256_ctx *original_hash;
    struct archive_read_result *res;
};

int archive_emit_fd(const char *buf, size_t len, void *ctx)
{
    return safe_write_all(*(const int *)ctx, buf, len);
}

/* 1 when the line held in s->line (s->line_len bytes) is empty: "" or "\r". */
static int archive_line_empty(const struct archive_stream *s)
{
    return s->line_len == 0 || (s->line_len == 1 && s->line[0] == '\r');
}

/* A completed part header line: is it "Content-Type: message/rfc822"? */
static void archive_part_header_line(struct archive_stream *s)
{
    const char *p = s->line;
    size_t kept = s->line_len < ARCHIVE_READ_LINE_KEEP ? s->line_len : ARCHIVE_READ_LINE_KEEP;

    s->line[kept] = '\0';
    if (strncasecmp(p, "Content-Type:", 13) != 0)
        return;
    p += 13;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "message/rfc822", 14) == 0)
        s->rfc822_seen = 1;
}

/*
 * Walk the MIME layout of the archive message up to the original, one
 * byte at a time. Returns how many bytes of buf it consumed before the
 * original starts (all of them when it does not start in buf).
 */
static size_t archive_skip_to_original(struct archive_stream *s, const char *buf, size_t len)
{
    struct archive_read_result *res = s->res;
    size_t i;

    for (i = 0; i < len && s->state < LAYOUT_ORIGINAL && res->layout_error == NULL; i++) {
        char c = buf[i];

        if (c != '\n') {
            if (s->line_len < ARCHIVE_READ_LINE_KEEP)
                s->line[s->line_len] = c;
            s->line_len++;
            if (s->state == LAYOUT_BOUNDARY && s->line_len <= 2 && c != '-')
                res->layout_error = "no MIME boundary after the archive header";
            continue;
        }
        switch (s->state) {
        case LAYOUT_HEADER:
            if (archive_line_empty(s))
                s->state = LAYOUT_BOUNDARY;
            break;
        case LAYOUT_BOUNDARY:
            if (s->line_len < 2)
                res->layout_error = "no MIME boundary after the archive header";
            s->state = LAYOUT_PART_HEADER;
            break;
        case LAYOUT_PART_HEADER:
            if (!archive_line_empty(s)) {
                archive_part_header_line(s);
                break;
            }
            if (!s->rfc822_seen)
                res->layout_error = "the first MIME part is not message/rfc822";
            s->state = s->original_left > 0 ? LAYOUT_ORIGINAL : LAYOUT_TRAILER;
            break;
        default:
            break;
        }
        s->line_len = 0;
    }
    return i;
}

/* Hash and (as the mode says) emit one chunk of the stored copy. */
static int archive_chunk(struct archive_stream *s, const char *buf, size_t len)
{
    size_t skip, n;

    sha256_update(s->wrapped_hash, buf, len);
    s->res->wrapped_bytes += len;
    if (s->emit == ARCHIVE_EMIT_WRAPPED && s->fn(buf, len, s->ctx) < 0)
        return -1;

    while (len > 0 && s->res->layout_error == NULL) {
        if (s->state < LAYOUT_ORIGINAL) {
            skip = archive_skip_to_original(s, buf, len);
            buf += skip;
            len -= skip;
            continue;
        }
        if (s->state != LAYOUT_ORIGINAL)
            break; /* the closing boundary: hashed above, not part of the original */
        n = len < s->original_left ? len : (size_t)s->original_left;
        sha256_update(s->original_hash, buf, n);
        if (s->emit == ARCHIVE_EMIT_ORIGINAL && s->fn(buf, n, s->ctx) < 0)
            return -1;
        s->original_left -= n;
        if (s->original_left == 0)
            s->state = LAYOUT_TRAILER;
        buf += n;
        len -= n;
    }
    return 0;
}

/* The store's chunk callback: a failed emit stops the read. */
static int archive_read_chunk(void *ctx, const char *data, size_t len)
{
    struct archive_stream *s = ctx;

    if (archive_chunk(s, data, len) == 0)
        return 0;
    s->res->error_errno = errno;
    return -1;
}

int archive_read(struct store *st, const struct archive_record *rec, enum archive_emit emit,
                 archive_emit_fn *fn, void *ctx, struct archive_read_result *res)
{
    struct archive_stream s;
    const char *error = NULL;
    enum tab_result r;

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    s.emit = emit;
    s.fn = fn;
    s.ctx = ctx;
    s.res = res;
    s.original_left = rec->size;
    s.wrapped_hash = sha256_new();
    s.original_hash = sha256_new();
    r = st->read(st, rec->location, archive_read_chunk, &s, &error);
    sha256_final_hex(s.wrapped_hash, res->wrapped_sha256);
    sha256_final_hex(s.original_hash, res->original_sha256);
    res->original_missing = s.state == LAYOUT_TRAILER ? 0 : s.original_left;
    switch (r) {
    case TAB_OK:
        if (s.state < LAYOUT_ORIGINAL && res->layout_error == NULL)
            res->layout_error = "the stored copy ends before the attached original";
        return 0;
    case TAB_STOPPED:
        res->status = ARCHIVE_READ_EMIT_FAIL;
        return -1;
    case TAB_PERM:
        res->status = ARCHIVE_READ_MISSING;
        break;
    default:
        res->status = ARCHIVE_READ_STORE_FAIL;
        break;
    }
    snprintf(res->error, sizeof(res->error), "%s",
             error != NULL ? error : "the store failed without a message");
    return -1;
}

int archive_read_verdict(const struct archive_record *rec, const struct archive_read_result *res,
                         int check_original, char *why, size_t why_size)
{
    if (strcmp(res->wrapped_sha256, rec->wrapped_sha256) != 0 ||
        (rec->wrapped_size != 0 && res->wrapped_bytes != rec->wrapped_size)) {
        snprintf(why, why_size,
                 "stored copy has %llu bytes, SHA-256 %s; the catalog recorded %llu bytes,"
                 " SHA-256 %s",
                 (unsigned long long)res->wrapped_bytes, res->wrapped_sha256,
                 (unsigned long long)rec->wrapped_size, rec->wrapped_sha256);
        return -1;
    }
    if (!check_original)
        return 0;
    if (res->layout_error != NULL) {
        snprintf(why, why_size, "%s", res->layout_error);
        return -1;
    }
    if (res->original_missing > 0) {
        snprintf(why, why_size,
                 "the stored copy ends %llu bytes before the end of the original (%llu bytes)",
                 (unsigned long long)res->original_missing, (unsigned long long)rec->size);
        return -1;
    }
    if (strcmp(res->original_sha256, rec->sha256) != 0) {
        snprintf(why, why_size, "SHA-256 of the original is %s; the catalog recorded %s",
                 res->original_sha256, rec->sha256);
        return -1;
    }
    return 0;
}
