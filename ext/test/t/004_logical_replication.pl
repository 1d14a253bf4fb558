# Native logical replication applies into a hypertable: every row, of any
# time, ends up in the chunk of its interval, through the initial copy and
# streaming, inserts, updates that move a row between intervals, and deletes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $publisher = PostgreSQL::Test::Cluster->new('publisher');
$publisher->init(allows_streaming => 'logical');
$publisher->start;
my $subscriber = PostgreSQL::Test::Cluster->new('subscriber');
$subscriber->init;
$subscriber->append_conf('postgresql.conf', "shared_preload_libraries = 'tally'\n");
$subscriber->start;

my $table = 'CREATE TABLE time_entries (id bigint, started_at timestamptz NOT NULL, minutes integer, PRIMARY KEY (id, started_at))';
$publisher->safe_psql('postgres', $table);
$publisher->safe_psql('postgres', q{
	INSERT INTO time_entries SELECT n, '2024-01-01'::timestamptz + n * interval '5 days', n FROM generate_series(1, 50) n;
	CREATE PUBLICATION tally_pub FOR TABLE time_entries;
});
$subscriber->safe_psql('postgres', $table);
$subscriber->safe_psql('postgres', q{
	CREATE EXTENSION tally;
	SELECT create_hypertable('time_entries', 'started_at', chunk_time_interval => interval '30 days');
});
my $connstr = $publisher->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres', "CREATE SUBSCRIPTION tally_sub CONNECTION '$connstr' PUBLICATION tally_pub");
$subscriber->wait_for_subscription_sync($publisher, 'tally_sub');

my $in_default = q{SELECT count(*) FROM time_entries e JOIN _tally_catalog.hypertable h ON e.tableoid = h.default_partition};
my $misplaced = q{
	SELECT count(*) FROM time_entries e
	  JOIN _tally_catalog.chunk c ON c.relid = e.tableoid
	 WHERE _tally_internal.time_to_internal(e.started_at) NOT BETWEEN c.range_start AND c.range_end - 1};
my $checksum = q{SELECT count(*) || ':' || coalesce(sum(minutes), 0) || ':' || coalesce(md5(string_agg(id || '@' || started_at, ',' ORDER BY id)), '') FROM time_entries};

is($subscriber->safe_psql('postgres', $checksum), $publisher->safe_psql('postgres', $checksum),
	'the initial copy arrives whole');
is($subscriber->safe_psql('postgres', $in_default), '0', 'every copied row is in a chunk');

# streaming: far past, far future, updates across intervals, deletes
$publisher->safe_psql('postgres', q{
	INSERT INTO time_entries VALUES (1001, '1999-06-01', 7), (1002, '2150-01-01', 8);
	INSERT INTO time_entries SELECT n, '2025-01-01'::timestamptz + n * interval '1 hour', 1 FROM generate_series(2000, 2999) n;
	UPDATE time_entries SET started_at = started_at + interval '400 days' WHERE id <= 10;
	DELETE FROM time_entries WHERE id BETWEEN 20 AND 25;
});
$publisher->wait_for_catchup('tally_sub');
is($subscriber->safe_psql('postgres', $checksum), $publisher->safe_psql('postgres', $checksum),
	'streamed changes arrive whole');
ok($subscriber->poll_query_until('postgres', "SELECT ($in_default) = 0"), 'streamed rows end up in chunks')
  or diag($subscriber->safe_psql('postgres', q{SELECT e.* FROM time_entries e JOIN _tally_catalog.hypertable h ON e.tableoid = h.default_partition}));
is($subscriber->safe_psql('postgres', $misplaced), '0', 'each row in the chunk of its interval');
is($subscriber->safe_psql('postgres',
		q{SELECT count(*) FROM tally_information.chunks WHERE range_start < '2000-01-01' OR range_start > '2100-01-01'}),
	'2', 'chunks were made for the far past and far future');

$subscriber->stop;
$publisher->stop;
done_testing();
