# tally sync --once: the initial snapshot, then every kind of change
# streamed and applied, each time compared with the source table by table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TallySync;

my $source = new_source();
my $target = new_target();

$source->safe_psql('postgres', q{
	CREATE TABLE clients (id integer PRIMARY KEY, name text NOT NULL, notes text, revenue numeric(12,2));
	ALTER TABLE clients ALTER COLUMN notes SET STORAGE EXTERNAL;
	CREATE TABLE time_entries (id bigint PRIMARY KEY, client_id integer, started_at timestamptz NOT NULL,
	                           minutes integer, billable boolean DEFAULT true, tags text[]);
	CREATE TABLE audit (at timestamptz, what text);
	ALTER TABLE audit REPLICA IDENTITY FULL;
	CREATE SCHEMA billing;
	CREATE TABLE billing.invoices (no text, year integer, amount numeric, PRIMARY KEY (year, no));
	INSERT INTO clients SELECT n, 'client ' || n, NULL, n * 10.5 FROM generate_series(1, 200) n;
});
$source->safe_psql('postgres', q{
	UPDATE clients SET notes = (SELECT string_agg(md5(clients.id::text || 'x' || g::text), '') FROM generate_series(1, 300) g)
	 WHERE id % 50 = 0;
	INSERT INTO time_entries SELECT n, n % 200 + 1, '2024-01-01'::timestamptz + n * interval '7 hours',
	       n % 90, n % 3 = 0, ARRAY['a', 'b\t' || n] FROM generate_series(1, 5000) n;
	INSERT INTO audit VALUES ('2024-01-01', 'one'), ('2024-01-01', 'one'), (NULL, E'tab\there\nnewline \\ backslash');
	INSERT INTO billing.invoices VALUES ('A-1', 2024, 100), ('A-2', 2024, NULL);
});

my @tables = qw(clients time_entries audit billing.invoices);
my $config = write_config($source, $target, <<'INI');
[sync]
tables = public.*, billing.*

[table public.time_entries]
hypertable = started_at
chunk_interval = 30 days
INI

my ($rc, $out, $err);
{
	local $ENV{TALLY_SYNC_RANGE_BLOCKS} = 8;    # time_entries is copied in block ranges
	($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
}
is($rc, 0, 'first run exits 0') or diag($err);
like($err, qr/event=snapshot_done/, 'the first run takes the snapshot');
like($err, qr/event=range_copied table=\S+time_entries\S* blocks=0-\d+/, 'a larger table is copied in ranges');
tables_equal($source, $target, \@tables, 'after the snapshot');
is($target->safe_psql('postgres', q{SELECT count(*) > 10 FROM show_chunks('time_entries')}), 't',
	'time_entries is a hypertable with chunks on the target');
is($target->safe_psql('postgres', q{SELECT count(*) FROM ONLY time_entries}), '0',
	'no row waits in the parent');
unlike($err, qr/tally-secret-pw/, 'the log shows no password');

# Every kind of change, several transactions.
$source->safe_psql('postgres', q{
	INSERT INTO clients VALUES (1001, 'new', repeat('z', 10), 1);
	UPDATE clients SET name = name || ' (renamed)' WHERE id % 50 = 0;   -- TOASTed notes unchanged
	UPDATE clients SET id = id + 5000 WHERE id = 7;                     -- a key change
	DELETE FROM clients WHERE id BETWEEN 10 AND 19;
	UPDATE time_entries SET minutes = minutes + 1, started_at = started_at + interval '90 days' WHERE id % 100 = 0;
	DELETE FROM time_entries WHERE id > 4900;
	UPDATE audit SET what = 'two' WHERE what = 'one' AND ctid = (SELECT min(ctid) FROM audit WHERE what = 'one');
	DELETE FROM audit WHERE what IS NOT NULL AND what LIKE 'tab%';
	UPDATE billing.invoices SET amount = 250 WHERE no = 'A-2';
});
$source->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO time_entries SELECT n, 1, '2025-06-01'::timestamptz + n * interval '1 minute', 1, false, NULL FROM generate_series(10001, 12000) n;
	UPDATE clients SET revenue = NULL WHERE id = 1001;
	INSERT INTO clients VALUES (1002, E'quote '' and \\ slash', NULL, NULL);
	COMMIT;
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'second run exits 0') or diag($err);
unlike($err, qr/event=snapshot_done/, 'the second run streams, without a new snapshot');
unlike($err, qr/row_missing/, 'every update and delete found its row');
tables_equal($source, $target, \@tables, 'after streaming');
is($target->safe_psql('postgres', q{SELECT length(notes) FROM clients WHERE id = 50}), '9600',
	'an unchanged TOASTed value survives an update of another column');

# TRUNCATE, in order with the changes around it.
$source->safe_psql('postgres', q{
	INSERT INTO billing.invoices VALUES ('B-1', 2025, 1);
	TRUNCATE billing.invoices, audit;
	INSERT INTO billing.invoices VALUES ('C-1', 2026, 3);
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'third run exits 0') or diag($err);
tables_equal($source, $target, \@tables, 'after TRUNCATE');

# A run with nothing new applies nothing twice.
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'an idle run exits 0') or diag($err);
tables_equal($source, $target, \@tables, 'after an idle run');

# The position stored on the target is the slot's.
is($target->safe_psql('postgres', q{SELECT lsn IS NOT NULL AND snapshot_done FROM _tally_sync.slots WHERE slot = 'tally'}),
	't', 'the target holds the position');
my $confirmed = $source->safe_psql('postgres', q{SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'tally'});
my $stored = $target->safe_psql('postgres', q{SELECT lsn FROM _tally_sync.slots WHERE slot = 'tally'});
is($source->safe_psql('postgres', "SELECT '$confirmed'::pg_lsn <= '$stored'::pg_lsn"), 't',
	'the slot is confirmed no further than the target has committed');

($rc, $out, $err) = run_sync('status', '--config', $config);
is($rc, 0, 'tally status exits 0');
like($out, qr/^public\.time_entries\s+cdc\s+streaming\s+\d+\s+\d+\s+[\d.]+\s*$/m,
	'tally status lists each table with its rows, lag in bytes and in seconds');

# The daemon's Prometheus endpoint.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $metrics_config = write_config($source, $target, "[sync]\ntables = public.*, billing.*\nmetrics_port = $port\n", 'metrics.ini');
my $daemon = start_sync($metrics_config);
$source->safe_psql('postgres', q{INSERT INTO billing.invoices SELECT 'M-' || n, 2027, n FROM generate_series(1, 25) n});
ok($target->poll_query_until('postgres', q{SELECT count(*) = 25 FROM billing.invoices WHERE year = 2027}),
	'the daemon applies a change');

sub http_get
{
	my ($path) = @_;
	require IO::Socket::INET;
	my $socket = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10)
	  or return '';
	print $socket "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
	local $/;
	my $response = <$socket>;
	close $socket;
	return $response // '';
}
my $metrics = http_get('/metrics');
like($metrics, qr{^HTTP/1\.[01] 200}, '/metrics answers');
like($metrics, qr/^tally_sync_rows_applied_total\{table="billing\.invoices",mode="cdc"\} 25$/m,
	'rows applied per table');
like($metrics, qr/^tally_sync_lag_bytes \d+$/m, 'lag in bytes');
like($metrics, qr/^tally_sync_lag_seconds [\d.]+$/m, 'lag in seconds');
like($metrics, qr/^tally_sync_batches_total [1-9]\d*$/m, 'batches');
like($metrics, qr/^tally_sync_errors_total 0$/m, 'errors');
like(http_get('/other'), qr{^HTTP/1\.[01] 404}, 'other paths are not found');
is(stop_sync($daemon), 0, 'the daemon stops on SIGTERM with status 0');

done_testing();
