/*
 * NAME
 *	cli_doctor 3
 * SUMMARY
 *	tabularium doctor: check the Postfix and Tabularium settings for archiving
 * SYNOPSIS
 *	tabularium [-c FILE] doctor [--postconf-dir DIR | --postconf-file FILE]
 *		[--master-file FILE] [--json]
 * DESCRIPTION
 *	Reads Postfix's effective settings (postconf -x, postconf -M; or a
 *	file of "name = value" lines that postconf printed elsewhere) and
 *	Tabularium's configuration, and says for each setting the archive
 *	depends on whether it is fine, risky (warning) or broken (error),
 *	with the command that fixes it. Last, it speaks LMTP to the
 *	configured listener to see whether tabulariumd answers.
 *
 *	What is checked and why is the contract with Postfix in
 *	ARCHITECTURE.md section 2: recipient_bcc_maps with the pcre rule
 *	that encodes every envelope recipient, the archive domain routed to
 *	lmtp: at tabulariumd's lmtp_listen (unix sockets seen through
 *	Postfix's chroot), recipient limit (advised to agree with
 *	tabulariumd's lmtp_recipient_limit), lmtp_line_length_limit = 0
 *	(otherwise lmtp(8) breaks long lines and the original is not
 *	byte-exact), LMTP concurrency (the transport's destination
 *	concurrency limit and master.cf maxproc) against process_limit,
 *	XFORWARD, SMTPUTF8, queue lifetime (copies go out with
 *	NOTIFY=NEVER: an expired one is lost silently) and size limits (a
 *	copy tabulariumd refuses with 552 is lost silently too). Our
 *	recipient_bcc_maps map must be there and first: Postfix adds one
 *	BCC per recipient, from the first map that matches. Postfix's own
 *	bounces and notices are archived only through the bounce services'
 *	own cleanup with header_checks (master.cf; a warning when missing).
 *
 *	The data and queue directories are checked as mail_owner, in a
 *	child that drops to it as the workers do (common/privs.c): as root,
 *	access() would pass a directory under a parent only root can enter,
 *	where tabulariumd then refuses to start.
 *
 *	postconf and postmap are run with posix_spawnp and pipes, never
 *	through a shell: map names and directories come from configuration
 *	files. A child that does not finish in DOCTOR_CHILD_TIMEOUT seconds
 *	is killed (only that child). Text from configuration files and from
 *	the daemon is printed through struct cli_output, which strips
 *	control characters (text) or escapes them (JSON).
 *
 *	Must never change anything: no postconf -e, no postmap of a source
 *	file, no directory or catalog created. The fixes are printed, not run.
 *
 *	Loads the configuration itself from the global -c/-o options
 *	(ctx->opts), so that a configuration that does not load is reported
 *	as a finding rather than ending the command.
 * DIAGNOSTICS
 *	One line per check: "ok: ...", "info: ...", "warning: ..." or
 *	"error: ... Fix: ...", then "N ok, N warnings, N errors". With --json
 *	one object {"check","status","message","fix"} per line and no
 *	summary. Exit 0 without errors (warnings allowed), 1 with at least
 *	one error, 2 for a usage error, an unreadable --postconf-file or
 *	--master-file, a postconf that fails on --postconf-dir, or a write
 *	error on stdout.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/privs.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_output.h"

extern char **environ;

/* postconf or postmap that hangs (an unreachable ldap: map) is killed. */
#define DOCTOR_CHILD_TIMEOUT 10
/* postconf prints about 100 KB; anything far larger is not postconf. */
#define DOCTOR_CHILD_OUTPUT_MAX (8 * 1024 * 1024)
/* The whole LMTP probe: connect, greeting, LHLO, QUIT. */
#define DOCTOR_LMTP_TIMEOUT_MS 3000
#define DOCTOR_LMTP_LINE_MAX 4096
/* What the contract recommends (ARCHITECTURE.md section 2). */
#define DOCTOR_RECIPIENT_LIMIT 1000
#define DOCTOR_QUEUE_LIFETIME (5 * 86400LL)

const char cli_doctor_help[] =
    "NAME\n"
    "    tabularium doctor - check the Postfix and Tabularium settings for archiving\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium [-c FILE] doctor [--postconf-dir DIR | --postconf-file FILE]\n"
    "                                [--master-file FILE] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads Postfix's settings (by running postconf -x and postconf -M, or\n"
    "    postconf -c DIR with --postconf-dir) and the Tabularium configuration,\n"
    "    and prints one line per check: ok, info, warning or error, what is\n"
    "    wrong and the command that fixes it. Checked are: recipient_bcc_maps\n"
    "    and its archive rule (prefix and domain), the transport_maps entry of\n"
    "    the archive domain against lmtp_listen (unix sockets as seen from\n"
    "    Postfix's chroot), lmtp_destination_recipient_limit against\n"
    "    lmtp_recipient_limit, lmtp_line_length_limit (must be 0), the LMTP\n"
    "    concurrency (destination concurrency limit, master.cf maxproc)\n"
    "    against process_limit, lmtp_send_xforward_command, smtputf8_enable,\n"
    "    maximal_queue_lifetime, whether Postfix's own bounces are archived\n"
    "    (master.cf), the message size limits of both, the socket\n"
    "    permissions, mail_owner, the data and queue directories as mail_owner\n"
    "    sees them (when run as root), the catalog, and whether tabulariumd\n"
    "    answers LHLO on lmtp_listen (3 s timeout). Nothing is changed.\n"
    "\n"
    "    Without postconf (Postfix not installed here) only the Tabularium\n"
    "    side is checked. To check a Postfix host from elsewhere:\n"
    "        postconf -x > main.txt; postconf -M > master.txt     (on it)\n"
    "        tabularium doctor --postconf-file main.txt --master-file master.txt\n"
    "    Map files named in main.txt are read where they are found.\n"
    "\n"
    "OPTIONS\n"
    "    --postconf-dir DIR    run postconf -c DIR (a Postfix instance's config)\n"
    "    --postconf-file FILE  read \"name = value\" lines (postconf output or a\n"
    "                          main.cf) instead of running postconf; parameters\n"
    "                          it lacks have Postfix's default values\n"
    "    --master-file FILE    postconf -M output, for --postconf-file\n"
    "    --json                one JSON object per check and line with the keys\n"
    "                          check, status, message, fix (null when none)\n"
    "    -h, --help            this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 no errors (warnings allowed), 1 at least one error, 2 usage error,\n"
    "    unreadable --postconf-file/--master-file, or postconf -c DIR failed.\n";

enum doctor_status { DOCTOR_OK, DOCTOR_INFO, DOCTOR_WARNING, DOCTOR_ERROR };

static const char *const doctor_status_names[] = {"ok", "info", "warning", "error"};

/* Postfix parameters as printed by postconf: later lines win. */
struct doctor_params {
    struct strlist names;
    struct strlist values;
    int expanded; /* from postconf -x: no $name left to expand */
};

/* One master.cf service (postconf -M), the columns the checks use. */
struct doctor_service {
    char *name;
    char *type;
    char *chroot;
    char *maxproc;
    char *command;
    struct strlist overrides; /* "name=value" of its -o options */
};

struct doctor {
    struct cli_output *out;
    int json;
    unsigned n_ok, n_warnings, n_errors;

    const char *postconf_dir;
    const char *postconf_file;
    const char *master_file;

    struct tab_config cfg;
    int have_cfg;
    char *cfg_error;
    const char *cfg_file; /* for the fixes: the file the admin edits */

    int have_postfix;
    struct doctor_params pf;
    struct doctor_service *services;
    size_t n_services;
    int have_master;
    int postmap_missing; /* postmap was not found: do not try again */

    char *archive_domain; /* from recipient_bcc_maps or always_bcc */
    char *transport;      /* master.cf service that delivers archive copies */
    int have_owner;       /* mail_owner resolved (as root) */
};

/* Postfix 3.7 defaults of the parameters checked, for --postconf-file
 * files that lack them and for $name expansion. */
static const struct {
    const char *name;
    const char *value;
} doctor_postfix_defaults[] = {
    {"always_bcc", ""},
    {"config_directory", "/etc/postfix"},
    {"default_destination_concurrency_limit", "20"},
    {"default_destination_recipient_limit", "50"},
    {"default_process_limit", "100"},
    {"lmtp_destination_concurrency_limit", "$default_destination_concurrency_limit"},
    {"lmtp_destination_recipient_limit", "$default_destination_recipient_limit"},
    {"lmtp_line_length_limit", "998"},
    {"lmtp_send_xforward_command", "no"},
    {"maximal_queue_lifetime", "5d"},
    {"message_size_limit", "10240000"},
    {"queue_directory", "/var/spool/postfix"},
    {"recipient_bcc_maps", ""},
    {"sender_bcc_maps", ""},
    {"smtputf8_enable", "yes"},
    {"transport_maps", ""},
};

#define DOCTOR_NDEFAULTS (sizeof(doctor_postfix_defaults) / sizeof(doctor_postfix_defaults[0]))

/* ---- output ------------------------------------------------------------ */

static char *doctor_vformat(const char *fmt, va_list ap)
{
    va_list aq;
    int n;
    char *s;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return xstrdup(fmt);
    s = xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/*
 * One check's line. fix (may be NULL) is taken over and freed: most fixes
 * are built with xasprintf for the occasion.
 */
static void doctor_report(struct doctor *d, enum doctor_status st, const char *check, char *fix,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void doctor_report(struct doctor *d, enum doctor_status st, const char *check, char *fix,
                          const char *fmt, ...)
{
    struct cli_output *o = d->out;
    va_list ap;
    char *msg, *line;

    va_start(ap, fmt);
    msg = doctor_vformat(fmt, ap);
    va_end(ap);
    if (st == DOCTOR_OK)
        d->n_ok++;
    else if (st == DOCTOR_WARNING)
        d->n_warnings++;
    else if (st == DOCTOR_ERROR)
        d->n_errors++;

    if (d->json) {
        o->begin_map(o);
        o->map_key(o, "check");
        o->string(o, check);
        o->map_key(o, "status");
        o->string(o, doctor_status_names[st]);
        o->map_key(o, "message");
        o->string(o, msg);
        o->map_key(o, "fix");
        o->string(o, fix);
        o->end(o);
    } else {
        if (fix != NULL)
            line = xasprintf("%s: %s. Fix: %s", doctor_status_names[st], msg, fix);
        else
            line = xasprintf("%s: %s", doctor_status_names[st], msg);
        o->string(o, line);
        free(line);
    }
    o->separator(o);
    free(msg);
    free(fix);
}

/* s quoted for a POSIX shell, for fixes the admin pastes. */
static char *doctor_shell_quote(const char *s)
{
    size_t n = 2;
    char *q, *w;

    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    w = q = xmalloc(n + 1);
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* s as one shell word: as is when nothing in it is special to a shell. */
static char *doctor_shell_word(const char *s)
{
    if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_./:,+-@%=") == strlen(s))
        return xstrdup(s);
    return doctor_shell_quote(s);
}

/* "postconf -e 'name = value'" (with -c DIR when that is what was checked). */
static char *doctor_postconf_fix(const struct doctor *d, const char *name, const char *value)
{
    char *setting = xasprintf("%s = %s", name, value);
    char *q = doctor_shell_quote(setting);
    char *dir = d->postconf_dir != NULL ? doctor_shell_word(d->postconf_dir) : NULL;
    char *fix =
        dir != NULL ? xasprintf("postconf -c %s -e %s", dir, q) : xasprintf("postconf -e %s", q);

    free(setting);
    free(q);
    free(dir);
    return fix;
}

/* "set NAME = VALUE in FILE": the Tabularium side of a fix. */
static char *doctor_config_fix(const struct doctor *d, const char *name, const char *value)
{
    return xasprintf("set %s = %s in %s", name, value, d->cfg_file);
}

/* ---- running postconf and postmap ---------------------------------------- */

struct doctor_child {
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    int status; /* exit status; -1 when killed by a signal or the timeout */
    int timed_out;
};

static void doctor_child_free(struct doctor_child *c)
{
    free(c->out);
    free(c->err);
    memset(c, 0, sizeof(*c));
}

/* Append what fd has to *buf; 0 at EOF, 1 more to come, -1 error. */
static int doctor_child_read(int fd, char **buf, size_t *len)
{
    char chunk[8192];
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : -1;
    if (n == 0)
        return 0;
    /* Past the cap the rest is drained and dropped: the child must not
     * block on a full pipe, and no postconf output is that long. */
    if (*len + (size_t)n <= DOCTOR_CHILD_OUTPUT_MAX) {
        *buf = xrealloc(*buf, *len + (size_t)n + 1);
        memcpy(*buf + *len, chunk, (size_t)n);
        *len += (size_t)n;
        (*buf)[*len] = '\0';
    }
    return 1;
}

/*
 * Run argv[0] from PATH with stdin from /dev/null, collecting stdout and
 * stderr. 0 when it ran (c->status says how it ended), -1 when it could
 * not be started: *errno_r is ENOENT when it is not installed.
 */
static int doctor_run(char *const argv[], struct doctor_child *c, int *errno_r)
{
    posix_spawn_file_actions_t fa;
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    int rc = -1, status, open_fds = 2;
    long long deadline;
    pid_t pid = -1;

    memset(c, 0, sizeof(*c));
    c->status = -1;
    *errno_r = 0;
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        *errno_r = errno;
        goto out;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    *errno_r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (*errno_r != 0) {
        pid = -1;
        goto out;
    }
    close(out[1]);
    close(err[1]);
    out[1] = err[1] = -1;

    deadline = clock_monotonic_ms() + DOCTOR_CHILD_TIMEOUT * 1000LL;
    while (open_fds > 0) {
        struct pollfd pfd[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
        long long left = deadline - clock_monotonic_ms();
        int n;

        if (left <= 0) {
            c->timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        n = poll(pfd, 2, (int)left);
        if (n < 0 && errno != EINTR) {
            kill(pid, SIGKILL); /* or waitpid() below may wait forever */
            break;
        }
        for (int i = 0; i < 2 && n > 0; i++) {
            int fd = i == 0 ? out[0] : err[0];
            int r;

            if (fd < 0 || pfd[i].revents == 0)
                continue;
            r = i == 0 ? doctor_child_read(fd, &c->out, &c->out_len)
                       : doctor_child_read(fd, &c->err, &c->err_len);
            if (r <= 0) {
                close(fd);
                if (i == 0)
                    out[0] = -1;
                else
                    err[0] = -1;
                open_fds--;
            }
        }
        /* poll() ignores negative fds: a closed one is skipped. */
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            *errno_r = errno;
            goto out;
        }
    }
    pid = -1;
    if (WIFEXITED(status))
        c->status = WEXITSTATUS(status);
    rc = 0;
out:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    if (c->out == NULL)
        c->out = xstrdup("");
    if (c->err == NULL)
        c->err = xstrdup("");
    return rc;
}

/* Why a child failed: the first line of its stderr, for a message. */
static char *doctor_child_error(const struct doctor_child *c)
{
    size_t n = strcspn(c->err, "\n");

    if (c->timed_out)
        return xasprintf("no answer in %d s", DOCTOR_CHILD_TIMEOUT);
    if (n > 0)
        return xstrndup(c->err, n);
    return c->status < 0 ? xstrdup("killed by a signal") : xasprintf("exit status %d", c->status);
}

/* ---- Postfix parameters ------------------------------------------------- */

/* "name = value" lines; "#" comments; lines starting with white space
 * continue the previous value (postconf -f, main.cf). */
static void doctor_params_parse(struct doctor_params *p, const char *text)
{
    const char *line = text;

    while (*line) {
        size_t len = strcspn(line, "\n");
        char *l = xstrndup(line, len);
        char *eq, *name, *value, *end;

        line += len + (line[len] == '\n');
        /* trailing white space (and the CR of a CRLF file) */
        end = l + strlen(l);
        while (end > l && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (l[0] == '\0' || l[0] == '#') {
            free(l);
            continue;
        }
        if (isspace((unsigned char)l[0])) {
            if (p->values.n > 0) {
                char *v = p->values.v[p->values.n - 1];
                char *start = l;
                while (isspace((unsigned char)*start))
                    start++;
                p->values.v[p->values.n - 1] = xasprintf("%s%s%s", v, *v != '\0' ? " " : "", start);
                free(v);
            }
            free(l);
            continue;
        }
        eq = strchr(l, '=');
        if (eq == NULL) {
            free(l);
            continue;
        }
        end = eq;
        while (end > l && isspace((unsigned char)end[-1]))
            end--;
        name = xstrndup(l, (size_t)(end - l));
        value = eq + 1;
        while (isspace((unsigned char)*value))
            value++;
        strlist_add(&p->names, name);
        strlist_add(&p->values, value);
        free(name);
        free(l);
    }
}

static void doctor_params_free(struct doctor_params *p)
{
    strlist_free(&p->names);
    strlist_free(&p->values);
}

static const char *doctor_postfix_default(const char *name)
{
    for (size_t i = 0; i < DOCTOR_NDEFAULTS; i++)
        if (strcmp(doctor_postfix_defaults[i].name, name) == 0)
            return doctor_postfix_defaults[i].value;
    return NULL;
}

/* The value as written, Postfix's default when absent, NULL when unknown. */
static const char *doctor_param_raw(const struct doctor_params *p, const char *name)
{
    for (size_t i = p->names.n; i > 0; i--)
        if (strcmp(p->names.v[i - 1], name) == 0)
            return p->values.v[i - 1];
    return doctor_postfix_default(name);
}

/*
 * $name, ${name} and $(name) expanded as Postfix does; NULL for what only
 * Postfix evaluates (${name?x}, ${{expr}}) or a reference loop: the caller
 * then falls back to the default.
 */
static char *doctor_expand(const struct doctor_params *p, const char *value, int depth)
{
    size_t cap = strlen(value) + 1, len = 0;
    char *res = xmalloc(cap);

    if (depth > 20)
        goto fail;
    for (const char *s = value; *s;) {
        const char *name_start, *name_end, *sub;
        char *name, *exp;
        size_t n;

        if (*s != '$') {
            if (len + 2 > cap)
                res = xrealloc(res, cap *= 2);
            res[len++] = *s++;
            continue;
        }
        s++;
        if (*s == '$') {
            if (len + 2 > cap)
                res = xrealloc(res, cap *= 2);
            res[len++] = *s++;
            continue;
        }
        if (*s == '{' || *s == '(') {
            char close = *s == '{' ? '}' : ')';
            name_start = ++s;
            while (isalnum((unsigned char)*s) || *s == '_')
                s++;
            if (*s != close || s == name_start)
                goto fail;
            name_end = s++;
        } else {
            name_start = s;
            while (isalnum((unsigned char)*s) || *s == '_')
                s++;
            name_end = s;
            if (name_end == name_start)
                goto fail;
        }
        name = xstrndup(name_start, (size_t)(name_end - name_start));
        sub = doctor_param_raw(p, name);
        free(name);
        /* Postfix expands an unknown parameter to nothing. */
        exp = doctor_expand(p, sub != NULL ? sub : "", depth + 1);
        if (exp == NULL)
            goto fail;
        n = strlen(exp);
        if (len + n + 1 > cap) {
            cap = len + n + 1;
            res = xrealloc(res, cap);
        }
        memcpy(res + len, exp, n);
        len += n;
        free(exp);
    }
    res[len] = '\0';
    return res;
fail:
    free(res);
    return NULL;
}

/* A Postfix parameter's effective value (heap). */
static char *doctor_pf(const struct doctor *d, const char *name)
{
    const char *raw = doctor_param_raw(&d->pf, name);
    const char *def = doctor_postfix_default(name);
    char *v;

    if (raw == NULL)
        return xstrdup("");
    if (d->pf.expanded)
        return xstrdup(raw);
    v = doctor_expand(&d->pf, raw, 0);
    if (v == NULL && def != NULL)
        v = doctor_expand(&d->pf, def, 0);
    return v != NULL ? v : xstrdup("");
}

/* Postfix's list syntax: white space and commas separate, {} groups. */
static void doctor_split_list(const char *s, struct strlist *l)
{
    while (*s) {
        const char *start;
        int depth = 0;

        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            break;
        start = s;
        while (*s && (depth > 0 || (*s != ',' && !isspace((unsigned char)*s)))) {
            if (*s == '{')
                depth++;
            else if (*s == '}' && depth > 0)
                depth--;
            s++;
        }
        strlist_add_n(l, start, (size_t)(s - start));
    }
}

/* Postfix time: a number and one unit (s, m, h, d, w); def_unit when none. */
static int doctor_parse_time(const char *s, char def_unit, long long *secs_r)
{
    char *end;
    long long n;
    char unit;

    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || n < 0)
        return -1;
    unit = *end != '\0' ? (char)tolower((unsigned char)*end++) : def_unit;
    if (*end != '\0')
        return -1;
    switch (unit) {
    case 's':
        break;
    case 'm':
        n = n > LLONG_MAX / 60 ? LLONG_MAX : n * 60;
        break;
    case 'h':
        n = n > LLONG_MAX / 3600 ? LLONG_MAX : n * 3600;
        break;
    case 'd':
        n = n > LLONG_MAX / 86400 ? LLONG_MAX : n * 86400;
        break;
    case 'w':
        n = n > LLONG_MAX / 604800 ? LLONG_MAX : n * 604800;
        break;
    default:
        return -1;
    }
    *secs_r = n;
    return 0;
}

static int doctor_parse_number(const char *s, long long *n_r)
{
    char *end;

    errno = 0;
    *n_r = strtoll(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && *n_r >= 0 ? 0 : -1;
}

/* postconf -M: "service type private unpriv chroot wakeup maxproc command args". */
static void doctor_master_parse(struct doctor *d, const char *text)
{
    const char *line = text;

    while (*line) {
        size_t len = strcspn(line, "\n");
        char *l = xstrndup(line, len);
        struct strlist f = STRLIST_INIT;

        line += len + (line[len] == '\n');
        if (l[0] != '#' && !isspace((unsigned char)l[0])) {
            doctor_split_list(l, &f);
            /* doctor_split_list also splits at commas: none in these columns */
            if (f.n >= 8) {
                struct doctor_service *s;
                d->services = xrealloc(d->services, (d->n_services + 1) * sizeof(*d->services));
                s = &d->services[d->n_services++];
                s->name = xstrdup(f.v[0]);
                s->type = xstrdup(f.v[1]);
                s->chroot = xstrdup(f.v[4]);
                s->maxproc = xstrdup(f.v[6]);
                s->command = xstrdup(f.v[7]);
                memset(&s->overrides, 0, sizeof(s->overrides));
                for (size_t k = 8; k < f.n; k++) {
                    if (strcmp(f.v[k], "-o") == 0 && k + 1 < f.n)
                        strlist_add(&s->overrides, f.v[++k]);
                    else if (strncmp(f.v[k], "-o", 2) == 0 && strchr(f.v[k], '=') != NULL)
                        strlist_add(&s->overrides, f.v[k] + 2);
                }
            }
        }
        strlist_free(&f);
        free(l);
    }
}

static const struct doctor_service *doctor_service(const struct doctor *d, const char *name,
                                                   const char *type)
{
    for (size_t i = 0; i < d->n_services; i++)
        if (strcmp(d->services[i].name, name) == 0 && strcmp(d->services[i].type, type) == 0)
            return &d->services[i];
    return NULL;
}

static int doctor_read_file(const char *path, char **text_r, const char **error_r)
{
    FILE *fp = fopen(path, "r");
    size_t len = 0, cap = 4096;
    char *buf;
    size_t n;

    if (fp == NULL) {
        *error_r = strerror(errno);
        return -1;
    }
    buf = xmalloc(cap);
    while ((n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += n;
        if (len + 1 == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    if (ferror(fp)) {
        *error_r = strerror(errno);
        fclose(fp);
        free(buf);
        return -1;
    }
    fclose(fp);
    buf[len] = '\0';
    *text_r = buf;
    return 0;
}

/*
 * Fill d->pf (and d->services) from postconf or the files. 0 ok (also
 * when postconf is not installed: d->have_postfix = 0), -1 for a failure
 * that makes the command's own arguments wrong (exit 2).
 */
static int doctor_load_postfix(struct doctor *d)
{
    char *argv[5];
    struct doctor_child c;
    const char *error;
    char *text, *msg;
    int argc = 0, e;

    if (d->postconf_file != NULL) {
        if (doctor_read_file(d->postconf_file, &text, &error) < 0) {
            fprintf(stderr, "tabularium doctor: cannot read %s: %s\n", d->postconf_file, error);
            return -1;
        }
        doctor_params_parse(&d->pf, text);
        free(text);
        d->have_postfix = 1;
        if (d->master_file != NULL) {
            if (doctor_read_file(d->master_file, &text, &error) < 0) {
                fprintf(stderr, "tabularium doctor: cannot read %s: %s\n", d->master_file, error);
                return -1;
            }
            doctor_master_parse(d, text);
            free(text);
            d->have_master = 1;
        }
        return 0;
    }

    argv[argc++] = "postconf";
    if (d->postconf_dir != NULL) {
        argv[argc++] = "-c";
        argv[argc++] = (char *)d->postconf_dir;
    }
    argv[argc++] = "-x";
    argv[argc] = NULL;
    if (doctor_run(argv, &c, &e) < 0) {
        if (e == ENOENT) {
            doctor_report(d, DOCTOR_WARNING, "postconf",
                          xstrdup("run tabularium doctor on the Postfix host, or there"
                                  " \"postconf -x > main.txt; postconf -M > master.txt\" and here"
                                  " \"tabularium doctor --postconf-file main.txt"
                                  " --master-file master.txt\""),
                          "postconf: not found in PATH (is Postfix installed here?): Postfix"
                          " settings not checked");
            doctor_child_free(&c);
            return 0;
        }
        fprintf(stderr, "tabularium doctor: cannot run postconf: %s\n", strerror(e));
        doctor_child_free(&c);
        return -1;
    }
    if (c.status != 0) {
        msg = doctor_child_error(&c);
        if (d->postconf_dir != NULL) {
            fprintf(stderr, "tabularium doctor: postconf -c %s failed: %s\n", d->postconf_dir, msg);
            free(msg);
            doctor_child_free(&c);
            return -1;
        }
        doctor_report(d, DOCTOR_ERROR, "postconf",
                      xstrdup("repair Postfix's configuration (postfix check)"),
                      "postconf failed (%s): Postfix settings not checked", msg);
        free(msg);
        doctor_child_free(&c);
        return 0;
    }
    doctor_params_parse(&d->pf, c.out);
    d->pf.expanded = 1;
    d->have_postfix = 1;
    doctor_child_free(&c);

    argv[argc - 1] = "-M";
    if (doctor_run(argv, &c, &e) == 0 && c.status == 0) {
        doctor_master_parse(d, c.out);
        d->have_master = 1;
    }
    doctor_child_free(&c);
    return 0;
}

/*
 * A Postfix table file's logical lines: blank and "#" lines dropped, a
 * line that starts with white space joined to the one before (table(5)).
 */
static void doctor_table_lines(const char *text, struct strlist *lines)
{
    while (*text) {
        size_t len = strcspn(text, "\n");
        const char *s = text, *end = text + len;
        int continued = isspace((unsigned char)*text);

        text += len + (text[len] == '\n');
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        while (s < end && isspace((unsigned char)*s))
            s++;
        if (s == end || *s == '#')
            continue;
        if (continued && lines->n > 0) {
            char *prev = lines->v[lines->n - 1];
            lines->v[lines->n - 1] = xasprintf("%s %.*s", prev, (int)(end - s), s);
            free(prev);
        } else {
            strlist_add_n(lines, s, (size_t)(end - s));
        }
    }
}

/* ---- 1. recipient_bcc_maps ---------------------------------------------- */

/*
 * The result of the first rule in a pcre:/regexp: file that encodes the
 * recipient as PREFIX${1}=${2}@DOMAIN. 1 found, 0 not, -1 unreadable.
 */
static int doctor_bcc_rule(const char *path, char **prefix_r, char **domain_r, const char **error_r)
{
    static const char *const encodings[] = {"${1}=${2}@", "$1=$2@"};
    struct strlist lines = STRLIST_INIT;
    char *text;
    int found = 0;

    if (doctor_read_file(path, &text, error_r) < 0)
        return -1;
    doctor_table_lines(text, &lines);
    free(text);
    for (size_t li = 0; li < lines.n && !found; li++) {
        char *s = lines.v[li], *result, *end, delim;

        if (strcmp(s, "endif") == 0 ||
            (strncmp(s, "if", 2) == 0 && (isspace((unsigned char)s[2]) || s[2] == '!')))
            continue;
        if (*s == '!')
            continue; /* a negated pattern has no $1 */
        delim = *s++;
        while (*s && *s != delim) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            s++;
        }
        if (*s == '\0')
            continue;
        s++;
        while (*s && !isspace((unsigned char)*s))
            s++; /* flags */
        while (isspace((unsigned char)*s))
            s++;
        result = s;
        end = result + strlen(result);
        while (end > result && isspace((unsigned char)end[-1]))
            *--end = '\0';
        for (size_t i = 0; i < 2 && !found; i++) {
            char *at = strstr(result, encodings[i]);
            const char *dom;
            if (at == NULL)
                continue;
            dom = at + strlen(encodings[i]);
            if (*dom == '\0' || strchr(dom, '$') != NULL)
                continue;
            *prefix_r = xstrndup(result, (size_t)(at - result));
            *domain_r = xstrdup(dom);
            found = 1;
        }
    }
    strlist_free(&lines);
    return found;
}

/* "type:name" with proxy: stripped; *type_r heap, the name points into spec. */
static const char *doctor_map_name(const char *spec, char **type_r)
{
    const char *colon;

    if (strncmp(spec, "proxy:", 6) == 0)
        spec += 6;
    colon = strchr(spec, ':');
    if (colon == NULL) {
        *type_r = xstrdup("");
        return spec;
    }
    *type_r = xstrndup(spec, (size_t)(colon - spec));
    return colon + 1;
}

static void doctor_check_bcc(struct doctor *d)
{
    char *maps = doctor_pf(d, "recipient_bcc_maps");
    char *always = doctor_pf(d, "always_bcc");
    char *sender = doctor_pf(d, "sender_bcc_maps");
    char *cfgdir = doctor_pf(d, "config_directory");
    char *pcre = xasprintf("pcre:%s/recipient_bcc.pcre", *cfgdir ? cfgdir : "/etc/postfix");
    const char *our_prefix = d->have_cfg ? d->cfg.recipient_encoding_prefix : "archive+";
    struct strlist list = STRLIST_INIT;
    int reported = 0;

    if (*maps == '\0') {
        if (*always != '\0' || *sender != '\0') {
            const char *at = strrchr(always, '@');
            if (at != NULL && at[1] != '\0')
                d->archive_domain = xstrdup(at + 1);
            doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                          doctor_postconf_fix(d, "recipient_bcc_maps", pcre),
                          "recipient_bcc_maps is empty and %s = %s: envelope recipients lost;"
                          " copies archived as incomplete",
                          *always != '\0' ? "always_bcc" : "sender_bcc_maps",
                          *always != '\0' ? always : sender);
        } else {
            doctor_report(d, DOCTOR_ERROR, "recipient_bcc_maps",
                          doctor_postconf_fix(d, "recipient_bcc_maps", pcre),
                          "recipient_bcc_maps is empty: Postfix sends no archive copies");
        }
        goto out;
    }

    doctor_split_list(maps, &list);
    for (size_t i = 0; i < list.n && !reported; i++) {
        char *type, *prefix = NULL, *domain = NULL;
        const char *path = doctor_map_name(list.v[i], &type), *error;
        int r;

        if (strcmp(type, "pcre") != 0 && strcmp(type, "regexp") != 0) {
            free(type);
            continue;
        }
        free(type);
        r = doctor_bcc_rule(path, &prefix, &domain, &error);
        if (r < 0) {
            doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                          xstrdup("run tabularium doctor as root on the Postfix host"),
                          "recipient_bcc_maps: cannot read %s: %s: archive rule not checked", path,
                          error);
            reported = 1;
        } else if (r > 0) {
            d->archive_domain = domain;
            if (strcasecmp(prefix, our_prefix) != 0)
                doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                              doctor_config_fix(d, "recipient_encoding_prefix", prefix),
                              "recipient_bcc_maps: %s encodes recipients as %s${1}=${2}@%s but"
                              " recipient_encoding_prefix = %s: tabulariumd cannot decode them;"
                              " copies archived as incomplete",
                              path, prefix, domain, our_prefix);
            else if (i > 0) {
                /* cleanup_addr.c: one BCC per recipient, from the first map
                 * that matches; a map before ours takes those recipients. */
                char *order = xstrdup(list.v[i]);
                for (size_t k = 0; k < list.n; k++) {
                    char *o = order;
                    if (k == i)
                        continue;
                    order = xasprintf("%s, %s", o, list.v[k]);
                    free(o);
                }
                doctor_report(d, DOCTOR_ERROR, "recipient_bcc_maps",
                              doctor_postconf_fix(d, "recipient_bcc_maps", order),
                              "recipient_bcc_maps = %s: Postfix adds one BCC per recipient, from"
                              " the first map that matches, and %s comes before the archive map"
                              " %s: recipients it matches are not archived",
                              maps, list.v[0], list.v[i]);
                free(order);
            } else
                doctor_report(d, DOCTOR_OK, "recipient_bcc_maps", NULL,
                              "recipient_bcc_maps = %s: every envelope recipient user@domain is"
                              " archived as %suser=domain@%s",
                              maps, prefix, domain);
            free(prefix);
            reported = 1;
        }
    }
    if (!reported) {
        /* Ours is missing: typically a "postconf -e" that replaced it. */
        char *both = xasprintf("%s, %s", pcre, maps);
        doctor_report(d, *always != '\0' ? DOCTOR_WARNING : DOCTOR_ERROR, "recipient_bcc_maps",
                      doctor_postconf_fix(d, "recipient_bcc_maps", both),
                      "recipient_bcc_maps = %s has no pcre:/regexp: map with the archive rule"
                      " (user@domain to %s${1}=${2}@DOMAIN, config/recipient_bcc.pcre): %s",
                      maps, our_prefix,
                      *always != '\0' ? "envelope recipients lost (always_bcc copies are archived"
                                        " as incomplete)"
                                      : "Postfix sends no archive copies");
        free(both);
    }
out:
    strlist_free(&list);
    free(maps);
    free(always);
    free(sender);
    free(cfgdir);
    free(pcre);
}

/* ---- 2. transport_maps --------------------------------------------------- */

struct doctor_endpoint {
    int is_unix;
    char *host; /* inet: without brackets */
    char *port;
    char *path; /* unix: */
};

static void doctor_endpoint_free(struct doctor_endpoint *ep)
{
    free(ep->host);
    free(ep->port);
    free(ep->path);
    memset(ep, 0, sizeof(*ep));
}

/* HOST:PORT, [HOST]:PORT or HOST (then def_port). */
static void doctor_hostport(const char *s, const char *def_port, struct doctor_endpoint *ep)
{
    const char *colon;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (close != NULL) {
            ep->host = xstrndup(s + 1, (size_t)(close - s - 1));
            ep->port = xstrdup(close[1] == ':' ? close + 2 : def_port);
            return;
        }
    }
    colon = strrchr(s, ':');
    if (colon != NULL && strchr(s, ':') == colon) {
        ep->host = xstrndup(s, (size_t)(colon - s));
        ep->port = xstrdup(colon + 1);
    } else {
        ep->host = xstrdup(s);
        ep->port = xstrdup(def_port);
    }
}

/* tabulariumd's lmtp_listen, or (nexthop) the part of a Postfix lmtp
 * transport after "lmtp:". */
static void doctor_endpoint_parse(const char *s, int nexthop, struct doctor_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (strncmp(s, "unix:", 5) == 0) {
        ep->is_unix = 1;
        ep->path = xstrdup(s + 5);
    } else if (strncmp(s, "inet:", 5) == 0) {
        if (nexthop) {
            doctor_hostport(s + 5, "24", ep);
        } else {
            /* lmtp_listen = inet:HOST:PORT, HOST may be an IPv6 literal */
            const char *colon = strrchr(s + 5, ':');
            const char *h = s + 5;
            size_t hl = colon != NULL ? (size_t)(colon - h) : strlen(h);
            if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
                h++;
                hl -= 2;
            }
            ep->host = xstrndup(h, hl);
            ep->port = xstrdup(colon != NULL ? colon + 1 : "");
        }
    } else {
        doctor_hostport(s, "24", ep);
    }
}

static long doctor_port_number(const char *port)
{
    struct servent *se;
    char *end;
    long n = strtol(port, &end, 10);

    if (end != port && *end == '\0')
        return n;
    se = getservbyname(port, "tcp");
    return se != NULL ? ntohs((uint16_t)se->s_port) : -1;
}

static int doctor_is_any_host(const char *h)
{
    return *h == '\0' || strcmp(h, "*") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int doctor_is_loopback(const char *h)
{
    return strcasecmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0;
}

/* path with "//" and "/./" collapsed and no trailing "/". */
static char *doctor_path_normal(const char *path)
{
    char *n = xmalloc(strlen(path) + 1), *w = n;

    for (const char *s = path; *s;) {
        if (*s == '/' && w > n && w[-1] == '/') {
            s++;
        } else if (*s == '.' && w > n && w[-1] == '/' && (s[1] == '/' || s[1] == '\0')) {
            s++;
        } else {
            *w++ = *s++;
        }
    }
    while (w > n + 1 && w[-1] == '/')
        w--;
    *w = '\0';
    return n;
}

/* Same socket file: same text, or same base name in the same directory
 * (symlinks, e.g. /var/spool/postfix -> /srv/spool). */
static int doctor_same_path(const char *a, const char *b)
{
    char *na = doctor_path_normal(a), *nb = doctor_path_normal(b);
    int same = strcmp(na, nb) == 0;

    if (!same) {
        char *sa = strrchr(na, '/'), *sb = strrchr(nb, '/');
        if (sa != NULL && sb != NULL && strcmp(sa, sb) == 0) {
            char *ra, *rb;
            *sa = *sb = '\0';
            ra = realpath(*na ? na : "/", NULL);
            rb = realpath(*nb ? nb : "/", NULL);
            same = ra != NULL && rb != NULL && strcmp(ra, rb) == 0;
            free(ra);
            free(rb);
        }
    }
    free(na);
    free(nb);
    return same;
}

/*
 * The transport_maps result for the archive domain. 1 found (*value_r),
 * 0 not in this map, -1 could not look (*why_r heap).
 */
static int doctor_transport_lookup(struct doctor *d, const char *spec, const char *domain,
                                   char **value_r, char **why_r)
{
    /* Postfix looks up the whole archive address first, then its domain. */
    char *type,
        *probe = xasprintf("%sdoctor=example.com@%s",
                           d->have_cfg ? d->cfg.recipient_encoding_prefix : "archive+", domain);
    const char *name = doctor_map_name(spec, &type);
    const char *keys[2] = {probe, domain};
    struct strlist lines = STRLIST_INIT;
    char *argv[7], *text;
    const char *error;
    int rc = -1, argc = 0, e, is_file;

    *why_r = NULL;
    is_file = strcmp(type, "texthash") == 0 || strcmp(type, "hash") == 0 ||
              strcmp(type, "btree") == 0 || strcmp(type, "lmdb") == 0 || strcmp(type, "cdb") == 0 ||
              strcmp(type, "dbm") == 0;

    /* postmap answers as Postfix would, from the indexed file Postfix reads. */
    if (!d->postmap_missing && strcmp(type, "texthash") != 0) {
        argv[argc++] = "postmap";
        if (d->postconf_dir != NULL) {
            argv[argc++] = "-c";
            argv[argc++] = (char *)d->postconf_dir;
        }
        argv[argc++] = "-q";
        argv[argc + 1] = (char *)spec;
        argv[argc + 2] = NULL;
        for (int k = 0; k < 2; k++) {
            struct doctor_child c;
            argv[argc] = (char *)keys[k];
            if (doctor_run(argv, &c, &e) < 0) {
                if (e == ENOENT)
                    d->postmap_missing = 1;
                free(*why_r);
                *why_r = xasprintf("cannot run postmap: %s", strerror(e));
                doctor_child_free(&c);
                break;
            }
            if (c.status == 0) {
                size_t n = strcspn(c.out, "\n");
                *value_r = xstrndup(c.out, n);
                doctor_child_free(&c);
                rc = 1;
                goto out;
            }
            /* postmap -q exits 1 for "not found" and for fatal errors:
             * only the latter say something. */
            if (c.status == 1 && c.err_len == 0) {
                doctor_child_free(&c);
                rc = 0;
                continue;
            }
            free(*why_r);
            *why_r = doctor_child_error(&c);
            rc = -1;
            doctor_child_free(&c);
            break;
        }
        if (rc == 0)
            goto out;
    }
    if (!is_file) {
        if (*why_r == NULL)
            *why_r = xstrdup("postmap is not installed");
        rc = -1;
        goto out;
    }
    /* The source file of a texthash: (or an indexed) map: "KEY VALUE". */
    if (doctor_read_file(name, &text, &error) < 0) {
        free(*why_r);
        *why_r = xasprintf("cannot read %s: %s", name, error);
        rc = -1;
        goto out;
    }
    rc = 0;
    doctor_table_lines(text, &lines);
    free(text);
    for (size_t li = 0; li < lines.n; li++) {
        char *s = lines.v[li], *key, *v, *end;
        key = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            continue;
        *s++ = '\0';
        while (isspace((unsigned char)*s))
            s++;
        v = s;
        end = v + strlen(v);
        while (end > v && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (strcasecmp(key, probe) == 0 || strcasecmp(key, domain) == 0) {
            *value_r = xstrdup(v);
            rc = 1;
            break;
        }
    }
    strlist_free(&lines);
    free(*why_r);
    *why_r = NULL;
out:
    free(type);
    free(probe);
    return rc;
}

/* "lmtp:inet:127.0.0.1:2424" in the form transport(5) wants for our listener. */
static char *doctor_wanted_transport(const struct doctor *d)
{
    const char *listen = d->have_cfg ? d->cfg.lmtp_listen : "inet:127.0.0.1:2424";
    char *qdir, *prefix, *t;

    if (strncmp(listen, "unix:", 5) != 0)
        return xasprintf("lmtp:%s", listen);
    qdir = doctor_pf(d, "queue_directory");
    prefix = xasprintf("%s/", qdir);
    if (*qdir != '\0' && strncmp(listen + 5, prefix, strlen(prefix)) == 0)
        t = xasprintf("lmtp:unix:%s", listen + 5 + strlen(prefix));
    else
        t = xasprintf("lmtp:%s", listen);
    free(qdir);
    free(prefix);
    return t;
}

/* Whether the lmtp transport Postfix uses matches lmtp_listen. */
static void doctor_check_endpoint(struct doctor *d, const char *transport, const char *value,
                                  int chroot, const char *chroot_how)
{
    const char *nexthop = strchr(value, ':');
    const char *listen = d->cfg.lmtp_listen;
    struct doctor_endpoint theirs, ours;
    char *want = doctor_wanted_transport(d);
    char *fix = xasprintf("in transport_maps: %s %s (then postmap), or set lmtp_listen in %s",
                          d->archive_domain, want, d->cfg_file);

    nexthop = nexthop != NULL ? nexthop + 1 : "";
    doctor_endpoint_parse(nexthop, 1, &theirs);
    doctor_endpoint_parse(listen, 0, &ours);
    if (*nexthop == '\0') {
        doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                      "transport_maps routes %s to \"%s\" without a destination: archive copies"
                      " do not reach tabulariumd",
                      d->archive_domain, value);
        fix = NULL;
    } else if (theirs.is_unix != ours.is_unix) {
        doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                      "transport_maps routes %s to %s but tabulariumd listens on %s: archive"
                      " copies do not reach it",
                      d->archive_domain, value, listen);
        fix = NULL;
    } else if (!theirs.is_unix) {
        long p1 = doctor_port_number(theirs.port), p2 = doctor_port_number(ours.port);
        int host_ok = strcasecmp(theirs.host, ours.host) == 0 || doctor_is_any_host(ours.host) ||
                      (doctor_is_loopback(theirs.host) && doctor_is_loopback(ours.host));
        if (p1 < 0 || p1 != p2 || !host_ok) {
            doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                          "transport_maps routes %s to %s but tabulariumd listens on %s: archive"
                          " copies do not reach it",
                          d->archive_domain, value, listen);
            fix = NULL;
        } else {
            doctor_report(d, DOCTOR_OK, "transport_maps", NULL,
                          "transport_maps routes %s to %s, tabulariumd's lmtp_listen",
                          d->archive_domain, value);
        }
    } else {
        /* Postfix daemons work in queue_directory: a relative path is
         * below it; a chrooted one sees an absolute path below it too. */
        char *qdir = doctor_pf(d, "queue_directory");
        char *seen;
        if (theirs.path[0] != '/')
            seen = xasprintf("%s/%s", qdir, theirs.path);
        else if (chroot)
            seen = xasprintf("%s%s", qdir, theirs.path);
        else
            seen = xstrdup(theirs.path);
        if (!doctor_same_path(seen, ours.path)) {
            doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                          "transport_maps routes %s to %s, which %s(8) (%s) opens as %s, but"
                          " tabulariumd listens on %s: archive copies do not reach it",
                          d->archive_domain, value, transport, chroot_how, seen, listen);
            fix = NULL;
        } else {
            doctor_report(d, DOCTOR_OK, "transport_maps", NULL,
                          "transport_maps routes %s to %s = %s (%s), tabulariumd's lmtp_listen",
                          d->archive_domain, value, seen, chroot_how);
        }
        free(seen);
        free(qdir);
    }
    free(fix);
    free(want);
    doctor_endpoint_free(&theirs);
    doctor_endpoint_free(&ours);
}

static void doctor_check_transport(struct doctor *d)
{
    char *maps = doctor_pf(d, "transport_maps");
    struct strlist list = STRLIST_INIT;
    char *value = NULL, *why = NULL, *want, *transport = NULL;
    const struct doctor_service *svc;
    int found = 0, chroot;
    const char *chroot_how;

    if (d->archive_domain == NULL) {
        doctor_report(d, DOCTOR_INFO, "transport_maps", NULL,
                      "transport_maps: archive domain unknown (see recipient_bcc_maps): routing"
                      " not checked");
        free(maps);
        return;
    }
    want = doctor_wanted_transport(d);
    doctor_split_list(maps, &list);
    for (size_t i = 0; i < list.n && !found; i++) {
        char *w = NULL;
        int r = doctor_transport_lookup(d, list.v[i], d->archive_domain, &value, &w);
        if (r > 0)
            found = 1;
        else if (r < 0 && why == NULL)
            why = xasprintf("%s: %s", list.v[i], w);
        free(w);
    }
    if (!found) {
        char *tfile = xasprintf("%s %s", d->archive_domain, want);
        if (why != NULL)
            doctor_report(d, DOCTOR_WARNING, "transport_maps",
                          xasprintf("run tabularium doctor as root on the Postfix host; the"
                                    " entry needed: %s",
                                    tfile),
                          "transport_maps: cannot look up %s (%s)", d->archive_domain, why);
        else
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("add \"%s\" to the transport file (postmap it) and name it in"
                                    " transport_maps",
                                    tfile),
                          "transport_maps has no lmtp transport for %s: archive copies do not"
                          " reach tabulariumd",
                          d->archive_domain);
        free(tfile);
        goto out;
    }

    transport = xstrndup(value, strcspn(value, ":"));
    svc = doctor_service(d, transport, "unix");
    if (svc != NULL ? strcmp(svc->command, "lmtp") != 0 : strcmp(transport, "lmtp") != 0) {
        if (svc == NULL && d->have_master)
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("route %s to %s", d->archive_domain, want),
                          "transport_maps routes %s to %s, but master.cf has no service \"%s\":"
                          " archive copies do not reach tabulariumd",
                          d->archive_domain, value, transport);
        else if (svc == NULL)
            doctor_report(d, DOCTOR_WARNING, "transport_maps",
                          xstrdup("give --master-file (postconf -M output) to check it"),
                          "transport_maps routes %s to %s: whether the service \"%s\" is lmtp(8)"
                          " is unknown without master.cf",
                          d->archive_domain, value, transport);
        else
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("route %s to %s", d->archive_domain, want),
                          "transport_maps routes %s to %s, a %s(8) service, not lmtp: archive"
                          " copies do not reach tabulariumd",
                          d->archive_domain, value, svc->command);
        goto out;
    }
    d->transport = xstrdup(transport);
    if (!d->have_cfg) {
        doctor_report(d, DOCTOR_INFO, "transport_maps", NULL,
                      "transport_maps routes %s to %s (lmtp_listen unknown: not compared)",
                      d->archive_domain, value);
        goto out;
    }
    /* master.cf's "-" is the built-in default: no chroot since Postfix 3.0. */
    if (svc == NULL) {
        chroot = 1;
        chroot_how = "chroot assumed as on Debian";
    } else if (strcmp(svc->chroot, "y") == 0) {
        chroot = 1;
        chroot_how = "chrooted";
    } else {
        chroot = 0;
        chroot_how = "not chrooted";
    }
    doctor_check_endpoint(d, transport, value, chroot, chroot_how);
out:
    strlist_free(&list);
    free(maps);
    free(value);
    free(why);
    free(want);
    free(transport);
}

/* ---- 3.-6. Postfix parameters -------------------------------------------- */

/* The master.cf service that delivers archive copies: "lmtp" unless
 * transport_maps names another one that runs lmtp(8). */
static const char *doctor_transport_name(const struct doctor *d)
{
    return d->transport != NULL ? d->transport : "lmtp";
}

/*
 * A queue manager limit for the archive transport: TRANSPORT_SUFFIX
 * (qmgr's per-transport parameter), or default_SUFFIX when that is not
 * set, as Postfix falls back. *name_r (heap) is the parameter that applies.
 */
static char *doctor_pf_transport(const struct doctor *d, const char *suffix, char **name_r)
{
    char *name = xasprintf("%s%s", doctor_transport_name(d), suffix);

    if (doctor_param_raw(&d->pf, name) == NULL) {
        free(name);
        name = xasprintf("default%s", suffix);
    }
    *name_r = name;
    return doctor_pf(d, name);
}

/* The delivery service's "-o name=value" in master.cf, or NULL. */
static const char *doctor_service_override(const struct doctor_service *svc, const char *name)
{
    size_t n = strlen(name);

    if (svc == NULL)
        return NULL;
    for (size_t i = svc->overrides.n; i > 0; i--)
        if (strncmp(svc->overrides.v[i - 1], name, n) == 0 && svc->overrides.v[i - 1][n] == '=')
            return svc->overrides.v[i - 1] + n + 1;
    return NULL;
}

/*
 * Postfix splits a message's archive recipients into transactions of at
 * most TRANSPORT_destination_recipient_limit; tabulariumd answers 452 to
 * recipients beyond its lmtp_recipient_limit. The two should agree: the
 * advice is tabulariumd's actual limit, never a fixed number that may be
 * what is set already.
 */
static void doctor_check_recipient_limit(struct doctor *d)
{
    char *name, *v = doctor_pf_transport(d, "_destination_recipient_limit", &name);
    long long want = d->have_cfg ? d->cfg.lmtp_recipient_limit : DOCTOR_RECIPIENT_LIMIT, n;
    char *want_s = xasprintf("%lld", want);
    char *pf_fix = doctor_postconf_fix(d, name, want_s);

    if (doctor_parse_number(v, &n) < 0)
        doctor_report(d, DOCTOR_WARNING, name, xstrdup(pf_fix), "%s = \"%s\" is not a number", name,
                      v);
    else if (n < want && n < DOCTOR_RECIPIENT_LIMIT)
        doctor_report(d, DOCTOR_WARNING, name, xstrdup(pf_fix),
                      "%s = %lld (< %lld): messages with more recipients are split into several"
                      " LMTP transactions (harmless, but noisier)",
                      name, n, want);
    else if (n > want)
        doctor_report(
            d, DOCTOR_WARNING, name,
            xasprintf("%s, or set lmtp_recipient_limit = %lld in %s", pf_fix, n, d->cfg_file),
            "%s = %lld > tabulariumd's lmtp_recipient_limit = %lld: the extra recipients"
            " get 452 and are retried later",
            name, n, want);
    else
        doctor_report(d, DOCTOR_OK, name, NULL, "%s = %lld", name, n);
    free(pf_fix);
    free(want_s);
    free(name);
    free(v);
}

/*
 * lmtp(8) breaks header and body lines longer than lmtp_line_length_limit
 * with CRLF SPACE (smtp_proto.c, smtp_text_out): the original tabulariumd
 * archives is then not the message Postfix received. 0 turns that off.
 */
static void doctor_check_line_length(struct doctor *d)
{
    const char *svc_name = doctor_transport_name(d);
    const struct doctor_service *svc = doctor_service(d, svc_name, "unix");
    const char *over = doctor_service_override(svc, "lmtp_line_length_limit");
    char *v = over != NULL ? xstrdup(over) : doctor_pf(d, "lmtp_line_length_limit");
    char *where = over != NULL
                      ? xasprintf("master.cf service %s: -o lmtp_line_length_limit=%s", svc_name, v)
                      : xasprintf("lmtp_line_length_limit = %s", v);
    long long n;

    if (doctor_parse_number(v, &n) == 0 && n == 0) {
        doctor_report(d, DOCTOR_OK, "lmtp_line_length_limit", NULL,
                      "%s: lmtp(8) passes lines of any length unchanged", where);
    } else {
        char *fix, *svc_word = doctor_shell_word(svc_name);
        if (over != NULL)
            fix = xasprintf("postconf%s%s -P '%s/unix/lmtp_line_length_limit = 0'",
                            d->postconf_dir != NULL ? " -c " : "",
                            d->postconf_dir != NULL ? d->postconf_dir : "", svc_word);
        else
            fix = doctor_postconf_fix(d, "lmtp_line_length_limit", "0");
        doctor_report(d, DOCTOR_ERROR, "lmtp_line_length_limit", fix,
                      "%s: lmtp(8) breaks longer header and body lines with CRLF SPACE, so the"
                      " archived original of such a message is not what Postfix received",
                      where);
        free(svc_word);
    }
    free(where);
    free(v);
}

/*
 * How many connections Postfix may open to tabulariumd at once: the
 * transport's destination concurrency limit, and no more than the
 * service's maxproc in master.cf ("-": default_process_limit; 0: none).
 * tabulariumd serves one connection per worker; one beyond process_limit
 * waits unanswered for a worker to finish a whole (reused) session.
 */
static void doctor_check_concurrency(struct doctor *d)
{
    const char *svc_name = doctor_transport_name(d);
    const struct doctor_service *svc = doctor_service(d, svc_name, "unix");
    char *name, *v = doctor_pf_transport(d, "_destination_concurrency_limit", &name);
    char *maxproc_s = NULL, *how;
    long long conc, maxproc = 0, eff, workers = d->cfg.process_limit;

    if (!d->have_cfg) {
        free(name);
        free(v);
        return;
    }
    if (doctor_parse_number(v, &conc) < 0) {
        doctor_report(d, DOCTOR_WARNING, "lmtp_concurrency", NULL,
                      "%s = \"%s\" is not a number: LMTP concurrency not checked", name, v);
        goto out;
    }
    if (svc != NULL) {
        maxproc_s = strcmp(svc->maxproc, "-") == 0 ? doctor_pf(d, "default_process_limit")
                                                   : xstrdup(svc->maxproc);
        if (doctor_parse_number(maxproc_s, &maxproc) < 0)
            maxproc = 0;
    }
    /* 0 is "no limit" for both. */
    eff = conc;
    if (maxproc > 0 && (eff == 0 || maxproc < eff))
        eff = maxproc;
    how = svc != NULL ? xasprintf("%s = %s, master.cf %s maxproc %s", name, v, svc_name, maxproc_s)
                      : xasprintf("%s = %s, master.cf not read", name, v);
    if (eff == 0 || eff > workers) {
        char *want = xasprintf("%lld", workers);
        char *pf_fix = doctor_postconf_fix(d, name, want);
        char *count = eff == 0 ? xstrdup("any number of") : xasprintf("%lld", eff);
        char *fix =
            eff == 0 ? xstrdup(pf_fix)
                     : xasprintf("%s, or set process_limit = %lld in %s", pf_fix, eff, d->cfg_file);
        doctor_report(d, DOCTOR_ERROR, "lmtp_concurrency", fix,
                      "Postfix may open %s LMTP connections to tabulariumd at once (%s) but"
                      " process_limit = %lld: connections beyond that wait unanswered for a free"
                      " worker",
                      count, how, workers);
        free(count);
        free(pf_fix);
        free(want);
    } else {
        doctor_report(d, DOCTOR_OK, "lmtp_concurrency", NULL,
                      "Postfix opens at most %lld LMTP connections to tabulariumd at once (%s),"
                      " process_limit = %lld",
                      eff, how, workers);
    }
    free(how);
out:
    free(maxproc_s);
    free(name);
    free(v);
}

/* Postfix booleans are "yes" and "no"; -1 for anything else. */
static int doctor_bool(const char *v)
{
    if (strcasecmp(v, "yes") == 0)
        return 1;
    if (strcasecmp(v, "no") == 0)
        return 0;
    return -1;
}

static void doctor_check_xforward(struct doctor *d)
{
    char *v = doctor_pf(d, "lmtp_send_xforward_command");

    if (doctor_bool(v) == 1)
        doctor_report(d, DOCTOR_OK, "lmtp_send_xforward_command", NULL,
                      "lmtp_send_xforward_command = yes: tabulariumd gets Postfix's queue id");
    else
        doctor_report(d, DOCTOR_WARNING, "lmtp_send_xforward_command",
                      doctor_postconf_fix(d, "lmtp_send_xforward_command", "yes"),
                      "lmtp_send_xforward_command = %s: tabulariumd takes the queue id from the"
                      " Received: header instead of XFORWARD IDENT",
                      v);
    free(v);
}

static void doctor_check_smtputf8(struct doctor *d)
{
    char *v = doctor_pf(d, "smtputf8_enable");

    if (doctor_bool(v) == 0)
        doctor_report(d, DOCTOR_WARNING, "smtputf8_enable",
                      doctor_postconf_fix(d, "smtputf8_enable", "yes"),
                      "smtputf8_enable = no: Postfix refuses mail with UTF-8 addresses, so it"
                      " is neither delivered nor archived (tabulariumd announces SMTPUTF8)");
    else
        doctor_report(d, DOCTOR_OK, "smtputf8_enable", NULL, "smtputf8_enable = %s", v);
    free(v);
}

/*
 * Postfix's own bounces, delay and success notices: post_mail.c submits
 * them without CLEANUP_FLAG_BCC_OK, so recipient_bcc_maps never sees
 * them. Archived only when the bounce, defer and trace services ask for
 * header checks (internal_mail_filter_classes with "bounce") from a
 * cleanup service whose header_checks have our BCC rule, as README.md
 * sets up. A gap in the archive, not a broken one: a warning.
 */
static void doctor_check_notices(struct doctor *d)
{
    static const char *const posters[] = {"bounce", "defer", "trace"};
    char *fix = xstrdup("the tabularium-cleanup lines of README.md, \"Postfix setup\"");
    const char *missing = NULL, *cleanup = NULL;

    if (!d->have_master) {
        doctor_report(d, DOCTOR_INFO, "notices", NULL,
                      "master.cf not read: whether Postfix's bounces are archived is not checked");
        free(fix);
        return;
    }
    for (size_t i = 0; i < sizeof(posters) / sizeof(posters[0]) && missing == NULL; i++) {
        const struct doctor_service *svc = doctor_service(d, posters[i], "unix");
        const char *classes = doctor_service_override(svc, "internal_mail_filter_classes");
        const char *cs = doctor_service_override(svc, "cleanup_service_name");
        struct strlist l = STRLIST_INIT;
        int has_bounce = 0;

        if (svc == NULL)
            continue;
        if (classes != NULL)
            doctor_split_list(classes, &l);
        for (size_t k = 0; k < l.n; k++)
            has_bounce |= strcasecmp(l.v[k], "bounce") == 0;
        strlist_free(&l);
        if (!has_bounce || cs == NULL || (cleanup != NULL && strcmp(cs, cleanup) != 0))
            missing = posters[i];
        else
            cleanup = cs;
    }
    if (missing == NULL && cleanup != NULL) {
        const struct doctor_service *c = doctor_service(d, cleanup, "unix");
        const char *hc = doctor_service_override(c, "header_checks");
        if (c == NULL || strcmp(c->command, "cleanup") != 0 || hc == NULL) {
            doctor_report(d, DOCTOR_WARNING, "notices", fix,
                          "master.cf: the bounce services post through \"%s\", which is not a"
                          " cleanup service with header_checks of its own: Postfix's bounces"
                          " and delay notices are not archived",
                          cleanup);
            return;
        }
        doctor_report(d, DOCTOR_OK, "notices", NULL,
                      "Postfix's bounces and notices go through %s (header_checks = %s) and get"
                      " an archive copy",
                      cleanup, hc);
        free(fix);
        return;
    }
    doctor_report(d, DOCTOR_WARNING, "notices", fix,
                  "master.cf service %s lacks -o internal_mail_filter_classes=bounce and -o"
                  " cleanup_service_name=tabularium-cleanup: Postfix's own bounces and delay"
                  " notices are not archived",
                  missing != NULL ? missing : "bounce");
}

static void doctor_check_queue_lifetime(struct doctor *d)
{
    char *v = doctor_pf(d, "maximal_queue_lifetime");
    long long secs;

    if (doctor_parse_time(v, 'd', &secs) < 0)
        doctor_report(d, DOCTOR_WARNING, "maximal_queue_lifetime",
                      doctor_postconf_fix(d, "maximal_queue_lifetime", "30d"),
                      "maximal_queue_lifetime = \"%s\" is not a time", v);
    else if (secs < DOCTOR_QUEUE_LIFETIME)
        doctor_report(d, DOCTOR_WARNING, "maximal_queue_lifetime",
                      doctor_postconf_fix(d, "maximal_queue_lifetime", "30d"),
                      "maximal_queue_lifetime = %s (< 5d): archive copies that wait longer"
                      " (tabulariumd down) are dropped silently (NOTIFY=NEVER)",
                      v);
    else
        doctor_report(d, DOCTOR_OK, "maximal_queue_lifetime", NULL,
                      "maximal_queue_lifetime = %s: copies wait that long while tabulariumd is"
                      " unavailable; monitor the queue",
                      v);
    free(v);
}

/* ---- 7. the Tabularium side ---------------------------------------------- */

static void doctor_check_size(struct doctor *d)
{
    long long ours = d->cfg.message_size_limit, theirs;
    char *v;

    if (!d->have_postfix) {
        doctor_report(d, DOCTOR_INFO, "message_size_limit", NULL,
                      "message_size_limit = %lld: Postfix's limit unknown, not compared", ours);
        return;
    }
    v = doctor_pf(d, "message_size_limit");
    if (doctor_parse_number(v, &theirs) < 0) {
        doctor_report(d, DOCTOR_WARNING, "message_size_limit", NULL,
                      "Postfix's message_size_limit = \"%s\" is not a number: not compared", v);
    } else if (ours != 0 && (theirs == 0 || ours < theirs)) {
        char *want = theirs == 0 ? xstrdup("0") : xasprintf("0 (or at least %lld)", theirs);
        doctor_report(d, DOCTOR_ERROR, "message_size_limit",
                      doctor_config_fix(d, "message_size_limit", want),
                      "message_size_limit = %lld in %s is smaller than Postfix's"
                      " message_size_limit = %s: larger archive copies get 552 and are lost"
                      " silently",
                      ours, d->cfg_file, theirs == 0 ? "0 (no limit)" : v);
        free(want);
    } else {
        doctor_report(d, DOCTOR_OK, "message_size_limit", NULL,
                      "message_size_limit = %lld: tabulariumd takes every message Postfix"
                      " accepts (Postfix: %s)",
                      ours, v);
    }
    free(v);
}

static void doctor_check_socket(struct doctor *d)
{
    const struct tab_config *c = &d->cfg;
    int mode = c->lmtp_socket_mode;
    char *want;

    if (strncmp(c->lmtp_listen, "unix:", 5) != 0)
        return;
    if ((strcmp(c->lmtp_socket_group, "postfix") == 0 && (mode & 020)) ||
        (strcmp(c->lmtp_socket_owner, "postfix") == 0 && (mode & 0200)) || (mode & 02)) {
        doctor_report(d, DOCTOR_OK, "lmtp_socket", NULL,
                      "%s: mode %04o, owner %s, group %s: user postfix may connect", c->lmtp_listen,
                      (unsigned)mode, *c->lmtp_socket_owner ? c->lmtp_socket_owner : "(daemon's)",
                      *c->lmtp_socket_group ? c->lmtp_socket_group : "(daemon's)");
        return;
    }
    want =
        xasprintf("set lmtp_socket_group = postfix and lmtp_socket_mode = 0660 in %s", d->cfg_file);
    doctor_report(d, DOCTOR_WARNING, "lmtp_socket", want,
                  "%s: mode %04o, owner %s, group %s: Postfix's lmtp client (user postfix) may"
                  " not be allowed to connect",
                  c->lmtp_listen, (unsigned)mode,
                  *c->lmtp_socket_owner ? c->lmtp_socket_owner : "(daemon's)",
                  *c->lmtp_socket_group ? c->lmtp_socket_group : "(daemon's)");
}

/*
 * In a child that has become mail_owner exactly as tabulariumd's workers
 * do (privs_drop: its uid and primary group only), walk path one
 * component at a time and write the verdict to fd: "ok", "readonly"
 * (path exists, not writable), "missing PREFIX" (the first component that
 * does not exist), "search PREFIX" (a component it cannot enter), or
 * "drop REASON". As root, access() would say yes to everything.
 */
static void doctor_walk_as_owner(const struct privs *pv, const char *path, int fd)
{
    char *copy = xstrdup(path), *error = NULL;
    char *verdict = NULL;

    if (privs_drop(pv, &error) < 0) {
        verdict = xasprintf("drop %s", error);
        goto out;
    }
    for (char *p = copy + 1;; p++) {
        struct stat sb;
        char c = *p;
        int last = c == '\0' || (c == '/' && p[1] == '\0');

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (stat(copy, &sb) < 0) {
            verdict = xasprintf("%s %s", errno == ENOENT ? "missing" : "search", copy);
            break;
        }
        if (last) {
            verdict = xstrdup(access(copy, W_OK | X_OK) == 0 ? "ok" : "readonly");
            break;
        }
        if (access(copy, X_OK) < 0) {
            verdict = xasprintf("search %s", copy);
            break;
        }
        *p = c;
    }
out:
    if (verdict != NULL && write(fd, verdict, strlen(verdict)) < 0)
        _exit(1);
    _exit(0);
}

/* The verdict of doctor_walk_as_owner (heap), NULL when it could not run. */
static char *doctor_access_as_owner(const struct privs *pv, const char *path)
{
    char buf[PATH_MAX + 64];
    size_t len = 0;
    int fds[2], status;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return NULL;
    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        close(fds[0]);
        doctor_walk_as_owner(pv, path, fds[1]);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(buf) - 1)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    buf[len] = '\0';
    return len > 0 ? xstrdup(buf) : NULL;
}

static void doctor_check_directory(struct doctor *d, const char *name, const char *path)
{
    const char *owner = d->cfg.mail_owner;
    struct privs pv;
    struct stat sb;
    char *error = NULL, *verdict, *where;

    if (geteuid() != 0 || !d->have_owner) {
        /* Not root: only our own access can be checked. */
        if (stat(path, &sb) < 0)
            doctor_report(d, DOCTOR_WARNING, name, NULL, "%s = %s: %s", name, path,
                          errno == ENOENT ? "does not exist yet: tabulariumd creates it at start"
                                          : strerror(errno));
        else if (!S_ISDIR(sb.st_mode))
            doctor_report(d, DOCTOR_ERROR, name,
                          xasprintf("set %s to a directory in %s", name, d->cfg_file),
                          "%s = %s is not a directory", name, path);
        else
            doctor_report(d, DOCTOR_INFO, name,
                          xstrdup("run tabularium doctor as root to check it as mail_owner"),
                          "%s = %s exists; %s by uid %ld (not checked as mail_owner %s)", name,
                          path, access(path, W_OK | X_OK) == 0 ? "writable" : "not writable",
                          (long)getuid(), owner);
        return;
    }
    if (stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        doctor_report(d, DOCTOR_ERROR, name,
                      xasprintf("set %s to a directory in %s", name, d->cfg_file),
                      "%s = %s is not a directory", name, path);
        return;
    }
    if (privs_init(owner, &pv, &error) < 0) {
        free(error); /* reported once by doctor_check_owner */
        return;
    }
    verdict = doctor_access_as_owner(&pv, path);
    if (verdict == NULL) {
        doctor_report(d, DOCTOR_WARNING, name, NULL,
                      "%s = %s: could not check it as mail_owner %s (fork: %s)", name, path, owner,
                      strerror(errno));
        return;
    }
    where = strchr(verdict, ' ') != NULL ? strchr(verdict, ' ') + 1 : verdict;
    if (strcmp(verdict, "ok") == 0) {
        doctor_report(d, DOCTOR_OK, name, NULL, "%s = %s exists and is writable by mail_owner %s",
                      name, path, owner);
    } else if (strcmp(verdict, "readonly") == 0) {
        doctor_report(d, DOCTOR_OK, name, NULL,
                      "%s = %s exists; tabulariumd gives it to mail_owner %s at start", name, path,
                      owner);
    } else if (strncmp(verdict, "search ", 7) == 0) {
        struct stat pb;
        char *how = stat(where, &pb) == 0
                        ? xasprintf("mode %04o, uid %ld, gid %ld", (unsigned)(pb.st_mode & 07777),
                                    (long)pb.st_uid, (long)pb.st_gid)
                        : xstrdup(strerror(errno));
        doctor_report(d, DOCTOR_ERROR, name,
                      xasprintf("set %s in %s to a place %s can reach (e.g. under /var/lib), or let"
                                " it enter %s (chmod o+x, or a group it is in)",
                                name, d->cfg_file, owner, where),
                      "%s = %s: mail_owner %s (uid %ld) cannot enter %s (%s): tabulariumd"
                      " refuses to start or defers every delivery",
                      name, path, owner, (long)pv.uid, where, how);
        free(how);
    } else if (strncmp(verdict, "missing ", 8) == 0) {
        /* tabulariumd creates what is missing as root, mode 0700, and
         * gives only data_directory and queue_directory to mail_owner. */
        size_t wl = strlen(where);
        int managed = strcmp(where, path) == 0 ||
                      (strcmp(name, "queue_directory") == 0 &&
                       strcmp(where, d->cfg.data_directory) == 0 && strncmp(path, where, wl) == 0 &&
                       path[wl] == '/' && strchr(path + wl + 1, '/') == NULL);
        if (managed)
            doctor_report(d, DOCTOR_WARNING, name, NULL,
                          "%s = %s does not exist yet: tabulariumd creates it at start", name,
                          path);
        else {
            char *parent = xstrdup(path), *slash = strrchr(parent, '/');
            if (slash != NULL && slash != parent)
                *slash = '\0';
            doctor_report(d, DOCTOR_ERROR, name,
                          xasprintf("create the parent first: (umask 022; mkdir -p %s)", parent),
                          "%s = %s: tabulariumd would create %s as root with mode 0700, which"
                          " mail_owner %s cannot enter",
                          name, path, where, owner);
            free(parent);
        }
    } else {
        doctor_report(d, DOCTOR_WARNING, name, NULL, "%s = %s: cannot check it as mail_owner: %s",
                      name, path, where);
    }
    free(verdict);
}

/* mail_owner must exist and must not be root, or tabulariumd does not start. */
static void doctor_check_owner(struct doctor *d)
{
    struct privs pv;
    char *error = NULL;

    if (geteuid() != 0)
        return;
    if (privs_init(d->cfg.mail_owner, &pv, &error) < 0) {
        doctor_report(d, DOCTOR_ERROR, "mail_owner", NULL, "%s", error);
        free(error);
        return;
    }
    d->have_owner = 1;
    doctor_report(d, DOCTOR_OK, "mail_owner", NULL, "mail_owner = %s (uid %ld, gid %ld)",
                  d->cfg.mail_owner, (long)pv.uid, (long)pv.gid);
}

static void doctor_check_catalog(struct doctor *d)
{
    const char *spec = d->cfg.archive_catalog;
    struct stat sb;

    if (strncmp(spec, "sqlite:", 7) != 0) {
        doctor_report(d, DOCTOR_INFO, "archive_catalog", NULL,
                      "archive_catalog = %s: not checked here", spec);
        return;
    }
    if (stat(spec + 7, &sb) == 0)
        doctor_report(d, DOCTOR_OK, "archive_catalog", NULL,
                      "archive_catalog = %s exists (%lld"
                      " bytes)",
                      spec, (long long)sb.st_size);
    else
        doctor_report(d, DOCTOR_INFO, "archive_catalog", NULL,
                      "archive_catalog = %s: %s (tabulariumd creates it)", spec,
                      errno == ENOENT ? "no catalog yet" : strerror(errno));
}

static void doctor_check_tabularium(struct doctor *d)
{
    if (!d->have_cfg) {
        doctor_report(
            d, DOCTOR_ERROR, "config",
            xasprintf("correct %s (tabularium -c FILE selects another file)", d->cfg_file),
            "the Tabularium configuration does not load: %s", d->cfg_error);
        return;
    }
    doctor_report(d, DOCTOR_OK, "config", NULL, "%s loads",
                  config_file(&d->cfg) != NULL ? config_file(&d->cfg)
                                               : "no configuration file, built-in defaults");
    doctor_check_size(d);
    doctor_check_socket(d);
    doctor_check_owner(d);
    doctor_check_directory(d, "data_directory", d->cfg.data_directory);
    doctor_check_directory(d, "queue_directory", d->cfg.queue_directory);
    doctor_check_catalog(d);
}

/* ---- 8. is tabulariumd answering? ---------------------------------------- */

struct doctor_lmtp {
    int fd;
    long long deadline;
    char buf[DOCTOR_LMTP_LINE_MAX];
    size_t len;
};

/* Connect within the deadline; -1 with *error_r (static or strerror). */
static int doctor_lmtp_connect(struct doctor_lmtp *l, const char *listen, const char **error_r)
{
    struct doctor_endpoint ep;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, err = ECONNREFUSED;

    doctor_endpoint_parse(listen, 0, &ep);
    if (ep.is_unix) {
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (strlen(ep.path) >= sizeof(sun.sun_path)) {
            *error_r = "socket path too long";
            goto out;
        }
        memcpy(sun.sun_path, ep.path, strlen(ep.path) + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            *error_r = strerror(errno);
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
        goto out;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    {
        const char *host = ep.host;
        int gai;
        if (strcmp(host, "::") == 0)
            host = "::1";
        else if (doctor_is_any_host(host))
            host = "127.0.0.1";
        gai = getaddrinfo(host, ep.port, &hints, &res);
        if (gai != 0) {
            *error_r = gai_strerror(gai);
            goto out;
        }
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        struct pollfd pfd;
        socklen_t sl = sizeof(err);
        long long left;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        err = errno;
        if (err == EINPROGRESS) {
            left = l->deadline - clock_monotonic_ms();
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (left > 0 && poll(&pfd, 1, (int)left) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0)
                break;
            if (left <= 0 || err == EINPROGRESS)
                err = ETIMEDOUT;
        }
        close(fd);
        fd = -1;
    }
    if (fd < 0)
        *error_r = strerror(err);
out:
    if (res != NULL)
        freeaddrinfo(res);
    doctor_endpoint_free(&ep);
    l->fd = fd;
    return fd < 0 ? -1 : 0;
}

static int doctor_lmtp_wait(struct doctor_lmtp *l, short events, const char **error_r)
{
    struct pollfd pfd = {l->fd, events, 0};
    long long left = l->deadline - clock_monotonic_ms();
    int n;

    if (left <= 0) {
        *error_r = "timed out";
        return -1;
    }
    n = poll(&pfd, 1, (int)left);
    if (n < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    if (n == 0) {
        *error_r = "timed out";
        return -1;
    }
    return 0;
}

static int doctor_lmtp_send(struct doctor_lmtp *l, const char *s, const char **error_r)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t n = send(l->fd, s + off, len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                *error_r = strerror(errno);
                return -1;
            }
            if (doctor_lmtp_wait(l, POLLOUT, error_r) < 0)
                return -1;
            continue;
        }
        off += (size_t)n;
    }
    return 0;
}

/*
 * One reply (all its lines): the code, its lines (text after "NNN-" or
 * "NNN ") in *lines. -1 with *error_r on timeout, EOF or garbage.
 */
static int doctor_lmtp_reply(struct doctor_lmtp *l, struct strlist *lines, const char **error_r)
{
    for (;;) {
        char *nl = memchr(l->buf, '\n', l->len);
        ssize_t n;

        if (nl != NULL) {
            size_t ll = (size_t)(nl - l->buf);
            int code, last;
            if (ll > 0 && l->buf[ll - 1] == '\r')
                ll--;
            if (ll < 3 || !isdigit((unsigned char)l->buf[0]) ||
                !isdigit((unsigned char)l->buf[1]) || !isdigit((unsigned char)l->buf[2]) ||
                (ll > 3 && l->buf[3] != ' ' && l->buf[3] != '-')) {
                *error_r = "not an LMTP reply";
                return -1;
            }
            code = (l->buf[0] - '0') * 100 + (l->buf[1] - '0') * 10 + (l->buf[2] - '0');
            last = ll == 3 || l->buf[3] == ' ';
            strlist_add_n(lines, ll > 4 ? l->buf + 4 : "", ll > 4 ? ll - 4 : 0);
            l->len -= (size_t)(nl + 1 - l->buf);
            memmove(l->buf, nl + 1, l->len);
            if (last)
                return code;
            continue;
        }
        if (l->len == sizeof(l->buf)) {
            *error_r = "reply line too long";
            return -1;
        }
        n = recv(l->fd, l->buf + l->len, sizeof(l->buf) - l->len, 0);
        if (n > 0) {
            l->len += (size_t)n;
            continue;
        }
        if (n == 0) {
            *error_r = "connection closed";
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *error_r = strerror(errno);
            return -1;
        }
        if (doctor_lmtp_wait(l, POLLIN, error_r) < 0)
            return -1;
    }
}

static int doctor_has_keyword(const struct strlist *lines, const char *kw)
{
    size_t n = strlen(kw);

    /* lines[0] is the greeting line of the 250 reply: the host name. */
    for (size_t i = 1; i < lines->n; i++)
        if (strncasecmp(lines->v[i], kw, n) == 0 &&
            (lines->v[i][n] == '\0' || lines->v[i][n] == ' '))
            return 1;
    return 0;
}

static void doctor_check_daemon(struct doctor *d)
{
    const char *listen = d->cfg.lmtp_listen, *error = NULL;
    struct doctor_lmtp *l = xcalloc(1, sizeof(*l));
    struct strlist lines = STRLIST_INIT;
    char *fix = xstrdup("start tabulariumd (systemctl start tabulariumd), and see its log");
    int code;

    l->fd = -1;
    l->deadline = clock_monotonic_ms() + DOCTOR_LMTP_TIMEOUT_MS;
    if (doctor_lmtp_connect(l, listen, &error) < 0) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "nothing listens on %s (%s)", listen,
                      error);
        fix = NULL;
        goto out;
    }
    code = doctor_lmtp_reply(l, &lines, &error);
    if (code != 220) {
        if (code < 0)
            doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: no LMTP greeting (%s)", listen,
                          error);
        else
            doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: no LMTP greeting (got %d %s)",
                          listen, code, lines.v[lines.n - 1]);
        fix = NULL;
        goto out;
    }
    strlist_free(&lines);
    if (doctor_lmtp_send(l, "LHLO doctor\r\n", &error) < 0 ||
        (code = doctor_lmtp_reply(l, &lines, &error)) < 0) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: LHLO failed: %s", listen, error);
        fix = NULL;
        goto out;
    }
    if (code != 250) {
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", fix, "%s: LHLO answered %d %s", listen, code,
                      lines.n > 0 ? lines.v[lines.n - 1] : "");
        fix = NULL;
        goto out;
    }
    /* QUIT is a courtesy: the answer was already had. */
    if (doctor_lmtp_send(l, "QUIT\r\n", &error) == 0) {
        struct strlist bye = STRLIST_INIT;
        (void)doctor_lmtp_reply(l, &bye, &error);
        strlist_free(&bye);
    }
    if (!doctor_has_keyword(&lines, "SMTPUTF8"))
        doctor_report(d, DOCTOR_ERROR, "tabulariumd", xstrdup("upgrade tabulariumd"),
                      "%s answers but does not announce SMTPUTF8: Postfix drops SMTPUTF8 archive"
                      " copies silently",
                      listen);
    else if (!doctor_has_keyword(&lines, "XFORWARD") || !doctor_has_keyword(&lines, "PIPELINING"))
        doctor_report(d, DOCTOR_WARNING, "tabulariumd", NULL,
                      "%s answers but does not announce %s: is it tabulariumd?", listen,
                      !doctor_has_keyword(&lines, "XFORWARD") ? "XFORWARD" : "PIPELINING");
    else
        doctor_report(d, DOCTOR_OK, "tabulariumd", NULL,
                      "tabulariumd answers on %s (PIPELINING, SMTPUTF8, XFORWARD)", listen);
out:
    if (l->fd >= 0)
        close(l->fd);
    free(l);
    free(fix);
    strlist_free(&lines);
}

/* ---- the command ---------------------------------------------------------- */

static void doctor_free(struct doctor *d)
{
    if (d->have_cfg)
        config_free(&d->cfg);
    free(d->cfg_error);
    doctor_params_free(&d->pf);
    for (size_t i = 0; i < d->n_services; i++) {
        free(d->services[i].name);
        free(d->services[i].type);
        free(d->services[i].chroot);
        free(d->services[i].maxproc);
        free(d->services[i].command);
        strlist_free(&d->services[i].overrides);
    }
    free(d->services);
    free(d->archive_domain);
    free(d->transport);
    cli_output_free(&d->out);
}

int cli_doctor(struct cli_context *ctx, int argc, char **argv)
{
    static const struct config_source no_opts;
    const struct config_source *opts = ctx->opts != NULL ? ctx->opts : &no_opts;
    struct doctor d;
    int operand, status;
    const struct cli_option options[] = {
        CLI_OPTION_STRING("postconf-dir", &d.postconf_dir),
        CLI_OPTION_STRING("postconf-file", &d.postconf_file),
        CLI_OPTION_STRING("master-file", &d.master_file),
        CLI_OPTION_FLAG("json", &d.json),
        CLI_OPTION_END,
    };
    const struct cli_syntax syntax = {"doctor", cli_doctor_help, options, NULL};

    memset(&d, 0, sizeof(d));
    status = cli_parse_options(&syntax, argc, argv, &operand);
    if (status != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_USAGE;
    if (operand < argc)
        return cli_unexpected_operand(&syntax, argv[operand]);
    if (d.postconf_dir != NULL && d.postconf_file != NULL)
        return cli_usage_error("doctor", "%s",
                               "--postconf-dir and --postconf-file exclude each other");
    if (d.master_file != NULL && d.postconf_file == NULL)
        return cli_usage_error("doctor", "%s", "--master-file goes with --postconf-file");

    d.out = d.json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if (config_load_source(opts, &d.cfg, &d.cfg_error) == 0)
        d.have_cfg = 1;
    d.cfg_file = d.have_cfg && config_file(&d.cfg) != NULL
                     ? config_file(&d.cfg)
                     : (opts->config_path != NULL ? opts->config_path : CONFIG_DEFAULT_FILE);

    if (doctor_load_postfix(&d) < 0)
        goto out;
    if (d.have_postfix) {
        doctor_check_bcc(&d);
        doctor_check_transport(&d);
        doctor_check_recipient_limit(&d);
        doctor_check_line_length(&d);
        doctor_check_concurrency(&d);
        doctor_check_xforward(&d);
        doctor_check_smtputf8(&d);
        doctor_check_queue_lifetime(&d);
        doctor_check_notices(&d);
    }
    doctor_check_tabularium(&d);
    if (d.have_cfg)
        doctor_check_daemon(&d);
    if (!d.json) {
        char *sum = xasprintf("%u ok, %u warnings, %u errors", d.n_ok, d.n_warnings, d.n_errors);
        d.out->string(d.out, sum);
        d.out->separator(d.out);
        free(sum);
    }
    status = d.n_errors > 0 ? 1 : 0;
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium doctor: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    doctor_free(&d);
    return status;
}
