/*
 * NAME
 *	privs 3
 * SUMMARY
 *	switching to the unprivileged mail_owner account
 * DESCRIPTION
 *	A daemon that parses mail from the network must not do so as root.
 *	privs_init() resolves mail_owner (and refuses root: a uid or gid of 0
 *	would make the drop meaningless); privs_drop() sets the supplementary
 *	groups, the gid and the uid, then checks that root cannot be
 *	regained.
 * DIAGNOSTICS
 *	Unknown account, an account that is root, or a failing set*id():
 *	-1 with a message. Callers treat that as fatal (exit 2 at start).
 */
#include "common/privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/strlist.h"

/* The text of the last failure (const char **error_r). */
static char *privs_error;

int privs_init(const char *mail_owner, struct privs *p, const char **error_r)
{
    struct passwd *pw;

    p->active = geteuid() == 0;
    p->uid = geteuid();
    p->gid = getegid();
    if (!p->active)
        return 0;
    errno = 0;
    pw = getpwnam(mail_owner);
    if (pw == NULL) {
        *error_r = xsetf(&privs_error,
                         "mail_owner \"%s\": no such user%s%s (create it: useradd --system "
                         "--home-dir /var/lib/tabularium --shell /usr/sbin/nologin %s)",
                         mail_owner, errno ? ": " : "", errno ? strerror(errno) : "", mail_owner);
        return -1;
    }
    if (pw->pw_uid == 0 || pw->pw_gid == 0) {
        *error_r = xsetf(&privs_error,
                         "mail_owner \"%s\" has uid or gid 0: refusing to run workers as "
                         "root; use an unprivileged account",
                         mail_owner);
        return -1;
    }
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    return 0;
}

int privs_chown(const struct privs *p, const char *path, const char **error_r)
{
    if (!p->active)
        return 0;
    if (lchown(path, p->uid, p->gid) < 0) {
        *error_r = xsetf(&privs_error, "cannot give %s to uid %ld: %s", path, (long)p->uid,
                         strerror(errno));
        return -1;
    }
    return 0;
}

int privs_check_access(const struct privs *p, const char *path, const char **error_r)
{
    int status;
    pid_t pid;

    if (!p->active)
        return 0;
    pid = fork();
    if (pid < 0) {
        *error_r = xsetf(&privs_error, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        const char *ignored = NULL;
        if (privs_drop(p, &ignored) < 0)
            _exit(2);
        _exit(access(path, W_OK | X_OK) == 0 ? 0 : errno == EACCES ? 1 : 3);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            *error_r = xsetf(&privs_error, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    *error_r = xsetf(&privs_error,
                     "%s is not reachable by mail_owner (uid %ld): a directory above it is "
                     "private to another user; choose a location that account can enter "
                     "(e.g. under /var/lib), or make the parents searchable (chmod o+x)",
                     path, (long)p->uid);
    return -1;
}

int privs_drop(const struct privs *p, const char **error_r)
{
    if (!p->active)
        return 0;
    if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0) {
        *error_r = xsetf(&privs_error, "cannot switch to uid %ld gid %ld: %s", (long)p->uid,
                         (long)p->gid, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0) {
        *error_r = xsetf(&privs_error, "still able to regain root after switching to uid %ld",
                         (long)p->uid);
        return -1;
    }
    return 0;
}
