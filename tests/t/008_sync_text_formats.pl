# Values travel as text in the replication stream, in text COPY (batch pulls,
# and snapshots of tables binary COPY cannot carry) and as parameters: a
# source and a target whose servers default to different DateStyle,
# IntervalStyle and float precision still end with the same values.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TallySync;

my $source = new_source();
$source->append_conf('postgresql.conf',
	"datestyle = 'SQL, DMY'\nintervalstyle = 'sql_standard'\nextra_float_digits = 0\ntimezone = 'Asia/Kolkata'\n");
$source->restart;
my $target = new_target();
$target->append_conf('postgresql.conf',
	"datestyle = 'ISO, MDY'\nintervalstyle = 'postgres_verbose'\nextra_float_digits = 0\ntimezone = 'America/New_York'\n");
$target->restart;

my $types = q{CREATE TYPE mood AS ENUM ('calm', 'busy');};
$source->safe_psql('postgres', $types);
$target->safe_psql('postgres', $types);    # tally creates tables, not types
$source->safe_psql('postgres', q{
	CREATE TABLE moments (id integer PRIMARY KEY, d date, ts timestamp, tz timestamptz, iv interval,
	                      f double precision);
	-- binary COPY cannot carry an array of a user-defined type: copied as text
	CREATE TABLE feelings (id integer PRIMARY KEY, d date, moods mood[]);
	CREATE TABLE pulled (id integer PRIMARY KEY, d date, iv interval, f double precision,
	                     updated_at timestamptz NOT NULL);
	INSERT INTO moments VALUES (1, '2024-02-01', '2024-02-01 13:14:15.5', '2024-02-01 13:14:15.5+00',
	                            '-1 year -2 mons +3 days -04:05:06', 0.1 + 0.2);
	INSERT INTO moments VALUES (3, '2024-05-06', NULL, NULL, NULL, NULL);
	INSERT INTO feelings VALUES (1, '2024-02-01', '{calm,busy}');
	INSERT INTO pulled VALUES (1, '2024-02-01', '-1 day +02:00', 1.0 / 3, '2024-02-01 10:00+00');
});
my @tables = qw(moments feelings pulled);
my $config = write_config($source, $target, <<'INI');
[table public.pulled]
mode = batch
watermark = updated_at
INI

my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'the first run exits 0') or diag($err);
tables_equal($source, $target, \@tables, 'after the snapshot and the first pull');

$source->safe_psql('postgres', q{
	INSERT INTO moments VALUES (2, '2024-03-04', '2024-03-04 05:06:07', '2024-03-04 05:06:07+05:30',
	                            '1 day -00:00:01', 1e-300 / 3);
	UPDATE moments SET d = '2024-12-11', iv = '-3 mons', f = pi() WHERE id = 1;
	DELETE FROM moments WHERE id = 3;
	INSERT INTO moments VALUES (4, '2024-05-06', NULL, NULL, NULL, NULL);
	INSERT INTO feelings VALUES (2, '2024-03-04', '{busy}');
	INSERT INTO pulled VALUES (2, '2024-03-04', '-2 years', 2.0 / 3, '2024-03-04 10:00+00');
	UPDATE pulled SET d = '2024-12-11', updated_at = '2024-12-11 10:00+00' WHERE id = 1;
});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'the second run exits 0') or diag($err);
tables_equal($source, $target, \@tables, 'after streaming and a second pull');
is($target->safe_psql('postgres', q{SET datestyle = ISO; SELECT string_agg(d::text, ' ' ORDER BY id) FROM moments}),
	'2024-12-11 2024-03-04 2024-05-06', 'dates keep their day and month');

done_testing();
