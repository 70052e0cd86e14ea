/*
 * NAME
 *	result 3
 * SUMMARY
 *	names of enum tab_result values for log lines
 */
#include "common/result.h"

const char *tab_result_name(enum tab_result r)
{
    switch (r) {
    case TAB_OK:
        return "ok";
    case TAB_RETRY:
        return "retry";
    case TAB_PERM:
        return "perm";
    case TAB_STOPPED:
        return "stopped";
    }
    return "unknown";
}
