/*
 * NAME
 *	lmtp_session 3h
 * SUMMARY
 *	one LMTP session (RFC 2033): command table + state
 */
#ifndef TAB_LMTP_SESSION_H
#define TAB_LMTP_SESSION_H

#include <signal.h>

#include "lmtpd/delivery.h"

/* Serve one client on in_fd/out_fd until QUIT, EOF, timeout, too many
 * errors or a stop request. client: for log lines ("127.0.0.1:41234").
 * Returns 0 after a normal end, -1 when the session ended abnormally. */
int lmtp_session_run(int in_fd, int out_fd, const char *client, struct delivery_ctx *ctx,
                     volatile sig_atomic_t *stop_flag);

#endif
