/*
 * plugin_opt_proxy_addresses: the addresses of reverse proxies (nginx in
 * front of a websockets listener). Mosquitto 2.0.11 ignores
 * X-Forwarded-For, so every client behind a proxy has the proxy's address;
 * counting their failed claims in one per-address window would let one
 * phone's typos lock out every other phone. Claims from these addresses
 * are treated as address-unknown: they still count per terminal and in the
 * total, and the proxy keeps the per-address limit (docs/operations.md).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* The address in text, IPv4 or IPv6, as 16 bytes: IPv4 becomes ::ffff:a.b.c.d. Returns false if it is neither. */
static bool parse_address(const char *text, unsigned char out[16], bool *v4)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if(inet_pton(AF_INET, text, out + 12) == 1){
		memcpy(out, v4mapped, sizeof(v4mapped));
		*v4 = true;
		return true;
	}
	if(inet_pton(AF_INET6, text, out) == 1){
		*v4 = memcmp(out, v4mapped, sizeof(v4mapped)) == 0;
		return true;
	}
	return false;
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

/*
 * Parses one entry, "address" or "address/bits", into net. Returns NULL, or
 * why it is not one.
 */
static const char *parse_net(const char *entry, struct plugin__proxy_net *net)
{
	char text[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(entry, '/');
	size_t len = slash != NULL ? (size_t)(slash - entry) : strlen(entry);
	unsigned long bits;
	char *end;
	bool v4;

	if(len == 0 || len >= INET6_ADDRSTRLEN){
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

int plugin__proxy_option(struct plugin__proxy_config *cfg, const char *key, const char *value)
{
	char entry[INET6_ADDRSTRLEN + 8];
	const char *p = value, *why;
	size_t len;

	if(strcmp(key, "proxy_addresses") != 0){
		return MOSQ_ERR_NOT_FOUND;
	}
	cfg->n = 0;
	while(*p != '\0'){
		len = strcspn(p, " \t,");
		if(len == 0){
			p++;
			continue;
		}
		if(len >= sizeof(entry)){
			mosquitto_log_printf(MOSQ_LOG_ERR,
					"cardex: invalid value for plugin_opt_proxy_addresses: \"%.*s\" is not an IP address",
					(int)len, p);
			return MOSQ_ERR_INVAL;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';
		if(cfg->n == PLUGIN_MAX_PROXY_NETS){
			mosquitto_log_printf(MOSQ_LOG_ERR,
					"cardex: invalid value for plugin_opt_proxy_addresses: more than %u addresses",
					(unsigned)PLUGIN_MAX_PROXY_NETS);
			return MOSQ_ERR_INVAL;
		}
		why = parse_net(entry, &cfg->nets[cfg->n]);
		if(why != NULL){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_proxy_addresses: \"%s\" %s",
					entry, why);
			return MOSQ_ERR_INVAL;
		}
		cfg->n++;
		p += len;
	}
	if(cfg->n == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: invalid value for plugin_opt_proxy_addresses: \"%s\" (expected IP addresses)", value);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

bool plugin__proxy_is(const struct plugin__proxy_config *cfg, const char *address)
{
	unsigned char a[16];
	bool v4;

	if(cfg->n == 0 || address == NULL || !parse_address(address, a, &v4)){
		return false;
	}
	for(size_t i = 0; i < cfg->n; i++){
		if(prefix_equal(a, cfg->nets[i].addr, cfg->nets[i].bits)){
			return true;
		}
	}
	return false;
}

const char *plugin__limit_address(const struct plugin__data *data, struct mosquitto *client)
{
	const char *address = mosquitto_client_address(client);

	return plugin__proxy_is(&data->cfg.proxy, address) ? NULL : address;
}
