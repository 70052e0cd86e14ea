/*
 * NAME
 *	delivery 3
 * SUMMARY
 *	archive delivery of one LMTP transaction; reply code policy
 * DESCRIPTION
 *	Steps, in order: envelope decoding (archive+user=domain@... gives the
 *	original recipient; anything else makes the envelope incomplete),
 *	catalog look-up of recipients already archived for (queue id,
 *	SHA-256) — Postfix retries a message with the same queue id —, index
 *	fields (GMime: header fields; body text and attachments in bounded memory,
 *	unless the catalog's indexer takes them from the stored copy later), the wrapped copy
 *in a second spool file, store_put, the forward queue (lmtpd/forward_queue.h, when
 *	forward_recipient is set), catalog_add. Only then 250.
 *
 *	A later transaction of a message already in the catalog stores a
 *	further wrapped copy that lists only the recipients not yet archived,
 *	and the catalog joins it to the same message. Recipients already
 *	archived get 250 at once.
 *
 *	This file is the only place that turns outcomes into reply codes:
 *	OK -> 250 2.0.0; RETRY or PERM from any step -> 451 4.3.0 (a PERM
 *	from a driver is our trouble, not the client's); the operator's size
 *	limit -> 552 5.3.4.
 * DIAGNOSTICS
 *	One log line per transaction, archive id first:
 *	"ID: queue_id=Q, from=<s>, nrcpt=N, size=S, sha256=H, store=maildir,
 *	location=L, status=stored" (or status=duplicate, status=deferred (why)).
 */
#include "lmtpd/delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/retention.h"
#include "common/strlist.h"
#include "lmtpd/envelope.h"
#include "lmtpd/forward_queue.h"
#include "lmtpd/index_fields.h"
#include "lmtpd/wrap.h"

const char *delivery_spool_failure_reply(enum spool_status st)
{
    switch (st) {
    case SPOOL_TOOBIG:
        return "552 5.3.4 Message size exceeds fixed limit";
    case SPOOL_IO_ERROR:
        return "451 4.3.0 Temporary failure: cannot spool message";
    default:
        return "451 4.3.0 Temporary failure";
    }
}

static void delivery_reply_all(struct delivery_txn *txn, char **replies, const char *fmt,
                               const char *arg)
{
    for (size_t i = 0; i < txn->n_rcpts; i++)
        if (replies[i] == NULL)
            replies[i] = xasprintf(fmt, txn->rcpts[i].addr, arg);
}

/* Fill the record's envelope part; returns how many recipients are new. */
static size_t delivery_envelope(struct delivery_ctx *ctx, struct delivery_txn *txn,
                                struct archive_record *rec, const struct strlist *known,
                                char **replies)
{
    size_t fresh = 0;

    memcpy(rec->archive_id, txn->archive_id, sizeof(rec->archive_id));
    rec->envelope_from = xstrdup(txn->sender);
    rec->envelope_status = ENVELOPE_COMPLETE;
    rec->mail_params = xstrdup(txn->mail_params);
    rec->xforward = xstrdup(txn->xforward);
    rec->arrival = txn->arrival;
    rec->retain_until = retention_until_spec(ctx->cfg->retention_period, txn->arrival);
    rec->size = txn->info.size;
    memcpy(rec->sha256, txn->sha256, sizeof(rec->sha256));
    for (size_t i = 0; i < txn->n_rcpts; i++) {
        struct delivery_rcpt *r = &txn->rcpts[i];
        char *decoded = envelope_decode_recipient(r->addr, ctx->cfg->recipient_encoding_prefix);
        const char *address = decoded ? decoded : r->addr;
        if (decoded == NULL)
            rec->envelope_status = ENVELOPE_INCOMPLETE;
        if (strlist_has_nocase(known, address)) {
            replies[i] = xasprintf("250 2.0.0 <%s> already archived", r->addr);
        } else {
            int dup = 0;
            for (size_t j = 0; j < rec->n_rcpts; j++)
                dup |= strcasecmp(rec->rcpts[j].address, address) == 0;
            if (!dup)
                record_add_rcpt(rec, address, r->addr, r->orcpt, r->notify);
            fresh++;
        }
        free(decoded);
    }
    return fresh;
}

/* Postfix's queue id: XFORWARD IDENT, else the topmost Received: that
 * Postfix added (mail from sendmail/pickup has no XFORWARD). Without either,
 * the catalog keys the message on Message-ID + SHA-256. */
static void delivery_queue_id(struct delivery_txn *txn, struct archive_record *rec)
{
    const char *id = txn->queue_id;
    const char *source = "xforward";

    if (*id == '\0' && rec->received_id != NULL) {
        id = rec->received_id;
        source = "received";
    }
    free(rec->queue_id);
    rec->queue_id = xstrdup(id);
    if (*id != '\0')
        log_debug("%s: queue_id=%s from %s", txn->archive_id, id, source);
    else if (rec->message_id != NULL)
        log_info("%s: no queue id (no XFORWARD IDENT, no Postfix Received:); keyed on "
                 "message_id=<%s> and sha256",
                 txn->archive_id, rec->message_id);
    else
        log_info("%s: no queue id and no Message-ID; retried deliveries of this message "
                 "cannot be merged",
                 txn->archive_id);
}

/* The draft's no_archive: a copy that is already one of our archive
 * messages (its X-Tabularium-Archive-Id names a catalog entry) is
 * acknowledged and not archived again. */
static enum tab_result delivery_is_loop(struct delivery_ctx *ctx, const struct archive_record *rec,
                                        int *loop_r, const char **error_r)
{
    struct archive_record known;
    enum tab_result r;

    *loop_r = 0;
    if (rec->loop_archive_id == NULL)
        return TAB_OK;
    memset(&known, 0, sizeof(known));
    r = ctx->catalog->get(ctx->catalog, rec->loop_archive_id, &known, error_r);
    if (r == TAB_OK)
        *loop_r = 1;
    record_free(&known);
    /* PERM is "not found": another site's archive copy is archived normally. */
    return r == TAB_PERM ? TAB_OK : r;
}

/* A catalog that indexes later (SQLite) reads body text and attachments
 * from the stored copy, off the reply path, when reading it back is cheap
 * (not S3: a GET per message). */
int delivery_index_later(const struct tab_config *cfg)
{
    return catalog_spec_indexes_later(cfg->archive_catalog) &&
           store_spec_local_reads(cfg->archive_store);
}

void delivery_run(struct delivery_ctx *ctx, struct delivery_txn *txn, char **replies)
{
    struct archive_record rec;
    struct strlist known = STRLIST_INIT;
    const char *error = NULL;
    const char *step = NULL;
    char *wrap_path = NULL;
    char *location = NULL;
    int wrap_fd = -1, wrap_named = 0, loop, forward_queued = 0;
    enum tab_result r;

    memset(&rec, 0, sizeof(rec));
    for (size_t i = 0; i < txn->n_rcpts; i++)
        replies[i] = NULL;

    if (index_fields_extract(txn->orig_fd, &rec, &error) < 0) {
        step = "header parsing";
        goto fail;
    }
    if (ctx->index_later)
        rec.index_later = 1;
    else if (index_fields_extract_body(txn->orig_fd, &rec, &error) < 0) {
        step = "body indexing";
        goto fail;
    }
    delivery_queue_id(txn, &rec);
    r = delivery_is_loop(ctx, &rec, &loop, &error);
    if (r != TAB_OK) {
        step = "catalog lookup";
        goto fail;
    }
    if (loop) {
        delivery_reply_all(txn, replies, "250 2.0.0 <%s> is archive copy %s: not archived again",
                           rec.loop_archive_id);
        log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, status=loop "
                 "(already archive copy %s)",
                 txn->archive_id, rec.queue_id, txn->sender, txn->n_rcpts,
                 (unsigned long long)txn->info.size, txn->sha256, rec.loop_archive_id);
        goto out;
    }
    r = ctx->catalog->known_recipients(ctx->catalog, rec.queue_id, txn->sha256, rec.message_id,
                                       &known, &error);
    if (r != TAB_OK) {
        step = "catalog lookup";
        goto fail;
    }
    if (delivery_envelope(ctx, txn, &rec, &known, replies) == 0) {
        log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, status=duplicate "
                 "(all recipients already archived)",
                 txn->archive_id, rec.queue_id, txn->sender, txn->n_rcpts,
                 (unsigned long long)txn->info.size, txn->sha256);
        goto out;
    }
    wrap_fd = spool_create_unnamed(ctx->cfg->queue_directory, txn->archive_id, "wrap", &wrap_path,
                                   &wrap_named, &error);
    if (wrap_fd < 0) {
        step = "spool";
        goto fail;
    }
    if (wrap_write(&rec, &txn->info, txn->orig_fd, wrap_fd, ctx->cfg->myhostname, &error) < 0) {
        step = "wrap";
        goto fail;
    }
    if (lseek(wrap_fd, 0, SEEK_SET) < 0) {
        error = strerror(errno);
        step = "wrap";
        goto fail;
    }
    r = ctx->store->put(ctx->store, &rec, wrap_fd, wrap_path, &location, &error);
    if (r != TAB_OK) {
        step = "store";
        goto fail;
    }
    rec.store = xstrdup(ctx->store->name);
    rec.location = location;
    location = NULL;
    /* Forwarding: the copy is in the forward queue (durable, and locked
     * through wrap_fd until it is closed) before the catalog commit, so a
     * 250 implies it will be forwarded. A crash between the two leaves a
     * queued copy without a catalog row: Postfix retries, and the external
     * archive may get the message twice (two archive ids) -- never zero. */
    if (ctx->cfg->forward_recipient[0] != '\0') {
        if (forward_queue_add(ctx->cfg, &rec, wrap_fd, wrap_path, &error) < 0) {
            step = "forward queue";
            goto fail;
        }
        forward_queued = 1;
    }
    r = ctx->catalog->add(ctx->catalog, &rec, &error);
    if (r != TAB_OK) {
        /* The stored copy stays: an orphan is harmless, a lost message is not.
         * Postfix retries and the retry stores and catalogs again. */
        step = "catalog";
        if (forward_queued) {
            const char *qerr = NULL;
            /* Best effort: a copy left queued is forwarded once more. */
            if (forward_queue_remove(ctx->cfg->queue_directory, txn->archive_id, &qerr) < 0)
                log_warn("%s: %s", txn->archive_id, qerr);
        }
        goto fail;
    }
    delivery_reply_all(txn, replies, "250 2.0.0 <%s> archived as %s", txn->archive_id);
    log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, store=%s, "
             "location=%s, envelope=%s%s, status=stored",
             txn->archive_id, rec.queue_id, txn->sender, rec.n_rcpts, (unsigned long long)rec.size,
             rec.sha256, rec.store, rec.location, rec.envelope_status,
             forward_queued ? ", forward=queued" : "");
    goto out;

fail:
    log_error("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, status=deferred (%s failed: %s)",
              txn->archive_id, rec.queue_id ? rec.queue_id : txn->queue_id, txn->sender,
              txn->n_rcpts, (unsigned long long)txn->info.size, step,
              error ? error : "unknown error");
    delivery_reply_all(txn, replies, "451 4.3.0 <%s> Temporary failure: %s, try again later", step);
out:
    if (wrap_fd >= 0)
        close(wrap_fd);
    if (wrap_path != NULL) {
        if (wrap_named)
            unlink(wrap_path);
        free(wrap_path);
    }
    free(location);
    strlist_free(&known);
    record_free(&rec);
}
