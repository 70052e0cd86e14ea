/*
 * NAME
 *	lmtp_io 3
 * SUMMARY
 *	buffered, timed LMTP stream I/O
 * DESCRIPTION
 *	Owns the input buffer (64 KiB, grown once when the line limit is
 *	larger, never beyond LMTP_IO_LINE_MAX) and the reply buffer. Never
 *	holds more than one command line or one buffer of message data in
 *	memory. A reply line is cut to 1021 bytes plus CRLF.
 * DIAGNOSTICS
 *	Read errors and timeouts are statuses; write errors mark the stream
 *	broken (the session then ends without further replies).
 */
#include "lmtpd/lmtp_io.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/safe_file.h"
#include "common/strlist.h"

#define LMTP_IO_BUFSIZE 65536
/* Upper bound of any line limit (the configuration's maximum): what one
 * worker may ever hold of a command line. */
#define LMTP_IO_LINE_MAX (1024 * 1024)

struct lmtp_io {
    int in_fd, out_fd;
    int timeout;
    long long deadline_ms;   /* the current command line or DATA must be done by then */
    long long data_start_ms; /* DATA: when it started, for the minimum rate */
    unsigned long long data_bytes;
    int min_data_rate; /* bytes/s DATA must keep up after the first timeout; 0 off */
    volatile sig_atomic_t *stop_flag;
    char *in;
    size_t in_cap, in_start, in_end;
    int discarding; /* inside an over-long line, dropping bytes up to LF */
    char *out;
    size_t out_len, out_cap;
    int broken;
};

struct lmtp_io *lmtp_io_new(int in_fd, int out_fd, int timeout, volatile sig_atomic_t *stop_flag)
{
    struct lmtp_io *io = xcalloc(1, sizeof(*io));
    io->in_fd = in_fd;
    io->out_fd = out_fd;
    io->timeout = timeout;
    io->stop_flag = stop_flag;
    io->in_cap = LMTP_IO_BUFSIZE;
    io->in = xmalloc(io->in_cap + 1);
    io->out_cap = 4096;
    io->out = xmalloc(io->out_cap);
    return io;
}

void lmtp_io_free(struct lmtp_io **_io)
{
    struct lmtp_io *io = *_io;
    if (io == NULL)
        return;
    free(io->in);
    free(io->out);
    free(io);
    *_io = NULL;
}

int lmtp_io_flush(struct lmtp_io *io)
{
    if (io->out_len == 0 || io->broken)
        return io->broken ? -1 : 0;
    if (safe_write_all(io->out_fd, io->out, io->out_len) < 0)
        io->broken = 1;
    io->out_len = 0;
    return io->broken ? -1 : 0;
}

int lmtp_io_broken(const struct lmtp_io *io)
{
    return io->broken;
}

void lmtp_io_reply(struct lmtp_io *io, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof(line) - 3)
        n = sizeof(line) - 3;
    line[n++] = '\r';
    line[n++] = '\n';
    if (io->out_len + (size_t)n > io->out_cap) {
        io->out_cap = (io->out_len + (size_t)n) * 2;
        io->out = xrealloc(io->out, io->out_cap);
    }
    memcpy(io->out + io->out_len, line, (size_t)n);
    io->out_len += (size_t)n;
}

/* Read more input; replies are flushed first because the client may be
 * waiting for them before it sends more (end of a pipelined batch). */
static enum lmtp_io_status lmtp_io_fill(struct lmtp_io *io, int allow_stop)
{
    if (lmtp_io_flush(io) < 0)
        return LMTP_IO_ERROR;
    if (io->in_start > 0) {
        memmove(io->in, io->in + io->in_start, io->in_end - io->in_start);
        io->in_end -= io->in_start;
        io->in_start = 0;
    }
    if (io->in_end == io->in_cap)
        return LMTP_IO_ERROR; /* caller's limit exceeds the buffer: programmer error */
    for (;;) {
        struct pollfd pfd = {.fd = io->in_fd, .events = POLLIN};
        /* A deadline, not an idle timer: a client that trickles one byte
         * at a time (slow loris) cannot hold a worker past it. */
        long long left = io->deadline_ms - clock_monotonic_ms();
        if (left <= 0)
            return LMTP_IO_TIMEOUT;
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
        sigset_t open_mask;
        if (allow_stop && io->stop_flag && *io->stop_flag)
            return LMTP_IO_STOP;
        /* Workers keep SIGTERM/SIGHUP blocked and let them in only while
         * waiting here for a command: a stop can neither be lost between
         * the check above and the wait, nor interrupt DATA or a delivery. */
        sigemptyset(&open_mask);
        int rc = ppoll(&pfd, 1, &ts, allow_stop ? &open_mask : NULL);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return LMTP_IO_ERROR;
        if (rc == 0)
            return LMTP_IO_TIMEOUT;
        ssize_t n = read(io->in_fd, io->in + io->in_end, io->in_cap - io->in_end);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return errno == ECONNRESET ? LMTP_IO_EOF : LMTP_IO_ERROR;
        if (n == 0)
            return LMTP_IO_EOF;
        io->in_end += (size_t)n;
        return LMTP_IO_OK;
    }
}

enum lmtp_io_status lmtp_io_read_line(struct lmtp_io *io, size_t limit, int allow_stop,
                                      char **line_r, size_t *len_r)
{
    size_t scanned = 0;

    /* The buffer starts at LMTP_IO_BUFSIZE (what DATA reads into) and
     * grows once to hold a line of the limit plus its CRLF: a limit above
     * the start size (lmtp_line_length_limit, at most 1 MiB) is honoured,
     * never silently lowered. */
    if (limit > LMTP_IO_LINE_MAX)
        limit = LMTP_IO_LINE_MAX;
    if (limit + 2 > io->in_cap) {
        io->in = xrealloc(io->in, limit + 2 + 1);
        io->in_cap = limit + 2;
    }
    io->deadline_ms = clock_monotonic_ms() + (long long)io->timeout * 1000;
    for (;;) {
        char *start = io->in + io->in_start;
        size_t avail = io->in_end - io->in_start;
        char *lf = memchr(start + scanned, '\n', avail - scanned);
        if (lf != NULL) {
            size_t len = (size_t)(lf - start);
            io->in_start += len + 1;
            if (io->discarding) {
                io->discarding = 0;
                return LMTP_IO_TOOLONG;
            }
            if (len > 0 && start[len - 1] == '\r')
                len--;
            if (len > limit)
                return LMTP_IO_TOOLONG;
            start[len] = '\0';
            *line_r = start;
            *len_r = len;
            return LMTP_IO_OK;
        }
        if (avail > limit + 1) {
            /* Over-long: drop what we have and keep dropping up to LF. */
            io->discarding = 1;
            io->in_start = io->in_end = 0;
            avail = 0;
        }
        scanned = avail;
        enum lmtp_io_status st = lmtp_io_fill(io, allow_stop);
        if (st != LMTP_IO_OK)
            return st;
    }
}

void lmtp_io_data_begin(struct lmtp_io *io, int min_data_rate)
{
    io->data_start_ms = clock_monotonic_ms();
    io->data_bytes = 0;
    io->min_data_rate = min_data_rate;
}

enum lmtp_io_status lmtp_io_peek(struct lmtp_io *io, const char **data_r, size_t *len_r)
{
    if (io->in_end == io->in_start) {
        /* DATA may take as long as the timeout plus what the minimum rate
         * allows for the bytes received so far; without a rate, each wait
         * gets the full timeout. */
        if (io->min_data_rate > 0)
            io->deadline_ms = io->data_start_ms + (long long)io->timeout * 1000 +
                              (long long)(io->data_bytes * 1000 / (unsigned)io->min_data_rate);
        else
            io->deadline_ms = clock_monotonic_ms() + (long long)io->timeout * 1000;
        io->in_start = io->in_end = 0;
        enum lmtp_io_status st = lmtp_io_fill(io, 0);
        if (st != LMTP_IO_OK)
            return st;
    }
    *data_r = io->in + io->in_start;
    *len_r = io->in_end - io->in_start;
    return LMTP_IO_OK;
}

void lmtp_io_consume(struct lmtp_io *io, size_t n)
{
    io->in_start += n;
    io->data_bytes += n;
}
