/*
 * NAME
 *	lmtp_session 3
 * SUMMARY
 *	LMTP server session: command table, state, per-recipient replies
 * DESCRIPTION
 *	States: before LHLO, ready, in a transaction (after MAIL), with at
 *	least one recipient. A command table maps verbs to handlers, each of
 *	which checks the state it needs. After DATA, one reply per accepted
 *	recipient, in RCPT order (RFC 2033 section 4.2). RSET, LHLO and the
 *	end of DATA reset the transaction; XFORWARD attributes last for one
 *	transaction, as in Postfix's smtpd.
 *
 *	Replies: 5xx only for protocol violations (bad syntax, bad sequence,
 *	unknown command, limits the client should have respected). Everything
 *	about storage is decided in delivery.c. A reply longer than 510 bytes
 *	(it quotes a long address) keeps its start and end around "...".
 *
 *	The session is bounded as Postfix's smtpd bounds it, since the
 *	timeout only bounds one command: every error counts, and so do
 *	junk commands (NOOP, RSET, VRFY, HELP, LHLO, XFORWARD) past
 *	lmtp_junk_command_limit and 452'd RCPTs past
 *	lmtp_recipient_overshoot_limit; at lmtp_hard_error_limit the session
 *	ends with 421 4.7.0. All three counts start again after each message
 *	received (DATA answered), which keeps Postfix's connection reuse
 *	(RSET between messages, for as long as its reuse limits allow)
 *	working. A transaction holds at most LMTP_ENVELOPE_BUDGET bytes of
 *	addresses and parameters (more recipients get 452 and come again),
 *	so long addresses cannot grow a worker without bound.
 *
 *	The session must never be stopped half way through DATA or a
 *	delivery: a stop request (SIGTERM, SIGHUP) ends it only while waiting
 *	for the next command, with 421.
 * DIAGNOSTICS
 *	"connect from", "disconnect from" lines; protocol errors at debug
 *	level (-v); timeouts, lost connections and "too many errors from
 *	CLIENT (errors=N, junk commands=N, ...)" as warnings.
 */
#include "lmtpd/lmtp_session.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strlist.h"
#include "mail/envelope.h"
#include "lmtpd/lmtp_io.h"

/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. */
#define LMTP_REPLY_MAX 510
/* Envelope bytes (addresses and parameters) one transaction may hold: a
 * RCPT that would exceed it gets 452 and comes again in a later
 * transaction, so a worker's memory stays bounded however long the
 * addresses are. The first recipient is always taken, so that any
 * address the line limit admits is archived. */
#define LMTP_ENVELOPE_BUDGET (4 * 1024 * 1024)

enum lmtp_state {
    LMTP_STATE_INIT,  /* no LHLO yet */
    LMTP_STATE_READY, /* after LHLO, no transaction */
    LMTP_STATE_MAIL,  /* after MAIL */
    LMTP_STATE_RCPT,  /* at least one accepted RCPT */
};

struct lmtp_session {
    struct lmtp_io *io;
    struct delivery_ctx *ctx;
    const struct tab_config *cfg;
    const char *client;
    enum lmtp_state state;
    /* Session bound (as Postfix's smtpd): errors and junk commands since
     * the last message received; both start again after each DATA. */
    int errors;
    int junk;
    int overshoot; /* RCPTs answered 452 for lmtp_recipient_limit */
    size_t envelope_bytes;
    int quit;
    /* transaction */
    char *sender;
    char *mail_params;
    struct delivery_rcpt *rcpts;
    size_t n_rcpts, cap_rcpts;
    struct strlist xforward;
    /* counters for the disconnect line */
    unsigned messages;
};

typedef void lmtp_cmd_fn(struct lmtp_session *s, char *args);

static void lmtp_session_reset(struct lmtp_session *s)
{
    free(s->sender);
    free(s->mail_params);
    s->sender = s->mail_params = NULL;
    for (size_t i = 0; i < s->n_rcpts; i++) {
        free(s->rcpts[i].addr);
        free(s->rcpts[i].orcpt);
        free(s->rcpts[i].notify);
    }
    s->n_rcpts = 0;
    s->envelope_bytes = 0;
    strlist_free(&s->xforward);
    if (s->state != LMTP_STATE_INIT)
        s->state = LMTP_STATE_READY;
}

static void lmtp_error(struct lmtp_session *s, const char *reply)
{
    s->errors++;
    log_debug("%s: protocol error: %s", s->client, reply);
    lmtp_io_reply(s->io, "%s", reply);
}

/* A command that does no work toward a message (NOOP, RSET, VRFY, HELP,
 * LHLO, XFORWARD): past lmtp_junk_command_limit each one counts as an
 * error, as smtpd_junk_command_limit does in Postfix, so that a client
 * cannot hold a worker by never sending mail. Postfix's LMTP client sends
 * one RSET (and XFORWARD) per message on a reused connection, and the
 * count starts again after each message. */
static void lmtp_junk(struct lmtp_session *s)
{
    if (++s->junk > s->cfg->lmtp_junk_command_limit)
        s->errors++;
}

/* Reply lines quote client addresses, which may now be long: keep the
 * start (code, start of the address) and the end (the archive id), so the
 * line stays within RFC 5321's 512 octets and still says what happened. */
static void lmtp_reply_line(struct lmtp_session *s, const char *reply)
{
    size_t len = strlen(reply);
    size_t keep = (LMTP_REPLY_MAX - 3) / 2;

    if (len <= LMTP_REPLY_MAX)
        lmtp_io_reply(s->io, "%s", reply);
    else
        lmtp_io_reply(s->io, "%.*s...%s", (int)keep, reply, reply + len - keep);
}

/* "FROM:" / "TO:" prefix, case-insensitive; returns the text after it. */
static char *lmtp_skip_keyword(char *args, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(args, kw, n) != 0)
        return NULL;
    return args + n;
}

static void lmtp_cmd_lhlo(struct lmtp_session *s, char *args)
{
    const struct tab_config *cfg = s->cfg;
    if (*args == '\0') {
        lmtp_error(s, "501 5.5.4 Syntax: LHLO hostname");
        return;
    }
    lmtp_junk(s);
    lmtp_session_reset(s);
    s->state = LMTP_STATE_READY;
    lmtp_io_reply(s->io, "250-%s", cfg->myhostname);
    lmtp_io_reply(s->io, "250-PIPELINING");
    if (cfg->message_size_limit > 0)
        lmtp_io_reply(s->io, "250-SIZE %lld", cfg->message_size_limit);
    else
        lmtp_io_reply(s->io, "250-SIZE");
    lmtp_io_reply(s->io, "250-ENHANCEDSTATUSCODES");
    lmtp_io_reply(s->io, "250-8BITMIME");
    lmtp_io_reply(s->io, "250-DSN");
    lmtp_io_reply(s->io, "250-SMTPUTF8");
    lmtp_io_reply(s->io, "250 XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE");
}

static void lmtp_cmd_helo(struct lmtp_session *s, char *args)
{
    (void)args;
    lmtp_error(s, "500 5.5.1 Error: this is LMTP, use LHLO");
}

/* 501 and a parser's "X.Y.Z text" (after prefix, a replacement code). */
static void lmtp_error_501(struct lmtp_session *s, const char *prefix, const char *error)
{
    char reply[300];

    snprintf(reply, sizeof(reply), "501 %s%s", prefix, error);
    lmtp_error(s, reply);
}

static void lmtp_cmd_mail(struct lmtp_session *s, char *args)
{
    struct strlist params = STRLIST_INIT;
    const char *error, *rest, *v;
    char *addr = NULL, *path;

    if (s->state == LMTP_STATE_INIT) {
        lmtp_error(s, "503 5.5.1 Error: send LHLO first");
        return;
    }
    if (s->state != LMTP_STATE_READY) {
        lmtp_error(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if ((path = lmtp_skip_keyword(args, "FROM:")) == NULL) {
        lmtp_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    if (envelope_parse_path(path, &addr, &rest, &error) < 0) {
        lmtp_error_501(s, "", error);
        return;
    }
    if (envelope_parse_params(rest, &params, &error) < 0) {
        lmtp_error_501(s, "", error);
        goto out;
    }
    for (size_t i = 0; i < params.n; i++) {
        static const char *known[] = {"SIZE", "BODY", "SMTPUTF8", "ENVID", "RET", NULL};
        size_t klen = strcspn(params.v[i], "=");
        int ok = 0;
        for (int k = 0; known[k]; k++)
            ok |= strlen(known[k]) == klen && strncmp(params.v[i], known[k], klen) == 0;
        if (!ok) {
            lmtp_error(s, "555 5.5.4 Unsupported MAIL parameter");
            goto out;
        }
    }
    if ((v = envelope_param(&params, "BODY")) != NULL && strcasecmp(v, "7BIT") != 0 &&
        strcasecmp(v, "8BITMIME") != 0) {
        lmtp_error(s, "501 5.5.4 Unsupported BODY parameter value");
        goto out;
    }
    if ((v = envelope_param(&params, "SIZE")) != NULL) {
        char *end;
        errno = 0;
        unsigned long long size = strtoull(v, &end, 10);
        if (!isdigit((unsigned char)*v) || *end != '\0' || errno != 0) {
            lmtp_error(s, "501 5.5.4 Bad SIZE parameter value");
            goto out;
        }
        if (s->cfg->message_size_limit > 0 &&
            size > (unsigned long long)s->cfg->message_size_limit) {
            lmtp_error(s, "552 5.3.4 Message size exceeds fixed limit");
            goto out;
        }
    }
    s->sender = addr;
    addr = NULL;
    while (*rest == ' ')
        rest++;
    s->mail_params = xstrdup(rest);
    s->envelope_bytes = strlen(s->sender) + strlen(s->mail_params);
    s->state = LMTP_STATE_MAIL;
    lmtp_io_reply(s->io, "250 2.1.0 Ok");
out:
    free(addr);
    strlist_free(&params);
}

static void lmtp_cmd_rcpt(struct lmtp_session *s, char *args)
{
    struct strlist params = STRLIST_INIT;
    const char *error, *rest;
    char *addr = NULL, *path;

    if (s->state != LMTP_STATE_MAIL && s->state != LMTP_STATE_RCPT) {
        lmtp_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if ((path = lmtp_skip_keyword(args, "TO:")) == NULL) {
        lmtp_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    if (envelope_parse_path(path, &addr, &rest, &error) < 0) {
        /* 5.1.3: bad destination mailbox address syntax (RFC 3463) */
        if (strncmp(error, "5.1.7 ", 6) == 0)
            lmtp_error_501(s, "5.1.3 ", error + 6);
        else
            lmtp_error_501(s, "", error);
        goto out;
    }
    if (*addr == '\0') {
        lmtp_error(s, "501 5.1.3 Syntax error: null recipient");
        goto out;
    }
    if (envelope_parse_params(rest, &params, &error) < 0) {
        lmtp_error_501(s, "", error);
        goto out;
    }
    for (size_t i = 0; i < params.n; i++)
        if (strncmp(params.v[i], "NOTIFY=", 7) != 0 && strncmp(params.v[i], "ORCPT=", 6) != 0) {
            lmtp_error(s, "555 5.5.4 Unsupported RCPT parameter");
            goto out;
        }
    /* 452: the client retries these recipients in a later transaction.
     * Past the overshoot limit each one counts as an error, as Postfix's
     * smtpd_recipient_overshoot_limit: a RCPT flood cannot hold a worker. */
    size_t bytes = strlen(addr) + strlen(rest);
    const char *overshoot = NULL;
    if (s->n_rcpts >= (size_t)s->cfg->lmtp_recipient_limit)
        overshoot = "";
    else if (s->n_rcpts > 0 && s->envelope_bytes + bytes > LMTP_ENVELOPE_BUDGET)
        overshoot = " (envelope size)";
    if (overshoot != NULL) {
        if (++s->overshoot > s->cfg->lmtp_recipient_overshoot_limit)
            s->errors++;
        lmtp_io_reply(s->io, "452 4.5.3 Error: too many recipients%s", overshoot);
        goto out;
    }
    s->envelope_bytes += bytes;
    if (s->n_rcpts == s->cap_rcpts) {
        s->cap_rcpts = s->cap_rcpts ? s->cap_rcpts * 2 : 16;
        s->rcpts = xrealloc(s->rcpts, s->cap_rcpts * sizeof(*s->rcpts));
    }
    struct delivery_rcpt *r = &s->rcpts[s->n_rcpts++];
    const char *orcpt = envelope_param(&params, "ORCPT");
    const char *notify = envelope_param(&params, "NOTIFY");
    r->addr = addr;
    r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
    r->notify = notify ? xstrdup(notify) : NULL;
    addr = NULL;
    s->state = LMTP_STATE_RCPT;
    lmtp_io_reply(s->io, "250 2.1.5 Ok");
out:
    free(addr);
    strlist_free(&params);
}

/* Queue id from XFORWARD IDENT: Postfix queue ids are alphanumeric. */
static char *lmtp_queue_id(const struct strlist *xforward)
{
    const char *ident = envelope_param(xforward, "IDENT");
    if (ident == NULL || *ident == '\0' || strcmp(ident, "[UNAVAILABLE]") == 0)
        return xstrdup("");
    if (strlen(ident) > 64) { /* Postfix ids are 10-20 characters; same bound as Received: */
        log_warn("ignoring over-long XFORWARD IDENT");
        return xstrdup("");
    }
    for (const char *p = ident; *p; p++)
        if (!isalnum((unsigned char)*p)) {
            log_warn("ignoring XFORWARD IDENT with unexpected characters");
            return xstrdup("");
        }
    return xstrdup(ident);
}

static void lmtp_cmd_data(struct lmtp_session *s, char *args)
{
    struct delivery_txn txn;
    const char *error = NULL;
    char **replies = NULL;

    if (*args != '\0') {
        lmtp_error(s, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (s->state == LMTP_STATE_MAIL) {
        lmtp_error(s, "554 5.5.1 Error: no valid recipients");
        return;
    }
    if (s->state != LMTP_STATE_RCPT) {
        lmtp_error(s, "503 5.5.1 Error: need RCPT command");
        return;
    }
    memset(&txn, 0, sizeof(txn));
    archive_id_new(txn.archive_id);
    txn.orig_fd = spool_orig_open(s->cfg->queue_directory, &txn.orig_path, &error);
    if (txn.orig_fd < 0) {
        log_error("%s: %s", txn.archive_id, error);
        lmtp_io_reply(s->io, "451 4.3.0 Temporary failure: cannot spool message");
        lmtp_session_reset(s);
        return;
    }
    lmtp_io_reply(s->io, "354 End data with <CR><LF>.<CR><LF>");
    lmtp_io_data_begin(s->io, s->cfg->lmtp_min_data_rate);
    enum spool_status st = spool_receive(s->io, txn.orig_fd, s->cfg->message_size_limit, &txn.info,
                                         txn.sha256, &error);
    if (st == SPOOL_LOST || st == SPOOL_TIMEOUT) {
        log_warn("%s: %s from %s after %llu bytes", txn.archive_id, error, s->client,
                 (unsigned long long)txn.info.size);
        if (st == SPOOL_TIMEOUT)
            lmtp_io_reply(s->io, "421 4.4.2 %s Error: timeout exceeded", s->cfg->myhostname);
        s->quit = 1;
        goto out;
    }
    replies = xcalloc(s->n_rcpts, sizeof(*replies));
    if (st != SPOOL_OK) {
        log_warn("%s: from=<%s>, nrcpt=%zu, size=%llu, status=%s (%s)", txn.archive_id, s->sender,
                 s->n_rcpts, (unsigned long long)txn.info.size,
                 st == SPOOL_TOOBIG ? "rejected" : "deferred", error);
        for (size_t i = 0; i < s->n_rcpts; i++)
            lmtp_io_reply(s->io, "%s", delivery_spool_failure_reply(st));
        goto out;
    }
    txn.arrival = time(NULL);
    txn.sender = s->sender;
    txn.mail_params = s->mail_params;
    txn.rcpts = s->rcpts;
    txn.n_rcpts = s->n_rcpts;
    txn.xforward = strlist_join(&s->xforward, " ");
    txn.queue_id = lmtp_queue_id(&s->xforward);
    delivery_run(s->ctx, &txn, replies);
    for (size_t i = 0; i < s->n_rcpts; i++)
        lmtp_reply_line(s, replies[i]);
    s->messages++;
    /* A message received: forgive, as Postfix's smtpd does after a
     * message, so that a long reused connection is never cut. */
    s->errors = s->junk = s->overshoot = 0;
out:
    if (replies != NULL)
        for (size_t i = 0; i < s->n_rcpts; i++)
            free(replies[i]);
    free(replies);
    free(txn.xforward);
    free(txn.queue_id);
    spool_orig_release();
    lmtp_session_reset(s);
}

static void lmtp_cmd_rset(struct lmtp_session *s, char *args)
{
    (void)args;
    lmtp_junk(s);
    lmtp_session_reset(s);
    lmtp_io_reply(s->io, "250 2.0.0 Ok");
}

static void lmtp_cmd_quit(struct lmtp_session *s, char *args)
{
    (void)args;
    lmtp_io_reply(s->io, "221 2.0.0 Bye");
    s->quit = 1;
}

static void lmtp_cmd_xforward(struct lmtp_session *s, char *args)
{
    static const char *attrs[] = {"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE", NULL};
    struct strlist params = STRLIST_INIT;
    const char *error;

    /* Each XFORWARD adds to the list until the transaction ends: as junk
     * it is bounded like NOOP (Postfix sends one or two per message). */
    lmtp_junk(s);
    if (s->state == LMTP_STATE_INIT) {
        lmtp_error(s, "503 5.5.1 Error: send LHLO first");
        return;
    }
    if (s->state != LMTP_STATE_READY) {
        lmtp_error(s, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    if (*args == '\0' || envelope_parse_params(args, &params, &error) < 0) {
        lmtp_error(s, "501 5.5.4 Syntax: XFORWARD attribute=value...");
        goto out;
    }
    for (size_t i = 0; i < params.n; i++) {
        size_t klen = strcspn(params.v[i], "=");
        int ok = params.v[i][klen] == '=';
        for (int k = 0; ok && attrs[k]; k++)
            if (strlen(attrs[k]) == klen && strncmp(params.v[i], attrs[k], klen) == 0)
                break;
            else if (attrs[k + 1] == NULL)
                ok = 0;
        if (!ok) {
            lmtp_error(s, "501 5.5.4 Bad XFORWARD attribute name");
            goto out;
        }
    }
    for (size_t i = 0; i < params.n; i++)
        strlist_add(&s->xforward, params.v[i]);
    lmtp_io_reply(s->io, "250 2.0.0 Ok");
out:
    strlist_free(&params);
}

/* A command is its function, or (fn NULL) junk answered with one fixed reply. */
static const struct lmtp_command {
    const char *name;
    lmtp_cmd_fn *fn;
    const char *junk_reply;
} lmtp_commands[] = {
    {"LHLO", lmtp_cmd_lhlo, NULL},
    {"MAIL", lmtp_cmd_mail, NULL},
    {"RCPT", lmtp_cmd_rcpt, NULL},
    {"DATA", lmtp_cmd_data, NULL},
    {"RSET", lmtp_cmd_rset, NULL},
    {"NOOP", NULL, "250 2.0.0 Ok"},
    {"QUIT", lmtp_cmd_quit, NULL},
    {"VRFY", NULL, "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery"},
    {"HELP", NULL, "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP XFORWARD"},
    {"HELO", lmtp_cmd_helo, NULL},
    {"EHLO", lmtp_cmd_helo, NULL},
    {"XFORWARD", lmtp_cmd_xforward, NULL},
    {NULL, NULL, NULL},
};

static void lmtp_dispatch(struct lmtp_session *s, char *line, size_t len)
{
    size_t vlen;
    char *args;

    if (strlen(line) != len) {
        lmtp_error(s, "500 5.5.2 Error: NUL character in command");
        return;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t') {
            lmtp_error(s, "500 5.5.2 Error: control character in command");
            return;
        }
    vlen = strcspn(line, " ");
    args = line + vlen;
    while (*args == ' ')
        args++;
    /* Trailing spaces are not part of any argument. */
    for (char *e = line + len; e > args && e[-1] == ' ';)
        *--e = '\0';
    for (const struct lmtp_command *c = lmtp_commands; c->name; c++)
        if (strlen(c->name) == vlen && strncasecmp(line, c->name, vlen) == 0) {
            if (c->fn != NULL) {
                c->fn(s, args);
            } else {
                lmtp_junk(s);
                lmtp_io_reply(s->io, "%s", c->junk_reply);
            }
            return;
        }
    lmtp_error(s, "500 5.5.2 Error: command not recognized");
}

int lmtp_session_run(int in_fd, int out_fd, const char *client, struct delivery_ctx *ctx,
                     volatile sig_atomic_t *stop_flag)
{
    struct lmtp_session s;
    int rc = 0;

    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.cfg = ctx->cfg;
    s.client = client;
    s.state = LMTP_STATE_INIT;
    s.io = lmtp_io_new(in_fd, out_fd, s.cfg->lmtp_timeout, stop_flag);
    log_debug("connect from %s", client);
    lmtp_io_reply(s.io, "220 %s LMTP Tabularium archive gateway ready", s.cfg->myhostname);
    while (!s.quit) {
        char *line;
        size_t len;
        enum lmtp_io_status st =
            lmtp_io_read_line(s.io, (size_t)s.cfg->lmtp_line_length_limit, 1, &line, &len);
        if (st == LMTP_IO_TOOLONG) {
            lmtp_error(&s, "500 5.5.2 Error: line too long");
        } else if (st == LMTP_IO_TIMEOUT) {
            log_warn("timeout after %s from %s", s.state == LMTP_STATE_INIT ? "CONNECT" : "command",
                     client);
            lmtp_io_reply(s.io, "421 4.4.2 %s Error: timeout exceeded", s.cfg->myhostname);
            rc = -1;
            break;
        } else if (st == LMTP_IO_STOP) {
            lmtp_io_reply(s.io, "421 4.3.2 %s Service shutting down, closing transmission channel",
                          s.cfg->myhostname);
            break;
        } else if (st != LMTP_IO_OK) {
            if (s.state == LMTP_STATE_MAIL || s.state == LMTP_STATE_RCPT)
                log_warn("lost connection from %s in the middle of a transaction", client);
            rc = st == LMTP_IO_EOF ? 0 : -1;
            break;
        } else {
            lmtp_dispatch(&s, line, len);
        }
        if (lmtp_io_broken(s.io)) {
            rc = -1;
            break;
        }
        if (s.errors >= s.cfg->lmtp_hard_error_limit) {
            lmtp_io_reply(s.io, "421 4.7.0 %s Error: too many errors", s.cfg->myhostname);
            log_warn("too many errors from %s (errors=%d, junk commands=%d, recipients over "
                     "the limit=%d since the last message)",
                     client, s.errors, s.junk, s.overshoot);
            rc = -1;
            break;
        }
    }
    lmtp_io_flush(s.io);
    log_debug("disconnect from %s messages=%u", client, s.messages);
    lmtp_session_reset(&s);
    free(s.rcpts);
    lmtp_io_free(&s.io);
    return rc;
}
