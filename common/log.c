/*
 * NAME
 *	log 3
 * SUMMARY
 *	syslog or stderr logging, one line per event
 * DESCRIPTION
 *	syslog uses the facility chosen by log_init's caller (mail by
 *	default). stderr lines look like Postfix's maillog_file lines:
 *	"Nov 25 16:30:35 tabulariumd[123]: info: ...". Messages are written
 *	with one write(2) so lines from several workers do not interleave.
 *	Control characters in a line are replaced by '?': log lines quote
 *	client input and must stay one line each.
 * DIAGNOSTICS
 *	None: logging never fails the caller.
 */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char log_ident[64] = "tabularium";
static int log_to_stderr = 1;
static int log_is_verbose;

void log_init(const char *ident, int to_stderr, int verbose)
{
    /* A copy: the caller's string may be freed (a reload frees the old
     * configuration), and openlog() keeps the pointer it is given. */
    snprintf(log_ident, sizeof(log_ident), "%s", ident);
    log_to_stderr = to_stderr;
    log_is_verbose = verbose;
    if (!to_stderr) {
        closelog();
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
    }
}

int log_verbose(void)
{
    return log_is_verbose;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char text[4096];
    char line[4200];
    int n;

    if (level == LOG_LEVEL_DEBUG && !log_is_verbose)
        return;
    vsnprintf(text, sizeof(text), fmt, ap);
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (!log_to_stderr) {
        syslog(prio[level], "%s: %s", names[level], text);
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    n = snprintf(line, sizeof(line), "%s %s[%ld]: %s: %s\n", stamp, log_ident, (long)getpid(),
                 names[level], text);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line)) {
        n = sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* Nowhere left to report a logging failure. */
    }
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

#define LOG_FN(fn, level)                                                                          \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vmsg(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
