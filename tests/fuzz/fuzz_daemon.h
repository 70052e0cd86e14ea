/*
 * NAME
 *	fuzz_daemon 3h
 * SUMMARY
 *	set-up shared by the fuzz targets that run a daemon session
 *	(fuzz_lmtp_session.c, fuzz_delivery.c)
 * DESCRIPTION
 *	A configuration parameter set or the target aborts; the store and the
 *	catalog of the configuration opened into a delivery context, as a
 *	worker opens them (master/master.c; index_later is the target's
 *	choice), or the target aborts: a fuzz
 *	target that cannot set itself up must not report findings.
 */
#ifndef TAB_FUZZ_DAEMON_H
#define TAB_FUZZ_DAEMON_H

#include <stdio.h>
#include <stdlib.h>

#include "backends/catalog.h"
#include "backends/store.h"
#include "common/config.h"
#include "common/safe_file.h"
#include "lmtpd/delivery.h"
#include "mail/index_fields.h"
#include "tests/fuzz/fuzz.h"

static inline void fuzz_config_set(struct tab_config *cfg, const char *name, const char *value)
{
    const char *error = NULL;

    if (config_set(cfg, name, value, &error) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", error);
        abort();
    }
}

/* After the target's parameters: finish the configuration (defaults,
 * $name expansion) and hand it to ctx, as a worker starts. */
static inline void fuzz_config_finish(struct tab_config *cfg, struct delivery_ctx *ctx)
{
    const char *error = NULL;

    if (config_finish(cfg, &error) < 0) {
        fprintf(stderr, "fuzz setup: %s\n", error);
        abort();
    }
    index_fields_init();
    ctx->cfg = cfg;
}

static inline void fuzz_open_backends(const struct tab_config *cfg, struct delivery_ctx *ctx)
{
    const char *error = NULL;

    if (safe_mkdir_p(cfg->queue_directory, 0700) < 0)
        fuzz_die(cfg->queue_directory);
    ctx->cfg = cfg;
    ctx->store = store_open(cfg->archive_store, cfg, &error);
    if (ctx->store == NULL) {
        fprintf(stderr, "fuzz setup: %s: %s\n", cfg->archive_store, error);
        abort();
    }
    ctx->catalog = catalog_open(cfg->archive_catalog, cfg, &error);
    if (ctx->catalog == NULL) {
        fprintf(stderr, "fuzz setup: %s: %s\n", cfg->archive_catalog, error);
        abort();
    }
}

#endif
