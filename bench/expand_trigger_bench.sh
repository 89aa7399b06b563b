#!/usr/bin/env bash
# Issue 16 item 8: the write cost of an expand/contract migration's sync trigger, side by side.
# Three tables with the same columns (id, v integer, w bigint), single-row INSERTs and UPDATEs
# of v (old code's writes: the trigger computes w):
#   plain   no trigger (the cost of a plain write)
#   c       zd_expand_change_type(v -> bigint as w): zero_downtime's C sync trigger
#   plpgsql an equivalent PL/pgSQL BEFORE trigger (pgroll's approach): w := v::bigint
# Rounds of one run of each, in an order that alternates between rounds; per round the ratio
# of each to plain (plain tps / its tps: the cost of a write relative to a plain one); the
# median over rounds.  ZD_BENCH_PG_CONFIG: the server to run (default Debian's 15, with the
# extension installed into it); ROUNDS, SECONDS_PER_RUN, CLIENTS.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/bench/lib.sh"
bindir=$("${ZD_BENCH_PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
# (A server build without pgbench, such as the cassert one: the client from Debian's 15.)
pgbench_bin=$bindir/pgbench
[ -x "$pgbench_bin" ] || pgbench_bin=/usr/lib/postgresql/15/bin/pgbench
pgbench() { as_pg "$pgbench_bin" -h "$work" "$@"; }
rounds=${ROUNDS:-7}
seconds=${SECONDS_PER_RUN:-5}
clients=${CLIENTS:-1}
trap 'as_pg "$bindir/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1; rm -rf "$work"' EXIT
# The trigger costs CPU; a commit's WAL flush would hide it behind the disk.
start_bench_server "zero_downtime.mode = off
synchronous_commit = off"
psql <<'SQL'
CREATE EXTENSION zero_downtime;
CREATE TABLE t_plain (id bigserial PRIMARY KEY, v integer, w bigint);
CREATE TABLE t_c (id bigserial PRIMARY KEY, v integer);
CREATE TABLE t_plpgsql (id bigserial PRIMARY KEY, v integer, w bigint);
SELECT zd_expand_change_type('t_c', 'v', 'bigint', 'v::bigint', 'v::integer', new_column => 'w');
CREATE FUNCTION sync_plpgsql() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.v IS DISTINCT FROM OLD.v THEN
    NEW.w := NEW.v::bigint;
  ELSIF NEW.w IS DISTINCT FROM OLD.w THEN
    NEW.v := NEW.w::integer;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER sync BEFORE INSERT OR UPDATE ON t_plpgsql FOR EACH ROW EXECUTE FUNCTION sync_plpgsql();
INSERT INTO t_plain (v) SELECT g FROM generate_series(1, 100000) g;
INSERT INTO t_c (v) SELECT g FROM generate_series(1, 100000) g;
INSERT INTO t_plpgsql (v) SELECT g FROM generate_series(1, 100000) g;
VACUUM ANALYZE;
SQL
for t in plain c plpgsql; do
  cat >"$work/$t.sql" <<SQL
\set id random(1, 100000)
INSERT INTO t_$t (v) VALUES (:id);
UPDATE t_$t SET v = v + 1 WHERE id = :id;
SQL
done
chown postgres: "$work"/*.sql
tps() {
  pgbench -n -T "$seconds" -c "$clients" -f "$work/$1.sql" postgres |
    awk '/^tps = / { print $3 }'
}
results="$work/results"
: >"$results"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then order="plain c plpgsql"; else order="plpgsql c plain"; fi
  declare -A got=()
  for t in $order; do got[$t]=$(tps "$t"); done
  echo "round $r: plain ${got[plain]} c ${got[c]} plpgsql ${got[plpgsql]} tps"
  echo "${got[plain]} ${got[c]} ${got[plpgsql]}" >>"$results"
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median cost of a write relative to a plain one (plain tps / tps), $rounds rounds:"
echo "  C sync trigger   $(awk '{ printf "%.3f\n", $1 / $2 }' "$results" | median)"
echo "  PL/pgSQL trigger $(awk '{ printf "%.3f\n", $1 / $3 }' "$results" | median)"
