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
 *	lmtpd/wrap.h) and is exactly the catalog's size bytes long.
 *
 *	The store's get() writes into a pipe from a child process while this
 *	process reads, so no message is ever held in memory or in a temporary
 *	file. Every byte read is hashed: the whole stream against the
 *	catalog's wrapped_sha256 (and wrapped_size), and with --original the
 *	bytes written against the catalog's sha256.
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
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "search/cli.h"

#define CLI_SHOW_CHUNK 65536
/* Enough of a part header line to recognise Content-Type: message/rfc822. */
#define CLI_SHOW_LINE_KEEP 128

/* Child exit codes: how the store's get() ended. */
#define CLI_SHOW_CHILD_OK 0
#define CLI_SHOW_CHILD_PERM 1
#define CLI_SHOW_CHILD_RETRY 2

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

enum cli_show_state {
    CLI_SHOW_HEADER,      /* the archive message's own header */
    CLI_SHOW_BOUNDARY,    /* the first "--boundary" line */
    CLI_SHOW_PART_HEADER, /* the message/rfc822 part's header */
    CLI_SHOW_ORIGINAL,    /* rec->size bytes of the original */
    CLI_SHOW_TRAILER,     /* closing boundary */
};

struct cli_show_stream {
    int original; /* --original */
    enum cli_show_state state;
    size_t line_len;                   /* bytes of the current line so far */
    char line[CLI_SHOW_LINE_KEEP + 1]; /* its first bytes */
    int rfc822_seen;                   /* the part header declared message/rfc822 */
    uint64_t original_left;
    uint64_t wrapped_bytes;
    struct sha256_ctx *wrapped_hash;
    struct sha256_ctx *original_hash;
    const char *layout_error;
};

static int cli_show_usage_error(const char *fmt, const char *arg)
{
    fputs("tabularium show: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (tabularium show --help)\n", stderr);
    return CLI_EXIT_USAGE;
}

/* 1 when the line held in s->line (s->line_len bytes) is empty: "" or "\r". */
static int cli_show_line_empty(const struct cli_show_stream *s)
{
    return s->line_len == 0 || (s->line_len == 1 && s->line[0] == '\r');
}

/* A completed part header line: is it "Content-Type: message/rfc822"? */
static void cli_show_part_header_line(struct cli_show_stream *s)
{
    const char *p = s->line;
    size_t kept = s->line_len < CLI_SHOW_LINE_KEEP ? s->line_len : CLI_SHOW_LINE_KEEP;

    s->line[kept] = '\0';
    if (strncasecmp(p, "Content-Type:", 13) != 0)
        return;
    p += 13;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "message/rfc822", 14) == 0)
        s->rfc822_seen = 1;
}

/*
 * Walk the MIME layout of the archive message up to the original: one
 * byte at a time, which is only ever the few hundred header bytes.
 * Returns how many bytes of buf it consumed before the original starts
 * (all of them when it does not start in buf).
 */
static size_t cli_show_skip_to_original(struct cli_show_stream *s, const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len && s->state < CLI_SHOW_ORIGINAL && s->layout_error == NULL; i++) {
        char c = buf[i];

        if (c != '\n') {
            if (s->line_len < CLI_SHOW_LINE_KEEP)
                s->line[s->line_len] = c;
            s->line_len++;
            if (s->state == CLI_SHOW_BOUNDARY && s->line_len <= 2 && c != '-')
                s->layout_error = "no MIME boundary after the archive header";
            continue;
        }
        switch (s->state) {
        case CLI_SHOW_HEADER:
            if (cli_show_line_empty(s))
                s->state = CLI_SHOW_BOUNDARY;
            break;
        case CLI_SHOW_BOUNDARY:
            if (s->line_len < 2)
                s->layout_error = "no MIME boundary after the archive header";
            s->state = CLI_SHOW_PART_HEADER;
            break;
        case CLI_SHOW_PART_HEADER:
            if (!cli_show_line_empty(s)) {
                cli_show_part_header_line(s);
                break;
            }
            if (!s->rfc822_seen)
                s->layout_error = "the first MIME part is not message/rfc822";
            s->state = s->original_left > 0 ? CLI_SHOW_ORIGINAL : CLI_SHOW_TRAILER;
            break;
        default:
            break;
        }
        s->line_len = 0;
    }
    return i;
}

/* Hash and (as the mode says) write one chunk of the stored copy. */
static int cli_show_chunk(struct cli_show_stream *s, const char *buf, size_t len)
{
    size_t skip, n;

    sha256_update(s->wrapped_hash, buf, len);
    s->wrapped_bytes += len;
    if (!s->original)
        return safe_write_all(STDOUT_FILENO, buf, len);

    while (len > 0 && s->layout_error == NULL) {
        if (s->state < CLI_SHOW_ORIGINAL) {
            skip = cli_show_skip_to_original(s, buf, len);
            buf += skip;
            len -= skip;
            continue;
        }
        if (s->state != CLI_SHOW_ORIGINAL)
            break; /* the closing boundary: hashed above, not output */
        n = len < s->original_left ? len : (size_t)s->original_left;
        sha256_update(s->original_hash, buf, n);
        if (safe_write_all(STDOUT_FILENO, buf, n) < 0)
            return -1;
        s->original_left -= n;
        if (s->original_left == 0)
            s->state = CLI_SHOW_TRAILER;
        buf += n;
        len -= n;
    }
    return 0;
}

/* The child: the store writes the copy into the pipe, then _exit (no
 * atexit handlers, no stdio flush: the parent owns those). */
static void cli_show_child(struct store *st, const char *location, int fd)
{
    const char *error = NULL;
    enum tab_result r;

    (void)signal(SIGPIPE, SIG_DFL); /* the parent stopped reading: just end */
    r = st->get(st, location, fd, &error);
    if (r != TAB_OK)
        fprintf(stderr, "tabularium show: %s\n", error != NULL ? error : "store error");
    if (close(fd) < 0 && r == TAB_OK)
        r = TAB_RETRY;
    _exit(r == TAB_OK     ? CLI_SHOW_CHILD_OK
          : r == TAB_PERM ? CLI_SHOW_CHILD_PERM
                          : CLI_SHOW_CHILD_RETRY);
}

/* Stream rec's stored copy to stdout and check it; returns the exit status. */
static int cli_show_stream(struct store *st, const struct archive_record *rec, int original)
{
    struct cli_show_stream s;
    char wrapped_hex[SHA256_HEX_SIZE], original_hex[SHA256_HEX_SIZE];
    char *buf = NULL;
    int pipefd[2] = {-1, -1}, wstatus = 0, write_failed = 0, read_errno = 0, status;
    pid_t pid;

    memset(&s, 0, sizeof(s));
    s.original = original;
    s.original_left = rec->size;
    if (pipe(pipefd) < 0) {
        fprintf(stderr, "tabularium show: pipe: %s\n", strerror(errno));
        return CLI_EXIT_USAGE;
    }
    (void)fflush(stdout); /* so the child cannot repeat buffered output */
    (void)fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "tabularium show: fork: %s\n", strerror(errno));
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        return CLI_EXIT_USAGE;
    }
    if (pid == 0) {
        (void)close(pipefd[0]);
        cli_show_child(st, rec->location, pipefd[1]);
    }
    (void)close(pipefd[1]); /* read end only: EOF when the child is done */

    s.wrapped_hash = sha256_new();
    s.original_hash = sha256_new();
    buf = xmalloc(CLI_SHOW_CHUNK);
    for (;;) {
        ssize_t n = read(pipefd[0], buf, CLI_SHOW_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            read_errno = errno;
            break;
        }
        if (n == 0)
            break;
        if (cli_show_chunk(&s, buf, (size_t)n) < 0) {
            write_failed = errno;
            break;
        }
    }
    (void)close(pipefd[0]); /* read-only; a child still writing gets SIGPIPE */
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    free(buf);
    sha256_final_hex(s.wrapped_hash, wrapped_hex);
    sha256_final_hex(s.original_hash, original_hex);

    if (write_failed) {
        fprintf(stderr, "tabularium show: %s: cannot write to stdout: %s\n", rec->archive_id,
                strerror(write_failed));
        return CLI_EXIT_USAGE;
    }
    if (read_errno) {
        fprintf(stderr, "tabularium show: %s: cannot read from the store: %s\n", rec->archive_id,
                strerror(read_errno));
        return CLI_EXIT_USAGE;
    }
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == CLI_SHOW_CHILD_PERM) {
        fprintf(stderr,
                "tabularium show: %s: integrity check failed: the stored copy %s:%s cannot be"
                " read\n",
                rec->archive_id, rec->store, rec->location);
        return CLI_EXIT_INTEGRITY;
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != CLI_SHOW_CHILD_OK) {
        fprintf(stderr, "tabularium show: %s: reading %s:%s from the store failed\n",
                rec->archive_id, rec->store, rec->location);
        return CLI_EXIT_USAGE;
    }

    status = CLI_EXIT_FOUND;
    if (strcmp(wrapped_hex, rec->wrapped_sha256) != 0 ||
        (rec->wrapped_size != 0 && s.wrapped_bytes != rec->wrapped_size)) {
        fprintf(stderr,
                "tabularium show: %s: integrity check failed: stored copy has %llu bytes,"
                " SHA-256 %s; the catalog recorded %llu bytes, SHA-256 %s\n",
                rec->archive_id, (unsigned long long)s.wrapped_bytes, wrapped_hex,
                (unsigned long long)rec->wrapped_size, rec->wrapped_sha256);
        status = CLI_EXIT_INTEGRITY;
    }
    if (!original)
        return status;
    if (s.layout_error != NULL) {
        fprintf(stderr, "tabularium show: %s: integrity check failed: %s\n", rec->archive_id,
                s.layout_error);
        return CLI_EXIT_INTEGRITY;
    }
    if (s.state != CLI_SHOW_TRAILER) {
        fprintf(stderr,
                "tabularium show: %s: integrity check failed: the stored copy ends %llu bytes"
                " before the end of the original (%llu bytes)\n",
                rec->archive_id, (unsigned long long)s.original_left,
                (unsigned long long)rec->size);
        return CLI_EXIT_INTEGRITY;
    }
    if (strcmp(original_hex, rec->sha256) != 0) {
        fprintf(stderr,
                "tabularium show: %s: integrity check failed: SHA-256 of the original is %s;"
                " the catalog recorded %s\n",
                rec->archive_id, original_hex, rec->sha256);
        status = CLI_EXIT_INTEGRITY;
    }
    return status;
}

int cli_show(struct cli_context *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"original", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct archive_record rec;
    struct catalog *cat;
    struct store *st;
    const char *id, *error;
    enum tab_result r;
    int c, original = 0, status;

    optind = 0; /* glibc: start over, argv[0] is the command name */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            original = 1;
            break;
        case 'h':
            fputs(cli_show_help, stdout);
            return CLI_EXIT_FOUND;
        default:
            return cli_show_usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_show_usage_error("%s", "archive id missing");
    if (argc - optind > 1)
        return cli_show_usage_error("unexpected argument \"%s\"", argv[optind + 1]);
    id = argv[optind];
    if (!archive_id_valid(id))
        return cli_show_usage_error("\"%s\" is not an archive id (20 hex digits)", id);

    cat = ctx->catalog(ctx);
    if (cat == NULL)
        return CLI_EXIT_USAGE;
    r = cat->get(cat, id, &rec, &error);
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
    status = cli_show_stream(st, &rec, original);
out:
    record_free(&rec);
    return status;
}
