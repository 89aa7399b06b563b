#!/usr/bin/env bash
# Runs test layers of zero_downtime against PostgreSQL MAJOR inside its Debian chroot
# (test/versions/chroot.sh, built first if it is not there): a copy of this tree (the working
# files as they are, uncommitted changes included; no build products) is built and installed
# there by the chroot's compiler against the chroot's server, then test/run.sh runs in the
# chroot with PG_CONFIG set to that server's.  Its output is passed through, closing line
# included; the exit code is run.sh's.
# Usage: chroot_run.sh MAJOR   (as root; the layers: ZD_TEST_LAYERS, default
#        "regress isolation tap unit")
#
# /proc and /dev are mounted for the chroot in a mount namespace of its own (unshare), so that
# nothing stays mounted when the run ends, however it ends.  One run at a time per chroot (a
# lock): `make install` writes into the chroot's server.  Outputs a failed run keeps are under
# the chroot's /tmp, i.e. <chroot>/tmp/zd-test.* on this machine (the path is printed).
set -uo pipefail

major=${1:-}
[[ "$major" =~ ^[0-9]+$ ]] || { echo "usage: $0 MAJOR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "chroot_run: needs root (chroot)" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

dir=$(bash "$here/chroot.sh" "$major" | tail -n 1)
[ -f "$dir/.complete" ] || exit 1
exec 7>>"$dir.run.lock" && flock 7

# What a run killed before its own cleanup left.
find "$dir/tmp" -maxdepth 1 -name 'zd-src.*' -mmin +1440 -exec rm -rf {} +
src=$(mktemp -d "$dir/tmp/zd-src.XXXXXX")
trap 'rm -rf "$src"' EXIT
# The source files only: the tree's own build and test outputs change while 15's run goes on
# beside this one (tar: "file changed as we read it").  In a git checkout, the files git
# tracks or would add; otherwise everything but build and test outputs.
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$repo" ls-files -z --cached --others --exclude-standard |
    tar -C "$repo" -c --null --ignore-failed-read --exclude='node_modules' -T - |
    tar -C "$src" -x || { echo "chroot_run: copying the tree failed" >&2; exit 1; }
else
  tar -C "$repo" -c --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
      --exclude='*.d' --exclude=.built-for --exclude=node_modules --exclude=./build \
      --exclude=./results --exclude=./tmp_check --exclude=./log --exclude=./output_iso . |
    tar -C "$src" -x || { echo "chroot_run: copying the tree failed" >&2; exit 1; }
fi
chmod -R a+rX "$src"
inner=/tmp/${src##*/}

unshare --mount --propagation private -- bash -c '
  set -e; d=$1; shift
  mount -t proc proc "$d/proc"; mount --rbind /dev "$d/dev"
  exec chroot "$d" "$@"' chroot_run "$dir" \
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG="${LANG:-C.UTF-8}" \
    ${LC_ALL:+LC_ALL="$LC_ALL"} ${ZD_KEEP_TEST_DIR:+ZD_KEEP_TEST_DIR="$ZD_KEEP_TEST_DIR"} \
    ZD_INSTALL_DEPS=0 PG_CONFIG="/usr/lib/postgresql/$major/bin/pg_config" \
    ZD_TEST_LAYERS="${ZD_TEST_LAYERS:-regress isolation tap unit}" \
    bash "$inner/test/run.sh" 2>&1 |
  sed -u "s|test outputs kept in /tmp/|test outputs kept in $dir/tmp/|"
exit "${PIPESTATUS[0]}"
