/*
 * NAME
 *	test_safe_file
 * SUMMARY
 *	unit test for common/safe_file.c
 * DESCRIPTION
 *	Full writes through a pipe, copies of a prefix and to EOF from the
 *	current offset, a short input that must fail, nested mkdir -p with
 *	the requested mode, and directory fsyncs.
 */
#include "common/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"

/* Whole file as a heap string (binary-safe with *len_r). */
static void test_write_all(const char *dir)
{
    char path[4200];
    size_t big_len = 300000;
    char *big = malloc(big_len);
    size_t got_len;
    char *got;
    int fd;

    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 7 + i / 251);
    snprintf(path, sizeof(path), "%s/write_all", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(safe_write_all(fd, big, big_len) == 0);
    CHECK(safe_write_all(fd, "", 0) == 0);
    CHECK(close(fd) == 0);
    got = check_slurp(path, &got_len);
    CHECK(got != NULL && got_len == big_len && memcmp(got, big, big_len) == 0);
    free(got);

    /* A pipe takes at most 64 KiB per write: short writes must be resumed. */
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        _exit(safe_write_all(p[1], big, big_len) == 0 ? 0 : 1);
    }
    close(p[1]);
    got = malloc(big_len + 1);
    size_t off = 0;
    ssize_t n;
    while ((n = read(p[0], got + off, big_len + 1 - off)) > 0)
        off += (size_t)n;
    close(p[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(off == big_len && memcmp(got, big, big_len) == 0);
    free(got);

    /* Writing to a read-only descriptor fails with errno set. */
    fd = open(path, O_RDONLY);
    errno = 0;
    CHECK(safe_write_all(fd, "x", 1) == -1 && errno == EBADF);
    close(fd);
    free(big);
}

static int open_dst(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
}

/* Close out, written to path: the file holds exactly want. */
static void close_and_check(int out, const char *path, const char *want)
{
    size_t got_len;
    char *got;

    CHECK(close(out) == 0);
    got = check_slurp(path, &got_len);
    CHECK(got != NULL && got_len == strlen(want) && strcmp(got, want) == 0);
    if (got != NULL && strcmp(got, want) != 0)
        fprintf(stderr, "  %s holds \"%s\", expected \"%s\"\n", path, got, want);
    free(got);
}

static void test_copy_fd(const char *dir)
{
    char src[4200], dst[4200];
    const char *text = "0123456789abcdefghij";
    int in, out;

    snprintf(src, sizeof(src), "%s/copy_src", dir);
    snprintf(dst, sizeof(dst), "%s/copy_dst", dir);
    in = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(in >= 0);
    CHECK(safe_write_all(in, text, strlen(text)) == 0);

    /* len bytes from the current offset, leaving the offset after them. */
    CHECK(lseek(in, 3, SEEK_SET) == 3);
    out = open_dst(dst);
    CHECK(safe_copy_fd(in, out, 5) == 0);
    CHECK(lseek(in, 0, SEEK_CUR) == 8);
    /* then the rest to EOF, appended */
    CHECK(safe_copy_fd(in, out, -1) == 0);
    close_and_check(out, dst, "3456789abcdefghij");

    /* len 0 copies nothing */
    CHECK(lseek(in, 0, SEEK_SET) == 0);
    out = open_dst(dst);
    CHECK(safe_copy_fd(in, out, 0) == 0);
    CHECK(safe_copy_fd(in, out, 4) == 0);
    close_and_check(out, dst, "0123");

    /* asking for more than the input holds is an error, not a short copy */
    CHECK(lseek(in, 15, SEEK_SET) == 15);
    out = open_dst(dst);
    errno = 0;
    CHECK(safe_copy_fd(in, out, 10) == -1 && errno == EIO);
    CHECK(close(out) == 0);

    /* an empty input copied to EOF gives an empty file */
    CHECK(ftruncate(in, 0) == 0 && lseek(in, 0, SEEK_SET) == 0);
    out = open_dst(dst);
    CHECK(safe_copy_fd(in, out, -1) == 0);
    close_and_check(out, dst, "");
    close(in);
}

static void test_mkdir_p(const char *dir)
{
    char path[4200], file[4200], under_file[4300];
    struct stat st;

    snprintf(path, sizeof(path), "%s/a/b//c/d/", dir);
    CHECK(safe_mkdir_p(path, 0750) == 0);
    snprintf(path, sizeof(path), "%s/a/b/c/d", dir);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    /* every created component gets the mode (umask permitting: 022 here) */
    umask(022);
    snprintf(path, sizeof(path), "%s/m/n", dir);
    CHECK(safe_mkdir_p(path, 0700) == 0);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
    snprintf(path, sizeof(path), "%s/m", dir);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0700);
    /* existing directories are fine */
    CHECK(safe_mkdir_p(path, 0700) == 0);

    /* a regular file in the way */
    snprintf(file, sizeof(file), "%s/plain", dir);
    int fd = open(file, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0 && close(fd) == 0);
    errno = 0;
    CHECK(safe_mkdir_p(file, 0700) == -1 && errno == ENOTDIR);
    snprintf(under_file, sizeof(under_file), "%s/sub/dir", file);
    errno = 0;
    CHECK(safe_mkdir_p(under_file, 0700) == -1 && errno == ENOTDIR);
    errno = 0;
    CHECK(safe_mkdir_p("", 0700) == -1 && errno == ENOENT);

    /* fsync of directories */
    CHECK(safe_fsync_dir(dir) == 0);
    CHECK(safe_fsync_parent(file) == 0);
    CHECK(safe_fsync_parent("relative-name") == 0);
    errno = 0;
    CHECK(safe_fsync_dir(file) == -1 && errno == ENOTDIR);
    snprintf(path, sizeof(path), "%s/nonexistent/x", dir);
    errno = 0;
    CHECK(safe_fsync_parent(path) == -1 && errno == ENOENT);
}

int main(void)
{
    const char *dir = check_tmpdir("test_safe_file");

    test_write_all(dir);
    test_copy_fd(dir);
    test_mkdir_p(dir);
    return check_done();
}
