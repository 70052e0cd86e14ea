/*
 * NAME
 *	tabularium 1
 * SUMMARY
 *	Tabularium archive command-line tool
 * SYNOPSIS
 *	tabularium [-c FILE] [-o name=value]... COMMAND [ARGS]
 * DESCRIPTION
 *	Parses the global options, finds COMMAND in the command table and
 *	runs it (search/cli.h). Owns the configuration and the drivers the
 *	commands use: they are opened on a command's first request, their
 *	errors are printed here, and they are closed after the command.
 *
 *	Must never create a catalog or a store: a read-only tool pointed at
 *	the wrong configuration should say so, not leave an empty database
 *	or Maildir behind. So the sqlite file and the Maildir directory must
 *	exist before their drivers are opened.
 *
 *	A new command is one row in cli_commands[] and one search/cli_X.c.
 * DIAGNOSTICS
 *	Exit 2 with a message on stderr for usage errors, configuration
 *	errors and catalog/store open errors. Otherwise the command's status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/config.h"
#include "common/log.h"
#include "common/strlist.h"
#include "mail/text_source.h"
#include "search/cli.h"

struct cli_command {
    const char *name;
    cli_command_fn *run;
    const char *summary; /* one line for the command list */
    const char *help;    /* the command's --help text */
};

static int tabularium_help_command(struct cli_context *ctx, int argc, char **argv);

static const struct cli_command cli_commands[] = {
    {"search", cli_search, "list archived messages that match", cli_search_help},
    {"show", cli_show, "print an archived message, verified", cli_show_help},
    {"reindex", cli_reindex, "index again messages archived with a degraded index",
     cli_reindex_help},
    {"import", cli_import, "bring past mail in from mbox, Maildir and .eml files", cli_import_help},
    {"index", cli_index, "check the full-text index, or rebuild it from the store", cli_index_help},
    {"doctor", cli_doctor, "check the Postfix and Tabularium settings", cli_doctor_help},
    {"queue", cli_queue, "list, retry or delete copies waiting to be forwarded", cli_queue_help},
    {"db", cli_db, "create or upgrade the PostgreSQL schema", cli_db_help},
    {"verify", cli_verify, "prove that no archived message was altered or removed",
     cli_verify_help},
    {"seal", cli_seal, "print and store the head of the integrity chain", cli_seal_help},
    {"hold", cli_hold, "put messages on legal hold for a case, or release them", cli_hold_help},
    {"expire", cli_expire, "remove messages past their retention and not on hold", cli_expire_help},
    {"audit", cli_audit, "who read or changed what in the archive", cli_audit_help},
    {"user", cli_user, "accounts of the web interface, API tokens, one-time codes", cli_user_help},
    {"stats", cli_stats, "messages and bytes per day and month, queue state", cli_stats_help},
    {"retention", cli_retention, "the S3 bucket's lifecycle rule and Object Lock",
     cli_retention_help},
    {"export", cli_export, "copy messages out as mbox, eml or Maildir, with a manifest",
     cli_export_help},
    {"verify-export", cli_verify_export, "check an export against its manifest (offline)",
     cli_verify_export_help},
    {"help", tabularium_help_command, "this text, or a command's help", NULL},
};

#define CLI_NCOMMANDS (sizeof(cli_commands) / sizeof(cli_commands[0]))

/* main()'s side of struct cli_context. */
struct tabularium_state {
    struct config_source opts;
    struct tab_config cfg;
    int cfg_state;   /* 0 not loaded, 1 loaded, -1 failed */
    char *cfg_error; /* why it failed: a copy, kept for every later call */
    struct catalog *catalog;
    struct store *store;
    struct text_source *text; /* for searches that index pending text first */
};

static void tabularium_usage_line(FILE *out)
{
    fputs("usage: tabularium [-c FILE] [-o name=value]... COMMAND [ARGS] (tabularium help)\n", out);
}

static void tabularium_help(FILE *out)
{
    fputs("NAME\n"
          "    tabularium - search, read, verify and manage the Tabularium mail archive\n"
          "\n"
          "SYNOPSIS\n"
          "    tabularium [-c FILE] [-o name=value]... COMMAND [ARGS]\n"
          "    tabularium COMMAND --help\n"
          "\n"
          "DESCRIPTION\n"
          "    Reads the catalog and the store that tabulariumd(8) fills, as named\n"
          "    by archive_catalog and archive_store in the configuration. It never\n"
          "    creates them. Commands that read message content or change data\n"
          "    (show, export, hold, expire, queue delete) are recorded in the audit\n"
          "    log first. Each command's --help has its options and examples.\n"
          "\n"
          "COMMANDS\n",
          out);
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        fprintf(out, "    %-14s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fputs("\n"
          "OPTIONS\n"
          "    -c FILE        configuration file (default " CONFIG_DEFAULT_FILE ")\n"
          "    -o name=value  override a parameter (may be repeated)\n"
          "    -V, --version  print the version\n"
          "    -h, --help     this text\n"
          "\n"
          "EXIT STATUS\n"
          "    0  found (search matched, show wrote a verified message, verify\n"
          "       found nothing wrong); doctor: no errors (warnings allowed)\n"
          "    1  nothing found (no match, unknown archive id); doctor: errors found\n"
          "    2  usage or configuration error, catalog or store cannot be read\n"
          "    3  integrity check failed (show, export: hash or size differs from\n"
          "       the catalog; verify, verify-export: any finding)\n"
          "\n"
          "EXAMPLES\n"
          "    tabularium search --to bob@example.com --since 2026-11-01\n"
          "    tabularium search --subject invoice --until 2026-11-30 --json\n"
          "    tabularium search --message-id '<1234@example.com>'\n"
          "    tabularium show 6932F1A00A1B2C3D4E5F > archived.eml\n"
          "    tabularium show --original 6932F1A00A1B2C3D4E5F | sha256sum\n"
          "    tabularium -o data_directory=/srv/archive search --limit 10\n"
          "    tabularium doctor      # is Postfix set up to archive everything?\n"
          "    tabularium queue list  # copies waiting for forward_recipient\n"
          "    tabularium verify && tabularium seal >> /srv/seals.txt\n"
          "    tabularium hold add --case acme-2026 --from ceo@example.com\n"
          "    tabularium export --to bob@example.com --format mbox --output bob.mbox\n"
          "    tabularium verify-export bob.mbox\n"
          "\n"
          "SEE ALSO\n"
          "    tabulariumd(8), config/tabularium.conf, docs/integrity.md,\n"
          "    docs/export.md, docs/s3.md\n",
          out);
    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        if (cli_commands[i].help == NULL)
            continue;
        fprintf(out, "\n%s COMMAND\n\n", cli_commands[i].name);
        fputs(cli_commands[i].help, out);
    }
}

static const struct cli_command *tabularium_find_command(const char *name)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

/* tabularium help [COMMAND] */
static int tabularium_help_command(struct cli_context *ctx, int argc, char **argv)
{
    const struct cli_command *cmd;

    (void)ctx;
    if (argc < 2) {
        tabularium_help(stdout);
        return CLI_EXIT_FOUND;
    }
    cmd = tabularium_find_command(argv[1]);
    if (cmd == NULL || cmd->help == NULL) {
        fprintf(stderr, "tabularium help: unknown command \"%s\"\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    fputs(cmd->help, stdout);
    return CLI_EXIT_FOUND;
}

static const struct tab_config *tabularium_config(struct cli_context *ctx, const char **error_r)
{
    struct tabularium_state *ts = ctx->priv;

    if (ts->cfg_state == 0) {
        const char *error = NULL;
        ts->cfg_state = config_load_source(&ts->opts, &ts->cfg, &error) < 0 ? -1 : 1;
        if (ts->cfg_state < 0)
            ts->cfg_error = xstrdup(error);
    }
    *error_r = ts->cfg_error;
    return ts->cfg_state > 0 ? &ts->cfg : NULL;
}

/* What opening the catalog or the store (what) needs first: the
 * configuration, and the local file or directory its driver names. The
 * spec, or NULL said on stderr. */
static const char *tabularium_before_open(struct cli_context *ctx, const char *what)
{
    struct tabularium_state *ts = ctx->priv;
    int store = strcmp(what, "store") == 0;
    const char *spec, *path, *error;
    struct stat sb;

    if (tabularium_config(ctx, &error) == NULL) {
        fprintf(stderr, "tabularium: %s\n", error);
        return NULL;
    }
    spec = store ? ts->cfg.archive_store : ts->cfg.archive_catalog;
    path = store ? store_spec_local_dir(spec) : catalog_spec_local_file(spec);
    if (path != NULL && stat(path, &sb) < 0) {
        if (errno == ENOENT)
            fprintf(stderr,
                    "tabularium: no %s at %s (has tabulariumd run with this"
                    " configuration?)\n",
                    what, path);
        else
            fprintf(stderr, "tabularium: cannot open %s %s: %s\n", what, spec, strerror(errno));
        return NULL;
    }
    return spec;
}

static struct catalog *tabularium_catalog(struct cli_context *ctx)
{
    struct tabularium_state *ts = ctx->priv;
    const char *spec, *error;

    if (ts->catalog != NULL || (spec = tabularium_before_open(ctx, "catalog")) == NULL)
        return ts->catalog;
    ts->catalog = catalog_open(spec, &ts->cfg, &error);
    if (ts->catalog == NULL)
        fprintf(stderr, "tabularium: cannot open catalog %s: %s\n", spec, error);
    else
        ts->text = text_source_attach(ts->catalog, &ts->cfg);
    return ts->catalog;
}

static struct store *tabularium_store(struct cli_context *ctx)
{
    struct tabularium_state *ts = ctx->priv;
    const char *spec, *error;

    if (ts->store != NULL || (spec = tabularium_before_open(ctx, "store")) == NULL)
        return ts->store;
    ts->store = store_open(spec, &ts->cfg, &error);
    if (ts->store == NULL)
        fprintf(stderr, "tabularium: cannot open store %s: %s\n", spec, error);
    return ts->store;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct tabularium_state ts;
    struct cli_context ctx;
    const struct cli_command *cmd;
    int c, status;

    memset(&ts, 0, sizeof(ts));
    /* Driver errors are printed by the commands; the log is for details. */
    log_init("tabularium", 1, 0);
    opterr = 0;
    /* "+": stop at the command name, its options are its own. */
    while ((c = getopt_long(argc, argv, "+:c:o:hV", longopts, NULL)) != -1) {
        if (config_source_option(&ts.opts, c, optarg))
            continue;
        switch (c) {
        case 'h':
            tabularium_help(stdout);
            status = CLI_EXIT_FOUND;
            goto out;
        case 'V':
            printf("tabularium %s\n", TAB_VERSION);
            status = CLI_EXIT_FOUND;
            goto out;
        case ':':
            fprintf(stderr, "tabularium: option %s needs a value\n", argv[optind - 1]);
            tabularium_usage_line(stderr);
            status = CLI_EXIT_USAGE;
            goto out;
        default:
            fprintf(stderr, "tabularium: unknown option %s\n", argv[optind - 1]);
            tabularium_usage_line(stderr);
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        tabularium_usage_line(stderr);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    cmd = tabularium_find_command(argv[optind]);
    if (cmd == NULL) {
        fprintf(stderr, "tabularium: unknown command \"%s\"\n", argv[optind]);
        tabularium_usage_line(stderr);
        status = CLI_EXIT_USAGE;
        goto out;
    }

    memset(&ctx, 0, sizeof(ctx));
    ctx.catalog = tabularium_catalog;
    ctx.store = tabularium_store;
    ctx.config = tabularium_config;
    ctx.priv = &ts;
    ctx.opts = &ts.opts;
    status = cmd->run(&ctx, argc - optind, argv + optind);
    if (fflush(stdout) != 0 && status != CLI_EXIT_USAGE) {
        fprintf(stderr, "tabularium: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }

out:
    catalog_close(&ts.catalog);
    text_source_free(&ts.text);
    store_close(&ts.store);
    if (ts.cfg_state > 0)
        config_free(&ts.cfg);
    free(ts.cfg_error);
    strlist_free(&ts.opts.overrides);
    return status;
}
