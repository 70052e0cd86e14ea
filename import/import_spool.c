/*
 * NAME
 *	import_spool 3
 * SUMMARY
 *	the spool file a source copies each message into, hashed as it goes
 * DESCRIPTION
 *	One file per source, without a name when the file system allows
 *	(O_TMPFILE; else created and unlinked at once), emptied for each
 *	message: nothing is left behind by a crash, and no message is held
 *	in memory whatever its size. The writer notes what the archive
 *	writer needs (mail/archive_write.h, struct original_info: longest
 *	line, 8-bit, NUL, bare CR or LF, last byte) and the SHA-256 of the
 *	bytes, which is what the catalog keys the message on.
 * DIAGNOSTICS
 *	-1 with *error_r (a static buffer) when the spool file cannot be
 *	created or written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "common/strlist.h"
#include "import/import_source_private.h"

static char import_spool_error[512];

static const char *import_spool_fail(const char *what)
{
    snprintf(import_spool_error, sizeof(import_spool_error), "%s: %s", what, strerror(errno));
    return import_spool_error;
}

int import_spool_open(const char *spool_dir, const char **error_r)
{
    int fd = open(spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0) {
        char *path = xasprintf("%s/%ld.import.XXXXXX", spool_dir, (long)getpid());
        fd = mkstemp(path);
        if (fd >= 0)
            (void)unlink(path);
        free(path);
    }
    if (fd < 0)
        *error_r = import_spool_fail("cannot create the import spool file in queue_directory");
    return fd;
}

int import_writer_begin(struct import_writer *w, struct import_msg *msg, const char **error_r)
{
    int fd = msg->fd;

    if (w->sha != NULL) { /* a message given up half-way */
        char dummy[SHA256_HEX_SIZE];
        sha256_final_hex(w->sha, dummy);
    }
    free(msg->from_line_sender);
    memset(msg, 0, sizeof(*msg));
    msg->fd = fd;
    memset(w, 0, sizeof(*w));
    w->msg = msg;
    w->prev = -1;
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        *error_r = import_spool_fail("cannot empty the import spool file");
        return -1;
    }
    w->sha = sha256_new();
    return 0;
}

int import_writer_add(struct import_writer *w, const void *data, size_t len, const char **error_r)
{
    const unsigned char *p = data;
    struct import_msg *m = w->msg;

    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '\n') {
            if (w->prev != '\r')
                m->has_bare_cr_lf = 1;
            uint64_t l = w->line > 0 && w->prev == '\r' ? w->line - 1 : w->line;
            if (l > m->max_line)
                m->max_line = l;
            w->line = 0;
        } else {
            if (w->prev == '\r')
                m->has_bare_cr_lf = 1;
            w->line++;
            if (c >= 0x80)
                m->has_8bit = 1;
            else if (c == 0)
                m->has_nul = 1;
        }
        w->prev = c;
    }
    if (safe_write_all(m->fd, data, len) < 0) {
        *error_r = import_spool_fail("cannot write the import spool file");
        return -1;
    }
    sha256_update(w->sha, data, len);
    m->size += len;
    return 0;
}

int import_writer_copy_fd(struct import_writer *w, int in_fd, uint64_t len, const char **error_r)
{
    char buf[65536];

    while (len > 0) {
        size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
        ssize_t n = read(in_fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *error_r = n == 0 ? "the file ended early" : import_spool_fail("read");
            return -1;
        }
        if (import_writer_add(w, buf, (size_t)n, error_r) < 0)
            return -1;
        len -= (uint64_t)n;
    }
    return 0;
}

int import_writer_end(struct import_writer *w, const char **error_r)
{
    struct import_msg *m = w->msg;

    if (w->line > m->max_line)
        m->max_line = w->line;
    if (w->prev == '\r')
        m->has_bare_cr_lf = 1;
    m->ends_with_newline = w->prev == '\n';
    sha256_final_hex(w->sha, m->sha256);
    w->sha = NULL;
    if (lseek(m->fd, 0, SEEK_SET) < 0) {
        *error_r = import_spool_fail("cannot rewind the import spool file");
        return -1;
    }
    return 0;
}
