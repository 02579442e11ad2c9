#!/usr/bin/env bash
# Runs the whole test suite against a throwaway PostgreSQL + PostGIS cluster that is
# stopped and removed afterwards, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d "${TMPDIR:-/tmp}/caregraph-test.XXXXXX")
# The cluster may run as the postgres system user, which must reach the folder.
chmod 755 "$dir"
go build -o "$dir/server" ./server

cleanup() {
  "$dir/server" cluster --dir "$dir/pg" stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

url=$("$dir/server" cluster --dir "$dir/pg" --throwaway --db postgres start)
echo "test cluster: $url" >&2
export CAREGRAPH_TEST_DATABASE_URL="$url"
go test -race -timeout 20m "$@" ./...
