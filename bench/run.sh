#!/usr/bin/env bash
# make bench: each benchmark prints both figures and the ratio. Needs root for the lab benches.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
echo "== lab setup + teardown (goal: at most 1/10 of iproute2's time)"
$CARGO run --release --quiet --example lab_bench -- 50 ./netns-setup.sh
if [ -x bench/replay.sh ] || [ -f bench/replay.sh ]; then
  echo "== replay of a large capture against tshark and tcpdump"
  bash bench/replay.sh
fi
echo "== the fast suite against its floor (the longest scenario)"
bash bench/suite.sh
