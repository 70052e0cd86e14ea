/*
 * NAME
 *	import_dir 3
 * SUMMARY
 *	a Maildir tree, a tree of .eml files, or one .eml file as a source of
 *	tabularium import
 * DESCRIPTION
 *	A Maildir tree: every folder that has cur/ or new/ is a Maildir, the
 *	top one and those below it, in the Maildir++ layout of Dovecot and
 *	Courier (".Sent", ".Archive.2019": one level, dots between the
 *	names) and in Dovecot's LAYOUT=fs (Sent/2019/cur). Its messages are
 *	the files in cur/ and new/; tmp/ holds deliveries in progress and is
 *	left out, and so are the servers' own files (dovecot-uidlist,
 *	courierimapkeywords/, subscriptions ...) outside cur/ and new/. A
 *	message's file name is used only to open it, whatever it holds
 *	(colons, commas, spaces, 8-bit bytes).
 *
 *	A tree of .eml files: every regular file below the folder; one whose
 *	name does not end in ".eml" (any case) comes back with msg->skip, so
 *	that the report names it.
 *
 *	The files are listed first and sorted by path, so that a message's
 *	number in the list is where a resumed import goes on (msg->resume is
 *	that number). Symbolic links are not followed (msg->skip).
 * DIAGNOSTICS
 *	-1 with *error_r when the folder cannot be listed. A file that
 *	cannot be read comes back with msg->reject.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/strlist.h"
#include "import/import_source_private.h"

struct dir_entry {
    char *rel;        /* path below the top folder */
    size_t folder;    /* index in folders */
    const char *skip; /* not a message: why */
    uint64_t size;
};

struct dir_source {
    struct import_source src;
    char *top;
    struct dir_entry *v;
    size_t n, cap, next;
    struct strlist folders;
    uint64_t bytes, total;
    struct import_writer w;
    char error[1024];
};

static void dir_add(struct dir_source *d, const char *rel, size_t folder, const char *skip,
                    uint64_t size)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
    }
    d->v[d->n++] = (struct dir_entry){xstrdup(rel), folder, skip, size};
    d->total += size;
}

static int dir_has_eml_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".eml") == 0;
}

static int dir_is_dir(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* rel: "" or "a/b/" (with its slash). maildir_sub: collect the files of
 * this Maildir's cur/ or new/. */
static int dir_walk(struct dir_source *d, const char *rel, int maildir, int in_maildir_sub,
                    size_t folder, const char **error_r)
{
    char *path = xasprintf("%s/%s", d->top, rel);
    DIR *dir = opendir(path);
    struct dirent *de;
    int ret = 0;

    if (dir == NULL) {
        snprintf(d->error, sizeof(d->error), "%s: %s", path, strerror(errno));
        *error_r = d->error;
        free(path);
        return -1;
    }
    if (maildir && !in_maildir_sub) {
        char *cur = xasprintf("%scur", path), *new = xasprintf("%snew", path);
        if (dir_is_dir(cur) || dir_is_dir(new)) {
            size_t len = strlen(rel);
            char *name = xstrndup(rel, len > 0 ? len - 1 : 0);
            strlist_add(&d->folders, name);
            folder = d->folders.n - 1;
            free(name);
        }
        free(cur);
        free(new);
    }
    while (ret == 0 && (errno = 0, de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        char *sub = xasprintf("%s%s", rel, name);
        char *full = xasprintf("%s/%s", d->top, sub);
        if (lstat(full, &st) < 0) {
            dir_add(d, sub, folder, "cannot be examined (it vanished?)", 0);
        } else if (in_maildir_sub) {
            if (S_ISREG(st.st_mode))
                dir_add(d, sub, folder, NULL, (uint64_t)st.st_size);
            else if (S_ISLNK(st.st_mode))
                dir_add(d, sub, folder, "a symbolic link, not followed", 0);
        } else if (S_ISDIR(st.st_mode)) {
            char *subrel = xasprintf("%s/", sub);
            if (maildir && (strcmp(name, "cur") == 0 || strcmp(name, "new") == 0) &&
                folder != (size_t)-1)
                ret = dir_walk(d, subrel, maildir, 1, folder, error_r);
            else if (maildir && strcmp(name, "tmp") == 0)
                ; /* deliveries in progress */
            else
                ret = dir_walk(d, subrel, maildir, 0, (size_t)-1, error_r);
            free(subrel);
        } else if (!maildir && S_ISREG(st.st_mode)) {
            dir_add(d, sub, (size_t)-1, dir_has_eml_suffix(name) ? NULL : "not an .eml file",
                    (uint64_t)st.st_size);
        } else if (!maildir && S_ISLNK(st.st_mode)) {
            dir_add(d, sub, (size_t)-1, "a symbolic link, not followed", 0);
        }
        free(full);
        free(sub);
    }
    if (ret == 0 && errno != 0) {
        snprintf(d->error, sizeof(d->error), "%s: %s", path, strerror(errno));
        *error_r = d->error;
        ret = -1;
    }
    closedir(dir);
    free(path);
    return ret;
}

static int dir_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dir_entry *)a)->rel, ((const struct dir_entry *)b)->rel);
}

static int dir_next(struct import_source *src, struct import_msg *msg, const char **error_r)
{
    struct dir_source *d = (struct dir_source *)src;
    struct dir_entry *e;
    struct stat st;
    int fd;

    if (d->next == d->n)
        return 0;
    e = &d->v[d->next++];
    if (import_writer_begin(&d->w, msg, error_r) < 0)
        return -1;
    msg->seq = ++src->seq;
    msg->resume = d->next;
    snprintf(msg->position, sizeof(msg->position), "%s", e->rel);
    msg->folder = e->folder != (size_t)-1 ? d->folders.v[e->folder] : NULL;
    d->bytes += e->size;
    if (e->skip != NULL) {
        msg->skip = e->skip;
        return import_writer_end(&d->w, error_r) < 0 ? -1 : 1;
    }
    char *full = xasprintf("%s/%s", d->top, e->rel);
    fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(full);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(d->error, sizeof(d->error), "cannot open it: %s", strerror(errno));
        msg->reject = d->error;
    } else {
        msg->mtime = st.st_mtime;
        if (import_writer_copy_fd(&d->w, fd, (uint64_t)st.st_size, error_r) < 0) {
            snprintf(d->error, sizeof(d->error), "cannot read it whole: %s", *error_r);
            msg->reject = d->error;
        } else if (st.st_size == 0) {
            msg->reject = "empty file";
        }
    }
    if (fd >= 0)
        close(fd);
    return import_writer_end(&d->w, error_r) < 0 ? -1 : 1;
}

static int dir_seek(struct import_source *src, uint64_t seq, uint64_t resume, const char *last,
                    const char **error_r)
{
    struct dir_source *d = (struct dir_source *)src;
    char pos[sizeof(((struct import_msg *)0)->position)];

    if (resume > d->n) {
        *error_r = "it holds fewer files than the journal counted";
        return 1;
    }
    if (resume > 0) {
        snprintf(pos, sizeof(pos), "%s", d->v[resume - 1].rel);
        if (strcmp(pos, last) != 0) {
            *error_r = "the file where it stopped is not where it was";
            return 1;
        }
    }
    d->next = (size_t)resume;
    for (size_t i = 0; i < d->next; i++)
        d->bytes += d->v[i].size;
    src->seq = seq;
    return 0;
}

static uint64_t dir_bytes(const struct import_source *src, uint64_t *total_r)
{
    const struct dir_source *d = (const struct dir_source *)src;

    *total_r = d->total;
    return d->bytes;
}

static void dir_close(struct import_source *src)
{
    struct dir_source *d = (struct dir_source *)src;

    if (d->w.sha != NULL) {
        char dummy[SHA256_HEX_SIZE];
        sha256_final_hex(d->w.sha, dummy);
    }
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].rel);
    free(d->v);
    strlist_free(&d->folders);
    free(d->top);
}

static const struct import_source_vfuncs dir_vfuncs = {
    .format = "dir",
    .next = dir_next,
    .seek = dir_seek,
    .bytes = dir_bytes,
    .close = dir_close,
};

static struct dir_source *dir_new(const char *top, const char *format, int spool_fd)
{
    struct dir_source *d = xcalloc(1, sizeof(*d));

    d->src.v = &dir_vfuncs;
    d->src.format = format;
    d->src.spool_fd = spool_fd;
    d->top = xstrdup(top);
    return d;
}

struct import_source *import_dir_open(const char *path, int maildir, int spool_fd,
                                      const char **error_r)
{
    struct dir_source *d = dir_new(path, maildir ? "maildir" : "eml", spool_fd);

    if (dir_walk(d, "", maildir, 0, (size_t)-1, error_r) < 0) {
        dir_close(&d->src);
        free(d);
        return NULL;
    }
    qsort(d->v, d->n, sizeof(*d->v), dir_entry_cmp);
    return &d->src;
}

struct import_source *import_file_open(const char *path, int spool_fd, const char **error_r)
{
    const char *slash = strrchr(path, '/');
    char *top = slash != NULL ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    struct dir_source *d = dir_new(top, "eml", spool_fd);
    struct stat st;

    free(top);
    if (stat(path, &st) < 0) {
        snprintf(d->error, sizeof(d->error), "%s: %s", path, strerror(errno));
        *error_r = d->error;
        dir_close(&d->src);
        free(d);
        return NULL;
    }
    dir_add(d, slash != NULL ? slash + 1 : path, (size_t)-1, NULL, (uint64_t)st.st_size);
    return &d->src;
}
