/*
 * NAME
 *	cli_index 3
 * SUMMARY
 *	tabularium index check | rebuild: the full-text index's health, and its repair
 * SYNOPSIS
 *	tabularium index check [--verbose]
 *	tabularium index rebuild [--since DATE] [--limit N]
 * DESCRIPTION
 *	check asks the catalog to compare its rows with its full-text index
 *	(catalog_index_check(): counts, and the messages that are stale,
 *	unindexed or damaged), then walks every stored copy the chain lists
 *	and asks the store whether it is there (the first chunk only: a
 *	hash check is verify's work). One "key: value" line each.
 *
 *	rebuild calls catalog_index_rebuild() batch after batch, with a
 *	progress line on a terminal, until the catalog says it is finished.
 *	The state is the catalog's: a run stopped by SIGINT or SIGTERM
 *	(after its current batch), by --limit, or killed (losing at most
 *	its current batch), is continued by the next run. The rebuild is an
 *	operator action: one audit line ("index rebuild").
 *
 *	Must never change a stored copy, nor invent the text of a copy the
 *	store has lost: such a message is indexed from its catalog rows and
 *	reported.
 * DIAGNOSTICS
 *	check: exit 0 healthy, 1 problems found (listed), 2 errors.
 *	rebuild: exit 0 finished, 1 stopped before the end (run it again),
 *	2 errors ("tabularium index: ..." on stderr).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/record.h"
#include "common/progress.h"
#include "common/strlist.h"
#include "search/cli.h"

/* Messages one rebuild batch covers: one short write transaction. */
#define CLI_INDEX_BATCH 200
/* Problem messages check lists of each kind without --verbose. */
#define CLI_INDEX_LIST 20

const char cli_index_help[] =
    "NAME\n"
    "    tabularium index - check the full-text index, or rebuild it from the store\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium index check [--verbose]\n"
    "    tabularium index rebuild [--since DATE] [--limit N]\n"
    "\n"
    "DESCRIPTION\n"
    "    check compares the catalog's messages with its full-text index and\n"
    "    the store, and prints one \"key: value\" line each: messages,\n"
    "    indexed, pending (not indexed yet: the indexer is behind; not a\n"
    "    problem), stale (words that could not be removed exactly: text\n"
    "    searches leave these messages out), unindexed (in no index and in\n"
    "    no queue: text searches miss them), damaged (indexed, but their\n"
    "    subject's words are not in their entry), documents (what the\n"
    "    index holds, and what the catalog expects), copies and missing\n"
    "    copies (a stored copy the store does not have; verify checks the\n"
    "    bytes). Then the archive id of each problem message, as\n"
    "    \"stale: ID\", \"unindexed: ID\", \"damaged: ID\",\n"
    "    \"missing-copy: ID STORE:LOCATION\" (the first 20 of each kind\n"
    "    without --verbose), and a status line.\n"
    "\n"
    "    rebuild reads every message's stored copy again and re-creates\n"
    "    its full-text entry from it and from the catalog. On SQLite the\n"
    "    new index is built beside the old one, which searches keep using,\n"
    "    and takes its place at the end: stale entries are gone. On\n"
    "    PostgreSQL each message's words are replaced in place. With\n"
    "    --since only messages archived since DATE are re-indexed, in\n"
    "    place (on SQLite that does not clear stale entries: rebuild\n"
    "    without --since does). It works in batches of 200 messages, each\n"
    "    committed: interrupted (Ctrl-C, SIGTERM, a kill, --limit), it is\n"
    "    continued where it stopped by the next rebuild with the same\n"
    "    --since. A message whose stored copy is missing is indexed from\n"
    "    the catalog alone (subject and addresses) and reported. A progress\n"
    "    line with the time left shows on a terminal. The rebuild is\n"
    "    recorded in the audit table.\n"
    "\n"
    "OPTIONS\n"
    "    --verbose     check: list every problem message\n"
    "    --since DATE  rebuild: only messages archived since DATE\n"
    "                  (YYYY-MM-DD or ISO 8601)\n"
    "    --limit N     rebuild: stop after about N messages (the next run\n"
    "                  continues)\n"
    "    -h, --help    this text\n"
    "\n"
    "EXIT STATUS\n"
    "    check: 0 healthy, 1 problems found, 2 error.\n"
    "    rebuild: 0 finished, 1 stopped before the end (run it again),\n"
    "    2 usage, configuration, catalog or store error.\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium index check\n"
    "    tabularium index rebuild\n"
    "    tabularium index rebuild --since 2026-12-01\n";

/* What check collects. */
struct cli_index_check {
    int verbose;
    struct strlist lines; /* "kind: ID" lines, in order */
    int64_t listed[3];    /* per enum catalog_index_problem */
    struct store *store;
    struct progress *progress;
    int64_t copies, missing, other_store, listed_missing;
    int failed;
    char error[512];
};

static const char *const cli_index_kinds[] = {
    [CATALOG_INDEX_STALE] = "stale",
    [CATALOG_INDEX_UNINDEXED] = "unindexed",
    [CATALOG_INDEX_DAMAGED] = "damaged",
};

static int cli_index_problem(const char *archive_id, enum catalog_index_problem what, void *ctx)
{
    struct cli_index_check *ic = ctx;
    char line[128];

    if (ic->verbose || ic->listed[what] < CLI_INDEX_LIST) {
        snprintf(line, sizeof(line), "%s: %s", cli_index_kinds[what], archive_id);
        strlist_add(&ic->lines, line);
    }
    ic->listed[what]++;
    return 0;
}

/* The first chunk is enough: the copy is there. */
static int cli_index_first_chunk(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return 1;
}

static int cli_index_copy(const struct chain_link *link, void *ctx)
{
    struct cli_index_check *ic = ctx;
    const char *error = NULL;
    enum tab_result r;

    if (link->kind != CHAIN_COPY || link->message_missing)
        return 0;
    ic->copies++;
    progress_update(ic->progress, (uint64_t)ic->copies);
    if (strcmp(link->store, ic->store->name) != 0) {
        ic->other_store++;
        return 0;
    }
    r = ic->store->read(ic->store, link->location, cli_index_first_chunk, NULL, &error);
    if (r == TAB_PERM) {
        ic->missing++;
        if (ic->verbose || ic->listed_missing < CLI_INDEX_LIST) {
            char *line =
                xasprintf("missing-copy: %s %s:%s", link->archive_id, link->store, link->location);
            strlist_add(&ic->lines, line);
            free(line);
        }
        ic->listed_missing++;
    } else if (r == TAB_RETRY) {
        snprintf(ic->error, sizeof(ic->error), "%s", error ? error : "store error");
        ic->failed = 1;
        return 1;
    }
    return 0;
}

static int cli_index_run_check(struct cli_context *ctx, struct catalog *cat, int verbose)
{
    struct cli_index_check ic;
    struct catalog_index_report r;
    struct chain_seal head;
    const char *error = NULL;
    int problems, status = CLI_EXIT_USAGE;

    memset(&ic, 0, sizeof(ic));
    ic.verbose = verbose;
    ic.lines = (struct strlist)STRLIST_INIT;
    if (catalog_index_check(cat, &r, cli_index_problem, &ic, &error) != TAB_OK) {
        fprintf(stderr, "tabularium index check: %s\n", error);
        goto out;
    }
    if ((ic.store = ctx->store(ctx)) == NULL)
        goto out;
    ic.progress = progress_new("index check", "copies", 0);
    if (catalog_chain_walk(cat, &head, cli_index_copy, &ic, &error) != TAB_OK && !ic.failed) {
        progress_end(&ic.progress);
        fprintf(stderr, "tabularium index check: %s\n", error);
        goto out;
    }
    progress_end(&ic.progress);
    if (ic.failed) {
        fprintf(stderr, "tabularium index check: the store: %s\n", ic.error);
        goto out;
    }
    printf("catalog: %s\n", catalog_name(cat));
    printf("messages: %lld\n", (long long)r.messages);
    printf("indexed: %lld\n", (long long)r.indexed);
    printf("pending: %lld\n", (long long)r.pending);
    printf("stale: %lld\n", (long long)r.stale);
    printf("unindexed: %lld\n", (long long)r.unindexed);
    printf("damaged: %lld\n", (long long)r.damaged);
    if (r.documents >= 0)
        printf("documents: %lld (expected %lld)\n", (long long)r.documents,
               (long long)r.documents_expected);
    printf("copies: %lld\n", (long long)ic.copies);
    printf("missing copies: %lld\n", (long long)ic.missing);
    if (ic.other_store > 0)
        printf("copies in another store (not checked): %lld\n", (long long)ic.other_store);
    if (r.rebuild_unfinished)
        printf("rebuild: unfinished, %lld of %lld messages done (tabularium index rebuild%s"
               " continues it)\n",
               (long long)r.rebuild_done, (long long)r.rebuild_total,
               r.rebuild_since != 0 ? " --since" : "");
    for (size_t i = 0; i < ic.lines.n; i++)
        printf("%s\n", ic.lines.v[i]);
    problems = r.stale > 0 || r.unindexed > 0 || r.damaged > 0 || ic.missing > 0 ||
               (r.documents >= 0 && r.documents != r.documents_expected);
    if (!problems) {
        printf("status: healthy\n");
        status = CLI_EXIT_FOUND;
    } else {
        printf("status: problems found%s\n",
               r.stale > 0 || r.unindexed > 0 || r.damaged > 0 ||
                       r.documents != r.documents_expected
                   ? " (tabularium index rebuild re-creates the index)"
                   : "");
        status = CLI_EXIT_NOT_FOUND;
    }
out:
    strlist_free(&ic.lines);
    return status;
}

static volatile sig_atomic_t cli_index_stop;

static void cli_index_on_signal(int sig)
{
    (void)sig;
    cli_index_stop = 1;
}

static int cli_index_run_rebuild(struct cli_context *ctx, struct catalog *cat, time_t since,
                                 long limit)
{
    struct catalog_index_rebuild rb;
    struct progress *progress = NULL;
    struct sigaction sa, old_int, old_term;
    const char *error = NULL;
    char since_text[21] = "", *detail;
    int64_t this_run = 0;
    int status = CLI_EXIT_FOUND;

    if (ctx->store(ctx) == NULL) /* the text source opens its own: say why here */
        return CLI_EXIT_USAGE;
    if (since != 0)
        record_format_time(since, since_text);
    detail = xasprintf("%s%s", since != 0 ? "since " : "full", since_text);
    if (cli_audit_record(ctx, "index rebuild", detail) < 0) {
        free(detail);
        return CLI_EXIT_USAGE;
    }
    free(detail);
    memset(&rb, 0, sizeof(rb));
    rb.since = since;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cli_index_on_signal;
    sa.sa_flags = SA_RESTART; /* the batch under way ends as it would */
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, &old_int);
    (void)sigaction(SIGTERM, &sa, &old_term);
    cli_index_stop = 0;
    while (!rb.finished) {
        int64_t before = rb.done;
        int batch = CLI_INDEX_BATCH;

        if (limit > 0 && this_run + batch > limit)
            batch = (int)(limit - this_run);
        if (catalog_index_rebuild(cat, &rb, batch, &error) != TAB_OK) {
            progress_end(&progress);
            fprintf(stderr, "tabularium index rebuild: %s\n", error);
            status = CLI_EXIT_USAGE;
            break;
        }
        if (progress == NULL && !rb.finished)
            progress = progress_new("index rebuild", "messages", (uint64_t)rb.total);
        this_run += rb.done - before;
        progress_update(progress, (uint64_t)rb.done);
        if (!rb.finished && (cli_index_stop || (limit > 0 && this_run >= limit))) {
            status = CLI_EXIT_NOT_FOUND;
            break;
        }
    }
    progress_end(&progress);
    (void)sigaction(SIGINT, &old_int, NULL);
    (void)sigaction(SIGTERM, &old_term, NULL);
    if (status == CLI_EXIT_USAGE)
        return status;
    printf("rebuild: %s%s\n", since != 0 ? "since " : "full", since_text);
    if (rb.restarted)
        printf("restarted: an unfinished rebuild of another --since was dropped\n");
    printf("resumed: %lld messages done by an earlier run\n", (long long)rb.resumed);
    printf("messages: %lld of %lld\n", (long long)rb.done, (long long)rb.total);
    printf("missing copies: %lld (indexed from the catalog only)\n", (long long)rb.missing);
    if (rb.finished)
        printf("status: finished\n");
    else
        printf("status: stopped (tabularium index rebuild%s continues it)\n",
               since != 0 ? " --since" : "");
    return status;
}

int cli_index(struct cli_context *ctx, int argc, char **argv)
{
    struct catalog *cat;
    const char *action;
    time_t since = 0;
    long limit = 0;
    const char *limit_text = NULL;
    int verbose = 0, check, operand, rc;
    const struct cli_syntax syntax = {
        "index", cli_index_help, 1, NULL,
        CLI_OPTIONS(CLI_OPTION_FLAG("verbose", &verbose),
                    CLI_OPTION_VALUE("since", cli_option_since, &since),
                    CLI_OPTION_STRING("limit", &limit_text))};

    if ((rc = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return rc;
    if (operand >= argc)
        return cli_usage_error("index", "%s", "missing action: check or rebuild");
    action = argv[operand];
    if (limit_text != NULL) {
        char *end;
        limit = strtol(limit_text, &end, 10);
        if (*limit_text == '\0' || *end != '\0' || limit < 1)
            return cli_usage_error("index", "--limit \"%s\": expected a positive number",
                                   limit_text);
    }
    check = strcmp(action, "check") == 0;
    if (!check && strcmp(action, "rebuild") != 0)
        return cli_usage_error("index", "unknown action \"%s\" (check, rebuild)", action);
    if (check && (since != 0 || limit_text != NULL))
        return cli_usage_error("index", "%s", "check takes only --verbose");
    if (!check && verbose)
        return cli_usage_error("index", "%s", "rebuild takes --since and --limit");
    if ((cat = cli_catalog_that(ctx, "index", CATALOG_CAN_INDEX_REBUILD,
                                "cannot check its index")) == NULL)
        return CLI_EXIT_USAGE;
    return check ? cli_index_run_check(ctx, cat, verbose)
                 : cli_index_run_rebuild(ctx, cat, since, limit);
}
