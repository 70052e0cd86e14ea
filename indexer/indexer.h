/*
 * NAME
 *	indexer 3h
 * SUMMARY
 *	the process that builds the full-text index off the delivery path
 * DESCRIPTION
 *	Started and supervised by the master when the catalog driver has
 *	index_pending (CATALOG_CAN_INDEX_PENDING in backends/catalog.h; the SQLite catalog), like
 *the forwarder (master/master.c). Moves the text that deliveries stored unindexed into the
 *full-text index, in short batches, at a lower CPU priority than the workers.
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

#endif
