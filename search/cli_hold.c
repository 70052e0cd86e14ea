/*
 * NAME
 *	cli_hold 3
 * SUMMARY
 *	tabularium hold and expire: legal holds and retention expiry
 * SYNOPSIS
 *	tabularium hold add --case NAME [search filters | ARCHIVE-ID...]
 *	tabularium hold release --case NAME [ARCHIVE-ID...]
 *	tabularium hold list [--case NAME] [--json]
 *	tabularium expire [--dry-run] [--json]
 * DESCRIPTION
 *	hold puts messages on legal hold for a named case, in the catalog's
 *	holds table (one row per message and case, so several cases can
 *	hold one message). When the store has a legal hold of its own (S3
 *	Object Lock), every copy of the message gets it on add, and loses
 *	it only when the last case releases the message.
 *
 *	expire removes what is past its retain-until (set from
 *	retention_period at arrival) and held by no case: each copy from
 *	the store first, then the catalog rows, which records each removed
 *	link (seq, archive id, hash, time, operator) in the expired table
 *	so that tabularium verify still sees an unbroken chain. A store that
 *	refuses (an S3 object still under Object Lock: TAB_PERM) keeps the
 *	message in the catalog; expire reports it and goes on.
 *
 *	Every change is appended to the audit table (search/cli_stats.c).
 *	Must never remove a held message: the catalog checks the holds
 *	again inside the transaction that removes the rows.
 * DIAGNOSTICS
 *	Exit 0 done, 1 (hold) an archive id that is not in the catalog, 2
 *	usage, configuration, catalog or store error, or (expire) a message
 *	that could not be removed. Messages on stderr as "tabularium hold:".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/catalog.h"
#include "common/archive_id.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_filters.h"
#include "search/cli_output.h"

const char cli_hold_help[] =
    "NAME\n"
    "    tabularium hold - put archived messages on legal hold for a case\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium hold add --case NAME [search filters | ARCHIVE-ID...]\n"
    "    tabularium hold release --case NAME [ARCHIVE-ID...]\n"
    "    tabularium hold list [--case NAME] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    A message on hold is never removed by tabularium expire, whatever\n"
    "    its retention. Holds belong to a case (a matter, an investigation):\n"
    "    several cases can hold the same message, and it stays held until\n"
    "    the last of them releases it. On a store with its own legal hold\n"
    "    (S3 Object Lock) every copy of the message gets the store's legal\n"
    "    hold too, cleared when the last case releases it.\n"
    "\n"
    "    add      hold the messages named by archive id, or those that the\n"
    "             search filters select (the options of tabularium search:\n"
    "             --from --to --subject --since --until --message-id --text\n"
    "             --attachment --has-attachment --limit)\n"
    "    release  release the named messages from the case; without ids,\n"
    "             every message the case holds\n"
    "    list     the holds (case, archive id, since, by whom), one per line\n"
    "\n"
    "    Every add and release is recorded in the audit log (tabularium audit).\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium hold add --case ACME-2026 --from ceo@example.com --since 2026-01-01\n"
    "    tabularium hold add --case ACME-2026 6B0732A5DC69F065B791\n"
    "    tabularium hold list --case ACME-2026\n"
    "    tabularium hold release --case ACME-2026\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done, 1 an archive id is not in the catalog (list: no holds),\n"
    "    2 usage, configuration, catalog or store error.\n";

const char cli_expire_help[] =
    "NAME\n"
    "    tabularium expire - remove messages past their retention\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium expire [--dry-run] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Removes every message whose copies are all past their retain-until\n"
    "    (arrival + retention_period; messages archived while retention_period\n"
    "    was empty are kept forever) and that no case holds (tabularium hold):\n"
    "    first each stored copy from the store, then the catalog rows. The\n"
    "    removal of each copy (archive id, chain seq and hash, time, operator)\n"
    "    is recorded in the catalog's expired table, so tabularium verify\n"
    "    tells an expired message from a missing one, and in the audit log.\n"
    "\n"
    "    A store that refuses to remove a copy (an S3 object still under\n"
    "    Object Lock) leaves the message in the catalog; it is reported and\n"
    "    the next run tries again.\n"
    "\n"
    "    One line per message: expired (or would expire), its archive id,\n"
    "    its arrival, retain-until and number of copies.\n"
    "\n"
    "OPTIONS\n"
    "    --dry-run     only list what would be removed\n"
    "    --json        one JSON object per message (keys archive_id, arrival,\n"
    "                  retain_until, copies, status), then a summary object\n"
    "    -h, --help    this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium expire --dry-run\n"
    "    tabularium expire          (daily, from cron)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done (also when nothing was due), 2 usage, configuration, catalog\n"
    "    or store error, or a message that could not be removed.\n";

static int hold_collect_id(const struct archive_record *rec, void *ctx)
{
    strlist_add(ctx, rec->archive_id);
    return 0;
}

struct hold_list_state {
    struct cli_output *out;
    int json;
    long n;
    struct strlist *ids; /* or collect the ids (release without ids) */
};

static int hold_list_row(const struct catalog_hold_row *row, void *ctx)
{
    struct hold_list_state *s = ctx;
    struct cli_output *o = s->out;
    char added[21];

    s->n++;
    if (s->ids != NULL) {
        strlist_add(s->ids, row->archive_id);
        return 0;
    }
    record_format_time(row->added, added);
    o->begin_map(o);
    o->map_key(o, "case");
    o->string(o, row->case_name);
    o->map_key(o, "archive_id");
    o->string(o, row->archive_id);
    o->map_key(o, "added");
    o->string(o, added);
    o->map_key(o, "by");
    o->string(o, row->user);
    o->end(o);
    o->separator(o);
    return 0;
}

/* Hold (on) or release one message; 0 ok, 1 not found, -1 error (printed). */
static int hold_one(struct cli_context *ctx, struct catalog *cat, const char *id,
                    const char *case_name, int on, const char *user)
{
    struct strlist locations = STRLIST_INIT;
    const char *error;
    int changed, holds, ret = 0;
    enum tab_result r;
    struct store *st;

    r = cat->hold(cat, id, case_name, on, user, &changed, &holds, &locations, &error);
    if (r == TAB_PERM) {
        fprintf(stderr, "tabularium hold: %s\n", error);
        strlist_free(&locations);
        return 1;
    }
    if (r != TAB_OK) {
        fprintf(stderr, "tabularium hold: %s\n", error);
        strlist_free(&locations);
        return -1;
    }
    printf("%s %s %s: %s, held by %d case%s\n", on ? "hold" : "release", case_name, id,
           changed ? (on ? "added" : "released") : (on ? "already held" : "was not held"), holds,
           holds == 1 ? "" : "s");
    /* The store's own hold: on while any case holds the message. Set or
     * cleared again on every call, so a rerun repairs a failed one. */
    if (on || holds == 0) {
        st = ctx->store(ctx);
        if (st == NULL) {
            ret = -1;
        } else if (st->legal_hold != NULL) {
            for (size_t i = 0; i < locations.n; i++) {
                if (st->legal_hold(st, locations.v[i], on ? 1 : 0, &error) != TAB_OK) {
                    fprintf(stderr, "tabularium hold: %s: %s the store's legal hold on %s: %s\n",
                            id, on ? "setting" : "clearing", locations.v[i], error);
                    ret = -1;
                }
            }
        }
    }
    strlist_free(&locations);
    return ret;
}

int cli_hold(struct cli_context *ctx, int argc, char **argv)
{
    struct option longopts[CLI_FILTER_NOPTIONS + 4];
    struct cli_filters f = CLI_FILTERS_INIT;
    struct strlist ids = STRLIST_INIT;
    const char *case_name = NULL, *sub, *error;
    struct catalog *cat;
    int c, json = 0, status = CLI_EXIT_FOUND, on;
    char *user = NULL, *detail = NULL, *joined;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cli_hold_help, stdout);
        return CLI_EXIT_FOUND;
    }
    if (argc < 2)
        return cli_usage_error("hold", "%s", "add, release or list expected");
    sub = argv[1];
    if (strcmp(sub, "add") != 0 && strcmp(sub, "release") != 0 && strcmp(sub, "list") != 0)
        return cli_usage_error("hold", "unknown subcommand \"%s\"", sub);
    on = strcmp(sub, "add") == 0;

    memcpy(longopts, cli_filter_options, sizeof(cli_filter_options));
    longopts[CLI_FILTER_NOPTIONS] = (struct option){"case", required_argument, NULL, 'c'};
    longopts[CLI_FILTER_NOPTIONS + 1] = (struct option){"json", no_argument, NULL, 'j'};
    longopts[CLI_FILTER_NOPTIONS + 2] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[CLI_FILTER_NOPTIONS + 3] = (struct option){NULL, 0, NULL, 0};
    optind = 0;
    opterr = 0;
    argc--;
    argv++;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            case_name = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(cli_hold_help, stdout);
            cli_filters_free(&f);
            return CLI_EXIT_FOUND;
        case ':':
            cli_filters_free(&f);
            return cli_usage_error("hold", "option %s needs a value", argv[optind - 1]);
        default:
            switch (cli_filters_option(&f, "hold", c, optarg)) {
            case 1:
                if (!on) {
                    cli_filters_free(&f);
                    return cli_usage_error("hold", "search filters only with hold add (%s)",
                                           argv[optind - 1]);
                }
                continue;
            case -1:
                cli_filters_free(&f);
                return CLI_EXIT_USAGE;
            default:
                cli_filters_free(&f);
                return cli_usage_error("hold", "unknown option %s", argv[optind - 1]);
            }
        }
    }
    if (strcmp(sub, "list") != 0) {
        if (case_name == NULL || *case_name == '\0') {
            cli_filters_free(&f);
            return cli_usage_error("hold", "%s", "--case NAME is required");
        }
        if (json) {
            cli_filters_free(&f);
            return cli_usage_error("hold", "%s", "--json only with hold list");
        }
    } else if (optind < argc || cli_filters_any(&f)) {
        cli_filters_free(&f);
        return cli_usage_error("hold", "%s", "hold list takes only --case and --json");
    }
    for (int i = optind; i < argc; i++) {
        if (!archive_id_valid(argv[i])) {
            cli_filters_free(&f);
            return cli_usage_error("hold", "\"%s\" is not an archive id (20 hex digits)", argv[i]);
        }
        strlist_add(&ids, argv[i]);
    }
    if (on && ids.n == 0 && !cli_filters_any(&f)) {
        cli_filters_free(&f);
        return cli_usage_error("hold", "%s", "hold add needs archive ids or search filters");
    }
    if (on && ids.n > 0 && cli_filters_any(&f)) {
        cli_filters_free(&f);
        strlist_free(&ids);
        return cli_usage_error("hold", "%s", "give archive ids or search filters, not both");
    }

    cat = ctx->catalog(ctx);
    if (cat == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (cat->hold == NULL || cat->hold_list == NULL) {
        fprintf(stderr, "tabularium hold: the %s catalog keeps no holds\n", cat->name);
        status = CLI_EXIT_USAGE;
        goto out;
    }

    if (strcmp(sub, "list") == 0) {
        struct hold_list_state s = {NULL, json, 0, NULL};
        s.out = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
        if (cat->hold_list(cat, case_name, hold_list_row, &s, &error) != TAB_OK) {
            fprintf(stderr, "tabularium hold: %s\n", error);
            status = CLI_EXIT_USAGE;
        } else if (s.n == 0) {
            status = CLI_EXIT_NOT_FOUND;
        }
        cli_output_free(&s.out);
        goto out;
    }

    if (on && ids.n == 0) {
        if (cat->search(cat, &f.q, hold_collect_id, &ids, &error) != TAB_OK) {
            fprintf(stderr, "tabularium hold: %s\n", error);
            status = CLI_EXIT_USAGE;
            goto out;
        }
        cli_filters_note_unindexed(&f, cat, "hold");
        if (ids.n == 0) {
            fprintf(stderr, "tabularium hold: no message matches\n");
            status = CLI_EXIT_NOT_FOUND;
            goto out;
        }
    } else if (!on && ids.n == 0) {
        struct hold_list_state s = {NULL, 0, 0, &ids};
        if (cat->hold_list(cat, case_name, hold_list_row, &s, &error) != TAB_OK) {
            fprintf(stderr, "tabularium hold: %s\n", error);
            status = CLI_EXIT_USAGE;
            goto out;
        }
        if (ids.n == 0) {
            fprintf(stderr, "tabularium hold: case %s holds no message\n", case_name);
            status = CLI_EXIT_NOT_FOUND;
            goto out;
        }
    }

    /* Recorded before the change: an action the audit log cannot take is
     * not done. */
    user = cli_audit_user();
    joined = strlist_join(&ids, " ");
    if (cli_filters_any(&f)) {
        char *query = strlist_join(&f.given, " ");
        detail = xasprintf("case=%s query=%s ids=%s", case_name, query, joined);
        free(query);
    } else {
        detail = xasprintf("case=%s ids=%s", case_name, joined);
    }
    free(joined);
    if (cli_audit_record(ctx, on ? "hold add" : "hold release", detail) < 0) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < ids.n; i++) {
        int r = hold_one(ctx, cat, ids.v[i], case_name, on, user);
        if (r < 0)
            status = CLI_EXIT_USAGE;
        else if (r > 0 && status == CLI_EXIT_FOUND)
            status = CLI_EXIT_NOT_FOUND;
    }
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium hold: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    free(user);
    free(detail);
    strlist_free(&ids);
    cli_filters_free(&f);
    return status;
}

/* What expire found: the copies of each message, in order. */
struct expire_state {
    struct chain_link *v;
    size_t n, cap;
};

static int expire_collect(const struct chain_link *link, void *ctx)
{
    struct expire_state *s = ctx;
    struct chain_link *c;

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    c = &s->v[s->n++];
    memset(c, 0, sizeof(*c));
    c->seq = link->seq;
    memcpy(c->archive_id, link->archive_id, sizeof(c->archive_id));
    memcpy(c->message_archive_id, link->message_archive_id, sizeof(c->message_archive_id));
    memcpy(c->hash, link->hash, sizeof(c->hash));
    c->arrival = link->arrival;
    c->retain_until = link->retain_until;
    c->store = link->store ? xstrdup(link->store) : NULL;
    c->location = link->location ? xstrdup(link->location) : NULL;
    return 0;
}

static void expire_print(struct cli_output *o, int json, const char *id, time_t arrival,
                         time_t retain_until, size_t copies, const char *status, const char *why)
{
    char a[21], r[21];

    record_format_time(arrival, a);
    record_format_time(retain_until, r);
    if (!json) {
        printf("%s %s arrival=%s retain_until=%s copies=%zu%s%s\n", status, id, a, r, copies,
               why ? ": " : "", why ? why : "");
        return;
    }
    o->begin_map(o);
    o->map_key(o, "archive_id");
    o->string(o, id);
    o->map_key(o, "arrival");
    o->string(o, a);
    o->map_key(o, "retain_until");
    o->string(o, r);
    o->map_key(o, "copies");
    o->integer(o, (int64_t)copies);
    o->map_key(o, "status");
    o->string(o, status);
    if (why != NULL) {
        o->map_key(o, "error");
        o->string(o, why);
    }
    o->end(o);
    o->separator(o);
}

int cli_expire(struct cli_context *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct expire_state s = {NULL, 0, 0};
    struct cli_output *o = NULL;
    struct catalog *cat;
    struct store *st = NULL;
    const char *error;
    char *user = NULL;
    time_t now = time(NULL);
    long expired = 0, kept = 0;
    int c, dry_run = 0, json = 0, status = CLI_EXIT_FOUND;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            dry_run = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(cli_expire_help, stdout);
            return CLI_EXIT_FOUND;
        default:
            return cli_usage_error("expire", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("expire", "unexpected argument \"%s\"", argv[optind]);
    cat = ctx->catalog(ctx);
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    if (cat->expire_candidates == NULL || cat->expire_remove == NULL) {
        fprintf(stderr, "tabularium expire: the %s catalog cannot expire messages\n", cat->name);
        return CLI_EXIT_USAGE;
    }
    if (cat->expire_candidates(cat, now, expire_collect, &s, &error) != TAB_OK) {
        fprintf(stderr, "tabularium expire: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    o = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if (s.n > 0 && !dry_run) {
        st = ctx->store(ctx);
        if (st == NULL) {
            status = CLI_EXIT_USAGE;
            goto out;
        }
        if (st->remove == NULL) {
            fprintf(stderr, "tabularium expire: the %s store cannot remove messages\n", st->name);
            status = CLI_EXIT_USAGE;
            goto out;
        }
        user = cli_audit_user();
    }
    for (size_t i = 0; i < s.n;) {
        size_t j = i, copies;
        const char *id = s.v[i].message_archive_id, *why = NULL;
        time_t retain = 0;
        char *audit;

        while (j < s.n && strcmp(s.v[j].message_archive_id, id) == 0) {
            if (s.v[j].retain_until > retain)
                retain = s.v[j].retain_until;
            j++;
        }
        copies = j - i;
        if (dry_run) {
            expire_print(o, json, id, s.v[i].arrival, retain, copies, "would-expire", NULL);
            expired++;
            i = j;
            continue;
        }
        audit = xasprintf("%s copies=%zu retain_until=%lld", id, copies, (long long)retain);
        if (cli_audit_record(ctx, "expire", audit) < 0) {
            free(audit);
            status = CLI_EXIT_USAGE;
            break;
        }
        free(audit);
        for (size_t k = i; k < j && why == NULL; k++) {
            if (strcmp(s.v[k].store, st->name) != 0)
                why = "stored in another store than archive_store";
            else if (st->remove(st, s.v[k].location, &error) != TAB_OK)
                why = error;
        }
        if (why == NULL && cat->expire_remove(cat, id, now, user, &error) != TAB_OK)
            why = error;
        if (why == NULL) {
            expire_print(o, json, id, s.v[i].arrival, retain, copies, "expired", NULL);
            expired++;
        } else {
            expire_print(o, json, id, s.v[i].arrival, retain, copies, "kept", why);
            fprintf(stderr, "tabularium expire: %s kept: %s\n", id, why);
            kept++;
            status = CLI_EXIT_USAGE;
        }
        i = j;
    }
    if (json) {
        o->begin_map(o);
        o->map_key(o, "summary");
        o->string(o, dry_run ? "dry-run" : "expired");
        o->map_key(o, dry_run ? "would_expire" : "expired");
        o->integer(o, expired);
        o->map_key(o, "kept");
        o->integer(o, kept);
        o->end(o);
        o->separator(o);
    } else {
        printf("expire: %ld message%s %s, %ld kept\n", expired, expired == 1 ? "" : "s",
               dry_run ? "would be removed" : "removed", kept);
    }
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium expire: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < s.n; i++)
        catalog_chain_link_free(&s.v[i]);
    free(s.v);
    free(user);
    cli_output_free(&o);
    return status;
}
