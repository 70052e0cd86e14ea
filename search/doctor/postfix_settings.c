/*
 * NAME
 *	doctor postfix_settings 3
 * SUMMARY
 *	tabularium doctor: read Postfix's main.cf parameters and master.cf services
 * DESCRIPTION
 *	doctor_load_postfix() gets Postfix's effective parameters from
 *	postconf -x (or postconf -c DIR -x with --postconf-dir, or from a
 *	--postconf-file of "name = value" lines, completed with the Postfix
 *	3.7 defaults of the parameters checked and $name expanded as Postfix
 *	does) and the master.cf services from postconf -M (or --master-file).
 *	Also the syntax helpers the checks share: Postfix lists, times,
 *	numbers, table files.
 *
 *	postconf and postmap are run with posix_spawnp and pipes, never
 *	through a shell: map names and directories come from configuration
 *	files. A child that does not finish in DOCTOR_CHILD_TIMEOUT seconds
 *	is killed (only that child). Must never change Postfix's files.
 * DIAGNOSTICS
 *	No postconf in PATH is a warning finding, a failing postconf an
 *	error finding: then only the Tabularium side is checked. An
 *	unreadable --postconf-file or --master-file, a postconf that cannot
 *	be run, or one that fails on --postconf-dir, is a line on stderr and
 *	-1: the command exits 2.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/mac_expand.h"
#include "common/strlist.h"
#include "search/doctor/doctor.h"

extern char **environ;

/* postconf or postmap that hangs (an unreachable ldap: map) is killed. */
#define DOCTOR_CHILD_TIMEOUT 10
/* postconf prints about 100 KB; anything far larger is not postconf. */
#define DOCTOR_CHILD_OUTPUT_MAX (8 * 1024 * 1024)

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

/* ---- running postconf and postmap ---------------------------------------- */

void doctor_child_free(struct doctor_child *c)
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
int doctor_run(char *const argv[], struct doctor_child *c, int *errno_r)
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
char *doctor_child_error(const struct doctor_child *c)
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

void doctor_params_free(struct doctor_params *p)
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
const char *doctor_param_raw(const struct doctor_params *p, const char *name)
{
    for (size_t i = p->names.n; i > 0; i--)
        if (strcmp(p->names.v[i - 1], name) == 0)
            return p->values.v[i - 1];
    return doctor_postfix_default(name);
}

static char *doctor_expand(const struct doctor_params *p, const char *value, int depth);

/* mac_expand()'s lookup: Postfix expands an unknown parameter to nothing. */
static char *doctor_expand_lookup(void *ctx, const char *name, int depth, const char **error_r)
{
    const char *sub = doctor_param_raw(ctx, name);
    char *v = doctor_expand(ctx, sub != NULL ? sub : "", depth);

    if (v == NULL)
        *error_r = "not expanded";
    return v;
}

/*
 * $name, ${name}, $(name) and $$ expanded as Postfix does
 * (common/mac_expand.c); NULL for what only Postfix evaluates (${name?x},
 * ${{expr}}) or a reference loop: the caller then falls back to the
 * default.
 */
static char *doctor_expand(const struct doctor_params *p, const char *value, int depth)
{
    const struct mac_expand mx = {MAC_EXPAND_PARENS | MAC_EXPAND_DOLLAR, 20, doctor_expand_lookup,
                                  (void *)p};
    const char *error = NULL;

    return mac_expand(&mx, value, depth, &error);
}

/* A Postfix parameter's effective value (heap). */
char *doctor_pf(const struct doctor *d, const char *name)
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
void doctor_split_list(const char *s, struct strlist *l)
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
int doctor_parse_time(const char *s, char def_unit, long long *secs_r)
{
    /* Seconds per unit, in the order of "smhdw". */
    static const long long unit_secs[] = {1, 60, 3600, 86400, 604800};
    const char *units = "smhdw", *u;
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
    u = unit != '\0' ? strchr(units, unit) : NULL;
    if (u == NULL)
        return -1;
    *secs_r = n > LLONG_MAX / unit_secs[u - units] ? LLONG_MAX : n * unit_secs[u - units];
    return 0;
}

int doctor_parse_number(const char *s, long long *n_r)
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

const struct doctor_service *doctor_service(const struct doctor *d, const char *name,
                                            const char *type)
{
    for (size_t i = 0; i < d->n_services; i++)
        if (strcmp(d->services[i].name, name) == 0 && strcmp(d->services[i].type, type) == 0)
            return &d->services[i];
    return NULL;
}

int doctor_read_file(const char *path, char **text_r, const char **error_r)
{
    struct buf text = BUF_INIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || buf_read_fd(&text, fd) < 0) {
        *error_r = strerror(errno);
        if (fd >= 0)
            (void)close(fd); /* read-only */
        buf_free(&text);
        return -1;
    }
    (void)close(fd); /* read-only */
    *text_r = text.data != NULL ? text.data : xstrdup("");
    return 0;
}

/*
 * Fill d->pf (and d->services) from postconf or the files. 0 ok (also
 * when postconf is not installed: d->have_postfix = 0), -1 for a failure
 * that makes the command's own arguments wrong (exit 2).
 */
int doctor_load_postfix(struct doctor *d)
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
void doctor_table_lines(const char *text, struct strlist *lines)
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
