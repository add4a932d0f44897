#!/usr/bin/env bash
# The same lab as `teardown lab up`, by hand with iproute2, for poking around
# like the article did on two computers.
#
#   sudo ./netns-setup.sh up [switched|direct]   build td-lab-client, td-lab-server (and td-lab-wire)
#   sudo ./netns-setup.sh down                   remove them
#   sudo ./netns-setup.sh cut | restore          pull / plug the cable between the hosts (switched)
#   sudo ./netns-setup.sh exec client|server|wire CMD...
#
# Client 198.18.0.1 / fd00:7d::1, server 198.18.0.2 / fd00:7d::2. No default
# route anywhere; nothing is created in the root namespace (every veth is
# created inside a lab namespace with its peer placed straight into the other).
set -euo pipefail

C=td-lab-client S=td-lab-server W=td-lab-wire

up() {
  local topo=${1:-switched}
  for ns in $C $S; do ip netns add $ns; done
  for ns in $C $S; do
    ip -n $ns link set lo up
    ip netns exec $ns sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0
  done
  if [ "$topo" = switched ]; then
    ip netns add $W
    ip -n $W link set lo up
    ip netns exec $W sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n $W link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
    ip -n $W link add c-port type veth peer name eth0 netns $C address 02:7d:00:00:00:01
    ip -n $W link add s-port type veth peer name eth0 netns $S address 02:7d:00:00:00:02
    for p in c-port s-port; do ip -n $W link set $p master br0 up; done
    ip -n $W link set br0 up
  else
    ip -n $C link add eth0 address 02:7d:00:00:00:01 type veth peer name eth0 netns $S address 02:7d:00:00:00:02
  fi
  # Frames in the order they were sent, like a cable (see keep_frames_in_order
  # in harness/lab/src/topology.rs): TSO off, GRO on, on every veth end.
  if command -v ethtool >/dev/null; then
    for d in "$C eth0" "$S eth0"; do set -- $d; ip netns exec $1 ethtool -K $2 tso off gro on; done
    if [ "$topo" = switched ]; then
      for p in c-port s-port; do ip netns exec $W ethtool -K $p tso off gro on; done
    fi
  else
    echo "netns-setup.sh: no ethtool: veths may reorder frames sent from two CPUs at once" >&2
  fi
  ip -n $C addr add 198.18.0.1/15 dev eth0
  ip -n $C addr add fd00:7d::1/64 dev eth0 nodad
  ip -n $S addr add 198.18.0.2/15 dev eth0
  ip -n $S addr add fd00:7d::2/64 dev eth0 nodad
  for ns in $C $S; do ip -n $ns link set eth0 up; done
  [ "${QUIET:-}" ] || cat <<MSG
lab up ($topo): $C 198.18.0.1, $S 198.18.0.2
Reproduce the article by hand (one terminal each):
  sudo $0 exec server nc -l 198.18.0.2 8080      # or: python3 -m http.server 8080
  sudo $0 exec client nc -v 198.18.0.2 8080
  sudo $0 exec wire tcpdump -nn -S -i c-port tcp  # what the client sends into the wire
  sudo $0 exec client ss -tino                    # state, timers, retransmissions
  sudo $0 cut ; sudo $0 restore                   # pull and plug the cable
MSG
}

down() {
  # Processes first (by pid, only those inside our namespaces), then the namespaces.
  for ns in $C $S $W; do
    ip netns list | grep -qw "^$ns" || continue
    for pid in $(ip netns pids $ns); do kill -9 "$pid" 2>/dev/null || true; done
    ip -n $ns link set eth0 down 2>/dev/null || true
    ss -N $ns -K state all >/dev/null 2>&1 || true
    ip netns del $ns
  done
}

cut()     { for p in c-port s-port; do ip netns exec $W bridge link set dev $p state 0; done; }
restore() { for p in c-port s-port; do ip netns exec $W bridge link set dev $p state 3; done; }

case "${1:-}" in
  up) up "${2:-switched}" ;;
  down) down ;;
  cut) cut ;;
  restore) restore ;;
  exec) host=${2:?client, server or wire}; shift 2; exec ip netns exec "td-lab-$host" "$@" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
