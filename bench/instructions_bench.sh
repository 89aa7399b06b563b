#!/usr/bin/env bash
# The hook's cost in instructions, side by side: each stream runs in a single-user server under
# callgrind, once with zero_downtime preloaded and once without.  Instruction counts are exact
# and repeat to the last digit, where wall-clock ratios on this 2-core VM move by several
# percent from run to run (bench/overhead_bench.sh).  A stream's cost a statement is the
# difference between N and 2N statements, divided by N: what one more statement of a long
# stream costs.  What is paid once (loading the library, the first guarded statement filling
# caches) drops out of it and is reported on its own.  Streams:
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
# stream NAME COUNT: the setup, then COUNT statements of that stream, in $work/NAME.COUNT.sql.
stream() {
  local f="$work/$1.$2.sql" i
  {
    echo "$setup"
    for i in $(seq 1 "$2"); do
      case $1 in
        utility) echo "SET application_name = 'bench';" ;;
        guarded) echo "ALTER TABLE tiny ALTER COLUMN v SET DEFAULT $i;" ;;
        dml) echo "UPDATE t SET v = v + 1 WHERE id = $(( i % 1000 + 1 ));" ;;
      esac
    done
  } >"$f"
  chown postgres: "$f"
}

# instructions FILE LIBRARY: the total callgrind count for that file ("" or the library).
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

out="$repo/bench/results/instructions.md"
{
  echo "# Hook overhead in instructions"
  echo
  echo "Command: \`bash bench/instructions_bench.sh $n\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version))."
  echo "Single-user server under callgrind, with the library preloaded and without. A statement's"
  echo "cost is (instructions of $((2 * n)) statements - instructions of $n) / $n: one more statement of a"
  echo "long stream. \"once\": what the library adds that does not grow with the stream (loading it,"
  echo "the first statement's caches), in thousands of instructions."
  echo
  echo "| stream | instructions a statement, plain | with zero_downtime | ratio | once (k) |"
  echo "|---|---|---|---|---|"
  for s in utility guarded dml; do
    stream "$s" "$n"
    stream "$s" "$((2 * n))"
    p1=$(instructions "$s.$n" "")
    p2=$(instructions "$s.$((2 * n))" "")
    z1=$(instructions "$s.$n" zero_downtime)
    z2=$(instructions "$s.$((2 * n))" zero_downtime)
    awk -v s="$s" -v p1="$p1" -v p2="$p2" -v z1="$z1" -v z2="$z2" -v n="$n" \
      'BEGIN { a = (p2 - p1) / n; b = (z2 - z1) / n;
               once = (z1 - n * b) - (p1 - n * a);
               printf "| %s | %.0f | %.0f | %.4f | %.0f |\n", s, a, b, b / a, once / 1000 }'
  done
} >"$out"
cat "$out"
