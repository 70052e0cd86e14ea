/*
 * NAME
 *	doctor 3
 * SUMMARY
 *	tabularium doctor: check the Postfix and Tabularium settings for archiving
 * SYNOPSIS
 *	tabularium [-c FILE] doctor [--postconf-dir DIR | --postconf-file FILE]
 *		[--master-file FILE] [--json]
 * DESCRIPTION
 *	Reads Postfix's effective settings (postconf -x, postconf -M; or a
 *	file of "name = value" lines that postconf printed elsewhere) and
 *	Tabularium's configuration, and says for each setting the archive
 *	depends on whether it is fine, risky (warning) or broken (error),
 *	with the command that fixes it. Last, it speaks LMTP to the
 *	configured listener to see whether tabulariumd answers.
 *
 *	What is checked and why is the contract with Postfix in
 *	ARCHITECTURE.md section 2: recipient_bcc_maps with the pcre rule
 *	that encodes every envelope recipient, the archive domain routed to
 *	lmtp: at tabulariumd's lmtp_listen (unix sockets seen through
 *	Postfix's chroot), recipient limit (advised to agree with
 *	tabulariumd's lmtp_recipient_limit), lmtp_line_length_limit = 0
 *	(otherwise lmtp(8) breaks long lines and the original is not
 *	byte-exact), LMTP concurrency (the transport's destination
 *	concurrency limit and master.cf maxproc) against process_limit,
 *	XFORWARD, SMTPUTF8, queue lifetime (copies go out with
 *	NOTIFY=NEVER: an expired one is lost silently) and size limits (a
 *	copy tabulariumd refuses with 552 is lost silently too). Our
 *	recipient_bcc_maps map must be there and first: Postfix adds one
 *	BCC per recipient, from the first map that matches. Postfix's own
 *	bounces and notices are archived only through the bounce services'
 *	own cleanup with header_checks (master.cf; a warning when missing).
 *
 *	This file is the command: its options, the order of the checks and
 *	the summary. The parts, sharing struct doctor (doctor.h, private to
 *	this folder):
 *	    postfix_settings.c  running postconf/postmap; main.cf parameters
 *	                        and master.cf services, as Postfix reads them
 *	    check_routing.c     1.-2. recipient_bcc_maps, transport_maps
 *	    check_postfix.c     3.-6. the other Postfix parameters
 *	    check_tabularium.c  7. the Tabularium configuration and files
 *	    probe.c             8. whether tabulariumd answers LMTP
 *	    report.c            one line (or JSON object) per finding, the fixes
 *	Text from configuration files and from the daemon is printed through
 *	struct cli_output, which strips control characters (text) or escapes
 *	them (JSON).
 *
 *	Must never change anything: no postconf -e, no postmap of a source
 *	file, no directory or catalog created. The fixes are printed, not run.
 *
 *	Loads the configuration itself from the global -c/-o options
 *	(ctx->opts), so that a configuration that does not load is reported
 *	as a finding rather than ending the command.
 * DIAGNOSTICS
 *	One line per check: "ok: ...", "info: ...", "warning: ..." or
 *	"error: ... Fix: ...", then "N ok, N warnings, N errors". With --json
 *	one object {"check","status","message","fix"} per line and no
 *	summary. Exit 0 without errors (warnings allowed), 1 with at least
 *	one error, 2 for a usage error, an unreadable --postconf-file or
 *	--master-file, a postconf that fails on --postconf-dir, or a write
 *	error on stdout.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/strlist.h"
#include "search/cli.h"
#include "search/doctor/doctor.h"

const char cli_doctor_help[] =
    "NAME\n"
    "    tabularium doctor - check the Postfix and Tabularium settings for archiving\n"
    "\n"
    "SYNOPSIS\n"
    "    tabularium [-c FILE] doctor [--postconf-dir DIR | --postconf-file FILE]\n"
    "                                [--master-file FILE] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Reads Postfix's settings (by running postconf -x and postconf -M, or\n"
    "    postconf -c DIR with --postconf-dir) and the Tabularium configuration,\n"
    "    and prints one line per check: ok, info, warning or error, what is\n"
    "    wrong and the command that fixes it. Checked are: recipient_bcc_maps\n"
    "    and its archive rule (prefix and domain), the transport_maps entry of\n"
    "    the archive domain against lmtp_listen (unix sockets as seen from\n"
    "    Postfix's chroot), lmtp_destination_recipient_limit against\n"
    "    lmtp_recipient_limit, lmtp_line_length_limit (must be 0), the LMTP\n"
    "    concurrency (destination concurrency limit, master.cf maxproc)\n"
    "    against process_limit, lmtp_send_xforward_command, smtputf8_enable,\n"
    "    maximal_queue_lifetime, whether Postfix's own bounces are archived\n"
    "    (master.cf), the message size limits of both, the socket\n"
    "    permissions, mail_owner, the data and queue directories as mail_owner\n"
    "    sees them (when run as root), the catalog, and whether tabulariumd\n"
    "    answers LHLO on lmtp_listen (3 s timeout). Nothing is changed.\n"
    "\n"
    "    Without postconf (Postfix not installed here) only the Tabularium\n"
    "    side is checked. To check a Postfix host from elsewhere:\n"
    "        postconf -x > main.txt; postconf -M > master.txt     (on it)\n"
    "        tabularium doctor --postconf-file main.txt --master-file master.txt\n"
    "    Map files named in main.txt are read where they are found.\n"
    "\n"
    "OPTIONS\n"
    "    --postconf-dir DIR    run postconf -c DIR (a Postfix instance's config)\n"
    "    --postconf-file FILE  read \"name = value\" lines (postconf output or a\n"
    "                          main.cf) instead of running postconf; parameters\n"
    "                          it lacks have Postfix's default values\n"
    "    --master-file FILE    postconf -M output, for --postconf-file\n"
    "    --json                one JSON object per check and line with the keys\n"
    "                          check, status, message, fix (null when none)\n"
    "    -h, --help            this text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 no errors (warnings allowed), 1 at least one error, 2 usage error,\n"
    "    unreadable --postconf-file/--master-file, or postconf -c DIR failed.\n";

static void doctor_free(struct doctor *d)
{
    if (d->have_cfg)
        config_free(&d->cfg);
    doctor_params_free(&d->pf);
    for (size_t i = 0; i < d->n_services; i++) {
        free(d->services[i].name);
        free(d->services[i].type);
        free(d->services[i].chroot);
        free(d->services[i].maxproc);
        free(d->services[i].command);
        strlist_free(&d->services[i].overrides);
    }
    free(d->services);
    free(d->archive_domain);
    free(d->transport);
    cli_output_free(&d->out);
}

int cli_doctor(struct cli_context *ctx, int argc, char **argv)
{
    static const struct config_source no_opts;
    const struct config_source *opts = ctx->opts != NULL ? ctx->opts : &no_opts;
    struct doctor d;
    int operand, status;
    const struct cli_syntax syntax = {
        "doctor", cli_doctor_help, 0, NULL,
        CLI_OPTIONS(CLI_OPTION_STRING("postconf-dir", &d.postconf_dir),
                    CLI_OPTION_STRING("postconf-file", &d.postconf_file),
                    CLI_OPTION_STRING("master-file", &d.master_file),
                    CLI_OPTION_FLAG("json", &d.json))};

    memset(&d, 0, sizeof(d));
    if ((status = cli_parse_options(&syntax, argc, argv, &operand)) != CLI_OPTIONS_PARSED)
        return status;
    status = CLI_EXIT_USAGE;
    if (d.postconf_dir != NULL && d.postconf_file != NULL)
        return cli_usage_error("doctor", "%s",
                               "--postconf-dir and --postconf-file exclude each other");
    if (d.master_file != NULL && d.postconf_file == NULL)
        return cli_usage_error("doctor", "%s", "--master-file goes with --postconf-file");

    d.out = d.json ? cli_output_json_new(stdout) : cli_output_text_new(stdout);
    if (config_load_source(opts, &d.cfg, &d.cfg_error) == 0)
        d.have_cfg = 1;
    d.cfg_file = d.have_cfg && config_file(&d.cfg) != NULL
                     ? config_file(&d.cfg)
                     : (opts->config_path != NULL ? opts->config_path : CONFIG_DEFAULT_FILE);

    if (doctor_load_postfix(&d) < 0)
        goto out;
    if (d.have_postfix) {
        doctor_check_bcc(&d);
        doctor_check_transport(&d);
        doctor_check_recipient_limit(&d);
        doctor_check_line_length(&d);
        doctor_check_concurrency(&d);
        doctor_check_xforward(&d);
        doctor_check_smtputf8(&d);
        doctor_check_queue_lifetime(&d);
        doctor_check_notices(&d);
    }
    doctor_check_tabularium(&d);
    if (d.have_cfg)
        doctor_check_daemon(&d);
    if (!d.json) {
        char *sum = xasprintf("%u ok, %u warnings, %u errors", d.n_ok, d.n_warnings, d.n_errors);
        d.out->string(d.out, sum);
        d.out->separator(d.out);
        free(sum);
    }
    status = d.n_errors > 0 ? 1 : 0;
out:
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "tabularium doctor: cannot write to stdout: %s\n", strerror(errno));
        status = CLI_EXIT_USAGE;
    }
    doctor_free(&d);
    return status;
}
