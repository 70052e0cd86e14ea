/*
 * NAME
 *	child 3h
 * SUMMARY
 *	the start-up every child of the master runs: privileges, parent
 *	death, name, signals
 * SYNOPSIS
 *	if (child_start("forwarder", NULL, privs, master, forwarder_signal) < 0)
 *	    return 1;
 * DESCRIPTION
 *	One skeleton for the LMTP workers, the forwarder, the indexer and
 *	the catalog writer (master/master.c forks them):
 *	  1. privs_drop() to mail_owner (what only root may read is read
 *	     before: the forwarder's SASL password file);
 *	  2. PR_SET_PDEATHSIG SIGTERM, set after privs_drop() (which clears
 *	     it), and getppid() == master, which covers a master that died
 *	     before: a child never outlives the master (it would keep the
 *	     listener bound, or a second forwarder would run after a restart);
 *	  3. the process name (PR_SET_NAME, "tab-indexer" in ps and top) when
 *	     one is given;
 *	  4. handler for SIGTERM and SIGHUP, without SA_RESTART so that a stop
 *	     interrupts a wait; ^C ignored (it reaches the master, which stops
 *	     the child); SIGCHLD default; SIGPIPE ignored.
 *	SIGTERM and SIGHUP stay blocked as the master left them: a child lets
 *	them in only where it waits (ppoll, epoll_pwait with an empty mask),
 *	so a signal never tears a delivery or an attempt.
 * DIAGNOSTICS
 *	-1 after logging "<what>: <reason>"; the child then exits 1.
 */
#ifndef TAB_CHILD_H
#define TAB_CHILD_H

#include <sys/types.h>

#include "common/privs.h"

int child_start(const char *what, const char *proc_name, const struct privs *privs, pid_t master,
                void (*handler)(int));

/* The same signal set-up alone (step 4). */
void child_signals(void (*handler)(int));
/* One handler, without SA_RESTART (the master's own handlers too). */
void child_set_handler(int sig, void (*handler)(int));

#endif
