/*
 * NAME
 *	master 3h
 * SUMMARY
 *	listener, pre-forked workers, signals
 */
#ifndef TAB_MASTER_H
#define TAB_MASTER_H

#include "common/config.h"
#include "common/strlist.h"

struct master_options {
    const char *config_path;  /* -c, or NULL for the default file */
    struct strlist overrides; /* -o name=value, re-applied on reload */
    int foreground;           /* -f */
    int verbose;              /* -v */
};

/* Load, override and finish a configuration as main() and SIGHUP do. */
int master_load_config(const struct master_options *opts, struct tab_config *cfg, char **error_r);
/* Run the daemon until SIGTERM. Returns the exit status. */
int master_run(const struct master_options *opts, struct tab_config *cfg);
/* One LMTP session on stdin/stdout (-S). Returns the exit status. */
int master_run_stdio(const struct tab_config *cfg);
/* For a helper process (forwarder, indexer): handler for SIGTERM and
 * SIGHUP (they stay blocked as the master left them, until the helper
 * waits with a mask that lets them in), ^C left to the master, SIGPIPE
 * ignored, SIGCHLD default. */
void master_helper_signals(void (*handler)(int));

#endif
