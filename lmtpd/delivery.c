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
 *in a second spool file, store_put, the forward queue (forwarder/queue.h, when
 *	forward_recipient is set), catalog_add. Only then 250. The wrap, the
 *	store put and catalog_add with its degraded retry are
 *	mail/archive_ingest.c, which tabularium import uses too.
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
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/retention.h"
#include "common/strlist.h"
#include "mail/envelope.h"
#include "forwarder/queue.h"
#include "mail/index_fields.h"
#include "mail/poison.h"
#include "mail/archive_ingest.h"
#include "mail/archive_write.h"

/* Longest envelope sender a log line shows whole (syslog daemons cut
 * long lines; the catalog and the archive message keep it all). */
#define DELIVERY_LOG_ADDR_MAX 256

/* Trace fields that may precede a returning archive message. */
#define DELIVERY_LOOP_PREFIX_MAX (64 * 1024)

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

/* addr for a log line: whole, or its first DELIVERY_LOG_ADDR_MAX bytes
 * and its length. */
static const char *delivery_log_addr(const char *addr, char *buf, size_t size)
{
    size_t n = strlen(addr);

    if (n <= DELIVERY_LOG_ADDR_MAX)
        return addr;
    snprintf(buf, size, "%.*s...(%zu bytes)", DELIVERY_LOG_ADDR_MAX, addr, n);
    return buf;
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

    archive_ingest_record(ctx->cfg, rec, txn->archive_id, txn->sender, ENVELOPE_COMPLETE,
                          txn->arrival, &txn->info, txn->sha256);
    rec->mail_params = xstrdup(txn->mail_params);
    rec->xforward = xstrdup(txn->xforward);
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

/* Postfix's queue id: XFORWARD IDENT, else the topmost Received: if the
 * Postfix that delivers here wrote it (its "by" host is postfix_myhostname):
 * mail from sendmail/pickup has no XFORWARD. A Received: line anyone else
 * wrote -- another site's Postfix, or a sender forging one -- says nothing
 * about this queue, and would make unrelated messages share an id. Without
 * either, the catalog keys the message on Message-ID + SHA-256. */
static void delivery_queue_id(const struct delivery_ctx *ctx, struct delivery_txn *txn,
                              struct archive_record *rec)
{
    const char *id = txn->queue_id;
    const char *source = "xforward";

    if (*id == '\0' && rec->received_id != NULL) {
        if (rec->received_by != NULL &&
            strcasecmp(rec->received_by, ctx->cfg->postfix_myhostname) == 0) {
            id = rec->received_id;
            source = "received";
        } else {
            log_info("%s: the topmost Received: (id %s) was written by %s, not by "
                     "postfix_myhostname %s: its queue id is not used",
                     txn->archive_id, rec->received_id,
                     rec->received_by ? rec->received_by : "an unnamed host",
                     ctx->cfg->postfix_myhostname);
        }
    }
    free(rec->queue_id);
    rec->queue_id = xstrdup(id);
    if (*id != '\0')
        log_debug("%s: queue_id=%s from %s", txn->archive_id, id, source);
    else if (rec->message_id != NULL)
        log_info("%s: no queue id (no XFORWARD IDENT, no Received: from this Postfix); keyed on "
                 "message_id=<%s> and sha256",
                 txn->archive_id, rec->message_id);
    else
        log_info("%s: no queue id and no Message-ID; retried deliveries of this message "
                 "cannot be merged",
                 txn->archive_id);
}

/* Only Received: fields (with their continuation lines) in the first len
 * bytes of fd: what MTAs prepend to a message they pass on. */
static int delivery_only_trace_fields(int fd, size_t len)
{
    char buf[DELIVERY_LOOP_PREFIX_MAX];
    int line_start = 1;

    if (len > sizeof(buf) || pread(fd, buf, len, 0) != (ssize_t)len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (line_start && buf[i] != ' ' && buf[i] != '\t' &&
            (len - i < 9 || strncasecmp(buf + i, "Received:", 9) != 0))
            return 0;
        line_start = buf[i] == '\n';
    }
    return line_start; /* the prefix ends with a whole line */
}

/*
 * The draft's no_archive, made unforgeable: a copy is acknowledged without
 * being stored only when it IS one of our archive messages coming back (a
 * content filter re-injecting, a misrouted copy). The copy named by its
 * X-Tabularium-Archive-Id must end the received message byte for byte
 * (SHA-256 over its last wrapped_size bytes), and only Received: fields
 * may precede it. A header that merely names a known id -- forged, copied
 * from an export or a forwarded copy, or on an altered copy -- proves
 * nothing: such a message is archived like any other, and the log says so.
 */
static enum tab_result delivery_is_loop(struct delivery_ctx *ctx, struct delivery_txn *txn,
                                        const struct archive_record *rec, int *loop_r,
                                        const char **error_r)
{
    struct archive_record known;
    char hex[SHA256_HEX_SIZE];
    enum tab_result r;
    const char *why = NULL;

    *loop_r = 0;
    if (rec->loop_archive_id == NULL)
        return TAB_OK;
    memset(&known, 0, sizeof(known));
    r = catalog_get(ctx->catalog, rec->loop_archive_id, &known, error_r);
    if (r == TAB_PERM) {
        /* "not found": another site's archive copy is archived normally. */
        record_free(&known);
        return TAB_OK;
    }
    if (r != TAB_OK) {
        record_free(&known);
        return r;
    }
    if (known.wrapped_size == 0 || known.wrapped_size > txn->info.size) {
        why = "larger than what arrived";
    } else {
        size_t prefix = (size_t)(txn->info.size - known.wrapped_size);
        if (lseek(txn->orig_fd, (off_t)prefix, SEEK_SET) < 0 ||
            sha256_fd(txn->orig_fd, (long long)known.wrapped_size, hex) < 0) {
            *error_r = strerror(errno);
            record_free(&known);
            return TAB_RETRY;
        }
        if (strcmp(hex, known.wrapped_sha256) != 0)
            why = "content differs from the stored copy";
        else if (!delivery_only_trace_fields(txn->orig_fd, prefix))
            why = "header fields other than Received: were added";
        else
            *loop_r = 1;
    }
    if (why != NULL)
        log_warn("%s: X-Tabularium-Archive-Id: %s names a copy in this archive, but %s: "
                 "forged or altered, archived as a new message",
                 txn->archive_id, rec->loop_archive_id, why);
    record_free(&known);
    return TAB_OK;
}

/* A catalog that indexes body text later (SQLite) reads body text and
 * attachments from the stored copy, off the reply path, when reading it
 * back is cheap (not S3: a GET per message). */
int delivery_index_later(const struct tab_config *cfg)
{
    return catalog_spec_body_later(cfg->archive_catalog) &&
           store_spec_local_reads(cfg->archive_store);
}

/* The stored copy of one transaction: wrap file, location, forward queue. */
struct delivery_copy {
    char *wrap_path;
    char *location;
    int wrap_fd, wrap_named, forward_queued;
};

static void delivery_copy_close(struct delivery_copy *c)
{
    if (c->wrap_fd >= 0)
        close(c->wrap_fd);
    if (c->wrap_path != NULL) {
        if (c->wrap_named)
            unlink(c->wrap_path);
        free(c->wrap_path);
    }
    free(c->location);
    memset(c, 0, sizeof(*c));
    c->wrap_fd = -1;
}

/* Take back the forward queue entry of a copy that the catalog did not
 * record. Best effort: a copy left queued is forwarded once more, which
 * loses nothing. The stored copy stays: an orphan is harmless. */
static void delivery_copy_undo(struct delivery_ctx *ctx, struct delivery_txn *txn,
                               struct delivery_copy *c)
{
    const char *err = NULL;

    if (c->forward_queued &&
        forward_queue_remove(ctx->cfg->queue_directory, txn->archive_id, &err) < 0)
        log_warn("%s: %s", txn->archive_id, err);
    delivery_copy_close(c);
}

/* Wrap, store, and queue for forwarding: everything before the catalog.
 * On success rec->store and rec->location are set. */
static int delivery_store(struct delivery_ctx *ctx, struct delivery_txn *txn,
                          struct archive_record *rec, struct delivery_copy *c, const char **step_r,
                          const char **error_r)
{
    c->wrap_fd = spool_create_unnamed(ctx->cfg->queue_directory, txn->archive_id, "wrap",
                                      &c->wrap_path, &c->wrap_named, error_r);
    if (c->wrap_fd < 0) {
        *step_r = "spool";
        return -1;
    }
    if (archive_ingest_store(ctx->cfg, ctx->store, rec, &txn->info, txn->orig_fd, c->wrap_fd,
                             c->wrap_path, &c->location, step_r, error_r) < 0)
        return -1;
    /* Forwarding: the copy is in the forward queue (durable, and locked
     * through wrap_fd until it is closed) before the catalog commit, so a
     * 250 implies it will be forwarded. A crash between the two leaves a
     * queued copy without a catalog row: Postfix retries, and the external
     * archive may get the message twice (two archive ids) -- never zero. */
    if (ctx->cfg->forward_recipient[0] != '\0') {
        if (forward_queue_add(ctx->cfg, rec, c->wrap_fd, c->wrap_path, error_r) < 0) {
            *step_r = "forward queue";
            return -1;
        }
        c->forward_queued = 1;
    }
    return 0;
}

/*
 * The reply rule (docs/ARCHITECTURE.md, "Replies"): message content never
 * causes a refusal, a crash or an endless 451. Only a client that breaks
 * the protocol (lmtp_session.c) or the operator's limits may refuse. So:
 * a message that killed a process while it was parsed (mail/poison.c)
 * is archived without parsing; a catalog that refuses a message's index
 * fields (TAB_PERM: constraint, size, encoding) gets it again with the
 * envelope alone. Both are flagged index=degraded, in the archive
 * message, the catalog and the log, for `tabularium reindex`. 451 is left
 * for what is our trouble and may pass: a store, a catalog or a disk that
 * fails.
 */
void delivery_run(struct delivery_ctx *ctx, struct delivery_txn *txn, char **replies)
{
    struct archive_record rec;
    struct strlist known = STRLIST_INIT;
    struct delivery_copy copy = {.wrap_fd = -1};
    const char *error = NULL;
    const char *step = NULL;
    char note[POISON_NOTE_MAX], from_buf[DELIVERY_LOG_ADDR_MAX + 32];
    const char *from = delivery_log_addr(txn->sender, from_buf, sizeof(from_buf));
    int loop = 0, safe;
    enum tab_result r;

    memset(&rec, 0, sizeof(rec));
    for (size_t i = 0; i < txn->n_rcpts; i++)
        replies[i] = NULL;

    safe = poison_marked(ctx->cfg->queue_directory, txn->sha256, note);
    if (!safe) {
        poison_enter(txn->sha256, "delivery");
        int bad = index_fields_extract(txn->orig_fd, &rec, &error) < 0;
        if (bad)
            step = "header parsing";
        else if (ctx->index_later)
            rec.index_later = 1;
        else if (index_fields_extract_body(txn->orig_fd, &rec, &error) < 0) {
            step = "body indexing";
            bad = 1;
        }
        poison_leave();
        if (bad)
            goto fail;
    }
    delivery_queue_id(ctx, txn, &rec);
    if (!safe) {
        r = delivery_is_loop(ctx, txn, &rec, &loop, &error);
        if (r != TAB_OK) {
            step = "catalog lookup";
            goto fail;
        }
    }
    if (loop) {
        delivery_reply_all(txn, replies, "250 2.0.0 <%s> is archive copy %s: not archived again",
                           rec.loop_archive_id);
        log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, status=loop "
                 "(already archive copy %s)",
                 txn->archive_id, rec.queue_id, from, txn->n_rcpts,
                 (unsigned long long)txn->info.size, txn->sha256, rec.loop_archive_id);
        goto out;
    }
    r = catalog_known_recipients(ctx->catalog, rec.queue_id, txn->sha256, rec.message_id, &known,
                                 &error);
    if (r != TAB_OK) {
        step = "catalog lookup";
        goto fail;
    }
    if (delivery_envelope(ctx, txn, &rec, &known, replies) == 0) {
        log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, status=duplicate "
                 "(all recipients already archived)",
                 txn->archive_id, rec.queue_id, from, txn->n_rcpts,
                 (unsigned long long)txn->info.size, txn->sha256);
        if (safe)
            poison_clear(ctx->cfg->queue_directory, txn->sha256);
        goto out;
    }
    if (safe) {
        char *why = xasprintf("safe mode: %s", note);
        record_degrade(&rec, why);
        free(why);
        log_warn("%s: queue_id=%s, sha256=%s: archived in safe mode, without parsing "
                 "(index=degraded): %s",
                 txn->archive_id, rec.queue_id, txn->sha256, note);
    }
    if (delivery_store(ctx, txn, &rec, &copy, &step, &error) < 0)
        goto fail;
    r = archive_ingest_catalog(ctx->catalog, &rec, &error);
    if (r != TAB_OK) {
        /* The stored copy stays: an orphan is harmless, a lost message is not.
         * Postfix retries and the retry stores and catalogs again. */
        step = "catalog";
        delivery_copy_undo(ctx, txn, &copy);
        goto fail;
    }
    if (safe)
        poison_clear(ctx->cfg->queue_directory, txn->sha256);
    delivery_reply_all(txn, replies, "250 2.0.0 <%s> archived as %s", txn->archive_id);
    log_info("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, sha256=%s, store=%s, "
             "location=%s, envelope=%s%s%s, status=stored",
             txn->archive_id, rec.queue_id, from, rec.n_rcpts, (unsigned long long)rec.size,
             rec.sha256, rec.store, rec.location, rec.envelope_status,
             record_is_degraded(&rec) ? ", index=degraded" : "",
             copy.forward_queued ? ", forward=queued" : "");
    goto out;

fail:
    log_error("%s: queue_id=%s, from=<%s>, nrcpt=%zu, size=%llu, status=deferred (%s failed: %s)",
              txn->archive_id, rec.queue_id ? rec.queue_id : txn->queue_id, from, txn->n_rcpts,
              (unsigned long long)txn->info.size, step, error ? error : "unknown error");
    delivery_reply_all(txn, replies, "451 4.3.0 <%s> Temporary failure: %s, try again later", step);
out:
    delivery_copy_close(&copy);
    strlist_free(&known);
    record_free(&rec);
}
