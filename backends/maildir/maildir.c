/*
 * NAME
 *	maildir 3
 * SUMMARY
 *	archive store driver: one file per archive message in a Maildir
 * SYNOPSIS
 *	archive_store = maildir:/var/lib/tabularium/Maildir
 *
 *	struct store *st = store_open("maildir:/var/lib/tabularium/Maildir", cfg, &err);
 *	r = st->put(st, rec, fd, spool_path, &location, &err);	location: "new/<name>"
 *	r = st->read(st, location, chunk_fn, ctx, &err);
 * DESCRIPTION
 *	Stores each wrapped copy as PATH/new/<arrival>.<archive id>.<host>,
 *	so any Maildir reader (Dovecot, mutt, an IMAP server for auditors)
 *	can open the archive. PATH/{tmp,new,cur} are created (mode 0700) when
 *	the store opens.
 *
 *	put() syncs the spool file and hard-links it straight into new/
 *	under its final name (the spool and the Maildir share a file system
 *	in the default layout, so the message is not copied at all; the
 *	spool file is usually an unnamed O_TMPFILE, linked through
 *	/proc/self/fd): the name appears only for a complete, synced file,
 *	which is what tmp/ + rename give a Maildir reader, with one
 *	directory operation instead of three. When linking is impossible it
 *	copies into tmp/, syncs, and renames into new/. Then new/ is synced:
 *	one file and one directory fsync per message at most, and the
 *	directory fsync is shared (group commit): workers count their links
 *	in a small shared file (data_directory/.maildir-sync-DEV-INO, named
 *	after new/ so that two Maildirs never share one, mapped, flock'ed
 *	while syncing; outside the Maildir, whose file system must stay free
 *	to be remounted read-only), and a worker whose link a sync that
 *	started after it already covered skips its own. A crash before the directory sync
 *	leaves at most a complete file that was never acknowledged.
 *
 *	Names are unique because the archive id is (it carries the time in
 *	microseconds and the pid); when the same record is stored twice, a
 *	"Q<n>" suffix on the unique part picks the next free name instead of
 *	overwriting the earlier copy. (Only exact names in new/ and cur/ are
 *	checked: scanning cur/ for "<name>:2,<flags>" on every put would cost
 *	more than the rare repeat is worth. Such a repeat may reuse the base
 *	name in new/, but rename never replaces a file in cur/.)
 *
 *	read() hands the file to the caller in 128 KiB chunks.
 *
 *	read() and remove() accept only "new/<name>" or "cur/<name>" with a
 *	plain file name, never a path that leaves the Maildir. A message
 *	that a Maildir reader moved from new/ to cur/ (possibly adding
 *	":2,<flags>") is still found.
 *
 *	Locations come from the catalog, and root runs tabularium show and
 *	expire: read() and remove() resolve them beneath the Maildir's own
 *	directory without following any symbolic link (common/beneath.h:
 *	openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a component walk
 *	with O_NOFOLLOW on older kernels), so a new/ or cur/ replaced by a
 *	link, or a link in place of a message, is refused, never followed;
 *	remove() unlinks only a regular file, relative to its directory
 *	descriptor. The stale-file cleanup of tmp/ at open does the same.
 *
 *	This driver never modifies or removes the spool file it is given,
 *	never deletes a message from new/ or cur/ except its own copy when
 *	put() fails or remove() is asked to, and never follows symbolic
 *	links inside the Maildir when reading or removing.
 * DIAGNOSTICS
 *	TAB_RETRY with a message naming the path and the system error for
 *	every I/O failure, including a full disk or quota; the tmp/ file is
 *	removed first. TAB_PERM for an archive id that is unsafe in a file
 *	name and for a location read() does not accept or cannot find; a
 *	location refused because of a symbolic link or a non-directory on
 *	the way says "location \"...\" refused" and names it.
 *	store_maildir_open() fails for a relative path or when the
 *	directories cannot be created.
 */
#include "backends/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/archive_id.h"
#include "common/beneath.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"

/* Bounds the name search when one record is stored again and again. */
#define MAILDIR_TMP_MAX_AGE (36 * 3600)
#define MAILDIR_MAX_NAME_TRIES 1000
/* Longest file name most file systems accept (NAME_MAX). */
#define MAILDIR_NAME_MAX 255

/* The group commit of new/ (see above), shared by every process that
 * stores into this Maildir. */
struct maildir_sync {
    uint64_t linked; /* names added to new/ so far */
    uint64_t synced; /* of those, how many a finished fsync of new/ covers */
};

struct maildir_store {
    struct store st;           /* first: the driver calls receive &st */
    char *dir;                 /* PATH, as configured */
    char *new_dir;             /* PATH/new, fsync'd after every put */
    int new_fd;                /* open on new_dir, or -1 */
    int root_fd;               /* open on dir (read, remove), or -1 */
    struct maildir_sync *sync; /* mapped PATH/.tabularium-sync, or NULL */
    int sync_fd;               /* its descriptor (flock), or -1 */
    int sync_tried;
    char *sync_path; /* data_directory/.maildir-sync-DEV-INO, or NULL: no group commit */
    char *host;      /* host name with '/' and ':' escaped for Maildir names */
    char *read_buf;  /* MAILDIR_READ_CHUNK bytes for read(), allocated on first use */
    char error[PATH_MAX + 512];
};

/* No store exists yet when opening fails. */
static char maildir_open_error[PATH_MAX + 512];

static enum tab_result maildir_fail(struct maildir_store *md, enum tab_result r,
                                    const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum tab_result maildir_fail(struct maildir_store *md, enum tab_result r,
                                    const char **error_r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(md->error, sizeof(md->error), fmt, ap);
    va_end(ap);
    *error_r = md->error;
    return r;
}

/* Maildir names use "\057" for '/' and "\072" for ':' in the host part
 * (':' starts the info suffix, '/' would be a directory). */
static char *maildir_escape_host(const char *host)
{
    size_t len = strlen(host);
    char *out = xmalloc(len * 4 + 1);
    char *p = out;

    for (const char *s = host; *s != '\0'; s++) {
        if (*s == '/') {
            memcpy(p, "\\057", 4);
            p += 4;
        } else if (*s == ':') {
            memcpy(p, "\\072", 4);
            p += 4;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return out;
}

/* 1: dir/sub/name exists, 0: it does not, -1: cannot tell (errno). */
static int maildir_exists(const struct maildir_store *md, const char *sub, const char *name)
{
    char *path = xasprintf("%s/%s/%s", md->dir, sub, name);
    struct stat st;
    int ret = lstat(path, &st) == 0 ? 1 : errno == ENOENT ? 0 : -1;
    int saved = errno;

    free(path);
    errno = saved;
    return ret;
}

/* Map the shared counters; without them every put syncs new/ itself. */
static void maildir_sync_open(struct maildir_store *md)
{
    const char *path = md->sync_path;
    struct stat sb;
    void *p;

    md->sync_tried = 1;
    if (path == NULL)
        return;
    md->sync_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (md->sync_fd >= 0 && fstat(md->sync_fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        ((size_t)sb.st_size >= sizeof(struct maildir_sync) ||
         ftruncate(md->sync_fd, sizeof(struct maildir_sync)) == 0) &&
        (p = mmap(NULL, sizeof(struct maildir_sync), PROT_READ | PROT_WRITE, MAP_SHARED,
                  md->sync_fd, 0)) != MAP_FAILED) {
        md->sync = p;
    } else {
        log_warn("maildir: %s: %s; every delivery syncs new/ on its own", path, strerror(errno));
        if (md->sync_fd >= 0)
            (void)close(md->sync_fd); /* nothing written through it */
        md->sync_fd = -1;
    }
}

/* Make the names added to new/ so far durable: fsync new/, unless a sync
 * that began after our link has finished meanwhile (group commit). */
static int maildir_sync_new(struct maildir_store *md)
{
    uint64_t mine, upto;
    int rc = 0, saved;

    if (md->new_fd < 0 && (md->new_fd = open(md->new_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -1;
    if (!md->sync_tried)
        maildir_sync_open(md);
    if (md->sync == NULL)
        return fsync(md->new_fd);
    mine = __atomic_add_fetch(&md->sync->linked, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&md->sync->synced, __ATOMIC_SEQ_CST) >= mine)
        return 0;
    while (flock(md->sync_fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return fsync(md->new_fd);
    if (__atomic_load_n(&md->sync->synced, __ATOMIC_SEQ_CST) < mine) {
        /* Everything linked before this point is covered by this fsync. */
        upto = __atomic_load_n(&md->sync->linked, __ATOMIC_SEQ_CST);
        rc = fsync(md->new_fd);
        if (rc == 0)
            __atomic_store_n(&md->sync->synced, upto, __ATOMIC_SEQ_CST);
    }
    saved = errno;
    (void)flock(md->sync_fd, LOCK_UN); /* a lock: nothing to lose */
    errno = saved;
    return rc;
}

static enum tab_result maildir_put(struct store *st, const struct archive_record *rec, int fd,
                                   const char *path, char **location_r, const char **error_r)
{
    struct maildir_store *md = (struct maildir_store *)st;
    char *name = NULL, *tmp_path = NULL, *new_path = NULL;
    int out = -1;
    int try_link = path != NULL;
    int linked = 0, tmp_exists = 0, new_exists = 0, synced = 0;
    long long when = rec->arrival > 0 ? (long long)rec->arrival : (long long)time(NULL);
    struct stat st_in, st_tmp;
    enum tab_result r = TAB_RETRY;

    *location_r = NULL;
    if (!archive_id_valid(rec->archive_id))
        return maildir_fail(md, TAB_PERM, error_r, "maildir %s: archive id \"%.*s\" is not valid",
                            md->dir, ARCHIVE_ID_LEN, rec->archive_id);
    if (fstat(fd, &st_in) < 0)
        return maildir_fail(md, TAB_RETRY, error_r, "maildir %s: cannot stat input: %s", md->dir,
                            strerror(errno));
    /* A spool file shorter than the wrapper wrote must not be archived. */
    if (rec->wrapped_size != 0 && (uint64_t)st_in.st_size != rec->wrapped_size)
        return maildir_fail(md, TAB_RETRY, error_r, "maildir: %s has %lld bytes, expected %llu",
                            path != NULL ? path : "the spool file", (long long)st_in.st_size,
                            (unsigned long long)rec->wrapped_size);

    for (unsigned int k = 0;; k++) {
        if (k == MAILDIR_MAX_NAME_TRIES) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir %s: no free name for archive id %s",
                             md->dir, rec->archive_id);
            goto out;
        }
        free(name);
        free(tmp_path);
        name = k == 0 ? xasprintf("%lld.%s.%s", when, rec->archive_id, md->host)
                      : xasprintf("%lld.%sQ%u.%s", when, rec->archive_id, k, md->host);
        tmp_path = xasprintf("%s/tmp/%s", md->dir, name);
        free(new_path);
        new_path = xasprintf("%s/%s", md->new_dir, name);

        /* A reader may have moved an earlier copy of this name to cur/;
         * a name in new/ is refused by link() and rename() is not used
         * for the linked file. */
        int in_new = try_link ? 0 : maildir_exists(md, "new", name);
        int in_cur = in_new == 0 ? maildir_exists(md, "cur", name) : 0;
        if (in_new < 0 || in_cur < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir %s: cannot check name %s: %s",
                             md->dir, name, strerror(errno));
            goto out;
        }
        if (in_new || in_cur)
            continue;

        if (try_link) {
            /* The name must appear only for a complete, synced file. */
            if (!synced) {
                if (fsync(fd) < 0) {
                    r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot fsync %s: %s", path,
                                     strerror(errno));
                    goto out;
                }
                synced = 1;
            }
            /* AT_SYMLINK_FOLLOW: path may be /proc/self/fd/N (an O_TMPFILE). */
            if (linkat(AT_FDCWD, path, AT_FDCWD, new_path, AT_SYMLINK_FOLLOW) == 0) {
                new_exists = 1;
                /* path might not name fd's file: only the very same inode will do. */
                if (lstat(new_path, &st_tmp) == 0 && st_tmp.st_dev == st_in.st_dev &&
                    st_tmp.st_ino == st_in.st_ino) {
                    linked = 1;
                    break;
                }
                if (unlink(new_path) < 0) {
                    r = maildir_fail(md, TAB_RETRY, error_r, "maildir %s: cannot remove %s: %s",
                                     md->dir, new_path, strerror(errno));
                    goto out;
                }
                new_exists = 0;
            } else if (errno == EEXIST) {
                continue;
            } else if (errno != EXDEV && errno != EPERM && errno != ENOENT && errno != EMLINK &&
                       errno != EOPNOTSUPP && errno != EINVAL) {
                /* new/ itself is the trouble (not a directory, read-only,
                 * full, no permission): copying would not help. */
                r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot link %s: %s", new_path,
                                 strerror(errno));
                goto out;
            }
            /* Linking is impossible here (another file system, no /proc,
             * a link limit): copying still works. */
            try_link = 0;
            in_new = maildir_exists(md, "new", name);
            if (in_new < 0) {
                r = maildir_fail(md, TAB_RETRY, error_r, "maildir %s: cannot check name %s: %s",
                                 md->dir, name, strerror(errno));
                goto out;
            }
            if (in_new)
                continue;
        }
        out = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out >= 0) {
            tmp_exists = 1;
            break;
        }
        if (errno != EEXIST) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot create %s: %s", tmp_path,
                             strerror(errno));
            goto out;
        }
    }

    if (!linked) {
        if (lseek(fd, 0, SEEK_SET) < 0 || safe_copy_fd(fd, out, -1) < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot copy to %s: %s", tmp_path,
                             strerror(errno));
            goto out;
        }
        if (fstat(out, &st_tmp) < 0 || fsync(out) < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot fsync %s: %s", tmp_path,
                             strerror(errno));
            goto out;
        }
        int fd_out = out;
        out = -1;
        if (close(fd_out) < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot close %s: %s", tmp_path,
                             strerror(errno));
            goto out;
        }
    }
    /* The copy must be as long as the spool file. */
    if (!linked && rec->wrapped_size != 0 && (uint64_t)st_tmp.st_size != rec->wrapped_size) {
        r = maildir_fail(md, TAB_RETRY, error_r, "maildir: %s has %lld bytes, expected %llu",
                         tmp_path, (long long)st_tmp.st_size,
                         (unsigned long long)rec->wrapped_size);
        goto out;
    }

    if (!linked) {
        if (rename(tmp_path, new_path) < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot rename %s to %s: %s",
                             tmp_path, new_path, strerror(errno));
            goto out;
        }
        tmp_exists = 0;
        new_exists = 1;
    }
    if (maildir_sync_new(md) < 0) {
        r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot fsync %s: %s", md->new_dir,
                         strerror(errno));
        goto out;
    }
    new_exists = 0;
    *location_r = xasprintf("new/%s", name);
    r = TAB_OK;

out:
    /* Cleanup after a failure that is already being reported: a second
     * error here would only hide the first one. */
    if (out >= 0)
        (void)close(out);
    if (tmp_exists)
        (void)unlink(tmp_path);
    if (new_exists)
        (void)unlink(new_path);
    free(name);
    free(tmp_path);
    free(new_path);
    return r;
}

/* "new/<name>" or "cur/<name>" with a plain, non-hidden file name. */
static int maildir_location_ok(const char *location)
{
    const char *name;

    if (location == NULL ||
        (strncmp(location, "new/", 4) != 0 && strncmp(location, "cur/", 4) != 0))
        return 0;
    name = location + 4;
    return *name != '\0' && *name != '.' && strchr(name, '/') == NULL &&
           strlen(name) <= MAILDIR_NAME_MAX;
}

/* The Maildir's own directory, opened once: the root that locations are
 * resolved beneath. -1 with errno. */
static int maildir_root(struct maildir_store *md)
{
    if (md->root_fd < 0)
        md->root_fd = open(md->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return md->root_fd;
}

/* Before read() or remove() acts on location: refuse one that is not a
 * Maildir location (TAB_PERM), and open the root. */
static enum tab_result maildir_location_open(struct maildir_store *md, const char *location,
                                             const char **error_r)
{
    if (!maildir_location_ok(location))
        return maildir_fail(md, TAB_PERM, error_r, "maildir %s: bad location \"%s\"", md->dir,
                            location != NULL ? location : "");
    if (maildir_root(md) < 0)
        return maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot open %s: %s", md->dir,
                            strerror(errno));
    return TAB_OK;
}

/* Why opening location failed: TAB_PERM for what asking again will not
 * change (gone, or a path that a symbolic link or a non-directory would
 * lead out of the Maildir: refused, never followed), else TAB_RETRY. */
static enum tab_result maildir_open_fail(struct maildir_store *md, const char **error_r,
                                         const char *location, int err)
{
    if (err == ELOOP || err == EXDEV || err == EINVAL || err == ENOTDIR)
        return maildir_fail(md, TAB_PERM, error_r,
                            "maildir %s: location \"%s\" refused: a symbolic link or a"
                            " non-directory on the way, which could lead out of the Maildir (%s)",
                            md->dir, location, strerror(err));
    return maildir_fail(md, err == ENOENT ? TAB_PERM : TAB_RETRY, error_r,
                        "maildir: cannot open %s/%s: %s", md->dir, location, strerror(err));
}

/* A reader moved new/<name> to cur/<name> or cur/<name>:2,<flags>: 0 and
 * cur/ open in *cur_fd_r (beneath the root, no link followed) and the
 * name found there in *found_r (heap); -1 with errno (ENOENT: not there). */
static int maildir_find_moved(struct maildir_store *md, const char *name, int *cur_fd_r,
                              char **found_r)
{
    size_t len = strlen(name);
    struct dirent *de;
    struct stat sb;
    DIR *dir;
    int cur_fd, scan_fd, saved;

    *found_r = NULL;
    *cur_fd_r = -1;
    if (maildir_root(md) < 0)
        return -1;
    cur_fd = beneath_open(md->root_fd, "cur", O_RDONLY | O_DIRECTORY, 0);
    if (cur_fd < 0)
        return -1;
    if (fstatat(cur_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        *found_r = xstrdup(name);
        *cur_fd_r = cur_fd;
        return 0;
    }
    if (errno != ENOENT || (scan_fd = dup(cur_fd)) < 0 || (dir = fdopendir(scan_fd)) == NULL) {
        saved = errno;
        (void)close(cur_fd); /* read-only directory descriptor */
        errno = saved;
        return -1;
    }
    errno = ENOENT;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, name, len) == 0 && de->d_name[len] == ':') {
            *found_r = xstrdup(de->d_name);
            break;
        }
    }
    (void)closedir(dir); /* read-only directory stream: nothing to lose */
    if (*found_r == NULL) {
        (void)close(cur_fd);
        errno = ENOENT;
        return -1;
    }
    *cur_fd_r = cur_fd;
    return 0;
}

/* Bytes per read() chunk: a few system calls per message, little memory. */
#define MAILDIR_READ_CHUNK (128 * 1024)

static enum tab_result maildir_read(struct store *st, const char *location, store_chunk_fn *fn,
                                    void *ctx, const char **error_r)
{
    struct maildir_store *md = (struct maildir_store *)st;
    char *found = NULL;
    struct stat sb;
    enum tab_result r = TAB_RETRY;
    int in = -1, cur_fd = -1;

    r = maildir_location_open(md, location, error_r);
    if (r != TAB_OK)
        return r;
    /* Never through a link: a planted new/ -> /etc must not print /etc. */
    in = beneath_open(md->root_fd, location, O_RDONLY, 0);
    /* Not in new/: a reader may have moved it (else errno says why). */
    if (in < 0 && errno == ENOENT && strncmp(location, "new/", 4) == 0 &&
        maildir_find_moved(md, location + 4, &cur_fd, &found) == 0)
        in = openat(cur_fd, found, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        r = maildir_open_fail(md, error_r, location, errno);
        goto out;
    }
    if (fstat(in, &sb) < 0) {
        r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot stat %s/%s: %s", md->dir,
                         location, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        r = maildir_fail(md, TAB_PERM, error_r, "maildir: %s/%s is not a regular file", md->dir,
                         location);
        goto out;
    }
    if (md->read_buf == NULL)
        md->read_buf = xmalloc(MAILDIR_READ_CHUNK);
    for (;;) {
        ssize_t n = read(in, md->read_buf, MAILDIR_READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot read %s/%s: %s", md->dir,
                             location, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (fn(ctx, md->read_buf, (size_t)n) != 0) {
            r = TAB_STOPPED;
            goto out;
        }
    }
    r = TAB_OK;
out:
    if (in >= 0)
        (void)close(in); /* opened read-only: close cannot lose data */
    if (cur_fd >= 0)
        (void)close(cur_fd);
    free(found);
    return r;
}

/* Unlink the copy (new/ or, if a mail reader moved it, cur/) and fsync
 * its directory, so an expiry that was recorded stays done. The name is
 * unlinked relative to its directory, opened beneath the Maildir without
 * following a link, and only when it is a regular file: a symbolic link
 * planted as new/ or as the message never makes root remove a file
 * outside the archive. */
static enum tab_result maildir_remove(struct store *st, const char *location, const char **error_r)
{
    struct maildir_store *md = (struct maildir_store *)st;
    const char *name = NULL;
    char *found = NULL;
    struct stat sb;
    enum tab_result r = TAB_OK;
    int dir_fd = -1;

    r = maildir_location_open(md, location, error_r);
    if (r != TAB_OK)
        return r;
    dir_fd = beneath_open_parent(md->root_fd, location, &name);
    if (dir_fd < 0)
        return maildir_open_fail(md, error_r, location, errno);
    if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT) {
            r = maildir_open_fail(md, error_r, location, errno);
            goto out;
        }
        if (strncmp(location, "new/", 4) != 0)
            goto out;        /* already gone */
        (void)close(dir_fd); /* read-only directory descriptor */
        dir_fd = -1;
        if (maildir_find_moved(md, location + 4, &dir_fd, &found) < 0) {
            if (errno != ENOENT)
                r = maildir_open_fail(md, error_r, "cur", errno);
            goto out; /* gone from cur/ too: already removed */
        }
        name = found;
        if (fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            r = errno == ENOENT ? TAB_OK : maildir_open_fail(md, error_r, location, errno);
            goto out;
        }
    }
    if (!S_ISREG(sb.st_mode)) {
        r = maildir_fail(md, TAB_PERM, error_r,
                         "maildir %s: location \"%s\" refused: %s%s is not a regular file%s",
                         md->dir, location, found != NULL ? "cur/" : "", name,
                         S_ISLNK(sb.st_mode) ? " but a symbolic link" : "");
        goto out;
    }
    if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT) {
        r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot remove %s/%s%s: %s", md->dir,
                         found != NULL ? "cur/" : "", found != NULL ? found : location,
                         strerror(errno));
        goto out;
    }
    if (fsync(dir_fd) < 0)
        r = maildir_fail(md, TAB_RETRY, error_r, "maildir: cannot fsync the directory of %s/%s: %s",
                         md->dir, location, strerror(errno));
out:
    if (dir_fd >= 0)
        (void)close(dir_fd); /* read-only directory descriptor, synced above */
    free(found);
    return r;
}

static void maildir_close(struct store *st)
{
    struct maildir_store *md = (struct maildir_store *)st;

    if (md->sync != NULL)
        (void)munmap(md->sync, sizeof(*md->sync));
    if (md->sync_fd >= 0)
        (void)close(md->sync_fd); /* mapped counters: written through the mapping */
    if (md->new_fd >= 0)
        (void)close(md->new_fd); /* read-only directory descriptor */
    if (md->root_fd >= 0)
        (void)close(md->root_fd); /* read-only directory descriptor */
    free(md->sync_path);
    free(md->dir);
    free(md->new_dir);
    free(md->host);
    free(md->read_buf);
    free(md);
}

static const char *maildir_host_name(const struct tab_config *cfg, char *buf, size_t size)
{
    if (cfg != NULL && cfg->myhostname != NULL && *cfg->myhostname != '\0')
        return cfg->myhostname;
    if (gethostname(buf, size) == 0) {
        buf[size - 1] = '\0';
        if (*buf != '\0')
            return buf;
    }
    return "localhost";
}

/* Files left in tmp/ by a delivery that was killed half way were never
 * acknowledged; remove them once they are older than any delivery could
 * take (the Maildir convention's 36 hours). Never fails the open. */
static void maildir_clean_tmp(const char *dir)
{
    DIR *d = NULL;
    struct dirent *de;
    time_t now = time(NULL);
    int root_fd, tmp_fd = -1;

    /* tmp/ opened beneath the Maildir, never through a link: root opens
     * the store too (tabularium expire), and a tmp/ -> /etc planted by
     * whoever owns the Maildir must not make it remove old files there. */
    root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd >= 0)
        tmp_fd = beneath_open(root_fd, "tmp", O_RDONLY | O_DIRECTORY, 0);
    if (tmp_fd < 0 && errno == ELOOP)
        log_warn("maildir: %s/tmp is a symbolic link: stale files there are not removed", dir);
    if (tmp_fd >= 0 && (d = fdopendir(tmp_fd)) == NULL)
        (void)close(tmp_fd); /* read-only directory descriptor */
    while (d != NULL && (de = readdir(d)) != NULL) {
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
            now - sb.st_mtime > MAILDIR_TMP_MAX_AGE) {
            if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                log_info("maildir: removed stale %s/tmp/%s (unacknowledged)", dir, de->d_name);
        }
    }
    if (d != NULL)
        closedir(d);
    if (root_fd >= 0)
        (void)close(root_fd); /* read-only directory descriptor */
}

struct store *store_maildir_open(const char *spec, const struct tab_config *cfg,
                                 const char **error_r)
{
    static const char *const subdirs[] = {"tmp", "new", "cur"};
    struct maildir_store *md = NULL;
    char host_buf[256];
    char *dir = NULL;
    struct stat sb;
    size_t len;
    int created;

    if (spec == NULL || spec[0] != '/') {
        /* The daemon changes directory and may chroot: relative is a trap. */
        snprintf(maildir_open_error, sizeof(maildir_open_error),
                 "maildir path \"%s\" is not absolute", spec != NULL ? spec : "");
        goto fail;
    }
    if (strlen(spec) > PATH_MAX - 64) {
        snprintf(maildir_open_error, sizeof(maildir_open_error), "maildir path is too long");
        goto fail;
    }
    dir = xstrdup(spec);
    for (len = strlen(dir); len > 1 && dir[len - 1] == '/'; len--)
        dir[len - 1] = '\0';
    created = stat(dir, &sb) < 0 && errno == ENOENT;
    if (safe_mkdir_p(dir, 0700) < 0) {
        snprintf(maildir_open_error, sizeof(maildir_open_error), "maildir: cannot create %s: %s",
                 dir, strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
        char *sub = xasprintf("%s/%s", dir, subdirs[i]);
        int ret = safe_mkdir_p(sub, 0700);
        if (ret < 0)
            snprintf(maildir_open_error, sizeof(maildir_open_error),
                     "maildir: cannot create %s: %s", sub, strerror(errno));
        free(sub);
        if (ret < 0)
            goto fail;
    }
    /* New directories must survive a crash before the first message is
     * acknowledged into them; an existing Maildir was synced when made. */
    if (safe_fsync_dir(dir) < 0 || (created && safe_fsync_parent(dir) < 0)) {
        snprintf(maildir_open_error, sizeof(maildir_open_error), "maildir: cannot fsync %s: %s",
                 dir, strerror(errno));
        goto fail;
    }

    maildir_clean_tmp(dir);
    md = xcalloc(1, sizeof(*md));
    md->st.name = "maildir";
    md->st.put = maildir_put;
    md->st.read = maildir_read;
    md->st.remove = maildir_remove;
    md->st.close = maildir_close;
    md->dir = dir;
    md->new_dir = xasprintf("%s/new", dir);
    md->new_fd = -1;
    md->root_fd = -1;
    md->sync_fd = -1;
    if (cfg != NULL && cfg->data_directory != NULL && cfg->data_directory[0] == '/' &&
        stat(md->new_dir, &sb) == 0)
        md->sync_path = xasprintf("%s/.maildir-sync-%llx-%llx", cfg->data_directory,
                                  (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
    md->host = maildir_escape_host(maildir_host_name(cfg, host_buf, sizeof(host_buf)));
    return &md->st;

fail:
    free(dir);
    *error_r = maildir_open_error;
    return NULL;
}
