/*
 * NAME
 *	result 3
 * SUMMARY
 *	names of enum tab_result values for log lines
 */
#include "common/result.h"

#include <stddef.h>

const char *tab_result_name(enum tab_result r)
{
    static const char *const names[] = {
        [TAB_OK] = "ok", [TAB_RETRY] = "retry", [TAB_PERM] = "perm"};

    return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}
