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
#include "common/log.h"
#include "common/safe_file.h"
#include "common/strlist.h"
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

/* The start of a target's setup: logging to stderr, a scratch data
 * directory (returned; the caller frees it), a configuration with it and
 * myhostname archive.test, to which the target adds its parameters. */
static inline char *fuzz_daemon_begin(const char *name, const char *scratch, struct tab_config *cfg)
{
    char *data_dir;

    log_init(name, 1, 1);
    data_dir = xasprintf("%s/data", fuzz_scratch_dir(scratch));
    config_init(cfg);
    fuzz_config_set(cfg, "data_directory", data_dir);
    fuzz_config_set(cfg, "myhostname", "archive.test");
    return data_dir;
}

static inline void fuzz_close_backends(struct delivery_ctx *ctx)
{
    spool_orig_close();
    store_close(&ctx->store);
    catalog_close(&ctx->catalog);
}

/* The end of a target's teardown, after its backends are closed. */
static inline void fuzz_daemon_end(struct tab_config *cfg, char *data_dir)
{
    index_fields_deinit();
    config_free(cfg);
    free(data_dir);
    fuzz_scratch_remove();
}

/* Counts the inputs in *runs: every "every" inputs, the backends are
 * closed, the data directory removed and the backends opened afresh (what
 * the inputs stored must not pile up). */
static inline void fuzz_daemon_reset_every(unsigned *runs, unsigned every,
                                           void (*close_backends)(void),
                                           void (*open_backends)(void), const char *data_dir)
{
    if (++*runs % every == 0) {
        close_backends();
        fuzz_rm_rf(data_dir);
        open_backends();
    }
}

#endif
