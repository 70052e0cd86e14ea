/*
 * NAME
 *	password 3
 * SUMMARY
 *	password hashes for the web interface's local accounts (yescrypt)
 * SYNOPSIS
 *	#include "web/password.h"
 *
 *	char *h = password_hash(pw, &err);   ...   password_verify(pw, h)
 * DESCRIPTION
 *	Owns the choice of hash (yescrypt at libxcrypt's default cost) and
 *	its checking; see password.h.
 * DIAGNOSTICS
 *	See password.h.
 */
#include "web/password.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/strlist.h"

char *password_hash(const char *password, const char **error_r)
{
    struct crypt_data *data;
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    char *out = NULL;

    if (strlen(password) > PASSWORD_MAX) {
        *error_r = "the password is longer than " PASSWORD_MAX_STR " bytes";
        return NULL;
    }
    /* NULL random bytes: the library reads them from the kernel. */
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
        *error_r =
            errno == ENOSYS || errno == EINVAL ? "yescrypt is not available" : "cannot make a salt";
        return NULL;
    }
    data = xcalloc(1, sizeof(*data));
    const char *h = crypt_r(password, salt, data);
    if (h == NULL || h[0] == '*')
        *error_r = "cannot hash the password";
    else
        out = xstrdup(h);
    explicit_bzero(data, sizeof(*data));
    free(data);
    return out;
}

int password_verify(const char *password, const char *hash)
{
    struct crypt_data *data;
    int ok = 0;

    if (hash == NULL || password == NULL || strlen(password) > PASSWORD_MAX ||
        (strncmp(hash, "$y$", 3) != 0 && strncmp(hash, "$6$", 3) != 0))
        return 0;
    data = xcalloc(1, sizeof(*data));
    const char *h = crypt_r(password, hash, data);
    if (h != NULL && h[0] != '*') {
        size_t n = strlen(hash);
        if (strlen(h) == n) {
            unsigned char diff = 0;
            for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)(h[i] ^ hash[i]);
            ok = diff == 0;
        }
    }
    explicit_bzero(data, sizeof(*data));
    free(data);
    return ok;
}
