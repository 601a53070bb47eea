#!/usr/bin/env bash
# Proves the datapath with real packets. Builds the two workers of
# examples/mycluster out of network namespaces (DATAPATH.md's lab: an underlay
# namespace with a bridge, one namespace per node and per pod), compiles the
# templates with each node's constants baked in (-D ROUTEC_*), loads them with
# bpftool into a private bpffs per node (maps shared through pin-by-name, as
# the loader does), attaches them with tc, seeds the maps in the seed format,
# pings, and checks routec_counters. Everything it creates carries the prefix
# $RBPF_PREFIX (default rbpf) and is removed on exit, also on failure.
#
# Usage (root; needs clang, bpftool, iproute2, util-linux; the TCP checks also
# python3 and are skipped without it):
#   bpf-templates/tests/lab.sh
set -euo pipefail

TEMPLATES=$(cd "$(dirname "$0")/.." && pwd)
P=${RBPF_PREFIX:-rbpf}
WORK=$(mktemp -d "/tmp/$P-lab.XXXXXX")
NAMESPACES=()
HOLDERS=()

cleanup() {
	local ns pid
	for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	# The holders own the per-node bpffs instances: with them go the pins.
	for pid in "${HOLDERS[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

new_netns() {
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
	# No IPv6: its neighbour discovery would only add unknown-l3 drops.
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# --- seed encoding (the format of DATAPATH.md's .seed files) ---------------
ip_hex() { local IFS=.; set -- $1; printf '%02x %02x %02x %02x' "$1" "$2" "$3" "$4"; }
le16() { printf '%02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)); }
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
mac_hex() { echo "${1//:/ }"; }
ZERO12="00 00 00 00 00 00 00 00 00 00 00 00"
# lxc_line IP IFINDEX LXC_ID FLAGS MAC NODE_MAC SEC_ID
lxc_line() {
	echo "map update pinned /sys/fs/bpf/cilium_lxc key hex $(ip_hex "$1") $ZERO12 01 00 00 00" \
		"value hex $(le32 "$2") 00 00 $(le16 "$3") $(le32 "$4") 00 00 00 00" \
		"$(mac_hex "$5") 00 00 $(mac_hex "$6") 00 00 $(le32 "$7") $ZERO12"
}
# ipcache_line IP PREFIX_LEN IDENTITY TUNNEL_ENDPOINT
ipcache_line() {
	echo "map update pinned /sys/fs/bpf/cilium_ipcache key hex $(le32 $((32 + $2))) 00 00 00 01 $(ip_hex "$1") $ZERO12" \
		"value hex $(le32 "$3") $(ip_hex "$4") 00 00 00 00"
}

# link_field NETNS DEVICE {ifindex|mac}, from `ip -o link` ("9: name@if2: <...> ... link/ether MAC brd ...").
link_field() {
	ip -n "$1" -o link show dev "$2" | awk -v want="$3" '{
		if (want == "ifindex") { sub(":", "", $1); print $1 }
		else for (i = 1; i < NF; i++) if ($i == "link/ether") print $(i + 1)
	}'
}

# --- nodes ------------------------------------------------------------------
declare -A HOLDER ROUTER

# Runs a command in node $1's network namespace and private mount namespace
# (where its bpffs is mounted on /sys/fs/bpf). Not `ip netns exec`: that
# remounts /sys and would hide the bpffs.
in_node() {
	local node=$1
	shift
	nsenter -t "${HOLDER[$node]}" -m --net="/run/netns/$P-$node" -- "$@"
}

new_underlay() {
	new_netns "$P-under"
	ip -n "$P-under" link add br0 type bridge
	ip -n "$P-under" link set br0 up
}

# new_node NAME ADDRESS POD_CIDR ROUTER
new_node() {
	local node=$1 ns="$P-$1"
	ROUTER[$node]=$4
	new_netns "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$P-under" link add "u-$node" type veth peer name eth0 netns "$ns"
	ip -n "$P-under" link set "u-$node" master br0 up
	ip -n "$ns" addr add "$2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link add cilium_vxlan type vxlan external dstport 8472
	ip -n "$ns" link set cilium_vxlan up
	# cilium_host is a veth (peer cilium_net) as in Cilium: this kernel has no
	# dummy driver. NOARP, so routing the pod-cidr to it needs no neighbour.
	ip -n "$ns" link add cilium_host type veth peer name cilium_net
	ip -n "$ns" link set cilium_host arp off
	ip -n "$ns" addr add "$4/32" dev cilium_host
	ip -n "$ns" link set cilium_net up
	ip -n "$ns" link set cilium_host up
	ip -n "$ns" route add "$3" dev cilium_host src "$4"

	unshare -m --propagation private -- sh -c 'mount -t bpf bpf /sys/fs/bpf && exec sleep infinity' &
	HOLDER[$node]=$!
	HOLDERS+=("$!")
	local tries=0
	until [ "$(nsenter -t "${HOLDER[$node]}" -m stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; do
		tries=$((tries + 1))
		[ $tries -lt 50 ] || fail "bpffs for $node did not come up"
		sleep 0.1
	done

	local vxlan_ifindex device_ifindex out="$WORK/$node"
	vxlan_ifindex=$(link_field "$ns" cilium_vxlan ifindex)
	device_ifindex=$(link_field "$ns" eth0 ifindex)
	mkdir -p "$out"
	local src
	for src in bpf_lxc bpf_overlay bpf_host; do
		clang -O2 -g -target bpf -Wall -Werror -I "$TEMPLATES" -idirafter "/usr/include/$(clang -print-multiarch)" \
			"-DROUTEC_NODE_IPV4=IPV4(${2//./,})" "-DROUTEC_ROUTER_IPV4=IPV4(${4//./,})" \
			-DROUTEC_OVERLAY_IFINDEX="$vxlan_ifindex" -DROUTEC_DEVICE_IFINDEX="$device_ifindex" -DROUTEC_OVERLAY_PORT=8472 -DROUTEC_VNI=0 -DROUTEC_POD_MTU=1450 \
			-c "$TEMPLATES/$src.c" -o "$out/$src.o"
		in_node "$node" bpftool prog loadall "$out/$src.o" "/sys/fs/bpf/$src" type classifier
	done
	in_node "$node" tc qdisc add dev cilium_vxlan clsact
	in_node "$node" tc filter add dev cilium_vxlan ingress bpf da object-pinned /sys/fs/bpf/bpf_overlay/cil_from_overlay
	in_node "$node" tc qdisc add dev cilium_host clsact
	in_node "$node" tc filter add dev cilium_host egress bpf da object-pinned /sys/fs/bpf/bpf_host/cil_from_host
	in_node "$node" tc qdisc add dev eth0 clsact
	in_node "$node" tc filter add dev eth0 ingress bpf da object-pinned /sys/fs/bpf/bpf_host/cil_from_netdev
	# The node's own addresses: host entries (identity 1).
	lxc_line "$2" 0 0 1 00:00:00:00:00:00 00:00:00:00:00:00 1 >>"$WORK/$node.batch"
	lxc_line "$4" 0 0 1 00:00:00:00:00:00 00:00:00:00:00:00 1 >>"$WORK/$node.batch"
}

# new_pod NODE SHORT_NAME IP ENDPOINT IDENTITY LXC [IFINDEX MAC NODE_MAC]
# Declared ifindexes and MACs are given to the devices, so the seeds of the
# reference cluster apply unchanged; undeclared ones are read back like the
# loader does.
new_pod() {
	local node=$1 ns="$P-$2" ip=$3 lxc=$6 nodens="$P-$1"
	new_netns "$ns"
	local index="" mac="" node_mac=""
	[ -n "${7:-}" ] && index="index $7"
	[ -n "${8:-}" ] && mac="address $8"
	[ -n "${9:-}" ] && node_mac="address $9"
	# shellcheck disable=SC2086 # optional words
	ip -n "$nodens" link add "$lxc" $index $node_mac mtu 1450 type veth peer name eth0 $mac mtu 1450 netns "$ns"
	ip -n "$nodens" link set "$lxc" up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$ip/32" dev eth0
	ip -n "$ns" route add "${ROUTER[$node]}/32" dev eth0
	ip -n "$ns" route add default via "${ROUTER[$node]}"
	in_node "$node" tc qdisc add dev "$lxc" clsact
	in_node "$node" tc filter add dev "$lxc" ingress bpf da object-pinned /sys/fs/bpf/bpf_lxc/cil_from_container
	lxc_line "$ip" "$(link_field "$nodens" "$lxc" ifindex)" "$4" 0 "$(link_field "$ns" eth0 mac)" \
		"$(link_field "$nodens" "$lxc" mac)" "$5" >>"$WORK/$node.batch"
}

seed() {
	local node
	for node in "$@"; do
		cat "$WORK/cluster.batch" >>"$WORK/$node.batch"
		in_node "$node" bpftool batch file "$WORK/$node.batch" >/dev/null
	done
}

# packets_for NODE CODE: routec_counters[CODE].packets summed over CPUs.
packets_for() {
	in_node "$1" bpftool -j map lookup pinned /sys/fs/bpf/routec_counters key hex $(le32 "$2") |
		grep -o '"packets":[0-9]*' | awk -F: '{ sum += $2 } END { print sum + 0 }'
}

# Every reason of lib/reasons.h as "NAME CODE".
reasons() { awk '$1 == "#define" && $3 ~ /^[0-9]+$/ { print $2, $3 }' "$TEMPLATES/lib/reasons.h"; }

# count NODE REASON_MACRO
count() { packets_for "$1" "$(reasons | awk -v name="$2" '$1 == name { print $2 }')"; }

show_counters() {
	echo "routec_counters on $1 (packets):"
	local name code packets
	while read -r name code; do
		packets=$(packets_for "$1" "$code")
		[ "$packets" = 0 ] || printf '  %-24s %3s %s\n' "$name" "$code" "$packets"
	done < <(reasons)
}

expect_count() { # NODE REASON EXPECTED
	local got
	got=$(count "$1" "$2")
	[ "$got" = "$3" ] || fail "$1: $2 counted $got, expected $3"
	echo "ok: $1 $2 = $got"
}

expect_at_least() { # NODE REASON MINIMUM
	local got
	got=$(count "$1" "$2")
	[ "$got" -ge "$3" ] || fail "$1: $2 counted $got, expected at least $3"
	echo "ok: $1 $2 = $got"
}

# pod_ping POD DESTINATION COUNT [PING OPTIONS...]
pod_ping() {
	local pod=$1 destination=$2 n=$3
	shift 3
	ip netns exec "$P-$pod" ping -n -q -c "$n" -i 0.2 -W 1 "$@" "$destination"
}

# expect_dropped POD DESTINATION NODE REASON: two pings go unanswered and
# NODE counts both under REASON.
expect_dropped() {
	! pod_ping "$1" "$2" 2 >/dev/null || fail "$2 answered"
	expect_count "$3" "$4" 2
}

# tcp_transfer FROM_POD TO_POD TO_IP BYTES: the receiver must count them all.
tcp_transfer() {
	local received="$WORK/received"
	ip netns exec "$P-$2" timeout 20 python3 -c '
import socket, sys
server = socket.create_server((sys.argv[1], 5001))
server.settimeout(15)
conn, _ = server.accept()
total = 0
while chunk := conn.recv(1 << 16):
    total += len(chunk)
print(total)' "$3" >"$received" &
	local server=$!
	local tries=0
	until ip netns exec "$P-$2" ss -ltn | grep -q ":5001 "; do
		tries=$((tries + 1))
		[ $tries -lt 50 ] || fail "TCP receiver did not start"
		sleep 0.1
	done
	ip netns exec "$P-$1" timeout 20 python3 -c '
import socket, sys
with socket.create_connection((sys.argv[1], 5001), timeout=15) as conn:
    conn.sendall(b"r" * int(sys.argv[2]))' "$3" "$4" || fail "TCP send to $3"
	wait "$server" || fail "TCP receiver on $3"
	[ "$(cat "$received")" = "$4" ] || fail "TCP to $3: received $(cat "$received") of $4 bytes"
	echo "ok: TCP $1 -> $3: $4 bytes"
}

# --- examples/mycluster's two workers --------------------------------------
new_underlay
new_node worker 172.18.0.2 10.10.2.0/24 10.10.2.1
new_node worker2 172.18.0.4 10.10.1.0/24 10.10.1.1
new_pod worker busybox-t6ggh 10.10.2.117 715 3372 lxc4a891387ff1a 9
new_pod worker netshoot-fwt8z 10.10.2.121 1587 10388 lxc5b7b34955e61 11 ea:c4:71:d6:4f:a0 f6:87:b6:c3:a6:45
new_pod worker2 busybox-fmhwc 10.10.1.164 897 3372 lxc0a97661d8043
new_pod worker2 netshoot-gcxrm 10.10.1.155 3564 10388 lxc174c023046ff 11 be:57:3d:54:40:f1 92:65:df:09:dd:28
{
	ipcache_line 10.10.2.117 32 3372 172.18.0.2
	ipcache_line 10.10.2.121 32 10388 172.18.0.2
	ipcache_line 10.10.1.164 32 3372 172.18.0.4
	ipcache_line 10.10.1.155 32 10388 172.18.0.4
	ipcache_line 10.10.0.0 24 2 172.18.0.3
	ipcache_line 10.10.2.0 24 2 172.18.0.2
	ipcache_line 10.10.1.0 24 2 172.18.0.4
	ipcache_line 172.18.0.3 32 6 0.0.0.0
	ipcache_line 172.18.0.2 32 6 0.0.0.0
	ipcache_line 172.18.0.4 32 6 0.0.0.0
} >"$WORK/cluster.batch"
seed worker worker2

echo "== same node: 10.10.2.117 -> 10.10.2.121 (local-delivery via bpf_redirect_peer)"
pod_ping busybox-t6ggh 10.10.2.121 3 || fail "same-node ping"
expect_count worker FWD_LOCAL_DELIVERY 6

echo "== other node: 10.10.2.117 -> 10.10.1.155 (VXLAN, overlay-delivery)"
pod_ping busybox-t6ggh 10.10.1.155 3 || fail "cross-node ping"
expect_count worker FWD_TUNNEL_ENCAP 3
expect_count worker2 FWD_OVERLAY_DELIVERY 3
expect_count worker2 FWD_TUNNEL_ENCAP 3
expect_count worker FWD_OVERLAY_DELIVERY 3

echo "== node -> its own pod: worker -> 10.10.2.117 (host-delivery, reply to-stack)"
in_node worker ping -n -q -c 3 -i 0.2 -W 1 10.10.2.117 || fail "node-to-pod ping"
expect_count worker FWD_HOST_DELIVERY 3
expect_count worker FWD_TO_STACK 3

echo "== no such pod: 10.10.2.117 -> 10.10.2.200 (dropped, no-endpoint)"
expect_dropped busybox-t6ggh 10.10.2.200 worker DROP_NO_ENDPOINT

echo "== no such pod on the other node: 10.10.2.117 -> 10.10.1.200 (encapsulated, dropped by worker2)"
expect_dropped busybox-t6ggh 10.10.1.200 worker2 DROP_NO_ENDPOINT

echo "== outside the cluster: 10.10.2.117 -> 192.0.2.1 (dropped, no-route)"
expect_dropped busybox-t6ggh 192.0.2.1 worker DROP_NO_ROUTE

echo "== another node's address: 10.10.2.117 -> 172.18.0.4 (dropped, no-tunnel-endpoint)"
expect_dropped busybox-t6ggh 172.18.0.4 worker DROP_NO_TUNNEL_ENDPOINT

echo "== pod -> its gateway: 10.10.2.117 -> 10.10.2.1 (to-stack, reply host-delivery)"
pod_ping busybox-t6ggh 10.10.2.1 2 || fail "pod-to-router ping"
expect_count worker FWD_TO_STACK 5
expect_count worker FWD_HOST_DELIVERY 5

echo "== TTL 1 to a pod on the same node (dropped, ttl-exceeded)"
! pod_ping busybox-t6ggh 10.10.2.121 2 -t 1 >/dev/null || fail "TTL 1 answered"
expect_count worker DROP_TTL_EXCEEDED 2

echo "== a pod claiming an address that is not its own (dropped, unknown-source)"
ip -n "$P-busybox-t6ggh" addr add 10.10.2.250/32 dev eth0
! pod_ping busybox-t6ggh 10.10.2.121 2 -I 10.10.2.250 >/dev/null || fail "spoofed ping answered"
ip -n "$P-busybox-t6ggh" addr del 10.10.2.250/32 dev eth0
expect_count worker DROP_UNKNOWN_SOURCE 2

echo "== full-size packets across nodes (pod MTU 1450 inside VXLAN)"
pod_ping busybox-t6ggh 10.10.1.155 2 -s 1422 -M do || fail "1450-byte ping across nodes"

echo "== TCP, same node and across nodes"
if command -v python3 >/dev/null; then
	tcp_transfer busybox-t6ggh netshoot-fwt8z 10.10.2.121 4194304
	tcp_transfer busybox-t6ggh netshoot-gcxrm 10.10.1.155 4194304
	tcp_transfer netshoot-gcxrm busybox-fmhwc 10.10.1.164 4194304
else
	echo "skipped: python3 is not installed"
fi

echo "== another VNI on the overlay port (dropped by worker2, wrong-vni)"
# A foreign VXLAN endpoint on the underlay sends VNI 5 to worker2; its ARP
# requests are what arrives.
ip -n "$P-under" addr add 172.18.0.250/24 dev br0
ip -n "$P-under" link add vx5 type vxlan id 5 remote 172.18.0.4 local 172.18.0.250 dstport 8472
ip -n "$P-under" addr add 192.168.255.1/30 dev vx5
ip -n "$P-under" link set vx5 up
! ip netns exec "$P-under" ping -n -q -c 2 -W 1 192.168.255.2 >/dev/null || fail "VNI 5 answered"
expect_at_least worker2 DROP_WRONG_VNI 1

echo "== the cluster's VNI from a host that is no node (dropped by worker2, unknown-tunnel-source)"
ip -n "$P-under" link add vx0 type vxlan id 0 remote 172.18.0.4 local 172.18.0.250 dstport 8472
ip -n "$P-under" addr add 192.168.254.1/30 dev vx0
ip -n "$P-under" link set vx0 up
! ip netns exec "$P-under" ping -n -q -c 2 -W 1 192.168.254.2 >/dev/null || fail "a stranger's VNI 0 answered"
expect_at_least worker2 DROP_UNKNOWN_TUNNEL_SOURCE 1

echo "== a pod's UDP to its node's overlay port (dropped, overlay-port)"
if command -v python3 >/dev/null; then
	for to in 172.18.0.2 10.10.2.1; do
		ip netns exec "$P-busybox-t6ggh" python3 -c '
import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x" * 16, (sys.argv[1], 8472))' "$to"
	done
	expect_count worker DROP_OVERLAY_PORT 2
else
	echo "skipped: python3 is not installed"
fi

show_counters worker
show_counters worker2
echo "lab: all checks passed"
