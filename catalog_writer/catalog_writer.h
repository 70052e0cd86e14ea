/*
 * NAME
 *	catalog_writer 3h
 * SUMMARY
 *	one process that writes the SQLite catalog for all workers (group commit)
 * SYNOPSIS
 *	master.c, helper child: _exit(catalog_writer_main(cfg, &privs, master));
 *	worker: ctx->catalog = catalog_writer_client_open(cfg);
 * DESCRIPTION
 *	See catalog_writer.c.
 */
#ifndef TAB_CATALOG_WRITER_H
#define TAB_CATALOG_WRITER_H

#include <sys/types.h>

#include "backends/catalog.h"
#include "common/config.h"
#include "common/privs.h"

/* 1 when the daemon's workers reach cfg's catalog through the writer:
 * catalog_writer = yes, a driver that batches (sqlite), and a socket path
 * that fits (otherwise 0, with the reason in *why_r when why_r != NULL). */
int catalog_writer_wanted(const struct tab_config *cfg, const char **why_r);
/* The writer socket: queue_directory/catalog.sock (heap). */
char *catalog_writer_socket(const struct tab_config *cfg);
/* The helper's whole life; returns the exit status. */
int catalog_writer_main(const struct tab_config *cfg, const struct privs *privs, pid_t master);
/* A catalog for workers: catalog_known_recipients(), catalog_get() and
 * catalog_add() are requests to the writer; it has no other method
 * (catalog_can() says 0, the other calls give TAB_PERM). A catalog driver
 * over a socket: it fills the vtable of backends/catalog_private.h, the one
 * edge to that header outside backends/. Never fails to open: it
 * connects on first use, and a writer that cannot be reached makes the
 * call return TAB_RETRY. */
struct catalog *catalog_writer_client_open(const struct tab_config *cfg);

#endif
