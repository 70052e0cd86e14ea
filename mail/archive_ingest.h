/*
 * NAME
 *	archive_ingest 3h
 * SUMMARY
 *	the steps of archiving one message that the daemon and the import share
 * DESCRIPTION
 *	lmtpd/delivery.c (a message from Postfix) and search/admin/cli_import.c
 *	(a message from an mbox, a Maildir, an .eml file) archive the same way:
 *	archive_ingest_record() fills the record's envelope part,
 *	archive_ingest_store() wraps the original into the archive message and
 *	puts it in the store, archive_ingest_catalog() adds the record to the
 *	catalog, again from the envelope alone (index=degraded) when the
 *	catalog refuses the index fields (TAB_PERM). What comes between (the
 *	daemon's forward queue) and what the outcome means (an LMTP reply, an
 *	import count) stay with the caller.
 * DIAGNOSTICS
 *	archive_ingest_store(): -1 with *step_r ("wrap", "store") and *error_r.
 *	archive_ingest_catalog(): the catalog's result; the degraded retry is
 *	logged as "ID: queue_id=Q, sha256=H: the catalog refused the index
 *	fields: why; catalogued with the envelope alone (index=degraded)".
 */
#ifndef TAB_ARCHIVE_INGEST_H
#define TAB_ARCHIVE_INGEST_H

#include <time.h>

#include "backends/catalog.h"
#include "backends/record.h"
#include "backends/store.h"
#include "common/config.h"
#include "mail/archive_write.h"

/* The envelope part every archived message has: archive id, sender,
 * envelope status (ENVELOPE_*), arrival, retention from cfg, size and
 * SHA-256 of the original. Recipients are added by the caller. */
void archive_ingest_record(const struct tab_config *cfg, struct archive_record *rec,
                           const char *archive_id, const char *sender, const char *status,
                           time_t arrival, const struct original_info *info,
                           const char *sha256_hex);

/* Wrap the original (orig_fd, info->size bytes from offset 0) into wrap_fd
 * (empty; wrap_path names it for a store that links it) and put it in
 * store. On success rec->store and rec->location are set and *location_r
 * is a heap copy of the location. */
int archive_ingest_store(const struct tab_config *cfg, struct store *store,
                         struct archive_record *rec, const struct original_info *info, int orig_fd,
                         int wrap_fd, const char *wrap_path, char **location_r, const char **step_r,
                         const char **error_r);

/* catalog_add(), and when the catalog refuses what the message says
 * (TAB_PERM on a full record) the same record again from the envelope
 * alone, flagged index=degraded. */
enum tab_result archive_ingest_catalog(struct catalog *cat, struct archive_record *rec,
                                       const char **error_r);

#endif
