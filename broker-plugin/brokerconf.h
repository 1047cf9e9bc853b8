/*
 * What the broker around the plugin has configured, read from its own
 * configuration file: the file named by -c / --config-file on Mosquitto's
 * command line (/proc/self/cmdline), and every *.conf file of its
 * include_dir lines.
 *
 * The plugin needs this because Mosquitto 2.0.11 denies an ACL check that
 * every callback deferred, and allows every check when no callback exists:
 * outside its namespace the plugin can only behave "as if it were not
 * there" when it knows whether anything else decides about ACLs.
 */
#ifndef CX_BROKERCONF_H
#define CX_BROKERCONF_H

#include <stdbool.h>
#include <stddef.h>

#define BROKERCONF_NAME_MAX 256
#define BROKERCONF_PATH_MAX 4096

struct brokerconf {
	bool read;              /* false: the configuration could not be read (why says why) */
	char why[512];
	char file[BROKERCONF_NAME_MAX];  /* the main configuration file */
	unsigned acl_files;     /* acl_file lines */
	unsigned password_files;/* password_file lines */
	unsigned other_plugins; /* plugin / auth_plugin lines naming another library than this plugin */
	unsigned plugins_before;/* of those, lines that come before this plugin's own line */
	char first_before[BROKERCONF_NAME_MAX]; /* path of the first of them, "" when none */
	bool self_found;        /* this plugin's own plugin line was seen */
	bool per_listener_settings;
	bool allow_anonymous;   /* the last global allow_anonymous line said true */
	bool persistence;       /* the last persistence (or retained_persistence) line said true or 1 */
	char persistence_file[BROKERCONF_PATH_MAX];     /* its value, "" when absent */
	char persistence_location[BROKERCONF_PATH_MAX]; /* its value, "" when absent */
	unsigned bridges;       /* connection lines: bridges to other brokers */
	bool upgrade_outgoing_qos; /* the last upgrade_outgoing_qos line said true */
	char session_expiry[32]; /* the value of the last persistent_client_expiration line, "" when none */
};

/*
 * Reads the broker's configuration into bc. self_path is this plugin's
 * library path (from dladdr), to tell its own plugin line from others; the
 * basename "mosquitto_cardex.so" also counts as its own. Never fails: when
 * something cannot be read, bc->read is false and bc->why says what.
 */
void brokerconf_scan(struct brokerconf *bc, const char *self_path);

#endif
