#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME (default 5s) each.
# Targets are found by grep so listing them costs no compile.
#
# A failing run is a real failure (exit 1, output printed) when go test -fuzz
# wrote a new input under <pkg>/testdata/fuzz/<Target>/ or says "Failing input
# written to", and also for anything else (build errors and the like). The one
# exception: Go <= 1.26 sometimes ends a -fuzztime run with a bare "context
# deadline exceeded" although nothing failed (a race in the fuzz coordinator,
# go.dev/issue/75804, fixed in Go 1.27); with no new corpus file that is noted
# and skipped.
set -euo pipefail
fuzztime="${FUZZTIME:-5s}"
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sed 's/:func / /' | sort || true)
[ -z "$targets" ] && { echo "fuzz: no fuzz targets"; exit 0; }

# corpus_files DIR: every file under DIR, sorted, one per line (none if DIR is absent).
corpus_files() {
  [ -d "$1" ] || return 0
  find "$1" -type f | LC_ALL=C sort
}

while read -r file fn; do
  dir=$(dirname "$file")
  corpus="$dir/testdata/fuzz/$fn"
  echo "fuzz: $dir $fn ($fuzztime)"
  before=$(corpus_files "$corpus")
  status=0
  out=$(go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" "$dir" 2>&1 </dev/null) || status=$?
  [ "$status" -eq 0 ] && continue
  new=$(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(corpus_files "$corpus"))
  if [ -n "$new" ] || grep -q 'Failing input written to' <<<"$out"; then
    echo "$out"
    echo "fuzz: $fn found a failing input:${new:+ $(paste -sd' ' <<<"$new")}"
    exit 1
  fi
  # The known report: the target's FAIL line followed by a bare deadline line.
  if grep -q "^--- FAIL: ${fn} " <<<"$out" && grep -Eq '^[[:space:]]*context deadline exceeded[[:space:]]*$' <<<"$out" \
    && ! grep -Eq '^panic: |\[build failed\]|\[setup failed\]' <<<"$out"; then
    echo "fuzz: note: $fn ended with Go's 'context deadline exceeded' end-of-run report and wrote no input (go.dev/issue/75804); not a crasher"
    continue
  fi
  echo "$out"
  exit 1
done <<< "$targets"
