/*
 * NAME
 *	cli_show 3
 * SUMMARY
 *	tabularium show: write a stored message to stdout, verified
 * SYNOPSIS
 *	tabularium show [--original] ARCHIVE-ID
 * DESCRIPTION
 *	Looks the archive id up in the catalog and streams the stored copy
 *	from the store: as stored (the wrapped archive message), or with
 *	--original only the attached original, byte for byte as Postfix
 *	delivered it. The original starts after the blank line that ends the
 *	header of the first MIME part (Content-Type: message/rfc822, see
 *	mail/archive_write.h) and is exactly the catalog's size bytes long.
 *
 *	mail/archive_read.c streams the copy from the store (never held in
 *	memory or in a temporary file) and hashes every byte: the whole
 *	stream against the catalog's wrapped_sha256 (and wrapped_size), and
 *	with --original the bytes written against the catalog's sha256.
 *
 *	Bytes go to stdout as they arrive, so a failed check is reported
 *	after the output: a script must look at the exit status (3), not at
 *	whether something was printed.
 *
 *	Must never trust the archive id (archive_id_valid() first) or the
 *	stored bytes (a stored copy may be truncated or tampered with).
 * DIAGNOSTICS
 *	Exit 0 verified, 1 unknown archive id, 2 usage, configuration,
 *	store access or write error, 3 integrity failure: a hash or size
 *	differs from the catalog, the stored copy is missing or the original
 *	cannot be found in it. Each failure is one line on stderr naming the
 *	archive id.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "mail/archive_read.h"
#include "search/cli.h"

const char cli_show_help[] =
    "NAME\n"
    "    tabularium show - print an archived message\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium show [--original] ARCHIVE-ID\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes the stored archive message (the wrapped copy: envelope in\n"
    "    From:/To:, the original attached as message/rfc822) to stdout,\n"
    "    byte for byte. With --original, writes only the original message\n"
    "    exactly as it was received (after dot-unstuffing).\n"
    "\n"
    "    The output is checked while it is written: the SHA-256 and size of\n"
    "    the stored copy, and with --original the SHA-256 of the original,\n"
    "    must equal what the catalog recorded when the message arrived.\n"
    "    Because the message is streamed, a failed check is reported on\n"
    "    stderr after the bytes were written, and the exit status is 3.\n"
    "\n"
    "OPTIONS\n"
    "    --original    only the original message\n"
    "    -h, --help    this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 written and verified, 1 no message with this archive id, 2 usage,\n"
    "    configuration or store access error, 3 integrity check failed.\n";

/* Stream rec's stored copy to stdout and check it; returns the exit status. */
static int cli_show_stream(struct store *st, const struct archive_record *rec, int original)
{
    struct archive_read_result res;
    char why[1024];
    int out = STDOUT_FILENO;

    if (archive_read(st, rec, original ? ARCHIVE_EMIT_ORIGINAL : ARCHIVE_EMIT_WRAPPED,
                     archive_emit_fd, &out, &res) < 0) {
        switch (res.status) {
        case ARCHIVE_READ_MISSING:
            fprintf(stderr,
                    "tabularium show: %s: integrity check failed: the stored copy %s:%s cannot be"
                    " read: %s\n",
                    rec->archive_id, rec->store, rec->location, res.error);
            return CLI_EXIT_INTEGRITY;
        case ARCHIVE_READ_EMIT_FAIL:
            fprintf(stderr, "tabularium show: %s: cannot write to stdout: %s\n", rec->archive_id,
                    strerror(res.error_errno));
            return CLI_EXIT_USAGE;
        default:
            fprintf(stderr, "tabularium show: %s: reading %s:%s from the store failed: %s\n",
                    rec->archive_id, rec->store, rec->location, res.error);
            return CLI_EXIT_USAGE;
        }
    }
    if (archive_read_verdict(rec, &res, original, why, sizeof(why)) < 0) {
        fprintf(stderr, "tabularium show: %s: integrity check failed: %s\n", rec->archive_id, why);
        return CLI_EXIT_INTEGRITY;
    }
    return CLI_EXIT_FOUND;
}

int cli_show(struct cli_context *ctx, int argc, char **argv)
{
    struct archive_record rec;
    struct catalog *cat;
    struct store *st;
    const char *id, *error;
    enum tab_result r;
    int operand, original = 0, status;
    const struct cli_syntax syntax = {"show", cli_show_help, 1, NULL,
                                      CLI_OPTIONS(CLI_OPTION_FLAG("original", &original))};

    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    if (operand >= argc)
        return cli_usage_error("show", "%s", "archive id missing");
    id = argv[operand];
    if (!archive_id_valid(id))
        return cli_usage_error("show", "\"%s\" is not an archive id (20 hex digits)", id);

    cat = ctx->catalog(ctx);
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    r = catalog_get(cat, id, &rec, &error);
    if (r == TAB_PERM) {
        fprintf(stderr, "tabularium show: no message with archive id %s\n", id);
        return CLI_EXIT_NOT_FOUND;
    }
    if (r != TAB_OK) {
        fprintf(stderr, "tabularium show: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    if (rec.store == NULL || rec.location == NULL) {
        fprintf(stderr, "tabularium show: %s: integrity check failed: no stored copy recorded\n",
                id);
        status = CLI_EXIT_INTEGRITY;
        goto out;
    }
    st = ctx->store(ctx);
    if (st == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (strcmp(st->name, rec.store) != 0) {
        fprintf(stderr, "tabularium show: %s is in a %s store, but archive_store is a %s store\n",
                id, rec.store, st->name);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    /* Recorded before a byte is read: nothing is shown unrecorded. */
    if (cli_audit_record(ctx, original ? "show --original" : "show", id) < 0) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    status = cli_show_stream(st, &rec, original);
out:
    record_free(&rec);
    return status;
}
