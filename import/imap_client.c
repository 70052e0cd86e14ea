/*
 * NAME
 *	imap_client 3
 * SUMMARY
 *	a read-only IMAP4rev1 client for tabularium import
 * SYNOPSIS
 *	#include "import/imap_client.h"
 *
 *	c = imap_client_new("imaps://archivist@mail.example.com/INBOX", pw, &err);
 *	imap_client_examine(c, "INBOX", &uidvalidity, &exists, &err);
 *	imap_client_messages(c, last_uid, &list, &n, &err);
 *	imap_client_fetch(c, list[i].uid, fd, &size, &err);
 * DESCRIPTION
 *	Owns one connection (plain TCP, or TLS with the server's certificate
 *	and name checked) and the few commands an import needs (RFC 3501):
 *	LOGIN, LIST, EXAMINE, UID FETCH and LOGOUT. Strings the client sends
 *	(user, password, folder names) are quoted, or sent as literals when
 *	quoting cannot carry them, so no server-supplied or user-supplied
 *	text is ever spliced into a command unescaped.
 *
 *	Reading: every response line may end in a literal ({N}); the reader
 *	takes exactly N bytes before it reads on, whatever they contain. A
 *	message body is streamed to the caller's descriptor 64 KiB at a time:
 *	memory stays flat for a message of any size. Lines are bounded
 *	(IMAP_LINE_MAX); a longer one is a protocol error (TAB_PERM).
 *
 *	A connection that fails is closed; the next call connects, logs in
 *	and examines the current folder again, and refuses to go on when the
 *	folder's UIDVALIDITY changed in between (its UIDs then name other
 *	messages).
 * DIAGNOSTICS
 *	See imap_client.h. Errors name the server ("imap://u@h:143: ...").
 */
#include "import/imap_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/buf.h"

#define IMAP_TIMEOUT_S 60
#define IMAP_LINE_MAX (64 * 1024)
#define IMAP_NAME_MAX 4096 /* a folder name or a string we keep */
#define IMAP_CHUNK (64 * 1024)

struct imap_client {
    /* from the URL */
    int tls;
    char *host, *port, *user, *password, *url_folder, *name;
    /* the connection */
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    unsigned tag;
    char rbuf[16384];
    size_t rpos, rlen;
    char line[IMAP_LINE_MAX + 1];
    size_t line_len;
    int literal_plus; /* LITERAL+ advertised */
    /* the examined folder, kept across reconnections */
    char *folder;
    uint32_t uidvalidity;
    int examined; /* on this connection */
    /* the last error */
    char *error;
    char tagged_text[512];
};

static enum tab_result imap_fail(struct imap_client *c, enum tab_result r, const char **error_r,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum tab_result imap_fail(struct imap_client *c, enum tab_result r, const char **error_r,
                                 const char *fmt, ...)
{
    va_list ap;
    char *what;

    va_start(ap, fmt);
    what = xvasprintf(fmt, ap);
    va_end(ap);
    *error_r = xsetf(&c->error, "%s: %s", c->name, what);
    free(what);
    return r;
}

/* ---- URL ---------------------------------------------------------------- */

static int imap_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decode s[0..len); NULL for a bad escape or a NUL byte. */
static char *imap_unescape(const char *s, size_t len)
{
    char *out = xmalloc(len + 1), *o = out;

    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int hi = i + 2 < len ? imap_hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < len ? imap_hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return out;
}

struct imap_client *imap_client_new(const char *url, const char *password, const char **error_r)
{
    static char errbuf[256];
    struct imap_client *c;
    const char *p, *host, *end, *at, *colon, *slash;
    int tls;

    if (strncasecmp(url, "imaps://", 8) == 0) {
        tls = 1;
        p = url + 8;
    } else if (strncasecmp(url, "imap://", 7) == 0) {
        tls = 0;
        p = url + 7;
    } else {
        snprintf(errbuf, sizeof(errbuf), "not an imap:// or imaps:// URL");
        *error_r = errbuf;
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    c->fd = -1;
    c->tls = tls;
    slash = strchr(p, '/');
    end = slash != NULL ? slash : p + strlen(p);
    at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        /* user[;AUTH=...] (RFC 5092): only LOGIN is spoken; a password in
         * the URL is refused (it would show in ps and in shell history). */
        const char *uend = at;
        const char *semi = memchr(p, ';', (size_t)(at - p));
        if (memchr(p, ':', (size_t)(at - p)) != NULL) {
            snprintf(errbuf, sizeof(errbuf), "a password in the URL is refused: use a file");
            goto bad;
        }
        if (semi != NULL)
            uend = semi;
        if ((c->user = imap_unescape(p, (size_t)(uend - p))) == NULL || c->user[0] == '\0') {
            snprintf(errbuf, sizeof(errbuf), "bad user name in the URL");
            goto bad;
        }
        host = at + 1;
    } else
        host = p;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (size_t)(end - host));
        if (rb == NULL) {
            snprintf(errbuf, sizeof(errbuf), "unterminated [address] in the URL");
            goto bad;
        }
        c->host = xstrndup(host + 1, (size_t)(rb - host - 1));
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (colon == NULL && rb + 1 != end) {
            snprintf(errbuf, sizeof(errbuf), "bad host in the URL");
            goto bad;
        }
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        c->host = xstrndup(host, (size_t)((colon != NULL ? colon : end) - host));
    }
    if (c->host[0] == '\0') {
        snprintf(errbuf, sizeof(errbuf), "no host in the URL");
        goto bad;
    }
    c->port = colon != NULL ? xstrndup(colon + 1, (size_t)(end - colon - 1))
                            : xstrdup(tls ? "993" : "143");
    if (c->port[0] == '\0' || strspn(c->port, "0123456789") != strlen(c->port) ||
        atol(c->port) < 1 || atol(c->port) > 65535) {
        snprintf(errbuf, sizeof(errbuf), "bad port in the URL");
        goto bad;
    }
    if (slash != NULL && slash[1] != '\0') {
        const char *fend = slash + 1 + strcspn(slash + 1, ";?");
        if ((c->url_folder = imap_unescape(slash + 1, (size_t)(fend - slash - 1))) == NULL) {
            snprintf(errbuf, sizeof(errbuf), "bad folder name in the URL");
            goto bad;
        }
        if (c->url_folder[0] == '\0') {
            free(c->url_folder);
            c->url_folder = NULL;
        }
    }
    if (c->user == NULL) {
        snprintf(errbuf, sizeof(errbuf), "the URL names no user (imap://USER@HOST/)");
        goto bad;
    }
    c->password = xstrdup(password != NULL ? password : "");
    c->name = xasprintf("%s://%s@%s%s%s:%s", tls ? "imaps" : "imap", c->user,
                        strchr(c->host, ':') ? "[" : "", c->host, strchr(c->host, ':') ? "]" : "",
                        c->port);
    return c;
bad:
    *error_r = errbuf;
    imap_client_free(c);
    return NULL;
}

const char *imap_client_url_folder(const struct imap_client *c)
{
    return c->url_folder;
}

const char *imap_client_name(const struct imap_client *c)
{
    return c->name;
}

/* ---- connection and bytes ------------------------------------------------ */

static void imap_disconnect(struct imap_client *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rpos = c->rlen = 0;
    c->examined = 0;
}

void imap_client_free(struct imap_client *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0) {
        /* A courtesy; the server copes without it. */
        static const char bye[] = "Z LOGOUT\r\n";
        if (c->ssl != NULL)
            (void)SSL_write(c->ssl, bye, (int)sizeof(bye) - 1);
        else
            (void)send(c->fd, bye, sizeof(bye) - 1, MSG_NOSIGNAL);
    }
    imap_disconnect(c);
    if (c->ssl_ctx != NULL)
        SSL_CTX_free(c->ssl_ctx);
    if (c->password != NULL) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->host);
    free(c->port);
    free(c->user);
    free(c->url_folder);
    free(c->name);
    free(c->folder);
    free(c->error);
    free(c);
}

static int imap_tcp_connect(struct imap_client *c, const char **why_r)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    static char why[256];
    int rc = getaddrinfo(c->host, c->port, &hints, &res);

    if (rc != 0) {
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->host, gai_strerror(rc));
        *why_r = why;
        return -1;
    }
    snprintf(why, sizeof(why), "no address");
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int err = 0, r;
        socklen_t len = sizeof(err);

        if (fd < 0) {
            snprintf(why, sizeof(why), "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            snprintf(why, sizeof(why), "connect: %s", strerror(errno));
            close(fd);
            continue;
        }
        while ((r = poll(&pfd, 1, IMAP_TIMEOUT_S * 1000)) < 0 && errno == EINTR)
            ;
        if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
            snprintf(why, sizeof(why), "connect: %s",
                     r == 0 ? "timed out" : strerror(err ? err : errno));
            close(fd);
            continue;
        }
        struct timeval tv = {.tv_sec = IMAP_TIMEOUT_S};
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
            snprintf(why, sizeof(why), "fcntl: %s", strerror(errno));
            close(fd);
            continue;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    *why_r = why;
    return -1;
}

static const char *imap_ssl_error(void)
{
    static char buf[512];
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, sizeof(buf), "%s", errno ? strerror(errno) : "connection closed");
    else
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

static int imap_tls_start(struct imap_client *c, const char **why_r)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (c->ssl_ctx == NULL) {
        if ((c->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
            SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1 ||
            SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION) != 1) {
            *why_r = imap_ssl_error();
            return -1;
        }
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    if ((c->ssl = SSL_new(c->ssl_ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
        *why_r = imap_ssl_error();
        return -1;
    }
    /* The certificate must name the host as the URL does: an address
     * literal as an IP SAN, a name as a DNS name (and SNI). */
    int is_ip = inet_pton(AF_INET, c->host, &a4) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
    if (!is_ip)
        (void)SSL_set_tlsext_host_name(c->ssl, c->host);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host) != 1
              : SSL_set1_host(c->ssl, c->host) != 1) {
        *why_r = imap_ssl_error();
        return -1;
    }
    errno = 0;
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        static char why[600];
        snprintf(why, sizeof(why), "TLS handshake: %s",
                 v != X509_V_OK ? X509_verify_cert_error_string(v) : imap_ssl_error());
        *why_r = why;
        return -1;
    }
    return 0;
}

/* Fill rbuf; -1 on an error or EOF (why set). */
static int imap_fill(struct imap_client *c, const char **why_r)
{
    ssize_t n;

    if (c->rpos < c->rlen)
        return 0;
    c->rpos = c->rlen = 0;
    errno = 0;
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, c->rbuf, (int)sizeof(c->rbuf));
        n = r > 0 ? r : -1;
        if (n < 0)
            *why_r = errno == EAGAIN ? "timed out reading" : imap_ssl_error();
    } else {
        while ((n = read(c->fd, c->rbuf, sizeof(c->rbuf))) < 0 && errno == EINTR)
            ;
        if (n <= 0)
            *why_r = n == 0                                    ? "connection closed"
                     : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out reading"
                                                               : strerror(errno);
    }
    if (n <= 0)
        return -1;
    c->rlen = (size_t)n;
    return 0;
}

static int imap_write(struct imap_client *c, const char *buf, size_t len, const char **why_r)
{
    while (len > 0) {
        ssize_t n;
        errno = 0;
        if (c->ssl != NULL) {
            int r = SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
            n = r > 0 ? r : -1;
        } else
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR && c->ssl == NULL)
            continue;
        if (n <= 0) {
            *why_r = c->ssl != NULL ? imap_ssl_error() : strerror(errno);
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read one line without its CRLF into c->line. 1: too long (the rest of
 * the line is skipped), 0: ok, -1: I/O error. */
static int imap_read_line(struct imap_client *c, const char **why_r)
{
    int too_long = 0;

    c->line_len = 0;
    for (;;) {
        if (imap_fill(c, why_r) < 0)
            return -1;
        char *nl = memchr(c->rbuf + c->rpos, '\n', c->rlen - c->rpos);
        size_t take = (nl != NULL ? (size_t)(nl - (c->rbuf + c->rpos)) : c->rlen - c->rpos);
        if (c->line_len + take > IMAP_LINE_MAX)
            too_long = 1;
        else {
            memcpy(c->line + c->line_len, c->rbuf + c->rpos, take);
            c->line_len += take;
        }
        c->rpos += take;
        if (nl != NULL) {
            c->rpos++;
            break;
        }
    }
    if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
        c->line_len--;
    c->line[c->line_len] = '\0';
    return too_long;
}

/* If the line ends in a literal {N} or {N+}, N; else -1. */
static long long imap_line_literal(const struct imap_client *c)
{
    const char *l = c->line;
    size_t n = c->line_len;

    if (n < 3 || l[n - 1] != '}')
        return -1;
    size_t i = n - 2;
    if (l[i] == '+')
        i--;
    size_t digits_end = i + 1;
    while (i > 0 && isdigit((unsigned char)l[i]))
        i--;
    if (l[i] != '{' || i + 1 == digits_end || digits_end - (i + 1) > 12)
        return -1;
    return strtoll(l + i + 1, NULL, 10);
}

/* Copy (fd >= 0) or keep at most keep_max bytes of (into *kept) or skip
 * the next len literal bytes. */
static int imap_take_literal(struct imap_client *c, unsigned long long len, int fd, char **kept,
                             size_t keep_max, const char **why_r)
{
    size_t kept_len = 0;

    if (kept != NULL)
        *kept = xmalloc(keep_max + 1);
    while (len > 0) {
        if (imap_fill(c, why_r) < 0)
            return -1;
        size_t take = c->rlen - c->rpos;
        if (take > len)
            take = (size_t)len;
        if (fd >= 0) {
            const char *p = c->rbuf + c->rpos;
            size_t left = take;
            while (left > 0) {
                ssize_t w = write(fd, p, left);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    static char why[256];
                    snprintf(why, sizeof(why), "cannot write the message: %s", strerror(errno));
                    *why_r = why;
                    return -2; /* our side: not the connection */
                }
                p += w;
                left -= (size_t)w;
            }
        } else if (kept != NULL && kept_len < keep_max) {
            size_t k = take < keep_max - kept_len ? take : keep_max - kept_len;
            memcpy(*kept + kept_len, c->rbuf + c->rpos, k);
            kept_len += k;
        }
        c->rpos += take;
        len -= take;
    }
    if (kept != NULL)
        (*kept)[kept_len] = '\0';
    return 0;
}

/* ---- commands ------------------------------------------------------------ */

/* Append s as an IMAP string: quoted when it can be, else a literal
 * (returned through *literal_r: the command is sent up to there, then the
 * literal after the server's continuation, unless LITERAL+). */
static void imap_append_string(struct buf *b, const char *s)
{
    int quotable = strlen(s) <= 1000;

    /* Control characters are sent as literals too: the literal marker of
     * imap_send() is \x01, and a literal's bytes are never scanned. */

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && quotable; p++)
        if (*p < 0x20 || *p >= 0x7f)
            quotable = 0;
    if (quotable) {
        buf_add(b, "\"", 1);
        for (const char *p = s; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                buf_add(b, "\\", 1);
            buf_add(b, p, 1);
        }
        buf_add(b, "\"", 1);
        return;
    }
    /* A literal: the marker \x01LEN\x01 is replaced when sending. */
    char mark[48];
    int n = snprintf(mark, sizeof(mark), "{%zu}\r\n", strlen(s));
    buf_add(b, "\x01", 1);
    buf_add(b, mark, (size_t)n);
    buf_add(b, s, strlen(s));
}

/* Send a tagged command built in b (tag added); literals wait for the
 * server's "+" unless LITERAL+. -1: I/O error or the server refused a
 * literal (why set). */
static int imap_send(struct imap_client *c, struct buf *b, char *tag, size_t tag_size,
                     const char **why_r)
{
    const char *p = b->data, *end = b->data + b->len;

    snprintf(tag, tag_size, "T%u", ++c->tag);
    if (imap_write(c, tag, strlen(tag), why_r) < 0 || imap_write(c, " ", 1, why_r) < 0)
        return -1;
    while (p < end) {
        const char *mark = memchr(p, '\x01', (size_t)(end - p));
        if (mark == NULL) {
            if (imap_write(c, p, (size_t)(end - p), why_r) < 0)
                return -1;
            break;
        }
        if (imap_write(c, p, (size_t)(mark - p), why_r) < 0)
            return -1;
        const char *brace_end = strstr(mark, "}\r\n");
        size_t len = strtoul(mark + 2, NULL, 10);
        if (c->literal_plus) {
            char hdr[40];
            int n = snprintf(hdr, sizeof(hdr), "{%zu+}\r\n", len);
            if (imap_write(c, hdr, (size_t)n, why_r) < 0)
                return -1;
        } else {
            if (imap_write(c, mark + 1, (size_t)(brace_end + 3 - (mark + 1)), why_r) < 0)
                return -1;
            if (imap_read_line(c, why_r) != 0)
                return -1;
            if (c->line[0] != '+') {
                *why_r = "the server refused a literal";
                return -1;
            }
        }
        p = brace_end + 3;
        if (imap_write(c, p, len, why_r) < 0)
            return -1;
        p += len;
    }
    return imap_write(c, "\r\n", 2, why_r);
}

/* What a command's caller sees of each untagged response. */
struct imap_untagged {
    /* Called with the line (after "* "); may consume a literal the line
     * ends in (return 1), else it is skipped. 0: go on, -1: stop with
     * *why (I/O, -2 from imap_take_literal: a local failure). */
    int (*fn)(struct imap_client *c, void *ctx, long long literal, const char **why_r);
    void *ctx;
};

/*
 * Send a command and read up to its tagged reply. TAB_OK for OK,
 * TAB_PERM for NO/BAD (text in c->tagged_text) or a reply that is not
 * IMAP, TAB_RETRY for I/O (the connection is then closed).
 */
static enum tab_result imap_command(struct imap_client *c, struct buf *cmd,
                                    const struct imap_untagged *u, const char *what,
                                    const char **error_r)
{
    char tag[24];
    const char *why = NULL;
    size_t tlen;

    if (imap_send(c, cmd, tag, sizeof(tag), &why) < 0) {
        imap_disconnect(c);
        return imap_fail(c, TAB_RETRY, error_r, "%s: %s", what, why);
    }
    tlen = strlen(tag);
    for (;;) {
        int r = imap_read_line(c, &why);
        if (r < 0) {
            imap_disconnect(c);
            return imap_fail(c, TAB_RETRY, error_r, "%s: %s", what, why);
        }
        if (r > 0) {
            imap_disconnect(c);
            return imap_fail(c, TAB_PERM, error_r, "%s: a response line longer than %d bytes", what,
                             IMAP_LINE_MAX);
        }
        if (strncmp(c->line, tag, tlen) == 0 && c->line[tlen] == ' ') {
            const char *st = c->line + tlen + 1;
            snprintf(c->tagged_text, sizeof(c->tagged_text), "%s", st);
            if (strncasecmp(st, "OK", 2) == 0 && (st[2] == ' ' || st[2] == '\0'))
                return TAB_OK;
            return imap_fail(c, TAB_PERM, error_r, "%s: the server said: %s", what, st);
        }
        if (c->line[0] == '*' && c->line[1] == ' ') {
            long long lit = imap_line_literal(c);
            int used = 0;
            if (u != NULL && u->fn != NULL) {
                used = u->fn(c, u->ctx, lit, &why);
                if (used == -2) {
                    imap_disconnect(c);
                    return imap_fail(c, TAB_RETRY, error_r, "%s", why);
                }
                if (used < 0) {
                    imap_disconnect(c);
                    return imap_fail(c, TAB_RETRY, error_r, "%s: %s", what, why);
                }
            }
            /* A literal nobody took, or one after what the callback took,
             * and every line it continues into. */
            if (used)
                lit = imap_line_literal(c);
            while (lit >= 0) {
                if (imap_take_literal(c, (unsigned long long)lit, -1, NULL, 0, &why) < 0 ||
                    imap_read_line(c, &why) < 0) {
                    imap_disconnect(c);
                    return imap_fail(c, TAB_RETRY, error_r, "%s: %s", what, why);
                }
                lit = imap_line_literal(c);
            }
            continue;
        }
        if (c->line[0] == '+')
            continue; /* a continuation we did not ask for: ignore */
        imap_disconnect(c);
        return imap_fail(c, TAB_PERM, error_r, "%s: not an IMAP response: %.80s", what, c->line);
    }
}

static int imap_capability_fn(struct imap_client *c, void *ctx, long long lit, const char **why_r)
{
    (void)ctx;
    (void)lit;
    (void)why_r;
    if (strncasecmp(c->line + 2, "CAPABILITY ", 11) == 0) {
        char *save = NULL;
        for (char *t = strtok_r(c->line + 2, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save))
            if (strcasecmp(t, "LITERAL+") == 0)
                c->literal_plus = 1;
    }
    return 0;
}

static enum tab_result imap_examine_again(struct imap_client *c, const char **error_r);

/* Connect and log in if not connected; examine the current folder again
 * after a reconnection. */
static enum tab_result imap_ready(struct imap_client *c, const char **error_r)
{
    const char *why = NULL;
    struct buf cmd = BUF_INIT;
    enum tab_result r;

    if (c->fd >= 0)
        return TAB_OK;
    c->literal_plus = 0;
    if ((c->fd = imap_tcp_connect(c, &why)) < 0)
        return imap_fail(c, TAB_RETRY, error_r, "%s", why);
    if (c->tls && imap_tls_start(c, &why) < 0) {
        imap_disconnect(c);
        /* A certificate that does not verify will not verify next time. */
        return imap_fail(c, TAB_PERM, error_r, "%s", why);
    }
    if (imap_read_line(c, &why) != 0) {
        imap_disconnect(c);
        return imap_fail(c, TAB_RETRY, error_r, "greeting: %s", why ? why : "too long");
    }
    if (strncasecmp(c->line, "* OK", 4) != 0 && strncasecmp(c->line, "* PREAUTH", 9) != 0) {
        imap_disconnect(c);
        return imap_fail(c, strncasecmp(c->line, "* BYE", 5) == 0 ? TAB_RETRY : TAB_PERM, error_r,
                         "greeting: %.200s", c->line);
    }
    int preauth = strncasecmp(c->line, "* PREAUTH", 9) == 0;
    buf_add_str(&cmd, "CAPABILITY");
    struct imap_untagged cap = {imap_capability_fn, NULL};
    r = imap_command(c, &cmd, &cap, "CAPABILITY", error_r);
    buf_free(&cmd);
    if (r != TAB_OK)
        return r;
    if (!preauth) {
        buf_add_str(&cmd, "LOGIN ");
        imap_append_string(&cmd, c->user);
        buf_add(&cmd, " ", 1);
        imap_append_string(&cmd, c->password);
        r = imap_command(c, &cmd, NULL, "LOGIN", error_r);
        explicit_bzero(cmd.data, cmd.len);
        buf_free(&cmd);
        if (r != TAB_OK) {
            imap_disconnect(c);
            return r;
        }
    }
    if (c->folder != NULL)
        return imap_examine_again(c, error_r);
    return TAB_OK;
}

/* ---- LIST ---------------------------------------------------------------- */

/* Parse an astring at *p (atom, quoted string, or NIL); the literal case
 * is handled by the caller. NULL when there is none. */
static char *imap_parse_astring(const char **p)
{
    const char *s = *p;
    struct buf out = BUF_INIT;

    while (*s == ' ')
        s++;
    if (*s == '"') {
        for (s++; *s != '\0' && *s != '"'; s++) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            buf_add(&out, s, 1);
        }
        if (*s != '"') {
            buf_free(&out);
            return NULL;
        }
        s++;
    } else {
        const char *start = s;
        while (*s != '\0' && *s != ' ' && *s != '(' && *s != ')')
            s++;
        if (s == start)
            return NULL;
        buf_add(&out, start, (size_t)(s - start));
    }
    *p = s;
    buf_add(&out, "", 1);
    return out.data;
}

struct imap_list_ctx {
    struct strlist *folders;
};

static int imap_list_fn(struct imap_client *c, void *vctx, long long lit, const char **why_r)
{
    struct imap_list_ctx *ctx = vctx;
    const char *p = c->line + 2;
    int noselect = 0;
    char *name = NULL;

    if (strncasecmp(p, "LIST ", 5) != 0)
        return 0;
    p += 5;
    if (*p != '(')
        return 0;
    const char *close = strchr(p, ')');
    if (close == NULL)
        return 0;
    for (const char *f = p; f < close; f++)
        if (strncasecmp(f, "\\Noselect", 9) == 0 || strncasecmp(f, "\\NonExistent", 12) == 0)
            noselect = 1;
    p = close + 1;
    char *delim = imap_parse_astring(&p); /* "." or NIL */
    free(delim);
    if (lit >= 0) {
        /* The name is a literal: the line ends in it. */
        if ((unsigned long long)lit > IMAP_NAME_MAX) {
            if (imap_take_literal(c, (unsigned long long)lit, -1, NULL, 0, why_r) < 0 ||
                imap_read_line(c, why_r) < 0)
                return -1;
            return 1;
        }
        if (imap_take_literal(c, (unsigned long long)lit, -1, &name, IMAP_NAME_MAX, why_r) < 0 ||
            imap_read_line(c, why_r) < 0) {
            free(name);
            return -1;
        }
    } else
        name = imap_parse_astring(&p);
    if (name != NULL && !noselect)
        strlist_add(ctx->folders, name);
    free(name);
    return lit >= 0 ? 1 : 0;
}

enum tab_result imap_client_folders(struct imap_client *c, struct strlist *folders,
                                    const char **error_r)
{
    struct buf cmd = BUF_INIT;
    struct imap_list_ctx ctx = {folders};
    struct imap_untagged u = {imap_list_fn, &ctx};
    enum tab_result r = imap_ready(c, error_r);

    if (r != TAB_OK)
        return r;
    buf_add_str(&cmd, "LIST \"\" \"*\"");
    r = imap_command(c, &cmd, &u, "LIST", error_r);
    buf_free(&cmd);
    return r;
}

/* ---- EXAMINE ------------------------------------------------------------- */

struct imap_examine_ctx {
    uint32_t uidvalidity, exists;
    int have_uidvalidity;
};

static int imap_examine_fn(struct imap_client *c, void *vctx, long long lit, const char **why_r)
{
    struct imap_examine_ctx *ctx = vctx;
    const char *p = c->line + 2;
    char *end;

    (void)lit;
    (void)why_r;
    if (strncasecmp(p, "OK [UIDVALIDITY ", 16) == 0) {
        unsigned long v = strtoul(p + 16, &end, 10);
        if (*end == ']' && v > 0 && v <= UINT32_MAX) {
            ctx->uidvalidity = (uint32_t)v;
            ctx->have_uidvalidity = 1;
        }
    } else if (isdigit((unsigned char)*p)) {
        unsigned long v = strtoul(p, &end, 10);
        if (strcasecmp(end, " EXISTS") == 0 && v <= UINT32_MAX)
            ctx->exists = (uint32_t)v;
    }
    return 0;
}

static enum tab_result imap_do_examine(struct imap_client *c, const char *folder,
                                       struct imap_examine_ctx *ctx, const char **error_r)
{
    struct buf cmd = BUF_INIT;
    struct imap_untagged u = {imap_examine_fn, ctx};
    enum tab_result r;

    buf_add_str(&cmd, "EXAMINE ");
    imap_append_string(&cmd, folder);
    r = imap_command(c, &cmd, &u, "EXAMINE", error_r);
    buf_free(&cmd);
    if (r == TAB_OK && !ctx->have_uidvalidity)
        return imap_fail(c, TAB_PERM, error_r, "EXAMINE: the server sent no UIDVALIDITY");
    return r;
}

static enum tab_result imap_examine_again(struct imap_client *c, const char **error_r)
{
    struct imap_examine_ctx ctx = {0};
    enum tab_result r = imap_do_examine(c, c->folder, &ctx, error_r);

    if (r != TAB_OK)
        return r;
    if (ctx.uidvalidity != c->uidvalidity)
        return imap_fail(c, TAB_PERM, error_r,
                         "folder %s: UIDVALIDITY changed from %u to %u while importing", c->folder,
                         (unsigned)c->uidvalidity, (unsigned)ctx.uidvalidity);
    c->examined = 1;
    return TAB_OK;
}

enum tab_result imap_client_examine(struct imap_client *c, const char *folder,
                                    uint32_t *uidvalidity_r, uint32_t *exists_r,
                                    const char **error_r)
{
    struct imap_examine_ctx ctx = {0};
    enum tab_result r;

    free(c->folder);
    c->folder = NULL; /* imap_ready() must not examine the old one */
    c->examined = 0;
    if ((r = imap_ready(c, error_r)) != TAB_OK)
        return r;
    if ((r = imap_do_examine(c, folder, &ctx, error_r)) != TAB_OK)
        return r;
    c->folder = xstrdup(folder);
    c->uidvalidity = ctx.uidvalidity;
    c->examined = 1;
    *uidvalidity_r = ctx.uidvalidity;
    *exists_r = ctx.exists;
    return TAB_OK;
}

/* ---- UID FETCH ----------------------------------------------------------- */

int imap_parse_date_time(const char *s, time_t *t_r)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int day, year, hh, mm, ss, zone, n = 0;
    char sign;

    if (sscanf(s, "%2d-%3c-%4d %2d:%2d:%2d %c%4d%n", &day, mon, &year, &hh, &mm, &ss, &sign, &zone,
               &n) != 8 ||
        n == 0 || (sign != '+' && sign != '-'))
        return -1;
    mon[3] = '\0';
    const char *m = strstr(months, mon);
    if (m == NULL || (m - months) % 3 != 0 || day < 1 || day > 31 || year < 1970 || hh > 23 ||
        mm > 59 || ss > 60 || zone % 100 > 59 || zone > 2359)
        return -1;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = (int)((m - months) / 3),
                    .tm_mday = day,
                    .tm_hour = hh,
                    .tm_min = mm,
                    .tm_sec = ss};
    time_t t = timegm(&tm);
    long off = (zone / 100) * 3600L + (zone % 100) * 60L;
    *t_r = sign == '+' ? t - off : t + off;
    return 0;
}

/* The value after item name `item` in a FETCH response's list, or NULL. */
static const char *imap_fetch_item(const char *line, const char *item)
{
    size_t n = strlen(item);
    const char *p = strchr(line, '(');

    for (p = p != NULL ? p + 1 : NULL; p != NULL && *p != '\0'; p++) {
        if ((p[-1] == '(' || p[-1] == ' ') && strncasecmp(p, item, n) == 0 && p[n] == ' ')
            return p + n + 1;
        if (*p == '"') /* skip a quoted value: it may hold spaces */
            for (p++; *p != '\0' && *p != '"'; p++)
                if (*p == '\\' && p[1] != '\0')
                    p++;
    }
    return NULL;
}

struct imap_messages_ctx {
    uint32_t after;
    struct imap_message *v;
    size_t n, cap;
};

static int imap_messages_fn(struct imap_client *c, void *vctx, long long lit, const char **why_r)
{
    struct imap_messages_ctx *ctx = vctx;
    const char *p = c->line + 2, *v;
    struct imap_message m = {0};

    (void)lit;
    (void)why_r;
    while (isdigit((unsigned char)*p))
        p++;
    if (strncasecmp(p, " FETCH (", 8) != 0 || (v = imap_fetch_item(p, "UID")) == NULL)
        return 0;
    unsigned long uid = strtoul(v, NULL, 10);
    if (uid == 0 || uid > UINT32_MAX || uid <= ctx->after)
        return 0;
    m.uid = (uint32_t)uid;
    if ((v = imap_fetch_item(p, "INTERNALDATE")) != NULL && *v == '"')
        (void)imap_parse_date_time(v + 1, &m.internaldate);
    if ((v = imap_fetch_item(p, "RFC822.SIZE")) != NULL)
        m.size = strtoull(v, NULL, 10);
    if (ctx->n == ctx->cap) {
        ctx->cap = ctx->cap ? ctx->cap * 2 : 256;
        ctx->v = xrealloc(ctx->v, ctx->cap * sizeof(*ctx->v));
    }
    ctx->v[ctx->n++] = m;
    return 0;
}

static int imap_message_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct imap_message *)a)->uid, y = ((const struct imap_message *)b)->uid;
    return x < y ? -1 : x > y;
}

enum tab_result imap_client_messages(struct imap_client *c, uint32_t after_uid,
                                     struct imap_message **list_r, size_t *n_r,
                                     const char **error_r)
{
    struct imap_messages_ctx ctx = {.after = after_uid};
    struct imap_untagged u = {imap_messages_fn, &ctx};
    struct buf cmd = BUF_INIT;
    enum tab_result r;

    *list_r = NULL;
    *n_r = 0;
    if (c->folder == NULL)
        return imap_fail(c, TAB_PERM, error_r, "no folder examined");
    if ((r = imap_ready(c, error_r)) != TAB_OK)
        return r;
    if (after_uid == UINT32_MAX)
        return TAB_OK;
    char range[64];
    snprintf(range, sizeof(range), "UID FETCH %lu:* (UID INTERNALDATE RFC822.SIZE)",
             (unsigned long)after_uid + 1);
    buf_add_str(&cmd, range);
    r = imap_command(c, &cmd, &u, "UID FETCH", error_r);
    buf_free(&cmd);
    if (r != TAB_OK) {
        free(ctx.v);
        return r;
    }
    if (ctx.n > 1)
        qsort(ctx.v, ctx.n, sizeof(*ctx.v), imap_message_cmp);
    *list_r = ctx.v;
    *n_r = ctx.n;
    return TAB_OK;
}

struct imap_fetch_ctx {
    uint32_t uid;
    int fd;
    int got;
    uint64_t size;
};

static int imap_fetch_fn(struct imap_client *c, void *vctx, long long lit, const char **why_r)
{
    struct imap_fetch_ctx *ctx = vctx;
    const char *p = c->line + 2, *v;

    while (isdigit((unsigned char)*p))
        p++;
    if (strncasecmp(p, " FETCH (", 8) != 0 || lit < 0)
        return 0;
    /* The literal must be BODY[]'s: the line ends in "BODY[] {N}". The
     * UID may come before it (checked here) or after (checked below). */
    const char *brace = strrchr(c->line, '{');
    if (brace == NULL || brace - c->line < 7 || strncasecmp(brace - 7, "BODY[] ", 7) != 0)
        return 0;
    v = imap_fetch_item(p, "UID");
    if (v != NULL && strtoul(v, NULL, 10) != ctx->uid)
        return 0;
    int r = imap_take_literal(c, (unsigned long long)lit, ctx->fd, NULL, 0, why_r);
    if (r < 0)
        return r;
    ctx->size = (uint64_t)lit;
    ctx->got = 1;
    /* The rest of the response: ")" or " UID n)" */
    if (imap_read_line(c, why_r) < 0)
        return -1;
    if (v == NULL && (v = strstr(c->line, "UID ")) != NULL &&
        strtoul(v + 4, NULL, 10) != ctx->uid) {
        *why_r = "the server sent another message than the one asked for";
        return -1;
    }
    return 1;
}

enum tab_result imap_client_fetch(struct imap_client *c, uint32_t uid, int fd, uint64_t *size_r,
                                  const char **error_r)
{
    struct imap_fetch_ctx ctx = {.uid = uid, .fd = fd};
    struct imap_untagged u = {imap_fetch_fn, &ctx};
    struct buf cmd = BUF_INIT;
    char text[64];
    enum tab_result r;

    *size_r = 0;
    if (c->folder == NULL)
        return imap_fail(c, TAB_PERM, error_r, "no folder examined");
    if ((r = imap_ready(c, error_r)) != TAB_OK)
        return r;
    snprintf(text, sizeof(text), "UID FETCH %lu (UID BODY.PEEK[])", (unsigned long)uid);
    buf_add_str(&cmd, text);
    r = imap_command(c, &cmd, &u, "UID FETCH", error_r);
    buf_free(&cmd);
    if (r != TAB_OK)
        return r;
    if (!ctx.got)
        return imap_fail(c, TAB_PERM, error_r, "folder %s: no message with UID %lu (expunged?)",
                         c->folder, (unsigned long)uid);
    *size_r = ctx.size;
    return TAB_OK;
}
