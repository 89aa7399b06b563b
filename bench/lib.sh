# Shared by the benchmarks: zero_downtime built and installed, a throwaway server as the OS
# user postgres, psql/pgbench against it, and the application's latency over a window from
# pgbench's per-transaction log.
# Source it after setting `repo` (`source "$repo/bench/lib.sh" --install`: build and install
# first); then call start_bench_server EXTRA_CONF.

# build_and_install: builds zero_downtime and installs it into PG_CONFIG's installation; with
# no PG_CONFIG, into Debian's 15, after scripts/install-deps.sh (which installs that server and
# what the build needs).  Sourcing this file with --install runs it first: what follows needs
# the server installed.
build_and_install() {
  local pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
  [ -n "${PG_CONFIG:-}" ] || bash "$repo/scripts/install-deps.sh"
  make -C "$repo" -s PG_CONFIG="$pg_config" >/dev/null
  make -C "$repo" -s PG_CONFIG="$pg_config" install >/dev/null
}
if [ "${1:-}" = --install ]; then build_and_install; fi

# PG_CONFIG: another installation (a copy of Debian's in /tmp, say, or a build of another
# major); Debian's 15 by default.
bindir=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)[.a-z].*/\1/')

# result_file NAME: where a benchmark writes its report: bench/results/NAME.md, or, with
# ZD_BENCH_PER_MAJOR=1 (runs of several majors side by side), NAME-pgMAJOR.md.
result_file() {
  if [ -n "${ZD_BENCH_PER_MAJOR:-}" ]; then echo "$repo/bench/results/$1-pg$major.md"
  else echo "$repo/bench/results/$1.md"; fi
}
work=$(mktemp -d /tmp/zd-bench.XXXXXX)
chown postgres: "$work"
as_pg() { runuser -u postgres -- "$@"; }
psql() { as_pg "$bindir/psql" -X -q -h "$work" -d postgres "$@"; }
pgbench() { as_pg "$bindir/pgbench" -h "$work" "$@"; }
now_ms() { date +%s%3N; }

# start_bench_server EXTRA_CONF: initdb and start $work/data, zero_downtime preloaded.  The
# caller stops it (a trap on EXIT).  ZD_BENCH_CONF: more settings, for experiments.
start_bench_server() {
  as_pg "$bindir/initdb" -D "$work/data" -A trust >/dev/null
  cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
shared_buffers = '1GB'
max_wal_size = '4GB'
autovacuum = off
shared_preload_libraries = 'zero_downtime'
$1
${ZD_BENCH_CONF:-}
CONF
  as_pg "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
}

# latency_window PREFIX START_MS END_MS: the latencies (ms, sorted) of the transactions in
# pgbench's log files PREFIX.* that overlap [START_MS, END_MS].  Log lines: client tx
# latency_us script epoch_s epoch_us [lag_us]; with -R the latency counts from the scheduled
# start (it includes the schedule lag), as the application sees it.
latency_window() {
  cat "$1".[0-9]* | awk -v s="$2" -v e="$3" '{
      finish = $5 * 1000 + $6 / 1000; begin = finish - $3 / 1000;
      if (finish >= s && begin <= e) print $3 / 1000 }' | sort -n
}

# p99_max FILE: "p99 max" of a sorted list of latencies.
p99_max() {
  local n
  n=$(wc -l <"$1")
  awk -v n="$n" 'NR == int(n * 0.99 + 0.999) { p = $1 } { m = $1 }
                 END { printf "%.1f %.1f\n", p, m }' "$1"
}
