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
 *	Functions return -1 with a heap message in *error_r.
 */
#ifndef TAB_PG_SCHEMA_H
#define TAB_PG_SCHEMA_H

#include <libpq-fe.h>

/* The version this tabularium reads and writes. */
#define PG_SCHEMA_VERSION 4

/* The schema's version: 0 when the database has no schema_version table. */
int pg_schema_version(PGconn *pg, int *version_r, char **error_r);
/* 0 when the schema is PG_SCHEMA_VERSION; otherwise a message that says
 * what to run ("run tabularium db init", "... db upgrade"). name: for
 * messages. */
int pg_schema_check(PGconn *pg, const char *name, char **error_r);
/*
 * Apply the migrations from the current version up to target (1 ..
 * PG_SCHEMA_VERSION) in one transaction. create: allowed to start from
 * an empty database (db init); otherwise the schema must exist (db
 * upgrade). *from_r and *to_r get the versions before and after.
 */
int pg_schema_migrate(PGconn *pg, int target, int create, int *from_r, int *to_r, char **error_r);

#endif
