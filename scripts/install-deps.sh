#!/usr/bin/env bash
# Installs, as root on Debian 12, everything zero_downtime needs to build and test.
# Idempotent: only missing packages are installed.
set -euo pipefail

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-contrib   # server, PGXS, pg_regress, TAP modules
  g++ make cmake libboost-dev libgtest-dev                    # build + unit tests
  libipc-run-perl                                             # PostgreSQL::Test::Cluster (TAP)
  util-linux                                                  # runuser
)

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
  # Debian would create and start a default cluster; the tests make their own.
  mkdir -p /etc/postgresql-common
  if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
