/*
 * IP networks and membership (netlist.h). An IPv4 address is kept as its
 * IPv4-mapped IPv6 form with 96 more prefix bits, so that "127.0.0.1" and
 * the "::ffff:127.0.0.1" Mosquitto reports for some listeners are one
 * address.
 */
#include "netlist.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* text as 16 bytes; *v4 tells whether it was written as IPv4. False if it is no address. */
static bool parse_address(const char *text, unsigned char out[16], bool *v4)
{
	if(inet_pton(AF_INET, text, out + 12) == 1){
		memcpy(out, v4mapped, sizeof(v4mapped));
		*v4 = true;
		return true;
	}
	*v4 = false;
	return inet_pton(AF_INET6, text, out) == 1;
}

/* True when the first bits of a and b are equal. */
static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	unsigned char mask;

	if(memcmp(a, b, bytes) != 0){
		return false;
	}
	if(rest == 0){
		return true;
	}
	mask = (unsigned char)(0xffu << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

/* One entry, "address" or "address/bits", into *net. Returns NULL or why not. */
static const char *parse_net(const char *entry, cx_net *net)
{
	char text[INET6_ADDRSTRLEN];
	const char *slash = strchr(entry, '/');
	size_t len = slash != NULL ? (size_t)(slash - entry) : strlen(entry);
	unsigned long bits;
	char *end;
	bool v4;

	if(len == 0 || len >= sizeof(text)){
		return "is not an IP address";
	}
	memcpy(text, entry, len);
	text[len] = '\0';
	if(!parse_address(text, net->addr, &v4)){
		return "is not an IP address";
	}
	net->bits = 128;
	if(slash != NULL){
		if(slash[1] < '0' || slash[1] > '9'){
			return "has a bad prefix length";
		}
		bits = strtoul(slash + 1, &end, 10);
		if(*end != '\0' || bits > (v4 ? 32u : 128u)){
			return "has a bad prefix length";
		}
		net->bits = (unsigned)bits + (v4 ? 96u : 0u);
	}
	return NULL;
}

const char *cx_netlist_parse(cx_netlist *l, const char *value, char *entry, size_t entcap)
{
	const char *p = value, *why = NULL;
	char one[INET6_ADDRSTRLEN + 8];
	size_t len;

	l->n = 0;
	if(entcap > 0){
		entry[0] = '\0';
	}
	while(*p != '\0' && why == NULL){
		len = strcspn(p, " \t,");
		if(len == 0){
			p++;
			continue;
		}
		if(entcap > 0){
			snprintf(entry, entcap, "%.*s", (int)len, p);
		}
		if(len >= sizeof(one)){
			why = "is not an IP address";
		}else if(l->n == CX_NETLIST_MAX){
			why = "is one address too many (at most 32)";
		}else{
			memcpy(one, p, len);
			one[len] = '\0';
			why = parse_net(one, &l->nets[l->n]);
			l->n += why == NULL;
		}
		p += len;
	}
	if(why == NULL && l->n == 0){
		if(entcap > 0){
			entry[0] = '\0';
		}
		why = "holds no IP address";
	}
	if(why != NULL){
		l->n = 0;
	}
	return why;
}

bool cx_netlist_contains(const cx_netlist *l, const char *address)
{
	unsigned char a[16];
	bool v4;

	if(l->n == 0 || address == NULL || !parse_address(address, a, &v4)){
		return false;
	}
	for(size_t i = 0; i < l->n; i++){
		if(prefix_equal(a, l->nets[i].addr, l->nets[i].bits)){
			return true;
		}
	}
	return false;
}
