/*
 * NAME
 *	pg_admin 3
 * SUMMARY
 *	backends/schema_admin.h for PostgreSQL: a plain connection and the
 *	migrations of pg_schema.c
 * DESCRIPTION
 *	See backends/schema_admin.h. Owns one libpq connection per handle.
 */
#include "backends/schema_admin.h"

#include <stdlib.h>
#include <string.h>

#include "backends/postgres/pg_conn.h"
#include "backends/postgres/pg_schema.h"
#include "common/strlist.h"

#define PG_ADMIN_PREFIX "pgsql:"

struct schema_admin {
    PGconn *pg;
};

const char *schema_admin_kind(const char *spec)
{
    if (spec == NULL || strncmp(spec, PG_ADMIN_PREFIX, strlen(PG_ADMIN_PREFIX)) != 0)
        return NULL;
    return spec + strlen(PG_ADMIN_PREFIX);
}

int schema_admin_current(void)
{
    return PG_SCHEMA_VERSION;
}

char *schema_admin_redact(const char *conninfo)
{
    return pg_conn_redact(conninfo);
}

struct schema_admin *schema_admin_connect(const char *conninfo, const char **error_r)
{
    PGconn *pg = pg_conn_connect_plain(conninfo, error_r);
    struct schema_admin *a;

    if (pg == NULL)
        return NULL;
    a = xcalloc(1, sizeof(*a));
    a->pg = pg;
    return a;
}

int schema_admin_version(struct schema_admin *a, int *version_r, const char **error_r)
{
    return pg_schema_version(a->pg, version_r, error_r);
}

int schema_admin_migrate(struct schema_admin *a, int target, int create, int *from_r, int *to_r,
                         const char **error_r)
{
    return pg_schema_migrate(a->pg, target, create, from_r, to_r, error_r);
}

void schema_admin_set_progress(struct schema_admin *a, schema_admin_progress_fn *fn, void *ctx)
{
    (void)a; /* one migration runs at a time in a process */
    pg_schema_set_progress(fn, ctx);
}

void schema_admin_close(struct schema_admin **a)
{
    if (*a == NULL)
        return;
    PQfinish((*a)->pg);
    free(*a);
    *a = NULL;
}
