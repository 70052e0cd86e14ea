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
 *	unnamed file, then index_fields_extract_body_attachments(), which
 *	finds the original as the archive message's message/rfc822 part and
 *	appends the text inside its PDF, office, HTML and RTF attachments,
 *	each read in a child process of this one with memory, CPU and
 *	wall-clock limits: mail/attach_text.c). This process does it afterwards, as
 *Dovecot's indexer-worker does: it calls catalog_index_pending() for INDEXER_BATCH_ROWS
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
 *	index_time_limit) is remembered by the master (mail/poison.c); the
 *	next indexer does not parse it again but indexes it without body
 *	text and attachments and logs why, so the index never stalls behind
 *	one message.
 *
 *	Nothing is lost or indexed twice whatever happens to this process:
 *	a batch's FTS5 insert and its removal from the pending table commit
 *	together. Searches do not wait for it either: a full-text search
 *	indexes what is pending first (backends/sqlite/sqlite_search.c).
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
#include "indexer/indexer.h"

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
#include "master/child.h"
#include "mail/text_source.h"

/* The process name (comm, at most 15 bytes) shown by ps. */
#define INDEXER_PROCESS_NAME "tab-indexer"
/* Messages per catalog_index_pending() transaction (the driver also stops at
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

/* The catalog failed (err): say so at level unless it is what was said
 * last (*last_r, once per distinct reason rather than every few seconds),
 * close it and wait before the next try. */
static void indexer_retry_later(char **last_r, enum log_level level, const char *err,
                                struct catalog **cat, const sigset_t *unblocked)
{
    if (*last_r == NULL || strcmp(*last_r, err) != 0) {
        log_msg(level, "indexer: %s; retrying every %d s", err, INDEXER_RETRY_S);
        free(*last_r);
        *last_r = xstrdup(err);
    }
    catalog_close(cat);
    indexer_sleep(INDEXER_RETRY_S * 1000L, unblocked);
}

int indexer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master)
{
    struct catalog *cat = NULL;
    struct text_source *text = NULL;
    sigset_t none;
    char *last_error = NULL;
    time_t next_count = 0;
    int64_t total = 0;

    /* "tab-indexer" in ps and top, apart from the workers. */
    if (child_start("indexer", INDEXER_PROCESS_NAME, privs, master, indexer_signal) < 0)
        return 1;
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
            if (cat == NULL || !catalog_can(cat, CATALOG_CAN_INDEX_PENDING)) {
                /* Said once per distinct reason, not every few seconds. */
                if (cat != NULL)
                    err = "the catalog driver has no index_pending";
                indexer_retry_later(&last_error, LOG_LEVEL_ERROR, err, &cat, &none);
                continue;
            }
            text_source_free(&text);
            text = text_source_attach(cat, cfg);
        }
        now = time(NULL);
        int busy = catalog_changed(cat);
        if (catalog_index_pending(cat, busy ? INDEXER_BUSY_ROWS : INDEXER_BATCH_ROWS, &done,
                                  now >= next_count ? &left : NULL, &err) != TAB_OK) {
            /* A fresh connection next time: the file may have been replaced. */
            indexer_retry_later(&last_error, LOG_LEVEL_WARN, err, &cat, &none);
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
    text_source_free(&text);
    free(last_error);
    log_info("indexer stopped -- indexed %" PRId64 " messages", total);
    return 0;
}
