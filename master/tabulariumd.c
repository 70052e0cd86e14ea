/*
 * NAME
 *	tabulariumd 8
 * SUMMARY
 *	Tabularium LMTP archive daemon
 * SYNOPSIS
 *	tabulariumd [-fvSnd] [-c FILE] [-o name=value]...
 * DESCRIPTION
 *	Parses the command line, loads the configuration and hands over to
 *	the master (or to a single session on stdin/stdout with -S).
 * DIAGNOSTICS
 *	Exit 2 for usage and configuration errors, with a message naming
 *	the file, line and parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "master/master.h"

static const char tabulariumd_usage[] =
    "NAME\n"
    "    tabulariumd - Tabularium LMTP archive gateway for Postfix\n"
    "\n"
    "SYNOPSIS\n"
    "    tabulariumd [-fvSnd] [-c FILE] [-o name=value]...\n"
    "\n"
    "DESCRIPTION\n"
    "    Receives archive copies from Postfix over LMTP, wraps each one as an\n"
    "    archive message (envelope sender and recipients in From:/To:, the\n"
    "    original attached byte for byte as message/rfc822), stores it and\n"
    "    indexes it. A recipient gets 250 only when its copy is durable in the\n"
    "    store and the catalog; any internal trouble gives 451 so Postfix\n"
    "    retries.\n"
    "\n"
    "OPTIONS\n"
    "    -c FILE        configuration file (default " CONFIG_DEFAULT_FILE ")\n"
    "    -o name=value  override a parameter (may be repeated)\n"
    "    -f             stay in the foreground, log to stderr\n"
    "    -v             verbose logging (protocol errors, connects)\n"
    "    -S             serve one LMTP session on stdin/stdout, then exit\n"
    "    -n             print the parameters that differ from their defaults\n"
    "    -d             print every parameter's default value\n"
    "    -V             print the version\n"
    "    -h             this text\n"
    "\n"
    "SIGNALS\n"
    "    SIGTERM  stop after current transactions; SIGHUP  reload the\n"
    "    configuration (workers finish their sessions first).\n"
    "\n"
    "EXIT STATUS\n"
    "    0 normal end, 1 runtime failure, 2 usage or configuration error.\n"
    "\n"
    "SEE ALSO\n"
    "    tabularium(1), config/tabularium.conf, README.md\n";

int main(int argc, char **argv)
{
    struct master_options opts;
    struct tab_config cfg;
    int c, print_nondefault = 0, print_defaults = 0, stdio_session = 0;
    const char *error = NULL;

    memset(&opts, 0, sizeof(opts));
    while ((c = getopt(argc, argv, "c:o:fvSndVh")) != -1) {
        if (config_source_option(&opts.src, c, optarg))
            continue;
        switch (c) {
        case 'f':
            opts.foreground = 1;
            break;
        case 'v':
            opts.verbose = 1;
            break;
        case 'S':
            stdio_session = 1;
            break;
        case 'n':
            print_nondefault = 1;
            break;
        case 'd':
            print_defaults = 1;
            break;
        case 'V':
            printf("tabulariumd %s\n", TAB_VERSION);
            return 0;
        case 'h':
            fputs(tabulariumd_usage, stdout);
            return 0;
        default:
            fputs("usage: tabulariumd [-fvSnd] [-c FILE] [-o name=value]... (-h for help)\n",
                  stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tabulariumd: unexpected argument \"%s\" (-h for help)\n", argv[optind]);
        return 2;
    }
    if (config_load_source(&opts.src, &cfg, &error) < 0) {
        fprintf(stderr, "tabulariumd: fatal: %s\n", error);
        strlist_free(&opts.src.overrides);
        return 2;
    }
    if (print_nondefault || print_defaults) {
        config_print(&cfg, stdout, print_nondefault, print_defaults);
        config_free(&cfg);
        strlist_free(&opts.src.overrides);
        return 0;
    }
    int rc;
    if (stdio_session) {
        log_init("tabulariumd", 1, opts.verbose);
        rc = master_run_stdio(&cfg);
    } else {
        log_init(cfg.syslog_name, opts.foreground, opts.verbose);
        rc = master_run(&opts, &cfg);
    }
    config_free(&cfg);
    strlist_free(&opts.src.overrides);
    return rc;
}
