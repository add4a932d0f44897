#!/bin/bash
# Benchmark: `teardown replay --summary-only` and full `teardown replay`
# against the read floor (`cat` of the file from the page cache),
# `tshark -q -z conv,tcp` and `tcpdump -nn` on a large synthetic capture
# (harness/cli/examples/gen_capture.rs), side by side in one run.
# Usage: bench/replay.sh [PACKETS]   (default 2000000, the issue's size; the capture is cached in target/bench/)
set -eu
cd "$(dirname "$0")/.."
N=${1:-2000000}
mkdir -p target/bench
CAP=target/bench/replay-$N.pcap
cargo build --release --quiet --bin teardown --example gen_capture
[ -s "$CAP" ] || target/release/examples/gen_capture "$CAP" "$N"
ls -lh "$CAP"
cat "$CAP" > /dev/null   # warm the page cache: every tool reads from memory

# measure NAME CMD...: wall seconds (from the nanosecond clock: the read
# floor takes milliseconds) and peak RSS (KiB) into T_NAME / M_NAME.
measure() {
  local name=$1; shift
  local t0 t1 secs rss
  t0=$(date +%s%N)
  /usr/bin/time -o target/bench/time.txt -f '%M' "$@" > /dev/null 2>/dev/null || true
  t1=$(date +%s%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  rss=$(tail -1 target/bench/time.txt)
  eval "T_$name=$secs; M_$name=$rss"
  printf '%-14s %8.3f s  %8d KiB peak RSS   (%s)\n' "$name" "$secs" "$rss" "$*"
}

measure read_floor cat "$CAP"
measure teardown target/release/teardown replay --summary-only "$CAP"
measure full target/release/teardown replay "$CAP"
if command -v tshark >/dev/null; then measure tshark tshark -r "$CAP" -q -z conv,tcp; fi
if command -v tcpdump >/dev/null; then measure tcpdump tcpdump -nn -r "$CAP"; fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "inf" }'; }
echo "full replay vs --summary-only: $(ratio "$T_full" "$T_teardown") the time (goal <= 2x)"
echo "--summary-only vs the read floor: $(ratio "$T_teardown" "$T_read_floor") the time (goal <= 3x)"
[ -n "${T_tshark:-}" ] && echo "teardown vs tshark:  $(ratio "$T_tshark" "$T_teardown") faster (goal 10x)"
[ -n "${T_tcpdump:-}" ] && echo "teardown vs tcpdump: $(ratio "$T_tcpdump" "$T_teardown") faster (goal 20x)"
# Memory does not grow with packets: compare with a capture a tenth the size.
SMALL=target/bench/replay-$((N / 10)).pcap
[ -s "$SMALL" ] || target/release/examples/gen_capture "$SMALL" $((N / 10)) 2>/dev/null
measure teardown_small target/release/teardown replay --summary-only "$SMALL"
echo "peak RSS: $M_teardown KiB for $N packets, $M_teardown_small KiB for $((N / 10))"
