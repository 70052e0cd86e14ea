/*
 * NAME
 *	test_config 1
 * SUMMARY
 *	unit tests for common/config.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/config.h"
#include "common/strlist.h"

static char *write_conf(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    return path;
}

/* Load text as a config; returns the error (config.c's) or NULL. */
static const char *load(const char *dir, const char *text, struct tab_config *cfg)
{
    char *path = write_conf(dir, "t.conf", text);
    const char *error = NULL;
    config_init(cfg);
    if (config_load(cfg, path, &error) == 0)
        config_finish(cfg, &error);
    free(path);
    return error;
}

static void test_defaults(void)
{
    struct tab_config cfg;
    const char *error = NULL;

    config_init(&cfg);
    CHECK(config_finish(&cfg, &error) == 0);
    CHECK_STR(cfg.data_directory, "/var/lib/tabularium");
    CHECK_STR(cfg.queue_directory, "/var/lib/tabularium/spool");
    CHECK_STR(cfg.archive_store, "maildir:/var/lib/tabularium/Maildir");
    CHECK_STR(cfg.archive_catalog, "sqlite:/var/lib/tabularium/catalog.db");
    CHECK_STR(cfg.lmtp_listen, "inet:127.0.0.1:2424");
    CHECK(cfg.lmtp_socket_mode == 0660);
    CHECK(cfg.process_limit == 20);
    CHECK(cfg.lmtp_timeout == 300);
    CHECK(cfg.message_size_limit == 0);
    CHECK(cfg.lmtp_recipient_limit == 1000);
    /* long enough for the long envelope addresses Postfix relays */
    CHECK(cfg.lmtp_line_length_limit == 65536);
    /* session bounds as Postfix's smtpd defaults */
    CHECK(cfg.lmtp_recipient_overshoot_limit == 1000);
    CHECK(cfg.lmtp_junk_command_limit == 100);
    CHECK(cfg.lmtp_hard_error_limit == 20);
    CHECK_STR(cfg.recipient_encoding_prefix, "archive+");
    CHECK(cfg.myhostname[0] != '\0'); /* the system's name */
    config_free(&cfg);
}

static void test_values(const char *dir)
{
    struct tab_config cfg;
    const char *error = load(dir,
                             "# comment\n"
                             "\n"
                             "data_directory = /srv/a\n"
                             "archive_store = maildir:${data_directory}/\n"
                             "  M\n"
                             "lmtp_timeout = 2m\n"
                             "message_size_limit = 10m\n"
                             "lmtp_socket_mode = 0600\n"
                             "myhostname = gw.example.com\r\n"
                             "process_limit = 1\n"
                             "process_limit = 9\n",
                             &cfg);
    CHECK(error == NULL);
    CHECK_STR(cfg.archive_store, "maildir:/srv/a/ M");
    CHECK_STR(cfg.queue_directory, "/srv/a/spool");
    CHECK(cfg.lmtp_timeout == 120);
    CHECK(cfg.message_size_limit == 10 * 1024 * 1024);
    CHECK(cfg.lmtp_socket_mode == 0600);
    CHECK_STR(cfg.myhostname, "gw.example.com");
    CHECK(cfg.process_limit == 9); /* the last setting wins */
    config_free(&cfg);

    /* relative directories become absolute (from the current directory) */
    error = load(dir, "data_directory = rel/dir\n", &cfg);
    CHECK(error == NULL);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    char *want = xasprintf("%s/rel/dir/spool", cwd);
    CHECK_STR(cfg.queue_directory, want);
    free(want);
    config_free(&cfg);
}

static void test_errors(const char *dir)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"a = 1\n", "t.conf, line 1: unknown parameter \"a\""},
        {"\n#\nprocess_limit = x\n", "line 3: bad value \"x\" for parameter \"process_limit\""},
        {"process_limit = 1001\n", "value out of range (1..1000)"},
        {"lmtp_timeout = 0\n", "value out of range"},
        /* the line limit is bounded: it is what one worker may buffer */
        {"lmtp_line_length_limit = 1048577\n", "value out of range (512..1048576)"},
        {"lmtp_hard_error_limit = 0\n", "value out of range (1..1000)"},
        {"lmtp_junk_command_limit = 0\n", "value out of range"},
        {"lmtp_recipient_overshoot_limit = -1\n", "not a number"},
        {"lmtp_timeout = 10y\n", "bad time value"},
        {"message_size_limit = 1t\n", "bad size value"},
        {"lmtp_socket_mode = 0999\n", "bad octal mode"},
        {"nonsense\n", "line 1: missing '='"},
        {" indented = 1\n", "line 1: continuation line without a parameter"},
        {"queue_directory = $nope\n", "unknown parameter \"$nope\""},
        {"queue_directory = ${data_directory\n", "bad parameter reference"},
        {"data_directory = $queue_directory\nqueue_directory = $data_directory\n", "too deep"},
        {"lmtp_listen = 127.0.0.1:24\n", "use inet:HOST:PORT or unix:PATH"},
        {"myhostname = a;b\n", "letters, digits"},
        {"archive_store = /var/x\n", "type:spec"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tab_config cfg;
        const char *error = load(dir, cases[i].text, &cfg);
        CHECK(error != NULL && strstr(error, cases[i].want) != NULL);
        if (error == NULL || strstr(error, cases[i].want) == NULL)
            fprintf(stderr, "  case %zu: got \"%s\"\n", i, error ? error : "(no error)");
        config_free(&cfg);
    }
}

static void test_print(const char *dir)
{
    struct tab_config cfg;
    const char *error = load(dir, "process_limit = 7\ndata_directory = /x\n", &cfg);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp;

    CHECK(error == NULL);
    CHECK(config_set(&cfg, "lmtp_timeout", "5s", &error) == 0);
    CHECK(config_set(&cfg, "nosuch", "1", &error) == -1 && strstr(error, "nosuch") != NULL);
    fp = open_memstream(&buf, &len);
    config_print(&cfg, fp, 1, 0);
    fclose(fp);
    CHECK_STR(buf, "data_directory = /x\nprocess_limit = 7\nlmtp_timeout = 5s\n");
    free(buf);
    fp = open_memstream(&buf, &len);
    config_print(&cfg, fp, 0, 1);
    fclose(fp);
    CHECK(strstr(buf, "queue_directory = $data_directory/spool\n") != NULL);
    CHECK(strstr(buf, "myhostname =\n") != NULL);
    free(buf);
    config_free(&cfg);
}

/* Secrets in driver specs never reach logs or -n output. */
static void test_redact(void)
{
    static const char *const cases[][2] = {
        {"pgsql:host=/run/pg dbname=arch password=s3cret user=tab",
         "pgsql:host=/run/pg dbname=arch password=***** user=tab"},
        {"pgsql:password = 'with space\\' quote' dbname=a", "pgsql:password=***** dbname=a"},
        {"pgsql:postgresql://tab:p%40ss@db.example/arch?sslmode=require",
         "pgsql:postgresql://tab:*****@db.example/arch?sslmode=require"},
        {"pgsql:postgresql:///arch?host=/run/pg&password=x&user=t",
         "pgsql:postgresql:///arch?host=/run/pg&password=*****&user=t"},
        {"pgsql:postgresql://u:@h/d", "pgsql:postgresql://u:*****@h/d"},
        {"maildir:/var/lib/tabularium/Maildir", "maildir:/var/lib/tabularium/Maildir"},
        {"s3:https://s3.example.com/bucket", "s3:https://s3.example.com/bucket"},
        {"pgsql:mypassword=1", "pgsql:mypassword=1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = config_redact(cases[i][0]);
        CHECK_STR(got, cases[i][1]);
        free(got);
    }
}

int main(void)
{
    const char *dir = check_tmpdir("test_config");
    test_defaults();
    test_values(dir);
    test_errors(dir);
    test_print(dir);
    test_redact();
    return check_done();
}
