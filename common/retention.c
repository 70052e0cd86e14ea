/*
 * NAME
 *	retention 3
 * SUMMARY
 *	retention periods in days, weeks or calendar years
 * DESCRIPTION
 *	Years are calendar years computed in UTC with timegm(), not 365-day
 *	blocks, so "7y" from 2026-03-01 ends on 2033-03-01 whatever the leap
 *	days in between. Counts are bounded (days and weeks to 100 years,
 *	years to 100) so the result never overflows time_t.
 */
#define _DEFAULT_SOURCE /* timegm */
#include "common/retention.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int retention_parse(const char *s, struct retention *r, const char **why_r)
{
    char *end;
    long n;

    memset(r, 0, sizeof(*r));
    if (s == NULL || *s == '\0')
        return 0;
    if (!isdigit((unsigned char)*s)) {
        *why_r = "use a number and a unit: 90d, 26w, 7y (or empty: keep forever)";
        return -1;
    }
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno != 0 || (*end != 'd' && *end != 'w' && *end != 'y') || end[1] != '\0') {
        *why_r = "use a number and a unit: 90d, 26w, 7y (or empty: keep forever)";
        return -1;
    }
    if (n < 1 || (*end == 'y' && n > 100) || (*end == 'w' && n > 5218) ||
        (*end == 'd' && n > 36525)) {
        *why_r = "out of range (1 day to 100 years)";
        return -1;
    }
    r->set = 1;
    r->count = (int)n;
    r->unit = *end;
    return 0;
}

time_t retention_until(const struct retention *r, time_t arrival)
{
    struct tm tm;

    if (!r->set)
        return 0;
    switch (r->unit) {
    case 'd':
        return arrival + (time_t)r->count * 86400;
    case 'w':
        return arrival + (time_t)r->count * 7 * 86400;
    default:
        gmtime_r(&arrival, &tm);
        tm.tm_year += r->count;
        /* 29 February of a year that has none: timegm() normalises the
         * date to 1 March, which is later, never earlier. */
        return timegm(&tm);
    }
}

time_t retention_until_spec(const char *period, time_t arrival)
{
    struct retention r;
    const char *why;

    if (retention_parse(period, &r, &why) < 0)
        return 0;
    return retention_until(&r, arrival);
}
