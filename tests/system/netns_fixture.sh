# shellcheck shell=bash
# Network namespaces for system tests that cut links between running
# processes. Each member i gets its own namespace with one veth link to a
# bridge in the root namespace; the root namespace holds two addresses on
# that bridge:
#   NET_CLIENT (x.254, the primary address: clients in the root namespace
#              connect from it)
#   NET_SERVER (x.253: name servers listen on it, so brokers still reach
#              them while cut from the clients)
# Links are cut with policy rules of type blackhole inside the member's
# namespace: "to X" drops what the member sends to X and so every TCP
# exchange with X in both directions (SYN-ACKs and ACKs included), while
# the link itself stays up, as on a real switch that loses packets.
#
#   net_available            0 if this process may create namespaces (root, iproute2)
#   net_up N                 create namespaces 1..N; sets NET_IP[i], NET_NS[i]
#   net_exec i               command prefix that runs a program in member i's namespace
#   net_cut i j / net_heal i j        drop / restore traffic between members i and j
#   net_cut_clients i / net_heal_clients i  drop / restore member i <-> NET_CLIENT
#   net_heal_all             remove every cut
#   net_down                 remove everything net_up created (safe to call twice)
# Names carry this shell's pid: parallel runs cannot collide, and leftovers of
# a run killed by SIGKILL are removed by the next run (net_remove_stale).
declare -a NET_IP NET_NS NET_VETH
NET_BRIDGE=""
NET_N=0

net_available() {
  [ "$(id -u)" = 0 ] || return 1
  command -v ip >/dev/null 2>&1 || return 1
  ip netns add "tern-probe-$$" 2>/dev/null || return 1
  ip netns del "tern-probe-$$"
}

net_remove_stale() {
  local ns pid br
  for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep '^tern-fs-'); do
    pid="${ns#tern-fs-}"
    pid="${pid%%-*}"
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
  done
  for br in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{ print $2 }' | grep '^tfs'); do
    pid="${br#tfs}"
    kill -0 "$pid" 2>/dev/null || ip link del "$br" 2>/dev/null
  done
}

net_up() {
  local n=$1 i c d
  net_remove_stale
  c=$((100 + $$ % 50))
  d=$(($$ / 50 % 250))
  NET_CLIENT="10.$c.$d.254"
  NET_SERVER="10.$c.$d.253"
  NET_BRIDGE="tfs$$"
  ip link add "$NET_BRIDGE" type bridge || return 1
  ip addr add "$NET_CLIENT/24" dev "$NET_BRIDGE" &&
    ip addr add "$NET_SERVER/24" dev "$NET_BRIDGE" &&
    ip link set "$NET_BRIDGE" up || return 1
  for ((i = 1; i <= n; i++)); do
    NET_NS[$i]="tern-fs-$$-$i"
    NET_VETH[$i]="tf$(($$ % 100000))_$i"
    NET_IP[$i]="10.$c.$d.$i"
    ip netns add "${NET_NS[$i]}" || return 1
    NET_N=$i
    ip -n "${NET_NS[$i]}" link set lo up &&
      ip link add "${NET_VETH[$i]}" type veth peer name e0 netns "${NET_NS[$i]}" &&
      ip link set "${NET_VETH[$i]}" master "$NET_BRIDGE" up &&
      ip -n "${NET_NS[$i]}" addr add "${NET_IP[$i]}/24" dev e0 &&
      ip -n "${NET_NS[$i]}" link set e0 up || return 1
  done
}

net_exec() {
  echo "ip netns exec ${NET_NS[$1]}"
}

# rule add/del in member i's namespace for destination address $3.
_net_rule() {
  ip -n "${NET_NS[$2]}" rule "$1" to "$3" blackhole 2>/dev/null
}

net_cut() {
  _net_rule add "$1" "${NET_IP[$2]}"
  _net_rule add "$2" "${NET_IP[$1]}"
}

net_heal() {
  _net_rule del "$1" "${NET_IP[$2]}"
  _net_rule del "$2" "${NET_IP[$1]}"
}

net_cut_clients() {
  _net_rule add "$1" "$NET_CLIENT"
}

net_heal_clients() {
  _net_rule del "$1" "$NET_CLIENT"
}

net_heal_all() {
  local i
  for ((i = 1; i <= NET_N; i++)); do
    ip -n "${NET_NS[$i]}" rule show 2>/dev/null | awk '/blackhole/ { print $5 }' | while read -r a; do
      _net_rule del "$i" "$a"
    done
  done
}

net_down() {
  local i
  for ((i = 1; i <= NET_N; i++)); do
    # Deleting a namespace deletes its end of the veth pair, and so the pair.
    ip netns del "${NET_NS[$i]}" 2>/dev/null
  done
  NET_N=0
  [ -n "$NET_BRIDGE" ] && ip link del "$NET_BRIDGE" 2>/dev/null
  NET_BRIDGE=""
}
