/*
 * tally.c -- the tally program: parses the command line and hands over to
 * the subcommand.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "sync/config.h"
#include "sync/sync.h"

#define TALLY_VERSION "0.4.0"

static const char usage_main[] =
	"tally -- take reporting off a PostgreSQL OLTP database\n"
	"\n"
	"Usage:\n"
	"  tally sync --config FILE [--once] [--resync]\n"
	"  tally status --config FILE\n"
	"  tally --help | --version\n"
	"\n"
	"Subcommands:\n"
	"  sync     copy the source database's tables into the analytics database and keep\n"
	"           them current (logical replication, or batches on a watermark column)\n"
	"  status   show each table's mode, state, rows, lag and last error\n"
	"\n"
	"\"tally SUBCOMMAND --help\" explains a subcommand.\n";

static const char usage_sync[] =
	"Usage: tally sync --config FILE [--once] [--resync] [--log-level LEVEL]\n"
	"\n"
	"Copies the tables the configuration selects from the source database into the\n"
	"target database, then applies every change committed on the source, in commit\n"
	"order, exactly once.  Runs until SIGTERM or SIGINT: the batch in flight is\n"
	"finished and confirmed, then tally sync exits with status 0.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE      the INI configuration (see sync/README.md)\n"
	"      --once             take the initial snapshot if needed, apply everything up\n"
	"                         to the source's current WAL position, and exit\n"
	"      --resync           start over: drop the replication slot and the stored\n"
	"                         position, copy every table again; the way out when the\n"
	"                         slot was dropped or lost changes\n"
	"      --log-level LEVEL  debug, info (default), warning or error\n"
	"  -h, --help             show this help\n"
	"\n"
	"Exit status: 0 after a clean stop, 1 after an error, 2 when the configuration\n"
	"or the source needs fixing first (the log says how).\n";

static const char usage_status[] =
	"Usage: tally status --config FILE\n"
	"\n"
	"Prints, for every table the configuration selects: its mode (cdc or batch), its\n"
	"state (snapshotting, streaming, batch or stopped), rows applied, lag in bytes and\n"
	"seconds, and the last error.  Reads the target database and the source's slot.\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE  the INI configuration\n"
	"  -h, --help         show this help\n";

enum
{
	OPT_ONCE = 1000,
	OPT_RESYNC,
	OPT_LOG_LEVEL
};

static int
load_config(const char *path, SyncConfig *config)
{
	char		error[1024];

	if (path == NULL)
	{
		fprintf(stderr, "tally: --config FILE is required\n");
		return 2;
	}
	if (sync_config_load(path, config, error, sizeof(error)) != 0)
	{
		fprintf(stderr, "tally: %s\n", error);
		return 2;
	}
	return 0;
}

static int
command_sync(int argc, char **argv, bool status_only)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"once", no_argument, NULL, OPT_ONCE},
		{"resync", no_argument, NULL, OPT_RESYNC},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	const char *usage = status_only ? usage_status : usage_sync;
	const char *config_path = NULL;
	SyncOptions sync_options = {0};
	SyncConfig	config;
	LogLevel	level;
	int			c;
	int			status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1)
	{
		switch (c)
		{
			case 'c':
				config_path = optarg;
				break;
			case OPT_ONCE:
			case OPT_RESYNC:
				if (status_only)
					goto bad_usage;
				if (c == OPT_ONCE)
					sync_options.once = true;
				else
					sync_options.resync = true;
				break;
			case OPT_LOG_LEVEL:
				if (log_level_parse(optarg, &level) != 0)
				{
					fprintf(stderr, "tally: invalid log level \"%s\": expected debug, info, warning or error\n", optarg);
					return 2;
				}
				log_set_level(level);
				break;
			case 'h':
				fputs(usage, stdout);
				return 0;
			default:
				goto bad_usage;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "tally: unexpected argument \"%s\"\n", argv[optind]);
		goto bad_usage;
	}
	status = load_config(config_path, &config);
	if (status != 0)
		return status;
	status = status_only ? sync_status(&config) : sync_run(&config, &sync_options);
	sync_config_free(&config);
	return status;

bad_usage:
	fputs(usage, stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fputs(usage_main, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
		strcmp(argv[1], "help") == 0)
	{
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
	{
		printf("tally %s\n", TALLY_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "sync") == 0)
		return command_sync(argc - 1, argv + 1, false);
	if (strcmp(argv[1], "status") == 0)
		return command_sync(argc - 1, argv + 1, true);
	fprintf(stderr, "tally: unknown subcommand \"%s\"\n\n", argv[1]);
	fputs(usage_main, stderr);
	return 2;
}
