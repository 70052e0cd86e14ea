/*
 * NAME
 *	spool 3
 * SUMMARY
 *	the DATA reader and per-transaction spool files
 * DESCRIPTION
 *	spool_receive() is a byte-level state machine over the input buffer,
 *	so a message never has to fit in memory and no line is too long. It
 *	recognises the end of data as "." alone on a line (CRLF or bare LF
 *	line endings), removes one leading dot from other lines that start
 *	with one, and writes everything else unchanged: CR, LF, NUL and 8-bit
 *	bytes are the original's and stay so. SHA-256, size and the facts
 *	the wrapper needs (struct original_info) are computed on the way.
 *
 *	When the size limit is passed or the spool file cannot be written, it
 *	keeps reading (and dropping) to the end of data so the session stays in
 *	step with the client, and reports why.
 * DIAGNOSTICS
 *	SPOOL_IO_ERROR with the reason; SPOOL_LOST when the client vanished,
 *	SPOOL_TIMEOUT when it was too slow.
 */
#include "lmtpd/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "lmtpd/lmtp_io.h"

#define SPOOL_WBUF 65536

int spool_create(const char *queue_dir, const char *archive_id, const char *suffix, char **path_r,
                 const char **error_r)
{
    static char errbuf[512];
    char *path = xasprintf("%s/%ld.%s.%s", queue_dir, (long)getpid(), archive_id, suffix);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        snprintf(errbuf, sizeof(errbuf), "cannot create spool file %s: %s", path, strerror(errno));
        *error_r = errbuf;
        free(path);
        return -1;
    }
    *path_r = path;
    return fd;
}

int spool_create_unnamed(const char *queue_dir, const char *archive_id, const char *suffix,
                         char **path_r, int *named_r, const char **error_r)
{
    int fd = open(queue_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0) {
        *path_r = xasprintf("/proc/self/fd/%d", fd);
        *named_r = 0;
        return fd;
    }
    /* A file system or kernel without O_TMPFILE: a named file. */
    *named_r = 1;
    return spool_create(queue_dir, archive_id, suffix, path_r, error_r);
}

/* Reusing one file per process matters: creating and deleting a file per
 * message made ext4's inode allocator (which skips recently deleted
 * inodes) the largest cost in the daemon's profile. */
static int spool_orig_fd = -1;
static char *spool_orig_path;
static int spool_orig_empty; /* truncated since the last spool_orig_open() */

int spool_orig_open(const char *queue_dir, const char **path_r, const char **error_r)
{
    static char errbuf[512];
    char *path = xasprintf("%s/%ld.orig", queue_dir, (long)getpid());

    if (spool_orig_fd >= 0 && strcmp(path, spool_orig_path) != 0)
        spool_orig_close(); /* queue_directory changed */
    if (spool_orig_fd < 0) {
        spool_orig_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (spool_orig_fd < 0) {
            snprintf(errbuf, sizeof(errbuf), "cannot create spool file %s: %s", path,
                     strerror(errno));
            *error_r = errbuf;
            free(path);
            return -1;
        }
        spool_orig_path = path;
    } else {
        free(path);
        /* Already emptied by spool_orig_release(): only rewind. */
        if ((!spool_orig_empty && ftruncate(spool_orig_fd, 0) < 0) ||
            lseek(spool_orig_fd, 0, SEEK_SET) < 0) {
            snprintf(errbuf, sizeof(errbuf), "cannot reset spool file %s: %s", spool_orig_path,
                     strerror(errno));
            *error_r = errbuf;
            spool_orig_close();
            return -1;
        }
    }
    spool_orig_empty = 0;
    *path_r = spool_orig_path;
    return spool_orig_fd;
}

void spool_orig_release(void)
{
    /* Do not keep message content around between transactions. */
    if (spool_orig_fd < 0)
        return;
    if (ftruncate(spool_orig_fd, 0) < 0)
        log_warn("cannot empty spool file %s: %s", spool_orig_path, strerror(errno));
    else
        spool_orig_empty = 1;
}

void spool_orig_close(void)
{
    if (spool_orig_fd < 0)
        return;
    close(spool_orig_fd);
    if (unlink(spool_orig_path) < 0 && errno != ENOENT)
        log_warn("cannot remove spool file %s: %s", spool_orig_path, strerror(errno));
    free(spool_orig_path);
    spool_orig_fd = -1;
    spool_orig_path = NULL;
    spool_orig_empty = 0;
}

/* Where the reader is within a line. */
enum spool_line_state {
    SPOOL_LINE_START, /* at the first byte of a line */
    SPOOL_LINE_DOT,   /* the line so far is a single "." */
    SPOOL_LINE_DOTCR, /* the line so far is ".\r" */
    SPOOL_LINE_MID,   /* inside a line */
};

struct spool_writer {
    int fd;
    int failed;
    int saved_errno;
    int dropping; /* over the limit or failed: count, do not keep */
    long long limit;
    size_t len;
    struct sha256_ctx *sha;
    struct original_info *info;
    uint64_t line_len;
    int prev_cr;
    char buf[SPOOL_WBUF]; /* last: only the fields above are initialised */
};

/* Bytes are hashed as they leave the buffer: one SHA-256 update per 64 KiB
 * instead of one per line. Data dropped after the limit or a write error
 * is never hashed, but then the transaction fails anyway. */
static void spool_flush(struct spool_writer *w)
{
    if (w->len > 0 && !w->dropping) {
        sha256_update(w->sha, w->buf, w->len);
        if (safe_write_all(w->fd, w->buf, w->len) < 0) {
            w->failed = 1;
            w->saved_errno = errno;
            w->dropping = 1;
        }
    }
    w->len = 0;
}

/* 1 when any of the n bytes at p has its high bit set. */
static int spool_any_8bit(const unsigned char *p, size_t n)
{
    uint64_t acc = 0, word;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&word, p + i, 8);
        acc |= word;
    }
    for (; i < n; i++)
        acc |= p[i];
    return (acc & 0x8080808080808080ULL) != 0;
}

/*
 * The facts of struct original_info for n bytes, a line at a time: memchr
 * finds the line ends, and each line is checked as a whole (8-bit, NUL, a
 * CR inside it) only while the answer is still unknown. Same result as
 * looking at every byte: a CR counts towards the line length, a CR not
 * followed by LF or a LF not preceded by CR is "bare".
 */
static void spool_scan(struct spool_writer *w, const unsigned char *p, size_t n)
{
    struct original_info *info = w->info;
    const unsigned char *end = p + n;

    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        const unsigned char *stop = nl != NULL ? nl : end;
        size_t seg = (size_t)(stop - p);

        if (seg > 0) {
            if (w->prev_cr)
                info->has_bare_cr_lf = 1; /* the CR before this segment */
            if (!info->has_8bit && spool_any_8bit(p, seg))
                info->has_8bit = 1;
            if (!info->has_nul && memchr(p, '\0', seg) != NULL)
                info->has_nul = 1;
            if (!info->has_bare_cr_lf && seg > 1 && memchr(p, '\r', seg - 1) != NULL)
                info->has_bare_cr_lf = 1;
            w->line_len += seg;
            w->prev_cr = stop[-1] == '\r';
        }
        if (nl == NULL)
            break;
        if (!w->prev_cr)
            info->has_bare_cr_lf = 1;
        uint64_t len = w->line_len - (w->prev_cr ? 1 : 0);
        if (len > info->max_line)
            info->max_line = len;
        w->line_len = 0;
        w->prev_cr = 0;
        p = nl + 1;
    }
}

/* Account for and keep data bytes (already unstuffed). */
static void spool_put(struct spool_writer *w, const char *p, size_t n)
{
    struct original_info *info = w->info;

    if (n == 0)
        return;
    spool_scan(w, (const unsigned char *)p, n);
    info->ends_with_newline = p[n - 1] == '\n';
    info->size += n;
    if (w->limit > 0 && info->size > (uint64_t)w->limit)
        w->dropping = 1;
    if (w->dropping)
        return;
    while (n > 0) {
        size_t room = sizeof(w->buf) - w->len;
        size_t take = n < room ? n : room;
        memcpy(w->buf + w->len, p, take);
        w->len += take;
        p += take;
        n -= take;
        if (w->len == sizeof(w->buf))
            spool_flush(w);
    }
}

enum spool_status spool_receive(struct lmtp_io *io, int fd, long long limit,
                                struct original_info *info, char sha256_hex[65],
                                const char **error_r)
{
    static char errbuf[512];
    /* Not calloc: zeroing the 64 KiB buffer for every message was a tenth
     * of the instructions of a 4 KiB delivery. */
    struct spool_writer *w = xmalloc(sizeof(*w));
    enum spool_line_state state = SPOOL_LINE_START;
    enum spool_status result;

    memset(info, 0, sizeof(*info));
    memset(w, 0, offsetof(struct spool_writer, buf));
    w->fd = fd;
    w->limit = limit;
    w->info = info;
    w->sha = sha256_new();
    for (;;) {
        const char *data;
        size_t len, i = 0;
        enum lmtp_io_status st = lmtp_io_peek(io, &data, &len);
        if (st != LMTP_IO_OK) {
            result = st == LMTP_IO_TIMEOUT ? SPOOL_TIMEOUT : SPOOL_LOST;
            *error_r =
                st == LMTP_IO_TIMEOUT ? "timeout during DATA" : "lost connection during DATA";
            goto out;
        }
        while (i < len) {
            char c = data[i];
            switch (state) {
            case SPOOL_LINE_START:
                if (c == '.') {
                    state = SPOOL_LINE_DOT;
                    i++;
                    continue;
                }
                state = SPOOL_LINE_MID;
                continue;
            case SPOOL_LINE_DOT:
                if (c == '\n') { /* ".\n": end of data (lenient: bare LF) */
                    lmtp_io_consume(io, i + 1);
                    result = SPOOL_OK;
                    goto done;
                }
                if (c == '\r') {
                    state = SPOOL_LINE_DOTCR;
                    i++;
                    continue;
                }
                /* ".x": the dot was stuffing; x starts the real line */
                state = SPOOL_LINE_MID;
                continue;
            case SPOOL_LINE_DOTCR:
                if (c == '\n') {
                    lmtp_io_consume(io, i + 1);
                    result = SPOOL_OK;
                    goto done;
                }
                /* ".\r" not followed by LF: the line's content is "\r..." */
                spool_put(w, "\r", 1);
                state = SPOOL_LINE_MID;
                continue;
            case SPOOL_LINE_MID: {
                /* Every complete line up to one that starts with a dot
                 * (or to the end of the buffer) in one piece. */
                size_t j = i, n;
                const char *lf;
                state = SPOOL_LINE_MID;
                while ((lf = memchr(data + j, '\n', len - j)) != NULL) {
                    j = (size_t)(lf - data) + 1;
                    if (j == len || data[j] == '.') {
                        state = SPOOL_LINE_START;
                        break;
                    }
                }
                n = lf != NULL ? j - i : len - i;
                spool_put(w, data + i, n);
                i += n;
                continue;
            }
            }
        }
        lmtp_io_consume(io, len);
    }
done:
    spool_flush(w);
    if (w->failed) {
        snprintf(errbuf, sizeof(errbuf), "spool write error: %s", strerror(w->saved_errno));
        *error_r = errbuf;
        result = SPOOL_IO_ERROR;
    } else if (w->dropping) {
        result = SPOOL_TOOBIG;
        *error_r = "message too big";
    } else {
        result = SPOOL_OK;
    }
out:
    sha256_final_hex(w->sha, sha256_hex);
    free(w);
    return result;
}

void spool_cleanup(const char *queue_dir, long pid)
{
    DIR *dir = opendir(queue_dir);
    struct dirent *de;
    char prefix[32];

    if (dir == NULL)
        return;
    snprintf(prefix, sizeof(prefix), "%ld.", pid);
    while ((de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        size_t len = strlen(name);
        if (name[0] == '.')
            continue;
        if (len < 6 ||
            (strcmp(name + len - 5, ".orig") != 0 && strcmp(name + len - 5, ".wrap") != 0))
            continue;
        if (pid != 0 && strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        char *path = xasprintf("%s/%s", queue_dir, name);
        if (unlink(path) == 0)
            log_info("removed stale spool file %s", path);
        else if (errno != ENOENT)
            log_warn("cannot remove stale spool file %s: %s", path, strerror(errno));
        free(path);
    }
    closedir(dir);
}
