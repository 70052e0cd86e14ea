/*
 * NAME
 *	smtp_client 3
 * SUMMARY
 *	SMTP client for forwarded archive copies
 * SYNOPSIS
 *	struct smtp_session *s = smtp_session_open(&cfg, smtp_destination(&cfg, rcpt), &res);
 *	smtp_message_scan(&msg, &err);
 *	if (smtp_session_send(s, &msg, &res) < 0) smtp_session_close(&s);
 * DESCRIPTION
 *	Owns the SMTP conversation with the forwarding destination: address
 *	lookup (relayhost as [host]:port without MX lookup, host[:port] and
 *	the bare recipient domain with MX lookup, falling back to the host's
 *	own address), connection with a timeout, greeting, EHLO/HELO,
 *	STARTTLS (OpenSSL), AUTH PLAIN/LOGIN, and transactions.
 *
 *	TLS levels, as Postfix's smtp_tls_security_level: none never starts
 *	TLS; may starts it when offered and, when the handshake fails,
 *	connects again in plaintext; encrypt requires TLS and does not check
 *	the certificate; verify requires TLS, a certificate chain to a CA in
 *	forward_tls_ca_file (or the system's) and the relay's host name (or
 *	IP address) in the certificate. Input that a server sent behind its
 *	STARTTLS reply (an injection attempt) is never read as if it came
 *	through TLS: it counts as a failed handshake.
 *	Credentials go only over TLS.
 *
 *	The copy is sent exactly as it is: DATA with dot-stuffing for a copy
 *	with CRLF line ends and lines of at most 998 bytes, BDAT (CHUNKING)
 *	with BODY=BINARYMIME otherwise. When the server lacks what the copy
 *	needs (SMTPUTF8, 8BITMIME, BINARYMIME, a large enough SIZE) the
 *	verdict is HELD with that reason, before MAIL FROM; the copy is never
 *	converted.
 *
 *	Timeouts are per stage, as in Postfix: connecting and the greeting,
 *	each command and its reply, each write of message data and the reply
 *	after the data. Sockets are blocking with SO_RCVTIMEO/SO_SNDTIMEO, so
 *	that plaintext and TLS I/O time out alike.
 *
 *	Must never log or return credentials, and never treat a reply it did
 *	not understand as success.
 * DIAGNOSTICS
 *	Connection problems, timeouts, TLS failures and 4xx replies are
 *	DEFERRED (4.4.1 no connection, 4.4.2 lost connection or timeout,
 *	4.4.3 lookup failure, 4.7.5 TLS, 4.7.0 AUTH); 5xx replies and copies
 *	the server cannot take as they are are HELD.
 */
#include "forwarder/smtp_client.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <resolv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strlist.h"

#define SMTP_LINE_MAX 2048   /* longest reply line kept; longer ones are cut */
#define SMTP_REPLY_MAX 16384 /* all lines of one reply */
#define SMTP_IOBUF 65536
#define SMTP_MAX_ADDRS 10
#define SMTP_RFC_LINE_MAX 998

/* Extensions from the EHLO reply. */
struct smtp_ext {
    int esmtp;
    int starttls, pipelining, eightbitmime, smtputf8, dsn, chunking, binarymime, auth_plain,
        auth_login, enhanced;
    int size_offered;
    long long size; /* SIZE limit, 0 = unlimited */
    char auth[256]; /* mechanisms as announced, for messages */
};

struct smtp_session {
    const struct smtp_client_config *cfg;
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    char host[256]; /* the relay's name (MX host or relayhost) */
    char addr[64];  /* its address */
    int port;
    char relay[400]; /* host[addr]:port */
    struct smtp_ext ext;
    int broken;
    /* input */
    char in[SMTP_IOBUF];
    size_t in_len, in_pos;
    /* the last reply */
    int code;
    char reply[SMTP_REPLY_MAX]; /* lines joined by '\n' */
    /* output */
    char out[SMTP_IOBUF];
    size_t out_len;
};

/* One address to try. */
struct smtp_addr {
    char host[256];
    struct sockaddr_storage sa;
    socklen_t salen;
};

int smtp_tls_level_parse(const char *s, enum smtp_tls_level *level_r)
{
    static const char *const names[] = {"none", "may", "encrypt", "verify"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *level_r = (enum smtp_tls_level)i;
            return 0;
        }
    return -1;
}

static void smtp_result_set(struct smtp_result *res, enum smtp_status st, const char *dsn,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void smtp_result_set(struct smtp_result *res, enum smtp_status st, const char *dsn,
                            const char *fmt, ...)
{
    va_list ap;

    res->status = st;
    snprintf(res->dsn, sizeof(res->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(res->text, sizeof(res->text), fmt, ap);
    va_end(ap);
}

int smtp_message_scan(struct smtp_message *msg, const char **error_r)
{
    static char err[256];
    unsigned char buf[SMTP_IOBUF];
    off_t total = 0;
    size_t line = 0;
    int prev_cr = 0;
    ssize_t n;

    msg->has_8bit = msg->binary = 0;
    if (lseek(msg->fd, 0, SEEK_SET) < 0)
        goto fail;
    while ((n = read(msg->fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        for (ssize_t i = 0; i < n; i++) {
            unsigned char c = buf[i];
            if (c >= 0x80)
                msg->has_8bit = 1;
            if (c == '\0')
                msg->binary = 1;
            if (prev_cr && c != '\n')
                msg->binary = 1; /* bare CR */
            if (c == '\n') {
                if (!prev_cr)
                    msg->binary = 1; /* bare LF */
                line = 0;
            } else if (c != '\r' && ++line > SMTP_RFC_LINE_MAX) {
                msg->binary = 1;
            }
            prev_cr = c == '\r';
        }
        total += n;
    }
    /* DATA needs a final CRLF; a copy without one goes by BDAT, as it is. */
    if (total > 0 && (line != 0 || prev_cr))
        msg->binary = 1;
    msg->size = total;
    if (lseek(msg->fd, 0, SEEK_SET) < 0)
        goto fail;
    return 0;
fail:
    snprintf(err, sizeof(err), "cannot read the queued copy: %s", strerror(errno));
    *error_r = err;
    return -1;
}

/* ---- destination and addresses ---------------------------------------- */

const char *smtp_destination(const struct smtp_client_config *cfg, const char *recipient)
{
    const char *at;

    if (cfg->relayhost[0] != '\0')
        return cfg->relayhost;
    at = strrchr(recipient, '@');
    return at ? at + 1 : recipient;
}

/* Split "[host]:port", "host:port", "host" into host, port, and whether
 * MX records apply (not for [host]). -1 on syntax errors. */
static int smtp_parse_destination(const char *dest, char *host, size_t hostsize, int *port_r,
                                  int *mx_r)
{
    const char *end, *portp = NULL;

    *port_r = 25;
    *mx_r = 1;
    if (dest[0] == '[') {
        end = strchr(dest, ']');
        if (end == NULL)
            return -1;
        *mx_r = 0;
        if ((size_t)(end - dest - 1) >= hostsize)
            return -1;
        memcpy(host, dest + 1, (size_t)(end - dest - 1));
        host[end - dest - 1] = '\0';
        if (end[1] == ':')
            portp = end + 2;
        else if (end[1] != '\0')
            return -1;
    } else {
        const char *colon = strrchr(dest, ':');
        size_t n = colon ? (size_t)(colon - dest) : strlen(dest);
        if (n >= hostsize)
            return -1;
        memcpy(host, dest, n);
        host[n] = '\0';
        if (colon)
            portp = colon + 1;
    }
    if (portp != NULL) {
        char *e;
        long p = strtol(portp, &e, 10);
        if (*portp == '\0' || *e != '\0' || p < 1 || p > 65535)
            return -1;
        *port_r = (int)p;
    }
    return host[0] ? 0 : -1;
}

/* Append host's addresses to addrs. 0 ok, -1 (with gai error) none. */
static int smtp_add_host(const char *host, int port, struct smtp_addr *addrs, int *n,
                         const char **why_r)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        *why_r = gai_strerror(rc);
        return -1;
    }
    for (struct addrinfo *a = ai; a && *n < SMTP_MAX_ADDRS; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(addrs[*n].sa))
            continue;
        snprintf(addrs[*n].host, sizeof(addrs[*n].host), "%s", host);
        memcpy(&addrs[*n].sa, a->ai_addr, a->ai_addrlen);
        addrs[*n].salen = a->ai_addrlen;
        (*n)++;
    }
    freeaddrinfo(ai);
    return 0;
}

struct smtp_mx {
    int pref;
    char host[256];
};

static int smtp_mx_cmp(const void *a, const void *b)
{
    return ((const struct smtp_mx *)a)->pref - ((const struct smtp_mx *)b)->pref;
}

/* MX hosts of domain by preference; 0 when there are none (or no DNS). */
static int smtp_lookup_mx(const char *domain, struct smtp_mx *mx, int max, int *tempfail_r)
{
    unsigned char ans[4096];
    const unsigned char *p, *end;
    int len, n = 0, qd, an;

    *tempfail_r = 0;
    len = res_query(domain, C_IN, T_MX, ans, sizeof(ans));
    if (len < 0) {
        *tempfail_r = h_errno == TRY_AGAIN;
        return 0;
    }
    if (len < 12 || len > (int)sizeof(ans))
        return 0;
    end = ans + len;
    qd = ans[4] << 8 | ans[5];
    an = ans[6] << 8 | ans[7];
    p = ans + 12;
    while (qd-- > 0) {
        int skip = dn_skipname(p, end);
        if (skip < 0 || p + skip + 4 > end)
            return 0;
        p += skip + 4;
    }
    while (an-- > 0 && n < max) {
        int skip = dn_skipname(p, end);
        if (skip < 0 || p + skip + 10 > end)
            break;
        p += skip;
        int type = p[0] << 8 | p[1];
        int rdlen = p[8] << 8 | p[9];
        p += 10;
        if (p + rdlen > end)
            break;
        if (type == T_MX && rdlen > 2) {
            mx[n].pref = p[0] << 8 | p[1];
            if (dn_expand(ans, end, p + 2, mx[n].host, sizeof(mx[n].host)) >= 0)
                n++;
        }
        p += rdlen;
    }
    qsort(mx, (size_t)n, sizeof(*mx), smtp_mx_cmp);
    return n;
}

/* The addresses to try for destination, in order. 0, or -1 with res set. */
static int smtp_resolve(const char *destination, struct smtp_addr *addrs, int *n_r, int *port_r,
                        struct smtp_result *res)
{
    char host[256];
    struct smtp_mx mx[SMTP_MAX_ADDRS];
    const char *why = "no address";
    int mx_lookup, nmx = 0, tempfail = 0;

    *n_r = 0;
    if (smtp_parse_destination(destination, host, sizeof(host), port_r, &mx_lookup) < 0) {
        smtp_result_set(res, SMTP_DEFERRED, "4.3.5",
                        "bad forward_relayhost or recipient domain \"%s\"", destination);
        return -1;
    }
    if (mx_lookup)
        nmx = smtp_lookup_mx(host, mx, SMTP_MAX_ADDRS, &tempfail);
    for (int i = 0; i < nmx; i++)
        (void)smtp_add_host(mx[i].host, *port_r, addrs, n_r, &why);
    /* No MX (or no DNS at all): the host's own address (RFC 5321 5.1). */
    if (nmx == 0)
        (void)smtp_add_host(host, *port_r, addrs, n_r, &why);
    if (*n_r == 0) {
        smtp_result_set(res, SMTP_DEFERRED, "4.4.3", "Host or domain name not found: %s%s", host,
                        tempfail ? " (temporary DNS failure)" : "");
        (void)why;
        return -1;
    }
    return 0;
}

/* ---- I/O ----------------------------------------------------------------- */

static void smtp_set_timeout(struct smtp_session *s, int seconds)
{
    struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};

    (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static const char *smtp_io_error(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? "timeout" : strerror(errno);
}

/* Write all of buf; -1 (errno set) on failure or timeout. */
static int smtp_write_raw(struct smtp_session *s, const void *buf, size_t len)
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

static int smtp_flush(struct smtp_session *s)
{
    int rc = smtp_write_raw(s, s->out, s->out_len);
    s->out_len = 0;
    return rc;
}

static int smtp_put(struct smtp_session *s, const void *buf, size_t len)
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
static int smtp_fill(struct smtp_session *s)
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
static int smtp_read_line(struct smtp_session *s, char *line, size_t size)
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
static int smtp_read_reply(struct smtp_session *s, int timeout)
{
    char line[SMTP_LINE_MAX];
    size_t used = 0;
    int lines = 0;

    smtp_set_timeout(s, timeout);
    s->reply[0] = '\0';
    s->code = 0;
    for (;;) {
        if (smtp_read_line(s, line, sizeof(line)) < 0)
            return -1;
        if (strlen(line) < 3 || !isdigit((unsigned char)line[0]) || line[0] < '2' ||
            line[0] > '5' || !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]) ||
            (line[3] != '\0' && line[3] != ' ' && line[3] != '-')) {
            errno = EPROTO;
            return -1;
        }
        int code = atoi(line);
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
        if (line[3] != '-')
            return 0;
    }
}

/* The reply as one line (multi-line replies joined with spaces). */
static void smtp_reply_text(const struct smtp_session *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s->reply);
    for (char *c = buf; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

/* The enhanced status code in a reply, or class.0.0. */
static void smtp_reply_dsn(const struct smtp_session *s, char *dsn, size_t size)
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
static void smtp_result_reply(struct smtp_session *s, struct smtp_result *res, const char *what)
{
    char text[SMTP_REPLY_MAX];
    char dsn[16];

    smtp_reply_text(s, text, sizeof(text));
    smtp_reply_dsn(s, dsn, sizeof(dsn));
    smtp_result_set(res, s->code >= 500 ? SMTP_HELD : SMTP_DEFERRED, dsn,
                    "host %s[%s] said: %s (in reply to %s)", s->host, s->addr, text, what);
}

static void smtp_result_io(struct smtp_session *s, struct smtp_result *res, const char *when)
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
static int smtp_command(struct smtp_session *s, struct smtp_result *res, const char *when,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int smtp_command(struct smtp_session *s, struct smtp_result *res, const char *when,
                        const char *fmt, ...)
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

/* ---- session setup ------------------------------------------------------- */

static void smtp_parse_ehlo(struct smtp_session *s)
{
    struct smtp_ext *x = &s->ext;
    const char *line = s->reply;

    memset(x, 0, sizeof(*x));
    x->esmtp = 1;
    /* The first line is the greeting part; extensions follow. */
    line = strchr(line, '\n');
    while (line != NULL) {
        char kw[64], rest[600];
        const char *next = strchr(++line, '\n');
        size_t len = next ? (size_t)(next - line) : strlen(line);
        char buf[600];
        if (len < 4 || len - 4 >= sizeof(buf)) {
            line = next;
            continue;
        }
        memcpy(buf, line + 4, len - 4);
        buf[len - 4] = '\0';
        rest[0] = '\0';
        if (sscanf(buf, "%63[^ =] %599[^\n]", kw, rest) < 1) {
            line = next;
            continue;
        }
        if (strncasecmp(buf, "AUTH=", 5) == 0) /* old syntax */
            snprintf(rest, sizeof(rest), "%s", buf + 5), snprintf(kw, sizeof(kw), "AUTH");
        if (strcasecmp(kw, "STARTTLS") == 0)
            x->starttls = 1;
        else if (strcasecmp(kw, "PIPELINING") == 0)
            x->pipelining = 1;
        else if (strcasecmp(kw, "8BITMIME") == 0)
            x->eightbitmime = 1;
        else if (strcasecmp(kw, "SMTPUTF8") == 0)
            x->smtputf8 = 1;
        else if (strcasecmp(kw, "DSN") == 0)
            x->dsn = 1;
        else if (strcasecmp(kw, "CHUNKING") == 0)
            x->chunking = 1;
        else if (strcasecmp(kw, "BINARYMIME") == 0)
            x->binarymime = 1;
        else if (strcasecmp(kw, "ENHANCEDSTATUSCODES") == 0)
            x->enhanced = 1;
        else if (strcasecmp(kw, "SIZE") == 0)
            x->size_offered = 1, x->size = atoll(rest);
        else if (strcasecmp(kw, "AUTH") == 0) {
            size_t n = strnlen(rest, sizeof(x->auth) - 1); /* truncation is fine here */
            memcpy(x->auth, rest, n);
            x->auth[n] = '\0';
            for (char *m = strtok(rest, " "); m; m = strtok(NULL, " ")) {
                x->auth_plain |= strcasecmp(m, "PLAIN") == 0;
                x->auth_login |= strcasecmp(m, "LOGIN") == 0;
            }
        }
        line = next;
    }
}

/* EHLO, or HELO when EHLO is refused. -1 with res set. */
static int smtp_greet(struct smtp_session *s, struct smtp_result *res)
{
    if (smtp_command(s, res, "EHLO", "EHLO %s", s->cfg->helo_name) < 0)
        return -1;
    if (s->code / 100 == 2) {
        smtp_parse_ehlo(s);
        return 0;
    }
    if (s->code / 100 == 5) {
        if (smtp_command(s, res, "HELO", "HELO %s", s->cfg->helo_name) < 0)
            return -1;
        memset(&s->ext, 0, sizeof(s->ext));
        if (s->code / 100 == 2)
            return 0;
        smtp_result_reply(s, res, "HELO command");
        return -1;
    }
    smtp_result_reply(s, res, "EHLO command");
    return -1;
}

static void smtp_ssl_errors(char *buf, size_t size)
{
    unsigned long e;
    size_t used = 0;

    buf[0] = '\0';
    while ((e = ERR_get_error()) != 0 && used + 2 < size) {
        char one[256];
        ERR_error_string_n(e, one, sizeof(one));
        int n = snprintf(buf + used, size - used, "%s%s", used ? "; " : "", one);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "%s", errno ? strerror(errno) : "connection closed");
}

/* STARTTLS and the handshake. 0 ok; -1 with res set; 1: the level is may
 * and the handshake failed (the caller reconnects in plaintext). */
static int smtp_starttls(struct smtp_session *s, struct smtp_result *res)
{
    const struct smtp_client_config *cfg = s->cfg;
    int verify = cfg->tls_level == SMTP_TLS_VERIFY;
    struct in6_addr ip6;
    struct in_addr ip4;
    char why[1024];

    if (smtp_command(s, res, "STARTTLS", "STARTTLS") < 0)
        return -1;
    if (s->code != 220) {
        if (cfg->tls_level == SMTP_TLS_MAY)
            return 0; /* stay in plaintext; the session is still usable */
        smtp_result_reply(s, res, "STARTTLS command");
        res->status = SMTP_DEFERRED;
        res->dsn[0] = '4';
        return -1;
    }
    if (s->in_pos != s->in_len) {
        /* Never read as if it came through TLS; a failed handshake. */
        snprintf(why, sizeof(why),
                 "the server sent data ahead of the TLS handshake "
                 "(STARTTLS injection?)");
        goto handshake_fail;
    }
    ERR_clear_error();
    s->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (s->ssl_ctx == NULL)
        goto tls_fail;
    if (verify) {
        if (cfg->ca_file && cfg->ca_file[0]) {
            if (SSL_CTX_load_verify_locations(s->ssl_ctx, cfg->ca_file, NULL) != 1)
                goto tls_fail;
        } else if (SSL_CTX_set_default_verify_paths(s->ssl_ctx) != 1) {
            goto tls_fail;
        }
        SSL_CTX_set_verify(s->ssl_ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(s->ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
    s->ssl = SSL_new(s->ssl_ctx);
    if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1)
        goto tls_fail;
    if (inet_pton(AF_INET, s->host, &ip4) == 1 || inet_pton(AF_INET6, s->host, &ip6) == 1) {
        if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->host) != 1)
            goto tls_fail;
    } else {
        SSL_set_tlsext_host_name(s->ssl, s->host);
        if (verify && SSL_set1_host(s->ssl, s->host) != 1)
            goto tls_fail;
    }
    smtp_set_timeout(s, cfg->command_timeout);
    if (SSL_connect(s->ssl) != 1) {
        long vr = SSL_get_verify_result(s->ssl);
        if (verify && vr != X509_V_OK) {
            ERR_clear_error();
            snprintf(why, sizeof(why), "server certificate not verified: %s",
                     X509_verify_cert_error_string(vr));
        } else {
            smtp_ssl_errors(why, sizeof(why));
        }
        goto handshake_fail;
    }
    {
        X509 *peer = SSL_get1_peer_certificate(s->ssl);
        const char *trust = verify ? "Verified"
                            : peer != NULL && SSL_get_verify_result(s->ssl) == X509_V_OK
                                ? "Trusted"
                                : "Untrusted";
        X509_free(peer);
        log_info("%s TLS connection established to %s: %s with cipher %s", trust, s->relay,
                 SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl));
    }
    return 0;

tls_fail:
    smtp_ssl_errors(why, sizeof(why));
handshake_fail:
    s->broken = 1;
    if (cfg->tls_level == SMTP_TLS_MAY) {
        log_warn("TLS handshake with %s failed: %s; trying again without TLS", s->relay, why);
        return 1;
    }
    smtp_result_set(res, SMTP_DEFERRED, "4.7.5",
                    "TLS is required, but the handshake with %s[%s] failed: %s", s->host, s->addr,
                    why);
    return -1;
}

static void smtp_b64(const char *in, size_t len, char *out, size_t size)
{
    if (4 * ((len + 2) / 3) + 1 > size) {
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

/* AUTH PLAIN or LOGIN. -1 with res set (DEFERRED: credentials can be fixed). */
static int smtp_auth(struct smtp_session *s, struct smtp_result *res)
{
    const struct smtp_client_config *cfg = s->cfg;
    char plain[1024], b64[1400];
    size_t ul = strlen(cfg->sasl_user), pl = strlen(cfg->sasl_pass);
    int rc = -1;

    if (s->ssl == NULL) {
        smtp_result_set(res, SMTP_DEFERRED, "4.7.0",
                        "SASL credentials are configured, but the connection to %s[%s] is not "
                        "encrypted (forward_tls_security_level = encrypt or verify, and a server "
                        "that offers STARTTLS)",
                        s->host, s->addr);
        return -1;
    }
    if (ul + pl + 2 > sizeof(plain)) {
        smtp_result_set(res, SMTP_DEFERRED, "4.7.0", "SASL credentials too long");
        return -1;
    }
    if (s->ext.auth_plain) {
        plain[0] = '\0';
        memcpy(plain + 1, cfg->sasl_user, ul);
        plain[ul + 1] = '\0';
        memcpy(plain + ul + 2, cfg->sasl_pass, pl);
        smtp_b64(plain, ul + pl + 2, b64, sizeof(b64));
        if (smtp_command(s, res, "AUTH", "AUTH PLAIN %s", b64) < 0)
            goto out;
    } else if (s->ext.auth_login) {
        if (smtp_command(s, res, "AUTH", "AUTH LOGIN") < 0)
            goto out;
        if (s->code == 334) {
            smtp_b64(cfg->sasl_user, ul, b64, sizeof(b64));
            if (smtp_command(s, res, "AUTH", "%s", b64) < 0)
                goto out;
        }
        if (s->code == 334) {
            smtp_b64(cfg->sasl_pass, pl, b64, sizeof(b64));
            if (smtp_command(s, res, "AUTH", "%s", b64) < 0)
                goto out;
        }
    } else {
        smtp_result_set(res, SMTP_DEFERRED, "4.7.0",
                        "host %s[%s] offers no SASL mechanism this client has (offered: %s; "
                        "supported: PLAIN, LOGIN)",
                        s->host, s->addr, s->ext.auth);
        goto out;
    }
    if (s->code != 235) {
        char text[SMTP_REPLY_MAX];
        smtp_reply_text(s, text, sizeof(text));
        smtp_result_set(res, SMTP_DEFERRED, "4.7.0",
                        "SASL authentication failed; server %s[%s] said: %s", s->host, s->addr,
                        text);
        goto out;
    }
    rc = 0;
out:
    explicit_bzero(plain, sizeof(plain));
    explicit_bzero(b64, sizeof(b64));
    return rc;
}

static int smtp_connect_fd(const struct smtp_addr *a, int timeout, const char **why_r)
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

static void smtp_session_free(struct smtp_session *s)
{
    if (s->ssl != NULL) {
        if (!s->broken)
            (void)SSL_shutdown(s->ssl);
        SSL_free(s->ssl);
    }
    SSL_CTX_free(s->ssl_ctx);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* One address: connect, greet, TLS, AUTH. NULL with res set; *plain_r set
 * when a may-level handshake failed and plaintext should be tried. */
static struct smtp_session *smtp_session_try(const struct smtp_client_config *cfg,
                                             const struct smtp_addr *a, int port, int no_tls,
                                             int *plain_r, struct smtp_result *res)
{
    struct smtp_session *s = xcalloc(1, sizeof(*s));
    const char *why = NULL;

    *plain_r = 0;
    s->cfg = cfg;
    s->port = port;
    snprintf(s->host, sizeof(s->host), "%s", a->host);
    if (getnameinfo((const struct sockaddr *)&a->sa, a->salen, s->addr, sizeof(s->addr), NULL, 0,
                    NI_NUMERICHOST) != 0)
        snprintf(s->addr, sizeof(s->addr), "unknown");
    snprintf(s->relay, sizeof(s->relay), "%s[%s]:%d", s->host, s->addr, port);
    s->fd = smtp_connect_fd(a, cfg->connect_timeout, &why);
    if (s->fd < 0) {
        /* As Postfix: no conversation, no relay. */
        smtp_result_set(res, SMTP_DEFERRED, "4.4.1", "connect to %s[%s]:%d: %s", s->host, s->addr,
                        port, why);
        goto fail;
    }
    snprintf(res->relay, sizeof(res->relay), "%s", s->relay);
    if (smtp_read_reply(s, cfg->connect_timeout) < 0) {
        smtp_result_io(s, res, "receiving the initial server greeting");
        goto fail;
    }
    if (s->code != 220) {
        smtp_result_reply(s, res, "the initial server greeting");
        goto fail;
    }
    if (smtp_greet(s, res) < 0)
        goto fail;
    if (!no_tls && cfg->tls_level != SMTP_TLS_NONE) {
        if (s->ext.starttls) {
            int r = smtp_starttls(s, res);
            if (r == 1) {
                *plain_r = 1;
                goto fail;
            }
            if (r < 0)
                goto fail;
            if (s->ssl != NULL && smtp_greet(s, res) < 0)
                goto fail;
        } else if (cfg->tls_level >= SMTP_TLS_ENCRYPT) {
            smtp_result_set(res, SMTP_DEFERRED, "4.7.4",
                            "TLS is required, but was not offered by host %s[%s]", s->host,
                            s->addr);
            goto fail;
        }
    }
    if (cfg->sasl_user != NULL && (s->ext.auth_plain || s->ext.auth_login || s->ext.auth[0]) &&
        smtp_auth(s, res) < 0)
        goto fail;
    return s;
fail:
    smtp_session_free(s);
    return NULL;
}

struct smtp_session *smtp_session_open(const struct smtp_client_config *cfg,
                                       const char *destination, struct smtp_result *res)
{
    struct smtp_addr addrs[SMTP_MAX_ADDRS];
    int n, port;

    memset(res, 0, sizeof(*res));
    snprintf(res->relay, sizeof(res->relay), "none");
    if (smtp_resolve(destination, addrs, &n, &port, res) < 0)
        return NULL;
    /* Like Postfix, try the next address after a connection failure or a
     * greeting refusal; a conversation that got further decides. */
    for (int i = 0; i < n; i++) {
        int plain = 0;
        struct smtp_session *s = smtp_session_try(cfg, &addrs[i], port, 0, &plain, res);
        if (s == NULL && plain)
            s = smtp_session_try(cfg, &addrs[i], port, 1, &plain, res);
        if (s != NULL)
            return s;
        if (strcmp(res->dsn, "4.4.1") != 0 && strstr(res->text, "initial server greeting") == NULL)
            break;
    }
    return NULL;
}

/* ---- transactions -------------------------------------------------------- */

/* Stream the copy, dot-stuffed, then ".". -1 on I/O errors (errno). */
static int smtp_send_data(struct smtp_session *s, int fd, int *read_error_r)
{
    char buf[SMTP_IOBUF];
    int bol = 1;
    ssize_t n;

    *read_error_r = 0;
    if (lseek(fd, 0, SEEK_SET) < 0) {
        *read_error_r = 1;
        return -1;
    }
    smtp_set_timeout(s, s->cfg->data_timeout);
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *read_error_r = 1;
            return -1;
        }
        ssize_t start = 0;
        for (ssize_t i = 0; i < n; i++) {
            if (bol && buf[i] == '.') {
                /* Send what came before, then the extra dot. */
                if (smtp_put(s, buf + start, (size_t)(i - start)) < 0 || smtp_put(s, ".", 1) < 0)
                    return -1;
                start = i;
            }
            bol = buf[i] == '\n';
        }
        if (smtp_put(s, buf + start, (size_t)(n - start)) < 0)
            return -1;
    }
    if (smtp_put(s, ".\r\n", 3) < 0 || smtp_flush(s) < 0)
        return -1;
    return 0;
}

/* BDAT SIZE LAST and the copy as it is. */
static int smtp_send_bdat(struct smtp_session *s, const struct smtp_message *msg, int *read_error_r)
{
    char cmd[64], buf[SMTP_IOBUF];
    off_t left = msg->size;

    *read_error_r = 0;
    if (lseek(msg->fd, 0, SEEK_SET) < 0) {
        *read_error_r = 1;
        return -1;
    }
    smtp_set_timeout(s, s->cfg->data_timeout);
    snprintf(cmd, sizeof(cmd), "BDAT %lld LAST\r\n", (long long)msg->size);
    if (smtp_put(s, cmd, strlen(cmd)) < 0)
        return -1;
    while (left > 0) {
        ssize_t n = read(msg->fd, buf, left < (off_t)sizeof(buf) ? (size_t)left : sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The copy shrank: never send fewer bytes than announced. */
            *read_error_r = 1;
            if (n == 0)
                errno = EIO;
            return -1;
        }
        if (smtp_put(s, buf, (size_t)n) < 0)
            return -1;
        left -= n;
    }
    return smtp_flush(s);
}

/* After a refused MAIL or RCPT: end the transaction, keep the session. */
static int smtp_rset(struct smtp_session *s)
{
    struct smtp_result ignored;

    if (smtp_command(s, &ignored, "RSET", "RSET") < 0 || s->code / 100 != 2) {
        s->broken = 1;
        return -1;
    }
    return 0;
}

int smtp_session_send(struct smtp_session *s, const struct smtp_message *msg,
                      struct smtp_result *res)
{
    char params[160];
    size_t used = 0;
    int read_error = 0;

    memset(res, 0, sizeof(*res));
    snprintf(res->relay, sizeof(res->relay), "%s", s->relay);
    if (s->broken) {
        smtp_result_set(res, SMTP_DEFERRED, "4.4.2", "session with %s[%s] is broken", s->host,
                        s->addr);
        return -1;
    }
    /* What the copy needs and the server lacks: hold it, never convert it. */
    if (msg->smtputf8 && !s->ext.smtputf8) {
        smtp_result_set(res, SMTP_HELD, "5.6.7",
                        "SMTPUTF8 is required, but was not offered by host %s[%s]", s->host,
                        s->addr);
        return 0;
    }
    if (msg->binary && !(s->ext.binarymime && s->ext.chunking)) {
        smtp_result_set(res, SMTP_HELD, "5.6.3",
                        "the copy has binary content (NUL, bare CR or LF, lines over 998 bytes "
                        "or no final line end), but host %s[%s] does not offer BINARYMIME and "
                        "CHUNKING; the copy is never converted",
                        s->host, s->addr);
        return 0;
    }
    if (msg->has_8bit && !msg->binary && !s->ext.eightbitmime) {
        smtp_result_set(res, SMTP_HELD, "5.6.3",
                        "the copy has 8-bit content, but host %s[%s] does not offer 8BITMIME; "
                        "the copy is never converted",
                        s->host, s->addr);
        return 0;
    }
    if (s->ext.size > 0 && msg->size > s->ext.size) {
        smtp_result_set(res, SMTP_HELD, "5.3.4",
                        "message size %lld exceeds the size limit %lld of host %s[%s]",
                        (long long)msg->size, s->ext.size, s->host, s->addr);
        return 0;
    }
    params[0] = '\0';
    if (s->ext.size_offered)
        used += (size_t)snprintf(params + used, sizeof(params) - used, " SIZE=%lld",
                                 (long long)msg->size);
    if (msg->binary)
        used += (size_t)snprintf(params + used, sizeof(params) - used, " BODY=BINARYMIME");
    else if (msg->has_8bit)
        used += (size_t)snprintf(params + used, sizeof(params) - used, " BODY=8BITMIME");
    if (msg->smtputf8)
        used += (size_t)snprintf(params + used, sizeof(params) - used, " SMTPUTF8");
    if (!s->ext.esmtp)
        params[0] = '\0'; /* HELO: no parameters at all */

    if (smtp_command(s, res, "MAIL FROM", "MAIL FROM:<%s>%s", msg->sender, params) < 0)
        return -1;
    if (s->code / 100 != 2) {
        smtp_result_reply(s, res, "MAIL FROM command");
        return smtp_rset(s);
    }
    if (smtp_command(s, res, "RCPT TO", "RCPT TO:<%s>%s", msg->recipient,
                     s->ext.dsn ? " NOTIFY=NEVER" : "") < 0)
        return -1;
    if (s->code / 100 != 2) {
        smtp_result_reply(s, res, "RCPT TO command");
        return smtp_rset(s);
    }
    if (msg->binary) {
        if (smtp_send_bdat(s, msg, &read_error) < 0)
            goto data_error;
    } else {
        if (smtp_command(s, res, "DATA", "DATA") < 0)
            return -1;
        if (s->code != 354) {
            smtp_result_reply(s, res, "DATA command");
            return smtp_rset(s);
        }
        if (smtp_send_data(s, msg->fd, &read_error) < 0)
            goto data_error;
    }
    if (smtp_read_reply(s, s->cfg->data_timeout) < 0) {
        smtp_result_io(s, res, "sending end of data -- message may be sent more than once");
        res->maybe_delivered = 1;
        return -1;
    }
    if (s->code / 100 != 2) {
        smtp_result_reply(s, res, msg->binary ? "end of BDAT command" : "end of DATA command");
        return 0;
    }
    {
        char text[SMTP_REPLY_MAX], dsn[16];
        smtp_reply_text(s, text, sizeof(text));
        smtp_reply_dsn(s, dsn, sizeof(dsn));
        smtp_result_set(res, SMTP_SENT, dsn, "%s", text);
    }
    return 0;

data_error:
    if (read_error) {
        smtp_result_set(res, SMTP_DEFERRED, "4.3.0", "cannot read the queued copy: %s",
                        strerror(errno));
        s->broken = 1;
    } else {
        smtp_result_io(s, res, "sending message body");
    }
    return -1;
}

void smtp_session_close(struct smtp_session **sp)
{
    struct smtp_session *s = *sp;

    if (s == NULL)
        return;
    *sp = NULL;
    if (!s->broken) {
        static const char quit[] = "QUIT\r\n";
        smtp_set_timeout(s, 5);
        if (smtp_write_raw(s, quit, sizeof(quit) - 1) == 0)
            (void)smtp_read_reply(s, 5);
    }
    smtp_session_free(s);
}
