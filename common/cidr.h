/*
 * NAME
 *	cidr 3h
 * SUMMARY
 *	client access lists: "127.0.0.0/8, ::1/128, 192.0.2.0/24"
 * DESCRIPTION
 *	cidr_list_parse() reads a comma or space separated list of IPv4 and
 *	IPv6 networks (a bare address is a /32 or /128; [::1]/128 brackets
 *	are accepted). cidr_list_match() tells whether a socket address is in
 *	one of them; IPv4-mapped IPv6 addresses match IPv4 networks.
 * DIAGNOSTICS
 *	-1 with a message naming the bad entry.
 */
#ifndef TAB_CIDR_H
#define TAB_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct cidr_entry {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct cidr_list {
    struct cidr_entry *v;
    size_t n;
};

int cidr_list_parse(const char *text, struct cidr_list *list, const char **error_r);
int cidr_list_match(const struct cidr_list *list, const struct sockaddr *sa);
void cidr_list_free(struct cidr_list *list);

#endif
