/*
 * NAME
 *	indexer 3
 * SUMMARY
 *	the process that moves pending message text into the full-text index
 * SYNOPSIS
 *	master.c, in the indexer child: _exit(indexer_main(cfg, &privs, master));
 * DESCRIPTION
 *	Deliveries store a message's subject and body text in the catalog
 *	durably but without tokenising it (the SQLite catalog's text_pending
 *	table, docs/schema.md): the FTS5 insert was the largest user-space
 *	cost of a delivery, and nothing about it has to happen before the
 *	250. This process does it afterwards, as Dovecot's indexer-worker
 *	does: it calls the catalog's index_pending() for INDEXER_BATCH_ROWS
 *	messages at a time (one short write transaction each, so deliveries
 *	get the lock in between) for as long as there is work, and sleeps
 *	INDEXER_IDLE_MS when there is none (an idle check is one indexed
 *	read, no lock). It runs as mail_owner at nice 10, so that during a
 *	burst the workers win the CPU and the index catches up afterwards.
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
#include "common/log.h"

/* The process name (comm, at most 15 bytes) shown by ps. */
#define INDEXER_PROCESS_NAME "tab-indexer"
/* Messages per index_pending() transaction (the driver also stops at
 * about 2 MB of text). */
#define INDEXER_BATCH_ROWS 50
/* Sleep when nothing is pending. */
#define INDEXER_IDLE_MS 1000
/* After a failure (catalog unavailable, a batch failed). */
#define INDEXER_RETRY_S 5
/* Warn when at least this many messages wait. */
#define INDEXER_BACKLOG_WARN 10000
/* Count the backlog at most this often while busy (a count(*)). */
#define INDEXER_BACKLOG_EVERY 60

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
        }
        now = time(NULL);
        if (cat->index_pending(cat, INDEXER_BATCH_ROWS, &done, now >= next_count ? &left : NULL,
                               &err) != TAB_OK) {
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
            continue;
        }
        indexer_sleep(INDEXER_IDLE_MS, &none);
    }
    catalog_close(&cat);
    free(last_error);
    log_info("indexer stopped -- indexed %" PRId64 " messages", total);
    return 0;
}
