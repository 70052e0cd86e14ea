/*
 * NAME
 *	cli_export 3
 * SUMMARY
 *	tabularium export: messages out, with a chain of custody
 * SYNOPSIS
 *	tabularium export [FILTERS | --id ID...] --format mbox|eml|maildir
 *		--output PATH [--original | --wrapped] [--json]
 * DESCRIPTION
 *	export selects messages (the search filters of search/cli_filters.c,
 *	or archive ids), streams each stored copy through mail/archive_read.c
 *	into the output, oldest first, and writes a JSON manifest: who
 *	exported what, when, where from, with which query, and for every
 *	message the catalog's SHA-256 of the original and of the wrapped
 *	copy next to the SHA-256 and size of the bytes exported. Every copy
 *	is checked against the catalog while it is written; one that differs
 *	fails the whole export. The receiving side checks the export with
 *	verify-export (search/read/cli_export_verify.c); what the two share
 *	is in search/read/export_manifest.h.
 *
 *	Formats: mbox is mboxrd (a "From " line with the envelope sender and
 *	the arrival time, every line matching ^>*From  gets one more ">", a
 *	blank line after each message) with LF line ends where that can be
 *	undone: a message whose every line ends in CRLF is written with LF
 *	("line_ends": "crlf-as-lf" in the manifest), any other as stored.
 *	The bytes go through search/read/export_sink.c, which makes these
 *	changes. Whether a message is all CRLF is known only at its end:
 *	when a bare LF follows CRLF, the entry is cut off the file and the
 *	message read from the store again (export_one_mbox()); so the mbox
 *	file's SHA-256 is computed by reading it back once complete. eml is one
 *	file per message, ARCHIVE-ID.eml. maildir is a Maildir whose new/
 *	holds ARRIVAL.ARCHIVE-ID.export files, which sort by arrival.
 *
 *	The output is built under a temporary name beside PATH (a file for
 *	mbox, a 0700 directory for eml and maildir; files 0600, each one
 *	fsync'ed) and renamed to PATH only when every message was exported
 *	and verified, so PATH is either a complete export or absent. An
 *	existing PATH is only replaced when it is empty.
 *
 *	When stderr is a terminal, a progress line (common/progress.h) counts
 *	the messages, erased before any message of its own and at the end.
 *
 *	Never holds a message in memory; never trusts a string from the
 *	catalog (JSON-escaped; the "From " line's sender has white space and
 *	control characters replaced by "_").
 * DIAGNOSTICS
 *	exit 0 exported and verified, 1 nothing matched or an unknown
 *	archive id, 2 usage, configuration, catalog, store or write error, 3
 *	integrity: a stored copy differs from the catalog or is missing (one
 *	line on stderr per archive id; nothing is written to PATH). The
 *	export is in the catalog's audit log (cli_audit_record()) before
 *	any message is read; when that row cannot be written, nothing is
 *	read (exit 2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "common/config.h"
#include "common/progress.h"
#include "common/safe_file.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "mail/archive_read.h"
#include "search/cli.h"
#include "search/cli_filters.h"
#include "search/cli_output.h"
#include "search/read/export_manifest.h"
#include "search/read/export_sink.h"

const char cli_export_help[] =
    "NAME\n"
    "    tabularium export - copy archived messages out, with a manifest\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium export [FILTERS | --id ARCHIVE-ID...] --format mbox|eml|maildir\n"
    "                      --output PATH [--original | --wrapped] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Writes the messages that match FILTERS (the options of tabularium\n"
    "    search: --from --to --subject --since --until --message-id --text\n"
    "    --attachment --has-attachment --limit; see tabularium search --help),\n"
    "    or the messages named by --id, to PATH, oldest first, and a manifest\n"
    "    beside them (JSON): the tool version, the time (UTC), the operator\n"
    "    (login name and uid), the host, the catalog and store, the exact\n"
    "    query, and for every message its archive id, arrival, queue id,\n"
    "    envelope, Message-ID, the catalog's SHA-256 of the original and of\n"
    "    the wrapped copy, and the SHA-256 and size of the bytes exported;\n"
    "    finally the SHA-256 of the export as a whole.\n"
    "\n"
    "    Every message is checked against the catalog while it is exported.\n"
    "    If one differs or its stored copy is missing, the export fails,\n"
    "    names each such archive id and leaves nothing at PATH. PATH is\n"
    "    written under a temporary name and renamed when complete; an\n"
    "    existing PATH that is not empty is never overwritten. Files are\n"
    "    created 0600, directories 0700.\n"
    "\n"
    "    The export (user, query, number of messages) is recorded in the\n"
    "    audit log (tabularium audit) before any message is read.\n"
    "\n"
    "    Hand the export over together with its manifest; the receiving side\n"
    "    checks it with tabularium verify-export (no archive needed).\n"
    "\n"
    "FORMATS\n"
    "    mbox     one file, mboxrd: each message starts with a line\n"
    "             \"From SENDER DATE\" (envelope sender, MAILER-DAEMON for <>;\n"
    "             arrival time in UTC, asctime format), every line that\n"
    "             matches ^>*From  gets one more \">\", and a blank line ends\n"
    "             the message. A message whose lines all end in CRLF is\n"
    "             written with LF, as mail clients expect (\"line_ends\":\n"
    "             \"crlf-as-lf\" in the manifest); any other keeps its line\n"
    "             ends (\"as-stored\"). The manifest is PATH.manifest.json and\n"
    "             records the byte offset and length of each message in the\n"
    "             file; docs/export.md shows how to get each original back.\n"
    "    eml      a directory with one file per message, ARCHIVE-ID.eml,\n"
    "             and manifest.json\n"
    "    maildir  a Maildir (tmp, new, cur) whose new/ holds one file per\n"
    "             message, ARRIVAL.ARCHIVE-ID.export (sorts by arrival), and\n"
    "             manifest.json. Open a copy in a mail client, not the\n"
    "             export: a client renames the files it reads.\n"
    "\n"
    "OPTIONS\n"
    "    --format FORMAT  mbox, eml or maildir (required)\n"
    "    --output PATH    the mbox file or the directory to create (required)\n"
    "    --original       export each original message exactly as it was\n"
    "                     received (the default): what a court or a mail\n"
    "                     client usually wants. Its envelope (sender and\n"
    "                     every recipient, Bcc included) is in the manifest.\n"
    "    --wrapped        export the stored archive message instead: the\n"
    "                     envelope in its header, the original attached as\n"
    "                     message/rfc822. The envelope then travels inside\n"
    "                     each message.\n"
    "    --id ARCHIVE-ID  export this message (may be repeated; not together\n"
    "                     with FILTERS)\n"
    "    --json           print the summary as one JSON object\n"
    "    -h, --help       this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 exported and verified, 1 nothing matched or no message with an\n"
    "    archive id given, 2 usage, configuration, catalog, store or write\n"
    "    error, 3 integrity check failed (a stored copy differs from the\n"
    "    catalog or is missing; each archive id is named on stderr).\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium export --to bob@example.com --since 2026-01-01 \\\n"
    "        --format mbox --output /srv/case-17/bob.mbox\n"
    "    tabularium export --id 6932F1A00A1B2C3D4E5F --id 6932F1A00A1B2C3D4E60 \\\n"
    "        --format eml --output /srv/case-17/eml\n"
    "    tabularium export --text 'merger OR acquisition' --wrapped \\\n"
    "        --format maildir --output /srv/case-17/Maildir --json\n"
    "    sha256sum /srv/case-17/bob.mbox /srv/case-17/bob.mbox.manifest.json\n";

const char *const export_format_names[] = {"mbox", "eml", "maildir"};

int export_format_parse(const char *s, enum export_format *f_r)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, export_format_names[i]) == 0) {
            *f_r = (enum export_format)i;
            return 0;
        }
    return -1;
}

/* --- paths ---------------------------------------------------------------- */

char *export_path_clean(const char *path)
{
    char *p = xstrdup(path);
    size_t n = strlen(p);

    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

/* The directory part of path ("." when there is none). Heap. */
static char *export_path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

const char *export_path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash == NULL ? path : slash + 1;
}

/* 0 when path may become the output: absent, an empty regular file
 * (want_dir 0) or an empty directory (want_dir 1); *exists_r says which. */
static int export_output_check(const char *path, int want_dir, int *exists_r)
{
    struct stat sb;
    struct dirent *de;
    DIR *d;

    *exists_r = 0;
    if (lstat(path, &sb) < 0) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "tabularium export: %s: %s\n", path, strerror(errno));
        return -1;
    }
    *exists_r = 1;
    if (!want_dir) {
        if (S_ISREG(sb.st_mode) && sb.st_size == 0)
            return 0;
        fprintf(stderr, "tabularium export: %s exists and is not empty: refusing to overwrite it\n",
                path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "tabularium export: %s exists and is not a directory\n", path);
        return -1;
    }
    d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "tabularium export: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            break;
    (void)closedir(d); /* read-only: nothing to lose */
    if (de != NULL) {
        fprintf(stderr, "tabularium export: %s exists and is not empty: refusing to overwrite it\n",
                path);
        return -1;
    }
    return 0;
}

/* Rename tmp to path; when path did not exist, never replace one that
 * appeared meanwhile. 0 ok, -1 errno. */
static int export_publish(const char *tmp, const char *path, int existed)
{
    struct stat sb;

    if (!existed) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EINVAL && errno != ENOSYS)
            return -1;
        /* A file system without RENAME_NOREPLACE: check, then rename. */
        if (lstat(path, &sb) == 0) {
            errno = EEXIST;
            return -1;
        }
    }
    return rename(tmp, path);
}

static int export_remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    if (remove(path) < 0)
        fprintf(stderr, "tabularium export: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* Remove the temporary directory this export created (and only that). */
static void export_remove_tree(const char *dir)
{
    (void)nftw(dir, export_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- the export ----------------------------------------------------------- */

struct export_item {
    char id[ARCHIVE_ID_SIZE];
    time_t arrival;
};

/* A message file of an eml or maildir export, for the whole-export hash. */
struct export_file {
    char *path; /* relative to the export directory */
    char sha256[SHA256_HEX_SIZE];
};

struct export_run {
    enum export_format format;
    int original;
    int json;
    char *output;       /* PATH, cleaned */
    char *manifest;     /* the manifest's final path */
    char *tmp;          /* mbox: temporary file; eml/maildir: temporary directory */
    char *manifest_tmp; /* the manifest's temporary path */
    int output_existed;
    int manifest_existed;
    int fd;   /* mbox file */
    FILE *mf; /* manifest */
    struct cli_output *mo;
    struct export_sink sink;
    struct export_item *items;
    size_t n_items, cap_items;
    struct export_file *files;
    size_t n_files;
    size_t exported;
    struct strlist failed;     /* archive ids that failed the check */
    struct progress *progress; /* on stderr, when it is a terminal */
    char export_sha256[SHA256_HEX_SIZE];
    uint64_t export_size;
    char manifest_sha256[SHA256_HEX_SIZE];
};

static void export_items_add(struct export_run *run, const char *id, time_t arrival)
{
    if (run->n_items == run->cap_items) {
        run->cap_items = run->cap_items ? run->cap_items * 2 : 64;
        run->items = xrealloc(run->items, run->cap_items * sizeof(*run->items));
    }
    snprintf(run->items[run->n_items].id, ARCHIVE_ID_SIZE, "%s", id);
    run->items[run->n_items].arrival = arrival;
    run->n_items++;
}

static int export_item_cmp(const void *a, const void *b)
{
    const struct export_item *x = a, *y = b;

    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int export_file_cmp(const void *a, const void *b)
{
    return strcmp(((const struct export_file *)a)->path, ((const struct export_file *)b)->path);
}

static int export_collect(const struct archive_record *rec, void *ctx)
{
    export_items_add(ctx, rec->archive_id, rec->arrival);
    return 0;
}

/* Oldest first, each message once. */
static void export_items_sort(struct export_run *run)
{
    size_t w = 0;

    qsort(run->items, run->n_items, sizeof(*run->items), export_item_cmp);
    for (size_t i = 0; i < run->n_items; i++)
        if (w == 0 || strcmp(run->items[w - 1].id, run->items[i].id) != 0)
            run->items[w++] = run->items[i];
    run->n_items = w;
}

/* The SHA-256 of the "HEX  PATH\n" lines (sha256sum's output) of the
 * message files in byte order of their paths. */
static void export_files_digest(struct export_file *files, size_t n, char hex[SHA256_HEX_SIZE])
{
    struct sha256_ctx *h = sha256_new();

    qsort(files, n, sizeof(*files), export_file_cmp);
    for (size_t i = 0; i < n; i++) {
        sha256_update(h, files[i].sha256, 64);
        sha256_update(h, "  ", 2);
        sha256_update(h, files[i].path, strlen(files[i].path));
        sha256_update(h, "\n", 1);
    }
    sha256_final_hex(h, hex);
}

/* ",\n  \"key\": " before each top-level manifest value (keys are ours). */
static void export_manifest_key(struct export_run *run, const char *key, int first)
{
    fprintf(run->mf, "%s\n  \"%s\": ", first ? "{" : ",", key);
}

static void export_manifest_time(struct cli_output *o, time_t t)
{
    char buf[21];

    record_format_time(t, buf);
    o->string(o, buf);
}

/* The user the export runs as, for the manifest. */
struct export_operator {
    char user[256]; /* login name of the uid, or "uid N" */
    uid_t uid;
    const char *login; /* getlogin(): who logged in (through sudo too), or NULL */
};

static void export_operator(struct export_operator *op)
{
    struct passwd *pw;

    op->uid = getuid();
    pw = getpwuid(op->uid);
    if (pw != NULL)
        snprintf(op->user, sizeof(op->user), "%s", pw->pw_name);
    else
        snprintf(op->user, sizeof(op->user), "uid %lu", (unsigned long)op->uid);
    op->login = getlogin();
}

static void export_manifest_head(struct export_run *run, const struct tab_config *cfg,
                                 const struct cli_filters *filters, const struct strlist *ids,
                                 const struct export_operator *op, time_t now)
{
    struct cli_output *o = run->mo;
    char host[256];
    char *redacted, *audit_user;

    if (gethostname(host, sizeof(host)) < 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';

    export_manifest_key(run, "manifest_version", 1);
    o->integer(o, EXPORT_MANIFEST_VERSION);
    export_manifest_key(run, "tool", 0);
    o->string(o, "tabularium " TAB_VERSION);
    export_manifest_key(run, "exported_at", 0);
    export_manifest_time(o, now);
    export_manifest_key(run, "operator", 0);
    o->begin_map(o);
    cli_output_key_string(o, "user", op->user);
    cli_output_key_integer(o, "uid", (int64_t)op->uid);
    cli_output_key_string(o, "login", op->login);
    o->map_key(o, "audit_user"); /* as the audit log names the user */
    audit_user = cli_audit_user();
    o->string(o, audit_user);
    free(audit_user);
    o->end(o);
    export_manifest_key(run, "host", 0);
    o->string(o, host);
    export_manifest_key(run, "catalog", 0);
    redacted = config_redact(cfg->archive_catalog);
    o->string(o, redacted);
    free(redacted);
    export_manifest_key(run, "store", 0);
    redacted = config_redact(cfg->archive_store);
    o->string(o, redacted);
    free(redacted);
    export_manifest_key(run, "query", 0);
    o->begin_map(o);
    o->map_key(o, "filters");
    o->begin_list(o);
    for (size_t i = 0; i < filters->given.n; i++)
        o->string(o, filters->given.v[i]);
    o->end(o);
    o->map_key(o, "ids");
    o->begin_list(o);
    for (size_t i = 0; i < ids->n; i++)
        o->string(o, ids->v[i]);
    o->end(o);
    o->end(o);
    export_manifest_key(run, "format", 0);
    o->string(o, export_format_names[run->format]);
    export_manifest_key(run, "content", 0);
    o->string(o, run->original ? "original" : "wrapped");
    if (run->format == EXPORT_MBOX) {
        export_manifest_key(run, "mbox_file", 0);
        o->string(o, export_path_base(run->output));
    }
    export_manifest_key(run, "messages", 0);
    fputc('[', run->mf);
}

/* One message's manifest entry; file is NULL for mbox, crlf_as_lf says
 * how its line ends were written. */
static void export_manifest_message(struct export_run *run, const struct archive_record *rec,
                                    const char *file, uint64_t offset, const char *sha256,
                                    uint64_t size, int crlf_as_lf)
{
    struct cli_output *o = run->mo;

    fputs(run->exported > 0 ? ",\n    " : "\n    ", run->mf);
    o->begin_map(o);
    cli_output_key_string(o, "archive_id", rec->archive_id);
    o->map_key(o, "arrival");
    export_manifest_time(o, rec->arrival);
    cli_output_key_string(o, "queue_id", rec->queue_id);
    cli_output_key_string(o, "envelope_from", rec->envelope_from);
    cli_output_envelope_to(o, rec);
    cli_output_key_string(o, "message_id", rec->message_id);
    cli_output_key_string(o, "sha256", rec->sha256);
    cli_output_key_integer(o, "size", (int64_t)rec->size);
    cli_output_key_string(o, "wrapped_sha256", rec->wrapped_sha256);
    cli_output_key_integer(o, "wrapped_size", (int64_t)rec->wrapped_size);
    if (file != NULL) {
        cli_output_key_string(o, "file", file);
    } else {
        cli_output_key_integer(o, "offset", (int64_t)offset);
        cli_output_key_integer(o, "length", (int64_t)size);
        cli_output_key_string(
            o, "line_ends", crlf_as_lf ? EXPORT_LINE_ENDS_CRLF_AS_LF : EXPORT_LINE_ENDS_AS_STORED);
    }
    cli_output_key_string(o, "exported_sha256", sha256);
    cli_output_key_integer(o, "exported_size", (int64_t)size);
    o->end(o);
}

static void export_manifest_tail(struct export_run *run)
{
    struct cli_output *o = run->mo;

    fputs(run->exported > 0 ? "\n  ]" : "]", run->mf);
    export_manifest_key(run, "message_count", 0);
    o->integer(o, (int64_t)run->exported);
    export_manifest_key(run, "export_sha256", 0);
    o->string(o, run->export_sha256);
    export_manifest_key(run, "export_size", 0);
    o->integer(o, (int64_t)run->export_size);
    fputs("\n}\n", run->mf);
}

/*
 * Stream rec into the sink and check it against the catalog. Returns
 * 0 verified, 1 integrity failure (printed, id recorded), 2 start the
 * mbox entry again (export_emit_mbox()), -1 abort (printed: a write,
 * store or system error).
 */
static int export_stream(struct export_run *run, struct store *st, const struct archive_record *rec,
                         const char *what)
{
    struct archive_read_result res;
    char why[1024];
    archive_emit_fn *fn = run->format == EXPORT_MBOX ? export_emit_mbox : export_emit_plain;

    if (archive_read(st, rec, run->original ? ARCHIVE_EMIT_ORIGINAL : ARCHIVE_EMIT_WRAPPED, fn,
                     &run->sink, &res) < 0) {
        switch (res.status) {
        case ARCHIVE_READ_MISSING:
            progress_clear(run->progress);
            fprintf(stderr,
                    "tabularium export: %s: integrity check failed: the stored copy %s:%s cannot"
                    " be read: %s\n",
                    rec->archive_id, rec->store, rec->location, res.error);
            strlist_add(&run->failed, rec->archive_id);
            return 1;
        case ARCHIVE_READ_EMIT_FAIL:
            if (run->sink.restart)
                return 2;
            progress_clear(run->progress);
            fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id, what,
                    strerror(res.error_errno));
            return -1;
        default:
            progress_clear(run->progress);
            fprintf(stderr, "tabularium export: %s: reading %s:%s from the store failed: %s\n",
                    rec->archive_id, rec->store, rec->location, res.error);
            return -1;
        }
    }
    if (archive_read_verdict(rec, &res, 1, why, sizeof(why)) < 0) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: integrity check failed: %s\n", rec->archive_id,
                why);
        strlist_add(&run->failed, rec->archive_id);
        return 1;
    }
    return 0;
}

/* One message into the mbox file. Returns as export_stream(), but never 2. */
static int export_one_mbox(struct export_run *run, struct store *st,
                           const struct archive_record *rec)
{
    struct export_sink *s = &run->sink;
    uint64_t offset = s->file_bytes;
    char sha[SHA256_HEX_SIZE];
    int r;

    export_sink_begin(s, EXPORT_ENDS_UNDECIDED);
    for (;;) {
        if (export_mbox_from_line(s, rec) < 0) {
            progress_clear(run->progress);
            fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id,
                    run->tmp, strerror(errno));
            r = -1;
            goto out;
        }
        r = export_stream(run, st, rec, run->tmp);
        if (r != 2)
            break;
        /* CRLF, then a bare LF: the message once more, as stored. */
        sha256_final_hex(s->hash, sha);
        if (export_sink_rewind(s, offset) < 0) {
            progress_clear(run->progress);
            fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id,
                    run->tmp, strerror(errno));
            s->hash = NULL;
            r = -1;
            goto out;
        }
        export_sink_begin(s, EXPORT_ENDS_AS_STORED);
    }
    if (r != 0)
        goto out;
    /* What was held back, a line end when there was none, the blank line. */
    if (export_mbox_finish(s) < 0) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id, run->tmp,
                strerror(errno));
        r = -1;
        goto out;
    }
out:
    if (s->hash != NULL)
        sha256_final_hex(s->hash, sha);
    s->hash = NULL;
    if (r == 0) {
        export_manifest_message(run, rec, NULL, offset, sha, s->bytes,
                                s->line_ends == EXPORT_ENDS_CRLF_AS_LF);
        run->exported++;
    }
    return r;
}

/* One message into its own file (eml, maildir). Returns as export_stream(). */
static int export_one_file(struct export_run *run, struct store *st,
                           const struct archive_record *rec)
{
    struct export_sink *s = &run->sink;
    char sha[SHA256_HEX_SIZE];
    char *rel, *path, *tmp_path = NULL;
    int r = -1;

    if (run->format == EXPORT_EML) {
        rel = xasprintf("%s.eml", rec->archive_id);
        path = xasprintf("%s/%s", run->tmp, rel);
    } else {
        rel = xasprintf("new/%010lld.%s.export", (long long)rec->arrival, rec->archive_id);
        path = xasprintf("%s/%s", run->tmp, rel);
        tmp_path = xasprintf("%s/tmp/%s", run->tmp, rel + 4);
    }
    s->fd = open(tmp_path != NULL ? tmp_path : path,
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s->fd < 0) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: cannot create %s: %s\n", rec->archive_id,
                tmp_path != NULL ? tmp_path : path, strerror(errno));
        free(rel);
        free(path);
        free(tmp_path);
        return -1;
    }
    export_sink_begin(s, EXPORT_ENDS_AS_STORED);
    r = export_stream(run, st, rec, path);
    if (r == 0 && (export_sink_flush(s) < 0 || fsync(s->fd) < 0)) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id, path,
                strerror(errno));
        r = -1;
    }
    s->buf_len = 0;
    if (close(s->fd) < 0 && r == 0) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: cannot write %s: %s\n", rec->archive_id, path,
                strerror(errno));
        r = -1;
    }
    s->fd = -1;
    /* Maildir delivery: complete in tmp/, then into new/. */
    if (r == 0 && tmp_path != NULL && rename(tmp_path, path) < 0) {
        progress_clear(run->progress);
        fprintf(stderr, "tabularium export: %s: cannot rename %s to %s: %s\n", rec->archive_id,
                tmp_path, path, strerror(errno));
        r = -1;
    }
    sha256_final_hex(s->hash, sha);
    s->hash = NULL;
    if (r == 0) {
        export_manifest_message(run, rec, rel, 0, sha, s->bytes, 0);
        run->exported++;
        run->export_size += s->bytes;
        run->files = xrealloc(run->files, (run->n_files + 1) * sizeof(*run->files));
        run->files[run->n_files].path = rel;
        memcpy(run->files[run->n_files].sha256, sha, SHA256_HEX_SIZE);
        run->n_files++;
        rel = NULL;
    }
    free(rel);
    free(path);
    free(tmp_path);
    return r;
}

/* Create the temporary output (and the manifest's temporary file).
 * 0 ok, -1 printed. */
static int export_prepare(struct export_run *run)
{
    char *dir = export_path_dir(run->output);
    const char *base = export_path_base(run->output);
    int mfd = -1, ret = -1;

    if (run->format == EXPORT_MBOX) {
        run->tmp = xasprintf("%s/.%s.export-XXXXXX", dir, base);
        run->fd = mkostemp(run->tmp, O_CLOEXEC);
        if (run->fd < 0) {
            fprintf(stderr, "tabularium export: cannot create a file in %s: %s\n", dir,
                    strerror(errno));
            free(run->tmp);
            run->tmp = NULL;
            goto out;
        }
        run->manifest_tmp = xasprintf("%s/.%s" EXPORT_MANIFEST_SUFFIX ".export-XXXXXX", dir, base);
        mfd = mkostemp(run->manifest_tmp, O_CLOEXEC);
    } else {
        run->tmp = xasprintf("%s/.%s.export-XXXXXX", dir, base);
        if (mkdtemp(run->tmp) == NULL) {
            fprintf(stderr, "tabularium export: cannot create a directory in %s: %s\n", dir,
                    strerror(errno));
            free(run->tmp);
            run->tmp = NULL;
            goto out;
        }
        if (run->format == EXPORT_MAILDIR) {
            static const char *const subs[] = {"tmp", "new", "cur"};
            for (int i = 0; i < 3; i++) {
                char *sub = xasprintf("%s/%s", run->tmp, subs[i]);
                int r = mkdir(sub, 0700);
                if (r < 0)
                    fprintf(stderr, "tabularium export: cannot create %s: %s\n", sub,
                            strerror(errno));
                free(sub);
                if (r < 0)
                    goto out;
            }
        }
        run->manifest_tmp = xasprintf("%s/" EXPORT_MANIFEST_NAME, run->tmp);
        mfd = open(run->manifest_tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (mfd < 0) {
        fprintf(stderr, "tabularium export: cannot create the manifest %s: %s\n", run->manifest_tmp,
                strerror(errno));
        free(run->manifest_tmp);
        run->manifest_tmp = NULL;
        goto out;
    }
    run->mf = fdopen(mfd, "w");
    if (run->mf == NULL) {
        fprintf(stderr, "tabularium export: %s: %s\n", run->manifest_tmp, strerror(errno));
        (void)close(mfd); /* nothing written yet */
        goto out;
    }
    run->mo = cli_output_json_new(run->mf);
    ret = 0;
out:
    free(dir);
    return ret;
}

/* Undo export_prepare(): nothing of a failed export stays behind. */
static void export_discard(struct export_run *run)
{
    if (run->mf != NULL) {
        (void)fclose(run->mf); /* being removed */
        run->mf = NULL;
    }
    if (run->fd >= 0) {
        (void)close(run->fd); /* being removed */
        run->fd = -1;
    }
    if (run->tmp == NULL)
        return;
    if (run->format == EXPORT_MBOX) {
        if (unlink(run->tmp) < 0 && errno != ENOENT)
            fprintf(stderr, "tabularium export: cannot remove %s: %s\n", run->tmp, strerror(errno));
        if (run->manifest_tmp != NULL && unlink(run->manifest_tmp) < 0 && errno != ENOENT)
            fprintf(stderr, "tabularium export: cannot remove %s: %s\n", run->manifest_tmp,
                    strerror(errno));
    } else {
        export_remove_tree(run->tmp);
    }
}

/* Finish the manifest: flush, fsync, close; its SHA-256. 0 ok, -1 printed. */
static int export_manifest_close(struct export_run *run)
{
    int fd, ok;

    export_manifest_tail(run);
    cli_output_free(&run->mo);
    fd = fileno(run->mf);
    ok = fflush(run->mf) == 0 && !ferror(run->mf) && fsync(fd) == 0 &&
         lseek(fd, 0, SEEK_SET) == 0 && sha256_fd(fd, -1, run->manifest_sha256) == 0;
    if (fclose(run->mf) != 0)
        ok = 0;
    run->mf = NULL;
    if (!ok) {
        fprintf(stderr, "tabularium export: cannot write the manifest %s: %s\n", run->manifest_tmp,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Complete the temporary output: sync it, compute the export's SHA-256,
 * finish the manifest. 0 ok, -1 printed. */
static int export_seal(struct export_run *run)
{
    if (run->format == EXPORT_MBOX) {
        if (export_sink_flush(&run->sink) < 0 || fsync(run->fd) < 0) {
            fprintf(stderr, "tabularium export: cannot write %s: %s\n", run->tmp, strerror(errno));
            return -1;
        }
        /* Hashed from the file, not while writing: an entry written
         * twice (export_one_mbox()) left its first bytes in no hash. */
        if (lseek(run->fd, 0, SEEK_SET) < 0 || sha256_fd(run->fd, -1, run->export_sha256) < 0) {
            fprintf(stderr, "tabularium export: cannot read %s: %s\n", run->tmp, strerror(errno));
            return -1;
        }
        if (close(run->fd) < 0) {
            run->fd = -1;
            fprintf(stderr, "tabularium export: cannot write %s: %s\n", run->tmp, strerror(errno));
            return -1;
        }
        run->fd = -1;
        run->export_size = run->sink.file_bytes;
    } else {
        export_files_digest(run->files, run->n_files, run->export_sha256);
    }
    if (export_manifest_close(run) < 0)
        return -1;
    if (run->format != EXPORT_MBOX) {
        char *sub = xasprintf("%s/new", run->tmp);
        int bad = (run->format == EXPORT_MAILDIR && safe_fsync_dir(sub) < 0) ||
                  safe_fsync_dir(run->tmp) < 0;
        free(sub);
        if (bad) {
            fprintf(stderr, "tabularium export: cannot sync %s: %s\n", run->tmp, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Rename the sealed output (and an mbox's manifest) into place. 0 ok,
 * -1 printed; then nothing is at PATH. */
static int export_install(struct export_run *run)
{
    if (export_publish(run->tmp, run->output, run->output_existed) < 0) {
        fprintf(stderr, "tabularium export: cannot rename %s to %s: %s\n", run->tmp, run->output,
                strerror(errno));
        return -1;
    }
    free(run->tmp);
    run->tmp = NULL;
    if (run->format == EXPORT_MBOX &&
        export_publish(run->manifest_tmp, run->manifest, run->manifest_existed) < 0) {
        fprintf(stderr, "tabularium export: cannot rename %s to %s: %s\n", run->manifest_tmp,
                run->manifest, strerror(errno));
        if (unlink(run->output) < 0)
            fprintf(stderr, "tabularium export: cannot remove %s: %s\n", run->output,
                    strerror(errno));
        if (unlink(run->manifest_tmp) < 0)
            fprintf(stderr, "tabularium export: cannot remove %s: %s\n", run->manifest_tmp,
                    strerror(errno));
        return -1;
    }
    if (safe_fsync_parent(run->output) < 0) {
        fprintf(stderr, "tabularium export: cannot sync the directory of %s: %s\n", run->output,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* What the audit log keeps of this export (free text). Heap. */
static char *export_audit_detail(const struct export_run *run, const struct cli_filters *filters,
                                 const struct strlist *ids)
{
    char *query = strlist_join(&filters->given, " ");
    char *idl = strlist_join(ids, ",");
    char *s = xasprintf("format=%s content=%s output=%s query=[%s] ids=[%s] messages=%zu",
                        export_format_names[run->format], run->original ? "original" : "wrapped",
                        run->output, query, idl, run->n_items);
    free(query);
    free(idl);
    return s;
}

static void export_summary(const struct export_run *run)
{
    if (run->json) {
        struct cli_output *o = cli_output_json_new(stdout);
        o->begin_map(o);
        cli_output_key_string(o, "output", run->output);
        cli_output_key_string(o, "manifest", run->manifest);
        cli_output_key_string(o, "format", export_format_names[run->format]);
        cli_output_key_string(o, "content", run->original ? "original" : "wrapped");
        cli_output_key_integer(o, "messages", (int64_t)run->exported);
        cli_output_key_string(o, "export_sha256", run->export_sha256);
        cli_output_key_integer(o, "export_size", (int64_t)run->export_size);
        cli_output_key_string(o, "manifest_sha256", run->manifest_sha256);
        o->end(o);
        o->separator(o);
        cli_output_free(&o);
        return;
    }
    printf("exported %zu message%s (%s, %s) to %s\n", run->exported, run->exported == 1 ? "" : "s",
           export_format_names[run->format], run->original ? "original" : "wrapped", run->output);
    printf("export sha256 %s\n", run->export_sha256);
    printf("manifest %s sha256 %s\n", run->manifest, run->manifest_sha256);
}

/* Select the messages: the query, or each --id looked up. Returns an
 * exit status, CLI_EXIT_FOUND when run->items has something. */
static int export_select(struct export_run *run, struct catalog *cat,
                         const struct cli_filters *filters, const struct strlist *ids)
{
    struct archive_record rec;
    const char *error;
    enum tab_result r;

    if (ids->n == 0) {
        r = catalog_search(cat, &filters->q, export_collect, run, &error);
        if (r != TAB_OK) {
            fprintf(stderr, "tabularium export: %s\n", error);
            return CLI_EXIT_USAGE;
        }
        cli_filters_note_unindexed(filters, cat, "export");
        if (run->n_items == 0) {
            fprintf(stderr, "tabularium export: no message matches: nothing exported\n");
            return CLI_EXIT_NOT_FOUND;
        }
    } else {
        for (size_t i = 0; i < ids->n; i++) {
            r = catalog_get(cat, ids->v[i], &rec, &error);
            if (r == TAB_PERM) {
                fprintf(stderr,
                        "tabularium export: no message with archive id %s: nothing exported\n",
                        ids->v[i]);
                return CLI_EXIT_NOT_FOUND;
            }
            if (r != TAB_OK) {
                fprintf(stderr, "tabularium export: %s\n", error);
                return CLI_EXIT_USAGE;
            }
            export_items_add(run, rec.archive_id, rec.arrival);
            record_free(&rec);
        }
    }
    export_items_sort(run);
    return CLI_EXIT_FOUND;
}

/* Export every selected message. Returns an exit status. */
static int export_messages(struct export_run *run, struct catalog *cat, struct store *st)
{
    struct archive_record rec;
    const char *error;
    enum tab_result r;
    int failed;

    for (size_t i = 0; i < run->n_items; i++) {
        const char *id = run->items[i].id;

        progress_update(run->progress, i);
        r = catalog_get(cat, id, &rec, &error);
        if (r != TAB_OK) {
            progress_clear(run->progress);
            fprintf(stderr, "tabularium export: %s: %s\n", id,
                    r == TAB_PERM ? "no longer in the catalog" : error);
            return CLI_EXIT_USAGE;
        }
        if (rec.store == NULL || rec.location == NULL) {
            progress_clear(run->progress);
            fprintf(stderr,
                    "tabularium export: %s: integrity check failed: no stored copy recorded\n", id);
            strlist_add(&run->failed, id);
            record_free(&rec);
            continue;
        }
        if (strcmp(st->name, rec.store) != 0) {
            progress_clear(run->progress);
            fprintf(stderr,
                    "tabularium export: %s is in a %s store, but archive_store is a %s store\n", id,
                    rec.store, st->name);
            record_free(&rec);
            return CLI_EXIT_USAGE;
        }
        failed = run->format == EXPORT_MBOX ? export_one_mbox(run, st, &rec)
                                            : export_one_file(run, st, &rec);
        record_free(&rec);
        if (failed < 0)
            return CLI_EXIT_USAGE;
    }
    return run->failed.n > 0 ? CLI_EXIT_INTEGRITY : CLI_EXIT_FOUND;
}

static void export_run_free(struct export_run *run)
{
    char unused[SHA256_HEX_SIZE];

    if (run->sink.hash != NULL)
        sha256_final_hex(run->sink.hash, unused); /* the only way to free a context */
    cli_output_free(&run->mo);
    free(run->sink.buf);
    free(run->output);
    free(run->manifest);
    free(run->tmp);
    free(run->manifest_tmp);
    free(run->items);
    for (size_t i = 0; i < run->n_files; i++)
        free(run->files[i].path);
    free(run->files);
    strlist_free(&run->failed);
}

/* --id ID: one more archive id (a CLI_OPT_VALUE fn). */
static int export_option_id(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)word;
    if (!archive_id_valid(value))
        return cli_usage_error(cmd, "--id \"%s\": not an archive id (20 hex digits)", value);
    strlist_add(dest, value);
    return 0;
}

int cli_export(struct cli_context *ctx, int argc, char **argv)
{
    struct cli_filters filters = CLI_FILTERS_INIT;
    struct strlist ids = STRLIST_INIT;
    struct export_run run;
    struct export_operator op;
    const struct tab_config *cfg;
    struct catalog *cat;
    struct store *st;
    const char *format = NULL, *output = NULL, *error;
    char *detail;
    int status, audited, original = 0, wrapped = 0, operand;
    time_t now;
    const struct cli_syntax syntax = {
        "export", cli_export_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_FILTERS(&filters, NULL), CLI_OPTION_STRING("format", &format),
                    CLI_OPTION_STRING("output", &output), CLI_OPTION_FLAG("original", &original),
                    CLI_OPTION_FLAG("wrapped", &wrapped),
                    CLI_OPTION_VALUE("id", export_option_id, &ids),
                    CLI_OPTION_FLAG("json", &run.json))};

    memset(&run, 0, sizeof(run));
    run.fd = -1;
    run.sink.fd = -1;
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        goto out;
    if (original && wrapped) {
        status = cli_usage_error("export", "%s", "--original and --wrapped exclude each other");
        goto out;
    }
    run.original = !wrapped;
    if (format == NULL || output == NULL) {
        status = cli_usage_error("export", "%s", "--format and --output are required");
        goto out;
    }
    if (export_format_parse(format, &run.format) < 0) {
        status =
            cli_usage_error("export", "--format \"%s\": expected mbox, eml or maildir", format);
        goto out;
    }
    if (*output == '\0') {
        status = cli_usage_error("export", "%s", "--output: empty path");
        goto out;
    }
    if (ids.n > 0 && cli_filters_any(&filters)) {
        status = cli_usage_error("export", "%s", "--id and search filters exclude each other");
        goto out;
    }
    run.output = export_path_clean(output);
    if (strcmp(export_path_base(run.output), ".") == 0 ||
        strcmp(export_path_base(run.output), "..") == 0 || strcmp(run.output, "/") == 0) {
        status = cli_usage_error("export", "--output \"%s\": name the file or directory to create",
                                 output);
        goto out;
    }
    run.manifest = run.format == EXPORT_MBOX ? xasprintf("%s" EXPORT_MANIFEST_SUFFIX, run.output)
                                             : xasprintf("%s/" EXPORT_MANIFEST_NAME, run.output);
    if (export_output_check(run.output, run.format != EXPORT_MBOX, &run.output_existed) < 0 ||
        (run.format == EXPORT_MBOX &&
         export_output_check(run.manifest, 0, &run.manifest_existed) < 0)) {
        status = CLI_EXIT_USAGE;
        goto out;
    }

    /* The manifest names the catalog and the store. */
    if ((cfg = ctx->config(ctx, &error)) == NULL) {
        fprintf(stderr, "tabularium export: %s\n", error);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    cat = ctx->catalog(ctx);
    if (cat == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    status = export_select(&run, cat, &filters, &ids);
    if (status != CLI_EXIT_FOUND)
        goto out;
    st = ctx->store(ctx);
    if (st == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }

    /* Recorded before any message is read (search/read/cli_stats.c). */
    detail = export_audit_detail(&run, &filters, &ids);
    audited = cli_audit_record(ctx, "export", detail);
    free(detail);
    if (audited < 0) {
        status = CLI_EXIT_USAGE;
        goto out;
    }

    now = time(NULL);
    export_operator(&op);
    if (export_prepare(&run) < 0) {
        export_discard(&run);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    run.sink.buf = xmalloc(EXPORT_BUF_SIZE);
    if (run.format == EXPORT_MBOX) {
        run.sink.fd = run.fd;
    }
    export_manifest_head(&run, cfg, &filters, &ids, &op, now);
    run.progress = progress_new("export", "messages", run.n_items);
    status = export_messages(&run, cat, st);
    progress_end(&run.progress);
    if (status == CLI_EXIT_INTEGRITY)
        fprintf(stderr,
                "tabularium export: %zu of %zu messages failed the integrity check:"
                " nothing exported\n",
                run.failed.n, run.n_items);
    else if (status == CLI_EXIT_FOUND && (export_seal(&run) < 0 || export_install(&run) < 0))
        status = CLI_EXIT_USAGE;
    if (status == CLI_EXIT_FOUND)
        export_summary(&run);
    else
        export_discard(&run);
out:
    export_run_free(&run);
    cli_filters_free(&filters);
    strlist_free(&ids);
    return status;
}
