#!/usr/bin/env bash
# bench/hypertable.sh: hypertable vs plain table, on one throwaway cluster.
#
#   1. COPY of ROWS time entries (3 years ending now) into a hypertable vs a
#      plain table with the same columns and the same single index
#      (started_at DESC); the hypertable load calls ensure_chunks first.
#      And the same COPY into a fresh hypertable with no ensure_chunks call,
#      as a TimescaleDB user loads: the COPY makes the chunks as it goes;
#      and INSERT ... SELECT of up to 1M rows into a fresh hypertable vs a
#      plain table.
#   2. A one-calendar-month GROUP BY query on each, after VACUUM ANALYZE.
#   3. drop_chunks(older_than => start + 12 months) vs the equivalent DELETE.
#
# Every figure is printed beside its baseline from the same run, with the
# ratio and its target.  See bench/README.md.
#
# Knobs (environment): ROWS (10000000), CHUNK_INTERVAL ('7 days'),
# REPS (5: COPY runs per table), QUERY_REPS (5: timed query runs after one
# warm-up), DATA_ORDER (time | random: row order of the load file),
# PORT (54400), TALLY_KEEP=1 keeps the temporary directory.
#
# As root it runs PostgreSQL as the unprivileged user $TALLY_TEST_USER
# (default tallytest, created if missing).  The cluster listens only on a
# unix socket in its temporary directory, which is removed on exit.
set -euo pipefail

ROWS=${ROWS:-10000000}
CHUNK_INTERVAL=${CHUNK_INTERVAL:-7 days}
REPS=${REPS:-5}
QUERY_REPS=${QUERY_REPS:-5}
DATA_ORDER=${DATA_ORDER:-time}
PORT=${PORT:-54400}

case $DATA_ORDER in time | random) ;; *) echo "DATA_ORDER must be time or random" >&2; exit 2 ;; esac
[[ $ROWS =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ && $QUERY_REPS =~ ^[1-9][0-9]*$ ]] || {
	echo "ROWS, REPS and QUERY_REPS must be positive integers" >&2
	exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_start hypertable_helpers.sql

# -- the data, once ---------------------------------------------------------

t_end=$(sql -c "SELECT date_trunc('second', now())")
t_start=$(sql -c "SELECT '$t_end'::timestamptz - interval '3 years'")
data=$work/time_entries.tsv
log "generating $ROWS rows into $data ($DATA_ORDER order)"
time_entries_file "$ROWS" "$DATA_ORDER" "$t_start" "$t_end" "$data"
data_mb=$(calc '%.0f' "$(stat -c %s "$data") / 1048576")

# -- 1. COPY ----------------------------------------------------------------

copy_plain=() copy_hyper=() ensure=() ensure_copy=() copy_fresh=()
for ((r = 1; r <= REPS; r++)); do
	# rotate which side goes first
	case $((r % 3)) in
	1) sides="plain hyper fresh" ;;
	2) sides="hyper fresh plain" ;;
	0) sides="fresh plain hyper" ;;
	esac
	for side in $sides; do
		log "COPY run $r/$REPS: $side"
		if [ "$side" = plain ]; then
			sql -c "SELECT bench_create_table('te_plain')" -c CHECKPOINT >/dev/null
			t=$(timed "COPY te_plain FROM '$data'" | seconds_of)
			copy_plain+=("$t")
		elif [ "$side" = fresh ]; then
			sql -c "SELECT bench_create_table('te_fresh', '$CHUNK_INTERVAL')" -c CHECKPOINT >/dev/null
			t=$(timed "COPY te_fresh FROM '$data'" | seconds_of)
			copy_fresh+=("$t")
		else
			sql -c "SELECT bench_create_table('te_hyper', '$CHUNK_INTERVAL')" -c CHECKPOINT >/dev/null
			out=$(timed "SELECT count(*) FROM ensure_chunks('te_hyper', '$t_start'::timestamptz, '$t_end'::timestamptz)" \
				"COPY te_hyper FROM '$data'")
			mapfile -t ts < <(seconds_of <<<"$out")
			ensured=$(rows_of <<<"$out")
			ensure+=("${ts[0]}")
			copy_hyper+=("${ts[1]}")
			ensure_copy+=("$(calc '%.6f' "${ts[0]} + ${ts[1]}")")
		fi
	done
done

# INSERT ... SELECT of up to 1M of those rows into a fresh hypertable, whose
# rows go to the default partition and move into their chunks at commit,
# vs into a plain table
INSERT_ROWS=$((ROWS < 1000000 ? ROWS : 1000000))
insert_plain=() insert_fresh=()
for ((r = 1; r <= REPS; r++)); do
	for side in plain fresh; do
		log "INSERT ... SELECT run $r/$REPS: $side"
		if [ "$side" = plain ]; then
			sql -c "SELECT bench_create_table('ins_plain')" -c CHECKPOINT >/dev/null
			insert_plain+=("$(timed "INSERT INTO ins_plain SELECT * FROM te_plain ORDER BY started_at LIMIT $INSERT_ROWS" | seconds_of)")
		else
			sql -c "SELECT bench_create_table('ins_fresh', '$CHUNK_INTERVAL')" -c CHECKPOINT >/dev/null
			insert_fresh+=("$(timed "INSERT INTO ins_fresh SELECT * FROM te_plain ORDER BY started_at LIMIT $INSERT_ROWS" | seconds_of)")
		fi
	done
done
ins_fresh_default=$(sql -c "SELECT count(*) FROM ONLY $(sql -c "SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = 'ins_fresh'::regclass")")
sql -c "DROP TABLE ins_plain, ins_fresh" >/dev/null

# sanity: every row loaded, none of them in the hypertable's default partition
default_part=$(sql -c "SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = 'te_hyper'::regclass")
read -r n_plain n_hyper n_default < <(sql -F ' ' -c "SELECT (SELECT count(*) FROM te_plain),
    (SELECT count(*) FROM te_hyper), (SELECT count(*) FROM ONLY $default_part)")
if [ "$n_plain" != "$ROWS" ] || [ "$n_hyper" != "$ROWS" ]; then
	echo "bench: loaded $n_plain rows into te_plain and $n_hyper into te_hyper, expected $ROWS" >&2
	exit 1
fi
n_chunks=$(sql -c "SELECT count(*) FROM show_chunks('te_hyper')")
fresh_default=$(sql -c "SELECT default_partition FROM _tally_catalog.hypertable WHERE relid = 'te_fresh'::regclass")
read -r n_fresh n_fresh_default n_fresh_chunks < <(sql -F ' ' -c "SELECT (SELECT count(*) FROM te_fresh),
    (SELECT count(*) FROM ONLY $fresh_default), (SELECT count(*) FROM show_chunks('te_fresh'))")
if [ "$n_fresh" != "$ROWS" ]; then
	echo "bench: loaded $n_fresh rows into te_fresh, expected $ROWS" >&2
	exit 1
fi
sql -c "DROP TABLE te_fresh" >/dev/null

# -- 2. one-month query -----------------------------------------------------

log "VACUUM ANALYZE"
vacuum_s=$(timed "VACUUM ANALYZE te_plain" "VACUUM ANALYZE te_hyper" | seconds_of | paste -sd' ')
read -r size_plain size_hyper < <(sql -F ' ' -c "SELECT pg_total_relation_size('te_plain'), hypertable_size('te_hyper')")

q_from=$(sql -c "SELECT date_trunc('month', '$t_start'::timestamptz + interval '18 months')")
q_to=$(sql -c "SELECT '$q_from'::timestamptz + interval '1 month'")
query() {
	echo "SELECT staff_id, sum(minutes) FROM $1 WHERE started_at >= '$q_from' AND started_at < '$q_to' GROUP BY staff_id"
}
no_index="SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;"

# query_ms TABLE [SETTINGS]: one untimed warm-up run, then QUERY_REPS timed
# runs in the same session; prints the median in ms, then every run.
query_ms() {
	local q runs=() i
	q=$(query "$1")
	for ((i = 0; i < QUERY_REPS; i++)); do runs+=("$q;"); done
	mapfile -t times < <(printf '%s\n' "${2:-}" '\o /dev/null' "$q;" '\timing on' "${runs[@]}" | sql -f - | ms_of)
	echo "$(median "${times[@]}") ${times[*]}"
}
plan_of() {
	printf '%s\n' "${2:-}" "SELECT bench_plan_summary(\$q\$$(query "$1")\$q\$);" | sql -f - | tail -1
}
scanned_of() {
	sql -c "SELECT count(DISTINCT relation) FILTER (WHERE relation LIKE '\\_hyper\\_%\\_chunk'),
	               count(*) FILTER (WHERE relation LIKE '\\_hyper\\_%\\_default')
	          FROM bench_scans(\$q\$$(query te_hyper)\$q\$)" -F ' '
}

log "one-month query, $QUERY_REPS timed runs per table"
plan_hyper=$(plan_of te_hyper)
plan_plain=$(plan_of te_plain)
plan_plain_noidx=$(plan_of te_plain "$no_index")
read -r chunks_scanned default_scanned < <(scanned_of)
read -r q_hyper q_hyper_runs < <(query_ms te_hyper)
read -r q_plain q_plain_runs < <(query_ms te_plain)
read -r q_plain_noidx q_plain_noidx_runs < <(query_ms te_plain "$no_index")
# the same month's rows on each side (both must agree)
read -r month_rows_plain month_rows_hyper < <(sql -F ' ' -c "SELECT
    (SELECT count(*) FROM te_plain WHERE started_at >= '$q_from' AND started_at < '$q_to'),
    (SELECT count(*) FROM te_hyper WHERE started_at >= '$q_from' AND started_at < '$q_to')")

# -- 3. drop_chunks vs DELETE -----------------------------------------------

cutoff=$(sql -c "SELECT '$t_start'::timestamptz + interval '12 months'")
log "drop_chunks vs DELETE of rows older than $cutoff (one run each)"
sql -c CHECKPOINT
# in an explicit transaction, to tell the statement from its commit, where
# PostgreSQL removes the dropped chunks' files
out=$(timed "BEGIN" "SELECT count(*) FROM drop_chunks('te_hyper', older_than => '$cutoff'::timestamptz)" "COMMIT")
read -r _ drop_statement_s drop_commit_s < <(seconds_of <<<"$out" | paste -sd' ')
drop_s=$(calc '%.6f' "$drop_statement_s + $drop_commit_s")
chunks_dropped=$(rows_of <<<"$out")
sql -c CHECKPOINT
delete_s=$(timed "DELETE FROM te_plain WHERE started_at < '$cutoff'" | seconds_of)
vacuum_after_delete_s=$(timed "VACUUM te_plain" | seconds_of)
read -r left_plain left_hyper < <(sql -F ' ' -c "SELECT (SELECT count(*) FROM te_plain), (SELECT count(*) FROM te_hyper)")

# -- report -----------------------------------------------------------------

settings=$(sql -F '=' -c "SELECT name, current_setting(name) FROM pg_settings
    WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'fsync',
                   'synchronous_commit', 'autovacuum', 'jit', 'max_parallel_workers_per_gather',
                   'work_mem') ORDER BY name" | paste -sd' ')
indexes_plain=$(sql -c "SELECT bench_indexes('te_plain')" | paste -sd';')
indexes_hyper=$(sql -c "SELECT bench_indexes('te_hyper')" | paste -sd';')

m_plain=$(median "${copy_plain[@]}")
m_hyper=$(median "${copy_hyper[@]}")
m_ensure=$(median "${ensure[@]}")
m_ensure_copy=$(median "${ensure_copy[@]}")
m_fresh=$(median "${copy_fresh[@]}")
m_insert_plain=$(median "${insert_plain[@]}")
m_insert_fresh=$(median "${insert_fresh[@]}")
rps() { calc '%.0f' "$ROWS / $1"; }

echo "== tally hypertable benchmark"
echo "# $(run postgres --version), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# settings: $settings (both tables share the cluster)"
echo "# rows: $ROWS time entries, evenly spaced over [$t_start, $t_end), load file ${data_mb} MB, $DATA_ORDER order, text COPY from a server-side file"
echo "# hypertable: chunk_time_interval => interval '$CHUNK_INTERVAL', $n_chunks chunks after the load, $n_default rows in the default partition"
echo "# indexes plain: $indexes_plain"
echo "# indexes hypertable: $indexes_hyper (on every chunk)"
echo "# medians of $REPS COPY runs per table (tables dropped and recreated, CHECKPOINT before each run, sides alternating),"
echo "# of $QUERY_REPS query runs after one warm-up; drop/DELETE one run each (each needs a freshly loaded table)"
figure copy_rows_per_s "hypertable=$(rps "$m_hyper")  plain=$(rps "$m_plain")  ratio=$(calc '%.2f' "$m_plain / $m_hyper")  (target >= 0.9)"
figure copy_incl_ensure_rows_per_s "hypertable=$(rps "$m_ensure_copy")  plain=$(rps "$m_plain")  ratio=$(calc '%.2f' "$m_plain / $m_ensure_copy")  (target >= 0.9)"
figure copy_fresh_rows_per_s "hypertable=$(rps "$m_fresh")  plain=$(rps "$m_plain")  ratio=$(calc '%.2f' "$m_plain / $m_fresh")  (target >= 0.9; no ensure_chunks: the COPY made $n_fresh_chunks chunks, $n_fresh_default rows in the default partition)"
figure insert_fresh_rows_per_s "hypertable=$(calc '%.0f' "$INSERT_ROWS / $m_insert_fresh")  plain=$(calc '%.0f' "$INSERT_ROWS / $m_insert_plain")  ratio=$(calc '%.2f' "$m_insert_plain / $m_insert_fresh")  (INSERT ... SELECT of $INSERT_ROWS rows into a fresh hypertable, moved into chunks at commit; $ins_fresh_default rows left in the default partition)"
figure ensure_chunks_s "hypertable=$(calc '%.3f' "$m_ensure")  plain=n/a  ($ensured chunks returned for [$t_start, $t_end])"
figure size_mb "hypertable=$(calc '%.0f' "$size_hyper / 1048576")  plain=$(calc '%.0f' "$size_plain / 1048576")  ratio=$(calc '%.2f' "$size_hyper / $size_plain")  (after VACUUM ANALYZE, indexes included)"
figure range_query_partitions "hypertable=$chunks_scanned of $n_chunks chunks (default partition scanned: $([ "$default_scanned" = 0 ] && echo no || echo yes))  plain=1 table  (target 1-2 chunks)"
figure range_query_ms "hypertable=$q_hyper  plain=$q_plain  speedup=$(calc '%.1f' "$q_plain / $q_hyper")x  (target >= 10x; plain as loaded, planner's choice)"
figure range_query_ms_plain_noidx "hypertable=$q_hyper  plain=$q_plain_noidx  speedup=$(calc '%.1f' "$q_plain_noidx / $q_hyper")x  (target >= 10x; plain with index and bitmap scans disabled)"
figure drop_s "hypertable=$(calc '%.4f' "$drop_s")  plain=$(calc '%.3f' "$delete_s")  speedup=$(calc '%.0f' "$delete_s / $drop_s")x  (target >= 100x; drop_chunks vs DELETE, 1 run each)"
figure drop_split_s "statement=$(calc '%.4f' "$drop_statement_s")  commit=$(calc '%.4f' "$drop_commit_s")  (the commit removes the chunks' files)"
figure drop_incl_vacuum_s "hypertable=$(calc '%.4f' "$drop_s")  plain=$(calc '%.3f' "$delete_s + $vacuum_after_delete_s")  speedup=$(calc '%.0f' "($delete_s + $vacuum_after_delete_s) / $drop_s")x  (plain: DELETE + VACUUM, which frees the space)"
figure rows_removed "hypertable=$((ROWS - left_hyper)) ($chunks_dropped chunks)  plain=$((ROWS - left_plain))  (drop_chunks keeps the chunk that straddles the cutoff)"
echo "# query: $(query '<table>'), $month_rows_plain rows in range (hypertable: $month_rows_hyper)"
echo "# plan hypertable: $plan_hyper"
echo "# plan plain: $plan_plain"
echo "# plan plain, no index: $plan_plain_noidx"
echo "# runs, s: copy plain: ${copy_plain[*]}; copy hypertable: ${copy_hyper[*]}; ensure_chunks: ${ensure[*]}; copy fresh hypertable: ${copy_fresh[*]}; insert plain: ${insert_plain[*]}; insert fresh hypertable: ${insert_fresh[*]}"
echo "# runs, ms: query hypertable: $q_hyper_runs; plain: $q_plain_runs; plain no index: $q_plain_noidx_runs"
echo "# VACUUM ANALYZE s: plain, hypertable: $vacuum_s; drop cutoff: $cutoff"
