/*
 * NAME
 *	cli_retention 3
 * SUMMARY
 *	tabularium retention: the S3 bucket's lifecycle rule and Object Lock
 * SYNOPSIS
 *	tabularium retention show [--json]
 *	tabularium retention apply [--dry-run] [--replace]
 * DESCRIPTION
 *	show prints what the bucket of an s3 archive_store holds: its Object
 *	Lock configuration (enabled, default retention) and its lifecycle
 *	rules, and whether Tabularium's rule matches retention_period.
 *
 *	apply writes the lifecycle configuration that makes the bucket
 *	forget what retention_period no longer requires: current objects
 *	under the store's prefix expire after the period (in days, never
 *	fewer than the period), non-current versions one day after that,
 *	incomplete multipart uploads after one day. Object Lock still
 *	protects every version until its retain-until: lifecycle can only
 *	remove what the lock already releases.
 *
 *	A PUT of a lifecycle configuration replaces all rules of the
 *	bucket, so apply refuses when the bucket has rules of its own
 *	(another ID) unless --replace is given.
 *
 *	Never deletes an object itself and never changes the Object Lock
 *	configuration (a COMPLIANCE default cannot be undone).
 * DIAGNOSTICS
 *	Exit 0 done (show: Tabularium's rule is in place and matches);
 *	1 show: no rule or a rule that differs from retention_period;
 *	2 usage, configuration or S3 error (as "tabularium retention: ...").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/store.h"
#include "backends/store_retention.h"
#include "common/config.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_output.h"

const char cli_retention_help[] =
    "NAME\n"
    "    tabularium retention - the S3 bucket's lifecycle rule and Object Lock\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium retention show [--json]\n"
    "    tabularium retention apply [--dry-run] [--replace]\n"
    "\n"
    "DESCRIPTION\n"
    "    For an s3: archive_store. Every object tabulariumd uploads carries\n"
    "    its Object Lock retain-until (s3_object_lock_mode, retention_period);\n"
    "    the bucket's lifecycle rule is what removes it once that has passed.\n"
    "\n"
    "    show    the bucket's Object Lock configuration and lifecycle rules,\n"
    "            and whether the rule \"" STORE_RETENTION_RULE "\" matches\n"
    "            retention_period\n"
    "    apply   write that rule: objects under the store's prefix expire\n"
    "            after retention_period (in days; years count 365 days plus\n"
    "            one per started four years), non-current versions one day\n"
    "            later, incomplete multipart uploads after one day. Object\n"
    "            Lock still refuses to delete a version before its retain-\n"
    "            until date.\n"
    "\n"
    "OPTIONS\n"
    "    --json      show: one JSON object\n"
    "    --dry-run   apply: print the lifecycle configuration, change nothing\n"
    "    --replace   apply: replace the bucket's lifecycle configuration even\n"
    "                when it has rules that Tabularium did not write\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done (show: the rule is in place and matches retention_period),\n"
    "    1 show: the rule is missing or differs, 2 usage, configuration or S3\n"
    "    error.\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium retention apply --dry-run\n"
    "    tabularium retention apply\n"
    "    tabularium retention show\n"
    "    tabularium retention show --json | jq .lifecycle\n";

/* The bucket's store, or NULL after a message. */
static struct store *cli_retention_store(struct cli_context *ctx, const struct tab_config *cfg)
{
    struct store *st;

    if (!store_spec_keeps_retention(cfg->archive_store)) {
        fprintf(stderr,
                "tabularium retention: archive_store is not an s3: store; retention of other "
                "stores is done by tabularium expire\n");
        return NULL;
    }
    st = ctx->store(ctx);
    if (st == NULL || !store_retention_supported(st))
        return NULL;
    return st;
}

static void cli_retention_opt_int(struct cli_output *o, const char *key, long long n)
{
    o->map_key(o, key);
    if (n < 0)
        o->null(o);
    else
        o->integer(o, n);
}

static int cli_retention_show(struct cli_context *ctx, const struct tab_config *cfg, int json)
{
    struct store *st = cli_retention_store(ctx, cfg);
    struct store_retention ret;
    const char *error = NULL;
    long long want = store_retention_days(cfg->retention_period);
    const char *prefix;
    char *want_prefix;
    int in_sync = 0;

    if (st == NULL)
        return CLI_EXIT_USAGE;
    if (store_retention_read(st, &ret, &error) != TAB_OK) {
        fprintf(stderr, "tabularium retention: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    const struct store_retention_rule *rules = ret.rules;
    const char *lock_enabled = ret.lock_enabled, *def_mode = ret.default_mode;
    long long def_days = ret.default_days, def_years = ret.default_years;
    size_t n = ret.n_rules;

    prefix = store_retention_prefix(st);
    want_prefix = xasprintf("%s%s", prefix, *prefix != '\0' ? "/" : "");
    for (size_t i = 0; i < n; i++)
        if (rules[i].id != NULL && strcmp(rules[i].id, STORE_RETENTION_RULE) == 0 &&
            rules[i].status != NULL && strcmp(rules[i].status, "Enabled") == 0 &&
            rules[i].days == want && rules[i].prefix != NULL &&
            strcmp(rules[i].prefix, want_prefix) == 0)
            in_sync = want > 0;

    if (json) {
        struct cli_output *o = cli_output_json_new(stdout);
        o->begin_map(o);
        cli_output_key_string(o, "bucket", store_retention_bucket(st));
        cli_output_key_string(o, "prefix", want_prefix);
        cli_output_key_string(o, "retention_period", cfg->retention_period);
        cli_retention_opt_int(o, "retention_days", want > 0 ? want : -1);
        cli_output_key_string(o, "s3_object_lock_mode", cfg->s3_object_lock_mode);
        o->map_key(o, "object_lock");
        o->begin_map(o);
        o->map_key(o, "enabled");
        o->boolean(o, lock_enabled != NULL && strcmp(lock_enabled, "Enabled") == 0);
        cli_output_key_string(o, "default_mode", def_mode);
        cli_retention_opt_int(o, "default_days", def_days);
        cli_retention_opt_int(o, "default_years", def_years);
        o->end(o);
        o->map_key(o, "lifecycle");
        o->begin_list(o);
        for (size_t i = 0; i < n; i++) {
            o->begin_map(o);
            cli_output_key_string(o, "id", rules[i].id);
            cli_output_key_string(o, "status", rules[i].status);
            cli_output_key_string(o, "prefix", rules[i].prefix);
            cli_retention_opt_int(o, "expiration_days", rules[i].days);
            cli_retention_opt_int(o, "noncurrent_days", rules[i].noncurrent);
            cli_retention_opt_int(o, "abort_incomplete_days", rules[i].abort_days);
            o->end(o);
        }
        o->end(o);
        o->map_key(o, "in_sync");
        o->boolean(o, in_sync);
        o->end(o);
        o->separator(o);
        cli_output_free(&o);
    } else {
        printf("bucket: %s\n", store_retention_bucket(st));
        printf("prefix: %s\n", *want_prefix != '\0' ? want_prefix : "(whole bucket)");
        if (want > 0)
            printf("retention_period: %s (%lld days)\n", cfg->retention_period, want);
        else
            printf("retention_period: (keep forever)\n");
        printf("s3_object_lock_mode: %s\n", cfg->s3_object_lock_mode);
        if (lock_enabled == NULL)
            printf("object lock: not configured\n");
        else if (def_mode == NULL)
            printf("object lock: %s, no default retention\n", lock_enabled);
        else
            printf("object lock: %s, default retention %s %lld %s\n", lock_enabled, def_mode,
                   def_days >= 0 ? def_days : def_years, def_days >= 0 ? "days" : "years");
        if (n == 0)
            printf("lifecycle: no rules\n");
        for (size_t i = 0; i < n; i++) {
            printf("lifecycle rule %s: %s, prefix \"%s\"", rules[i].id ? rules[i].id : "(no id)",
                   rules[i].status ? rules[i].status : "?", rules[i].prefix ? rules[i].prefix : "");
            if (rules[i].days >= 0)
                printf(", expire after %lld days", rules[i].days);
            if (rules[i].noncurrent >= 0)
                printf(", non-current versions after %lld days", rules[i].noncurrent);
            if (rules[i].abort_days >= 0)
                printf(", incomplete uploads after %lld days", rules[i].abort_days);
            printf("\n");
        }
        if (want <= 0)
            printf("status: retention_period is empty: nothing expires\n");
        else if (in_sync)
            printf("status: in sync with retention_period\n");
        else
            printf("status: rule %s missing or different from retention_period "
                   "(run tabularium retention apply)\n",
                   STORE_RETENTION_RULE);
    }
    store_retention_free(&ret);
    free(want_prefix);
    return in_sync ? CLI_EXIT_FOUND : CLI_EXIT_NOT_FOUND;
}

static int cli_retention_apply(struct cli_context *ctx, const struct tab_config *cfg, int dry_run,
                               int replace)
{
    long long days = store_retention_days(cfg->retention_period);
    struct store *st;
    struct store_retention ret = {0};
    char *xml;
    const char *error = NULL;
    int rc = CLI_EXIT_FOUND;

    if (days <= 0) {
        fprintf(stderr, "tabularium retention: retention_period is empty (keep forever): "
                        "no lifecycle rule to write\n");
        return CLI_EXIT_USAGE;
    }
    st = cli_retention_store(ctx, cfg);
    if (st == NULL)
        return CLI_EXIT_USAGE;
    xml = store_retention_lifecycle(st, days);
    if (dry_run) {
        printf("%s\n", xml);
        free(xml);
        return CLI_EXIT_FOUND;
    }
    if (store_retention_read(st, &ret, &error) != TAB_OK) {
        fprintf(stderr, "tabularium retention: %s\n", error);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < ret.n_rules && !replace; i++) {
        const struct store_retention_rule *rule = &ret.rules[i];
        if (rule->id == NULL || strcmp(rule->id, STORE_RETENTION_RULE) != 0) {
            fprintf(stderr,
                    "tabularium retention: bucket %s has lifecycle rule \"%s\" that Tabularium "
                    "did not write; writing ours would remove it (use --replace)\n",
                    store_retention_bucket(st), rule->id ? rule->id : "(no id)");
            rc = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (store_retention_write(st, xml, &error) != TAB_OK) {
        fprintf(stderr, "tabularium retention: %s\n", error);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    printf("bucket %s: lifecycle rule %s written: objects under \"%s%s\" expire after %lld "
           "days, non-current versions 1 day later\n",
           store_retention_bucket(st), STORE_RETENTION_RULE, store_retention_prefix(st),
           *store_retention_prefix(st) != '\0' ? "/" : "", days);
out:
    store_retention_free(&ret);
    free(xml);
    return rc;
}

int cli_retention(struct cli_context *ctx, int argc, char **argv)
{
    const struct tab_config *cfg;
    const char *error;
    const char *action;
    int json = 0, dry_run = 0, replace = 0, operand, rc;
    const struct cli_syntax syntax = {"retention", cli_retention_help, 1, NULL,
                                      CLI_OPTIONS(CLI_OPTION_FLAG("json", &json),
                                                  CLI_OPTION_FLAG("dry-run", &dry_run),
                                                  CLI_OPTION_FLAG("replace", &replace))};

    if ((rc = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return rc;
    if (operand >= argc)
        return cli_usage_error("retention", "%s", "missing action: show or apply");
    action = argv[operand++];
    if (strcmp(action, "show") == 0) {
        if (dry_run || replace)
            return cli_usage_error("retention", "%s", "show takes only --json");
    } else if (strcmp(action, "apply") == 0) {
        if (json)
            return cli_usage_error("retention", "%s", "apply takes --dry-run and --replace");
    } else {
        return cli_usage_error("retention", "unknown action \"%s\" (show, apply)", action);
    }
    if ((cfg = ctx->config(ctx, &error)) == NULL) {
        fprintf(stderr, "tabularium retention: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    rc = strcmp(action, "show") == 0 ? cli_retention_show(ctx, cfg, json)
                                     : cli_retention_apply(ctx, cfg, dry_run, replace);
    return rc;
}
