#!/usr/bin/env bash
# Runs PostgreSQL's own core regression suite (src/test/regress, parallel_schedule) of the
# server's major (PG_CONFIG; Debian's 15 by default) on six throwaway servers and compares them:
#   plain       no zero_downtime: the reference of warn and enforce
#   warn        zero_downtime preloaded, zero_downtime.mode = warn
#   enforce     zero_downtime preloaded, zero_downtime.mode = enforce, every other setting default
#   others      pg_stat_statements, auto_explain, pgaudit, set_user preloaded, no zero_downtime:
#               the reference of the two runs below
#   warn-first  zero_downtime first in shared_preload_libraries, then those four; mode = warn
#   warn-last   those four, then zero_downtime last; mode = warn
# Each guarded run is compared with the plain run of this same invocation, never with the
# suite's expected/ files (the server may be a newer minor release than the test files).
# The last three need pgaudit and set_user: on a server without them (the build of 18 from
# source: test/versions/build_server.sh) only plain, warn and enforce run (ZD_CORE_MODES).
#
# The suite comes from Debian's source package of postgresql-MAJOR: the installed version if the
# archive still has it, else another version `apt-cache showsrc postgresql-MAJOR` lists (for 18,
# the source test/versions/build_server.sh built the server from, already in the cache).  It is
# fetched once into $ZD_CORE_CACHE (default /var/cache/zero_downtime/pgsrc) with
# `apt-get source`, after adding deb-src entries for the configured Debian sources if there are
# none.  Built there with it, once per version:
#   - the suite's C helpers, with PGXS: src/test/regress/regress.c, contrib/spi/refint.c
#     (-DREFINT_VERBOSE, as the suite expects) and contrib/spi/autoinc.c;
#   - on 15, psql of the same source (build_psql, without configure); on another major the
#     server's own psql, built from this same source (test/versions/build_server.sh), is
#     used as it is.  A psql newer than the test files handles a failed COPY FROM STDIN
#     differently (it reads the following statements as
#     COPY data, up to the next "\."), which silently skips large parts of six tests (copy,
#     copy2, copyselect, privileges, rowsecurity, generated).  Plain and guarded runs would
#     still agree with each other, but the skipped statements would never meet the guard; a
#     psql of the test files' own version runs them all.
#
# Checks (the last line is "core-suite: N passed, N failed"; exit 0 only if none failed):
#   1. plain    the suite ran to the end: every test of the schedule has a result, no backend
#               crashed, the server never restarted.  Tests that differ from expected/ are shown
#               for information only.
#   2. warn     same health as 1, and every test's output equals the plain run's once the
#               guard's own WARNING blocks (message, DETAIL, HINT, each naming its rule; exact
#               texts taken from the server log, see compare.pl) are removed: in warn mode the
#               guard may only add warnings, never change what a statement does.
#   3. others   same health as 1; warn-first and warn-last: as 2, compared with the others run.
#   4. enforce  same health as 1, and the (rule, test) pairs of the tests that differ from the
#               plain run are exactly those listed in the major's section ("# PostgreSQL MAJOR")
#               of test/core_suite/enforce_differences.md: a new refusal or rewrite, or a listed
#               one that no longer happens, fails.
#
# Settings (environment):
#   ZD_CORE_UPDATE_LIST=1  rewrite the major's section of enforce_differences.md from this run
#                          (keeps its prose and the other majors' sections).
#   ZD_CORE_MODES="..."    the runs (default: all six where pgaudit and set_user are installed,
#                          else "plain warn enforce").
#   ZD_CORE_LIBRARY=...    what shared_preload_libraries loads (default zero_downtime, the
#                          installed library; a path to a build's .so tests it uninstalled).
#   ZD_CORE_BUILD=0        as root, do not `make install` the extension first.
#   ZD_CORE_CACHE=DIR      where the source, helpers and psql are kept.
#   ZD_KEEP_TEST_DIR=1     keep the outputs even when every check passes.
#   ZD_CORE_PARALLEL=N     how many runs at a time (default: the number of cores, at most 6).
# As root the servers run as the OS user postgres (PostgreSQL refuses to run as root).
set -uo pipefail

start=$(date +%s)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
list_file="$here/enforce_differences.md"
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$("$pg_config" --bindir) || exit 1
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
pg_regress="$(dirname "$("$pg_config" --pgxs)")/../test/regress/pg_regress"
cache=${ZD_CORE_CACHE:-/var/cache/zero_downtime/pgsrc}
library=${ZD_CORE_LIBRARY:-zero_downtime}
jobs=$(nproc 2>/dev/null || echo 2)
is_root=0; [ "$(id -u)" -eq 0 ] && is_root=1

passed=0
failed=0
check() {  # check NAME OK(0|1) TEXT
  if [ "$2" -eq 0 ]; then
    echo "ok: $1: $3"; passed=$((passed + 1))
  else
    echo "FAILED: $1: $3"; failed=$((failed + 1))
  fi
}
die() {
  echo "core-suite: $*" >&2
  echo "core-suite: 0 passed, 1 failed"
  exit 1
}
elapsed() { echo $(($(date +%s) - $1)); }
temp_dirs=()  # removed on exit
trap 'rm -rf "${temp_dirs[@]}"' EXIT

# ---- the extension ------------------------------------------------------------------------------
if [ "$is_root" -eq 1 ] && [ "${ZD_CORE_BUILD:-1}" != 0 ]; then
  echo "== build and install zero_downtime"
  make -C "$repo" -s PG_CONFIG="$pg_config" >/dev/null && \
    make -C "$repo" -s PG_CONFIG="$pg_config" install >/dev/null || die "building the extension failed"
fi

# ---- the suite's source --------------------------------------------------------------------------
# listed_versions, add_deb_src, fetch_source: shared with the cassert and valgrind layers.
# shellcheck source-path=SCRIPTDIR source=../lib/pgsrc.sh
. "$repo/test/lib/pgsrc.sh"

# psql of the test files' own source (see the top of this file for why), built without
# configure, as one static program: psql's C files, src/fe_utils (its statement splitter) and
# libpq, compiled against the installed server's headers (the generated catalog headers come
# from the installed -dev package) and linked with the installed libpgcommon.a and
# libpgport.a.  The installed pg_config.h describes a build of the same major release; the
# copy used here says which version the source is and leaves out what the suite does not use
# (readline; OpenSSL, GSSAPI, LDAP: it connects over a local socket), so psql loads no shared
# library but libc's: starting it costs ~7 ms here, where the installed libpq's dependencies
# (OpenSSL, Kerberos, LDAP, GnuTLS) made it ~18 ms, ~250 times per run.  The non-OpenSSL
# hashing (SCRAM, MD5) and random source come from src/common and src/port of the same
# source.  ~10 s, where configure and make took ~90 s on this VM.
# The psql files listed are 15's (libpq's files change between majors); a server of another
# major comes with its own psql of the test files' version (test/versions/build_server.sh).
source_version() { sed -n "s/^PACKAGE_VERSION='\(.*\)'$/\1/p" "$src/configure"; }
build_psql() {  # build_psql DIR
  local dir=$1 version cflags server_inc d
  [ -f "$dir/.complete" ] && return 0
  [ "$is_root" -eq 1 ] || return 1
  version=$(source_version)
  [ -n "$version" ] || { echo "no PACKAGE_VERSION in $src/configure"; return 1; }
  echo "building psql $version (with src/fe_utils and libpq) against the installed headers"
  rm -rf "$dir"; mkdir -p "$dir/include" "$dir/obj"
  server_inc=$("$pg_config" --includedir-server)
  cp "$server_inc"/pg_config.h "$server_inc"/pg_config_ext.h "$server_inc"/pg_config_os.h "$dir/include/"
  {
    echo
    echo "/* zero_downtime core suite: psql $version of the test files, for local sockets */"
    for d in HAVE_LIBREADLINE USE_OPENSSL ENABLE_GSS USE_LDAP HAVE_LIBLDAP; do echo "#undef $d"; done
    echo "#undef PG_VERSION"
    echo "#define PG_VERSION \"$version\""
    echo "#undef PG_VERSION_NUM"
    echo "#define PG_VERSION_NUM $(awk -F. '{ printf "%d%04d", $1, $2 }' <<<"$version")"
    echo "#undef PG_MINORVERSION_NUM"
    echo "#define PG_MINORVERSION_NUM ${version#*.}"
  } >> "$dir/include/pg_config.h"
  # What src/port's Makefile would write, from the installed layout.
  for d in PGBINDIR:bindir PGSHAREDIR:sharedir SYSCONFDIR:sysconfdir INCLUDEDIR:includedir \
           PKGINCLUDEDIR:pkgincludedir INCLUDEDIRSERVER:includedir-server LIBDIR:libdir \
           PKGLIBDIR:pkglibdir LOCALEDIR:localedir DOCDIR:docdir HTMLDIR:htmldir MANDIR:mandir; do
    echo "#define ${d%%:*} \"$("$pg_config" --"${d#*:}")\""
  done > "$dir/include/pg_config_paths.h"
  cflags="$("$pg_config" --cflags) -DFRONTEND -DUNSAFE_STAT_OK -I$dir/include -I$src/src/bin/psql"
  cflags+=" -I$src/src/interfaces/libpq -I$src/src/include -I$server_inc"
  local libpq=(fe-auth-scram fe-auth fe-connect fe-exec fe-lobj fe-misc fe-print fe-protocol3
               fe-secure fe-trace legacy-pqsignal libpq-events pqexpbuffer)
  {
    printf '%s\n' "$src"/src/bin/psql/*.c "$src"/src/fe_utils/*.c
    printf "$src/src/interfaces/libpq/%s.c\n" "${libpq[@]}"
    printf "$src/src/common/%s.c\n" cryptohash hmac md5 sha1 sha2
    printf "$src/src/port/%s.c\n" pg_strong_random timingsafe_bcmp
  } | CFLAGS=$cflags OBJ=$dir/obj xargs -P "$jobs" -I{} sh -c \
      'gcc $CFLAGS -c "$1" -o "$OBJ/$(basename "$1" .c).o"' sh {} >"$dir.log" 2>&1 &&
    gcc -o "$dir/psql" "$dir"/obj/*.o -L"$("$pg_config" --pkglibdir)" -lpgcommon -lpgport -lm \
      >>"$dir.log" 2>&1 ||
    { grep -E 'error|undefined' "$dir.log" | head -n 20; return 1; }
  rm -rf "$dir/obj" "$dir.log"; touch "$dir/.complete"
}

# The suite's C helpers (against the installed server's headers) and psql of the same source.
# Sets lib (--dlpath) and bin (--bindir: the installed server programs and that psql).
build_helpers() {
  local key out
  key=$("$pg_config" --version | tr -c 'A-Za-z0-9.\n' _)
  out="$cache/$src_version/helpers-$key"
  lib="$out/lib"
  if [ ! -f "$out/.complete" ]; then
    [ "$is_root" -eq 1 ] || return 1
    echo "building regress.so, refint.so, autoinc.so with PGXS"
    rm -rf "$out"; mkdir -p "$lib"
    cp "$src/src/test/regress/regress.c" "$src/contrib/spi/refint.c" "$src/contrib/spi/autoinc.c" "$lib/"
    cat > "$lib/Makefile" <<EOF
MODULES = regress refint autoinc
# contrib/spi builds refint verbose "for the regression tests"; the suite's expected output has it.
PG_CPPFLAGS = -DREFINT_VERBOSE
override with_llvm = no
PG_CONFIG = $pg_config
PGXS := \$(shell \$(PG_CONFIG) --pgxs)
include \$(PGXS)
EOF
    make -s -C "$lib" -j"$jobs" >"$out.log" 2>&1 || { tail -n 20 "$out.log"; return 1; }
    touch "$out/.complete"; rm -f "$out.log"
  fi

  # 15: a psql built from the test files' source (build_psql knows 15's files).  Another major:
  # the server's own psql, which must be of the test files' version (a server built from this
  # source: test/versions/build_server.sh).
  if [ "$major" != 15 ]; then
    local psql_v
    psql_v=$("$bindir/psql" --version | awk '{ print $3 }')
    [ "$psql_v" = "$(source_version)" ] ||
      { echo "psql $psql_v is not of the test files' version $(source_version)"; return 1; }
    bin=$bindir
    chmod -R a+rX "$cache/$src_version"
    return 0
  fi
  build_psql "$out/psql" || return 1

  # The server's programs beside that psql, in a directory of this run's own: the cache is
  # shared by runs against other copies of the same server (PG_CONFIG), which would otherwise
  # re-point each other's links mid-run.
  bin=$(mktemp -d /tmp/zd-core-bin.XXXXXX)
  temp_dirs+=("$bin")
  local f
  for f in "$bindir"/*; do ln -s "$f" "$bin/"; done
  ln -sfn "$out/psql/psql" "$bin/psql"
  chmod a+rx "$bin"
  chmod -R a+rX "$cache/$src_version"
}

mkdir -p "$cache" && chmod 755 "$cache" 2>/dev/null
prep_start=$(date +%s)
# One run at a time fetches and builds into the cache.
if { exec 9>"$cache/.lock"; } 2>/dev/null; then flock 9; fi
fetch_source "$major" || die "no postgresql-$major source: none of the versions apt-cache showsrc lists could be fetched (run as root once)"
build_helpers || die "building the suite's helpers or psql failed"
exec 9>&-
regress_src="$src/src/test/regress"
server_version=$("$pg_config" --version)
psql_version=$("$bin/psql" --version)
prep_time=$(elapsed "$prep_start")
echo "== suite: postgresql-$major $src_version ($regress_src)"
echo "   server: $server_version; psql: $psql_version; guard: $library; setup ${prep_time}s"

# ---- the runs ------------------------------------------------------------------------------------
work=$(mktemp -d /tmp/zd-core.XXXXXX)
as_pg=()
if [ "$is_root" -eq 1 ]; then
  chown postgres: "$work"
  as_pg=(runuser -u postgres --)
fi
schedule_tests=$(sed -n 's/^test://p' "$regress_src/parallel_schedule" | wc -w)

# The hook extensions people preload beside a guard (issue 9): each runs with its hook busy.
others="pg_stat_statements,auto_explain,pgaudit,set_user"
declare -A run_time
conf_for() {  # conf_for MODE: the server settings of one run
  echo "log_line_prefix = '%m [%p] '"   # compare.pl reads the guard's messages from the log
  echo "log_min_messages = warning"
  # Throwaway servers: nothing to keep across a crash, so no fsync (halves the run time here).
  echo "fsync = off"
  echo "synchronous_commit = off"
  echo "full_page_writes = off"
  # Starting a process costs ~20 ms on this kind of VM (a fork is 50x slower than on bare
  # metal), and the suite's parallel queries start thousands of workers: select_parallel alone
  # took 17 s.  With no workers the planner still plans (and EXPLAIN shows) the same parallel
  # plans; the leader runs them.  JIT compiles the suite's few costly queries with LLVM for
  # seconds of CPU.  Neither touches a utility statement, the only thing the guard sees, and
  # every run of a comparison has the same settings.  Measured: 75 s -> 34 s for the plain run.
  echo "max_parallel_workers = 0"
  echo "jit = off"
  local libs=""
  case "$1" in
    warn|enforce) libs=$library ;;
    others) libs=$others ;;
    warn-first) libs="$library,$others" ;;
    warn-last) libs="$others,$library" ;;
  esac
  [ -n "$libs" ] && echo "shared_preload_libraries = '$libs'"
  case "$1" in warn|enforce) echo "zero_downtime.mode = $1" ;; warn-*) echo "zero_downtime.mode = warn" ;; esac
  case "$1" in
    others|warn-*)
      # pg_stat_statements alone changes EXPLAIN VERBOSE output unless query ids are hidden.
      echo "compute_query_id = regress"
      # auto_explain explains every query (its hook does all its work) at a level not logged.
      echo "auto_explain.log_min_duration = 0"
      echo "auto_explain.log_level = debug1"
      echo "pgaudit.log = 'ddl'"
      ;;
  esac
}

# How many runs at a time: see "the runs" below.
parallel=${ZD_CORE_PARALLEL:-$((jobs < 6 ? jobs : 6))}
[[ "$parallel" =~ ^[1-9][0-9]*$ ]] || die "ZD_CORE_PARALLEL must be a positive number of runs, not '$parallel'"

# Where the throwaway data directories go: memory (tmpfs) when there is room for the runs at
# once (a data directory grows to ~350 MB; 1 GB each leaves a margin), else $work.  The suite
# creates and drops thousands of files; on this VM ext4 made a run ~12 % slower.
instances=$work
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt $((parallel * 1000000)) ]; then
  instances=$(mktemp -d /dev/shm/zd-core.XXXXXX)
  [ "$is_root" -eq 1 ] && chown postgres: "$instances"
  temp_dirs+=("$instances")
fi

run_suite() {  # run_suite MODE
  local mode=$1 out="$work/$1" t0
  t0=$(date +%s)
  conf_for "$mode" > "$work/$mode.conf"
  "${as_pg[@]}" mkdir -p "$out"
  # glibc.malloc.hugetlb=1: malloc asks for transparent huge pages (madvise), so the ~250
  # backends of a run (and psql, pg_regress) take far fewer page faults as their memory grows;
  # page faults cost dearly on this VM (perf: ~17 % of a run): a run ~10 % faster.  Memory
  # layout only; no output changes.
  "${as_pg[@]}" env -i PATH="$bin:/usr/bin:/bin" LANG=C.UTF-8 HOME=/tmp \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
    "$pg_regress" --temp-instance="$instances/$mode" --temp-config="$work/$mode.conf" \
    --inputdir="$regress_src" --outputdir="$out" --bindir="$bin" --dlpath="$lib" \
    --max-concurrent-tests=20 --schedule="$regress_src/parallel_schedule" >"$work/$mode.log" 2>&1
  rm -rf "${instances:?}/$mode"   # the data directory: ~350 MB each
  elapsed "$t0" > "$work/$mode.time"
}

# pg_regress's line per test: "test name ... ok" or " name ... FAILED" (15); "ok N + name" or
# "not ok N - name" (16 and later: TAP).
test_line='^(test)? +[^ ]+ +\.\.\. |^(not )?ok +[0-9]+ +[-+] +[^ ]+'
failed_tests() {  # failed_tests LOG: the names of the tests that differ from expected/
  sed -nE -e 's/^(test)? +([^ ]+) +\.\.\. FAILED.*/\2/p' -e 's/^not ok +[0-9]+ +[-+] +([^ ]+).*/\1/p' "$1"
}

# What went wrong with the server or the test processes of a run, one line each (none: healthy).
health() {  # health MODE
  local mode=$1 log="$work/$1/log/postmaster.log" n ready
  if [ ! -f "$log" ]; then echo "no server log"; tail -n 5 "$work/$mode.log"; return; fi
  grep -E 'terminated by signal|terminated by exception|all server processes terminated|PANIC:|TRAP:' "$log" |
    head -n 5
  ready=$(grep -c 'database system is ready to accept connections' "$log")
  [ "$ready" -eq 1 ] || echo "the server became ready $ready times (1 expected): it restarted"
  grep -E 'test process exited with exit code' "$work/$mode.log" | head -n 5
  n=$(grep -cE "$test_line" "$work/$mode.log")
  [ "$n" -eq "$schedule_tests" ] || echo "$n of $schedule_tests tests ran"
}

# The runs beside the other hook extensions need all four installed (Debian's 15 has them; the
# build of 18 from source has pg_stat_statements and auto_explain only: TAP 005 tests the hooks'
# chaining there, with what is installed).
modes="plain warn enforce others warn-first warn-last"
for l in ${others//,/ }; do
  [ -f "$("$pg_config" --pkglibdir)/$l.so" ] || { modes="plain warn enforce"; break; }
done
modes=${ZD_CORE_MODES:-$modes}
has_mode() { [[ " $modes " == *" $1 "* ]]; }
# As many runs at a time as there are cores (ZD_CORE_PARALLEL; 2 here).  A run leaves ~20 % of
# this 2-core VM idle (initdb, the wait for the server, the schedule's single tests and small
# groups), which the other run fills: two plain runs took 48.9-50.9 s at once against
# 52.3-60.9 s one after the other (three pairs); whole targets in alternating order took 167 s
# and 161 s two at a time against 206 s and 218 s one at a time.  Three at once were slower
# than one after the other (85 s against 76 s).  The servers share nothing (each its own port, socket directory,
# data and output directory); identical runs give identical results at once or one by one.
running=0
for mode in $modes; do
  if [ "$running" -ge "$parallel" ]; then wait -n; running=$((running - 1)); fi
  echo "== $mode run"
  run_suite "$mode" &
  running=$((running + 1))
done
wait
for mode in $modes; do run_time[$mode]=$(cat "$work/$mode.time" 2>/dev/null || echo '?'); done

# ---- 1. plain --------------------------------------------------------------------------------------
problems=$(health plain)
vs_expected=$(failed_tests "$work/plain.log" | tr '\n' ' ')
echo "plain: $schedule_tests tests in ${run_time[plain]}s; differing from expected/ (information only): ${vs_expected:-none}"
[ -n "$problems" ] && echo "$problems"
check "plain run" "$([ -z "$problems" ]; echo $?)" "suite completed, no crash, no restart"

# ---- 2. warn, alone and beside the other hook extensions -------------------------------------------
declare -A differing
check_warn() {  # check_warn MODE REFERENCE: MODE's output equals REFERENCE's but for guard warnings
  local mode=$1 ref=$2 problems out rc summary warned t
  problems=$(health "$mode")
  "${as_pg[@]}" mkdir -p "$work/$mode/filtered"
  out=$("${as_pg[@]}" perl "$here/compare.pl" warn "$work/$ref" "$work/$mode" "$work/$mode/filtered")
  rc=$?
  summary=$(tail -n 1 <<<"$out")
  differing[$mode]=$(sed -n 's/.*differing=\([0-9]*\).*/\1/p' <<<"$summary")
  warned=$(sed -n 's/.*warned=\([0-9]*\).*/\1/p' <<<"$summary")
  echo "$mode: ${run_time[$mode]}s; $warned tests got guard warnings ($(grep '^rule:' <<<"$out" | sed 's/^rule: //' | paste -sd, - | sed 's/,/, /g')); ${differing[$mode]:-?} differ from $ref once those are removed"
  [ -n "$problems" ] && echo "$problems"
  if [ "$rc" -ne 0 ]; then
    grep '^differs:' <<<"$out"
    for t in $(grep '^differs:' <<<"$out" | awk '{print $2}' | head -n 5); do
      diff -u "$work/$ref/results/$t.out" "$work/$mode/filtered/$t.out" | head -n 40
    done
  fi
  check "$mode run" "$([ -z "$problems" ] && [ "$rc" -eq 0 ]; echo $?)" \
    "no crash, no restart, no difference from the $ref run but the guard's warnings"
}
has_mode warn && check_warn warn plain

if has_mode others; then
  problems=$(health others)
  [ -n "$problems" ] && echo "$problems"
  check "others run" "$([ -z "$problems" ]; echo $?)" \
    "$others without zero_downtime: suite completed, no crash, no restart"
  has_mode warn-first && check_warn warn-first others
  has_mode warn-last && check_warn warn-last others
fi

# ---- 3. enforce ---------------------------------------------------------------------------------------
problems=$(health enforce)
meta="postgresql-$major $src_version test files, $server_version, zero_downtime.mode = enforce, other settings default"
if [ "${ZD_CORE_UPDATE_LIST:-}" = 1 ] && [ -n "$problems" ]; then
  echo "not rewriting $(basename "$list_file"): the enforce run was not healthy"
elif [ "${ZD_CORE_UPDATE_LIST:-}" = 1 ]; then
  perl "$here/compare.pl" enforce "$work/plain" "$work/enforce" "$repo/src/core/rule_catalog.cpp" \
    "$list_file" "$major" "$meta" --write | grep '^wrote'
fi
enforce_out=$(perl "$here/compare.pl" enforce "$work/plain" "$work/enforce" \
  "$repo/src/core/rule_catalog.cpp" "$list_file" "$major" "$meta")
enforce_rc=$?
enforce_summary=$(tail -n 1 <<<"$enforce_out")
enforce_differing=$(sed -n 's/.*differing=\([0-9]*\).*/\1/p' <<<"$enforce_summary")
enforce_listed=$(sed -n 's/.*listed=\([0-9]*\).*/\1/p' <<<"$enforce_summary")
echo "enforce: ${run_time[enforce]}s; ${enforce_differing:-?} tests differ from plain; $enforce_listed (rule, test) pairs listed for $major in $(basename "$list_file")"
grep '^rule:' <<<"$enforce_out" | sed 's/^rule: /  /'
n_changed=$(grep -cE '^(new|stale):' <<<"$enforce_out")
grep -E '^(new|stale):' <<<"$enforce_out" | head -n 40 | sed 's/^/  /'
[ "$n_changed" -gt 40 ] && echo "  ... $((n_changed - 40)) more new/stale pairs"
[ -n "$problems" ] && echo "$problems"
check "enforce run" "$([ -z "$problems" ] && [ "$enforce_rc" -eq 0 ]; echo $?)" \
  "no crash, no restart, differing tests exactly as listed (regenerate: ZD_CORE_UPDATE_LIST=1)"

# ---- figures -------------------------------------------------------------------------------------------
total=$(elapsed "$start")
times=$(for m in $modes; do printf ', %s %ss' "$m" "${run_time[$m]}"; done)
warned_runs=$(for m in warn warn-first warn-last; do has_mode $m && printf '%s %s, ' "$m" "${differing[$m]:-?}"; done)
echo "figures: PostgreSQL $major, $schedule_tests tests per run; differing from their reference: ${warned_runs}enforce ${enforce_differing:-?} (list: $enforce_listed pairs); time ${total}s (setup ${prep_time}s; $parallel runs at a time$times)"
if [ "$failed" -eq 0 ] && [ -z "${ZD_KEEP_TEST_DIR:-}" ]; then
  rm -rf "$work"
else
  echo "outputs kept in $work"
fi
echo "core-suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
