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
 *	expire acts only on values the integrity chain covers: before a
 *	message goes, each of its copies' rows is hashed again with the
 *	chain's encoding (catalog_chain_hash, as verify does) and must equal
 *	its link's hash, the previous link must carry the prev_hash it
 *	names, the next link (or the chain head) must name its hash, and
 *	its retain-until, as hashed, must have passed. A message that fails
 *	(a retain-until lowered or a location changed with sqlite3 or psql)
 *	stays, store and catalog: it is reported "altered" on stdout and
 *	stderr and in the audit table ("expire refused"), and the others are
 *	expired as usual. The check is in this file, over the driver's
 *	catalog_chain_walk(), so both catalogs behave the same.
 *
 *	On a terminal, a progress line (common/progress.h) follows the three
 *	steps: candidates read, chain links checked, messages removed.
 *
 *	Every change is appended to the audit table (search/read/cli_stats.c).
 *	Must never remove a held message: the catalog checks the holds
 *	again inside the transaction that removes the rows.
 * DIAGNOSTICS
 *	Exit 0 done, 1 (hold) an archive id that is not in the catalog, 2
 *	usage, configuration, catalog or store error, or (expire) a message
 *	that could not be removed, 3 (expire) a candidate whose chain link
 *	does not verify (not removed). Messages on stderr as "tabularium
 *	hold:" or "tabularium expire:".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "common/archive_id.h"
#include "common/progress.h"
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
    "    Only what the integrity chain vouches for is acted on: each copy's\n"
    "    catalog row must hash to its chain link, and the links before and\n"
    "    after it must agree, before anything is removed. A message whose\n"
    "    row was changed behind the chain's back (a retain-until lowered, a\n"
    "    location edited) is not removed: it is reported \"altered\", on\n"
    "    stderr and in the audit log, and the other messages go as usual.\n"
    "    Run tabularium verify to see what else differs.\n"
    "\n"
    "    One line per message: expired (or would-expire, kept, altered),\n"
    "    its archive id, its arrival, retain-until and number of copies.\n"
    "    When stderr is a terminal, a progress line counts the candidates\n"
    "    read, the chain links checked, then the messages removed (or, with\n"
    "    --dry-run, listed) with the rate and the time left; it is erased\n"
    "    at the end, and nothing is drawn when stderr is a file or a pipe.\n"
    "\n"
    "OPTIONS\n"
    "    --dry-run     only list what would be removed\n"
    "    --json        one JSON object per message (keys archive_id, arrival,\n"
    "                  retain_until, copies, status, error), then a summary\n"
    "                  object (keys summary, expired or would_expire, kept,\n"
    "                  altered)\n"
    "    -h, --help    this text\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium expire --dry-run\n"
    "    tabularium expire          (daily, from cron)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done (also when nothing was due), 2 usage, configuration, catalog\n"
    "    or store error, or a message that could not be removed, 3 a message\n"
    "    whose chain link does not verify (altered; not removed).\n";

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
    cli_output_key_string(o, "case", row->case_name);
    cli_output_key_string(o, "archive_id", row->archive_id);
    cli_output_key_string(o, "added", added);
    cli_output_key_string(o, "by", row->user);
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

    r = catalog_hold(cat, id, case_name, on, user, &changed, &holds, &locations, &error);
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

/* hold release and hold list select by archive id or case only. */
static int hold_refuse_filter(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)value;
    (void)dest;
    return cli_usage_error(cmd, "search filters only with hold add (%s)", word);
}

int cli_hold(struct cli_context *ctx, int argc, char **argv)
{
    struct cli_filters f = CLI_FILTERS_INIT;
    struct strlist ids = STRLIST_INIT;
    const char *case_name = NULL, *sub, *error;
    struct catalog *cat;
    int operand, json = 0, status, on;
    char *user = NULL, *detail = NULL, *joined;
    struct cli_option options[] = {
        CLI_OPTION_FILTERS(&f, NULL),
        CLI_OPTION_STRING("case", &case_name),
        CLI_OPTION_FLAG("json", &json),
        CLI_OPTION_END,
    };
    const struct cli_syntax syntax = {"hold", cli_hold_help, CLI_OPERANDS_ANY, NULL, options};

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
    if (!on)
        options[0].fn = hold_refuse_filter;

    /* The subcommand stands where the command name would. */
    argc--;
    argv++;
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED) {
        cli_filters_free(&f);
        return status;
    }
    status = CLI_EXIT_FOUND;
    if (strcmp(sub, "list") != 0) {
        if (case_name == NULL || *case_name == '\0') {
            cli_filters_free(&f);
            return cli_usage_error("hold", "%s", "--case NAME is required");
        }
        if (json) {
            cli_filters_free(&f);
            return cli_usage_error("hold", "%s", "--json only with hold list");
        }
    } else if (operand < argc || cli_filters_any(&f)) {
        cli_filters_free(&f);
        return cli_usage_error("hold", "%s", "hold list takes only --case and --json");
    }
    for (int i = operand; i < argc; i++) {
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

    cat = cli_catalog_that(ctx, "hold", CATALOG_CAN_HOLD, "keeps no holds");
    if (cat == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }

    if (strcmp(sub, "list") == 0) {
        struct hold_list_state s = {NULL, json, 0, NULL};
        s.out = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
        if (catalog_hold_list(cat, case_name, hold_list_row, &s, &error) != TAB_OK) {
            fprintf(stderr, "tabularium hold: %s\n", error);
            status = CLI_EXIT_USAGE;
        } else if (s.n == 0) {
            status = CLI_EXIT_NOT_FOUND;
        }
        cli_output_free(&s.out);
        goto out;
    }

    if (on && ids.n == 0) {
        if (catalog_search(cat, &f.q, cli_filters_collect_id, &ids, &error) != TAB_OK) {
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
        if (catalog_hold_list(cat, case_name, hold_list_row, &s, &error) != TAB_OK) {
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

/*
 * expire acts only on what the chain vouches for. Each candidate copy
 * (its catalog row) is hashed again with the chain's own encoding
 * (catalog_chain_hash, as verify does) and compared with its stored hash;
 * then the walk of the whole chain (one more snapshot) must show the
 * same link at its seq, the previous link's hash as its prev_hash, and
 * the next link (or the chain head) naming its hash. A row changed with
 * sqlite3 or psql (retain-until lowered, location pointed elsewhere)
 * fails one of these, unless everything after it up to the head was
 * re-hashed too: only seals kept elsewhere catch that (verify --against).
 */
struct expire_copy {
    struct chain_link link; /* the fields expire uses: no envelope, no recipients */
    int hash_ok;            /* the row hashes to its stored hash */
    int self_seen;          /* walk rows at this seq (1 expected) */
    int self_differs;       /* ... with another hash or archive id */
    int pred_seen, succ_seen;
    char pred_hash[SHA256_HEX_SIZE]; /* hash of the link at seq - 1 */
    char succ_prev[SHA256_HEX_SIZE]; /* prev_hash of the link at seq + 1 */
};

/* What expire found: the copies of each message, in order. */
struct expire_state {
    struct expire_copy *v;
    size_t n, cap;
    size_t *by_seq;            /* indexes into v ordered by seq, for the walk */
    struct progress *progress; /* on stderr, when it is a terminal */
    uint64_t walked;           /* links read, for the progress line */
};

static int expire_collect(const struct chain_link *link, void *ctx)
{
    struct expire_state *s = ctx;
    struct expire_copy *e;
    struct chain_link *c;
    char hash[SHA256_HEX_SIZE];

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    e = &s->v[s->n++];
    memset(e, 0, sizeof(*e));
    catalog_chain_hash(link, hash);
    e->hash_ok = link->seq > 0 && strcmp(hash, link->hash) == 0;
    c = &e->link;
    c->seq = link->seq;
    memcpy(c->archive_id, link->archive_id, sizeof(c->archive_id));
    memcpy(c->message_archive_id, link->message_archive_id, sizeof(c->message_archive_id));
    memcpy(c->hash, link->hash, sizeof(c->hash));
    memcpy(c->prev_hash, link->prev_hash, sizeof(c->prev_hash));
    c->arrival = link->arrival;
    c->retain_until = link->retain_until;
    c->store = link->store ? xstrdup(link->store) : NULL;
    c->location = link->location ? xstrdup(link->location) : NULL;
    progress_update(s->progress, s->n);
    return 0;
}

static const struct expire_state *expire_sort_state;

static int expire_seq_cmp(const void *a, const void *b)
{
    int64_t x = expire_sort_state->v[*(const size_t *)a].link.seq;
    int64_t y = expire_sort_state->v[*(const size_t *)b].link.seq;

    return x < y ? -1 : x > y;
}

/* First position in by_seq whose seq is >= seq. */
static size_t expire_seq_lower(const struct expire_state *s, int64_t seq)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[s->by_seq[mid]].link.seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One link of the chain walk: note what the candidates next to it need. */
static int expire_walk_fn(const struct chain_link *link, void *ctx)
{
    struct expire_state *s = ctx;

    progress_update(s->progress, ++s->walked);
    if (link->kind == CHAIN_MESSAGE_NO_COPY || link->seq <= 0)
        return 0;
    for (size_t k = expire_seq_lower(s, link->seq - 1); k < s->n; k++) {
        struct expire_copy *e = &s->v[s->by_seq[k]];
        if (e->link.seq > link->seq + 1)
            break;
        if (e->link.seq == link->seq) {
            e->self_seen++;
            if (strcmp(e->link.hash, link->hash) != 0 ||
                strcmp(e->link.archive_id, link->archive_id) != 0)
                e->self_differs = 1;
        } else if (e->link.seq == link->seq + 1) {
            e->pred_seen++;
            memcpy(e->pred_hash, link->hash, sizeof(e->pred_hash));
        } else {
            e->succ_seen++;
            memcpy(e->succ_prev, link->prev_hash, sizeof(e->succ_prev));
        }
    }
    return 0;
}

/* Why copy e must not go (NULL: its link verifies and it is due). */
static const char *expire_link_problem(const struct expire_copy *e, const struct chain_seal *head,
                                       time_t now)
{
    const struct chain_link *l = &e->link;

    if (l->seq <= 0)
        return "the copy row has no place in the chain (no seq)";
    if (!e->hash_ok)
        return "the catalog row differs from what its link hash recorded at arrival"
               " (a field such as retain-until or location was changed)";
    if (e->self_seen != 1 || e->self_differs)
        return "the chain does not hold this link as expire read it";
    if (l->seq == 1 ? strcmp(l->prev_hash, CHAIN_GENESIS) != 0
                    : e->pred_seen != 1 || strcmp(e->pred_hash, l->prev_hash) != 0)
        return "the previous link's hash differs from the one this link recorded";
    if (l->seq > head->seq)
        return "the link lies beyond the chain head";
    if (l->seq == head->seq ? strcmp(head->hash, l->hash) != 0
                            : e->succ_seen != 1 || strcmp(e->succ_prev, l->hash) != 0)
        return "the next link recorded another hash for this one (the link was rewritten)";
    if (l->retain_until == 0 || l->retain_until > now)
        return "its retain-until, as the chain recorded it, has not passed";
    return NULL;
}

/* Walk the chain once and check every candidate against it; -1 when the
 * chain cannot be read (printed). */
static int expire_check_chain(struct catalog *cat, struct expire_state *s,
                              struct chain_seal *head_r)
{
    const char *error;
    int r = 0;

    /* The head's seq is the number of links the walk reads (give or
     * take a forged row): the total for the progress line. */
    if (catalog_chain_head(cat, head_r, &error) != TAB_OK) {
        fprintf(stderr, "tabularium expire: reading the chain head: %s\n", error);
        return -1;
    }
    s->progress = progress_new("expire: checking the chain", "links",
                               head_r->seq > 0 ? (uint64_t)head_r->seq : 0);
    s->by_seq = xmalloc((s->n ? s->n : 1) * sizeof(*s->by_seq));
    for (size_t i = 0; i < s->n; i++)
        s->by_seq[i] = i;
    expire_sort_state = s;
    qsort(s->by_seq, s->n, sizeof(*s->by_seq), expire_seq_cmp);
    if (catalog_chain_walk(cat, head_r, expire_walk_fn, s, &error) != TAB_OK) {
        progress_clear(s->progress);
        fprintf(stderr, "tabularium expire: reading the chain: %s\n", error);
        r = -1;
    }
    progress_end(&s->progress);
    return r;
}

/* How many messages the copies of s (grouped by message) belong to. */
static size_t expire_messages(const struct expire_state *s)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n; i++)
        if (i == 0 ||
            strcmp(s->v[i].link.message_archive_id, s->v[i - 1].link.message_archive_id) != 0)
            n++;
    return n;
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
    cli_output_key_string(o, "archive_id", id);
    cli_output_key_string(o, "arrival", a);
    cli_output_key_string(o, "retain_until", r);
    cli_output_key_integer(o, "copies", (int64_t)copies);
    cli_output_key_string(o, "status", status);
    if (why != NULL) {
        cli_output_key_string(o, "error", why);
    }
    o->end(o);
    o->separator(o);
}

int cli_expire(struct cli_context *ctx, int argc, char **argv)
{
    struct expire_state s = {NULL, 0, 0, NULL, NULL, 0};
    struct progress *progress = NULL;
    size_t done = 0;
    int stdout_tty = isatty(STDOUT_FILENO);
    struct cli_output *o = NULL;
    struct chain_seal head = {0, 0, CHAIN_GENESIS};
    struct catalog *cat;
    struct store *st = NULL;
    const char *error;
    char *user = NULL;
    time_t now = time(NULL);
    long expired = 0, kept = 0, altered = 0;
    int operand, dry_run = 0, json = 0, status;
    const struct cli_syntax syntax = {
        "expire", cli_expire_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_FLAG("dry-run", &dry_run), CLI_OPTION_FLAG("json", &json))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_FOUND;
    /* Without a chain nothing could vouch for a retain-until. */
    cat = cli_catalog_that(ctx, "expire", CATALOG_CAN_EXPIRE, "cannot expire messages");
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    s.progress = progress_new("expire: reading candidates", "copies", 0);
    if (catalog_expire_candidates(cat, now, expire_collect, &s, &error) != TAB_OK) {
        progress_end(&s.progress);
        fprintf(stderr, "tabularium expire: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    progress_end(&s.progress);
    o = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if (s.n > 0 && expire_check_chain(cat, &s, &head) < 0) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
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
    if (s.n > 0)
        progress = progress_new(dry_run ? "expire --dry-run" : "expire", "messages",
                                (uint64_t)expire_messages(&s));
    for (size_t i = 0; i < s.n; progress_update(progress, ++done)) {
        size_t j = i, copies;
        const char *id = s.v[i].link.message_archive_id, *why = NULL, *problem = NULL;
        const struct chain_link *bad = NULL;
        time_t retain = 0;
        char *audit;

        while (j < s.n && strcmp(s.v[j].link.message_archive_id, id) == 0) {
            if (s.v[j].link.retain_until > retain)
                retain = s.v[j].link.retain_until;
            if (problem == NULL && (problem = expire_link_problem(&s.v[j], &head, now)) != NULL)
                bad = &s.v[j].link;
            j++;
        }
        copies = j - i;
        /* A line on stdout or stderr would run into the progress line. */
        if (problem != NULL || stdout_tty)
            progress_clear(progress); /* the next update draws it again */
        if (problem != NULL) {
            /* Someone changed the catalog behind the chain's back: the
             * message stays, and the operator hears about it. */
            char *detail =
                xasprintf("copy %s (link %" PRId64 "): %s", bad->archive_id, bad->seq, problem);
            expire_print(o, json, id, s.v[i].link.arrival, retain, copies, "altered", detail);
            fprintf(stderr, "tabularium expire: %s not removed: %s; run tabularium verify\n", id,
                    detail);
            altered++;
            if (status < CLI_EXIT_INTEGRITY)
                status = CLI_EXIT_INTEGRITY;
            if (!dry_run) {
                audit = xasprintf("%s refused: %s", id, detail);
                if (cli_audit_record(ctx, "expire refused", audit) < 0)
                    status = status > CLI_EXIT_USAGE ? status : CLI_EXIT_USAGE;
                free(audit);
            }
            free(detail);
            i = j;
            continue;
        }
        if (dry_run) {
            expire_print(o, json, id, s.v[i].link.arrival, retain, copies, "would-expire", NULL);
            expired++;
            i = j;
            continue;
        }
        audit = xasprintf("%s copies=%zu retain_until=%lld", id, copies, (long long)retain);
        if (cli_audit_record(ctx, "expire", audit) < 0) {
            progress_clear(progress);
            free(audit);
            status = status > CLI_EXIT_USAGE ? status : CLI_EXIT_USAGE;
            break;
        }
        free(audit);
        /* while its copies can still be read: the full-text index must
         * be given the words to delete (SQLite) */
        if (catalog_unindex(cat, id, &error) != TAB_OK)
            why = error;
        for (size_t k = i; k < j && why == NULL; k++) {
            if (s.v[k].link.store == NULL || strcmp(s.v[k].link.store, st->name) != 0)
                why = "stored in another store than archive_store";
            else if (st->remove(st, s.v[k].link.location, &error) != TAB_OK)
                why = error;
        }
        if (why == NULL && catalog_expire_remove(cat, id, now, user, &error) != TAB_OK)
            why = error;
        if (why == NULL) {
            expire_print(o, json, id, s.v[i].link.arrival, retain, copies, "expired", NULL);
            expired++;
        } else {
            progress_clear(progress);
            expire_print(o, json, id, s.v[i].link.arrival, retain, copies, "kept", why);
            fprintf(stderr, "tabularium expire: %s kept: %s\n", id, why);
            kept++;
            status = status > CLI_EXIT_USAGE ? status : CLI_EXIT_USAGE;
        }
        i = j;
    }
    progress_end(&progress);
    if (json) {
        o->begin_map(o);
        cli_output_key_string(o, "summary", dry_run ? "dry-run" : "expired");
        o->map_key(o, dry_run ? "would_expire" : "expired");
        o->integer(o, expired);
        cli_output_key_integer(o, "kept", kept);
        cli_output_key_integer(o, "altered", altered);
        o->end(o);
        o->separator(o);
    } else {
        printf("expire: %ld message%s %s, %ld kept", expired, expired == 1 ? "" : "s",
               dry_run ? "would be removed" : "removed", kept);
        if (altered > 0)
            printf(", %ld altered (not removed)", altered);
        printf("\n");
    }
out:
    progress_end(&progress);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium expire: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < s.n; i++)
        catalog_chain_link_free(&s.v[i].link);
    free(s.v);
    free(s.by_seq);
    free(user);
    cli_output_free(&o);
    return status;
}
