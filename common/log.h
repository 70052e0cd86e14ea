/*
 * NAME
 *	log 3h
 * SUMMARY
 *	syslog (mail facility) or stderr logging
 * DESCRIPTION
 *	One line per event, key=value fields; lines about a message start
 *	with its archive id ("3F2A9C01...: queue_id=..., status=stored").
 *	log_init() chooses syslog or stderr; stderr lines carry a timestamp,
 *	the program name and pid, like Postfix's maillog_file.
 */
#ifndef TAB_LOG_H
#define TAB_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* ident: syslog name; to_stderr: 1 = stderr, 0 = syslog; verbose: debug lines. */
void log_init(const char *ident, int to_stderr, int verbose);
int log_verbose(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
