/*
 * NAME
 *	beneath 3
 * SUMMARY
 *	open a relative path beneath a directory, never through a symbolic link
 * SYNOPSIS
 *	#include "common/beneath.h"
 *
 *	fd = beneath_open(root_fd, "new/1700000000.ABCD.host", O_RDONLY, 0);
 *	dir = beneath_open_parent(root_fd, location, &name);
 *	if (dir >= 0 && unlinkat(dir, name, 0) == 0) ...
 * DESCRIPTION
 *	A store's locations are read from the catalog, which whoever can
 *	write the catalog can edit; the store's directories can be changed
 *	by whoever owns them (mail_owner). Root running tabularium expire or
 *	show must still never follow such a path out of the store: a
 *	location "../../etc/passwd", a symbolic link planted as new/ or as a
 *	message file. This module resolves a path one way only: downwards
 *	from a directory descriptor, through real directories.
 *
 *	With openat2(2) (Linux 5.6 and later) the kernel does it in one
 *	step (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS),
 *	which also closes the race of a directory swapped for a link during
 *	the walk. Without it (ENOSYS, or a seccomp filter that says EPERM)
 *	each component is opened with openat(O_NOFOLLOW) relative to the
 *	previous one: the walk never resolves a name twice, so a swap can
 *	only make it fail.
 *
 *	Owns no state but the cached "openat2 is missing"; never logs.
 * DIAGNOSTICS
 *	-1 with errno set, see beneath.h.
 */
#include "common/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/strlist.h"

/* Set once openat2 turned out to be missing: then always walk. */
static int beneath_no_openat2;

/* 0 when path is relative with only ordinary components, else -1 EINVAL. */
static int beneath_check(const char *path)
{
    const char *p = path, *end;
    size_t n;

    if (path == NULL || *path == '\0' || *path == '/')
        goto bad;
    for (;;) {
        end = strchr(p, '/');
        n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            goto bad;
        if (end == NULL)
            return 0;
        p = end + 1;
    }
bad:
    errno = EINVAL;
    return -1;
}

/* One directory component below dir_fd, not through a link. */
static int beneath_step(int dir_fd, const char *name)
{
    struct stat sb;
    int fd = openat(dir_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    /* O_PATH | O_NOFOLLOW on a link fails with ENOTDIR: say what it is. */
    if (fd < 0 && errno == ENOTDIR && fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode))
        errno = ELOOP;
    return fd;
}

int beneath_open_walk(int root_fd, const char *path, int flags, mode_t mode)
{
    char *copy, *p, *slash;
    struct stat sb;
    int dir_fd = root_fd, fd = -1, saved;

    if (beneath_check(path) < 0)
        return -1;
    copy = xstrdup(path);
    p = copy;
    while ((slash = strchr(p, '/')) != NULL) {
        int next;
        *slash = '\0';
        next = beneath_step(dir_fd, p);
        saved = errno;
        if (dir_fd != root_fd)
            (void)close(dir_fd); /* a path descriptor: nothing to flush */
        errno = saved;
        if (next < 0) {
            free(copy);
            return -1;
        }
        dir_fd = next;
        p = slash + 1;
    }
    fd = openat(dir_fd, p, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    saved = errno;
    /* O_DIRECTORY | O_NOFOLLOW on a link fails with ENOTDIR, too. */
    if (fd < 0 && saved == ENOTDIR && fstatat(dir_fd, p, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode))
        saved = ELOOP;
    if (dir_fd != root_fd)
        (void)close(dir_fd);
    free(copy);
    errno = saved;
    return fd;
}

int beneath_open(int root_fd, const char *path, int flags, mode_t mode)
{
    struct open_how how;
    long fd;

    if (beneath_check(path) < 0)
        return -1;
    if (beneath_no_openat2)
        return beneath_open_walk(root_fd, path, flags, mode);
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)(flags | O_NOFOLLOW | O_CLOEXEC);
    /* openat2 refuses a mode without O_CREAT or O_TMPFILE. */
    how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0; tries < 8; tries++) {
        fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* EAGAIN: a rename raced with the lookup; the kernel asks to retry. */
        if (errno != EAGAIN)
            break;
    }
    if (errno == ENOSYS || errno == E2BIG)
        beneath_no_openat2 = 1;
    /* No openat2 (old kernel, or a seccomp filter that hides it: EPERM,
     * which could also be a real refusal; the walk then says so again),
     * or ENOTDIR, which the walk tells apart from a link (ELOOP). */
    if (errno == ENOSYS || errno == E2BIG || errno == EPERM || errno == ENOTDIR)
        return beneath_open_walk(root_fd, path, flags, mode);
    return -1;
}

int beneath_open_parent(int root_fd, const char *path, const char **name_r)
{
    const char *slash;
    char *dir;
    int fd, saved;

    if (beneath_check(path) < 0)
        return -1;
    slash = strrchr(path, '/');
    if (slash == NULL) {
        *name_r = path;
        return openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    *name_r = slash + 1;
    dir = xstrndup(path, (size_t)(slash - path));
    fd = beneath_open(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
    saved = errno;
    free(dir);
    errno = saved;
    return fd;
}
