#!/usr/bin/env bash
# The hook's cost in instructions, side by side: each stream runs in a single-user server under
# callgrind, without the library, with it (the DDL journal and the schema drift policy off:
# zero_downtime.journal_size = 0, zero_downtime.schema_drift = off), and with both on (the
# journal, zero_downtime.schema_drift = refuse; the statements are the schema role's).
# Instruction counts are exact and repeat to the last digit, where wall-clock ratios on this
# 2-core VM move by several percent from run to run (bench/overhead_bench.sh).  A stream's cost
# a statement is the difference between N and 2N statements, divided by N: what one more
# statement of a long stream costs.  What is paid once (loading the library, the first guarded
# statement filling caches) drops out of it and is reported on its own.  They count user space
# only: the kernel's work for the journal (the staging file's page faults, one write() a full
# slot) is not counted here; bench/journal_bench.sh measures CPU time with it.
# Streams, run as the role migrator (owner of the tables, the schema role; the setup runs as the
# superuser postgres, listed too):
#   utility  SET / SHOW / RESET: no rule looks at them (the hook's fast path)
#   guarded  ALTER TABLE tiny ALTER COLUMN v SET DEFAULT n: gathered, decided, lock capped
#   comment  COMMENT ON TABLE tiny IS 'n': a cheap DDL no rule looks at (journaled, not gathered)
#   dml      UPDATE t SET v = v + 1 WHERE id = n: the executor hook's check
#   insert   INSERT INTO t2 VALUES (n, 0): the executor hooks (the sync trigger's column record)
# Usage, as root: bash bench/instructions_bench.sh [N]     Results: bench/results/instructions.md
# PG_CONFIG=...: build, install into and run that installation instead of Debian's 15 (then
# scripts/install-deps.sh is not run).
set -euo pipefail

n=${1:-2000}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
trap '[ ! -f "$work/cdata/postmaster.pid" ] ||
      as_pg "$bindir/pg_ctl" -D "$work/cdata" -m immediate stop >/dev/null 2>&1 || true
      rm -rf "$work"' EXIT

setup='CREATE ROLE migrator; CREATE TABLE tiny (id int, v int); CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g; CREATE TABLE t2 (id int PRIMARY KEY, v int);
ALTER TABLE tiny OWNER TO migrator; ALTER TABLE t OWNER TO migrator; ALTER TABLE t2 OWNER TO migrator;
SET ROLE migrator;'
# stream NAME COUNT: the setup, then COUNT statements of that stream, in $work/NAME.COUNT.sql.
stream() {
  local f="$work/$1.$2.sql" i
  {
    echo "$setup"
    for i in $(seq 1 "$2"); do
      case $1 in
        utility) echo "SET application_name = 'bench';" ;;
        guarded) echo "ALTER TABLE tiny ALTER COLUMN v SET DEFAULT $i;" ;;
        comment) echo "COMMENT ON TABLE tiny IS 'comment $i';" ;;
        dml) echo "UPDATE t SET v = v + 1 WHERE id = $(( i % 1000 + 1 ));" ;;
        insert) echo "INSERT INTO t2 VALUES ($i, 0);" ;;
      esac
    done
  } >"$f"
  chown postgres: "$f"
}

# The same settings named in both configurations with the library (PostgreSQL's own SET costs
# more with more of them set).
off=(-c shared_preload_libraries=zero_downtime -c zero_downtime.journal_size=0
     -c zero_downtime.schema_roles=migrator,postgres -c zero_downtime.schema_drift=off)
on=(-c shared_preload_libraries=zero_downtime -c zero_downtime.journal_size=16MB
    -c zero_downtime.schema_roles=migrator,postgres -c zero_downtime.schema_drift=refuse)

# instructions FILE [SETTINGS...]: the total callgrind count for that file.
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

# ---- over a connection --------------------------------------------------------------------
# A server under callgrind (its backends are forks: each writes its own count when it exits),
# one pgbench connection a run.
cg_server() {
  as_pg "$bindir/initdb" -D "$work/cdata" -A trust >/dev/null 2>&1
  cat >>"$work/cdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
autovacuum = off
shared_preload_libraries = 'zero_downtime'
zero_downtime.schema_roles = 'migrator,postgres'
synchronous_commit = off
CONF
  as_pg bash -c "valgrind --tool=callgrind --callgrind-out-file='$work/cgc.%p' '$bindir/postgres' \
    -D '$work/cdata' >'$work/cserver.log' 2>&1 &"
  local i
  for i in $(seq 1 180); do as_pg "$bindir/pg_isready" -h "$work" -q && return; sleep 1; done
  echo "the server under callgrind did not start" >&2
  exit 1
}
cg_side() {  # cg_side on|off
  local size=0 mode=off
  [ "$1" = on ] && size="'16MB'" && mode=refuse
  psql -c "ALTER SYSTEM SET zero_downtime.journal_size = $size" \
    -c "ALTER SYSTEM SET zero_downtime.schema_drift = $mode" -c 'SELECT pg_reload_conf()' >/dev/null
  sleep 3  # (the reload read; psql's backend gone)
}
# cg_connection FILE COUNT: the instructions of the backend that ran COUNT transactions of FILE.
cg_connection() {
  local before after file
  # (The table as it was before every run: an UPDATE's cost grows with the dead rows the runs
  # before left, which would count against whichever side runs later.)
  psql -c 'VACUUM FULL t' -c 'CHECKPOINT' >/dev/null
  sleep 2
  before=$(ls "$work"/cgc.* | sort)
  pgbench -n -M simple -U migrator --random-seed=1 -c 1 -t "$2" -f "$work/$1" postgres \
    >/dev/null 2>&1
  sleep 4  # (its backend exits and writes its count)
  after=$(ls "$work"/cgc.* | sort)
  file=$(comm -13 <(echo "$before") <(echo "$after") | tail -1)
  grep -m1 -oE "^(summary|totals): [0-9]+" "$file" | grep -oE "[0-9]+"
}
connection_rows() {
  cg_server
  { echo "$setup"; echo 'RESET ROLE; ALTER ROLE migrator LOGIN;'; } | psql >/dev/null
  echo "COMMENT ON TABLE tiny IS 'a comment';" >"$work/comment.pgbench"
  printf '%s\n' '\set id random(1, 1000)' 'UPDATE t SET v = v + 1 WHERE id = :id;' >"$work/dml.pgbench"
  chown postgres: "$work"/*.pgbench
  local s side a b z j
  for s in comment dml; do
    for side in off on; do
      cg_side "$side"
      a=$(cg_connection "$s.pgbench" "$n")
      b=$(cg_connection "$s.pgbench" "$((2 * n))")
      if [ "$side" = off ]; then z=$(( (b - a) / n )); else j=$(( (b - a) / n )); fi
    done
    awk -v s="$s" -v z="$z" -v j="$j" 'BEGIN { printf "| %s | %d | %d | %.4f |\n", s, z, j, j / z }'
  done
  as_pg "$bindir/pg_ctl" -D "$work/cdata" -m fast -w stop >/dev/null 2>&1 || true
}

out="$repo/bench/results/instructions.md"
{
  echo "# Hook overhead in instructions"
  echo
  echo "Command: \`bash bench/instructions_bench.sh $n\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version))."
  echo "Single-user server under callgrind, without the library, with it (the DDL journal and the"
  echo "schema drift policy off), and with both on (\`schema_drift = refuse\`, the statements the"
  echo "schema role's). A statement's cost is (instructions of $((2 * n)) statements - instructions of"
  echo "$n) / $n: one more statement of a long stream. \"once\": what the library adds that does not"
  echo "grow with the stream (loading it, the first statement's caches), in thousands of"
  echo "instructions. User space only: the kernel's part of the journal (the staging file's page"
  echo "faults, one write() a full slot of records) is not counted here (bench/journal_bench.sh)."
  echo
  echo "| stream | plain | zero_downtime | ratio | once (k) | + journal and policy | ratio to zero_downtime |"
  echo "|---|---|---|---|---|---|---|"
  for s in utility guarded comment dml insert; do
    stream "$s" "$n"
    stream "$s" "$((2 * n))"
    p1=$(instructions "$s.$n")
    p2=$(instructions "$s.$((2 * n))")
    z1=$(instructions "$s.$n" "${off[@]}")
    z2=$(instructions "$s.$((2 * n))" "${off[@]}")
    j1=$(instructions "$s.$n" "${on[@]}")
    j2=$(instructions "$s.$((2 * n))" "${on[@]}")
    awk -v s="$s" -v p1="$p1" -v p2="$p2" -v z1="$z1" -v z2="$z2" -v j1="$j1" -v j2="$j2" -v n="$n" \
      'BEGIN { a = (p2 - p1) / n; b = (z2 - z1) / n; c = (j2 - j1) / n;
               once = (z1 - n * b) - (p1 - n * a);
               printf "| %s | %.0f | %.0f | %.4f | %.0f | %.0f | %.4f |\n", s, a, b, b / a,
                      once / 1000, c, c / b }'
  done
  echo
  echo "Over a connection: the same COMMENT and UPDATE streams as an application sends them (pgbench,"
  echo "one client, simple protocol, a fixed random seed), the server under callgrind with the library"
  echo "loaded, the journal and the policy off, then on (ALTER SYSTEM, reload); a statement's cost is"
  echo "(instructions of the backend that ran $((2 * n)) - of the one that ran $n) / $n. The protocol's"
  echo "work is in both; the kernel's (the socket) in neither."
  echo
  echo "| stream over a connection | zero_downtime | + journal and policy | ratio |"
  echo "|---|---|---|---|"
  connection_rows
} >"$out"
cat "$out"
