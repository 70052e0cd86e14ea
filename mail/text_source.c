/*
 * NAME
 *	text_source 3
 * SUMMARY
 *	the catalog's text source: body text and attachments from the stored copy
 * SYNOPSIS
 *	struct text_source *ts = text_source_attach(cat, cfg);
 *	... catalog_index_pending() / a search that indexes what is pending ...
 *	text_source_free(&ts);
 * DESCRIPTION
 *	For messages whose body text and attachments the workers left in the
 *	store (record.index_later): reads the stored copy through cfg's
 *	archive_store (opened on first use) into one unnamed scratch file,
 *	reused, and extracts them as a delivery would (index_fields_extract_body():
 *	the original is the archive message's message/rfc822 part), with
 *	the text inside its attachments appended to the body text
 *	(index_fields_extract_body_attachments(), mail/attach_text.c: each
 *	attachment in a child with memory, CPU and wall-clock limits; all of
 *	a message's attachments together within half of index_time_limit).
 *	The
 *	indexer (indexer/indexer.c) and the CLI (whose searches index what is
 *	pending first) attach one.
 *
 *	The poison board (mail/poison.c) keys a copy on the SHA-256 of
 *	"store\0location": a copy whose text killed a parser before is not
 *	parsed again (TAB_PERM, logged), else the index would stop behind it
 *	for good.
 * DIAGNOSTICS
 *	TAB_RETRY for a store or scratch-file failure, TAB_PERM for a copy in
 *	another store or a poison mark; the message in the source's buffer.
 */
#include "mail/text_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/store.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "mail/attach_text.h"
#include "mail/index_fields.h"
#include "mail/poison.h"

struct text_source {
    const struct tab_config *cfg;
    struct store *store;        /* cfg->archive_store, opened on first use */
    int fd;                     /* the unnamed scratch file, reused, or -1 */
    struct attach_text *attach; /* the text inside attachments */
    char error[1024];
};

/* An unnamed file for the copy: in the queue directory (the daemon's
 * scratch space), else in TMPDIR or /tmp (a CLI user who cannot enter it). */
static int text_source_tmpfile(const struct tab_config *cfg)
{
    const char *tmp = getenv("TMPDIR");
    int fd = open(cfg->queue_directory, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0)
        fd = open(tmp != NULL && *tmp == '/' ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    return fd;
}

static enum tab_result text_source_get(void *ctx, const char *store, const char *location,
                                       struct archive_record *rec, const char **error_r)
{
    struct text_source *ts = ctx;
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
    if (ts->fd < 0 && (ts->fd = text_source_tmpfile(ts->cfg)) < 0) {
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
    /* The poison board (mail/poison.c) keys a copy on the SHA-256 of its
     * location: a copy whose text killed this process before is not
     * parsed again, else the index would stop behind it for good. */
    struct sha256_ctx *h = sha256_new();
    char key[SHA256_HEX_SIZE], note[POISON_NOTE_MAX];
    sha256_update(h, store, strlen(store) + 1);
    sha256_update(h, location, strlen(location));
    sha256_final_hex(h, key);
    if (poison_marked(ts->cfg->queue_directory, key, note)) {
        log_warn("the copy at %s:%s is not parsed again: %s", store, location, note);
        poison_clear(ts->cfg->queue_directory, key);
        snprintf(ts->error, sizeof(ts->error), "parsing it killed a parser before (%s)", note);
        return TAB_PERM;
    }
    r = ts->store->get(ts->store, location, fd, &err);
    if (r != TAB_OK) {
        snprintf(ts->error, sizeof(ts->error), "%s", err);
        return r;
    }
    poison_enter(key, "text");
    /* The catalog may hand a record without its archive id: the location
     * names the copy then (a Maildir or S3 name holds the archive id). */
    attach_text_message(ts->attach, rec->archive_id[0] != '\0' ? rec->archive_id : location);
    if (index_fields_extract_body_attachments(fd, rec, ts->attach, &err) < 0) {
        snprintf(ts->error, sizeof(ts->error), "%s", err);
        r = TAB_RETRY;
    }
    poison_leave();
    return r;
}

struct text_source *text_source_attach(struct catalog *cat, const struct tab_config *cfg)
{
    struct text_source *ts;

    if (cat == NULL || !catalog_can(cat, CATALOG_CAN_TEXT_SOURCE))
        return NULL;
    index_fields_init(); /* GMime (reference counted) */
    ts = xcalloc(1, sizeof(*ts));
    ts->cfg = cfg;
    ts->fd = -1;
    /* Half of index_time_limit for all attachments of one message, so
     * that the master's watch (mail/poison.c) never takes a message with
     * slow attachments for one that hangs the parser. */
    ts->attach = attach_text_new(
        cfg->queue_directory, cfg->index_time_limit > 1 ? (unsigned)cfg->index_time_limit / 2 : 1,
        cfg->mail_owner);
    catalog_set_text_source(cat, text_source_get, ts);
    return ts;
}

void text_source_free(struct text_source **ts)
{
    if (*ts == NULL)
        return;
    store_close(&(*ts)->store);
    attach_text_free(&(*ts)->attach);
    if ((*ts)->fd >= 0)
        (void)close((*ts)->fd); /* unnamed scratch file: nothing to lose */
    free(*ts);
    *ts = NULL;
    index_fields_deinit();
}
