/*
 * NAME
 *	safe_file 3
 * SUMMARY
 *	durable file primitives: full writes, copies, fsync of directories
 * SYNOPSIS
 *	#include "common/safe_file.h"
 *
 *	if (safe_copy_fd(in, out, -1) < 0 || fsync(out) < 0) ...
 *	if (rename(tmp, final) < 0 || safe_fsync_parent(final) < 0) ...
 * DESCRIPTION
 *	The small set of system-call loops that every durable write in
 *	Tabularium is built from: write until done, copy between
 *	descriptors, make a directory entry durable, create a directory
 *	chain. Each loop retries EINTR and short transfers, so callers only
 *	see "all done" or "failed".
 *
 *	This module owns no state and never decides policy: it does not
 *	log, does not unlink anything on failure and never calls exit().
 * DIAGNOSTICS
 *	Every function returns 0 on success, -1 with errno set on failure.
 *	safe_copy_fd() with len >= 0 fails with EIO when the input ends
 *	before len bytes (a truncated spool file must not be stored as if
 *	complete). safe_mkdir_p() fails with ENOTDIR when a component
 *	exists and is not a directory.
 */
#include "common/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strlist.h"

/* Large enough to amortise the system calls, small enough for the stack. */
#define SAFE_COPY_BUF 65536

int safe_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            /* write() returning 0 for len > 0 would loop forever. */
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

ssize_t safe_read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, p + got, len - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int safe_copy_fd(int in_fd, int out_fd, off_t len)
{
    char buf[SAFE_COPY_BUF];

    while (len != 0) {
        size_t want = sizeof(buf);
        if (len > 0 && (off_t)want > len)
            want = (size_t)len;
        ssize_t n = read(in_fd, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            if (len < 0)
                return 0;
            errno = EIO;
            return -1;
        }
        if (safe_write_all(out_fd, buf, (size_t)n) < 0)
            return -1;
        if (len > 0)
            len -= n;
    }
    return 0;
}

int safe_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fsync(fd) < 0) {
        int saved = errno;
        (void)close(fd); /* the fsync error is the one to report */
        errno = saved;
        return -1;
    }
    return close(fd);
}

int safe_fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int ret;

    if (slash == NULL)
        return safe_fsync_dir(".");
    if (slash == path)
        return safe_fsync_dir("/");
    dir = xstrndup(path, (size_t)(slash - path));
    ret = safe_fsync_dir(dir);
    if (ret < 0) {
        int saved = errno;
        free(dir);
        errno = saved;
        return -1;
    }
    free(dir);
    return 0;
}

/* mkdir that accepts an existing directory (another process may race us). */
static int safe_mkdir_one(const char *path, unsigned int mode)
{
    struct stat st;

    if (mkdir(path, (mode_t)mode) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (stat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int safe_mkdir_p(const char *path, unsigned int mode)
{
    char *copy;
    char *p;
    int ret = -1;
    int saved;

    if (path == NULL || *path == '\0') {
        errno = ENOENT;
        return -1;
    }
    copy = xstrdup(path);
    /* Create each prefix that ends before a '/', then the whole path. */
    for (p = copy + 1; *p != '\0'; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        if (safe_mkdir_one(copy, mode) < 0)
            goto out;
        *p = '/';
    }
    ret = safe_mkdir_one(copy, mode);
out:
    saved = errno;
    free(copy);
    errno = saved;
    return ret;
}
