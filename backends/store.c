/*
 * NAME
 *	store 3
 * SUMMARY
 *	archive store registry: open a driver from "type:spec"
 * SYNOPSIS
 *	#include "backends/store.h"
 *
 *	struct store *st = store_open_or_failing(cfg->archive_store, cfg);
 *	r = st->put(st, rec, fd, path, &location, &error);
 *	r = store_get(st, location, out_fd, &error);
 *	store_close(&st);
 * DESCRIPTION
 *	The one table that maps a store type ("maildir", later "s3" and
 *	"pgsql") to its driver constructor, as Postfix's dict_open() does
 *	for lookup tables. A new driver is one line in store_table.
 *
 *	store_open_or_failing() is what the daemon uses: a store that
 *	cannot be opened (disk not mounted, server down, typo in the
 *	configuration) must not kill the worker, because a worker that dies
 *	before answering makes Postfix retry without a reason in the log.
 *	The failing store answers every call with TAB_RETRY and the open
 *	error, so the trouble shows in every 451 reply and log line.
 *
 *	store_get() is the one way to read a copy into a descriptor, for
 *	every driver: their read() with a callback that writes each chunk.
 *
 *	This module never stores anything itself and never decides what a
 *	result means for the LMTP client.
 * DIAGNOSTICS
 *	store_open() returns NULL and a message for a spec without a type,
 *	an unknown type, or a driver that fails to open; the message lists
 *	the known types. store_open_or_failing() logs the same message with
 *	log_error() once, when it opens.
 */
#include "backends/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/spec_type.h"
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"

typedef struct store *(*store_open_fn)(const char *spec, const struct tab_config *cfg,
                                       const char **error_r);

static const struct store_type {
    const char *type;
    store_open_fn open;
    int local_reads;  /* read() reads local files or a local database: cheap */
    int local_dir;    /* the rest of the spec is a directory on this host */
    int bucket_rules; /* the store itself keeps retention rules (store_retention.h) */
} store_table[] = {
    {"maildir", store_maildir_open, 1, 1, 0},
    {"pgsql", store_pgsql_open, 1, 0, 0},
    {"s3", store_s3_open, 0, 0, 1}, /* a GET per message, billed and remote */
};

static const struct spec_table store_types = SPEC_TABLE(store_table, "store", "archive_store");

/* The driver for spec's type; NULL and a message for a bad spec. */
static const struct store_type *store_lookup(const char *spec, const char **rest_r,
                                             const char **error_r)
{
    return spec_type_lookup(&store_types, spec, rest_r, error_r);
}

int store_spec_check(const char *spec, const char **error_r)
{
    const char *rest;
    return store_lookup(spec, &rest, error_r) != NULL ? 0 : -1;
}

int store_spec_local_reads(const char *spec)
{
    const char *rest, *error;
    const struct store_type *t = store_lookup(spec, &rest, &error);

    return t != NULL && t->local_reads;
}

const char *store_spec_local_dir(const char *spec)
{
    const char *rest, *error;
    const struct store_type *t = store_lookup(spec, &rest, &error);

    return t != NULL && t->local_dir ? rest : NULL;
}

int store_spec_keeps_retention(const char *spec)
{
    const char *rest, *error;
    const struct store_type *t = store_lookup(spec, &rest, &error);

    return t != NULL && t->bucket_rules;
}

struct store *store_open(const char *spec, const struct tab_config *cfg, const char **error_r)
{
    const char *rest;
    const struct store_type *t = store_lookup(spec, &rest, error_r);

    return t != NULL ? t->open(rest, cfg, error_r) : NULL;
}

/* store_get()'s descriptor and the errno of a failed write. */
struct store_get_sink {
    int fd;
    int write_errno;
};

static int store_get_write(void *ctx, const char *data, size_t len)
{
    struct store_get_sink *sink = ctx;

    if (safe_write_all(sink->fd, data, len) == 0)
        return 0;
    sink->write_errno = errno;
    return -1;
}

enum tab_result store_get(struct store *st, const char *location, int out_fd, const char **error_r)
{
    static char *error;
    struct store_get_sink sink = {out_fd, 0};
    enum tab_result r = st->read(st, location, store_get_write, &sink, error_r);

    if (r != TAB_STOPPED)
        return r;
    xsetf(&error, "%s %s: cannot write the copy: %s", st->name, location,
          strerror(sink.write_errno));
    *error_r = error;
    errno = sink.write_errno;
    return TAB_RETRY;
}

/* The stand-in for a store that could not be opened. */
struct store_failing {
    struct store st; /* first: the driver calls receive &st */
    char *error;     /* why the real store did not open */
};

/* Every call of the failing store: TAB_RETRY with the open error. */
static enum tab_result store_failing_read(struct store *st, const char *location,
                                          store_chunk_fn *fn, void *ctx, const char **error_r)
{
    (void)location;
    (void)fn;
    (void)ctx;
    *error_r = ((struct store_failing *)st)->error;
    return TAB_RETRY;
}

static enum tab_result store_failing_put(struct store *st, const struct archive_record *rec, int fd,
                                         const char *path, char **location_r, const char **error_r)
{
    (void)rec;
    (void)fd;
    *location_r = NULL;
    return store_failing_read(st, path, NULL, NULL, error_r);
}

static enum tab_result store_failing_remove(struct store *st, const char *location,
                                            const char **error_r)
{
    return store_failing_read(st, location, NULL, NULL, error_r);
}

static void store_failing_close(struct store *st)
{
    struct store_failing *f = (struct store_failing *)st;

    free(f->error);
    free(f);
}

struct store *store_open_or_failing(const char *spec, const struct tab_config *cfg)
{
    const char *error = NULL;
    struct store *st = store_open(spec, cfg, &error);
    struct store_failing *f;

    if (st != NULL)
        return st;
    char *shown = config_redact(spec != NULL ? spec : "");
    log_error("archive_store=%s, status=failing, error=%s; deliveries will be deferred", shown,
              error);
    free(shown);
    f = xcalloc(1, sizeof(*f));
    f->st = (struct store){.name = "failing",
                           .put = store_failing_put,
                           .read = store_failing_read,
                           .remove = store_failing_remove,
                           .close = store_failing_close};
    f->error = xstrdup(error);
    return &f->st;
}

void store_close(struct store **st)
{
    if (*st == NULL)
        return;
    (*st)->close(*st);
    *st = NULL;
}
