// SPDX-License-Identifier: Apache-2.0
/* cil_from_container: tc ingress of every pod's lxc (packets the pod sends).
 * Behaviour contract: docs/datapath.md. One loaded program serves every lxc
 * of a node: the sender's own cilium_lxc entry (found by its source IP and
 * checked against the ingress ifindex) says what it needs to know. */

#include "lib/common.h"
#include "lib/arp.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/encap.h"
#include "lib/endpoints.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/lxc6.h"
#include "lib/maps.h"
#include "lib/native.h"
#include "lib/overlay.h"
#include "lib/reasons.h"

/* Answers the pod's ARP request for its gateway with its lxc's MAC. */
static __always_inline int handle_arp(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct arp_ipv4 *arp = arp_header(skb, &eth);

	if (!arp)
		return drop(skb, DROP_INVALID_PACKET);
	if (!arp_is_ipv4_request(arp))
		return drop(skb, DROP_ARP_UNSUPPORTED);

	struct endpoint_info *sender = lookup_source_pod(arp->sip, skb->ifindex);

	if (!sender)
		return drop(skb, DROP_UNKNOWN_SOURCE);
	if (arp->tip != ROUTER_IPV4)
		return drop(skb, DROP_ARP_UNSUPPORTED);

	__u8 lxc_mac[ETH_ALEN];

	mac_from_slot(lxc_mac, &sender->node_mac);
	arp_reply_in_place(eth, arp, lxc_mac, ROUTER_IPV4);
	return forward(skb, FWD_ARP_REPLY, bpf_redirect(skb->ifindex, 0));
}

static __always_inline int handle_ipv4(struct __sk_buff *skb)
{
	struct ethhdr *eth;
	struct iphdr *ip4 = ipv4_header(skb, &eth);

	if (!ip4)
		return drop(skb, DROP_INVALID_PACKET);
	if (!lookup_source_pod(ip4->saddr, skb->ifindex))
		return drop(skb, DROP_UNKNOWN_SOURCE);

	struct endpoint_info *dst = lookup_endpoint(ip4->daddr);

	if (dst) {
		if (endpoint_is_host(dst))
			return pass_to_node(skb, ip4);
		return route_to_pod(skb, eth, ip4, dst, FWD_LOCAL_DELIVERY);
	}

	struct remote_endpoint_info *remote = lookup_ipcache(ip4->daddr);

	if (!remote)
		return drop(skb, DROP_NO_ROUTE);
	if (is_node_entry(remote)) {
		/* Another node's address: its port is no more the pod's than ours. */
		__u32 refusal = overlay_port_refusal(skb, ip4);

		if (refusal)
			return drop(skb, refusal);
	}
	if (remote->tunnel_endpoint == 0)
		return drop(skb, DROP_NO_TUNNEL_ENDPOINT);
	if (remote->tunnel_endpoint == NODE_IPV4)
		return drop(skb, DROP_NO_ENDPOINT);
	if (NATIVE_ROUTING)
		return native_forward(skb, remote->tunnel_endpoint);
	return vxlan_encapsulate(skb, remote->tunnel_endpoint);
}

SEC("classifier")
int cil_from_container(struct __sk_buff *skb)
{
	struct ethhdr *eth = eth_header(skb);

	if (!eth)
		return drop(skb, DROP_INVALID_PACKET);
	/* A tagged frame is not IP or ARP, even when its inner type is. */
	if (eth_tag_in_metadata(skb))
		return drop(skb, DROP_UNKNOWN_L3);
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return handle_arp(skb);
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		return handle_ipv4(skb);
	if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		return handle_ipv6(skb);
	return drop(skb, DROP_UNKNOWN_L3);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
