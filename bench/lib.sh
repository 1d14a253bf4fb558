# bench/lib.sh: what every benchmark shares, sourced by bench/*.sh after they
# set $top and $PORT.  bench_start HELPERS.SQL builds the extension and a
# private installation in a temporary directory, starts a throwaway cluster
# there (as $TALLY_TEST_USER, default tallytest, when run as root), creates
# the database "bench" with the extension and loads the helper file.  The
# cluster is stopped and the directory removed on exit; TALLY_KEEP=1 keeps
# the directory.

bench_user=${TALLY_TEST_USER:-tallytest}
as_user=()

log() { echo "bench: $*" >&2; }

bench_cleanup() {
	local rc=$?
	if [ -f "$work/data/postmaster.pid" ]; then
		# the server we started, by its pid
		kill -9 "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null || true
	fi
	if [ "$rc" -ne 0 ] && [ -f "$work/server.log" ]; then
		echo "--- last lines of the server log" >&2
		tail -20 "$work/server.log" >&2
	fi
	if [ "${TALLY_KEEP:-0}" = 1 ]; then
		echo "bench: kept $work" >&2
	else
		rm -rf "$work"
	fi
}

run() {
	(cd "$work" && "${as_user[@]}" env PATH="$bindir:$PATH" PGHOST="$work" PGPORT="$PORT" \
		PGDATABASE=bench PGOPTIONS='-c client_min_messages=warning' TZ=UTC LC_ALL=C.UTF-8 "$@")
}
sql() { run psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# timed STATEMENT...: runs the statements in one session with \timing and
# prints their output; each statement's time is a line "Time: N ms".
# Statements are given without their closing semicolon.
timed() { { echo '\timing on'; printf '%s;\n' "$@"; } | sql -f -; }
seconds_of() { awk '/^Time: / {printf "%.6f\n", $2 / 1000}'; }
ms_of() { awk '/^Time: / {printf "%.3f\n", $2}'; }
rows_of() { grep -v '^Time: ' || true; }

median() {
	printf '%s\n' "$@" | sort -g |
		awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
calc() { awk "BEGIN {printf \"$1\", $2}"; }
figure() { printf '%-28s %s\n' "$1" "$2"; }

bench_start() {
	local helpers=$1
	work=$(mktemp -d /tmp/tally-bench.XXXXXX)
	chmod 755 "$work"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM

	log "building the extension and a private installation in $work"
	make -s -C "$top/ext" >/dev/null
	bindir=$("$top/scripts/private-install" "$work/install")
	cp "$top/bench/$helpers" "$work/"

	if [ "$(id -u)" -eq 0 ]; then
		if ! id "$bench_user" >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin "$bench_user"
		fi
		chown -R "$bench_user" "$work"
		as_user=(runuser -u "$bench_user" --)
	fi

	log "starting a cluster on $work (port $PORT)"
	run initdb -D "$work/data" -A trust -E UTF8 --no-locale --no-sync >"$work/initdb.log" 2>&1 || {
		cat "$work/initdb.log" >&2
		exit 1
	}
	cat >>"$work/data/postgresql.conf" <<EOF
# bench/lib.sh
listen_addresses = ''
unix_socket_directories = '$work'
port = $PORT
shared_preload_libraries = 'tally'
shared_buffers = 2GB
max_wal_size = 8GB
checkpoint_timeout = 30min
# both off so that no background job lands in one side's timing; the
# benchmarks run VACUUM ANALYZE themselves.  JIT off: its compile time would
# only be paid by the large plain-table plans.
autovacuum = off
jit = off
tally.job_scheduler = off
EOF
	run pg_ctl -D "$work/data" -l "$work/server.log" -w start >/dev/null
	run createdb bench
	sql -c 'CREATE EXTENSION tally' -f "$work/$helpers"
}

# time_entries_file ROWS ORDER T_START T_END FILE: writes ROWS time entries
# spread evenly over [T_START, T_END) to FILE (ORDER: time or random).
time_entries_file() {
	local rows=$1 order=$2 t_start=$3 t_end=$4 file=$5 order_by="i"
	[ "$order" = random ] && order_by="md5(i::text)"
	sql -c "COPY (
	    SELECT i, 1 + (i * 7919) % 200, 1 + (i * 104729) % 5000, 1 + (i * 31337) % 20000,
	           '$t_start'::timestamptz
	             + (i - 1) * (('$t_end'::timestamptz - '$t_start'::timestamptz) / $rows),
	           5 + (i * 13) % 476, i % 5 <> 0, (60 + (i * 17) % 190)::numeric(10,2),
	           'entry ' || i % 997
	      FROM generate_series(1, $rows::bigint) AS i
	     ORDER BY $order_by) TO '$file'"
	cat "$file" >/dev/null # into the page cache, so that no load reads it cold
}
