/*
 * NAME
 *	doctor probe 3
 * SUMMARY
 *	tabularium doctor: does tabulariumd answer LMTP on lmtp_listen?
 * DESCRIPTION
 *	8. Connects to the configured listener (unix socket or host:port),
 *	reads the greeting, sends LHLO and QUIT, all within
 *	DOCTOR_LMTP_TIMEOUT_MS. LHLO must announce SMTPUTF8 (Postfix drops
 *	SMTPUTF8 copies silently otherwise); without XFORWARD or PIPELINING
 *	it may not be tabulariumd. Sends no mail.
 * DIAGNOSTICS
 *	Findings only (doctor_report): no answer, a timeout or a reply that
 *	is not LMTP is an error finding.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/smtp_reply.h"
#include "common/strlist.h"
#include "search/doctor/doctor.h"

/* The whole LMTP probe: connect, greeting, LHLO, QUIT. */
#define DOCTOR_LMTP_TIMEOUT_MS 3000
#define DOCTOR_LMTP_LINE_MAX 4096

/* ---- 8. is tabulariumd answering? ---------------------------------------- */

struct doctor_lmtp {
    int fd;
    long long deadline;
    char buf[DOCTOR_LMTP_LINE_MAX];
    size_t len;
};

/* Connect within the deadline; -1 with *error_r (static or strerror). */
static int doctor_lmtp_connect(struct doctor_lmtp *l, const char *listen, const char **error_r)
{
    struct doctor_endpoint ep;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, err = ECONNREFUSED;

    doctor_endpoint_parse(listen, 0, &ep);
    if (ep.is_unix) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(ep.path) >= sizeof(sun.sun_path)) {
            *error_r = "socket path too long";
            goto out;
        }
        memcpy(sun.sun_path, ep.path, strlen(ep.path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            *error_r = strerror(errno);
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    {
        const char *host = ep.host;
        int gai;
        if (strcmp(host, "::") == 0)
            host = "::1";
        else if (doctor_is_any_host(host))
            host = "127.0.0.1";
        gai = getaddrinfo(host, ep.port, &hints, &res);
        if (gai != 0) {
            *error_r = gai_strerror(gai);
            goto out;
        }
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        struct pollfd pfd;
        socklen_t sl = sizeof(err);
        long long left;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        if (err == EINPROGRESS) {
            left = l->deadline - clock_monotonic_ms();
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (left > 0 && poll(&pfd, 1, (int)left) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
                break;
            if (left <= 0 || err == EINPROGRESS)
                err = ETIMEDOUT;
        }
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        *error_r = strerror(err);
out:
    if (res != NULL)
        freeaddrinfo(res);
    doctor_endpoint_free(&ep);
    l->fd = fd;
    return fd < 0 ? -1 : 0;
}

/* After send() or recv() failed: 0 to try again (interrupted, or the
 * socket is ready before the deadline), -1 with *error_r. */
static int doctor_lmtp_wait(struct doctor_lmtp *l, short events, const char **error_r)
{
    struct pollfd pfd = {l->fd, events, 0};
    long long left;
    int n;

    /* errno is send()'s or recv()'s: interrupted, try again at once. */
    if (errno == EINTR)
        return 0;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
        *error_r = strerror(errno);
        return -1;
    }
    left = l->deadline - clock_monotonic_ms();
    if (left <= 0) {
        *error_r = "timed out";
        return -1;
    }
    n = poll(&pfd, 1, (int)left);
    if (n < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    if (n == 0) {
        *error_r = "timed out";
        return -1;
    }
    return 0;
}

static int doctor_lmtp_send(struct doctor_lmtp *l, const char *s, const char **error_r)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t n = send(l->fd, s + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (doctor_lmtp_wait(l, POLLOUT, error_r) < 0)
                return -1;
            continue;
        }
        off += (size_t)n;
    }
    return 0;
}

/*
 * One reply (all its lines): the code, its lines (text after "NNN-" or
 * "NNN ") in *lines. -1 with *error_r on timeout, EOF or garbage.
 */
static int doctor_lmtp_reply(struct doctor_lmtp *l, struct strlist *lines, const char **error_r)
{
    for (;;) {
        char *nl = memchr(l->buf, '\n', l->len);
        ssize_t n;

        if (nl != NULL) {
            size_t ll = (size_t)(nl - l->buf);
            struct smtp_reply_line r;
            if (ll > 0 && l->buf[ll - 1] == '\r')
                ll--;
            if (smtp_reply_line_parse(l->buf, ll, &r) < 0) {
                *error_r = "not an LMTP reply";
                return -1;
            }
            strlist_add_n(lines, r.text, r.text_len);
            l->len -= (size_t)(nl + 1 - l->buf);
            memmove(l->buf, nl + 1, l->len);
            if (r.last)
                return r.code;
            continue;
        }
        if (l->len == sizeof(l->buf)) {
            *error_r = "reply line too long";
            return -1;
        }
        n = recv(l->fd, l->buf + l->len, sizeof(l->buf) - l->len, 0);
        if (n > 0) {
            l->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            *error_r = "connection closed";
            return -1;
        }
        if (doctor_lmtp_wait(l, POLLIN, error_r) < 0)
            return -1;
    }
}

static int doctor_has_keyword(const struct strlist *lines, const char *kw)
{
    size_t n = strlen(kw);

    /* lines[0] is the greeting line of the 250 reply: the host name. */
    for (size_t i = 1; i < lines->n; i++)
        if (strncasecmp(lines->v[i], kw, n) == 0 &&
            (lines->v[i][n] == '\0' || lines->v[i][n] == ' '))
            return 1;
    return 0;
}

void doctor_check_daemon(struct doctor *d)
{
    const char *listen = d->cfg.lmtp_listen, *error = NULL;
    struct doctor_lmtp *l = xcalloc(1, sizeof(*l));
    struct strlist lines = STRLIST_INIT;
    char *fix = xstrdup("start tabulariumd (systemctl start tabulariumd), and see its log");
    int code;

    l->fd = -1;
    l->deadline = clock_monotonic_ms() + DOCTOR_LMTP_TIMEOUT_MS;
    if (doctor_lmtp_connect(l, listen, &error) < 0) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "nothing listens on %s (%s)", listen,
                      error);
        fix = NULL;
        goto out;
    }
    code = doctor_lmtp_reply(l, &lines, &error);
    if (code != 220) {
        if (code < 0)
            doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: no LMTP greeting (%s)", listen,
                          error);
        else
            doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: no LMTP greeting (got %d %s)",
                          listen, code, lines.v[lines.n - 1]);
        fix = NULL;
        goto out;
    }
    strlist_free(&lines);
    if (doctor_lmtp_send(l, "LHLO doctor\r\n", &error) < 0 ||
        (code = doctor_lmtp_reply(l, &lines, &error)) < 0) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: LHLO failed: %s", listen, error);
        fix = NULL;
        goto out;
    }
    if (code != 250) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: LHLO answered %d %s", listen, code,
                      lines.n > 0 ? lines.v[lines.n - 1] : "");
        fix = NULL;
        goto out;
    }
    /* QUIT is a courtesy: the answer was already had. */
    if (doctor_lmtp_send(l, "QUIT\r\n", &error) == 0) {
        struct strlist bye = STRLIST_INIT;
        (void)doctor_lmtp_reply(l, &bye, &error);
        strlist_free(&bye);
    }
    if (!doctor_has_keyword(&lines, "SMTPUTF8"))
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", xstrdup("upgrade tabulariumd"),
                      "%s answers but does not announce SMTPUTF8: Postfix drops SMTPUTF8 archive"
                      " copies silently",
                      listen);
    else if (!doctor_has_keyword(&lines, "XFORWARD") || !doctor_has_keyword(&lines, "PIPELINING"))
        doctor_report(d, DOCTOR_WARNING, "tabulariumd", NULL,
                      "%s answers but does not announce %s: is it tabulariumd?", listen,
                      !doctor_has_keyword(&lines, "XFORWARD") ? "XFORWARD" : "PIPELINING");
    else
        doctor_report(d, DOCTOR_OK, "tabulariumd", NULL,
                      "tabulariumd answers on %s (PIPELINING, SMTPUTF8, XFORWARD)", listen);
out:
    if (l->fd >= 0)
        close(l->fd);
    free(l);
    free(fix);
    strlist_free(&lines);
}
