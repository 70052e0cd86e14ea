/*
 * NAME
 *	smtp_io 3
 * SUMMARY
 *	the SMTP client's connection, I/O, replies and results
 * DESCRIPTION
 *	Owns the bytes on the wire: connecting with a timeout, buffered
 *	writes and reads through the socket or the TLS session, per-stage
 *	timeouts (blocking sockets with SO_RCVTIMEO/SO_SNDTIMEO, so that
 *	plaintext and TLS I/O time out alike), reading a whole reply (each
 *	line by common/smtp_reply.c; 2xx to 5xx only, the same code on every
 *	line, at most 1000 lines), sending a command, and putting the outcome
 *	into struct smtp_result in Postfix's words.
 *
 *	Must never keep a command line after it is sent: AUTH responses
 *	carry the password.
 * DIAGNOSTICS
 *	-1 with errno (EPROTO for a reply that is not SMTP); smtp_result_io()
 *	turns that into DEFERRED 4.4.2 and marks the session broken.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "common/smtp_reply.h"
#include "forwarder/smtp_client_private.h"

void smtp_result_set(struct smtp_result *res, enum smtp_status st, const char *dsn, const char *fmt,
                     ...)
{
    va_list ap;

    res->status = st;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->text, sizeof(res->text), fmt, ap);
    va_end(ap);
}

void smtp_set_timeout(struct smtp_session *s, int seconds)
{
    struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};

    (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

const char *smtp_io_error(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? "timeout" : strerror(errno);
}

/* Write all of buf; -1 (errno set) on failure or timeout. */
int smtp_write_raw(struct smtp_session *s, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n;
        if (s->ssl != NULL) {
            ERR_clear_error();
            n = SSL_write(s->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
            if (n <= 0) {
                if (errno == 0)
                    errno = EPIPE;
                return -1;
            }
        } else {
            n = send(s->fd, p, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int smtp_flush(struct smtp_session *s)
{
    int rc = smtp_write_raw(s, s->out, s->out_len);
    s->out_len = 0;
    return rc;
}

int smtp_put(struct smtp_session *s, const void *buf, size_t len)
{
    if (s->out_len + len > sizeof(s->out) && smtp_flush(s) < 0)
        return -1;
    if (len > sizeof(s->out))
        return smtp_write_raw(s, buf, len);
    memcpy(s->out + s->out_len, buf, len);
    s->out_len += len;
    return 0;
}

/* Fill the input buffer; -1 on EOF, error or timeout (errno set). */
int smtp_fill(struct smtp_session *s)
{
    ssize_t n;

    if (s->in_pos == s->in_len)
        s->in_pos = s->in_len = 0;
    for (;;) {
        errno = 0;
        if (s->ssl != NULL) {
            ERR_clear_error();
            n = SSL_read(s->ssl, s->in + s->in_len, (int)(sizeof(s->in) - s->in_len));
            if (n <= 0) {
                if (errno == 0)
                    errno = ECONNRESET;
                return -1;
            }
        } else {
            n = recv(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    errno = ECONNRESET;
                return -1;
            }
        }
        s->in_len += (size_t)n;
        return 0;
    }
}

/* One reply line without CRLF into line (cut at size - 1). */
int smtp_read_line(struct smtp_session *s, char *line, size_t size)
{
    size_t used = 0;

    for (;;) {
        while (s->in_pos < s->in_len) {
            char c = s->in[s->in_pos++];
            if (c == '\n') {
                if (used > 0 && line[used - 1] == '\r')
                    used--;
                line[used] = '\0';
                return 0;
            }
            if (used < size - 1)
                line[used++] = c;
        }
        if (s->in_len == sizeof(s->in))
            s->in_pos = s->in_len = 0;
        if (smtp_fill(s) < 0)
            return -1;
    }
}

/* Read a whole reply into s->code and s->reply. -1 on I/O errors and
 * replies that are not SMTP. */
int smtp_read_reply(struct smtp_session *s, int timeout)
{
    char line[SMTP_LINE_MAX];
    struct smtp_reply_line rl;
    size_t used = 0;
    int lines = 0;

    smtp_set_timeout(s, timeout);
    s->reply[0] = '\0';
    s->code = 0;
    for (;;) {
        if (smtp_read_line(s, line, sizeof(line)) < 0)
            return -1;
        if (smtp_reply_line_parse(line, strlen(line), &rl) < 0 || rl.code < 200 || rl.code > 599) {
            errno = EPROTO;
            return -1;
        }
        int code = rl.code;
        if (lines > 0 && code != s->code) {
            errno = EPROTO;
            return -1;
        }
        s->code = code;
        /* Keep the reply for messages, without control characters. */
        for (char *c = line; *c; c++)
            if ((unsigned char)*c < ' ')
                *c = ' ';
        int n = snprintf(s->reply + used, sizeof(s->reply) - used, "%s%s", lines ? "\n" : "", line);
        if (n > 0)
            used = used + (size_t)n < sizeof(s->reply) ? used + (size_t)n : sizeof(s->reply) - 1;
        if (++lines > 1000) {
            errno = EPROTO;
            return -1;
        }
        if (rl.last)
            return 0;
    }
}

/* The reply as one line (multi-line replies joined with spaces). */
void smtp_reply_text(const struct smtp_session *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s->reply);
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

/* The enhanced status code in a reply, or class.0.0. */
void smtp_reply_dsn(const struct smtp_session *s, char *dsn, size_t size)
{
    const char *t = s->reply + 4;
    int a, b, c, n = 0;

    if (strlen(s->reply) > 4 && sscanf(t, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 && n > 0 &&
        a == s->code / 100 && (t[n] == ' ' || t[n] == '\0' || t[n] == '\n'))
        snprintf(dsn, size, "%d.%d.%d", a, b, c);
    else
        snprintf(dsn, size, "%d.0.0", s->code / 100);
}

/* res from the last reply: 4xx DEFERRED, 5xx HELD; "host H[A] said: ...". */
void smtp_result_reply(struct smtp_session *s, struct smtp_result *res, const char *what)
{
    char text[SMTP_REPLY_MAX];
    char dsn[16];

    smtp_reply_text(s, text, sizeof(text));
    smtp_reply_dsn(s, dsn, sizeof(dsn));
    smtp_result_set(res, s->code >= 500 ? SMTP_HELD : SMTP_DEFERRED, dsn,
                    "host %s[%s] said: %s (in reply to %s)", s->host, s->addr, text, what);
}

void smtp_result_io(struct smtp_session *s, struct smtp_result *res, const char *when)
{
    const char *why = errno == EPROTO ? "malformed reply" : smtp_io_error();

    smtp_result_set(res, SMTP_DEFERRED, "4.4.2", "%s with %s[%s] while %s",
                    strcmp(why, "timeout") == 0 ? "conversation timed out"
                    : errno == EPROTO           ? "protocol error"
                                                : "lost connection",
                    s->host, s->addr, when);
    if (errno != EPROTO && strcmp(why, "timeout") != 0 && errno != ECONNRESET) {
        size_t n = strlen(res->text);
        snprintf(res->text + n, sizeof(res->text) - n, " (%s)", why);
    }
    s->broken = 1;
}

/* Send a command line and read the reply. -1: I/O problem (res set). */
int smtp_command(struct smtp_session *s, struct smtp_result *res, const char *when, const char *fmt,
                 ...)
{
    char cmd[2048];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd) - 2, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(cmd) - 2) {
        smtp_result_set(res, SMTP_DEFERRED, "4.3.0", "command too long");
        return -1;
    }
    memcpy(cmd + n, "\r\n", 3);
    smtp_set_timeout(s, s->cfg->command_timeout);
    int sent = smtp_put(s, cmd, (size_t)n + 2) == 0 && smtp_flush(s) == 0;
    explicit_bzero(cmd, sizeof(cmd)); /* AUTH responses carry the password */
    explicit_bzero(s->out, sizeof(s->out) < (size_t)n + 2 ? sizeof(s->out) : (size_t)n + 2);
    if (!sent || smtp_read_reply(s, s->cfg->command_timeout) < 0) {
        smtp_result_io(s, res, when);
        return -1;
    }
    return 0;
}

int smtp_connect_fd(const struct smtp_addr *a, int timeout, const char **why_r)
{
    int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct pollfd pfd;
    int err = 0;
    socklen_t len = sizeof(err);

    if (fd < 0) {
        *why_r = strerror(errno);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) < 0) {
        if (errno != EINPROGRESS) {
            *why_r = strerror(errno);
            close(fd);
            return -1;
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        int r;
        while ((r = poll(&pfd, 1, timeout * 1000)) < 0 && errno == EINTR)
            ;
        if (r == 0) {
            *why_r = "Connection timed out";
            close(fd);
            return -1;
        }
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            *why_r = strerror(err ? err : errno);
            close(fd);
            return -1;
        }
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
        *why_r = strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}
