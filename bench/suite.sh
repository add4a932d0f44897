#!/usr/bin/env bash
# The whole fast suite's wall time (both families, as `sudo make scenarios` runs in CI)
# next to its floor: the longest scenario's own duration. Issue 12: within 1.15x, the longest under 20 s.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/td-bench-suite.XXXXXX)
trap 'rm -rf "$out"' EXIT
target/release/teardown run scenarios/ --ip both --out "$out" --json > "$out/summary.stdout" || true
python3 - "$out/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
longest = max(x["wall_seconds"] for x in s["scenarios"])
name = max(s["scenarios"], key=lambda x: x["wall_seconds"])["name"]
total = s["wall_seconds"]
print(f"  scenarios                 {len(s['scenarios'])}")
print(f"  suite wall time           {total:9.2f} s")
print(f"  longest scenario          {longest:9.2f} s  ({name})")
print(f"  ratio suite/longest       {total/longest:9.3f}  (goal <= 1.15, the longest under 20 s)")
PY
