# tally sync writes a batch set-wise: a table's changes folded to one final
# state per key, then one DELETE, one UPDATE and one INSERT from arrays.
# Every way changes to one key can follow each other inside one batch, values
# that are hard to carry in an array's text form, hypertables whose rows move
# between chunks, changes the set cannot fold, sets larger than one write,
# and a target that lost rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TallySync;

my $source = new_source();
my $target = new_target();

my $schema = q{
	CREATE TABLE kinds (id integer PRIMARY KEY, t text, b bytea, j jsonb, u uuid, d integer,
	                    n numeric, ts timestamptz, big text);
	ALTER TABLE kinds ALTER COLUMN big SET STORAGE EXTERNAL;
	CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind text);
	CREATE TABLE readings (sensor integer, at timestamptz, value double precision, PRIMARY KEY (sensor, at));
	CREATE TABLE counters (id integer PRIMARY KEY, hits integer NOT NULL);
	CREATE TABLE keys_only (a integer, b text, PRIMARY KEY (a, b));
};
$source->safe_psql('postgres', $schema);
$source->safe_psql('postgres', q{
	INSERT INTO kinds SELECT n, 'row ' || n, '\x00ff'::bytea, '{"n": 1}', gen_random_uuid(), n, n / 3.0,
	       '2024-01-01'::timestamptz + n * interval '1 hour',
	       CASE WHEN n % 10 = 0 THEN (SELECT string_agg(md5(n::text || g::text), '') FROM generate_series(1, 200) g) END
	  FROM generate_series(1, 100) n;
	INSERT INTO events SELECT n, '2024-01-01'::timestamptz + n * interval '1 day', 'e' FROM generate_series(1, 300) n;
	INSERT INTO readings SELECT s, '2024-01-01'::timestamptz + h * interval '1 hour', s * h
	  FROM generate_series(1, 5) s, generate_series(1, 100) h;
	INSERT INTO counters SELECT n, 0 FROM generate_series(1, 3000) n;
	INSERT INTO keys_only VALUES (1, 'one'), (2, 'two');
});

my @tables = qw(kinds events readings counters keys_only);
my $config = write_config($source, $target, <<'INI');
[table public.events]
hypertable = at
chunk_interval = 7 days

[table public.readings]
hypertable = at
chunk_interval = 7 days
INI

my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'the snapshot run exits 0') or diag($err);
tables_equal($source, $target, \@tables, 'after the snapshot');

# One source transaction, so one batch: every sequence of changes to a key.
$source->safe_psql('postgres', q{
	BEGIN;
	-- inserted, updated three times, deleted: nothing reaches the target
	INSERT INTO kinds (id, t) VALUES (1000, 'short-lived');
	UPDATE kinds SET t = 'again' WHERE id = 1000;
	UPDATE kinds SET n = 1 WHERE id = 1000;
	UPDATE kinds SET d = 5 WHERE id = 1000;
	DELETE FROM kinds WHERE id = 1000;
	-- deleted, then inserted again under the same key
	DELETE FROM kinds WHERE id = 1;
	INSERT INTO kinds (id, t, b) VALUES (1, 'back', '\xdeadbeef');
	-- values an array's text form must quote
	UPDATE kinds SET t = 'NULL' WHERE id = 2;
	UPDATE kinds SET t = '' WHERE id = 3;
	UPDATE kinds SET t = 'quote " and \ backslash, comma {brace} ' WHERE id = 4;
	UPDATE kinds SET t = E'tab\there\nnewline' WHERE id = 5;
	UPDATE kinds SET t = NULL, j = '{"a": [1, "x,y"], "b": null}' WHERE id = 6;
	UPDATE kinds SET b = '\x5c22' WHERE id = 7;
	-- a TOASTed value unchanged, the row updated twice: stays the target's
	UPDATE kinds SET t = 'first' WHERE id = 20;
	UPDATE kinds SET n = 20.5 WHERE id = 20;
	-- a TOASTed value unchanged after an insert in the batch: taken from it
	INSERT INTO kinds (id, t, big) VALUES (2000, 'new', repeat('q', 9000));
	UPDATE kinds SET t = 'newer' WHERE id = 2000;
	-- key changes: a chain, and a TOASTed row moved (its value only on the target)
	UPDATE kinds SET id = 3001 WHERE id = 8;
	UPDATE kinds SET id = 3002 WHERE id = 3001;
	UPDATE kinds SET id = 3003 WHERE id = 30;
	UPDATE kinds SET id = 30 WHERE id = 9;
	-- hypertables: rows moved to other chunks, keys that hold the time
	UPDATE events SET at = at + interval '60 days' WHERE id % 7 = 0;
	UPDATE events SET kind = 'moved twice', at = at - interval '20 days' WHERE id % 14 = 0;
	DELETE FROM events WHERE id % 11 = 0;
	INSERT INTO events SELECT n, '2025-01-01'::timestamptz + n * interval '1 hour', 'new' FROM generate_series(301, 400) n;
	UPDATE readings SET at = at + interval '1 minute' WHERE sensor = 2 AND value > 100;
	UPDATE readings SET value = -value WHERE sensor = 3;
	DELETE FROM readings WHERE sensor = 4 AND value::integer % 3 = 0;
	-- a table whose every column is in its key
	UPDATE keys_only SET b = 'uno' WHERE a = 1;
	DELETE FROM keys_only WHERE a = 2;
	INSERT INTO keys_only VALUES (2, 'dos');
	-- more rows than one write of a set takes, each key changed many times
	UPDATE counters SET hits = hits + 1;
	UPDATE counters SET hits = hits + 1 WHERE id % 2 = 0;
	UPDATE counters SET hits = hits + 1 WHERE id % 3 = 0;
	DELETE FROM counters WHERE id % 5 = 0;
	INSERT INTO counters SELECT n, 7 FROM generate_series(3001, 5500) n;
	COMMIT;
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'the streaming run exits 0') or diag($err);
unlike($err, qr/row_missing/, 'every update and delete found its row');
tables_equal($source, $target, \@tables, 'after one batch of folded changes');
is($target->safe_psql('postgres', q{SELECT t, b FROM kinds WHERE id IN (1, 2, 7) ORDER BY id}),
	"back|\\xdeadbeef\nNULL|\\x00ff\nrow 7|\\x5c22", 'the text NULL, bytea and a re-inserted row');
is($target->safe_psql('postgres', q{SELECT length(big) FROM kinds WHERE id IN (20, 2000, 3003) ORDER BY id}),
	"6400\n9000\n6400", 'unchanged TOASTed values survive, after an insert, an update and a key change');
is($target->safe_psql('postgres', q{SELECT count(*) FROM ONLY events}), '0', 'no row waits in a parent');

# The same changes spread over many small transactions, with a daemon
# committing as they come.
my $daemon = start_sync($config);
for my $round (1 .. 20)
{
	$source->safe_psql('postgres', qq{
		UPDATE counters SET hits = hits + $round WHERE id % 20 = $round % 20;
		UPDATE kinds SET t = 'round $round', id = id + 10000 WHERE id = (SELECT min(id) FROM kinds WHERE id < 10000 AND big IS NULL);
		DELETE FROM events WHERE id = (SELECT min(id) FROM events);
		INSERT INTO events VALUES (1000 + $round, '2024-06-01', 'daemon');
	});
}
ok($target->poll_query_until('postgres', q{SELECT count(*) = 20 FROM events WHERE kind = 'daemon'}),
	'the daemon applies the small transactions');
stop_sync($daemon);
tables_equal($source, $target, \@tables, 'after small transactions');

# A target that lost rows: the update and the delete are reported, the rest applied.
$target->safe_psql('postgres', q{DELETE FROM counters WHERE id IN (1, 2)});
$source->safe_psql('postgres', q{
	UPDATE counters SET hits = 100 WHERE id IN (1, 3);
	DELETE FROM counters WHERE id = 2;
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'a run against a target that lost rows exits 0') or diag($err);
my @missing = $err =~ /event=row_missing table=\S*counters\S* change=update_or_delete rows=(\d+)/g;
is("@missing", '1 1', 'the update and the delete that found no row are reported, with their counts');
is($target->safe_psql('postgres', q{SELECT hits FROM counters WHERE id IN (1, 3) ORDER BY id}), '100',
	'the other rows are applied');

done_testing();
