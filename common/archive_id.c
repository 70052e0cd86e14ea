/*
 * NAME
 *	archive_id 3
 * SUMMARY
 *	unique, time-ordered archive identifiers
 * DESCRIPTION
 *	seconds (8 hex) + microseconds (5 hex) + pid (5 hex) + random (2 hex).
 *	Within one process the microsecond field is forced to increase, so
 *	two ids from the same process never collide; the pid field separates
 *	processes. The result is [0-9A-F]{20}: safe in paths, SQL and headers.
 */
#include "common/archive_id.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

void archive_id_new(char id[ARCHIVE_ID_SIZE])
{
    static unsigned long long last_us;
    struct timeval tv;
    unsigned char rnd = 0;
    unsigned long long us;

    gettimeofday(&tv, NULL);
    us = (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
    if (us <= last_us)
        us = last_us + 1;
    last_us = us;
    if (getrandom(&rnd, 1, GRND_NONBLOCK) != 1)
        rnd = (unsigned char)(us ^ (unsigned long long)getpid());
    snprintf(id, ARCHIVE_ID_SIZE, "%08llX%05llX%05X%02X", (us / 1000000ULL) & 0xffffffffULL,
             us % 1000000ULL, (unsigned)getpid() & 0xfffff, rnd);
}

int archive_id_valid(const char *s)
{
    if (s == NULL || strlen(s) != ARCHIVE_ID_LEN)
        return 0;
    return strspn(s, "0123456789ABCDEF") == ARCHIVE_ID_LEN;
}
