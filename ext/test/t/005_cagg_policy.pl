# A continuous aggregate's refresh policy, run by the job scheduler on a live
# cluster: the materialization catches up with a change inside the policy's
# window, and removing the policy removes its job.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cagg_policy');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tally'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION tally;
	CREATE TABLE entries (at timestamptz NOT NULL, minutes integer);
	SELECT create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
	INSERT INTO entries SELECT now() - n * interval '1 hour', n FROM generate_series(1, 48) n;
	CREATE MATERIALIZED VIEW hourly WITH (tally.continuous, tally.materialized_only = true) AS
		SELECT time_bucket('1 hour', at) AS hour, count(*) AS n, sum(minutes) AS minutes
		  FROM entries GROUP BY 1;
	INSERT INTO entries VALUES (now() - interval '3 hours', 1000);
});
is($node->safe_psql('postgres', 'SELECT sum(minutes) FROM hourly'), '1176',
	'materialized only: the new row is not in the aggregate yet');

$node->safe_psql('postgres', q{
	SELECT add_continuous_aggregate_policy('hourly', start_offset => interval '1 day',
		end_offset => interval '1 minute', schedule_interval => interval '1 second');
});
ok($node->poll_query_until('postgres', 'SELECT sum(minutes) = 2176 FROM hourly'),
	'the scheduler runs the policy, which refreshes the window');
is($node->safe_psql('postgres', q{
	SELECT total_successes > 0 FROM tally_information.job_stats
	 WHERE job_id = (SELECT job_id FROM tally_information.jobs
	                  WHERE proc_name = 'policy_refresh_continuous_aggregate')}),
	't', 'the run is counted as a success');
is($node->safe_psql('postgres', q{
	SELECT (SELECT sum(minutes) FROM hourly) = (SELECT sum(minutes) FROM entries)}),
	't', 'the materialization equals the query');

$node->safe_psql('postgres', "SELECT remove_continuous_aggregate_policy('hourly')");
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM tally_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'}),
	'0', 'removing the policy removes its job');

$node->stop;
done_testing();
