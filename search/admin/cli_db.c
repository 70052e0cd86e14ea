/*
 * NAME
 *	cli_db 3
 * SUMMARY
 *	tabularium db: create, upgrade and inspect the PostgreSQL schema
 * SYNOPSIS
 *	tabularium db init|upgrade|status [--conninfo CONNINFO] [--version N]
 * DESCRIPTION
 *	The only writer of the PostgreSQL schema (backends/postgres/
 *	pg_schema.c): the daemon checks the version and refuses to work on
 *	another one, so schema changes happen when the operator says so.
 *	Without --conninfo it works on the conninfo of archive_catalog and,
 *	if different, of archive_store, when they are "pgsql:".
 *
 *	init creates the schema in a database without one and does nothing
 *	when it is there already; upgrade brings an existing schema to the
 *	version this tabularium needs (or --version N, for staged upgrades);
 *	status prints the version. All three may be run any number of times.
 *	A migration with a data step (version 7: the search words of the
 *	messages already there) shows its progress on stderr when that is a
 *	terminal (count, rate, ETA), and nothing otherwise.
 *
 *	Opens its own connection (no driver: a driver refuses a schema of
 *	the wrong version). Never prints a password (conninfo is redacted).
 * DIAGNOSTICS
 *	Exit 0 when done (status: the schema is current), 1 when status
 *	finds no schema or another version, 2 for usage, configuration and
 *	database errors, with "tabularium db: pgsql NAME: what went wrong".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/schema_admin.h"
#include "common/config.h"
#include "common/strlist.h"
#include "search/cli.h"

const char cli_db_help[] =
    "NAME\n"
    "    tabularium db - create and upgrade the PostgreSQL schema\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium db init|upgrade|status [--conninfo CONNINFO] [--version N]\n"
    "\n"
    "DESCRIPTION\n"
    "    For archive_catalog = pgsql:CONNINFO and archive_store = pgsql:CONNINFO.\n"
    "    tabulariumd never changes the schema: it checks the version when it\n"
    "    connects and defers deliveries (451) while the schema is missing, older\n"
    "    or newer than it needs. Run db init once before the first start, and\n"
    "    db upgrade after installing a newer tabularium, then reload tabulariumd.\n"
    "\n"
    "    init       create the schema in a database without one; a database\n"
    "               that has it already is left alone\n"
    "    upgrade    apply the migrations from the schema's version to the one\n"
    "               this tabularium needs, in one transaction; version 7\n"
    "               computes the search words of every message already there\n"
    "               (progress on a terminal) and drops the copy of the body\n"
    "               text: VACUUM FULL messages afterwards returns its space\n"
    "    status     print the schema version\n"
    "\n"
    "OPTIONS\n"
    "    --conninfo CONNINFO  the database (a libpq URI or key=value string);\n"
    "                         default: the pgsql conninfo of archive_catalog and\n"
    "                         archive_store\n"
    "    --version N          init/upgrade to version N instead of the newest\n"
    "    -h, --help           this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done (status: schema current), 1 status: no schema or another version,\n"
    "    2 usage, configuration or database error\n";

/* Says the usage itself instead of pointing at --help. */
static int cli_db_usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "tabularium %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fputs("\nusage: tabularium db init|upgrade|status [--conninfo CONNINFO] [--version N]\n",
          stderr);
    return CLI_EXIT_USAGE;
}

/* The pgsql conninfos of the configuration, each once. */
static int cli_db_targets(struct cli_context *ctx, struct strlist *targets)
{
    const char *error, *specs[2];
    const struct tab_config *cfg = ctx->config(ctx, &error);

    if (cfg == NULL) {
        fprintf(stderr, "tabularium db: %s\n", error);
        return -1;
    }
    specs[0] = cfg->archive_catalog;
    specs[1] = cfg->archive_store;
    for (size_t i = 0; i < 2; i++) {
        const char *spec = schema_admin_kind(specs[i]);
        if (spec == NULL)
            continue;
        if (targets->n == 0 || strcmp(targets->v[0], spec) != 0)
            strlist_add(targets, spec);
    }
    if (targets->n == 0) {
        fprintf(stderr, "tabularium db: neither archive_catalog nor archive_store is"
                        " pgsql:CONNINFO; give --conninfo\n");
        return -1;
    }
    return 0;
}

/* Progress of a long upgrade on a terminal (stderr): count, rate, ETA. */
struct cli_db_progress {
    struct timespec start, last;
    int shown;
};

static double cli_db_seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void cli_db_progress(void *ctx, long long done, long long total)
{
    struct cli_db_progress *p = ctx;
    struct timespec now;
    double secs, rate;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done < total && p->shown && cli_db_seconds(&p->last, &now) < 0.5)
        return;
    p->last = now;
    p->shown = 1;
    secs = cli_db_seconds(&p->start, &now);
    rate = secs > 0 ? (double)done / secs : 0;
    fprintf(stderr,
            "\rtabularium db: indexing existing messages: %lld of %lld, %.0f/s, ETA %.0f s ", done,
            total, rate, rate > 0 ? (double)(total - done) / rate : 0.0);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* One database; the exit status for it. */
static int cli_db_run(const char *action, const char *conninfo, int target)
{
    char *name = schema_admin_redact(conninfo);
    const char *error = NULL;
    int status = CLI_EXIT_FOUND, version, from, to, current = schema_admin_current();
    struct schema_admin *pg;
    struct cli_db_progress progress = {{0, 0}, {0, 0}, 0};

    pg = schema_admin_connect(conninfo, &error);
    if (pg == NULL) {
        fprintf(stderr, "tabularium db: %s\n", error);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (strcmp(action, "status") == 0) {
        if (schema_admin_version(pg, &version, &error) < 0) {
            fprintf(stderr, "tabularium db: pgsql %s: %s\n", name, error);
            status = CLI_EXIT_USAGE;
        } else if (version == 0) {
            printf("pgsql %s: no tabularium schema (run tabularium db init)\n", name);
            status = CLI_EXIT_NOT_FOUND;
        } else if (version < current) {
            printf("pgsql %s: schema version %d, this tabularium needs %d (run tabularium db"
                   " upgrade)\n",
                   name, version, current);
            status = CLI_EXIT_NOT_FOUND;
        } else if (version > current) {
            printf("pgsql %s: schema version %d, newer than the version %d this tabularium"
                   " knows\n",
                   name, version, current);
            status = CLI_EXIT_NOT_FOUND;
        } else {
            printf("pgsql %s: schema version %d (current)\n", name, version);
        }
        goto out;
    }
    if (isatty(STDERR_FILENO)) {
        clock_gettime(CLOCK_MONOTONIC, &progress.start);
        schema_admin_set_progress(pg, cli_db_progress, &progress);
    }
    if (schema_admin_migrate(pg, target, strcmp(action, "init") == 0, &from, &to, &error) < 0) {
        fprintf(stderr, "tabularium db: pgsql %s: %s\n", name, error);
        status = CLI_EXIT_USAGE;
    } else if (from == to) {
        printf("pgsql %s: schema version %d already, nothing to do\n", name, to);
    } else if (from == 0) {
        printf("pgsql %s: schema created, version %d\n", name, to);
    } else {
        printf("pgsql %s: schema upgraded from version %d to %d\n", name, from, to);
    }
out:
    free(name);
    schema_admin_close(&pg);
    return status;
}

/* --version N: a schema version this build knows, into the int dest. */
static int cli_db_option_version(const char *cmd, const char *word, const char *value, void *dest)
{
    int *target = dest;
    char *end;

    (void)word;
    *target = (int)strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || *target < 1 || *target > schema_admin_current())
        return cli_db_usage_error(cmd, "--version: no such schema version \"%s\"", value);
    return 0;
}

int cli_db(struct cli_context *ctx, int argc, char **argv)
{
    struct strlist targets = STRLIST_INIT;
    const char *action = NULL, *conninfo = NULL;
    int operand, target = schema_admin_current(), status;
    const struct cli_syntax syntax = {
        "db", cli_db_help, CLI_OPERANDS_ANY, cli_db_usage_error,
        CLI_OPTIONS(CLI_OPTION_STRING("conninfo", &conninfo),
                    CLI_OPTION_VALUE("version", cli_db_option_version, &target))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_FOUND;
    if (operand >= argc)
        return cli_db_usage_error("db", "%s", "init, upgrade or status?");
    action = argv[operand++];
    if (strcmp(action, "init") != 0 && strcmp(action, "upgrade") != 0 &&
        strcmp(action, "status") != 0)
        return cli_db_usage_error("db", "unknown action \"%s\"", action);
    if (operand < argc)
        return cli_db_usage_error("db", "unexpected argument \"%s\"", argv[operand]);

    if (conninfo != NULL)
        strlist_add(&targets, conninfo);
    else if (cli_db_targets(ctx, &targets) < 0)
        return CLI_EXIT_USAGE;
    for (size_t i = 0; i < targets.n; i++) {
        int s = cli_db_run(action, targets.v[i], target);
        if (s > status)
            status = s;
    }
    strlist_free(&targets);
    return status;
}
