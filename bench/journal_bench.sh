#!/usr/bin/env bash
# The DDL journal's cost in CPU time, kernel included (what bench/instructions_bench.sh cannot
# count: the staging file's page faults, the write() of a full slot), side by side, two ways.
# Single-user: each stream runs in a single-user server (no client, no network: the
# statement's own cost, the journal's share the largest it can be) from a copy of the same
# data directory, with zero_downtime preloaded and the same
# settings named, once with the journal and the schema drift policy off and once with both on
# (zero_downtime.journal_size = 16MB, schema_drift = refuse, the statements the schema role's),
# back to back, alternating which goes first; ROUNDS rounds (default 7).  Reported: the median
# of the paired ratios of the process's CPU time (user + system: what getrusage counts, the
# kernel's write() included), their range, and the median difference a statement in
# microseconds of CPU and of system time alone.  CPU time rather than wall clock: on a shared
# VM the wall clock of one run moves by tens of percent with what else runs (the elapsed time
# is reported too), the CPU a process uses much less.
#   comment   COMMENT ON TABLE tiny IS 'n': the cheapest DDL (journaled, not gathered)
#   guarded   ALTER TABLE tiny ALTER COLUMN v SET DEFAULT n: gathered, decided, lock capped
#   block     BEGIN; COMMENT ON TABLE ...; COMMIT: in a transaction block, two records
#   dml       UPDATE t SET v = v + 1 WHERE id = n: nothing to record
# Over a connection, as an application sends them: pgbench (one client, simple protocol, the
# Unix socket) against one running server whose settings switch between the sides (ALTER
# SYSTEM, reload), alternating; the backend's CPU time is what the postmaster's reaped
# children used (cutime + cstime in /proc/PID/stat, clock ticks; autovacuum off, so no other
# child exits during a run).  Servers run on the machine's last CPU, pgbench on its first.
#   comment-client   COMMENT ON TABLE tiny IS '...'
#   dml-client       UPDATE t SET v = v + 1 WHERE id = random
# Usage, as root: bash bench/journal_bench.sh [ROUNDS]     Results: bench/results/journal.md
# PG_CONFIG=...: build, install into and run that installation instead of Debian's 15 (then
# scripts/install-deps.sh is not run).
set -euo pipefail

rounds=${1:-7}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh" --install
trap 'rm -rf "$work"' EXIT

declare -A count=([comment]=100000 [guarded]=5000 [block]=50000 [dml]=50000
                  [comment-client]=100000 [dml-client]=100000)
setup='CREATE ROLE migrator; CREATE TABLE tiny (id int, v int); CREATE TABLE t (id int PRIMARY KEY, v int);
INSERT INTO t SELECT g, 0 FROM generate_series(1, 1000) g;
ALTER TABLE tiny OWNER TO migrator; ALTER TABLE t OWNER TO migrator;'
as_pg "$bindir/initdb" -D "$work/template" >/dev/null 2>&1
echo "$setup" | as_pg "$bindir/postgres" --single -D "$work/template" postgres >/dev/null
for s in "${!count[@]}"; do
  {
    echo "SET ROLE migrator;"
    for i in $(seq 1 "${count[$s]}"); do
      case $s in
        comment) echo "COMMENT ON TABLE tiny IS 'comment $i';" ;;
        guarded) echo "ALTER TABLE tiny ALTER COLUMN v SET DEFAULT $i;" ;;
        block) printf 'BEGIN;\nCOMMENT ON TABLE tiny IS %s;\nCOMMIT;\n' "'comment $i'" ;;
        dml) echo "UPDATE t SET v = v + 1 WHERE id = $(( i % 1000 + 1 ));" ;;
      esac
    done
  } >"$work/$s.sql"
done
chown postgres: "$work"/*.sql

common=(-c shared_preload_libraries=zero_downtime -c zero_downtime.schema_roles=migrator,postgres
        -c synchronous_commit=off)
off=("${common[@]}" -c zero_downtime.journal_size=0 -c zero_downtime.schema_drift=off)
on=("${common[@]}" -c zero_downtime.journal_size=16MB -c zero_downtime.schema_drift=refuse)

# run STREAM SIDE: "elapsed user system" seconds of one single-user run on a fresh copy.
run() {
  local data="$work/data" stream=$1 side=$2
  rm -rf "$data"
  cp -a "$work/template" "$data"
  if [ "$side" = on ]; then set -- "${on[@]}"; else set -- "${off[@]}"; fi
  # (getrusage of the child in microseconds: /usr/bin/time prints hundredths of a second)
  python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
with open(sys.argv[1]) as f:
    subprocess.run(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.6f %.6f %.6f" % (time.monotonic() - t, r.ru_utime, r.ru_stime))' \
    "$work/$stream.sql" runuser -u postgres -- taskset -c "$server_cpu" "$bindir/postgres" --single \
    -D "$data" "$@" postgres
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A ratio us sys_us wall
# Each side's server on the same CPU (the last one), the client on another (the first): the
# two CPUs of a VM need not run alike.
server_cpu=$(( $(nproc) - 1 ))
client_cpu=0
# record_pair STREAM OFF ON: one pair of runs ("elapsed user system" each) of the stream.
record_pair() {
  local s=$1 n=${count[$1]} ae au as be bu bs
  read -r ae au as <<<"$2"
  read -r be bu bs <<<"$3"
  ratio[$s]+="$(awk -v a="$au" -v b="$as" -v c="$bu" -v d="$bs" 'BEGIN { printf "%.4f", (c + d) / (a + b) }') "
  us[$s]+="$(awk -v a="$au" -v b="$as" -v c="$bu" -v d="$bs" -v n="$n" 'BEGIN { printf "%.3f", ((c + d) - (a + b)) * 1e6 / n }') "
  sys_us[$s]+="$(awk -v b="$as" -v d="$bs" -v n="$n" 'BEGIN { printf "%.3f", (d - b) * 1e6 / n }') "
  wall[$s]+="$(awk -v a="$ae" -v b="$be" 'BEGIN { printf "%.4f", b / a }') "
}
for round in $(seq 1 "$rounds"); do
  echo "== round $round of $rounds"
  for s in comment guarded block dml; do
    if [ $((round % 2)) -eq 1 ]; then a=$(run "$s" off); b=$(run "$s" on)
    else b=$(run "$s" on); a=$(run "$s" off); fi
    record_pair "$s" "$a" "$b"
  done
done

# ---- over a connection ----------------------------------------------------------------------
rm -rf "$work/data"
start_bench_server "zero_downtime.schema_roles = 'migrator,postgres'
synchronous_commit = off"
trap 'as_pg "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1; rm -rf "$work"' EXIT
{ echo "$setup"; echo 'ALTER ROLE migrator LOGIN;'; } | psql >/dev/null
echo "COMMENT ON TABLE tiny IS 'a comment';" >"$work/comment-client.sql"
printf '%s\n' '\set id random(1, 1000)' 'UPDATE t SET v = v + 1 WHERE id = :id;' >"$work/dml-client.sql"
chown postgres: "$work"/*.sql
postmaster=$(head -1 "$work/data/postmaster.pid")
taskset -p -c "$server_cpu" "$postmaster" >/dev/null  # (its backends, forked from now on, too)
ticks=$(getconf CLK_TCK)
children_cpu() { awk '{ print $16, $17 }' "/proc/$postmaster/stat"; }
switch_to() {
  if [ "$1" = on ]; then
    psql -c "ALTER SYSTEM SET zero_downtime.journal_size = '16MB'" \
      -c "ALTER SYSTEM SET zero_downtime.schema_drift = refuse" -c 'SELECT pg_reload_conf()'
  else
    psql -c "ALTER SYSTEM SET zero_downtime.journal_size = 0" \
      -c "ALTER SYSTEM SET zero_downtime.schema_drift = off" -c 'SELECT pg_reload_conf()'
  fi >/dev/null
  sleep 0.5  # (psql's backend reaped, the reload read)
}
# client_run STREAM SIDE: "elapsed user system" seconds of the stream's backend.
client_run() {
  local u0 s0 u1 s1 t0 t1
  switch_to "$2"
  read -r u0 s0 < <(children_cpu)
  t0=$(date +%s.%N)
  as_pg taskset -c "$client_cpu" "$bindir/pgbench" -h "$work" -n -M simple -U migrator -c 1 \
    -t "${count[$1]}" -f "$work/$1.sql" postgres >/dev/null
  t1=$(date +%s.%N)
  sleep 0.5
  read -r u1 s1 < <(children_cpu)
  awk -v t0="$t0" -v t1="$t1" -v u="$((u1 - u0))" -v s="$((s1 - s0))" -v k="$ticks" \
    'BEGIN { printf "%.6f %.6f %.6f", t1 - t0, u / k, s / k }'
}
for round in $(seq 1 "$rounds"); do
  echo "== over a connection: round $round of $rounds"
  for s in comment-client dml-client; do
    if [ $((round % 2)) -eq 1 ]; then a=$(client_run "$s" off); b=$(client_run "$s" on)
    else b=$(client_run "$s" on); a=$(client_run "$s" off); fi
    record_pair "$s" "$a" "$b"
  done
done

row() {  # row LABEL STREAM
  local s=$2 r range u y w
  r=$(tr ' ' '\n' <<<"${ratio[$s]}" | grep . | median)
  range=$(tr ' ' '\n' <<<"${ratio[$s]}" | grep . | sort -g | awk '{ a[NR] = $1 } END { printf "%.3f - %.3f", a[1], a[NR] }')
  u=$(tr ' ' '\n' <<<"${us[$s]}" | grep . | median)
  y=$(tr ' ' '\n' <<<"${sys_us[$s]}" | grep . | median)
  w=$(tr ' ' '\n' <<<"${wall[$s]}" | grep . | median)
  awk -v l="$1" -v n="${count[$s]}" -v r="$r" -v g="$range" -v u="$u" -v y="$y" -v w="$w" \
    'BEGIN { printf "| %s | %d | %.3f | %s | %+.2f | %+.2f | %.3f |\n", l, n, r, g, u, y, w }'
}
out="$repo/bench/results/journal.md"
mkdir -p "$(dirname "$out")"
{
  echo "# The DDL journal's cost in CPU time, kernel included"
  echo
  echo "Command: \`bash bench/journal_bench.sh $rounds\` ($(date -u +%Y-%m-%d), $("$bindir/postgres" --version), $(nproc) cores)."
  echo "Single-user: a single-user server on a copy of one data directory, zero_downtime preloaded,"
  echo "the journal and the schema drift policy off, then on (\`journal_size = 16MB\`,"
  echo "\`schema_drift = refuse\`, the statements the schema role's), back to back, alternating which"
  echo "goes first, $rounds rounds: the process's CPU time (getrusage, user + system)."
  echo "Over a connection: pgbench (one client, simple protocol, Unix socket) against one running"
  echo "server switched between the same two settings (ALTER SYSTEM, reload), alternating, $rounds"
  echo "rounds: the backend's CPU time (what the postmaster's reaped children used, clock ticks)."
  echo "Ratio: the median of the paired ratios of CPU time (user + system: the staging file's page"
  echo "faults and the write() of a full slot included), with their range; the median extra CPU and"
  echo "system time a statement; and the median ratio of the elapsed times (the wall clock, which on"
  echo "this shared VM moves with what else runs)."
  echo
  echo "| stream | statements | CPU on / off | range | CPU µs a statement | of which system µs | elapsed on / off |"
  echo "|---|---|---|---|---|---|---|"
  row "single-user: COMMENT ON TABLE (autocommit: one record)" comment
  row "single-user: ALTER TABLE tiny ... SET DEFAULT (autocommit)" guarded
  row "single-user: BEGIN; COMMENT ON TABLE; COMMIT (two records)" block
  row "single-user: UPDATE by primary key (nothing recorded)" dml
  row "connection: COMMENT ON TABLE (autocommit: one record)" comment-client
  row "connection: UPDATE by primary key (nothing recorded)" dml-client
} >"$out"
cat "$out"
