/*
 * NAME
 *	poison 3
 * SUMMARY
 *	the poison-message safety net: which message a process was parsing
 *	when it died, remembered so that the next try does not parse it
 * SYNOPSIS
 *	#include "mail/poison.h"
 *
 *	master:	poison_board_init(n); fork; poison_slot_pid(slot, pid);
 *		poison_reaped(queue_dir, owner, pid, status); poison_watch(limit);
 *	child:	poison_attach(slot); poison_enter(key, "delivery");
 *		... parse ...; poison_leave();
 *		poison_marked(queue_dir, key, note); poison_clear(queue_dir, key);
 * DESCRIPTION
 *	A message whose content makes a parser crash or run away (a library
 *	recursing on hostile nesting, a bug we have not found) would kill
 *	every worker that tries it, on every retry, until Postfix expires it;
 *	archive copies never bounce, so it would be lost in silence. This
 *	module makes the second try different from the first.
 *
 *	The board is one shared anonymous mapping made by the master before
 *	it forks, with one slot per child process. Before a child parses a
 *	message it writes the message's key (the SHA-256 of the original;
 *	for the indexer, of the copy's location) into its slot and marks the
 *	slot busy; afterwards it clears the mark: two stores, no system call
 *	on the delivery path. When the master reaps a child that died (a
 *	signal, or a non-zero exit) while its slot was busy, it writes
 *	queue_directory/poison/KEY, one line saying who died how and when,
 *	and logs it. poison_watch() kills a child that has been busy on one
 *	message for longer than index_time_limit, so a parser that loops
 *	ends the same way as one that crashes.
 *
 *	The next delivery of the message (the same bytes, so the same
 *	SHA-256) finds the mark with poison_marked() and is archived in safe
 *	mode by lmtpd/delivery.c: stored byte-exact, catalogued from the
 *	envelope alone, flagged index=degraded; the mark is then cleared.
 *	`tabularium reindex` retries the index later.
 *
 *	The board must never decide a reply: a mark only changes how a
 *	message is indexed. A mark lost (the machine crashed before the
 *	master wrote it) only costs one more dead worker.
 * DIAGNOSTICS
 *	poison_reaped() logs "worker PID died (signal N) while parsing
 *	sha256=KEY: its next delivery is archived in safe mode" at warning
 *	level, and an error when the mark cannot be written. Keys that are
 *	not 64 hex digits are ignored: a key is a file name.
 */
#include "mail/poison.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/record.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/safe_file.h"

struct poison_slot {
    pid_t pid;          /* written by the master after fork */
    int busy;           /* 1 while the child parses key (atomic) */
    int killed;         /* the master killed it for running too long */
    long long since_ms; /* clock_monotonic_ms() at poison_enter() */
    char key[POISON_KEY_SIZE];
    char what[16];
};

static struct poison_slot *poison_board;
static size_t poison_nslots;
static struct poison_slot *poison_mine; /* the child's slot, or NULL */

int poison_board_init(size_t nslots)
{
    void *p = mmap(NULL, nslots * sizeof(struct poison_slot), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    poison_board = p;
    poison_nslots = nslots;
    return 0;
}

void poison_board_free(void)
{
    if (poison_board != NULL)
        (void)munmap(poison_board, poison_nslots * sizeof(struct poison_slot));
    poison_board = NULL;
    poison_nslots = 0;
}

void poison_attach(size_t slot)
{
    poison_mine = poison_board != NULL && slot < poison_nslots ? &poison_board[slot] : NULL;
}

void poison_slot_pid(size_t slot, pid_t pid)
{
    if (poison_board != NULL && slot < poison_nslots)
        __atomic_store_n(&poison_board[slot].pid, pid, __ATOMIC_RELEASE);
}

void poison_enter(const char *key, const char *what)
{
    if (poison_mine == NULL)
        return;
    snprintf(poison_mine->key, sizeof(poison_mine->key), "%s", key);
    snprintf(poison_mine->what, sizeof(poison_mine->what), "%s", what);
    poison_mine->since_ms = clock_monotonic_ms();
    __atomic_store_n(&poison_mine->busy, 1, __ATOMIC_RELEASE);
}

void poison_leave(void)
{
    if (poison_mine != NULL)
        __atomic_store_n(&poison_mine->busy, 0, __ATOMIC_RELEASE);
}

static int poison_key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n] != '\0'; n++)
        if (!((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f')))
            return 0;
    return n == POISON_KEY_SIZE - 1;
}

static void poison_path(const char *queue_dir, const char *key, char *buf, size_t size)
{
    snprintf(buf, size, "%s/poison/%s", queue_dir, key);
}

static void poison_write_mark(const char *queue_dir, uid_t owner, const struct poison_slot *s,
                              pid_t pid, int status)
{
    char dir[4096], path[4200], note[POISON_NOTE_MAX], at[21], how[64];
    int fd;

    if (s->killed)
        snprintf(how, sizeof(how), "killed after running longer than index_time_limit");
    else if (WIFSIGNALED(status))
        snprintf(how, sizeof(how), "died (signal %d)", WTERMSIG(status));
    else
        snprintf(how, sizeof(how), "died (exit status %d)", WEXITSTATUS(status));
    record_format_time(time(NULL), at);
    snprintf(note, sizeof(note), "%s process %ld %s while parsing it at %s", s->what, (long)pid,
             how, at);
    log_warn("%s %ld %s while parsing sha256=%s: its next try is archived in safe mode "
             "(index=degraded)",
             s->what, (long)pid, how, s->key);

    snprintf(dir, sizeof(dir), "%s/poison", queue_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_error("poison mark for sha256=%s: mkdir %s: %s", s->key, dir, strerror(errno));
        return;
    }
    if (chown(dir, owner, (gid_t)-1) < 0)
        log_warn("poison mark: chown %s: %s", dir, strerror(errno));
    poison_path(queue_dir, s->key, path, sizeof(path));
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("poison mark %s: %s", path, strerror(errno));
        return;
    }
    /* The workers run as mail_owner: they read the mark and remove it. */
    int bad = fchown(fd, owner, (gid_t)-1) < 0 || safe_write_all(fd, note, strlen(note)) < 0;
    if (close(fd) < 0)
        bad = 1;
    if (bad) {
        log_error("poison mark %s: %s", path, strerror(errno));
        (void)unlink(path);
    }
}

int poison_reaped(const char *queue_dir, uid_t owner, pid_t pid, int status)
{
    int marked = 0;

    for (size_t i = 0; i < poison_nslots; i++) {
        struct poison_slot *s = &poison_board[i];
        if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) != pid)
            continue;
        int busy = __atomic_load_n(&s->busy, __ATOMIC_ACQUIRE);
        int failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (busy && failed && poison_key_valid(s->key)) {
            poison_write_mark(queue_dir, owner, s, pid, status);
            marked = 1;
        }
        memset(s, 0, sizeof(*s));
    }
    return marked;
}

int poison_watch(unsigned limit_s)
{
    long long now = clock_monotonic_ms();
    int n = 0;

    for (size_t i = 0; i < poison_nslots; i++) {
        struct poison_slot *s = &poison_board[i];
        pid_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
        if (pid <= 0 || s->killed || !__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE))
            continue;
        if (now - s->since_ms <= (long long)limit_s * 1000)
            continue;
        s->killed = 1;
        log_warn("%s process %ld has parsed sha256=%s for more than %u s: killing it", s->what,
                 (long)pid, s->key, limit_s);
        (void)kill(pid, SIGKILL);
        n++;
    }
    return n;
}

int poison_marked(const char *queue_dir, const char *key, char note_r[POISON_NOTE_MAX])
{
    char path[4200];
    ssize_t n;
    int fd;

    note_r[0] = '\0';
    if (!poison_key_valid(key))
        return 0;
    poison_path(queue_dir, key, path, sizeof(path));
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, note_r, POISON_NOTE_MAX - 1);
    (void)close(fd);
    note_r[n > 0 ? n : 0] = '\0';
    if (n <= 0)
        snprintf(note_r, POISON_NOTE_MAX, "a process died while parsing it");
    return 1;
}

void poison_clear(const char *queue_dir, const char *key)
{
    char path[4200];

    if (!poison_key_valid(key))
        return;
    poison_path(queue_dir, key, path, sizeof(path));
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("poison mark %s: %s", path, strerror(errno));
}
