/*
 * NAME
 *	indexer 3h
 * SUMMARY
 *	the process that builds the full-text index off the delivery path
 * DESCRIPTION
 *	Started and supervised by the master when the catalog driver has
 *	index_pending (backends/catalog.h; the SQLite catalog), like the
 *	forwarder (lmtpd/master.c). Moves the text that deliveries stored
 *	unindexed into the full-text index, in short batches, at a lower
 *	CPU priority than the workers.
 */
#ifndef TAB_INDEXER_H
#define TAB_INDEXER_H

#include <sys/types.h>

#include "backends/catalog.h"
#include "common/config.h"
#include "common/privs.h"

/* The child's whole life: drop privileges, lower the priority, index
 * until SIGTERM or SIGHUP, or until master (the parent's pid) dies.
 * Returns the exit status. */
int indexer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master);

/* The catalog's text source (catalog_text_fn) for messages whose body text
 * and attachments the workers left in the store (record.index_later): reads
 * the stored copy through cfg's archive_store (opened on first use) into
 * an unnamed temporary file and extracts them as a delivery would (the
 * original is the archive message's message/rfc822 part). The indexer and
 * the CLI (whose searches index what is pending first) attach one. */
struct indexer_text_source;
struct indexer_text_source *indexer_text_source_attach(struct catalog *cat,
                                                       const struct tab_config *cfg);
void indexer_text_source_free(struct indexer_text_source **ts);

#endif
