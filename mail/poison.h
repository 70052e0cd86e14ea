/*
 * NAME
 *	poison 3h
 * SUMMARY
 *	the poison-message safety net: which message a process was parsing
 *	when it died, remembered so that the next try does not parse it
 * DESCRIPTION
 *	See mail/poison.c.
 */
#ifndef TAB_POISON_H
#define TAB_POISON_H

#include <stddef.h>
#include <sys/types.h>

/* A key is a SHA-256 in hex: a file name in queue_directory/poison. */
#define POISON_KEY_SIZE 65
#define POISON_NOTE_MAX 200

/* Master, before the first fork: one slot per child process. 0 or -1. */
int poison_board_init(size_t nslots);
/* Master: the board is gone (children inherited their own mapping). */
void poison_board_free(void);
/* Child, right after fork: the slot this process writes. */
void poison_attach(size_t slot);

/* Child: the message with this key is about to be parsed (what: a word
 * for the log, "delivery" or "indexer"); poison_leave() when done. Two
 * stores into shared memory, no system call. No-ops without a slot
 * (tabulariumd -S, the CLI). */
void poison_enter(const char *key, const char *what);
void poison_leave(void);

/* Master: a reaped child. If it died (signal, or non-zero exit) with its
 * slot busy, queue_dir/poison/KEY records that, and the log says so.
 * 1 when a mark was written. */
int poison_reaped(const char *queue_dir, uid_t owner, pid_t pid, int status);
/* Master: SIGKILL every child busy on one message for more than limit_s
 * seconds (poison_reaped() then marks it). Returns how many. */
int poison_watch(unsigned limit_s);
/* Master: remember which pid writes slot (after fork). */
void poison_slot_pid(size_t slot, pid_t pid);

/* Child: 1 when key is marked (note_r gets why, NUL-terminated), 0 not. */
int poison_marked(const char *queue_dir, const char *key, char note_r[POISON_NOTE_MAX]);
/* The message was archived in safe mode: forget the mark. */
void poison_clear(const char *queue_dir, const char *key);

#endif
