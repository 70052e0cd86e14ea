/*
 * NAME
 *	totp 3
 * SUMMARY
 *	time-based one-time passwords (RFC 6238) for the web sign-in
 * SYNOPSIS
 *	#include "web/totp.h"
 * DESCRIPTION
 *	Owns the TOTP arithmetic (RFC 4226's dynamic truncation over
 *	HMAC-SHA-1 of the step counter), base32 and the enrollment URI; see
 *	totp.h. Keys are wiped from the stack after use.
 * DIAGNOSTICS
 *	See totp.h.
 */
#include "web/totp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/strlist.h"

static const char totp_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int totp_secret_new(char b32[33])
{
    unsigned char key[TOTP_SECRET_BYTES];
    size_t bits = 0, o = 0;
    unsigned acc = 0;

    if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
        return -1;
    for (size_t i = 0; i < sizeof(key); i++) {
        acc = (acc << 8) | key[i];
        bits += 8;
        while (bits >= 5) {
            b32[o++] = totp_b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    b32[o] = '\0'; /* 160 bits: exactly 32 characters */
    explicit_bzero(key, sizeof(key));
    return 0;
}

int totp_base32_decode(const char *b32, unsigned char *out, size_t size)
{
    unsigned acc = 0;
    size_t bits = 0, n = 0;

    for (const char *p = b32; *p != '\0'; p++) {
        if (*p == ' ' || *p == '=' || *p == '-')
            continue;
        const char *q = strchr(totp_b32, toupper((unsigned char)*p));
        if (q == NULL || *p == '\0')
            return -1;
        acc = (acc << 5) | (unsigned)(q - totp_b32);
        bits += 5;
        if (bits >= 8) {
            if (n == size)
                return -1;
            out[n++] = (unsigned char)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    return (int)n;
}

uint32_t totp_code(const unsigned char *key, size_t key_len, time_t t, int digits)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    uint64_t counter = (uint64_t)(t / TOTP_STEP);
    uint32_t mod = digits == 8 ? 100000000u : 1000000u;

    for (int i = 7; i >= 0; i--) {
        msg[i] = (unsigned char)(counter & 0xff);
        counter >>= 8;
    }
    if (HMAC(EVP_sha1(), key, (int)key_len, msg, sizeof(msg), mac, &mac_len) == NULL ||
        mac_len < 20)
        return UINT32_MAX; /* never a valid code */
    int off = mac[mac_len - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    explicit_bzero(mac, sizeof(mac));
    return bin % mod;
}

long long totp_verify(const char *b32_secret, const char *code, time_t now)
{
    unsigned char key[64];
    int len = totp_base32_decode(b32_secret, key, sizeof(key));
    long long matched = -1;

    if (len < 10 || code == NULL || strlen(code) != 6 || strspn(code, "0123456789") != 6) {
        explicit_bzero(key, sizeof(key));
        return -1;
    }
    for (int d = -1; d <= 1; d++) {
        time_t t = now + (time_t)d * TOTP_STEP;
        char want[8];
        snprintf(want, sizeof(want), "%06u", (unsigned)totp_code(key, (size_t)len, t, 6));
        unsigned char diff = 0;
        for (int i = 0; i < 6; i++)
            diff |= (unsigned char)(want[i] ^ code[i]);
        if (diff == 0 && matched < 0)
            matched = (long long)(t / TOTP_STEP);
    }
    explicit_bzero(key, sizeof(key));
    return matched;
}

static void totp_uri_escape(struct strlist *parts, const char *s)
{
    char one[4];

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) || *p == '.' || *p == '-' || *p == '_' || *p == '@')
            snprintf(one, sizeof(one), "%c", *p);
        else
            snprintf(one, sizeof(one), "%%%02X", *p);
        strlist_add(parts, one);
    }
}

char *totp_uri(const char *issuer, const char *account, const char *b32_secret)
{
    struct strlist parts = STRLIST_INIT;
    char *out;

    strlist_add(&parts, "otpauth://totp/");
    totp_uri_escape(&parts, issuer);
    strlist_add(&parts, ":");
    totp_uri_escape(&parts, account);
    strlist_add(&parts, "?secret=");
    strlist_add(&parts, b32_secret);
    strlist_add(&parts, "&issuer=");
    totp_uri_escape(&parts, issuer);
    strlist_add(&parts, "&algorithm=SHA1&digits=6&period=30");
    out = strlist_join(&parts, "");
    strlist_free(&parts);
    return out;
}
