/*
 * NAME
 *	cli_filters 3h
 * SUMMARY
 *	the search filter options shared by tabularium search and export
 * SYNOPSIS
 *	A command declares them in its option table (search/cli.h):
 *	struct cli_filters f = CLI_FILTERS_INIT;
 *	const struct cli_syntax syntax = {..., CLI_OPTIONS(CLI_OPTION_FILTERS(&f, NULL), ...)};
 *	cli_parse_options(&syntax, argc, argv, &operand);
 *
 *	or, with its own getopt_long loop:
 *	struct option longopts[CLI_FILTER_NOPTIONS + 4];
 *	struct cli_filters f = CLI_FILTERS_INIT;
 *	memcpy(longopts, cli_filter_options, sizeof(cli_filter_options));
 *	... while ((c = getopt_long(...)) != -1)
 *	        switch (cli_filters_option(&f, "export", c, optarg)) ...
 *	catalog_search(cat, &f.q, ...);
 *	cli_filters_free(&f);
 * DESCRIPTION
 *	One meaning for --from --to --subject --since --until --message-id
 *	--text --attachment --has-attachment --degraded --limit, wherever a command
 *	selects messages: each fills one field of a struct search_query
 *	(backends/catalog.h). The option strings are kept as typed
 *	("--since=2026-11-01"), in order, for a command that must record
 *	the exact query (export's manifest, the audit log).
 *
 *	The getopt values of the filter options are CLI_FILTER_FROM and up
 *	(256 and above): a command's own options use single characters.
 *	The strings in q point into argv (optarg), which outlives the command.
 *
 *	A --text, --subject, --from or --to value that leaves no word once
 *	folded (docs/search.md: "", blanks, punctuation) is a bad value: the
 *	catalog would match nothing, which reads as "no such message".
 * DIAGNOSTICS
 *	cli_filters_option() prints "tabularium CMD: --until \"x\": ..." on
 *	stderr for a bad value and returns -1: exit CLI_EXIT_USAGE.
 */
#ifndef TAB_CLI_FILTERS_H
#define TAB_CLI_FILTERS_H

#include <getopt.h>

#include "backends/catalog.h"
#include "common/strlist.h"

enum cli_filter_opt {
    CLI_FILTER_FROM = 256,
    CLI_FILTER_TO,
    CLI_FILTER_SUBJECT,
    CLI_FILTER_SINCE,
    CLI_FILTER_UNTIL,
    CLI_FILTER_MESSAGE_ID,
    CLI_FILTER_LIMIT,
    CLI_FILTER_TEXT,
    CLI_FILTER_ATTACHMENT,
    CLI_FILTER_HAS_ATTACHMENT,
    CLI_FILTER_DEGRADED,
};

#define CLI_FILTER_NOPTIONS 11

/* The filters' getopt_long entries, without a terminating entry. */
extern const struct option cli_filter_options[CLI_FILTER_NOPTIONS];

struct cli_filters {
    struct search_query q;
    struct strlist given; /* "--name=value" or "--name", as typed, in order */
};

#define CLI_FILTERS_INIT                                                                           \
    {                                                                                              \
        {0}, STRLIST_INIT                                                                          \
    }

/* c and arg as getopt_long returned them: 1 when c is a filter option
 * (now in f), 0 when it is not one, -1 for a bad value (printed). */
int cli_filters_option(struct cli_filters *f, const char *cmd, int c, const char *arg);
/* After catalog_search() with f: when f reads the full-text index
 * (--text, --subject, words of --from/--to), say on stderr "tabularium
 * CMD: note: N messages are not indexed for full-text search yet" if any
 * are (the search could not find them: the user cannot write to the
 * catalog, or it stopped indexing them after 30 s), and warn when
 * messages have stale index entries (catalog_index_health()): both are
 * distinct from "no match". */
void cli_filters_note_unindexed(const struct cli_filters *f, struct catalog *cat, const char *cmd);
/* 1 when at least one filter was given. */
int cli_filters_any(const struct cli_filters *f);
void cli_filters_free(struct cli_filters *f);
/* A catalog_row_fn that adds each match's archive id to the struct
 * strlist ctx: collect first, then change what the search walked. */
int cli_filters_collect_id(const struct archive_record *rec, void *ctx);

#endif
