/*
 * NAME
 *	doctor check_tabularium 3
 * SUMMARY
 *	tabularium doctor: the Tabularium configuration and what it names
 * DESCRIPTION
 *	7. message_size_limit against Postfix's (a copy tabulariumd refuses
 *	with 552 is lost silently), the unix socket's permissions,
 *	mail_owner (must exist and must not be root), the data and queue
 *	directories, the catalog, and the tab-attach-text program (without
 *	it the text inside PDF, OOXML and ODF attachments is not indexed); a
 *	configuration that does not load is itself the finding.
 *
 *	The directories are checked as mail_owner, in a child that drops to
 *	it as the workers do (common/privs.c): as root, access() would pass
 *	a directory under a parent only root can enter, where tabulariumd
 *	then refuses to start. Never creates a directory or a catalog.
 * DIAGNOSTICS
 *	Findings only (doctor_report).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "common/config.h"
#include "common/privs.h"
#include "common/strlist.h"
#include "mail/attach_text.h"
#include "search/doctor/doctor.h"

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
    char *copy = xstrdup(path);
    const char *error = NULL;
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
    const char *error = NULL;
    char *verdict, *where;

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
    if (privs_init(owner, &pv, &error) < 0)
        return; /* reported once by doctor_check_owner */
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
    const char *error = NULL;

    if (geteuid() != 0)
        return;
    if (privs_init(d->cfg.mail_owner, &pv, &error) < 0) {
        doctor_report(d, DOCTOR_ERROR, "mail_owner", NULL, "%s", error);
        return;
    }
    d->have_owner = 1;
    doctor_report(d, DOCTOR_OK, "mail_owner", NULL, "mail_owner = %s (uid %ld, gid %ld)",
                  d->cfg.mail_owner, (long)pv.uid, (long)pv.gid);
}

static void doctor_check_catalog(struct doctor *d)
{
    const char *spec = d->cfg.archive_catalog;
    const char *file = catalog_spec_local_file(spec);
    struct stat sb;

    if (file == NULL) {
        doctor_report(d, DOCTOR_INFO, "archive_catalog", NULL,
                      "archive_catalog = %s: not checked here", spec);
        return;
    }
    if (stat(file, &sb) == 0)
        doctor_report(d, DOCTOR_OK, "archive_catalog", NULL,
                      "archive_catalog = %s exists (%lld"
                      " bytes)",
                      spec, (long long)sb.st_size);
    else
        doctor_report(d, DOCTOR_INFO, "archive_catalog", NULL,
                      "archive_catalog = %s: %s (tabulariumd creates it)", spec,
                      errno == ENOENT ? "no catalog yet" : strerror(errno));
}

/* Looked for as the indexer looks for it (attach_text_program()). */
static void doctor_check_attach_reader(struct doctor *d)
{
    char *path = attach_text_program();

    if (access(path, X_OK) == 0)
        doctor_report(d, DOCTOR_OK, "attachments", NULL,
                      "%s reads the text inside PDF, OOXML and ODF attachments", path);
    else
        doctor_report(
            d, DOCTOR_WARNING, "attachments",
            xasprintf("install it beside tabulariumd or in %s (cmake --install)", TAB_HELPER_DIR),
            "%s: %s: the text inside PDF, OOXML and ODF attachments is not indexed", path,
            strerror(errno));
    free(path);
}

void doctor_check_tabularium(struct doctor *d)
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
    doctor_check_attach_reader(d);
}
