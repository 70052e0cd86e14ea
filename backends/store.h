/*
 * NAME
 *	store 3h
 * SUMMARY
 *	archive store driver interface and registry
 * SYNOPSIS
 *	struct store *st = store_open("maildir:/var/lib/tabularium/Maildir", cfg, &err);
 *	r = st->put(st, rec, fd, path, &location, &err);
 *	r = st->read(st, location, chunk_fn, ctx, &err);
 *	r = store_get(st, location, out_fd, &err);
 * DESCRIPTION
 *	A store keeps archive messages (the wrapped copies). put() returns
 *	TAB_OK only when the bytes are durable (fsync'd or committed) and
 *	sets *location_r to a heap string that read() understands. Drivers
 *	are opened from "type:spec" through one table in store.c.
 *
 *	A stored copy is read back in this process: read() hands its bytes
 *	to the caller's callback in consecutive chunks (a few hundred KiB at
 *	most, never the whole copy), as the driver gets them from the disk,
 *	the database or the HTTP response. store_get() is read() into a
 *	descriptor, for callers that want a file.
 *
 *	store_open() returns NULL with an error for a bad spec (the CLI
 *	reports it); store_open_or_failing() returns a failing driver
 *	instead, whose calls return TAB_RETRY with the open error, so the
 *	daemon answers 451 rather than dying.
 * DIAGNOSTICS
 *	*error_r points at a driver-owned message valid until the next call.
 */
#ifndef TAB_STORE_H
#define TAB_STORE_H

#include <stddef.h>

#include "backends/record.h"
#include "common/config.h"
#include "common/result.h"

/* One chunk of a stored copy, in order: 0 to go on, non-zero to stop
 * (read() then returns TAB_STOPPED). data is valid during the call only. */
typedef int store_chunk_fn(void *ctx, const char *data, size_t len);

struct store {
    const char *name; /* driver name: "maildir" */
    /* Store the wrapped copy: fd is open for reading at offset 0 and holds
     * rec->wrapped_size bytes; path names the same file (a spool file the
     * driver may link() but must not modify or remove). */
    enum tab_result (*put)(struct store *st, const struct archive_record *rec, int fd,
                           const char *path, char **location_r, const char **error_r);
    /* Read the stored archive message at location: fn gets every byte,
     * in order, in chunks of 1 to STORE_CHUNK_MAX bytes. TAB_OK once the
     * last chunk was handed over; TAB_PERM for a bad location or a copy
     * that is not there (or cannot be whole: a broken object); TAB_RETRY
     * for a store failure that may pass. Either failure can come after
     * some chunks: the caller discards what it got. TAB_STOPPED when fn
     * returned non-zero: no more chunks, no failure (the caller knows why;
     * *error_r means nothing), and the store is fit for the next call. */
    enum tab_result (*read)(struct store *st, const char *location, store_chunk_fn *fn, void *ctx,
                            const char **error_r);
    /* Remove the archive message at location (retention expiry): TAB_OK
     * also when it is already gone; TAB_PERM when the store refuses for
     * good (e.g. an S3 object still under Object Lock). */
    enum tab_result (*remove)(struct store *st, const char *location, const char **error_r);
    /* Set (on = 1) or clear the store's own legal hold on location. NULL
     * when the store has none: the catalog's holds are then what expire
     * obeys. */
    enum tab_result (*legal_hold)(struct store *st, const char *location, int on,
                                  const char **error_r);
    void (*close)(struct store *st);
};

/* The largest chunk a driver's read() hands over. */
#define STORE_CHUNK_MAX (1024 * 1024)

struct store *store_open(const char *spec, const struct tab_config *cfg, const char **error_r);
/* read() into out_fd: TAB_OK when every byte was written; the driver's
 * result and message otherwise, or TAB_RETRY naming the location when
 * writing to out_fd failed (errno kept). */
enum tab_result store_get(struct store *st, const char *location, int out_fd, const char **error_r);
/* 1 when spec's driver reads copies back cheaply (local files or
 * database), so that an indexer may read every copy once (record
 * index_later); 0 for S3 (a billed GET per message). No open. */
int store_spec_local_reads(const char *spec);
/* The directory when spec's driver keeps copies in a directory on this
 * host (inside spec), else NULL. No open. */
const char *store_spec_local_dir(const char *spec);
/* 1 when spec's driver keeps retention rules of its own (the S3 bucket's
 * lifecycle and Object Lock: backends/store_retention.h). No open. */
int store_spec_keeps_retention(const char *spec);
/* 0 when spec names a known driver type (a configuration check). */
int store_spec_check(const char *spec, const char **error_r);
struct store *store_open_or_failing(const char *spec, const struct tab_config *cfg);
void store_close(struct store **st);

/* Driver constructors (one per backends/<driver>/), called by store.c. */
struct store *store_maildir_open(const char *spec, const struct tab_config *cfg,
                                 const char **error_r);
struct store *store_pgsql_open(const char *spec, const struct tab_config *cfg,
                               const char **error_r);
struct store *store_s3_open(const char *spec, const struct tab_config *cfg, const char **error_r);

#endif
