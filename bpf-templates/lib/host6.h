/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 body of cil_from_host: the node's stack to its IPv6 pods. */
#ifndef ROUTEC_LIB_HOST6_H
#define ROUTEC_LIB_HOST6_H

#include "lib/endpoints6.h"
#include "lib/ipv6.h"

static __always_inline int from_host_ipv6(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct ipv6hdr *ip6 = ipv6_header(skb, &eth);

	if (!ip6)
		return drop(skb, DROP_INVALID_PACKET);
	/* The stack's own link traffic on cilium_host (MLD reports, DAD) is
	 * not for a pod: it keeps going uncounted, as non-IP does, and ends in
	 * cilium_net. */
	if (ipv6_is_link_scope(ip6))
		return TC_ACT_OK;

	struct ipv6_payload payload;
	__u32 refusal = ipv6_find_payload(skb, ip6, &payload);

	if (refusal)
		return drop(skb, refusal);

	struct endpoint_info *dst = lookup_endpoint6(&ip6->daddr);

	if (!dst || endpoint_is_host(dst))
		return drop(skb, DROP_NO_ENDPOINT);
	/* Egress hook: out of the lxc, as for IPv4 (bpf_host.c). */
	rewrite_macs_for(eth, dst);
	return forward(skb, FWD_HOST_DELIVERY, bpf_redirect(dst->ifindex, 0));
}

#endif
