/*
 * NAME
 *	lmtp_io 3h
 * SUMMARY
 *	buffered, timed LMTP stream I/O with pipelining-aware reply flushing
 * DESCRIPTION
 *	Input is read into one bounded buffer; command lines longer than
 *	the caller's limit are discarded up to their LF and reported as too
 *	long (so a 1 MB command never lives in memory). Replies are collected
 *	and written only when the client has no further input waiting, which
 *	is what PIPELINING needs: one write per batch of commands.
 *
 *	A command line must arrive within the timeout (a deadline, not an
 *	idle timer), DATA at the minimum rate after it. Every wait for input
 *	may be cut short
 *	by a stop request (SIGTERM/SIGHUP) when the caller allows it.
 */
#ifndef TAB_LMTP_IO_H
#define TAB_LMTP_IO_H

#include <signal.h>
#include <stddef.h>

enum lmtp_io_status {
    LMTP_IO_OK = 0,
    LMTP_IO_TOOLONG, /* line longer than the limit, discarded */
    LMTP_IO_EOF,     /* client closed (a partial last line is dropped) */
    LMTP_IO_TIMEOUT,
    LMTP_IO_STOP, /* stop requested while waiting between commands */
    LMTP_IO_ERROR,
};

struct lmtp_io;

/* stop_flag may be NULL; timeout in seconds. */
struct lmtp_io *lmtp_io_new(int in_fd, int out_fd, int timeout, volatile sig_atomic_t *stop_flag);
void lmtp_io_free(struct lmtp_io **io);

/* One line without its line ending, NUL-terminated (it may contain NULs:
 * *len_r tells). Valid until the next call. A stop request only ends the
 * wait while allow_stop is set. */
enum lmtp_io_status lmtp_io_read_line(struct lmtp_io *io, size_t limit, int allow_stop,
                                      char **line_r, size_t *len_r);
/* Start of DATA: from now on lmtp_io_peek() gives the client the timeout
 * plus one second per min_data_rate bytes received (0: the timeout for
 * each wait, an idle timer). */
void lmtp_io_data_begin(struct lmtp_io *io, int min_data_rate);
/* Make unread input available (waiting when none is buffered); the bytes
 * are at *data_r / *len_r until lmtp_io_consume(). Never honours stop. */
enum lmtp_io_status lmtp_io_peek(struct lmtp_io *io, const char **data_r, size_t *len_r);
void lmtp_io_consume(struct lmtp_io *io, size_t n);

/* Queue a reply line (CRLF added). */
void lmtp_io_reply(struct lmtp_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write queued replies now. -1 when the client is gone. */
int lmtp_io_flush(struct lmtp_io *io);
/* 1 when the output side failed (client gone). */
int lmtp_io_broken(const struct lmtp_io *io);

#endif
