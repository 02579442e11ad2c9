#!/usr/bin/env bash
# Installs what caregraph needs and the machine lacks: PostgreSQL with PostGIS (for the
# private cluster and the tests) and npm (to build the offline playground). Uses apt-get
# when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail

pg_bindir() {
  local d best=""
  # Globs sort 10 before 9: compare the version numbers.
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] || continue
    if [ -z "$best" ] || [ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ]; then best="$d"; fi
  done
  echo "$best"
}

missing() {
  local need=() bindir version
  bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then
    need+=(postgresql)
  else
    version=$(basename "$(dirname "$bindir")")
    [ -f "/usr/share/postgresql/$version/extension/postgis.control" ] || need+=("postgresql-$version-postgis-3")
  fi
  command -v npm >/dev/null 2>&1 || need+=(npm)
  echo "${need[@]}"
}

install() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "caregraph needs these packages: $*" >&2
    echo "Install them (e.g. sudo apt-get install $*) and run the command again, or set DATABASE_URL to a PostgreSQL server with PostGIS." >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "caregraph needs PostgreSQL with PostGIS and npm ($*); this is not a Debian/Ubuntu machine, so install them with its package manager." >&2
    exit 1
  fi
  echo "installing: $*" >&2
  if [ -z "${CAREGRAPH_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export CAREGRAPH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Twice: PostGIS's package name depends on the PostgreSQL version the first round installs.
for _ in 1 2; do
  need=$(missing)
  [ -z "$need" ] && exit 0
  # shellcheck disable=SC2086
  install $need
done
need=$(missing)
if [ -n "$need" ]; then
  echo "still missing after install: $need" >&2
  exit 1
fi
