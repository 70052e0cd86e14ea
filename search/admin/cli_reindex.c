/*
 * NAME
 *	cli_reindex 3
 * SUMMARY
 *	tabularium reindex: index again what was archived with a degraded index
 * SYNOPSIS
 *	tabularium reindex ARCHIVE-ID...
 *	tabularium reindex --degraded
 * DESCRIPTION
 *	A message that killed a worker while it was parsed, or whose index
 *	fields the catalog refused, was archived byte-exact with an index
 *	made from the envelope alone and flagged index=degraded
 *	(lmtpd/delivery.c, mail/poison.c). This command reads each such
 *	message's stored copy back, checks it against the catalog (the same
 *	check as show --original), parses the original again with the
 *	daemon's parser (mail/index_fields.c) and replaces the message's
 *	index fields in the catalog through its reindex() method, flagging
 *	it full. The stored copy and the integrity chain are not touched:
 *	the chain covers the envelope and the hashes, not the index fields.
 *
 *	Each message is parsed in a child process with an alarm of
 *	CLI_REINDEX_SECONDS, so a message that still kills the parser or
 *	makes it run away (the fault was not fixed) keeps the index it had,
 *	is reported, and does not stop the others. Every message is one audit
 *	line ("reindex").
 * DIAGNOSTICS
 *	One line per message on stdout: "ID: reindexed" or on stderr
 *	"ID: not reindexed: why". Exit 0 when all were reindexed (or there
 *	was nothing to do), 1 when an archive id is unknown, 2 usage or
 *	catalog/store errors, 3 when a stored copy failed its integrity
 *	check or could not be parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/record.h"
#include "backends/record_wire.h"
#include "common/buf.h"
#include "common/archive_id.h"
#include "common/safe_file.h"
#include "common/strlist.h"
#include "mail/index_fields.h"
#include "mail/archive_read.h"
#include "search/cli.h"
#include "search/cli_filters.h"

/* Longest the parser may take for one message before it is killed. */
#define CLI_REINDEX_SECONDS 300

const char cli_reindex_help[] =
    "NAME\n"
    "    tabularium reindex - index again messages archived with a degraded index\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium reindex ARCHIVE-ID...\n"
    "    tabularium reindex --degraded\n"
    "\n"
    "DESCRIPTION\n"
    "    A message whose parsing killed a worker (or ran longer than\n"
    "    index_time_limit), or whose header fields the catalog refused, is\n"
    "    archived byte for byte with an index made from the envelope alone,\n"
    "    flagged index=degraded (search --degraded lists them, stats counts\n"
    "    them). reindex reads each stored copy back, checks its SHA-256\n"
    "    against the catalog, parses the original again and replaces the\n"
    "    message's index fields (header addresses, date, subject,\n"
    "    Message-ID, body text, attachments), flagging it full. The stored\n"
    "    copy and the integrity chain are not changed.\n"
    "\n"
    "    Each message is parsed in a child process, for at most 300 seconds:\n"
    "    one that still crashes the parser, or outlasts that, keeps the\n"
    "    index it had and is reported; the others go on. Each message\n"
    "    reindexed is recorded in the audit table.\n"
    "\n"
    "OPTIONS\n"
    "    --degraded    every message whose index is degraded\n"
    "    -h, --help    this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 all reindexed (or none degraded), 1 an archive id is unknown,\n"
    "    2 usage, configuration, catalog or store error, 3 a stored copy\n"
    "    failed its integrity check or still cannot be parsed.\n";

/* The original of rec's stored copy in an unnamed file, checked. */
static int cli_reindex_original(struct store *st, const struct archive_record *rec, int *fd_r,
                                char *why, size_t why_size)
{
    struct archive_read_result res;
    const char *tmp = getenv("TMPDIR");
    int fd = open(tmp != NULL && *tmp == '/' ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0) {
        snprintf(why, why_size, "cannot create a temporary file: %s", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (archive_read(st, rec, ARCHIVE_EMIT_ORIGINAL, archive_emit_fd, &fd, &res) < 0) {
        snprintf(why, why_size, "cannot read the stored copy %s:%s: %s", rec->store, rec->location,
                 res.error[0] ? res.error : strerror(res.error_errno));
        (void)close(fd);
        return res.status == ARCHIVE_READ_MISSING ? CLI_EXIT_INTEGRITY : CLI_EXIT_USAGE;
    }
    if (archive_read_verdict(rec, &res, 1, why, why_size) < 0) {
        (void)close(fd);
        return CLI_EXIT_INTEGRITY;
    }
    *fd_r = fd;
    return CLI_EXIT_FOUND;
}

/* Parse the original in fd in a child; the fields come back through a
 * pipe in the catalog writer's record encoding. */
static int cli_reindex_parse(int fd, const char *id, struct archive_record *fresh, char *why,
                             size_t why_size)
{
    struct buf wire = {0};
    struct wire_reader rd;
    int pipefd[2], status;
    pid_t pid;
    struct buf out = BUF_INIT;
    const char *err = NULL;

    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(why, why_size, "pipe: %s", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(why, why_size, "fork: %s", strerror(errno));
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        return CLI_EXIT_USAGE;
    }
    if (pid == 0) {
        struct archive_record rec;
        memset(&rec, 0, sizeof(rec));
        memcpy(rec.archive_id, id, sizeof(rec.archive_id));
        (void)close(pipefd[0]);
        index_fields_init();
        alarm(CLI_REINDEX_SECONDS); /* a parser that runs away dies of SIGALRM */
        if (index_fields_extract(fd, &rec, &err) < 0 ||
            index_fields_extract_body(fd, &rec, &err) < 0)
            _exit(3);
        record_wire_encode(&wire, &rec);
        _exit(safe_write_all(pipefd[1], wire.data, wire.len) < 0 ? 2 : 0);
    }
    (void)close(pipefd[1]);
    (void)buf_read_fd(&out, pipefd[0]); /* a short read fails the decode below */
    (void)close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            snprintf(why, why_size, "the parser died (signal %d): the index is left as it was",
                     WTERMSIG(status));
        else
            snprintf(why, why_size, "the parser failed (exit %d): the index is left as it was",
                     WEXITSTATUS(status));
        buf_free(&out);
        return CLI_EXIT_INTEGRITY;
    }
    rd.p = (const unsigned char *)out.data;
    rd.left = out.len;
    rd.bad = 0;
    if (record_wire_decode(&rd, fresh) < 0) {
        snprintf(why, why_size, "cannot decode the parser's result");
        buf_free(&out);
        return CLI_EXIT_USAGE;
    }
    buf_free(&out);
    return CLI_EXIT_FOUND;
}

static int cli_reindex_one(struct cli_context *ctx, struct catalog *cat, const char *id)
{
    struct archive_record rec, fresh;
    struct store *st;
    const char *error = NULL;
    char why[1024];
    int fd = -1, status;
    enum tab_result r;

    memset(&fresh, 0, sizeof(fresh));
    r = catalog_get(cat, id, &rec, &error);
    if (r == TAB_PERM) {
        fprintf(stderr, "tabularium reindex: %s: no message with this archive id\n", id);
        return CLI_EXIT_NOT_FOUND;
    }
    if (r != TAB_OK) {
        fprintf(stderr, "tabularium reindex: %s: %s\n", id, error);
        return CLI_EXIT_USAGE;
    }
    if (rec.store == NULL || rec.location == NULL) {
        snprintf(why, sizeof(why), "no stored copy recorded");
        status = CLI_EXIT_INTEGRITY;
        goto out;
    }
    if ((st = ctx->store(ctx)) == NULL) {
        status = CLI_EXIT_USAGE;
        snprintf(why, sizeof(why), "cannot open the store");
        goto out;
    }
    if (strcmp(st->name, rec.store) != 0) {
        snprintf(why, sizeof(why), "its copy is in a %s store, but archive_store is a %s store",
                 rec.store, st->name);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    status = cli_reindex_original(st, &rec, &fd, why, sizeof(why));
    if (status != CLI_EXIT_FOUND)
        goto out;
    status = cli_reindex_parse(fd, rec.archive_id, &fresh, why, sizeof(why));
    if (status != CLI_EXIT_FOUND)
        goto out;
    memcpy(fresh.archive_id, rec.archive_id, sizeof(fresh.archive_id));
    fresh.index_status = INDEX_FULL;
    if (cli_audit_record(ctx, "reindex", id) < 0) {
        snprintf(why, sizeof(why), "cannot write the audit line");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    r = catalog_reindex(cat, &fresh, &error);
    if (r != TAB_OK) {
        snprintf(why, sizeof(why), "the catalog refused the new index: %s", error);
        status = r == TAB_PERM ? CLI_EXIT_INTEGRITY : CLI_EXIT_USAGE;
        goto out;
    }
    printf("%s: reindexed\n", id);
out:
    if (status != CLI_EXIT_FOUND)
        fprintf(stderr, "tabularium reindex: %s: not reindexed: %s\n", id, why);
    if (fd >= 0)
        (void)close(fd);
    record_free(&fresh);
    record_free(&rec);
    return status;
}

int cli_reindex(struct cli_context *ctx, int argc, char **argv)
{
    struct strlist ids = STRLIST_INIT;
    struct catalog *cat;
    const char *error = NULL;
    int operand, degraded = 0, status;
    const struct cli_syntax syntax = {"reindex", cli_reindex_help, CLI_OPERANDS_ANY, NULL,
                                      CLI_OPTIONS(CLI_OPTION_FLAG("degraded", &degraded))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_FOUND;
    if (degraded == (operand < argc))
        return cli_usage_error("reindex", "%s", "give archive ids or --degraded, not both");
    for (int i = operand; i < argc; i++)
        if (!archive_id_valid(argv[i]))
            return cli_usage_error("reindex", "\"%s\" is not an archive id (20 hex digits)",
                                   argv[i]);
    cat = cli_catalog_that(ctx, "reindex", CATALOG_CAN_REINDEX, "cannot reindex");
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    if (degraded) {
        struct search_query q = {.degraded = 1};
        /* All ids first: reindex changes what the search walks. */
        if (catalog_search(cat, &q, cli_filters_collect_id, &ids, &error) != TAB_OK) {
            fprintf(stderr, "tabularium reindex: %s\n", error);
            strlist_free(&ids);
            return CLI_EXIT_USAGE;
        }
    } else {
        for (int i = operand; i < argc; i++)
            strlist_add(&ids, argv[i]);
    }
    for (size_t i = 0; i < ids.n; i++) {
        int s = cli_reindex_one(ctx, cat, ids.v[i]);
        if (s != CLI_EXIT_FOUND && (status == CLI_EXIT_FOUND || s > status))
            status = s;
    }
    strlist_free(&ids);
    return status;
}
