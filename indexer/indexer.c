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
 *	wall-clock limits: mail/attach_text.c). This process does it
 *	afterwards, as Dovecot's indexer-worker does: it calls
 *	catalog_index_pending() for INDEXER_BATCH_ROWS messages at a time
 *	(one short write transaction each, so deliveries get the lock in
 *	between) for as long as there is work, and sleeps INDEXER_IDLE_MS
 *	when there is none (an idle check is one indexed read, no lock).
 *
 *	The lag is bounded (issue 15: "lag <= 10 s at the end of a
 *	five-minute burst"). Polite mode: while deliveries commit (catalog
 *	changed() since the last batch) it takes INDEXER_BUSY_ROWS at a time
 *	and pauses INDEXER_BUSY_PAUSE_MS after each, at nice INDEXER_NICE
 *	(nice alone does not help: a batch holds the write lock the catalog
 *	writer waits for), so that a short burst (make bench: 5000 messages
 *	in about 2 s) runs as fast as without an index and the index
 *	catches up afterwards. But every pending message arrived after the
 *	backlog was last seen empty; once that was INDEXER_LAG_TARGET_MS
 *	ago, it catches up: full batches without a pause, at nice
 *	INDEXER_CATCHUP_NICE, until the backlog is empty again, then polite
 *	again. During a sustained burst the two alternate (a saw-tooth of a
 *	few seconds); deliveries then share the CPU with the index instead
 *	of leaving it all for later. An empty backlog is one that a count
 *	says is empty, after a batch that got fewer rows than it asked for
 *	(the driver also stops at 2 MB of text). Going back to nice 0 as
 *	mail_owner needs RLIMIT_NICE, raised before the privileges are
 *	dropped (root only); without it the catch-up runs at nice 10.
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
 *	Log lines: "indexer started" and "indexer stopped" (info); "indexer:
 *	catching up -- ..." with the backlog and "indexer: caught up -- N
 *	messages in S s" (info, at most once per INDEXER_MODE_LOG_S: the
 *	next logged line says how many catch-ups were not); one line per
 *	batch at debug level (-v); a warning when the backlog is at least
 *	INDEXER_BACKLOG_WARN messages (counted at most once a minute while
 *	busy).
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/sha256.h"
#include "master/child.h"
#include "mail/text_source.h"

/* The process name (comm, at most 15 bytes) shown by ps. */
#define INDEXER_PROCESS_NAME "tab-indexer"
/* Messages per catalog_index_pending() transaction (the driver also stops at
 * about 2 MB of text, and at SQLITE_INDEX_BATCH_ROWS). */
#define INDEXER_BATCH_ROWS 50
/* While deliveries commit (the catalog changed since the last batch): a
 * batch holds the write lock the catalog writer needs, and at nice 10 it
 * may hold it long; so only this many messages, then a pause. About 100
 * messages a second: a short burst is worked off when it ends. Few
 * commits rather than many small ones: each commit of another connection
 * empties the catalog writer's page cache (SQLite drops it when the WAL
 * changed under it), and each FTS5 transaction writes a segment that
 * later merges cost again; 25 rows every 250 ms took 18 % less indexer
 * and 3 % less writer CPU per message than 5 every 50 ms (bench/README.md). */
#define INDEXER_BUSY_ROWS 25
#define INDEXER_BUSY_PAUSE_MS 250
/* The bound on the lag: once the backlog has not been empty for this long
 * (so its oldest message has waited at most this long), index full batches
 * without a pause, at INDEXER_CATCHUP_NICE, until it is empty. */
#define INDEXER_LAG_TARGET_MS 4000
/* The nice level while idle or polite, and while catching up (when
 * RLIMIT_NICE, raised before the privileges are dropped, allows it). */
#define INDEXER_NICE 10
#define INDEXER_CATCHUP_NICE 0
/* Log "catching up" at most this often (a sustained burst switches modes
 * every few seconds). */
#define INDEXER_MODE_LOG_S 60
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

/* Where the lag stands: the bounded-lag policy's state. */
struct indexer_lag {
    long long empty_ms;   /* when the backlog was last seen empty (monotonic) */
    long long catchup_ms; /* when catching up began; 0: polite */
    int64_t catchup_done; /* messages indexed since then */
    int logged;           /* this catch-up's start was logged */
    int can_renice;       /* RLIMIT_NICE lets it return to INDEXER_CATCHUP_NICE */
    int unlogged;         /* catch-ups not logged since the last line */
    time_t next_log;      /* log "catching up" again from then on */
};

/* Allow this process to return from INDEXER_NICE to INDEXER_CATCHUP_NICE
 * once it runs as mail_owner: an unprivileged process may lower its nice
 * value only down to 20 - RLIMIT_NICE. Needs root (CAP_SYS_RESOURCE) to
 * raise the hard limit; without it catching up stays at INDEXER_NICE. */
static int indexer_allow_renice(void)
{
    const rlim_t want = (rlim_t)(20 - INDEXER_CATCHUP_NICE);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NICE, &rl) < 0)
        return 0;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return 1; /* e.g. systemd's LimitNICE=+0 */
    rl.rlim_cur = want;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        rl.rlim_max = want; /* only root can raise it */
    return setrlimit(RLIMIT_NICE, &rl) == 0;
}

/* The oldest pending message has waited up to INDEXER_LAG_TARGET_MS: from
 * now on full batches, no pause, at INDEXER_CATCHUP_NICE. */
static void indexer_catchup_begin(struct indexer_lag *lag, struct catalog *cat, long long now_ms)
{
    time_t now = time(NULL);
    int64_t left = -1;
    int done = 0;
    const char *err = NULL;

    lag->catchup_ms = now_ms;
    lag->catchup_done = 0;
    lag->logged = 0;
    if (lag->can_renice && setpriority(PRIO_PROCESS, 0, INDEXER_CATCHUP_NICE) < 0)
        lag->can_renice = 0;
    if (now < lag->next_log) {
        lag->unlogged++;
        return;
    }
    /* max_rows 0: only counts; once a minute at most */
    if (catalog_index_pending(cat, 0, &done, &left, &err) != TAB_OK)
        left = -1;
    if (lag->unlogged > 0)
        log_info("indexer: catching up -- the backlog (%" PRId64 " messages) has not been empty"
                 " for %d s; full batches at nice %d until it is (%d more catch-ups since the"
                 " last such line)",
                 left, INDEXER_LAG_TARGET_MS / 1000,
                 lag->can_renice ? INDEXER_CATCHUP_NICE : INDEXER_NICE, lag->unlogged);
    else
        log_info("indexer: catching up -- the backlog (%" PRId64 " messages) has not been empty"
                 " for %d s; full batches at nice %d until it is",
                 left, INDEXER_LAG_TARGET_MS / 1000,
                 lag->can_renice ? INDEXER_CATCHUP_NICE : INDEXER_NICE);
    lag->unlogged = 0;
    lag->logged = 1;
    lag->next_log = now + INDEXER_MODE_LOG_S;
}

/* The backlog is empty again: back to short batches at INDEXER_NICE. */
static void indexer_catchup_end(struct indexer_lag *lag, long long now_ms)
{
    if (lag->can_renice && setpriority(PRIO_PROCESS, 0, INDEXER_NICE) < 0)
        log_warn("indexer: setpriority(%d): %s", INDEXER_NICE, strerror(errno));
    if (lag->logged)
        log_info("indexer: caught up -- %" PRId64 " messages in %.1f s; back to short batches"
                 " while deliveries commit",
                 lag->catchup_done, (double)(now_ms - lag->catchup_ms) / 1000.0);
    lag->catchup_ms = 0;
}

int indexer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master)
{
    struct catalog *cat = NULL;
    struct text_source *text = NULL;
    struct indexer_lag lag = {0};
    sigset_t none;
    char *last_error = NULL;
    time_t next_count = 0;
    int64_t total = 0;

    /* Before the privileges go: the right to return to nice 0. */
    lag.can_renice = indexer_allow_renice();
    /* "tab-indexer" in ps and top, apart from the workers. */
    if (child_start("indexer", INDEXER_PROCESS_NAME, privs, master, indexer_signal) < 0)
        return 1;
    /* SIGTERM and SIGHUP stay blocked (as the master left them) except
     * in indexer_sleep(). */
    sigemptyset(&none);

    errno = 0;
    if (nice(INDEXER_NICE) == -1 && errno != 0)
        log_warn("indexer: nice(%d): %s; indexing at the workers' priority", INDEXER_NICE,
                 strerror(errno));
    log_info("indexer started -- batch=%d messages, nice=%d, lag target=%d s (catching up at"
             " nice %d)",
             INDEXER_BATCH_ROWS, INDEXER_NICE, INDEXER_LAG_TARGET_MS / 1000,
             lag.can_renice ? INDEXER_CATCHUP_NICE : INDEXER_NICE);
    lag.empty_ms = clock_monotonic_ms();

    while (!indexer_stop) {
        const char *err = NULL;
        int64_t left = -1;
        int done = 0, rows;
        time_t now;
        long long now_ms;

        if (cat == NULL) {
            catalog_open_for_daemon(); /* a large page cache: this process writes */
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
        now_ms = clock_monotonic_ms();
        if (lag.catchup_ms == 0 && now_ms - lag.empty_ms >= INDEXER_LAG_TARGET_MS)
            indexer_catchup_begin(&lag, cat, now_ms);
        /* polite while deliveries commit, unless the lag reached its bound */
        int busy = catalog_changed(cat) && lag.catchup_ms == 0;
        rows = busy ? INDEXER_BUSY_ROWS : INDEXER_BATCH_ROWS;
        if (catalog_index_pending(cat, rows, &done, now >= next_count ? &left : NULL, &err) !=
            TAB_OK) {
            /* A fresh connection next time: the file may have been replaced. */
            indexer_retry_later(&last_error, LOG_LEVEL_WARN, err, &cat, &none);
            continue;
        }
        if (lag.catchup_ms != 0)
            lag.catchup_done += done;
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
        /* Fewer than asked: the backlog may be empty (or the batch hit the
         * driver's text limit, or a copy that cannot be read now): count. */
        if (done < rows && left < 0) {
            int none_done = 0;

            if (catalog_index_pending(cat, 0, &none_done, &left, &err) != TAB_OK)
                left = -1;
        }
        if (left == 0) {
            lag.empty_ms = clock_monotonic_ms();
            if (lag.catchup_ms != 0)
                indexer_catchup_end(&lag, lag.empty_ms);
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
