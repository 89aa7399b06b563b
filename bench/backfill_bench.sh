#!/usr/bin/env bash
# Benchmark of zd_backfill beside the usual ways to fill a new column, in one run, on a table of
# ROWS rows (default 5,000,000): b = a * 2 for every row where b IS NULL.
#
#   under load: an application (pgbench, 2 clients, 200 transactions/s, each reading one
#   random row and updating another column of it) runs throughout, and
#     one_update     a single UPDATE of the whole table
#     plpgsql_loop   a DO block: 10,000-row key ranges, COMMIT after each
#     client_loop    the same batches sent one by one from a client (psql), each autocommitted
#     zd_backfill    CALL zd_backfill('bf', 'b = a * 2', 'b IS NULL'), defaults
#   idle: one_update and zd_backfill with nothing else running.
# Each method gets a fresh copy of the same table (same layout, primary key, vacuumed).
# Reported: wall time, the application's p99 and max latency over the method's run, its errors,
# rows wrong afterwards (b IS DISTINCT FROM a * 2), and a latency-over-time plot.
#
# Usage, as root: bash bench/backfill_bench.sh [ROWS]
#   (ZD_BENCH_LOAD_METHODS / ZD_BENCH_IDLE_METHODS: a subset, results printed, no report;
#    ZD_BENCH_PAIRS: repeated pairs, default 4; ZD_BENCH_ZD_ARGS: more arguments of the CALL,
#    e.g. ", target_batch_duration => '30ms'")
#   Results: bench/results/backfill.md and bench/results/backfill_latency.png
#   (PG_CONFIG: the server, Debian's 15 by default; zero_downtime is installed into it.
#    ZD_BENCH_PER_MAJOR=1: backfill-pgMAJOR.md and backfill_latency-pgMAJOR.png instead)
set -euo pipefail

rows=${1:-5000000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
command -v gnuplot >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends gnuplot-nox >/dev/null
# Stop the server and drop its data directory (GBs); the logs stay in $work.
trap 'as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
      rm -rf "$work/data"' EXIT
start_bench_server ""

echo "== loading $rows rows"
psql -c "CREATE EXTENSION zero_downtime" \
     -c "CREATE TABLE bf_template (id int, a int, b int, payload text)" \
     -c "INSERT INTO bf_template SELECT g, g % 100000, NULL, md5(g::text) FROM generate_series(1, $rows) g"

# A fresh copy, checkpointed, and the operating system's dirty pages written out: otherwise the
# writeback of the copy stalls the disk during whichever method runs next (measured here: the
# method run first after a load showed 60-300 ms application stalls, whichever it was).
fresh_table() {
  psql -c "SET zero_downtime.mode = off" -c "DROP TABLE IF EXISTS bf" \
       -c "CREATE TABLE bf AS SELECT * FROM bf_template" -c "ALTER TABLE bf ADD PRIMARY KEY (id)" \
       -c "VACUUM ANALYZE bf" -c "CHECKPOINT"
  sync
  sleep 2
}

cat >"$work/app.sql" <<SQL
\set id random(1, $rows)
\set other random(1, $rows)
SELECT a, b FROM bf WHERE id = :id;
UPDATE bf SET payload = md5(random()::text) WHERE id = :other;
SQL
cat >"$work/plpgsql_loop.sql" <<'SQL'
DO $$
DECLARE
  lo int := 1;
  hi int;
BEGIN
  SELECT max(id) INTO hi FROM bf;
  WHILE lo <= hi LOOP
    UPDATE bf SET b = a * 2 WHERE id >= lo AND id < lo + 10000 AND b IS NULL;
    COMMIT;
    lo := lo + 10000;
  END LOOP;
END $$;
SQL
for ((lo = 1; lo <= rows; lo += 10000)); do
  echo "UPDATE bf SET b = a * 2 WHERE id >= $lo AND id < $((lo + 10000)) AND b IS NULL;"
done >"$work/client_loop.sql"
echo "UPDATE bf SET b = a * 2 WHERE b IS NULL;" >"$work/one_update.sql"
echo "CALL zd_backfill('bf', 'b = a * 2', 'b IS NULL'${ZD_BENCH_ZD_ARGS:-});" >"$work/zd_backfill.sql"
chown postgres: "$work"/*.sql

# run_method METHOD LOAD(1|0) [REPEAT]: prints "method load wall_s p99_ms max_ms errors wrong_rows"
# (a REPEAT number: a repeated run, kept out of the plot)
run_method() {
  local method=$1 load=$2 repeat=${3:-} prefix="$work/log_${1}_${2}${3:+_r$3}" pid="" start end
  fresh_table >/dev/null
  rm -f "$prefix".*
  if [ "$load" = 1 ]; then
    (cd "$work" && pgbench -n -f app.sql -c 2 -j 2 -R 200 -T 600 -l --log-prefix="$prefix" \
       >"$prefix.out" 2>&1) &
    pid=$!
    sleep 2
  fi
  start=$(now_ms)
  psql -v ON_ERROR_STOP=1 -f "$work/$method.sql" >"$prefix.run" 2>&1
  end=$(now_ms)
  local p99=- max=- errors=-
  if [ -n "$pid" ]; then
    # pgbench buffers its log: let the lines of the window reach it, then stop it.  (SIGTERM:
    # a background job of a script ignores SIGINT.)
    sleep 3
    pkill -TERM -f "log-prefix=$prefix" || true
    wait "$pid" || true
    latency_window "$prefix" "$start" "$end" >"$prefix.window"
    read -r p99 max < <(p99_max "$prefix.window")
    errors=$(grep -cE "aborted|ERROR" "$prefix.out" || true)
    # Latency over time, seconds from the method's start, for the plot.
    [ -z "$repeat" ] && cat "$prefix".[0-9]* | awk -v s="$start" '{ t = $5 * 1000 + $6 / 1000 - s;
        if (t >= -1000) printf "%.3f %.3f\n", t / 1000, $3 / 1000 }' | sort -n >"$work/plot_$method.dat"
  fi
  local wrong
  wrong=$(psql -At -c "SELECT count(*) FROM bf WHERE b IS DISTINCT FROM a * 2")
  awk -v m="$method" -v l="$load" -v s="$start" -v e="$end" -v p="$p99" -v x="$max" -v r="$errors" -v w="$wrong" \
    'BEGIN { printf "%s %s %.2f %s %s %s %s\n", m, l ? "load" : "idle", (e - s) / 1000, p, x, r, w }'
}

results="$work/results.txt"
: >"$results"
for method in ${ZD_BENCH_LOAD_METHODS:-one_update plpgsql_loop client_loop zd_backfill}; do
  echo "== $method, under load"
  run_method "$method" 1 | tee -a "$results"
done
for method in ${ZD_BENCH_IDLE_METHODS:-one_update zd_backfill}; do
  echo "== $method, idle"
  run_method "$method" 0 | tee -a "$results"
done
[ -n "${ZD_BENCH_LOAD_METHODS:-}${ZD_BENCH_IDLE_METHODS:-}" ] && { cat "$results"; exit 0; }
# The two batched loops run within a few per cent of each other, and identical runs differ by
# up to 20 % on this machine (whole runs land in a slow mode, the loop's as well as ours): more
# pairs, under load (loop and zd_backfill) and idle (one UPDATE and zd_backfill), alternating
# which goes first; each ratio reported is the median over all pairs (the first ones above
# included).
repeats="$work/repeats.txt"
: >"$repeats"
for ((i = 1; i <= ${ZD_BENCH_PAIRS:-4}; i++)); do
  for load in 1 0; do
    other=plpgsql_loop; [ "$load" = 0 ] && other=one_update
    order="zd_backfill $other"; [ $((i % 2)) -eq 0 ] && order="$other zd_backfill"
    for method in $order; do
      echo "== $method, $([ "$load" = 1 ] && echo "under load" || echo idle), repeat $i"
      run_method "$method" "$load" "$i" | tee -a "$repeats"
    done
  done
done
# pair_ratios LOAD(load|idle) OTHER: zd_backfill / OTHER for each pair, one per line
pair_ratios() {
  cat "$results" "$repeats" | awk -v l="$1" -v o="$2" '$2 == l { n[$1]++; t[$1 "_" n[$1]] = $3 }
    END { for (i = 1; i <= n["zd_backfill"] && i <= n[o]; i++)
            printf "%.3f\n", t["zd_backfill_" i] / t[o "_" i] }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
load_ratios=$(pair_ratios load plpgsql_loop)
idle_ratios=$(pair_ratios idle one_update)
size=$(psql -At -c "SELECT pg_size_pretty(pg_relation_size('bf_template'))")

out=$(result_file backfill)
plot="$repo/bench/results/backfill_latency${ZD_BENCH_PER_MAJOR:+-pg$major}.png"
mkdir -p "$(dirname "$out")"
gnuplot <<GP
set terminal png size 1000,500 noenhanced
set output '$plot'
set title 'Application latency while filling b = a * 2 on $rows rows (pgbench, 2 clients, 200 tx/s)'
set xlabel 'seconds since the backfill started'
set ylabel 'transaction latency (ms, log scale)'
set logscale y
set key outside right
plot '$work/plot_one_update.dat' using 1:2 with points pt 7 ps 0.3 title 'one UPDATE', \
     '$work/plot_plpgsql_loop.dat' using 1:2 with points pt 7 ps 0.3 title 'PL/pgSQL loop', \
     '$work/plot_client_loop.dat' using 1:2 with points pt 7 ps 0.3 title 'client loop', \
     '$work/plot_zd_backfill.dat' using 1:2 with points pt 7 ps 0.3 title 'zd_backfill'
GP
{
  echo "# Backfill benchmark"
  echo
  echo "Command: \`bash bench/backfill_bench.sh $rows\` ($(date -u +%Y-%m-%d), PostgreSQL $(psql -At -c 'SHOW server_version'), $(nproc) cores)."
  echo "Table: $rows rows ($size), primary key on id; each method gets a fresh copy. Filling"
  echo "\`b = a * 2\` where \`b IS NULL\`. Under load, an application (pgbench, 2 clients, 200"
  echo "transactions/s) reads one random row and updates another column of another; its latency"
  echo "counts from each transaction's scheduled start, over the transactions overlapping the run."
  echo
  echo "| method | server | wall time (s) | app p99 (ms) | app max (ms) | app errors | rows wrong after |"
  echo "|---|---|---|---|---|---|---|"
  awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$results"
  echo
  echo "Repeated pairs, under load and idle (fresh copies, alternating which runs first):"
  echo
  echo "| method | server | wall time (s) | app p99 (ms) | app max (ms) | app errors | rows wrong after |"
  echo "|---|---|---|---|---|---|---|"
  awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$repeats"
  echo
  echo "Ratios:"
  echo
  echo "- zd_backfill / PL/pgSQL loop, wall time under load: median $(median <<<"$load_ratios") of the pairs ($(paste -sd ' ' <<<"$load_ratios" | sed 's/ /, /g'))"
  echo "- zd_backfill / one UPDATE, wall time on an idle server: median $(median <<<"$idle_ratios") of the pairs ($(paste -sd ' ' <<<"$idle_ratios" | sed 's/ /, /g'))"
  awk '{ t[$1 "_" $2] = $3; m[$1 "_" $2] = $5 }
       END {
         printf "- zd_backfill / client loop, wall time under load: %.2f\n", t["zd_backfill_load"] / t["client_loop_load"];
         printf "- zd_backfill / one UPDATE, application max latency under load: %.3f\n", m["zd_backfill_load"] / m["one_update_load"];
       }' "$results"
  echo
  echo "![latency over time]($(basename "$plot"))"
} >"$out"
cat "$out"
