# What tally sync refuses, and how it says so: bad configuration files, a
# source that cannot be replicated correctly, a lost slot, a gap between
# the slot and the target.  Each refusal exits 2, names the fix, and leaves
# the target's data as it was.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TallySync;

my $source = new_source();
my $target = new_target();
$source->safe_psql('postgres', q{
	CREATE TABLE staff (id integer PRIMARY KEY, name text);
	INSERT INTO staff SELECT n, 'staff ' || n FROM generate_series(1, 100) n;
});

# Bad configuration files: the file, the line and the key are named.
my $config = write_config($source, $target, "[sync]\nsnapshot_workers = 2\nbatchinterval = 5s\n", 'bad.ini');
my ($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'an unknown key exits 2');
like($err, qr/bad\.ini:\d+: unknown key "batchinterval" in \[sync\]/, 'and names file, line and key');
$config = write_config($source, $target, "[table public.staff]\nmode = sometimes\n", 'bad2.ini');
($rc, $out, $err) = run_sync('sync', '--config', $config);
is($rc, 2, 'a bad value exits 2');
like($err, qr/bad2\.ini:\d+: invalid value "sometimes" for key "mode" in \[table public\.staff\]: expected cdc or batch/,
	'and says what is expected');
($rc, $out, $err) = run_sync('sync', '--config', '/nonexistent.ini');
is($rc, 2, 'a missing file exits 2');
like($err, qr{could not open configuration file "/nonexistent.ini"}, 'and says so');
($rc, $out, $err) = run_sync('sync', '--bogus');
is($rc, 2, 'an unknown option exits 2');
like($err, qr/Usage: tally sync/, 'and shows the usage');
($rc, $out, $err) = run_sync('sync', '--help');
is($rc, 0, '--help exits 0');
like($out, qr/--once.*--resync/s, '--help explains the options');
$config = write_config($source, $target, "[table public.nosuch]\nmode = cdc\n", 'bad3.ini');
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'a section for a table that does not exist exits 2');
like($err, qr/\[table public\.nosuch\] names no table/, 'and names the section');

# A table without a key is refused with the statement that fixes it.
$source->safe_psql('postgres', q{CREATE TABLE notes (body text)});
$config = write_config($source, $target, '');
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'a table without key or replica identity exits 2');
like($err, qr/ALTER TABLE \\"public\\"\.\\"notes\\" REPLICA IDENTITY FULL;/, 'with the statement that fixes it');
is($target->safe_psql('postgres', q{SELECT to_regclass('public.staff') IS NULL}), 't', 'and copies nothing');
$source->safe_psql('postgres', q{ALTER TABLE notes REPLICA IDENTITY FULL; INSERT INTO notes VALUES ('a'), ('a')});

# A source without logical decoding is refused.
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->append_conf('postgresql.conf', "wal_level = replica\n");
$plain->start;
$plain->safe_psql('postgres', q{CREATE TABLE t (id int PRIMARY KEY)});
my $plain_config = write_config($plain, $target, '', 'plain.ini');
($rc, $out, $err) = run_sync('sync', '--config', $plain_config, '--once');
is($rc, 2, 'wal_level = replica exits 2');
like($err, qr/ALTER SYSTEM SET wal_level = logical/, 'and says how to fix it');
$plain->stop;

# Now a good run.
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 0, 'a good configuration runs') or diag($err);
tables_equal($source, $target, [qw(staff notes)], 'first run');

# The slot is dropped behind tally sync's back: the changes after the
# target's position are gone, and tally sync says so instead of going on.
$source->safe_psql('postgres', q{SELECT pg_drop_replication_slot('tally'); UPDATE staff SET name = 'lost' WHERE id = 1});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'a dropped slot exits 2');
like($err, qr/replication slot \\"tally\\" does not exist on the source.*--resync/, 'and offers --resync');
isnt(table_digest($target, 'staff'), table_digest($source, 'staff'), 'nothing was papered over');
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once', '--resync');
is($rc, 0, '--resync copies again') or diag($err);
tables_equal($source, $target, [qw(staff notes)], 'after --resync');

# The slot is moved past what the target has: a gap.
$source->safe_psql('postgres', q{UPDATE staff SET name = 'skipped' WHERE id = 2});
$source->safe_psql('postgres', q{SELECT pg_replication_slot_advance('tally', pg_current_wal_lsn())});
($rc, $out, $err) = run_sync('sync', '--config', $config, '--once');
is($rc, 2, 'a slot confirmed past the target exits 2');
like($err, qr/was confirmed up to .* but the target has applied changes only up to/, 'and explains the gap');
is($target->safe_psql('postgres', q{SELECT name FROM staff WHERE id = 2}), 'staff 2', 'the target is untouched');

# A slot that tally sync did not create is not taken over.
$source->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('other', 'pgoutput')});
my $other = write_config($source, $target, '', 'other.ini');
open my $fh, '>>', $other or die;
print $fh "";
close $fh;
my $text = slurp_file($other);
$text =~ s/\[target\]/slot = other\n\n[target]/;
open $fh, '>', $other or die;
print $fh $text;
close $fh;
($rc, $out, $err) = run_sync('sync', '--config', $other, '--once');
is($rc, 2, 'a foreign slot exits 2');
like($err, qr/already exists on the source, but the target has no record of it/, 'and is left alone');
is($source->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'other'}), '1',
	'the foreign slot still exists');

done_testing();
