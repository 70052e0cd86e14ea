/*
 * NAME
 *	host_port 3h
 * SUMMARY
 *	"[host]:port", "[host]", "host:port" or "host"
 * DESCRIPTION
 *	host_port_split() is the one parser of a host and port written
 *	together (forward_relayhost, lmtp_listen's inet:HOST:PORT, Postfix's
 *	next-hops), as Postfix's host_port(3) reads them:
 *	  [host]:port, [host]   the host in brackets: an IPv6 address, or a
 *	                        name whose MX records are not looked up
 *	  host:port, host       split at the last ":"
 *	The port is def_port (which may be NULL) when the text names none,
 *	and "" for "host:" or "[host]:": what an empty port means is the
 *	caller's to decide. Nothing is looked up and the host is not checked.
 *
 *	host_port_number() reads a port number as strtol() does (1..65535).
 * DIAGNOSTICS
 *	host_port_split(): -1 with *error_r "missing \"]\"" or "garbage after
 *	\"]\"". host_port_number(): -1 for what is not a port number.
 */
#ifndef TAB_HOST_PORT_H
#define TAB_HOST_PORT_H

struct host_port {
    char *host;    /* without the brackets; may be "" */
    char *port;    /* def_port when none is given; "" after a bare ":" */
    int bracketed; /* the host was in brackets */
};

int host_port_split(const char *spec, const char *def_port, struct host_port *hp,
                    const char **error_r);
void host_port_free(struct host_port *hp);
int host_port_number(const char *port);

#endif
