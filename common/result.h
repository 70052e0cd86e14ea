/*
 * NAME
 *	result 3h
 * SUMMARY
 *	outcome of every driver and delivery step
 * DESCRIPTION
 *	TAB_OK: done and durable. TAB_RETRY: temporary trouble, the client
 *	must try again later (LMTP 4xx). TAB_PERM: the request itself is
 *	wrong and will never succeed; lmtpd/delivery.c alone decides whether
 *	that may become a 5xx (for archive copies it normally may not).
 *	TAB_STOPPED: not a failure but the caller's own request to stop,
 *	returned only by calls that take a callback (a store's read() whose
 *	callback returned non-zero); the caller knows why.
 */
#ifndef TAB_RESULT_H
#define TAB_RESULT_H

enum tab_result {
    TAB_OK = 0,
    TAB_RETRY = 1,
    TAB_PERM = 2,
    TAB_STOPPED = 3,
};

const char *tab_result_name(enum tab_result r);

#endif
