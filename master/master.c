/*
 * NAME
 *	master 3
 * SUMMARY
 *	tabulariumd process management: listener, workers, signals
 * DESCRIPTION
 *	The master binds lmtp_listen, prepares the spool, checks that the
 *	store and catalog open (creating the catalog schema once, before any
 *	worker races for it), and keeps process_limit workers running. Each
 *	worker accepts connections on the shared socket and serves one LMTP
 *	session at a time, keeping its store and catalog handles across
 *	sessions, and exits after max_use sessions. Beside them run, as
 *	mail_owner, one catalog writer (catalog_writer/catalog_writer.c) that commits
 *	the workers' SQLite catalog rows in batches (catalog_writer = yes),
 *	one forwarder (forwarder/forwarder.c) when forward_recipient is set, and
 *	one indexer (indexer/indexer.c) when the catalog driver indexes full
 *	text after the delivery (SQLite; PostgreSQL: the text inside
 *	attachments); each is restarted when it dies,
 *	after a pause of a second when it died right after start. Idle
 *	workers wait for connections with EPOLLEXCLUSIVE, so one connection
 *	wakes one worker.
 *
 *	Signals: SIGTERM stops: workers finish the transaction they are in
 *	(a stop only interrupts the wait for the next command), then the
 *	catalog writer commits what they sent and stops, then the master
 *	removes a unix socket and exits. SIGHUP reloads the
 *	configuration: on success workers are replaced (each finishes its
 *	current session first), the listener is rebound if lmtp_listen
 *	changed; on error the old configuration stays in force. A worker that
 *	dies is replaced; its spool leftovers are removed.
 *
 *	The master also keeps the poison board (mail/poison.c): every child
 *	has a slot; a child that dies while parsing a message, or that parses
 *	one for longer than index_time_limit (looked at every MASTER_WATCH_S
 *	seconds, then SIGKILL), leaves a mark so that the message's next
 *	delivery is archived in safe mode. A worker ends a connection by
 *	shutting its side down and reading what the client still sends for
 *	up to WORKER_LINGER_MS, so that a pipelining client reads our last
 *	reply (a 421) instead of a reset; not when the daemon is stopping.
 * DIAGNOSTICS
 *	Startup problems that make the configuration unusable (bad listener,
 *	unknown driver type) exit with status 2 and a message. A store or
 *	catalog that cannot be opened is logged and the daemon keeps running:
 *	workers then answer 451 so Postfix keeps the mail queued.
 */
#include "master/master.h"
#include "master/child.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/cidr.h"
#include "common/clock.h"
#include "common/host_port.h"
#include "common/log.h"
#include "common/privs.h"
#include "common/safe_file.h"
#include "forwarder/forwarder.h"
#include "mail/index_fields.h"
#include "catalog_writer/catalog_writer.h"
#include "indexer/indexer.h"
#include "lmtpd/lmtp_session.h"
#include "mail/poison.h"
#include "lmtpd/spool.h"

static volatile sig_atomic_t master_got_term, master_got_hup, master_got_chld, master_got_alarm;
static volatile sig_atomic_t worker_stop;   /* SIGTERM: end the session at the next command */
static volatile sig_atomic_t worker_reload; /* SIGHUP: exit after the current session */

struct master_worker {
    pid_t pid;
    time_t started;
};

static int master_wants_forwarder(const struct tab_config *cfg)
{
    return cfg->forward_recipient[0] != '\0';
}

static int master_wants_indexer(const struct tab_config *cfg)
{
    return catalog_spec_indexes_later(cfg->archive_catalog);
}

static int master_wants_writer(const struct tab_config *cfg)
{
    return catalog_writer_wanted(cfg, NULL);
}

/* Single processes beside the workers, supervised alike: started while
 * wanted by the configuration, restarted when they die, stopped with
 * SIGTERM at reload (the new one gets the new configuration) and stop.
 * The catalog writer serves the workers: at stop it is told only after
 * the last worker has finished, and at reload it is replaced at once
 * (the old one serves the old workers' connections until they close,
 * the new one takes over the socket for the new workers). */
static struct master_helper {
    const char *name;
    int (*wanted)(const struct tab_config *cfg);
    int (*main)(const struct tab_config *cfg, const struct privs *privs, pid_t master);
    int serves_workers;
    struct master_worker proc;
} master_helpers[] = {
    {"catalog writer", master_wants_writer, catalog_writer_main, 1, {0, 0}},
    {"forwarder", master_wants_forwarder, forwarder_main, 0, {0, 0}},
    {"indexer", master_wants_indexer, indexer_main, 0, {0, 0}},
};

#define MASTER_NHELPERS (sizeof(master_helpers) / sizeof(master_helpers[0]))
/* Worker table size: process_limit is at most 1000, and workers being
 * replaced after a reload still run beside their successors. */
#define MASTER_WORKER_SLOTS 2000
/* How often the master looks for a parse that overran index_time_limit. */
#define MASTER_WATCH_S 2
/* Longest a worker reads what a client still sends after the session. */
#define WORKER_LINGER_MS 1000

static void master_signal(int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        master_got_term = 1;
        break;
    case SIGHUP:
        master_got_hup = 1;
        break;
    case SIGCHLD:
        master_got_chld = 1;
        break;
    case SIGALRM:
        master_got_alarm = 1;
        break;
    }
}

static void worker_signal(int sig)
{
    if (sig == SIGHUP)
        worker_reload = 1;
    else
        worker_stop = 1;
}

/* The text of the last failure of master_listen() or master_prepare(). */
static char *master_error;

/* Bind the listener. -1 with a message on error. */
static int master_listen(const struct tab_config *cfg, const struct privs *privs,
                         const char **error_r)
{
    const char *spec = cfg->lmtp_listen;
    int fd = -1;

    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct sockaddr_un sun;
        struct stat st;
        if (strlen(path) >= sizeof(sun.sun_path) || *path == '\0') {
            *error_r = xsetf(&master_error, "lmtp_listen: bad unix socket path \"%s\"", path);
            return -1;
        }
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        strcpy(sun.sun_path, path);
        if (lstat(path, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                *error_r = xsetf(&master_error, "lmtp_listen: %s exists and is not a socket", path);
                return -1;
            }
            unlink(path);
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
            *error_r =
                xsetf(&master_error, "lmtp_listen: cannot bind %s: %s", path, strerror(errno));
            goto fail;
        }
        if (chmod(path, (mode_t)cfg->lmtp_socket_mode) < 0) {
            *error_r = xsetf(&master_error, "lmtp_listen: chmod %s: %s", path, strerror(errno));
            goto fail;
        }
        /* By default the socket belongs to mail_owner, like the files. */
        uid_t uid = privs->active ? privs->uid : (uid_t)-1;
        gid_t gid = privs->active ? privs->gid : (gid_t)-1;
        if (cfg->lmtp_socket_owner[0]) {
            struct passwd *pw = getpwnam(cfg->lmtp_socket_owner);
            if (pw == NULL) {
                *error_r = xsetf(&master_error, "lmtp_socket_owner: unknown user \"%s\"",
                                 cfg->lmtp_socket_owner);
                goto fail;
            }
            uid = pw->pw_uid;
        }
        if (cfg->lmtp_socket_group[0]) {
            struct group *gr = getgrnam(cfg->lmtp_socket_group);
            if (gr == NULL) {
                *error_r = xsetf(&master_error, "lmtp_socket_group: unknown group \"%s\"",
                                 cfg->lmtp_socket_group);
                goto fail;
            }
            gid = gr->gr_gid;
        }
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) {
            *error_r = xsetf(&master_error, "lmtp_listen: chown %s: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        /* inet:HOST:PORT, HOST may be [v6addr] */
        struct host_port hp;
        struct addrinfo hints, *ai = NULL;
        const char *why;
        int on = 1, gai;
        if (host_port_split(spec + 5, NULL, &hp, &why) < 0 || hp.port == NULL ||
            hp.port[0] == '\0') {
            *error_r = xsetf(&master_error, "lmtp_listen: use inet:HOST:PORT (got \"%s\")", spec);
            host_port_free(&hp);
            return -1;
        }
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        gai = getaddrinfo(*hp.host ? hp.host : NULL, hp.port, &hints, &ai);
        if (gai != 0) {
            *error_r = xsetf(&master_error, "lmtp_listen: %s: %s", spec, gai_strerror(gai));
            host_port_free(&hp);
            return -1;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            *error_r =
                xsetf(&master_error, "lmtp_listen: cannot bind %s: %s", spec, strerror(errno));
            freeaddrinfo(ai);
            host_port_free(&hp);
            goto fail;
        }
        freeaddrinfo(ai);
        host_port_free(&hp);
    }
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || listen(fd, 128) < 0) {
        *error_r = xsetf(&master_error, "lmtp_listen: listen %s: %s", spec, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static void master_unlink_listener(const struct tab_config *cfg)
{
    if (strncmp(cfg->lmtp_listen, "unix:", 5) == 0)
        unlink(cfg->lmtp_listen + 5);
}

/* Run fn(cfg) in a child process as mail_owner and wait for it, so that
 * what it creates belongs to mail_owner and the master keeps root. */
static void master_as_owner(const struct tab_config *cfg, const struct privs *privs,
                            void (*fn)(const struct tab_config *cfg))
{
    const char *error = NULL;
    pid_t pid = fork();

    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return;
    }
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return;
    }
    if (privs_drop(privs, &error) < 0) {
        log_error("%s", error);
        _exit(1);
    }
    fn(cfg);
    _exit(0);
}

/* Open store and catalog once: creates the Maildir and the catalog schema
 * with the right owner before workers race for them, and reports problems
 * at start. */
static void master_open_drivers(const struct tab_config *cfg)
{
    const char *err = NULL;
    struct store *st = store_open(cfg->archive_store, cfg, &err);

    if (st == NULL) {
        char *shown = config_redact(cfg->archive_store);
        log_error("archive_store = %s: %s; deliveries will be deferred (451)", shown, err);
        free(shown);
    }
    store_close(&st);
    struct catalog *cat = catalog_open(cfg->archive_catalog, cfg, &err);
    if (cat == NULL) {
        char *shown = config_redact(cfg->archive_catalog);
        log_error("archive_catalog = %s: %s; deliveries will be deferred (451)", shown, err);
        free(shown);
    }
    catalog_close(&cat);
}

static void master_check_drivers(const struct tab_config *cfg, const struct privs *privs)
{
    const char *why = NULL;

    master_as_owner(cfg, privs, master_open_drivers);
    if (!catalog_writer_wanted(cfg, &why) && why != NULL)
        log_warn("catalog_writer = yes: %s", why);
}

/* After a clean stop, the last process to close an SQLite catalog folds
 * its write-ahead log into catalog.db and removes it; workers closing at
 * the same moment can each leave that to the other, so a copy of
 * catalog.db taken after the stop could lack the last transactions. One
 * more open and close, alone, settles it. */
static void master_reopen_catalog(const struct tab_config *cfg)
{
    const char *err = NULL;
    struct catalog *cat = catalog_open(cfg->archive_catalog, cfg, &err);

    catalog_close(&cat);
}

static void master_close_catalog(const struct tab_config *cfg, const struct privs *privs)
{
    if (catalog_spec_local_file(cfg->archive_catalog) != NULL)
        master_as_owner(cfg, privs, master_reopen_catalog);
}

/* Configuration checks that need no driver, the account, and the data
 * and spool directories owned by it (created when missing). */
static int master_prepare(const struct tab_config *cfg, struct privs *privs, const char **error_r)
{
    const char *err = NULL;

    /* An unknown driver type is a configuration error, not a passing fault. */
    if (store_spec_check(cfg->archive_store, &err) < 0 ||
        catalog_spec_check(cfg->archive_catalog, &err) < 0) {
        *error_r = err;
        return -1;
    }
    if (privs_init(cfg->mail_owner, privs, error_r) < 0)
        return -1;
    /* Nothing we create is for other users to read: archived mail. */
    umask(077);
    const char *dirs[] = {cfg->data_directory, cfg->queue_directory};
    for (size_t i = 0; i < 2; i++) {
        if (safe_mkdir_p(dirs[i], 0700) < 0) {
            *error_r = xsetf(&master_error, "%s %s: %s", i ? "queue_directory" : "data_directory",
                             dirs[i], strerror(errno));
            return -1;
        }
        if (privs_chown(privs, dirs[i], error_r) < 0)
            return -1;
    }
    /* Fail at start, loudly, rather than answer 451 to every delivery. */
    if (privs_check_access(privs, cfg->queue_directory, error_r) < 0)
        return -1;
    return 0;
}

static void master_client_name(int fd, char *buf, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 || ss.ss_family == AF_UNIX) {
        snprintf(buf, size, "local");
        return;
    }
    if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(buf, size, "unknown");
        return;
    }
    snprintf(buf, size, "%s:%s", host, port);
}

/* via_writer: the daemon's workers reach an SQLite catalog through the
 * catalog writer; a single -S session opens it itself. */
static void worker_open(const struct tab_config *cfg, struct delivery_ctx *ctx, int via_writer)
{
    index_fields_init();
    ctx->cfg = cfg;
    ctx->store = store_open_or_failing(cfg->archive_store, cfg);
    ctx->index_later = delivery_index_later(cfg);
    ctx->catalog = via_writer && catalog_writer_wanted(cfg, NULL)
                       ? catalog_writer_client_open(cfg)
                       : catalog_open_or_failing(cfg->archive_catalog, cfg);
}

static void worker_close(struct delivery_ctx *ctx)
{
    spool_orig_close();
    store_close(&ctx->store);
    catalog_close(&ctx->catalog);
    index_fields_deinit();
}

/* lmtp_client_access: only listed networks may talk to an inet listener
 * (unix-socket clients are controlled by the socket's permissions). */
static int worker_client_allowed(int fd, const struct cidr_list *access)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_UNIX)
        return 1;
    return cidr_list_match(access, (struct sockaddr *)&ss);
}

/* End a connection the way that keeps our last reply readable. A client
 * that pipelines may still be sending when a session ends (421 after too
 * many errors): a close() with its bytes unread makes the kernel answer
 * with a reset, and the client's kernel then drops our replies before the
 * client has read them. So: shut our side down (the client reads to EOF),
 * and read what it still sends until it closes, for at most
 * WORKER_LINGER_MS. */
static void worker_close_connection(int fd)
{
    char buf[16384];
    long long end = clock_monotonic_ms() + WORKER_LINGER_MS;

    (void)shutdown(fd, SHUT_WR);
    for (;;) {
        long long left = end - clock_monotonic_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        if (read(fd, buf, sizeof(buf)) <= 0)
            break;
    }
    (void)close(fd);
}

static void worker_main(int listen_fd, const struct tab_config *cfg, const struct privs *privs,
                        pid_t master, size_t slot)
{
    struct delivery_ctx ctx;
    struct cidr_list access;
    sigset_t none;
    int uses = 0;
    const char *error = NULL;

    poison_attach(slot);
    /* SIGTERM: finish the transaction, then go. */
    if (child_start("worker", NULL, privs, master, worker_signal) < 0)
        _exit(1);
    if (cidr_list_parse(cfg->lmtp_client_access, &access, &error) < 0) {
        log_error("worker: %s", error);
        _exit(1);
    }
    /* SIGTERM and SIGHUP stay blocked (inherited from the master) except
     * inside ppoll(): a signal is then never lost between testing the flags
     * and waiting, and never interrupts a delivery. */
    sigemptyset(&none);
    worker_open(cfg, &ctx, 1);
    /* Idle workers wait in epoll with EPOLLEXCLUSIVE: a new connection
     * wakes one of them, not all (with ppoll every idle worker woke and
     * all but one found nothing to accept). */
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event want = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    if (epfd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &want) < 0) {
        (void)close(epfd);
        epfd = -1;
    }
    while (uses < cfg->max_use && !worker_stop && !worker_reload) {
        struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
        struct epoll_event ev;
        if ((epfd >= 0 ? epoll_pwait(epfd, &ev, 1, -1, &none) : ppoll(&pfd, 1, NULL, &none)) < 0) {
            if (errno != EINTR) {
                log_error("poll: %s", strerror(errno));
                sleep(1);
            }
            continue;
        }
        /* The listener is non-blocking: another worker may have taken it. */
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK &&
                errno != ECONNABORTED) {
                log_error("accept: %s", strerror(errno));
                sleep(1);
            }
            continue;
        }
        char client[NI_MAXHOST + NI_MAXSERV + 2];
        master_client_name(fd, client, sizeof(client));
        if (!worker_client_allowed(fd, &access)) {
            static const char denied[] = "421 4.7.1 Error: access denied (lmtp_client_access)\r\n";
            log_warn("reject: connect from %s: not in lmtp_client_access", client);
            if (safe_write_all(fd, denied, sizeof(denied) - 1) < 0) {
                /* The client is gone already. */
            }
        } else {
            lmtp_session_run(fd, fd, client, &ctx, &worker_stop);
        }
        /* Stopping: no linger, the daemon must go (a connection that
         * Postfix's connection cache holds would keep us a second). */
        if (worker_stop)
            (void)close(fd);
        else
            worker_close_connection(fd);
        uses++;
    }
    if (epfd >= 0)
        (void)close(epfd);
    worker_close(&ctx);
    cidr_list_free(&access);
    _exit(0);
}

int master_run_stdio(const struct tab_config *cfg)
{
    struct delivery_ctx ctx;
    const char *error = NULL;

    struct privs privs;

    signal(SIGPIPE, SIG_IGN);
    if (master_prepare(cfg, &privs, &error) < 0 || privs_drop(&privs, &error) < 0) {
        log_error("%s", error);
        return 2;
    }
    worker_open(cfg, &ctx, 0);
    int rc = lmtp_session_run(STDIN_FILENO, STDOUT_FILENO, "stdin", &ctx, NULL);
    worker_close(&ctx);
    return rc == 0 ? 0 : 1;
}

static pid_t master_spawn(int listen_fd, const struct tab_config *cfg, const struct privs *privs,
                          size_t slot)
{
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        worker_main(listen_fd, cfg, privs, master, slot);
    poison_slot_pid(slot, pid);
    return pid;
}

/* Start each helper process that the configuration wants and that is
 * not running. */
static void master_spawn_helpers(int listen_fd, const struct tab_config *cfg,
                                 const struct privs *privs)
{
    for (size_t i = 0; i < MASTER_NHELPERS; i++) {
        struct master_helper *h = &master_helpers[i];
        if (h->proc.pid > 0 || !h->wanted(cfg))
            continue;
        pid_t master = getpid();
        pid_t pid = fork();
        if (pid < 0) {
            log_error("fork: %s", strerror(errno));
            return;
        }
        if (pid == 0) {
            close(listen_fd);
            poison_attach(MASTER_WORKER_SLOTS + i);
            _exit(h->main(cfg, privs, master));
        }
        poison_slot_pid(MASTER_WORKER_SLOTS + i, pid);
        h->proc.pid = pid;
        h->proc.started = time(NULL);
    }
}

static void master_signal_workers(struct master_worker *w, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (w[i].pid > 0)
            kill(w[i].pid, sig);
}

/* which: 0 the helpers that do not serve workers, 1 those that do, -1 all. */
static void master_signal_helpers(int sig, int which)
{
    for (size_t i = 0; i < MASTER_NHELPERS; i++)
        if (which < 0 || master_helpers[i].serves_workers == which)
            master_signal_workers(&master_helpers[i].proc, 1, sig);
}

/* Reload: SIGTERM to every helper; one that serves workers is forgotten
 * (reaped when it ends) so that its successor starts now. */
static void master_reload_helpers(void)
{
    master_signal_helpers(SIGTERM, -1);
    for (size_t i = 0; i < MASTER_NHELPERS; i++)
        if (master_helpers[i].serves_workers)
            master_helpers[i].proc.pid = 0;
}

/* Reap finished workers; returns how many died abnormally soon after start.
 * A child that died while parsing a message leaves a poison mark. */
static int master_reap(struct master_worker *w, int n, const struct tab_config *cfg,
                       const struct privs *privs)
{
    int status, quick_deaths = 0;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        poison_reaped(cfg->queue_directory, privs->uid, pid, status);
        for (int i = 0; i < n; i++) {
            if (w[i].pid != pid)
                continue;
            int bad = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            if (bad) {
                if (WIFSIGNALED(status))
                    log_warn("worker %ld killed by signal %d", (long)pid, WTERMSIG(status));
                else
                    log_warn("worker %ld exited with status %d", (long)pid, WEXITSTATUS(status));
                if (time(NULL) - w[i].started < 1)
                    quick_deaths++;
            }
            spool_cleanup(cfg->queue_directory, (long)pid);
            w[i].pid = 0;
        }
        for (size_t i = 0; i < MASTER_NHELPERS; i++) {
            struct master_helper *h = &master_helpers[i];
            if (pid != h->proc.pid)
                continue;
            if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                if (WIFSIGNALED(status))
                    log_warn("%s %ld killed by signal %d", h->name, (long)pid, WTERMSIG(status));
                else
                    log_warn("%s %ld exited with status %d", h->name, (long)pid,
                             WEXITSTATUS(status));
                if (time(NULL) - h->proc.started < 1)
                    quick_deaths++;
            }
            h->proc.pid = 0;
        }
    }
    return quick_deaths;
}

static int master_count(const struct master_worker *w, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += w[i].pid > 0;
    return c;
}

static int master_count_helpers(void)
{
    int c = 0;
    for (size_t i = 0; i < MASTER_NHELPERS; i++)
        c += master_count(&master_helpers[i].proc, 1);
    return c;
}

int master_run(const struct master_options *opts, struct tab_config *cfg)
{
    struct master_worker *workers;
    int nslots, listen_fd;
    const char *error = NULL;
    sigset_t block, old;
    struct privs privs;

    signal(SIGPIPE, SIG_IGN);
    if (master_prepare(cfg, &privs, &error) < 0 ||
        (listen_fd = master_listen(cfg, &privs, &error)) < 0) {
        log_error("%s", error);
        if (!opts->foreground) /* the log went to syslog: say it here too */
            fprintf(stderr, "tabulariumd: fatal: %s\n", error);
        return 2;
    }
    /* Detach only now, so that startup errors still reach the terminal. */
    if (!opts->foreground && daemon(1, 0) < 0) {
        log_error("cannot detach: %s", strerror(errno));
        return 1;
    }
    spool_cleanup(cfg->queue_directory, 0);
    master_check_drivers(cfg, &privs);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    child_set_handler(SIGTERM, master_signal);
    child_set_handler(SIGINT, master_signal);
    child_set_handler(SIGHUP, master_signal);
    child_set_handler(SIGCHLD, master_signal);
    child_set_handler(SIGALRM, master_signal);

    nslots = MASTER_WORKER_SLOTS;
    workers = xcalloc((size_t)nslots, sizeof(*workers));
    /* The poison board: one slot per worker slot and per helper. The
     * watch looks every MASTER_WATCH_S seconds for a parse that overran
     * index_time_limit (itimers are not inherited by the children). */
    if (poison_board_init(MASTER_WORKER_SLOTS + MASTER_NHELPERS) < 0)
        log_warn("no poison-message board (%s): a message that crashes workers is not "
                 "recognised",
                 strerror(errno));
    struct itimerval watch = {{MASTER_WATCH_S, 0}, {MASTER_WATCH_S, 0}};
    if (setitimer(ITIMER_REAL, &watch, NULL) < 0)
        log_warn("setitimer: %s: index_time_limit is not enforced", strerror(errno));
    log_info("daemon started -- version %s, configuration %s, listening on %s, %d workers",
             TAB_VERSION, config_file(cfg) ? config_file(cfg) : "(built-in defaults)",
             cfg->lmtp_listen, cfg->process_limit);
    for (;;) {
        int quick = master_reap(workers, nslots, cfg, &privs);
        if (master_got_term)
            break;
        if (master_got_alarm) {
            master_got_alarm = 0;
            poison_watch((unsigned)cfg->index_time_limit);
        }
        if (master_got_hup) {
            struct tab_config fresh;
            struct privs fresh_privs;
            master_got_hup = 0;
            int loaded = config_load_source(&opts->src, &fresh, &error) == 0;
            if (!loaded || master_prepare(&fresh, &fresh_privs, &error) < 0) {
                log_error("reload failed, keeping the running configuration: %s", error);
                if (loaded)
                    config_free(&fresh);
            } else {
                if (strcmp(fresh.lmtp_listen, cfg->lmtp_listen) != 0 ||
                    fresh.lmtp_socket_mode != cfg->lmtp_socket_mode ||
                    strcmp(fresh.lmtp_socket_owner, cfg->lmtp_socket_owner) != 0 ||
                    strcmp(fresh.lmtp_socket_group, cfg->lmtp_socket_group) != 0) {
                    int fd = master_listen(&fresh, &fresh_privs, &error);
                    if (fd < 0) {
                        log_error("reload failed, keeping the running configuration: %s", error);
                        config_free(&fresh);
                        goto respawn;
                    }
                    close(listen_fd);
                    if (strcmp(fresh.lmtp_listen, cfg->lmtp_listen) != 0)
                        master_unlink_listener(cfg);
                    listen_fd = fd;
                }
                config_free(cfg);
                *cfg = fresh;
                privs = fresh_privs;
                master_check_drivers(cfg, &privs);
                master_signal_workers(workers, nslots, SIGHUP);
                /* They end their current attempt or batch and are
                 * restarted with the new settings. */
                master_reload_helpers();
                log_info("reload -- configuration %s, listening on %s, %d workers",
                         config_file(cfg) ? config_file(cfg) : "(built-in defaults)",
                         cfg->lmtp_listen, cfg->process_limit);
            }
        }
    respawn:
        if (quick > 0) {
            log_warn("workers die right after start; waiting 1 second before the next");
            sleep(1);
        }
        /* Helpers first: the workers connect to the catalog writer. */
        master_spawn_helpers(listen_fd, cfg, &privs);
        while (master_count(workers, nslots) < cfg->process_limit) {
            int slot = 0;
            while (workers[slot].pid > 0)
                slot++;
            pid_t pid = master_spawn(listen_fd, cfg, &privs, (size_t)slot);
            if (pid < 0) {
                sleep(1);
                break;
            }
            workers[slot].pid = pid;
            workers[slot].started = time(NULL);
        }
        if (!master_got_chld && !master_got_hup && !master_got_term && !master_got_alarm)
            sigsuspend(&old);
        master_got_chld = 0;
    }

    log_info("terminating on signal; waiting for workers to finish their transactions");
    master_signal_workers(workers, nslots, SIGTERM);
    master_signal_helpers(SIGTERM, 0);
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int waited = 0, told = 0; master_count(workers, nslots) + master_count_helpers() > 0;
         waited++) {
        master_reap(workers, nslots, cfg, &privs);
        if (!told && master_count(workers, nslots) == 0) {
            /* The last transaction is committed: the writer may go. */
            master_signal_helpers(SIGTERM, 1);
            told = 1;
        }
        if (waited == 600) { /* 60 s: a worker stuck in a store call */
            log_warn("workers still busy after 60 s; killing them");
            master_signal_workers(workers, nslots, SIGKILL);
            master_signal_helpers(SIGKILL, -1);
        }
        usleep(100000);
    }
    close(listen_fd);
    master_unlink_listener(cfg);
    char *writer_socket = catalog_writer_socket(cfg);
    (void)unlink(writer_socket); /* left by the writer for its successor */
    free(writer_socket);
    spool_cleanup(cfg->queue_directory, 0);
    master_close_catalog(cfg, &privs);
    poison_board_free();
    free(workers);
    log_info("daemon stopped");
    return 0;
}
