#!/usr/bin/env bash
# Compile-only fallback for a major whose source build_server.sh cannot fetch: Debian's
# postgresql-server-dev-MAJOR binary package (trixie: 17, sid: 18, experimental: 19), unpacked
# into a cache, and a pg_config wrapper that hands its headers to Debian 12's PGXS (15's).
# Usage: headers.sh MAJOR.  Prints the wrapper's path as its last line; then
#   make PG_CONFIG=<it>
# compiles zero_downtime against that major's headers.  Nothing can run: there is no server, and
# the package's binaries need a newer C library than Debian 12's.  Why it exists: this mirror has
# the binary packages of those suites but, for some majors, not their source packages.
#
# The package is fetched by apt with lists of its own (under the cache), so the system's apt
# sources are not touched: a "deb" entry for testing would let apt upgrade Debian 12.
# The headers' pg_config.h was made against the newer suite's C library; the functions Debian
# 12's lacks (strlcpy and strlcat: glibc 2.38) are marked missing again, so that PostgreSQL's
# port.h declares its own, as a build on Debian 12 would.
#
# Settings: ZD_VERSIONS_CACHE=DIR  where it is kept (default /var/cache/zero_downtime)
set -uo pipefail

major=${1:-}
[[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 16 ] || { echo "usage: $0 MAJOR" >&2; exit 2; }
root=${ZD_VERSIONS_CACHE:-/var/cache/zero_downtime}
dir="$root/postgresql-$major-headers"
die() { echo "headers $major: $*" >&2; exit 1; }

if [ -f "$dir/.complete" ]; then echo "$dir/pg_config"; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "not fetched: run $0 $major as root once"
[ -x /usr/lib/postgresql/15/bin/pg_config ] || die "Debian's PostgreSQL 15 PGXS is missing (scripts/install-deps.sh)"
mkdir -p "$root" && exec 8>>"$dir.lock" && flock 8
if [ -f "$dir/.complete" ]; then echo "$dir/pg_config"; exit 0; fi

apt_dir="$root/.apt-newer"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{ print $2 }' |
         grep -E '/debian/?$' | head -n 1)
for suite in trixie sid experimental; do
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror:-http://deb.debian.org/debian} $suite main"
done > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache::Archives=$apt_dir/archives"
          -o Dir::State::Status=/dev/null -o APT::Sandbox::User=root)
apt-get "${apt_opts[@]}" update -qq >/dev/null 2>&1 || die "apt-get update (private lists) failed"
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
(cd "$dir.tmp" && apt-get "${apt_opts[@]}" download "postgresql-server-dev-$major") >/dev/null 2>&1 ||
  die "postgresql-server-dev-$major could not be downloaded"
debs=("$dir.tmp/postgresql-server-dev-${major}_"*.deb)
dpkg-deb -x "${debs[0]}" "$dir.tmp/root" || die "unpacking failed"
server="$dir.tmp/root/usr/include/postgresql/$major/server"
[ -f "$server/pg_config.h" ] || die "no server headers in the package"
version=$(dpkg-deb -f "${debs[0]}" Version)

for f in strlcpy strlcat; do
  grep -qw "$f" /usr/include/string.h ||
    sed -i "s/^#define HAVE_DECL_${f^^} 1$/#define HAVE_DECL_${f^^} 0/" "$server/pg_config.h"
done
# Debian 12's Makefile.global takes the server headers from $(pkgincludedir)/15/server.
mkdir -p "$dir.tmp/pkginclude/15"
ln -s "$dir/root/usr/include/postgresql/$major/server" "$dir.tmp/pkginclude/15/server"
ln -s /usr/include/postgresql/internal "$dir.tmp/pkginclude/internal"
cat > "$dir.tmp/pg_config" <<EOF
#!/bin/sh
# PostgreSQL $major's headers (postgresql-server-dev-$major $version) with Debian 12's PGXS:
# compile only (test/versions/headers.sh).
for a in "\$@"; do
  case "\$a" in
    --includedir-server) echo "$dir/root/usr/include/postgresql/$major/server" ;;
    --pkgincludedir) echo "$dir/pkginclude" ;;
    --version) echo "PostgreSQL $major (headers only: postgresql-server-dev-$major $version)" ;;
    *) /usr/lib/postgresql/15/bin/pg_config "\$a" ;;
  esac
done
EOF
chmod 755 "$dir.tmp/pg_config"
rm -f "$dir.tmp"/*.deb
echo "postgresql-server-dev-$major $version" > "$dir.tmp/.complete"
chmod -R a+rX "$dir.tmp"
rm -rf "$dir" && mv "$dir.tmp" "$dir" || die "moving into $dir failed"
echo "$dir/pg_config"
