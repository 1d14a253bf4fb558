# Statements tally runs itself still pass through the ProcessUtility hooks
# of libraries loaded before it: with shared_preload_libraries =
# 'pg_stat_statements,tally', pg_stat_statements counts a COPY that tally
# routes (with its rows) and CREATE and DROP of a continuous aggregate, and
# tally still runs them.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('utility_hooks');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_stat_statements,tally'
pg_stat_statements.track_utility = on
tally.job_scheduler = off
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION pg_stat_statements;
	CREATE EXTENSION tally;
	CREATE TABLE entries (at timestamptz NOT NULL, minutes integer);
	SELECT create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
	SELECT pg_stat_statements_reset();
});

# a COPY into days that have no chunk: only tally's path makes their chunks in the COPY
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET client_min_messages = debug1;
	COPY entries FROM PROGRAM 'printf "2024-01-01 10:00+00\t5\n2024-01-02 10:00+00\t7\n2024-01-03 10:00+00\t9\n"';
});
is($ret, 0, 'the COPY runs');
like($err, qr/COPY into hypertable "entries" is routed by tally/, 'tally routes it');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM entries e JOIN _tally_catalog.hypertable h ON h.relid = 'entries'::regclass
	 WHERE e.tableoid <> h.default_partition}), '3', 'its rows are in the chunks it made');

$node->safe_psql('postgres', q{
	CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
		SELECT time_bucket('1 day', at) AS day, sum(minutes) AS minutes FROM entries GROUP BY 1;
	ALTER MATERIALIZED VIEW daily SET (tally.materialized_only = true);
});
is($node->safe_psql('postgres', 'SELECT sum(minutes) FROM daily'), '21', 'the aggregate is made');
$node->safe_psql('postgres', 'DROP MATERIALIZED VIEW daily');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM _tally_catalog.continuous_agg}), '0', 'and dropped');

my $stat = sub {
	my ($pattern) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT coalesce(sum(calls), 0) || ' ' || coalesce(sum(rows), 0)
		  FROM pg_stat_statements WHERE query LIKE '$pattern'});
};
is($stat->('COPY entries%'), '1 3', 'pg_stat_statements counts the routed COPY and its rows');
is($stat->('CREATE MATERIALIZED VIEW daily%'), '1 0', 'and the CREATE of the aggregate');
is($stat->('ALTER MATERIALIZED VIEW daily%'), '1 0', 'and its ALTER');
is($stat->('DROP MATERIALIZED VIEW daily%'), '1 0', 'and its DROP');
is($stat->('%run_utility%'), '0 0', 'under their own text, not the hand-over');

# the procedure runs nothing of its own accord
($ret, $out, $err) = $node->psql('postgres', 'CALL _tally_internal.run_utility()');
like($err, qr/run_utility\(\) runs only the statements tally hands to it/, 'run_utility() alone is refused');

$node->stop;
done_testing();
