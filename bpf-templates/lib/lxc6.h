/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 body of cil_from_container (bpf_lxc.c): neighbour discovery for
 * the router, the source check, then the same decisions as IPv4 on IPv6
 * keys. Contract: docs/datapath.md, "IPv6". */
#ifndef ROUTEC_LIB_LXC6_H
#define ROUTEC_LIB_LXC6_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/encap.h"
#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/native.h"
#include "lib/ndp.h"
#include "lib/overlay.h"
#include "lib/overlay6.h"

static __always_inline int handle_ipv6(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct ipv6hdr *ip6 = ipv6_header(skb, &eth);

	if (!ip6)
		return drop(skb, DROP_INVALID_PACKET);
	if (ndp_is_solicitation(skb, ip6))
		return ndp_answer_router(skb, eth, ip6);
	if (ipv6_is_link_scope(ip6))
		return drop(skb, DROP_IPV6_LINK_LOCAL);
	if (!lookup_source_pod6(&ip6->saddr, skb->ifindex))
		return drop(skb, DROP_UNKNOWN_SOURCE);

	struct ipv6_payload payload;
	__u32 refusal = ipv6_find_payload(skb, ip6, &payload);

	if (refusal)
		return drop(skb, refusal);

	struct endpoint_info *dst = lookup_endpoint6(&ip6->daddr);

	if (dst) {
		if (endpoint_is_host(dst))
			return pass_to_node6(skb, &payload);
		return route_to_pod6(skb, eth, ip6, dst, FWD_LOCAL_DELIVERY);
	}

	struct remote_endpoint_info *remote = lookup_ipcache6(&ip6->daddr);

	if (!remote)
		return drop(skb, DROP_NO_ROUTE);
	if (is_node_entry(remote)) {
		refusal = overlay_port_refusal6(skb, &payload);
		if (refusal)
			return drop(skb, refusal);
	}
	if (remote->tunnel_endpoint == 0)
		return drop(skb, DROP_NO_TUNNEL_ENDPOINT);
	if (remote->tunnel_endpoint == NODE_IPV4)
		return drop(skb, DROP_NO_ENDPOINT);
	if (NATIVE_ROUTING)
		return native_forward6(skb, remote->tunnel_endpoint);
	/* The underlay is IPv4: the same encapsulation as an IPv4 packet's. */
	return vxlan_encapsulate(skb, remote->tunnel_endpoint);
}

#endif
