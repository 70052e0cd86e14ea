/*
 * NAME
 *	smtp_tls 3
 * SUMMARY
 *	STARTTLS for the SMTP client (OpenSSL)
 * DESCRIPTION
 *	TLS levels, as Postfix's smtp_tls_security_level: none never starts
 *	TLS; may starts it when offered and, when the handshake fails,
 *	connects again in plaintext; encrypt requires TLS and does not check
 *	the certificate; verify requires TLS, a certificate chain to a CA in
 *	forward_tls_ca_file (or the system's) and the relay's host name (or
 *	IP address) in the certificate. Input that a server sent behind its
 *	STARTTLS reply (an injection attempt) is never read as if it came
 *	through TLS: it counts as a failed handshake.
 * DIAGNOSTICS
 *	DEFERRED 4.7.5 when TLS is required and the handshake fails (with
 *	OpenSSL's reasons, or why the certificate was not verified); at
 *	level may a warning is logged and the caller tries plaintext.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "forwarder/smtp_client_private.h"

void smtp_ssl_errors(char *buf, size_t size)
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
int smtp_starttls(struct smtp_session *s, struct smtp_result *res)
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
