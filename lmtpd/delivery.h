/*
 * NAME
 *	delivery 3h
 * SUMMARY
 *	one LMTP transaction's archive delivery, and the one place that
 *	decides LMTP reply codes for its outcome
 * DESCRIPTION
 *	delivery_run() takes a received transaction (envelope + spooled
 *	original), decodes the envelope, extracts index fields, wraps, stores,
 *	catalogs, and produces one reply per recipient. 250 only after the
 *	store and the catalog report durable success; any internal failure is
 *	451 4.3.0 (never 5xx: Postfix drops 5xx'd archive copies silently).
 */
#ifndef TAB_DELIVERY_H
#define TAB_DELIVERY_H

#include <time.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/archive_id.h"
#include "common/config.h"
#include "lmtpd/spool.h"

struct delivery_ctx {
    const struct tab_config *cfg;
    struct store *store;
    struct catalog *catalog;
    /* 1: leave body text and attachments to the catalog's indexer, which
     * reads them from the stored copy (an SQLite catalog and a store that
     * reads back cheaply: delivery_index_later()). Set once per worker. */
    int index_later;
};

/* What ctx->index_later should be for cfg. */
int delivery_index_later(const struct tab_config *cfg);

struct delivery_rcpt {
    char *addr;   /* RCPT TO address as received */
    char *orcpt;  /* ORCPT= or NULL */
    char *notify; /* NOTIFY= or NULL */
};

struct delivery_txn {
    char archive_id[ARCHIVE_ID_SIZE];
    char *sender;      /* MAIL FROM address ("" null sender) */
    char *mail_params; /* MAIL FROM parameters as received */
    char *xforward;    /* XFORWARD attributes as received, space-separated */
    char *queue_id;    /* from XFORWARD IDENT, "" unknown */
    struct delivery_rcpt *rcpts;
    size_t n_rcpts;
    int orig_fd;
    const char *orig_path;
    struct original_info info;
    char sha256[SHA256_HEX_SIZE];
    time_t arrival;
};

/* Deliver; replies_r[i] (heap, without CRLF) answers txn->rcpts[i]. */
void delivery_run(struct delivery_ctx *ctx, struct delivery_txn *txn, char **replies_r);
/* Replies for a transaction whose DATA could not be spooled. */
const char *delivery_spool_failure_reply(enum spool_status st);

#endif
