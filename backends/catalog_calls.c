/*
 * NAME
 *	catalog_calls 3
 * SUMMARY
 *	the catalog's public calls over the driver vtable
 * SYNOPSIS
 *	#include "backends/catalog.h"
 *
 *	if (catalog_add(cat, &rec, &error) != TAB_OK) ...
 *	if (!catalog_can(cat, CATALOG_CAN_HOLD)) ...
 * DESCRIPTION
 *	One public call per catalog operation, as Dovecot's mail-storage.c
 *	over mail-storage-private.h: callers never touch the struct of
 *	function pointers (backends/catalog_private.h), so a driver's
 *	methods can change without them, and the check for an optional
 *	method a driver lacks is made here, once, instead of in every
 *	caller.
 *
 *	Must never add behaviour of its own beyond that check: the
 *	contract of each call is the driver's (backends/catalog.h).
 * DIAGNOSTICS
 *	A call the driver lacks returns TAB_PERM with a static message in
 *	*error_r ("the catalog driver has no ..."); catalog_add_batch()
 *	also sets every result to TAB_PERM. catalog_wait_limit() and
 *	catalog_set_text_source() then do nothing, catalog_changed()
 *	returns 0.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "backends/catalog.h"
#include "backends/catalog_private.h"

/* The static message for an optional method the driver lacks. */
static enum tab_result catalog_missing(const char *message, const char **error_r)
{
    *error_r = message;
    return TAB_PERM;
}

/* An optional method: the static message missing when the driver lacks
 * it, else the driver's answer to (cat, ...). */
#define CATALOG_OPTIONAL(cat, method, missing, error_r, ...)                                       \
    ((cat)->v->method == NULL ? catalog_missing((missing), (error_r))                              \
                              : (cat)->v->method((cat), __VA_ARGS__))

int catalog_can(const struct catalog *cat, enum catalog_capability cap)
{
    const struct catalog_vfuncs *v = cat->v;

    switch (cap) {
    case CATALOG_CAN_ADD_BATCH:
        return v->add_batch != NULL;
    case CATALOG_CAN_WAIT_LIMIT:
        return v->wait_limit != NULL;
    case CATALOG_CAN_TEXT_SOURCE:
        return v->set_text_source != NULL;
    case CATALOG_CAN_USERS:
        return v->user_put != NULL && v->user_get != NULL && v->user_list != NULL &&
               v->user_delete != NULL && v->token_add != NULL && v->token_user != NULL;
    case CATALOG_CAN_REINDEX:
        return v->reindex != NULL;
    case CATALOG_CAN_FORWARD_STATUS:
        return v->forward_status != NULL;
    case CATALOG_CAN_AUDIT:
        return v->audit != NULL && v->audit_list != NULL;
    case CATALOG_CAN_CHAIN_WALK:
        return v->chain_walk != NULL;
    case CATALOG_CAN_SEAL:
        return v->seal != NULL;
    case CATALOG_CAN_HOLD:
        return v->hold != NULL && v->hold_list != NULL;
    case CATALOG_CAN_EXPIRE:
        return v->expire_candidates != NULL && v->expire_remove != NULL && v->chain_walk != NULL;
    case CATALOG_CAN_STATS:
        return v->stats != NULL;
    case CATALOG_CAN_INDEX_PENDING:
        return v->index_pending != NULL;
    case CATALOG_CAN_COUNT:
        return v->count != NULL;
    case CATALOG_CAN_INDEX_HEALTH:
        return v->index_health != NULL;
    case CATALOG_CAN_INDEX_REBUILD:
        return v->index_check != NULL && v->index_rebuild != NULL;
    }
    return 0;
}

const char *catalog_name(const struct catalog *cat)
{
    return cat->name;
}

enum tab_result catalog_known_recipients(struct catalog *cat, const char *queue_id,
                                         const char *sha256, const char *message_id,
                                         struct strlist *rcpts_r, const char **error_r)
{
    return cat->v->known_recipients(cat, queue_id, sha256, message_id, rcpts_r, error_r);
}

enum tab_result catalog_add(struct catalog *cat, const struct archive_record *rec,
                            const char **error_r)
{
    return cat->v->add(cat, rec, error_r);
}

enum tab_result catalog_add_batch(struct catalog *cat, const struct archive_record *const *recs,
                                  size_t n, enum tab_result *results, char **errors,
                                  const char **error_r)
{
    if (cat->v->add_batch == NULL) {
        for (size_t i = 0; i < n; i++) {
            results[i] = TAB_PERM;
            errors[i] = NULL;
        }
        return catalog_missing("the catalog driver has no batch add", error_r);
    }
    return cat->v->add_batch(cat, recs, n, results, errors, error_r);
}

void catalog_wait_limit(struct catalog *cat, long long until_ms)
{
    if (cat->v->wait_limit != NULL)
        cat->v->wait_limit(cat, until_ms);
}

void catalog_set_text_source(struct catalog *cat, catalog_text_fn *fn, void *ctx)
{
    if (cat->v->set_text_source != NULL)
        cat->v->set_text_source(cat, fn, ctx);
}

int catalog_changed(struct catalog *cat)
{
    return cat->v->changed != NULL && cat->v->changed(cat);
}

enum tab_result catalog_search(struct catalog *cat, const struct search_query *q,
                               catalog_row_fn *fn, void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, search, "the catalog driver cannot search", error_r, q, fn, ctx,
                            error_r);
}

enum tab_result catalog_count(struct catalog *cat, const struct search_query *q, long long *n_r,
                              const char **error_r)
{
    *n_r = 0;
    return CATALOG_OPTIONAL(cat, count, "the catalog driver cannot count matches", error_r, q, n_r,
                            error_r);
}

enum tab_result catalog_get(struct catalog *cat, const char *archive_id,
                            struct archive_record *rec_r, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, get, "the catalog driver cannot read a record", error_r,
                            archive_id, rec_r, error_r);
}

enum tab_result catalog_reindex(struct catalog *cat, const struct archive_record *rec,
                                const char **error_r)
{
    return CATALOG_OPTIONAL(cat, reindex, "the catalog driver cannot reindex", error_r, rec,
                            error_r);
}

enum tab_result catalog_forward_status(struct catalog *cat, const char *archive_id,
                                       const char *status, const char *detail, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, forward_status, "the catalog driver keeps no forward status",
                            error_r, archive_id, status, detail, error_r);
}

enum tab_result catalog_audit(struct catalog *cat, const char *user, const char *action,
                              const char *detail, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, audit, "the catalog driver keeps no audit log", error_r, user,
                            action, detail, error_r);
}

enum tab_result catalog_audit_list(struct catalog *cat, time_t since, catalog_audit_fn *fn,
                                   void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, audit_list, "the catalog driver keeps no audit log", error_r,
                            since, fn, ctx, error_r);
}

enum tab_result catalog_chain_walk(struct catalog *cat, struct chain_seal *head_r,
                                   catalog_chain_fn *fn, void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, chain_walk, "the catalog driver keeps no chain", error_r, head_r,
                            fn, ctx, error_r);
}

enum tab_result catalog_chain_head(struct catalog *cat, struct chain_seal *head_r,
                                   const char **error_r)
{
    return CATALOG_OPTIONAL(cat, chain_head, "the catalog driver keeps no chain", error_r, head_r,
                            error_r);
}

enum tab_result catalog_seal(struct catalog *cat, struct chain_seal *seal_r, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, seal, "the catalog driver keeps no chain", error_r, seal_r,
                            error_r);
}

enum tab_result catalog_hold(struct catalog *cat, const char *archive_id, const char *case_name,
                             int on, const char *user, int *changed_r, int *holds_r,
                             struct strlist *locations_r, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, hold, "the catalog driver keeps no holds", error_r, archive_id,
                            case_name, on, user, changed_r, holds_r, locations_r, error_r);
}

enum tab_result catalog_hold_list(struct catalog *cat, const char *case_name, catalog_hold_fn *fn,
                                  void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, hold_list, "the catalog driver keeps no holds", error_r, case_name,
                            fn, ctx, error_r);
}

enum tab_result catalog_expire_candidates(struct catalog *cat, time_t now, catalog_chain_fn *fn,
                                          void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, expire_candidates, "the catalog driver cannot expire messages",
                            error_r, now, fn, ctx, error_r);
}

enum tab_result catalog_expire_remove(struct catalog *cat, const char *archive_id, time_t now,
                                      const char *user, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, expire_remove, "the catalog driver cannot expire messages",
                            error_r, archive_id, now, user, error_r);
}

enum tab_result catalog_stats(struct catalog *cat, struct catalog_stats *stats_r,
                              catalog_stats_row_fn *fn, void *ctx, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, stats, "the catalog driver has no statistics", error_r, stats_r,
                            fn, ctx, error_r);
}

enum tab_result catalog_index_pending(struct catalog *cat, int max_rows, int *done_r,
                                      int64_t *left_r, const char **error_r)
{
    if (cat->v->index_pending == NULL) {
        *done_r = 0;
        if (left_r != NULL)
            *left_r = 0;
        return catalog_missing("the catalog driver has no index_pending", error_r);
    }
    return cat->v->index_pending(cat, max_rows, done_r, left_r, error_r);
}

enum tab_result catalog_index_health(struct catalog *cat, int64_t *pending_r, int64_t *stale_r,
                                     const char **error_r)
{
    *pending_r = *stale_r = 0;
    return CATALOG_OPTIONAL(cat, index_health, "the catalog driver cannot tell its index health",
                            error_r, pending_r, stale_r, error_r);
}

enum tab_result catalog_unindex(struct catalog *cat, const char *archive_id, const char **error_r)
{
    if (cat->v->unindex == NULL)
        return TAB_OK;
    return cat->v->unindex(cat, archive_id, error_r);
}

enum tab_result catalog_index_check(struct catalog *cat, struct catalog_index_report *r,
                                    catalog_index_problem_fn *fn, void *ctx, const char **error_r)
{
    memset(r, 0, sizeof(*r));
    return CATALOG_OPTIONAL(cat, index_check, "the catalog driver cannot check its index", error_r,
                            r, fn, ctx, error_r);
}

enum tab_result catalog_index_rebuild(struct catalog *cat, struct catalog_index_rebuild *rb,
                                      int max_rows, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, index_rebuild, "the catalog driver cannot rebuild its index",
                            error_r, rb, max_rows, error_r);
}

#define CATALOG_NO_USERS "the catalog driver keeps no accounts"

void catalog_user_free(struct catalog_user *u)
{
    free(u->name);
    free(u->roles);
    free(u->auth);
    free(u->password_hash);
    free(u->totp_secret);
    strlist_free(&u->addresses);
    memset(u, 0, sizeof(*u));
}

enum tab_result catalog_user_put(struct catalog *cat, const struct catalog_user *u, int create,
                                 const char **error_r)
{
    return CATALOG_OPTIONAL(cat, user_put, CATALOG_NO_USERS, error_r, u, create, error_r);
}

enum tab_result catalog_user_get(struct catalog *cat, const char *name, struct catalog_user *u_r,
                                 const char **error_r)
{
    return CATALOG_OPTIONAL(cat, user_get, CATALOG_NO_USERS, error_r, name, u_r, error_r);
}

enum tab_result catalog_user_list(struct catalog *cat, catalog_user_fn *fn, void *ctx,
                                  const char **error_r)
{
    return CATALOG_OPTIONAL(cat, user_list, CATALOG_NO_USERS, error_r, fn, ctx, error_r);
}

enum tab_result catalog_user_delete(struct catalog *cat, const char *name, const char **error_r)
{
    return CATALOG_OPTIONAL(cat, user_delete, CATALOG_NO_USERS, error_r, name, error_r);
}

enum tab_result catalog_token_add(struct catalog *cat, const char *name, const char *token_sha256,
                                  const char **error_r)
{
    return CATALOG_OPTIONAL(cat, token_add, CATALOG_NO_USERS, error_r, name, token_sha256, error_r);
}

enum tab_result catalog_token_user(struct catalog *cat, const char *token_sha256, char **name_r,
                                   const char **error_r)
{
    return CATALOG_OPTIONAL(cat, token_user, CATALOG_NO_USERS, error_r, token_sha256, name_r,
                            error_r);
}
