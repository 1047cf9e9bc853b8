/*
 * BASIC_AUTH: binds a connection to a terminal identity. The password itself
 * is left to Mosquitto's password_file (a BASIC_AUTH callback registered
 * after plugins), so this callback only refuses what the identity rules
 * forbid and defers everything else.
 */
#include <string.h>

#include "plugin.h"

const char *plugin__identity(const struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	const char *client_id = mosquitto_client_id(client);

	if(username == NULL || client_id == NULL){
		return NULL;
	}
	/*
	 * Checked again here although BASIC_AUTH refused such clients: another
	 * plugin loaded before this one may have accepted the connection first.
	 */
	if(!cx_id_valid(username, strlen(username)) || !cx_client_id_allowed(username, client_id)){
		return NULL;
	}
	return username;
}

/*
 * True when client_id has the form of a terminal's client ID: its part
 * before any ':' is a valid terminal ID ("B", "B:phone"). The plugin cannot
 * know which terminals exist (their passwords live in Mosquitto's
 * password_file), so every such ID is treated as one that may hold a
 * terminal's session.
 */
static bool terminal_shaped(const char *client_id)
{
	return cx_id_valid(client_id, strcspn(client_id, ":"));
}

/*
 * Refuses (MOSQ_ERR_AUTH) a username that is not a valid terminal ID and a
 * client ID other than "<username>" or "<username>:<suffix>", so that no one
 * can take over another terminal's session and its queued replies. A client
 * without a username (Mosquitto also treats an empty one so) is refused when
 * its client ID has a terminal's form, for the same reason: connecting with
 * the client ID "B" would take B's session over. Defers otherwise: the
 * password_file checks the password, allow_anonymous decides about
 * anonymous clients, and the ACL gives those nothing in the namespace.
 */
int plugin__basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *client_id;
	const char *address;

	(void)event;
	(void)userdata;

	address = mosquitto_client_address(ed->client);
	if(address == NULL){
		address = "?";
	}
	if(ed->username == NULL){
		client_id = mosquitto_client_id(ed->client);
		if(client_id != NULL && terminal_shaped(client_id)){
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					"cardex: refused anonymous connection from %s: client ID has the form of a terminal's",
					address);
			return MOSQ_ERR_AUTH;
		}
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	/* The refused username or client ID is not logged: it may be anything a client typed. */
	if(!cx_id_valid(ed->username, strlen(ed->username))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused connection from %s: username is not a valid terminal ID", address);
		return MOSQ_ERR_AUTH;
	}
	client_id = mosquitto_client_id(ed->client);
	if(client_id == NULL || !cx_client_id_allowed(ed->username, client_id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused connection of terminal %s from %s: client ID does not belong to it",
				ed->username, address);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}
