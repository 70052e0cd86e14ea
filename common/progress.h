/*
 * NAME
 *	progress 3h
 * SUMMARY
 *	a progress line on stderr for long CLI runs: count, rate, time left
 * SYNOPSIS
 *	struct progress *p = progress_new("verify", "copies", total);
 *	for (...) progress_update(p, done);
 *	progress_clear(p);	before printing something else on the terminal
 *	progress_end(&p);
 * DESCRIPTION
 *	Draws one line on stderr, redrawn in place ("\r") at most four times
 *	a second, and only when stderr is a terminal: a run from cron, a
 *	pipe or a test sees nothing at all. progress_end() erases the line,
 *	so what the command prints itself is left as it would be without;
 *	progress_clear() erases it for a moment (the next update draws it
 *	again at once, whatever the interval), for a command that prints a line of its own
 *meanwhile.
 *
 *	progress_format() is the line itself, apart from any clock or
 *	terminal: "verify: 12,345 of 300,000 copies (4.1%), 5,120/s, 0:56
 *	left"; without a total (0): "export: 12,345 copies, 5,120/s". The
 *	rate and the time left appear once a quarter of a second has passed
 *	and something was done.
 * DIAGNOSTICS
 *	None: a line that cannot be written is not worth failing a command.
 */
#ifndef TAB_PROGRESS_H
#define TAB_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress;

/* what and unit must outlive the progress (string literals). total 0:
 * unknown. NULL when stderr is not a terminal (every call accepts it). */
struct progress *progress_new(const char *what, const char *unit, uint64_t total);
void progress_update(struct progress *p, uint64_t done);
void progress_clear(struct progress *p);
/* Erase the line, free p and set it to NULL. */
void progress_end(struct progress **p);

/* The line for done of total (0: unknown) after elapsed seconds, into
 * buf (always NUL-terminated); its length. */
size_t progress_format(char *buf, size_t size, const char *what, const char *unit, uint64_t done,
                       uint64_t total, double elapsed);

#endif
