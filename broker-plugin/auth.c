/*
 * BASIC_AUTH (and the start of MQTT 5 extended authentication): protects
 * terminals' sessions. The password itself is left to Mosquitto's
 * password_file (a BASIC_AUTH callback registered after plugins) or another
 * plugin, so these callbacks only refuse what the identity rules forbid and
 * defer everything else. Which rules apply depends on plugin_opt_terminals
 * (docs/protocol.md, "Sharing a broker").
 */
#include <string.h>
#include <time.h>

#include "plugin.h"

const char *plugin__identity(const struct mosquitto *client)
{
	const char *username = mosquitto_client_username(client);
	const char *client_id = mosquitto_client_id(client);

	if(username == NULL || client_id == NULL){
		return NULL;
	}
	/*
	 * In shared mode BASIC_AUTH lets such clients in (they are not
	 * terminals), and in strict mode another plugin loaded before this one
	 * may have accepted them first: this check is what keeps them out of
	 * the namespace.
	 */
	/* cx_client_id_allowed also refuses a username that is not a valid terminal ID. */
	if(!cx_client_id_allowed(username, client_id)){
		return NULL;
	}
	return username;
}

/*
 * The terminal a client ID belongs to when it has a terminal's form: its
 * part before any ':' ("B" for "B" and "B:phone") copied into owner. False
 * when that part is not a valid terminal ID.
 */
static bool client_id_owner(const char *client_id, char owner[CX_ID_MAX + 1])
{
	size_t len = strcspn(client_id, ":");

	if(!cx_id_valid(client_id, len)){
		return false;
	}
	memcpy(owner, client_id, len);
	owner[len] = '\0';
	return true;
}

static const char *address_of(const struct mosquitto *client)
{
	const char *address = mosquitto_client_address(client);

	return address != NULL ? address : "?";
}

/*
 * Strict mode (plugin_opt_terminals strict), for a broker that serves
 * terminals only: refuses a username that is not a valid terminal ID and a
 * client ID other than "<username>" or "<username>:<suffix>", and an
 * anonymous client whose client ID has a terminal's form, since the plugin
 * cannot tell which of those IDs hold a terminal's session.
 */
static int check_strict(const struct mosquitto *client, const char *username, const char *client_id)
{
	char owner[CX_ID_MAX + 1];

	if(username == NULL){
		if(client_id != NULL && client_id_owner(client_id, owner)){
			mosquitto_log_printf(MOSQ_LOG_NOTICE,
					"cardex: refused anonymous connection from %s: client ID has the form of a terminal's",
					address_of(client));
			return MOSQ_ERR_AUTH;
		}
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	/* The refused username or client ID is not logged: it may be anything a client typed. */
	if(!cx_id_valid(username, strlen(username))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused connection from %s: username is not a valid terminal ID", address_of(client));
		return MOSQ_ERR_AUTH;
	}
	if(client_id == NULL || !cx_client_id_allowed(username, client_id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused connection of terminal %s from %s: client ID does not belong to it",
				username, address_of(client));
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

/*
 * Both modes: a client ID whose owner is a known terminal is reserved for
 * that terminal (no other username, no anonymous client), and a known
 * terminal opens no more than max_sessions_per_terminal sessions. This runs
 * before the password is checked, so it registers nothing: a session is
 * counted once the client acts in the namespace (plugin__terminal_touch).
 */
static int check_reserved(struct plugin__data *data, const struct mosquitto *client, const char *username,
		const char *client_id)
{
	char owner[CX_ID_MAX + 1];
	int64_t now = (int64_t)time(NULL);

	if(client_id == NULL || !client_id_owner(client_id, owner) ||
			!cx_terminals_known(data->terminals, owner, now)){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	if(username == NULL || strcmp(username, owner) != 0){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused %s from %s: client ID belongs to terminal %s",
				username == NULL ? "anonymous connection" : "connection of another account",
				address_of(client), owner);
		return MOSQ_ERR_AUTH;
	}
	if(cx_client_id_allowed(owner, client_id) &&
			cx_terminals_admit(data->terminals, owner, client_id, now) == CX_TERM_FULL){
		mosquitto_log_printf(MOSQ_LOG_NOTICE,
				"cardex: refused connection of terminal %s from %s: it already holds %u sessions "
				"(max_sessions_per_terminal), none idle for 10 minutes; reuse one of its client IDs",
				owner, address_of(client), (unsigned)data->cfg.coexist.max_sessions);
		return MOSQ_ERR_AUTH;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

/* The checks of both connection paths. Returns MOSQ_ERR_AUTH or MOSQ_ERR_PLUGIN_DEFER. */
static int check_connection(struct plugin__data *data, const struct mosquitto *client, const char *username)
{
	const char *client_id = mosquitto_client_id(client);
	int rc;

	if(data->cfg.coexist.terminals == PLUGIN_TERMINALS_STRICT){
		rc = check_strict(client, username, client_id);
		if(rc != MOSQ_ERR_PLUGIN_DEFER){
			return rc;
		}
	}
	return check_reserved(data, client, username, client_id);
}

/*
 * Refuses (MOSQ_ERR_AUTH, "not authorised") what the identity rules forbid
 * and defers everything else: the password_file or another plugin checks
 * the password, allow_anonymous decides about anonymous clients, and the
 * ACL gives a client without an identity nothing in the namespace.
 */
int plugin__basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;

	(void)event;
	plugin__delivery_auth(userdata, ed->client);
	return check_connection(userdata, ed->client, ed->username);
}

/*
 * MQTT 5 extended authentication skips BASIC_AUTH: the same checks run when
 * it starts. Deferring changes nothing for others (when every callback
 * defers, Mosquitto answers "bad authentication method", as without the
 * plugin). The username is the one of the CONNECT packet.
 */
int plugin__ext_auth_start(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_extended_auth *ed = event_data;

	(void)event;
	plugin__delivery_auth(userdata, ed->client);
	return check_connection(userdata, ed->client, mosquitto_client_username(ed->client));
}
