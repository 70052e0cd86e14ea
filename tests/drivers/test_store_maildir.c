/*
 * NAME
 *	test_store_maildir 1
 * SUMMARY
 *	unit test for backends/store.c and backends/maildir/maildir.c
 * DESCRIPTION
 *	Runs the store conformance suite (store_conformance.h) on a Maildir
 *	of its own; around it what only the Maildir driver shows:
 *	Stores a binary spool file through the link path and the copy
 *	fallback and compares the bytes in new/ with the spool; checks the
 *	location, an empty tmp/, unique names for a record stored twice,
 *	get() to a file and a pipe (also after a reader moved the message
 *	to cur/), the locations get() refuses, I/O failures that must leave
 *	no tmp/ file behind, and the registry's errors and failing store;
 *	remove() of a file in new/ and of one a reader moved to cur/; and
 *	symbolic links in the Maildir (new/, cur/ or tmp/ replaced by a link
 *	to a directory outside, a link in place of a message): get() and
 *	remove() refuse naming the location, the files outside stay.
 */
#include "backends/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>

#include "tests/drivers/store_conformance.h"
#include "tests/unit/check.h"

static char maildir[4200];
static char spool_path[4300];
static char *spool_data;
static size_t spool_len;

/* 1 when the file at path holds exactly data[0..len). */
static int file_equals(const char *path, const char *data, size_t len)
{
    size_t got_len;
    char *got = check_slurp(path, &got_len);
    int same = got != NULL && got_len == len && memcmp(got, data, len) == 0;

    free(got);
    return same;
}

static int count_entries(const char *sub)
{
    char path[4400];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", maildir, sub);
    if ((d = opendir(path)) == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

/* A wrapped copy with CRLF, bare LF, NUL and 8-bit bytes, > one copy buffer. */
static void make_spool(const char *dir)
{
    static const char head[] = "From: <alice@example.com>\r\nTo: <bob@example.com>\r\n"
                               "Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n";
    size_t body = 200000;

    spool_len = sizeof(head) - 1 + body;
    spool_data = malloc(spool_len);
    memcpy(spool_data, head, sizeof(head) - 1);
    for (size_t i = 0; i < body; i++)
        spool_data[sizeof(head) - 1 + i] = (char)((i * 31 + 7) % 256);
    snprintf(spool_path, sizeof(spool_path), "%s/spool.wrap", dir);
    write_file(spool_path, spool_data, spool_len);
}

static void init_record(struct archive_record *rec, const char *id)
{
    memset(rec, 0, sizeof(*rec));
    memcpy(rec->archive_id, id, ARCHIVE_ID_SIZE);
    rec->arrival = 1700000000;
    rec->wrapped_size = spool_len;
}

static void test_put_link_and_get(struct store *st)
{
    struct archive_record rec;
    const char *err = "unset";
    char *loc = NULL, *loc2 = NULL;
    char path[4500];
    struct stat sb_spool, sb_stored;
    int fd = open(spool_path, O_RDONLY);

    init_record(&rec, "0123456789ABCDEF0123");
    CHECK(st->put(st, &rec, fd, spool_path, &loc, &err) == TAB_OK);
    CHECK_STR(loc, "new/1700000000.0123456789ABCDEF0123.mx\\0571\\072test.example");
    snprintf(path, sizeof(path), "%s/%s", maildir, loc ? loc : "");
    CHECK(file_equals(path, spool_data, spool_len));
    /* the link path: same inode as the spool file, no copy */
    CHECK(stat(spool_path, &sb_spool) == 0 && stat(path, &sb_stored) == 0);
    CHECK(sb_spool.st_ino == sb_stored.st_ino && sb_spool.st_nlink == 2);
    /* the spool itself is untouched */
    CHECK(file_equals(spool_path, spool_data, spool_len));
    CHECK(count_entries("tmp") == 0);
    CHECK(count_entries("new") == 1);

    /* the same record again: a second, distinct file, the first kept */
    CHECK(st->put(st, &rec, fd, spool_path, &loc2, &err) == TAB_OK);
    CHECK_STR(loc2, "new/1700000000.0123456789ABCDEF0123Q1.mx\\0571\\072test.example");
    CHECK(count_entries("new") == 2);
    CHECK(file_equals(path, spool_data, spool_len));
    snprintf(path, sizeof(path), "%s/%s", maildir, loc2 ? loc2 : "");
    CHECK(file_equals(path, spool_data, spool_len));
    CHECK(count_entries("tmp") == 0);

    /* get() to a file */
    char out_path[4400];
    snprintf(out_path, sizeof(out_path), "%s/../get.out", maildir);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(st->get(st, loc, out, &err) == TAB_OK);
    CHECK(close(out) == 0);
    CHECK(file_equals(out_path, spool_data, spool_len));

    /* get() to a pipe, read by a child while the parent writes */
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[1]);
        char *buf = malloc(spool_len + 1);
        size_t off = 0;
        ssize_t n;
        while ((n = read(p[0], buf + off, spool_len + 1 - off)) > 0)
            off += (size_t)n;
        _exit(off == spool_len && memcmp(buf, spool_data, spool_len) == 0 ? 0 : 1);
    }
    close(p[0]);
    CHECK(st->get(st, loc2, p[1], &err) == TAB_OK);
    close(p[1]);
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a Maildir reader moved the message to cur/ and added flags */
    char moved[4500];
    snprintf(path, sizeof(path), "%s/%s", maildir, loc);
    snprintf(moved, sizeof(moved), "%s/cur/%s:2,S", maildir, loc + 4);
    CHECK(rename(path, moved) == 0);
    out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(st->get(st, loc, out, &err) == TAB_OK);
    CHECK(close(out) == 0);
    CHECK(file_equals(out_path, spool_data, spool_len));
    /* a third put never overwrites either earlier copy */
    char *loc3 = NULL;
    CHECK(st->put(st, &rec, fd, spool_path, &loc3, &err) == TAB_OK);
    CHECK(loc3 != NULL && strcmp(loc3, loc2) != 0);
    CHECK(file_equals(moved, spool_data, spool_len));
    snprintf(path, sizeof(path), "%s/%s", maildir, loc2);
    CHECK(file_equals(path, spool_data, spool_len));
    CHECK(count_entries("new") == 2 && count_entries("cur") == 1 && count_entries("tmp") == 0);

    close(fd);
    free(loc);
    free(loc2);
    free(loc3);
}

/* Put a record of archive id id from fd (spool: the path given with it):
 * the stored file (its path in path, 4500 bytes) holds the spool's bytes. */
static void put_stored(struct store *st, const char *id, int fd, const char *spool, char *path)
{
    struct archive_record rec;
    const char *err = "unset";
    char *loc = NULL;

    init_record(&rec, id);
    CHECK(st->put(st, &rec, fd, spool, &loc, &err) == TAB_OK);
    snprintf(path, 4500, "%s/%s", maildir, loc ? loc : "");
    CHECK(file_equals(path, spool_data, spool_len));
    free(loc);
}

static void test_put_copy(struct store *st, const char *dir)
{
    char path[4500], other[4400];
    struct stat sb_spool, sb_stored;
    int fd = open(spool_path, O_RDONLY);

    /* no path: copy from the descriptor */
    put_stored(st, "0123456789ABCDEF0124", fd, NULL, path);
    CHECK(stat(spool_path, &sb_spool) == 0 && stat(path, &sb_stored) == 0);
    CHECK(sb_spool.st_ino != sb_stored.st_ino);
    CHECK((sb_stored.st_mode & 07777) == 0600);
    CHECK(count_entries("tmp") == 0);

    /* a path on which link() fails, and a descriptor not at offset 0 */
    CHECK(lseek(fd, 1000, SEEK_SET) == 1000);
    snprintf(other, sizeof(other), "%s/no-such-spool", dir);
    put_stored(st, "0123456789ABCDEF0125", fd, other, path);

    /* a path naming a different file: the descriptor's bytes are stored */
    snprintf(other, sizeof(other), "%s/other-file", dir);
    write_file(other, "not the message\n", 16);
    put_stored(st, "0123456789ABCDEF0126", fd, other, path);
    CHECK(file_equals(other, "not the message\n", 16));
    CHECK(count_entries("tmp") == 0);
    close(fd);
}

static void test_put_failures(struct store *st, const char *dir)
{
    struct archive_record rec;
    const char *err = "unset";
    char *loc = NULL;
    int fd = open(spool_path, O_RDONLY);
    int n_new = count_entries("new");

    /* an archive id that is not safe in a path */
    init_record(&rec, "0123456789ABCDEF0123");
    memcpy(rec.archive_id, "../../../etc/passwd", 20);
    CHECK(st->put(st, &rec, fd, spool_path, &loc, &err) == TAB_PERM);
    CHECK(loc == NULL);
    CHECK(strstr(err, "archive id") != NULL);

    /* the spool file is shorter than the wrapper said */
    init_record(&rec, "0123456789ABCDEF0127");
    rec.wrapped_size = spool_len + 1;
    CHECK(st->put(st, &rec, fd, spool_path, &loc, &err) == TAB_RETRY);
    CHECK(loc == NULL);
    CHECK(strstr(err, "expected") != NULL);
    CHECK(count_entries("tmp") == 0 && count_entries("new") == n_new);
    CHECK(st->put(st, &rec, fd, NULL, &loc, &err) == TAB_RETRY);
    CHECK(count_entries("tmp") == 0 && count_entries("new") == n_new);

    /* the file system refuses the data (EFBIG stands in for ENOSPC):
     * RETRY naming the tmp file and the error, and no tmp file left */
    struct rlimit old, small;
    signal(SIGXFSZ, SIG_IGN);
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small = old;
    small.rlim_cur = 4096;
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    init_record(&rec, "0123456789ABCDEF0128");
    CHECK(st->put(st, &rec, fd, NULL, &loc, &err) == TAB_RETRY);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    CHECK(loc == NULL);
    CHECK(strstr(err, "/tmp/1700000000.0123456789ABCDEF0128.") != NULL);
    CHECK(strstr(err, strerror(EFBIG)) != NULL);
    CHECK(count_entries("tmp") == 0 && count_entries("new") == n_new);

    /* tmp/ is gone and a file is in its place: a linked copy goes
     * straight into new/ and does not need it; a copied one does */
    char tmp_dir[4400];
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", maildir);
    CHECK(rmdir(tmp_dir) == 0);
    write_file(tmp_dir, "", 0);
    init_record(&rec, "0123456789ABCDEF0129");
    CHECK(st->put(st, &rec, fd, NULL, &loc, &err) == TAB_RETRY);
    CHECK(loc == NULL);
    CHECK(strstr(err, tmp_dir) != NULL && strstr(err, strerror(ENOTDIR)) != NULL);
    CHECK(count_entries("new") == n_new);
    CHECK(st->put(st, &rec, fd, spool_path, &loc, &err) == TAB_OK);
    CHECK(loc != NULL && strncmp(loc, "new/1700000000.0123456789ABCDEF0129.", 36) == 0);
    CHECK(count_entries("new") == n_new + 1);
    free(loc);
    loc = NULL;
    CHECK(unlink(tmp_dir) == 0 && mkdir(tmp_dir, 0700) == 0);
    (void)dir;
    close(fd);
}

/* The daemon's spool file is an unnamed O_TMPFILE given as
 * /proc/self/fd/N: linked into new/ with its bytes; the shared group
 * commit counters (data_directory/.maildir-sync-DEV-INO) say every link
 * was synced. */
static void test_put_unnamed(struct store *st, const char *dir)
{
    struct archive_record rec;
    const char *err = "unset";
    char *loc = NULL, path[4500], proc[64];
    uint64_t counters[2] = {0, 0};
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, spool_data, spool_len) == (ssize_t)spool_len);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    init_record(&rec, "0123456789ABCDEF0130");
    CHECK(st->put(st, &rec, fd, proc, &loc, &err) == TAB_OK);
    CHECK(loc != NULL && strncmp(loc, "new/1700000000.0123456789ABCDEF0130.", 36) == 0);
    snprintf(path, sizeof(path), "%s/%s", maildir, loc ? loc : "");
    CHECK(file_equals(path, spool_data, spool_len));
    struct stat sb_fd, sb_new;
    CHECK(fstat(fd, &sb_fd) == 0 && stat(path, &sb_new) == 0 && sb_fd.st_ino == sb_new.st_ino);
    struct stat sb_dir;
    snprintf(path, sizeof(path), "%s/new", maildir);
    CHECK(stat(path, &sb_dir) == 0);
    snprintf(path, sizeof(path), "%s/.maildir-sync-%llx-%llx", dir,
             (unsigned long long)sb_dir.st_dev, (unsigned long long)sb_dir.st_ino);
    int sfd = open(path, O_RDONLY);
    CHECK(sfd >= 0 && read(sfd, counters, sizeof(counters)) == (ssize_t)sizeof(counters));
    CHECK(counters[0] > 0 && counters[1] == counters[0]);
    if (sfd >= 0)
        close(sfd);
    free(loc);
    close(fd);
}

static void test_get_refused(struct store *st)
{
    const char *err = "unset";
    const char *bad[] = {
        "../x",    "new/../../etc/passwd", "tmp/x", "new/", "new/.hidden",
        "cur/a/b", "/etc/passwd",          "new",   "",     "NEW/x",
        "new//x",
    };
    int fd = open("/dev/null", O_WRONLY);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = "unset";
        enum tab_result r = st->get(st, bad[i], fd, &err);
        if (r != TAB_PERM || strstr(err, "bad location") == NULL) {
            fprintf(stderr, "location \"%s\": result %d, error %s\n", bad[i], (int)r, err);
            CHECK(0);
        } else {
            CHECK(1);
        }
    }
    CHECK(st->get(st, NULL, fd, &err) == TAB_PERM);
    /* well-formed but absent */
    CHECK(st->get(st, "new/1.NOSUCH.host", fd, &err) == TAB_PERM);
    CHECK(strstr(err, "new/1.NOSUCH.host") != NULL && strstr(err, strerror(ENOENT)) != NULL);
    CHECK(st->get(st, "cur/1.NOSUCH.host", fd, &err) == TAB_PERM);
    /* a symbolic link planted in new/ is not followed */
    char link_path[4400];
    snprintf(link_path, sizeof(link_path), "%s/new/evil", maildir);
    CHECK(symlink("/etc/passwd", link_path) == 0);
    CHECK(st->get(st, "new/evil", fd, &err) == TAB_PERM);
    CHECK(unlink(link_path) == 0);
    close(fd);
}

/* A file outside the Maildir holding "outside". */
static void make_outside(const char *path)
{
    write_file(path, "outside", 7);
}

/* remove(): a regular file in new/ or (moved by a reader) in cur/ goes;
 * an absent one is no error. */
static void test_remove(struct store *st)
{
    char path[4500], moved[4500];
    const char *err = "unset";

    snprintf(path, sizeof(path), "%s/new/1.REMOVE.host", maildir);
    write_file(path, "x", 1);
    CHECK(st->remove(st, "new/1.REMOVE.host", &err) == TAB_OK);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    CHECK(st->remove(st, "new/1.REMOVE.host", &err) == TAB_OK);
    snprintf(moved, sizeof(moved), "%s/cur/1.MOVED.host:2,S", maildir);
    write_file(moved, "x", 1);
    CHECK(st->remove(st, "new/1.MOVED.host", &err) == TAB_OK);
    CHECK(access(moved, F_OK) < 0 && errno == ENOENT);
    CHECK(st->remove(st, "../x", &err) == TAB_PERM && strstr(err, "bad location") != NULL);
    CHECK(st->remove(st, "new/../../etc/passwd", &err) == TAB_PERM &&
          strstr(err, "bad location") != NULL);
}

/* Replace the Maildir's subdirectory name (moved to name.real) by a link
 * to outside; sub and real (4500 bytes) get both paths. */
static void link_subdir(const char *name, const char *outside, char *sub, char *real)
{
    snprintf(sub, 4500, "%s/%s", maildir, name);
    snprintf(real, 4500, "%s/%s.real", maildir, name);
    CHECK(rename(sub, real) == 0);
    CHECK(symlink(outside, sub) == 0);
}

/* get() and remove() of location refuse, saying why (want_error). */
static void check_refused(struct store *st, const char *location, int null_fd,
                          const char *want_error)
{
    const char *err = "unset";

    CHECK(st->get(st, location, null_fd, &err) == TAB_PERM);
    CHECK(strstr(err, want_error) != NULL);
    err = "unset";
    CHECK(st->remove(st, location, &err) == TAB_PERM);
    CHECK(strstr(err, want_error) != NULL);
}

/* Symbolic links inside the Maildir (new/ or cur/ replaced by one, a link
 * in place of a message, tmp/ replaced by one): get() and remove() refuse
 * with the location named, and the file outside is neither read nor
 * removed. What root's tabularium show and expire rely on. */
static void test_symlinks(struct store *st, const char *spec, struct tab_config *cfg,
                          const char *dir)
{
    char outside[4400], victim[4500], sub[4500], real[4500], link_path[4500];
    const char *err = "unset";
    int null_fd = open("/dev/null", O_WRONLY);
    struct timespec old[2] = {{time(NULL) - 37 * 3600, 0}, {time(NULL) - 37 * 3600, 0}};

    snprintf(outside, sizeof(outside), "%s/outside", dir);
    CHECK(mkdir(outside, 0700) == 0);
    snprintf(victim, sizeof(victim), "%s/1.VICTIM.host", outside);
    make_outside(victim);

    /* new/ -> outside, which holds a file of the location's name */
    link_subdir("new", outside, sub, real);
    check_refused(st, "new/1.VICTIM.host", null_fd, "location \"new/1.VICTIM.host\" refused");
    CHECK(file_equals(victim, "outside", 7));
    CHECK(unlink(sub) == 0 && rename(real, sub) == 0);

    /* cur/ -> outside: the search for a moved message must not follow it */
    snprintf(victim, sizeof(victim), "%s/1.MOVEDOUT.host:2,S", outside);
    make_outside(victim);
    link_subdir("cur", outside, sub, real);
    check_refused(st, "new/1.MOVEDOUT.host", null_fd, "refused");
    CHECK(st->remove(st, "cur/1.MOVEDOUT.host:2,S", &err) == TAB_PERM);
    CHECK(file_equals(victim, "outside", 7));
    CHECK(unlink(sub) == 0 && rename(real, sub) == 0);

    /* a link in place of the message: refused, the link and its target stay */
    snprintf(victim, sizeof(victim), "%s/target", outside);
    make_outside(victim);
    snprintf(link_path, sizeof(link_path), "%s/new/1.LINK.host", maildir);
    CHECK(symlink(victim, link_path) == 0);
    err = "unset";
    CHECK(st->remove(st, "new/1.LINK.host", &err) == TAB_PERM);
    CHECK(strstr(err, "location \"new/1.LINK.host\" refused") != NULL &&
          strstr(err, "symbolic link") != NULL);
    CHECK(file_equals(victim, "outside", 7));
    struct stat sb;
    CHECK(lstat(link_path, &sb) == 0 && S_ISLNK(sb.st_mode));
    CHECK(unlink(link_path) == 0);

    /* tmp/ -> outside with an old file: opening the store leaves it */
    snprintf(victim, sizeof(victim), "%s/1.OLD.host", outside);
    make_outside(victim);
    CHECK(utimensat(AT_FDCWD, victim, old, 0) == 0);
    link_subdir("tmp", outside, sub, real);
    struct store *st2 = store_open(spec, cfg, &err);
    CHECK(st2 != NULL);
    store_close(&st2);
    CHECK(file_equals(victim, "outside", 7));
    CHECK(unlink(sub) == 0 && rename(real, sub) == 0);
    close(null_fd);
}

/* store_open(spec) is refused, saying want_error (NULL: saying something). */
static void open_refused(const char *spec, const char *want_error)
{
    const char *err = NULL;

    CHECK(store_open(spec, NULL, &err) == NULL);
    if (want_error != NULL)
        CHECK_STR(err, want_error);
    else
        CHECK(err != NULL);
}

static void test_open_errors(const char *dir)
{
    const char *err = NULL;
    char spec[4500], file[4400];
    struct stat sb;

    open_refused("nosuch:x",
                 "store \"nosuch:x\": unknown type \"nosuch\" (known types: maildir, pgsql, s3)");
    open_refused("maildir",
                 "store \"maildir\": expected type:spec (known types: maildir, pgsql, s3)");
    open_refused(":/x", "store \":/x\": unknown type \"\" (known types: maildir, pgsql, s3)");
    open_refused("", "no store configured (archive_store = type:spec;"
                     " known types: maildir, pgsql, s3)");
    open_refused("maildir:relative/path", "maildir path \"relative/path\" is not absolute");
    open_refused("maildir:", NULL);

    /* a Maildir under a regular file cannot be created */
    snprintf(file, sizeof(file), "%s/regularfile", dir);
    write_file(file, "x", 1);
    snprintf(spec, sizeof(spec), "maildir:%s/sub", file);
    err = NULL;
    CHECK(store_open(spec, NULL, &err) == NULL);
    CHECK(err != NULL && strstr(err, file) != NULL && strstr(err, strerror(ENOTDIR)) != NULL);
    char *open_error = strdup(err != NULL ? err : "");

    struct store *st = store_open_or_failing(spec, NULL);
    CHECK(st != NULL);
    CHECK_STR(st->name, "failing");
    struct archive_record rec;
    init_record(&rec, "0123456789ABCDEF0130");
    char *loc = (char *)"sentinel";
    err = NULL;
    int fd = open(spool_path, O_RDONLY);
    CHECK(st->put(st, &rec, fd, spool_path, &loc, &err) == TAB_RETRY);
    CHECK(loc == NULL);
    CHECK_STR(err, open_error);
    err = NULL;
    CHECK(st->get(st, "new/x", fd, &err) == TAB_RETRY);
    CHECK_STR(err, open_error);
    close(fd);
    store_close(&st);
    CHECK(st == NULL);
    store_close(&st); /* closing NULL is harmless */
    free(open_error);

    /* a fresh Maildir gets tmp, new, cur with mode 0700; opening twice is fine */
    snprintf(spec, sizeof(spec), "maildir:%s/deep/er/Maildir/", dir);
    st = store_open_or_failing(spec, NULL);
    CHECK_STR(st->name, "maildir");
    store_close(&st);
    st = store_open(spec, NULL, &err);
    CHECK(st != NULL);
    store_close(&st);
    snprintf(file, sizeof(file), "%s/deep/er/Maildir/cur", dir);
    CHECK(stat(file, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 07777) == 0700);
}

/* Leftovers of killed deliveries in tmp/ go once older than 36 hours. */
static void test_tmp_cleanup(const char *spec, struct tab_config *cfg)
{
    char old_path[4600], fresh_path[4600];
    struct timespec times[2] = {{time(NULL) - 37 * 3600, 0}, {time(NULL) - 37 * 3600, 0}};
    const char *err = NULL;
    FILE *f;

    snprintf(old_path, sizeof(old_path), "%s/tmp/1.OLD.host", maildir);
    snprintf(fresh_path, sizeof(fresh_path), "%s/tmp/2.FRESH.host", maildir);
    CHECK((f = fopen(old_path, "w")) != NULL && fclose(f) == 0);
    CHECK((f = fopen(fresh_path, "w")) != NULL && fclose(f) == 0);
    CHECK(utimensat(AT_FDCWD, old_path, times, 0) == 0);
    struct store *st = store_open(spec, cfg, &err);
    CHECK(st != NULL);
    CHECK(access(old_path, F_OK) < 0);
    CHECK(access(fresh_path, F_OK) == 0);
    store_close(&st);
    CHECK(unlink(fresh_path) == 0);
}

/* The suite on a fresh Maildir beside the other tests' one. */
static void test_conformance(struct tab_config *cfg, const char *dir)
{
    char *spec = xasprintf("maildir:%s/SuiteMaildir", dir);
    const char *err = NULL;
    struct store_conformance conf = {
        .dir = dir, .unknown_location = "new/1700000000.NOSUCH.host", .legal_hold = 0};

    conf.st = store_open(spec, cfg, &err);
    CHECK(conf.st != NULL);
    if (conf.st != NULL)
        store_conformance(&conf);
    store_close(&conf.st);
    free(spec);
}

int main(void)
{
    const char *dir = check_tmpdir("test_store_maildir");
    char spec[4500];
    const char *err = NULL;
    struct tab_config cfg;
    struct store *st;

    make_spool(dir);
    snprintf(maildir, sizeof(maildir), "%s/Maildir", dir);
    snprintf(spec, sizeof(spec), "maildir:%s", maildir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.myhostname = (char *)"mx/1:test.example";
    cfg.data_directory = (char *)dir;
    st = store_open(spec, &cfg, &err);
    CHECK(st != NULL);
    if (st == NULL) {
        fprintf(stderr, "store_open: %s\n", err);
        return check_done();
    }
    CHECK_STR(st->name, "maildir");
    CHECK(count_entries("tmp") == 0 && count_entries("new") == 0 && count_entries("cur") == 0);

    test_put_link_and_get(st);
    test_put_copy(st, dir);
    test_put_failures(st, dir);
    test_put_unnamed(st, dir);
    test_get_refused(st);
    test_remove(st);
    test_symlinks(st, spec, &cfg, dir);
    store_close(&st);
    test_conformance(&cfg, dir);
    CHECK(st == NULL);
    test_tmp_cleanup(spec, &cfg);
    test_open_errors(dir);
    free(spool_data);
    return check_done();
}
