#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME (default 5s) each.
# Targets are found by grep so listing them costs no compile.
set -euo pipefail
fuzztime="${FUZZTIME:-5s}"
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func / /' | sort || true)
[ -z "$targets" ] && { echo "fuzz: no fuzz targets"; exit 0; }
while read -r file fn; do
  dir=$(dirname "$file")
  echo "fuzz: $dir $fn ($fuzztime)"
  if ! out=$(go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$dir" 2>&1); then
    echo "$out"
    exit 1
  fi
done <<< "$targets"
