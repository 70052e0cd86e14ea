/*
 * NAME
 *	doctor 3h
 * SUMMARY
 *	what the parts of tabularium doctor share (private to search/doctor/)
 * DESCRIPTION
 *	struct doctor is one run of the command: the options, the loaded
 *	configurations (Tabularium's, Postfix's parameters and master.cf
 *	services), what earlier checks found out for later ones (the archive
 *	domain, the delivering transport) and the counts for the summary.
 *	Each check takes it and reports through doctor_report() (report.c).
 */
#ifndef TAB_DOCTOR_H
#define TAB_DOCTOR_H

#include <stddef.h>

#include "common/config.h"
#include "common/strlist.h"
#include "search/cli_output.h"

enum doctor_status { DOCTOR_OK, DOCTOR_INFO, DOCTOR_WARNING, DOCTOR_ERROR };

/* Postfix parameters as printed by postconf: later lines win. */
struct doctor_params {
    struct strlist names;
    struct strlist values;
    int expanded; /* from postconf -x: no $name left to expand */
};

/* One master.cf service (postconf -M), the columns the checks use. */
struct doctor_service {
    char *name;
    char *type;
    char *chroot;
    char *maxproc;
    char *command;
    struct strlist overrides; /* "name=value" of its -o options */
};

struct doctor {
    struct cli_output *out;
    int json;
    unsigned n_ok, n_warnings, n_errors;

    const char *postconf_dir;
    const char *postconf_file;
    const char *master_file;

    struct tab_config cfg;
    int have_cfg;
    const char *cfg_error; /* config.c's text: the doctor loads nothing else */
    const char *cfg_file;  /* for the fixes: the file the admin edits */

    int have_postfix;
    struct doctor_params pf;
    struct doctor_service *services;
    size_t n_services;
    int have_master;
    int postmap_missing; /* postmap was not found: do not try again */

    char *archive_domain; /* from recipient_bcc_maps or always_bcc */
    char *transport;      /* master.cf service that delivers archive copies */
    int have_owner;       /* mail_owner resolved (as root) */
};

/* What a postconf or postmap child printed, and how it ended. */
struct doctor_child {
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
    int status; /* exit status; -1 when killed by a signal or the timeout */
    int timed_out;
};

/* A listener: tabulariumd's lmtp_listen or a Postfix lmtp: nexthop. */
struct doctor_endpoint {
    int is_unix;
    char *host; /* inet: without brackets */
    char *port;
    char *path; /* unix: */
};

/* search/doctor/report.c: one finding; fix (may be NULL) is taken over. */
void doctor_report(struct doctor *d, enum doctor_status st, const char *check, char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* s as one shell word (heap): quoted only when it must be. */
char *doctor_shell_word(const char *s);
/* "postconf -e 'name = value'" and "set NAME = VALUE in FILE" (heap). */
char *doctor_postconf_fix(const struct doctor *d, const char *name, const char *value);
char *doctor_config_fix(const struct doctor *d, const char *name, const char *value);

/* search/doctor/postfix_settings.c */
/* Run argv[0] from PATH without a shell, its output collected, killed
 * after DOCTOR_CHILD_TIMEOUT s; -1 with *errno_r when it did not start. */
void doctor_child_free(struct doctor_child *c);
int doctor_run(char *const argv[], struct doctor_child *c, int *errno_r);
/* Why a child failed, for a message (heap). */
char *doctor_child_error(const struct doctor_child *c);
void doctor_params_free(struct doctor_params *p);
/* A parameter as written, Postfix's default when absent, NULL when unknown. */
const char *doctor_param_raw(const struct doctor_params *p, const char *name);
/* A Postfix parameter's effective value, $name expanded (heap). */
char *doctor_pf(const struct doctor *d, const char *name);
/* Postfix's list syntax, time (def_unit when none) and numbers. */
void doctor_split_list(const char *s, struct strlist *l);
int doctor_parse_time(const char *s, char def_unit, long long *secs_r);
int doctor_parse_number(const char *s, long long *n_r);
/* The master.cf service NAME of TYPE, or NULL. */
const struct doctor_service *doctor_service(const struct doctor *d, const char *name,
                                            const char *type);
int doctor_read_file(const char *path, char **text_r, const char **error_r);
/* Postfix's parameters and services into d; -1 (printed): exit 2. */
int doctor_load_postfix(struct doctor *d);
/* A table file's logical lines (table(5): continuations joined). */
void doctor_table_lines(const char *text, struct strlist *lines);

/* search/doctor/check_routing.c: 1. and 2.; they set archive_domain, transport */
void doctor_check_bcc(struct doctor *d);
/* nexthop: the part of a Postfix lmtp: destination, else lmtp_listen. */
void doctor_endpoint_free(struct doctor_endpoint *ep);
void doctor_endpoint_parse(const char *s, int nexthop, struct doctor_endpoint *ep);
int doctor_is_any_host(const char *h);
void doctor_check_transport(struct doctor *d);

/* search/doctor/check_postfix.c: 3.-6., each one finding */
void doctor_check_recipient_limit(struct doctor *d);
void doctor_check_line_length(struct doctor *d);
void doctor_check_concurrency(struct doctor *d);
void doctor_check_xforward(struct doctor *d);
void doctor_check_smtputf8(struct doctor *d);
void doctor_check_notices(struct doctor *d);
void doctor_check_queue_lifetime(struct doctor *d);

/* search/doctor/check_tabularium.c: 7. */
void doctor_check_tabularium(struct doctor *d);

/* search/doctor/probe.c: 8. */
void doctor_check_daemon(struct doctor *d);

#endif
