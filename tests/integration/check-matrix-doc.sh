#!/usr/bin/env bash
# Checks that docs/protocol.md publishes the table the namespace matrix runs:
# the lines between "<!-- matrix:begin -->" and "<!-- matrix:end -->" must be
# what `test_matrix --table` prints.
# Usage: check-matrix-doc.sh TEST_MATRIX PROTOCOL_MD
set -euo pipefail
want=$("$1" --table)
have=$(sed -n '/^<!-- matrix:begin -->$/,/^<!-- matrix:end -->$/p' "$2" | sed '1d;$d')
if [ "$want" != "$have" ]; then
  echo "check-matrix-doc: the matrix table in $2 differs from what the test runs:" >&2
  diff <(printf '%s\n' "$have") <(printf '%s\n' "$want") >&2 || true
  echo "check-matrix-doc: paste the output of '$1 --table' between the markers" >&2
  exit 1
fi
echo "check-matrix-doc: the table in $2 matches the matrix"
