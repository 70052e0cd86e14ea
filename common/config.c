/*
 * NAME
 *	config 3
 * SUMMARY
 *	parameter table, tabularium.conf parsing, $name expansion, dumps
 * DESCRIPTION
 *	One table (config_params) gives each parameter its name, type,
 *	default, range and help text; the struct field is found by offset.
 *	Values are kept raw (as written, for -n) and expanded (for use):
 *	"$name" / "${name}" refer to other parameters, as in Postfix main.cf
 *	(expanded by mac_expand.c).
 *
 *	File syntax: "name = value"; "#" starts a comment line; a line that
 *	starts with white space continues the previous one; blank lines are
 *	ignored. Later settings override earlier ones; -o overrides the file.
 * DIAGNOSTICS
 *	Errors name the file, line and parameter: "tabularium.conf, line 7:
 *	unknown parameter \"proces_limit\"". Callers exit with status 2.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cidr.h"
#include "common/mac_expand.h"
#include "common/retention.h"
#include "common/strlist.h"

/* The text of the last failure (const char **error_r): config_load_source()
 * frees the configuration it failed on, so the message cannot live there. */
static char *config_error;

/* CONFIG_PATH: a string made absolute (relative to the current directory
 * at start), so that workers and drivers never depend on the cwd. */
enum config_type { CONFIG_STR, CONFIG_PATH, CONFIG_INT, CONFIG_TIME, CONFIG_SIZE, CONFIG_MODE };

struct config_param {
    const char *name;
    enum config_type type;
    const char *def; /* raw default; may refer to $other */
    long long min, max;
    size_t offset;
    const char *help;
};

#define CFG(field) offsetof(struct tab_config, field)

static const struct config_param config_params[] = {
    {"data_directory", CONFIG_PATH, "/var/lib/tabularium", 0, 0, CFG(data_directory),
     "top directory of the archive's own data (relative: to the current directory at start)"},
    {"queue_directory", CONFIG_PATH, "$data_directory/spool", 0, 0, CFG(queue_directory),
     "spool for messages being received; scratch space, cleaned at start"},
    {"archive_store", CONFIG_STR, "maildir:$data_directory/Maildir", 0, 0, CFG(archive_store),
     "where archive messages are stored: maildir:PATH"},
    {"archive_catalog", CONFIG_STR, "sqlite:$data_directory/catalog.db", 0, 0, CFG(archive_catalog),
     "where archived messages are indexed: sqlite:PATH"},
    {"catalog_writer", CONFIG_STR, "yes", 0, 0, CFG(catalog_writer),
     "sqlite catalog: one tab-catalog process commits for all workers, in batches (yes | no)"},
    {"lmtp_listen", CONFIG_STR, "inet:127.0.0.1:2424", 0, 0, CFG(lmtp_listen),
     "LMTP listener: inet:HOST:PORT or unix:PATH"},
    {"lmtp_socket_mode", CONFIG_MODE, "0660", 0, 07777, CFG(lmtp_socket_mode),
     "permissions of a unix:PATH listener (octal)"},
    {"lmtp_socket_owner", CONFIG_STR, "", 0, 0, CFG(lmtp_socket_owner),
     "owner of a unix:PATH listener (empty: the daemon's user)"},
    {"lmtp_socket_group", CONFIG_STR, "", 0, 0, CFG(lmtp_socket_group),
     "group of a unix:PATH listener, e.g. postfix (empty: the daemon's group)"},
    {"mail_owner", CONFIG_STR, "tabularium", 0, 0, CFG(mail_owner),
     "unprivileged account that receives, stores and indexes mail when started as root"},
    {"lmtp_client_access", CONFIG_STR, "127.0.0.0/8, ::1/128", 0, 0, CFG(lmtp_client_access),
     "networks allowed to connect to an inet: listener (others get 421)"},
    {"process_limit", CONFIG_INT, "20", 1, 1000, CFG(process_limit),
     "number of worker processes, each serving one LMTP session at a time"},
    {"max_use", CONFIG_INT, "100", 1, INT_MAX, CFG(max_use),
     "sessions a worker serves before it is replaced"},
    {"myhostname", CONFIG_STR, "", 0, 0, CFG(myhostname),
     "host name in the greeting and in archive Message-IDs (empty: the system's name)"},
    {"lmtp_timeout", CONFIG_TIME, "300s", 1, 86400, CFG(lmtp_timeout),
     "time allowed for each command line and the start of DATA (s, m, h suffixes)"},
    {"lmtp_min_data_rate", CONFIG_INT, "500", 0, INT_MAX, CFG(lmtp_min_data_rate),
     "bytes/s DATA must keep up after the first lmtp_timeout (0: idle timeout only)"},
    {"lmtp_line_length_limit", CONFIG_INT, "65536", 512, 1048576, CFG(lmtp_line_length_limit),
     "longest command line accepted, in bytes (message lines are unlimited)"},
    {"lmtp_recipient_limit", CONFIG_INT, "1000", 1, 1000000, CFG(lmtp_recipient_limit),
     "recipients accepted per transaction (more get 452 and are retried)"},
    {"lmtp_recipient_overshoot_limit", CONFIG_INT, "1000", 0, 1000000,
     CFG(lmtp_recipient_overshoot_limit),
     "RCPTs past lmtp_recipient_limit answered 452 before each further one counts as an error"},
    {"lmtp_junk_command_limit", CONFIG_INT, "100", 1, 1000000, CFG(lmtp_junk_command_limit),
     "NOOP, RSET, VRFY, HELP, LHLO, XFORWARD between two messages before each counts as an error"},
    {"lmtp_hard_error_limit", CONFIG_INT, "20", 1, 1000, CFG(lmtp_hard_error_limit),
     "errors between two messages after which the session ends with 421"},
    {"message_size_limit", CONFIG_SIZE, "0", 0, LLONG_MAX, CFG(message_size_limit),
     "largest message accepted, in bytes (k, m, g suffixes); 0 = no limit"},
    {"recipient_encoding_prefix", CONFIG_STR, "archive+", 0, 0, CFG(recipient_encoding_prefix),
     "local-part prefix of archive recipients that encode the original recipient"},
    {"postfix_myhostname", CONFIG_STR, "$myhostname", 0, 0, CFG(postfix_myhostname),
     "myhostname of the Postfix that delivers here: without XFORWARD, only a topmost "
     "Received: written by it gives the queue id"},
    {"index_time_limit", CONFIG_TIME, "60s", 1, 3600, CFG(index_time_limit),
     "longest a process may parse one message; then it is killed and the message "
     "is archived in safe mode (index=degraded)"},
    {"syslog_name", CONFIG_STR, "tabularium", 0, 0, CFG(syslog_name),
     "program name in syslog lines"},
    {"forward_recipient", CONFIG_STR, "", 0, 0, CFG(forward_recipient),
     "send every archive copy by SMTP to this address as well (empty: no forwarding)"},
    {"forward_relayhost", CONFIG_STR, "", 0, 0, CFG(forward_relayhost),
     "SMTP server for forwarded copies: [host]:port, or host[:port] with MX lookup "
     "(empty: MX of forward_recipient's domain)"},
    {"forward_sender", CONFIG_STR, "envelope", 0, 0, CFG(forward_sender),
     "MAIL FROM of forwarded copies: envelope (the original sender), <> or an address"},
    {"forward_minimal_backoff", CONFIG_TIME, "300s", 1, 86400 * 7, CFG(forward_minimal_backoff),
     "wait after the first failed forwarding attempt; doubles after each failure"},
    {"forward_maximal_backoff", CONFIG_TIME, "4000s", 1, 86400 * 7, CFG(forward_maximal_backoff),
     "longest wait between two forwarding attempts"},
    {"forward_maximal_queue_lifetime", CONFIG_TIME, "0", 0, 86400 * 365,
     CFG(forward_maximal_queue_lifetime),
     "after this long a deferred copy moves to the hold queue (0: retry forever)"},
    {"forward_tls_security_level", CONFIG_STR, "may", 0, 0, CFG(forward_tls_security_level),
     "STARTTLS for forwarding: none, may, encrypt (required) or verify (required, "
     "certificate and host name checked)"},
    {"forward_tls_ca_file", CONFIG_PATH, "", 0, 0, CFG(forward_tls_ca_file),
     "trusted CA certificates (PEM) for verify (empty: the system's default CAs)"},
    {"forward_sasl_password_file", CONFIG_PATH, "", 0, 0, CFG(forward_sasl_password_file),
     "file with \"username password\" for SMTP AUTH, mode 0600 (empty: no AUTH)"},
    {"forward_helo_name", CONFIG_STR, "$myhostname", 0, 0, CFG(forward_helo_name),
     "host name sent in EHLO when forwarding"},
    {"forward_connect_timeout", CONFIG_TIME, "30s", 1, 3600, CFG(forward_connect_timeout),
     "time allowed to connect to the forwarding server and receive its greeting"},
    {"forward_command_timeout", CONFIG_TIME, "300s", 1, 3600, CFG(forward_command_timeout),
     "time allowed for each SMTP command and its reply when forwarding"},
    {"forward_data_timeout", CONFIG_TIME, "600s", 1, 7200, CFG(forward_data_timeout),
     "time allowed for each write of message data and for the reply after it"},
    {"retention_period", CONFIG_STR, "", 0, 0, CFG(retention_period),
     "how long each message is kept (Nd, Nw, Ny); empty = forever"},
    {"s3_region", CONFIG_STR, "us-east-1", 0, 0, CFG(s3_region),
     "region the S3 requests are signed for (SigV4)"},
    {"s3_addressing", CONFIG_STR, "path", 0, 0, CFG(s3_addressing),
     "path (https://host/bucket/key) or virtual (https://bucket.host/key)"},
    {"s3_credentials_file", CONFIG_PATH, "", 0, 0, CFG(s3_credentials_file),
     "file with access_key_id and secret_access_key; empty = AWS_* environment"},
    {"s3_tls_ca_file", CONFIG_PATH, "", 0, 0, CFG(s3_tls_ca_file),
     "CA certificates for an https endpoint; empty = the system's"},
    {"s3_tls_verify", CONFIG_STR, "yes", 0, 0, CFG(s3_tls_verify),
     "check the endpoint's certificate and host name (yes | no)"},
    {"s3_object_lock_mode", CONFIG_STR, "none", 0, 0, CFG(s3_object_lock_mode),
     "Object Lock on each PUT: none, governance or compliance (needs retention_period)"},
    {"s3_multipart_threshold", CONFIG_SIZE, "64m", 5 * 1024 * 1024, LLONG_MAX,
     CFG(s3_multipart_threshold), "archive copies larger than this use multipart upload"},
    {"s3_part_size", CONFIG_SIZE, "16m", 5 * 1024 * 1024, 5LL * 1024 * 1024 * 1024,
     CFG(s3_part_size), "size of each part of a multipart upload"},
    {"s3_connect_timeout", CONFIG_TIME, "10s", 1, 3600, CFG(s3_connect_timeout),
     "time allowed to connect to the S3 endpoint"},
    {"s3_timeout", CONFIG_TIME, "60s", 1, 3600, CFG(s3_timeout),
     "time an S3 request may make no progress before it is abandoned (451)"},
};

#define CONFIG_NPARAMS (sizeof(config_params) / sizeof(config_params[0]))

static const struct config_param *config_find(const char *name, size_t *index_r)
{
    for (size_t i = 0; i < CONFIG_NPARAMS; i++)
        if (strcmp(config_params[i].name, name) == 0) {
            if (index_r)
                *index_r = i;
            return &config_params[i];
        }
    return NULL;
}

static void *config_field(struct tab_config *cfg, const struct config_param *p)
{
    return (char *)cfg + p->offset;
}

static int config_is_string(const struct config_param *p)
{
    return p->type == CONFIG_STR || p->type == CONFIG_PATH;
}

void config_init(struct tab_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->raw = xcalloc(CONFIG_NPARAMS, sizeof(char *));
    for (size_t i = 0; i < CONFIG_NPARAMS; i++) {
        cfg->raw[i] = xstrdup(config_params[i].def);
        if (config_is_string(&config_params[i]))
            *(char **)config_field(cfg, &config_params[i]) = xstrdup("");
    }
}

void config_free(struct tab_config *cfg)
{
    if (cfg->raw == NULL)
        return;
    for (size_t i = 0; i < CONFIG_NPARAMS; i++) {
        free(cfg->raw[i]);
        if (config_is_string(&config_params[i]))
            free(*(char **)config_field(cfg, &config_params[i]));
    }
    free(cfg->raw);
    free(cfg->source_file);
    memset(cfg, 0, sizeof(*cfg));
}

const char *config_file(const struct tab_config *cfg)
{
    return cfg->source_file;
}

/* Parse a number with an optional unit suffix; -1 on syntax errors. */
static int config_parse_number(const struct config_param *p, const char *value, long long *v_r,
                               const char **why_r)
{
    char *end;
    long long mult = 1;

    if (!isdigit((unsigned char)value[0])) {
        *why_r = "not a number";
        return -1;
    }
    errno = 0;
    long long v = strtoll(value, &end, p->type == CONFIG_MODE ? 8 : 10);
    if (errno != 0) {
        *why_r = "number out of range";
        return -1;
    }
    if (p->type == CONFIG_TIME && *end != '\0' && end[1] == '\0') {
        switch (*end++) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        case 'w':
            mult = 604800;
            break;
        default:
            end--;
            break;
        }
    } else if (p->type == CONFIG_SIZE && *end != '\0' && end[1] == '\0') {
        switch (tolower((unsigned char)*end++)) {
        case 'k':
            mult = 1024;
            break;
        case 'm':
            mult = 1024 * 1024;
            break;
        case 'g':
            mult = 1024LL * 1024 * 1024;
            break;
        default:
            end--;
            break;
        }
    }
    if (*end != '\0') {
        *why_r = p->type == CONFIG_TIME   ? "bad time value (use e.g. 300s, 5m, 1h)"
                 : p->type == CONFIG_SIZE ? "bad size value (use e.g. 10240000, 10m, 1g)"
                 : p->type == CONFIG_MODE ? "bad octal mode (use e.g. 0660)"
                                          : "not a number";
        return -1;
    }
    if (v > LLONG_MAX / mult) {
        *why_r = "number out of range";
        return -1;
    }
    v *= mult;
    if (v < p->min || v > p->max) {
        *why_r = "value out of range";
        return -1;
    }
    *v_r = v;
    return 0;
}

/* Syntax-check a raw value early (before expansion) when it has no $. */
static int config_check_value(const struct config_param *p, const char *value, const char **error_r,
                              const char *where)
{
    const char *why = NULL;
    long long v;

    if (config_is_string(p) || strchr(value, '$') != NULL)
        return 0;
    if (config_parse_number(p, value, &v, &why) == 0)
        return 0;
    if (why && strcmp(why, "value out of range") == 0)
        *error_r = xsetf(&config_error, "%sbad value \"%s\" for parameter \"%s\": %s (%lld..%lld)",
                         where, value, p->name, why, p->min, p->max);
    else
        *error_r = xsetf(&config_error, "%sbad value \"%s\" for parameter \"%s\": %s", where, value,
                         p->name, why);
    return -1;
}

static int config_set_raw(struct tab_config *cfg, const char *name, const char *value,
                          const char **error_r, const char *where)
{
    size_t i;
    const struct config_param *p = config_find(name, &i);

    if (p == NULL) {
        *error_r = xsetf(&config_error, "%sunknown parameter \"%s\"", where, name);
        return -1;
    }
    if (config_check_value(p, value, error_r, where) < 0)
        return -1;
    free(cfg->raw[i]);
    cfg->raw[i] = xstrdup(value);
    return 0;
}

int config_set(struct tab_config *cfg, const char *name, const char *value, const char **error_r)
{
    return config_set_raw(cfg, name, value, error_r, "-o: ");
}

static char *config_trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Apply one logical line (continuations already joined). */
static int config_apply_line(struct tab_config *cfg, const char *path, int lineno, char *line,
                             const char **error_r)
{
    char where[600];
    char *eq = strchr(line, '=');

    snprintf(where, sizeof(where), "%s, line %d: ", path, lineno);
    if (eq == NULL) {
        *error_r = xsetf(&config_error, "%smissing '=' in \"%.60s\"", where, config_trim(line));
        return -1;
    }
    *eq = '\0';
    char *name = config_trim(line);
    char *value = config_trim(eq + 1);
    if (*name == '\0') {
        *error_r = xsetf(&config_error, "%smissing parameter name before '='", where);
        return -1;
    }
    return config_set_raw(cfg, name, value, error_r, where);
}

int config_load(struct tab_config *cfg, const char *path, const char **error_r)
{
    FILE *fp;
    char *line = NULL, *logical = NULL;
    size_t cap = 0, loglen = 0;
    int lineno = 0, logical_lineno = 0, rc = 0;

    fp = fopen(path ? path : CONFIG_DEFAULT_FILE, "r");
    if (fp == NULL) {
        if (path == NULL && errno == ENOENT)
            return 0;
        *error_r = xsetf(&config_error, "cannot open %s: %s", path ? path : CONFIG_DEFAULT_FILE,
                         strerror(errno));
        return -1;
    }
    if (path == NULL)
        path = CONFIG_DEFAULT_FILE;
    free(cfg->source_file);
    cfg->source_file = xstrdup(path);
    for (;;) {
        ssize_t n = getline(&line, &cap, fp);
        if (n >= 0)
            lineno++;
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        int blank_or_comment =
            n >= 0 && (line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#');
        if (n >= 0 && blank_or_comment)
            continue;
        if (n >= 0 && (line[0] == ' ' || line[0] == '\t')) {
            if (logical == NULL) {
                *error_r =
                    xsetf(&config_error, "%s, line %d: continuation line without a parameter", path,
                          lineno);
                rc = -1;
                break;
            }
            /* The line break and the indentation become one space. */
            size_t skip = strspn(line, " \t");
            logical = xrealloc(logical, loglen + (size_t)n - skip + 2);
            logical[loglen++] = ' ';
            memcpy(logical + loglen, line + skip, (size_t)n - skip + 1);
            loglen += (size_t)n - skip;
            continue;
        }
        if (logical != NULL) {
            rc = config_apply_line(cfg, path, logical_lineno, logical, error_r);
            free(logical);
            logical = NULL;
            if (rc < 0)
                break;
        }
        if (n < 0)
            break;
        logical = xstrdup(line);
        loglen = (size_t)n;
        logical_lineno = lineno;
    }
    if (rc == 0 && ferror(fp)) {
        *error_r = xsetf(&config_error, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(logical);
    free(line);
    fclose(fp);
    return rc;
}

static char *config_expand(const struct tab_config *cfg, const char *raw, int depth,
                           const char **error_r);

/* The expanded value of parameter idx; paths made absolute. */
static char *config_value(const struct tab_config *cfg, size_t idx, int depth, const char **error_r)
{
    char *v = config_expand(cfg, cfg->raw[idx], depth, error_r);
    if (v != NULL && config_params[idx].type == CONFIG_PATH && v[0] != '/' && v[0] != '\0') {
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) != NULL) {
            char *abs = xasprintf("%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, v);
            free(v);
            v = abs;
        }
    }
    /* An existing directory by its real path: workers running as mail_owner
     * need not be able to walk a symlink's own parents (make run's ./var). */
    char *real = v != NULL && config_params[idx].type == CONFIG_PATH ? realpath(v, NULL) : NULL;
    if (real != NULL) {
        free(v);
        v = xstrdup(real);
        free(real);
    }
    return v;
}

/* $name in a value: the expanded value of that parameter. */
static char *config_lookup(void *ctx, const char *name, int depth, const char **error_r)
{
    size_t idx;

    if (config_find(name, &idx) == NULL)
        return NULL;
    return config_value(ctx, idx, depth, error_r);
}

/* Expand $name and ${name} in raw; depth guards against $a -> $b -> $a. */
static char *config_expand(const struct tab_config *cfg, const char *raw, int depth,
                           const char **error_r)
{
    const struct mac_expand mx = {
        .flags = 0, .max_depth = 10, .lookup = config_lookup, .ctx = (void *)cfg};

    return mac_expand(&mx, raw, depth, error_r);
}

/* The forward_* parameters that have a syntax of their own. */
static int config_check_forward(struct tab_config *cfg, const char **error_r)
{
    static const char *const levels[] = {"none", "may", "encrypt", "verify"};
    int level_ok = 0;

    /* $myhostname is empty until config_finish() fills it in. */
    if (cfg->forward_helo_name[0] == '\0') {
        free(cfg->forward_helo_name);
        cfg->forward_helo_name = xstrdup(cfg->myhostname);
    }
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        level_ok |= strcmp(cfg->forward_tls_security_level, levels[i]) == 0;
    if (!level_ok) {
        *error_r = xsetf(&config_error,
                         "bad value \"%s\" for parameter \"forward_tls_security_level\": "
                         "use none, may, encrypt or verify",
                         cfg->forward_tls_security_level);
        return -1;
    }
    if (cfg->forward_minimal_backoff > cfg->forward_maximal_backoff) {
        *error_r = xsetf(&config_error,
                         "forward_minimal_backoff (%ds) is longer than "
                         "forward_maximal_backoff (%ds)",
                         cfg->forward_minimal_backoff, cfg->forward_maximal_backoff);
        return -1;
    }
    /* Addresses go into SMTP commands and queue files: no white space,
     * no control characters, no angle brackets. */
    const char *addrs[] = {cfg->forward_recipient, cfg->forward_sender};
    const char *names[] = {"forward_recipient", "forward_sender"};
    for (size_t i = 0; i < 2; i++) {
        const char *a = addrs[i];
        if (i == 1 && (strcmp(a, "envelope") == 0 || strcmp(a, "<>") == 0))
            continue;
        for (const unsigned char *c = (const unsigned char *)a; *c; c++)
            if (*c <= ' ' || *c == 0x7f || *c == '<' || *c == '>') {
                *error_r = xsetf(&config_error,
                                 "bad value \"%s\" for parameter \"%s\": "
                                 "an address without <>, spaces or control characters",
                                 a, names[i]);
                return -1;
            }
        if ((i == 0 && *a != '\0' && strchr(a, '@') == NULL) || (i == 1 && *a == '\0')) {
            *error_r =
                xsetf(&config_error, "bad value \"%s\" for parameter \"%s\": %s", a, names[i],
                      i == 0 ? "use user@domain" : "use envelope, <> or an address");
            return -1;
        }
    }
    return 0;
}

/* One of the words in a NULL-terminated list, or an error naming them. */
static int config_check_word(const char *name, const char *value, const char *const *words,
                             const char **error_r)
{
    struct strlist all = {0};
    char *joined;

    for (size_t i = 0; words[i] != NULL; i++) {
        if (strcmp(value, words[i]) == 0) {
            strlist_free(&all);
            return 0;
        }
        strlist_add(&all, words[i]);
    }
    joined = strlist_join(&all, ", ");
    *error_r = xsetf(&config_error, "bad value \"%s\" for parameter \"%s\": use one of %s", value,
                     name, joined);
    free(joined);
    strlist_free(&all);
    return -1;
}

/* retention_period and the s3_* words. */
static int config_check_s3(struct tab_config *cfg, const char **error_r)
{
    static const char *const addressing[] = {"path", "virtual", NULL};
    static const char *const yesno[] = {"yes", "no", NULL};
    static const char *const lock[] = {"none", "governance", "compliance", NULL};
    struct retention ret;
    const char *why;

    if (retention_parse(cfg->retention_period, &ret, &why) < 0) {
        *error_r = xsetf(&config_error, "bad value \"%s\" for parameter \"retention_period\": %s",
                         cfg->retention_period, why);
        return -1;
    }
    if (config_check_word("s3_addressing", cfg->s3_addressing, addressing, error_r) < 0 ||
        config_check_word("s3_tls_verify", cfg->s3_tls_verify, yesno, error_r) < 0 ||
        config_check_word("catalog_writer", cfg->catalog_writer, yesno, error_r) < 0 ||
        config_check_word("s3_object_lock_mode", cfg->s3_object_lock_mode, lock, error_r) < 0)
        return -1;
    if (strcmp(cfg->s3_object_lock_mode, "none") != 0 && !ret.set) {
        *error_r = xsetf(&config_error, "s3_object_lock_mode = %s needs a retention_period",
                         cfg->s3_object_lock_mode);
        return -1;
    }
    return 0;
}

int config_finish(struct tab_config *cfg, const char **error_r)
{
    for (size_t i = 0; i < CONFIG_NPARAMS; i++) {
        const struct config_param *p = &config_params[i];
        const char *err = NULL;
        char *v = config_value(cfg, i, 0, &err);
        if (v == NULL) {
            *error_r = xsetf(&config_error, "parameter \"%s\": %s", p->name, err);
            return -1;
        }
        if (config_is_string(p)) {
            char **field = config_field(cfg, p);
            free(*field);
            *field = v;
            continue;
        }
        long long num;
        const char *why = NULL;
        if (config_parse_number(p, v, &num, &why) < 0) {
            *error_r =
                xsetf(&config_error, "bad value \"%s\" for parameter \"%s\": %s", v, p->name, why);
            free(v);
            return -1;
        }
        free(v);
        if (p->type == CONFIG_SIZE)
            *(long long *)config_field(cfg, p) = num;
        else
            *(int *)config_field(cfg, p) = (int)num;
    }
    if (cfg->myhostname[0] == '\0') {
        char host[256];
        if (gethostname(host, sizeof(host) - 1) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        free(cfg->myhostname);
        cfg->myhostname = xstrdup(host);
    }
    /* "$myhostname" expanded before the system's name was filled in. */
    if (cfg->postfix_myhostname[0] == '\0') {
        free(cfg->postfix_myhostname);
        cfg->postfix_myhostname = xstrdup(cfg->myhostname);
    }
    for (const char *h = cfg->myhostname; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-') {
            *error_r = xsetf(&config_error,
                             "bad value \"%s\" for parameter \"myhostname\": "
                             "letters, digits, '.' and '-' only",
                             cfg->myhostname);
            return -1;
        }
    if (strncmp(cfg->lmtp_listen, "inet:", 5) != 0 && strncmp(cfg->lmtp_listen, "unix:", 5) != 0) {
        *error_r = xsetf(&config_error,
                         "bad value \"%s\" for parameter \"lmtp_listen\": "
                         "use inet:HOST:PORT or unix:PATH",
                         cfg->lmtp_listen);
        return -1;
    }
    struct cidr_list nets;
    const char *why = NULL;
    if (cidr_list_parse(cfg->lmtp_client_access, &nets, &why) < 0) {
        *error_r = xsetf(&config_error, "bad value for parameter \"lmtp_client_access\": %s", why);
        return -1;
    }
    cidr_list_free(&nets);
    if (cfg->mail_owner[0] == '\0') {
        *error_r = xsetf(&config_error, "parameter \"mail_owner\" must name an account");
        return -1;
    }
    if (config_check_forward(cfg, error_r) < 0)
        return -1;
    if (config_check_s3(cfg, error_r) < 0)
        return -1;
    if (strchr(cfg->archive_store, ':') == NULL || strchr(cfg->archive_catalog, ':') == NULL) {
        *error_r = xsetf(&config_error, "archive_store and archive_catalog take type:spec "
                                        "(e.g. maildir:/var/lib/tabularium/Maildir)");
        return -1;
    }
    return 0;
}

char *config_redact(const char *value)
{
    /* Each redaction consumes at least 4 bytes and writes at most 5 more
     * than it consumed: 3 * len + 16 is always enough. */
    char *out = xmalloc(3 * strlen(value) + 16), *o = out;
    const char *p = value;

    while (*p) {
        /* URI user info: "://user:secret@" */
        if (strncmp(p, "://", 3) == 0) {
            const char *auth = p + 3, *end = auth + strcspn(auth, "/?#@");
            const char *colon = memchr(auth, ':', (size_t)(end - auth));
            if (*end == '@' && colon != NULL) {
                memcpy(o, p, (size_t)(colon - p) + 1);
                o += colon - p + 1;
                memcpy(o, "*****", 5);
                o += 5;
                p = end;
                continue;
            }
        }
        /* key=value and query forms: "password=secret", "password = 'se cret'" */
        if ((p == value || !isalnum((unsigned char)p[-1])) && strncasecmp(p, "password", 8) == 0) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                if (*q == '\'') {
                    for (q++; *q && *q != '\''; q++)
                        if (*q == '\\' && q[1])
                            q++;
                    if (*q)
                        q++;
                } else {
                    q += strcspn(q, " &;");
                }
                memcpy(o, "password=*****", 14);
                o += 14;
                p = q;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

void config_print(const struct tab_config *cfg, FILE *out, int non_default_only, int defaults)
{
    for (size_t i = 0; i < CONFIG_NPARAMS; i++) {
        const char *v = defaults ? config_params[i].def : cfg->raw[i];
        if (non_default_only && strcmp(cfg->raw[i], config_params[i].def) == 0)
            continue;
        char *shown = config_redact(v); /* -n output is pasted into mails and tickets */
        fprintf(out, "%s =%s%s\n", config_params[i].name, *shown ? " " : "", shown);
        free(shown);
    }
}

void config_print_reference(FILE *out)
{
    for (size_t i = 0; i < CONFIG_NPARAMS; i++) {
        const struct config_param *p = &config_params[i];
        fprintf(out, "# %s\n#%s =%s%s\n\n", p->help, p->name, *p->def ? " " : "", p->def);
    }
}

int config_load_source(const struct config_source *src, struct tab_config *cfg,
                       const char **error_r)
{
    config_init(cfg);
    if (config_load(cfg, src->config_path, error_r) < 0)
        goto fail;
    for (size_t i = 0; i < src->overrides.n; i++) {
        const char *o = src->overrides.v[i];
        const char *eq = strchr(o, '=');
        if (eq == NULL) {
            *error_r = xsetf(&config_error, "-o %s: use -o name=value", o);
            goto fail;
        }
        char *name = xstrndup(o, (size_t)(eq - o));
        int rc = config_set(cfg, name, eq + 1, error_r);
        free(name);
        if (rc < 0)
            goto fail;
    }
    if (config_finish(cfg, error_r) < 0)
        goto fail;
    return 0;
fail:
    config_free(cfg);
    return -1;
}

int config_source_option(struct config_source *src, int opt, const char *arg)
{
    if (opt == 'c')
        src->config_path = arg;
    else if (opt == 'o')
        strlist_add(&src->overrides, arg);
    else
        return 0;
    return 1;
}
