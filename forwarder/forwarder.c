/*
 * NAME
 *	forwarder 3
 * SUMMARY
 *	the process that forwards queued archive copies by SMTP
 * SYNOPSIS
 *	master.c, in the forwarder child: _exit(forwarder_main(cfg, &privs));
 * DESCRIPTION
 *	Scans forward/active (forwarder/queue.h) and delivers every
 *	entry whose next attempt is due, one at a time, reusing one SMTP
 *	session (forwarder/smtp_client.h) while entries are due. It wakes up when
 *	an entry is added or released (inotify on forward/active), when the
 *	earliest next attempt comes, and at least once a minute.
 *
 *	Per attempt, under the entry's lock:
 *	    250          the entry is removed; catalog status "sent" with the
 *	                 reply; logged at info level.
 *	    4xx, no connection, timeout, TLS or lookup failure
 *	                 attempts + 1; next attempt after the backoff
 *	                 (forward_minimal_backoff, doubled each time, at most
 *	                 forward_maximal_backoff); catalog "deferred"; warning.
 *	    5xx, or a copy the server cannot take as it is (SMTPUTF8, 8BITMIME,
 *	    BINARYMIME, SIZE), or forward_maximal_queue_lifetime reached
 *	                 moved to hold with the reason; catalog "held"; error.
 *	Never bounces and never deletes what was not accepted: only the
 *	operator deletes (tabularium queue delete ID --force).
 *
 *	Log lines, like Postfix's smtp(8):
 *	    ID: to=<rcpt>, relay=host[addr]:port, delay=N, dsn=X.Y.Z,
 *	        status=sent|deferred|held (reply or reason)
 *
 *	The SASL password file is read before privileges are dropped, so it
 *	may belong to root with mode 0600; a file that group or others can
 *	read is refused. Its contents never reach a log line.
 *
 *	A copy that was completely sent but whose reply was lost (connection
 *	lost, timeout, the forwarder killed) stays queued and is sent again:
 *	the far end may then have it twice, with the same Message-ID and
 *	X-Tabularium-Archive-Id. Nothing is ever lost.
 * DIAGNOSTICS
 *	Queue I/O errors are logged and retried at the next scan; a catalog
 *	that cannot record a status is a warning (the queue is the truth).
 */
#include "forwarder/forwarder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "common/log.h"
#include "common/strlist.h"
#include "forwarder/queue.h"
#include "master/child.h"
#include "forwarder/smtp_client.h"

/* How long an idle session is kept for the next due entry. */
#define FORWARDER_SESSION_IDLE 2
/* Longest sleep between two scans. */
#define FORWARDER_MAX_SLEEP 60
/* Leftovers (an .eml without .env, temporary files) older than this go. */
#define FORWARDER_SWEEP_AGE 3600

static volatile sig_atomic_t forwarder_stop;

struct forwarder_cached {
    char id[ARCHIVE_ID_SIZE];
    struct timespec mtime; /* of the .env when next was read */
    time_t next;
};

struct forwarder {
    const struct tab_config *cfg;
    struct smtp_client_config client;
    char *sasl_user, *sasl_pass;
    char *secrets_error; /* the password file is unusable: defer everything */
    struct catalog *catalog;
    struct smtp_session *session;
    char *session_dest;
    time_t session_used;
    struct forwarder_cached *cache;
    size_t n_cache;
    time_t wake; /* earliest next attempt seen by the last scan */
    int busy;    /* an entry was locked by another process */
};

static void forwarder_signal(int sig)
{
    (void)sig;
    forwarder_stop = 1;
}

time_t forwarder_backoff(const struct tab_config *cfg, int attempts)
{
    time_t d = cfg->forward_minimal_backoff;

    for (int i = 1; i < attempts && d < cfg->forward_maximal_backoff; i++)
        d *= 2;
    return d < cfg->forward_maximal_backoff ? d : cfg->forward_maximal_backoff;
}

/* "username password" from the first line that is not blank or a comment. */
static void forwarder_read_secrets(struct forwarder *f, const char *path)
{
    struct stat st;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    FILE *fp = fopen(path, "re");

    if (fp == NULL) {
        f->secrets_error = xasprintf("forward_sasl_password_file %s: %s", path, strerror(errno));
        return;
    }
    if (fstat(fileno(fp), &st) < 0 || (st.st_mode & 077) != 0) {
        f->secrets_error = xasprintf("forward_sasl_password_file %s: group or others may read it "
                                     "(mode %04o); use chmod 600",
                                     path, (unsigned)(st.st_mode & 07777));
        fclose(fp);
        return;
    }
    while ((n = getline(&line, &cap, fp)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                         line[n - 1] == '\t'))
            line[--n] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        size_t ul = strcspn(p, " \t");
        char *pass = p + ul + strspn(p + ul, " \t");
        if (p[ul] == '\0' || *pass == '\0')
            break;
        f->sasl_user = xstrndup(p, ul);
        f->sasl_pass = xstrdup(pass);
        break;
    }
    if (line != NULL) {
        explicit_bzero(line, cap);
        free(line);
    }
    fclose(fp);
    if (f->sasl_user == NULL)
        f->secrets_error =
            xasprintf("forward_sasl_password_file %s: no \"username password\" line", path);
}

static void forwarder_forget_secrets(struct forwarder *f)
{
    if (f->sasl_pass != NULL)
        explicit_bzero(f->sasl_pass, strlen(f->sasl_pass));
    free(f->sasl_pass);
    free(f->sasl_user);
    free(f->secrets_error);
    f->sasl_pass = f->sasl_user = f->secrets_error = NULL;
}

/* How an attempt ended: the log line, then the status in the catalog. */
static void forwarder_report(struct forwarder *f, const char *id, const struct forward_entry *e,
                             const struct smtp_result *res, time_t now, enum log_level level,
                             const char *status)
{
    const char *error = NULL;

    log_msg(level, "%s: to=<%s>, relay=%s, delay=%lld, dsn=%s, status=%s (%s)", e->id, e->recipient,
            res->relay[0] ? res->relay : "none", (long long)(now - e->queued), res->dsn, status,
            res->text);
    if (f->catalog == NULL || !catalog_can(f->catalog, CATALOG_CAN_FORWARD_STATUS))
        return;
    if (catalog_forward_status(f->catalog, id, status, res->text, &error) != TAB_OK)
        log_warn("%s: cannot record forward status %s in the catalog: %s", id, status,
                 error ? error : "unknown error");
}

static void forwarder_close_session(struct forwarder *f)
{
    smtp_session_close(&f->session);
    free(f->session_dest);
    f->session_dest = NULL;
}

/* One SMTP attempt for a locked entry; res tells how it went. */
static void forwarder_attempt(struct forwarder *f, const struct forward_entry *e, int fd,
                              struct smtp_result *res)
{
    struct smtp_message msg;
    const char *error = NULL;
    const char *dest;

    memset(res, 0, sizeof(*res));
    snprintf(res->relay, sizeof(res->relay), "none");
    if (f->secrets_error != NULL) {
        res->status = SMTP_DEFERRED;
        snprintf(res->dsn, sizeof(res->dsn), "4.7.0");
        snprintf(res->text, sizeof(res->text), "%s", f->secrets_error);
        return;
    }
    memset(&msg, 0, sizeof(msg));
    msg.id = e->id;
    msg.sender = e->sender;
    msg.recipient = e->recipient;
    msg.smtputf8 = e->smtputf8;
    msg.fd = fd;
    if (smtp_message_scan(&msg, &error) < 0) {
        res->status = SMTP_DEFERRED;
        snprintf(res->dsn, sizeof(res->dsn), "4.3.0");
        snprintf(res->text, sizeof(res->text), "%s", error);
        return;
    }
    dest = smtp_destination(&f->client, e->recipient);
    if (f->session != NULL && strcmp(f->session_dest, dest) != 0)
        forwarder_close_session(f);
    for (int tries = 0; tries < 2; tries++) {
        int reused = f->session != NULL;
        if (!reused) {
            f->session = smtp_session_open(&f->client, dest, res);
            if (f->session == NULL)
                return;
            f->session_dest = xstrdup(dest);
        }
        int rc = smtp_session_send(f->session, &msg, res);
        f->session_used = time(NULL);
        if (rc == 0)
            return;
        forwarder_close_session(f);
        /* A cached session the server dropped meanwhile: one fresh try,
         * unless the server may already have the copy. */
        if (!reused || res->maybe_delivered)
            return;
    }
}

/* Deliver the entry if it is due. Returns its next attempt time, 0 when it
 * left the active queue, -1 when another process holds it. */
static time_t forwarder_deliver(struct forwarder *f, const char *id)
{
    const struct tab_config *cfg = f->cfg;
    struct forward_entry e;
    struct smtp_result res;
    const char *error = NULL;
    time_t now = time(NULL), next = 0;
    int fd = -1;

    switch (forward_queue_lock(cfg->queue_directory, id, 0, &e, &fd, &error)) {
    case FORWARD_QUEUE_LOCKED:
        break;
    case FORWARD_QUEUE_BUSY:
        return -1;
    case FORWARD_QUEUE_GONE:
        return 0;
    case FORWARD_QUEUE_ERROR:
        log_error("%s: forward queue: %s", id, error);
        return now + cfg->forward_minimal_backoff;
    }
    if (strcmp(e.queue, FORWARD_QUEUE_ACTIVE) != 0)
        goto out; /* an interrupted move ended in hold */
    if (e.next_attempt > now) {
        next = e.next_attempt; /* rewritten since the scan read it */
        goto out;
    }
    if (cfg->forward_maximal_queue_lifetime > 0 &&
        now - e.queued >= cfg->forward_maximal_queue_lifetime) {
        memset(&res, 0, sizeof(res));
        res.status = SMTP_HELD;
        snprintf(res.relay, sizeof(res.relay), "none");
        snprintf(res.dsn, sizeof(res.dsn), "4.4.7");
        snprintf(res.text, sizeof(res.text),
                 "in the queue longer than forward_maximal_queue_lifetime (%ds); last reason: %s",
                 cfg->forward_maximal_queue_lifetime, e.reason[0] ? e.reason : "none");
    } else {
        forwarder_attempt(f, &e, fd, &res);
        now = time(NULL);
    }
    switch (res.status) {
    case SMTP_SENT:
        if (forward_queue_delete(cfg->queue_directory, &e, &error) < 0) {
            /* Sent, but still queued: it will be sent again. */
            log_error("%s: sent, but cannot remove it from the forward queue: %s", id, error);
            next = now + cfg->forward_minimal_backoff;
        }
        forwarder_report(f, id, &e, &res, now, LOG_LEVEL_INFO, "sent");
        break;
    case SMTP_DEFERRED:
        e.attempts++;
        e.last_attempt = now;
        e.next_attempt = now + forwarder_backoff(cfg, e.attempts);
        free(e.reason);
        e.reason = xstrdup(res.text);
        next = e.next_attempt;
        if (forward_queue_update(cfg->queue_directory, &e, &error) < 0)
            log_error("%s: forward queue: %s", id, error);
        forwarder_report(f, id, &e, &res, now, LOG_LEVEL_WARN, "deferred");
        break;
    case SMTP_HELD:
        e.attempts++;
        e.last_attempt = now;
        free(e.reason);
        e.reason = xasprintf("%s (dsn=%s)", res.text, res.dsn);
        if (forward_queue_move(cfg->queue_directory, &e, FORWARD_QUEUE_HOLD, &error) < 0) {
            log_error("%s: cannot move it to the hold queue: %s", id, error);
            next = now + cfg->forward_minimal_backoff;
        }
        forwarder_report(f, id, &e, &res, now, LOG_LEVEL_ERROR, "held");
        break;
    }
out:
    forward_queue_unlock(&fd);
    forward_queue_entry_free(&e);
    return next;
}

static struct forwarder_cached *forwarder_cache_find(struct forwarder *f, const char *id)
{
    size_t lo = 0, hi = f->n_cache;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(f->cache[mid].id, id);
        if (c == 0)
            return &f->cache[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* One pass over the active queue: deliver what is due, note when the
 * next entry will be. The .env of an entry not due is read only when it
 * changed since the last pass. */
static void forwarder_scan(struct forwarder *f)
{
    const char *qdir = f->cfg->queue_directory;
    struct strlist ids = STRLIST_INIT;
    struct forwarder_cached *fresh;
    const char *error = NULL;
    size_t n = 0;

    f->busy = 0;
    f->wake = time(NULL) + FORWARDER_MAX_SLEEP;
    if (forward_queue_list(qdir, FORWARD_QUEUE_ACTIVE, &ids, &error) < 0) {
        log_error("forward queue: %s", error);
        f->wake = time(NULL) + 10;
        return;
    }
    fresh = xcalloc(ids.n ? ids.n : 1, sizeof(*fresh));
    for (size_t i = 0; i < ids.n && !forwarder_stop; i++) {
        const char *id = ids.v[i];
        struct forwarder_cached *old = forwarder_cache_find(f, id);
        struct timespec mtime;
        time_t next;

        if (forward_queue_stat(qdir, FORWARD_QUEUE_ACTIVE, id, &mtime) < 0)
            continue;
        if (old != NULL && old->mtime.tv_sec == mtime.tv_sec &&
            old->mtime.tv_nsec == mtime.tv_nsec) {
            next = old->next;
        } else {
            struct forward_entry e;
            if (forward_queue_read(qdir, FORWARD_QUEUE_ACTIVE, id, &e, &error) < 0) {
                if (errno != ENOENT)
                    log_error("%s: forward queue: %s", id, error);
                /* Try again (and say so again) after the backoff. */
                next = time(NULL) + f->cfg->forward_minimal_backoff;
            } else {
                next = e.next_attempt;
                forward_queue_entry_free(&e);
            }
        }
        if (next <= time(NULL)) {
            next = forwarder_deliver(f, id);
            if (next < 0) {
                f->busy = 1;
                continue; /* not cached: read again next time */
            }
            if (next == 0)
                continue;
            /* The .env was rewritten: cache its new time. */
            if (forward_queue_stat(qdir, FORWARD_QUEUE_ACTIVE, id, &mtime) < 0)
                continue;
        }
        memcpy(fresh[n].id, id, sizeof(fresh[n].id));
        fresh[n].mtime = mtime;
        fresh[n].next = next;
        n++;
        if (next < f->wake)
            f->wake = next;
    }
    free(f->cache);
    f->cache = fresh;
    f->n_cache = n;
    strlist_free(&ids);
}

static int forwarder_watch(const char *queue_dir)
{
    char *dir = forward_queue_path(queue_dir, FORWARD_QUEUE_ACTIVE);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

    /* New and released entries appear by rename of their .env. */
    if (fd >= 0 && inotify_add_watch(fd, dir, IN_MOVED_TO) < 0) {
        log_warn("forwarder: cannot watch %s (%s); polling every second", dir, strerror(errno));
        close(fd);
        fd = -1;
    }
    free(dir);
    return fd;
}

int forwarder_main(const struct tab_config *cfg, const struct privs *privs, pid_t master)
{
    struct forwarder f;
    sigset_t none;
    const char *qerr = NULL;
    time_t next_sweep = 0;
    int watch;

    memset(&f, 0, sizeof(f));
    f.cfg = cfg;
    if (cfg->forward_sasl_password_file[0] != '\0')
        forwarder_read_secrets(&f, cfg->forward_sasl_password_file);
    if (child_start("forwarder", NULL, privs, master, forwarder_signal) < 0) {
        forwarder_forget_secrets(&f);
        return 1;
    }
    /* SIGTERM and SIGHUP stay blocked (as the master left them) except in
     * ppoll(): an attempt in progress is finished, not torn. */
    sigemptyset(&none);

    f.client.relayhost = cfg->forward_relayhost;
    f.client.helo_name = cfg->forward_helo_name;
    (void)smtp_tls_level_parse(cfg->forward_tls_security_level, &f.client.tls_level);
    f.client.ca_file = cfg->forward_tls_ca_file;
    f.client.sasl_user = f.sasl_user;
    f.client.sasl_pass = f.sasl_pass;
    f.client.connect_timeout = cfg->forward_connect_timeout;
    f.client.command_timeout = cfg->forward_command_timeout;
    f.client.data_timeout = cfg->forward_data_timeout;
    if (f.secrets_error != NULL)
        log_error("forwarder: %s; forwarding is deferred until it is fixed", f.secrets_error);

    if (forward_queue_ensure(cfg->queue_directory, &qerr) < 0) {
        log_error("forwarder: %s", qerr);
        forwarder_forget_secrets(&f);
        return 1;
    }
    f.catalog = catalog_open_or_failing(cfg->archive_catalog, cfg);
    watch = forwarder_watch(cfg->queue_directory);
    log_info("forwarder started -- forward_recipient=<%s>, relay=%s, tls=%s",
             cfg->forward_recipient,
             cfg->forward_relayhost[0] ? cfg->forward_relayhost : "(MX of the recipient's domain)",
             cfg->forward_tls_security_level);

    while (!forwarder_stop) {
        time_t now = time(NULL);
        if (now >= next_sweep) {
            forward_queue_sweep(cfg->queue_directory, FORWARDER_SWEEP_AGE);
            next_sweep = now + 600;
        }
        forwarder_scan(&f);
        if (forwarder_stop)
            break;

        /* Sleep until the next due entry, a new entry, or a signal. */
        now = time(NULL);
        long long ms = f.wake > now ? (long long)(f.wake - now) * 1000 : 0;
        if (f.busy && ms > 200)
            ms = 200; /* delivery still holds a new entry: its commit is near */
        if (watch < 0 && ms > 1000)
            ms = 1000;
        if (f.session != NULL) {
            if (now - f.session_used >= FORWARDER_SESSION_IDLE)
                forwarder_close_session(&f);
            else if (ms > FORWARDER_SESSION_IDLE * 1000)
                ms = FORWARDER_SESSION_IDLE * 1000;
        }
        if (ms == 0)
            continue;
        struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                              .tv_nsec = (long)(ms % 1000) * 1000000};
        struct pollfd pfd = {.fd = watch, .events = POLLIN};
        int r = ppoll(&pfd, watch >= 0 ? 1 : 0, &ts, &none);
        if (r > 0) {
            char buf[4096];
            while (read(watch, buf, sizeof(buf)) > 0)
                ; /* which file does not matter: the scan looks */
        }
    }
    forwarder_close_session(&f);
    if (watch >= 0)
        close(watch);
    catalog_close(&f.catalog);
    free(f.cache);
    forwarder_forget_secrets(&f);
    log_info("forwarder stopped");
    return 0;
}
