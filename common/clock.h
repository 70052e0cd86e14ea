/*
 * NAME
 *	clock 3h
 * SUMMARY
 *	monotonic milliseconds for deadlines and timeouts
 * SYNOPSIS
 *	long long deadline = clock_monotonic_ms() + 30000;
 * DESCRIPTION
 *	CLOCK_MONOTONIC in milliseconds: never jumps with the wall clock, and
 *	the same clock in every process of the machine (the catalog writer
 *	compares a request's arrival with SQLite's busy deadline).
 * DIAGNOSTICS
 *	Cannot fail on Linux; 0 if clock_gettime() ever did.
 */
#ifndef TAB_CLOCK_H
#define TAB_CLOCK_H

long long clock_monotonic_ms(void);

#endif
