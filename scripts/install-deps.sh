#!/usr/bin/env bash
# Installs, as root on Debian 12, everything zero_downtime needs to build and test.
# Idempotent: only missing packages are installed.
# Arguments: more packages, wanted only by one layer (test/versions/build_server.sh: what
# building PostgreSQL from source needs), installed the same way.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-contrib   # server, PGXS, pg_regress, TAP modules
  libpq-dev                                                   # the pipeline client of TAP 010
  g++ make cmake libboost-dev libgtest-dev                    # build + unit tests
  libipc-run-perl                                             # PostgreSQL::Test::Cluster (TAP)
  postgresql-15-pgaudit postgresql-15-set-user                # hook extensions tested beside it
  util-linux                                                  # runuser
  valgrind                                                    # valgrind layer; its headers: the cassert build
  "$@"
)
# The clients layer runs the npm migration tools: Debian's node 18 and npm 9 unless a node is
# already installed (e.g. NodeSource's, which ships its own npm and conflicts with Debian's).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (it uses apt-get)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  # No standard input in CI: never let dpkg stop to ask about a configuration file.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >/dev/null
fi
