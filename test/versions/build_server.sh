#!/usr/bin/env bash
# Builds PostgreSQL MAJOR (17, 18, 19...) from Debian's source package, once, into a cached
# prefix, for building and testing zero_downtime against the majors Debian 12 does not ship.
# Usage: build_server.sh MAJOR.  Prints the prefix's pg_config as its last line (progress goes
# to standard error); exit code 0 only if the prefix is complete.  Run as root once: later runs
# (any user) only find the prefix, in well under a second.
#
# The source: test/lib/pgsrc.sh (`apt-get source postgresql-MAJOR`, Debian's patches applied,
# as for 15), from the Debian suite that carries the major (deb-src only).  Built with Debian
# 12's compiler and libraries by PostgreSQL's own configure and make, not by Debian's packaging,
# whose build dependencies Debian 12 lacks.  Out of tree (VPATH): the shared source tree is
# never written to.
#
# What is built is what the project's test layers use of a server (test/run.sh): the whole of
# src/ (server, initdb, pg_ctl, psql, pg_basebackup, pgbench, pg_dump, libpq, the headers and
# makefiles of PGXS, pg_regress, pg_isolation_regress and isolationtester) with the TAP
# modules (--enable-tap-tests installs src/test/perl into PGXS), and of contrib the modules the
# tests load beside zero_downtime: pg_stat_statements and auto_explain.  Not the documentation.
# ICU as Debian builds it (the default since 16); no readline (psql only reads files here).
# --enable-debug for whole stacks; not cassert (test/memcheck's build is the assert-enabled one).
#
# The prefix is named by the source version and a hash of what is built, and is complete when it
# has its .complete file: installed into a staging directory (DESTDIR), moved into place in one
# rename, under a lock, so that two runs at once build it once and none sees half an
# installation (as test/memcheck/build_server.sh).
#
# Settings (environment):
#   ZD_VERSIONS_CACHE=DIR   where the prefixes are kept (default /var/cache/zero_downtime)
#   ZD_CORE_CACHE=DIR       where the source is fetched (shared with the core suite and the
#                           memcheck build; default /var/cache/zero_downtime/pgsrc)
#   ZD_VERSIONS_CONFIGURE="--enable-cassert ..."  more configure options (a prefix of its own)
set -uo pipefail

major=${1:-}
[[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 16 ] ||
  { echo "usage: $0 MAJOR   (16 or later; 15 is Debian 12's own)" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${ZD_VERSIONS_CACHE:-/var/cache/zero_downtime}
cache=${ZD_CORE_CACHE:-/var/cache/zero_downtime/pgsrc}
jobs=$(nproc 2>/dev/null || echo 2)
is_root=0; [ "$(id -u)" -eq 0 ] && is_root=1

log() { echo "$*" >&2; }
die() { log "build_server $major: $*"; exit 1; }

# ---- what is built (all of it goes into the prefix's hash) --------------------------------------
cflags="-O2 -g"
read -r -a extra_opts <<<"${ZD_VERSIONS_CONFIGURE:-}"
configure_opts=(--enable-debug --enable-tap-tests --without-readline
                --with-system-tzdata=/usr/share/zoneinfo "${extra_opts[@]}")
contrib=(contrib/pg_stat_statements contrib/auto_explain)

# A prefix of this major already built with these options: found without asking apt (the
# source version is in its name, so it is looked up by the hash of the rest).
key_of() {
  printf '%s\n' "$1" "$cflags" "${configure_opts[@]}" "${contrib[@]}" | sha1sum | cut -c1-10
}
found() {
  local p
  for p in "$root"/postgresql-"$major".*-v-*/.complete "$root"/postgresql-"$major"_*-v-*/.complete; do
    [ -f "$p" ] || continue
    p=$(dirname "$p")
    [ "${p##*-}" = "$(key_of "$(sed -n 's/^PostgreSQL \([^,]*\),.*/\1/p' "$p/.complete")")" ] &&
      { echo "$p/bin/pg_config"; return 0; }
  done
  return 1
}
found && exit 0
[ "$is_root" -eq 1 ] || die "PostgreSQL $major is not built: run $0 $major as root once"

# ---- the packages building it needs, beyond the project's ---------------------------------------
# bison and flex: since 17 the tarball carries no generated parser or scanner.  libicu-dev and
# pkg-config: ICU.  zlib1g-dev: pg_basebackup's and pg_dump's compression.  libipc-run-perl: the
# TAP modules (already one of the project's).  dpkg-dev: apt-get source unpacks with it.
bash "$repo/scripts/install-deps.sh" bison flex libicu-dev pkg-config zlib1g-dev dpkg-dev >&2 ||
  die "installing packages failed"

# ---- the source (shared; its lock keeps two fetches apart) --------------------------------------
# shellcheck source-path=SCRIPTDIR source=../lib/pgsrc.sh disable=SC2154  # src, src_version: from fetch_source
. "$repo/test/lib/pgsrc.sh"
mkdir -p "$cache" && chmod 755 "$root" "$cache"
exec 9>>"$cache/.lock" && flock 9
fetch_source "$major" >&2 ||
  die "no postgresql-$major source: none of the versions apt-cache showsrc lists could be fetched"
exec 9>&-

key=$(key_of "$src_version")
# "postgresql" must be in the prefix's name: Debian's patch 50-per-version-dirs installs the
# modules into /usr/lib/postgresql/MAJOR/lib unless the library directory's path contains
# "postgres" or "pgsql".  Checked again after configure.  "-v-": this script's prefixes, told
# apart from test/memcheck's "-cassert-".
prefix="$root/postgresql-$(tr -c 'A-Za-z0-9.\n' _ <<<"$src_version")-v-$key"

exec 8>>"$prefix.lock" && flock 8
if [ -f "$prefix/.complete" ]; then echo "$prefix/bin/pg_config"; exit 0; fi  # built meanwhile

start=$(date +%s)
# What a build killed before its own cleanup left; a day old, so never a running one.
find "$root" -maxdepth 1 \( -name '.build.*' -o -name '.stage.*' \) -mmin +1440 -exec rm -rf {} +
build=$(mktemp -d "$root/.build.XXXXXX")
stage=$(mktemp -d "$root/.stage.XXXXXX")
trap 'rm -rf "$build" "$stage"' EXIT
log "building PostgreSQL $src_version ($cflags ${configure_opts[*]}) into $prefix"
(cd "$build" && CFLAGS="$cflags" "$src/configure" --prefix="$prefix" "${configure_opts[@]}") \
  >"$build/configure.log" 2>&1 ||
  { tail -n 30 "$build/configure.log" >&2; die "configure failed"; }
make -s -C "$build/src/port" pg_config_paths.h >>"$build/configure.log" 2>&1
pkglibdir=$(sed -n 's/^#define PKGLIBDIR "\(.*\)"$/\1/p' "$build/src/port/pg_config_paths.h")
case "$pkglibdir" in
  "$prefix"/*) ;;
  *) die "the build would install its modules into '$pkglibdir', outside $prefix" ;;
esac

fail() {
  grep -E 'error:|\*\*\*' "$build/make.log" | head -n 20 >&2
  cp "$build/make.log" "$prefix.log"; die "$1 (log: $prefix.log)"
}
# The top level builds src/ and config/ (what `make install` installs, PGXS included).
make -C "$build" -j"$jobs" >"$build/make.log" 2>&1 || fail "make failed"
make -C "$build" install DESTDIR="$stage" >>"$build/make.log" 2>&1 || fail "make install failed"
for d in "${contrib[@]}"; do
  make -C "$build/$d" -j"$jobs" >>"$build/make.log" 2>&1 &&
    make -C "$build/$d" install DESTDIR="$stage" >>"$build/make.log" 2>&1 || fail "make in $d failed"
done

printf 'PostgreSQL %s, %s %s\n' "$src_version" "$cflags" "${configure_opts[*]}" \
  > "$stage$prefix/.complete"
chmod -R a+rX "$stage$prefix"
rm -rf "$prefix"
mv "$stage$prefix" "$prefix" || die "moving the build into $prefix failed"
log "built in $(($(date +%s) - start))s, $(du -sh "$prefix" | cut -f1)"
echo "$prefix/bin/pg_config"
