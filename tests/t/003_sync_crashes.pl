# Snapshot and streaming under a running write load, while tally sync is
# killed with SIGKILL at random moments and at chosen ones (after a table's
# copy, in the middle of a batch, between a target commit and its
# confirmation to the source), and while the target and then the source
# are restarted under it.  At the end every table equals its source: no
# change lost, none applied twice.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TallySync;

my $seed = $ENV{TALLY_SEED} // int(rand(1_000_000));
srand($seed);
note("seed $seed (TALLY_SEED=$seed reproduces the kill times)");

my $source = new_source();
my $target = new_target();
$source->safe_psql('postgres', q{
	CREATE TABLE accounts (aid integer PRIMARY KEY, abalance integer NOT NULL, note text);
	ALTER TABLE accounts ALTER COLUMN note SET STORAGE EXTERNAL;
	CREATE TABLE history (hid bigserial PRIMARY KEY, aid integer, delta integer, mtime timestamptz DEFAULT clock_timestamp());
	CREATE TABLE tellers (tid integer PRIMARY KEY, tbalance bigint NOT NULL DEFAULT 0);
	INSERT INTO accounts SELECT n, 0, CASE WHEN n % 1000 = 0 THEN repeat(md5(n::text), 300) END FROM generate_series(1, 200000) n;
	INSERT INTO tellers SELECT n FROM generate_series(1, 20) n;
	INSERT INTO history (aid, delta) SELECT n, n FROM generate_series(1, 50000) n;
});
my @tables = qw(accounts history tellers);

my $script = PostgreSQL::Test::Utils::tempdir() . '/load.sql';
open my $fh, '>', $script or die;
print $fh <<'SQL';
\set aid random(1, 200000)
\set tid random(1, 20)
\set delta random(-5000, 5000)
\set action random(1, 20)
BEGIN;
UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid;
UPDATE tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
INSERT INTO history (aid, delta) VALUES (:aid, :delta);
\if :action = 1
DELETE FROM history WHERE hid = (SELECT max(hid) - 100 FROM history);
\elif :action = 2
UPDATE accounts SET aid = aid + 1000000 WHERE aid = :aid;
\elif :action = 3
INSERT INTO history (aid, delta) SELECT :aid, g FROM generate_series(1, 300) g;
\endif
END;
SQL
close $fh;

sub start_load
{
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[ 'pgbench', '-n', '-c', '2', '-T', $seconds, '-f', $script,
		  '-h', $source->host, '-p', $source->port, 'postgres' ],
		'>', \$out, '2>', \$err);
}

my $config = write_config($source, $target, "[sync]\nsnapshot_workers = 2\n");
my $log = "$PostgreSQL::Test::Utils::log_path/003_sync.log";
my $kills = 0;

sub run_daemon
{
	my ($crash) = @_;
	local $ENV{TALLY_SYNC_CRASH} = $crash if defined $crash;
	local $ENV{TALLY_SYNC_RANGE_BLOCKS} = 256;    # accounts is copied in ranges
	return IPC::Run::start([ tally_bin(), 'sync', '--config', $config ],
		'>', '/dev/null', '2>>', $log);
}

sub kill_after
{
	my ($h, $max_ms) = @_;
	usleep(int(rand($max_ms)) * 1000);
	$h->signal('KILL');
	eval { $h->finish };
	$kills++;
}

my $load = start_load(35);

# 1. The first run dies right after the first table's copy commits: the
#    next run must start the snapshot over, not keep half of it.
my $h = run_daemon('table_copied:1');
eval { $h->finish };
is($h->full_result(0) & 127, 9, 'killed itself after the first table copied');
$kills++;

# 2. Killed at random moments: during the snapshot, while streaming.
for my $i (1 .. 4)
{
	$h = run_daemon();
	kill_after($h, 2500 + 700 * $i);
}

# 3. Killed between a target commit and its confirmation, and mid-batch.
for my $crash ('batch_committed:3', 'change_applied:5000', 'batch_committed:1')
{
	$h = run_daemon($crash);
	my $deadline = time + 60;
	usleep(100_000) while $h->pumpable && time < $deadline && !$h->pump_nb;
	eval { $h->finish };
	ok(($h->full_result(0) & 127) == 9, "killed itself at $crash");
	$kills++;
}

# 4. The target restarts under a running tally sync, then the source.
$h = run_daemon();
usleep(1_500_000);
$target->restart;
usleep(2_000_000);
$load->finish;    # the load ends before the source goes down with it
$source->restart;
$load = start_load(8);
usleep(3_000_000);
kill_after($h, 1000);
$load->finish;

cmp_ok($kills, '>=', 5, "tally sync was killed $kills times");

# 5. A clean catch-up, then the comparison.
my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'a final --once run catches up') or diag($err);
tables_equal($source, $target, \@tables, 'after the kills and restarts');

my $text = slurp_file($log);
my $snapshots = () = $text =~ /event=snapshot_done/g;
my $restarts = () = $text =~ /event=snapshot_restart/g;
cmp_ok($restarts, '>=', 1, 'an interrupted snapshot was started over');
unlike($text, qr/row_missing/, 'no update or delete missed its row');
like($text, qr/event=retry/, 'lost connections were retried');
note("snapshots completed: $snapshots, restarted: $restarts");
unlike($text, qr/(AddressSanitizer|runtime error)/, 'no sanitizer report');

# 6. SIGTERM: the running batch is finished and confirmed, exit status 0.
$load = start_load(5);
$h = run_daemon();
usleep(3_000_000);
$h->signal('TERM');
eval { $h->finish };
is($h->result(0), 0, 'SIGTERM stops tally sync with status 0');
$load->finish;
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'and the next run goes on') or diag($err);
tables_equal($source, $target, \@tables, 'after SIGTERM');

done_testing();
