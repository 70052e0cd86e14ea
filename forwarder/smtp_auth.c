/*
 * NAME
 *	smtp_auth 3
 * SUMMARY
 *	SASL AUTH PLAIN and LOGIN for the SMTP client
 * DESCRIPTION
 *	Authenticates with forward_sasl_user and forward_sasl_password, only
 *	over TLS, with PLAIN when the server offers it, else LOGIN.
 *
 *	Must never log or return credentials: the buffers that held them are
 *	cleared before returning (smtp_command() clears the command line).
 * DIAGNOSTICS
 *	-1 with res DEFERRED 4.7.0 (credentials and configuration can be
 *	fixed): no TLS, no common mechanism, or the server's refusal.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "forwarder/smtp_client_private.h"

void smtp_b64(const char *in, size_t len, char *out, size_t size)
{
    if (4 * ((len + 2) / 3) + 1 > size) {
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

/* AUTH PLAIN or LOGIN. -1 with res set (DEFERRED: credentials can be fixed). */
int smtp_auth(struct smtp_session *s, struct smtp_result *res)
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
