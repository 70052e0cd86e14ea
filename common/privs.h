/*
 * NAME
 *	privs 3h
 * SUMMARY
 *	least privilege: the unprivileged mail_owner account
 * DESCRIPTION
 *	tabulariumd started as root binds its listener and prepares its
 *	directories as root, then every process that touches mail runs as
 *	mail_owner. privs_drop() is irreversible and verified.
 * DIAGNOSTICS
 *	-1 with a message naming the account and the reason, kept by this
 *	module until its next failure.
 */
#ifndef TAB_PRIVS_H
#define TAB_PRIVS_H

#include <sys/types.h>

struct privs {
    uid_t uid;
    gid_t gid;
    int active; /* 1: started as root, so mail_owner applies */
};

/* Look up mail_owner when running as root (active = 1); otherwise the
 * current user (active = 0). Refuses an owner that is root. */
int privs_init(const char *mail_owner, struct privs *p, const char **error_r);
/* Make path owned by the account (only when active). */
int privs_chown(const struct privs *p, const char *path, const char **error_r);
/* 0 when the account can enter and write directory path (checked in a
 * child that drops to it); -1 with a message naming the path otherwise. */
int privs_check_access(const struct privs *p, const char *path, const char **error_r);
/* Become the account for good (no-op when not active). */
int privs_drop(const struct privs *p, const char **error_r);

#endif
