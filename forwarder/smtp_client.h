/*
 * NAME
 *	smtp_client 3h
 * SUMMARY
 *	SMTP client for forwarded archive copies
 * DESCRIPTION
 *	A session connects to the forwarding destination (relayhost, or the
 *	MX hosts of the recipient's domain), greets it (EHLO, HELO when EHLO
 *	is refused), starts TLS as the security level asks, authenticates
 *	when credentials are configured, and then carries any number of
 *	transactions. A transaction sends one copy to one recipient exactly
 *	as it is on disk: MAIL FROM with SIZE, BODY=8BITMIME when the copy has
 *	8-bit bytes, SMTPUTF8 when an address needs it; RCPT TO with
 *	NOTIFY=NEVER when the server offers DSN; DATA with dot-stuffing, or
 *	BDAT with BODY=BINARYMIME for a copy that only binary transport keeps
 *	intact.
 *
 *	The outcome of every attempt is SENT, DEFERRED (try again later) or
 *	HELD (the server refused it for good, or cannot take the copy
 *	without a conversion that this client never makes). Nothing is ever
 *	bounced: that is the forwarder's policy, here it is only a verdict.
 * DIAGNOSTICS
 *	struct smtp_result carries the verdict, an enhanced status code, the
 *	relay as "host[addr]:port" and the reason in Postfix's words, e.g.
 *	"host mx[192.0.2.1] said: 550 5.1.1 unknown user (in reply to RCPT TO
 *	command)". Credentials never appear in a result or a log line.
 */
#ifndef TAB_SMTP_CLIENT_H
#define TAB_SMTP_CLIENT_H

#include <sys/types.h>

enum smtp_tls_level { SMTP_TLS_NONE, SMTP_TLS_MAY, SMTP_TLS_ENCRYPT, SMTP_TLS_VERIFY };

struct smtp_client_config {
    const char *relayhost; /* [host]:port, host[:port] (MX), "" = MX of the recipient's domain */
    const char *helo_name;
    enum smtp_tls_level tls_level;
    const char *ca_file;   /* "" = the system's default CAs */
    const char *sasl_user; /* NULL = no AUTH */
    const char *sasl_pass;
    int connect_timeout; /* connect and greeting, seconds */
    int command_timeout; /* each command and its reply */
    int data_timeout;    /* each write of message data, and the reply after it */
};

struct smtp_message {
    const char *id; /* for log lines */
    const char *sender;
    const char *recipient;
    int smtputf8; /* an address needs SMTPUTF8 */
    int fd;       /* the copy; read from offset 0 */
    /* filled by smtp_message_scan() */
    off_t size;
    int has_8bit; /* a byte >= 0x80 */
    int binary;   /* NUL, bare CR or LF, a line over 998 bytes, or no final CRLF */
};

enum smtp_status { SMTP_SENT, SMTP_DEFERRED, SMTP_HELD };

struct smtp_result {
    enum smtp_status status;
    char dsn[16];        /* enhanced status code, e.g. 2.0.0, 4.4.1, 5.6.7 */
    char relay[400];     /* host[addr]:port, or "none" before a connection */
    char text[1200];     /* remote reply or our reason */
    int maybe_delivered; /* DEFERRED after the whole copy was sent: the server may have it */
};

struct smtp_session;

/* "none" | "may" | "encrypt" | "verify"; -1 when unknown. */
int smtp_tls_level_parse(const char *s, enum smtp_tls_level *level_r);
/* Read the copy once to learn its size and what transport it needs. */
int smtp_message_scan(struct smtp_message *msg, const char **error_r);
/* The destination a session for this recipient goes to (relayhost, or
 * the recipient's domain): sessions are reused only for the same one. */
const char *smtp_destination(const struct smtp_client_config *cfg, const char *recipient);
/* Connect and greet. NULL with res filled (DEFERRED or HELD) on failure. */
struct smtp_session *smtp_session_open(const struct smtp_client_config *cfg,
                                       const char *destination, struct smtp_result *res);
/* One transaction; res says how it went. Returns 0 when the session may
 * carry another transaction, -1 when it is broken (close it). */
int smtp_session_send(struct smtp_session *s, const struct smtp_message *msg,
                      struct smtp_result *res);
/* QUIT (best effort) and free; *s becomes NULL. */
void smtp_session_close(struct smtp_session **s);

#endif
