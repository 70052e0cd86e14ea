/*
 * NAME
 *	archive_id 3h
 * SUMMARY
 *	unique archive identifiers
 * DESCRIPTION
 *	An archive id is 20 upper-case hex digits: seconds (8), microseconds
 *	(5), pid (5, low bits) and 2 random digits, so ids sort by arrival time
 *	and two processes never produce the same id in the same microsecond.
 *	Safe in file names, SQL, headers and log lines without escaping.
 */
#ifndef TAB_ARCHIVE_ID_H
#define TAB_ARCHIVE_ID_H

#include <stddef.h>

#define ARCHIVE_ID_LEN 20
#define ARCHIVE_ID_SIZE (ARCHIVE_ID_LEN + 1)

void archive_id_new(char id[ARCHIVE_ID_SIZE]);
/* 1 when s is a well-formed archive id (so it may be used in a path). */
int archive_id_valid(const char *s);

#endif
