#!/usr/bin/env bash
# The hook's cost in instructions, side by side: each stream of N statements runs in a
# single-user server under callgrind, without the library, with it (the DDL journal and the
# schema drift policy off: zero_downtime.journal_size = 0, zero_downtime.schema_drift = off), and
# with both on (the journal, zero_downtime.schema_drift = refuse, the statements run by the schema
# role).  A statement's cost is the difference between a stream of 2N statements and one of N,
# divided by N: the library's load, the setup and every other one-time cost cancel exactly (an
# empty run subtracted instead left one-time differences of a few hundred instructions a
# statement between configurations).
# Instruction counts are exact and repeat to the last digit, where wall-clock ratios on this
# 2-core VM move by several percent from run to run (bench/overhead_bench.sh).  They count user
# space only: the journal's write() calls (two a DDL transaction) are kernel time they omit.
# (The setup runs as the superuser postgres, listed too.)
# Streams, all run as the role migrator (owner of the tables, the schema role):
#   utility  SET / SHOW / RESET: no rule looks at them (the hook's fast path)
#   guarded  ALTER TABLE tiny ALTER COLUMN v SET DEFAULT n: gathered, decided, lock capped
#   comment  COMMENT ON TABLE tiny IS 'n': a cheap DDL no rule looks at (journaled, not gathered)
#   dml      UPDATE t SET v = v + 1 WHERE id = n: the executor hook's check
# Usage, as root: bash bench/instructions_bench.sh [N]     Results: bench/results/instructions.md
# PG_CONFIG=...: build, install into and run that installation instead of Debian's 15 (then
# scripts/install-deps.sh is not run).
set -euo pipefail

n=${1:-2000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
[ -n "${PG_CONFIG:-}" ] || bash "$repo/scripts/install-deps.sh"
make -C "$repo" -s PG_CONFIG="$pg_config" >/dev/null
make -C "$repo" -s PG_CONFIG="$pg_config" install >/dev/null
source "$repo/bench/lib.sh"
trap 'rm -rf "$work"' EXIT

setup="CREATE ROLE migrator; CREATE TABLE tiny (id int, v int); CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;
ALTER TABLE tiny OWNER TO migrator; ALTER TABLE t OWNER TO migrator; SET ROLE migrator;"
# stream NAME COUNT STATEMENT-MAKER: the setup, then COUNT statements.
stream() {
  { echo "$setup"; for i in $(seq 1 "$2"); do "$3" "$i"; done; } >"$work/$1-$2.sql"
}
utility() { echo "SET application_name = 'bench';"; }
guarded() { echo "ALTER TABLE tiny ALTER COLUMN v SET DEFAULT $1;"; }
comment() { echo "COMMENT ON TABLE tiny IS 'comment $1';"; }
dml() { echo "UPDATE t SET v = v + 1 WHERE id = $(( $1 % 1000 + 1 ));"; }
for s in utility guarded comment dml; do
  stream "$s" "$n" "$s"
  stream "$s" "$((2 * n))" "$s"
done
chown postgres: "$work"/*.sql

# (The same settings named both ways: PostgreSQL's own SET costs more with more of them set.)
off=(-c shared_preload_libraries=zero_downtime -c zero_downtime.journal_size=0
     -c zero_downtime.schema_roles=migrator,postgres -c zero_downtime.schema_drift=off)
on=(-c shared_preload_libraries=zero_downtime -c zero_downtime.journal_size=16MB
    -c zero_downtime.schema_roles=migrator,postgres -c zero_downtime.schema_drift=refuse)

# instructions FILE [SETTINGS...]: the total callgrind count for that stream file.
instructions() {
  local data="$work/data" file=$1
  shift
  rm -rf "$data"
  as_pg "$bindir/initdb" -D "$data" >/dev/null 2>&1
  as_pg valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bindir/postgres" --single \
    -D "$data" "$@" -c synchronous_commit=off postgres <"$work/$file.sql" \
    >/dev/null 2>"$work/cg.err"
  grep -oE "Collected : [0-9]+" "$work/cg.err" | grep -oE "[0-9]+"
}

# per_statement STREAM [SETTINGS...]: instructions a statement (2N minus N, over N).
per_statement() {
  local stream=$1 short long
  shift
  short=$(instructions "$stream-$n" "$@")
  long=$(instructions "$stream-$((2 * n))" "$@")
  echo $(( (long - short) / n ))
}

out="$repo/bench/results/instructions.md"
{
  echo "# Hook overhead in instructions"
  echo
  echo "Command: \`bash bench/instructions_bench.sh $n\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version))."
  echo "Single-user server under callgrind, $n statements a stream run by the schema role, without"
  echo "the library, with it (journal and schema drift policy off), and with both on (journal,"
  echo "\`schema_drift = refuse\`); a statement's cost: (a stream of $((2 * n)) minus one of $n) / $n."
  echo "User-space instructions: the journal's two write() calls a DDL transaction are kernel time"
  echo "not counted here."
  echo
  echo "| stream | plain | zero_downtime | ratio | + journal and policy | ratio to zero_downtime |"
  echo "|---|---|---|---|---|---|"
  for stream in utility guarded comment dml; do
    plain=$(per_statement "$stream")
    zoff=$(per_statement "$stream" "${off[@]}")
    zon=$(per_statement "$stream" "${on[@]}")
    awk -v s="$stream" -v a="$plain" -v b="$zoff" -v c="$zon" \
      'BEGIN { printf "| %s | %d | %d | %.4f | %d | %.4f |\n", s, a, b, b / a, c, c / b }'
  done
} >"$out"
cat "$out"
