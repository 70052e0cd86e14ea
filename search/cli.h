/*
 * NAME
 *	cli 3h
 * SUMMARY
 *	the tabularium CLI's commands and what main() hands them
 * DESCRIPTION
 *	search/tabularium.c parses the global options (-c, -o), looks the
 *	command up in its table and calls it with the arguments that follow
 *	the command name (argv[0] is the command name) and a struct
 *	cli_context. A command declares its options in a table (struct
 *	cli_option) that cli_parse_options() (search/cli_options.c) reads:
 *	--help, a missing value and an unknown option are handled there,
 *	alike for every command. It asks the context for the catalog and
 *	the store only once its arguments are known to be good: main()
 *	owns the configuration and the drivers, opens them on first use,
 *	reports their errors and closes them after the command returns.
 *
 *	A command returns the exit status (CLI_EXIT_*), having printed any
 *	error to stderr as "tabularium COMMAND: what went wrong".
 */
#ifndef TAB_CLI_H
#define TAB_CLI_H

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/config.h"

struct cli_filters; /* search/cli_filters.h */

/* Exit status of every command (documented in tabularium -h). */
#define CLI_EXIT_FOUND 0
#define CLI_EXIT_NOT_FOUND 1
#define CLI_EXIT_USAGE 2 /* usage, configuration, or catalog/store access error */
#define CLI_EXIT_INTEGRITY 3

struct cli_context {
    /* Open (first call) or return the catalog / store of the configuration.
     * On failure they print the reason and return NULL: exit CLI_EXIT_USAGE.
     * The catalog is never created: a missing sqlite file is an error. */
    struct catalog *(*catalog)(struct cli_context *ctx);
    struct store *(*store)(struct cli_context *ctx);
    /* The configuration of the global -c / -o options, loaded once on
     * first use (config_load_source()); NULL with *error_r (owned by the
     * context) when it does not load: the command says so its own way. */
    const struct tab_config *(*config)(struct cli_context *ctx, const char **error_r);
    /* The global -c / -o options themselves. */
    const struct config_source *opts;
    void *priv; /* main()'s state */
};

typedef int cli_command_fn(struct cli_context *ctx, int argc, char **argv);

/* tabularium search [--from ADDR] [--to ADDR] [--subject TEXT] [--since DATE]
 *                   [--until DATE] [--message-id ID] [--limit N] [--json] */
int cli_search(struct cli_context *ctx, int argc, char **argv);
/* tabularium show [--original] ARCHIVE-ID */
int cli_show(struct cli_context *ctx, int argc, char **argv);
/* tabularium reindex ARCHIVE-ID... | reindex --degraded */
int cli_reindex(struct cli_context *ctx, int argc, char **argv);
/* search/admin/cli_import.c */
int cli_import(struct cli_context *ctx, int argc, char **argv);
/* tabularium index check [--verbose] | index rebuild [--since DATE] [--limit N] */
int cli_index(struct cli_context *ctx, int argc, char **argv);
/* tabularium doctor [--postconf-dir DIR | --postconf-file FILE [--master-file FILE]] [--json] */
int cli_doctor(struct cli_context *ctx, int argc, char **argv);
/* tabularium queue list | show ID | retry ID | retry --all | delete ID --force */
int cli_queue(struct cli_context *ctx, int argc, char **argv);

/* tabularium db init|upgrade|status [--conninfo CONNINFO] [--version N] */
int cli_db(struct cli_context *ctx, int argc, char **argv);
/* tabularium retention show [--json] | apply [--dry-run] [--replace] */
int cli_retention(struct cli_context *ctx, int argc, char **argv);

/* tabularium verify [--since DATE] [--sample N] [--against FILE] [--jobs N] [--json] */
int cli_verify(struct cli_context *ctx, int argc, char **argv);
/* tabularium seal [--json] */
int cli_seal(struct cli_context *ctx, int argc, char **argv);
/* tabularium hold add|release --case NAME [filters | IDs] | hold list [--case NAME] [--json] */
int cli_hold(struct cli_context *ctx, int argc, char **argv);
/* tabularium expire [--dry-run] [--json] */
int cli_expire(struct cli_context *ctx, int argc, char **argv);
/* tabularium stats [--json] */
int cli_stats(struct cli_context *ctx, int argc, char **argv);
/* tabularium audit [--since DATE] [--json] */
int cli_audit(struct cli_context *ctx, int argc, char **argv);
/* tabularium user add|list|passwd|disable|enable|delete|token|totp ... */
int cli_user(struct cli_context *ctx, int argc, char **argv);

/* Append one row to the catalog's audit table (search/read/cli_stats.c): call
 * it BEFORE an action that reads message content or changes data, and
 * stop when it returns -1 (the reason is printed). 0 also for a catalog
 * without an audit table. */
int cli_audit_record(struct cli_context *ctx, const char *action, const char *detail);
/* "login (uid N)" or "root (uid 0, sudo by alice)", heap. */
char *cli_audit_user(void);
/* tabularium export [FILTERS | --id ID...] --format mbox|eml|maildir --output PATH
 *                   [--original | --wrapped] [--json] */
int cli_export(struct cli_context *ctx, int argc, char **argv);
/* tabularium verify-export [--manifest FILE] [--json] PATH */
int cli_verify_export(struct cli_context *ctx, int argc, char **argv);

/* "tabularium CMD: " + fmt (with arg) + " (tabularium CMD --help)" on
 * stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
typedef int cli_usage_error_fn(const char *cmd, const char *fmt, const char *arg);

/*
 * A command's options, declared (search/cli_options.c reads them):
 *
 *	struct cli_filters f = CLI_FILTERS_INIT;
 *	int json = 0, operand, status;
 *	const struct cli_syntax syntax = {
 *	    "search", cli_search_help, 0, NULL,
 *	    CLI_OPTIONS(CLI_OPTION_FILTERS(&f, NULL), CLI_OPTION_FLAG("json", &json))};
 *	if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
 *	    return status;
 *	... argv[operand] to argv[argc - 1] are the operands (here none:
 *	    operands N allows N, CLI_OPERANDS_ANY leaves them to the command)
 *
 * Every command also takes -h and --help (its help text on stdout,
 * exit 0). Options and operands mix (GNU getopt_long: "delete ID
 * --force"), long options may be abbreviated as long as they stay
 * unambiguous, and a value follows as "--name=VALUE" or "--name VALUE".
 */
enum cli_option_kind {
    CLI_OPT_END,     /* ends the table */
    CLI_OPT_FLAG,    /* no value: *(int *)dest = 1 */
    CLI_OPT_STRING,  /* *(const char **)dest = the value (it points into argv) */
    CLI_OPT_VALUE,   /* fn parses the value into dest */
    CLI_OPT_FILTERS, /* the search filters (search/cli_filters.h) into
                      * *(struct cli_filters *)dest; fn, when set, is
                      * called after each one was taken */
};

/* Returns 0 to go on, or the command's exit status, the reason printed
 * ("tabularium CMD: ..."). word is the command-line word that ended the
 * option (argv[optind - 1]: the value itself for "--name VALUE"), value
 * its value (NULL for a filter that takes none). */
typedef int cli_option_fn(const char *cmd, const char *word, const char *value, void *dest);

struct cli_option {
    const char *name; /* the long name, without "--" */
    enum cli_option_kind kind;
    void *dest;
    cli_option_fn *fn;
};

/* The casts keep the compiler checking dest's type. */
#define CLI_OPTION_FLAG(name, int_p)                                                               \
    {                                                                                              \
        (name), CLI_OPT_FLAG, (void *)(1 ? (int_p) : (int *)0), NULL                               \
    }
#define CLI_OPTION_STRING(name, str_p)                                                             \
    {                                                                                              \
        (name), CLI_OPT_STRING, (void *)(1 ? (str_p) : (const char **)0), NULL                     \
    }
#define CLI_OPTION_VALUE(name, fn, dest)                                                           \
    {                                                                                              \
        (name), CLI_OPT_VALUE, (dest), (fn)                                                        \
    }
#define CLI_OPTION_FILTERS(filters_p, fn)                                                          \
    {                                                                                              \
        NULL, CLI_OPT_FILTERS, (void *)(1 ? (filters_p) : (struct cli_filters *)0), (fn)           \
    }
#define CLI_OPTION_END                                                                             \
    {                                                                                              \
        NULL, CLI_OPT_END, NULL, NULL                                                              \
    }

struct cli_syntax {
    const char *command;             /* "search": named in every message */
    const char *help;                /* what -h and --help print */
    int operands;                    /* at most this many (0: none), or CLI_OPERANDS_ANY */
    cli_usage_error_fn *usage_error; /* NULL: cli_usage_error() */
    const struct cli_option *options;
};

/* The options of a cli_syntax, CLI_OPTION_END added. */
#define CLI_OPTIONS(...) ((const struct cli_option[]){__VA_ARGS__, CLI_OPTION_END})

/* The command checks its operands itself. */
#define CLI_OPERANDS_ANY (-1)

/* What cli_parse_options() returns when the command goes on. */
#define CLI_OPTIONS_PARSED (-1)

/* Parse argv[1..] (argv[0] is the command name) by the syntax's table.
 * CLI_OPTIONS_PARSED with *operand_r the index of the first operand
 * (the operands are permuted behind the options); otherwise the exit
 * status to return: CLI_EXIT_FOUND after --help, CLI_EXIT_USAGE after
 * "option --x needs a value", "unknown option --x", a value that an fn
 * refused, or "unexpected argument \"x\"" past syntax->operands
 * (printed). */
int cli_parse_options(const struct cli_syntax *syntax, int argc, char **argv, int *operand_r);
/* The catalog (ctx->catalog()) when its driver can do what the command
 * needs; NULL after a message ("tabularium CMD: the sqlite catalog LACKS")
 * otherwise: exit CLI_EXIT_USAGE. */
struct catalog *cli_catalog_that(struct cli_context *ctx, const char *cmd,
                                 enum catalog_capability can, const char *lacks);
/* A CLI_OPT_VALUE fn for "since": DATE (YYYY-MM-DD or ISO 8601) into
 * the time_t dest. */
int cli_option_since(const char *cmd, const char *word, const char *value, void *dest);

/* The man-style text of each command's --help (also in tabularium -h). */
extern const char cli_search_help[];
extern const char cli_show_help[];
extern const char cli_reindex_help[];
extern const char cli_import_help[];
extern const char cli_index_help[];
extern const char cli_doctor_help[];
extern const char cli_queue_help[];
extern const char cli_db_help[];
extern const char cli_export_help[];
extern const char cli_verify_export_help[];
extern const char cli_verify_help[];
extern const char cli_seal_help[];
extern const char cli_hold_help[];
extern const char cli_expire_help[];
extern const char cli_stats_help[];
extern const char cli_audit_help[];
extern const char cli_user_help[];
extern const char cli_retention_help[];

#endif
