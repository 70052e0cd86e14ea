/*
 * NAME
 *	doctor check_postfix 3
 * SUMMARY
 *	tabularium doctor: the Postfix parameters the archive depends on
 * DESCRIPTION
 *	3.-6. of ARCHITECTURE.md section 2, for the master.cf service that
 *	delivers archive copies: its recipient limit against tabulariumd's
 *	lmtp_recipient_limit, lmtp_line_length_limit = 0 (otherwise lmtp(8)
 *	breaks long lines and the original is not byte-exact), its
 *	concurrency (destination concurrency limit, master.cf maxproc)
 *	against process_limit, XFORWARD, SMTPUTF8, whether Postfix's own
 *	bounces and notices are archived (the bounce services' cleanup with
 *	header_checks) and maximal_queue_lifetime (copies go out with
 *	NOTIFY=NEVER: an expired one is lost silently).
 * DIAGNOSTICS
 *	Findings only (doctor_report), each with the postconf -e that fixes it.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/strlist.h"
#include "search/doctor/doctor.h"

/* What the contract recommends (ARCHITECTURE.md section 2). */
#define DOCTOR_RECIPIENT_LIMIT 1000
#define DOCTOR_QUEUE_LIFETIME (5 * 86400LL)

/* ---- 3.-6. Postfix parameters -------------------------------------------- */

/* The master.cf service that delivers archive copies: "lmtp" unless
 * transport_maps names another one that runs lmtp(8). */
static const char *doctor_transport_name(const struct doctor *d)
{
    return d->transport != NULL ? d->transport : "lmtp";
}

/*
 * A queue manager limit for the archive transport: TRANSPORT_SUFFIX
 * (qmgr's per-transport parameter), or default_SUFFIX when that is not
 * set, as Postfix falls back. *name_r (heap) is the parameter that applies.
 */
static char *doctor_pf_transport(const struct doctor *d, const char *suffix, char **name_r)
{
    char *name = xasprintf("%s%s", doctor_transport_name(d), suffix);

    if (doctor_param_raw(&d->pf, name) == NULL) {
        free(name);
        name = xasprintf("default%s", suffix);
    }
    *name_r = name;
    return doctor_pf(d, name);
}

/* The delivery service's "-o name=value" in master.cf, or NULL. */
static const char *doctor_service_override(const struct doctor_service *svc, const char *name)
{
    size_t n = strlen(name);

    if (svc == NULL)
        return NULL;
    for (size_t i = svc->overrides.n; i > 0; i--)
        if (strncmp(svc->overrides.v[i - 1], name, n) == 0 && svc->overrides.v[i - 1][n] == '=')
            return svc->overrides.v[i - 1] + n + 1;
    return NULL;
}

/*
 * Postfix splits a message's archive recipients into transactions of at
 * most TRANSPORT_destination_recipient_limit; tabulariumd answers 452 to
 * recipients beyond its lmtp_recipient_limit. The two should agree: the
 * advice is tabulariumd's actual limit, never a fixed number that may be
 * what is set already.
 */
void doctor_check_recipient_limit(struct doctor *d)
{
    char *name, *v = doctor_pf_transport(d, "_destination_recipient_limit", &name);
    long long want = d->have_cfg ? d->cfg.lmtp_recipient_limit : DOCTOR_RECIPIENT_LIMIT, n;
    char *want_s = xasprintf("%lld", want);
    char *pf_fix = doctor_postconf_fix(d, name, want_s);

    if (doctor_parse_number(v, &n) < 0)
        doctor_report(d, DOCTOR_WARNING, name, xstrdup(pf_fix), "%s = \"%s\" is not a number", name,
                      v);
    else if (n < want && n < DOCTOR_RECIPIENT_LIMIT)
        doctor_report(d, DOCTOR_WARNING, name, xstrdup(pf_fix),
                      "%s = %lld (< %lld): messages with more recipients are split into several"
                      " LMTP transactions (harmless, but noisier)",
                      name, n, want);
    else if (n > want)
        doctor_report(
            d, DOCTOR_WARNING, name,
            xasprintf("%s, or set lmtp_recipient_limit = %lld in %s", pf_fix, n, d->cfg_file),
            "%s = %lld > tabulariumd's lmtp_recipient_limit = %lld: the extra recipients"
            " get 452 and are retried later",
            name, n, want);
    else
        doctor_report(d, DOCTOR_OK, name, NULL, "%s = %lld", name, n);
    free(pf_fix);
    free(want_s);
    free(name);
    free(v);
}

/*
 * lmtp(8) breaks header and body lines longer than lmtp_line_length_limit
 * with CRLF SPACE (smtp_proto.c, smtp_text_out): the original tabulariumd
 * archives is then not the message Postfix received. 0 turns that off.
 */
void doctor_check_line_length(struct doctor *d)
{
    const char *svc_name = doctor_transport_name(d);
    const struct doctor_service *svc = doctor_service(d, svc_name, "unix");
    const char *over = doctor_service_override(svc, "lmtp_line_length_limit");
    char *v = over != NULL ? xstrdup(over) : doctor_pf(d, "lmtp_line_length_limit");
    char *where = over != NULL
                      ? xasprintf("master.cf service %s: -o lmtp_line_length_limit=%s", svc_name, v)
                      : xasprintf("lmtp_line_length_limit = %s", v);
    long long n;

    if (doctor_parse_number(v, &n) == 0 && n == 0) {
        doctor_report(d, DOCTOR_OK, "lmtp_line_length_limit", NULL,
                      "%s: lmtp(8) passes lines of any length unchanged", where);
    } else {
        char *fix, *svc_word = doctor_shell_word(svc_name);
        if (over != NULL)
            fix = xasprintf("postconf%s%s -P '%s/unix/lmtp_line_length_limit = 0'",
                            d->postconf_dir != NULL ? " -c " : "",
                            d->postconf_dir != NULL ? d->postconf_dir : "", svc_word);
        else
            fix = doctor_postconf_fix(d, "lmtp_line_length_limit", "0");
        doctor_report(d, DOCTOR_ERROR, "lmtp_line_length_limit", fix,
                      "%s: lmtp(8) breaks longer header and body lines with CRLF SPACE, so the"
                      " archived original of such a message is not what Postfix received",
                      where);
        free(svc_word);
    }
    free(where);
    free(v);
}

/*
 * How many connections Postfix may open to tabulariumd at once: the
 * transport's destination concurrency limit, and no more than the
 * service's maxproc in master.cf ("-": default_process_limit; 0: none).
 * tabulariumd serves one connection per worker; one beyond process_limit
 * waits unanswered for a worker to finish a whole (reused) session.
 */
void doctor_check_concurrency(struct doctor *d)
{
    const char *svc_name = doctor_transport_name(d);
    const struct doctor_service *svc = doctor_service(d, svc_name, "unix");
    char *name, *v = doctor_pf_transport(d, "_destination_concurrency_limit", &name);
    char *maxproc_s = NULL, *how;
    long long conc, maxproc = 0, eff, workers = d->cfg.process_limit;

    if (!d->have_cfg) {
        free(name);
        free(v);
        return;
    }
    if (doctor_parse_number(v, &conc) < 0) {
        doctor_report(d, DOCTOR_WARNING, "lmtp_concurrency", NULL,
                      "%s = \"%s\" is not a number: LMTP concurrency not checked", name, v);
        goto out;
    }
    if (svc != NULL) {
        maxproc_s = strcmp(svc->maxproc, "-") == 0 ? doctor_pf(d, "default_process_limit")
                                                   : xstrdup(svc->maxproc);
        if (doctor_parse_number(maxproc_s, &maxproc) < 0)
            maxproc = 0;
    }
    /* 0 is "no limit" for both. */
    eff = conc;
    if (maxproc > 0 && (eff == 0 || maxproc < eff))
        eff = maxproc;
    how = svc != NULL ? xasprintf("%s = %s, master.cf %s maxproc %s", name, v, svc_name, maxproc_s)
                      : xasprintf("%s = %s, master.cf not read", name, v);
    if (eff == 0 || eff > workers) {
        char *want = xasprintf("%lld", workers);
        char *pf_fix = doctor_postconf_fix(d, name, want);
        char *count = eff == 0 ? xstrdup("any number of") : xasprintf("%lld", eff);
        char *fix =
            eff == 0 ? xstrdup(pf_fix)
                     : xasprintf("%s, or set process_limit = %lld in %s", pf_fix, eff, d->cfg_file);
        doctor_report(d, DOCTOR_ERROR, "lmtp_concurrency", fix,
                      "Postfix may open %s LMTP connections to tabulariumd at once (%s) but"
                      " process_limit = %lld: connections beyond that wait unanswered for a free"
                      " worker",
                      count, how, workers);
        free(count);
        free(pf_fix);
        free(want);
    } else {
        doctor_report(d, DOCTOR_OK, "lmtp_concurrency", NULL,
                      "Postfix opens at most %lld LMTP connections to tabulariumd at once (%s),"
                      " process_limit = %lld",
                      eff, how, workers);
    }
    free(how);
out:
    free(maxproc_s);
    free(name);
    free(v);
}

/* Postfix booleans are "yes" and "no"; -1 for anything else. */
static int doctor_bool(const char *v)
{
    if (strcasecmp(v, "yes") == 0)
        return 1;
    if (strcasecmp(v, "no") == 0)
        return 0;
    return -1;
}

void doctor_check_xforward(struct doctor *d)
{
    char *v = doctor_pf(d, "lmtp_send_xforward_command");

    if (doctor_bool(v) == 1)
        doctor_report(d, DOCTOR_OK, "lmtp_send_xforward_command", NULL,
                      "lmtp_send_xforward_command = yes: tabulariumd gets Postfix's queue id");
    else
        doctor_report(d, DOCTOR_WARNING, "lmtp_send_xforward_command",
                      doctor_postconf_fix(d, "lmtp_send_xforward_command", "yes"),
                      "lmtp_send_xforward_command = %s: tabulariumd takes the queue id from the"
                      " Received: header instead of XFORWARD IDENT",
                      v);
    free(v);
}

void doctor_check_smtputf8(struct doctor *d)
{
    char *v = doctor_pf(d, "smtputf8_enable");

    if (doctor_bool(v) == 0)
        doctor_report(d, DOCTOR_WARNING, "smtputf8_enable",
                      doctor_postconf_fix(d, "smtputf8_enable", "yes"),
                      "smtputf8_enable = no: Postfix refuses mail with UTF-8 addresses, so it"
                      " is neither delivered nor archived (tabulariumd announces SMTPUTF8)");
    else
        doctor_report(d, DOCTOR_OK, "smtputf8_enable", NULL, "smtputf8_enable = %s", v);
    free(v);
}

/*
 * Postfix's own bounces, delay and success notices: post_mail.c submits
 * them without CLEANUP_FLAG_BCC_OK, so recipient_bcc_maps never sees
 * them. Archived only when the bounce, defer and trace services ask for
 * header checks (internal_mail_filter_classes with "bounce") from a
 * cleanup service whose header_checks have our BCC rule, as README.md
 * sets up. A gap in the archive, not a broken one: a warning.
 */
void doctor_check_notices(struct doctor *d)
{
    static const char *const posters[] = {"bounce", "defer", "trace"};
    char *fix = xstrdup("the tabularium-cleanup lines of README.md, \"Postfix setup\"");
    const char *missing = NULL, *cleanup = NULL;

    if (!d->have_master) {
        doctor_report(d, DOCTOR_INFO, "notices", NULL,
                      "master.cf not read: whether Postfix's bounces are archived is not checked");
        free(fix);
        return;
    }
    for (size_t i = 0; i < sizeof(posters) / sizeof(posters[0]) && missing == NULL; i++) {
        const struct doctor_service *svc = doctor_service(d, posters[i], "unix");
        const char *classes = doctor_service_override(svc, "internal_mail_filter_classes");
        const char *cs = doctor_service_override(svc, "cleanup_service_name");
        struct strlist l = STRLIST_INIT;
        int has_bounce = 0;

        if (svc == NULL)
            continue;
        if (classes != NULL)
            doctor_split_list(classes, &l);
        for (size_t k = 0; k < l.n; k++)
            has_bounce |= strcasecmp(l.v[k], "bounce") == 0;
        strlist_free(&l);
        if (!has_bounce || cs == NULL || (cleanup != NULL && strcmp(cs, cleanup) != 0))
            missing = posters[i];
        else
            cleanup = cs;
    }
    if (missing == NULL && cleanup != NULL) {
        const struct doctor_service *c = doctor_service(d, cleanup, "unix");
        const char *hc = doctor_service_override(c, "header_checks");
        if (c == NULL || strcmp(c->command, "cleanup") != 0 || hc == NULL) {
            doctor_report(d, DOCTOR_WARNING, "notices", fix,
                          "master.cf: the bounce services post through \"%s\", which is not a"
                          " cleanup service with header_checks of its own: Postfix's bounces"
                          " and delay notices are not archived",
                          cleanup);
            return;
        }
        doctor_report(d, DOCTOR_OK, "notices", NULL,
                      "Postfix's bounces and notices go through %s (header_checks = %s) and get"
                      " an archive copy",
                      cleanup, hc);
        free(fix);
        return;
    }
    doctor_report(d, DOCTOR_WARNING, "notices", fix,
                  "master.cf service %s lacks -o internal_mail_filter_classes=bounce and -o"
                  " cleanup_service_name=tabularium-cleanup: Postfix's own bounces and delay"
                  " notices are not archived",
                  missing != NULL ? missing : "bounce");
}

void doctor_check_queue_lifetime(struct doctor *d)
{
    char *v = doctor_pf(d, "maximal_queue_lifetime");
    long long secs;

    if (doctor_parse_time(v, 'd', &secs) < 0)
        doctor_report(d, DOCTOR_WARNING, "maximal_queue_lifetime",
                      doctor_postconf_fix(d, "maximal_queue_lifetime", "30d"),
                      "maximal_queue_lifetime = \"%s\" is not a time", v);
    else if (secs < DOCTOR_QUEUE_LIFETIME)
        doctor_report(d, DOCTOR_WARNING, "maximal_queue_lifetime",
                      doctor_postconf_fix(d, "maximal_queue_lifetime", "30d"),
                      "maximal_queue_lifetime = %s (< 5d): archive copies that wait longer"
                      " (tabulariumd down) are dropped silently (NOTIFY=NEVER)",
                      v);
    else
        doctor_report(d, DOCTOR_OK, "maximal_queue_lifetime", NULL,
                      "maximal_queue_lifetime = %s: copies wait that long while tabulariumd is"
                      " unavailable; monitor the queue",
                      v);
    free(v);
}
