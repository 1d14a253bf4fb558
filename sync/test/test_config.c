/*
 * test_config.c -- tally sync's configuration: defaults, every key, and
 * errors that name the file, the line and the key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sync/config.h"

static const char minimal[] =
	"[source]\nconninfo = host=oltp dbname=app\n[target]\nconninfo = dbname=analytics\n";

static void
expect_error(const char *text, const char *message)
{
	SyncConfig	config;
	char		error[1024] = "";

	assert_int_equal(sync_config_parse(text, "sync.ini", &config, error, sizeof(error)), -1);
	if (strstr(error, message) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", message, error);
	/* a failed parse leaves nothing allocated and an empty configuration */
	assert_null(config.source_conninfo);
	assert_int_equal(config.ntable_configs, 0);
}

static void
test_defaults(void **state)
{
	SyncConfig	config;
	char		error[1024];

	(void) state;
	assert_int_equal(sync_config_parse(minimal, "sync.ini", &config, error, sizeof(error)), 0);
	assert_string_equal(config.source_conninfo, "host=oltp dbname=app");
	assert_string_equal(config.target_conninfo, "dbname=analytics");
	assert_string_equal(config.publication, "tally");
	assert_string_equal(config.slot, "tally");
	assert_int_equal(config.tables.count, 1);
	assert_string_equal(config.tables.items[0], "public.*");
	assert_int_equal(config.exclude.count, 0);
	assert_int_equal(config.snapshot_workers, 2);
	assert_int_equal(config.metrics_port, 0);
	assert_int_equal(config.batch_interval_ms, 60000);
	assert_non_null(strstr(config.spool_directory, "/tally-spool"));
	assert_true(sync_config_selects(&config, "public", "clients"));
	assert_false(sync_config_selects(&config, "billing", "invoices"));
	sync_config_free(&config);
}

static void
test_every_key(void **state)
{
	static const char text[] =
		"; a comment\n"
		"[source]\n"
		"conninfo = host=oltp dbname=app password=secret\n"
		"publication = pub1\n"
		"slot = slot_1\n"
		"\n"
		"[target]\n"
		"conninfo = dbname=analytics\n"
		"[sync]\n"
		"tables = public.*, billing.invoices ,audit.log_*\n"
		"exclude = public.tmp_*\n"
		"snapshot_workers = 4\n"
		"metrics_port = 9187\n"
		"batch_interval = 5min\n"
		"spool_directory = /var/spool/tally\n"
		"[table public.time_entries]\n"
		"hypertable = started_at\n"
		"chunk_interval = 7 days\n"
		"[table billing.invoices]\n"
		"mode = batch\n"
		"watermark = updated_at\n";
	SyncConfig	config;
	char		error[1024];
	const SyncTableConfig *table;

	(void) state;
	assert_int_equal(sync_config_parse(text, "sync.ini", &config, error, sizeof(error)), 0);
	assert_string_equal(config.publication, "pub1");
	assert_string_equal(config.slot, "slot_1");
	assert_int_equal(config.tables.count, 3);
	assert_string_equal(config.tables.items[1], "billing.invoices");
	assert_string_equal(config.tables.items[2], "audit.log_*");
	assert_int_equal(config.snapshot_workers, 4);
	assert_int_equal(config.metrics_port, 9187);
	assert_int_equal(config.batch_interval_ms, 300000);
	assert_string_equal(config.spool_directory, "/var/spool/tally");
	assert_true(sync_config_selects(&config, "audit", "log_2024"));
	assert_false(sync_config_selects(&config, "public", "tmp_x"));
	assert_true(sync_config_selects(&config, "public", "tmpx"));

	table = sync_config_table(&config, "public", "time_entries");
	assert_non_null(table);
	assert_int_equal(table->mode, SYNC_MODE_CDC);
	assert_string_equal(table->hypertable, "started_at");
	assert_string_equal(table->chunk_interval, "7 days");
	assert_int_equal(table->line, 16);
	table = sync_config_table(&config, "billing", "invoices");
	assert_non_null(table);
	assert_int_equal(table->mode, SYNC_MODE_BATCH);
	assert_string_equal(table->watermark, "updated_at");
	assert_null(sync_config_table(&config, "public", "clients"));
	sync_config_free(&config);
}

static void
test_errors_name_file_line_and_key(void **state)
{
	char		text[2048];

	(void) state;
	snprintf(text, sizeof(text), "%s[sync]\nsnapshot_worker = 3\n", minimal);
	expect_error(text, "sync.ini:6: unknown key \"snapshot_worker\" in [sync]");
	snprintf(text, sizeof(text), "%s[sync]\nsnapshot_workers = many\n", minimal);
	expect_error(text, "sync.ini:6: invalid value \"many\" for key \"snapshot_workers\" in [sync]");
	snprintf(text, sizeof(text), "%s[sync]\nsnapshot_workers = 0\n", minimal);
	expect_error(text, "expected an integer from 1 to 64");
	snprintf(text, sizeof(text), "%s[sync]\nmetrics_port = 70000\n", minimal);
	expect_error(text, "sync.ini:6: invalid value \"70000\" for key \"metrics_port\"");
	snprintf(text, sizeof(text), "%s[sync]\nbatch_interval = soon\n", minimal);
	expect_error(text, "sync.ini:6: invalid value \"soon\" for key \"batch_interval\"");
	snprintf(text, sizeof(text), "%s[sync]\ntables = clients\n", minimal);
	expect_error(text, "invalid pattern \"clients\" for key \"tables\"");
	snprintf(text, sizeof(text), "%s[replication]\nslot = x\n", minimal);
	expect_error(text, "sync.ini:6: unknown section [replication]");
	snprintf(text, sizeof(text), "%s[table public.x]\nmode = stream\n", minimal);
	expect_error(text, "sync.ini:6: invalid value \"stream\" for key \"mode\" in [table public.x]: expected cdc or batch");
	snprintf(text, sizeof(text), "%s[table x]\nmode = cdc\n", minimal);
	expect_error(text, "sync.ini:6: invalid section [table x]: expected [table SCHEMA.NAME]");
	snprintf(text, sizeof(text), "%s[table public.x]\nmode = batch\n", minimal);
	expect_error(text, "sync.ini:5: [table public.x] has mode = batch but no watermark");
	snprintf(text, sizeof(text), "%s[table public.x]\nchunk_interval = 1 day\n", minimal);
	expect_error(text, "sync.ini:5: [table public.x] sets chunk_interval but not hypertable");
	snprintf(text, sizeof(text), "%s[table public.x]\nmode = cdc\n[table public.x]\nmode = cdc\n", minimal);
	expect_error(text, "sync.ini:8: duplicate section [table public.x], first at line 5");
	snprintf(text, sizeof(text), "%s[source]\nslot = Bad-Name\n", minimal);
	expect_error(text, "sync.ini:6: invalid value \"Bad-Name\" for key \"slot\"");
	snprintf(text, sizeof(text), "%s[source]\npublication =\n", minimal);
	expect_error(text, "sync.ini:6: empty value for key \"publication\" in [source]");
	expect_error("conninfo = x\n", "sync.ini:1: key \"conninfo\" outside any section");
	expect_error("[source]\nconninfo = x\n", "sync.ini: missing key \"conninfo\" in [target]");
	expect_error("[target]\nconninfo = x\n", "sync.ini: missing key \"conninfo\" in [source]");
	snprintf(text, sizeof(text), "%sthis is not ini\n", minimal);
	expect_error(text, "sync.ini:5: syntax error");
}

static void
test_load_file(void **state)
{
	char		path[] = "/tmp/tally-config-XXXXXX";
	int			fd = mkstemp(path);
	SyncConfig	config;
	char		error[1024];

	(void) state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, minimal, strlen(minimal)), (ssize_t) strlen(minimal));
	assert_int_equal(write(fd, "[sync]\nbogus = 1\n", 17), 17);
	close(fd);
	assert_int_equal(sync_config_load(path, &config, error, sizeof(error)), -1);
	assert_non_null(strstr(error, ":6: unknown key \"bogus\" in [sync]"));
	assert_non_null(strstr(error, path));
	unlink(path);

	assert_int_equal(sync_config_load("/nonexistent/sync.ini", &config, error, sizeof(error)), -1);
	assert_string_equal(error,
						"could not open configuration file \"/nonexistent/sync.ini\": No such file or directory");
}

static void
test_patterns(void **state)
{
	(void) state;
	assert_true(sync_pattern_match("public.*", "public.clients"));
	assert_true(sync_pattern_match("*.*", "a.b"));
	assert_true(sync_pattern_match("p*c.*s", "public.clients"));
	assert_false(sync_pattern_match("public.*", "publicx.clients"));
	assert_false(sync_pattern_match("public.client", "public.clients"));
	assert_true(sync_pattern_match("public.client*", "public.client"));
	assert_true(sync_pattern_match("*a*a*", "xaxxa"));
	assert_false(sync_pattern_match("*a*a*", "xaxx"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_errors_name_file_line_and_key),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_patterns),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
