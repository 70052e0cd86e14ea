/*
 * NAME
 *	retention 3h
 * SUMMARY
 *	retention_period: parsing and the retain-until of a message
 * DESCRIPTION
 *	A retention period is "" (keep forever) or a count and a unit: Nd
 *	(days), Nw (weeks) or Ny (calendar years: the same day and time N
 *	years later; 29 February becomes 1 March). retention_until() is
 *	what the catalog records and what S3 Object Lock receives, so a
 *	message is never released before its period has fully passed.
 * DIAGNOSTICS
 *	retention_parse() returns -1 with a static reason.
 */
#ifndef TAB_RETENTION_H
#define TAB_RETENTION_H

#include <time.h>

struct retention {
    int set;   /* 0: keep forever */
    int count; /* N */
    char unit; /* 'd', 'w' or 'y' */
};

int retention_parse(const char *s, struct retention *r, const char **why_r);
/* arrival + the period; 0 when r is not set (keep forever). */
time_t retention_until(const struct retention *r, time_t arrival);
/* retention_until() for a configured retention_period ("" = 0); the
 * configuration was checked, so a bad value cannot reach here. */
time_t retention_until_spec(const char *period, time_t arrival);

#endif
