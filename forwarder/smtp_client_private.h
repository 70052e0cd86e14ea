/*
 * NAME
 *	smtp_client_private 3h
 * SUMMARY
 *	what the files of the SMTP client share; private to forwarder/
 * DESCRIPTION
 *	The client (smtp_client.h) is split by concern:
 *	  smtp_resolve.c  the destination: [host]:port or MX hosts, addresses
 *	  smtp_io.c       the connection, buffered I/O with timeouts, replies,
 *	                  commands, and results in Postfix's words
 *	  smtp_tls.c      STARTTLS and the handshake (OpenSSL)
 *	  smtp_auth.c     AUTH PLAIN and LOGIN
 *	  smtp_client.c   the session: greeting, EHLO, transactions
 *	Only tab_forwarder includes this header (PRIVATE_HEADERS).
 */
#ifndef TAB_SMTP_CLIENT_PRIVATE_H
#define TAB_SMTP_CLIENT_PRIVATE_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "forwarder/smtp_client.h"
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

/* smtp_resolve.c: the addresses to try for destination, in order (at
 * most SMTP_MAX_ADDRS). 0, or -1 with res set. */
int smtp_resolve(const char *destination, struct smtp_addr *addrs, int *n_r, int *port_r,
                 struct smtp_result *res);

/* smtp_io.c */
void smtp_result_set(struct smtp_result *res, enum smtp_status st, const char *dsn, const char *fmt,
                     ...) __attribute__((format(printf, 4, 5)));
/* A connected blocking socket; -1 with *why_r. */
int smtp_connect_fd(const struct smtp_addr *a, int timeout, const char **why_r);
void smtp_set_timeout(struct smtp_session *s, int seconds);
/* Write all of buf; -1 (errno set) on failure or timeout. */
int smtp_write_raw(struct smtp_session *s, const void *buf, size_t len);
int smtp_flush(struct smtp_session *s);
int smtp_put(struct smtp_session *s, const void *buf, size_t len);
/* Read a whole reply into s->code and s->reply. -1 on I/O errors and
 * replies that are not SMTP. */
int smtp_read_reply(struct smtp_session *s, int timeout);
/* The reply as one line (multi-line replies joined with spaces). */
void smtp_reply_text(const struct smtp_session *s, char *buf, size_t size);
/* The enhanced status code in a reply, or class.0.0. */
void smtp_reply_dsn(const struct smtp_session *s, char *dsn, size_t size);
/* res from the last reply: 4xx DEFERRED, 5xx HELD; "host H[A] said: ...". */
void smtp_result_reply(struct smtp_session *s, struct smtp_result *res, const char *what);
/* res after an I/O error (errno): DEFERRED 4.4.2; the session is broken. */
void smtp_result_io(struct smtp_session *s, struct smtp_result *res, const char *when);
/* Send a command line and read the reply. -1: I/O problem (res set). */
int smtp_command(struct smtp_session *s, struct smtp_result *res, const char *when, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* smtp_tls.c: STARTTLS and the handshake. 0 ok; -1 with res set; 1: the
 * level is may and the handshake failed (the caller reconnects in
 * plaintext). */
int smtp_starttls(struct smtp_session *s, struct smtp_result *res);

/* smtp_auth.c: AUTH PLAIN or LOGIN. -1 with res set (DEFERRED:
 * credentials can be fixed). */
int smtp_auth(struct smtp_session *s, struct smtp_result *res);

#endif
