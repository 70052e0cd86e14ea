/*
 * NAME
 *	schema_admin 3h
 * SUMMARY
 *	create, upgrade and inspect a database schema (tabularium db)
 * SYNOPSIS
 *	struct schema_admin *a = schema_admin_connect("pgsql", conninfo, &err);
 *	schema_admin_version(a, &v, &err); schema_admin_migrate(a, 0, 1, &from, &to, &err);
 *	schema_admin_close(&a);
 * DESCRIPTION
 *	The only writer of a driver's schema. Drivers refuse a schema of
 *	another version, so this opens its own connection, not a driver.
 *	Only the "pgsql" kind has a schema that the operator manages (the
 *	SQLite catalog upgrades itself on open); schema_admin_kind() says so
 *	for a "type:spec" and returns the spec after the type.
 * DIAGNOSTICS
 *	-1 or NULL with a message in *error_r, owned by the driver and
 *	valid until the next schema_admin call.
 */
#ifndef TAB_SCHEMA_ADMIN_H
#define TAB_SCHEMA_ADMIN_H

struct schema_admin;

/* The rest of spec when its kind has an operator-managed schema, else NULL. */
const char *schema_admin_kind(const char *spec);
/* The schema version this tabularium needs. */
int schema_admin_current(void);
/* conninfo with any password replaced: heap. */
char *schema_admin_redact(const char *conninfo);
struct schema_admin *schema_admin_connect(const char *conninfo, const char **error_r);
/* 0 ok: *version_r is 0 when there is no schema. */
int schema_admin_version(struct schema_admin *a, int *version_r, const char **error_r);
/* To target (0: the current version); create: may start from nothing. */
int schema_admin_migrate(struct schema_admin *a, int target, int create, int *from_r, int *to_r,
                         const char **error_r);
/* Called during a migration's data step (PostgreSQL version 7: the words
 * of the messages already there), done of total rows; NULL: none. */
typedef void schema_admin_progress_fn(void *ctx, long long done, long long total);
void schema_admin_set_progress(struct schema_admin *a, schema_admin_progress_fn *fn, void *ctx);
void schema_admin_close(struct schema_admin **a);

#endif
