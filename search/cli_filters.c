/*
 * NAME
 *	cli_filters 3
 * SUMMARY
 *	parse the search filter options into a struct search_query
 * DESCRIPTION
 *	Dates: --since DATE includes DATE; --until YYYY-MM-DD includes that
 *	whole day (UTC), --until TIMESTAMP includes that second. The
 *	catalog's until bound is exclusive, hence the step to the next day
 *	or second. Both compare with the message's Date: header, or its
 *	arrival time when it has none (the catalog driver's business).
 *
 *	Owns the meaning of the option values. Looks at the catalog only
 *	for cli_filters_note_unindexed(): a --text query on a catalog that
 *	indexes full text after delivery (SQLite) indexes what is pending
 *	first (the driver's search() does it when it can write); what is
 *	still pending after the search, e.g. because the user cannot write
 *	to the catalog, is said on stderr, since --text cannot find it.
 * DIAGNOSTICS
 *	A bad value is one line on stderr naming the command, the option and
 *	the value, and -1.
 */
#include "search/cli_filters.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/fts.h"
#include "backends/record.h"

const struct option cli_filter_options[CLI_FILTER_NOPTIONS] = {
    {"from", required_argument, NULL, CLI_FILTER_FROM},
    {"to", required_argument, NULL, CLI_FILTER_TO},
    {"subject", required_argument, NULL, CLI_FILTER_SUBJECT},
    {"since", required_argument, NULL, CLI_FILTER_SINCE},
    {"until", required_argument, NULL, CLI_FILTER_UNTIL},
    {"message-id", required_argument, NULL, CLI_FILTER_MESSAGE_ID},
    {"limit", required_argument, NULL, CLI_FILTER_LIMIT},
    {"text", required_argument, NULL, CLI_FILTER_TEXT},
    {"attachment", required_argument, NULL, CLI_FILTER_ATTACHMENT},
    {"has-attachment", no_argument, NULL, CLI_FILTER_HAS_ATTACHMENT},
    {"degraded", no_argument, NULL, CLI_FILTER_DEGRADED},
};

/* The options whose value the query takes as given, and where. */
static const struct {
    int c;
    size_t offset;
} cli_filter_strings[] = {
    {CLI_FILTER_FROM, offsetof(struct search_query, from)},
    {CLI_FILTER_TO, offsetof(struct search_query, to)},
    {CLI_FILTER_SUBJECT, offsetof(struct search_query, subject)},
    {CLI_FILTER_MESSAGE_ID, offsetof(struct search_query, message_id)},
    {CLI_FILTER_TEXT, offsetof(struct search_query, text)},
    {CLI_FILTER_ATTACHMENT, offsetof(struct search_query, attachment)},
};
#define CLI_FILTER_NSTRINGS (sizeof(cli_filter_strings) / sizeof(cli_filter_strings[0]))

static int cli_filters_parse_date(const char *cmd, const char *opt, const char *arg, int until,
                                  time_t *t_r)
{
    time_t t;

    if (record_parse_time(arg, &t) < 0) {
        fprintf(stderr,
                "tabularium %s: %s \"%s\": expected YYYY-MM-DD or an ISO 8601 timestamp"
                " (YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])\n",
                cmd, opt, arg);
        return -1;
    }
    /* The catalog reads 0 as "no bound"; times before 1970 are not mail. */
    if (t <= 0) {
        fprintf(stderr, "tabularium %s: %s \"%s\": dates before 1970 are not supported\n", cmd, opt,
                arg);
        return -1;
    }
    if (until)
        t += strlen(arg) == 10 ? 86400 : 1; /* "YYYY-MM-DD" is the only 10-byte form */
    *t_r = t;
    return 0;
}

static int cli_filters_parse_limit(const char *cmd, const char *arg, long *limit_r)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || n < 1) {
        fprintf(stderr, "tabularium %s: --limit \"%s\": expected a number from 1 to %ld\n", cmd,
                arg, LONG_MAX);
        return -1;
    }
    *limit_r = n;
    return 0;
}

static const char *cli_filters_name(int c);

/*
 * A value that leaves nothing to look for once folded (docs/search.md:
 * "", blanks, punctuation only) is a usage error, not "no match": the
 * catalog would match nothing, and the user would believe the archive
 * holds no such message. 0 fine, -1 printed.
 */
static int cli_filters_check_words(const char *cmd, int c, const char *arg)
{
    struct address_match m;
    struct fts_query q;
    const char *what = NULL;
    int r;

    switch (c) {
    case CLI_FILTER_TEXT:
        r = fts_query_parse(arg, &q);
        fts_query_free(&q);
        what = "no word to search for (words are letters and digits; \"a phrase\", OR and"
               " -word combine them)";
        break;
    case CLI_FILTER_SUBJECT:
        r = fts_query_phrase(arg, &q);
        fts_query_free(&q);
        what = "no word to search for (words are letters and digits)";
        break;
    case CLI_FILTER_FROM:
    case CLI_FILTER_TO:
        r = address_match_parse(arg, &m);
        address_match_free(&m);
        what = "expected an address (bob@corp.example), a domain (@corp.example), a"
               " wildcard (*@corp.*) or words of a name";
        break;
    default:
        return 0;
    }
    if (r == 0)
        return 0;
    fprintf(stderr, "tabularium %s: --%s \"%s\": %s\n", cmd, cli_filters_name(c), arg, what);
    return -1;
}

static const char *cli_filters_name(int c)
{
    for (size_t i = 0; i < CLI_FILTER_NOPTIONS; i++)
        if (cli_filter_options[i].val == c)
            return cli_filter_options[i].name;
    return "?";
}

int cli_filters_option(struct cli_filters *f, const char *cmd, int c, const char *arg)
{
    struct search_query *q = &f->q;
    char *given;

    switch (c) {
    case CLI_FILTER_SINCE:
        if (cli_filters_parse_date(cmd, "--since", arg, 0, &q->since) < 0)
            return -1;
        break;
    case CLI_FILTER_UNTIL:
        if (cli_filters_parse_date(cmd, "--until", arg, 1, &q->until) < 0)
            return -1;
        break;
    case CLI_FILTER_LIMIT:
        if (cli_filters_parse_limit(cmd, arg, &q->limit) < 0)
            return -1;
        break;
    case CLI_FILTER_HAS_ATTACHMENT:
        q->has_attachment = 1;
        break;
    case CLI_FILTER_DEGRADED:
        q->degraded = 1;
        break;
    default: {
        size_t i = 0;
        while (i < CLI_FILTER_NSTRINGS && cli_filter_strings[i].c != c)
            i++;
        if (i == CLI_FILTER_NSTRINGS)
            return 0;
        if (cli_filters_check_words(cmd, c, arg) < 0)
            return -1;
        *(const char **)((char *)q + cli_filter_strings[i].offset) = arg;
    }
    }
    if (c == CLI_FILTER_HAS_ATTACHMENT || c == CLI_FILTER_DEGRADED)
        given = xasprintf("--%s", cli_filters_name(c));
    else
        given = xasprintf("--%s=%s", cli_filters_name(c), arg);
    strlist_add(&f->given, given);
    free(given);
    return 1;
}

/* Whether q reads the full-text index (words of --text, --subject, or
 * the words form of --from/--to). */
static int cli_filters_uses_index(const struct search_query *q)
{
    struct address_match m;
    int words = 0;

    if (q->text != NULL || q->subject != NULL)
        return 1;
    for (int i = 0; i < 2 && !words; i++) {
        const char *v = i == 0 ? q->from : q->to;
        if (v != NULL && address_match_parse(v, &m) == 0 && m.kind == ADDRESS_WORDS)
            words = 1;
        if (v != NULL)
            address_match_free(&m);
    }
    return words;
}

void cli_filters_note_unindexed(const struct cli_filters *f, struct catalog *cat, const char *cmd)
{
    const char *error;
    int64_t left = 0, stale = 0;
    int done;

    if (!cli_filters_uses_index(&f->q))
        return;
    if (catalog_can(cat, CATALOG_CAN_INDEX_HEALTH)) {
        if (catalog_index_health(cat, &left, &stale, &error) != TAB_OK) {
            fprintf(stderr,
                    "tabularium %s: warning: cannot tell whether the full-text index is"
                    " complete: %s\n",
                    cmd, error);
            return;
        }
    } else if (catalog_can(cat, CATALOG_CAN_INDEX_PENDING)) {
        if (catalog_index_pending(cat, 0, &done, &left, &error) != TAB_OK) {
            fprintf(stderr, "tabularium %s: note: cannot count the messages not indexed yet: %s\n",
                    cmd, error);
            return;
        }
    }
    if (left > 0)
        fprintf(stderr,
                "tabularium %s: note: %" PRId64 " %s not indexed for full-text search yet\n", cmd,
                left, left == 1 ? "message is" : "messages are");
    if (stale > 0)
        fprintf(stderr,
                "tabularium %s: warning: the full-text index is damaged: %" PRId64
                " %s stale entries and cannot be found by words until the index is rebuilt\n",
                cmd, stale, stale == 1 ? "message has" : "messages have");
}

int cli_filters_any(const struct cli_filters *f)
{
    return f->given.n > 0;
}

void cli_filters_free(struct cli_filters *f)
{
    strlist_free(&f->given);
    memset(&f->q, 0, sizeof(f->q));
}

int cli_filters_collect_id(const struct archive_record *rec, void *ctx)
{
    strlist_add(ctx, rec->archive_id);
    return 0;
}
