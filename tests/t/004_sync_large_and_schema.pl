# Transactions the source streams before they commit (spooled, applied at
# commit, dropped on abort, cut back on a subtransaction's abort); a
# 2-million-row transaction with tally sync's peak memory measured; a
# column added mid-stream; a column whose type changed stops the pipeline
# with its position kept.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TallySync;

my $source = new_source();    # logical_decoding_work_mem = 64kB: most transactions stream
my $target = new_target();
$source->safe_psql('postgres', q{
	CREATE TABLE entries (id bigint PRIMARY KEY, staff integer, minutes integer, note text);
	CREATE TABLE other (id integer PRIMARY KEY, v text);
	INSERT INTO entries SELECT n, n % 10, n % 60, 'n' || n FROM generate_series(1, 1000) n;
});
my $spool = PostgreSQL::Test::Utils::tempdir() . '/spool';
my $config = write_config($source, $target, "[sync]\nspool_directory = $spool\n");
my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'snapshot') or diag($err);

# Streamed transactions: one committed with a rolled-back savepoint in it,
# one aborted, interleaved with small ones.
my $bg = $source->background_psql('postgres');
$bg->query_safe(q{BEGIN; INSERT INTO entries SELECT n, 1, 1, 'big' FROM generate_series(100001, 150000) n});
$source->safe_psql('postgres', q{INSERT INTO other VALUES (1, 'small, committed while the big one runs')});
$bg->query_safe(q{SAVEPOINT s1; INSERT INTO entries SELECT n, 2, 2, 'rolled back' FROM generate_series(150001, 170000) n});
$bg->query_safe(q{ROLLBACK TO s1; UPDATE entries SET minutes = minutes + 100 WHERE id <= 500});
$bg->query_safe(q{SAVEPOINT s2; INSERT INTO entries SELECT n, 3, 3, 'kept' FROM generate_series(170001, 180000) n; RELEASE s2});
$bg->query_safe(q{COMMIT});
$bg->query_safe(q{BEGIN; INSERT INTO entries SELECT n, 4, 4, 'aborted' FROM generate_series(200001, 260000) n; DELETE FROM entries WHERE id < 100; ROLLBACK});
$bg->quit;
$source->safe_psql('postgres', q{INSERT INTO other VALUES (2, 'after')});

($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'streamed transactions applied') or diag($err);
tables_equal($source, $target, [qw(entries other)], 'after streamed transactions');
is($source->safe_psql('postgres', q{SELECT stream_txns > 0 FROM pg_stat_replication_slots WHERE slot_name = 'tally'}),
	't', 'the source streamed in-progress transactions');
my @left = glob("$spool/tally-*");
is(scalar(@left), 0, 'no spool file is left behind');

# A column added on the source mid-stream reaches the target.
$source->safe_psql('postgres', q{
	INSERT INTO entries VALUES (300001, 1, 1, 'before the new column');
	ALTER TABLE entries ADD COLUMN billable boolean DEFAULT true, ADD COLUMN rate numeric(8,2);
	INSERT INTO entries VALUES (300002, 1, 1, 'with it', false, 120.50);
	UPDATE entries SET rate = 99.99 WHERE id = 5;
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'a run across ADD COLUMN') or diag($err);
like($err, qr/event=column_added table=\S+ column=billable type=boolean/, 'the column was added');
is($target->safe_psql('postgres', q{SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'entries'::regclass AND attname = 'rate'}),
	'numeric(8,2)', 'with its exact type');
tables_equal($source, $target, [qw(entries)], 'after ADD COLUMN');

# A column of a composite type added while the daemon streams: such a table
# cannot send its rows as one array per column (unnest() in FROM would
# spread the fields over columns), so its changes go by COPY and alone (the
# type is the user's to create on the target).
$target->safe_psql('postgres', q{CREATE TYPE priority AS (level integer, label text)});
my $daemon = start_sync($config);
$source->safe_psql('postgres', q{INSERT INTO entries VALUES (300009, 1, 1, 'while streaming')});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 1 FROM entries WHERE id = 300009}),
	'the daemon streams');
$source->safe_psql('postgres', q{
	CREATE TYPE priority AS (level integer, label text);
	ALTER TABLE entries ADD COLUMN priority priority;
	UPDATE entries SET priority = ROW(id % 3, 'p' || id), rate = 1.25 WHERE id % 1000 = 7;
	INSERT INTO entries VALUES (300010, 1, 1, 'with a priority', true, 2, ROW(9, 'top'));
});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 1 FROM entries WHERE id = 300010}),
	'the daemon goes on past the new column');
is(stop_sync($daemon), 0, 'the daemon stops cleanly');
unlike(slurp_file($daemon->{log}), qr/level=error/, 'without an error');
tables_equal($source, $target, [qw(entries)], 'after a column of a user-defined type');

# A type change stops the pipeline before any later change, keeping the position.
$source->safe_psql('postgres', q{ALTER TABLE entries ALTER COLUMN minutes TYPE bigint});
my $before = $source->safe_psql('postgres', q{SELECT pg_current_wal_lsn()});
$source->safe_psql('postgres', q{INSERT INTO entries VALUES (300003, 1, 5000000000, 'big minutes', true, 1)});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'a changed column type exits 2');
like($err, qr/column \\"minutes\\" of table \S+ changed type on the source/, 'naming the column');
is($target->safe_psql('postgres', qq{SELECT lsn <= '$before' FROM _tally_sync.slots}), 't',
	'the position stays before the first change after the type change');
is($target->safe_psql('postgres', q{SELECT count(*) FROM entries WHERE id = 300003}), '0', 'nothing after it was applied');
$target->safe_psql('postgres', q{ALTER TABLE entries ALTER COLUMN minutes TYPE bigint});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'after the target is altered the same way, it goes on') or diag($err);
tables_equal($source, $target, [qw(entries other)], 'after the type change');

# A 2-million-row transaction: peak memory of tally sync (the optimized
# build: sanitizers' shadow memory and quarantine would be measured too).
$source->safe_psql('postgres', q{INSERT INTO entries (id, staff, minutes, note) SELECT n, n % 50, n % 90, md5(n::text) FROM generate_series(1000001, 3000000) n});
my $peak_file = PostgreSQL::Test::Utils::tempdir() . '/peak';
my $h = IPC::Run::start([ $ENV{TALLY_BIN_PLAIN}, 'sync', '--config', $config ], '>', '/dev/null', '2>', \my $daemon_err);
my $pid = $h->{KIDS}[0]{PID};
my $goal = $source->safe_psql('postgres', q{SELECT pg_current_wal_lsn()});
my $peak_kb = 0;
for (1 .. 600)
{
	if (open my $st, '<', "/proc/$pid/status")
	{
		while (<$st>) { $peak_kb = $1 if /^VmHWM:\s+(\d+) kB/; }
		close $st;
	}
	last if $target->safe_psql('postgres', qq{SELECT coalesce(lsn >= '$goal', false) FROM _tally_sync.slots}) eq 't';
	usleep(200_000);
}
$h->signal('TERM');
eval { $h->finish };
is($h->result(0), 0, 'the daemon stopped cleanly') or diag($daemon_err);
tables_equal($source, $target, [qw(entries)], 'after the 2-million-row transaction');
cmp_ok($peak_kb, '<', 200 * 1024, "peak RSS during the 2-million-row transaction: $peak_kb kB");
cmp_ok($peak_kb, '>', 0, 'the peak RSS was read');

done_testing();
