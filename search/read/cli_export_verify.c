/*
 * NAME
 *	cli_export_verify 3
 * SUMMARY
 *	tabularium verify-export: check an export against its manifest, offline
 * SYNOPSIS
 *	tabularium verify-export [--manifest FILE] [--json] PATH
 * DESCRIPTION
 *	Needs neither configuration, catalog nor store: it re-reads an export
 *	written by search/read/cli_export.c and checks it against the
 *	manifest, including that the exported bytes (for mbox: after undoing
 *	the quoting and, for "line_ends": "crlf-as-lf", LF back to CRLF) hash
 *	to the catalog SHA-256 the manifest recorded. Manifests of version 1
 *	(mbox line ends always as stored) verify too. The
 *	manifest is read by the strict JSON reader of common/json_read.c:
 *	malformed JSON, a member twice or a string with \u0000 is "not valid
 *	JSON", a missing or mistyped field (a number where a string belongs,
 *	true for 1) is a malformed entry.
 *
 *	Never trusts a path from a manifest (only NAME.eml, new/NAME,
 *	cur/NAME or tmp/NAME with a plain NAME), never follows a symbolic
 *	link in the export, never writes anything, never holds a message in
 *	memory; names from the manifest or the directory reach the terminal
 *	only through the text printer (search/cli_output.c).
 * DIAGNOSTICS
 *	exit 0 clean, 2 usage or the manifest cannot be read, 3 findings
 *	(each on its own line, or in the JSON "findings" list).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/archive_id.h"
#include "common/json_read.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_output.h"
#include "search/read/export_manifest.h"

/* A manifest is about 700 bytes per message: this is over a million
 * messages. It is read whole, and parsed into about 20 values of 40
 * bytes per message (common/json_read.h). */
#define EXPORT_MANIFEST_MAX (900L * 1000 * 1000)
/* The manifest nests 4 deep (messages, a message, envelope_to): room
 * for fields to come, not for a stack-eating document. */
#define VERIFY_MANIFEST_DEPTH 64
/* 50 million values (2 GB): twice what a manifest of EXPORT_MANIFEST_MAX
 * bytes holds. */
#define VERIFY_MANIFEST_VALUES (50L * 1000 * 1000)

const char cli_verify_export_help[] =
    "NAME\n"
    "    tabularium verify-export - check an export against its manifest\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium verify-export [--manifest FILE] [--json] PATH\n"
    "\n"
    "DESCRIPTION\n"
    "    Re-reads an export made by tabularium export (an mbox file, or an\n"
    "    eml or maildir directory) and checks it against its manifest\n"
    "    (PATH.manifest.json beside an mbox file, PATH/manifest.json in a\n"
    "    directory): the number of messages, every file's or mbox entry's\n"
    "    SHA-256 and size, the mbox offsets, files that are missing or that\n"
    "    the manifest does not list, the SHA-256 of the export as a whole,\n"
    "    and that every message's exported bytes (for mbox after undoing\n"
    "    the quoting, and the line ends where the manifest says crlf-as-lf)\n"
    "    hash to the catalog SHA-256 recorded in the manifest.\n"
    "\n"
    "    Needs no configuration, catalog or store: it runs wherever the\n"
    "    export was handed over. It cannot tell a manifest that was altered\n"
    "    along with the export: compare the manifest's own SHA-256\n"
    "    (sha256sum) with the one noted when the export was handed over.\n"
    "\n"
    "    Each finding is one line: KIND: WHAT: DETAIL, where KIND is\n"
    "    missing, extra, altered, catalog-mismatch, layout, count,\n"
    "    export-sha256 or manifest. A last line sums up.\n"
    "\n"
    "OPTIONS\n"
    "    --manifest FILE  the manifest, when it is not at its usual place\n"
    "    --json           one JSON object: path, manifest, format, content,\n"
    "                     messages, export_sha256 (as computed), clean, and\n"
    "                     findings (a list of {kind, archive_id, file, detail})\n"
    "    -h, --help       this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the export matches its manifest, 2 usage error or the manifest\n"
    "    cannot be read, 3 findings.\n"
    "\n"
    "EXAMPLES\n"
    "    tabularium verify-export /media/usb/bob.mbox\n"
    "    tabularium verify-export --json /media/usb/case-17-eml\n"
    "    tabularium verify-export --manifest ./received.json /media/usb/bob.mbox\n";

/* --- the manifest ------------------------------------------------------- */

struct verify_message {
    int64_t index;
    char *archive_id;
    char *file;             /* eml/maildir */
    int64_t offset, length; /* mbox */
    char exported_sha256[SHA256_HEX_SIZE];
    int64_t exported_size;
    char content_sha256[SHA256_HEX_SIZE]; /* the catalog's, of what was exported */
    int64_t content_size;
    int crlf_as_lf; /* mbox: the message's CRLF line ends are LF in the file */
    int ok;         /* the manifest entry is well-formed */
};

struct verify_finding {
    const char *kind;
    char *archive_id; /* or NULL */
    char *file;       /* or NULL */
    char *detail;
};

struct verify_run {
    const char *path;
    char *manifest_path;
    enum export_format format;
    int original;
    int json;
    char *mbox_file;
    char export_sha256[SHA256_HEX_SIZE]; /* as the manifest says */
    int64_t export_size;
    int64_t message_count;
    struct verify_message *msgs;
    size_t n_msgs;
    char computed_sha256[SHA256_HEX_SIZE];
    struct verify_finding *findings;
    size_t n_findings;
};

static void verify_finding(struct verify_run *v, const char *kind, const char *id, const char *file,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void verify_finding(struct verify_run *v, const char *kind, const char *id, const char *file,
                           const char *fmt, ...)
{
    struct verify_finding *f;
    va_list ap;
    char *detail;

    va_start(ap, fmt);
    detail = xvasprintf(fmt, ap);
    va_end(ap);
    v->findings = xrealloc(v->findings, (v->n_findings + 1) * sizeof(*v->findings));
    f = &v->findings[v->n_findings++];
    f->kind = kind;
    f->archive_id = id != NULL ? xstrdup(id) : NULL;
    f->file = file != NULL ? xstrdup(file) : NULL;
    f->detail = detail;
}

static int verify_is_sha256(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

/* A manifest file name the export could have written: NAME.eml for eml;
 * tmp/NAME, new/NAME or cur/NAME for maildir; NAME is a plain name. */
static int verify_safe_file(enum export_format format, const char *file)
{
    const char *name = file;

    if (file == NULL)
        return 0;
    if (format == EXPORT_MAILDIR) {
        if (strncmp(file, "new/", 4) != 0 && strncmp(file, "cur/", 4) != 0 &&
            strncmp(file, "tmp/", 4) != 0)
            return 0;
        name = file + 4;
    }
    if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strchr(name, '/') != NULL)
        return 0;
    if (format == EXPORT_EML && strcmp(name, EXPORT_MANIFEST_NAME) == 0)
        return 0;
    return 1;
}

/* obj's member key as a heap string; NULL when it is not a string. */
static char *verify_string(const struct json_value *obj, const char *key)
{
    const char *str = json_string(json_get(obj, key));
    return str != NULL ? xstrdup(str) : NULL;
}

/* obj's member key as an integer; -1 when it is not one. */
static int64_t verify_int(const struct json_value *obj, const char *key)
{
    int64_t n;
    return json_int64(json_get(obj, key), &n) == 0 ? n : -1;
}

/* Read the whole manifest file. NULL (printed) when it cannot be read. */
static char *verify_read_manifest(const char *path, size_t *len_r)
{
    struct stat sb;
    char *buf;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0 || fstat(fd, &sb) < 0) {
        fprintf(stderr, "tabularium verify-export: cannot read the manifest %s: %s\n", path,
                strerror(errno));
        if (fd >= 0)
            (void)close(fd); /* read-only */
        return NULL;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > EXPORT_MANIFEST_MAX) {
        fprintf(stderr, "tabularium verify-export: %s is not a manifest (%s)\n", path,
                S_ISREG(sb.st_mode) ? "larger than 900 MB" : "not a regular file");
        (void)close(fd); /* read-only */
        return NULL;
    }
    buf = xmalloc((size_t)sb.st_size + 1);
    while (got < (size_t)sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "tabularium verify-export: cannot read the manifest %s: %s\n", path,
                    n < 0 ? strerror(errno) : "it shrank while being read");
            (void)close(fd); /* read-only */
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    (void)close(fd); /* read-only */
    buf[got] = '\0';
    *len_r = got;
    return buf;
}

/*
 * Parse the manifest into v. Returns 0 when it could be used (findings
 * about single entries recorded), -1 when it is no manifest at all (a
 * finding recorded), -2 when it is too large to read (printed).
 */
static int verify_parse_manifest(struct verify_run *v, const char *text, size_t len)
{
    static const struct json_limits limits = {VERIFY_MANIFEST_DEPTH, VERIFY_MANIFEST_VALUES};
    const struct json_value *root, *messages, *e;
    struct json_doc *doc = NULL;
    char error[JSON_READ_ERROR_SIZE];
    char *format = NULL, *content = NULL, *sha = NULL;
    int64_t index = 0, version;
    int ret = -1;

    switch (json_read(text, len, &limits, &doc, error, sizeof(error))) {
    case JSON_READ_OK:
        break;
    case JSON_READ_INVALID:
        verify_finding(v, "manifest", NULL, v->manifest_path, "not valid JSON");
        return -1;
    default:
        fprintf(stderr, "tabularium verify-export: reading the manifest: %s\n", error);
        return -2;
    }
    root = json_doc_root(doc);
    format = verify_string(root, "format");
    content = verify_string(root, "content");
    sha = verify_string(root, "export_sha256");
    messages = json_get(root, "messages");
    v->mbox_file = verify_string(root, "mbox_file");
    version = verify_int(root, "manifest_version");
    if ((version != 1 && version != EXPORT_MANIFEST_VERSION) || format == NULL ||
        export_format_parse(format, &v->format) < 0 || content == NULL ||
        (strcmp(content, "original") != 0 && strcmp(content, "wrapped") != 0) ||
        !verify_is_sha256(sha) || messages == NULL || messages->type != JSON_ARRAY) {
        verify_finding(v, "manifest", NULL, v->manifest_path,
                       "not a tabularium export manifest (version %d): manifest_version, format,"
                       " content, export_sha256 or messages missing or malformed",
                       EXPORT_MANIFEST_VERSION);
        goto out;
    }
    v->original = strcmp(content, "original") == 0;
    memcpy(v->export_sha256, sha, SHA256_HEX_SIZE);
    v->export_size = verify_int(root, "export_size");
    v->message_count = verify_int(root, "message_count");

    for (e = json_first(messages); e != NULL; e = json_next(e), index++) {
        struct verify_message *m;
        char *esha, *csha, *ends;
        int ends_ok;

        v->msgs = xrealloc(v->msgs, (v->n_msgs + 1) * sizeof(*v->msgs));
        m = &v->msgs[v->n_msgs++];
        memset(m, 0, sizeof(*m));
        m->index = index;
        m->archive_id = verify_string(e, "archive_id");
        m->file = verify_string(e, "file");
        m->offset = verify_int(e, "offset");
        m->length = verify_int(e, "length");
        esha = verify_string(e, "exported_sha256");
        m->exported_size = verify_int(e, "exported_size");
        /* The catalog's SHA-256 and size of what was exported. */
        csha = verify_string(e, v->original ? "sha256" : "wrapped_sha256");
        m->content_size = verify_int(e, v->original ? "size" : "wrapped_size");
        /* Version 1 wrote every mbox message with its line ends as stored. */
        ends = verify_string(e, "line_ends");
        ends_ok = v->format != EXPORT_MBOX || version == 1 ||
                  (ends != NULL && strcmp(ends, EXPORT_LINE_ENDS_AS_STORED) == 0);
        if (v->format == EXPORT_MBOX && version != 1 && ends != NULL &&
            strcmp(ends, EXPORT_LINE_ENDS_CRLF_AS_LF) == 0)
            ends_ok = m->crlf_as_lf = 1;
        free(ends);
        m->ok = m->archive_id != NULL && archive_id_valid(m->archive_id) &&
                verify_is_sha256(esha) && verify_is_sha256(csha) && m->exported_size >= 0 &&
                m->content_size >= 0 && ends_ok &&
                (v->format == EXPORT_MBOX ? m->offset >= 0 && m->length == m->exported_size
                                          : verify_safe_file(v->format, m->file));
        if (m->ok) {
            memcpy(m->exported_sha256, esha, SHA256_HEX_SIZE);
            memcpy(m->content_sha256, csha, SHA256_HEX_SIZE);
        } else {
            verify_finding(
                v, "manifest", m->archive_id, m->file,
                "message %" PRId64 " of the manifest: archive_id, file (a plain"
                " name), offset, length, line_ends, exported_sha256, exported_size or the"
                " catalog's SHA-256 and size missing or malformed",
                m->index + 1);
        }
        free(esha);
        free(csha);
    }
    ret = 0;
out:
    json_doc_free(&doc);
    free(format);
    free(content);
    free(sha);
    return ret;
}

/* --- verify-export: mbox --------------------------------------------------- */

/* Undo mboxrd quoting of one entry, and for "crlf-as-lf" the line ends,
 * hashing the first content_size bytes of the result and keeping what
 * follows (the line ends the export added). */
struct verify_unquote {
    int crlf_as_lf;
    int from_line; /* still in the "From " line */
    int line_start;
    uint64_t gt;
    size_t from_len;
    uint64_t content_left;
    struct sha256_ctx *content;
    char last; /* last byte of the content */
    uint64_t tail_bytes;
    int tail_not_lf; /* a byte after the content that is not "\n" */
    int first_line_ok;
    size_t first_len;
};

static void verify_unquote_put(struct verify_unquote *u, const char *p, size_t n)
{
    size_t k = n < u->content_left ? n : (size_t)u->content_left;

    if (k > 0) {
        sha256_update(u->content, p, k);
        u->content_left -= k;
        u->last = p[k - 1];
    }
    for (size_t i = k; i < n; i++)
        if (p[i] != '\n')
            u->tail_not_lf = 1;
    u->tail_bytes += n - k;
}

/* Unquoted bytes: each LF of the content back to CRLF when the export
 * wrote CRLF as LF; what follows the content stays as it is. */
static void verify_unquote_out(struct verify_unquote *u, const char *p, size_t n)
{
    while (u->crlf_as_lf && n > 0 && u->content_left > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl == NULL ? n : (size_t)(nl - p);

        verify_unquote_put(u, p, k);
        if (nl == NULL)
            return;
        verify_unquote_put(u, u->content_left > 0 ? "\r\n" : "\n", u->content_left > 0 ? 2 : 1);
        p += k + 1;
        n -= k + 1;
    }
    verify_unquote_put(u, p, n);
}

static void verify_unquote_gt(struct verify_unquote *u, uint64_t n)
{
    static const char gts[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";

    while (n > 0) {
        size_t k = n < sizeof(gts) - 1 ? (size_t)n : sizeof(gts) - 1;
        verify_unquote_out(u, gts, k);
        n -= k;
    }
}

static void verify_unquote(struct verify_unquote *u, const char *buf, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (u->from_line) {
            if (u->first_len < 5 && buf[i] != "From "[u->first_len])
                u->first_line_ok = 0;
            u->first_len++;
            if (buf[i++] == '\n') {
                u->from_line = 0;
                u->line_start = 1;
            }
            continue;
        }
        if (u->line_start) {
            char c = buf[i];
            if (u->from_len == 0 && c == '>') {
                u->gt++;
                i++;
                continue;
            }
            if (c == "From "[u->from_len]) {
                i++;
                if (++u->from_len == 5) {
                    /* ">From " was "From ": one '>' less */
                    verify_unquote_gt(u, u->gt > 0 ? u->gt - 1 : 0);
                    verify_unquote_out(u, "From ", 5);
                    u->line_start = 0;
                    u->gt = 0;
                    u->from_len = 0;
                }
                continue;
            }
            verify_unquote_gt(u, u->gt);
            verify_unquote_out(u, "From ", u->from_len);
            u->line_start = 0;
            u->gt = 0;
            u->from_len = 0;
        }
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t n = nl == NULL ? len - i : (size_t)(nl - (buf + i)) + 1;
        verify_unquote_out(u, buf + i, n);
        i += n;
        if (nl != NULL)
            u->line_start = 1;
    }
}

static int verify_offset_cmp(const void *a, const void *b)
{
    const struct verify_message *x = *(struct verify_message *const *)a;
    const struct verify_message *y = *(struct verify_message *const *)b;

    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Check one entry of the mbox (m->ok) read from fd. */
static void verify_mbox_entry(struct verify_run *v, int fd, const struct verify_message *m,
                              char *buf, int64_t file_size)
{
    struct verify_unquote u;
    struct sha256_ctx *entry = sha256_new();
    char entry_sha[SHA256_HEX_SIZE], content_sha[SHA256_HEX_SIZE];
    int64_t pos = m->offset, end = m->offset + m->length;
    uint64_t tail_want;

    memset(&u, 0, sizeof(u));
    u.from_line = 1;
    u.first_line_ok = 1;
    u.content_left = (uint64_t)m->content_size;
    u.content = sha256_new();
    u.crlf_as_lf = m->crlf_as_lf;
    u.last = '\n';
    if (end > file_size)
        end = file_size;
    while (pos < end) {
        size_t want = end - pos < EXPORT_BUF_SIZE ? (size_t)(end - pos) : EXPORT_BUF_SIZE;
        ssize_t n = pread(fd, buf, want, pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            verify_finding(v, "altered", m->archive_id, v->mbox_file,
                           "cannot read bytes %" PRId64 "..%" PRId64 ": %s", pos, end,
                           n < 0 ? strerror(errno) : "end of file");
            break;
        }
        sha256_update(entry, buf, (size_t)n);
        verify_unquote(&u, buf, (size_t)n);
        pos += n;
    }
    sha256_final_hex(entry, entry_sha);
    sha256_final_hex(u.content, content_sha);
    if (pos < m->offset + m->length) {
        verify_finding(v, "altered", m->archive_id, v->mbox_file,
                       "the file ends at byte %" PRId64 ", inside this message (offset %" PRId64
                       ", length %" PRId64 ")",
                       file_size, m->offset, m->length);
        return;
    }
    if (strcmp(entry_sha, m->exported_sha256) != 0) {
        verify_finding(v, "altered", m->archive_id, v->mbox_file,
                       "bytes %" PRId64 "..%" PRId64 " have SHA-256 %s; the manifest says %s",
                       m->offset, m->offset + m->length, entry_sha, m->exported_sha256);
        return;
    }
    tail_want = m->content_size > 0 && u.last != '\n' ? 2 : 1;
    if (!u.first_line_ok || u.from_line || u.content_left > 0 || u.tail_not_lf ||
        u.tail_bytes != tail_want) {
        verify_finding(v, "layout", m->archive_id, v->mbox_file,
                       "the entry at offset %" PRId64 " is not a \"From \" line, %" PRId64
                       " bytes of message and a blank line",
                       m->offset, m->content_size);
        return;
    }
    if (strcmp(content_sha, m->content_sha256) != 0)
        verify_finding(v, "catalog-mismatch", m->archive_id, v->mbox_file,
                       "the message unquoted has SHA-256 %s; the catalog's SHA-256 of the %s"
                       " in the manifest is %s",
                       content_sha, v->original ? "original" : "wrapped copy", m->content_sha256);
}

static void verify_mbox(struct verify_run *v)
{
    struct verify_message **order;
    struct stat sb;
    char *buf;
    int64_t pos = 0;
    size_t n = 0;
    int fd;

    errno = 0;
    fd = open(v->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        verify_finding(v, "missing", NULL, v->path, "cannot read the mbox file: %s",
                       fd >= 0 && errno == 0 ? "not a regular file" : strerror(errno));
        if (fd >= 0)
            (void)close(fd); /* read-only */
        return;
    }
    if (v->mbox_file != NULL && strcmp(v->mbox_file, export_path_base(v->path)) != 0)
        verify_finding(v, "layout", NULL, v->path,
                       "the manifest was written for the mbox file \"%s\"", v->mbox_file);
    free(v->mbox_file);
    v->mbox_file = xstrdup(export_path_base(v->path));

    order = xcalloc(v->n_msgs + 1, sizeof(*order));
    for (size_t i = 0; i < v->n_msgs; i++)
        if (v->msgs[i].ok)
            order[n++] = &v->msgs[i];
    qsort(order, n, sizeof(*order), verify_offset_cmp);
    buf = xmalloc(EXPORT_BUF_SIZE);
    for (size_t i = 0; i < n; i++) {
        const struct verify_message *m = order[i];
        if (m->offset > pos)
            verify_finding(v, "extra", NULL, v->mbox_file,
                           "bytes %" PRId64 "..%" PRId64 " belong to no message of the manifest",
                           pos, m->offset);
        else if (m->offset < pos)
            verify_finding(v, "layout", m->archive_id, v->mbox_file,
                           "offset %" PRId64 " overlaps the message before (which ends at %" PRId64
                           ")",
                           m->offset, pos);
        verify_mbox_entry(v, fd, m, buf, (int64_t)sb.st_size);
        if (m->offset + m->length > pos)
            pos = m->offset + m->length;
    }
    if ((int64_t)sb.st_size > pos)
        verify_finding(v, "extra", NULL, v->mbox_file,
                       "bytes %" PRId64 "..%" PRId64 " after the last message", pos,
                       (int64_t)sb.st_size);
    if (sha256_fd(fd, -1, v->computed_sha256) < 0)
        verify_finding(v, "altered", NULL, v->mbox_file, "cannot read the file: %s",
                       strerror(errno));
    else if (strcmp(v->computed_sha256, v->export_sha256) != 0 ||
             (int64_t)sb.st_size != v->export_size)
        verify_finding(v, "export-sha256", NULL, v->mbox_file,
                       "the file has SHA-256 %s and %" PRId64
                       " bytes; the manifest says %s and %" PRId64,
                       v->computed_sha256, (int64_t)sb.st_size, v->export_sha256, v->export_size);
    (void)close(fd); /* read-only */
    free(buf);
    free(order);
}

/* --- verify-export: eml and maildir ---------------------------------------- */

static int verify_file_cmp(const void *a, const void *b)
{
    const struct verify_message *x = *(struct verify_message *const *)a;
    const struct verify_message *y = *(struct verify_message *const *)b;
    return strcmp(x->file, y->file);
}

/* Every file under the export directory (relative), and directories
 * that an export of this format does not have. */
static void verify_list_dir(struct verify_run *v, int dfd, const char *prefix, int depth,
                            struct strlist *files)
{
    DIR *d = fdopendir(dfd);
    struct dirent *de;

    if (d == NULL) {
        verify_finding(v, "missing", NULL, prefix[0] ? prefix : v->path,
                       "cannot read the directory: %s", strerror(errno));
        (void)close(dfd); /* read-only */
        return;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        char *rel;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rel = xasprintf("%s%s", prefix, de->d_name);
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
            verify_finding(v, "extra", NULL, rel, "cannot stat: %s", strerror(errno));
        } else if (S_ISDIR(sb.st_mode)) {
            int sub =
                depth == 0 && v->format == EXPORT_MAILDIR &&
                (strcmp(rel, "tmp") == 0 || strcmp(rel, "new") == 0 || strcmp(rel, "cur") == 0);
            int fd =
                sub ? openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    : -1;
            if (!sub) {
                verify_finding(v, "extra", NULL, rel, "a directory the export does not have");
            } else if (fd < 0) {
                verify_finding(v, "missing", NULL, rel, "cannot open the directory: %s",
                               strerror(errno));
            } else {
                char *p = xasprintf("%s/", rel);
                verify_list_dir(v, fd, p, depth + 1, files);
                free(p);
            }
        } else if (!(depth == 0 && strcmp(rel, EXPORT_MANIFEST_NAME) == 0)) {
            strlist_add(files, rel);
        }
        free(rel);
    }
    (void)closedir(d); /* read-only */
}

static int verify_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void verify_dir(struct verify_run *v)
{
    struct strlist present = STRLIST_INIT;
    struct verify_message **order;
    struct sha256_ctx *whole = sha256_new();
    size_t n = 0, j = 0;
    int dfd = open(v->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), lfd;

    if (dfd < 0) {
        verify_finding(v, "missing", NULL, v->path, "cannot open the directory: %s",
                       strerror(errno));
        sha256_final_hex(whole, v->computed_sha256);
        return;
    }
    lfd = dup(dfd);
    if (lfd < 0)
        verify_finding(v, "missing", NULL, v->path, "cannot read the directory: %s",
                       strerror(errno));
    else
        verify_list_dir(v, lfd, "", 0, &present);
    qsort(present.v, present.n, sizeof(*present.v), verify_str_cmp);

    order = xcalloc(v->n_msgs + 1, sizeof(*order));
    for (size_t i = 0; i < v->n_msgs; i++)
        if (v->msgs[i].ok)
            order[n++] = &v->msgs[i];
    qsort(order, n, sizeof(*order), verify_file_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct verify_message *m = order[i];
        char sha[SHA256_HEX_SIZE];
        struct stat sb;
        int fd;

        if (i > 0 && strcmp(order[i - 1]->file, m->file) == 0) {
            verify_finding(v, "manifest", m->archive_id, m->file,
                           "listed for two messages of the manifest");
            continue;
        }
        /* Files on disk that sort before this one are not in the manifest. */
        while (j < present.n && strcmp(present.v[j], m->file) < 0) {
            verify_finding(v, "extra", NULL, present.v[j], "not in the manifest");
            j++;
        }
        if (j < present.n && strcmp(present.v[j], m->file) == 0)
            j++;
        fd = openat(dfd, m->file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0 && errno == ELOOP) {
            verify_finding(v, "altered", m->archive_id, m->file,
                           "a symbolic link, not the exported file");
            continue;
        }
        if (fd < 0) {
            verify_finding(v, "missing", m->archive_id, m->file, "%s", strerror(errno));
            continue;
        }
        if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sha256_fd(fd, -1, sha) < 0) {
            verify_finding(v, "altered", m->archive_id, m->file, "not a readable regular file");
            (void)close(fd); /* read-only */
            continue;
        }
        (void)close(fd); /* read-only */
        sha256_update(whole, sha, 64);
        sha256_update(whole, "  ", 2);
        sha256_update(whole, m->file, strlen(m->file));
        sha256_update(whole, "\n", 1);
        if (strcmp(sha, m->exported_sha256) != 0 || (int64_t)sb.st_size != m->exported_size)
            verify_finding(v, "altered", m->archive_id, m->file,
                           "SHA-256 %s, %" PRId64 " bytes; the manifest says %s, %" PRId64 " bytes",
                           sha, (int64_t)sb.st_size, m->exported_sha256, m->exported_size);
        else if (strcmp(sha, m->content_sha256) != 0 || m->exported_size != m->content_size)
            verify_finding(v, "catalog-mismatch", m->archive_id, m->file,
                           "SHA-256 %s, %" PRId64 " bytes; the catalog's SHA-256 of the %s in"
                           " the manifest is %s, %" PRId64 " bytes",
                           sha, m->exported_size, v->original ? "original" : "wrapped copy",
                           m->content_sha256, m->content_size);
    }
    for (; j < present.n; j++)
        verify_finding(v, "extra", NULL, present.v[j], "not in the manifest");
    sha256_final_hex(whole, v->computed_sha256);
    if (strcmp(v->computed_sha256, v->export_sha256) != 0)
        verify_finding(v, "export-sha256", NULL, NULL,
                       "the message files give SHA-256 %s; the manifest says %s",
                       v->computed_sha256, v->export_sha256);
    (void)close(dfd); /* read-only */
    strlist_free(&present);
    free(order);
}

static void verify_report(const struct verify_run *v, int usable)
{
    size_t n = v->n_msgs;

    if (v->json) {
        struct cli_output *o = cli_output_json_new(stdout);
        o->begin_map(o);
        cli_output_key_string(o, "path", v->path);
        cli_output_key_string(o, "manifest", v->manifest_path);
        cli_output_key_string(o, "format", usable ? export_format_names[v->format] : NULL);
        cli_output_key_string(o, "content", usable ? (v->original ? "original" : "wrapped") : NULL);
        cli_output_key_integer(o, "messages", (int64_t)n);
        cli_output_key_string(o, "export_sha256", usable ? v->computed_sha256 : NULL);
        o->map_key(o, "clean");
        o->boolean(o, v->n_findings == 0);
        o->map_key(o, "findings");
        o->begin_list(o);
        for (size_t i = 0; i < v->n_findings; i++) {
            o->begin_map(o);
            cli_output_key_string(o, "kind", v->findings[i].kind);
            cli_output_key_string(o, "archive_id", v->findings[i].archive_id);
            cli_output_key_string(o, "file", v->findings[i].file);
            cli_output_key_string(o, "detail", v->findings[i].detail);
            o->end(o);
        }
        o->end(o);
        o->end(o);
        o->separator(o);
        cli_output_free(&o);
        return;
    }
    /* Text: through the printer, so that names from the manifest or the
     * directory cannot carry terminal controls. */
    struct cli_output *o = cli_output_text_new(stdout);
    for (size_t i = 0; i < v->n_findings; i++) {
        const struct verify_finding *f = &v->findings[i];
        char *line;
        if (f->archive_id != NULL && f->file != NULL)
            line = xasprintf("%s: %s (%s): %s", f->kind, f->archive_id, f->file, f->detail);
        else
            line = xasprintf("%s: %s: %s", f->kind,
                             f->archive_id != NULL ? f->archive_id
                             : f->file != NULL     ? f->file
                                                   : v->path,
                             f->detail);
        o->string(o, line);
        o->separator(o);
        free(line);
    }
    cli_output_free(&o);
    if (v->n_findings == 0)
        printf("%s: %zu message%s verified against the manifest: clean\n", v->path, n,
               n == 1 ? "" : "s");
    else
        printf("%s: %zu message%s in the manifest: %zu finding%s\n", v->path, n, n == 1 ? "" : "s",
               v->n_findings, v->n_findings == 1 ? "" : "s");
}

int cli_verify_export(struct cli_context *ctx, int argc, char **argv)
{
    struct verify_run v;
    struct stat sb;
    const char *manifest = NULL;
    char *text = NULL, *path = NULL;
    size_t len = 0;
    int is_dir, parsed, status, operand;
    const struct cli_syntax syntax = {
        "verify-export", cli_verify_export_help, 1, NULL,
        CLI_OPTIONS(CLI_OPTION_STRING("manifest", &manifest), CLI_OPTION_FLAG("json", &v.json))};

    (void)ctx; /* offline: no configuration, catalog or store */
    memset(&v, 0, sizeof(v));
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    if (operand >= argc)
        return cli_usage_error("verify-export", "%s", "the export's PATH is missing");
    path = export_path_clean(argv[operand]);
    v.path = path;
    if (stat(path, &sb) < 0) {
        fprintf(stderr, "tabularium verify-export: %s: %s\n", path, strerror(errno));
        status = CLI_EXIT_USAGE;
        goto out;
    }
    is_dir = S_ISDIR(sb.st_mode);
    if (manifest != NULL)
        v.manifest_path = xstrdup(manifest);
    else
        v.manifest_path = is_dir ? xasprintf("%s/" EXPORT_MANIFEST_NAME, path)
                                 : xasprintf("%s" EXPORT_MANIFEST_SUFFIX, path);
    text = verify_read_manifest(v.manifest_path, &len);
    if (text == NULL) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    parsed = verify_parse_manifest(&v, text, len);
    if (parsed == -2) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (parsed == 0) {
        if ((v.format == EXPORT_MBOX) == is_dir) {
            verify_finding(&v, "layout", NULL, path,
                           "the manifest describes %s export, but %s is %s",
                           v.format == EXPORT_MBOX ? "an mbox" : "a directory", path,
                           is_dir ? "a directory" : "a file");
            parsed = -1;
        } else if (v.message_count != (int64_t)v.n_msgs) {
            verify_finding(&v, "count", NULL, v.manifest_path,
                           "the manifest lists %zu messages but says message_count %" PRId64,
                           v.n_msgs, v.message_count);
        }
    }
    if (parsed == 0) {
        if (v.format == EXPORT_MBOX)
            verify_mbox(&v);
        else
            verify_dir(&v);
    }
    verify_report(&v, parsed == 0);
    status = v.n_findings == 0 ? CLI_EXIT_FOUND : CLI_EXIT_INTEGRITY;
out:
    free(text);
    free(path);
    free(v.manifest_path);
    free(v.mbox_file);
    for (size_t i = 0; i < v.n_msgs; i++) {
        free(v.msgs[i].archive_id);
        free(v.msgs[i].file);
    }
    free(v.msgs);
    for (size_t i = 0; i < v.n_findings; i++) {
        free(v.findings[i].archive_id);
        free(v.findings[i].file);
        free(v.findings[i].detail);
    }
    free(v.findings);
    return status;
}
