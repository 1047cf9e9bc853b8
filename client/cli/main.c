/*
 * cardex: exchange business cards by instant key over MQTT (docs/cli.md).
 * Parses the command line into one cli_config and runs the command it names.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	cli_config cfg;
	int rc;

	if(argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("cardex %d.%d.%d\n", CARDEX_VERSION_MAJOR, CARDEX_VERSION_MINOR,
				CARDEX_VERSION_PATCH);
		return CLI_EXIT_OK;
	}
	rc = cli_parse(argc, argv, &cfg);
	if(rc < 0) {
		/* --help: printed on stdout, a success. */
		rc = CLI_EXIT_OK;
	} else if(rc == CLI_EXIT_OK) {
		rc = cfg.run(&cfg);
	}
	cli_config_free(&cfg);
	return rc;
}
