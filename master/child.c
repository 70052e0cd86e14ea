/*
 * NAME
 *	child 3
 * SUMMARY
 *	the start-up every child of the master runs
 * DESCRIPTION
 *	See master/child.h. Owns nothing after it returns.
 */
#include "master/child.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"

void child_set_handler(int sig, void (*handler)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a stop must interrupt accept() and poll() */
    sigaction(sig, &sa, NULL);
}

void child_signals(void (*handler)(int))
{
    child_set_handler(SIGTERM, handler);
    child_set_handler(SIGHUP, handler);
    signal(SIGINT, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
}

int child_start(const char *what, const char *proc_name, const struct privs *privs, pid_t master,
                void (*handler)(int))
{
    const char *error = NULL;

    if (privs_drop(privs, &error) < 0) {
        log_error("%s: %s", what, error);
        return -1;
    }
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != master) {
        log_error("%s: the master is gone or cannot be watched; exiting", what);
        return -1;
    }
    if (proc_name != NULL)
        (void)prctl(PR_SET_NAME, proc_name);
    child_signals(handler);
    return 0;
}
