/*
 * NAME
 *	indexer 3
 * SUMMARY
 *	the process that moves pending message text into the full-text index
 * SYNOPSIS
 *	master.c, in the indexer child: _exit(indexer_main(cfg, &privs, master));
 * DESCRIPTION
 *	Deliveries record a message in the catalog durably but without
 *	its body text (the SQLite catalog's text_pending table,
 *	docs/schema.md): the FTS5 insert was the largest user-space cost of
 *	a delivery, and sending the text through the catalog's WAL the
 *	largest part of the rest at 100 KiB; nothing about it has to happen
 *	before the 250. This process reads body text and attachments from
 *	the stored copy (the text source below: the store's get() into an
 *	unnamed file, then index_fields_extract_body(), which finds the
 *	original as the archive message's message/rfc822 part). This process does it afterwards, as
 *Dovecot's indexer-worker does: it calls the catalog's index_pending() for INDEXER_BATCH_ROWS
 *	messages at a time (one short write transaction each, so deliveries
 *	get the lock in between) for as long as there is work, and sleeps
 *	INDEXER_IDLE_MS when there is none (an idle check is one indexed
 *	read, no lock). While deliveries commit (catalog changed() since the
 *	last batch) it takes INDEXER_BUSY_ROWS at a time and pauses
 *	INDEXER_BUSY_PAUSE_MS after each: nice does not help a process that
 *	holds the write lock the catalog writer waits for. It runs as
 *	mail_owner at nice 10, so that during a burst the workers win the
 *	CPU and the index catches up afterwards.
 *
 *	A copy whose text kills this process (or keeps it parsing beyond
 *	index_time_limit) is remembered by the master (lmtpd/poison.c); the
 *	next indexer does not parse it again but indexes it without body
 *	text and attachments and logs why, so the index never stalls behind
 *	one message.
 *
 *	Nothing is lost or indexed twice whatever happens to this process:
 *	a batch's FTS5 insert and its removal from the pending table commit
 *	together. Searches do not wait for it either: a full-text search
 *	indexes what is pending first (backends/sqlite/sqlite.c).
 *
 *	The process is named "tab-indexer" (ps -o comm), so that it can be
 *	told from the workers.
 *
 *	Log lines: "indexer started" and "indexer stopped" (info); one line
 *	per batch at debug level (-v); a warning when the backlog is at
 *	least INDEXER_BACKLOG_WARN messages (counted at most once a minute
 *	while busy).
 * DIAGNOSTICS
 *	A catalog that cannot be opened or a batch that fails is logged and
 *	tried again after INDEXER_RETRY_S seconds; the process does not exit
 *	for it (the master would only restart it).
 */
#include "lmtpd/indexer.h"
#include "lmtpd/master.h"

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
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/log.h"
#include "common/sha256.h"
#include "lmtpd/index_fields.h"
#include "lmtpd/poison.h"

/* The process name (comm, at most 15 bytes) shown by ps. */
#define INDEXER_PROCESS_NAME "tab-indexer"
/* Messages per index_pending() transaction (the driver also stops at
 * about 2 MB of text). */
#define INDEXER_BATCH_ROWS 50
/* While deliveries commit (the catalog changed since the last batch): a
 * batch holds the write lock the catalog writer needs, and at nice 10 it
 * may hold it long; so only this many messages, then a pause. About 100
 * messages a second; the backlog is worked off when the burst ends. */
#define INDEXER_BUSY_ROWS 5
#define INDEXER_BUSY_PAUSE_MS 50
/* Sleep when nothing is pending. */
#define INDEXER_IDLE_MS 1000
/* After a failure (catalog unavailable, a batch failed). */
#define INDEXER_RETRY_S 5
/* Warn when at least this many messages wait. */
#define INDEXER_BACKLOG_WARN 10000
/* Count the backlog at most this often while busy (a count(*)). */
#define INDEXER_BACKLOG_EVERY 60

struct indexer_text_source {
    const struct tab_config *cfg;
    struct store *store; /* cfg->archive_store, opened on first use */
    int fd;              /* the unnamed scratch file, reused, or -1 */
    char error[1024];
};

/* An unnamed file for the copy: in the queue directory (the daemon's
 * scratch space), else in TMPDIR or /tmp (a CLI user who cannot enter it). */
static int indexer_tmpfile(const struct tab_config *cfg)
{
    const char *tmp = getenv("TMPDIR");
    int fd = open(cfg->queue_directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0)
        fd = open(tmp != NULL && *tmp == '/' ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd;
}

static enum tab_result indexer_text(void *ctx, const char *store, const char *location,
                                    struct archive_record *rec, const char **error_r)
{
    struct indexer_text_source *ts = ctx;
    const char *err = NULL;
    enum tab_result r;
    int fd;

    *error_r = ts->error;
    if (ts->store == NULL &&
        (ts->store = store_open(ts->cfg->archive_store, ts->cfg, &err)) == NULL) {
        snprintf(ts->error, sizeof(ts->error), "cannot open the store: %s", err);
        return TAB_RETRY;
    }
    if (strcmp(ts->store->name, store) != 0) {
        snprintf(ts->error, sizeof(ts->error), "its copy is in a %s store, not in archive_store %s",
                 store, ts->cfg->archive_store);
        return TAB_PERM;
    }
    /* One file for every copy, emptied each time: a file created and
     * removed per message would cost an inode allocation each, and on
     * ext4 without a journal a freed inode slows the next allocations. */
    if (ts->fd < 0 && (ts->fd = indexer_tmpfile(ts->cfg)) < 0) {
        snprintf(ts->error, sizeof(ts->error), "cannot create a temporary file: %s",
                 strerror(errno));
        return TAB_RETRY;
    }
    fd = ts->fd;
    if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        snprintf(ts->error, sizeof(ts->error), "cannot empty the temporary file: %s",
                 strerror(errno));
        return TAB_RETRY;
    }
    /* The poison board (lmtpd/poison.c) keys a copy on the SHA-256 of its
     * location: a copy whose text killed this process before is not
     * parsed again, else the index would stop behind it for good. */
    struct sha256_ctx *h = sha256_new();
    char key[SHA256_HEX_SIZE], note[POISON_NOTE_MAX];
    sha256_update(h, store, strlen(store) + 1);
    sha256_update(h, location, strlen(location));
    sha256_final_hex(h, key);
    if (poison_marked(ts->cfg->queue_directory, key, note)) {
        log_warn("indexer: the copy at %s:%s is not parsed again: %s", store, location, note);
        poison_clear(ts->cfg->queue_directory, key);
        snprintf(ts->error, sizeof(ts->error), "parsing it killed the indexer before (%s)", note);
        return TAB_PERM;
    }
    r = ts->store->get(ts->store, location, fd, &err);
    if (r != TAB_OK) {
        snprintf(ts->error, sizeof(ts->error), "%s", err);
        return r;
    }
    poison_enter(key, "indexer");
    if (index_fields_extract_body(fd, rec, &err) < 0) {
        snprintf(ts->error, sizeof(ts->error), "%s", err);
        r = TAB_RETRY;
    }
    poison_leave();
    return r;
}

struct indexer_text_source *indexer_text_source_attach(struct catalog *cat,
                                                       const struct tab_config *cfg)
{
    struct indexer_text_source *ts;

    if (cat == NULL || cat->set_text_source == NULL)
        return NULL;
    index_fields_init(); /* GMime (reference counted) */
    ts = xcalloc(1, sizeof(*ts));
    ts->cfg = cfg;
    ts->fd = -1;
    cat->set_text_source(cat, indexer_text, ts);
    return ts;
}

void indexer_text_source_free(struct indexer_text_source **ts)
{
    if (*ts == NULL)
        return;
    store_close(&(*ts)->store);
    if ((*ts)->fd >= 0)
        (void)close((*ts)->fd); /* unnamed scratch file: nothing to lose */
    free(*ts);
    *ts = NULL;
    index_fields_deinit();
}

static volatile sig_atomic_t indexer_stop;

static void indexer_signal(int sig)
{
    (void)sig;
    indexer_stop = 1;
}

/* Sleep ms, or until SIGTERM/SIGHUP: they are unblocked only here, so a
 * batch is never interrupted and a signal is never missed. */
static void indexer_sleep(long ms, const sigset_t *unblocked)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    if (!indexer_stop)
        (void)ppoll(NULL, 0, &ts, unblocked);
}

int indexer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master)
{
    struct catalog *cat = NULL;
    struct indexer_text_source *text = NULL;
    sigset_t none;
    char *error = NULL;
    char *last_error = NULL;
    time_t next_count = 0;
    int64_t total = 0;

    if (privs_drop(privs, &error) < 0) {
        log_error("indexer: %s", error);
        free(error);
        return 1;
    }
    /* As the workers and the forwarder: never outlive the master. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master) {
        log_error("indexer: the master is gone or cannot be watched; exiting");
        return 1;
    }
    /* "tab-indexer" in ps and top, apart from the workers. */
    (void)prctl(PR_SET_NAME, INDEXER_PROCESS_NAME);
    master_helper_signals(indexer_signal);
    /* SIGTERM and SIGHUP stay blocked (as the master left them) except
     * in indexer_sleep(). */
    sigemptyset(&none);

    errno = 0;
    if (nice(10) == -1 && errno != 0)
        log_warn("indexer: nice(10): %s; indexing at the workers' priority", strerror(errno));
    log_info("indexer started -- batch=%d messages, nice=10", INDEXER_BATCH_ROWS);

    while (!indexer_stop) {
        const char *err = NULL;
        int64_t left = -1;
        int done = 0;
        time_t now;

        if (cat == NULL) {
            cat = catalog_open(cfg->archive_catalog, cfg, &err);
            if (cat == NULL || cat->index_pending == NULL) {
                /* Said once per distinct reason, not every few seconds. */
                if (cat != NULL)
                    err = "the catalog driver has no index_pending";
                if (last_error == NULL || strcmp(last_error, err) != 0) {
                    log_error("indexer: %s; retrying every %d s", err, INDEXER_RETRY_S);
                    free(last_error);
                    last_error = xstrdup(err);
                }
                catalog_close(&cat);
                indexer_sleep(INDEXER_RETRY_S * 1000L, &none);
                continue;
            }
            indexer_text_source_free(&text);
            text = indexer_text_source_attach(cat, cfg);
        }
        now = time(NULL);
        int busy = cat->changed != NULL && cat->changed(cat);
        if (cat->index_pending(cat, busy ? INDEXER_BUSY_ROWS : INDEXER_BATCH_ROWS, &done,
                               now >= next_count ? &left : NULL, &err) != TAB_OK) {
            if (last_error == NULL || strcmp(last_error, err) != 0) {
                log_warn("indexer: %s; retrying every %d s", err, INDEXER_RETRY_S);
                free(last_error);
                last_error = xstrdup(err);
            }
            /* A fresh connection next time: the file may have been replaced. */
            catalog_close(&cat);
            indexer_sleep(INDEXER_RETRY_S * 1000L, &none);
            continue;
        }
        if (last_error != NULL) {
            log_info("indexer: the catalog works again");
            free(last_error);
            last_error = NULL;
        }
        if (left >= 0) {
            /* Counted after a busy batch at most once a minute; after an
             * idle one it is 0 and the next batch with work counts again. */
            next_count = done > 0 ? now + INDEXER_BACKLOG_EVERY : 0;
            if (left >= INDEXER_BACKLOG_WARN)
                log_warn("indexer: %" PRId64 " messages wait for full-text indexing"
                         " (search --text indexes them itself before searching)",
                         left);
        }
        if (done > 0) {
            total += done;
            if (left >= 0)
                log_debug("indexer: indexed %d messages, %" PRId64 " pending", done, left);
            else
                log_debug("indexer: indexed %d messages", done);
            if (busy)
                indexer_sleep(INDEXER_BUSY_PAUSE_MS, &none);
            continue;
        }
        indexer_sleep(INDEXER_IDLE_MS, &none);
    }
    catalog_close(&cat);
    indexer_text_source_free(&text);
    free(last_error);
    log_info("indexer stopped -- indexed %" PRId64 " messages", total);
    return 0;
}
