/*
 * NAME
 *	forward_queue 3h
 * SUMMARY
 *	the durable queue of archive copies waiting to be forwarded by SMTP
 * DESCRIPTION
 *	Lives under $queue_directory/forward/, in two queues:
 *	    active/  copies the forwarder delivers, with retries
 *	    hold/    copies a server rejected for good (5xx) or that cannot
 *	             be sent as they are; only "tabularium queue retry" moves
 *	             them back. Nothing ever leaves the queue except after a
 *	             remote 250 or "tabularium queue delete ID --force".
 *	An entry is "<archive id>.eml", the wrapped copy exactly as stored (a
 *	hard link to the spool file the store received, else a copy; never
 *	modified), and "<archive id>.env", its envelope and retry state in
 *	"name=value" lines, always rewritten atomically (tmp, fsync, rename,
 *	fsync of the directory). The .eml is made durable before the .env
 *	appears; an entry exists when its .env does.
 *
 *	Every change to an existing entry happens under an flock() on its
 *	.eml (the same inode in both queues, so a move keeps the lock):
 *	delivery holds it, through the spool file descriptor, from
 *	forward_queue_add() until its catalog commit, so the forwarder never
 *	sends a copy that delivery may still withdraw.
 *
 *	A move (active <-> hold) links the .eml and writes the .env in the
 *	target queue before removing them from the source. After a crash in
 *	between, the entry with the newer .env is the real one;
 *	forward_queue_lock() finishes such a move.
 * DIAGNOSTICS
 *	Functions return -1 (or FORWARD_QUEUE_ERROR) with *error_r pointing
 *	at a message in a static buffer, valid until the next call.
 */
#ifndef TAB_FORWARD_QUEUE_H
#define TAB_FORWARD_QUEUE_H

#include <sys/types.h>
#include <time.h>

#include "backends/record.h"
#include "common/config.h"
#include "common/strlist.h"

#define FORWARD_QUEUE_ACTIVE "active"
#define FORWARD_QUEUE_HOLD "hold"

struct forward_entry {
    char id[ARCHIVE_ID_SIZE];
    const char *queue; /* FORWARD_QUEUE_ACTIVE or FORWARD_QUEUE_HOLD */
    char *sender;      /* MAIL FROM address, "" for the null sender */
    char *recipient;   /* RCPT TO address */
    int smtputf8;      /* an address in the envelope or the copy's From:/To: is UTF-8 */
    time_t queued;     /* when delivery queued the copy */
    int attempts;
    time_t last_attempt; /* 0: never tried */
    time_t next_attempt; /* active: not before then */
    char *reason;        /* last deferral or the hold reason, "" none */
    off_t size;          /* of the .eml (read from the file system) */
};

/* Outcome of forward_queue_lock(). */
enum forward_queue_lock_result {
    FORWARD_QUEUE_LOCKED = 0,
    FORWARD_QUEUE_BUSY,  /* another process has it (delivery, forwarder, CLI) */
    FORWARD_QUEUE_GONE,  /* no such entry (any more) */
    FORWARD_QUEUE_ERROR, /* I/O error or a corrupt .env */
};

/* Delivery: queue rec's wrapped copy (wrap_fd, at wrap_path) for
 * cfg->forward_recipient before the catalog commit, and lock it (flock on
 * wrap_fd) so that the forwarder waits for that commit; the lock ends when
 * wrap_fd is closed. Durable when it returns 0. */
int forward_queue_add(const struct tab_config *cfg, const struct archive_record *rec, int wrap_fd,
                      const char *wrap_path, const char **error_r);
/* Take an entry back out of the active queue (delivery, after a failed
 * catalog commit, still holding the lock). */
int forward_queue_remove(const char *queue_dir, const char *id, const char **error_r);

/* Create forward/active and forward/hold when missing. */
int forward_queue_ensure(const char *queue_dir, const char **error_r);
/* "<queue_dir>/forward/<queue>" (heap). */
char *forward_queue_path(const char *queue_dir, const char *queue);
/* The ids of queue's entries (with a .env), sorted. A missing queue is empty. */
int forward_queue_list(const char *queue_dir, const char *queue, struct strlist *ids_r,
                       const char **error_r);
/* The modification time of queue/<id>.env: it changes with every
 * rewrite, so a reader can cache what it read. -1 when there is none. */
int forward_queue_stat(const char *queue_dir, const char *queue, const char *id,
                       struct timespec *mtime_r);
/* Read an entry without locking it (for listing). 0, or -1 with errno
 * ENOENT when there is no such entry, else another error. */
int forward_queue_read(const char *queue_dir, const char *queue, const char *id,
                       struct forward_entry *entry_r, const char **error_r);
/* Find id in either queue, lock it and read it. *fd_r: the .eml opened
 * for reading, holding the lock until forward_queue_unlock(). wait: block
 * for the lock instead of answering BUSY. */
enum forward_queue_lock_result forward_queue_lock(const char *queue_dir, const char *id, int wait,
                                                  struct forward_entry *entry_r, int *fd_r,
                                                  const char **error_r);
void forward_queue_unlock(int *fd);
/* Rewrite the entry's .env in entry->queue (locked entries only). */
int forward_queue_update(const char *queue_dir, const struct forward_entry *entry,
                         const char **error_r);
/* Move a locked entry to queue to, with its new state; entry->queue
 * becomes to. */
int forward_queue_move(const char *queue_dir, struct forward_entry *entry, const char *to,
                       const char **error_r);
/* Remove a locked entry (after a remote 250, or deleted by the operator). */
int forward_queue_delete(const char *queue_dir, const struct forward_entry *entry,
                         const char **error_r);
/* Remove what crashes leave behind: an .eml without its .env and
 * temporary files, older than min_age seconds and not locked. */
void forward_queue_sweep(const char *queue_dir, time_t min_age);
void forward_queue_entry_free(struct forward_entry *entry);

#endif
