/*
 * NAME
 *	cli_user 3
 * SUMMARY
 *	tabularium user: the web interface's accounts, API tokens, TOTP
 * SYNOPSIS
 *	tabularium user add NAME --role ROLE[,ROLE...] [--address ADDR]...
 *	                    (--password-stdin | --ldap)
 *	tabularium user list [--json]
 *	tabularium user passwd NAME --password-stdin
 *	tabularium user disable|enable|delete NAME
 *	tabularium user token NAME
 *	tabularium user totp NAME [--off]
 * DESCRIPTION
 *	Owns the operator's side of the accounts the web interface signs in
 *	(docs/web.md, "Accounts"): the checks of names, roles and addresses,
 *	reading a password from standard input (never from the command line,
 *	where ps and the shell's history would show it), hashing it
 *	(web/password.c), making API tokens and one-time secrets
 *	(web/totp.c), and the audit line of every change. The catalog keeps
 *	the accounts (catalog_user_*() of backends/catalog.h).
 * DIAGNOSTICS
 *	Exit 0 done, 1 no such account (list: no accounts), 2 usage,
 *	configuration or catalog error, with the reason on stderr.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "backends/catalog.h"
#include "common/sha256.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/cli_output.h"
#include "web/password.h"
#include "web/totp.h"

#define USER_NAME_MAX 64
#define USER_ADDRESS_MAX 320
#define USER_TOKEN_BYTES 32

const char cli_user_help[] =
    "NAME\n"
    "    tabularium user - accounts of the web interface\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium user add NAME --role ROLE[,ROLE...] [--address ADDR]...\n"
    "                    (--password-stdin | --ldap)\n"
    "    tabularium user list [--json]\n"
    "    tabularium user passwd NAME --password-stdin\n"
    "    tabularium user disable NAME | enable NAME | delete NAME\n"
    "    tabularium user token NAME\n"
    "    tabularium user totp NAME [--off]\n"
    "\n"
    "DESCRIPTION\n"
    "    The people who may sign in to the web interface, kept in the\n"
    "    catalog. Roles (docs/web.md):\n"
    "      user     sees the mail whose envelope sender or an envelope\n"
    "               recipient is one of the account's --address values\n"
    "      auditor  sees all mail, read-only\n"
    "      officer  an auditor who may also export, hold and review expiry\n"
    "      admin    accounts and settings; no mail unless also auditor\n"
    "\n"
    "    add       create an account. --password-stdin reads the password\n"
    "              from the first line of standard input (it is hashed with\n"
    "              yescrypt; never put it on the command line); --ldap signs\n"
    "              the account in against the directory instead.\n"
    "    list      the accounts: name, roles, how they sign in, one-time\n"
    "              codes on or off, disabled, addresses\n"
    "    passwd    set a new password (from standard input)\n"
    "    disable   refuse the account's sign-ins and tokens; enable undoes it\n"
    "    delete    remove the account, its addresses and its API tokens\n"
    "    token     print a new API token for the account, once: only its\n"
    "              SHA-256 is kept. Scripts send it as\n"
    "              \"Authorization: Bearer TOKEN\".\n"
    "    totp      turn one-time codes on (prints the secret and an\n"
    "              otpauth:// URI for an authenticator app) or, with --off,\n"
    "              off\n"
    "\n"
    "    Names are 1 to 64 letters, digits and . _ @ -. Every change is\n"
    "    recorded in the audit log (tabularium audit), never a password.\n"
    "\n"
    "EXAMPLES\n"
    "    printf '%s\\n' \"$PW\" | tabularium user add alice --role auditor --password-stdin\n"
    "    tabularium user add bob --role user --address bob@example.com --ldap\n"
    "    tabularium user token alice\n"
    "\n"
    "EXIT STATUS\n"
    "    0 done, 1 no such account (list: none), 2 usage, configuration or\n"
    "    catalog error.\n";

static const char *const user_roles[] = {"user", "auditor", "officer", "admin"};

/* The canonical form of a comma-separated role list (heap), or NULL. */
static char *user_roles_parse(const char *s)
{
    int want[4] = {0};
    struct strlist out = STRLIST_INIT;
    char *copy = xstrdup(s), *save = NULL, *r = NULL;
    int any = 0;

    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < 4 && strcmp(t, user_roles[i]) != 0; i++)
            ;
        if (i == 4)
            goto out;
        want[i] = any = 1;
    }
    if (!any)
        goto out;
    for (size_t i = 0; i < 4; i++)
        if (want[i])
            strlist_add(&out, user_roles[i]);
    r = strlist_join(&out, ",");
out:
    strlist_free(&out);
    free(copy);
    return r;
}

static int user_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > USER_NAME_MAX || s[0] == '-' || s[0] == '.')
        return 0;
    for (const char *p = s; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && strchr("._@-", *p) == NULL)
            return 0;
    return 1;
}

static int user_address_valid(const char *s)
{
    const char *at = strrchr(s, '@');
    size_t n = strlen(s);

    if (n == 0 || n > USER_ADDRESS_MAX || at == NULL || at == s || at[1] == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == ',')
            return 0;
    return 1;
}

/* CLI_OPT_VALUE fn of --address: repeated, into a strlist. */
static int user_option_address(const char *cmd, const char *word, const char *value, void *dest)
{
    (void)word;
    if (!user_address_valid(value))
        return cli_usage_error(cmd, "\"%s\" is not a mail address", value);
    strlist_add(dest, value);
    return 0;
}

/* The first line of standard input, without its newline (heap), or NULL
 * after a message. */
static char *user_read_password(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);

    if (n <= 0) {
        free(line);
        fprintf(stderr, "tabularium user: no password on standard input\n");
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n == 0 || (size_t)n > PASSWORD_MAX) {
        explicit_bzero(line, cap);
        free(line);
        fprintf(stderr, "tabularium user: the password must be 1 to %d bytes\n", PASSWORD_MAX);
        return NULL;
    }
    return line;
}

static char *user_hash_stdin(void)
{
    const char *err = NULL;
    char *pw = user_read_password(), *hash;

    if (pw == NULL)
        return NULL;
    hash = password_hash(pw, &err);
    explicit_bzero(pw, strlen(pw));
    free(pw);
    if (hash == NULL)
        fprintf(stderr, "tabularium user: %s\n", err);
    return hash;
}

static int user_catalog_error(const char *what, enum tab_result r, const char *err)
{
    fprintf(stderr, "tabularium user: %s: %s\n", what, err);
    return r == TAB_PERM && (strstr(err, "no such account") != NULL) ? CLI_EXIT_NOT_FOUND
                                                                     : CLI_EXIT_USAGE;
}

static int user_audit(struct cli_context *ctx, const char *action, const char *fmt,
                      const char *name, const char *extra)
{
    char *detail = xasprintf(fmt, name, extra != NULL ? extra : "");
    int r = cli_audit_record(ctx, action, detail);

    free(detail);
    return r;
}

static int user_list_one(const struct catalog_user *u, void *ctx)
{
    struct cli_output *o = ctx;

    o->begin_map(o);
    o->map_key(o, "name");
    o->string(o, u->name);
    o->map_key(o, "roles");
    o->string(o, u->roles);
    o->map_key(o, "auth");
    o->string(o, u->auth);
    o->map_key(o, "totp");
    o->boolean(o, u->totp_secret != NULL);
    o->map_key(o, "disabled");
    o->boolean(o, u->disabled);
    o->map_key(o, "addresses");
    o->begin_list(o);
    for (size_t i = 0; i < u->addresses.n; i++)
        o->string(o, u->addresses.v[i]);
    o->end(o);
    o->end(o);
    o->separator(o);
    return 0;
}

static int user_list(struct catalog *cat, int json)
{
    struct cli_output *o = json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    const char *err = NULL;
    enum tab_result r = catalog_user_list(cat, user_list_one, o, &err);

    cli_output_free(&o);
    if (r != TAB_OK)
        return user_catalog_error("list", r, err);
    return CLI_EXIT_FOUND;
}

/* A new token: "tab_" and 64 hex digits; its SHA-256 into sha. */
static char *user_token_new(char sha[SHA256_HEX_SIZE])
{
    unsigned char raw[USER_TOKEN_BYTES];
    char *tok = xmalloc(4 + 2 * USER_TOKEN_BYTES + 1);
    struct sha256_ctx *c;

    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        free(tok);
        return NULL;
    }
    memcpy(tok, "tab_", 4);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(tok + 4 + 2 * i, 3, "%02x", raw[i]);
    explicit_bzero(raw, sizeof(raw));
    c = sha256_new();
    sha256_update(c, tok, strlen(tok));
    sha256_final_hex(c, sha);
    return tok;
}

int cli_user(struct cli_context *ctx, int argc, char **argv)
{
    struct strlist addresses = STRLIST_INIT;
    const char *role = NULL, *sub, *name = NULL, *err = NULL;
    int operand, status, json = 0, pw_stdin = 0, ldap = 0, off = 0;
    struct catalog_user u = {0};
    struct catalog *cat;
    enum tab_result r;
    const struct cli_syntax syntax = {
        "user", cli_user_help, 1, NULL,
        CLI_OPTIONS(CLI_OPTION_STRING("role", &role),
                    CLI_OPTION_VALUE("address", user_option_address, &addresses),
                    CLI_OPTION_FLAG("password-stdin", &pw_stdin), CLI_OPTION_FLAG("ldap", &ldap),
                    CLI_OPTION_FLAG("json", &json), CLI_OPTION_FLAG("off", &off))};
    static const char *const subs[] = {"add",    "list",   "passwd", "disable",
                                       "enable", "delete", "token",  "totp"};

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(cli_user_help, stdout);
        return CLI_EXIT_FOUND;
    }
    if (argc < 2)
        return cli_usage_error("user", "%s", "a subcommand is expected (add, list, ...)");
    sub = argv[1];
    size_t k;
    for (k = 0; k < sizeof(subs) / sizeof(subs[0]) && strcmp(sub, subs[k]) != 0; k++)
        ;
    if (k == sizeof(subs) / sizeof(subs[0]))
        return cli_usage_error("user", "unknown subcommand \"%s\"", sub);
    argc--;
    argv++;
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED) {
        strlist_free(&addresses);
        return status;
    }
    int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0;
    status = CLI_EXIT_USAGE;
    if (is_list ? operand < argc : operand >= argc) {
        cli_usage_error("user", is_list ? "%s takes no account name" : "%s needs an account name",
                        sub);
        goto out;
    }
    if (!is_list && !user_name_valid(argv[operand])) {
        cli_usage_error("user",
                        "\"%s\" is not an account name (1 to 64 letters, digits and . _ @ -)",
                        argv[operand]);
        goto out;
    }
    name = is_list ? NULL : argv[operand];
    if ((role != NULL || addresses.n > 0 || ldap) && !is_add) {
        cli_usage_error("user", "%s", "--role, --address and --ldap only with user add");
        goto out;
    }
    if (pw_stdin && !is_add && strcmp(sub, "passwd") != 0) {
        cli_usage_error("user", "%s", "--password-stdin only with user add and user passwd");
        goto out;
    }
    if ((json && !is_list) || (off && strcmp(sub, "totp") != 0)) {
        cli_usage_error("user", "%s", json ? "--json only with user list" : "--off only with totp");
        goto out;
    }
    if (is_add && (role == NULL || (pw_stdin == ldap))) {
        cli_usage_error("user", "%s",
                        role == NULL ? "user add needs --role"
                                     : "user add needs one of --password-stdin and --ldap");
        goto out;
    }
    if (strcmp(sub, "passwd") == 0 && !pw_stdin) {
        cli_usage_error("user", "%s", "user passwd needs --password-stdin");
        goto out;
    }
    if (is_add && (u.roles = user_roles_parse(role)) == NULL) {
        cli_usage_error("user", "\"%s\" is not a list of roles (user, auditor, officer, admin)",
                        role);
        goto out;
    }
    if ((cat = cli_catalog_that(ctx, "user", CATALOG_CAN_USERS, "keeps no accounts")) == NULL)
        goto out;
    if (is_list) {
        status = user_list(cat, json);
        goto out;
    }
    if (is_add) {
        u.name = xstrdup(name);
        u.auth = xstrdup(ldap ? "ldap" : "local");
        if (!ldap && (u.password_hash = user_hash_stdin()) == NULL)
            goto out;
        for (size_t i = 0; i < addresses.n; i++)
            strlist_add(&u.addresses, addresses.v[i]);
        if ((r = catalog_user_put(cat, &u, 1, &err)) != TAB_OK) {
            status = user_catalog_error("add", r, err);
            goto out;
        }
        char *addrs = strlist_join(&u.addresses, " ");
        char *extra = xasprintf("%s %s%s%s", u.roles, u.auth, addrs[0] ? " " : "", addrs);
        if (user_audit(ctx, "user add", "%s roles=%s", name, extra) < 0)
            status = CLI_EXIT_USAGE;
        else {
            printf("account %s added (%s, %s sign-in)\n", name, u.roles, u.auth);
            status = CLI_EXIT_FOUND;
        }
        free(extra);
        free(addrs);
        goto out;
    }
    if ((r = catalog_user_get(cat, name, &u, &err)) != TAB_OK) {
        status = user_catalog_error(sub, r, err);
        goto out;
    }
    if (strcmp(sub, "delete") == 0) {
        if ((r = catalog_user_delete(cat, name, &err)) != TAB_OK) {
            status = user_catalog_error(sub, r, err);
            goto out;
        }
        status = user_audit(ctx, "user delete", "%s%s", name, NULL) < 0 ? CLI_EXIT_USAGE
                                                                        : CLI_EXIT_FOUND;
        if (status == CLI_EXIT_FOUND)
            printf("account %s deleted\n", name);
        goto out;
    }
    if (strcmp(sub, "token") == 0) {
        char sha[SHA256_HEX_SIZE];
        char *tok = u.disabled ? NULL : user_token_new(sha);
        if (tok == NULL) {
            fprintf(stderr, "tabularium user: %s\n",
                    u.disabled ? "the account is disabled" : "no random bytes for a token");
            goto out;
        }
        if ((r = catalog_token_add(cat, name, sha, &err)) != TAB_OK) {
            status = user_catalog_error(sub, r, err);
        } else if (user_audit(ctx, "user token", "%s sha256=%s", name, sha) < 0) {
            status = CLI_EXIT_USAGE;
        } else {
            /* Shown once; only its SHA-256 is kept. */
            printf("%s\n", tok);
            status = CLI_EXIT_FOUND;
        }
        explicit_bzero(tok, strlen(tok));
        free(tok);
        goto out;
    }
    const char *action;
    char secret[33] = "";
    if (strcmp(sub, "passwd") == 0) {
        if (strcmp(u.auth, "local") != 0) {
            fprintf(stderr,
                    "tabularium user: %s signs in against the directory: no password "
                    "here\n",
                    name);
            goto out;
        }
        free(u.password_hash);
        if ((u.password_hash = user_hash_stdin()) == NULL)
            goto out;
        action = "user passwd";
    } else if (strcmp(sub, "totp") == 0) {
        free(u.totp_secret);
        u.totp_secret = NULL;
        if (!off) {
            if (totp_secret_new(secret) < 0) {
                fprintf(stderr, "tabularium user: no random bytes for a secret\n");
                goto out;
            }
            u.totp_secret = xstrdup(secret);
        }
        action = off ? "user totp off" : "user totp on";
    } else {
        u.disabled = strcmp(sub, "disable") == 0;
        action = u.disabled ? "user disable" : "user enable";
    }
    if ((r = catalog_user_put(cat, &u, 0, &err)) != TAB_OK) {
        status = user_catalog_error(sub, r, err);
        goto out;
    }
    if (user_audit(ctx, action, "%s%s", name, NULL) < 0)
        goto out;
    if (secret[0] != '\0') {
        char *uri = totp_uri("Tabularium", name, secret);
        printf("secret: %s\nuri: %s\n", secret, uri);
        free(uri);
        explicit_bzero(secret, sizeof(secret));
    } else
        printf("account %s: %s\n", name, action + 5);
    status = CLI_EXIT_FOUND;
out:
    catalog_user_free(&u);
    strlist_free(&addresses);
    return status;
}
