#!/usr/bin/env bash
# The hook's cost in instructions, side by side: each stream of N statements runs in a
# single-user server under callgrind, once with zero_downtime preloaded and once without; the
# cost of loading the library (an empty run each way) is subtracted.  Instruction counts are
# exact and repeat to the last digit, where wall-clock ratios on this 2-core VM move by several
# percent from run to run (bench/overhead_bench.sh).  Streams:
#   utility  SET / SHOW / RESET: no rule looks at them (the hook's fast path)
#   guarded  ALTER TABLE tiny ALTER COLUMN v SET DEFAULT n: gathered, decided, lock capped
#   dml      UPDATE t SET v = v + 1 WHERE id = n: the executor hook's check
# Usage, as root: bash bench/instructions_bench.sh [N]     Results: bench/results/instructions.md
set -euo pipefail

n=${1:-2000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
make -C "$repo" -s >/dev/null && make -C "$repo" -s install >/dev/null
source "$repo/bench/lib.sh"
trap 'rm -rf "$work"' EXIT

setup='CREATE TABLE tiny (id int, v int); CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;'
{ echo "$setup"; for i in $(seq 1 "$n"); do echo "SET application_name = 'bench';"; done; } >"$work/utility.sql"
{ echo "$setup"; for i in $(seq 1 "$n"); do echo "ALTER TABLE tiny ALTER COLUMN v SET DEFAULT $i;"; done; } >"$work/guarded.sql"
{ echo "$setup"; for i in $(seq 1 "$n"); do echo "UPDATE t SET v = v + 1 WHERE id = $(( i % 1000 + 1 ));"; done; } >"$work/dml.sql"
echo "$setup" >"$work/empty.sql"
chown postgres: "$work"/*.sql

# instructions STREAM LIBRARY: the total callgrind counts for that stream ("" or the library).
instructions() {
  local data="$work/data"
  rm -rf "$data"
  as_pg "$bindir/initdb" -D "$data" >/dev/null 2>&1
  local preload=()
  [ -n "$2" ] && preload=(-c "shared_preload_libraries=$2")
  as_pg valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bindir/postgres" --single \
    -D "$data" "${preload[@]}" -c synchronous_commit=off postgres <"$work/$1.sql" \
    >/dev/null 2>"$work/cg.err"
  grep -oE "Collected : [0-9]+" "$work/cg.err" | grep -oE "[0-9]+"
}

load_plain=$(instructions empty "")
load_zd=$(instructions empty zero_downtime)
out="$repo/bench/results/instructions.md"
{
  echo "# Hook overhead in instructions"
  echo
  echo "Command: \`bash bench/instructions_bench.sh $n\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version))."
  echo "Single-user server under callgrind, $n statements a stream, with the library preloaded"
  echo "and without; the library's load (an empty run each way, $(( (load_zd - load_plain) / 1000 ))k instructions) subtracted."
  echo
  echo "| stream | instructions a statement, plain | with zero_downtime | ratio |"
  echo "|---|---|---|---|"
  for stream in utility guarded dml; do
    plain=$(instructions "$stream" "")
    zd=$(instructions "$stream" zero_downtime)
    awk -v s="$stream" -v p="$plain" -v z="$zd" -v lp="$load_plain" -v lz="$load_zd" -v n="$n" \
      'BEGIN { a = (p - lp) / n; b = (z - lz) / n;
               printf "| %s | %.0f | %.0f | %.4f |\n", s, a, b, b / a }'
  done
} >"$out"
cat "$out"
