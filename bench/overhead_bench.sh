#!/usr/bin/env bash
# The hook's overhead, side by side: two fresh clusters from the same binaries, identical but
# for shared_preload_libraries (zero_downtime preloaded, mode enforce, in one), both running.
# Single-client pgbench runs (SECONDS each, default 3) of each stream on both clusters back to
# back (alternating which goes first); ROUNDS rounds (default 12); the median of the paired
# ratios.  Both servers run on one core and pgbench on the other (taskset), so that the
# scheduler moving them around does not add to the noise of this small VM.
#   utility   SET / SHOW / RESET: no rule looks at them (the hook's fast path)
#   guarded   ALTER TABLE tiny ... SET DEFAULT: gathered, decided, lock capped
#   select    pgbench -S: plain SELECT (no hook of ours runs)
#   dml       pgbench -N: UPDATE, SELECT, INSERT (the executor hook's check)
# and the guarded stream once more on one cluster, zero_downtime.mode = off against enforce.
# synchronous_commit = off on both: the hook costs CPU, never a WAL flush, and fsync times
# vary more between two clusters than the effect measured.
#
# Usage, as root: bash bench/overhead_bench.sh [ROUNDS] [SECONDS]
# Results: bench/results/overhead.md
set -euo pipefail

rounds=${1:-12}
seconds=${2:-3}
server_cpu=() client_cpu=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server_cpu=(taskset -c 1) client_cpu=(taskset -c 0)
fi
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
cleanup() {
  for side in none zero_downtime; do
    as_pg "$bindir/pg_ctl" -D "$work/ovh_$side" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work/ovh_none" "$work/ovh_zero_downtime"
}
trap cleanup EXIT

for side in none zero_downtime; do
  as_pg "$bindir/initdb" -D "$work/ovh_$side" -A trust >/dev/null
  mkdir -p "$work/sock_$side" && chown postgres: "$work/sock_$side"
  cat >>"$work/ovh_$side/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work/sock_$side'
shared_buffers = '256MB'
autovacuum = off
synchronous_commit = off
CONF
  [ "$side" = zero_downtime ] &&
    echo "shared_preload_libraries = 'zero_downtime'" >>"$work/ovh_$side/postgresql.conf"
  as_pg "${server_cpu[@]}" "$bindir/pg_ctl" -D "$work/ovh_$side" -l "$work/ovh_$side.log" -w start \
    >/dev/null
  as_pg "$bindir/psql" -X -q -h "$work/sock_$side" -d postgres -c "CREATE TABLE tiny (c int)"
  as_pg "$bindir/pgbench" -h "$work/sock_$side" -i -q -s 5 postgres >/dev/null 2>&1
done
cat >"$work/utility.sql" <<'SQL'
SET application_name = 'bench';
SHOW work_mem;
RESET application_name;
SQL
cat >"$work/guarded.sql" <<'SQL'
ALTER TABLE tiny ALTER COLUMN c SET DEFAULT 1;
SQL
chown postgres: "$work"/*.sql

tps() {  # tps SIDE ARGS...: transactions per second of a single-client run
  # SIDE: none, zero_downtime, or zd_off (the zero_downtime cluster, zero_downtime.mode = off)
  local side=$1 cluster=$1 mode=""; shift
  [ "$side" = zd_off ] && { cluster=zero_downtime; mode="-c zero_downtime.mode=off"; }
  (cd "$work" && as_pg env PGOPTIONS="$mode" "${client_cpu[@]}" "$bindir/pgbench" \
     -h "$work/sock_$cluster" -n -c 1 -T "$seconds" "$@" postgres 2>/dev/null) |
    grep -oE "tps = [0-9.]+" | grep -oE "[0-9.]+"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A samples
pair() {  # pair KEY BASE_SIDE GUARD_SIDE ARGS...
  local key=$1 base=$2 guard=$3 a b; shift 3
  if [ $((round % 2)) -eq 1 ]; then a=$(tps "$base" "$@"); b=$(tps "$guard" "$@")
  else b=$(tps "$guard" "$@"); a=$(tps "$base" "$@"); fi
  samples[${key}_base]+="$a "
  samples[${key}_guard]+="$b "
  samples[${key}_ratio]+="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.4f", b / a }') "
}
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds"
  pair utility none zero_downtime -f utility.sql
  pair guarded none zero_downtime -f guarded.sql
  pair guarded_mode zd_off zero_downtime -f guarded.sql
  pair select none zero_downtime -S
  pair dml none zero_downtime -N
done

row() {  # row LABEL KEY
  local base guard ratio
  base=$(tr ' ' '\n' <<<"${samples[$2_base]}" | grep . | median)
  guard=$(tr ' ' '\n' <<<"${samples[$2_guard]}" | grep . | median)
  ratio=$(tr ' ' '\n' <<<"${samples[$2_ratio]}" | grep . | median)
  awk -v l="$1" -v a="$base" -v b="$guard" -v r="$ratio" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.3f |\n", l, a, b, r }'
}
out="$repo/bench/results/overhead.md"
mkdir -p "$(dirname "$out")"
{
  echo "# Hook overhead"
  echo
  echo "Command: \`bash bench/overhead_bench.sh $rounds $seconds\` ($(date -u +%Y-%m-%d), PostgreSQL"
  echo "$(as_pg "$bindir/psql" -X -At -h "$work/sock_none" -d postgres -c 'SHOW server_version'), $(nproc) cores)."
  echo "Two clusters identical but for shared_preload_libraries, synchronous_commit = off;"
  echo "single-client $seconds s runs (servers on one core, pgbench on the other), each stream"
  echo "on both back to back (alternating which goes"
  echo "first), $rounds rounds: medians of transactions/s, and the median of the paired ratios"
  echo "(loaded / not loaded: 1.000 is no cost, 0.990 is 1 % slower)."
  echo
  echo "| statements | library not loaded | loaded (enforce) | ratio |"
  echo "|---|---|---|---|"
  row "SET / SHOW / RESET (no rule looks at them)" utility
  row "ALTER TABLE tiny ... SET DEFAULT (gathered, decided, lock capped)" guarded
  row "pgbench -S (plain SELECT)" select
  row "pgbench -N (plain UPDATE / SELECT / INSERT: the executor hook)" dml
  echo
  echo "The ALTER stream on the cluster with the library, zero_downtime.mode = off against"
  echo "enforce:"
  echo
  echo "| statements | mode = off | enforce | ratio |"
  echo "|---|---|---|---|"
  row "ALTER TABLE tiny ... SET DEFAULT" guarded_mode
} >"$out"
cat "$out"
