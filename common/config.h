/*
 * NAME
 *	config 3h
 * SUMMARY
 *	tabularium.conf: the parameter table, parsing, $name expansion, dumps
 * DESCRIPTION
 *	Parameters are main.cf-style "name = value" lines, "#" comments,
 *	continuation lines that start with white space. "$name" and "${name}"
 *	in a value expand to another parameter's value. Every parameter has
 *	one entry in config.c's table (name, type, default, range, one line of
 *	help); config/tabularium.conf lists the same, and a test checks that.
 *
 *	No global configuration: everything that needs a setting receives a
 *	const struct tab_config *.
 * DIAGNOSTICS
 *	config_load() and config_set() return -1 and a message naming the
 *	file, the line and the parameter for unknown names and bad values.
 */
#ifndef TAB_CONFIG_H
#define TAB_CONFIG_H

#include <stdio.h>

#include "common/strlist.h"

#define CONFIG_DEFAULT_FILE "/etc/tabularium/tabularium.conf"

struct tab_config {
    /* where things live */
    char *data_directory;
    char *queue_directory;
    char *archive_store;   /* type:spec, e.g. maildir:/var/lib/tabularium/Maildir */
    char *archive_catalog; /* type:spec, e.g. sqlite:/var/lib/tabularium/catalog.db */
    char *catalog_writer;  /* yes | no: sqlite writes through catalog_writer/catalog_writer.c */
    /* listener and processes */
    char *lmtp_listen; /* inet:HOST:PORT | unix:PATH */
    int lmtp_socket_mode;
    char *lmtp_socket_owner;  /* "" = the daemon's user */
    char *lmtp_socket_group;  /* "" = the daemon's group */
    char *mail_owner;         /* the unprivileged account workers run as */
    char *lmtp_client_access; /* networks allowed to connect to an inet listener */
    int process_limit;
    int max_use;
    /* protocol */
    char *myhostname;
    int lmtp_timeout;           /* seconds */
    int lmtp_min_data_rate;     /* bytes/s, 0 = off */
    int lmtp_line_length_limit; /* bytes, command lines */
    int lmtp_recipient_limit;
    int lmtp_recipient_overshoot_limit; /* 452'd RCPTs before they count as errors */
    int lmtp_junk_command_limit;        /* junk commands before they count as errors */
    int lmtp_hard_error_limit;          /* errors before 421 and close */
    long long message_size_limit;       /* bytes, 0 = no limit */
    char *recipient_encoding_prefix;
    char *postfix_myhostname; /* by-host of a trusted topmost Received: */
    int index_time_limit;     /* seconds a process may parse one message */
    /* logging */
    char *syslog_name;
    /* forwarding of archive copies to an external archive (forwarder/forwarder.c) */
    char *forward_recipient;            /* "" = off */
    char *forward_relayhost;            /* [host]:port, host:port or host (MX); "" = MX of the
                                           recipient's domain */
    char *forward_sender;               /* envelope | <> | address */
    int forward_minimal_backoff;        /* seconds */
    int forward_maximal_backoff;        /* seconds */
    int forward_maximal_queue_lifetime; /* seconds, 0 = forever; then: hold */
    char *forward_tls_security_level;   /* none | may | encrypt | verify */
    char *forward_tls_ca_file;
    char *forward_sasl_password_file; /* "username password", "" = no AUTH */
    char *forward_helo_name;
    int forward_connect_timeout;
    int forward_command_timeout;
    int forward_data_timeout;
    /* retention (common/retention.c): "" = keep forever */
    char *retention_period; /* Nd, Nw or Ny */
    /* the S3 store (backends/s3/) */
    char *s3_region;
    char *s3_addressing;              /* path | virtual */
    char *s3_credentials_file;        /* "access_key_id = ..." / "secret_access_key = ..." */
    char *s3_tls_ca_file;             /* "" = the system's CA store */
    char *s3_tls_verify;              /* yes | no */
    char *s3_object_lock_mode;        /* none | governance | compliance */
    long long s3_multipart_threshold; /* bytes; larger copies use multipart upload */
    long long s3_part_size;           /* bytes per part */
    int s3_connect_timeout;           /* seconds */
    int s3_timeout;                   /* seconds without progress before giving up */

    /* private to config.c: the file read and the raw (unexpanded) values */
    char *source_file;
    char **raw;
};

/* Where a process's configuration comes from: the file (-c) and the
 * -o name=value overrides, re-applied at every reload. */
struct config_source {
    const char *config_path;  /* NULL: CONFIG_DEFAULT_FILE */
    struct strlist overrides; /* -o name=value */
};

/* -c FILE and -o name=value, which both programs take: 1 when opt was
 * one of them (and is now in src), else 0. */
int config_source_option(struct config_source *src, int opt, const char *arg);

/* The one loader every program uses: defaults, the file, the overrides,
 * config_finish(). 0 ok; -1 with *error_r and cfg freed.
 * Every error text here is config.c's, valid until its next failure. */
int config_load_source(const struct config_source *src, struct tab_config *cfg,
                       const char **error_r);

/* Defaults only. Call config_free() when done. */
void config_init(struct tab_config *cfg);
/* Read path (NULL: CONFIG_DEFAULT_FILE, silently absent). 0 ok, -1 error. */
int config_load(struct tab_config *cfg, const char *path, const char **error_r);
/* name=value from the command line (-o), same checks as a file line. */
int config_set(struct tab_config *cfg, const char *name, const char *value, const char **error_r);
/* Expand $names and check cross-parameter constraints; after loading. */
int config_finish(struct tab_config *cfg, const char **error_r);
/* "name = value" lines: all (-d: defaults) or only non-default ones (-n). */
void config_print(const struct tab_config *cfg, FILE *out, int non_default_only, int defaults);
/* Print the table as an annotated reference (what config/tabularium.conf holds). */
void config_print_reference(FILE *out);
void config_free(struct tab_config *cfg);
/* A copy of a driver spec fit for logs and -n: a password in key=value
 * form ("password=..."), in a URI's user info ("://user:secret@") or in
 * a query ("?password=...") is replaced by "*****". Heap. */
char *config_redact(const char *value);
/* The file name config_load() read, or NULL. */
const char *config_file(const struct tab_config *cfg);

#endif
