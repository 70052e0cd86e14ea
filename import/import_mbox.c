/*
 * NAME
 *	import_mbox 3
 * SUMMARY
 *	an mbox file as a source of tabularium import: mboxrd, mboxo, mboxcl2
 * DESCRIPTION
 *	A message starts with a From_ line ("From SENDER DATE") at the start
 *	of the file or after an empty line; the empty line before the next
 *	From_ line (or the end of the file) is the separator, not part of the
 *	message. A "From " line that does not look like a From_ line (a
 *	sender, then a time of day and a year: "From a@b Mon Jan  6
 *	10:00:00 2020") or that follows a line of text is the body's.
 *
 *	Variants: a message whose header has a Content-Length that ends
 *	exactly before the next From_ line (or the end of the file) is read
 *	as mboxcl2: that many body bytes, copied as they are, whatever lines
 *	they hold. Any other message is read by lines and its From_ quoting
 *	undone: mboxrd (the default) takes one '>' off every line that is
 *	">...>From "; mboxo (--format mboxo) only off ">From ", as its
 *	writers quoted nothing else. The two read the same except for a line
 *	">>From " of the original.
 *
 *	The file is read through a 64 KiB buffer and the message copied into
 *	the spool file line by line, a long line in pieces: memory does not
 *	grow with the size of the file, of a message or of a line.
 *
 *	A damaged end is kept apart: a file that ends inside a line (no last
 *	newline), or a Content-Length past the end of the file, gives its
 *	last message back with msg->reject set; everything before it is
 *	read as usual. msg->resume is the byte offset of the next From_ line.
 * DIAGNOSTICS
 *	-1 with *error_r when the file cannot be read.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/strlist.h"
#include "import/import_source_private.h"

#define MBOX_BUF (64 * 1024)
/* Bytes of a line start looked at to tell a From_ line or a quoted one. */
#define MBOX_PEEK 1024
/* Longest header line kept whole to find Content-Length. */
#define MBOX_HEADER_LINE 256

struct mbox_source {
    struct import_source src;
    int fd, mboxo;
    uint64_t size;
    char *buf;
    size_t pos, len;
    uint64_t buf_offset; /* file offset of buf[0] */
    int eof;
    struct import_writer w;
    char error[512];
};

static const char *mbox_fail(struct mbox_source *m, const char *what)
{
    snprintf(m->error, sizeof(m->error), "%s: %s", what, strerror(errno));
    return m->error;
}

static uint64_t mbox_offset(const struct mbox_source *m)
{
    return m->buf_offset + m->pos;
}

/* At least want bytes after pos in the buffer, unless the file ends. */
static int mbox_fill(struct mbox_source *m, size_t want, const char **error_r)
{
    if (want > MBOX_BUF)
        want = MBOX_BUF;
    while (m->len - m->pos < want && !m->eof) {
        if (m->pos > 0) {
            memmove(m->buf, m->buf + m->pos, m->len - m->pos);
            m->buf_offset += m->pos;
            m->len -= m->pos;
            m->pos = 0;
        }
        ssize_t n = read(m->fd, m->buf + m->len, MBOX_BUF - m->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *error_r = mbox_fail(m, "read");
            return -1;
        }
        if (n == 0)
            m->eof = 1;
        m->len += (size_t)n;
    }
    return 0;
}

/* The start of the line at pos: *n_r bytes (up to MBOX_PEEK, or the
 * whole line with its newline when shorter); *whole_r when it ends in
 * the newline. 0 at the end of the file. */
static int mbox_peek(struct mbox_source *m, const char **p_r, size_t *n_r, int *whole_r,
                     const char **error_r)
{
    if (mbox_fill(m, MBOX_PEEK, error_r) < 0)
        return -1;
    size_t avail = m->len - m->pos;
    if (avail > MBOX_PEEK)
        avail = MBOX_PEEK;
    const char *p = m->buf + m->pos;
    const char *nl = memchr(p, '\n', avail);
    *p_r = p;
    *whole_r = nl != NULL;
    *n_r = nl != NULL ? (size_t)(nl - p) + 1 : avail;
    return avail > 0;
}

/* "From SENDER DATE": a sender, then a time of day (H:MM) and a year. */
static int mbox_is_from_line(const char *p, size_t n, char **sender_r, time_t *time_r)
{
    char line[MBOX_PEEK + 1], *sp, *rest;
    struct tm tm;

    if (n < 5 || memcmp(p, "From ", 5) != 0)
        return 0;
    memcpy(line, p, n);
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    sp = line + 5;
    rest = strchr(sp, ' ');
    if (*sp == '\0' || *sp == ' ' || rest == NULL)
        return 0;
    int year = 0;
    for (const char *q = rest; *q != '\0'; q++)
        if ((q[0] == '1' || q[0] == '2') && isdigit((unsigned char)q[1]) &&
            isdigit((unsigned char)q[2]) && isdigit((unsigned char)q[3]) &&
            !isdigit((unsigned char)q[4]) && (q == rest || !isdigit((unsigned char)q[-1])))
            year = 1;
    int clock = 0; /* "HH:MM" */
    for (const char *q = rest; *q != '\0' && q[1] != '\0'; q++)
        if (isdigit((unsigned char)q[0]) && q[1] == ':' && isdigit((unsigned char)q[2]) &&
            isdigit((unsigned char)q[3]))
            clock = 1;
    if (!year || !clock)
        return 0;
    if (sender_r != NULL) {
        *sender_r = xstrndup(sp, (size_t)(rest - sp));
        *time_r = 0;
        while (*rest == ' ')
            rest++;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(rest, "%a %b %d %H:%M:%S %Y", &tm);
        if (end != NULL)
            *time_r = timegm(&tm);
    }
    return 1;
}

/* Copy the rest of the line at pos (to its newline or the end of the
 * file) into the message, from skip bytes on. *newline_r: it had one. */
static int mbox_copy_line(struct mbox_source *m, size_t skip, int discard, int *newline_r,
                          const char **error_r)
{
    *newline_r = 0;
    m->pos += skip;
    for (;;) {
        if (m->pos == m->len && mbox_fill(m, 1, error_r) < 0)
            return -1;
        if (m->pos == m->len)
            return 0; /* the end of the file */
        const char *p = m->buf + m->pos;
        size_t avail = m->len - m->pos;
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
        if (!discard && import_writer_add(&m->w, p, n, error_r) < 0)
            return -1;
        m->pos += n;
        if (nl != NULL) {
            *newline_r = 1;
            return 0;
        }
    }
}

static int mbox_blank(const char *p, size_t n)
{
    return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

/* Content-Length of a header line, or -1. */
static long long mbox_content_length(const char *p, size_t n)
{
    char line[MBOX_HEADER_LINE + 1];

    if (n > MBOX_HEADER_LINE || n < 15 || strncasecmp(p, "Content-Length:", 15) != 0)
        return -1;
    memcpy(line, p, n);
    line[n] = '\0';
    char *end;
    const char *v = line + 15;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!isdigit((unsigned char)*v))
        return -1;
    errno = 0;
    long long cl = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    return errno == 0 && *end == '\0' ? cl : -1;
}

/* What is at offset: the end of the file, or (after at most one empty
 * line) a From_ line. */
static int mbox_boundary_at(struct mbox_source *m, uint64_t offset)
{
    char b[MBOX_PEEK];
    ssize_t n;

    if (offset == m->size)
        return 1;
    n = pread(m->fd, b, sizeof(b), (off_t)offset);
    if (n <= 0)
        return 0;
    size_t i = 0;
    if (b[0] == '\n')
        i = 1;
    else if (n > 1 && b[0] == '\r' && b[1] == '\n')
        i = 2;
    if (offset + i == m->size)
        return 1;
    return mbox_is_from_line(b + i, (size_t)n - i, NULL, NULL);
}

static int mbox_next(struct import_source *src, struct import_msg *msg, const char **error_r)
{
    struct mbox_source *m = (struct mbox_source *)src;
    const char *p;
    size_t n;
    int whole, r, newline = 1, in_header = 1;
    size_t pending = 0; /* an empty line held back: it may be the separator */
    long long cl = -1;
    uint64_t start;

    r = mbox_peek(m, &p, &n, &whole, error_r);
    if (r <= 0)
        return r;
    if (import_writer_begin(&m->w, msg, error_r) < 0)
        return -1;
    start = mbox_offset(m);
    msg->seq = ++src->seq;
    snprintf(msg->position, sizeof(msg->position), "message %llu at byte %llu",
             (unsigned long long)msg->seq, (unsigned long long)start);
    if (!mbox_is_from_line(p, n, &msg->from_line_sender, &msg->from_line_time)) {
        /* Not at a From_ line: text that belongs to no message (a damaged
         * file). Read up to the next From_ line after an empty line and
         * report it. */
        msg->reject = "not an mbox message: no From_ line before this text";
    } else {
        int nl;
        /* The From_ line itself is not part of the message. */
        if (mbox_copy_line(m, 0, 1, &nl, error_r) < 0)
            return -1;
    }
    for (;;) {
        r = mbox_peek(m, &p, &n, &whole, error_r);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (in_header && mbox_blank(p, n)) {
            in_header = 0;
            if (cl >= 0 && msg->reject == NULL) {
                uint64_t body = mbox_offset(m) + n;
                if (body + (uint64_t)cl > m->size) {
                    msg->reject = "truncated: its Content-Length runs past the end of the file";
                } else if (mbox_boundary_at(m, body + (uint64_t)cl)) {
                    /* mboxcl2: the body by its length, as it is. */
                    if (import_writer_add(&m->w, p, n, error_r) < 0)
                        return -1;
                    m->pos += n;
                    uint64_t left = (uint64_t)cl;
                    while (left > 0) {
                        if (m->pos == m->len && mbox_fill(m, 1, error_r) < 0)
                            return -1;
                        size_t k = m->len - m->pos;
                        if (k == 0) {
                            msg->reject = "truncated: the file ends inside the message";
                            break;
                        }
                        if (k > left)
                            k = (size_t)left;
                        if (import_writer_add(&m->w, m->buf + m->pos, k, error_r) < 0)
                            return -1;
                        m->pos += k;
                        left -= k;
                    }
                    /* the separator */
                    if (mbox_peek(m, &p, &n, &whole, error_r) > 0 && mbox_blank(p, n))
                        m->pos += n;
                    src->format = "mboxcl2";
                    goto done;
                }
            }
        }
        if (mbox_blank(p, n) && newline) {
            if (pending > 0 &&
                import_writer_add(&m->w, pending == 2 ? "\r\n" : "\n", pending, error_r) < 0)
                return -1;
            pending = n;
            m->pos += n;
            continue;
        }
        if ((pending > 0 || msg->reject != NULL) && newline && mbox_is_from_line(p, n, NULL, NULL))
            break; /* the next message; the empty line before it was the separator */
        if (pending > 0) {
            if (import_writer_add(&m->w, pending == 2 ? "\r\n" : "\n", pending, error_r) < 0)
                return -1;
            pending = 0;
        }
        size_t skip = 0;
        if (newline && n > 5 && p[0] == '>') {
            size_t q = 0;
            while (q < n && p[q] == '>')
                q++;
            if (n - q >= 5 && memcmp(p + q, "From ", 5) == 0 && (!m->mboxo || q == 1))
                skip = 1;
        }
        if (in_header && newline && whole) {
            long long v = mbox_content_length(p, n);
            if (v >= 0)
                cl = v;
        }
        if (mbox_copy_line(m, skip, 0, &newline, error_r) < 0)
            return -1;
    }
    /* The end of the file or the next From_ line. */
    if (!newline && msg->reject == NULL)
        msg->reject = "truncated: the file ends inside a line of this message";
    if (msg->size == 0 && msg->reject == NULL)
        msg->reject = "empty: a From_ line with no message after it";
    if (msg->reject == NULL && src->format == NULL)
        src->format = m->mboxo ? "mboxo" : "mboxrd";
done:
    msg->resume = mbox_offset(m);
    return import_writer_end(&m->w, error_r) < 0 ? -1 : 1;
}

static int mbox_seek(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                     const char **error_r)
{
    struct mbox_source *m = (struct mbox_source *)src;
    char b[MBOX_PEEK];
    ssize_t n;

    (void)last; /* "message N at byte X": the offset below says more */
    if (resume > m->size) {
        *error_r = "it is shorter than where the import stopped";
        return 1;
    }
    if (resume < m->size) {
        n = pread(m->fd, b, sizeof(b), (off_t)resume);
        if (n <= 0 || !mbox_is_from_line(b, (size_t)n, NULL, NULL)) {
            *error_r = "no From_ line where the import stopped";
            return 1;
        }
    }
    if (lseek(m->fd, (off_t)resume, SEEK_SET) < 0) {
        *error_r = mbox_fail(m, "lseek");
        return -1;
    }
    m->pos = m->len = 0;
    m->buf_offset = resume;
    m->eof = 0;
    src->seq = seq;
    return 0;
}

static uint64_t mbox_bytes(const struct import_source *src, uint64_t *total_r)
{
    const struct mbox_source *m = (const struct mbox_source *)src;

    *total_r = m->size;
    return mbox_offset(m);
}

static void mbox_close(struct import_source *src)
{
    struct mbox_source *m = (struct mbox_source *)src;

    if (m->w.sha != NULL) {
        char dummy[SHA256_HEX_SIZE];
        sha256_final_hex(m->w.sha, dummy);
    }
    close(m->fd);
    free(m->buf);
}

static const struct import_source_vfuncs mbox_vfuncs = {
    .format = "mbox",
    .next = mbox_next,
    .seek = mbox_seek,
    .bytes = mbox_bytes,
    .close = mbox_close,
};

struct import_source *import_mbox_open(const char *path, const char *variant, int spool_fd,
                                       const char **error_r)
{
    static char error[512];
    struct mbox_source *m;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(error, sizeof(error), "%s: %s", path, strerror(errno));
        *error_r = error;
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    m = xcalloc(1, sizeof(*m));
    m->src.v = &mbox_vfuncs;
    m->src.spool_fd = spool_fd;
    m->fd = fd;
    m->size = (uint64_t)st.st_size;
    m->buf = xmalloc(MBOX_BUF);
    m->mboxo = variant != NULL && strcmp(variant, "mboxo") == 0;
    if (variant != NULL && strcmp(variant, "mbox") != 0)
        m->src.format = variant;
    return &m->src;
}
