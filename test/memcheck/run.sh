#!/usr/bin/env bash
# The cassert and valgrind layers of test/run.sh: zero_downtime's pg_regress tests (sql/, the
# same list and expected outputs as the regress layer) and isolation specs (test/isolation/)
# against a PostgreSQL 15 built with assertions and valgrind annotations (build_server.sh,
# built once and cached).
#
#   run.sh cassert    each suite on a throwaway instance of that server (pg_regress
#                     --temp-instance, as the regress and isolation layers do).  Besides the
#                     tests' own results, a failed Assert() (TRAP: in the server log) or a
#                     crashed backend fails the run.
#   run.sh valgrind   the same tests, every server process under valgrind's memcheck: the
#                     postmaster is started under valgrind, which follows its forked backends
#                     (and, --trace-children=yes, anything it would exec).  A test fails if its
#                     output differs or if valgrind reports an error in a backend that served
#                     it (the server log maps each backend to its test); errors in other server
#                     processes fail the "server" check.  Each distinct error is printed with
#                     its stack (valgrind_errors.pl).
#
# The extension is built from a copy of the repository's files (the work tree as it is, tracked
# and untracked but not ignored files), never in the repository itself: other builds use it with
# Debian's server at the same time.  It is installed into the cached prefix, which is not
# Debian's; a lock on the prefix keeps two runs at once from installing over each other.
#
# Prints one line per test, the errors found, and last "<layer>: N passed, N failed" (tests and
# checks); exit 0 only if none failed.  Outputs are kept in /tmp/zd-<layer>.* when something
# failed or ZD_KEEP_TEST_DIR is set.  Servers run as the OS user postgres when run as root.
# Settings: see build_server.sh (ZD_MEMCHECK_CACHE, ZD_MEMCHECK_OPT); ZD_VALGRIND_OPTS adds
# valgrind options (e.g. --track-origins=yes to find where an uninitialised value comes from).
set -uo pipefail

layer=${1:-}
case "$layer" in cassert|valgrind) ;; *) echo "usage: $0 cassert|valgrind" >&2; exit 2 ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
start=$(date +%s)

passed=0
failed=0
result() {  # result NAME OK(0|1) [TEXT]
  if [ "$2" -eq 0 ]; then
    echo "ok: $1${3:+: $3}"; passed=$((passed + 1))
  else
    echo "FAILED: $1${3:+: $3}"; failed=$((failed + 1))
  fi
}
die() {
  failed=$((failed + 1))
  echo "$layer: $*" >&2
  echo "$layer: $passed passed, $failed failed"
  exit 1
}

# ---- the server (built once) and a private copy of the extension ------------------------------
prefix=$(bash "$here/build_server.sh" | tail -n 1)
[ -f "$prefix/.complete" ] || die "no assert-enabled PostgreSQL 15"
bindir=$prefix/bin
pg_config=$bindir/pg_config
pgxs_dir=$(cd "$(dirname "$("$pg_config" --pgxs)")/../.." && pwd)
setup_time=$(($(date +%s) - start))

work=$(mktemp -d "/tmp/zd-$layer.XXXXXX")
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
server_pid=""
data_dir=""
cleanup() {
  # A server this script started is stopped whatever happened (the valgrind layer's; pg_regress
  # stops its own temp instances).
  if [ -n "$data_dir" ] && [ -f "$data_dir/postmaster.pid" ]; then
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data_dir" stop -m immediate -t 120 >/dev/null 2>&1
  fi
  [ -n "$server_pid" ] && wait "$server_pid" 2>/dev/null
  rm -rf "$work/ext"
  if [ "$failed" -eq 0 ] && [ -z "${ZD_KEEP_TEST_DIR:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# One run at a time installs into and tests with this prefix.
if { exec 7>>"$prefix.lock"; } 2>/dev/null; then flock 7; fi
[ -w "$("$pg_config" --pkglibdir)" ] || die "cannot install into $prefix (run as root)"
echo "== build zero_downtime against $("$pg_config" --version) (assertions, valgrind annotations)"
mkdir -p "$work/ext"
git -C "$repo" ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -f "$repo/$f" ] && printf '%s\0' "$f"; done |
  tar -C "$repo" --null -T - -cf - | tar -C "$work/ext" -xf - || die "copying the repository failed"
make -C "$work/ext" -s -j"$jobs" PG_CONFIG="$pg_config" >"$work/build.log" 2>&1 &&
  make -C "$work/ext" -s PG_CONFIG="$pg_config" install >>"$work/build.log" 2>&1 ||
  { grep -E 'error|\*\*\*' "$work/build.log" | head -n 30; die "building zero_downtime failed"; }
regress_tests=$(make -s -C "$work/ext" PG_CONFIG="$pg_config" print-REGRESS)
isolation_tests=$(make -s -C "$work/ext" PG_CONFIG="$pg_config" print-ISOLATION)
build_time=$(($(date +%s) - start - setup_time))
pg_env=(env PATH="$bindir:$PATH")

# pg_regress and pg_isolation_regress print one "test name ... ok|FAILED  N ms" line per test;
# this sets test_result[name] (0 ok, 1 failed: also when it has no line) and test_time[name].
declare -A test_result test_time
suite_results() {  # suite_results LOG TESTS...
  local log=$1 t line; shift
  for t in "$@"; do
    line=$(grep -E "^(test )? *$t +\.\.\. " "$log" | tail -n 1)
    if grep -qE '\.\.\. ok' <<<"$line"; then test_result[$t]=0; else test_result[$t]=1; fi
    test_time[$t]=$(grep -oE '[0-9]+ ms' <<<"$line")
  done
}

# Failed assertions, with the backtrace PostgreSQL prints after the TRAP: line, and crashed
# server processes; nothing when the server log has none.
server_problems() {  # server_problems LOG
  awk '/TRAP:/ { print; trace = 1; next }
       trace && /\[0x[0-9a-f]+\]$/ { print; next }
       { trace = 0 }
       /terminated by signal|terminated by exception/ { print }' "$1" 2>/dev/null | head -n 60
}

# ---- cassert: each suite on a throwaway instance, as the regress and isolation layers -----------
run_cassert() {  # run_cassert SUITE PROGRAM INPUTDIR DBNAME TESTS
  local suite=$1 program=$2 inputdir=$3 dbname=$4 tests=$5 out="$work/$1" problems
  echo "== $suite (assert-enabled server)"
  "${as_pg[@]}" mkdir -p "$out"
  # shellcheck disable=SC2086
  "${as_pg[@]}" "${pg_env[@]}" "$program" --inputdir="$inputdir" --outputdir="$out" \
    --bindir="$bindir" --temp-instance="$out/instance" --temp-config="$repo/test/regress.conf" \
    --dbname="$dbname" $tests >"$work/$suite.log" 2>&1
  # shellcheck disable=SC2086
  suite_results "$work/$suite.log" $tests
  [ -f "$out/regression.diffs" ] && head -n 200 "$out/regression.diffs"
  problems=$(server_problems "$out/log/postmaster.log")
  [ -n "$problems" ] && echo "$problems"
  result "$suite server" "$([ -z "$problems" ] && [ -f "$out/log/postmaster.log" ]; echo $?)" \
    "no failed assertion (TRAP:), no crashed backend"
}

# ---- valgrind: the server under memcheck, the suites run against it -----------------------------
# shellcheck disable=SC2054  # the comma belongs to --error-markers
vg_opts=(
  --tool=memcheck --trace-children=yes
  # PostgreSQL's own suppressions (known, harmless reports in its code: padding bytes written
  # to files and sockets, and the like), then the project's (test/memcheck/valgrind.supp, each
  # one with why).  Never one whose stack is zero_downtime's.  Without PostgreSQL's, these
  # tests gave 7 distinct reports, all a write or pwrite of WAL or of the relcache init file,
  # the uninitialised bytes from PostgreSQL's own allocations (--track-origins=yes), two of them
  # below zero_downtime's frames (a commit in zd_backfill, a rewritten CREATE INDEX).
  --suppressions="$prefix/valgrind.supp" --suppressions="$here/valgrind.supp"
  # Leaks are not looked for: PostgreSQL frees by dropping whole memory contexts, and a
  # backend's exit leaves much unfreed by design.
  --leak-check=no --read-var-info=no --num-callers=20
  # Every error reported (not only the first thousand), each between markers so that
  # valgrind_errors.pl can cut them out; one log per process.
  --error-limit=no --error-markers=VALGRINDERROR-BEGIN,VALGRINDERROR-END
  --log-file="$work/valgrind/%p.log"
)
# shellcheck disable=SC2206
vg_opts+=(${ZD_VALGRIND_OPTS:-})

start_valgrind_server() {  # start_valgrind_server DIR: initdb, then the postmaster under valgrind
  local dir=$1
  data_dir=$dir/data
  # initdb's own bootstrap backend is not under valgrind (the suites run on the started server).
  "${as_pg[@]}" "${pg_env[@]}" "$bindir/initdb" -D "$data_dir" --no-sync -A trust \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
  {
    # What pg_regress adds to a temp instance's configuration, then the tests' own settings.
    echo "log_autovacuum_min_duration = 0"
    echo "log_checkpoints = on"
    echo "log_line_prefix = '%m %b[%p] %q%a '"
    echo "log_lock_waits = on"
    echo "log_temp_files = 128kB"
    echo "max_prepared_transactions = 2"
    cat "$repo/test/regress.conf"
    # Which backend served which test: its connection line names the test (pg_regress and
    # isolationtester set application_name to pg_regress/<test>, isolation/<spec>).
    echo "log_connections = on"
    # Only a Unix socket, in this run's own directory: no port shared with anything else.
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    echo "port = 5432"
    # A throwaway server: nothing to keep across a crash.
    echo "fsync = off"
  } | "${as_pg[@]}" tee -a "$data_dir/postgresql.conf" >/dev/null
  "${as_pg[@]}" mkdir -p "$work/valgrind"
  "${as_pg[@]}" valgrind "${vg_opts[@]}" "$bindir/postgres" -D "$data_dir" \
    >"$dir/postmaster.log" 2>&1 &
  server_pid=$!
  # Ready when postmaster.pid says so (its 8th line); polling with a client would start a
  # backend under valgrind each time.  Starting under valgrind takes ~10 s here.
  for _ in $(seq 1 300); do
    [ "$(sed -n 8p "$data_dir/postmaster.pid" 2>/dev/null | tr -d ' ')" = ready ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 1
  done
  tail -n 20 "$dir/postmaster.log"
  return 1
}

stop_valgrind_server() {
  "${as_pg[@]}" "$bindir/pg_ctl" -D "$data_dir" stop -m fast -t 300 >/dev/null 2>&1 ||
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data_dir" stop -m immediate -t 60 >/dev/null 2>&1
  wait "$server_pid" 2>/dev/null
  server_pid=""
  data_dir=""
}

run_valgrind() {  # run_valgrind SUITE PROGRAM INPUTDIR DBNAME TESTS
  local suite=$1 program=$2 inputdir=$3 dbname=$4 tests=$5 out="$work/$1"
  echo "== $suite (every server process under valgrind)"
  "${as_pg[@]}" mkdir -p "$out"
  start_valgrind_server "$out" || { result "$suite server" 1 "the server under valgrind did not start"; return; }
  # shellcheck disable=SC2086
  "${as_pg[@]}" "${pg_env[@]}" "$program" --inputdir="$inputdir" --outputdir="$out" \
    --bindir="$bindir" --host="$out" --port=5432 --dbname="$dbname" $tests >"$work/$suite.log" 2>&1
  # shellcheck disable=SC2086
  suite_results "$work/$suite.log" $tests
  [ -f "$out/regression.diffs" ] && head -n 200 "$out/regression.diffs"
  stop_valgrind_server
  cat "$out/postmaster.log" >>"$work/server.log"
}

# ---- run ------------------------------------------------------------------------------------------
# shellcheck disable=SC2086
if [ "$layer" = cassert ]; then
  run_cassert regress "$pgxs_dir/src/test/regress/pg_regress" "$repo" contrib_regression "$regress_tests"
  [ -n "$isolation_tests" ] && run_cassert isolation "$pgxs_dir/src/test/isolation/pg_isolation_regress" \
    "$repo/test/isolation" isolation_regression "$isolation_tests"
  for t in $regress_tests $isolation_tests; do result "$t" "${test_result[$t]}" "${test_time[$t]}"; done
else
  run_valgrind regress "$pgxs_dir/src/test/regress/pg_regress" "$repo" contrib_regression "$regress_tests"
  [ -n "$isolation_tests" ] && run_valgrind isolation "$pgxs_dir/src/test/isolation/pg_isolation_regress" \
    "$repo/test/isolation" isolation_regression "$isolation_tests"
  # Every error, once per distinct stack, and how many each test's backends had.
  : >>"$work/server.log"
  perl "$here/valgrind_errors.pl" "$work/valgrind" "$work/server.log" >"$work/errors.txt"
  grep -vE '^(test|other|summary): ' "$work/errors.txt"
  declare -A vg_errors
  while read -r _ t n; do vg_errors[$t]=$n; done < <(grep -E '^test: ' "$work/errors.txt")
  for t in $regress_tests $isolation_tests; do
    n=${vg_errors[$t]:-0}
    result "$t" "$([ "${test_result[$t]}" -eq 0 ] && [ "$n" -eq 0 ]; echo $?)" \
      "${test_time[$t]}$([ "$n" -gt 0 ] && echo ", $n valgrind errors")"
  done
  n=$(sed -n 's/^other: //p' "$work/errors.txt")
  problems=$(server_problems "$work/server.log")
  [ -n "$problems" ] && echo "$problems"
  result "server" "$([ -z "$problems" ] && [ "${n:-1}" -eq 0 ]; echo $?)" \
    "no crash, no failed assertion; valgrind errors in processes serving no test: ${n:-?}"
  grep -E '^summary: ' "$work/errors.txt"
fi

echo "$layer: setup ${setup_time}s (server), build ${build_time}s (zero_downtime), total $(($(date +%s) - start))s"
[ "$failed" -ne 0 ] && echo "outputs kept in $work"
echo "$layer: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
