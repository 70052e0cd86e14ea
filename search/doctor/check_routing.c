/*
 * NAME
 *	doctor check_routing 3
 * SUMMARY
 *	tabularium doctor: do archive copies reach tabulariumd?
 * DESCRIPTION
 *	1. recipient_bcc_maps: our map is there and first (Postfix adds one
 *	BCC per recipient, from the first map that matches), and its pcre:
 *	or regexp: rule encodes every envelope recipient as
 *	PREFIX${1}=${2}@DOMAIN, which gives the archive domain. 2.
 *	transport_maps routes that domain to lmtp: at tabulariumd's
 *	lmtp_listen (a unix socket seen through Postfix's chroot); postmap
 *	-q looks the domain up as Postfix would. Also the endpoint parser
 *	that the LMTP probe (probe.c) shares.
 *
 *	Reads map files and runs postmap -q; never builds a map.
 * DIAGNOSTICS
 *	Findings only (doctor_report): a map it cannot read or look up is
 *	said, and the check it would have made is not.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/host_port.h"
#include "common/strlist.h"
#include "search/doctor/doctor.h"

/* ---- 1. recipient_bcc_maps ---------------------------------------------- */

/*
 * The result of the first rule in a pcre:/regexp: file that encodes the
 * recipient as PREFIX${1}=${2}@DOMAIN. 1 found, 0 not, -1 unreadable.
 */
static int doctor_bcc_rule(const char *path, char **prefix_r, char **domain_r, const char **error_r)
{
    static const char *const encodings[] = {"${1}=${2}@", "$1=$2@"};
    struct strlist lines = STRLIST_INIT;
    char *text;
    int found = 0;

    if (doctor_read_file(path, &text, error_r) < 0)
        return -1;
    doctor_table_lines(text, &lines);
    free(text);
    for (size_t li = 0; li < lines.n && !found; li++) {
        char *s = lines.v[li], *result, *end, delim;

        if (strcmp(s, "endif") == 0 ||
            (strncmp(s, "if", 2) == 0 && (isspace((unsigned char)s[2]) || s[2] == '!')))
            continue;
        if (*s == '!')
            continue; /* a negated pattern has no $1 */
        delim = *s++;
        while (*s && *s != delim) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            s++;
        }
        if (*s == '\0')
            continue;
        s++;
        while (*s && !isspace((unsigned char)*s))
            s++; /* flags */
        while (isspace((unsigned char)*s))
            s++;
        result = s;
        end = result + strlen(result);
        while (end > result && isspace((unsigned char)end[-1]))
            *--end = '\0';
        for (size_t i = 0; i < 2 && !found; i++) {
            char *at = strstr(result, encodings[i]);
            const char *dom;
            if (at == NULL)
                continue;
            dom = at + strlen(encodings[i]);
            if (*dom == '\0' || strchr(dom, '$') != NULL)
                continue;
            *prefix_r = xstrndup(result, (size_t)(at - result));
            *domain_r = xstrdup(dom);
            found = 1;
        }
    }
    strlist_free(&lines);
    return found;
}

/* "type:name" with proxy: stripped; *type_r heap, the name points into spec. */
static const char *doctor_map_name(const char *spec, char **type_r)
{
    const char *colon;

    if (strncmp(spec, "proxy:", 6) == 0)
        spec += 6;
    colon = strchr(spec, ':');
    if (colon == NULL) {
        *type_r = xstrdup("");
        return spec;
    }
    *type_r = xstrndup(spec, (size_t)(colon - spec));
    return colon + 1;
}

void doctor_check_bcc(struct doctor *d)
{
    char *maps = doctor_pf(d, "recipient_bcc_maps");
    char *always = doctor_pf(d, "always_bcc");
    char *sender = doctor_pf(d, "sender_bcc_maps");
    char *cfgdir = doctor_pf(d, "config_directory");
    char *pcre = xasprintf("pcre:%s/recipient_bcc.pcre", *cfgdir ? cfgdir : "/etc/postfix");
    const char *our_prefix = d->have_cfg ? d->cfg.recipient_encoding_prefix : "archive+";
    struct strlist list = STRLIST_INIT;
    int reported = 0;

    if (*maps == '\0') {
        if (*always != '\0' || *sender != '\0') {
            const char *at = strrchr(always, '@');
            if (at != NULL && at[1] != '\0')
                d->archive_domain = xstrdup(at + 1);
            doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                          doctor_postconf_fix(d, "recipient_bcc_maps", pcre),
                          "recipient_bcc_maps is empty and %s = %s: envelope recipients lost;"
                          " copies archived as incomplete",
                          *always != '\0' ? "always_bcc" : "sender_bcc_maps",
                          *always != '\0' ? always : sender);
        } else {
            doctor_report(d, DOCTOR_ERROR, "recipient_bcc_maps",
                          doctor_postconf_fix(d, "recipient_bcc_maps", pcre),
                          "recipient_bcc_maps is empty: Postfix sends no archive copies");
        }
        goto out;
    }

    doctor_split_list(maps, &list);
    for (size_t i = 0; i < list.n && !reported; i++) {
        char *type, *prefix = NULL, *domain = NULL;
        const char *path = doctor_map_name(list.v[i], &type), *error;
        int r;

        if (strcmp(type, "pcre") != 0 && strcmp(type, "regexp") != 0) {
            free(type);
            continue;
        }
        free(type);
        r = doctor_bcc_rule(path, &prefix, &domain, &error);
        if (r < 0) {
            doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                          xstrdup("run tabularium doctor as root on the Postfix host"),
                          "recipient_bcc_maps: cannot read %s: %s: archive rule not checked", path,
                          error);
            reported = 1;
        } else if (r > 0) {
            d->archive_domain = domain;
            if (strcasecmp(prefix, our_prefix) != 0)
                doctor_report(d, DOCTOR_WARNING, "recipient_bcc_maps",
                              doctor_config_fix(d, "recipient_encoding_prefix", prefix),
                              "recipient_bcc_maps: %s encodes recipients as %s${1}=${2}@%s but"
                              " recipient_encoding_prefix = %s: tabulariumd cannot decode them;"
                              " copies archived as incomplete",
                              path, prefix, domain, our_prefix);
            else if (i > 0) {
                /* cleanup_addr.c: one BCC per recipient, from the first map
                 * that matches; a map before ours takes those recipients. */
                char *order = xstrdup(list.v[i]);
                for (size_t k = 0; k < list.n; k++) {
                    char *o = order;
                    if (k == i)
                        continue;
                    order = xasprintf("%s, %s", o, list.v[k]);
                    free(o);
                }
                doctor_report(d, DOCTOR_ERROR, "recipient_bcc_maps",
                              doctor_postconf_fix(d, "recipient_bcc_maps", order),
                              "recipient_bcc_maps = %s: Postfix adds one BCC per recipient, from"
                              " the first map that matches, and %s comes before the archive map"
                              " %s: recipients it matches are not archived",
                              maps, list.v[0], list.v[i]);
                free(order);
            } else
                doctor_report(d, DOCTOR_OK, "recipient_bcc_maps", NULL,
                              "recipient_bcc_maps = %s: every envelope recipient user@domain is"
                              " archived as %suser=domain@%s",
                              maps, prefix, domain);
            free(prefix);
            reported = 1;
        }
    }
    if (!reported) {
        /* Ours is missing: typically a "postconf -e" that replaced it. */
        char *both = xasprintf("%s, %s", pcre, maps);
        doctor_report(d, *always != '\0' ? DOCTOR_WARNING : DOCTOR_ERROR, "recipient_bcc_maps",
                      doctor_postconf_fix(d, "recipient_bcc_maps", both),
                      "recipient_bcc_maps = %s has no pcre:/regexp: map with the archive rule"
                      " (user@domain to %s${1}=${2}@DOMAIN, config/recipient_bcc.pcre): %s",
                      maps, our_prefix,
                      *always != '\0' ? "envelope recipients lost (always_bcc copies are archived"
                                        " as incomplete)"
                                      : "Postfix sends no archive copies");
        free(both);
    }
out:
    strlist_free(&list);
    free(maps);
    free(always);
    free(sender);
    free(cfgdir);
    free(pcre);
}

/* ---- 2. transport_maps --------------------------------------------------- */

void doctor_endpoint_free(struct doctor_endpoint *ep)
{
    free(ep->host);
    free(ep->port);
    free(ep->path);
    memset(ep, 0, sizeof(*ep));
}

/* HOST:PORT, [HOST]:PORT or HOST (then def_port), as Postfix reads a
 * next-hop (common/host_port.c); what does not parse is kept whole as the
 * host, so that it is reported as not matching. */
static void doctor_hostport(const char *s, const char *def_port, struct doctor_endpoint *ep)
{
    struct host_port hp;
    const char *err;

    if (host_port_split(s, def_port, &hp, &err) < 0) {
        ep->host = xstrdup(s);
        ep->port = xstrdup(def_port);
        return;
    }
    ep->host = hp.host;
    ep->port = hp.port;
}

/* tabulariumd's lmtp_listen (inet:HOST:PORT, HOST may be an IPv6 literal
 * in brackets), or (nexthop) the part of a Postfix lmtp transport after
 * "lmtp:". */
void doctor_endpoint_parse(const char *s, int nexthop, struct doctor_endpoint *ep)
{
    memset(ep, 0, sizeof(*ep));
    if (strncmp(s, "unix:", 5) == 0) {
        ep->is_unix = 1;
        ep->path = xstrdup(s + 5);
    } else if (strncmp(s, "inet:", 5) == 0) {
        doctor_hostport(s + 5, nexthop ? "24" : "", ep);
    } else {
        doctor_hostport(s, "24", ep);
    }
}

static long doctor_port_number(const char *port)
{
    struct servent *se;
    char *end;
    long n = strtol(port, &end, 10);

    if (end != port && *end == '\0')
        return n;
    se = getservbyname(port, "tcp");
    return se != NULL ? ntohs((uint16_t)se->s_port) : -1;
}

int doctor_is_any_host(const char *h)
{
    return *h == '\0' || strcmp(h, "*") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int doctor_is_loopback(const char *h)
{
    return strcasecmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 || strcmp(h, "::1") == 0;
}

/* path with "//" and "/./" collapsed and no trailing "/". */
static char *doctor_path_normal(const char *path)
{
    char *n = xmalloc(strlen(path) + 1), *w = n;

    for (const char *s = path; *s;) {
        if (*s == '/' && w > n && w[-1] == '/') {
            s++;
        } else if (*s == '.' && w > n && w[-1] == '/' && (s[1] == '/' || s[1] == '\0')) {
            s++;
        } else {
            *w++ = *s++;
        }
    }
    while (w > n + 1 && w[-1] == '/')
        w--;
    *w = '\0';
    return n;
}

/* Same socket file: same text, or same base name in the same directory
 * (symlinks, e.g. /var/spool/postfix -> /srv/spool). */
static int doctor_same_path(const char *a, const char *b)
{
    char *na = doctor_path_normal(a), *nb = doctor_path_normal(b);
    int same = strcmp(na, nb) == 0;

    if (!same) {
        char *sa = strrchr(na, '/'), *sb = strrchr(nb, '/');
        if (sa != NULL && sb != NULL && strcmp(sa, sb) == 0) {
            char *ra, *rb;
            *sa = *sb = '\0';
            ra = realpath(*na ? na : "/", NULL);
            rb = realpath(*nb ? nb : "/", NULL);
            same = ra != NULL && rb != NULL && strcmp(ra, rb) == 0;
            free(ra);
            free(rb);
        }
    }
    free(na);
    free(nb);
    return same;
}

/*
 * The transport_maps result for the archive domain. 1 found (*value_r),
 * 0 not in this map, -1 could not look (*why_r heap).
 */
static int doctor_transport_lookup(struct doctor *d, const char *spec, const char *domain,
                                   char **value_r, char **why_r)
{
    /* Postfix looks up the whole archive address first, then its domain. */
    char *type,
        *probe = xasprintf("%sdoctor=example.com@%s",
                           d->have_cfg ? d->cfg.recipient_encoding_prefix : "archive+", domain);
    const char *name = doctor_map_name(spec, &type);
    const char *keys[2] = {probe, domain};
    struct strlist lines = STRLIST_INIT;
    char *argv[7], *text;
    const char *error;
    int rc = -1, argc = 0, e, is_file;

    *why_r = NULL;
    is_file = strcmp(type, "texthash") == 0 || strcmp(type, "hash") == 0 ||
              strcmp(type, "btree") == 0 || strcmp(type, "lmdb") == 0 || strcmp(type, "cdb") == 0 ||
              strcmp(type, "dbm") == 0;

    /* postmap answers as Postfix would, from the indexed file Postfix reads. */
    if (!d->postmap_missing && strcmp(type, "texthash") != 0) {
        argv[argc++] = "postmap";
        if (d->postconf_dir != NULL) {
            argv[argc++] = "-c";
            argv[argc++] = (char *)d->postconf_dir;
        }
        argv[argc++] = "-q";
        argv[argc + 1] = (char *)spec;
        argv[argc + 2] = NULL;
        for (int k = 0; k < 2; k++) {
            struct doctor_child c;
            argv[argc] = (char *)keys[k];
            if (doctor_run(argv, &c, &e) < 0) {
                if (e == ENOENT)
                    d->postmap_missing = 1;
                free(*why_r);
                *why_r = xasprintf("cannot run postmap: %s", strerror(e));
                doctor_child_free(&c);
                break;
            }
            if (c.status == 0) {
                size_t n = strcspn(c.out, "\n");
                *value_r = xstrndup(c.out, n);
                doctor_child_free(&c);
                rc = 1;
                goto out;
            }
            /* postmap -q exits 1 for "not found" and for fatal errors:
             * only the latter say something. */
            if (c.status == 1 && c.err_len == 0) {
                doctor_child_free(&c);
                rc = 0;
                continue;
            }
            free(*why_r);
            *why_r = doctor_child_error(&c);
            rc = -1;
            doctor_child_free(&c);
            break;
        }
        if (rc == 0)
            goto out;
    }
    if (!is_file) {
        if (*why_r == NULL)
            *why_r = xstrdup("postmap is not installed");
        rc = -1;
        goto out;
    }
    /* The source file of a texthash: (or an indexed) map: "KEY VALUE". */
    if (doctor_read_file(name, &text, &error) < 0) {
        free(*why_r);
        *why_r = xasprintf("cannot read %s: %s", name, error);
        rc = -1;
        goto out;
    }
    rc = 0;
    doctor_table_lines(text, &lines);
    free(text);
    for (size_t li = 0; li < lines.n; li++) {
        char *s = lines.v[li], *key, *v, *end;
        key = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s == '\0')
            continue;
        *s++ = '\0';
        while (isspace((unsigned char)*s))
            s++;
        v = s;
        end = v + strlen(v);
        while (end > v && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (strcasecmp(key, probe) == 0 || strcasecmp(key, domain) == 0) {
            *value_r = xstrdup(v);
            rc = 1;
            break;
        }
    }
    strlist_free(&lines);
    free(*why_r);
    *why_r = NULL;
out:
    free(type);
    free(probe);
    return rc;
}

/* "lmtp:inet:127.0.0.1:2424" in the form transport(5) wants for our listener. */
static char *doctor_wanted_transport(const struct doctor *d)
{
    const char *listen = d->have_cfg ? d->cfg.lmtp_listen : "inet:127.0.0.1:2424";
    char *qdir, *prefix, *t;

    if (strncmp(listen, "unix:", 5) != 0)
        return xasprintf("lmtp:%s", listen);
    qdir = doctor_pf(d, "queue_directory");
    prefix = xasprintf("%s/", qdir);
    if (*qdir != '\0' && strncmp(listen + 5, prefix, strlen(prefix)) == 0)
        t = xasprintf("lmtp:unix:%s", listen + 5 + strlen(prefix));
    else
        t = xasprintf("lmtp:%s", listen);
    free(qdir);
    free(prefix);
    return t;
}

/* Whether the lmtp transport Postfix uses matches lmtp_listen. */
static void doctor_check_endpoint(struct doctor *d, const char *transport, const char *value,
                                  int chroot, const char *chroot_how)
{
    const char *nexthop = strchr(value, ':');
    const char *listen = d->cfg.lmtp_listen;
    struct doctor_endpoint theirs, ours;
    char *want = doctor_wanted_transport(d);
    char *fix = xasprintf("in transport_maps: %s %s (then postmap), or set lmtp_listen in %s",
                          d->archive_domain, want, d->cfg_file);

    nexthop = nexthop != NULL ? nexthop + 1 : "";
    doctor_endpoint_parse(nexthop, 1, &theirs);
    doctor_endpoint_parse(listen, 0, &ours);
    if (*nexthop == '\0') {
        doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                      "transport_maps routes %s to \"%s\" without a destination: archive copies"
                      " do not reach tabulariumd",
                      d->archive_domain, value);
        fix = NULL;
    } else if (theirs.is_unix != ours.is_unix) {
        doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                      "transport_maps routes %s to %s but tabulariumd listens on %s: archive"
                      " copies do not reach it",
                      d->archive_domain, value, listen);
        fix = NULL;
    } else if (!theirs.is_unix) {
        long p1 = doctor_port_number(theirs.port), p2 = doctor_port_number(ours.port);
        int host_ok = strcasecmp(theirs.host, ours.host) == 0 || doctor_is_any_host(ours.host) ||
                      (doctor_is_loopback(theirs.host) && doctor_is_loopback(ours.host));
        if (p1 < 0 || p1 != p2 || !host_ok) {
            doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                          "transport_maps routes %s to %s but tabulariumd listens on %s: archive"
                          " copies do not reach it",
                          d->archive_domain, value, listen);
            fix = NULL;
        } else {
            doctor_report(d, DOCTOR_OK, "transport_maps", NULL,
                          "transport_maps routes %s to %s, tabulariumd's lmtp_listen",
                          d->archive_domain, value);
        }
    } else {
        /* Postfix daemons work in queue_directory: a relative path is
         * below it; a chrooted one sees an absolute path below it too. */
        char *qdir = doctor_pf(d, "queue_directory");
        char *seen;
        if (theirs.path[0] != '/')
            seen = xasprintf("%s/%s", qdir, theirs.path);
        else if (chroot)
            seen = xasprintf("%s%s", qdir, theirs.path);
        else
            seen = xstrdup(theirs.path);
        if (!doctor_same_path(seen, ours.path)) {
            doctor_report(d, DOCTOR_ERROR, "transport_maps", fix,
                          "transport_maps routes %s to %s, which %s(8) (%s) opens as %s, but"
                          " tabulariumd listens on %s: archive copies do not reach it",
                          d->archive_domain, value, transport, chroot_how, seen, listen);
            fix = NULL;
        } else {
            doctor_report(d, DOCTOR_OK, "transport_maps", NULL,
                          "transport_maps routes %s to %s = %s (%s), tabulariumd's lmtp_listen",
                          d->archive_domain, value, seen, chroot_how);
        }
        free(seen);
        free(qdir);
    }
    free(fix);
    free(want);
    doctor_endpoint_free(&theirs);
    doctor_endpoint_free(&ours);
}

void doctor_check_transport(struct doctor *d)
{
    char *maps = doctor_pf(d, "transport_maps");
    struct strlist list = STRLIST_INIT;
    char *value = NULL, *why = NULL, *want, *transport = NULL;
    const struct doctor_service *svc;
    int found = 0, chroot;
    const char *chroot_how;

    if (d->archive_domain == NULL) {
        doctor_report(d, DOCTOR_INFO, "transport_maps", NULL,
                      "transport_maps: archive domain unknown (see recipient_bcc_maps): routing"
                      " not checked");
        free(maps);
        return;
    }
    want = doctor_wanted_transport(d);
    doctor_split_list(maps, &list);
    for (size_t i = 0; i < list.n && !found; i++) {
        char *w = NULL;
        int r = doctor_transport_lookup(d, list.v[i], d->archive_domain, &value, &w);
        if (r > 0)
            found = 1;
        else if (r < 0 && why == NULL)
            why = xasprintf("%s: %s", list.v[i], w);
        free(w);
    }
    if (!found) {
        char *tfile = xasprintf("%s %s", d->archive_domain, want);
        if (why != NULL)
            doctor_report(d, DOCTOR_WARNING, "transport_maps",
                          xasprintf("run tabularium doctor as root on the Postfix host; the"
                                    " entry needed: %s",
                                    tfile),
                          "transport_maps: cannot look up %s (%s)", d->archive_domain, why);
        else
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("add \"%s\" to the transport file (postmap it) and name it in"
                                    " transport_maps",
                                    tfile),
                          "transport_maps has no lmtp transport for %s: archive copies do not"
                          " reach tabulariumd",
                          d->archive_domain);
        free(tfile);
        goto out;
    }

    transport = xstrndup(value, strcspn(value, ":"));
    svc = doctor_service(d, transport, "unix");
    if (svc != NULL ? strcmp(svc->command, "lmtp") != 0 : strcmp(transport, "lmtp") != 0) {
        if (svc == NULL && d->have_master)
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("route %s to %s", d->archive_domain, want),
                          "transport_maps routes %s to %s, but master.cf has no service \"%s\":"
                          " archive copies do not reach tabulariumd",
                          d->archive_domain, value, transport);
        else if (svc == NULL)
            doctor_report(d, DOCTOR_WARNING, "transport_maps",
                          xstrdup("give --master-file (postconf -M output) to check it"),
                          "transport_maps routes %s to %s: whether the service \"%s\" is lmtp(8)"
                          " is unknown without master.cf",
                          d->archive_domain, value, transport);
        else
            doctor_report(d, DOCTOR_ERROR, "transport_maps",
                          xasprintf("route %s to %s", d->archive_domain, want),
                          "transport_maps routes %s to %s, a %s(8) service, not lmtp: archive"
                          " copies do not reach tabulariumd",
                          d->archive_domain, value, svc->command);
        goto out;
    }
    d->transport = xstrdup(transport);
    if (!d->have_cfg) {
        doctor_report(d, DOCTOR_INFO, "transport_maps", NULL,
                      "transport_maps routes %s to %s (lmtp_listen unknown: not compared)",
                      d->archive_domain, value);
        goto out;
    }
    /* master.cf's "-" is the built-in default: no chroot since Postfix 3.0. */
    if (svc == NULL) {
        chroot = 1;
        chroot_how = "chroot assumed as on Debian";
    } else if (strcmp(svc->chroot, "y") == 0) {
        chroot = 1;
        chroot_how = "chrooted";
    } else {
        chroot = 0;
        chroot_how = "not chrooted";
    }
    doctor_check_endpoint(d, transport, value, chroot, chroot_how);
out:
    strlist_free(&list);
    free(maps);
    free(value);
    free(why);
    free(want);
    free(transport);
}
