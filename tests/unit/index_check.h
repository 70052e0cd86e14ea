/*
 * NAME
 *	index_check 3h
 * SUMMARY
 *	what the tests of mail/index_*.c share
 * DESCRIPTION
 *	extract() and extract_all() write an original to a file under the
 *	test's tmpdir (set it with check_tmpdir() first) and run the header
 *	(and body) extraction on it, as delivery does; EXTRACT() and
 *	EXTRACT_ALL() take a string literal. check_addr() and
 *	check_attachment() compare one address or attachment of a record;
 *	utf8_valid() is a strict UTF-8 check independent of GMime; now_s()
 *	and HOSTILE_SECONDS time the inputs built to make a parser quadratic.
 */
#ifndef TAB_INDEX_CHECK_H
#define TAB_INDEX_CHECK_H

#include "tests/unit/check.h"

#include <fcntl.h>
#include <time.h>

#include "backends/record.h"
#include "mail/index_fields.h"

static const char *tmpdir;

/* Extract from len bytes of msg into a fresh *rec; returns the result. */
static inline int extract(const char *msg, size_t len, struct archive_record *rec)
{
    char path[4200];
    const char *error = NULL;
    int fd, r;

    memset(rec, 0, sizeof(*rec));
    snprintf(path, sizeof(path), "%s/orig", tmpdir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, msg, len) != (ssize_t)len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    r = index_fields_extract(fd, rec, &error);
    if (r != 0)
        fprintf(stderr, "extract: %s\n", error ? error : "(no error)");
    close(fd);
    return r;
}

/* Strict UTF-8 check (no overlongs, no surrogates), independent of GMime. */
static inline int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != 0) {
        int n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        } else if ((*p & 0xe0) == 0xc0) {
            n = 1;
            cp = *p & 0x1f;
        } else if ((*p & 0xf0) == 0xe0) {
            n = 2;
            cp = *p & 0x0f;
        } else if ((*p & 0xf8) == 0xf0) {
            n = 3;
            cp = *p & 0x07;
        } else {
            return 0;
        }
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += n + 1;
    }
    return 1;
}

#define EXTRACT(lit, rec) extract((lit), sizeof(lit) - 1, (rec))

#define check_addr(a, i, name, addr) check_addr_at(__LINE__, a, i, name, addr)
static inline void check_addr_at(int line, const struct record_addrs *a, size_t i, const char *name,
                                 const char *addr)
{
    int failed = check_failed;

    CHECK(i < a->n);
    if (i < a->n) {
        if (name == NULL)
            CHECK(a->v[i].name == NULL);
        else
            CHECK_STR(a->v[i].name, name);
        if (addr == NULL)
            CHECK(a->v[i].address == NULL);
        else
            CHECK_STR(a->v[i].address, addr);
    }
    if (check_failed != failed)
        fprintf(stderr, "  (address %zu checked at line %d)\n", i, line);
}

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A quadratic parser takes minutes on the inputs below; a linear one well
 * under a second, ASan included. */
#define HOSTILE_SECONDS 10.0

/* Header and body extraction, as delivery runs them. */
static inline int extract_all(const char *msg, size_t len, struct archive_record *rec)
{
    char path[4200];
    const char *error = NULL;
    int fd, r;

    if (extract(msg, len, rec) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/orig", tmpdir);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    r = index_fields_extract_body(fd, rec, &error);
    if (r != 0)
        fprintf(stderr, "extract_body: %s\n", error ? error : "(no error)");
    close(fd);
    return r;
}

#define EXTRACT_ALL(lit, rec) extract_all((lit), sizeof(lit) - 1, (rec))

static inline void check_attachment(const struct archive_record *rec, size_t i,
                                    const char *filename, const char *content_type)
{
    CHECK(i < rec->n_attachments);
    if (i >= rec->n_attachments)
        return;
    if (filename == NULL)
        CHECK(rec->attachments[i].filename == NULL);
    else
        CHECK_STR(rec->attachments[i].filename, filename);
    CHECK_STR(rec->attachments[i].content_type, content_type);
}

#endif
