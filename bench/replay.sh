#!/bin/bash
# Benchmark: `teardown replay --summary-only` against `tshark -q -z conv,tcp`
# and `tcpdump -nn` on a large synthetic capture (harness/cli/examples/gen_capture.rs).
# Usage: bench/replay.sh [PACKETS]   (default 5000000; the capture is cached in target/bench/)
set -eu
cd "$(dirname "$0")/.."
N=${1:-5000000}
mkdir -p target/bench
CAP=target/bench/replay-$N.pcap
cargo build --release --quiet --bin teardown --example gen_capture
[ -s "$CAP" ] || target/release/examples/gen_capture "$CAP" "$N"
ls -lh "$CAP"
cat "$CAP" > /dev/null   # warm the page cache: every tool reads from memory

# measure NAME CMD...: wall seconds and peak RSS (KiB) into T_NAME / M_NAME.
measure() {
  local name=$1; shift
  local out
  /usr/bin/time -o target/bench/time.txt -f '%e %M' "$@" > /dev/null 2>/dev/null || true
  out=$(tail -1 target/bench/time.txt)
  eval "T_$name=${out% *}; M_$name=${out#* }"
  printf '%-10s %8.2f s  %8d KiB peak RSS   (%s)\n' "$name" "${out% *}" "${out#* }" "$*"
}

measure teardown target/release/teardown replay --summary-only "$CAP"
if command -v tshark >/dev/null; then measure tshark tshark -r "$CAP" -q -z conv,tcp; fi
if command -v tcpdump >/dev/null; then measure tcpdump tcpdump -nn -r "$CAP"; fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "inf" }'; }
[ -n "${T_tshark:-}" ] && echo "teardown vs tshark:  $(ratio "$T_tshark" "$T_teardown") faster (goal 10x)"
[ -n "${T_tcpdump:-}" ] && echo "teardown vs tcpdump: $(ratio "$T_tcpdump" "$T_teardown") faster (goal 20x)"
# Memory does not grow with packets: compare with a capture a tenth the size.
SMALL=target/bench/replay-$((N / 10)).pcap
[ -s "$SMALL" ] || target/release/examples/gen_capture "$SMALL" $((N / 10)) 2>/dev/null
measure teardown_small target/release/teardown replay --summary-only "$SMALL"
echo "peak RSS: $M_teardown KiB for $N packets, $M_teardown_small KiB for $((N / 10))"
