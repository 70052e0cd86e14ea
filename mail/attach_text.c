/*
 * NAME
 *	attach_text 3
 * SUMMARY
 *	the text inside attachments, extracted in a bounded child process
 * SYNOPSIS
 *	#include "mail/attach_text.h"
 *
 *	at = attach_text_new(cfg->queue_directory, budget_s, cfg->mail_owner);
 *	attach_text_message(at, rec->archive_id);
 *	index_fields_extract_body_attachments(fd, rec, at, &error);
 *	attach_text_free(&at);
 * DESCRIPTION
 *	Owns what becomes of an attachment's content in the indexer: the MIME
 *	walker (index_mime.c) hands each attachment part that
 *	attach_text_candidate() accepts to the collector line by line; the
 *	collector decodes it (base64, quoted-printable: GMime) into one
 *	unnamed spool file, reused, at most ATTACH_TEXT_INPUT_MAX bytes.
 *	When the part ends, attach_text_detect() names its format from its
 *	first bytes (magic numbers win over the declared type: mail clients
 *	send PDFs as application/octet-stream), and a child process reads
 *	it (attach_text_extract(), attach_text_formats.c) and writes the
 *	text back over a pipe.
 *
 *	The child is the bound: the readers are libraries (poppler, libzip,
 *	libxml2) fed by the sender, so whatever they do must end. The child
 *	runs as mail_owner (the indexer already does; a CLI run as root that
 *	indexes what is pending drops to it in the child, and reads no
 *	attachment when it cannot), gets RLIMIT_AS of ATTACH_TEXT_MEMORY more than its parent's
 *address space (relative, so that a parent with a large mapping, or an AddressSanitizer build,
 *still has room), RLIMIT_CPU of ATTACH_TEXT_CPU_S, no core file, its stderr on /dev/null (poppler
 *	complains there about damaged files) and SIGKILL when its parent
 *	dies; the parent kills it after ATTACH_TEXT_WALL_S of wall clock, or
 *	sooner when the message's budget (attach_text_new()) runs out. A
 *	child that dies, is killed or gives up yields no text: one log line
 *	names the message (log_id), the attachment and the reason, and the
 *	message is indexed with its body text and its other attachments.
 *
 *	The text of all attachments of a message goes through index_text.c
 *	(plain, UTF-8): white space collapsed, invalid UTF-8 replaced, at
 *	most INDEX_FIELDS_TEXT_MAX bytes; each child is asked for no more
 *	than the room that is left.
 *
 *	Never in the delivery path: only mail/text_source.c creates a
 *	collector (grep attach_text_new).
 * DIAGNOSTICS
 *	None returned: an attachment that gives no text is logged and
 *	skipped: a warning for a child that was killed (wall clock, CPU) or
 *	died (a crash, memory), or for a spool file that cannot be written;
 *	debug level (-v) for a document that is unreadable (damaged,
 *	encrypted, a zip bomb), too large or of no known format, which is
 *	the document's own business and would otherwise fill the log and
 *	the CLI's stderr.
 */
#include "mail/attach_text.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "common/log.h"
#include "common/privs.h"
#include "common/strlist.h"
#include "mail/index_fields.h"
#include "mail/index_fields_private.h"

struct attach_text {
    char *tmpdir;
    char *program;      /* tab-attach-text's path (attach_text_program()) */
    struct privs privs; /* what the children become */
    int privs_ok;
    char *privs_error; /* why not, until said once */
    unsigned budget_s;
    int fd; /* the unnamed spool file, or -1 */
    char log_id[256];
    struct timespec message_start;
    int parts; /* extracted in this message */
    struct index_text text;

    /* the part being read */
    int active;
    char *ctype, *filename, *charset;
    struct index_decoder decoder;
    size_t size; /* decoded bytes */
    int too_big, spool_error;
    struct buf pending; /* decoded bytes not yet written */
};

/* Does needle occur in the first n bytes of head? */
static int head_has(const unsigned char *head, size_t n, const char *needle)
{
    return memmem(head, n, needle, strlen(needle)) != NULL;
}

enum attach_format attach_text_detect(const char *ctype, const char *filename,
                                      const unsigned char *head, size_t n)
{
    enum attach_format declared = attach_format_of_type(ctype),
                       named = attach_format_of_name(filename);
    size_t i = 0;

    /* A PDF header may follow up to 1024 bytes of junk (PDF 32000 7.5.2,
     * as readers accept it). */
    if (head_has(head, n < 1024 ? n : 1024, "%PDF-"))
        return ATTACH_FORMAT_PDF;
    if (n >= 4 && memcmp(head, "PK\003\004", 4) == 0) {
        /* ODF stores its "mimetype" member first and uncompressed. */
        if (n >= 38 + 35 && memcmp(head + 30, "mimetype", 8) == 0 &&
            memcmp(head + 38, "application/vnd.oasis.opendocument.", 35) == 0)
            return ATTACH_FORMAT_ODF;
        if (declared == ATTACH_FORMAT_ODF || named == ATTACH_FORMAT_ODF)
            return ATTACH_FORMAT_ODF;
        return ATTACH_FORMAT_OOXML; /* the reader looks for the members it knows */
    }
    if (n >= 5 && memcmp(head, "{\\rtf", 5) == 0)
        return ATTACH_FORMAT_RTF;
    if (n >= 3 && memcmp(head, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (n - i >= 9 && (strncasecmp((const char *)head + i, "<!doctype", 9) == 0 ||
                       strncasecmp((const char *)head + i, "<html", 5) == 0))
        return ATTACH_FORMAT_HTML;
    /* No magic: a format without one (HTML) by its label; a label that
     * promises a format with magic (PDF, zip, RTF) is not believed. */
    if (declared == ATTACH_FORMAT_HTML ||
        (declared == ATTACH_FORMAT_NONE && named == ATTACH_FORMAT_HTML))
        return ATTACH_FORMAT_HTML;
    return ATTACH_FORMAT_NONE;
}

int attach_text_worth_reading(enum attach_format fmt, int fd, size_t size)
{
    /* A PDF's first object follows its header; a zip file ends with its
     * end of central directory record (22 bytes and a comment of at most
     * 65535). Bytes that merely start like one (mail generators, damaged
     * copies) are not worth a process. */
    size_t want = ATTACH_TEXT_PROBE < size ? ATTACH_TEXT_PROBE : size;
    off_t from = fmt == ATTACH_FORMAT_PDF ? 0 : (off_t)(size - want);
    unsigned char *buf;
    ssize_t n;
    int worth = 1;

    if (fmt != ATTACH_FORMAT_PDF && fmt != ATTACH_FORMAT_OOXML && fmt != ATTACH_FORMAT_ODF)
        return 1;
    buf = xmalloc(want > 0 ? want : 1);
    while ((n = pread(fd, buf, want, from)) < 0 && errno == EINTR)
        ;
    if (n >= 0)
        worth = memmem(buf, (size_t)n, fmt == ATTACH_FORMAT_PDF ? "obj" : "PK\005\006",
                       fmt == ATTACH_FORMAT_PDF ? 3 : 4) != NULL;
    free(buf);
    return worth;
}

/* An unnamed file: in tmpdir, else in TMPDIR or /tmp. */
static int attach_spool_open(const char *tmpdir)
{
    const char *tmp = getenv("TMPDIR");
    int fd = -1;

    if (tmpdir != NULL)
        fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        fd = open(tmp != NULL && *tmp == '/' ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd;
}

struct attach_text *attach_text_new(const char *tmpdir, unsigned budget_s, const char *mail_owner)
{
    struct attach_text *at = xcalloc(1, sizeof(*at));
    const char *error = NULL;

    at->tmpdir = tmpdir != NULL ? xstrdup(tmpdir) : NULL;
    at->program = attach_text_program();
    at->budget_s = budget_s > 0 ? budget_s : 1;
    at->fd = -1;
    /* Root (a CLI search that indexes what is pending) never reads an
     * attachment: its children become mail_owner, or read nothing. */
    if (mail_owner == NULL) {
        at->privs_ok = geteuid() != 0;
    } else if (privs_init(mail_owner, &at->privs, &error) < 0) {
        at->privs_error = xstrdup(error); /* said at the first attachment */
    } else {
        at->privs_ok = 1;
    }
    attach_text_message(at, "-");
    return at;
}

static void attach_part_clear(struct attach_text *at)
{
    free(at->ctype);
    free(at->filename);
    free(at->charset);
    at->ctype = at->filename = at->charset = NULL;
    at->active = 0;
}

void attach_text_free(struct attach_text **at)
{
    if (*at == NULL)
        return;
    attach_part_clear(*at);
    free(index_text_release(&(*at)->text));
    index_decoder_free(&(*at)->decoder);
    buf_free(&(*at)->pending);
    if ((*at)->fd >= 0)
        (void)close((*at)->fd); /* unnamed scratch file: nothing to lose */
    free((*at)->tmpdir);
    free((*at)->program);
    free((*at)->privs_error);
    free(*at);
    *at = NULL;
}

void attach_text_message(struct attach_text *at, const char *log_id)
{
    snprintf(at->log_id, sizeof(at->log_id), "%s", log_id != NULL && *log_id ? log_id : "-");
    clock_gettime(CLOCK_MONOTONIC, &at->message_start);
    at->parts = 0;
    attach_part_clear(at);
    free(index_text_release(&at->text));
    memset(&at->text, 0, sizeof(at->text));
}

/* Write the pending decoded bytes to the spool file. */
static void attach_spool_flush(struct attach_text *at)
{
    size_t off = 0;

    while (!at->spool_error && off < at->pending.len) {
        ssize_t n = write(at->fd, at->pending.data + off, at->pending.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("%s: attachment=\"%s\" text=none reason=\"cannot spool it: %s\"", at->log_id,
                     at->filename ? at->filename : "", strerror(n < 0 ? errno : ENOSPC));
            at->spool_error = 1;
            break;
        }
        off += (size_t)n;
    }
    buf_reset(&at->pending);
}

void attach_text_part_begin(struct attach_text *at, const char *ctype, const char *filename,
                            const char *charset, const char *encoding)
{
    attach_part_clear(at);
    at->ctype = xstrdup(ctype != NULL ? ctype : "application/octet-stream");
    at->filename = filename != NULL ? xstrdup(filename) : NULL;
    /* The sender chose the name: no line break, quote or control
     * character of it reaches a log line (the extension is kept). */
    for (char *p = at->filename; p != NULL && *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
            *p = '?';
    at->charset = charset != NULL ? xstrdup(charset) : NULL;
    at->size = 0;
    at->too_big = at->spool_error = 0;
    buf_reset(&at->pending);
    if (at->parts >= ATTACH_TEXT_PARTS_MAX || at->text.text_full) {
        if (at->parts++ == ATTACH_TEXT_PARTS_MAX)
            log_debug("%s: more than %d attachments: the text of the rest is not indexed",
                      at->log_id, ATTACH_TEXT_PARTS_MAX);
        return;
    }
    if (at->fd < 0 && (at->fd = attach_spool_open(at->tmpdir)) < 0) {
        log_warn("%s: attachment text not indexed: cannot create a temporary file: %s", at->log_id,
                 strerror(errno));
        return;
    }
    if (ftruncate(at->fd, 0) < 0 || lseek(at->fd, 0, SEEK_SET) < 0) {
        log_warn("%s: attachment text not indexed: cannot empty the temporary file: %s", at->log_id,
                 strerror(errno));
        return;
    }
    index_decoder_begin(&at->decoder, encoding);
    at->active = 1;
    at->parts++;
}

void attach_text_part_feed(struct attach_text *at, const char *data, size_t len)
{
    if (!at->active || at->too_big || at->spool_error)
        return;
    len = index_decoder_step(&at->decoder, data, len, &data);
    if (at->size + len > ATTACH_TEXT_INPUT_MAX) {
        at->too_big = 1;
        return;
    }
    at->size += len;
    buf_add(&at->pending, data, len);
    if (at->pending.len >= INDEX_FIELDS_CHUNK)
        attach_spool_flush(at);
}

static double attach_elapsed(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* Lower a limit to cur (soft) and max (hard), never above a hard limit
 * that is already lower (a service manager's LimitAS=, LimitCPU=). */
static int attach_limit(int resource, rlim_t cur, rlim_t max)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) < 0)
        return -1;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < max)
        max = rl.rlim_max;
    if (cur > max)
        cur = max;
    rl.rlim_cur = cur;
    rl.rlim_max = max;
    return setrlimit(resource, &rl);
}

char *attach_text_program(void)
{
    char self[4096], *path, *slash;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n > 0) {
        self[n] = '\0';
        if ((slash = strrchr(self, '/')) != NULL) {
            path = xasprintf("%.*s/%s", (int)(slash - self), self, ATTACH_TEXT_PROGRAM);
            if (access(path, X_OK) == 0)
                return path;
            free(path);
        }
    }
    return xstrdup(TAB_HELPER_DIR "/" ATTACH_TEXT_PROGRAM);
}

int attach_text_send(int fd, struct buf *text, size_t max, int rc, const char *error)
{
    if (text->len > max)
        text->len = max;
    /* A NUL would end the text early for the parent (the reason follows
     * the first one): no reader's text may contain one. */
    for (char *p = text->data;
         p != NULL && (p = memchr(p, '\0', text->len - (size_t)(p - text->data))) != NULL;)
        *p++ = ' ';
    for (size_t off = 0; off < text->len;) {
        ssize_t n = write(fd, text->data + off, text->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ATTACH_CHILD_FAILED;
        off += (size_t)n;
    }
    /* The reason, after a NUL, for the parent's log line. */
    if (rc != ATTACH_CHILD_OK) {
        if (error == NULL)
            error = "?";
        (void)!write(fd, "", 1);
        (void)!write(fd, error, strnlen(error, 200));
    }
    return rc;
}

/* What the child of attach_text_bounded() runs instead of a reader in
 * this process: a program, its document on its standard input. */
struct attach_exec {
    const char *const *argv; /* argv[0]: the program's path */
    int in;
};

/* The child's whole life: limits, the reader (or a program: reader
 * NULL, ctx a struct attach_exec), the text to the pipe. */
static void attach_child(attach_reader_fn *reader, void *ctx, const struct privs *privs, size_t max,
                         int out)
{
    struct rlimit rl;
    struct buf text = BUF_INIT;
    const char *error = NULL;
    unsigned long pages = 0;
    sigset_t none;
    rlim_t as;
    FILE *statm;
    int devnull, rc;

    if (privs != NULL && privs_drop(privs, &error) < 0)
        _exit(ATTACH_CHILD_FAILED);
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the drop, which clears it */
    signal(SIGALRM, SIG_DFL);
    signal(SIGXCPU, SIG_DFL);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL); /* the indexer blocks some */
    alarm(ATTACH_TEXT_WALL_S + 1);               /* the parent kills sooner; this is the backstop */
    if ((devnull = open("/dev/null", O_WRONLY)) >= 0) {
        (void)dup2(devnull, STDERR_FILENO);
        (void)close(devnull);
    }
    rl.rlim_cur = rl.rlim_max = 0;
    (void)setrlimit(RLIMIT_CORE, &rl);
    /* SIGXCPU at the soft limit, SIGKILL a second later */
    if (attach_limit(RLIMIT_CPU, ATTACH_TEXT_CPU_S, ATTACH_TEXT_CPU_S + 1) < 0)
        _exit(ATTACH_CHILD_FAILED);
    if ((statm = fopen("/proc/self/statm", "r")) != NULL) {
        if (fscanf(statm, "%lu", &pages) != 1)
            pages = 0;
        fclose(statm);
    }
    as = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)ATTACH_TEXT_MEMORY;
    if (pages == 0 || attach_limit(RLIMIT_AS, as, as) < 0)
        _exit(ATTACH_CHILD_FAILED);

    if (reader == NULL) {
        const struct attach_exec *ex = ctx;
        /* the document on 0, the pipe on 1, nothing else of this process */
        if (dup2(ex->in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
            _exit(ATTACH_CHILD_FAILED);
        (void)close_range(STDERR_FILENO + 1, ~0U, 0);
        execv(ex->argv[0], (char *const *)(uintptr_t)ex->argv);
        error = strerror(errno);
        (void)!write(STDOUT_FILENO, "", 1);
        (void)!write(STDOUT_FILENO, ex->argv[0], strnlen(ex->argv[0], 150));
        (void)!write(STDOUT_FILENO, ": ", 2);
        (void)!write(STDOUT_FILENO, error, strnlen(error, 40));
        _exit(ATTACH_CHILD_NOEXEC);
    }
    rc = reader(ctx, &text, max, &error) < 0 ? ATTACH_CHILD_UNREADABLE : ATTACH_CHILD_OK;
    _exit(attach_text_send(out, &text, max, rc, error));
}

const char *attach_text_bounded(attach_reader_fn *reader, void *ctx, const struct privs *privs,
                                size_t max, double wall, struct buf *text, char *reason_buf,
                                size_t reason_size)
{
    struct timespec start;
    struct buf got = BUF_INIT;
    const char *reason = NULL;
    int pipefd[2], status = 0, timed_out = 0;
    size_t text_len;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        snprintf(reason_buf, reason_size, "pipe: %s", strerror(errno));
        return reason_buf;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid = fork();
    if (pid < 0) {
        snprintf(reason_buf, reason_size, "fork: %s", strerror(errno));
        (void)close(pipefd[0]);
        (void)close(pipefd[1]);
        return reason_buf;
    }
    if (pid == 0) {
        (void)close(pipefd[0]);
        attach_child(reader, ctx, privs, max, pipefd[1]);
    }
    (void)close(pipefd[1]);
    for (;;) {
        struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
        double remain = wall - attach_elapsed(&start);
        char chunk[16384];
        ssize_t n;
        int r;

        if (remain <= 0) {
            timed_out = 1;
            break;
        }
        r = poll(&p, 1, (int)(remain * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue; /* the deadline is checked above */
        if (r < 0)
            break;
        n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* The text is at most max bytes, the reason after it short. */
        if (got.len < max + 1024)
            buf_add(&got, chunk, (size_t)n);
    }
    if (timed_out)
        (void)kill(pid, SIGKILL);
    (void)close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;

    text_len = got.data != NULL ? strnlen(got.data, got.len) : 0;
    if (text_len > max)
        text_len = max;
    if (timed_out) {
        snprintf(reason_buf, reason_size, "killed after %.0f s of wall clock", wall);
        reason = reason_buf;
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(reason_buf, reason_size, "%s (signal %d)",
                 sig == SIGXCPU || sig == SIGKILL ? "over its CPU time limit"
                 : sig == SIGALRM                 ? "over its wall-clock limit"
                                                  : "the reader crashed, or ran out of memory",
                 sig);
        reason = reason_buf;
    } else if (WEXITSTATUS(status) == ATTACH_CHILD_UNREADABLE) {
        snprintf(reason_buf, reason_size, "unreadable: %.200s",
                 text_len + 1 < got.len ? got.data + text_len + 1 : "?");
        reason = reason_buf;
    } else if (WEXITSTATUS(status) == ATTACH_CHILD_FAILED) {
        snprintf(reason_buf, reason_size, "the child could not set its limits or privileges");
        reason = reason_buf;
    } else if (WEXITSTATUS(status) == ATTACH_CHILD_NOEXEC) {
        snprintf(reason_buf, reason_size, "cannot run %.200s",
                 text_len + 1 < got.len ? got.data + text_len + 1 : "the reader program");
        reason = reason_buf;
    } else if (WEXITSTATUS(status) != ATTACH_CHILD_OK) {
        /* exit() inside a library, or a sanitizer's report */
        snprintf(reason_buf, reason_size, "the reader crashed, or ran out of memory (exit %d)",
                 WEXITSTATUS(status));
        reason = reason_buf;
    }
    /* What an unreadable document gave before its error counts (a PDF
     * damaged on page 9 has 8 good pages); a killed child's does not. */
    if ((reason == NULL || (WIFEXITED(status) && WEXITSTATUS(status) == ATTACH_CHILD_UNREADABLE)) &&
        !timed_out && text_len > 0)
        buf_add(text, got.data, text_len);
    buf_free(&got);
    return reason;
}

struct attach_job {
    enum attach_format fmt;
    const char *data;
    size_t len;
    const char *charset;
};

static int attach_job_read(void *ctx, struct buf *out, size_t max, const char **error_r)
{
    const struct attach_job *job = ctx;

    return attach_text_extract(job->fmt, job->data, job->len, job->charset, out, max, error_r);
}

/*
 * Run the reader of fmt over the spooled part in a child: HTML and RTF
 * in the child itself, the others in the tab-attach-text program it
 * becomes. The text it gives goes to at->text. Returns NULL, or the
 * reason there is no text (static or in reason_buf).
 */
static const char *attach_run_child(struct attach_text *at, enum attach_format fmt,
                                    char *reason_buf, size_t reason_size)
{
    size_t room = INDEX_FIELDS_TEXT_MAX - at->text.out.len;
    double left = (double)at->budget_s - attach_elapsed(&at->message_start);
    double wall = left < ATTACH_TEXT_WALL_S ? left : ATTACH_TEXT_WALL_S;
    struct buf got = BUF_INIT;
    const char *reason;

    if (wall <= 0)
        return "the message's time for attachments is used up";
    if (fmt == ATTACH_FORMAT_HTML || fmt == ATTACH_FORMAT_RTF) {
        struct attach_job job = {fmt, NULL, at->size, at->charset};
        job.data = mmap(NULL, at->size, PROT_READ, MAP_PRIVATE, at->fd, 0);
        if (job.data == MAP_FAILED) {
            snprintf(reason_buf, reason_size, "cannot map the spool file: %s", strerror(errno));
            return reason_buf;
        }
        reason = attach_text_bounded(attach_job_read, &job, &at->privs, room, wall, &got,
                                     reason_buf, reason_size);
        (void)munmap((void *)(uintptr_t)job.data, at->size);
    } else {
        char len[24], max[24];
        const char *argv[] = {at->program, attach_format_name(fmt), len, max, NULL};
        struct attach_exec ex = {argv, at->fd};
        snprintf(len, sizeof(len), "%zu", at->size);
        snprintf(max, sizeof(max), "%zu", room);
        reason =
            attach_text_bounded(NULL, &ex, &at->privs, room, wall, &got, reason_buf, reason_size);
    }
    if (got.len > 0) {
        struct index_text *tx = &at->text;
        index_text_begin(tx, 0, "utf-8", NULL);
        index_text_feed(tx, got.data, got.len);
        index_text_end(tx);
    }
    buf_free(&got);
    return reason;
}

void attach_text_part_end(struct attach_text *at)
{
    unsigned char head[1024];
    char reason_buf[256];
    const char *reason = NULL;
    enum attach_format fmt = ATTACH_FORMAT_NONE;
    ssize_t n;

    if (!at->active)
        return;
    at->active = 0;
    attach_spool_flush(at);
    if (!at->privs_ok) {
        if (at->privs_error != NULL || geteuid() == 0)
            log_warn("the text inside attachments is not indexed: %s",
                     at->privs_error != NULL ? at->privs_error
                                             : "running as root, and no mail_owner to become");
        free(at->privs_error);
        at->privs_error = NULL;
        at->privs_ok = -1; /* said */
        return;
    }
    if (at->privs_ok < 0)
        return;
    if (at->spool_error)
        return;
    if (at->too_big) {
        log_debug("%s: attachment=\"%s\" type=%s text=none reason=\"larger than %d bytes\"",
                  at->log_id, at->filename ? at->filename : "", at->ctype, ATTACH_TEXT_INPUT_MAX);
        return;
    }
    if (at->size == 0)
        return;
    while ((n = pread(at->fd, head, sizeof(head), 0)) < 0 && errno == EINTR)
        ;
    if (n > 0)
        fmt = attach_text_detect(at->ctype, at->filename, head, (size_t)n);
    if (fmt == ATTACH_FORMAT_NONE) {
        log_debug("%s: attachment=\"%s\" type=%s: no format whose text is indexed", at->log_id,
                  at->filename ? at->filename : "", at->ctype);
        return;
    }
    if (!attach_text_worth_reading(fmt, at->fd, at->size)) {
        log_debug("%s: attachment=\"%s\" type=%s format=%s text=none reason=\"not a %s document"
                  " inside\"",
                  at->log_id, at->filename ? at->filename : "", at->ctype, attach_format_name(fmt),
                  attach_format_name(fmt));
        return;
    }
    reason = attach_run_child(at, fmt, reason_buf, sizeof(reason_buf));
    if (reason != NULL)
        log_msg(strncmp(reason, "unreadable", 10) == 0 ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN,
                "%s: attachment=\"%s\" type=%s format=%s size=%zu text=%s reason=\"%s\"",
                at->log_id, at->filename ? at->filename : "", at->ctype, attach_format_name(fmt),
                at->size, strncmp(reason, "unreadable", 10) == 0 ? "partial" : "none", reason);
    else
        log_debug("%s: attachment=\"%s\" type=%s format=%s size=%zu text=indexed", at->log_id,
                  at->filename ? at->filename : "", at->ctype, attach_format_name(fmt), at->size);
}

char *attach_text_take(struct attach_text *at)
{
    char *text;

    attach_part_clear(at); /* a part still open: the original could not be read to its end */
    text = index_text_release(&at->text);
    memset(&at->text, 0, sizeof(at->text));
    return text;
}
