#!/usr/bin/env bash
# Builds PostgreSQL 15 with assertions and valgrind annotations, once, into a cached prefix, for
# the cassert and valgrind layers (test/memcheck/run.sh).  Prints that prefix as its last line
# (progress goes to standard error); exit code 0 only if the prefix is complete.
#
# One build serves both layers:
#   --enable-cassert     Assert() in PostgreSQL and in zero_downtime (it is compiled against
#                        this pg_config.h), memory-context checks, freed memory clobbered
#   -DUSE_VALGRIND       palloc'd chunks are marked for memcheck: a read past a chunk or of a
#                        pfree'd one is reported, which plain malloc-level memcheck cannot see
#                        (PostgreSQL keeps its memory in large blocks of its own)
#   --enable-debug, -fno-omit-frame-pointer: full stacks in valgrind's reports and in TRAP:s
# The source is the one test/core_suite/run.sh uses (test/lib/pgsrc.sh: Debian's source
# package, Debian's patches applied).  It is built out of tree (VPATH), so the shared source
# tree is never written to.
#
# Only what the two layers use is built and installed: the server (with plpgsql and the
# snowball dictionaries, which initdb installs, and the encoding conversions), initdb,
# pg_ctl, psql, pg_config, libpq, pg_regress, pg_isolation_regress and isolationtester, and
# the headers and makefiles of PGXS.  Not contrib, ecpg, pg_dump and the other programs.
# Without readline, ICU and zlib (no test here uses them: psql reads files), with the system's
# time zone data (as Debian's server is built).
#
# The prefix is named by the source version and a hash of the flags below, and is complete when
# it has its .complete file: it is installed into a staging directory (DESTDIR) and moved into
# place in one rename, under a lock, so that two runs at once build it once and a run never
# sees half an installation.  A later run with the same source and flags reuses it.
#
# Settings (environment):
#   ZD_MEMCHECK_CACHE=DIR  where the prefixes are kept (default /var/cache/zero_downtime)
#   ZD_CORE_CACHE=DIR      where the source is fetched (shared with the core suite; default
#                          /var/cache/zero_downtime/pgsrc)
#   ZD_MEMCHECK_OPT=-O1    the optimisation level of the build (see "opt" below)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${ZD_MEMCHECK_CACHE:-/var/cache/zero_downtime}
cache=${ZD_CORE_CACHE:-$root/pgsrc}
jobs=$(nproc 2>/dev/null || echo 2)
is_root=0; [ "$(id -u)" -eq 0 ] && is_root=1

log() { echo "$*" >&2; }
die() { log "build_server: $*"; exit 1; }

# ---- the source (shared with the core suite; its lock keeps two fetches apart) -----------------
# shellcheck source-path=SCRIPTDIR source=../lib/pgsrc.sh
. "$repo/test/lib/pgsrc.sh"
mkdir -p "$cache" 2>/dev/null && chmod 755 "$root" "$cache" 2>/dev/null
if { exec 9>>"$cache/.lock"; } 2>/dev/null; then flock 9; fi
fetch_source || die "no postgresql-15 source: none of the versions apt-cache showsrc lists could be fetched (run as root once)"
exec 9>&-

# ---- what is built ------------------------------------------------------------------------------
# -O1: measured against -O2 on this 2-core VM: the build took 123 s against 159 s, and the
# valgrind layer the same CPU time (89-91 s in two pairs of runs: valgrind's translation of the
# code each backend runs costs more than the code itself).  No frame-pointer omission, so that
# stacks are whole.
opt=${ZD_MEMCHECK_OPT:--O1}
cflags="$opt -g -fno-omit-frame-pointer"
cppflags="-DUSE_VALGRIND"
configure_opts=(--enable-cassert --enable-debug --without-readline --without-icu --without-zlib
                --with-system-tzdata=/usr/share/zoneinfo)
# Directories made and installed, in the order of the top-level makefile (src/Makefile).
dirs=(src/common src/port src/timezone src/backend src/backend/utils/mb/conversion_procs
      src/backend/snowball src/pl/plpgsql src/interfaces/libpq src/bin/initdb src/bin/pg_ctl
      src/bin/psql src/bin/pg_config src/test/regress src/test/isolation src/include
      src/makefiles config)
# Installed beside them: PostgreSQL's valgrind suppressions, for the valgrind layer.
extras=(src/tools/valgrind.supp)
key=$(printf '%s\n' "$src_version" "$cflags" "$cppflags" "${configure_opts[@]}" "${dirs[@]}" \
      "${extras[@]}" | sha1sum | cut -c1-10)
# "postgresql" must be in the prefix's name: Debian's patch 50-per-version-dirs installs the
# modules into /usr/lib/postgresql/15/lib, Debian's own server, unless the library directory's
# path contains "postgres" or "pgsql".  Checked again after configure.
prefix="$root/postgresql-$(tr -c 'A-Za-z0-9.\n' _ <<<"$src_version")-cassert-$key"

if [ -f "$prefix/.complete" ]; then echo "$prefix"; exit 0; fi
[ "$is_root" -eq 1 ] || die "$prefix is not built: run as root once"

exec 8>>"$prefix.lock" && flock 8
if [ -f "$prefix/.complete" ]; then echo "$prefix"; exit 0; fi   # built while we waited

# Build-time packages beyond the project's (scripts/install-deps.sh): valgrind's headers
# (USE_VALGRIND includes valgrind/memcheck.h).  The tarball carries the generated parser and
# scanner files, so neither bison nor flex is needed.
[ -f /usr/include/valgrind/memcheck.h ] || bash "$repo/scripts/install-deps.sh" >&2 ||
  die "installing packages failed"

start=$(date +%s)
# What a build killed before its own cleanup left (~300 MB); a day old, so never a running one.
find "$root" -maxdepth 1 \( -name '.build.*' -o -name '.stage.*' \) -mmin +1440 -exec rm -rf {} +
build=$(mktemp -d "$root/.build.XXXXXX")
stage=$(mktemp -d "$root/.stage.XXXXXX")
trap 'rm -rf "$build" "$stage"' EXIT
log "building PostgreSQL $src_version ($cflags $cppflags ${configure_opts[*]}) into $prefix"
(cd "$build" && CFLAGS="$cflags" CXXFLAGS="$cflags" CPPFLAGS="$cppflags" \
  "$src/configure" --prefix="$prefix" "${configure_opts[@]}") >"$build/configure.log" 2>&1 ||
  { tail -n 30 "$build/configure.log" >&2; die "configure failed"; }
# Where this build installs its modules (see the prefix's name above).
make -s -C "$build/src/port" pg_config_paths.h >>"$build/configure.log" 2>&1
pkglibdir=$(sed -n 's/^#define PKGLIBDIR "\(.*\)"$/\1/p' "$build/src/port/pg_config_paths.h")
case "$pkglibdir" in
  "$prefix"/*) ;;
  *) die "the build would install its modules into '$pkglibdir', outside $prefix" ;;
esac

# The top-level makefile makes the generated headers (catalog, fmgr, lwlock names...) before
# it enters any directory; entering src/backend directly with -j, this has to be asked for.
make -C "$build/src/backend" generated-headers >"$build/make.log" 2>&1 ||
  { tail -n 20 "$build/make.log" >&2; die "making the generated headers failed"; }
for d in "${dirs[@]}"; do
  make -C "$build/$d" -j"$jobs" >>"$build/make.log" 2>&1 &&
    make -C "$build/$d" install DESTDIR="$stage" >>"$build/make.log" 2>&1 ||
    { grep -E 'error:|\*\*\*' "$build/make.log" | head -n 20 >&2; cp "$build/make.log" "$prefix.log"
      die "make in $d failed (log: $prefix.log)"; }
done
make -C "$build/src" install-local DESTDIR="$stage" >>"$build/make.log" 2>&1 ||
  die "installing PGXS's makefiles failed"

for f in "${extras[@]}"; do cp "$src/$f" "$stage$prefix/" || die "copying $f failed"; done

# The staged tree moves into place in one rename (same file system); .complete is written
# into it before, so the prefix appears whole or not at all.
printf 'PostgreSQL %s, %s %s %s\n' "$src_version" "$cflags" "$cppflags" "${configure_opts[*]}" \
  > "$stage$prefix/.complete"
chmod -R a+rX "$stage$prefix"
rm -rf "$prefix"
mv "$stage$prefix" "$prefix" || die "moving the build into $prefix failed"
log "built in $(($(date +%s) - start))s"
echo "$prefix"
