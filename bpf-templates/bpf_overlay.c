// SPDX-License-Identifier: Apache-2.0
/* cil_from_overlay: tc ingress of cilium_vxlan (external mode), packets other
 * nodes sent to this node's pods. Behaviour contract: docs/datapath.md. */

#include "lib/common.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/maps.h"
#include "lib/overlay.h"
#include "lib/overlay6.h"
#include "lib/reasons.h"

SEC("classifier")
int cil_from_overlay(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key;

	__builtin_memset(&key, 0, sizeof(key));
	/* No tunnel metadata means no VNI, so it cannot be the cluster's. */
	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) < 0 || key.tunnel_id != VNI)
		return drop(skb, DROP_WRONG_VNI);

	/* The outer source, as the VXLAN socket saw it (network order). */
	__be32 tunnel_source = bpf_htonl(key.remote_ipv4);

	if (!is_other_node(tunnel_source))
		return drop(skb, DROP_UNKNOWN_TUNNEL_SOURCE);

	struct ethhdr *eth = eth_header(skb);

	if (!eth)
		return drop(skb, DROP_INVALID_PACKET);
	/* IPv6 inner frames come only this way: cil_from_netdev decapsulates
	 * IPv4 ones alone (docs/datapath.md, "The overlay's path"). */
	if (!eth_tag_in_metadata(skb) && eth->h_proto == bpf_htons(ETH_P_IPV6))
		return from_overlay_ipv6(skb, tunnel_source);
	return overlay_deliver(skb, tunnel_source);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
