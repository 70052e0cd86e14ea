/*
 * NAME
 *	host_port 3
 * SUMMARY
 *	split "[host]:port" and its relatives into host and port
 * SYNOPSIS
 *	#include "common/host_port.h"
 *
 *	struct host_port hp;
 *	if (host_port_split("[192.0.2.1]:587", "25", &hp, &error) < 0) ...
 *	port = host_port_number(hp.port);
 *	host_port_free(&hp);
 * DESCRIPTION
 *	Owns the syntax only (see host_port.h); what a host or port means
 *	(a listener's address, MX lookups, service names) stays with the
 *	caller. The copies are on the heap, so the spec is never modified.
 * DIAGNOSTICS
 *	-1 with a static message on a bracket that is not closed or text
 *	between "]" and ":"; *hp is then empty (host_port_free() is safe).
 */
#include "common/host_port.h"

#include <stdlib.h>
#include <string.h>

#include "common/strlist.h"

int host_port_split(const char *spec, const char *def_port, struct host_port *hp,
                    const char **error_r)
{
    const char *end, *port = NULL;

    hp->host = hp->port = NULL;
    hp->bracketed = 0;
    if (spec[0] == '[') {
        end = strchr(spec, ']');
        if (end == NULL) {
            *error_r = "missing \"]\"";
            return -1;
        }
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != '\0') {
            *error_r = "garbage after \"]\"";
            return -1;
        }
        hp->host = xstrndup(spec + 1, (size_t)(end - spec - 1));
        hp->bracketed = 1;
    } else {
        end = strrchr(spec, ':');
        hp->host = xstrndup(spec, end != NULL ? (size_t)(end - spec) : strlen(spec));
        if (end != NULL)
            port = end + 1;
    }
    hp->port = port != NULL ? xstrdup(port) : def_port != NULL ? xstrdup(def_port) : NULL;
    return 0;
}

void host_port_free(struct host_port *hp)
{
    free(hp->host);
    free(hp->port);
    hp->host = hp->port = NULL;
}

int host_port_number(const char *port)
{
    char *end;
    long n;

    if (port == NULL || *port == '\0')
        return -1;
    n = strtol(port, &end, 10);
    return *end == '\0' && n >= 1 && n <= 65535 ? (int)n : -1;
}
