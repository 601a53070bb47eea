/* SPDX-License-Identifier: Apache-2.0 */
/* The IPv6 side of lib/endpoints.h: map lookups with IPv6 keys (family 2)
 * and delivery to local pods. */
#ifndef ROUTEC_LIB_ENDPOINTS6_H
#define ROUTEC_LIB_ENDPOINTS6_H

#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/ipv6.h"
#include "lib/maps.h"

/* Both keys keep Cilium's field names (bpftool's BTF output of older pins
 * names them): the 16 address bytes start at ip4 and run on through the
 * three pad words after it. */
_Static_assert(__builtin_offsetof(struct endpoint_key, family) - __builtin_offsetof(struct endpoint_key, ip4) == 16,
	       "endpoint_key has 16 address bytes from ip4");
_Static_assert(sizeof(struct ipcache_key) - __builtin_offsetof(struct ipcache_key, ip4) == 16,
	       "ipcache_key has 16 address bytes from ip4");

static __always_inline struct endpoint_info *lookup_endpoint6(const struct in6_addr *ip6)
{
	struct endpoint_key key;

	__builtin_memset(&key, 0, sizeof(key));
	__builtin_memcpy(&key.ip4, ipv6_words(ip6), sizeof(*ip6));
	key.family = ENDPOINT_KEY_IPV6;
	return bpf_map_lookup_elem(&cilium_lxc, &key);
}

/* The pod endpoint that owns `ip6` behind the interface `ifindex`, or NULL. */
static __always_inline struct endpoint_info *lookup_source_pod6(const struct in6_addr *ip6, __u32 ifindex)
{
	struct endpoint_info *ep = lookup_endpoint6(ip6);

	if (!ep || endpoint_is_host(ep) || ep->ifindex != ifindex)
		return NULL;
	return ep;
}

/* Longest-prefix match of `ip6` in cilium_ipcache. */
static __always_inline struct remote_endpoint_info *lookup_ipcache6(const struct in6_addr *ip6)
{
	struct ipcache_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.prefixlen = IPCACHE_STATIC_PREFIX_BITS + 128;
	key.family = ENDPOINT_KEY_IPV6;
	__builtin_memcpy(&key.ip4, ipv6_words(ip6), sizeof(*ip6));
	return bpf_map_lookup_elem(&cilium_ipcache, &key);
}

/* Routes an IPv6 packet to the pod of `ep` from a tc ingress hook: hop
 * limit check and decrement (IPv6 has no header checksum), MAC rewrite,
 * then straight into the pod's namespace. A hop limit of 1 is counted as
 * ttl-exceeded, as Cilium counts both families. */
static __always_inline int route_to_pod6(struct __sk_buff *skb, struct ethhdr *eth, struct ipv6hdr *ip6,
					 const struct endpoint_info *ep, __u32 reason)
{
	if (ip6->hop_limit <= 1)
		return drop(skb, DROP_TTL_EXCEEDED);
	/* IPv6 has no header checksum to absorb the change: written through
	 * the helper, which keeps a CHECKSUM_COMPLETE skb->csum right (a NIC's,
	 * which the pod's stack checks when it pulls the header). */
	__u8 hop_limit = ip6->hop_limit - 1;
	__u32 hop_limit_offset = (__u32)((void *)&ip6->hop_limit - (void *)(long)skb->data);

	rewrite_macs_for(eth, ep);
	if (bpf_skb_store_bytes(skb, hop_limit_offset, &hop_limit, sizeof(hop_limit), BPF_F_RECOMPUTE_CSUM) < 0)
		return drop(skb, DROP_INVALID_PACKET);
	return forward(skb, reason, bpf_redirect_peer(ep->ifindex, 0));
}

#endif
