# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # cache and is_root come from the caller, src and src_version go to it
# PostgreSQL's source from Debian, fetched once into a cache; sourced by the scripts that need
# it (test/core_suite/run.sh: the core regression suite; test/memcheck/build_server.sh: the
# assert-enabled server of the cassert and valgrind layers; test/versions/build_server.sh: the
# servers of the other majors), so that they share one copy.
#
# fetch_source [MAJOR]: the source package of postgresql-MAJOR (default 15) (`apt-get source`):
# the installed version if the archive still has it, else another version `apt-cache showsrc`
# lists, newest first.  deb-src entries are added when there are none: for 15, mirroring the
# configured Debian sources; for a newer major, Debian 12 has none, so the suites that carry it
# (trixie: 17, sid: 18, experimental: 19) are added as deb-src only (nothing is installed from
# them: their source is built here, with Debian 12's compiler and libraries).
# It is unpacked into $cache/<version>/ and named by $cache/<version>/.complete, written last:
# a tree without it is never used.  Only root fetches; another user only finds.
#
# The caller sets:  cache    the cache directory (it exists)
#                   is_root  1 when running as root, else 0
# and holds an exclusive lock on "$cache/.lock" (flock) around fetch_source, so that two runs
# at once never fetch into the same directory; fetch_source sets:
#                   src          the unpacked source tree
#                   src_version  its Debian version
# It returns non-zero when no version could be found or fetched.

# The versions of postgresql-MAJOR's source the configured deb-src entries list.
listed_versions() {
  apt-cache showsrc "postgresql-${1:-15}" 2>/dev/null | sed -n 's/^Version: //p' | sort -u
}

# The configured Debian archive's address (deb822 URIs: or a one-line "deb" entry), not the
# security archive's.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{ print $2 }' |
        grep -E '/debian/?$' | head -n 1)
  [ -n "$uri" ] || uri=$(grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        2>/dev/null | grep -oE '(https?|ftp)://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ')
  echo "${uri:-http://deb.debian.org/debian}"
}

# deb-src entries for the suites that carry the majors Debian 12 lacks.  Source only: a "deb"
# entry for them would let apt upgrade Debian 12 to testing.
add_newer_deb_src() {
  local out=/etc/apt/sources.list.d/zero_downtime-pg-versions.sources
  [ -f "$out" ] && return 0
  cat > "$out" <<EOS
# Added by zero_downtime's test/lib/pgsrc.sh: the source packages of PostgreSQL majors newer
# than Debian 12's (postgresql-17: trixie, -18: sid, -19: experimental).  deb-src only.
Types: deb-src
URIs: $(debian_mirror)
Suites: trixie sid experimental
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  apt-get update -qq >/dev/null 2>&1
}

# deb-src entries mirroring the configured Debian "deb" sources, when there are none.
add_deb_src() {
  local out=/etc/apt/sources.list.d/zero_downtime-src f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$out.sources" ] || continue
    # deb822: copy each stanza whose Types has "deb", as Types: deb-src.
    awk 'BEGIN { RS=""; ORS="\n\n" }
         /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ && /deb\.debian\.org|debian/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
  done > "$out.sources"
  [ -s "$out.sources" ] || rm -f "$out.sources"
  grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/^deb(\s)/deb-src\1/' > "$out.list"
  [ -s "$out.list" ] || rm -f "$out.list"
  apt-get update -qq >/dev/null 2>&1
}

# fetch_source [MAJOR]: sets src (the unpacked source tree) and src_version.
fetch_source() {
  local major=${1:-15} installed versions=() v dir tmp
  local pkg=postgresql-$major
  installed=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)
  mapfile -t versions < <(listed_versions "$major")
  if [ "${#versions[@]}" -eq 0 ] && [ "$is_root" -eq 1 ]; then
    if [ "$major" -eq 15 ]; then
      echo "no deb-src for $pkg: adding deb-src entries for the configured Debian sources"
      add_deb_src
    else
      echo "no deb-src for $pkg: adding deb-src entries for trixie, sid and experimental"
      add_newer_deb_src
    fi
    mapfile -t versions < <(listed_versions "$major")
  fi
  # The installed version first, then the others newest first.
  local order=()
  [ -n "$installed" ] && order+=("$installed")
  while read -r v; do [ -n "$v" ] && [ "$v" != "$installed" ] && order+=("$v"); done < <(
    printf '%s\n' "${versions[@]}" | sort -r -V)
  for v in "${order[@]}"; do
    dir="$cache/$v"
    if [ -f "$dir/.complete" ]; then
      src=$(cat "$dir/.complete"); src_version=$v; return 0
    fi
    [ "$is_root" -eq 1 ] || continue
    # The archive keeps only some versions (and a mirror may lack a listed one's files): do not
    # ask again for a day about a missing one.
    [ -n "$(find "$cache/$v.unavailable" -mmin -1440 2>/dev/null)" ] && continue
    printf '%s\n' "${versions[@]}" | grep -qxF "$v" || continue
    command -v dpkg-source >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends dpkg-dev >/dev/null 2>&1
    echo "fetching $pkg=$v source"
    tmp="$dir.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
    if (cd "$tmp" && apt-get source -q "$pkg=$v") >"$tmp.log" 2>&1; then
      local tree
      tree=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name "$pkg-*" | head -n 1)
      if [ -n "$tree" ] && [ -f "$tree/src/test/regress/parallel_schedule" ]; then
        rm -f "$tmp"/*.tar.* ; rm -rf "$dir"; mv "$tmp" "$dir"
        echo "$dir/$(basename "$tree")" > "$dir/.complete"
        rm -f "$tmp.log" "$cache/$v.unavailable"
        src=$(cat "$dir/.complete"); src_version=$v; return 0
      fi
    fi
    echo "  not available: $(grep -m1 -E '^E:' "$tmp.log")"
    touch "$cache/$v.unavailable"; rm -rf "$tmp" "$tmp.log"
  done
  return 1
}
