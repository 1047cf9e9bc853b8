#!/usr/bin/env bash
# How cardex-bench's load generator waits and where it runs (docs/benchmarks.md,
# "The load generator"): --load sleep --no-pin still measures; on one processor
# the default is a sleeping, unpinned generator and --load poll and --pin are
# usage errors (exit 2); with two or more the default polls and pins; --redis
# refuses both. Every run is short (about 2 s each).
# Usage: check-load-modes.sh CARDEX_BENCH
set -uo pipefail
bench=$1
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fails=0

fail() {
  echo "check-load-modes: $*" >&2
  sed 's/^/  stderr: /' "$err" >&2
  fails=$((fails + 1))
}

# run EXPECTED_RC [taskset -c CPU] cardex-bench ARGS...: the exit status must be EXPECTED_RC.
run() {
  local want=$1 rc
  shift
  "$@" >"$out" 2>"$err"
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "'$*' exited with $rc, not $want"
    return 1
  fi
}

# The report must hold this exact text.
has() {
  grep -qF -- "$1" "$out" || fail "the report lacks $1: $(head -c 300 "$out")"
}

said() {
  grep -qF -- "$1" "$err" || fail "no '$1' on stderr"
}

command -v taskset >/dev/null || { echo "check-load-modes: taskset (util-linux) is missing" >&2; exit 1; }
# The first processor this process may use, whatever the machine's numbering.
first=$(taskset -cp $$ | sed 's/.*: *//' | grep -o '^[0-9]*')
allowed=$(nproc)
quick=(--pairs 2 --duration 1 --json)

if run 0 "$bench" "${quick[@]}" --load sleep --no-pin; then
  has '"ok":true'
  has '"load":"sleep","pinned":false,"bench_on_cpu":null,"brokers_on_cpu":null'
fi

if run 0 taskset -c "$first" "$bench" "${quick[@]}" --only baseline; then
  has '"load":"sleep","pinned":false'
fi
run 2 taskset -c "$first" "$bench" --load poll "${quick[@]}" && said '--load poll needs 2 processors'
run 2 taskset -c "$first" "$bench" --pin "${quick[@]}" && said '--pin needs 2 processors'
# Refused before anything starts, on any machine.
run 2 "$bench" --redis --load poll && said 'do not apply'
run 2 "$bench" --load fast && said '--load takes poll or sleep'

if [ "$allowed" -ge 2 ]; then
  if run 0 "$bench" "${quick[@]}"; then
    has '"load":"poll","pinned":true'
    grep -qE '"bench_on_cpu":[0-9]+,"brokers_on_cpu":[0-9]+' "$out" ||
      fail "no processors in the report: $(head -c 300 "$out")"
  fi
else
  echo "check-load-modes: one processor allowed: the polling default is not run"
fi

if [ "$fails" -ne 0 ]; then
  echo "check-load-modes: $fails check(s) failed" >&2
  exit 1
fi
echo "check-load-modes: all checks passed"
