# The job scheduler on a live cluster: it starts with CREATE EXTENSION,
# runs retention and chunk maintenance, survives failing jobs and a killed
# scheduler, and never keeps a database from being dropped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('scheduler');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tally'\nrestart_after_crash = on\n");
$node->start;

sub scheduler_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'tally scheduler' AND datname = '$db'");
}

$node->safe_psql('postgres', 'CREATE EXTENSION tally');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'tally scheduler' AND datname = 'postgres'"),
	'CREATE EXTENSION starts a scheduler for the database');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'tally launcher'"),
	'1', 'one launcher');

# retention: ten days of rows, drop everything older than five days
$node->safe_psql('postgres', q{
	CREATE TABLE entries (at timestamptz NOT NULL, v integer);
	SELECT create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
	INSERT INTO entries SELECT now() - n * interval '1 day', n FROM generate_series(0, 9) n;
	SELECT add_retention_policy('entries', interval '5 days', schedule_interval => interval '1 second');
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM entries WHERE at < now() - interval '6 days'}),
	'the retention policy drops old chunks');
ok($node->poll_query_until('postgres', q{
	SELECT total_successes >= 2 FROM tally_information.job_stats
	 WHERE job_id = (SELECT job_id FROM tally_information.jobs WHERE proc_name = 'policy_retention')}),
	'and runs again on its schedule');
is($node->safe_psql('postgres', q{SELECT count(*) FROM entries WHERE at > now() - interval '4 days 1 hour'}),
	'5', 'recent rows stay');

# chunk maintenance moves rows that were left in the default partition
# (rows in the future, out of the retention policy's reach)
$node->safe_psql('postgres', q{
	ALTER TABLE _tally_internal._hyper_1_default DISABLE TRIGGER tally_place_stray_row;
	INSERT INTO entries VALUES (now() + interval '20 days', 1), (now() + interval '40 days', 2);
	ALTER TABLE _tally_internal._hyper_1_default ENABLE ALWAYS TRIGGER tally_place_stray_row;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ONLY _tally_internal._hyper_1_default'),
	'2', 'rows wait in the default partition');
$node->safe_psql('postgres', q{SELECT alter_job(1, next_start => now())});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM ONLY _tally_internal._hyper_1_default'),
	'chunk maintenance moves them into chunks');
is($node->safe_psql('postgres', q{SELECT count(*) FROM entries WHERE at > now() + interval '10 days'}),
	'2', 'no row lost');

# a failing job is recorded, backs off, and does not stop the scheduler
my $pid_before = scheduler_pid('postgres');
$node->safe_psql('postgres', q{
	SELECT alter_job(job_id, config => '{"hypertable_id": 1, "drop_after_type": "interval"}',
	                 retry_period => interval '1 second')
	  FROM tally_information.jobs WHERE proc_name = 'policy_retention'});
ok($node->poll_query_until('postgres', q{
	SELECT consecutive_failures >= 2 FROM tally_information.job_stats
	 WHERE job_id = (SELECT job_id FROM tally_information.jobs WHERE proc_name = 'policy_retention')}),
	'failures are counted');
like($node->safe_psql('postgres', 'SELECT err_message FROM tally_information.job_errors LIMIT 1'),
	qr/config needs drop_after/, 'the error is recorded');
is(scheduler_pid('postgres'), $pid_before, 'the scheduler survived its failing job');

# a scheduler killed mid-wait comes back and carries on
$node->safe_psql('postgres', q{
	SELECT alter_job(job_id, config => jsonb_build_object('hypertable_id', 1, 'drop_after', '3 days', 'drop_after_type', 'interval'))
	  FROM tally_information.jobs WHERE proc_name = 'policy_retention'});
kill 'KILL', $pid_before;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'tally scheduler' AND datname = 'postgres'"),
	'a new scheduler starts after the old one was killed');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM entries WHERE at < now() - interval '4 days'}),
	'and runs the jobs with their new settings');

# a database with a scheduler can still be dropped, renamed and copied
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION tally');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'tally scheduler' AND datname = 'other'"),
	'a scheduler runs for the second database');
$node->safe_psql('postgres', 'ALTER DATABASE other RENAME TO other2');
$node->safe_psql('postgres', 'CREATE DATABASE copied TEMPLATE other2');
$node->safe_psql('postgres', 'DROP DATABASE other2');
pass('rename, copy and drop of a database with a scheduler');
$node->safe_psql('postgres', 'DROP DATABASE copied');

# DROP EXTENSION stops the scheduler
$node->safe_psql('postgres', 'DROP EXTENSION tally CASCADE');
$node->safe_psql('postgres', "SELECT pg_reload_conf()");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'tally scheduler' AND datname = 'postgres'", 't'),
	'the scheduler exits once the extension is gone');

$node->stop;
done_testing();
