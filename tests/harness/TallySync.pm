# Helpers for the end-to-end tests of tally sync: a source and a target
# cluster, a configuration file, runs of the program, and a comparison of
# tables that does not depend on row order.
package TallySync;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(new_source new_target write_config run_sync start_sync stop_sync
  table_digest tables_equal tally_bin);

# The program under test: the sanitizer build the harness copied for us.
sub tally_bin { return $ENV{TALLY_BIN} // die "TALLY_BIN is not set\n"; }

sub new_source
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name // 'source');
	$node->init(allows_streaming => 'logical');
	$node->append_conf('postgresql.conf', "logical_decoding_work_mem = '64kB'\n");
	$node->start;
	return $node;
}

sub new_target
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name // 'target');
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'tally'\ntally.job_scheduler = off\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION tally');
	return $node;
}

# Writes a configuration for source and target; $extra is appended as is.
sub write_config
{
	my ($source, $target, $extra, $name) = @_;
	my $path = PostgreSQL::Test::Utils::tempdir() . '/' . ($name // 'sync.ini');
	# trust authentication ignores the password: it is there to be kept out of logs
	my $src = $source->connstr('postgres') . ' password=tally-secret-pw';
	my $dst = $target->connstr('postgres');
	open my $fh, '>', $path or die "could not write $path: $!";
	print $fh "[source]\nconninfo = $src\n\n[target]\nconninfo = $dst\n\n" . ($extra // '');
	close $fh;
	return $path;
}

# Runs tally with arguments to its end; returns (exit status, stdout, stderr).
sub run_sync
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $timeout = IPC::Run::timeout(180);
	IPC::Run::run([ tally_bin(), @args ], '>', \$out, '2>', \$err, $timeout);
	note("tally @args: exit " . ($? >> 8) . "\n$err") if $ENV{TALLY_VERBOSE} || ($? >> 8) > 2;
	return ($? >> 8, $out, $err);
}

# Starts tally sync in the background; stderr goes to the returned handle's log.
sub start_sync
{
	my ($config, @args) = @_;
	my $log = PostgreSQL::Test::Utils::tempdir() . '/sync.log';
	my $h = IPC::Run::start([ tally_bin(), 'sync', '--config', $config, @args ],
		'>', '/dev/null', '2>>', $log);
	return { harness => $h, log => $log };
}

# Stops it with the given signal (default TERM); returns its exit status.
sub stop_sync
{
	my ($sync, $signal) = @_;
	$sync->{harness}->signal($signal // 'TERM');
	eval { $sync->{harness}->finish; };
	return $sync->{harness}->result(0);
}

# Row count and an order-independent digest of every column of a table.
sub table_digest
{
	my ($node, $table) = @_;
	# the same text formats on both sides, whatever each server's defaults
	return $node->safe_psql('postgres',
		"SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3; SET timezone = UTC; "
		  . "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM $table t");
}

sub tables_equal
{
	my ($source, $target, $tables, $what) = @_;
	for my $table (@$tables)
	{
		is(table_digest($target, $table), table_digest($source, $table), "$what: $table");
	}
}

1;
