// SPDX-License-Identifier: Apache-2.0
/* cil_from_host: tc egress of cilium_host, traffic from the node's own stack
 * to its pods (the node routes its pod-cidr to cilium_host). Behaviour
 * contract: docs/datapath.md. */

#include "lib/common.h"
#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/eth.h"
#include "lib/host6.h"
#include "lib/ipv4.h"
#include "lib/maps.h"
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
