# Without shared_preload_libraries the extension works, but a policy cannot
# run: adding one is a clear error that says how to fix it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION tally;
	CREATE TABLE entries (at timestamptz NOT NULL, v integer);
	SELECT create_hypertable('entries', 'at');
	INSERT INTO entries VALUES ('2024-01-01', 1);
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM entries e JOIN _tally_catalog.hypertable h ON e.tableoid <> h.default_partition}),
	'1', 'hypertables work without preloading');
my ($ret, $out, $err) = $node->psql('postgres',
	q{SELECT add_retention_policy('entries', interval '1 year')});
isnt($ret, 0, 'adding a policy fails');
like($err, qr/tally job scheduler is not running/, 'with a clear error');
like($err, qr/shared_preload_libraries/, 'that says how to fix it');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tally_information.jobs WHERE job_id >= 1000'),
	'0', 'and adds no job');

$node->stop;
done_testing();
