/*
 * NAME
 *	test_cli_options - unit tests for search/cli_options.c
 * DESCRIPTION
 *	Parses command lines through cli_parse_options() and checks what a
 *	user sees: the values stored, the operands left (permuted behind the
 *	options), abbreviated long options, the exit status and the exact
 *	stderr line for --help, a missing value, an unknown or ambiguous
 *	option, too many operands, a value an fn refuses, a bad filter value
 *	and a filter the command refuses (with the word that carried it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "search/cli.h"
#include "search/cli_filters.h"
#include "tests/unit/check.h"

static char said[4096];

/* Run the parse; what it printed (stderr, or stdout for --help) in said. */
static int parse(const struct cli_syntax *syn, char **argv, int *operand_r)
{
    char path[] = "/tmp/test_cli_options.XXXXXX";
    int argc = 0, status, saved_err, saved_out, fd = mkstemp(path);
    ssize_t n;

    while (argv[argc] != NULL)
        argc++;
    fflush(stdout);
    fflush(stderr);
    saved_err = dup(2);
    saved_out = dup(1);
    if (fd < 0 || saved_err < 0 || saved_out < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0) {
        perror("capture");
        exit(2);
    }
    status = cli_parse_options(syn, argc, argv, operand_r);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    n = pread(fd, said, sizeof(said) - 1, 0);
    said[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return status;
}

static int refuse_calls;
static char refused_word[64];

static int refuse(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)value;
    (void)dest;
    refuse_calls++;
    snprintf(refused_word, sizeof(refused_word), "%s", word);
    return cli_usage_error(cmd, "no filters here (%s)", word);
}

static int parse_level(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)word;
    if (strcmp(value, "high") != 0 && strcmp(value, "low") != 0)
        return cli_usage_error(cmd, "--level \"%s\": high or low", value);
    *(const char **)dest = value;
    return 0;
}

static int own_usage(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "own %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

/* The arguments (to the first NULL) are a usage error, said so. */
struct usage_case {
    const char *args[8];
    const char *said;
};

static void usage_error_is(const struct cli_syntax *syn, const struct usage_case *c)
{
    char *argv[9];
    int operand = -1;
    size_t n;

    for (n = 0; n < 8 && c->args[n] != NULL; n++)
        argv[n] = (char *)c->args[n];
    argv[n] = NULL;
    CHECK(parse(syn, argv, &operand) == CLI_EXIT_USAGE);
    CHECK_STR(said, c->said);
}

int main(void)
{
    struct cli_filters f = CLI_FILTERS_INIT;
    const char *name = NULL, *level = NULL;
    time_t since = 0;
    int json = 0, all = 0, operand = -1, status;
    struct cli_option options[] = {
        CLI_OPTION_FILTERS(&f, NULL),
        CLI_OPTION_FLAG("json", &json),
        CLI_OPTION_FLAG("all", &all),
        CLI_OPTION_STRING("name", &name),
        CLI_OPTION_VALUE("level", parse_level, &level),
        CLI_OPTION_VALUE("after", cli_option_since, &since),
        CLI_OPTION_END,
    };
    struct cli_syntax syn = {"try", "HELP TEXT\n", 2, NULL, options};

    /* Values stored in order, operands permuted behind the options. */
    {
        char *argv[] = {"try", "one",    "--json", "--name=x", "two", "--level",
                        "low", "--from", "a@b",    "--js",     NULL};
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_OPTIONS_PARSED);
        CHECK(json == 1 && all == 0);
        CHECK_STR(name, "x");
        CHECK_STR(level, "low");
        CHECK_STR(f.q.from, "a@b");
        CHECK(f.given.n == 1 && strcmp(f.given.v[0], "--from=a@b") == 0);
        CHECK(operand == 8);
        CHECK_STR(argv[operand], "one");
        CHECK_STR(argv[operand + 1], "two");
        CHECK_STR(said, "");
        cli_filters_free(&f);
    }
    {
        char *argv[] = {"try", "--after", "2026-11-01", NULL};
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_OPTIONS_PARSED && since > 0);
    }
    /* --help and -h print the help text and stop: exit 0. */
    {
        char *argv[] = {"try", "--json", "-h", "--bogus", NULL};
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_FOUND);
        CHECK_STR(said, "HELP TEXT\n");
    }
    {
        char *argv[] = {"try", "--he", NULL};
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_FOUND);
    }
    /* Usage errors, each with its line: "--js" above is an abbreviation of
     * --json, --a of --after and --all is not; the first bad option is the
     * one reported; at most syn.operands operands, the first one too many
     * named. */
    {
        static const struct usage_case cases[] = {
            {{"try", "--a"}, "tabularium try: unknown option --a (tabularium try --help)\n"},
            {{"try", "--name"},
             "tabularium try: option --name needs a value (tabularium try --help)\n"},
            {{"try", "--bogus", "--name"},
             "tabularium try: unknown option --bogus (tabularium try --help)\n"},
            {{"try", "--json=1"},
             "tabularium try: unknown option --json=1 (tabularium try --help)\n"},
            {{"try", "--level", "mid", "--bogus"},
             "tabularium try: --level \"mid\": high or low (tabularium try --help)\n"},
            {{"try", "--after", "soon"},
             "tabularium try: --since \"soon\": expected YYYY-MM-DD or "
             "ISO 8601 (tabularium try --help)\n"},
            {{"try", "a", "b", "c", "d"},
             "tabularium try: unexpected argument \"c\" (tabularium try --help)\n"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
            usage_error_is(&syn, &cases[i]);
    }
    {
        char *argv[] = {"try", "--limit", "0", NULL};
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_USAGE);
        CHECK(strncmp(said, "tabularium try: --limit \"0\": expected a number", 46) == 0);
        cli_filters_free(&f);
    }
    {
        char *argv[] = {"try", "a", "b", "c", NULL};
        syn.operands = CLI_OPERANDS_ANY;
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_OPTIONS_PARSED && operand == 1);
        syn.operands = 0;
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_USAGE);
        CHECK_STR(said, "tabularium try: unexpected argument \"a\" (tabularium try --help)\n");
    }
    /* A filters fn: called after a filter was taken, with the word that carried it. */
    {
        char *argv[] = {"try", "--json", "--since", "2026-01-01", NULL};
        options[0].fn = refuse;
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_USAGE);
        CHECK(refuse_calls == 1);
        CHECK_STR(refused_word, "2026-01-01");
        CHECK_STR(said, "tabularium try: no filters here (2026-01-01) (tabularium try --help)\n");
        cli_filters_free(&f);
        options[0].fn = NULL;
    }
    /* A command's own usage error line. */
    {
        char *argv[] = {"try", "--bogus", NULL};
        syn.usage_error = own_usage;
        status = parse(&syn, argv, &operand);
        CHECK(status == CLI_EXIT_USAGE);
        CHECK_STR(said, "own try: unknown option --bogus\n");
        syn.usage_error = NULL;
    }
    /* A table without filters: a filter name is an unknown option. */
    {
        const struct cli_option plain[] = {CLI_OPTION_FLAG("json", &json), CLI_OPTION_END};
        const struct cli_syntax psyn = {"plain", "P\n", 0, NULL, plain};
        char *argv[] = {"plain", "--from", "x", NULL};
        status = parse(&psyn, argv, &operand);
        CHECK(status == CLI_EXIT_USAGE);
        CHECK_STR(said, "tabularium plain: unknown option --from (tabularium plain --help)\n");
    }
    return check_done();
}
