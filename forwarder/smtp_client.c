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
 *	STARTTLS (OpenSSL), AUTH PLAIN/LOGIN, and transactions. This file
 *	holds the session and its transactions; the rest is split by concern
 *	behind smtp_client_private.h: smtp_resolve.c (destination and
 *	addresses), smtp_io.c (connection, I/O, replies, results),
 *	smtp_tls.c (STARTTLS), smtp_auth.c (AUTH).
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

#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/strlist.h"
#include "forwarder/smtp_client_private.h"

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

/* ---- session setup ------------------------------------------------------- */

/* The extensions the EHLO reply only switches on. */
static const struct {
    const char *keyword;
    size_t offset;
} smtp_ext_flags[] = {
    {"STARTTLS", offsetof(struct smtp_ext, starttls)},
    {"PIPELINING", offsetof(struct smtp_ext, pipelining)},
    {"8BITMIME", offsetof(struct smtp_ext, eightbitmime)},
    {"SMTPUTF8", offsetof(struct smtp_ext, smtputf8)},
    {"DSN", offsetof(struct smtp_ext, dsn)},
    {"CHUNKING", offsetof(struct smtp_ext, chunking)},
    {"BINARYMIME", offsetof(struct smtp_ext, binarymime)},
    {"ENHANCEDSTATUSCODES", offsetof(struct smtp_ext, enhanced)},
};
#define SMTP_NFLAGS (sizeof(smtp_ext_flags) / sizeof(smtp_ext_flags[0]))

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
        size_t f = 0;
        while (f < SMTP_NFLAGS && strcasecmp(kw, smtp_ext_flags[f].keyword) != 0)
            f++;
        if (f < SMTP_NFLAGS)
            *(int *)((char *)x + smtp_ext_flags[f].offset) = 1;
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
