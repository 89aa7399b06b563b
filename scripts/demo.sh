#!/usr/bin/env bash
# Installs what zero_downtime needs, builds and installs it, starts a throwaway PostgreSQL 15
# cluster with the extension preloaded, and shows the guard at work on a 20 MB table: a rewrite,
# refusals with the safe SQL, the lock cap retrying behind a blocker, and a batched backfill
# (zd_backfill).  Run as root on Debian 12.  The cluster is removed at the end.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-deps.sh"
pg_config=/usr/lib/postgresql/15/bin/pg_config
bindir=$("$pg_config" --bindir)
make -C "$repo" -s PG_CONFIG="$pg_config" >/dev/null
make -C "$repo" -s PG_CONFIG="$pg_config" install >/dev/null

dir=$(mktemp -d /tmp/zd-demo.XXXXXX)
chown postgres: "$dir"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

as_pg "$bindir/initdb" -D "$dir/data" -A trust >/dev/null
cat >>"$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'zero_downtime'
listen_addresses = ''
unix_socket_directories = '$dir'
zero_downtime.lock_timeout = '500ms'
CONF
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
psql() { as_pg "$bindir/psql" -X -h "$dir" -d postgres "$@"; }

echo "== A throwaway PostgreSQL 15 cluster with zero_downtime preloaded"
psql -q -c "CREATE EXTENSION zero_downtime" -c "SELECT * FROM zd_status()"
psql -q -c "CREATE TABLE orders (id bigint, customer int, note text)" \
        -c "INSERT INTO orders SELECT g, g % 1000, repeat('x', 40) FROM generate_series(1, 300000) g" \
        -c "SELECT pg_size_pretty(pg_relation_size('orders')) AS orders_size"

show() {  # show TITLE SQL: runs SQL in its own session, echoing it
  echo
  echo "== $1"
  psql -e -c "$2" 2>&1 || true
}
show "CREATE INDEX would block writes for the whole build: rewritten to CONCURRENTLY" \
  "CREATE INDEX orders_customer ON orders (customer)"
show "Inside a transaction block no safe form can run: refused, with the safe SQL" \
  "BEGIN; CREATE INDEX orders_id ON orders (id); COMMIT;"
show "A volatile default would rewrite the table under ACCESS EXCLUSIVE: refused" \
  "ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT clock_timestamp()"
show "SET NOT NULL would scan under ACCESS EXCLUSIVE: four short steps instead" \
  "ALTER TABLE orders ALTER COLUMN customer SET NOT NULL"
show "Dropping a table that holds rows breaks the code still using it: refused" \
  "DROP TABLE orders"

echo
echo "== The lock queue: a 2-second report holds a lock; an instant ALTER retries behind it"
echo "   (lock_timeout capped at 500 ms, so the application never queues longer) and completes"
psql -q -c "BEGIN; SELECT count(*) FROM orders; SELECT pg_sleep(2); COMMIT;" >/dev/null &
sleep 0.3
psql -e -c "ALTER TABLE orders ADD COLUMN note2 text" 2>&1
wait
psql -c "\\d orders"

echo
echo "== Filling a new column: in batches, each committed with its position (resumable),"
echo "   instead of one UPDATE that locks every row until it commits"
psql -q -c "ALTER TABLE orders ADD COLUMN customer_code text"
psql -e -c "CALL zd_backfill(relation => 'orders', set_clause => 'customer_code = ''C'' || customer', where_clause => 'customer_code IS NULL', progress_interval => '0')" 2>&1
psql -c "SELECT name, state, pass, rows_done, batches, rows_per_second FROM zd_backfill_progress"
