/*
 * NAME
 *	forward_queue 3
 * SUMMARY
 *	the durable queue of archive copies waiting to be forwarded by SMTP
 * SYNOPSIS
 *	delivery:  forward_queue_add() before the catalog commit,
 *	           forward_queue_remove() when that commit fails
 *	forwarder: forward_queue_list(), forward_queue_lock(), _update(),
 *	           _move(), _delete(), forward_queue_unlock()
 *	CLI:       the same, plus forward_queue_read() for listing
 * DESCRIPTION
 *	Owns the files under $queue_directory/forward/ (layout and locking in
 *	queue.h): their names, the .env format and the order in which
 *	they are written, so that a crash at any point leaves either a whole
 *	entry or none, and never loses one that delivery acknowledged.
 *
 *	The .env holds one "name=value" per line: version, sender,
 *	recipient, smtputf8, queued, attempts, last_attempt, next_attempt,
 *	reason. Unknown names are ignored, so that a newer writer does not
 *	break an older reader. Values are single lines: control characters in
 *	a reason (a remote reply) become spaces.
 *
 *	Must never modify an .eml: it is the stored copy's inode (a hard link
 *	to what the store received), and the forwarder sends it as it is.
 *	Files written by root (the CLI) get the queue directory's owner, so
 *	that the unprivileged forwarder can still read and replace them.
 * DIAGNOSTICS
 *	-1 or FORWARD_QUEUE_ERROR with a message naming the file and the
 *	system error in a static buffer.
 */
#include "forwarder/queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/archive_id.h"
#include "common/log.h"
#include "common/safe_file.h"

#define FORWARD_QUEUE_REASON_MAX 1000

static char forward_queue_error[1024];

static int forward_queue_fail(const char **error_r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int forward_queue_fail(const char **error_r, const char *fmt, ...)
{
    va_list ap;
    int saved = errno;

    va_start(ap, fmt);
    vsnprintf(forward_queue_error, sizeof(forward_queue_error), fmt, ap);
    va_end(ap);
    *error_r = forward_queue_error;
    errno = saved;
    return -1;
}

char *forward_queue_path(const char *queue_dir, const char *queue)
{
    return xasprintf("%s/forward/%s", queue_dir, queue);
}

static char *forward_queue_file(const char *queue_dir, const char *queue, const char *id,
                                const char *suffix)
{
    return xasprintf("%s/forward/%s/%s.%s", queue_dir, queue, id, suffix);
}

int forward_queue_ensure(const char *queue_dir, const char **error_r)
{
    const char *queues[] = {FORWARD_QUEUE_ACTIVE, FORWARD_QUEUE_HOLD};

    for (size_t i = 0; i < 2; i++) {
        char *dir = forward_queue_path(queue_dir, queues[i]);
        struct stat st;
        int rc = 0;
        if (stat(dir, &st) < 0) {
            /* The parent of a new directory is synced so that it survives. */
            if (safe_mkdir_p(dir, 0700) < 0 || safe_fsync_parent(dir) < 0)
                rc = forward_queue_fail(error_r, "cannot create %s: %s", dir, strerror(errno));
        }
        free(dir);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* A value on one line, without control characters, of bounded length. */
static char *forward_queue_clean(const char *s)
{
    size_t n = strlen(s);
    char *out;

    if (n > FORWARD_QUEUE_REASON_MAX)
        n = FORWARD_QUEUE_REASON_MAX;
    out = xstrndup(s, n);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < ' ' || *p == 0x7f)
            *p = ' ';
    return out;
}

/* Write dir/<id>.env atomically; the directory is synced. */
static int forward_queue_write_env(const char *queue_dir, const struct forward_entry *e,
                                   const char **error_r)
{
    char *dir = forward_queue_path(queue_dir, e->queue);
    char *path = forward_queue_file(queue_dir, e->queue, e->id, "env");
    char *tmp = forward_queue_file(queue_dir, e->queue, e->id, "env.tmp");
    char *reason = forward_queue_clean(e->reason ? e->reason : "");
    char *text = xasprintf("version=1\nsender=%s\nrecipient=%s\nsmtputf8=%d\nqueued=%lld\n"
                           "attempts=%d\nlast_attempt=%lld\nnext_attempt=%lld\nreason=%s\n",
                           e->sender, e->recipient, e->smtputf8, (long long)e->queued, e->attempts,
                           (long long)e->last_attempt, (long long)e->next_attempt, reason);
    struct stat dst;
    int fd = -1, rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        forward_queue_fail(error_r, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* Root (the CLI) writes files the unprivileged forwarder must replace. */
    if (geteuid() == 0 && stat(dir, &dst) == 0 && fchown(fd, dst.st_uid, dst.st_gid) < 0) {
        forward_queue_fail(error_r, "cannot chown %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (safe_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
        forward_queue_fail(error_r, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        forward_queue_fail(error_r, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        forward_queue_fail(error_r, "cannot rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (safe_fsync_dir(dir) < 0) {
        forward_queue_fail(error_r, "cannot fsync %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    } else if (rc < 0) {
        unlink(tmp);
    }
    free(text);
    free(reason);
    free(tmp);
    free(path);
    free(dir);
    return rc;
}

/* The .eml for an entry: a hard link to the stored copy's spool file, or
 * when that is impossible (another file system), a synced copy. */
static int forward_queue_put_copy(const char *queue_dir, const char *id, int wrap_fd,
                                  const char *wrap_path, const char **error_r)
{
    char *eml = forward_queue_file(queue_dir, FORWARD_QUEUE_ACTIVE, id, "eml");
    char *tmp = NULL;
    int out = -1, rc = -1;

    /* The store may not have synced the spool file (a store that copies). */
    if (fsync(wrap_fd) < 0) {
        forward_queue_fail(error_r, "cannot fsync %s: %s", wrap_path, strerror(errno));
        goto done;
    }
    /* AT_SYMLINK_FOLLOW: wrap_path may be /proc/self/fd/N (an O_TMPFILE). */
    if (wrap_path != NULL && linkat(AT_FDCWD, wrap_path, AT_FDCWD, eml, AT_SYMLINK_FOLLOW) == 0) {
        rc = 0;
        goto done;
    }
    if (errno == EEXIST) {
        forward_queue_fail(error_r, "%s already exists", eml);
        goto done;
    }
    tmp = forward_queue_file(queue_dir, FORWARD_QUEUE_ACTIVE, id, "eml.tmp");
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0 || lseek(wrap_fd, 0, SEEK_SET) < 0 || safe_copy_fd(wrap_fd, out, -1) < 0 ||
        fsync(out) < 0) {
        forward_queue_fail(error_r, "cannot copy %s to %s: %s", wrap_path ? wrap_path : "(spool)",
                           tmp, strerror(errno));
        goto done;
    }
    int fd = out;
    out = -1;
    if (close(fd) < 0 || rename(tmp, eml) < 0) {
        forward_queue_fail(error_r, "cannot write %s: %s", eml, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (out >= 0)
        close(out);
    if (rc < 0 && tmp != NULL)
        unlink(tmp);
    free(tmp);
    free(eml);
    return rc;
}

static int forward_queue_is_utf8(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

int forward_queue_add(const struct tab_config *cfg, const struct archive_record *rec, int wrap_fd,
                      const char *wrap_path, const char **error_r)
{
    struct forward_entry e;
    char *eml = NULL;
    int rc = -1;

    memset(&e, 0, sizeof(e));
    memcpy(e.id, rec->archive_id, sizeof(e.id));
    e.queue = FORWARD_QUEUE_ACTIVE;
    if (strcmp(cfg->forward_sender, "envelope") == 0)
        e.sender = rec->envelope_from ? rec->envelope_from : "";
    else if (strcmp(cfg->forward_sender, "<>") == 0)
        e.sender = "";
    else
        e.sender = cfg->forward_sender;
    e.recipient = cfg->forward_recipient;
    /* The envelope addresses reappear in the copy's From: and To:. */
    e.smtputf8 = forward_queue_is_utf8(e.sender) || forward_queue_is_utf8(e.recipient) ||
                 forward_queue_is_utf8(rec->envelope_from);
    for (size_t i = 0; i < rec->n_rcpts; i++)
        e.smtputf8 |= forward_queue_is_utf8(rec->rcpts[i].address);
    e.queued = time(NULL);
    e.next_attempt = e.queued;
    e.reason = "";

    /* Until the catalog commit the forwarder must leave the entry alone. */
    if (flock(wrap_fd, LOCK_EX) < 0)
        return forward_queue_fail(error_r, "cannot lock %s: %s", wrap_path, strerror(errno));
    if (forward_queue_ensure(cfg->queue_directory, error_r) < 0)
        return -1;
    if (forward_queue_put_copy(cfg->queue_directory, e.id, wrap_fd, wrap_path, error_r) < 0)
        return -1;
    /* The .env's rename and the directory fsync make the entry (and the
     * .eml's link in the same directory) durable at once. */
    if (forward_queue_write_env(cfg->queue_directory, &e, error_r) < 0) {
        eml = forward_queue_file(cfg->queue_directory, FORWARD_QUEUE_ACTIVE, e.id, "eml");
        (void)unlink(eml);
        goto out;
    }
    rc = 0;
out:
    free(eml);
    return rc;
}

/* Remove <id>.env, then <id>.eml, from queue; sync the directory. */
static int forward_queue_unlink_entry(const char *queue_dir, const char *queue, const char *id,
                                      const char **error_r)
{
    char *env = forward_queue_file(queue_dir, queue, id, "env");
    char *eml = forward_queue_file(queue_dir, queue, id, "eml");
    char *dir = forward_queue_path(queue_dir, queue);
    int rc = 0;

    if (unlink(env) < 0 && errno != ENOENT)
        rc = forward_queue_fail(error_r, "cannot remove %s: %s", env, strerror(errno));
    else if (unlink(eml) < 0 && errno != ENOENT)
        rc = forward_queue_fail(error_r, "cannot remove %s: %s", eml, strerror(errno));
    else if (safe_fsync_dir(dir) < 0)
        rc = forward_queue_fail(error_r, "cannot fsync %s: %s", dir, strerror(errno));
    free(env);
    free(eml);
    free(dir);
    return rc;
}

int forward_queue_remove(const char *queue_dir, const char *id, const char **error_r)
{
    return forward_queue_unlink_entry(queue_dir, FORWARD_QUEUE_ACTIVE, id, error_r);
}

static int forward_queue_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int forward_queue_list(const char *queue_dir, const char *queue, struct strlist *ids_r,
                       const char **error_r)
{
    char *dir = forward_queue_path(queue_dir, queue);
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL) {
        int rc = errno == ENOENT ? 0 : -1;
        if (rc < 0)
            forward_queue_fail(error_r, "cannot open %s: %s", dir, strerror(errno));
        free(dir);
        return rc;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n != ARCHIVE_ID_LEN + 4 || strcmp(de->d_name + ARCHIVE_ID_LEN, ".env") != 0)
            continue;
        char id[ARCHIVE_ID_SIZE];
        memcpy(id, de->d_name, ARCHIVE_ID_LEN);
        id[ARCHIVE_ID_LEN] = '\0';
        if (archive_id_valid(id))
            strlist_add(ids_r, id);
    }
    closedir(d);
    free(dir);
    if (ids_r->n > 1)
        qsort(ids_r->v, ids_r->n, sizeof(char *), forward_queue_cmp);
    return 0;
}

void forward_queue_entry_free(struct forward_entry *e)
{
    free(e->sender);
    free(e->recipient);
    free(e->reason);
    memset(e, 0, sizeof(*e));
}

static int forward_queue_parse(FILE *fp, struct forward_entry *e)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int version = 0;

    while ((n = getline(&line, &cap, fp)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strcmp(k, "version") == 0)
            version = atoi(v);
        else if (strcmp(k, "sender") == 0)
            free(e->sender), e->sender = xstrdup(v);
        else if (strcmp(k, "recipient") == 0)
            free(e->recipient), e->recipient = xstrdup(v);
        else if (strcmp(k, "smtputf8") == 0)
            e->smtputf8 = atoi(v) != 0;
        else if (strcmp(k, "queued") == 0)
            e->queued = (time_t)strtoll(v, NULL, 10);
        else if (strcmp(k, "attempts") == 0)
            e->attempts = atoi(v);
        else if (strcmp(k, "last_attempt") == 0)
            e->last_attempt = (time_t)strtoll(v, NULL, 10);
        else if (strcmp(k, "next_attempt") == 0)
            e->next_attempt = (time_t)strtoll(v, NULL, 10);
        else if (strcmp(k, "reason") == 0)
            free(e->reason), e->reason = xstrdup(v);
    }
    free(line);
    if (ferror(fp) || version < 1 || e->sender == NULL || e->recipient == NULL ||
        e->recipient[0] == '\0')
        return -1;
    if (e->reason == NULL)
        e->reason = xstrdup("");
    return 0;
}

int forward_queue_read(const char *queue_dir, const char *queue, const char *id,
                       struct forward_entry *e, const char **error_r)
{
    char *env, *eml;
    struct stat st;
    FILE *fp;
    int rc = -1;

    memset(e, 0, sizeof(*e));
    if (!archive_id_valid(id)) {
        errno = ENOENT;
        return forward_queue_fail(error_r, "\"%s\" is not an archive id", id);
    }
    env = forward_queue_file(queue_dir, queue, id, "env");
    eml = forward_queue_file(queue_dir, queue, id, "eml");
    fp = fopen(env, "re");
    if (fp == NULL) {
        forward_queue_fail(error_r, "cannot open %s: %s", env, strerror(errno));
        goto out;
    }
    memcpy(e->id, id, sizeof(e->id));
    e->queue = strcmp(queue, FORWARD_QUEUE_HOLD) == 0 ? FORWARD_QUEUE_HOLD : FORWARD_QUEUE_ACTIVE;
    int bad = forward_queue_parse(fp, e);
    fclose(fp);
    if (bad) {
        forward_queue_entry_free(e);
        errno = EINVAL;
        forward_queue_fail(error_r, "%s: corrupt queue file", env);
        goto out;
    }
    if (stat(eml, &st) < 0) {
        forward_queue_fail(error_r, "%s: %s", eml, strerror(errno));
        forward_queue_entry_free(e);
        errno = EIO; /* an .env without its copy: not "no such entry" */
        goto out;
    }
    e->size = st.st_size;
    rc = 0;
out:
    free(env);
    free(eml);
    return rc;
}

int forward_queue_stat(const char *queue_dir, const char *queue, const char *id,
                       struct timespec *t_r)
{
    char *env = forward_queue_file(queue_dir, queue, id, "env");
    struct stat st;
    int rc = stat(env, &st);

    free(env);
    if (rc == 0)
        *t_r = st.st_mtim;
    return rc;
}

enum forward_queue_lock_result forward_queue_lock(const char *queue_dir, const char *id, int wait,
                                                  struct forward_entry *e, int *fd_r,
                                                  const char **error_r)
{
    struct timespec ta, th;
    const char *queue, *other;
    int in_active, in_hold, fd;
    char *eml;

    *fd_r = -1;
    memset(e, 0, sizeof(*e));
    if (!archive_id_valid(id)) {
        forward_queue_fail(error_r, "\"%s\" is not an archive id", id);
        return FORWARD_QUEUE_GONE;
    }
    in_active = forward_queue_stat(queue_dir, FORWARD_QUEUE_ACTIVE, id, &ta) == 0;
    in_hold = forward_queue_stat(queue_dir, FORWARD_QUEUE_HOLD, id, &th) == 0;
    if (!in_active && !in_hold) {
        forward_queue_fail(error_r, "%s: no such queue entry", id);
        return FORWARD_QUEUE_GONE;
    }
    queue = in_active ? FORWARD_QUEUE_ACTIVE : FORWARD_QUEUE_HOLD;
    eml = forward_queue_file(queue_dir, queue, id, "eml");
    fd = open(eml, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int gone = errno == ENOENT;
        forward_queue_fail(error_r, "cannot open %s: %s", eml, strerror(errno));
        free(eml);
        /* Deleted meanwhile, or an .env without its copy. */
        return gone && forward_queue_stat(queue_dir, queue, id, &ta) < 0 ? FORWARD_QUEUE_GONE
                                                                         : FORWARD_QUEUE_ERROR;
    }
    free(eml);
    if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
        int busy = errno == EWOULDBLOCK;
        forward_queue_fail(error_r, "%s: %s", id,
                           busy ? "in use by another process" : strerror(errno));
        close(fd);
        return busy ? FORWARD_QUEUE_BUSY : FORWARD_QUEUE_ERROR;
    }
    /* Under the lock, look again: the holder may have moved or removed it. */
    in_active = forward_queue_stat(queue_dir, FORWARD_QUEUE_ACTIVE, id, &ta) == 0;
    in_hold = forward_queue_stat(queue_dir, FORWARD_QUEUE_HOLD, id, &th) == 0;
    if (in_active && in_hold) {
        /* A move that a crash interrupted: the newer .env is the entry. */
        int hold_wins =
            th.tv_sec > ta.tv_sec || (th.tv_sec == ta.tv_sec && th.tv_nsec >= ta.tv_nsec);
        other = hold_wins ? FORWARD_QUEUE_ACTIVE : FORWARD_QUEUE_HOLD;
        if (forward_queue_unlink_entry(queue_dir, other, id, error_r) < 0) {
            close(fd);
            return FORWARD_QUEUE_ERROR;
        }
        in_active = !hold_wins;
        in_hold = hold_wins;
    }
    if (!in_active && !in_hold) {
        close(fd);
        forward_queue_fail(error_r, "%s: no such queue entry", id);
        return FORWARD_QUEUE_GONE;
    }
    queue = in_active ? FORWARD_QUEUE_ACTIVE : FORWARD_QUEUE_HOLD;
    if (forward_queue_read(queue_dir, queue, id, e, error_r) < 0) {
        close(fd);
        return errno == ENOENT ? FORWARD_QUEUE_GONE : FORWARD_QUEUE_ERROR;
    }
    *fd_r = fd;
    return FORWARD_QUEUE_LOCKED;
}

void forward_queue_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd); /* releases the flock */
    *fd = -1;
}

int forward_queue_update(const char *queue_dir, const struct forward_entry *e, const char **error_r)
{
    return forward_queue_write_env(queue_dir, e, error_r);
}

int forward_queue_move(const char *queue_dir, struct forward_entry *e, const char *to,
                       const char **error_r)
{
    const char *from = e->queue;
    char *src = forward_queue_file(queue_dir, from, e->id, "eml");
    char *dst = forward_queue_file(queue_dir, to, e->id, "eml");
    int rc = -1;

    if (strcmp(from, to) == 0) {
        rc = forward_queue_write_env(queue_dir, e, error_r);
        goto out;
    }
    if (forward_queue_ensure(queue_dir, error_r) < 0)
        goto out;
    /* EEXIST: left by a move that a crash interrupted; same inode. */
    if (link(src, dst) < 0 && errno != EEXIST) {
        forward_queue_fail(error_r, "cannot link %s to %s: %s", src, dst, strerror(errno));
        goto out;
    }
    e->queue = strcmp(to, FORWARD_QUEUE_HOLD) == 0 ? FORWARD_QUEUE_HOLD : FORWARD_QUEUE_ACTIVE;
    if (forward_queue_write_env(queue_dir, e, error_r) < 0) {
        e->queue = from;
        goto out;
    }
    rc = forward_queue_unlink_entry(queue_dir, from, e->id, error_r);
out:
    free(src);
    free(dst);
    return rc;
}

int forward_queue_delete(const char *queue_dir, const struct forward_entry *e, const char **error_r)
{
    return forward_queue_unlink_entry(queue_dir, e->queue, e->id, error_r);
}

void forward_queue_sweep(const char *queue_dir, time_t min_age)
{
    const char *queues[] = {FORWARD_QUEUE_ACTIVE, FORWARD_QUEUE_HOLD};
    time_t now = time(NULL);

    for (size_t i = 0; i < 2; i++) {
        char *dir = forward_queue_path(queue_dir, queues[i]);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            const char *name = de->d_name;
            size_t n = strlen(name);
            int tmp = n > 4 && strcmp(name + n - 4, ".tmp") == 0;
            int eml = n == ARCHIVE_ID_LEN + 4 && strcmp(name + ARCHIVE_ID_LEN, ".eml") == 0;
            if (name[0] == '.' || (!tmp && !eml))
                continue;
            char *path = xasprintf("%s/%s", dir, name);
            struct stat st;
            int stale = lstat(path, &st) == 0 && now - st.st_ctime >= min_age;
            if (stale && eml) {
                char *env = xasprintf("%.*s.env", ARCHIVE_ID_LEN, name);
                char *env_path = xasprintf("%s/%s", dir, env);
                int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                /* Locked: delivery or a move is working on it. */
                stale = access(env_path, F_OK) < 0 && errno == ENOENT && fd >= 0 &&
                        flock(fd, LOCK_EX | LOCK_NB) == 0 && access(env_path, F_OK) < 0;
                if (fd >= 0)
                    close(fd);
                free(env);
                free(env_path);
            }
            if (stale) {
                if (unlink(path) == 0)
                    log_info("forward queue: removed leftover %s", path);
                else if (errno != ENOENT)
                    log_warn("forward queue: cannot remove leftover %s: %s", path, strerror(errno));
            }
            free(path);
        }
        if (d != NULL)
            closedir(d);
        free(dir);
    }
}
