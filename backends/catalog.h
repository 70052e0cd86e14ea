/*
 * NAME
 *	catalog 3h
 * SUMMARY
 *	catalog driver interface and registry
 * DESCRIPTION
 *	The catalog indexes archived messages. One message is keyed on
 *	(queue id, SHA-256 of the original); a later transaction for the same
 *	message (Postfix split or retried its recipients) adds its stored copy
 *	and its new recipients to that message instead of a second one.
 *
 *	add() returns TAB_OK only after commit (durable). Drivers are opened
 *	from "type:spec" through one table in catalog.c; open failures give
 *	NULL (CLI) or a failing driver (daemon), as in store.h.
 * DIAGNOSTICS
 *	*error_r points at a driver-owned message valid until the next call.
 */
#ifndef TAB_CATALOG_H
#define TAB_CATALOG_H

#include <time.h>

#include "backends/record.h"
#include "common/config.h"
#include "common/result.h"
#include "common/strlist.h"

struct search_query {
    const char *from;       /* substring of envelope sender or header From */
    const char *to;         /* substring of any envelope recipient, header To or Cc */
    const char *subject;    /* substring of the decoded subject */
    const char *message_id; /* exact Message-ID (angle brackets optional) */
    time_t since;           /* 0: unbounded; compared with Date (arrival if none) */
    time_t until;           /* 0: unbounded; exclusive */
    long limit;             /* 0: no limit */
    const char *text;       /* full-text query over subject and body text, websearch syntax:
                               words (AND), "a phrase", OR, -word (NOT) */
    const char *attachment; /* substring of an attachment's file name */
    int has_attachment;     /* 1: only messages with at least one attachment */
};

/* Called once per match, newest first; rec is freed after the call.
 * Return non-zero to stop early. */
typedef int catalog_row_fn(const struct archive_record *rec, void *ctx);

struct catalog {
    const char *name; /* driver name: "sqlite" */
    /* Recipients already archived for the message with this key: (queue_id,
     * sha256), or, when the queue id is unknown (""), (message_id, sha256)
     * among messages without a queue id. Empty when the message is new or
     * both queue_id and message_id are unknown. */
    enum tab_result (*known_recipients)(struct catalog *cat, const char *queue_id,
                                        const char *sha256, const char *message_id,
                                        struct strlist *rcpts_r, const char **error_r);
    /* Record a stored copy. If the message is already known (the key of
     * known_recipients: queue id or Message-ID, with the SHA-256), the copy
     * and any new recipients join it; otherwise a new message is created
     * with rec->archive_id. */
    enum tab_result (*add)(struct catalog *cat, const struct archive_record *rec,
                           const char **error_r);
    enum tab_result (*search)(struct catalog *cat, const struct search_query *q, catalog_row_fn *fn,
                              void *ctx, const char **error_r);
    /* Fill rec for one archive id (of the message or of any of its copies).
     * TAB_PERM with "not found" when unknown. */
    enum tab_result (*get)(struct catalog *cat, const char *archive_id,
                           struct archive_record *rec_r, const char **error_r);
    /* Record what became of the forwarded copy archive_id (lmtpd/forwarder.c,
     * tabularium queue): status "deferred" (still queued; detail: the last
     * reason), "sent" (detail: the remote reply), "held" (detail: why),
     * "queued" (released from hold by the operator), "deleted" (removed by
     * the operator). One row per copy, replaced by each call, with the
     * time. No row: queued and not tried yet, or forwarding is off. May be
     * NULL in a driver without it: callers check. */
    enum tab_result (*forward_status)(struct catalog *cat, const char *archive_id,
                                      const char *status, const char *detail, const char **error_r);
    void (*close)(struct catalog *cat);
};

/* Helpers for drivers, so that every catalog reads a query the same way. */
/* LIKE/ILIKE pattern matching s as a literal substring with ESCAPE '\\':
 * "%" + s + "%" with %, _ and \\ escaped. Heap. */
char *catalog_like_substring(const char *s);
/* A Message-ID as stored: blanks and one pair of angle brackets removed. Heap. */
char *catalog_message_id_bare(const char *s);

struct catalog *catalog_open(const char *spec, const struct tab_config *cfg, const char **error_r);
/* 0 when spec names a known driver type (a configuration check). */
int catalog_spec_check(const char *spec, const char **error_r);
struct catalog *catalog_open_or_failing(const char *spec, const struct tab_config *cfg);
void catalog_close(struct catalog **cat);

struct catalog *catalog_sqlite_open(const char *spec, const struct tab_config *cfg,
                                    const char **error_r);
struct catalog *catalog_pgsql_open(const char *spec, const struct tab_config *cfg,
                                   const char **error_r);

#endif
