/*
 * NAME
 *	cli_options 3
 * SUMMARY
 *	parse a tabularium command's options from its declared table
 * SYNOPSIS
 *	#include "search/cli.h"
 *
 *	int cli_parse_options(const struct cli_syntax *syntax, int argc,
 *		char **argv, int *operand_r);
 * DESCRIPTION
 *	One getopt_long loop for every command: the table of struct
 *	cli_option (search/cli.h) becomes getopt_long's long options, in
 *	the table's order, with "help" last and -h as the one short option;
 *	a CLI_OPT_FILTERS entry stands for the search filters of
 *	search/cli_filters.c, whose values it hands to cli_filters_option().
 *	The options are taken in the order they were typed, so the first
 *	bad one is the one reported.
 *
 *	Owns what every command says about its command line as a whole:
 *	--help, a missing value, an unknown option, an unexpected operand.
 *	What an option's value means belongs to the command (its fn), or
 *	to search/cli_filters.c.
 * DIAGNOSTICS
 *	One line on stderr through the syntax's usage error (by default
 *	"tabularium CMD: unknown option --x (tabularium CMD --help)") and
 *	CLI_EXIT_USAGE. A table longer than CLI_OPTIONS_MAX is a
 *	programming error: abort().
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "search/cli.h"
#include "search/cli_filters.h"

/* A command's own options, not counting the filters and --help. */
#define CLI_OPTIONS_MAX 16
/* getopt_long's value for table entry i: clear of the filters' 256... */
#define CLI_OPTIONS_VAL 512

static int cli_take_option(const struct cli_syntax *syntax, const struct cli_option *o,
                           const char *word, const char *value)
{
    switch (o->kind) {
    case CLI_OPT_FLAG:
        *(int *)o->dest = 1;
        return 0;
    case CLI_OPT_STRING:
        *(const char **)o->dest = value;
        return 0;
    case CLI_OPT_VALUE:
        return o->fn(syntax->command, word, value, o->dest);
    default:
        abort(); /* the filters never get here */
    }
}

int cli_parse_options(const struct cli_syntax *syntax, int argc, char **argv, int *operand_r)
{
    struct option longopts[CLI_OPTIONS_MAX + CLI_FILTER_NOPTIONS + 2];
    cli_usage_error_fn *usage_error =
        syntax->usage_error != NULL ? syntax->usage_error : cli_usage_error;
    const struct cli_option *filters = NULL;
    size_t n = 0, own = 0;
    int c, status;

    for (const struct cli_option *o = syntax->options; o->kind != CLI_OPT_END; o++) {
        if (o->kind == CLI_OPT_FILTERS) {
            if (filters != NULL)
                abort(); /* one set of filters */
            for (size_t i = 0; i < CLI_FILTER_NOPTIONS; i++)
                longopts[n++] = cli_filter_options[i];
            filters = o;
            continue;
        }
        if (++own > CLI_OPTIONS_MAX)
            abort();
        longopts[n++] =
            (struct option){o->name, o->kind == CLI_OPT_FLAG ? no_argument : required_argument,
                            NULL, CLI_OPTIONS_VAL + (int)(o - syntax->options)};
    }
    longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* glibc: start over, argv[0] is the command name */
    opterr = 0; /* the messages are ours */
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(syntax->help, stdout);
            return CLI_EXIT_FOUND;
        }
        if (c == ':')
            return usage_error(syntax->command, "option %s needs a value", argv[optind - 1]);
        if (filters != NULL) {
            switch (cli_filters_option(filters->dest, syntax->command, c, optarg)) {
            case 1:
                status = filters->fn != NULL
                             ? filters->fn(syntax->command, argv[optind - 1], optarg, filters->dest)
                             : 0;
                if (status != 0)
                    return status;
                continue;
            case -1:
                return CLI_EXIT_USAGE;
            default:
                break;
            }
        }
        if (c < CLI_OPTIONS_VAL) /* '?': getopt_long returns no other value */
            return usage_error(syntax->command, "unknown option %s", argv[optind - 1]);
        status = cli_take_option(syntax, &syntax->options[c - CLI_OPTIONS_VAL], argv[optind - 1],
                                 optarg);
        if (status != 0)
            return status;
    }
    if (syntax->operands != CLI_OPERANDS_ANY && argc - optind > syntax->operands)
        return usage_error(syntax->command, "unexpected argument \"%s\"",
                           argv[optind + syntax->operands]);
    *operand_r = optind;
    return CLI_OPTIONS_PARSED;
}

int cli_option_since(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)word;
    if (record_parse_time(value, dest) < 0)
        return cli_usage_error(cmd, "--since \"%s\": expected YYYY-MM-DD or ISO 8601", value);
    return 0;
}

struct catalog *cli_catalog_that(struct cli_context *ctx, const char *cmd,
                                 enum catalog_capability can, const char *lacks)
{
    struct catalog *cat = ctx->catalog(ctx);

    if (cat != NULL && !catalog_can(cat, can)) {
        fprintf(stderr, "tabularium %s: the %s catalog %s\n", cmd, catalog_name(cat), lacks);
        return NULL;
    }
    return cat;
}
