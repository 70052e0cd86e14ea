/*
 * NAME
 *	doctor report 3
 * SUMMARY
 *	tabularium doctor: one finding per line, and the fixes it suggests
 * DESCRIPTION
 *	doctor_report() prints a check's finding through the command's
 *	struct cli_output ("warning: MSG. Fix: FIX", or one JSON object) and
 *	counts it for the summary. The fix helpers write what the admin
 *	pastes: "postconf -e 'name = value'" (with -c DIR when that is what
 *	was checked) or "set NAME = VALUE in FILE", shell-quoted.
 *
 *	Owns the wording of a finding's status and fix; never runs a fix.
 * DIAGNOSTICS
 *	None of its own: a write error on stdout is found by the command.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strlist.h"
#include "search/cli.h"
#include "search/doctor/doctor.h"

static const char *const doctor_status_names[] = {"ok", "info", "warning", "error"};

static char *doctor_vformat(const char *fmt, va_list ap)
{
    va_list aq;
    int n;
    char *s;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0)
        return xstrdup(fmt);
    s = xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

/*
 * One check's line. fix (may be NULL) is taken over and freed: most fixes
 * are built with xasprintf for the occasion.
 */
void doctor_report(struct doctor *d, enum doctor_status st, const char *check, char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

void doctor_report(struct doctor *d, enum doctor_status st, const char *check, char *fix,
                   const char *fmt, ...)
{
    struct cli_output *o = d->out;
    va_list ap;
    char *msg, *line;

    va_start(ap, fmt);
    msg = doctor_vformat(fmt, ap);
    va_end(ap);
    if (st == DOCTOR_OK)
        d->n_ok++;
    else if (st == DOCTOR_WARNING)
        d->n_warnings++;
    else if (st == DOCTOR_ERROR)
        d->n_errors++;

    if (d->json) {
        o->begin_map(o);
        cli_output_key_string(o, "check", check);
        cli_output_key_string(o, "status", doctor_status_names[st]);
        cli_output_key_string(o, "message", msg);
        cli_output_key_string(o, "fix", fix);
        o->end(o);
    } else {
        if (fix != NULL)
            line = xasprintf("%s: %s. Fix: %s", doctor_status_names[st], msg, fix);
        else
            line = xasprintf("%s: %s", doctor_status_names[st], msg);
        o->string(o, line);
        free(line);
    }
    o->separator(o);
    free(msg);
    free(fix);
}

/* s quoted for a POSIX shell, for fixes the admin pastes. */
static char *doctor_shell_quote(const char *s)
{
    size_t n = 2;
    char *q, *w;

    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    w = q = xmalloc(n + 1);
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *p;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* s as one shell word: as is when nothing in it is special to a shell. */
char *doctor_shell_word(const char *s)
{
    if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_./:,+-@%=") == strlen(s))
        return xstrdup(s);
    return doctor_shell_quote(s);
}

/* "postconf -e 'name = value'" (with -c DIR when that is what was checked). */
char *doctor_postconf_fix(const struct doctor *d, const char *name, const char *value)
{
    char *setting = xasprintf("%s = %s", name, value);
    char *q = doctor_shell_quote(setting);
    char *dir = d->postconf_dir != NULL ? doctor_shell_word(d->postconf_dir) : NULL;
    char *fix =
        dir != NULL ? xasprintf("postconf -c %s -e %s", dir, q) : xasprintf("postconf -e %s", q);

    free(setting);
    free(q);
    free(dir);
    return fix;
}

/* "set NAME = VALUE in FILE": the Tabularium side of a fix. */
char *doctor_config_fix(const struct doctor *d, const char *name, const char *value)
{
    return xasprintf("set %s = %s in %s", name, value, d->cfg_file);
}
