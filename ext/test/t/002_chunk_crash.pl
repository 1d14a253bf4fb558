# A backend killed with SIGKILL in the middle of creating a chunk: after
# crash recovery the catalog and the partitions agree, no row is lost, and
# chunks can be created again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'tally'\nrestart_after_crash = on\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION tally;
	CREATE TABLE entries (at timestamptz NOT NULL, v integer);
	SELECT create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
	INSERT INTO entries SELECT '2024-01-01'::timestamptz + n * interval '1 hour', n FROM generate_series(0, 99) n;
});
my $rows_before = $node->safe_psql('postgres', q{SELECT count(*) || ':' || sum(v) FROM entries});

# the catalog and the partitions tell the same story
my $consistency = q{
	SELECT (SELECT count(*) FROM _tally_catalog.chunk c
	         WHERE NOT EXISTS (SELECT 1 FROM pg_inherits i
	                            WHERE i.inhrelid = c.relid AND i.inhparent = 'entries'::regclass))
	     + (SELECT count(*) FROM pg_inherits i
	         WHERE i.inhparent = 'entries'::regclass
	           AND i.inhrelid <> (SELECT default_partition FROM _tally_catalog.hypertable)
	           AND NOT EXISTS (SELECT 1 FROM _tally_catalog.chunk c WHERE c.relid = i.inhrelid))
	     + (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace
	         WHERE n.nspname = '_tally_internal' AND k.relkind = 'r'
	           AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = k.oid))
};
is($node->safe_psql('postgres', $consistency), '0', 'consistent before');

# A reader holds the default partition, so chunk creation stops after its
# CREATE TABLE, waiting to attach: that is where the backend dies.
my ($reader_in, $reader_out, $reader_err) = ('', '', '');
my $reader = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-f', '-' ],
	'<', \$reader_in, '>', \$reader_out, '2>', \$reader_err);
$reader_in .= "BEGIN; LOCK TABLE _tally_internal._hyper_1_default IN ACCESS SHARE MODE; SELECT 'locked';\n";
$reader->pump until $reader_out =~ /locked/;

my ($creator_out, $creator_err) = ('', '');
my $creator = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	  "SELECT count(*) FROM ensure_chunks('entries', '2024-03-01'::timestamptz, '2024-03-03'::timestamptz)" ],
	'>', \$creator_out, '2>', \$creator_err);
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event_type = 'Lock' AND query LIKE '%ensure_chunks%'}),
	'chunk creation is waiting to attach its new table');
my $victim = $node->safe_psql('postgres', q{
	SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%ensure_chunks%'});
kill 'KILL', $victim;
$creator->finish;
$reader->finish;

ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after crash recovery');
is($node->safe_psql('postgres', $consistency), '0', 'catalog and partitions agree after the crash');
is($node->safe_psql('postgres', q{SELECT count(*) || ':' || sum(v) FROM entries}), $rows_before,
	'no row lost');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM tally_information.chunks WHERE range_start >= '2024-03-01' AND range_start < '2024-03-04'}),
	'0', 'the interrupted chunks do not exist');

# everything works as before
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM ensure_chunks('entries', '2024-03-01'::timestamptz, '2024-03-03'::timestamptz)}),
	'3', 'the chunks can be created again');
$node->safe_psql('postgres', q{INSERT INTO entries VALUES ('2024-03-02 10:00', 1000), ('2019-01-01', 1)});
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM entries e JOIN _tally_catalog.hypertable h ON e.tableoid = h.default_partition}),
	'0', 'new rows land in chunks');
is($node->safe_psql('postgres', $consistency), '0', 'and the catalog stays consistent');

$node->stop;
done_testing();
