/*
 * NAME
 *	catalog_writer 3
 * SUMMARY
 *	one process that writes the SQLite catalog for all workers (group commit)
 * SYNOPSIS
 *	catalog_writer = yes	(default; sqlite catalogs only)
 *
 *	master.c, helper child: _exit(catalog_writer_main(cfg, &privs, master));
 *	worker: ctx->catalog = catalog_writer_client_open(cfg);
 * DESCRIPTION
 *	With an SQLite catalog every worker used to open the database and
 *	commit its own transaction: one writer at a time, the others polling
 *	the lock; every commit re-read the pages other workers had changed,
 *	wrote its own ~20 WAL pages and synced the WAL. Measured, that was
 *	half of a 4 KiB delivery's CPU (bench/README.md). This process, named
 *	"tab-catalog", is now the only one that writes the catalog for the
 *	daemon: workers send it their catalog calls over a unix socket
 *	(queue_directory/catalog.sock, mode 0600, peers must have our uid),
 *	and it commits whatever add() requests have arrived together, each in
 *	its own savepoint, with one COMMIT and one WAL sync for all of them
 *	(catalog_add_batch(): group commit). Its page cache stays warm.
 *	Once a batch has an add(), the writer waits up to WRITER_GATHER_US
 *	for the adds of the other workers that were active in the last
 *	second (writer_gather()); a lone delivery is committed at once.
 *
 *	Durability is unchanged: a worker gets the writer's reply to add()
 *	only after that COMMIT and the sync, and answers 250 only then. A
 *	reply that is lost (the writer died after the commit) makes the
 *	worker answer 451; Postfix retries and the catalog then knows the
 *	recipients (status=duplicate): never lost, never archived twice.
 *
 *	Requests (frames: u32 length, then the body; integers big-endian):
 *	'K' queue_id sha256 message_id -> result error n rcpt...
 *	'G' archive_id                 -> result error [record]
 *	'A' record                     -> result error
 *	result is a u8 enum tab_result, strings and records as in
 *	backends/record_wire.h. Every request of a connection is answered in
 *	order, one at a time.
 *
 *	At SIGTERM (stop, reload) the writer stops accepting connections and
 *	serves those it has until the workers close them (they finish their
 *	transactions first), at most WRITER_DRAIN_S seconds. The socket file
 *	is replaced by the next writer's bind and removed by the master at
 *	stop, never by a writer (it might be the next writer's). The CLI,
 *	the indexer and the forwarder keep their own connections: SQLite's
 *	locking serialises them with the writer.
 * DIAGNOSTICS
 *	Worker side: every failure (no writer, a lost connection, a timeout)
 *	is TAB_RETRY with "catalog writer PATH: ...", which the delivery
 *	turns into 451. A read-only request whose connection a replaced
 *	writer closed is sent again once on a new one. Writer side:
 *	"catalog writer started|stopped"; a catalog that cannot be opened
 *	is logged and retried after 0.1 s, doubling to WRITER_RETRY_S
 *	seconds, and requests meanwhile get TAB_RETRY with the reason; a malformed request or a peer
 *with another uid is logged and its connection closed.
 */
#include "catalog_writer/catalog_writer.h"
#include "master/child.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog_private.h" /* the client is a catalog driver */
#include "backends/record_wire.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"

#define WRITER_PROCESS_NAME "tab-catalog"
#define WRITER_SOCKET_NAME "catalog.sock"
/* Longest frame either side sends: a record with the full-text maximum
 * (1 MiB) and a generous allowance for header fields and recipients. */
#define WRITER_FRAME_MAX (64u * 1024 * 1024)
/* A connection's read buffer above this is freed once it is empty. */
#define WRITER_KEEP_BUFFER (256u * 1024)
/* Most add() requests in one transaction. */
#define WRITER_BATCH_MAX 64
/* Group commit window (writer_gather()): once a batch has an add(), wait
 * up to this long (microseconds) for the adds of the other workers that
 * sent one in the last WRITER_ACTIVE_MS and are not yet in the batch. */
#define WRITER_GATHER_US 1500
#define WRITER_ACTIVE_MS 1000
#define WRITER_RETRY_S 5
#define WRITER_FIRST_RETRY_MS 100
/* A request waits at most this long for a catalog that another process
 * has locked (as long as a worker waited when it wrote the catalog itself,
 * SQLite's busy timeout), counted from its arrival, not from the start of
 * its batch: then 451. */
#define WRITER_LOCK_WAIT_MS 30000
/* Once a batch has waited that long in vain, the catalog counts as locked:
 * later batches wait only this long, so that the deliveries queued behind
 * it get their 451 at once instead of 30 s each, one after the other. */
#define WRITER_LOCKED_WAIT_MS 200
#define WRITER_DRAIN_S 60
/* The client waits this long for a reply: the writer may itself wait up
 * to the SQLite busy timeout (30 s) for a CLI transaction. */
#define CLIENT_TIMEOUT_S 120
/* A writer being (re)started by the master: retry connecting this long
 * (a loaded machine may take seconds to schedule the new process). */
#define CLIENT_CONNECT_MS 15000

enum { OP_KNOWN = 'K', OP_GET = 'G', OP_ADD = 'A' };

int catalog_writer_wanted(const struct tab_config *cfg, const char **why_r)
{
    struct sockaddr_un sun;
    char *path;
    int fits;

    if (strcmp(cfg->catalog_writer, "yes") != 0 || !catalog_spec_batches(cfg->archive_catalog))
        return 0;
    path = catalog_writer_socket(cfg);
    fits = strlen(path) < sizeof(sun.sun_path);
    free(path);
    if (!fits && why_r != NULL)
        *why_r = "the socket path queue_directory/" WRITER_SOCKET_NAME " is too long for a unix "
                 "socket; workers write the catalog themselves";
    return fits;
}

char *catalog_writer_socket(const struct tab_config *cfg)
{
    return xasprintf("%s/%s", cfg->queue_directory, WRITER_SOCKET_NAME);
}

static void writer_put_frame_len(struct buf *b)
{
    uint32_t n = (uint32_t)(b->len - 4);

    b->data[0] = (unsigned char)(n >> 24);
    b->data[1] = (unsigned char)(n >> 16);
    b->data[2] = (unsigned char)(n >> 8);
    b->data[3] = (unsigned char)n;
}

/* The length at the start of a frame (4 bytes at p). */
static uint32_t writer_frame_len(const unsigned char *p)
{
    struct wire_reader r = {p, 4, 0};

    return wire_get_u32(&r);
}

/* Start a frame: 4 bytes for the length, patched by writer_put_frame_len. */
static void writer_frame_start(struct buf *b)
{
    buf_reset(b);
    wire_put_u32(b, 0);
}

/* ------------------------------------------------------------------ */
/* The client, in each worker.                                        */
/* ------------------------------------------------------------------ */

struct writer_client {
    struct catalog cat; /* first */
    char *path;
    int fd;
    struct buf req;
    unsigned char *reply;
    size_t reply_size;
    char *error;
    char *reply_error; /* the writer's error text of the last reply */
};

static enum tab_result client_fail(struct writer_client *wc, const char **error_r, const char *what,
                                   int err)
{
    free(wc->error);
    wc->error = err != 0 ? xasprintf("catalog writer %s: %s: %s", wc->path, what, strerror(err))
                         : xasprintf("catalog writer %s: %s", wc->path, what);
    *error_r = wc->error;
    if (wc->fd >= 0) {
        (void)close(wc->fd); /* a socket: nothing to lose */
        wc->fd = -1;
    }
    return TAB_RETRY;
}

static int client_connect(struct writer_client *wc, int *err_r)
{
    struct sockaddr_un sun;
    struct timeval tv = {.tv_sec = CLIENT_TIMEOUT_S, .tv_usec = 0};
    struct timespec pause = {0, 20 * 1000 * 1000};
    int waited_ms = 0;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", wc->path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *err_r = errno;
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            wc->fd = fd;
            return 0;
        }
        *err_r = errno;
        (void)close(fd);
        /* Not there yet (daemon start) or being restarted by the master. */
        if ((*err_r != ENOENT && *err_r != ECONNREFUSED) || waited_ms >= CLIENT_CONNECT_MS)
            return -1;
        (void)nanosleep(&pause, NULL);
        waited_ms += 20;
    }
}

/* A connection that a previous writer closed (reload, restart) fails
 * like this; a timeout (EAGAIN) does not count. */
static int client_conn_lost(ssize_t n, int err)
{
    return n >= 0 || err == EPIPE || err == ECONNRESET;
}

/* Send wc->req (a complete frame) and read the reply into wc->reply;
 * *r_r reads it after the result and error, which are taken here. A
 * request that only reads (retry_lost) is sent once more on a new
 * connection when the one it had was lost: a worker may still hold a
 * connection to the writer a reload replaced. An add never is: the lost
 * reply may follow a commit, and the 451 then lets Postfix decide. */
static enum tab_result client_call(struct writer_client *wc, struct wire_reader *r_r,
                                   int retry_lost, const char **error_r)
{
    unsigned char hdr[4];
    uint32_t len;
    int err = 0;
    enum tab_result result;
    ssize_t n;

    writer_put_frame_len(&wc->req);
    for (;;) {
        int reused = wc->fd >= 0;
        if (wc->fd < 0 && client_connect(wc, &err) < 0)
            return client_fail(wc, error_r, "cannot connect", err);
        if (safe_write_all(wc->fd, wc->req.data, wc->req.len) < 0) {
            err = errno;
            if (reused && retry_lost-- > 0 && client_conn_lost(-1, err)) {
                (void)client_fail(wc, error_r, "cannot send the request", err);
                continue;
            }
            return client_fail(wc, error_r, "cannot send the request", err);
        }
        n = safe_read_full(wc->fd, hdr, sizeof(hdr));
        if (n == (ssize_t)sizeof(hdr))
            break;
        err = n < 0 ? errno : 0;
        if (reused && retry_lost-- > 0 && client_conn_lost(n, err)) {
            (void)client_fail(wc, error_r, "the writer closed the connection", err);
            continue;
        }
        return client_fail(wc, error_r, n < 0 ? "no reply" : "the writer closed the connection",
                           err);
    }
    len = writer_frame_len(hdr);
    if (len > WRITER_FRAME_MAX)
        return client_fail(wc, error_r, "reply too long", 0);
    if (len > wc->reply_size) {
        wc->reply = xrealloc(wc->reply, len);
        wc->reply_size = len;
    }
    n = safe_read_full(wc->fd, wc->reply, len);
    if (n != (ssize_t)len)
        return client_fail(wc, error_r, n < 0 ? "no reply" : "the writer closed the connection",
                           n < 0 ? errno : 0);
    r_r->p = wc->reply;
    r_r->left = len;
    r_r->bad = 0;
    result = (enum tab_result)wire_get_u8(r_r);
    free(wc->reply_error);
    wc->reply_error = wire_get_str(r_r, NULL);
    if (r_r->bad || result > TAB_PERM)
        return client_fail(wc, error_r, "malformed reply", 0);
    if (result != TAB_OK)
        *error_r = wc->reply_error != NULL ? wc->reply_error : "catalog writer: unknown error";
    return result;
}

static struct writer_client *client_of(struct catalog *cat)
{
    return (struct writer_client *)cat;
}

static enum tab_result client_known_recipients(struct catalog *cat, const char *queue_id,
                                               const char *sha256, const char *message_id,
                                               struct strlist *rcpts_r, const char **error_r)
{
    struct writer_client *wc = client_of(cat);
    struct wire_reader r;
    enum tab_result result;

    writer_frame_start(&wc->req);
    wire_put_u8(&wc->req, OP_KNOWN);
    wire_put_str(&wc->req, queue_id);
    wire_put_str(&wc->req, sha256);
    wire_put_str(&wc->req, message_id);
    if ((result = client_call(wc, &r, 1, error_r)) != TAB_OK)
        return result;
    uint32_t n = wire_get_u32(&r);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        char *s = wire_get_str(&r, NULL);
        if (s != NULL)
            strlist_add(rcpts_r, s);
        free(s);
    }
    if (r.bad)
        return client_fail(wc, error_r, "malformed reply", 0);
    return TAB_OK;
}

static enum tab_result client_get(struct catalog *cat, const char *archive_id,
                                  struct archive_record *rec, const char **error_r)
{
    struct writer_client *wc = client_of(cat);
    struct wire_reader r;
    enum tab_result result;

    writer_frame_start(&wc->req);
    wire_put_u8(&wc->req, OP_GET);
    wire_put_str(&wc->req, archive_id);
    if ((result = client_call(wc, &r, 1, error_r)) != TAB_OK)
        return result;
    record_free(rec);
    memset(rec, 0, sizeof(*rec));
    if (record_wire_decode(&r, rec) < 0)
        return client_fail(wc, error_r, "malformed reply", 0);
    return TAB_OK;
}

static enum tab_result client_add(struct catalog *cat, const struct archive_record *rec,
                                  const char **error_r)
{
    struct writer_client *wc = client_of(cat);
    struct wire_reader r;

    writer_frame_start(&wc->req);
    wire_put_u8(&wc->req, OP_ADD);
    record_wire_encode(&wc->req, rec);
    return client_call(wc, &r, 0, error_r);
}

static void client_close(struct catalog *cat)
{
    struct writer_client *wc = client_of(cat);

    if (wc->fd >= 0)
        (void)close(wc->fd); /* a socket: nothing to lose */
    buf_free(&wc->req);
    free(wc->reply);
    free(wc->error);
    free(wc->reply_error);
    free(wc->path);
    free(wc);
}

static const struct catalog_vfuncs client_vfuncs = {
    CATALOG_VFUNCS_MANDATORY(client),
};

struct catalog *catalog_writer_client_open(const struct tab_config *cfg)
{
    struct writer_client *wc = xcalloc(1, sizeof(*wc));
    int err;

    wc->cat.v = &client_vfuncs;
    wc->cat.name = "sqlite";
    wc->path = catalog_writer_socket(cfg);
    wc->fd = -1;
    /* Connected now when the writer is up, so that a stop (which closes
     * its listener) still finds this worker connected; else on first use. */
    (void)client_connect(wc, &err);
    return &wc->cat;
}

/* ------------------------------------------------------------------ */
/* The writer process.                                                */
/* ------------------------------------------------------------------ */

struct writer_conn {
    int fd;
    long long arrived;  /* when its first unanswered bytes came (CLOCK_MONOTONIC ms) */
    long long last_add; /* when it last sent an add() (CLOCK_MONOTONIC ms) */
    int in_batch;       /* its add() is in the batch being gathered */
    int failed;         /* a read failed while gathering: dropped by the main loop */
    unsigned char *buf;
    size_t len, size;
};

struct writer_add {
    struct writer_conn *conn;
    long long arrived; /* CLOCK_MONOTONIC ms */
    struct archive_record rec;
};

struct writer {
    const struct tab_config *cfg;
    struct catalog *cat;
    char *open_error;       /* why cat is NULL */
    long long next_open;    /* CLOCK_MONOTONIC ms */
    long long open_backoff; /* ms */
    struct writer_conn **conns;
    size_t nconns;
    struct buf out;
    struct writer_add adds[WRITER_BATCH_MAX];
    struct pollfd *gather_pfds; /* writer_gather()'s */
    size_t nadds;
    uint64_t committed, batches;
    int locked; /* the last batch waited for another process's lock in vain */
    time_t socket_checked;
    int socket_lost;
    dev_t sock_dev; /* the socket file we bound (writer_note_socket) */
    ino_t sock_ino;
};

static volatile sig_atomic_t writer_stop;

static void writer_signal(int sig)
{
    (void)sig;
    writer_stop = 1;
}

static void writer_open_catalog(struct writer *w)
{
    const char *err = NULL;

    if (w->cat != NULL || clock_monotonic_ms() < w->next_open)
        return;
    catalog_open_for_daemon(); /* a large page cache: this process writes */
    w->cat = catalog_open(w->cfg->archive_catalog, w->cfg, &err);
    if (w->cat != NULL) {
        if (w->open_error != NULL)
            log_info("catalog writer: the catalog works again");
        free(w->open_error);
        w->open_error = NULL;
        w->open_backoff = 0;
        return;
    }
    if (w->open_error == NULL || strcmp(w->open_error, err) != 0)
        log_error("catalog writer: %s; retrying, at most %d s apart", err, WRITER_RETRY_S);
    free(w->open_error);
    w->open_error = xasprintf("catalog unavailable: %s", err);
    w->open_backoff = w->open_backoff == 0 ? WRITER_FIRST_RETRY_MS : w->open_backoff * 2;
    if (w->open_backoff > WRITER_RETRY_S * 1000LL)
        w->open_backoff = WRITER_RETRY_S * 1000LL;
    w->next_open = clock_monotonic_ms() + w->open_backoff;
}

static void writer_drop(struct writer *w, size_t i)
{
    struct writer_conn *c = w->conns[i];

    (void)close(c->fd); /* a socket: nothing to lose */
    free(c->buf);
    free(c);
    w->conns[i] = w->conns[--w->nconns];
}

/* Send w->out (a frame) to c; -1 when the worker is gone. */
static int writer_reply(struct writer *w, struct writer_conn *c)
{
    writer_put_frame_len(&w->out);
    return safe_write_all(c->fd, w->out.data, w->out.len);
}

static void writer_reply_start(struct writer *w, enum tab_result r, const char *error)
{
    writer_frame_start(&w->out);
    wire_put_u8(&w->out, (uint8_t)r);
    wire_put_str(&w->out, r == TAB_OK ? NULL : error ? error : "unknown error");
}

static void writer_known(struct writer *w, struct wire_reader *r)
{
    char *queue_id = wire_get_str(r, NULL);
    char *sha256 = wire_get_str(r, NULL);
    char *message_id = wire_get_str(r, NULL);
    struct strlist rcpts = STRLIST_INIT;
    const char *err = w->open_error;
    enum tab_result res = TAB_RETRY;

    if (r->bad)
        res = TAB_PERM, err = "malformed request";
    else if (w->cat != NULL)
        res = catalog_known_recipients(w->cat, queue_id ? queue_id : "", sha256 ? sha256 : "",
                                       message_id, &rcpts, &err);
    writer_reply_start(w, res, err);
    if (res == TAB_OK) {
        wire_put_u32(&w->out, (uint32_t)rcpts.n);
        for (size_t i = 0; i < rcpts.n; i++)
            wire_put_str(&w->out, rcpts.v[i]);
    }
    strlist_free(&rcpts);
    free(queue_id);
    free(sha256);
    free(message_id);
}

static void writer_get(struct writer *w, struct wire_reader *r)
{
    char *archive_id = wire_get_str(r, NULL);
    struct archive_record rec;
    const char *err = w->open_error;
    enum tab_result res = TAB_RETRY;

    memset(&rec, 0, sizeof(rec));
    if (r->bad || archive_id == NULL)
        res = TAB_PERM, err = "malformed request";
    else if (w->cat != NULL)
        res = catalog_get(w->cat, archive_id, &rec, &err);
    writer_reply_start(w, res, err);
    if (res == TAB_OK)
        record_wire_encode(&w->out, &rec);
    record_free(&rec);
    free(archive_id);
}

/* Commit the collected add() requests and answer each. */
static void writer_commit(struct writer *w)
{
    const struct archive_record *recs[WRITER_BATCH_MAX];
    enum tab_result results[WRITER_BATCH_MAX];
    char *errors[WRITER_BATCH_MAX];
    const char *err = w->open_error;

    if (w->nadds == 0)
        return;
    for (size_t i = 0; i < w->nadds; i++) {
        recs[i] = &w->adds[i].rec;
        results[i] = TAB_RETRY;
        errors[i] = NULL;
    }
    long long deadline = 0;
    if (w->cat != NULL && catalog_can(w->cat, CATALOG_CAN_WAIT_LIMIT)) {
        long long oldest = w->adds[0].arrived, now = clock_monotonic_ms();
        for (size_t i = 1; i < w->nadds; i++)
            if (w->adds[i].arrived < oldest)
                oldest = w->adds[i].arrived;
        deadline = oldest + WRITER_LOCK_WAIT_MS;
        if (w->locked && deadline > now + WRITER_LOCKED_WAIT_MS)
            deadline = now + WRITER_LOCKED_WAIT_MS;
        catalog_wait_limit(w->cat, deadline);
    }
    if (w->cat != NULL && catalog_can(w->cat, CATALOG_CAN_ADD_BATCH)) {
        (void)catalog_add_batch(w->cat, recs, w->nadds, results, errors, &err);
    } else if (w->cat != NULL) {
        for (size_t i = 0; i < w->nadds; i++) {
            results[i] = catalog_add(w->cat, recs[i], &err);
            errors[i] = results[i] == TAB_OK ? NULL : xstrdup(err);
        }
    } else {
        for (size_t i = 0; i < w->nadds; i++)
            errors[i] = xstrdup(err);
    }
    if (w->cat != NULL && catalog_can(w->cat, CATALOG_CAN_WAIT_LIMIT)) {
        int any_ok = 0;
        catalog_wait_limit(w->cat, 0);
        for (size_t i = 0; i < w->nadds; i++)
            any_ok |= results[i] == TAB_OK;
        if (any_ok && w->locked) {
            log_info("catalog writer: the catalog can be written again");
            w->locked = 0;
        } else if (!any_ok && !w->locked && clock_monotonic_ms() >= deadline) {
            log_warn("catalog writer: the catalog stayed locked by another process for %d s;"
                     " deferring deliveries at once until it is free",
                     WRITER_LOCK_WAIT_MS / 1000);
            w->locked = 1;
        }
    }
    w->batches++;
    for (size_t i = 0; i < w->nadds; i++) {
        struct writer_conn *c = w->adds[i].conn;
        c->in_batch = 0;
        w->committed += results[i] == TAB_OK;
        writer_reply_start(w, results[i], errors[i]);
        /* A worker gone meanwhile: its connection is dropped at the next read. */
        (void)writer_reply(w, c);
        free(errors[i]);
        record_free(&w->adds[i].rec);
    }
    w->nadds = 0;
}

/* Take the first complete request of c, if any: 1 handled, 0 none
 * complete, -1 malformed (drop the connection). */
static int writer_take(struct writer *w, struct writer_conn *c)
{
    struct wire_reader r;
    uint32_t len;
    uint8_t op;
    int ret = 1;

    if (c->len < 4)
        return 0;
    len = writer_frame_len(c->buf);
    if (len > WRITER_FRAME_MAX || len == 0) {
        log_error("catalog writer: request of %" PRIu32 " bytes refused", len);
        return -1;
    }
    if (c->len - 4 < len)
        return 0;
    r.p = c->buf + 4;
    r.left = len;
    r.bad = 0;
    op = wire_get_u8(&r);
    if (op == OP_ADD) {
        struct writer_add *a = &w->adds[w->nadds];
        memset(&a->rec, 0, sizeof(a->rec));
        if (record_wire_decode(&r, &a->rec) < 0) {
            log_error("catalog writer: malformed add request");
            return -1;
        }
        a->conn = c;
        a->arrived = c->arrived;
        c->last_add = clock_monotonic_ms();
        c->in_batch = 1;
        w->nadds++;
    } else if (op == OP_KNOWN || op == OP_GET) {
        if (op == OP_KNOWN)
            writer_known(w, &r);
        else
            writer_get(w, &r);
        if (writer_reply(w, c) < 0)
            ret = -1;
    } else {
        log_error("catalog writer: unknown request %u", op);
        return -1;
    }
    memmove(c->buf, c->buf + 4 + len, c->len - 4 - len);
    c->len -= 4 + len;
    if (c->len == 0 && c->size > WRITER_KEEP_BUFFER) {
        /* A big request (S3 stores send the body text) is done: do not
         * keep its buffer for every idle connection. */
        free(c->buf);
        c->buf = NULL;
        c->size = 0;
    }
    return ret;
}

/* Read what c has; -1 when it closed or failed. */
static int writer_read(struct writer_conn *c)
{
    if (c->size - c->len < 65536) {
        c->size = c->size * 2 < c->len + 65536 ? c->len + 65536 : c->size * 2;
        c->buf = xrealloc(c->buf, c->size);
    }
    ssize_t n = read(c->fd, c->buf + c->len, c->size - c->len);
    if (n > 0) {
        if (c->len == 0)
            c->arrived = clock_monotonic_ms();
        c->len += (size_t)n;
        return 0;
    }
    return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
}

/*
 * Listen on path. The socket is bound under a temporary name and renamed
 * over path: a worker never finds the path missing (ENOENT) while a new
 * writer starts, and the previous writer, which makes its socket again
 * when the path vanishes (writer_check_socket), never sees it missing
 * either and cannot take the name from under its successor.
 */
static int writer_listen(const char *path)
{
    struct sockaddr_un sun;
    char tmp[sizeof(sun.sun_path)];
    int fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        snprintf(tmp, sizeof(tmp), "%s", path); /* no room: bind in place */
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", tmp);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* A socket left by a writer that died before its rename, or in place. */
    if ((unlink(tmp) < 0 && errno != ENOENT) ||
        bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(tmp, 0600) < 0 ||
        listen(fd, 256) < 0 || (strcmp(tmp, path) != 0 && rename(tmp, path) < 0)) {
        int saved = errno;
        (void)close(fd);
        if (strcmp(tmp, path) != 0)
            (void)unlink(tmp);
        errno = saved;
        return -1;
    }
    return fd;
}

static void writer_accept(struct writer *w, int listen_fd)
{
    for (;;) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return;
        /* Only our own workers (same uid) may write the catalog. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
            log_warn("catalog writer: connection from uid %ld refused",
                     getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? -1L
                                                                              : (long)cred.uid);
            (void)close(fd);
            continue;
        }
        struct writer_conn *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        w->conns = xrealloc(w->conns, (w->nconns + 1) * sizeof(*w->conns));
        w->conns[w->nconns++] = c;
    }
}

/* The identity of the socket file we bound, to know it again. */
static void writer_note_socket(struct writer *w, const char *path)
{
    struct stat st;

    w->sock_dev = 0;
    w->sock_ino = 0;
    if (lstat(path, &st) == 0) {
        w->sock_dev = st.st_dev;
        w->sock_ino = st.st_ino;
    }
}

/* Once a second: a socket file that vanished (queue_directory removed and
 * made again by hand) or that is no longer ours (a stale socket left at
 * the path: connecting to it is refused) is bound again, so that new
 * workers find us. Not while a SIGTERM waits to be handled: the master
 * sends it before it starts our successor, whose socket must stay. */
static void writer_check_socket(struct writer *w, const char *path, int *listen_fd)
{
    struct stat st;
    sigset_t pending;
    time_t now = time(NULL);
    int gone, fd;

    if (*listen_fd < 0 || now == w->socket_checked)
        return;
    w->socket_checked = now;
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGTERM))
        return;
    gone = lstat(path, &st) < 0;
    if (gone ? errno != ENOENT : st.st_dev == w->sock_dev && st.st_ino == w->sock_ino)
        return;
    if ((fd = writer_listen(path)) < 0) {
        if (!w->socket_lost)
            log_error("catalog writer: %s is %s and cannot be made again: %s", path,
                      gone ? "gone" : "not our socket", strerror(errno));
        w->socket_lost = 1;
        return;
    }
    log_info("catalog writer: %s was %s; listening again", path,
             gone ? "gone" : "replaced by another file");
    w->socket_lost = 0;
    writer_note_socket(w, path);
    (void)close(*listen_fd); /* a socket: nothing to lose */
    *listen_fd = fd;
}

/* Workers that sent an add() lately and have none in the batch: their
 * next add() may be on its way. */
static size_t writer_expected(struct writer *w, long long now)
{
    size_t n = 0;

    for (size_t i = 0; i < w->nconns; i++) {
        struct writer_conn *c = w->conns[i];
        n +=
            !c->in_batch && !c->failed && c->last_add != 0 && now - c->last_add <= WRITER_ACTIVE_MS;
    }
    return n;
}

static long long writer_clock_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Group commit window. Every worker waits for its reply, so the adds of a
 * batch come from different workers; each WAL page a commit writes (the
 * B-trees' interior pages, the leaves of the tables and indexes that grow
 * at the end: messages, copies, recipients, ...) is written once for the
 * whole batch, so the more adds share a commit, the fewer pages each
 * costs. While other workers that recently sent an add() have none in the
 * batch, wait for theirs, at most WRITER_GATHER_US: a lone delivery (no
 * other worker active) is committed at once. A connection whose read
 * fails here is only marked; the main loop drops it (its add, if any, is
 * answered first).
 */
static void writer_gather(struct writer *w)
{
    struct pollfd **pfds_r = &w->gather_pfds;
    long long start = writer_clock_us(), left;

    while (w->nadds > 0 && w->nadds < WRITER_BATCH_MAX &&
           (left = start + WRITER_GATHER_US - writer_clock_us()) > 0 &&
           writer_expected(w, start / 1000) > 0) {
        struct timespec ts = {0, (long)left * 1000};
        size_t npfd = 0;
        sigset_t none;

        sigemptyset(&none);
        *pfds_r = xrealloc(*pfds_r, (w->nconns + 1) * sizeof(**pfds_r));
        for (size_t i = 0; i < w->nconns; i++)
            (*pfds_r)[npfd++] = (struct pollfd){
                .fd = w->conns[i]->in_batch || w->conns[i]->failed ? -1 : w->conns[i]->fd,
                .events = POLLIN};
        if (ppoll(*pfds_r, npfd, &ts, &none) <= 0)
            continue; /* the time is up (or a signal: the loop's test says) */
        for (size_t i = 0; i < w->nconns && w->nadds < WRITER_BATCH_MAX; i++) {
            struct writer_conn *c = w->conns[i];
            if (!((*pfds_r)[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (writer_read(c) < 0 || writer_take(w, c) < 0)
                c->failed = 1;
        }
    }
}

int catalog_writer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master)
{
    struct writer w;
    struct pollfd *pfds = NULL;
    sigset_t none;
    char *path = catalog_writer_socket(cfg);
    int listen_fd;
    time_t drain_until = 0;

    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    if (child_start("catalog writer", WRITER_PROCESS_NAME, privs, master, writer_signal) < 0) {
        free(path);
        return 1;
    }
    sigemptyset(&none);
    listen_fd = writer_listen(path);
    if (listen_fd < 0) {
        log_error("catalog writer: cannot listen on %s: %s", path, strerror(errno));
        free(path);
        return 1;
    }
    writer_note_socket(&w, path);
    writer_open_catalog(&w);
    log_info("catalog writer started -- %s, batches of up to %d", path, WRITER_BATCH_MAX);

    for (;;) {
        struct timespec ts = {1, 0};
        size_t npfd = 0, base;
        int pending = 0;

        if (writer_stop && listen_fd >= 0) {
            (void)close(listen_fd); /* the path stays: the next writer may own it */
            listen_fd = -1;
            drain_until = time(NULL) + WRITER_DRAIN_S;
        }
        if (writer_stop && (w.nconns == 0 || time(NULL) >= drain_until))
            break;
        writer_open_catalog(&w);
        writer_check_socket(&w, path, &listen_fd);
        /* Complete requests already buffered: serve them before waiting. */
        for (size_t i = 0; i < w.nconns && !pending; i++)
            pending = w.conns[i]->len >= 4;
        pfds = xrealloc(pfds, (w.nconns + 1) * sizeof(*pfds));
        if (listen_fd >= 0)
            pfds[npfd++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        base = npfd;
        for (size_t i = 0; i < w.nconns; i++)
            pfds[npfd++] = (struct pollfd){.fd = w.conns[i]->fd, .events = POLLIN};
        if (pending)
            ts.tv_sec = 0;
        if (ppoll(pfds, npfd, &ts, &none) < 0) {
            if (errno != EINTR)
                log_error("catalog writer: poll: %s", strerror(errno));
            continue;
        }
        /* Read everything that arrived, then one request per connection:
         * the adds among them are one transaction. */
        for (size_t i = w.nconns; i-- > 0;)
            if ((pfds[base + i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                writer_read(w.conns[i]) < 0)
                writer_drop(&w, i);
        writer_open_catalog(&w); /* if it failed, once its backoff has passed */
        for (size_t i = w.nconns; i-- > 0;) {
            if (w.nadds == WRITER_BATCH_MAX)
                break;
            if (writer_take(&w, w.conns[i]) < 0) {
                /* Its add, if any, was taken before the failure: none. */
                writer_drop(&w, i);
            }
        }
        if (!writer_stop)
            writer_gather(&w);
        writer_commit(&w);
        if (listen_fd >= 0 && (pfds[0].revents & POLLIN))
            writer_accept(&w, listen_fd);
    }
    while (w.nconns > 0)
        writer_drop(&w, w.nconns - 1);
    free(w.conns);
    free(pfds);
    free(w.gather_pfds);
    if (listen_fd >= 0)
        (void)close(listen_fd);
    catalog_close(&w.cat);
    buf_free(&w.out);
    free(w.open_error);
    log_info("catalog writer stopped -- %" PRIu64 " copies committed in %" PRIu64 " transactions",
             w.committed, w.batches);
    free(path);
    return 0;
}
