/*
 * NAME
 *	import_source 3
 * SUMMARY
 *	opens the file source a path names and calls its driver
 * DESCRIPTION
 *	See import_source.h: the format detection and the public calls over
 *	the drivers of import_mbox.c, import_dir.c and import_zip.c. An IMAP source
 *	(import/imap_client.c) and a PST one will be drivers here too.
 * DIAGNOSTICS
 *	-1 or NULL with *error_r (static text, or the driver's).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strlist.h"
#include "import/import_source_private.h"

static int import_is_mbox_file(const char *path)
{
    char b[5];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int yes = fd >= 0 && read(fd, b, 5) == 5 && memcmp(b, "From ", 5) == 0;

    if (fd >= 0)
        close(fd);
    return yes;
}

/* A Maildir at path or up to two levels below it. */
static int import_has_maildir(const char *path, int depth)
{
    char *cur = xasprintf("%s/cur", path), *new = xasprintf("%s/new", path);
    struct stat st;
    int yes = (stat(cur, &st) == 0 && S_ISDIR(st.st_mode)) ||
              (stat(new, &st) == 0 && S_ISDIR(st.st_mode));
    DIR *dir;
    struct dirent *de;

    free(cur);
    free(new);
    if (yes || depth >= 2 || (dir = opendir(path)) == NULL)
        return yes;
    while (!yes && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *sub = xasprintf("%s/%s", path, de->d_name);
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            yes = import_has_maildir(sub, depth + 1);
        free(sub);
    }
    closedir(dir);
    return yes;
}

struct import_source *import_source_open(const char *path, const char *format,
                                         const char *spool_dir, const char **error_r)
{
    static char error[512];
    struct import_source *src = NULL;
    struct stat st;
    int spool_fd;

    if (stat(path, &st) < 0) {
        snprintf(error, sizeof(error), "%s: %s", path, strerror(errno));
        *error_r = error;
        return NULL;
    }
    if (format == NULL) {
        if (S_ISDIR(st.st_mode))
            format = import_has_maildir(path, 0) ? "maildir" : "eml";
        else if (import_is_mbox_file(path))
            format = "mbox";
        else
            format = import_zip_is_zip(path) ? "zip" : "eml";
    }
    if (strncmp(format, "mbox", 4) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(error, sizeof(error), "%s: an mbox is a file, this is a folder", path);
        *error_r = error;
        return NULL;
    }
    if (strcmp(format, "maildir") == 0 && !S_ISDIR(st.st_mode)) {
        snprintf(error, sizeof(error), "%s: a Maildir is a folder, this is a file", path);
        *error_r = error;
        return NULL;
    }
    spool_fd = import_spool_open(spool_dir, error_r);
    if (spool_fd < 0)
        return NULL;
    if (strncmp(format, "mbox", 4) == 0)
        src = import_mbox_open(path, format, spool_fd, error_r);
    else if (strcmp(format, "maildir") == 0)
        src = import_dir_open(path, 1, spool_fd, error_r);
    else if (strcmp(format, "zip") == 0)
        src = import_zip_open(path, spool_fd, error_r);
    else if (strcmp(format, "eml") == 0)
        src = S_ISDIR(st.st_mode) ? import_dir_open(path, 0, spool_fd, error_r)
                                  : import_file_open(path, spool_fd, error_r);
    else
        *error_r = "unknown format (mbox, mboxrd, mboxo, mboxcl2, maildir, eml, zip)";
    if (src == NULL)
        close(spool_fd);
    return src;
}

const char *import_source_format(const struct import_source *src)
{
    return src->format != NULL ? src->format : "mboxrd";
}

uint64_t import_source_bytes(const struct import_source *src, uint64_t *total_r)
{
    return src->v->bytes(src, total_r);
}

int import_source_next(struct import_source *src, struct import_msg *msg, const char **error_r)
{
    msg->fd = src->spool_fd;
    return src->v->next(src, msg, error_r);
}

int import_source_seek(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                       const char **error_r)
{
    return src->v->seek(src, seq, resume, last, error_r);
}

void import_source_close(struct import_source **_src)
{
    struct import_source *src = *_src;

    if (src == NULL)
        return;
    *_src = NULL;
    src->v->close(src);
    close(src->spool_fd);
    free(src);
}
