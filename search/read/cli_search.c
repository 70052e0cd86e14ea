/*
 * NAME
 *	cli_search 3
 * SUMMARY
 *	tabularium search: list archived messages that match
 * SYNOPSIS
 *	tabularium search [--from ADDR] [--to ADDR] [--subject TEXT]
 *		[--since DATE] [--until DATE] [--message-id ID] [--text WORDS]
 *		[--attachment NAME] [--has-attachment] [--degraded] [--limit N]
 *		[--offset N] [--count] [--json]
 * DESCRIPTION
 *	Turns the command line into a struct search_query, runs it on the
 *	catalog and prints one line per message, newest first: a readable
 *	text line, or with --json one JSON object per line (JSON Lines) with
 *	a fixed set of keys that scripts may rely on.
 *
 *	Dates: --since DATE includes DATE; --until YYYY-MM-DD includes that
 *	whole day (UTC), --until TIMESTAMP includes that second. Both compare
 *	with the message's Date: header, or its arrival time when it has none.
 *	The filter options themselves are parsed by search/cli_filters.c,
 *	which export shares; what the values mean (exact addresses, domains,
 *	wildcards, words, folding) is docs/search.md. --limit and --offset
 *	page through the matches, newest (last archived) first; --count
 *	prints only their number (catalog_count()).
 *
 *	Owns the meaning of the options and the two output layouts; the
 *	matching itself belongs to the catalog driver. Must never print a
 *	string from the catalog except through struct cli_output, which
 *	escapes it for JSON or strips control characters for a terminal.
 * DIAGNOSTICS
 *	Exit 0 when something matched, 1 when nothing did, 2 for a bad
 *	option or value, a configuration or catalog error, or a write error
 *	on stdout.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/record.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_filters.h"
#include "search/cli_output.h"

/* Envelope recipients named in a text line before "(+N more)". */
#define CLI_SEARCH_TEXT_RCPTS 2

const char cli_search_help[] =
    "NAME\n"
    "    tabularium search - list archived messages that match\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium search [--from ADDR] [--to ADDR] [--subject WORDS]\n"
    "                      [--since DATE] [--until DATE] [--message-id ID]\n"
    "                      [--text WORDS] [--attachment NAME] [--has-attachment]\n"
    "                      [--degraded] [--limit N] [--offset N] [--count] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the archived messages that match every option given (all of\n"
    "    them when none is), newest first, one line each:\n"
    "        ARCHIVE-ID  DATE  <SENDER>  -> RCPT, RCPT (+N)  SUBJECT\n"
    "    Newest first is the order of archiving (the last archived first), not\n"
    "    the Date: header, which the sender chooses. DATE is the Date: header\n"
    "    in UTC, or the arrival time when the message has none. Control\n"
    "    characters are shown as \"?\".\n"
    "    A message archived with a degraded index (its content could not be\n"
    "    indexed: only the envelope, hashes and sizes are in the catalog, the\n"
    "    stored copy is complete) ends its line with \"[index degraded: WHY]\".\n"
    "\n"
    "    Words are compared folded: without case, accents or other marks\n"
    "    (\"RÉUNION\" finds \"Réunion\", \"strasse\" finds \"Straße\", \"Zoë\"\n"
    "    finds \"Zoe\"); a word is letters and digits, anything else separates\n"
    "    words (\"INV-2026-004711\" is three words in a row); Chinese, Japanese\n"
    "    and Korean text is found inside sentences without spaces.\n"
    "\n"
    "OPTIONS\n"
    "    --from ADDR       the envelope sender or a From: header address, by\n"
    "                      the form of ADDR:\n"
    "                        bob@corp.example  exactly this address (any case)\n"
    "                        @corp.example     this domain and its subdomains\n"
    "                                          (mail.corp.example, not\n"
    "                                          othercorp.example)\n"
    "                        *@corp.*          a wildcard: * is any text, nothing\n"
    "                                          else is special (slower: it reads\n"
    "                                          every address)\n"
    "                        Zoë Müller        words of the names and addresses,\n"
    "                                          in this order\n"
    "    --to ADDR         the same over the envelope recipients (Bcc\n"
    "                      recipients included) and the To:/Cc: addresses\n"
    "                      and names\n"
    "    --subject WORDS   these words, in this order, in the decoded Subject:\n"
    "    --since DATE      dated at or after DATE\n"
    "    --until DATE      dated at or before DATE: YYYY-MM-DD includes that\n"
    "                      whole day (UTC), a timestamp includes that second\n"
    "    --message-id ID   exactly this Message-ID (angle brackets optional)\n"
    "    --text WORDS      full-text search in the subject and the body text\n"
    "                      (text and HTML parts, and the text of attachments\n"
    "                      where it was extracted): every word must occur;\n"
    "                      \"a phrase\" must occur as is; a OR b needs either\n"
    "                      (OR binds looser than the implied AND: a b OR c is\n"
    "                      (a b) OR c); -word must not occur.\n"
    "                      Nothing else is syntax: * : ^ ( ) are just text\n"
    "    --attachment NAME\n"
    "                      NAME occurs in the file name of an attachment\n"
    "                      (case-insensitively for ASCII letters)\n"
    "    --has-attachment  the message has at least one attachment (a part\n"
    "                      with a file name, or one that is not text)\n"
    "    --degraded        only messages archived with a degraded index (no\n"
    "                      header fields or text in the catalog; tabularium\n"
    "                      reindex fills them in from the stored copy)\n"
    "    --limit N         print at most N messages (the newest)\n"
    "    --offset N        skip the N newest matches first: --limit 50\n"
    "                      --offset 50 is the second page of 50\n"
    "    --count           print only the number of matching messages\n"
    "                      (--limit and --offset do not change it)\n"
    "    --json            one JSON object per line with the keys archive_id,\n"
    "                      queue_id, message_id, envelope_from, envelope_to,\n"
    "                      envelope_status, header_from, header_to, header_cc,\n"
    "                      date, arrival, subject, size, sha256,\n"
    "                      wrapped_sha256, location, attachments (a list of\n"
    "                      {\"filename\": NAME or null, \"content_type\": TYPE}),\n"
    "                      index (\"full\" or \"degraded\") and index_note (why\n"
    "                      it is degraded, or null)\n"
    "    -h, --help        this text\n"
    "\n"
    "    DATE is YYYY-MM-DD (UTC) or an ISO 8601 timestamp such as\n"
    "    2026-11-25T16:40:10Z or 2026-11-25T17:40+01:00 (no zone: UTC).\n"
    "\n"
    "    A --text, --subject, --from or --to value with no word in it (\"\",\n"
    "    blanks, punctuation only) is a usage error, not \"no match\".\n"
    "    Only the first MiB of a message's text (after decoding) is\n"
    "    searchable. With the sqlite catalog, the daemon's indexer adds a\n"
    "    message to the full-text index within seconds of its delivery;\n"
    "    a search by words first indexes whatever is still waiting, or, when\n"
    "    the catalog is not writable for you, says on stderr how many\n"
    "    messages it could not see. It also warns when messages have stale\n"
    "    index entries (they cannot be found by words until the index is\n"
    "    rebuilt). See docs/search.md.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 at least one message matched, 1 none did (--count: also prints\n"
    "    0), 2 usage or configuration error.\n";

struct cli_search_state {
    struct cli_output *out;
    int json;
    long matches;
};

/* "Name <addr>", "addr", or the group name; NULL when there is nothing. */
static char *cli_search_addr_string(const struct record_addr *a)
{
    if (a->name != NULL && *a->name != '\0' && a->address != NULL)
        return xasprintf("%s <%s>", a->name, a->address);
    if (a->address != NULL)
        return xstrdup(a->address);
    if (a->name != NULL)
        return xstrdup(a->name);
    return NULL;
}

static void cli_search_json_addrs(struct cli_output *o, const char *key,
                                  const struct record_addrs *addrs)
{
    o->map_key(o, key);
    o->begin_list(o);
    for (size_t i = 0; i < addrs->n; i++) {
        char *s = cli_search_addr_string(&addrs->v[i]);
        if (s != NULL)
            o->string(o, s);
        free(s);
    }
    o->end(o);
}

static void cli_search_json_row(struct cli_output *o, const struct archive_record *rec)
{
    char arrival[21];

    o->begin_map(o);
    cli_output_key_string(o, "archive_id", rec->archive_id);
    cli_output_key_string(o, "queue_id", rec->queue_id);
    cli_output_key_string(o, "message_id", rec->message_id);
    cli_output_key_string(o, "envelope_from", rec->envelope_from);
    cli_output_envelope_to(o, rec);
    cli_output_key_string(o, "envelope_status", rec->envelope_status);
    cli_search_json_addrs(o, "header_from", &rec->hdr_from);
    cli_search_json_addrs(o, "header_to", &rec->hdr_to);
    cli_search_json_addrs(o, "header_cc", &rec->hdr_cc);
    cli_output_key_string(o, "date", rec->date);
    o->map_key(o, "arrival");
    if (rec->arrival != 0) {
        record_format_time(rec->arrival, arrival);
        o->string(o, arrival);
    } else {
        o->null(o);
    }
    cli_output_key_string(o, "subject", rec->subject);
    cli_output_key_integer(o, "size", rec->size > INT64_MAX ? INT64_MAX : (int64_t)rec->size);
    cli_output_key_string(o, "sha256", rec->sha256);
    cli_output_key_string(o, "wrapped_sha256",
                          rec->wrapped_sha256[0] != '\0' ? rec->wrapped_sha256 : NULL);
    o->map_key(o, "location");
    if (rec->store != NULL && rec->location != NULL) {
        char *loc = xasprintf("%s:%s", rec->store, rec->location);
        o->string(o, loc);
        free(loc);
    } else {
        o->null(o);
    }
    o->map_key(o, "attachments");
    o->begin_list(o);
    for (size_t i = 0; i < rec->n_attachments; i++) {
        o->begin_map(o);
        cli_output_key_string(o, "filename", rec->attachments[i].filename);
        cli_output_key_string(o, "content_type", rec->attachments[i].content_type);
        o->end(o);
    }
    o->end(o);
    cli_output_key_string(o, "index", record_is_degraded(rec) ? INDEX_DEGRADED : INDEX_FULL);
    cli_output_key_string(o, "index_note", record_is_degraded(rec) ? rec->index_note : NULL);
    o->end(o);
}

/* "-> a@x, b@y (+3)": the envelope recipients, or the header To/Cc
 * addresses when the envelope did not carry them. */
static char *cli_search_text_rcpts(const struct archive_record *rec)
{
    const struct record_addrs *lists[2] = {&rec->hdr_to, &rec->hdr_cc};
    struct strlist all = STRLIST_INIT;
    size_t shown, len = 0;
    char *s, *w;

    if (rec->n_rcpts > 0) {
        for (size_t i = 0; i < rec->n_rcpts; i++)
            if (rec->rcpts[i].address != NULL)
                strlist_add(&all, rec->rcpts[i].address);
    } else {
        for (size_t l = 0; l < 2; l++)
            for (size_t i = 0; i < lists[l]->n; i++)
                if (lists[l]->v[i].address != NULL)
                    strlist_add(&all, lists[l]->v[i].address);
    }
    shown = all.n < CLI_SEARCH_TEXT_RCPTS ? all.n : CLI_SEARCH_TEXT_RCPTS;
    for (size_t i = 0; i < shown; i++)
        len += strlen(all.v[i]) + 2;
    w = s = xmalloc(len + 3 + 32);
    w += sprintf(w, "->");
    for (size_t i = 0; i < shown; i++)
        w += sprintf(w, "%s%s", i == 0 ? " " : ", ", all.v[i]);
    if (all.n == 0)
        sprintf(w, " (none)");
    else if (all.n > shown)
        sprintf(w, " (+%zu)", all.n - shown);
    strlist_free(&all);
    return s;
}

static void cli_search_text_row(struct cli_output *o, const struct archive_record *rec)
{
    char when[21];
    char *from, *rcpts;

    if (rec->date != NULL)
        snprintf(when, sizeof(when), "%s", rec->date);
    else
        record_format_time(rec->arrival, when);
    from = xasprintf("<%s>", rec->envelope_from != NULL ? rec->envelope_from : "");
    rcpts = cli_search_text_rcpts(rec);

    o->begin_map(o);
    o->string(o, rec->archive_id);
    o->string(o, when);
    o->string(o, from);
    o->string(o, rcpts);
    o->string(o, rec->subject != NULL ? rec->subject : "(no subject)");
    if (record_is_degraded(rec)) {
        char *note = xasprintf("[index degraded: %s]",
                               rec->index_note != NULL ? rec->index_note : "no reason recorded");
        o->string(o, note);
        free(note);
    }
    o->end(o);
    free(from);
    free(rcpts);
}

static int cli_search_row(const struct archive_record *rec, void *ctx)
{
    struct cli_search_state *s = ctx;

    if (s->json)
        cli_search_json_row(s->out, rec);
    else
        cli_search_text_row(s->out, rec);
    s->out->separator(s->out);
    s->matches++;
    /* A reader that went away: stop instead of reading the whole catalog. */
    return ferror(stdout) ? 1 : 0;
}

/* --offset N: N >= 0. */
static int cli_search_offset(const char *cmd, const char *word, const char *value, void *dest)
{
    char *end;
    long n;

    (void)word;
    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || n < 0) {
        fprintf(stderr, "tabularium %s: --offset \"%s\": expected a number from 0 to %ld\n", cmd,
                value, LONG_MAX);
        return CLI_EXIT_USAGE;
    }
    *(long *)dest = n;
    return 0;
}

/* --count: the number only. */
static int cli_search_count(struct catalog *cat, struct cli_filters *f)
{
    const char *error;
    long long n = 0;

    if (catalog_count(cat, &f->q, &n, &error) != TAB_OK) {
        fprintf(stderr, "tabularium search: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    printf("%lld\n", n);
    cli_filters_note_unindexed(f, cat, "search");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium search: cannot write to stdout: %s\n", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return n > 0 ? CLI_EXIT_FOUND : CLI_EXIT_NOT_FOUND;
}

int cli_search(struct cli_context *ctx, int argc, char **argv)
{
    struct cli_filters f = CLI_FILTERS_INIT;
    struct cli_search_state state = {NULL, 0, 0};
    int count = 0;
    const struct cli_syntax syntax = {
        "search", cli_search_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_FILTERS(&f, NULL),
                    CLI_OPTION_VALUE("offset", cli_search_offset, &f.q.offset),
                    CLI_OPTION_FLAG("count", &count), CLI_OPTION_FLAG("json", &state.json))};
    struct catalog *cat;
    const char *error;
    enum tab_result r;
    int operand, status;

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        goto out;

    cat = ctx->catalog(ctx);
    if (cat == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (count) {
        status = cli_search_count(cat, &f);
        goto out;
    }
    state.out = state.json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    r = catalog_search(cat, &f.q, cli_search_row, &state, &error);
    cli_output_free(&state.out);
    if (r == TAB_OK)
        cli_filters_note_unindexed(&f, cat, "search");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium search: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (r != TAB_OK) {
        fprintf(stderr, "tabularium search: %s\n", error);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    status = state.matches > 0 ? CLI_EXIT_FOUND : CLI_EXIT_NOT_FOUND;
out:
    cli_filters_free(&f);
    return status;
}
