// SPDX-License-Identifier: Apache-2.0
/* cil_from_host: tc egress of cilium_host, traffic from the node's own stack
 * to its pods (the node routes its pod-cidr to cilium_host).
 * cil_from_netdev: tc ingress of the node's device (its underlay interface),
 * packets other nodes sent to this node's pods, natively routed or in VXLAN,
 * and the node's own traffic, which goes on to the stack untouched.
 * Behaviour contract: docs/datapath.md. */

#include <linux/if_packet.h>

#include "lib/common.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/decap.h"
#include "lib/endpoints.h"
#include "lib/eth.h"
#include "lib/endpoints6.h"
#include "lib/host6.h"
#include "lib/ipv4.h"
#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/native.h"
#include "lib/reasons.h"

SEC("classifier")
int cil_from_host(struct __sk_buff *skb)
{
	struct ethhdr *eth = eth_header(skb);

	/* Only untagged IP is ours; anything else keeps going uncounted. */
	if (!eth || eth_tag_in_metadata(skb))
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return from_host_ipv6(skb);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;

	struct iphdr *ip4 = ipv4_header(skb, &eth);

	if (!ip4)
		return drop(skb, DROP_INVALID_PACKET);

	struct endpoint_info *dst = lookup_endpoint(ip4->daddr);

	if (!dst || endpoint_is_host(dst))
		return drop(skb, DROP_NO_ENDPOINT);
	/* Egress hook: bpf_redirect_peer only works from ingress, so send it
	 * out of the lxc and the pod receives it on its eth0. */
	rewrite_macs_for(eth, dst);
	return forward(skb, FWD_HOST_DELIVERY, bpf_redirect(dst->ifindex, 0));
}

/* Native routing: an IPv4 packet another node routed to this node. A
 * cilium_lxc pod hit is delivered to the pod unless its source is one the
 * underlay cannot have (lib/native.h), an address of this node's
 * pod-cidr that no endpoint has is dropped; anything else (the node's own
 * addresses, another node's pods) is the stack's to handle, as if no
 * program ran. */
static __always_inline int netdev_native_ipv4(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct iphdr *ip4 = ipv4_header(skb, &eth);

	if (!ip4)
		return drop(skb, DROP_INVALID_PACKET);

	struct endpoint_info *dst = lookup_endpoint(ip4->daddr);

	if (dst && !endpoint_is_host(dst)) {
		if (native_source_refused(ip4->saddr))
			return drop(skb, DROP_UNKNOWN_SOURCE);
		return route_to_pod(skb, eth, ip4, dst, FWD_NETDEV_DELIVERY);
	}
	if (!dst && native_is_own_address(ip4->daddr))
		return drop(skb, DROP_NO_ENDPOINT);
	return forward(skb, FWD_TO_STACK, TC_ACT_OK);
}

/* Native routing, IPv6: the same steps as netdev_native_ipv4 on IPv6 keys.
 * The node's link traffic (neighbour discovery, MLD: to multicast,
 * link-local or unspecified addresses) is the stack's, uncounted, as ARP
 * is for IPv4. A packet for a pod walks its extension headers before
 * delivery, as every path into a pod does. */
static __always_inline int netdev_native_ipv6(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct ipv6hdr *ip6 = ipv6_header(skb, &eth);

	if (!ip6)
		return drop(skb, DROP_INVALID_PACKET);
	if (ipv6_is_multicast(&ip6->daddr) || ipv6_is_link_local(&ip6->daddr) || ipv6_is_unspecified(&ip6->daddr))
		return TC_ACT_OK;

	struct endpoint_info *dst = lookup_endpoint6(&ip6->daddr);

	if (dst && !endpoint_is_host(dst)) {
		if (native_source_refused6(&ip6->saddr))
			return drop(skb, DROP_UNKNOWN_SOURCE);

		struct ipv6_payload payload;
		__u32 refusal = ipv6_find_payload(skb, ip6, &payload);

		if (refusal)
			return drop(skb, refusal);
		return route_to_pod6(skb, eth, ip6, dst, FWD_NETDEV_DELIVERY);
	}
	if (!dst && native_is_own_address6(&ip6->daddr))
		return drop(skb, DROP_NO_ENDPOINT);
	return forward(skb, FWD_TO_STACK, TC_ACT_OK);
}

/* Overlay: VXLAN from another node to this node is decapsulated here when
 * it can be (lib/decap.h); the rest goes on to the stack uncounted, and
 * what is VXLAN among it reaches cil_from_overlay through cilium_vxlan. */
static __always_inline int netdev_overlay(struct __sk_buff *skb)
{
	int verdict;

	if (vxlan_decapsulate(skb, &verdict))
		return verdict;
	return TC_ACT_OK;
}

SEC("classifier")
int cil_from_netdev(struct __sk_buff *skb)
{
	struct ethhdr *eth = eth_header(skb);

	/* Only untagged IP for this node's MAC may be for a pod: a frame the
	 * underlay flooded to every port is not this node's to route, and
	 * everything else (ARP, the node's other traffic) is the stack's. The
	 * overlay's underlay is IPv4: IPv6 is for a pod only natively routed. */
	if (!eth || eth_tag_in_metadata(skb) || skb->pkt_type != PACKET_HOST)
		return TC_ACT_OK;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return NATIVE_ROUTING ? netdev_native_ipv6(skb) : TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (NATIVE_ROUTING)
		return netdev_native_ipv4(skb);
	return netdev_overlay(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
