/*
 * NAME
 *	sha256 3h
 * SUMMARY
 *	incremental SHA-256 with hex output (OpenSSL EVP)
 */
#ifndef TAB_SHA256_H
#define TAB_SHA256_H

#include <stddef.h>

#define SHA256_HEX_SIZE 65

struct sha256_ctx;

struct sha256_ctx *sha256_new(void);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
/* Writes 64 lower-case hex digits + NUL, frees the context. */
void sha256_final_hex(struct sha256_ctx *ctx, char hex[SHA256_HEX_SIZE]);
/* Hash len bytes from fd's offset (len < 0: to EOF). 0 ok, -1 errno. */
int sha256_fd(int fd, long long len, char hex[SHA256_HEX_SIZE]);

#endif
