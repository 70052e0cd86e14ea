/*
 * NAME
 *	totp 3
 * SUMMARY
 *	time-based one-time passwords (RFC 6238) for the web sign-in
 * SYNOPSIS
 *	#include "web/totp.h"
 * DESCRIPTION
 *	HMAC-SHA-1 TOTP with 30-second steps and 6 digits, the parameters
 *	every authenticator app uses. Secrets are 20 random bytes, shown
 *	to the user in base32 (RFC 4648) and as an otpauth:// URI.
 *	totp_verify() accepts the code of the current step or of one step
 *	before or after (clock drift), compares in constant time, and
 *	returns the step it matched, so that the caller can refuse a code
 *	used before (a step at or below the last one accepted).
 * DIAGNOSTICS
 *	totp_secret_new() returns -1 when the kernel gives no random bytes;
 *	base32 decoding returns -1 for a character outside the alphabet;
 *	totp_verify() returns -1 when the code does not match.
 */
#ifndef TAB_TOTP_H
#define TAB_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TOTP_SECRET_BYTES 20
#define TOTP_STEP 30

/* 20 random bytes as base32 (32 characters + NUL). */
int totp_secret_new(char b32[33]);
/* Decode base32 (upper or lower case, spaces and '=' ignored) into at
 * most size bytes; the number of bytes, or -1. */
int totp_base32_decode(const char *b32, unsigned char *out, size_t size);
/* The code (digits long, 6 or 8) of a raw key at time t. */
uint32_t totp_code(const unsigned char *key, size_t key_len, time_t t, int digits);
/* The step number (t / 30) the 6-digit code matches at now, now - 30 or
 * now + 30; -1 if none. */
long long totp_verify(const char *b32_secret, const char *code, time_t now);
/* otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=... (free()), the two
 * names percent-encoded. */
char *totp_uri(const char *issuer, const char *account, const char *b32_secret);

#endif
