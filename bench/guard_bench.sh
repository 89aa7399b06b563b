#!/usr/bin/env bash
# Benchmark of the guard, plain PostgreSQL and zero_downtime side by side in one run, on a table
# of ROWS rows (default 3,000,000) under an application load (pgbench, 2 clients at 200
# transactions per second, each reading and updating one random row).
#
#   1. CREATE INDEX during the load.
#   2. ALTER TABLE ... ADD COLUMN behind a 4-second transaction that holds a lock (the queue).
#   3. ALTER COLUMN ... SET NOT NULL on the whole table.
#   For each, plain (zero_downtime.mode = off for the DDL session) then guarded (enforce):
#   the application's p99 and max latency while the DDL runs, application errors, DDL time.
# (The hook's overhead on cheap statements and plain DML: bench/overhead_bench.sh.)
#
# Usage, as root: bash bench/guard_bench.sh [ROWS]     Results: bench/results/guard.md
#   (PG_CONFIG: the server, Debian's 15 by default; zero_downtime is installed into it.
#    ZD_BENCH_PER_MAJOR=1: results in guard-pgMAJOR.md, for majors side by side)
set -euo pipefail

rows=${1:-3000000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  # The data directory takes GBs; the logs stay in $work.
  rm -rf "$work/data"
}
trap cleanup EXIT

start_bench_server "zero_downtime.lock_timeout = '200ms'
zero_downtime.lock_retries = 50
zero_downtime.lock_retry_budget = '60s'"

echo "== loading $rows rows"
psql -c "CREATE EXTENSION zero_downtime" \
     -c "CREATE TABLE bench_t (id int PRIMARY KEY, v int, payload text)" \
     -c "INSERT INTO bench_t SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $rows) g" \
     -c "VACUUM ANALYZE bench_t"
size=$(psql -At -c "SELECT pg_size_pretty(pg_relation_size('bench_t'))")
cat >"$work/app.sql" <<SQL
\set id random(1, $rows)
BEGIN;
SELECT v FROM bench_t WHERE id = :id;
UPDATE bench_t SET v = v + 1 WHERE id = :id;
END;
SQL
chown postgres: "$work/app.sql"

# run_scenario NAME MODE DDL [BLOCKER]: the load for 16 s; BLOCKER at 2 s, DDL at 2.5 s.
# Prints: name mode ddl_seconds p99_ms max_ms errors transactions
run_scenario() {
  local name=$1 mode=$2 ddl=$3 blocker=${4:-} prefix="$work/log_${1}_${2}"
  rm -f "$prefix".*
  # Start each scenario with nothing left to write, so that writeback of the previous one's
  # dirty pages does not land in this one (in the backfill benchmark it stalled the application
  # 60-300 ms, whatever ran then).
  psql -c "CHECKPOINT" >/dev/null && sync
  (cd "$work" && pgbench -n -f app.sql -c 2 -j 2 -R 200 -T 16 -l --log-prefix="$prefix" \
     >"$prefix.out" 2>&1) &
  local load=$!
  sleep 2
  [ -n "$blocker" ] && { psql -c "$blocker" >/dev/null 2>&1 & }
  sleep 0.5
  local start end status=0
  start=$(now_ms)
  psql -c "SET zero_downtime.mode = $mode" -c "$ddl" >"$prefix.ddl" 2>&1 || status=$?
  end=$(now_ms)
  wait $load || true
  latency_window "$prefix" "$start" "$end" >"$prefix.window"
  local p99 max errors txs
  read -r p99 max < <(p99_max "$prefix.window")
  errors=$(grep -cE "aborted|ERROR" "$prefix.out" || true)
  txs=$(grep -oE "number of transactions actually processed: [0-9]+" "$prefix.out" | grep -oE "[0-9]+$")
  local ddl_s
  ddl_s=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1000 }')
  [ "$status" -ne 0 ] && ddl_s="failed"
  echo "$name $mode $ddl_s $p99 $max $errors $txs"
}

results="$work/results.txt"
: >"$results"
blocker="BEGIN; SELECT count(*) FROM bench_t WHERE id = 1; SELECT pg_sleep(4); COMMIT;"
for mode in off enforce; do
  echo "== CREATE INDEX, mode $mode"
  run_scenario create_index "$mode" "CREATE INDEX bench_v ON bench_t (v)" | tee -a "$results"
  psql -c "SET zero_downtime.mode = off" -c "DROP INDEX bench_v"
  echo "== ADD COLUMN behind a 4 s transaction, mode $mode"
  run_scenario add_column_queued "$mode" "ALTER TABLE bench_t ADD COLUMN note text" "$blocker" |
    tee -a "$results"
  psql -c "SET zero_downtime.mode = off" -c "ALTER TABLE bench_t DROP COLUMN note"
  echo "== SET NOT NULL, mode $mode"
  run_scenario set_not_null "$mode" "ALTER TABLE bench_t ALTER COLUMN v SET NOT NULL" |
    tee -a "$results"
  psql -c "SET zero_downtime.mode = off" -c "ALTER TABLE bench_t ALTER COLUMN v DROP NOT NULL"
done

out=$(result_file guard)
mkdir -p "$(dirname "$out")"
{
  echo "# Guard benchmark"
  echo
  echo "Command: \`bash bench/guard_bench.sh $rows\` ($(date -u +%Y-%m-%d), PostgreSQL $(psql -At -c 'SHOW server_version'), $(nproc) cores)."
  echo "Table: $rows rows, $size. Application: pgbench, 2 clients, 200 transactions/s, each"
  echo "reading and updating one random row. Latency is pgbench's, measured from each"
  echo "transaction's scheduled start, over the transactions that overlap the DDL."
  echo "zero_downtime.lock_timeout = 200ms. 'plain' runs the DDL with zero_downtime.mode = off."
  echo
  echo "| scenario | mode | DDL time (s) | app p99 (ms) | app max (ms) | app errors | app transactions |"
  echo "|---|---|---|---|---|---|---|"
  awk '{ m = ($2 == "off") ? "plain" : "guard"; printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, m, $3, $4, $5, $6, $7 }' "$results"
  echo
  echo "Ratios, guard / plain:"
  echo
  echo "| scenario | app max latency | DDL time |"
  echo "|---|---|---|"
  awk '{ k = $1; if ($2 == "off") { pm[k] = $5; pd[k] = $3 } else { gm[k] = $5; gd[k] = $3 } }
       END { for (k in pm) printf "| %s | %.3f | %.2f |\n", k, gm[k] / pm[k], gd[k] / pd[k] }' "$results" | sort
  echo
  echo "Hook overhead on cheap statements and plain DML: bench/overhead_bench.sh,"
  echo "results in bench/results/overhead.md."
} >"$out"
cat "$out"
