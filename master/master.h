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
    struct config_source src; /* -c and -o, re-applied on reload */
    int foreground;           /* -f */
    int verbose;              /* -v */
};

/* Run the daemon until SIGTERM. Returns the exit status. */
int master_run(const struct master_options *opts, struct tab_config *cfg);
/* One LMTP session on stdin/stdout (-S). Returns the exit status. */
int master_run_stdio(const struct tab_config *cfg);

#endif
