/*
 * plugin_opt_proxy_addresses: the addresses of reverse proxies (nginx in
 * front of a websockets listener). Mosquitto 2.0.11 ignores
 * X-Forwarded-For, so every client behind a proxy has the proxy's address;
 * counting their failed claims in one per-address window would let one
 * phone's typos lock out every other phone. Claims from these addresses
 * are treated as address-unknown: they still count per terminal and in the
 * total, and the proxy keeps the per-address limit (docs/operations.md).
 */
#include <string.h>

#include "plugin.h"

int plugin__proxy_option(cx_netlist *proxies, const char *key, const char *value)
{
	char entry[64];
	const char *why;

	if(strcmp(key, "proxy_addresses") != 0){
		return MOSQ_ERR_NOT_FOUND;
	}
	why = cx_netlist_parse(proxies, value, entry, sizeof(entry));
	if(why == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	/* The entry at fault, or the whole value when it is the list that is. */
	mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_proxy_addresses: \"%s\" %s",
			entry[0] != '\0' ? entry : value, why);
	return MOSQ_ERR_INVAL;
}

const char *plugin__limit_address(const struct plugin__data *data, struct mosquitto *client)
{
	const char *address = mosquitto_client_address(client);

	return cx_netlist_contains(&data->cfg.proxies, address) ? NULL : address;
}
