#!/usr/bin/env bash
# Runs every test of zero_downtime against real, throwaway PostgreSQL servers of each major it
# supports (15, 17, 18, 19):
#   1. pg_regress        sql/*.sql against expected/*.out (or expected/*_N.out)   } on every
#   2. isolation         test/isolation/specs/*.spec (pg_isolation_regress)      } major
#   3. TAP               test/t/*.pl (PostgreSQL::Test::Cluster: restart, crash, standby)
#   4. unit              test/unit/*.cpp (GoogleTest through CMake and ctest)     }
#   5. core              PostgreSQL's own regression suite of the major, plain vs warn vs
#                        enforce (test/core_suite/run.sh; its checks count here): on 15 and
#                        18, whose source is here (17's and 19's is not on the mirror); in
#                        the background while that major's other layers run
#   6. cassert           1 and 2 against a PostgreSQL 15 built with --enable-cassert
#   7. valgrind          1 and 2 with that server's processes under valgrind's memcheck
#                        (6 and 7: test/memcheck/run.sh; the server is built once and cached)
#   8. clients           the real migration tools (Knex, node-pg-migrate, Drizzle Kit and
#                        drizzle-orm, Prisma Migrate, psql) against a guarded server:
#                        test/clients/t/*.pl, their npm packages installed by npm ci
# 6 to 8 run on 15 only (Debian 12's server), when 15 is among the majors.
#
# The majors (ZD_PG_VERSIONS="15 17 18 19", the default as root; a subset such as "15 18" for
# development) and where each server comes from:
#   15      Debian 12's packages (scripts/install-deps.sh)
#   18      built from Debian's source package by test/versions/build_server.sh, once, cached
#   17, 19  Debian's own binary packages in a Debian chroot of the suite that carries them
#           (trixie; sid + experimental), bootstrapped once and cached by
#           test/versions/chroot.sh; the layers run inside it (test/versions/chroot_run.sh),
#           the extension built there by that suite's compiler
# A major other than these is built by build_server.sh when its source can be fetched.
# Without ZD_PG_VERSIONS, PG_CONFIG=<a pg_config> runs every layer asked for against that one
# server (as the chroot runs do); with it, PG_CONFIG replaces the server of its own major, as
# does each of ZD_PG_CONFIGS="<pg_config> ..." (copies in /tmp, say, to test a work tree
# without installing into Debian's 15 or the cached 18).  Not as root, the default is 15 and
# the majors already built.
#
# As root it first installs the packages it needs and builds and installs the extension; the
# servers then run as the OS user `postgres` (PostgreSQL refuses to run as root).
# Each layer's count is printed as "-- MAJOR LAYER: N passed, N failed"; the last line is
# "N passed, N failed" over all majors and layers; the exit code is 0 only if none failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
layers=${ZD_TEST_LAYERS:-"regress isolation tap unit core cassert valgrind clients"}
per_major_layers="regress isolation tap unit"

if [ "$(id -u)" -eq 0 ] && [ "${ZD_INSTALL_DEPS:-1}" != 0 ]; then
  bash "$repo/scripts/install-deps.sh" ccache || exit 1
fi

# The builds of this machine (the extension per major, the unit tests, test/memcheck's copy)
# go through ccache when it is installed (as root, above), its cache in
# /var/cache/zero_downtime/ccache: each major rebuilds the whole tree for its headers, and an
# unchanged tree then costs a few seconds instead of a compile per major (ZD_CCACHE=0:
# without).  CCACHE_NOHASHDIR: the unit tests and test/memcheck build in a new directory each
# run, which would otherwise be part of every key (-g); only the debug information's
# compilation directory can then name an older run's directory.  Only the builds get these
# variables (and test/memcheck's servers, which compile nothing).
cc_env=()
if [ "${ZD_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null && [ -d /usr/lib/ccache ]; then
  ccache_dir=${ZD_CCACHE_DIR:-/var/cache/zero_downtime/ccache}
  if mkdir -p "$ccache_dir" 2>/dev/null && [ -w "$ccache_dir" ]; then
    cc_env=(env PATH="/usr/lib/ccache:$PATH" CCACHE_DIR="$ccache_dir" CCACHE_NOHASHDIR=1)
  fi
fi

# The majors to run, and whether this run is the single-server form (PG_CONFIG alone).
single=
if [ -n "${ZD_PG_VERSIONS:-}" ]; then
  versions=$ZD_PG_VERSIONS
elif [ -n "${PG_CONFIG:-}" ]; then
  single=$PG_CONFIG
  versions=$("$single" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
elif [ "$(id -u)" -eq 0 ]; then
  versions="15 17 18 19"
else
  versions=15
  for v in 18; do
    bash "$repo/test/versions/build_server.sh" "$v" >/dev/null 2>&1 && versions+=" $v"
  done
  echo "not root: testing PostgreSQL $versions only (17 and 19 run in chroots, which need root)"
fi

work=$(mktemp -d /tmp/zd-test.XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi

passed=0
failed=0
layer_started=$SECONDS
count() {  # count LAYER PASSED FAILED [SECONDS]: a layer's figures on the current major ($major)
  echo "-- $major $1: $2 passed, $3 failed"
  echo "   ($major $1: ${4:-$((SECONDS - layer_started))} s)"
  [ -n "${4:-}" ] || layer_started=$SECONDS
  passed=$((passed + $2))
  failed=$((failed + $3))
}

# pg_regress and pg_isolation_regress print one "... ok" or "... FAILED" line per test (15), or
# one TAP line, "ok N - test" or "not ok N - test" (16 and later).
count_regress_log() {  # count_regress_log LAYER LOG DIFFS STATUS
  local ok bad
  [ -z "$(tail -c 1 "$2")" ] || echo  # pg_regress's "Bail out!" ends without a newline
  ok=$(grep -cE '\.\.\. ok|^ok [0-9]+' "$2")
  bad=$(grep -cE '\.\.\. FAILED|\.\.\. failed|^not ok [0-9]+' "$2")
  if [ "$4" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  [ -f "$3" ] && [ "$bad" -gt 0 ] && head -n 200 "$3"
  count "$1" "$ok" "$bad"
}

run_regress() {
  echo "== pg_regress"
  local tests out="$vwork/regress"
  tests=$(make -s -C "$repo" PG_CONFIG="$pg_config" print-REGRESS)
  "${as_pg[@]}" mkdir -p "$out"
  "${as_pg[@]}" "${pg_env[@]}" "$pgxs_dir/src/test/regress/pg_regress" \
    --inputdir="$repo" --outputdir="$out" --bindir="$bindir" \
    --temp-instance="$out/instance" --temp-config="$repo/test/regress.conf" \
    --dbname=contrib_regression $tests 2>&1 | tee "$vwork/regress.log"
  count_regress_log pg_regress "$vwork/regress.log" "$out/regression.diffs" "${PIPESTATUS[0]}"
}

run_isolation() {
  echo "== isolation"
  local tests out="$vwork/isolation"
  tests=$(make -s -C "$repo" PG_CONFIG="$pg_config" print-ISOLATION)
  [ -n "$tests" ] || { count isolation 0 0; return; }
  "${as_pg[@]}" mkdir -p "$out"
  "${as_pg[@]}" "${pg_env[@]}" "$pgxs_dir/src/test/isolation/pg_isolation_regress" \
    --inputdir="$repo/test/isolation" --outputdir="$out" --bindir="$bindir" \
    --temp-instance="$out/instance" --temp-config="$repo/test/regress.conf" \
    --dbname=isolation_regression $tests 2>&1 | tee "$vwork/isolation.log"
  count_regress_log isolation "$vwork/isolation.log" "$out/regression.diffs" "${PIPESTATUS[0]}"
}

# TAP: every assertion counts; a script that dies before its plan is done counts one failure.
run_tap() {
  echo "== TAP"
  local perl_lib="$pgxs_dir/src/test/perl"
  # A server built without --enable-tap-tests (the cassert build) has no TAP modules: Debian's
  # PostgreSQL 15's serve.
  [ -d "$perl_lib" ] || perl_lib=$(dirname "$(/usr/lib/postgresql/15/bin/pg_config --pgxs)")/../../src/test/perl
  run_prove TAP tap "$repo/test" "$perl_lib" "${ZD_TAP_JOBS:-2}"
}

# wait_below N PID...: waits until fewer than N of these background processes still run.
wait_below() {
  local n=$1 p live
  shift
  while :; do
    live=()
    for p in "$@"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
    [ "${#live[@]}" -lt "$n" ] && return
    wait -n "${live[@]}" 2>/dev/null
  done
}

# run_prove LAYER NAME DIR PERL_LIB: each DIR/t/*.pl through prove, in DIR, as postgres.
run_prove() {  # run_prove LAYER NAME DIR PERL_LIB [JOBS]
  local layer=$1 name=$2 dir=$3 perl_lib=$4 jobs=${5:-1} t ok=0 bad=0 log o b pids=()
  "${as_pg[@]}" mkdir -p "$vwork/$name"
  # JOBS scripts at a time, each with its own servers (PostgreSQL::Test::Cluster reserves
  # their ports); the results are read in name order once all have ended.  Only these
  # scripts are waited for, not the other background jobs (the chroot runs, the core suite):
  # a bare `wait` made 15's TAP layer last until both chroot runs had ended.
  for t in "$dir"/t/*.pl; do
    [ -e "$t" ] || continue
    log="$vwork/$name/$(basename "$t" .pl).log"
    # TESTDIR: where 15's PostgreSQL::Test::Utils puts tmp_check (and its log/); 16 and later
    # take TESTDATADIR and TESTLOGDIR instead: the same places.
    ( (cd "$dir" && "${as_pg[@]}" "${pg_env[@]}" TESTDIR="$vwork/$name" \
        TESTDATADIR="$vwork/$name/tmp_check" TESTLOGDIR="$vwork/$name/tmp_check/log" \
        PG_REGRESS="$pgxs_dir/src/test/regress/pg_regress" REPO="$repo" \
        prove -v -I "$perl_lib" -I "$dir" "t/$(basename "$t")") >"$log" 2>&1
      echo $? >"$log.status" ) &
    pids+=($!)
    wait_below "$jobs" "${pids[@]}"
  done
  wait "${pids[@]}"
  for t in "$dir"/t/*.pl; do
    [ -e "$t" ] || continue
    log="$vwork/$name/$(basename "$t" .pl).log"
    o=$(grep -cE '^\s*ok [0-9]+' "$log")
    b=$(grep -cE '^\s*not ok [0-9]+' "$log")
    if [ "$(cat "$log.status")" -ne 0 ] && [ "$b" -eq 0 ]; then b=1; fi
    echo "$(basename "$t"): $o ok, $b not ok"
    if [ "$b" -gt 0 ]; then
      tail -n 60 "$log"
      ls "$vwork/$name"/tmp_check/log/ 2>/dev/null | head
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
    mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || cache="$vwork/npm-cache"
    if ! (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
            --cache "$cache") >"$vwork/npm-ci.log" 2>&1; then
      tail -n 30 "$vwork/npm-ci.log"
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
  local build="$vwork/build" line total bad
  if ! "${cc_env[@]}" cmake -S "$repo" -B "$build" -DPG_CONFIG="$pg_config" >"$vwork/cmake.log" 2>&1 ||
     ! "${cc_env[@]}" cmake --build "$build" -j"$(nproc)" >>"$vwork/cmake.log" 2>&1; then
    tail -n 40 "$vwork/cmake.log"
    count unit 0 1
    return
  fi
  (cd "$build" && ctest --output-on-failure) 2>&1 | tee "$vwork/ctest.log" | tail -n 5
  # "100% tests passed, 0 tests failed out of 80"; CMake 4's ctest (sid's, for 19) leaves out
  # ", 0 tests failed" when none failed.
  line=$(grep -E 'tests passed(, [0-9]+ tests? failed)? out of [0-9]+' "$vwork/ctest.log")
  if [ -z "$line" ]; then count unit 0 1; return; fi
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  bad=0
  if grep -qE 'passed, [0-9]+ tests? failed' <<<"$line"; then
    bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  fi
  count unit $((total - bad)) "$bad"
}

# core: started in the background once the major's build is installed (start_core), as it
# needs nothing the other layers touch (its own servers, the installed library); its output and
# figures are shown after the major's other layers (collect_core).  Two of its runs at a time
# fill the time the TAP scripts spend waiting (timeouts, retries, servers starting).
start_core() {
  echo "== PostgreSQL $major core regression suite: in the background (test/core_suite/run.sh)"
  ( started=$SECONDS
    ZD_CORE_BUILD=0 PG_CONFIG="$pg_config" bash "$repo/test/core_suite/run.sh" >"$vwork/core.log" 2>&1
    echo $((SECONDS - started)) >"$vwork/core.time" ) &
  core_pid=$!
}
collect_core() {
  echo "== PostgreSQL $major core regression suite"
  local line
  wait "$core_pid"
  # Its own closing line is counted here, not repeated: the run has one closing line.
  grep -vE '^core-suite: [0-9]+ passed, [0-9]+ failed' "$vwork/core.log" | tail -n 40
  line=$(grep -E '^core-suite: [0-9]+ passed, [0-9]+ failed' "$vwork/core.log" | tail -n 1)
  if [ -z "$line" ]; then count core 0 1 "$(cat "$vwork/core.time")"; return; fi
  count core $(sed -E 's/^core-suite: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/' <<<"$line") \
    "$(cat "$vwork/core.time")"
}

# cassert, valgrind: its tests and checks count here; its closing line is not repeated.
run_memcheck() {  # run_memcheck LAYER
  echo "== $1 (test/memcheck/run.sh)"
  local line
  "${cc_env[@]}" bash "$repo/test/memcheck/run.sh" "$1" >"$work/$1.log" 2>&1
  grep -vE "^$1: [0-9]+ passed, [0-9]+ failed" "$work/$1.log" | head -n 400
  line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$work/$1.log" | tail -n 1)
  if [ -z "$line" ]; then count "$1" 0 1; return; fi
  count "$1" $(sed -E "s/^$1: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/" <<<"$line")
}

# The server of a major on this machine: PG_CONFIG's in the single-server form, Debian 12's 15,
# else a build from source (test/versions/build_server.sh).  Empty when there is none.
host_pg_config() {  # host_pg_config MAJOR
  local p
  if [ -n "$single" ]; then echo "$single"; return; fi
  # PG_CONFIG and ZD_PG_CONFIGS name servers of their own majors.
  for p in ${PG_CONFIG:-} ${ZD_PG_CONFIGS:-}; do
    [ "$("$p" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')" = "$1" ] && { echo "$p"; return; }
  done
  if [ "$1" = 15 ]; then echo /usr/lib/postgresql/15/bin/pg_config
  else bash "$repo/test/versions/build_server.sh" "$1" | tail -n 1
  fi
}

# The majors that run in a Debian chroot (test/versions/chroot_run.sh): their source is not on
# the mirror, their binary packages are.
in_chroot() { [ -z "$single" ] && { [ "$1" = 17 ] || [ "$1" = 19 ]; }; }

# The layers asked for that run on MAJOR: the per-major ones everywhere, core on the majors of
# this machine (their source is here), the others on 15 (or on the one server of the
# single-server form).
layers_of() {  # layers_of MAJOR
  local layer mine=
  for layer in $layers; do
    case " $per_major_layers " in
      *" $layer "*) mine+=" $layer" ;;
      *) if [ "$1" = 15 ] || [ -n "$single" ] || { [ "$layer" = core ] && ! in_chroot "$1"; }
         then mine+=" $layer"; fi ;;
    esac
  done
  echo "$mine"
}

# The chroot majors run one after the other in the background while the majors of this
# machine run (ZD_VERSIONS_JOBS=1: all one after the other).  A chroot run has its own copy
# of the tree, its own server and its own /tmp; the two overlap where the tests wait (lock
# timeouts, retries, servers starting), which is much of their time on 2 cores.
chroot_majors=()
host_majors=()
for major in $versions; do
  [ -n "$(layers_of "$major")" ] || continue
  if in_chroot "$major"; then chroot_majors+=("$major"); else host_majors+=("$major"); fi
done
start_chroots() {
  local m
  for m in "${chroot_majors[@]}"; do
    ZD_TEST_LAYERS="$(layers_of "$m")" bash "$repo/test/versions/chroot_run.sh" "$m" \
      >"$work/chroot-$m.log" 2>&1
    echo $? >"$work/chroot-$m.status"
  done
}
chroot_pid=
if [ ${#chroot_majors[@]} -gt 0 ] && [ "${ZD_VERSIONS_JOBS:-2}" -gt 1 ]; then
  echo "== PostgreSQL ${chroot_majors[*]}: in Debian chroots, in the background (test/versions/chroot_run.sh)"
  start_chroots &
  chroot_pid=$!
fi

# collect_chroot MAJOR: the chroot run's output, its per-layer figures counted here (they are
# already named by the major); its closing line is not repeated.
collect_chroot() {
  local line p f status re='^-- [0-9]+ [^:]+: [0-9]+ passed, [0-9]+ failed$' major=$1
  echo "== PostgreSQL $1 (Debian chroot: test/versions/chroot_run.sh)"
  status=$(cat "$work/chroot-$1.status" 2>/dev/null || echo 1)
  grep -vE '^[0-9]+ passed, [0-9]+ failed$' "$work/chroot-$1.log" | grep -vE "$re" | tail -n 400
  while read -r line; do
    echo "$line"
    read -r p f < <(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$line")
    passed=$((passed + p)); failed=$((failed + f))
  done < <(grep -E "$re" "$work/chroot-$1.log")
  # A run that failed without a failing count (no chroot, a build that did not start) fails.
  if [ "$status" -ne 0 ] && ! grep -qE '^[0-9]+ passed, [1-9][0-9]* failed$' "$work/chroot-$1.log"; then
    count chroot 0 1
  fi
}

for major in "${host_majors[@]}"; do
  mine=$(layers_of "$major")
  echo "=== PostgreSQL $major"
  pg_config=$(host_pg_config "$major")
  if [ -z "$pg_config" ] || [ ! -x "$pg_config" ]; then
    echo "no PostgreSQL $major server (test/versions/build_server.sh $major)"
    count server 0 1
    continue
  fi
  bindir=$("$pg_config" --bindir)
  pgxs_dir=$(cd "$(dirname "$("$pg_config" --pgxs)")/../.." && pwd)
  pg_env=(env PATH="$bindir:$PATH" PGHOST=/tmp)
  vwork="$work/$major"
  mkdir -p "$vwork" && { [ ${#as_pg[@]} -eq 0 ] || chown postgres: "$vwork"; }

  echo "== build and install against $("$pg_config" --version)"
  build_started=$SECONDS
  if ! "${cc_env[@]}" make -C "$repo" -s -j"$(nproc)" PG_CONFIG="$pg_config" >"$vwork/build.log" 2>&1 ||
     ! make -C "$repo" -s PG_CONFIG="$pg_config" install >>"$vwork/build.log" 2>&1; then
    grep -E 'error|\*\*\*' "$vwork/build.log" | head -n 40
    count build 0 1
    continue
  fi
  echo "   ($major build: $((SECONDS - build_started)) s)"
  layer_started=$SECONDS

  core_pid=
  [[ " $mine " == *" core "* ]] && start_core
  for layer in $mine; do
    case "$layer" in
      regress) run_regress ;;
      isolation) run_isolation ;;
      tap) run_tap ;;
      unit) run_unit ;;
      core) ;;  # in the background: collected below
      cassert|valgrind) run_memcheck "$layer" ;;
      clients) run_clients ;;
      *) echo "unknown layer $layer"; failed=$((failed + 1)) ;;
    esac
  done
  [ -n "$core_pid" ] && collect_core
done

if [ ${#chroot_majors[@]} -gt 0 ]; then
  if [ -n "$chroot_pid" ]; then wait "$chroot_pid"; else start_chroots; fi
  for major in "${chroot_majors[@]}"; do collect_chroot "$major"; done
fi

[ "$failed" -eq 0 ] && [ -z "${ZD_KEEP_TEST_DIR:-}" ] && rm -rf "$work"
[ "$failed" -ne 0 ] && echo "test outputs kept in $work"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
