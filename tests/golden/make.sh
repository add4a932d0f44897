#!/bin/bash
# Regenerates the golden captures in this directory (needs root, tcpdump,
# dumpcap, nft, python3). Two namespaces td-gold-a (client, 198.18.0.1,
# fd00:7d::1) and td-gold-b (server, .2 / ::2) joined by a veth pair; the
# capture is taken in td-gold-a. Everything is deleted afterwards.
# Usage: sudo tests/golden/make.sh
set -eu
cd "$(dirname "$0")"
A=td-gold-a; B=td-gold-b
cleanup() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add $A; ip netns add $B
ip -n $A link add td-gold-va type veth peer name td-gold-vb netns $B
ip -n $A addr add 198.18.0.1/15 dev td-gold-va
ip -n $B addr add 198.18.0.2/15 dev td-gold-vb
ip -n $A -6 addr add fd00:7d::1/64 dev td-gold-va nodad
ip -n $B -6 addr add fd00:7d::2/64 dev td-gold-vb nodad
for n in $A $B; do ip -n $n link set lo up; done
ip -n $A link set td-gold-va up; ip -n $B link set td-gold-vb up
# Keep segments MSS-sized on the capture (no TSO super-packets), like a real NIC's wire.
ip netns exec $A ethtool -K td-gold-va tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec $B ethtool -K td-gold-vb tso off gso off gro off >/dev/null 2>&1 || true
sleep 1

EP="python3 $PWD/endpoints.py"
# capture NAME TOOL: starts a capture in A; sets CAP_PID.
capture() {
  case $2 in
    tcpdump) ip netns exec $A tcpdump --immediate-mode -i td-gold-va -s 96 -U -w "$1" tcp 2>/dev/null & ;;
    tcpdump-any) ip netns exec $A tcpdump --immediate-mode -i any -s 96 -U -w "$1" tcp 2>/dev/null & ;;
    dumpcap) ip netns exec $A dumpcap -q -i td-gold-va -s 128 -f tcp -w "$1" 2>/dev/null & ;;
  esac
  CAP_PID=$!
  sleep 1.5
}
stop() { sleep 1; kill $CAP_PID; wait $CAP_PID 2>/dev/null || true; }

run() { # run NAME TOOL MODE PORT [v6]
  local name=$1 tool=$2 mode=$3 port=$4 fam=${5:-}
  local host=198.18.0.2; [ "$fam" = v6 ] && host=fd00:7d::2
  capture "$name" "$tool"
  ip netns exec $B $EP server $mode $port $fam > /dev/null &
  local srv=$!
  sleep 0.5
  ip netns exec $A $EP client $mode $host $port $fam
  wait $srv || true
  stop
}

run close4.pcap tcpdump close4 9001
run close3.pcapng dumpcap close3 9002
run rst-v6.pcap tcpdump-any rst 9003 v6
run keepalive.pcapng dumpcap keepalive 9005
run zerowin.pcap tcpdump zerowin 9006

# Retransmissions: the server's namespace drops every 9th incoming segment.
ip netns exec $B nft -f - <<'NFT'
table inet td_gold { chain in { type filter hook input priority 0; tcp dport 9004 numgen inc mod 9 == 4 drop; }; }
NFT
run retrans.pcapng dumpcap retrans 9004
ip netns exec $B nft delete table inet td_gold

# A refused connection (nobody listens on 9999).
capture refused.pcap tcpdump
ip netns exec $A python3 -c 'import socket
try: socket.create_connection(("198.18.0.2", 9999))
except OSError as e: print(e)' >/dev/null
stop

# Silent death: the wire is cut (all of B's input dropped) with data in flight.
capture silent.pcapng dumpcap
ip netns exec $B $EP server silent 9007 > /dev/null &
srv=$!
sleep 0.5
coproc CLI { ip netns exec $A $EP client silent 198.18.0.2 9007; }
read -r line <&"${CLI[0]}"   # "cut now"
ip netns exec $B nft -f - <<'NFT'
table inet td_gold { chain in { type filter hook input priority 0; tcp dport 9007 drop; }; }
NFT
echo go >&"${CLI[1]}"
read -r line <&"${CLI[0]}"   # "done"
stop
kill $CLI_PID $srv 2>/dev/null || true
wait 2>/dev/null || true
ls -l *.pcap *.pcapng
