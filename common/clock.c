/*
 * NAME
 *	clock 3
 * SUMMARY
 *	monotonic milliseconds (see clock.h)
 */
#include "common/clock.h"

#include <time.h>

long long clock_monotonic_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return 0; /* cannot fail for CLOCK_MONOTONIC on Linux */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
