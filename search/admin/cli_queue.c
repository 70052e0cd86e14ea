/*
 * NAME
 *	cli_queue 3
 * SUMMARY
 *	tabularium queue: list, show, retry and delete forwarded copies
 * SYNOPSIS
 *	tabularium queue list
 *	tabularium queue show ARCHIVE-ID
 *	tabularium queue retry ARCHIVE-ID | --all
 *	tabularium queue delete ARCHIVE-ID --force
 * DESCRIPTION
 *	The operator's view of the forward queue (forwarder/queue.h)
 *	under $queue_directory/forward: copies waiting for delivery to
 *	forward_recipient (active) and copies a server refused for good or
 *	that cannot be sent as they are (hold).
 *
 *	retry makes an active copy due now, or releases a held one into the
 *	active queue, due now; the forwarder notices at once. delete removes
 *	a copy from the queue for good and asks for --force, because the
 *	external archive then never gets it (the archive's own stored copy
 *	stays). Both take the entry's lock, so they never race with the
 *	forwarder; a copy being delivered right now is reported as busy.
 *	Changes are noted in the catalog's forward status when the catalog
 *	driver keeps one.
 *
 *	Must never modify a queued copy (.eml), and never create the queue.
 * DIAGNOSTICS
 *	Exit 0 done (list: entries listed), 1 no such entry (list: the
 *	queue is empty), 2 usage, configuration or queue access error, or the
 *	entry is busy. Messages go to stderr as "tabularium queue: ...".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/record.h"
#include "common/archive_id.h"
#include "common/config.h"
#include "common/strlist.h"
#include "forwarder/queue.h"
#include "search/cli.h"

const char cli_queue_help[] =
    "NAME\n"
    "    tabularium queue - the queue of copies forwarded to forward_recipient\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium queue list\n"
    "    tabularium queue show ARCHIVE-ID\n"
    "    tabularium queue retry ARCHIVE-ID | --all\n"
    "    tabularium queue delete ARCHIVE-ID --force\n"
    "\n"
    "DESCRIPTION\n"
    "    When forward_recipient is set, tabulariumd sends every archive copy\n"
    "    by SMTP to it as well. Copies wait in the active queue until the\n"
    "    server accepts them (retried with backoff, forever by default). A\n"
    "    copy that the server refuses for good (5xx), or that it cannot take\n"
    "    without a conversion (SMTPUTF8, 8BITMIME, size), waits in the hold\n"
    "    queue until an operator acts: nothing is bounced or dropped.\n"
    "\n"
    "    list    every queued copy: archive id, queue (active or hold), size,\n"
    "            arrival, attempts, sender and recipient, then the next\n"
    "            attempt and the last reason on a second line\n"
    "    show    one copy's queue entry in name: value lines\n"
    "    retry   make an active copy due now, or move a held copy back to\n"
    "            the active queue, due now; --all: every copy in both queues\n"
    "    delete  remove a copy from the queue for good (the archive keeps its\n"
    "            own stored copy); needs --force\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done, 1 no such copy (list: the queue is empty), 2 usage,\n"
    "    configuration or queue access error, or the copy is being\n"
    "    delivered right now (try again).\n";

static void cli_queue_time(time_t t, char buf[21])
{
    if (t <= 0)
        snprintf(buf, 21, "never");
    else
        record_format_time(t, buf);
}

static void cli_queue_note(struct cli_context *ctx, const char *id, const char *status,
                           const char *detail)
{
    struct catalog *cat = ctx->catalog(ctx);
    const char *error = NULL;

    if (cat == NULL || !catalog_can(cat, CATALOG_CAN_FORWARD_STATUS))
        return;
    if (catalog_forward_status(cat, id, status, detail, &error) != TAB_OK)
        fprintf(stderr, "tabularium queue: %s: cannot record status %s in the catalog: %s\n", id,
                status, error ? error : "unknown error");
}

static int cli_queue_list(const struct tab_config *cfg)
{
    const char *queues[] = {FORWARD_QUEUE_ACTIVE, FORWARD_QUEUE_HOLD};
    size_t count[2] = {0, 0};
    const char *error = NULL;

    for (size_t q = 0; q < 2; q++) {
        struct strlist ids = STRLIST_INIT;
        if (forward_queue_list(cfg->queue_directory, queues[q], &ids, &error) < 0) {
            fprintf(stderr, "tabularium queue: %s\n", error);
            return CLI_EXIT_USAGE;
        }
        for (size_t i = 0; i < ids.n; i++) {
            struct forward_entry e;
            char queued[21], next[21];
            if (forward_queue_read(cfg->queue_directory, queues[q], ids.v[i], &e, &error) < 0) {
                if (errno != ENOENT) /* gone meanwhile: delivered */
                    fprintf(stderr, "tabularium queue: %s\n", error);
                continue;
            }
            cli_queue_time(e.queued, queued);
            cli_queue_time(e.next_attempt, next);
            printf("%s  %-6s  %10lld  %s  attempts=%d  <%s> -> <%s>\n", e.id, e.queue,
                   (long long)e.size, queued, e.attempts, e.sender, e.recipient);
            if (q == 0)
                printf("    next attempt %s%s%s%s\n", next, e.reason[0] ? " (" : "", e.reason,
                       e.reason[0] ? ")" : "");
            else
                printf("    held: %s\n", e.reason);
            count[q]++;
            forward_queue_entry_free(&e);
        }
        strlist_free(&ids);
    }
    if (count[0] + count[1] == 0) {
        printf("forward queue is empty\n");
        return CLI_EXIT_NOT_FOUND;
    }
    printf("-- %zu %s in the forward queue (%zu active, %zu on hold)\n", count[0] + count[1],
           count[0] + count[1] == 1 ? "copy" : "copies", count[0], count[1]);
    return CLI_EXIT_FOUND;
}

/* Lock id for a change; prints why not. */
static int cli_queue_lock(const struct tab_config *cfg, const char *id, struct forward_entry *e,
                          int *fd)
{
    const char *error = NULL;

    switch (forward_queue_lock(cfg->queue_directory, id, 0, e, fd, &error)) {
    case FORWARD_QUEUE_LOCKED:
        return CLI_EXIT_FOUND;
    case FORWARD_QUEUE_GONE:
        fprintf(stderr, "tabularium queue: %s: not in the forward queue\n", id);
        return CLI_EXIT_NOT_FOUND;
    case FORWARD_QUEUE_BUSY:
        fprintf(stderr, "tabularium queue: %s: being delivered right now; try again\n", id);
        return CLI_EXIT_USAGE;
    case FORWARD_QUEUE_ERROR:
    default:
        fprintf(stderr, "tabularium queue: %s\n", error);
        return CLI_EXIT_USAGE;
    }
}

static int cli_queue_show(const struct tab_config *cfg, const char *id)
{
    const char *queues[] = {FORWARD_QUEUE_ACTIVE, FORWARD_QUEUE_HOLD};
    const char *error = NULL;

    for (size_t q = 0; q < 2; q++) {
        struct forward_entry e;
        char queued[21], last[21], next[21];
        if (forward_queue_read(cfg->queue_directory, queues[q], id, &e, &error) < 0) {
            if (errno == ENOENT)
                continue;
            fprintf(stderr, "tabularium queue: %s\n", error);
            return CLI_EXIT_USAGE;
        }
        cli_queue_time(e.queued, queued);
        cli_queue_time(e.last_attempt, last);
        cli_queue_time(e.next_attempt, next);
        char *copy = forward_queue_path(cfg->queue_directory, e.queue);
        printf("archive_id: %s\nqueue: %s\nsender: <%s>\nrecipient: <%s>\nsmtputf8: %s\n"
               "size: %lld\nqueued: %s\nattempts: %d\nlast_attempt: %s\n",
               e.id, e.queue, e.sender, e.recipient, e.smtputf8 ? "yes" : "no", (long long)e.size,
               queued, e.attempts, last);
        if (q == 0)
            printf("next_attempt: %s\n", next);
        printf("reason: %s\ncopy: %s/%s.eml\n", e.reason, copy, e.id);
        free(copy);
        forward_queue_entry_free(&e);
        return CLI_EXIT_FOUND;
    }
    fprintf(stderr, "tabularium queue: %s: not in the forward queue\n", id);
    return CLI_EXIT_NOT_FOUND;
}

static int cli_queue_retry_one(struct cli_context *ctx, const struct tab_config *cfg,
                               const char *id)
{
    struct forward_entry e;
    const char *error = NULL;
    int fd = -1, rc;
    int held;

    rc = cli_queue_lock(cfg, id, &e, &fd);
    if (rc != CLI_EXIT_FOUND)
        return rc;
    held = strcmp(e.queue, FORWARD_QUEUE_HOLD) == 0;
    e.next_attempt = time(NULL);
    if (forward_queue_move(cfg->queue_directory, &e, FORWARD_QUEUE_ACTIVE, &error) < 0) {
        fprintf(stderr, "tabularium queue: %s\n", error);
        rc = CLI_EXIT_USAGE;
    } else {
        printf("%s: %s\n", id, held ? "released from hold, due now" : "due now");
        if (held)
            cli_queue_note(ctx, id, "queued", "released from hold by the operator");
    }
    forward_queue_unlock(&fd);
    forward_queue_entry_free(&e);
    return rc;
}

static int cli_queue_retry_all(struct cli_context *ctx, const struct tab_config *cfg)
{
    const char *queues[] = {FORWARD_QUEUE_HOLD, FORWARD_QUEUE_ACTIVE};
    const char *error = NULL;
    int rc = CLI_EXIT_FOUND;
    size_t n = 0;

    struct strlist ids = STRLIST_INIT;

    /* Both lists first: a released copy must not be retried twice. */
    for (size_t q = 0; q < 2; q++)
        if (forward_queue_list(cfg->queue_directory, queues[q], &ids, &error) < 0) {
            fprintf(stderr, "tabularium queue: %s\n", error);
            strlist_free(&ids);
            return CLI_EXIT_USAGE;
        }
    for (size_t i = 0; i < ids.n; i++) {
        int r = cli_queue_retry_one(ctx, cfg, ids.v[i]);
        if (r == CLI_EXIT_USAGE)
            rc = r;
        n += r == CLI_EXIT_FOUND;
    }
    strlist_free(&ids);
    if (n == 0 && rc == CLI_EXIT_FOUND) {
        printf("forward queue is empty\n");
        return CLI_EXIT_NOT_FOUND;
    }
    return rc;
}

static int cli_queue_delete(struct cli_context *ctx, const struct tab_config *cfg, const char *id,
                            int force)
{
    struct forward_entry e;
    const char *error = NULL;
    int fd = -1, rc;

    rc = cli_queue_lock(cfg, id, &e, &fd);
    if (rc != CLI_EXIT_FOUND)
        return rc;
    if (!force) {
        fprintf(stderr,
                "tabularium queue: %s: not deleted: <%s> would never get this copy (the "
                "archive keeps its own); use --force to delete it anyway\n",
                id, e.recipient);
        rc = CLI_EXIT_USAGE;
    } else if (cli_audit_record(ctx, "queue delete", id) < 0) {
        rc = CLI_EXIT_USAGE; /* nothing is deleted unrecorded */
    } else if (forward_queue_delete(cfg->queue_directory, &e, &error) < 0) {
        fprintf(stderr, "tabularium queue: %s\n", error);
        rc = CLI_EXIT_USAGE;
    } else {
        printf("%s: deleted from the %s queue\n", id, e.queue);
        cli_queue_note(ctx, id, "deleted", "deleted from the forward queue by the operator");
    }
    forward_queue_unlock(&fd);
    forward_queue_entry_free(&e);
    return rc;
}

int cli_queue(struct cli_context *ctx, int argc, char **argv)
{
    const struct tab_config *cfg;
    const char *error;
    const char *action, *id = NULL;
    int all = 0, force = 0, operand, rc;
    const struct cli_syntax syntax = {
        "queue", cli_queue_help, 2, NULL,
        CLI_OPTIONS(CLI_OPTION_FLAG("all", &all), CLI_OPTION_FLAG("force", &force))};

    /* Options may follow the action and the id: "delete ID --force". */
    if ((rc = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return rc;
    if (operand >= argc)
        return cli_usage_error("queue", "%s", "missing action: list, show, retry or delete");
    action = argv[operand++];
    if (operand < argc)
        id = argv[operand++];
    if (strcmp(action, "list") == 0) {
        if (id != NULL || all || force)
            return cli_usage_error("queue", "%s", "list takes no arguments");
    } else if (strcmp(action, "retry") == 0) {
        if ((id == NULL) == !all || force)
            return cli_usage_error("queue", "%s", "use retry ARCHIVE-ID or retry --all");
    } else if (strcmp(action, "show") == 0 || strcmp(action, "delete") == 0) {
        if (id == NULL || all || (force && action[0] == 's'))
            return cli_usage_error("queue", "use %s ARCHIVE-ID", action);
    } else {
        return cli_usage_error("queue", "unknown action \"%s\" (list, show, retry, delete)",
                               action);
    }
    if (id != NULL && !archive_id_valid(id))
        return cli_usage_error("queue", "\"%s\" is not an archive id", id);

    if ((cfg = ctx->config(ctx, &error)) == NULL) {
        fprintf(stderr, "tabularium queue: %s\n", error);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(action, "list") == 0)
        rc = cli_queue_list(cfg);
    else if (strcmp(action, "show") == 0)
        rc = cli_queue_show(cfg, id);
    else if (strcmp(action, "retry") == 0)
        rc = all ? cli_queue_retry_all(ctx, cfg) : cli_queue_retry_one(ctx, cfg, id);
    else
        rc = cli_queue_delete(ctx, cfg, id, force);
    return rc;
}
