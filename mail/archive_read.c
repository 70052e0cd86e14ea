/*
 * NAME
 *	archive_read 3
 * SUMMARY
 *	stream a stored copy through a pipe, hash it, find the original
 * DESCRIPTION
 *	The store's get() runs in a child process writing into a pipe (a
 *	store only knows how to write to a descriptor); its error message
 *	comes back through a second pipe. The parent walks the archive
 *	message's MIME layout byte by byte only through its few hundred
 *	header bytes, then hashes the original in whole chunks.
 */
#include "mail/archive_read.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "common/strlist.h"

#define ARCHIVE_READ_CHUNK 65536
/* Enough of a part header line to recognise Content-Type: message/rfc822. */
#define ARCHIVE_READ_LINE_KEEP 128

/* Child exit codes: how the store's get() ended. */
#define ARCHIVE_CHILD_OK 0
#define ARCHIVE_CHILD_PERM 1
#define ARCHIVE_CHILD_RETRY 2

enum archive_layout {
    LAYOUT_HEADER,      /* the archive message's own header */
    LAYOUT_BOUNDARY,    /* the first "--boundary" line */
    LAYOUT_PART_HEADER, /* the message/rfc822 part's header */
    LAYOUT_ORIGINAL,    /* rec->size bytes of the original */
    LAYOUT_TRAILER,     /* closing boundary */
};

struct archive_stream {
    enum archive_emit emit;
    archive_emit_fn *fn;
    void *ctx;
    enum archive_layout state;
    size_t line_len;                       /* bytes of the current line so far */
    char line[ARCHIVE_READ_LINE_KEEP + 1]; /* its first bytes */
    int rfc822_seen;                       /* the part header declared message/rfc822 */
    uint64_t original_left;
    struct sha256_ctx *wrapped_hash;
    struct sha256_ctx *original_hash;
    struct archive_read_result *res;
};

int archive_emit_fd(const char *buf, size_t len, void *ctx)
{
    return safe_write_all(*(const int *)ctx, buf, len);
}

/* 1 when the line held in s->line (s->line_len bytes) is empty: "" or "\r". */
static int archive_line_empty(const struct archive_stream *s)
{
    return s->line_len == 0 || (s->line_len == 1 && s->line[0] == '\r');
}

/* A completed part header line: is it "Content-Type: message/rfc822"? */
static void archive_part_header_line(struct archive_stream *s)
{
    const char *p = s->line;
    size_t kept = s->line_len < ARCHIVE_READ_LINE_KEEP ? s->line_len : ARCHIVE_READ_LINE_KEEP;

    s->line[kept] = '\0';
    if (strncasecmp(p, "Content-Type:", 13) != 0)
        return;
    p += 13;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "message/rfc822", 14) == 0)
        s->rfc822_seen = 1;
}

/*
 * Walk the MIME layout of the archive message up to the original, one
 * byte at a time. Returns how many bytes of buf it consumed before the
 * original starts (all of them when it does not start in buf).
 */
static size_t archive_skip_to_original(struct archive_stream *s, const char *buf, size_t len)
{
    struct archive_read_result *res = s->res;
    size_t i;

    for (i = 0; i < len && s->state < LAYOUT_ORIGINAL && res->layout_error == NULL; i++) {
        char c = buf[i];

        if (c != '\n') {
            if (s->line_len < ARCHIVE_READ_LINE_KEEP)
                s->line[s->line_len] = c;
            s->line_len++;
            if (s->state == LAYOUT_BOUNDARY && s->line_len <= 2 && c != '-')
                res->layout_error = "no MIME boundary after the archive header";
            continue;
        }
        switch (s->state) {
        case LAYOUT_HEADER:
            if (archive_line_empty(s))
                s->state = LAYOUT_BOUNDARY;
            break;
        case LAYOUT_BOUNDARY:
            if (s->line_len < 2)
                res->layout_error = "no MIME boundary after the archive header";
            s->state = LAYOUT_PART_HEADER;
            break;
        case LAYOUT_PART_HEADER:
            if (!archive_line_empty(s)) {
                archive_part_header_line(s);
                break;
            }
            if (!s->rfc822_seen)
                res->layout_error = "the first MIME part is not message/rfc822";
            s->state = s->original_left > 0 ? LAYOUT_ORIGINAL : LAYOUT_TRAILER;
            break;
        default:
            break;
        }
        s->line_len = 0;
    }
    return i;
}

/* Hash and (as the mode says) emit one chunk of the stored copy. */
static int archive_chunk(struct archive_stream *s, const char *buf, size_t len)
{
    size_t skip, n;

    sha256_update(s->wrapped_hash, buf, len);
    s->res->wrapped_bytes += len;
    if (s->emit == ARCHIVE_EMIT_WRAPPED && s->fn(buf, len, s->ctx) < 0)
        return -1;

    while (len > 0 && s->res->layout_error == NULL) {
        if (s->state < LAYOUT_ORIGINAL) {
            skip = archive_skip_to_original(s, buf, len);
            buf += skip;
            len -= skip;
            continue;
        }
        if (s->state != LAYOUT_ORIGINAL)
            break; /* the closing boundary: hashed above, not part of the original */
        n = len < s->original_left ? len : (size_t)s->original_left;
        sha256_update(s->original_hash, buf, n);
        if (s->emit == ARCHIVE_EMIT_ORIGINAL && s->fn(buf, n, s->ctx) < 0)
            return -1;
        s->original_left -= n;
        if (s->original_left == 0)
            s->state = LAYOUT_TRAILER;
        buf += n;
        len -= n;
    }
    return 0;
}

/* The child: the store writes the copy into the pipe, its error (if any)
 * into the other, then _exit (no atexit handlers, no stdio flush: the
 * parent owns those). */
static void archive_child(struct store *st, const char *location, int fd, int err_fd)
{
    const char *error = NULL;
    enum tab_result r;

    (void)signal(SIGPIPE, SIG_DFL); /* the parent stopped reading: just end */
    r = st->get(st, location, fd, &error);
    if (r != TAB_OK && error != NULL)
        (void)safe_write_all(err_fd, error, strlen(error));
    if (close(fd) < 0 && r == TAB_OK)
        r = TAB_RETRY;
    _exit(r == TAB_OK     ? ARCHIVE_CHILD_OK
          : r == TAB_PERM ? ARCHIVE_CHILD_PERM
                          : ARCHIVE_CHILD_RETRY);
}

/* What the child said through err_fd (it has exited: the pipe is at EOF). */
static void archive_child_error(int err_fd, struct archive_read_result *res)
{
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(res->error) - 1 &&
           ((n = read(err_fd, res->error + got, sizeof(res->error) - 1 - got)) > 0 ||
            (n < 0 && errno == EINTR)))
        if (n > 0)
            got += (size_t)n;
    res->error[got] = '\0';
}

int archive_read(struct store *st, const struct archive_record *rec, enum archive_emit emit,
                 archive_emit_fn *fn, void *ctx, struct archive_read_result *res)
{
    struct archive_stream s;
    char *buf;
    int pipefd[2] = {-1, -1}, errfd[2] = {-1, -1}, wstatus = 0;
    pid_t pid;

    memset(res, 0, sizeof(*res));
    memset(&s, 0, sizeof(s));
    s.emit = emit;
    s.fn = fn;
    s.ctx = ctx;
    s.res = res;
    s.original_left = rec->size;
    if (pipe(pipefd) < 0 || pipe(errfd) < 0) {
        res->status = ARCHIVE_READ_SYSTEM;
        res->error_errno = errno;
        if (pipefd[0] >= 0) {
            (void)close(pipefd[0]); /* pipes: nothing to flush */
            (void)close(pipefd[1]);
        }
        return -1;
    }
    (void)fflush(stdout); /* so the child cannot repeat buffered output */
    (void)fflush(stderr);
    pid = fork();
    if (pid < 0) {
        res->status = ARCHIVE_READ_SYSTEM;
        res->error_errno = errno;
        for (int i = 0; i < 2; i++) {
            (void)close(pipefd[i]);
            (void)close(errfd[i]);
        }
        return -1;
    }
    if (pid == 0) {
        (void)close(pipefd[0]);
        (void)close(errfd[0]);
        archive_child(st, rec->location, pipefd[1], errfd[1]);
    }
    (void)close(pipefd[1]); /* read ends only: EOF when the child is done */
    (void)close(errfd[1]);

    s.wrapped_hash = sha256_new();
    s.original_hash = sha256_new();
    buf = xmalloc(ARCHIVE_READ_CHUNK);
    for (;;) {
        ssize_t n = read(pipefd[0], buf, ARCHIVE_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            res->status = ARCHIVE_READ_SYSTEM;
            res->error_errno = errno;
            break;
        }
        if (n == 0)
            break;
        if (archive_chunk(&s, buf, (size_t)n) < 0) {
            res->status = ARCHIVE_READ_EMIT_FAIL;
            res->error_errno = errno;
            break;
        }
    }
    (void)close(pipefd[0]); /* a child still writing gets SIGPIPE */
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    archive_child_error(errfd[0], res);
    (void)close(errfd[0]);
    free(buf);
    sha256_final_hex(s.wrapped_hash, res->wrapped_sha256);
    sha256_final_hex(s.original_hash, res->original_sha256);
    res->original_missing = s.state == LAYOUT_TRAILER ? 0 : s.original_left;
    if (res->status == ARCHIVE_READ_OK && s.state < LAYOUT_ORIGINAL && res->layout_error == NULL)
        res->layout_error = "the stored copy ends before the attached original";
    if (res->status != ARCHIVE_READ_OK)
        return -1;
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == ARCHIVE_CHILD_PERM) {
        res->status = ARCHIVE_READ_MISSING;
        return -1;
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != ARCHIVE_CHILD_OK) {
        res->status = ARCHIVE_READ_STORE_FAIL;
        if (res->error[0] == '\0')
            snprintf(res->error, sizeof(res->error), "the store's reader ended abnormally");
        return -1;
    }
    return 0;
}

int archive_read_verdict(const struct archive_record *rec, const struct archive_read_result *res,
                         int check_original, char *why, size_t why_size)
{
    if (strcmp(res->wrapped_sha256, rec->wrapped_sha256) != 0 ||
        (rec->wrapped_size != 0 && res->wrapped_bytes != rec->wrapped_size)) {
        snprintf(why, why_size,
                 "stored copy has %llu bytes, SHA-256 %s; the catalog recorded %llu bytes,"
                 " SHA-256 %s",
                 (unsigned long long)res->wrapped_bytes, res->wrapped_sha256,
                 (unsigned long long)rec->wrapped_size, rec->wrapped_sha256);
        return -1;
    }
    if (!check_original)
        return 0;
    if (res->layout_error != NULL) {
        snprintf(why, why_size, "%s", res->layout_error);
        return -1;
    }
    if (res->original_missing > 0) {
        snprintf(why, why_size,
                 "the stored copy ends %llu bytes before the end of the original (%llu bytes)",
                 (unsigned long long)res->original_missing, (unsigned long long)rec->size);
        return -1;
    }
    if (strcmp(res->original_sha256, rec->sha256) != 0) {
        snprintf(why, why_size, "SHA-256 of the original is %s; the catalog recorded %s",
                 res->original_sha256, rec->sha256);
        return -1;
    }
    return 0;
}
