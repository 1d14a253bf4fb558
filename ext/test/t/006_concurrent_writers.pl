# Writers, refreshes and a refresh policy under pgbench load, on a live
# cluster: clients insert (into days that have no chunk yet), update and
# delete in multi-statement transactions, beside refreshes of three
# continuous aggregates (one over a join, one recomputed) and the scheduler
# running a policy every second.  No transaction may die (no deadlock, no
# partition constraint violation), and afterwards every aggregate is its
# query.  The join's dimension is not written while its facts are (see
# "What is left" in src/cagg/README.md: those concurrent changes are not
# yet merged exactly).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{TALLY_CONCURRENCY_SECONDS} // 20;

my $node = PostgreSQL::Test::Cluster->new('concurrent_writers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'tally'
max_connections = 40
deadlock_timeout = 100ms
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION tally;
	CREATE TABLE staff (id integer PRIMARY KEY, team text NOT NULL);
	INSERT INTO staff SELECT n, (ARRAY['audit', 'tax', 'advisory'])[1 + n % 3] FROM generate_series(0, 19) n;
	CREATE TABLE entries (id bigserial, at timestamptz NOT NULL, staff integer NOT NULL,
	                      minutes integer NOT NULL);
	SELECT create_hypertable('entries', 'at', chunk_time_interval => interval '1 day');
	INSERT INTO entries (at, staff, minutes)
	SELECT '2024-01-01'::timestamptz + n * interval '37 minutes', n % 20, n % 90
	  FROM generate_series(1, 2000) n;
	CREATE INDEX ON entries (id);
	CREATE MATERIALIZED VIEW daily WITH (tally.continuous) AS
		SELECT time_bucket('1 day', at) AS day, staff, count(*) AS n, sum(minutes) AS minutes,
		       max(minutes) AS longest
		  FROM entries GROUP BY 1, 2;
	CREATE MATERIALIZED VIEW teams WITH (tally.continuous) AS
		SELECT time_bucket('1 day', e.at) AS day, s.team, count(*) AS n, sum(e.minutes) AS minutes
		  FROM entries e JOIN staff s ON s.id = e.staff GROUP BY 1, 2;
	CREATE MATERIALIZED VIEW people WITH (tally.continuous) AS
		SELECT time_bucket('1 week', at) AS week, count(DISTINCT staff) AS staff
		  FROM entries GROUP BY 1;
	SELECT add_continuous_aggregate_policy('teams', start_offset => NULL, end_offset => NULL,
	                                       schedule_interval => interval '1 second');
});

# new days: the clients insert into 60 days after the last chunk, all at once
my $writer = q{
\set staff random(0, 19)
\set day random(0, 59)
\set minute random(0, 1439)
\set id random(1, 2000)
BEGIN;
INSERT INTO entries (at, staff, minutes)
VALUES ('2025-01-01'::timestamptz + :day * interval '1 day' + :minute * interval '1 minute', :staff, :minute % 90);
UPDATE entries SET minutes = minutes + 1 WHERE id = :id;
DELETE FROM entries WHERE id = :id + 1;
INSERT INTO entries (at, staff, minutes)
VALUES ('2025-01-01'::timestamptz + :day * interval '1 day', :staff, 1), ('2024-01-02', :staff, 2);
END;
};
my $refresher = q{
CALL refresh_continuous_aggregate('daily', NULL, NULL);
CALL refresh_continuous_aggregate('people', '2024-01-01'::timestamptz, NULL);
CALL refresh_continuous_aggregate('teams', NULL, '2025-01-20'::timestamptz);
};

$node->pgbench(
	"--no-vacuum --client=6 --jobs=2 --time=$seconds",
	0,
	[ qr{processed: [1-9][0-9]*}, qr{number of failed transactions: 0 } ],
	[ qr{^(?!.*(deadlock|violates|ERROR|aborted)).*$}s ],
	'writers, refreshes and a policy: no transaction dies',
	{ 'writer@4' => $writer, 'refresher@1' => $refresher });

my $differences = q{
	WITH d AS (SELECT time_bucket('1 day', at) AS day, staff, count(*) AS n, sum(minutes) AS minutes,
	                  max(minutes) AS longest FROM entries GROUP BY 1, 2),
	     t AS (SELECT time_bucket('1 day', e.at) AS day, s.team, count(*) AS n, sum(e.minutes) AS minutes
	             FROM entries e JOIN staff s ON s.id = e.staff GROUP BY 1, 2),
	     p AS (SELECT time_bucket('1 week', at) AS week, count(DISTINCT staff) AS staff
	             FROM entries GROUP BY 1)
	SELECT (SELECT count(*) FROM ((TABLE daily EXCEPT ALL TABLE d) UNION ALL (TABLE d EXCEPT ALL TABLE daily)) x),
	       (SELECT count(*) FROM ((TABLE teams EXCEPT ALL TABLE t) UNION ALL (TABLE t EXCEPT ALL TABLE teams)) x),
	       (SELECT count(*) FROM ((TABLE people EXCEPT ALL TABLE p) UNION ALL (TABLE p EXCEPT ALL TABLE people)) x)
};
is($node->safe_psql('postgres', $differences), '0|0|0',
	'every aggregate (daily, teams, people) is its query, changes pending');
$node->safe_psql('postgres', q{
	CALL refresh_continuous_aggregate('daily', NULL, NULL);
	CALL refresh_continuous_aggregate('teams', NULL, NULL);
	CALL refresh_continuous_aggregate('people', NULL, NULL);
});
is($node->safe_psql('postgres', $differences), '0|0|0',
	'every aggregate (daily, teams, people) is its query, refreshed');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM _tally_internal._delta_1}), '0', 'a full refresh leaves nothing pending');
$node->safe_psql('postgres', q{SELECT _tally_internal.maintain_chunks('entries')});
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM entries e JOIN _tally_catalog.hypertable h ON h.relid = 'entries'::regclass
	 WHERE e.tableoid = h.default_partition}), '0', 'after maintenance no row is left without its chunk');
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM tally_information.chunks
	         WHERE hypertable_name = 'entries' AND range_start >= '2025-01-01'
	           AND range_start < '2025-03-02')
	     = (SELECT count(DISTINCT time_bucket('1 day', at)) FROM entries WHERE at >= '2025-01-01')}),
	't', 'each new day has one chunk');

$node->stop;
done_testing();
