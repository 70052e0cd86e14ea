/*
 * NAME
 *	test_beneath
 * SUMMARY
 *	unit test for common/beneath.c
 * DESCRIPTION
 *	The same cases through beneath_open() (openat2 on this kernel) and
 *	beneath_open_walk() (the fallback for kernels without it): a plain
 *	path opens and reads the right file; absolute paths, "..", "." and
 *	empty components are EINVAL; a symbolic link as a directory on the
 *	way or as the last component is ELOOP, also when it points inside;
 *	a regular file as a directory on the way is ENOTDIR; and the file a
 *	link points at outside is never opened. beneath_open_parent() gives
 *	the directory and the last name for unlinkat().
 */
#include "common/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "check.h"

typedef int open_fn(int root_fd, const char *path, int flags, mode_t mode);

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(data, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* errno of a failed open, 0 when it succeeded (closing it). */
static int open_errno(open_fn *fn, int root, const char *path, int flags)
{
    int fd;

    errno = 0;
    fd = fn(root, path, flags, 0);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno;
}

static void test_cases(open_fn *fn, const char *what, int root)
{
    char buf[16];
    ssize_t n;
    int fd;

    fprintf(stderr, "-- %s\n", what);
    fd = fn(root, "new/msg", O_RDONLY, 0);
    CHECK(fd >= 0);
    n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    CHECK(n == 6 && memcmp(buf, "inside", 6) == 0);
    if (fd >= 0)
        close(fd);
    CHECK(open_errno(fn, root, "new", O_RDONLY | O_DIRECTORY) == 0);

    CHECK(open_errno(fn, root, "/etc/passwd", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "../outside/secret", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "new/../../outside/secret", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "new/./msg", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "new//msg", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "new/", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, "", O_RDONLY) == EINVAL);
    CHECK(open_errno(fn, root, NULL, O_RDONLY) == EINVAL);

    /* links: to a directory outside, to one inside, as the file itself */
    CHECK(open_errno(fn, root, "evil/secret", O_RDONLY) == ELOOP);
    CHECK(open_errno(fn, root, "evil", O_RDONLY | O_DIRECTORY) == ELOOP);
    CHECK(open_errno(fn, root, "alias/msg", O_RDONLY) == ELOOP);
    CHECK(open_errno(fn, root, "new/link", O_RDONLY) == ELOOP);
    CHECK(open_errno(fn, root, "new/file-as-dir/x", O_RDONLY) == ENOTDIR);
    CHECK(open_errno(fn, root, "new/absent", O_RDONLY) == ENOENT);

    /* creating beneath works, and not through a link */
    fd = fn(root, "new/created", O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK(unlinkat(root, "new/created", 0) == 0);
    CHECK(open_errno(fn, root, "evil/created", O_WRONLY | O_CREAT) == ELOOP);
}

int main(void)
{
    const char *dir = check_tmpdir("test_beneath");
    char path[4300], target[4300];
    const char *name = NULL;
    struct stat sb;
    int root, parent;

    snprintf(path, sizeof(path), "%s/root", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/root/new", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/outside", dir);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/outside/secret", dir);
    write_file(path, "secret");
    snprintf(path, sizeof(path), "%s/root/new/msg", dir);
    write_file(path, "inside");
    snprintf(path, sizeof(path), "%s/root/new/file-as-dir", dir);
    write_file(path, "x");
    snprintf(target, sizeof(target), "%s/outside", dir);
    snprintf(path, sizeof(path), "%s/root/evil", dir);
    CHECK(symlink(target, path) == 0);
    snprintf(path, sizeof(path), "%s/root/alias", dir);
    CHECK(symlink("new", path) == 0);
    snprintf(target, sizeof(target), "%s/outside/secret", dir);
    snprintf(path, sizeof(path), "%s/root/new/link", dir);
    CHECK(symlink(target, path) == 0);

    snprintf(path, sizeof(path), "%s/root", dir);
    root = open(path, O_RDONLY | O_DIRECTORY);
    CHECK(root >= 0);
    test_cases(beneath_open, "beneath_open", root);
    test_cases(beneath_open_walk, "beneath_open_walk", root);

    parent = beneath_open_parent(root, "new/msg", &name);
    CHECK(parent >= 0);
    CHECK_STR(name, "msg");
    CHECK(parent >= 0 && fstatat(parent, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISREG(sb.st_mode));
    if (parent >= 0)
        close(parent);
    errno = 0;
    CHECK(beneath_open_parent(root, "evil/secret", &name) < 0 && errno == ELOOP);
    errno = 0;
    CHECK(beneath_open_parent(root, "new/..", &name) < 0 && errno == EINVAL);
    parent = beneath_open_parent(root, "top", &name);
    CHECK(parent >= 0);
    CHECK_STR(name, "top");
    if (parent >= 0)
        close(parent);

    /* the file outside is untouched */
    snprintf(path, sizeof(path), "%s/outside/secret", dir);
    CHECK(stat(path, &sb) == 0 && sb.st_size == 6);
    close(root);
    return check_done();
}
