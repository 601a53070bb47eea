/* SPDX-License-Identifier: Apache-2.0 */
/* Native routing (`overlay none`): no tunnel. A packet for a pod on another
 * node leaves through the node's device addressed to that node's underlay
 * MAC, and that node's cil_from_netdev delivers it. Contract:
 * docs/datapath.md, "Native routing". */
#ifndef ROUTEC_LIB_NATIVE_H
#define ROUTEC_LIB_NATIVE_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/maps.h"
#include "lib/reasons.h"

/* Sends the packet out of the node's device with `node` (the destination
 * node's underlay IPv4 address, network order) as next hop: the kernel
 * resolves the next hop's MAC by ARP on the device and writes the Ethernet
 * header, so no route to the pod-cidr is needed and forwarding need not be
 * enabled. The TTL is left to the delivering node (one hop, as through the
 * overlay). An IPv6 packet needs an IPv6 next hop (the kernel takes only
 * ipv6_nh for it): the destination node's IPv6 address, not its ipcache
 * tunnel endpoint. */
static __always_inline int native_forward(struct __sk_buff *skb, __be32 node)
{
	struct bpf_redir_neigh nh;

	__builtin_memset(&nh, 0, sizeof(nh));
	nh.nh_family = AF_INET;
	nh.ipv4_nh = node;
	return forward(skb, FWD_NATIVE_FORWARD, bpf_redirect_neigh(DEVICE_IFINDEX, &nh, sizeof(nh), 0));
}

/* True when `ip4` is in this node's own address space (its ipcache entry
 * names this node): a packet for it that no endpoint takes has nowhere to go. */
static __always_inline bool native_is_own_address(__be32 ip4)
{
	struct remote_endpoint_info *info = lookup_ipcache(ip4);

	return info && info->tunnel_endpoint == NODE_IPV4;
}

#endif
