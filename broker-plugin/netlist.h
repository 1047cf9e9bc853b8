/*
 * A short list of IP networks, and whether an address is in one: the
 * reverse proxies of plugin_opt_proxy_addresses. No Mosquitto calls.
 */
#ifndef CX_NETLIST_H
#define CX_NETLIST_H

#include <stdbool.h>
#include <stddef.h>

#define CX_NETLIST_MAX 32u

typedef struct {
	unsigned char addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	unsigned bits;          /* prefix length over the 16 bytes: 128 for one address */
} cx_net;

typedef struct {
	size_t n;
	cx_net nets[CX_NETLIST_MAX];
} cx_netlist;

/*
 * Parses value, IP addresses (IPv4 or IPv6), each optionally with /bits,
 * separated by blanks or commas, into *l (replacing what it held).
 * Returns NULL, or why value is refused: then the offending entry, cut to
 * entcap - 1 bytes, is in entry (empty when the list as a whole is at
 * fault: none, or more than CX_NETLIST_MAX) and *l is empty. Allocates
 * nothing.
 */
const char *cx_netlist_parse(cx_netlist *l, const char *value, char *entry, size_t entcap);

/*
 * True when address (an IP address in text, as Mosquitto reports it:
 * IPv4, IPv6, or IPv4-mapped IPv6 "::ffff:a.b.c.d", which is the IPv4
 * address) is in one of l's networks. False for NULL or anything else.
 */
bool cx_netlist_contains(const cx_netlist *l, const char *address);

#endif
