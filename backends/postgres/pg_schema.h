/*
 * NAME
 *	pg_schema 3h
 * SUMMARY
 *	versioned schema of the PostgreSQL store and catalog
 * DESCRIPTION
 *	The schema_version table holds one row per applied migration; the
 *	schema's version is the highest. The daemon never changes the schema:
 *	the operator runs "tabularium db init" once and "tabularium db
 *	upgrade" after installing a newer tabularium. docs/schema-pgsql.md
 *	documents the result.
 * DIAGNOSTICS
 *	Functions return -1 with a message in *error_r, in a buffer of
 *	this module, valid until its next call.
 */
#ifndef TAB_PG_SCHEMA_H
#define TAB_PG_SCHEMA_H

#include <libpq-fe.h>

#include "backends/catalog.h"

/* The version this tabularium reads and writes. */
#define PG_SCHEMA_VERSION 12

/* The schema's version: 0 when the database has no schema_version table. */
int pg_schema_version(PGconn *pg, int *version_r, const char **error_r);
/* 0 when the schema is PG_SCHEMA_VERSION; otherwise a message that says
 * what to run ("run tabularium db init", "... db upgrade"). name: for
 * messages. */
int pg_schema_check(PGconn *pg, const char *name, const char **error_r);
/*
 * Apply the migrations from the current version up to target (1 ..
 * PG_SCHEMA_VERSION) in one transaction. create: allowed to start from
 * an empty database (db init); otherwise the schema must exist (db
 * upgrade). *from_r and *to_r get the versions before and after.
 */
int pg_schema_migrate(PGconn *pg, int target, int create, int *from_r, int *to_r,
                      const char **error_r);

/* Called after each batch of a migration's data step (version 7: the
 * words of the messages already there): done of total messages. */
typedef void pg_schema_progress_fn(void *ctx, long long done, long long total);
/* For the migrations that follow (NULL: none). */
void pg_schema_set_progress(pg_schema_progress_fn *fn, void *ctx);

/*
 * The chain (docs/integrity.md) as the catalog reads it, shared with
 * the version 5 migration that chains the copies written before it.
 * PG_CHAIN_COLUMNS: the columns of one link from copies c LEFT JOIN
 * messages m, as pg_chain_fill() reads them; PG_CHAIN_RCPTS: every
 * (copy, address) pair in copy and byte order.
 */
#define PG_CHAIN_COLUMNS                                                                           \
    " c.seq, c.prev_hash, c.hash, c.archive_id, m.archive_id,"                                     \
    " extract(epoch FROM c.arrival)::bigint, m.queue_id, m.envelope_from, m.sha256, m.size,"       \
    " c.wrapped_sha256, c.wrapped_size, c.store, c.location,"                                      \
    " extract(epoch FROM c.retain_until)::bigint, (m.id IS NULL)::int, c.id"
#define PG_CHAIN_RCPTS                                                                             \
    "SELECT copy, address FROM recipients WHERE copy IS NOT NULL ORDER BY copy, address COLLATE "  \
    "\"C\""

/* The recipients of PG_CHAIN_RCPTS, for lookups by copy id. */
struct pg_chain_rcpts {
    PGresult *res;
    long long *copy; /* column 0 of each row */
    int n;
};
void pg_chain_rcpts_load(struct pg_chain_rcpts *r, PGresult *res);
void pg_chain_rcpts_free(struct pg_chain_rcpts *r);
/* Fill link from row of res: column 0 the kind (0 copy, 1 expired),
 * then PG_CHAIN_COLUMNS, then (expired) the expiry epoch and operator. */
void pg_chain_fill(const PGresult *res, int row, const struct pg_chain_rcpts *rcpts,
                   struct chain_link *link);

#endif
