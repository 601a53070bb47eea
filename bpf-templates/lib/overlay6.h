/* SPDX-License-Identifier: Apache-2.0 */
/* Who may speak the overlay, for IPv6 packets (lib/overlay.h has the
 * rules): the node's VXLAN socket listens on its IPv6 addresses too, and a
 * node speaks only for its own IPv6 pods and pod-cidr. Also the IPv6 body
 * of cil_from_overlay. */
#ifndef ROUTEC_LIB_OVERLAY6_H
#define ROUTEC_LIB_OVERLAY6_H

#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/overlay.h"

/* 0 when the payload is not UDP to the overlay port, else the reason to
 * drop the packet for. */
static __always_inline __u32 overlay_port_refusal6(struct __sk_buff *skb, const struct ipv6_payload *payload)
{
	int to_overlay = ipv6_is_udp_to(skb, payload, OVERLAY_PORT);

	if (to_overlay < 0)
		return DROP_INVALID_PACKET;
	return to_overlay ? DROP_OVERLAY_PORT : 0;
}

/* A packet for one of the node's own IPv6 addresses: to the stack, unless
 * it is UDP to the overlay port. */
static __always_inline int pass_to_node6(struct __sk_buff *skb, const struct ipv6_payload *payload)
{
	__u32 refusal = overlay_port_refusal6(skb, payload);

	if (refusal)
		return drop(skb, refusal);
	return forward(skb, FWD_TO_STACK, TC_ACT_OK);
}

/* True when `tunnel_source`, a node, may send packets from `ip6`. */
static __always_inline bool node_speaks_for6(__be32 tunnel_source, const struct in6_addr *ip6)
{
	struct remote_endpoint_info *info = lookup_ipcache6(ip6);

	return info && info->tunnel_endpoint == tunnel_source;
}

/* cil_from_overlay for an IPv6 inner packet from `tunnel_source`, a node
 * the caller checked. */
static __always_inline int from_overlay_ipv6(struct __sk_buff *skb, __be32 tunnel_source)
{
	struct ethhdr *eth;
	struct ipv6hdr *ip6 = ipv6_header(skb, &eth);

	if (!ip6)
		return drop(skb, DROP_INVALID_PACKET);
	if (!node_speaks_for6(tunnel_source, &ip6->saddr))
		return drop(skb, DROP_INNER_SOURCE_MISMATCH);

	struct ipv6_payload payload;
	__u32 refusal = ipv6_find_payload(skb, ip6, &payload);

	if (refusal)
		return drop(skb, refusal);

	struct endpoint_info *dst = lookup_endpoint6(&ip6->daddr);

	if (!dst)
		return drop(skb, DROP_NO_ENDPOINT);
	if (endpoint_is_host(dst))
		return pass_to_node6(skb, &payload);
	return route_to_pod6(skb, eth, ip6, dst, FWD_OVERLAY_DELIVERY);
}

#endif
