/*
 * NAME
 *	check 3h
 * SUMMARY
 *	minimal unit-test harness
 * DESCRIPTION
 *	CHECK(cond) and CHECK_STR(a, b) record a failure with file and line
 *	and go on (CHECK_STR_FREE also frees a string the call allocated);
 *	check_done() prints "N passed, N failed" and returns the exit status.
 *	check_tmpdir() gives a fresh directory per test program
 *	under $TAB_TEST_TMP (or /tmp).
 */
#ifndef TAB_CHECK_H
#define TAB_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (check_a_ != NULL && check_b_ != NULL && strcmp(check_a_, check_b_) == 0) {             \
            check_passed++;                                                                        \
        } else {                                                                                   \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s\n  got:      %s\n  expected: %s\n",       \
                    __FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)",                        \
                    check_b_ ? check_b_ : "(null)");                                               \
        }                                                                                          \
    } while (0)

/* CHECK_STR of a string the call allocated (malloc), which is then freed. */
#define CHECK_STR_FREE(call, b)                                                                    \
    do {                                                                                           \
        char *check_got_ = (call);                                                                 \
        CHECK_STR(check_got_, (b));                                                                \
        free(check_got_);                                                                          \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

/* A new empty directory for this test program; static storage. */
static inline const char *check_tmpdir(const char *name)
{
    static char path[4096];
    const char *base = getenv("TAB_TEST_TMP");
    char cmd[2 * sizeof(path) + 64];
    if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(path, sizeof(path), "%s/%s.%ld", base, name, (long)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(2);
    }
    return path;
}

/* The whole file (NUL-terminated; *len_r bytes) or NULL. */
static inline char *check_slurp(const char *path, size_t *len_r)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    *len_r = 0;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            *len_r = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* The file's text without its trailing newlines (a password file), or NULL. */
static inline char *check_slurp_line(const char *path)
{
    size_t n;
    char *s = check_slurp(path, &n);

    while (s != NULL && n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

#endif
