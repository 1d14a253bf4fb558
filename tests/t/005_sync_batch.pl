# mode = batch: pulls on a watermark column, the key breaking ties; mixed
# with CDC tables in one configuration; and against a read replica with a
# role that may only SELECT.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TallySync;

my $source = new_source();
my $target = new_target();
$source->safe_psql('postgres', q{
	CREATE TABLE invoices (id integer PRIMARY KEY, client integer, amount numeric(10,2),
	                       updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
	CREATE TABLE clients (id integer PRIMARY KEY, name text);
	INSERT INTO invoices SELECT n, n % 7, n * 1.5, '2024-01-01'::timestamptz + (n / 10) * interval '1 hour' FROM generate_series(1, 1000) n;
	INSERT INTO clients SELECT n, 'c' || n FROM generate_series(1, 7) n;
});
my $config = write_config($source, $target, <<'INI');
[table public.invoices]
mode = batch
watermark = updated_at
INI

my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'hybrid: first run') or diag($err);
like($err, qr/event=batch_pulled table=\S+invoices\S* rows=1000/, 'the first pull copies every row');
tables_equal($source, $target, [qw(invoices clients)], 'hybrid, first run');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_publication_tables WHERE tablename = 'invoices'}), '0',
	'the batch table is not published');

# Changes: new rows and updates, several sharing one watermark value (ties
# broken by the key), one row sharing the stored watermark exactly.
$source->safe_psql('postgres', q{
	UPDATE invoices SET amount = amount + 1, updated_at = '2030-01-01' WHERE id IN (5, 6, 7);
	INSERT INTO invoices VALUES (1001, 1, 10, '2030-01-01'), (1002, 2, 20, '2030-01-01');
	INSERT INTO clients VALUES (8, 'new');
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'hybrid: second run') or diag($err);
like($err, qr/event=batch_pulled table=\S+ rows=5/, 'only the changed rows are pulled');
tables_equal($source, $target, [qw(invoices clients)], 'hybrid, second run');
$source->safe_psql('postgres', q{INSERT INTO invoices VALUES (1003, 3, 30, '2030-01-01')});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
like($err, qr/event=batch_pulled table=\S+ rows=1 /, 'a row tying the stored watermark with a larger key is pulled');
tables_equal($source, $target, [qw(invoices)], 'after a tie');

# Deletes are not seen in batch mode (as documented).
$source->safe_psql('postgres', q{DELETE FROM invoices WHERE id = 1});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($target->safe_psql('postgres', q{SELECT count(*) FROM invoices WHERE id = 1}), '1',
	'a row deleted on the source stays on the target');

# A batch table needs a key, and its watermark column must exist.
$source->safe_psql('postgres', q{CREATE TABLE events (at timestamptz, what text)});
my $bad = write_config($source, $target, "[table public.events]\nmode = batch\nwatermark = at\n", 'nokey.ini');
($rc, $out, $err) = run_sync('sync', '--config', $bad, '--once');
is($rc, 2, 'a batch table without key exits 2');
like($err, qr/no primary key to match pulled rows on/, 'and says why');
$bad = write_config($source, $target, "[sync]\ntables = public.invoices\n[table public.invoices]\nmode = batch\nwatermark = modified\n", 'nocol.ini');
($rc, $out, $err) = run_sync('sync', '--config', $bad, '--once');
is($rc, 2, 'a missing watermark column exits 2');
like($err, qr/watermark = modified names no column/, 'and names it');
$source->safe_psql('postgres', q{DROP TABLE events});

# Against a read replica, as a role that may only SELECT.
$source->safe_psql('postgres', q{
	CREATE ROLE reader LOGIN;
	GRANT SELECT ON invoices TO reader;
});
$source->backup('base');
my $replica = PostgreSQL::Test::Cluster->new('replica');
$replica->init_from_backup($source, 'base', has_streaming => 1);
$replica->start;
$source->safe_psql('postgres', q{UPDATE invoices SET amount = 0, updated_at = '2031-01-01' WHERE id = 2});
$source->wait_for_catchup($replica);
my $analytics = new_target('analytics');
my $replica_config = PostgreSQL::Test::Utils::tempdir() . '/replica.ini';
open my $fh, '>', $replica_config or die;
print $fh "[source]\nconninfo = " . $replica->connstr('postgres') . " user=reader\n\n"
  . "[target]\nconninfo = " . $analytics->connstr('postgres') . "\n\n"
  . "[sync]\ntables = public.invoices\n\n[table public.invoices]\nmode = batch\nwatermark = updated_at\n";
close $fh;
($rc, $out, $err) = run_sync('sync', '--config', $replica_config, '--once');
is($rc, 0, 'batch mode runs against a read replica with SELECT only') or diag($err);
tables_equal($source, $analytics, [qw(invoices)], 'from the replica');
$source->safe_psql('postgres', q{UPDATE invoices SET amount = 1, updated_at = '2032-01-01' WHERE id = 3});
$source->wait_for_catchup($replica);
($rc, $out, $err) = run_sync('sync', '--config', $replica_config, '--once');
is($rc, 0, 'and again') or diag($err);
tables_equal($source, $analytics, [qw(invoices)], 'from the replica, after an update');

# The daemon pulls on its schedule.
$source->safe_psql('postgres', q{UPDATE invoices SET amount = 2, updated_at = '2033-01-01' WHERE id = 4});
$source->wait_for_catchup($replica);
open $fh, '>>', $replica_config or die;
close $fh;
my $text = slurp_file($replica_config);
$text =~ s/\[sync\]\n/[sync]\nbatch_interval = 500ms\n/;
open $fh, '>', $replica_config or die;
print $fh $text;
close $fh;
my $h = IPC::Run::start([ tally_bin(), 'sync', '--config', $replica_config ], '>', '/dev/null', '2>', \my $daemon_err);
my $ok = $analytics->poll_query_until('postgres', q{SELECT amount = 2 FROM invoices WHERE id = 4});
ok($ok, 'the daemon pulled the change on its schedule');
$h->signal('TERM');
eval { $h->finish };
is($h->result(0), 0, 'and stops on SIGTERM');

($rc, $out, $err) = run_sync('status', '--config', $config);
like($out, qr/public\.invoices\s+batch\s+batch\s+\d+/, 'tally status shows the batch table');

done_testing();
