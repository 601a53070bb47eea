/* SPDX-License-Identifier: Apache-2.0 */
/* Looking up endpoints and delivering packets to local pods. */
#ifndef ROUTEC_LIB_ENDPOINTS_H
#define ROUTEC_LIB_ENDPOINTS_H

#include "lib/counters.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/maps.h"

static __always_inline struct endpoint_info *lookup_endpoint(__be32 ip4)
{
	struct endpoint_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.ip4 = ip4;
	key.family = ENDPOINT_KEY_IPV4;
	return bpf_map_lookup_elem(&cilium_lxc, &key);
}

static __always_inline bool endpoint_is_host(const struct endpoint_info *ep)
{
	return ep->flags & ENDPOINT_F_HOST;
}

/* The pod endpoint that owns `ip4` behind the interface `ifindex`, or NULL:
 * a pod cannot speak for another pod's address. */
static __always_inline struct endpoint_info *lookup_source_pod(__be32 ip4, __u32 ifindex)
{
	struct endpoint_info *ep = lookup_endpoint(ip4);

	if (!ep || endpoint_is_host(ep) || ep->ifindex != ifindex)
		return NULL;
	return ep;
}

/* Longest-prefix match of `ip4` in cilium_ipcache. */
static __always_inline struct remote_endpoint_info *lookup_ipcache(__be32 ip4)
{
	struct ipcache_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.prefixlen = IPCACHE_STATIC_PREFIX_BITS + 32;
	key.family = ENDPOINT_KEY_IPV4;
	key.ip4 = ip4;
	return bpf_map_lookup_elem(&cilium_ipcache, &key);
}

/* Addresses the frame to the pod of `ep` as its lxc would (source = the lxc
 * MAC, destination = the pod's MAC). */
static __always_inline void rewrite_macs_for(struct ethhdr *eth, const struct endpoint_info *ep)
{
	mac_from_slot(eth->h_source, &ep->node_mac);
	mac_from_slot(eth->h_dest, &ep->mac);
}

/* Routes an IPv4 packet to the pod of `ep` from a tc ingress hook: TTL check
 * and decrement, MAC rewrite, then straight into the pod's namespace
 * (bpf_redirect_peer skips the lxc's own receive path). `reason` is counted
 * on success. */
static __always_inline int route_to_pod(struct __sk_buff *skb, struct ethhdr *eth, struct iphdr *ip4,
					const struct endpoint_info *ep, __u32 reason)
{
	if (ip4->ttl <= 1)
		return drop(skb, DROP_TTL_EXCEEDED);
	rewrite_macs_for(eth, ep);
	ipv4_decrement_ttl(ip4);
	return forward(skb, reason, bpf_redirect_peer(ep->ifindex, 0));
}

#endif
