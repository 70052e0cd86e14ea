/*
 * NAME
 *	cli_import 3
 * SUMMARY
 *	tabularium import: bring past mail in from mbox, Maildir and .eml
 *	files, exactly once
 * SYNOPSIS
 *	tabularium import [--format F] [--mailbox-owner ADDR] [--json]
 *	    [--report FILE] SOURCE...
 * DESCRIPTION
 *	Reads each source through its driver (import/import_source.h), one
 *	message at a time in a spool file, and archives it through the
 *	daemon's own path (mail/archive_ingest.c: wrap, store put, catalog
 *	add with the degraded retry), so an imported message is stored,
 *	catalogued and chained like a delivered one. Its envelope is
 *	reconstructed from the header (mail/import_envelope.c) and marked
 *	envelope_status "imported"; its arrival is its own time (Date:,
 *	else the mbox From_ line, else the file's mtime); the import's own
 *	time is in the audit line of the run.
 *
 *	Exactly once: the catalog's merge rules decide (catalog_known_
 *	recipients(): Message-ID and SHA-256 of the original; a message
 *	without a Message-ID is keyed on queue id "import" and its
 *	SHA-256): a message already there with all its recipients counts as
 *	a duplicate and is not stored again; new recipients of a known
 *	message are a further copy joined to it, as for the daemon.
 *
 *	A journal per source (queue_directory/import/, or beside --report)
 *	holds how far the source was read and the counts so far, rewritten
 *	in place after each message is durable in the store and the catalog;
 *	a run that finds one goes on from there (after kill -9, a power
 *	loss, a store that failed) and removes it at the end of the source.
 *	Every run ends with read = archived + duplicates + rejected; each
 *	rejected message, and each file skipped because it is no message,
 *	is a line of the report file: "rejected|skipped TAB source TAB
 *	position TAB reason".
 * DIAGNOSTICS
 *	Exit 0 when nothing was rejected, 1 when a message was rejected
 *	(the report names it), 2 usage, configuration, catalog or store
 *	trouble (the journal keeps the position: run the same command again).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "common/progress.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "import/import_source.h"
#include "mail/archive_ingest.h"
#include "mail/import_envelope.h"
#include "mail/index_fields.h"
#include "search/cli.h"
#include "search/cli_output.h"

/* The journal's one record, rewritten in place: small enough that one
 * pwrite() puts it whole. */
#define IMPORT_JOURNAL_SIZE 4096
#define IMPORT_JOURNAL_MAGIC "tabularium-import-journal 1"

const char cli_import_help[] =
    "NAME\n"
    "    tabularium import - bring past mail into the archive, exactly once\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium import [--format FORMAT] [--mailbox-owner ADDR] [--json]\n"
    "                      [--report FILE] SOURCE...\n"
    "\n"
    "DESCRIPTION\n"
    "    Archives every message of each SOURCE as the daemon archives a\n"
    "    delivered one: wrapped, stored, catalogued and chained. A SOURCE is\n"
    "    an mbox file, a Maildir (with its Dovecot or Courier folders), a\n"
    "    folder or a zip of .eml files, or one .eml file; the format is detected when\n"
    "    --format is not given. Messages are streamed: memory does not grow\n"
    "    with the size of a file or of a message.\n"
    "\n"
    "    The envelope is reconstructed from the header: the recipients from\n"
    "    To, Cc, Bcc, Delivered-To, X-Original-To and Envelope-To, the\n"
    "    sender from Return-Path (else the mbox From_ line, else From). The\n"
    "    message is marked envelope=imported. Its arrival time is its Date\n"
    "    (else the mbox From_ line's date, else the file's time), so that\n"
    "    retention counts from when it was sent; the time of the import is\n"
    "    in the audit log (tabularium audit).\n"
    "\n"
    "    A message already in the archive with the same bytes (SHA-256) and\n"
    "    the same recipients is counted as a duplicate and not stored again,\n"
    "    so running an import twice, or sources that overlap, archive each\n"
    "    message once. A journal per source records how far it was read: an\n"
    "    import that was interrupted (kill, power loss, a store that failed)\n"
    "    goes on where it stopped when the same command runs again.\n"
    "\n"
    "    At the end: read = archived + duplicates + rejected. Each rejected\n"
    "    message (a truncated mbox tail, a file that cannot be read, a\n"
    "    message with no recipient at all) and each file skipped as not a\n"
    "    message is a line of the report, with its position in the source\n"
    "    and the reason.\n"
    "\n"
    "OPTIONS\n"
    "    --format FORMAT       mbox (mboxrd, mboxo and mboxcl2 detected per\n"
    "                          message), mboxrd, mboxo, mboxcl2, maildir, eml,\n"
    "                          zip (a zip of .eml files)\n"
    "    --mailbox-owner ADDR  add ADDR as a recipient of every message (the\n"
    "                          owner of the mailbox imported: the Bcc copies\n"
    "                          they received are then found under ADDR)\n"
    "    --json                print {\"read\": N, \"archived\": A,\n"
    "                          \"duplicates\": D, \"rejected\": R, \"skipped\": S,\n"
    "                          \"report\": PATH}\n"
    "    --report FILE         the report file (default: queue_directory/import/\n"
    "                          report-TIME-PID.txt); the journals go beside it\n"
    "\n"
    "EXIT STATUS\n"
    "    0 nothing rejected, 1 a message was rejected (see the report),\n"
    "    2 usage, configuration, catalog or store errors (run it again: it\n"
    "    resumes).\n"
    "\n"
    "SEE ALSO\n"
    "    docs/import.md\n";

struct import_counts {
    uint64_t read, archived, duplicates, rejected, skipped;
};

struct import_run {
    struct cli_context *ctx;
    const struct tab_config *cfg;
    struct catalog *cat;
    struct store *store;
    const char *owner;
    const char *format;
    char *journal_dir;
    char *report_path;
    FILE *report;
    struct import_counts total;
    struct progress *progress;
    /* The progress line's "what": the messages read so far, rewritten
     * before each update (progress.c keeps the pointer). */
    char progress_what[64];
    uint64_t bytes_before; /* of the sources done */
    int index_later;
};

/* One source's journal: its file and what it says. */
struct import_journal {
    char *path;
    int fd;
    uint64_t seq, resume;
    struct import_counts c;
    /* msg->position of message seq, in hex (any byte a file name holds),
     * so that a resumed run sees whether the source changed. */
    char last_hex[2 * sizeof(((struct import_msg *)0)->position) + 1];
};

static void import_hex(const char *s, char *out, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;

    for (; *s != '\0' && o + 2 < size; s++) {
        out[o++] = digits[(unsigned char)*s >> 4];
        out[o++] = digits[(unsigned char)*s & 15];
    }
    out[o] = '\0';
}

static void import_unhex(const char *hex, char *out, size_t size)
{
    size_t o = 0;

    for (; hex[0] != '\0' && hex[1] != '\0' && o + 1 < size; hex += 2) {
        unsigned v = 0;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        out[o++] = (char)v;
    }
    out[o] = '\0';
}

static int import_journal_write(struct import_journal *j, const char *source, const char **error_r)
{
    char rec[IMPORT_JOURNAL_SIZE];
    int n;

    memset(rec, ' ', sizeof(rec));
    n = snprintf(rec, sizeof(rec),
                 IMPORT_JOURNAL_MAGIC "\n%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                                      " %" PRIu64 " %" PRIu64 " x%s\n%.2000s\n",
                 j->seq, j->resume, j->c.read, j->c.archived, j->c.duplicates, j->c.rejected,
                 j->c.skipped, j->last_hex, source);
    if (n < 0 || (size_t)n >= sizeof(rec)) {
        *error_r = "journal record too long";
        return -1;
    }
    rec[n] = ' ';
    rec[sizeof(rec) - 1] = '\n';
    if (pwrite(j->fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec)) {
        *error_r = strerror(errno);
        return -1;
    }
    return 0;
}

/* Open (or create) the journal of source; 1 when it holds a position. */
static int import_journal_open(struct import_run *run, const char *source, struct import_journal *j,
                               const char **error_r)
{
    static char error[PATH_MAX + 128];
    char key_src[PATH_MAX * 2], hex[SHA256_HEX_SIZE], rec[IMPORT_JOURNAL_SIZE + 1];
    char real[PATH_MAX];
    struct sha256_ctx *sha = sha256_new();
    ssize_t n;

    memset(j, 0, sizeof(*j));
    if (realpath(source, real) == NULL)
        snprintf(real, sizeof(real), "%s", source);
    snprintf(key_src, sizeof(key_src), "%s\n%s\n%s", real, run->format ? run->format : "",
             run->owner ? run->owner : "");
    sha256_update(sha, key_src, strlen(key_src));
    sha256_final_hex(sha, hex);
    hex[24] = '\0';
    j->path = xasprintf("%s/%s.journal", run->journal_dir, hex);
    j->fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (j->fd < 0) {
        snprintf(error, sizeof(error), "cannot open the journal %s: %s", j->path, strerror(errno));
        *error_r = error;
        return -1;
    }
    /* One import of a source at a time: a second would write the same
     * journal. The lock goes with the descriptor (and with a killed run). */
    if (flock(j->fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(error, sizeof(error), "%s is being imported by another run (journal %s is locked)",
                 source, j->path);
        *error_r = error;
        return -1;
    }
    n = pread(j->fd, rec, IMPORT_JOURNAL_SIZE, 0);
    if (n <= 0)
        return 0;
    rec[n] = '\0';
    if (strncmp(rec, IMPORT_JOURNAL_MAGIC "\n", sizeof(IMPORT_JOURNAL_MAGIC)) != 0 ||
        sscanf(rec + sizeof(IMPORT_JOURNAL_MAGIC),
               "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
               " x%1024[0-9a-f]",
               &j->seq, &j->resume, &j->c.read, &j->c.archived, &j->c.duplicates, &j->c.rejected,
               &j->c.skipped, j->last_hex) < 7) {
        snprintf(error, sizeof(error), "the journal %s is not one this tabularium wrote", j->path);
        *error_r = error;
        return -1;
    }
    return 1;
}

static void import_journal_close(struct import_journal *j, int done)
{
    if (j->fd >= 0)
        close(j->fd);
    if (done && j->path != NULL)
        (void)unlink(j->path);
    free(j->path);
    j->path = NULL;
    j->fd = -1;
}

static void import_report(struct import_run *run, const char *kind, const char *source,
                          const char *position, const char *reason)
{
    /* One line each: tabs and newlines of a file name or a reason would
     * break it. */
    const char *parts[] = {kind, source, position, reason};
    for (size_t i = 0; i < 4; i++) {
        for (const char *p = parts[i]; *p != '\0'; p++)
            fputc(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p, run->report);
        fputc(i < 3 ? '\t' : '\n', run->report);
    }
    fflush(run->report);
}

/* A wrap file for one message: a fresh one each time, as a store may
 * link it into place. */
static int import_wrap_open(const char *dir, char **path_r, int *named_r, const char **error_r)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0) {
        *path_r = xasprintf("/proc/self/fd/%d", fd);
        *named_r = 0;
        return fd;
    }
    *path_r = xasprintf("%s/%ld.import.wrap.XXXXXX", dir, (long)getpid());
    *named_r = 1;
    fd = mkstemp(*path_r);
    if (fd < 0)
        *error_r = strerror(errno);
    return fd;
}

enum import_outcome { IMPORT_ARCHIVED, IMPORT_DUPLICATE, IMPORT_REJECTED, IMPORT_FAILED };

/* Archive one message read whole. IMPORT_FAILED: our trouble (store,
 * catalog, disk), the import stops and resumes later; *why_r says why
 * for REJECTED and FAILED. */
static enum import_outcome import_one(struct import_run *run, struct import_msg *msg, char **why_r)
{
    struct archive_record rec;
    struct strlist rcpts = STRLIST_INIT, known = STRLIST_INIT;
    struct original_info info = {
        .size = msg->size,
        .max_line = msg->max_line,
        .has_8bit = msg->has_8bit,
        .has_nul = msg->has_nul,
        .has_bare_cr_lf = msg->has_bare_cr_lf,
        .ends_with_newline = msg->ends_with_newline,
    };
    char archive_id[ARCHIVE_ID_SIZE], *sender = NULL, *wrap_path = NULL, *location = NULL;
    const char *error = NULL, *step = NULL;
    enum import_outcome out = IMPORT_FAILED;
    time_t date = 0, arrival;
    int wrap_fd = -1, wrap_named = 0;
    enum tab_result r;
    size_t fresh = 0;

    memset(&rec, 0, sizeof(rec));
    *why_r = NULL;
    if (import_envelope_read(msg->fd, msg->from_line_sender, run->owner, &sender, &rcpts, &date,
                             &error) < 0) {
        *why_r = xasprintf("cannot read its header: %s", error);
        out = IMPORT_REJECTED;
        goto out;
    }
    if (rcpts.n == 0) {
        *why_r = xstrdup("no recipient in To, Cc, Bcc, Delivered-To, X-Original-To or "
                         "Envelope-To (give --mailbox-owner)");
        out = IMPORT_REJECTED;
        goto out;
    }
    /* Header index fields as the daemon reads them; what fails to parse
     * is archived with the envelope alone, never refused. */
    if (index_fields_extract(msg->fd, &rec, &error) < 0) {
        record_free(&rec);
        memset(&rec, 0, sizeof(rec));
        char *note = xasprintf("header parsing failed at import: %s", error);
        record_degrade(&rec, note);
        free(note);
    } else if (run->index_later) {
        rec.index_later = 1;
    } else if (index_fields_extract_body(msg->fd, &rec, &error) < 0) {
        char *note = xasprintf("body indexing failed at import: %s", error);
        record_degrade(&rec, note);
        free(note);
    }
    arrival = date > 0                  ? date
              : msg->from_line_time > 0 ? msg->from_line_time
              : msg->mtime > 0          ? msg->mtime
                                        : time(NULL);
    archive_id_new(archive_id);
    archive_ingest_record(run->cfg, &rec, archive_id, sender, ENVELOPE_IMPORTED, arrival, &info,
                          msg->sha256);
    /* The catalog's key: Message-ID and SHA-256, or without a Message-ID
     * the queue id "import" and the SHA-256. */
    free(rec.queue_id);
    rec.queue_id = xstrdup(rec.message_id != NULL && *rec.message_id != '\0' ? "" : "import");
    r = catalog_known_recipients(run->cat, rec.queue_id, rec.sha256, rec.message_id, &known,
                                 &error);
    if (r != TAB_OK) {
        *why_r = xasprintf("catalog lookup failed: %s", error ? error : "unknown error");
        goto out;
    }
    for (size_t i = 0; i < rcpts.n; i++)
        if (!strlist_has_nocase(&known, rcpts.v[i])) {
            record_add_rcpt(&rec, rcpts.v[i], rcpts.v[i], NULL, NULL);
            fresh++;
        }
    if (fresh == 0) {
        out = IMPORT_DUPLICATE;
        goto out;
    }
    wrap_fd = import_wrap_open(run->cfg->queue_directory, &wrap_path, &wrap_named, &error);
    if (wrap_fd < 0) {
        *why_r = xasprintf("cannot create a spool file in queue_directory: %s", error);
        goto out;
    }
    if (archive_ingest_store(run->cfg, run->store, &rec, &info, msg->fd, wrap_fd, wrap_path,
                             &location, &step, &error) < 0) {
        *why_r = xasprintf("%s failed: %s", step, error ? error : "unknown error");
        /* A wrap that fails is the message's (or the disk's): the store's
         * failure is ours and may pass. */
        goto out;
    }
    r = archive_ingest_catalog(run->cat, &rec, &error);
    if (r != TAB_OK) {
        *why_r = xasprintf("catalog failed: %s", error ? error : "unknown error");
        goto out;
    }
    out = IMPORT_ARCHIVED;
out:
    if (wrap_fd >= 0)
        close(wrap_fd);
    if (wrap_named && wrap_path != NULL)
        (void)unlink(wrap_path);
    free(wrap_path);
    free(location);
    free(sender);
    strlist_free(&rcpts);
    strlist_free(&known);
    record_free(&rec);
    return out;
}

/* Import one source; -1 when the import must stop (the journal keeps
 * the position). */
static int import_source_run(struct import_run *run, const char *source)
{
    struct import_journal j = {.fd = -1};
    struct import_source *src;
    struct import_msg msg;
    const char *error = NULL;
    int resumed, ret = -1;

    memset(&msg, 0, sizeof(msg));
    src = import_source_open(source, run->format, run->cfg->queue_directory, &error);
    if (src == NULL) {
        fprintf(stderr, "tabularium import: %s\n", error);
        return -1;
    }
    resumed = import_journal_open(run, source, &j, &error);
    if (resumed < 0) {
        fprintf(stderr, "tabularium import: %s\n", error);
        goto out;
    }
    if (resumed > 0) {
        char last[sizeof(msg.position)];
        import_unhex(j.last_hex, last, sizeof(last));
        int r = import_source_seek(src, j.seq, j.resume, last, &error);
        if (r < 0) {
            fprintf(stderr, "tabularium import: %s: cannot resume at message %" PRIu64 ": %s\n",
                    source, j.seq, error);
            goto out;
        }
        if (r > 0) {
            /* Files moved or the mbox was rewritten since: the position
             * means nothing now. Read it all again; the catalog finds what
             * is there already, and the counts start from zero. */
            fprintf(stderr,
                    "tabularium import: %s: changed since the interrupted run (%s): reading it "
                    "again from the start\n",
                    source, error);
            memset(&j.c, 0, sizeof(j.c));
            j.seq = j.resume = 0;
            j.last_hex[0] = '\0';
        } else {
            fprintf(stderr,
                    "tabularium import: %s: resuming after message %" PRIu64 " (journal %s)\n",
                    source, j.seq, j.path);
        }
    }
    for (;;) {
        uint64_t total;
        int r = import_source_next(src, &msg, &error);
        if (r < 0) {
            fprintf(stderr, "tabularium import: %s: %s\n", source, error);
            goto out;
        }
        if (r == 0)
            break;
        if (msg.skip != NULL) {
            j.c.skipped++;
            import_report(run, "skipped", source, msg.position, msg.skip);
        } else if (msg.reject != NULL) {
            j.c.read++;
            j.c.rejected++;
            import_report(run, "rejected", source, msg.position, msg.reject);
        } else {
            char *why = NULL;
            enum import_outcome o = import_one(run, &msg, &why);
            if (o == IMPORT_FAILED) {
                progress_clear(run->progress);
                fprintf(stderr,
                        "tabularium import: %s: %s: %s; stopped (run the same command again to "
                        "resume)\n",
                        source, msg.position, why);
                free(why);
                goto out;
            }
            j.c.read++;
            if (o == IMPORT_ARCHIVED)
                j.c.archived++;
            else if (o == IMPORT_DUPLICATE)
                j.c.duplicates++;
            else {
                j.c.rejected++;
                import_report(run, "rejected", source, msg.position, why);
            }
            free(why);
        }
        /* Only now is the message durable (or reported): the journal
         * moves past it. */
        j.seq = msg.seq;
        j.resume = msg.resume;
        import_hex(msg.position, j.last_hex, sizeof(j.last_hex));
        if (import_journal_write(&j, source, &error) < 0) {
            fprintf(stderr, "tabularium import: cannot write the journal %s: %s\n", j.path, error);
            goto out;
        }
        snprintf(run->progress_what, sizeof(run->progress_what), "import: %" PRIu64 " messages",
                 run->total.read + j.c.read);
        progress_update(run->progress, run->bytes_before + import_source_bytes(src, &total));
    }
    uint64_t total;
    run->bytes_before += import_source_bytes(src, &total);
    ret = 0;
out:
    run->total.read += j.c.read;
    run->total.archived += j.c.archived;
    run->total.duplicates += j.c.duplicates;
    run->total.rejected += j.c.rejected;
    run->total.skipped += j.c.skipped;
    free(msg.from_line_sender);
    import_journal_close(&j, ret == 0);
    import_source_close(&src);
    return ret;
}

static int import_usage_format(const char *f)
{
    static const char *const formats[] = {"mbox",    "mboxrd", "mboxo", "mboxcl2",
                                          "maildir", "eml",    "zip"};

    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (strcmp(f, formats[i]) == 0)
            return 1;
    return 0;
}

int cli_import(struct cli_context *ctx, int argc, char **argv)
{
    struct import_run run;
    const char *error = NULL, *format = NULL, *owner = NULL, *report = NULL;
    int json = 0, operand, status, failed = 0;
    const struct cli_syntax syntax = {"import", cli_import_help, CLI_OPERANDS_ANY, NULL,
                                      CLI_OPTIONS(CLI_OPTION_STRING("format", &format),
                                                  CLI_OPTION_STRING("mailbox-owner", &owner),
                                                  CLI_OPTION_FLAG("json", &json),
                                                  CLI_OPTION_STRING("report", &report))};
    uint64_t total_bytes = 0;
    time_t started = time(NULL);

    status = cli_parse_options(&syntax, argc, argv, &operand);
    if (status != CLI_OPTIONS_PARSED)
        return status;
    if (operand >= argc)
        return cli_usage_error("import", "%s", "no SOURCE given");
    if (format != NULL && !import_usage_format(format))
        return cli_usage_error(
            "import", "unknown --format %s (mbox, mboxrd, mboxo, mboxcl2, maildir, eml, zip)",
            format);
    memset(&run, 0, sizeof(run));
    run.ctx = ctx;
    run.format = format;
    run.owner = owner;
    run.cfg = ctx->config(ctx, &error);
    if (run.cfg == NULL) {
        fprintf(stderr, "tabularium import: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    if ((run.cat = ctx->catalog(ctx)) == NULL || (run.store = ctx->store(ctx)) == NULL)
        return CLI_EXIT_USAGE;
    run.index_later = catalog_spec_body_later(run.cfg->archive_catalog) &&
                      store_spec_local_reads(run.cfg->archive_store);
    if (report != NULL) {
        const char *slash = strrchr(report, '/');
        run.journal_dir = slash != NULL ? xstrndup(report, (size_t)(slash - report)) : xstrdup(".");
        if (*run.journal_dir == '\0') {
            free(run.journal_dir);
            run.journal_dir = xstrdup("/");
        }
        run.report_path = xstrdup(report);
    } else {
        char stamp[32];
        struct tm tm;
        gmtime_r(&started, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        run.journal_dir = xasprintf("%s/import", run.cfg->queue_directory);
        run.report_path = xasprintf("%s/report-%s-%ld.txt", run.journal_dir, stamp, (long)getpid());
    }
    /* The spool files of the sources and the wraps go in queue_directory,
     * which only the daemon has made so far when it ran here. */
    const char *mkdir_failed = safe_mkdir_p(run.cfg->queue_directory, 0700) < 0
                                   ? run.cfg->queue_directory
                               : safe_mkdir_p(run.journal_dir, 0700) < 0 ? run.journal_dir
                                                                         : NULL;
    if (mkdir_failed != NULL) {
        fprintf(stderr, "tabularium import: cannot create %s: %s\n", mkdir_failed, strerror(errno));
        status = CLI_EXIT_USAGE;
        goto out;
    }
    run.report = fopen(run.report_path, "a");
    if (run.report == NULL) {
        fprintf(stderr, "tabularium import: cannot open the report %s: %s\n", run.report_path,
                strerror(errno));
        status = CLI_EXIT_USAGE;
        goto out;
    }
    for (int i = operand; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISREG(st.st_mode))
            total_bytes += (uint64_t)st.st_size;
    }
    index_fields_init();
    snprintf(run.progress_what, sizeof(run.progress_what), "import: 0 messages");
    run.progress = progress_new(run.progress_what, "bytes", total_bytes);
    for (int i = operand; i < argc && !failed; i++)
        failed = import_source_run(&run, argv[i]) < 0;
    progress_end(&run.progress);
    index_fields_deinit();

    char *detail = xasprintf("started=%lld, sources=%d, read=%" PRIu64 ", archived=%" PRIu64
                             ", duplicates=%" PRIu64 ", rejected=%" PRIu64 ", skipped=%" PRIu64
                             "%s, report=%s",
                             (long long)started, argc - operand, run.total.read, run.total.archived,
                             run.total.duplicates, run.total.rejected, run.total.skipped,
                             failed ? ", stopped" : "", run.report_path);
    if (cli_audit_record(ctx, "import", detail) < 0)
        failed = 1;
    free(detail);
    if (json) {
        struct cli_output *o = cli_output_json_new(stdout);
        o->begin_map(o);
        cli_output_key_integer(o, "read", (int64_t)run.total.read);
        cli_output_key_integer(o, "archived", (int64_t)run.total.archived);
        cli_output_key_integer(o, "duplicates", (int64_t)run.total.duplicates);
        cli_output_key_integer(o, "rejected", (int64_t)run.total.rejected);
        cli_output_key_integer(o, "skipped", (int64_t)run.total.skipped);
        cli_output_key_string(o, "report", run.report_path);
        o->end(o);
        o->separator(o);
        cli_output_free(&o);
    } else {
        printf("read %" PRIu64 " = archived %" PRIu64 " + duplicates %" PRIu64
               " + rejected %" PRIu64 "; skipped %" PRIu64 " files that are no message; "
               "report: %s\n",
               run.total.read, run.total.archived, run.total.duplicates, run.total.rejected,
               run.total.skipped, run.report_path);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        failed = 1;
    status = failed ? CLI_EXIT_USAGE : run.total.rejected > 0 ? 1 : 0;
out:
    if (run.report != NULL && fclose(run.report) != 0)
        status = CLI_EXIT_USAGE;
    free(run.journal_dir);
    free(run.report_path);
    return status;
}
