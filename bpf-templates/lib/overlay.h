/* SPDX-License-Identifier: Apache-2.0 */
/* Who may speak the overlay: only the cluster's other nodes. The node's
 * VXLAN socket decapsulates any UDP datagram to its overlay port on any
 * address the node owns, so a pod must not reach that port, and the overlay
 * program must check who sent what it decapsulated. Contract:
 * docs/datapath.md, "Who may speak the overlay". */
#ifndef ROUTEC_LIB_OVERLAY_H
#define ROUTEC_LIB_OVERLAY_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/ipv4.h"
#include "lib/maps.h"
#include "lib/reasons.h"

/* 0 when the packet is not UDP to the overlay port, else the reason to drop
 * it for (overlay-port, or invalid-packet when the port cannot be read). */
static __always_inline __u32 overlay_port_refusal(struct __sk_buff *skb, const struct iphdr *ip4)
{
	int to_overlay = ipv4_is_udp_to(skb, ip4, OVERLAY_PORT);

	if (to_overlay < 0)
		return DROP_INVALID_PACKET;
	return to_overlay ? DROP_OVERLAY_PORT : 0;
}

/* A packet for one of the node's own addresses (a host entry): to the stack,
 * unless it is UDP to the overlay port. */
static __always_inline int pass_to_node(struct __sk_buff *skb, const struct iphdr *ip4)
{
	__u32 refusal = overlay_port_refusal(skb, ip4);

	if (refusal)
		return drop(skb, refusal);
	return forward(skb, FWD_TO_STACK, TC_ACT_OK);
}

/* An ipcache entry for a node address: identity remote-node, and no tunnel
 * endpoint (a pod or pod-cidr entry always has one, whatever identity a pod
 * declares). */
static __always_inline bool is_node_entry(const struct remote_endpoint_info *info)
{
	return info->sec_identity == IDENTITY_REMOTE_NODE && info->tunnel_endpoint == 0;
}

/* True when `ip4` is the underlay address of another node of the cluster.
 * The ipcache is the same on every node, so this node's own address is in it
 * too: NODE_IPV4 refuses it. */
static __always_inline bool is_other_node(__be32 ip4)
{
	struct remote_endpoint_info *info;

	if (ip4 == NODE_IPV4)
		return false;
	info = lookup_ipcache(ip4);
	return info && is_node_entry(info);
}

/* True when `tunnel_source`, a node, may send packets from `ip4`: the
 * ipcache entry of `ip4` names that node as its tunnel endpoint (a node
 * speaks only for its own pods and pod-cidr). */
static __always_inline bool node_speaks_for(__be32 tunnel_source, __be32 ip4)
{
	struct remote_endpoint_info *info = lookup_ipcache(ip4);

	return info && info->tunnel_endpoint == tunnel_source;
}

/* The inner frame of an overlay packet whose outer source, `tunnel_source`,
 * is another node: who may send from its inner source, then delivery. The
 * part of cil_from_overlay that the decapsulation at the node's device
 * (lib/decap.h) shares. */
static __always_inline int overlay_deliver(struct __sk_buff *skb, __be32 tunnel_source)
{
	struct ethhdr *eth = eth_header(skb);

	if (!eth)
		return drop(skb, DROP_INVALID_PACKET);
	if (eth_tag_in_metadata(skb) || eth->h_proto != bpf_htons(ETH_P_IP))
		return drop(skb, DROP_UNKNOWN_L3);

	struct iphdr *ip4 = ipv4_header(skb, &eth);

	if (!ip4)
		return drop(skb, DROP_INVALID_PACKET);
	if (!node_speaks_for(tunnel_source, ip4->saddr))
		return drop(skb, DROP_INNER_SOURCE_MISMATCH);

	struct endpoint_info *dst = lookup_endpoint(ip4->daddr);

	if (!dst)
		return drop(skb, DROP_NO_ENDPOINT);
	if (endpoint_is_host(dst))
		return pass_to_node(skb, ip4);
	return route_to_pod(skb, eth, ip4, dst, FWD_OVERLAY_DELIVERY);
}

#endif
