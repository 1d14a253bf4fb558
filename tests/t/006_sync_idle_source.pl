# A source whose replicated tables stay idle for minutes while its WAL
# moves on (other tables, checkpoints): tally sync records the source's
# position on the target and confirms it, so its slot does not hold the
# WAL back.  A slot nobody reads, created at the same moment, is the
# comparison.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TallySync;

my $seconds = $ENV{TALLY_IDLE_SECONDS} // 180;

my $source = new_source();
my $target = new_target();
$source->append_conf('postgresql.conf', "checkpoint_timeout = 30s\n");
$source->restart;
$source->safe_psql('postgres', q{
	CREATE TABLE orders (id integer PRIMARY KEY, amount integer);
	INSERT INTO orders SELECT n, n FROM generate_series(1, 100) n;
	CREATE SCHEMA scratch;
	CREATE TABLE scratch.filler (id bigserial, pad text);
});
my $config = write_config($source, $target, "[sync]\ntables = public.*\n");
my $sync = start_sync($config);
ok($target->poll_query_until('postgres', q{SELECT count(*) = 100 FROM orders}), 'snapshot done');
$source->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('unread', 'pgoutput')});
my $start = $source->safe_psql('postgres', q{SELECT pg_current_wal_lsn()});

# Minutes of WAL that tally sync has nothing to apply from.
my $deadline = time + $seconds;
my $i = 0;
while (time < $deadline)
{
	$source->safe_psql('postgres', q{INSERT INTO scratch.filler (pad) SELECT repeat(md5(random()::text), 128) FROM generate_series(1, 200)});
	$source->safe_psql('postgres', q{SELECT pg_switch_wal()}) if ++$i % 10 == 0;
	usleep(500_000);
}
$source->safe_psql('postgres', q{CHECKPOINT});
sleep 12;    # one more heartbeat

my $written = $source->safe_psql('postgres', qq{SELECT pg_current_wal_lsn() - '$start'::pg_lsn});
my $retained = $source->safe_psql('postgres',
	q{SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = 'tally'});
my $unread = $source->safe_psql('postgres',
	q{SELECT pg_current_wal_lsn() - restart_lsn FROM pg_replication_slots WHERE slot_name = 'unread'});
note("WAL written while idle: $written bytes; retained by tally's slot: $retained; by the unread slot: $unread");
cmp_ok($written, '>', 64 * 1024 * 1024, 'the source wrote more than 64 MB of WAL meanwhile');
cmp_ok($retained, '<', 32 * 1024 * 1024, "tally's slot retains less than 32 MB");
cmp_ok($unread, '>', $written / 2, 'a slot nobody reads retains the WAL');
is($target->safe_psql('postgres', q{SELECT lsn > '0/0' FROM _tally_sync.slots}), 't', 'the target recorded the position');

# Changes after the idle time still arrive, exactly once.
$source->safe_psql('postgres', q{UPDATE orders SET amount = amount + 1; SELECT pg_drop_replication_slot('unread')});
ok($target->poll_query_until('postgres', q{SELECT sum(amount) = 5150 FROM orders}), 'changes after the idle time arrive');
is(stop_sync($sync), 0, 'SIGTERM stops tally sync with status 0');
tables_equal($source, $target, [qw(orders)], 'after the idle time');

done_testing();
