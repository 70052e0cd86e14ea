/*
 * NAME
 *	sha256 3
 * SUMMARY
 *	incremental SHA-256 (OpenSSL EVP) with hex output
 * DIAGNOSTICS
 *	OpenSSL failures are programmer or library errors: abort().
 *	sha256_fd() returns -1 with errno on read errors.
 */
#include "common/sha256.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"

struct sha256_ctx {
    EVP_MD_CTX *md;
};

/*
 * OpenSSL 3 looks the implementation of EVP_sha256() up in its provider
 * store on every EVP_DigestInit_ex() (locks, a hash table, reference
 * counts): about 2,000 instructions per digest, two or more digests per
 * delivery. Fetched once per process, it is kept for good.
 */
static const EVP_MD *sha256_md(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    static EVP_MD *fetched;

    if (fetched == NULL)
        fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (fetched != NULL)
        return fetched;
#endif
    return EVP_sha256();
}

struct sha256_ctx *sha256_new(void)
{
    struct sha256_ctx *ctx = malloc(sizeof(*ctx));
    if (ctx == NULL || (ctx->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(ctx->md, sha256_md(), NULL) != 1) {
        log_error("fatal: cannot initialise SHA-256");
        abort();
    }
    return ctx;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
    if (len > 0 && EVP_DigestUpdate(ctx->md, data, len) != 1) {
        log_error("fatal: SHA-256 update failed");
        abort();
    }
}

void sha256_final_hex(struct sha256_ctx *ctx, char hex[SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(ctx->md, md, &len) != 1 || len != 32) {
        log_error("fatal: SHA-256 final failed");
        abort();
    }
    for (unsigned int i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

int sha256_fd(int fd, long long len, char hex[SHA256_HEX_SIZE])
{
    struct sha256_ctx *ctx = sha256_new();
    char buf[65536];
    long long left = len;

    while (len < 0 || left > 0) {
        size_t want = sizeof(buf);
        if (len >= 0 && (long long)want > left)
            want = (size_t)left;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n == 0 && len >= 0)) {
            int saved = n < 0 ? errno : EIO;
            sha256_final_hex(ctx, hex);
            errno = saved;
            return -1;
        }
        if (n == 0)
            break;
        sha256_update(ctx, buf, (size_t)n);
        left -= n;
    }
    sha256_final_hex(ctx, hex);
    return 0;
}
