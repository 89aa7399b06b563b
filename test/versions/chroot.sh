#!/usr/bin/env bash
# A Debian chroot with PostgreSQL MAJOR as Debian packages it, built once and cached, for the
# majors whose source this mirror does not serve (17: trixie, 19: sid + experimental) but whose
# binary packages it does.  Those packages need a newer C library than Debian 12's, so they run
# in a chroot of the suite that carries them, with that suite's compiler building zero_downtime.
# Usage: chroot.sh MAJOR.  Prints the chroot's directory as its last line (progress goes to
# standard error); exit code 0 only if the chroot is complete.  Run as root (debootstrap and
# chroot need it).  test/versions/chroot_run.sh runs the test layers in it.
#
# In it: postgresql-MAJOR and postgresql-server-dev-MAJOR (the server, PGXS, and, in Debian's
# packaging, pg_regress, pg_isolation_regress and the TAP modules of src/test/perl under
# lib/pgxs/src/test: all the test layers use), the build tools (g++, make; cmake and
# GoogleTest for the unit layer), libipc-run-perl (the TAP modules' IPC::Run), libpq-dev (TAP
# 010's pipeline client), pgaudit and set_user for MAJOR when the suite has them (TAP 005
# skips without them), and the user `postgres` (postgresql-common creates it).  No cluster is
# created and no service started: the tests start their own servers.
#
# The chroot is named by the major, the suite and a hash of what is installed, and is complete
# when it has its .complete file (the package versions): it is bootstrapped in a staging
# directory and moved into place in one rename, under a lock, so that two runs at once build it
# once and none sees half a chroot (as build_server.sh does for prefixes).
#
# Settings (environment):
#   ZD_VERSIONS_CACHE=DIR  where the chroots are kept (default /var/cache/zero_downtime)
set -uo pipefail

major=${1:-}
[[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 16 ] ||
  { echo "usage: $0 MAJOR   (16 or later; 15 is Debian 12's own)" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${ZD_VERSIONS_CACHE:-/var/cache/zero_downtime}

log() { echo "$*" >&2; }
die() { log "chroot $major: $*"; exit 1; }

# ---- which suite carries the major --------------------------------------------------------------
# The suite debootstrap installs, and the suite (added to its sources) the major's packages come
# from when it is not the base suite's own: experimental carries only what it changes, so it
# is always installed over sid.
case "$major" in
  17) suite=trixie; extra= ;;
  18) suite=sid; extra= ;;
  *) suite=sid; extra=experimental ;;
esac

packages=(postgresql-"$major" postgresql-server-dev-"$major"
          g++ make cmake libgtest-dev libipc-run-perl libpq-dev)
optional=(postgresql-"$major"-pgaudit postgresql-"$major"-set-user)

key=$(printf '%s\n' 1 "$suite" "$extra" "${packages[@]}" "${optional[@]}" | sha1sum | cut -c1-10)
dir="$root/chroot-$major-$suite${extra:++$extra}-$key"

if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "not built: run $0 $major as root once"
command -v debootstrap >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
    >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null 2>&1 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
      >/dev/null 2>&1; } || die "installing debootstrap failed"; }

mkdir -p "$root" && chmod 755 "$root"
exec 8>>"$dir.lock" && flock 8
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi  # built meanwhile

# The configured Debian archive (as test/lib/pgsrc.sh finds it).
# shellcheck source-path=SCRIPTDIR source=../lib/pgsrc.sh
. "$repo/test/lib/pgsrc.sh"
mirror=$(debian_mirror)

start=$(date +%s)
# What a build killed before its own cleanup left; a day old, so never a running one.
find "$root" -maxdepth 1 -name '.chroot.*' -mmin +1440 -exec rm -rf {} +
stage=$(mktemp -d "$root/.chroot.XXXXXX") && chmod 755 "$stage"
trap 'rm -rf --one-file-system "$stage"' EXIT
log "bootstrapping Debian $suite${extra:+ + $extra} with PostgreSQL $major into $dir"

# minbase: apt and the essential packages; the rest is installed by apt in the chroot, which
# resolves the dependencies (debootstrap's --include does not look at experimental).
debootstrap --variant=minbase --components=main \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$suite" "$stage" "$mirror" >"$stage.log" 2>&1 ||
  { tail -n 30 "$stage.log" >&2; die "debootstrap failed (log: $stage.log)"; }

# No service starts inside (policy-rc.d), and installing the server creates no cluster.
printf '#!/bin/sh\nexit 101\n' >"$stage/usr/sbin/policy-rc.d"
chmod 755 "$stage/usr/sbin/policy-rc.d"
mkdir -p "$stage/etc/postgresql-common/createcluster.d"
echo 'create_main_cluster = false' >"$stage/etc/postgresql-common/createcluster.d/zero_downtime.conf"
{
  echo "deb $mirror $suite main"
  [ -n "$extra" ] && echo "deb $mirror $extra main"
} >"$stage/etc/apt/sources.list"
# sid's and experimental's Release files carry a Valid-Until a week ahead; a mirror that serves
# a frozen copy of the archive serves them past it, which apt refuses as expired.  Their
# signatures are still checked: only the date is not.
echo 'Acquire::Check-Valid-Until "false";' >"$stage/etc/apt/apt.conf.d/99zero-downtime-valid-until"

in_stage() {  # in_stage COMMAND...: runs COMMAND in the staging chroot with /proc and /dev
  unshare --mount --propagation private -- bash -c '
    set -e; d=$1; shift
    mount -t proc proc "$d/proc"; mount --rbind /dev "$d/dev"
    exec chroot "$d" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' in_stage "$stage" "$@"
}
in_stage apt-get update -qq >>"$stage.log" 2>&1 || { tail -n 20 "$stage.log" >&2; die "apt-get update failed"; }
for p in "${optional[@]}"; do
  in_stage apt-cache show "$p" >/dev/null 2>&1 && packages+=("$p")
done
# A package the extra suite (experimental) has is taken from it, by name (apt's PACKAGE/SUITE);
# everything else, dependencies included where the base suite satisfies them, from the base
# suite: experimental as the default (-t) would also upgrade the base system half-way (perl).
wanted=()
for p in "${packages[@]}"; do
  if [ -n "$extra" ] && in_stage apt-cache madison "$p" 2>/dev/null | grep -q " $extra/main"; then
    wanted+=("$p/$extra")
  else
    wanted+=("$p")
  fi
done
in_stage apt-get install -y -qq --no-install-recommends "${wanted[@]}" \
  >>"$stage.log" 2>&1 || { tail -n 30 "$stage.log" >&2; die "apt-get install failed (log: $stage.log)"; }
in_stage apt-get clean >/dev/null 2>&1

in_stage id postgres >/dev/null 2>&1 || die "no user postgres in the chroot"
pg_config=/usr/lib/postgresql/$major/bin/pg_config
pgxs=$(in_stage "$pg_config" --pgxs) || die "no $pg_config in the chroot"
pgxs_dir=$(dirname "$(dirname "$(dirname "$pgxs")")")
for f in src/test/regress/pg_regress src/test/isolation/pg_isolation_regress \
         src/test/perl/PostgreSQL/Test/Cluster.pm; do
  [ -e "$stage$pgxs_dir/$f" ] || die "the packages installed no $pgxs_dir/$f"
done

in_stage dpkg-query -W -f='${Package} ${Version}\n' "${packages[@]}" >"$stage/.complete" ||
  die "the packages are not all installed"
rm -f "$stage.log"
trap - EXIT
rm -rf --one-file-system "$dir"
mv "$stage" "$dir" || die "moving the chroot into $dir failed"
log "built in $(($(date +%s) - start))s, $(du -sh --one-file-system "$dir" | cut -f1): $(tr '\n' ' ' <"$dir/.complete")"
echo "$dir"
