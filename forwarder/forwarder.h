/*
 * NAME
 *	forwarder 3h
 * SUMMARY
 *	the process that forwards queued archive copies by SMTP
 * DESCRIPTION
 *	Started and supervised by the master when forward_recipient is set
 *	(master/master.c). Delivers the entries of the active forward queue
 *	(forwarder/queue.h) with forwarder/smtp_client.h, removes an entry
 *	only after the remote 250, retries with exponential backoff, and
 *	moves permanently refused copies to the hold queue. Never bounces,
 *	never drops.
 */
#ifndef TAB_FORWARDER_H
#define TAB_FORWARDER_H

#include <sys/types.h>
#include <time.h>

#include "common/config.h"
#include "common/privs.h"

/* The child's whole life: read the SASL password file (still as root),
 * drop privileges, deliver until SIGTERM or SIGHUP, or until master (the
 * parent's pid) dies. Returns the exit status. */
int forwarder_main(const struct tab_config *cfg, const struct privs *privs, pid_t master);

/* Wait before attempt number attempts + 1: minimal backoff doubled after
 * each failure, at most maximal backoff. */
time_t forwarder_backoff(const struct tab_config *cfg, int attempts);

#endif
