#!/usr/bin/env bash
# bench/sync.sh: tally sync against PostgreSQL's own tools, on two throwaway
# clusters on this machine (a source with wal_level = logical, a target),
# every figure beside its baseline from the same run.
#
#   1. Initial snapshot of ROWS time entries: rows/s of `tally sync --once`
#      into a fresh database from a fresh slot, against
#      (a) pg_dump -Fc -t time_entries | pg_restore into a fresh database,
#          primary key build included (tally's target table has the key), and
#      (b) a native subscription's initial copy: CREATE SUBSCRIPTION ... WITH
#          (copy_data = true) into a fresh database holding the empty tables,
#          until pg_subscription_rel shows state 'r' for every table.
#      Median of SNAP_REPS runs per side, the side that goes first rotating.
#   2. Streaming apply throughput: with both pipelines caught up and stopped
#      (tally not running, the subscription disabled), pgbench writes
#      LOAD_TXNS transactions of one INSERT of a new row and one UPDATE of a
#      random existing row, then a marker row.  Each replicator is then
#      started (tally sync as a daemon; ALTER SUBSCRIPTION ... ENABLE) and
#      timed until the marker row is on its target: applied rows (2 per
#      transaction) per second, from the start (startup included) and from
#      when it began streaming (tally's "streaming" log event; the apply
#      worker's "has started" line in the target's server log).  Median of
#      STREAM_REPS rounds, the side that goes first alternating.  Each
#      round also reads the CPU time (/proc/PID/stat) of the processes that
#      did the work: the source's walsender, the target's backends (tally's
#      connections; the apply worker) and tally itself, as microseconds per
#      row; rows over the walsender's CPU seconds is the most that slot could
#      have sent with a core to itself, whatever consumed it.
#   3. Lag at a fixed rate: pgbench -R inserts LAG_RATE rows/s for
#      LAG_SECONDS into lag_probe, whose committed_at defaults to
#      clock_timestamp() on the source; on each target a deferred constraint
#      trigger (fired just before the target's commit, ENABLE ALWAYS so that
#      the apply worker fires it too) stores clock_timestamp() - committed_at.
#      p50/p99/max per side, one run each, with only that side running.
#      committed_at is taken when the row is inserted, slightly before the
#      source's commit, so the figure overstates lag by the source's commit
#      time, for both sides alike.
#
# Row counts and order-independent checksums (count, sum of hashtext of
# each row's text) are compared between source and targets after each phase.
#
# Knobs (environment): ROWS (10000000), SNAP_REPS (3), WORKERS (2: tally's
# snapshot_workers), LOAD_TXNS (200000 per round), LOAD_CLIENTS (8),
# STREAM_REPS (3), LAG_RATE (5000 rows/s), LAG_SECONDS (30), LAG_CLIENTS
# (8), LAG_BATCH (1 row per transaction; must divide LAG_RATE), WAIT_TIMEOUT
# (3600 s for any one wait), PORT (54402: the source; the target listens on
# PORT + 1), TALLY_KEEP=1 keeps the temporary directory.
#
# As root it runs PostgreSQL and tally as the unprivileged user
# $TALLY_TEST_USER (default tallytest, created if missing).  The clusters
# listen only on a unix socket in the temporary directory, which is removed
# on exit with every cluster and process the script started.  The program
# is build/tally (make programs, -O2), copied into that directory at start.
# Plain PostgreSQL on the target: tally sync needs its extension only for
# hypertables, which this benchmark does not use.
set -euo pipefail

ROWS=${ROWS:-10000000}
SNAP_REPS=${SNAP_REPS:-3}
WORKERS=${WORKERS:-2}
LOAD_TXNS=${LOAD_TXNS:-200000}
LOAD_CLIENTS=${LOAD_CLIENTS:-8}
STREAM_REPS=${STREAM_REPS:-3}
LAG_RATE=${LAG_RATE:-5000}
LAG_SECONDS=${LAG_SECONDS:-30}
LAG_CLIENTS=${LAG_CLIENTS:-8}
LAG_BATCH=${LAG_BATCH:-1}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-3600}
PORT=${PORT:-54402}

for knob in ROWS SNAP_REPS WORKERS LOAD_TXNS LOAD_CLIENTS STREAM_REPS LAG_RATE LAG_SECONDS LAG_CLIENTS LAG_BATCH WAIT_TIMEOUT PORT; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || {
		echo "$knob must be a positive integer" >&2
		exit 2
	}
done
((LOAD_TXNS >= LOAD_CLIENTS)) || { echo "LOAD_TXNS must be at least LOAD_CLIENTS" >&2; exit 2; }
((LAG_RATE % LAG_BATCH == 0)) || { echo "LAG_BATCH must divide LAG_RATE" >&2; exit 2; }

SRC_PORT=$PORT
TGT_PORT=$((PORT + 1))

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

# -- clusters, processes, cleanup ---------------------------------------------

work=
tally_pid=
bindir=$(pg_config --bindir)

# lib.sh's cleanup knows one cluster; this one stops both, and tally.
sync_cleanup() {
	local rc=$? name pid
	# a signal's trap runs inside the command it interrupted, with that
	# command's redirections: back to the script's own stderr
	exec 2>&9
	[ -n "$work" ] || exit "$rc"
	if [ -n "$tally_pid" ] && kill -0 "$tally_pid" 2>/dev/null; then
		kill -TERM "$tally_pid" 2>/dev/null || true
		sleep 1
		kill -9 "$tally_pid" 2>/dev/null || true
	fi
	for name in source target; do
		[ -f "$work/$name/postmaster.pid" ] || continue
		pid=$(head -1 "$work/$name/postmaster.pid")
		run pg_ctl -D "$work/$name" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
			kill -9 "$pid" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		for name in source target; do
			[ -f "$work/$name.log" ] || continue
			echo "--- last lines of the $name server log" >&2
			tail -20 "$work/$name.log" >&2
		done
		for name in "$work"/tally_*.log; do
			[ -f "$name" ] || continue
			echo "--- last lines of $(basename "$name")" >&2
			tail -10 "$name" >&2
		done
	fi
	if [ "${TALLY_KEEP:-0}" = 1 ]; then
		echo "bench: kept $work" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}

# on_source / on_target COMMAND...: lib.sh's run against one cluster
on_source() { local PORT=$SRC_PORT; run "$@"; }
on_target() { local PORT=$TGT_PORT; run "$@"; }
src_sql() { local PORT=$SRC_PORT; sql "$@"; }
tgt_sql() { local PORT=$TGT_PORT; sql "$@"; } # with -d DATABASE

clock() { date +%s.%N; }

# start_cluster NAME PORT SETTINGS: initdb and start $work/NAME
start_cluster() {
	local name=$1 PORT=$2
	run initdb -D "$work/$name" -A trust -E UTF8 --no-locale --no-sync >"$work/initdb_$name.log" 2>&1 || {
		cat "$work/initdb_$name.log" >&2
		exit 1
	}
	cat >>"$work/$name/postgresql.conf" <<EOF
# bench/sync.sh
listen_addresses = ''
unix_socket_directories = '$work'
port = $PORT
shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
# both off so that no background job lands in one side's timing
autovacuum = off
jit = off
$3
EOF
	run pg_ctl -D "$work/$name" -l "$work/$name.log" -w start >/dev/null
}

exec 9>&2
work=$(mktemp -d /tmp/tally-bench.XXXXXX)
chmod 755 "$work"
trap sync_cleanup EXIT
trap 'exit 130' INT TERM

log "building the program (make programs)"
make -s -C "$top" programs >/dev/null
cp "$top/build/tally" "$work/tally"
tally_commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
tally_dirty=$(git -C "$top" status --porcelain -- sync cli common Makefile 2>/dev/null | wc -l)

if [ "$(id -u)" -eq 0 ]; then
	if ! id "$bench_user" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$bench_user"
	fi
	chown -R "$bench_user" "$work"
	as_user=(runuser -u "$bench_user" --)
fi

log "starting the source (port $SRC_PORT) and the target (port $TGT_PORT) on $work"
start_cluster source "$SRC_PORT" "wal_level = logical"
# The launcher starts at most one apply worker per wal_retrieve_retry_interval
# (5 s by default); a benchmark that creates and enables subscriptions in
# quick succession would wait on that throttle, a deployment would not.
start_cluster target "$TGT_PORT" "wal_retrieve_retry_interval = 100ms"
on_source createdb bench
on_target createdb bench # for connections that name no database

# -- the source -----------------------------------------------------------------

schema_sql="
CREATE TABLE public.time_entries (
    id bigint PRIMARY KEY, client_id integer NOT NULL, staff_id integer NOT NULL,
    started_at timestamptz NOT NULL, minutes integer NOT NULL, amount numeric(10,2) NOT NULL,
    billable boolean NOT NULL, note text);
CREATE TABLE public.sync_marker (n integer PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE public.lag_probe (
    id bigserial PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT clock_timestamp(), payload text);"

# on each target: the lag trigger; the apply worker runs with an empty
# search_path, hence the qualified names
lag_trigger_sql="
CREATE TABLE public.lag_samples (probe_id bigint NOT NULL, lag_ms double precision NOT NULL);
CREATE FUNCTION public.record_lag() RETURNS trigger LANGUAGE plpgsql AS \$f\$
BEGIN
    INSERT INTO public.lag_samples
    VALUES (NEW.id, extract(epoch FROM pg_catalog.clock_timestamp() - NEW.committed_at) * 1000);
    RETURN NULL;
END \$f\$;
CREATE CONSTRAINT TRIGGER record_lag AFTER INSERT ON public.lag_probe
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.record_lag();
ALTER TABLE public.lag_probe ENABLE ALWAYS TRIGGER record_lag;"

log "generating $ROWS time entries on the source"
src_sql -c "$schema_sql" \
	-c "CREATE SEQUENCE public.time_entries_new_id START $((ROWS + 1))" \
	-c "INSERT INTO time_entries
	    SELECT i, 1 + (i * 7919) % 2000, 1 + (i * 104729) % 500,
	           now() - interval '3 years' + (i - 1) * (interval '3 years' / $ROWS),
	           5 + (i * 13) % 476, ((5 + (i * 13) % 476) * (60 + (i * 17) % 190) / 60.0)::numeric(10,2),
	           i % 5 <> 0, 'note ' || left(md5(i::text), 25)
	      FROM generate_series(1, $ROWS::bigint) AS i" \
	-c "VACUUM ANALYZE" \
	-c "CREATE PUBLICATION native FOR TABLE time_entries, sync_marker, lag_probe"
table_mb=$(src_sql -c "SELECT pg_total_relation_size('time_entries') / 1048576")

# digest PORT DATABASE TABLE: row count and an order-independent checksum
digest() {
	local PORT=$1
	sql -d "$2" -c "SELECT count(*) || '/' || coalesce(sum(hashtext(t::text)::bigint), 0) FROM $3 t"
}

# same_or_differ SOURCE TARGET...: "match" when every digest equals SOURCE's
same_or_differ() {
	local want=$1 d
	shift
	for d in "$@"; do [ "$d" = "$want" ] || { echo "DIFFER"; return; }; done
	echo match
}

# wait_for PORT DATABASE CONDITION [PID]: waits until the SQL boolean
# CONDITION holds, polling every 10 ms inside the server (a client round trip
# every 2 s only, so that polling takes no CPU from the replicators); prints
# the server's clock (epoch seconds) once it holds.  Fails after
# WAIT_TIMEOUT s, or as soon as process PID is gone.
wait_for() {
	local PORT=$1 db=$2 cond=$3 pid=${4:-} deadline=$((SECONDS + WAIT_TIMEOUT)) out ok at
	while :; do
		out=$(sql -d "$db" -F ' ' \
			-c "DO \$w\$ DECLARE t timestamptz := clock_timestamp();
			    BEGIN
			        WHILE NOT ($cond) AND clock_timestamp() < t + interval '2 s' LOOP
			            PERFORM pg_sleep(0.01);
			        END LOOP;
			    END \$w\$" \
			-c "SELECT ($cond), extract(epoch FROM clock_timestamp())") || return 1
		read -r ok at <<<"$out"
		if [ "$ok" = t ]; then
			echo "$at"
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			log "process $pid exited while waiting for: $cond"
			return 1
		fi
		if ((SECONDS > deadline)); then
			log "gave up after $WAIT_TIMEOUT s waiting for: $cond"
			return 1
		fi
	done
}

# tally_config NAME DATABASE SLOT: writes $work/NAME.ini
tally_config() {
	cat >"$work/$1.ini" <<EOF
[source]
conninfo = host=$work port=$SRC_PORT dbname=bench
slot = $3

[target]
conninfo = host=$work port=$TGT_PORT dbname=$2

[sync]
tables = public.*
snapshot_workers = $WORKERS
EOF
}

# tally_start CONFIG LOG: tally sync as a daemon; sets tally_pid (tally's
# own pid: the wrapper shell execs it)
tally_start() {
	rm -f "$work/tally.pid"
	# shellcheck disable=SC2016 # expanded by the inner shell
	run env TMPDIR="$work" sh -c 'echo $$ >"$1"; exec "$2" sync --config "$3" 2>>"$4"' \
		sh "$work/tally.pid" "$work/tally" "$1" "$2" &
	until [ -s "$work/tally.pid" ]; do sleep 0.01; done
	tally_pid=$(cat "$work/tally.pid")
}

# tally_stop LOG: SIGTERM, then waits up to 60 s for the exit
tally_stop() {
	local i
	kill -TERM "$tally_pid"
	for ((i = 0; i < 6000; i++)); do
		kill -0 "$tally_pid" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$tally_pid" 2>/dev/null; then
		log "tally sync (pid $tally_pid) did not stop within 60 s of SIGTERM; killing it"
		kill -9 "$tally_pid"
		return 1
	fi
	tally_pid=
	grep -q 'event=stop reason=signal' "$1" || {
		log "tally sync did not log a clean stop; last lines of $1:"
		tail -5 "$1" >&2
		return 1
	}
}

# epoch of a tally log line's ts=... field
tally_ts() { date -d "$(sed -n 's/^ts=\([^ ]*\) .*/\1/p' <<<"$1")" +%s.%N; }
# epoch of a server log line (default log_line_prefix '%m [%p] ')
server_ts() { date -d "$(cut -d' ' -f1-3 <<<"$1")" +%s.%N; }

subscription_ready="(SELECT count(*) FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
                      WHERE s.subname = current_database() AND r.srsubstate = 'r') = 3"
worker_gone="NOT EXISTS (SELECT 1 FROM pg_stat_subscription WHERE subname = current_database() AND pid IS NOT NULL)"

# -- 1. initial snapshot --------------------------------------------------------

# each side's database (and slot, and subscription) is named after the side
# and the run; the last run's tally and native pipelines are kept for 2 and 3
snap_tally=() snap_tally_copy=() snap_dump=() snap_native=() counts_tally=() counts_dump=() counts_native=()
tally_snapshot_log=()

snapshot_tally() {
	local r=$1 name="tally_r$1" t0 t1 n
	on_target createdb "$name"
	tally_config "$name" "$name" "$name"
	src_sql -c CHECKPOINT
	tgt_sql -c CHECKPOINT
	t0=$(clock)
	if ! run env TMPDIR="$work" "$work/tally" sync --config "$work/$name.ini" --once 2>>"$work/$name.log"; then
		log "tally sync --config $name.ini --once failed; its log:"
		cat "$work/$name.log" >&2
		exit 1
	fi
	t1=$(clock)
	snap_tally+=("$(calc '%.3f' "$t1 - $t0")")
	tally_snapshot_log+=("$(grep -o 'event=snapshot_done.*' "$work/$name.log" || echo 'no snapshot_done event')")
	# from the start to the end of the copy, without --once's wait for the
	# source's position after it
	snap_tally_copy+=("$(calc '%.3f' "$(tally_ts "$(grep -m1 'event=snapshot_done' "$work/$name.log")") - $t0")")
	n=$(tgt_sql -d "$name" -c "SELECT count(*) FROM time_entries")
	counts_tally+=("$n")
	if ((r < SNAP_REPS)); then
		on_target dropdb "$name"
		src_sql -c "SELECT pg_drop_replication_slot('$name')" >/dev/null
	fi
}

snapshot_dump() {
	local r=$1 name="dump_r$1" t0 t1
	on_target createdb "$name"
	src_sql -c CHECKPOINT
	tgt_sql -c CHECKPOINT
	t0=$(clock)
	if ! run bash -c "set -o pipefail; pg_dump -p $SRC_PORT -Fc -t public.time_entries bench |
	                  pg_restore -p $TGT_PORT -d $name --exit-on-error" 2>"$work/$name.log"; then
		log "pg_dump | pg_restore failed:"
		cat "$work/$name.log" >&2
		exit 1
	fi
	t1=$(clock)
	snap_dump+=("$(calc '%.3f' "$t1 - $t0")")
	counts_dump+=("$(tgt_sql -d "$name" -c "SELECT count(*) FROM time_entries")")
	((r == SNAP_REPS)) || on_target dropdb "$name"
}

snapshot_native() {
	local r=$1 name="native_r$1" t0 t1
	on_target createdb "$name"
	tgt_sql -d "$name" -c "$schema_sql" -c "$lag_trigger_sql"
	src_sql -c CHECKPOINT
	tgt_sql -c CHECKPOINT
	t0=$(clock)
	tgt_sql -d "$name" -c "CREATE SUBSCRIPTION $name CONNECTION 'host=$work port=$SRC_PORT dbname=bench'
	                       PUBLICATION native WITH (copy_data = true)"
	t1=$(wait_for "$TGT_PORT" "$name" "$subscription_ready")
	snap_native+=("$(calc '%.3f' "$t1 - $t0")")
	# stopped until phase 2, so that it does not run during the other sides' runs
	tgt_sql -d "$name" -c "ALTER SUBSCRIPTION $name DISABLE"
	wait_for "$TGT_PORT" "$name" "$worker_gone" >/dev/null
	counts_native+=("$(tgt_sql -d "$name" -c "SELECT count(*) FROM time_entries")")
	((r == SNAP_REPS)) || tgt_sql -d "$name" -c "DROP SUBSCRIPTION $name"
	# DROP SUBSCRIPTION drops its slot on the source; only then the database
	((r == SNAP_REPS)) || on_target dropdb "$name"
}

sides=(tally dump native)
for ((r = 1; r <= SNAP_REPS; r++)); do
	for ((s = 0; s < 3; s++)); do
		side=${sides[$(((s + r - 1) % 3))]}
		log "snapshot run $r/$SNAP_REPS: $side"
		"snapshot_$side" "$r"
	done
done
tally_db=tally_r$SNAP_REPS
native_db=native_r$SNAP_REPS
dump_db=dump_r$SNAP_REPS

digest_source_1=$(digest "$SRC_PORT" bench time_entries)
digest_tally_1=$(digest "$TGT_PORT" "$tally_db" time_entries)
digest_dump_1=$(digest "$TGT_PORT" "$dump_db" time_entries)
digest_native_1=$(digest "$TGT_PORT" "$native_db" time_entries)
on_target dropdb "$dump_db"
tgt_sql -d "$tally_db" -c "$lag_trigger_sql"
tally_columns=$(tgt_sql -d "$tally_db" -c "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
    FROM pg_attribute WHERE attrelid = 'time_entries'::regclass AND attnum > 0 AND NOT attisdropped")
tally_indexes=$(tgt_sql -d "$tally_db" -c "SELECT string_agg(indexdef, '; ') FROM pg_indexes WHERE tablename = 'time_entries'")

# -- 2. streaming apply throughput ----------------------------------------------

cat >"$work/load.sql" <<'EOF'
\set client random(1, 2000)
\set staff random(1, 500)
\set minutes random(5, 480)
\set existing random(1, :rows)
BEGIN;
INSERT INTO time_entries VALUES (nextval('time_entries_new_id'), :client, :staff, now(), :minutes,
    :minutes * 1.25, true, 'pgbench entry, client ' || :client);
UPDATE time_entries SET minutes = minutes + 1, amount = amount + 1.00 WHERE id = :existing;
END;
EOF
chmod 644 "$work/load.sql"

marker=0
# put_marker: one more marker row on the source, committed after everything
# before it; its number is $marker (not printed: a command substitution's
# subshell would lose the count)
put_marker() {
	marker=$((marker + 1))
	src_sql -c "INSERT INTO sync_marker VALUES ($marker, clock_timestamp())"
}
marker_there() { echo "EXISTS (SELECT 1 FROM public.sync_marker WHERE n = $1)"; }

per_client=$((LOAD_TXNS / LOAD_CLIENTS))
load_txns=$((per_client * LOAD_CLIENTS))
load_rows=$((2 * load_txns))
stream_tally=() stream_native=() apply_tally=() apply_native=() startup_tally=() startup_native=()
# CPU seconds of each process in a round: the source's walsender, the
# target's side (tally: its target backends; native: the apply worker) and
# tally itself
cpu_ws_tally=() cpu_target_tally=() cpu_self_tally=() cpu_ws_native=() cpu_target_native=()

# cpu_seconds PID...: CPU time (user + system) the processes have used so far
cpu_seconds() {
	local p total=0 ticks
	ticks=$(getconf CLK_TCK)
	for p in "$@"; do
		# the fields after the command name, which ends at the last ')'
		total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	calc '%.2f' "$total / $ticks"
}
load_tps=() load_wal_mb=()

stream_tally_round() {
	local m=$1 t0 t1 line streaming
	local tlog="$work/tally_stream.log"
	rm -f "$tlog.tmp" # tally (the bench user) creates it
	t0=$(clock)
	tally_start "$work/$tally_db.ini" "$tlog.tmp"
	t1=$(wait_for "$TGT_PORT" "$tally_db" "$(marker_there "$m")" "$tally_pid")
	# the processes started with this round: their CPU time is the round's
	cpu_ws_tally+=("$(cpu_seconds "$(src_sql -c "SELECT pid FROM pg_stat_replication WHERE application_name = 'tally sync'")")")
	# shellcheck disable=SC2046 # one word per pid
	cpu_target_tally+=("$(cpu_seconds $(tgt_sql -d "$tally_db" -c "SELECT pid FROM pg_stat_activity
	    WHERE datname = current_database() AND application_name = 'tally sync'"))")
	cpu_self_tally+=("$(cpu_seconds "$tally_pid")")
	tally_stop "$tlog.tmp"
	cat "$tlog.tmp" >>"$tlog"
	line=$(grep -m1 'event=streaming' "$tlog.tmp")
	streaming=$(tally_ts "$line")
	stream_tally+=("$(calc '%.3f' "$t1 - $t0")")
	apply_tally+=("$(calc '%.3f' "$t1 - $streaming")")
	startup_tally+=("$(calc '%.3f' "$streaming - $t0")")
}

stream_native_round() {
	local m=$1 t0 t1 n0 line started
	n0=$(wc -l <"$work/target.log")
	t0=$(clock)
	tgt_sql -d "$native_db" -c "ALTER SUBSCRIPTION $native_db ENABLE"
	t1=$(wait_for "$TGT_PORT" "$native_db" "$(marker_there "$m")")
	cpu_ws_native+=("$(cpu_seconds "$(src_sql -c "SELECT pid FROM pg_stat_replication WHERE application_name = '$native_db'")")")
	cpu_target_native+=("$(cpu_seconds "$(tgt_sql -d "$native_db" -c "SELECT pid FROM pg_stat_subscription
	    WHERE subname = '$native_db' AND relid IS NULL")")")
	tgt_sql -d "$native_db" -c "ALTER SUBSCRIPTION $native_db DISABLE"
	wait_for "$TGT_PORT" "$native_db" "$worker_gone" >/dev/null
	line=$(tail -n +"$((n0 + 1))" "$work/target.log" |
		grep -m1 "apply worker for subscription \"$native_db\" has started")
	started=$(server_ts "$line")
	stream_native+=("$(calc '%.3f' "$t1 - $t0")")
	apply_native+=("$(calc '%.3f' "$t1 - $started")")
	startup_native+=("$(calc '%.3f' "$started - $t0")")
}

for ((r = 1; r <= STREAM_REPS; r++)); do
	log "streaming round $r/$STREAM_REPS: pgbench, $load_txns transactions ($LOAD_CLIENTS clients)"
	lsn0=$(src_sql -c "SELECT pg_current_wal_lsn()")
	t0=$(clock)
	on_source pgbench -n -M prepared -c "$LOAD_CLIENTS" -j 2 -t "$per_client" -D rows="$ROWS" \
		-f "$work/load.sql" >"$work/pgbench_load_$r.log" 2>&1 || {
		cat "$work/pgbench_load_$r.log" >&2
		exit 1
	}
	t1=$(clock)
	put_marker
	m=$marker
	load_tps+=("$(calc '%.0f' "$load_txns / ($t1 - $t0)")")
	load_wal_mb+=("$(src_sql -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / 1048576)")")
	src_sql -c CHECKPOINT
	if ((r % 2)); then order="tally native"; else order="native tally"; fi
	for side in $order; do
		log "streaming round $r/$STREAM_REPS: $side applies $load_rows rows"
		# the side before left dirty buffers that this one would write out
		tgt_sql -c CHECKPOINT
		"stream_${side}_round" "$m"
	done
done

digest_source_2=$(digest "$SRC_PORT" bench time_entries)
digest_tally_2=$(digest "$TGT_PORT" "$tally_db" time_entries)
digest_native_2=$(digest "$TGT_PORT" "$native_db" time_entries)

# -- 3. lag at a fixed rate ---------------------------------------------------------

echo "INSERT INTO lag_probe (payload) SELECT 'probe row of about thirty chars' FROM generate_series(1, :batch);" >"$work/lag.sql"
chmod 644 "$work/lag.sql"
lag_stats=() lag_counts=() lag_rates=() lag_schedule=()

# lag_run SIDE: with SIDE caught up and running, LAG_SECONDS of load, then
# the stats of the rows inserted in that window
lag_run() {
	local side=$1 db before inserted m t0 t1
	if [ "$side" = tally ]; then db=$tally_db; else db=$native_db; fi
	put_marker
	m=$marker
	if [ "$side" = tally ]; then
		tally_start "$work/$tally_db.ini" "$work/tally_lag.log"
		wait_for "$TGT_PORT" "$db" "$(marker_there "$m")" "$tally_pid" >/dev/null
	else
		tgt_sql -d "$db" -c "ALTER SUBSCRIPTION $db ENABLE"
		wait_for "$TGT_PORT" "$db" "$(marker_there "$m")" >/dev/null
	fi
	before=$(src_sql -c "SELECT coalesce(max(id), 0) FROM lag_probe")
	log "lag: $side, $LAG_RATE rows/s for $LAG_SECONDS s"
	t0=$(clock)
	on_source pgbench -n -M prepared -c "$LAG_CLIENTS" -j 2 -R "$((LAG_RATE / LAG_BATCH))" -T "$LAG_SECONDS" \
		-D batch="$LAG_BATCH" -f "$work/lag.sql" >"$work/pgbench_lag_$side.log" 2>&1 || {
		cat "$work/pgbench_lag_$side.log" >&2
		exit 1
	}
	t1=$(clock)
	inserted=$(src_sql -c "SELECT count(*) FROM lag_probe WHERE id > $before")
	put_marker
	m=$marker
	if [ "$side" = tally ]; then
		wait_for "$TGT_PORT" "$db" "$(marker_there "$m")" "$tally_pid" >/dev/null
		tally_stop "$work/tally_lag.log"
	else
		wait_for "$TGT_PORT" "$db" "$(marker_there "$m")" >/dev/null
		tgt_sql -d "$db" -c "ALTER SUBSCRIPTION $db DISABLE"
		wait_for "$TGT_PORT" "$db" "$worker_gone" >/dev/null
	fi
	lag_rates+=("$(calc '%.0f' "$inserted / ($t1 - $t0)")")
	# how far pgbench fell behind its schedule (the rate was not held if far)
	lag_schedule+=("$(sed -n 's/^rate limit schedule lag: avg \([0-9.]*\) (max \([0-9.]*\)) ms/\1\/\2/p' "$work/pgbench_lag_$side.log")")
	lag_counts+=("$inserted $(tgt_sql -d "$db" -c "SELECT count(*) FROM lag_probe WHERE id > $before") $(
		tgt_sql -d "$db" -c "SELECT count(*) FROM lag_samples WHERE probe_id > $before")")
	lag_stats+=("$(tgt_sql -d "$db" -F ' ' -c "SELECT round(percentile_disc(0.5) WITHIN GROUP (ORDER BY lag_ms)::numeric, 1),
	        round(percentile_disc(0.99) WITHIN GROUP (ORDER BY lag_ms)::numeric, 1), round(max(lag_ms)::numeric, 1)
	   FROM lag_samples WHERE probe_id > $before")")
}
lag_run tally
lag_run native

# both pipelines to the end, for the last comparison
log "catching both pipelines up for the final comparison"
put_marker
m=$marker
run env TMPDIR="$work" "$work/tally" sync --config "$work/$tally_db.ini" --once 2>>"$work/tally_final.log" || {
	log "the final tally sync --once failed:"
	cat "$work/tally_final.log" >&2
	exit 1
}
wait_for "$TGT_PORT" "$tally_db" "$(marker_there "$m")" >/dev/null
tgt_sql -d "$native_db" -c "ALTER SUBSCRIPTION $native_db ENABLE"
wait_for "$TGT_PORT" "$native_db" "$(marker_there "$m")" >/dev/null
tgt_sql -d "$native_db" -c "ALTER SUBSCRIPTION $native_db DISABLE"
digests_3=()
for table in time_entries lag_probe sync_marker; do
	d_source=$(digest "$SRC_PORT" bench $table)
	d_tally=$(digest "$TGT_PORT" "$tally_db" $table)
	d_native=$(digest "$TGT_PORT" "$native_db" $table)
	digests_3+=("$table: source=$d_source tally=$d_tally native=$d_native: $(same_or_differ "$d_source" "$d_tally" "$d_native")")
done

# -- report ---------------------------------------------------------------------

tally_problems=$(cat "$work"/tally_*.log | grep -E 'level=(warning|error)' | sort | uniq -c | sort -rn | head -5 || true)

m_snap_tally=$(median "${snap_tally[@]}")
m_snap_dump=$(median "${snap_dump[@]}")
m_snap_native=$(median "${snap_native[@]}")
rps() { calc '%.0f' "$1 / $2"; }
ratio() { calc '%.2f' "$2 / $1"; } # speedup of A over B, from their times
m_stream_tally=$(median "${stream_tally[@]}")
m_stream_native=$(median "${stream_native[@]}")
m_apply_tally=$(median "${apply_tally[@]}")
m_apply_native=$(median "${apply_native[@]}")
read -r lag_t50 lag_t99 lag_tmax <<<"${lag_stats[0]}"
read -r lag_n50 lag_n99 lag_nmax <<<"${lag_stats[1]}"

src_settings=$(src_sql -F '=' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('shared_buffers', 'max_wal_size', 'wal_level', 'fsync', 'synchronous_commit',
                   'autovacuum', 'logical_decoding_work_mem') ORDER BY name" | paste -sd' ')
tgt_settings=$(tgt_sql -F '=' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('shared_buffers', 'max_wal_size', 'wal_level', 'fsync', 'synchronous_commit',
                   'autovacuum') ORDER BY name" | paste -sd' ')

echo "== tally sync benchmark"
echo "# $(run postgres --version), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'); tally: build/tally (-O2) at commit $tally_commit$( ((tally_dirty == 0)) || echo ", $tally_dirty files of sync/ cli/ common/ Makefile modified")"
echo "# source settings: $src_settings"
echo "# target settings: $tgt_settings (the apply worker commits with the subscription's synchronous_commit = off)"
echo "# table: time_entries ($tally_columns), primary key on id; $ROWS rows, $table_mb MB with its index on the source"
echo "# tally's target table: $tally_indexes"
echo "# 1. snapshot: medians of $SNAP_REPS runs per side (fresh database, slot, subscription each; CHECKPOINT before each; order rotating); tally snapshot_workers = $WORKERS"
figure snapshot_rows_per_s "tally=$(rps "$ROWS" "$m_snap_tally")  pg_dump|pg_restore=$(rps "$ROWS" "$m_snap_dump")  speedup=$(ratio "$m_snap_tally" "$m_snap_dump")x  (pg_dump -Fc -t, pg_restore, primary key build included)"
figure snapshot_rows_per_s "tally=$(rps "$ROWS" "$m_snap_tally")  native subscription=$(rps "$ROWS" "$m_snap_native")  speedup=$(ratio "$m_snap_tally" "$m_snap_native")x  (CREATE SUBSCRIPTION until every table is 'r')"
figure snapshot_s "tally=$(calc '%.2f' "$m_snap_tally")  pg_dump|pg_restore=$(calc '%.2f' "$m_snap_dump")  native subscription=$(calc '%.2f' "$m_snap_native")"
figure snapshot_tally_copy_s "$(calc '%.2f' "$(median "${snap_tally_copy[@]}")")  (tally's start to its snapshot_done event: the rest of snapshot_s is --once catching up and exiting)"
echo "# 2. streaming: $load_txns pgbench transactions per round (1 INSERT + 1 UPDATE of a random existing row each: $load_rows rows), $LOAD_CLIENTS clients, written while both were stopped; medians of $STREAM_REPS rounds, order alternating"
figure stream_rows_per_s "tally=$(rps "$load_rows" "$m_stream_tally")  native=$(rps "$load_rows" "$m_stream_native")  ratio=$(ratio "$m_stream_tally" "$m_stream_native")x  (target >= 3x; from start, startup included)"
figure stream_apply_rows_per_s "tally=$(rps "$load_rows" "$m_apply_tally")  native=$(rps "$load_rows" "$m_apply_native")  ratio=$(ratio "$m_apply_tally" "$m_apply_native")x  (from tally's 'streaming' event / the apply worker's start)"
figure stream_startup_s "tally=$(median "${startup_tally[@]}")  native=$(median "${startup_native[@]}")  (start or ENABLE to streaming)"
m_ws_tally=$(median "${cpu_ws_tally[@]}")
m_ws_native=$(median "${cpu_ws_native[@]}")
m_target_tally=$(median "${cpu_target_tally[@]}")
m_self_tally=$(median "${cpu_self_tally[@]}")
m_target_native=$(median "${cpu_target_native[@]}")
per_row_us() { calc '%.1f' "$1 * 1000000 / $load_rows"; }
figure stream_cpu_us_per_row "tally: walsender=$(per_row_us "$m_ws_tally") target backend=$(per_row_us "$m_target_tally") tally=$(per_row_us "$m_self_tally") total=$(per_row_us "$(calc '%f' "$m_ws_tally + $m_target_tally + $m_self_tally")")  native: walsender=$(per_row_us "$m_ws_native") apply worker=$(per_row_us "$m_target_native") total=$(per_row_us "$(calc '%f' "$m_ws_native + $m_target_native")")  ($(nproc) cores)"
figure stream_walsender_bound "tally=$(rps "$load_rows" "$m_ws_tally")  native=$(rps "$load_rows" "$m_ws_native")  rows/s: rows over the walsender's CPU seconds, the most one slot's walsender can send with a core to itself, whatever consumes it; as a multiple of native's apply: $(calc '%.2f' "$m_stream_native / $m_ws_tally")x"
echo "# 3. lag: pgbench -R $((LAG_RATE / LAG_BATCH)) transactions/s of $LAG_BATCH rows, $LAG_CLIENTS clients, $LAG_SECONDS s per side, one side running at a time; clock_timestamp() at the row's insert on the source to clock_timestamp() just before the target's commit"
figure lag_ms "tally p50=$lag_t50 p99=$lag_t99 max=$lag_tmax  native p50=$lag_n50 p99=$lag_n99 max=$lag_nmax  (target: tally p99 < 1000 ms)"
# below 95% of the rate, the machine could not hold it in that window
held() { if (($1 * 100 >= LAG_RATE * 95)); then echo "$1"; else echo "$1 (RATE NOT HELD)"; fi; }
figure lag_rate_rows_per_s "tally window=$(held "${lag_rates[0]}")  native window=$(held "${lag_rates[1]}")  (target $LAG_RATE; pgbench schedule lag avg/max ms: tally ${lag_schedule[0]}, native ${lag_schedule[1]})"
echo "# rows: after 1 (count/checksum): source=$digest_source_1 tally=$digest_tally_1 pg_restore=$digest_dump_1 native=$digest_native_1: $(same_or_differ "$digest_source_1" "$digest_tally_1" "$digest_dump_1" "$digest_native_1")"
echo "# rows: after 2: source=$digest_source_2 tally=$digest_tally_2 native=$digest_native_2: $(same_or_differ "$digest_source_2" "$digest_tally_2" "$digest_native_2")"
echo "# rows: lag windows (inserted on the source, on the target, lag samples): tally ${lag_counts[0]}; native ${lag_counts[1]}"
for d in "${digests_3[@]}"; do echo "# rows: after 3, $d"; done
echo "# runs, s: snapshot tally: ${snap_tally[*]}; pg_dump|pg_restore: ${snap_dump[*]}; native: ${snap_native[*]}"
echo "# runs, rows after each snapshot: tally: ${counts_tally[*]}; pg_restore: ${counts_dump[*]}; native: ${counts_native[*]}"
echo "# runs, tally's own: ${tally_snapshot_log[*]}"
echo "# runs, s: stream tally: ${stream_tally[*]} (apply ${apply_tally[*]}); native: ${stream_native[*]} (apply ${apply_native[*]}); round 1 and every odd one: tally first"
echo "# runs: pgbench load tps: ${load_tps[*]}; WAL per round, MB: ${load_wal_mb[*]}"
echo "# runs, CPU s: tally walsender ${cpu_ws_tally[*]}, target ${cpu_target_tally[*]}, tally ${cpu_self_tally[*]}; native walsender ${cpu_ws_native[*]}, apply worker ${cpu_target_native[*]}"
if [ -n "$tally_problems" ]; then
	echo "# tally warnings/errors (count, line):"
	while IFS= read -r line; do echo "#   $line"; done <<<"$tally_problems"
else
	echo "# tally logs: no warning or error"
fi
