#!/usr/bin/env bash
# Issue 16 item 8 in instructions, side by side: what an expand/contract migration costs the
# application's writes (the sync trigger) and what watching its old column costs every other
# query (the usage tracking).  Each stream runs in a single-user server under callgrind with the
# library preloaded and the extension created; a statement's cost is (instructions of 2N
# statements - instructions of N) / N, as in bench/instructions_bench.sh (exact, repeatable to a
# few instructions where wall-clock ratios on this VM move by several percent:
# bench/expand_trigger_bench.sh).
#   Writes, one INSERT and one UPDATE of the old column v of a table (id, v integer, w bigint):
#     plain    no trigger
#     c        zd_expand_change_type(v -> bigint as w): zero_downtime's C sync trigger
#     plpgsql  an equivalent PL/pgSQL BEFORE trigger (pgroll's approach)
#   Tracking, a read and a write by primary key of another table (rw):
#     quiet    no migration in the database
#     active   one migration active on another table (its old column watched)
# Usage, as root: bash bench/expand_instructions_bench.sh [N]
# Results: bench/results/expand_instructions.md.  PG_CONFIG=...: that installation.
set -euo pipefail

n=${1:-2000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
trap 'rm -rf "$work"' EXIT

# Single-user mode reads one statement a line.
tables="CREATE EXTENSION zero_downtime;
CREATE TABLE t_plain (id bigserial PRIMARY KEY, v integer, w bigint);
CREATE TABLE t_c (id bigserial PRIMARY KEY, v integer);
CREATE TABLE t_plpgsql (id bigserial PRIMARY KEY, v integer, w bigint);
CREATE FUNCTION sync_plpgsql() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN IF TG_OP = 'INSERT' OR NEW.v IS DISTINCT FROM OLD.v THEN NEW.w := NEW.v::bigint; ELSIF NEW.w IS DISTINCT FROM OLD.w THEN NEW.v := NEW.w::integer; END IF; RETURN NEW; END \$\$;
CREATE TRIGGER sync BEFORE INSERT OR UPDATE ON t_plpgsql FOR EACH ROW EXECUTE FUNCTION sync_plpgsql();
CREATE TABLE t_other (id int PRIMARY KEY, v int);
INSERT INTO t_other SELECT g, 0 FROM generate_series(1, 1000) g;"
expand="SELECT zd_expand_change_type('t_c', 'v', 'bigint', 'v::bigint', 'v::integer', new_column => 'w');"
fill="INSERT INTO t_plain (v) SELECT g FROM generate_series(1, 1000) g;
INSERT INTO t_c (v) SELECT g FROM generate_series(1, 1000) g;
INSERT INTO t_plpgsql (v) SELECT g FROM generate_series(1, 1000) g;
VACUUM ANALYZE;"

# stream NAME COUNT: the setup, then COUNT rounds of that stream (two statements each).
stream() {
  local f="$work/$1.$2.sql" i k
  {
    echo "$tables"
    [ "$1" = rw_quiet ] || echo "$expand"
    echo "$fill"
    for i in $(seq 1 "$2"); do
      k=$(( i % 1000 + 1 ))
      case $1 in
        write_*)
          echo "INSERT INTO t_${1#write_} (v) VALUES ($i);"
          echo "UPDATE t_${1#write_} SET v = v + 1 WHERE id = $k;" ;;
        rw_*)
          echo "SELECT v FROM t_other WHERE id = $k;"
          echo "UPDATE t_other SET v = v + 1 WHERE id = $k;" ;;
      esac
    done
  } >"$f"
  chown postgres: "$f"
}

instructions() {
  local data="$work/data"
  rm -rf "$data"
  as_pg "$bindir/initdb" -D "$data" >/dev/null 2>&1
  as_pg valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bindir/postgres" --single \
    -D "$data" -c shared_preload_libraries=zero_downtime -c synchronous_commit=off postgres \
    <"$work/$1.sql" >"$work/out.log" 2>"$work/cg.err"
  if grep -q "ERROR" "$work/out.log"; then
    echo "stream $1 failed:" >&2; grep "ERROR" "$work/out.log" | head -3 >&2; exit 1
  fi
  grep -oE "Collected : [0-9]+" "$work/cg.err" | grep -oE "[0-9]+"
}

# cost NAME: one round's instructions, (2N - N) / N.
cost() {
  stream "$1" "$n"
  stream "$1" "$((2 * n))"
  local a b
  a=$(instructions "$1.$n")
  b=$(instructions "$1.$((2 * n))")
  echo $(( (b - a) / n ))
}

declare -A c
for s in write_plain write_c write_plpgsql rw_quiet rw_active; do c[$s]=$(cost "$s"); done

out="$repo/bench/results/expand_instructions.md"
{
  echo "# Expand/contract's cost in instructions"
  echo
  echo "Command: \`bash bench/expand_instructions_bench.sh $n\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version))."
  echo "Single-user server under callgrind, the library preloaded, the extension created; one round"
  echo "is two statements; its cost is (instructions of $((2 * n)) rounds - of $n) / $n."
  echo
  echo "| stream | instructions a round | ratio |"
  echo "|---|---|---|"
  awk -v p="${c[write_plain]}" -v cc="${c[write_c]}" -v pl="${c[write_plpgsql]}" \
      -v q="${c[rw_quiet]}" -v a="${c[rw_active]}" 'BEGIN {
    printf "| INSERT + UPDATE of the old column, no trigger | %d | 1 |\n", p
    printf "| the same, zero_downtime C sync trigger | %d | %.3f |\n", cc, cc / p
    printf "| the same, equivalent PL/pgSQL trigger | %d | %.3f |\n", pl, pl / p
    printf "| SELECT + UPDATE by key of another table, no migration | %d | 1 |\n", q
    printf "| the same, one migration active on another table | %d | %.4f |\n", a, a / q }'
} >"$out"
cat "$out"
