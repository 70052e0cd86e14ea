/*
 * NAME
 *	store_conformance 3h
 * SUMMARY
 *	the store conformance suite: checks every store driver must pass
 * DESCRIPTION
 *	Included by each store driver's test (test_store_maildir.c,
 *	test_catalog_pgsql.c, test_s3.c), after check.h; static functions
 *	only, so each test program is still one source file. It uses the
 *	public store API of backends/store.h only, the way the daemon
 *	(put) and the CLI (get, remove, legal_hold) call it.
 *
 *	store_conformance() takes a struct store_conformance: the opened
 *	store, a directory of the test's own outside the store, a location
 *	of the driver's own syntax that names nothing stored, and whether
 *	the driver has a legal hold of its own. It checks:
 *
 *	- put() of three files, each a new archive copy (a record with a
 *	  fresh archive id, size and SHA-256, as the daemon makes it): one
 *	  of several MiB holding every byte value (NUL, CR, LF, bare CR and
 *	  LF, 8-bit bytes) in an order no chunk or part boundary lines up
 *	  with, a tiny one ("\r\n\0") and the tiny one again: TAB_OK and a
 *	  location, the two tiny copies at distinct locations;
 *	- get() of each gives back exactly the file's bytes;
 *	- get() of the unknown location and of hostile ones ("../../etc/
 *	  passwd", "/etc/passwd", "x; DROP TABLE y", the empty string,
 *	  NULL, 8,192 characters, the absolute and "../"-relative path of a
 *	  file outside the store) is TAB_PERM, with a message that names the
 *	  location (unknown) or says "location" (hostile), and writes
 *	  nothing; remove() of the hostile ones is TAB_PERM too and the file
 *	  outside the store keeps its bytes;
 *	- remove() of a stored copy is TAB_OK, get() afterwards TAB_PERM,
 *	  naming the location, remove() again and remove() of the unknown
 *	  location TAB_OK; the other copies are still readable;
 *	- legal_hold(): NULL when the driver says it has none; otherwise on
 *	  -> remove() refused with TAB_PERM and a message, the copy still
 *	  readable -> off -> remove() TAB_OK, get() TAB_PERM.
 *
 *	Every result that is not TAB_OK comes with a non-NULL, non-empty
 *	message. The suite removes what it stored.
 * DIAGNOSTICS
 *	Failures are CHECK failures of check.h, with this file and line;
 *	a failing location or message is printed beside it.
 */
#ifndef TAB_STORE_CONFORMANCE_H
#define TAB_STORE_CONFORMANCE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/record.h"
#include "backends/store.h"
#include "common/archive_id.h"
#include "common/sha256.h"
#include "common/strlist.h"

#include "tests/unit/check.h"

struct store_conformance {
    struct store *st;
    /* A directory of the test's own, outside the store: the suite's
     * files (sources, read-back copies, a file hostile locations aim at). */
    const char *dir;
    /* A well-formed location of the driver's syntax that names no stored
     * copy ("new/1.NOSUCH.host", "pgsql:999999999", a key never put). */
    const char *unknown_location;
    /* 1: the driver has a legal hold of its own (st->legal_hold set and
     * working on this store); 0: st->legal_hold must be NULL. */
    int legal_hold;
};

/* The big file: more than one chunk or part of every driver (maildir
 * copies 64 KiB at a time, pgsql stores 1 MiB rows, the S3 tests upload
 * 5 MiB parts) and not a multiple of any of them. */
#define STORE_CONF_BIG_SIZE (6 * 1024 * 1024 + 4321)

/* Write len bytes of file name in conf->dir: every byte value, NUL and
 * CR/LF pairs and bare CR and LF among them. The path (heap). */
static char *store_conf_make_file(const struct store_conformance *conf, const char *name,
                                  size_t len, const char *data)
{
    char *path = xasprintf("%s/%s", conf->dir, name);
    FILE *f = fopen(path, "wb");
    uint32_t x = 2463534242u;

    for (size_t i = 0; f != NULL && i < len; i++) {
        int c;
        if (data != NULL) {
            c = (unsigned char)data[i];
        } else if (i < 256) {
            c = (int)i; /* every byte value once, in order, first */
        } else if (i % 1000 < 4) {
            c = "\r\n\0\n"[i % 1000];
        } else {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            c = (int)(x & 0xff);
        }
        if (fputc(c, f) == EOF)
            break;
    }
    if (f == NULL || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

/* put() the file at path as a new archive copy: its location (heap),
 * NULL after a CHECK failure. */
static char *store_conf_put(const struct store_conformance *conf, const char *path)
{
    struct archive_record rec;
    struct stat sb;
    const char *err = NULL;
    char *location = NULL;
    int fd = open(path, O_RDONLY);
    enum tab_result r;

    memset(&rec, 0, sizeof(rec));
    archive_id_new(rec.archive_id);
    rec.queue_id = xstrdup("4XyZ1");
    rec.arrival = time(NULL);
    CHECK(fd >= 0 && fstat(fd, &sb) == 0);
    rec.wrapped_size = (uint64_t)sb.st_size;
    rec.size = rec.wrapped_size;
    CHECK(sha256_fd(fd, -1, rec.wrapped_sha256) == 0);
    memcpy(rec.sha256, rec.wrapped_sha256, sizeof(rec.sha256));
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    r = conf->st->put(conf->st, &rec, fd, path, &location, &err);
    CHECK(r == TAB_OK);
    if (r != TAB_OK) {
        fprintf(stderr, "  put %s: %s\n", path, err != NULL ? err : "(no message)");
        CHECK(location == NULL);
        free(location);
        location = NULL;
    }
    CHECK(r != TAB_OK || (location != NULL && *location != '\0'));
    close(fd);
    record_free(&rec);
    return location;
}

/* get() of location into a fresh file beside the sources: the result;
 * *bytes_r the number of bytes get() wrote. */
static enum tab_result store_conf_get(const struct store_conformance *conf, const char *location,
                                      off_t *bytes_r, const char **error_r)
{
    char *out = xasprintf("%s/store-conf-get.out", conf->dir);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct stat sb;
    enum tab_result r;

    *error_r = NULL;
    CHECK(fd >= 0);
    r = conf->st->get(conf->st, location, fd, error_r);
    CHECK(fstat(fd, &sb) == 0);
    *bytes_r = sb.st_size;
    CHECK(close(fd) == 0);
    free(out);
    return r;
}

/* get() of location gives back exactly the bytes of the file at path. */
static void store_conf_check_bytes(const struct store_conformance *conf, const char *location,
                                   const char *path)
{
    const char *err = NULL;
    off_t n;
    size_t want_len, got_len;
    char *out = xasprintf("%s/store-conf-get.out", conf->dir);
    enum tab_result r = store_conf_get(conf, location, &n, &err);
    char *want = check_slurp(path, &want_len), *got = check_slurp(out, &got_len);

    CHECK(r == TAB_OK);
    if (r != TAB_OK)
        fprintf(stderr, "  get %s: %s\n", location, err != NULL ? err : "(no message)");
    CHECK(want != NULL && got != NULL && want_len == got_len && memcmp(want, got, want_len) == 0);
    free(want);
    free(got);
    free(out);
}

/* get() of location is TAB_PERM, writes nothing, and says want in its
 * message. */
static void store_conf_get_refused(const struct store_conformance *conf, const char *location,
                                   const char *want)
{
    const char *err = NULL;
    off_t n = -1;
    enum tab_result r = store_conf_get(conf, location, &n, &err);
    int ok = r == TAB_PERM && n == 0 && err != NULL && strstr(err, want) != NULL;

    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  get \"%.80s\": result %d, %lld bytes, message %s (wanted \"%.80s\")\n",
                location != NULL ? location : "(null)", (int)r, (long long)n,
                err != NULL ? err : "(null)", want);
}

/* The hostile locations: refused by get() and remove() alike; the file
 * outside the store (victim, an absolute path) stays. */
static void store_conf_hostile(const struct store_conformance *conf)
{
    char *victim = store_conf_make_file(conf, "store-conf-outside", 7, "outside");
    char *up = xasprintf("../../../../../../../../../../../../..%s", victim);
    char *lng = xmalloc(8193);
    const char *bad[] = {
        "../../etc/passwd", "/etc/passwd", "x; DROP TABLE y", "", NULL, lng, victim, up};
    size_t len;
    char *left;

    memset(lng, 'a', 8192);
    lng[8192] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        enum tab_result r;

        store_conf_get_refused(conf, bad[i], "location");
        /* remove() of what must never name a stored copy: the hostile
         * ones only when they cannot name anything of the system's */
        if (bad[i] == NULL || strstr(bad[i], "/etc/") == NULL) {
            r = conf->st->remove(conf->st, bad[i], &err);
            CHECK(r == TAB_PERM && err != NULL && strstr(err, "location") != NULL);
            if (r != TAB_PERM || err == NULL)
                fprintf(stderr, "  remove \"%.80s\": result %d, message %s\n",
                        bad[i] != NULL ? bad[i] : "(null)", (int)r, err != NULL ? err : "(null)");
        }
    }
    left = check_slurp(victim, &len);
    CHECK(left != NULL && len == 7 && memcmp(left, "outside", 7) == 0);
    free(left);
    CHECK(unlink(victim) == 0);
    free(victim);
    free(up);
    free(lng);
}

static void store_conf_legal_hold(const struct store_conformance *conf, const char *path)
{
    struct store *st = conf->st;
    const char *err = NULL;
    char *loc;

    if (!conf->legal_hold) {
        CHECK(st->legal_hold == NULL);
        return;
    }
    CHECK(st->legal_hold != NULL);
    if (st->legal_hold == NULL || (loc = store_conf_put(conf, path)) == NULL)
        return;
    CHECK(st->legal_hold(st, loc, 1, &err) == TAB_OK);
    err = NULL;
    CHECK(st->remove(st, loc, &err) == TAB_PERM);
    CHECK(err != NULL && *err != '\0');
    store_conf_check_bytes(conf, loc, path);
    CHECK(st->legal_hold(st, loc, 0, &err) == TAB_OK);
    CHECK(st->remove(st, loc, &err) == TAB_OK);
    store_conf_get_refused(conf, loc, loc);
    free(loc);
}

static void store_conformance(const struct store_conformance *conf)
{
    struct store *st = conf->st;
    const char *err = NULL;
    char *big = store_conf_make_file(conf, "store-conf-big", STORE_CONF_BIG_SIZE, NULL);
    char *tiny = store_conf_make_file(conf, "store-conf-tiny", 3, "\r\n\0");
    char *loc_big = store_conf_put(conf, big);
    char *loc_tiny = store_conf_put(conf, tiny);
    char *loc_tiny2 = store_conf_put(conf, tiny);

    CHECK(loc_tiny == NULL || loc_tiny2 == NULL || strcmp(loc_tiny, loc_tiny2) != 0);
    if (loc_big != NULL)
        store_conf_check_bytes(conf, loc_big, big);
    if (loc_tiny != NULL)
        store_conf_check_bytes(conf, loc_tiny, tiny);
    if (loc_tiny2 != NULL)
        store_conf_check_bytes(conf, loc_tiny2, tiny);

    /* unknown: named in the message; hostile: refused as locations */
    store_conf_get_refused(conf, conf->unknown_location, conf->unknown_location);
    CHECK(st->remove(st, conf->unknown_location, &err) == TAB_OK);
    store_conf_hostile(conf);

    /* remove: gone for get(), gone again is no error, the others stay */
    if (loc_tiny != NULL) {
        CHECK(st->remove(st, loc_tiny, &err) == TAB_OK);
        store_conf_get_refused(conf, loc_tiny, loc_tiny);
        CHECK(st->remove(st, loc_tiny, &err) == TAB_OK);
    }
    if (loc_tiny2 != NULL)
        store_conf_check_bytes(conf, loc_tiny2, tiny);
    if (loc_big != NULL)
        store_conf_check_bytes(conf, loc_big, big);

    store_conf_legal_hold(conf, tiny);

    if (loc_big != NULL)
        CHECK(st->remove(st, loc_big, &err) == TAB_OK);
    if (loc_tiny2 != NULL)
        CHECK(st->remove(st, loc_tiny2, &err) == TAB_OK);
    unlink(big);
    unlink(tiny);
    free(big);
    free(tiny);
    free(loc_big);
    free(loc_tiny);
    free(loc_tiny2);
}

#endif
