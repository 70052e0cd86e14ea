/*
 * NAME
 *	cli_output 3h
 * SUMMARY
 *	structured output printer for the tabularium CLI (text or JSON)
 * SYNOPSIS
 *	struct cli_output *o = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
 *	o->begin_map(o); o->map_key(o, "size"); o->integer(o, 5120); o->end(o);
 *	o->separator(o);
 *	cli_output_free(&o);
 * DESCRIPTION
 *	A command describes what it prints (maps, lists, strings, numbers)
 *	and the printer decides how it looks, as notmuch's sprinter does.
 *
 *	JSON: one compact value per top-level item; separator() ends the
 *	item with a newline (JSON Lines). Strings are escaped (", \, and
 *	control characters as \u00XX) and bytes that are not valid UTF-8
 *	become U+FFFD, so the output is valid JSON whatever the catalog holds.
 *	A NULL string is JSON null.
 *
 *	Text: keys are not printed; the items of a map are separated by two
 *	spaces, the items of a list by ", "; null is "-". Strings are made
 *	safe for a terminal: tab, CR and LF become a space, other control
 *	characters (C0, DEL, C1) become "?", invalid UTF-8 becomes U+FFFD.
 *	separator() ends the line.
 *
 *	Nesting deeper than CLI_OUTPUT_MAX_DEPTH, end() without a begin, or
 *	a key outside a map are programmer errors and abort.
 * DIAGNOSTICS
 *	Output goes through stdio; the caller checks ferror()/fflush() on
 *	its stream at the end.
 */
#ifndef TAB_CLI_OUTPUT_H
#define TAB_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_OUTPUT_MAX_DEPTH 16

struct cli_output {
    void (*begin_map)(struct cli_output *o);
    void (*begin_list)(struct cli_output *o);
    /* Close the innermost map or list. */
    void (*end)(struct cli_output *o);
    /* Inside a map, before each value. */
    void (*map_key)(struct cli_output *o, const char *key);
    /* s == NULL prints null. */
    void (*string)(struct cli_output *o, const char *s);
    /* len bytes of s, which may contain NUL. */
    void (*string_len)(struct cli_output *o, const char *s, size_t len);
    void (*integer)(struct cli_output *o, int64_t n);
    void (*boolean)(struct cli_output *o, int b);
    void (*null)(struct cli_output *o);
    /* End a top-level item: a newline. */
    void (*separator)(struct cli_output *o);
};

struct cli_output *cli_output_json_new(FILE *out);
struct cli_output *cli_output_text_new(FILE *out);
/* Frees the printer (not its stream) and sets *o to NULL. */
void cli_output_free(struct cli_output **o);
/* Inside a map: a key and its value (map_key(), then string() or integer()). */
void cli_output_key_string(struct cli_output *o, const char *key, const char *s);
void cli_output_key_integer(struct cli_output *o, const char *key, int64_t n);
/* "envelope_to": the list of a record's recipient addresses. */
struct archive_record;
void cli_output_envelope_to(struct cli_output *o, const struct archive_record *rec);

#endif
