#!/usr/bin/env bash
# Runs every test of zero_downtime against real, throwaway PostgreSQL 15 servers:
#   1. pg_regress        sql/*.sql against expected/*.out
#   2. isolation         test/isolation/specs/*.spec (pg_isolation_regress)
#   3. TAP               test/t/*.pl (PostgreSQL::Test::Cluster: restart, crash, standby)
#   4. unit              test/unit/*.cpp (GoogleTest through CMake and ctest)
#   5. core              PostgreSQL 15's own regression suite, plain vs warn vs enforce
#                        (test/core_suite/run.sh; its three checks count here)
#   6. cassert           1 and 2 against a PostgreSQL 15 built with --enable-cassert
#   7. valgrind          1 and 2 with that server's processes under valgrind's memcheck
#                        (6 and 7: test/memcheck/run.sh; the server is built once and cached)
#   8. clients           the real migration tools (Knex, node-pg-migrate, Drizzle Kit and
#                        drizzle-orm, Prisma Migrate, psql) against a guarded server:
#                        test/clients/t/*.pl, their npm packages installed by npm ci
# As root it first installs the packages it needs and builds and installs the extension; the
# servers then run as the OS user `postgres` (PostgreSQL refuses to run as root).
# The last line is "N passed, N failed" over all layers; the exit code is 0 only if none failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
layers=${ZD_TEST_LAYERS:-"regress isolation tap unit core cassert valgrind clients"}

if [ "$(id -u)" -eq 0 ]; then
  bash "$repo/scripts/install-deps.sh" || exit 1
fi
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$pg_config" --bindir)
pgxs_dir=$(cd "$(dirname "$("$pg_config" --pgxs)")/../.." && pwd)

echo "== build and install"
make -C "$repo" -s PG_CONFIG="$pg_config" >/dev/null || exit 1
make -C "$repo" -s PG_CONFIG="$pg_config" install >/dev/null || exit 1

work=$(mktemp -d /tmp/zd-test.XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
pg_env=(env PATH="$bindir:$PATH" PGHOST=/tmp)

passed=0
failed=0
count() {  # count LAYER PASSED FAILED
  echo "-- $1: $2 passed, $3 failed"
  passed=$((passed + $2))
  failed=$((failed + $3))
}

# pg_regress and pg_isolation_regress print one "... ok" or "... FAILED" line per test (15), or
# one TAP line, "ok N - test" or "not ok N - test" (16 and later).
count_regress_log() {  # count_regress_log LAYER LOG DIFFS STATUS
  local ok bad
  ok=$(grep -cE '\.\.\. ok|^ok [0-9]+' "$2")
  bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+' "$2")
  if [ "$4" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  [ -f "$3" ] && [ "$bad" -gt 0 ] && head -n 200 "$3"
  count "$1" "$ok" "$bad"
}

run_regress() {
  echo "== pg_regress"
  local tests out="$work/regress"
  tests=$(make -s -C "$repo" PG_CONFIG="$pg_config" print-REGRESS)
  "${as_pg[@]}" mkdir -p "$out"
  "${as_pg[@]}" "${pg_env[@]}" "$pgxs_dir/src/test/regress/pg_regress" \
    --inputdir="$repo" --outputdir="$out" --bindir="$bindir" \
    --temp-instance="$out/instance" --temp-config="$repo/test/regress.conf" \
    --dbname=contrib_regression $tests 2>&1 | tee "$work/regress.log"
  count_regress_log pg_regress "$work/regress.log" "$out/regression.diffs" "${PIPESTATUS[0]}"
}

run_isolation() {
  echo "== isolation"
  local tests out="$work/isolation"
  tests=$(make -s -C "$repo" PG_CONFIG="$pg_config" print-ISOLATION)
  [ -n "$tests" ] || { count isolation 0 0; return; }
  "${as_pg[@]}" mkdir -p "$out"
  "${as_pg[@]}" "${pg_env[@]}" "$pgxs_dir/src/test/isolation/pg_isolation_regress" \
    --inputdir="$repo/test/isolation" --outputdir="$out" --bindir="$bindir" \
    --temp-instance="$out/instance" --temp-config="$repo/test/regress.conf" \
    --dbname=isolation_regression $tests 2>&1 | tee "$work/isolation.log"
  count_regress_log isolation "$work/isolation.log" "$out/regression.diffs" "${PIPESTATUS[0]}"
}

# TAP: every assertion counts; a script that dies before its plan is done counts one failure.
run_tap() {
  echo "== TAP"
  run_prove TAP tap "$repo/test" "$pgxs_dir/src/test/perl"
}

# run_prove LAYER NAME DIR PERL_LIB: each DIR/t/*.pl through prove, in DIR, as postgres.
run_prove() {
  local layer=$1 name=$2 dir=$3 perl_lib=$4 t ok=0 bad=0 log status o b
  "${as_pg[@]}" mkdir -p "$work/$name"
  for t in "$dir"/t/*.pl; do
    [ -e "$t" ] || continue
    log="$work/$name/$(basename "$t" .pl).log"
    # TESTDIR: where 15's PostgreSQL::Test::Utils puts tmp_check (and its log/); 16 and later
    # take TESTDATADIR and TESTLOGDIR instead: the same places.
    (cd "$dir" && "${as_pg[@]}" "${pg_env[@]}" TESTDIR="$work/$name" \
      TESTDATADIR="$work/$name/tmp_check" TESTLOGDIR="$work/$name/tmp_check/log" \
      PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" REPO="$repo" \
      prove -v -I "$perl_lib" -I "$dir" "t/$(basename "$t")") >"$log" 2>&1
    status=$?
    o=$(grep -cE '^\s*ok [0-9]+' "$log")
    b=$(grep -cE '^\s*not ok [0-9]+' "$log")
    if [ "$status" -ne 0 ] && [ "$b" -eq 0 ]; then b=1; fi
    echo "$(basename "$t"): $o ok, $b not ok"
    if [ "$b" -gt 0 ]; then
      tail -n 60 "$log"
      ls "$work/$name"/tmp_check/log/ 2>/dev/null | head
    fi
    ok=$((ok + o)); bad=$((bad + b))
  done
  count "$layer" "$ok" "$bad"
}

# clients: the migration tools' npm packages (test/clients/package-lock.json) are installed by
# npm ci, downloads cached in /var/cache/zero_downtime/npm, and kept while the lockfile and
# node's version are unchanged; install scripts are not run (no tool here needs one, and
# Prisma's would try to download engines).  Then test/clients/t/*.pl as the TAP layer runs its
# scripts.  PostgreSQL::Test::Cluster comes from Debian's PostgreSQL 15 when PG_CONFIG's
# installation has none (the cassert build).
run_clients() {
  echo "== clients (migration tools)"
  local dir="$repo/test/clients" stamp cache perl_lib="$pgxs_dir/src/test/perl"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "clients: node and npm are needed (scripts/install-deps.sh installs them)"
    count clients 0 1
    return
  fi
  stamp="$(node --version) $(sha256sum <"$dir/package-lock.json")"
  if [ "$(cat "$dir/node_modules/.zd-installed" 2>/dev/null)" != "$stamp" ]; then
    cache=/var/cache/zero_downtime/npm
    mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || cache="$work/npm-cache"
    if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
            --cache "$cache") >"$work/npm-ci.log" 2>&1; then
      tail -n 30 "$work/npm-ci.log"
      count clients 0 1
      return
    fi
    echo "$stamp" >"$dir/node_modules/.zd-installed"
  fi
  [ -d "$perl_lib" ] || perl_lib=$(dirname "$(/usr/lib/postgresql/15/bin/pg_config --pgxs)")/../../src/test/perl
  echo "node $(node --version), npm $(npm --version)"
  run_prove clients clients "$dir" "$perl_lib"
}

run_unit() {
  echo "== unit (GoogleTest)"
  local build="$work/build" line total bad
  if ! cmake -S "$repo" -B "$build" -DPG_CONFIG="$pg_config" >"$work/cmake.log" 2>&1 ||
     ! cmake --build "$build" -j"$(nproc)" >>"$work/cmake.log" 2>&1; then
    tail -n 40 "$work/cmake.log"
    count unit 0 1
    return
  fi
  (cd "$build" && ctest --output-on-failure) 2>&1 | tee "$work/ctest.log" | tail -n 5
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$work/ctest.log")
  if [ -z "$line" ]; then count unit 0 1; return; fi
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  count unit $((total - bad)) "$bad"
}

run_core() {
  echo "== PostgreSQL core regression suite"
  local line
  ZD_CORE_BUILD=0 bash "$repo/test/core_suite/run.sh" >"$work/core.log" 2>&1
  # Its own closing line is counted here, not repeated: the run has one closing line.
  grep -vE '^core-suite: [0-9]+ passed, [0-9]+ failed' "$work/core.log" | tail -n 40
  line=$(grep -E '^core-suite: [0-9]+ passed, [0-9]+ failed' "$work/core.log" | tail -n 1)
  if [ -z "$line" ]; then count core 0 1; return; fi
  count core $(sed -E 's/^core-suite: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$line")
}

# cassert, valgrind: its tests and checks count here; its closing line is not repeated.
run_memcheck() {  # run_memcheck LAYER
  echo "== $1 (test/memcheck/run.sh)"
  local line
  bash "$repo/test/memcheck/run.sh" "$1" >"$work/$1.log" 2>&1
  grep -vE "^$1: [0-9]+ passed, [0-9]+ failed" "$work/$1.log" | head -n 400
  line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$work/$1.log" | tail -n 1)
  if [ -z "$line" ]; then count "$1" 0 1; return; fi
  count "$1" $(sed -E "s/^$1: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/" <<<"$line")
}

for layer in $layers; do
  case "$layer" in
    regress) run_regress ;;
    isolation) run_isolation ;;
    tap) run_tap ;;
    unit) run_unit ;;
    core) run_core ;;
    cassert|valgrind) run_memcheck "$layer" ;;
    clients) run_clients ;;
    *) echo "unknown layer $layer"; failed=$((failed + 1)) ;;
  esac
done

[ "$failed" -eq 0 ] && [ -z "${ZD_KEEP_TEST_DIR:-}" ] && rm -rf "$work"
[ "$failed" -ne 0 ] && echo "test outputs kept in $work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
