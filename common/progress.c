/*
 * NAME
 *	progress 3
 * SUMMARY
 *	a progress line on stderr, only for a terminal
 * DESCRIPTION
 *	The CLI's long runs (verify, export) call progress_update() for
 *	every item; this module decides whether and when to draw, so the
 *	callers hold no clock and no terminal test. Each update reads
 *	CLOCK_MONOTONIC (a vDSO call, far cheaper than the item), and the
 *	line is written at most every PROGRESS_INTERVAL_NS, with one
 *	write(2) so that it is never torn.
 *
 *	It writes nothing but its own line, and erases it when asked or at
 *	the end.
 * DIAGNOSTICS
 *	Write errors on stderr are ignored: a progress line is not worth
 *	failing a command.
 */
#include "common/progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/strlist.h"

/* At most four lines a second. */
#define PROGRESS_INTERVAL_NS 250000000LL
#define PROGRESS_ERASE "\r\033[K"

struct progress {
    const char *what, *unit;
    uint64_t total;
    int64_t start_ns, drawn_ns;
    int shown;   /* a line is on the terminal */
    int cleared; /* ... was, until progress_clear(): draw it again at once */
};

static int64_t progress_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* n with a thousands separator: "1,234,567". */
static void progress_count(char *buf, size_t size, uint64_t n)
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%" PRIu64, n);
    size_t o = 0;

    for (int i = 0; i < len && o + 1 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < size)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* Seconds as "0:56", "12:03" or "3:02:09". */
static void progress_duration(char *buf, size_t size, uint64_t s)
{
    if (s >= 3600)
        snprintf(buf, size, "%" PRIu64 ":%02u:%02u", s / 3600, (unsigned)(s / 60 % 60),
                 (unsigned)(s % 60));
    else
        snprintf(buf, size, "%u:%02u", (unsigned)(s / 60), (unsigned)(s % 60));
}

size_t progress_format(char *buf, size_t size, const char *what, const char *unit, uint64_t done,
                       uint64_t total, double elapsed)
{
    char d[32], t[32], rate_s[32], left[32];
    size_t len;
    int n;

    if (size == 0)
        return 0;
    progress_count(d, sizeof(d), done);
    if (total > 0) {
        progress_count(t, sizeof(t), total);
        n = snprintf(buf, size, "%s: %s of %s %s (%.1f%%)", what, d, t, unit,
                     100.0 * (double)(done < total ? done : total) / (double)total);
    } else {
        n = snprintf(buf, size, "%s: %s %s", what, d, unit);
    }
    len = n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
    if (elapsed >= 0.25 && done > 0) {
        double rate = (double)done / elapsed;
        progress_count(rate_s, sizeof(rate_s), (uint64_t)(rate + 0.5));
        n = snprintf(buf + len, size - len, ", %s/s", rate_s);
        len = n < 0 ? len : len + (size_t)n < size ? len + (size_t)n : size - 1;
        if (total > done) {
            progress_duration(left, sizeof(left), (uint64_t)((double)(total - done) / rate + 0.5));
            n = snprintf(buf + len, size - len, ", %s left", left);
            len = n < 0 ? len : len + (size_t)n < size ? len + (size_t)n : size - 1;
        }
    }
    return len;
}

struct progress *progress_new(const char *what, const char *unit, uint64_t total)
{
    struct progress *p;

    if (!isatty(STDERR_FILENO))
        return NULL;
    p = xcalloc(1, sizeof(*p));
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->start_ns = progress_now();
    p->drawn_ns = p->start_ns;
    return p;
}

void progress_update(struct progress *p, uint64_t done)
{
    char line[256];
    size_t len;
    int64_t now;

    if (p == NULL)
        return;
    now = progress_now();
    if (now - p->drawn_ns < PROGRESS_INTERVAL_NS && !(p->total > 0 && done == p->total) &&
        !p->cleared)
        return;
    p->drawn_ns = now;
    memcpy(line, PROGRESS_ERASE, strlen(PROGRESS_ERASE));
    len = strlen(PROGRESS_ERASE);
    len += progress_format(line + len, sizeof(line) - len, p->what, p->unit, done, p->total,
                           (double)(now - p->start_ns) / 1e9);
    if (write(STDERR_FILENO, line, len) > 0) {
        p->shown = 1;
        p->cleared = 0;
    }
}

void progress_clear(struct progress *p)
{
    if (p == NULL || !p->shown)
        return;
    if (write(STDERR_FILENO, PROGRESS_ERASE, strlen(PROGRESS_ERASE)) > 0) {
        p->shown = 0;
        p->cleared = 1;
    }
}

void progress_end(struct progress **p)
{
    if (*p == NULL)
        return;
    progress_clear(*p);
    free(*p);
    *p = NULL;
}
