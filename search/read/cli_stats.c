/*
 * NAME
 *	cli_stats 3
 * SUMMARY
 *	tabularium stats and audit: the archive at a glance, and who did what
 * SYNOPSIS
 *	tabularium stats [--json]
 *	tabularium audit [--since DATE] [--json]
 *
 *	char *user = cli_audit_user();
 *	if (cli_audit_record(ctx, "show", archive_id) < 0) ...refuse...
 * DESCRIPTION
 *	stats prints the catalog's totals (messages and bytes, stored
 *	copies, incomplete envelopes, holds, expired records, messages
 *	the indexer has not put into the full-text index yet, messages with
 *	a degraded index), the forward
 *	queue state from the forwards table, the oldest and newest arrival,
 *	and messages and bytes per month and per day (UTC).
 *
 *	The audit log is the catalog's audit table: one row per CLI action
 *	that reads message content or changes data (show, export, hold,
 *	expire, queue delete), appended BEFORE the action, so that nothing
 *	is read or changed unrecorded. cli_audit_record() is the one way
 *	commands write it; the user is the login name of the real uid (and
 *	the sudo user, when root runs the command through sudo). audit
 *	lists it.
 *
 *	Must never let an action go ahead when its audit row could not be
 *	written (cli_audit_record returns -1 and the caller stops).
 * DIAGNOSTICS
 *	Exit 0 printed, 1 (audit) no rows, 2 usage, configuration or catalog
 *	error. cli_audit_record() prints "tabularium ACTION: cannot write the
 *	audit log: ..." on failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_output.h"

const char cli_stats_help[] =
    "NAME\n"
    "    tabularium stats - the archive at a glance\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium stats [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the number of archived messages and their bytes (originals),\n"
    "    the stored copies and their bytes (wrapped), messages with an\n"
    "    incomplete envelope (archived through always_bcc or sender_bcc_maps:\n"
    "    recipients taken from To/Cc), messages on hold, records removed by\n"
    "    expire, messages not yet in the full-text index (the indexer adds\n"
    "    them within seconds; search --text indexes them itself first),\n"
    "    messages archived with a degraded index (envelope only: their content\n"
    "    could not be indexed; search --degraded lists them), the\n"
    "    forward queue by status (deferred, sent, held, queued,\n"
    "    deleted), the oldest and newest arrival, then messages and bytes per\n"
    "    month and per day (arrival, UTC).\n"
    "\n"
    "OPTIONS\n"
    "    --json        one JSON object: the totals, \"forward\" (counts by\n"
    "                  status), \"months\" and \"days\" (lists of {period,\n"
    "                  messages, bytes})\n"
    "    -h, --help    this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium stats\n"
    "    tabularium stats --json | jq '.months[-1]'\n"
    "\n"
    "EXIT STATUS\n"
    "    0 printed, 2 usage, configuration or catalog error.\n";

const char cli_audit_help[] =
    "NAME\n"
    "    tabularium audit - who read or changed what in the archive\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium audit [--since DATE] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Lists the audit log, oldest first: every tabularium command that\n"
    "    read message content or changed data (show, export, hold add,\n"
    "    hold release, expire, queue delete) with its time, the user who ran\n"
    "    it (login name and uid; the sudo user when run through sudo), the\n"
    "    action and the archive ids or the query. The row is written before\n"
    "    the action: a command whose row cannot be written does nothing.\n"
    "\n"
    "OPTIONS\n"
    "    --since DATE  only rows from DATE on (YYYY-MM-DD or ISO 8601)\n"
    "    --json        one JSON object per row (keys id, at, user, action,\n"
    "                  detail)\n"
    "    -h, --help    this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium audit --since 2026-11-01\n"
    "    tabularium audit --json | jq 'select(.action == \"show\")'\n"
    "\n"
    "EXIT STATUS\n"
    "    0 rows listed, 1 no rows, 2 usage, configuration or catalog error.\n";

char *cli_audit_user(void)
{
    struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    char uid[32];

    snprintf(uid, sizeof(uid), "%lu", (unsigned long)getuid());
    if (getuid() == 0 && sudo != NULL && *sudo != '\0')
        return xasprintf("%s (uid %s, sudo by %s)", pw != NULL ? pw->pw_name : "?", uid, sudo);
    return xasprintf("%s (uid %s)", pw != NULL ? pw->pw_name : "?", uid);
}

int cli_audit_record(struct cli_context *ctx, const char *action, const char *detail)
{
    struct catalog *cat = ctx->catalog(ctx);
    const char *error;
    char *user;
    int ret = 0;

    if (cat == NULL)
        return -1;
    if (!catalog_can(cat, CATALOG_CAN_AUDIT))
        return 0; /* a catalog without an audit table */
    user = cli_audit_user();
    if (catalog_audit(cat, user, action, detail, &error) != TAB_OK) {
        fprintf(stderr, "tabularium %s: cannot write the audit log: %s\n", action, error);
        ret = -1;
    }
    free(user);
    return ret;
}

/* Per-period rows, kept until the totals are printed. */
struct stats_rows {
    struct strlist period, key;
    int64_t *messages, *bytes;
    size_t cap;
};

static int stats_row(const char *period, const char *key, int64_t messages, int64_t bytes,
                     void *ctx)
{
    struct stats_rows *r = ctx;
    size_t n = r->key.n;

    if (n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->messages = xrealloc(r->messages, r->cap * sizeof(*r->messages));
        r->bytes = xrealloc(r->bytes, r->cap * sizeof(*r->bytes));
    }
    strlist_add(&r->period, period);
    strlist_add(&r->key, key != NULL ? key : "");
    r->messages[n] = messages;
    r->bytes[n] = bytes;
    return 0;
}

static void stats_time(time_t t, char buf[21])
{
    if (t == 0)
        snprintf(buf, 21, "-");
    else
        record_format_time(t, buf);
}

static void stats_json(const struct catalog_stats *s, const struct stats_rows *rows)
{
    struct cli_output *o = cli_output_json_new(stdout);
    const struct {
        const char *key;
        int64_t value;
    } totals[] = {
        {"messages", s->messages},     {"bytes", s->bytes},
        {"copies", s->copies},         {"wrapped_bytes", s->wrapped_bytes},
        {"incomplete", s->incomplete}, {"held", s->held},
        {"expired", s->expired},       {"not_indexed", s->text_pending},
        {"degraded", s->degraded},
    };
    const struct {
        const char *key;
        int64_t value;
    } forward[] = {
        {"deferred", s->fwd_deferred}, {"sent", s->fwd_sent},       {"held", s->fwd_held},
        {"queued", s->fwd_queued},     {"deleted", s->fwd_deleted},
    };
    char oldest[21], newest[21];

    o->begin_map(o);
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        o->map_key(o, totals[i].key);
        o->integer(o, totals[i].value);
    }
    stats_time(s->oldest, oldest);
    stats_time(s->newest, newest);
    cli_output_key_string(o, "oldest", s->oldest ? oldest : NULL);
    cli_output_key_string(o, "newest", s->newest ? newest : NULL);
    o->map_key(o, "forward");
    o->begin_map(o);
    for (size_t i = 0; i < sizeof(forward) / sizeof(forward[0]); i++) {
        o->map_key(o, forward[i].key);
        o->integer(o, forward[i].value);
    }
    o->end(o);
    for (int p = 0; p < 2; p++) {
        const char *period = p == 0 ? "month" : "day";
        o->map_key(o, p == 0 ? "months" : "days");
        o->begin_list(o);
        for (size_t i = 0; i < rows->key.n; i++) {
            if (strcmp(rows->period.v[i], period) != 0)
                continue;
            o->begin_map(o);
            cli_output_key_string(o, "period", rows->key.v[i]);
            cli_output_key_integer(o, "messages", rows->messages[i]);
            cli_output_key_integer(o, "bytes", rows->bytes[i]);
            o->end(o);
        }
        o->end(o);
    }
    o->end(o);
    o->separator(o);
    cli_output_free(&o);
}

static void stats_text(const struct catalog_stats *s, const struct stats_rows *rows)
{
    char oldest[21], newest[21];

    stats_time(s->oldest, oldest);
    stats_time(s->newest, newest);
    printf("messages:             %" PRId64 " (%" PRId64 " bytes)\n", s->messages, s->bytes);
    printf("stored copies:        %" PRId64 " (%" PRId64 " bytes)\n", s->copies, s->wrapped_bytes);
    printf("incomplete envelopes: %" PRId64 "\n", s->incomplete);
    printf("on hold:              %" PRId64 "\n", s->held);
    printf("expired:              %" PRId64 "\n", s->expired);
    printf("not yet indexed:      %" PRId64 " (full-text index)\n", s->text_pending);
    printf("degraded index:       %" PRId64 " (tabularium search --degraded)\n", s->degraded);
    printf("forward queue:        deferred=%" PRId64 " sent=%" PRId64 " held=%" PRId64
           " queued=%" PRId64 " deleted=%" PRId64 "\n",
           s->fwd_deferred, s->fwd_sent, s->fwd_held, s->fwd_queued, s->fwd_deleted);
    printf("oldest:               %s\n", oldest);
    printf("newest:               %s\n", newest);
    for (int p = 0; p < 2; p++) {
        const char *period = p == 0 ? "month" : "day";
        printf("per %s:\n", period);
        for (size_t i = 0; i < rows->key.n; i++)
            if (strcmp(rows->period.v[i], period) == 0)
                printf("  %-10s %10" PRId64 " messages %14" PRId64 " bytes\n", rows->key.v[i],
                       rows->messages[i], rows->bytes[i]);
    }
}

int cli_stats(struct cli_context *ctx, int argc, char **argv)
{
    struct stats_rows rows;
    struct catalog_stats s;
    struct catalog *cat;
    const char *error;
    int operand, json = 0, status;
    const struct cli_syntax syntax = {"stats", cli_stats_help, 0, NULL,
                                      CLI_OPTIONS(CLI_OPTION_FLAG("json", &json))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_FOUND;
    if ((cat = cli_catalog_that(ctx, "stats", CATALOG_CAN_STATS, "has no statistics")) == NULL)
        return CLI_EXIT_USAGE;
    memset(&rows, 0, sizeof(rows));
    if (catalog_stats(cat, &s, stats_row, &rows, &error) != TAB_OK) {
        fprintf(stderr, "tabularium stats: %s\n", error);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (json)
        stats_json(&s, &rows);
    else
        stats_text(&s, &rows);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium stats: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
out:
    strlist_free(&rows.period);
    strlist_free(&rows.key);
    free(rows.messages);
    free(rows.bytes);
    return status;
}

struct audit_state {
    struct cli_output *out;
    long n;
};

static int audit_row(const struct catalog_audit_row *row, void *ctx)
{
    struct audit_state *s = ctx;
    struct cli_output *o = s->out;
    char at[21];

    s->n++;
    record_format_time(row->at, at);
    o->begin_map(o);
    cli_output_key_integer(o, "id", row->id);
    cli_output_key_string(o, "at", at);
    cli_output_key_string(o, "user", row->user);
    cli_output_key_string(o, "action", row->action);
    cli_output_key_string(o, "detail", row->detail);
    o->end(o);
    o->separator(o);
    return 0;
}

int cli_audit(struct cli_context *ctx, int argc, char **argv)
{
    struct audit_state s = {NULL, 0};
    struct catalog *cat;
    const char *error;
    time_t since = 0;
    int operand, json = 0, status;
    const struct cli_syntax syntax = {
        "audit", cli_audit_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_VALUE("since", cli_option_since, &since),
                    CLI_OPTION_FLAG("json", &json))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    cat = cli_catalog_that(ctx, "audit", CATALOG_CAN_AUDIT, "keeps no audit log");
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    s.out = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if (catalog_audit_list(cat, since, audit_row, &s, &error) != TAB_OK) {
        fprintf(stderr, "tabularium audit: %s\n", error);
        status = CLI_EXIT_USAGE;
    } else {
        status = s.n > 0 ? CLI_EXIT_FOUND : CLI_EXIT_NOT_FOUND;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium audit: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    cli_output_free(&s.out);
    return status;
}
