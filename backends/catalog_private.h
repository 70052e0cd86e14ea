/*
 * NAME
 *	catalog_private 3h
 * SUMMARY
 *	the catalog driver vtable, for drivers only
 * SYNOPSIS
 *	#include "backends/catalog_private.h"
 *
 *	static const struct catalog_vfuncs sqlite_vfuncs = {
 *	    CATALOG_VFUNCS_MANDATORY(sqlite),
 *	    CATALOG_VFUNCS_RECORDS(sqlite),
 *	    .add_batch = sqlite_add_batch,
 *	    ...
 *	};
 *	sc->cat.v = &sqlite_vfuncs;
 *	sc->cat.name = "sqlite";
 * DESCRIPTION
 *	What a catalog driver implements, as Dovecot's mail-storage-private.h
 *	and libgit2's sys/odb_backend.h: callers see struct catalog as an
 *	opaque type and use the public calls of catalog.h (catalog_add(),
 *	catalog_search(), ...), which check for a method the driver lacks
 *	and document each method's contract. A driver embeds struct catalog
 *	first in its own state and points v at one static const vtable.
 *
 *	known_recipients, add and close are mandatory; every other method
 *	may be NULL, and catalog_can() tells a caller which exist. A driver
 *	names its methods PREFIX_method and fills its table with the macros
 *	below: CATALOG_VFUNCS_MANDATORY (with get and the ABI version) and,
 *	for a catalog of record that operators search, verify, hold and
 *	expire, CATALOG_VFUNCS_RECORDS, which gives all of those or none.
 *
 *	Only backends/ (the drivers and the registry) and the catalog
 *	writer's client (catalog_writer/catalog_writer.c, a driver over a
 *	socket) may include this header: CMakeLists.txt declares both edges.
 *
 *	CATALOG_ABI_VERSION changes with any change to struct catalog_vfuncs
 *	(a method added, removed or retyped); catalog_open() refuses a driver
 *	built for another version.
 */
#ifndef TAB_CATALOG_PRIVATE_H
#define TAB_CATALOG_PRIVATE_H

#include "backends/catalog.h"

#define CATALOG_ABI_VERSION 4

struct catalog_vfuncs {
    unsigned int abi_version; /* CATALOG_ABI_VERSION */

    /* Delivery. */
    enum tab_result (*known_recipients)(struct catalog *cat, const char *queue_id,
                                        const char *sha256, const char *message_id,
                                        struct strlist *rcpts_r, const char **error_r);
    enum tab_result (*add)(struct catalog *cat, const struct archive_record *rec,
                           const char **error_r);
    enum tab_result (*add_batch)(struct catalog *cat, const struct archive_record *const *recs,
                                 size_t n, enum tab_result *results, char **errors,
                                 const char **error_r);
    void (*wait_limit)(struct catalog *cat, long long until_ms);
    void (*set_text_source)(struct catalog *cat, catalog_text_fn *fn, void *ctx);
    int (*changed)(struct catalog *cat);

    /* Reading and re-indexing. */
    enum tab_result (*search)(struct catalog *cat, const struct search_query *q, catalog_row_fn *fn,
                              void *ctx, const char **error_r);
    enum tab_result (*get)(struct catalog *cat, const char *archive_id,
                           struct archive_record *rec_r, const char **error_r);
    enum tab_result (*count)(struct catalog *cat, const struct search_query *q, long long *n_r,
                             const char **error_r);
    enum tab_result (*reindex)(struct catalog *cat, const struct archive_record *rec,
                               const char **error_r);
    enum tab_result (*forward_status)(struct catalog *cat, const char *archive_id,
                                      const char *status, const char *detail, const char **error_r);

    /* Integrity, retention, holds, audit (docs/integrity.md). */
    enum tab_result (*audit)(struct catalog *cat, const char *user, const char *action,
                             const char *detail, const char **error_r);
    enum tab_result (*audit_list)(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                  void *ctx, const char **error_r);
    enum tab_result (*chain_walk)(struct catalog *cat, struct chain_seal *head_r,
                                  catalog_chain_fn *fn, void *ctx, const char **error_r);
    enum tab_result (*chain_head)(struct catalog *cat, struct chain_seal *head_r,
                                  const char **error_r);
    enum tab_result (*seal)(struct catalog *cat, struct chain_seal *seal_r, const char **error_r);
    enum tab_result (*hold)(struct catalog *cat, const char *archive_id, const char *case_name,
                            int on, const char *user, int *changed_r, int *holds_r,
                            struct strlist *locations_r, const char **error_r);
    enum tab_result (*hold_list)(struct catalog *cat, const char *case_name, catalog_hold_fn *fn,
                                 void *ctx, const char **error_r);
    enum tab_result (*expire_candidates)(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                         void *ctx, const char **error_r);
    enum tab_result (*expire_remove)(struct catalog *cat, const char *archive_id, time_t now,
                                     const char *user, const char **error_r);
    enum tab_result (*stats)(struct catalog *cat, struct catalog_stats *stats_r,
                             catalog_stats_row_fn *fn, void *ctx, const char **error_r);

    /* Full-text indexing off the delivery path (indexer/indexer.c). */
    enum tab_result (*index_pending)(struct catalog *cat, int max_rows, int *done_r,
                                     int64_t *left_r, const char **error_r);
    enum tab_result (*index_health)(struct catalog *cat, int64_t *pending_r, int64_t *stale_r,
                                    const char **error_r);
    enum tab_result (*unindex)(struct catalog *cat, const char *archive_id, const char **error_r);
    /* Index health and rebuild (tabularium index). */
    enum tab_result (*index_check)(struct catalog *cat, struct catalog_index_report *r,
                                   catalog_index_problem_fn *fn, void *ctx, const char **error_r);
    enum tab_result (*index_rebuild)(struct catalog *cat, struct catalog_index_rebuild *rb,
                                     int max_rows, const char **error_r);

    /* Accounts of the web interface (docs/web.md). */
    enum tab_result (*user_put)(struct catalog *cat, const struct catalog_user *u, int create,
                                const char **error_r);
    enum tab_result (*user_get)(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                const char **error_r);
    enum tab_result (*user_list)(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                 const char **error_r);
    enum tab_result (*user_delete)(struct catalog *cat, const char *name, const char **error_r);
    enum tab_result (*token_add)(struct catalog *cat, const char *name, const char *token_sha256,
                                 const char **error_r);
    enum tab_result (*token_user)(struct catalog *cat, const char *token_sha256, char **name_r,
                                  const char **error_r);

    void (*close)(struct catalog *cat);
};

struct catalog {
    const struct catalog_vfuncs *v;
    const char *name; /* driver name: "sqlite", what catalog_name() gives */
};

/* The one rule of what expire may remove, as SQL both catalog drivers
 * share: a message whose every copy has a retain-until not after
 * `limit` (the driver's parameter for the time now) and that no case
 * holds (docs/integrity.md). */
#define CATALOG_EXPIRABLE(limit)                                                                   \
    " NOT EXISTS (SELECT 1 FROM copies c2 WHERE c2.message = m.id"                                 \
    "  AND (c2.retain_until IS NULL OR c2.retain_until > " limit "))"                              \
    " AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.archive_id = m.archive_id)"

/* The accounts of the web interface, all together. */
#define CATALOG_VFUNCS_USERS(prefix)                                                               \
    .user_put = prefix##_user_put, .user_get = prefix##_user_get, .user_list = prefix##_user_list, \
    .user_delete = prefix##_user_delete, .token_add = prefix##_token_add,                          \
    .token_user = prefix##_token_user

/* The methods every driver has, and its ABI version. */
#define CATALOG_VFUNCS_MANDATORY(prefix)                                                           \
    .abi_version = CATALOG_ABI_VERSION, .known_recipients = prefix##_known_recipients,             \
    .add = prefix##_add, .get = prefix##_get, .close = prefix##_close

/* A catalog of record: search, reindex, forwarding state, the audit
 * trail, the chain and seals, holds, expiry and statistics. */
#define CATALOG_VFUNCS_RECORDS(prefix)                                                             \
    .search = prefix##_search, .reindex = prefix##_reindex,                                        \
    .forward_status = prefix##_forward_status, .audit = prefix##_audit,                            \
    .audit_list = prefix##_audit_list, .chain_walk = prefix##_chain_walk,                          \
    .chain_head = prefix##_chain_head, .seal = prefix##_seal, .hold = prefix##_hold,               \
    .hold_list = prefix##_hold_list, .expire_candidates = prefix##_expire_candidates,              \
    .expire_remove = prefix##_expire_remove, .stats = prefix##_stats

/* The drivers' constructors, for the table in catalog.c: callers name a
 * driver only through "type:spec" (catalog_open()). */
struct catalog *catalog_sqlite_open(const char *spec, const struct tab_config *cfg,
                                    const char **error_r);
struct catalog *catalog_pgsql_open(const char *spec, const struct tab_config *cfg,
                                   const char **error_r);

#endif
