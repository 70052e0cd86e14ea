/*
 * NAME
 *	archive_ingest 3
 * SUMMARY
 *	wrap, store and catalog one message: the path the daemon and the
 *	import share
 * DESCRIPTION
 *	See archive_ingest.h. This file owns the order (the store's copy is
 *	durable before the catalog names it) and the degraded retry of
 *	docs/ARCHITECTURE.md section 1: a catalog that refuses a message's
 *	index fields gets the same stored copy again with the envelope alone.
 *	It never decides what an outcome means to a client: that is
 *	lmtpd/delivery.c's reply rule, or the import's counts.
 * DIAGNOSTICS
 *	See archive_ingest.h.
 */
#include "mail/archive_ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/retention.h"
#include "common/strlist.h"

void archive_ingest_record(const struct tab_config *cfg, struct archive_record *rec,
                           const char *archive_id, const char *sender, const char *status,
                           time_t arrival, const struct original_info *info, const char *sha256_hex)
{
    memcpy(rec->archive_id, archive_id, sizeof(rec->archive_id));
    free(rec->envelope_from);
    rec->envelope_from = xstrdup(sender);
    rec->envelope_status = status;
    rec->arrival = arrival;
    rec->retain_until = retention_until_spec(cfg->retention_period, arrival);
    rec->size = info->size;
    memcpy(rec->sha256, sha256_hex, sizeof(rec->sha256));
}

int archive_ingest_store(const struct tab_config *cfg, struct store *store,
                         struct archive_record *rec, const struct original_info *info, int orig_fd,
                         int wrap_fd, const char *wrap_path, char **location_r, const char **step_r,
                         const char **error_r)
{
    enum tab_result r;

    *location_r = NULL;
    if (archive_write(rec, info, orig_fd, wrap_fd, cfg->myhostname, error_r) < 0) {
        *step_r = "wrap";
        return -1;
    }
    if (lseek(wrap_fd, 0, SEEK_SET) < 0) {
        *error_r = strerror(errno);
        *step_r = "wrap";
        return -1;
    }
    r = store->put(store, rec, wrap_fd, wrap_path, location_r, error_r);
    if (r != TAB_OK) {
        *step_r = "store";
        return -1;
    }
    free(rec->store);
    free(rec->location);
    rec->store = xstrdup(store->name);
    rec->location = xstrdup(*location_r);
    return 0;
}

enum tab_result archive_ingest_catalog(struct catalog *cat, struct archive_record *rec,
                                       const char **error_r)
{
    enum tab_result r = catalog_add(cat, rec, error_r);

    if (r == TAB_PERM && !record_is_degraded(rec)) {
        /* Refused for what the message says (a field too large for an
         * index, a byte the column cannot hold): the same stored copy,
         * catalogued from the envelope alone. The driver keeps a store
         * transaction it shares open for this second add(). */
        char *why = xasprintf("the catalog refused the index fields: %s",
                              *error_r ? *error_r : "unknown error");
        log_warn("%s: queue_id=%s, sha256=%s: %s; catalogued with the envelope alone "
                 "(index=degraded)",
                 rec->archive_id, rec->queue_id ? rec->queue_id : "", rec->sha256, why);
        record_degrade(rec, why);
        free(why);
        r = catalog_add(cat, rec, error_r);
    }
    return r;
}
