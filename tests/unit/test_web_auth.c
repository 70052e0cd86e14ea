/*
 * NAME
 *	test_web_auth 1
 * SUMMARY
 *	unit tests of the web interface's password hashes and TOTP
 * DESCRIPTION
 *	web/password.c: a yescrypt hash with a fresh salt each time, that
 *	verifies the password and nothing else; SHA-512 crypt accepted,
 *	MD5 crypt and malformed hashes never; an over-long password refused.
 *	web/totp.c: the RFC 6238 test vectors (SHA-1), RFC 4648 base32,
 *	new secrets, the drift window and the step returned for replay
 *	checks, malformed codes, the otpauth:// URI.
 * DIAGNOSTICS
 *	Exit 0 when every check passed; failures name file and line.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/password.h"
#include "web/totp.h"
#include "check.h"

static void test_password(void)
{
    const char *err = NULL;
    char *h1 = password_hash("correct horse", &err), *h2 = password_hash("correct horse", &err);

    CHECK(h1 != NULL && strncmp(h1, "$y$", 3) == 0);
    CHECK(h1 != NULL && h2 != NULL && strcmp(h1, h2) != 0); /* salted */
    CHECK(password_verify("correct horse", h1) == 1);
    CHECK(password_verify("correct horse", h2) == 1);
    CHECK(password_verify("correct hors", h1) == 0);
    CHECK(password_verify("correct horse ", h1) == 0);
    CHECK(password_verify("", h1) == 0);
    free(h1);
    free(h2);
    /* SHA-512 crypt from elsewhere verifies; MD5 crypt never does. */
    struct crypt_data d;
    memset(&d, 0, sizeof(d));
    const char *sha = crypt_r("s3cret", "$6$saltsaltsalt$", &d);
    CHECK(sha != NULL && sha[0] == '$');
    if (sha != NULL && sha[0] == '$') {
        char *keep = strdup(sha);
        CHECK(password_verify("s3cret", keep) == 1);
        CHECK(password_verify("s3cre", keep) == 0);
        free(keep);
    }
    memset(&d, 0, sizeof(d));
    const char *md5 = crypt_r("s3cret", "$1$saltsalt$", &d);
    if (md5 != NULL && md5[0] == '$') {
        char *keep = strdup(md5);
        CHECK(password_verify("s3cret", keep) == 0);
        free(keep);
    }
    CHECK(password_verify("x", NULL) == 0);
    CHECK(password_verify("x", "") == 0);
    CHECK(password_verify("x", "*") == 0);
    CHECK(password_verify("x", "$y$") == 0);
    char *long_pw = malloc(PASSWORD_MAX + 2);
    memset(long_pw, 'a', PASSWORD_MAX + 1);
    long_pw[PASSWORD_MAX + 1] = '\0';
    CHECK(password_hash(long_pw, &err) == NULL && strstr(err, "longer") != NULL);
    free(long_pw);
}

static void test_totp(void)
{
    static const unsigned char key[] = "12345678901234567890";
    static const struct {
        long long t;
        unsigned code;
    } rfc6238[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
                   {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130}};
    unsigned char buf[64];
    char secret[33], code[8];

    for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++)
        CHECK(totp_code(key, 20, (time_t)rfc6238[i].t, 8) == rfc6238[i].code);
    CHECK(totp_code(key, 20, 59, 6) == 287082);
    CHECK(totp_base32_decode("MZXW6YTBOI======", buf, sizeof(buf)) == 6 &&
          memcmp(buf, "foobar", 6) == 0);
    CHECK(totp_base32_decode("my======", buf, sizeof(buf)) == 1 && buf[0] == 'f');
    CHECK(totp_base32_decode("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", buf, sizeof(buf)) == 20 &&
          memcmp(buf, key, 20) == 0);
    CHECK(totp_base32_decode("MZXW1", buf, sizeof(buf)) == -1); /* 1 is not base32 */
    CHECK(totp_base32_decode("MZXW6YTBOI", buf, 3) == -1);      /* too long for the buffer */

    CHECK(totp_secret_new(secret) == 0 && strlen(secret) == 32);
    CHECK(totp_base32_decode(secret, buf, sizeof(buf)) == 20);
    char other[33];
    CHECK(totp_secret_new(other) == 0 && strcmp(secret, other) != 0);

    const char *b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    time_t now = 1111111111;
    snprintf(code, sizeof(code), "%06u", (unsigned)totp_code(key, 20, now, 6));
    CHECK(totp_verify(b32, code, now) == now / 30);
    CHECK(totp_verify(b32, code, now + 30) == now / 30); /* the client was a step behind */
    CHECK(totp_verify(b32, code, now - 30) == now / 30); /* or ahead */
    CHECK(totp_verify(b32, code, now + 90) == -1);
    CHECK(totp_verify(b32, "12345", now) == -1);
    CHECK(totp_verify(b32, "1234567", now) == -1);
    CHECK(totp_verify(b32, "12a456", now) == -1);
    CHECK(totp_verify("", code, now) == -1);
    CHECK(totp_verify(b32, NULL, now) == -1);

    char *uri = totp_uri("Tabularium Archive", "alice@example.test", b32);
    CHECK_STR(uri, "otpauth://totp/Tabularium%20Archive:alice@example.test?secret="
                   "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tabularium%20Archive"
                   "&algorithm=SHA1&digits=6&period=30");
    free(uri);
}

int main(void)
{
    test_password();
    test_totp();
    return check_done();
}
