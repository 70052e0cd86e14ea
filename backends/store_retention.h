/*
 * NAME
 *	store_retention 3h
 * SUMMARY
 *	a store's bucket-level retention: Object Lock and lifecycle (S3)
 * SYNOPSIS
 *	if (store_retention_supported(st)) {
 *		r = store_retention_read(st, &ret, &err);
 *		xml = store_retention_lifecycle(st, store_retention_days(period));
 *		r = store_retention_write(st, xml, &err);
 *	}
 * DESCRIPTION
 *	What `tabularium retention` shows and applies, without knowing the
 *	driver: the Object Lock configuration of the bucket behind a store
 *	(whether it is enabled, its default retention) and its lifecycle
 *	rules, and the lifecycle configuration that makes the bucket forget
 *	what retention_period no longer requires (one rule,
 *	STORE_RETENTION_RULE, for the store's prefix). Implemented by the s3
 *	store (backends/s3/s3_retention.c); no other store has a bucket.
 *
 *	Never deletes an object and never changes the Object Lock
 *	configuration.
 * DIAGNOSTICS
 *	store_retention_read() and store_retention_write() return TAB_OK or
 *	the store's result with *error_r pointing at a driver-owned message
 *	("s3 BUCKET: GET ?lifecycle: HTTP 403 AccessDenied ...").
 */
#ifndef TAB_STORE_RETENTION_H
#define TAB_STORE_RETENTION_H

#include <stddef.h>

#include "backends/store.h"
#include "common/result.h"

/* The ID of the one lifecycle rule Tabularium writes. */
#define STORE_RETENTION_RULE "tabularium-retention"

/* One lifecycle rule of the bucket. */
struct store_retention_rule {
    char *id, *status, *prefix;             /* NULL: absent */
    long long days, noncurrent, abort_days; /* -1: absent */
};

/* The bucket's retention settings (store_retention_free() them). */
struct store_retention {
    char *lock_enabled; /* ObjectLockEnabled; NULL: no Object Lock configuration */
    char *default_mode; /* default retention mode; NULL: none */
    long long default_days, default_years; /* -1: absent */
    struct store_retention_rule *rules;    /* the lifecycle rules, in order */
    size_t n_rules;
};

/* 1 when st has a bucket with retention settings (an s3 store). The
 * other calls take only such a store. */
int store_retention_supported(const struct store *st);
/* The bucket and the store's key prefix ("" or "a/b"). */
const char *store_retention_bucket(struct store *st);
const char *store_retention_prefix(struct store *st);
/* Lifecycle days for a retention_period: never fewer than the period. 0
 * for "" (keep forever), -1 for a bad value. */
long long store_retention_days(const char *period);
/* The lifecycle configuration (XML, heap) that expires what is under the
 * store's prefix after days. */
char *store_retention_lifecycle(struct store *st, long long days);
/* Read the bucket's Object Lock configuration and lifecycle rules. */
enum tab_result store_retention_read(struct store *st, struct store_retention *ret_r,
                                     const char **error_r);
/* Replace the bucket's lifecycle configuration with xml (all its rules). */
enum tab_result store_retention_write(struct store *st, const char *xml, const char **error_r);
void store_retention_free(struct store_retention *ret);

#endif
