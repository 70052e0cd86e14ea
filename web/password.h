/*
 * NAME
 *	password 3
 * SUMMARY
 *	password hashes for the web interface's local accounts (yescrypt)
 * SYNOPSIS
 *	#include "web/password.h"
 * DESCRIPTION
 *	password_hash() makes a yescrypt hash ("$y$...", libxcrypt, Debian's
 *	default for /etc/shadow) with a fresh random salt; password_verify()
 *	checks a password against a stored hash in constant time. Only
 *	yescrypt and SHA-512 crypt ("$6$", for hashes imported from
 *	elsewhere) are accepted as stored hashes: DES, MD5 and anything
 *	unknown never verify.
 * DIAGNOSTICS
 *	password_hash() returns NULL with *error_r when the library cannot
 *	make a salt or a hash (no entropy, out of memory). password_verify()
 *	returns 1 for a match, 0 otherwise (including a malformed hash).
 */
#ifndef TAB_PASSWORD_H
#define TAB_PASSWORD_H

/* The longest password accepted (bytes): longer ones are refused before
 * hashing, so a sign-in cannot be made expensive by its length. */
#define PASSWORD_MAX 1024
#define PASSWORD_MAX_STR "1024"

/* A new hash of password (free()), or NULL. */
char *password_hash(const char *password, const char **error_r);
int password_verify(const char *password, const char *hash);

#endif
