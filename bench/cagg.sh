#!/usr/bin/env bash
# bench/cagg.sh: a continuous aggregate by (month, staff) over ROWS time
# entries (3 years) in a hypertable, against the same query run on the raw
# table and against a plain materialized view of it, on one throwaway
# cluster.
#
#   1. Reading the aggregate vs running its defining query.
#   2. After CHANGES rows updated over the last two months (UPDATE statements
#      of CHANGE_BATCH rows each): refresh_continuous_aggregate vs REFRESH
#      MATERIALIZED VIEW of the plain materialized view.
#   3. After one late row in a bucket three months old: the refresh.
#   4. COPY of 10,000-row batches into a hypertable with two continuous
#      aggregates vs into one with none.
#
# Knobs (environment): ROWS (10000000), CHANGES (100000), CHANGE_BATCH
# (1000), REPS (3: runs of 2 and 3), READ_REPS (5: timed reads after one
# warm-up), COPY_BATCHES (40 per side), PORT (54401), TALLY_KEEP=1.
# Figures are medians; every run is listed under the figures.
set -euo pipefail

ROWS=${ROWS:-10000000}
CHANGES=${CHANGES:-100000}
CHANGE_BATCH=${CHANGE_BATCH:-1000}
REPS=${REPS:-3}
READ_REPS=${READ_REPS:-5}
COPY_BATCHES=${COPY_BATCHES:-40}
PORT=${PORT:-54401}

for knob in ROWS CHANGES CHANGE_BATCH REPS READ_REPS COPY_BATCHES; do
	[[ ${!knob} =~ ^[1-9][0-9]*$ ]] || {
		echo "$knob must be a positive integer" >&2
		exit 2
	}
done

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
bench_start hypertable_helpers.sql

t_end=$(sql -c "SELECT date_trunc('second', now())")
t_start=$(sql -c "SELECT '$t_end'::timestamptz - interval '3 years'")
data=$work/time_entries.tsv
log "generating $ROWS rows into $data"
time_entries_file "$ROWS" time "$t_start" "$t_end" "$data"

log "loading the hypertable"
sql -c "SELECT bench_create_table('time_entries', '7 days')" \
	-c "SELECT count(*) FROM ensure_chunks('time_entries', '$t_start'::timestamptz, '$t_end'::timestamptz)" \
	-c "COPY time_entries FROM '$data'" >/dev/null

cagg_query="SELECT time_bucket('1 month', started_at) AS month, staff_id, count(*) AS entries,
       sum(minutes) AS minutes, avg(rate) AS avg_rate
  FROM time_entries GROUP BY 1, 2"
log "creating the continuous aggregate and the plain materialized view"
out=$(timed "CREATE MATERIALIZED VIEW staff_months WITH (tally.continuous) AS $cagg_query" \
	"CREATE MATERIALIZED VIEW staff_months_plain AS $cagg_query")
read -r create_cagg_s create_plain_s < <(seconds_of <<<"$out" | paste -sd' ')
sql -c "VACUUM ANALYZE" >/dev/null
n_groups=$(sql -c "SELECT count(*) FROM staff_months")

# differences A B: rows of one query missing from the other, both ways
differences() {
	sql -c "SELECT count(*) FROM (($1 EXCEPT ALL $2) UNION ALL ($2 EXCEPT ALL $1)) d"
}

# -- 1. reading ---------------------------------------------------------------

# read_ms QUERY: one untimed run, then READ_REPS timed runs in one session;
# prints the median in ms, then every run.
read_ms() {
	local runs=() i
	for ((i = 0; i < READ_REPS; i++)); do runs+=("$1;"); done
	mapfile -t times < <(printf '%s\n' '\o /dev/null' "$1;" '\timing on' "${runs[@]}" | sql -f - | ms_of)
	echo "$(median "${times[@]}") ${times[*]}"
}
log "reading the aggregate and running its query, $READ_REPS runs each"
read -r read_cagg read_cagg_runs < <(read_ms "SELECT * FROM staff_months")
read -r read_query read_query_runs < <(read_ms "$cagg_query")
read_differences=$(differences "TABLE staff_months" "$cagg_query")

# -- 2. refresh after many changes ------------------------------------------------

t_recent=$(sql -c "SELECT '$t_end'::timestamptz - interval '2 months'")
recent_rows=$(sql -c "SELECT count(*) FROM time_entries WHERE started_at >= '$t_recent'")
modulus=$((recent_rows / CHANGES))
((modulus >= 1)) || modulus=1
batches=$(((CHANGES + CHANGE_BATCH - 1) / CHANGE_BATCH))
refresh_cagg=() refresh_plain=() changed_runs=() update_s=()
for ((r = 1; r <= REPS; r++)); do
	log "changes run $r/$REPS: every ${modulus}th row of the last two months, in $batches UPDATE statements"
	stmts=()
	for ((b = 0; b < batches; b++)); do
		stmts+=("UPDATE time_entries SET minutes = minutes + 1
		          WHERE started_at >= '$t_recent'::timestamptz + $b * (('$t_end'::timestamptz - '$t_recent'::timestamptz) / $batches)
		            AND started_at < '$t_recent'::timestamptz + $((b + 1)) * (('$t_end'::timestamptz - '$t_recent'::timestamptz) / $batches)
		            AND id % $modulus = $((r % modulus))")
	done
	# without -q, so that psql prints each UPDATE's row count
	out=$({ echo '\timing on'; printf '%s;\n' "${stmts[@]}"; } |
		run psql -X -v ON_ERROR_STOP=1 -At -f - | grep -E '^(Time|UPDATE)' || true)
	changed=$(awk '/^UPDATE/ {n += $2} END {print n + 0}' <<<"$out")
	changed_runs+=("$changed")
	update_s+=("$(awk '/^Time: / {t += $2} END {printf "%.3f", t / 1000}' <<<"$out")")
	sql -c CHECKPOINT
	out=$(timed "CALL refresh_continuous_aggregate('staff_months', NULL, NULL)" \
		"REFRESH MATERIALIZED VIEW staff_months_plain")
	mapfile -t ts < <(seconds_of <<<"$out")
	refresh_cagg+=("${ts[0]}")
	refresh_plain+=("${ts[1]}")
done
refresh_differences=$(differences "TABLE staff_months" "TABLE staff_months_plain")

# -- 3. one late row ----------------------------------------------------------------

late=()
for ((r = 1; r <= REPS; r++)); do
	log "late row run $r/$REPS"
	sql -c "INSERT INTO time_entries VALUES ($((ROWS + r)), 7, 1, 1, '$t_end'::timestamptz - interval '3 months 5 days', 30, true, 80, 'late')"
	late+=("$(timed "CALL refresh_continuous_aggregate('staff_months', NULL, NULL)" | ms_of)")
done
late_differences=$(differences "TABLE staff_months" "$cagg_query")

# -- 4. COPY with and without continuous aggregates ---------------------------------

# the batches: the last COPY_BATCHES * 10,000 rows of the data, 10,000
# consecutive rows (about a day) each; both tables get the same batches in
# the same order, and the sides alternate
copy_rows=$((COPY_BATCHES * 10000))
((copy_rows <= ROWS)) || copy_rows=$ROWS
tail -n "$copy_rows" "$data" | split -l 10000 -d -a 4 - "$work/batch."
mapfile -t batch_files < <(ls "$work"/batch.*)
[ -z "${as_user[*]}" ] || chown "$bench_user" "${batch_files[@]}"
sql -c "SELECT bench_create_table('copy_none', '7 days'), bench_create_table('copy_caggs', '7 days')" \
	-c "SELECT count(*) FROM ensure_chunks('copy_none', '$t_start'::timestamptz, '$t_end'::timestamptz)" \
	-c "SELECT count(*) FROM ensure_chunks('copy_caggs', '$t_start'::timestamptz, '$t_end'::timestamptz)" \
	-c "CREATE MATERIALIZED VIEW copy_by_month WITH (tally.continuous) AS
	      SELECT time_bucket('1 month', started_at), staff_id, count(*), sum(minutes), avg(rate) FROM copy_caggs GROUP BY 1, 2" \
	-c "CREATE MATERIALIZED VIEW copy_by_day WITH (tally.continuous) AS
	      SELECT time_bucket('1 day', started_at) AS day, staff_id, count(*) AS entries, sum(minutes) AS minutes, sum(CASE WHEN billable THEN minutes ELSE 0 END) AS billable FROM copy_caggs GROUP BY 1, 2" \
	>/dev/null
# in rounds: each side loads the round's batches in one session (a loader
# keeps its connection), the side that goes first alternating
copy_none=() copy_caggs=()
rounds=4
per_round=$(((${#batch_files[@]} + rounds - 1) / rounds))
for ((r = 0; r < rounds; r++)); do
	if ((r % 2)); then sides="none caggs"; else sides="caggs none"; fi
	for side in $sides; do
		stmts=()
		for ((b = r * per_round; b < (r + 1) * per_round && b < ${#batch_files[@]}; b++)); do
			stmts+=("COPY copy_$side FROM '${batch_files[$b]}'")
		done
		[ ${#stmts[@]} -gt 0 ] || continue
		mapfile -t ts < <(timed "${stmts[@]}" | seconds_of)
		if [ "$side" = none ]; then copy_none+=("${ts[@]}"); else copy_caggs+=("${ts[@]}"); fi
	done
done
log "COPY: ${#batch_files[@]} batches into each table"
copy_differences=$(differences "TABLE copy_by_day" \
	"SELECT time_bucket('1 day', started_at), staff_id, count(*), sum(minutes), sum(CASE WHEN billable THEN minutes ELSE 0 END) FROM copy_caggs GROUP BY 1, 2")

# -- report -----------------------------------------------------------------------

m_read_cagg=$read_cagg
m_refresh_cagg=$(median "${refresh_cagg[@]}")
m_refresh_plain=$(median "${refresh_plain[@]}")
m_late=$(median "${late[@]}")
m_copy_none=$(median "${copy_none[@]}")
m_copy_caggs=$(median "${copy_caggs[@]}")

echo "== tally continuous aggregate benchmark"
echo "# $(run postgres --version), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# rows: $ROWS time entries over [$t_start, $t_end) in a hypertable (7-day chunks); aggregate by (month, staff): $n_groups groups"
echo "# aggregate: $(tr -s ' \n\t' ' ' <<<"$cagg_query")"
echo "# creation: continuous aggregate $(calc '%.2f' "$create_cagg_s") s, plain materialized view $(calc '%.2f' "$create_plain_s") s"
figure read_ms "aggregate=$m_read_cagg  query=$read_query  speedup=$(calc '%.0f' "$read_query / $m_read_cagg")x  (target >= 100x; differences: $read_differences)"
figure refresh_after_changes_s "aggregate=$(calc '%.4f' "$m_refresh_cagg")  REFRESH MATERIALIZED VIEW=$(calc '%.3f' "$m_refresh_plain")  speedup=$(calc '%.0f' "$m_refresh_plain / $m_refresh_cagg")x  (target >= 50x; differences: $refresh_differences)"
figure changed_rows "${changed_runs[*]} per run, in $batches UPDATE statements (their time, s: ${update_s[*]})"
figure late_row_refresh_ms "aggregate=$m_late  (target < 50 ms; differences: $late_differences)"
echo "# COPY: ${#batch_files[@]} batches of 10,000 consecutive rows into each of two empty hypertables, $rounds sessions per side; aggregates on one: (month, staff) count, sum, avg; (day, staff) count, sum, sum(CASE)"
figure copy_batch_s "with two aggregates=$(calc '%.4f' "$m_copy_caggs")  none=$(calc '%.4f' "$m_copy_none")  ratio=$(calc '%.2f' "$m_copy_none / $m_copy_caggs")  (throughput with / without, target >= 0.85; differences: $copy_differences)"
echo "# runs: read ms aggregate: $read_cagg_runs; query: $read_query_runs"
echo "# runs: refresh s aggregate: ${refresh_cagg[*]}; plain: ${refresh_plain[*]}; late row ms: ${late[*]}"
echo "# runs: copy batch s none: ${copy_none[*]}"
echo "# runs: copy batch s with aggregates: ${copy_caggs[*]}"
