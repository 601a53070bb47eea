/* SPDX-License-Identifier: Apache-2.0 */
/* Native routing (`overlay none`): no tunnel. A packet for a pod on another
 * node leaves through the node's device addressed to that node's underlay
 * MAC, and that node's cil_from_netdev delivers it. Contract:
 * docs/datapath.md, "Native routing". */
#ifndef ROUTEC_LIB_NATIVE_H
#define ROUTEC_LIB_NATIVE_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints.h"
#include "lib/endpoints6.h"
#include "lib/ipv6.h"
#include "lib/maps.h"
#include "lib/reasons.h"

/* Sends the packet out of the node's device with `node` (the destination
 * node's underlay IPv4 address, network order) as next hop: the kernel
 * resolves the next hop's MAC by ARP on the device and writes the Ethernet
 * header, so no route to the pod-cidr is needed and forwarding need not be
 * enabled. The TTL is left to the delivering node (one hop, as through the
 * overlay). */
static __always_inline int native_forward(struct __sk_buff *skb, __be32 node)
{
	struct bpf_redir_neigh nh;

	__builtin_memset(&nh, 0, sizeof(nh));
	nh.nh_family = AF_INET;
	nh.ipv4_nh = node;
	return forward(skb, FWD_NATIVE_FORWARD, bpf_redirect_neigh(DEVICE_IFINDEX, &nh, sizeof(nh), 0));
}

/* native_forward for an IPv6 packet: the kernel takes only an IPv6 next hop
 * for it (ipv6_nh), so the destination node `node` (its IPv4 address, as
 * the ipcache names it) is reached at its IPv6 address, from
 * routec_node_ipv6. A node the map does not know has no IPv6 next hop. */
static __always_inline int native_forward6(struct __sk_buff *skb, __be32 node)
{
	const struct node_ipv6 *next = bpf_map_lookup_elem(&routec_node_ipv6, &node);
	struct bpf_redir_neigh nh;

	if (!next)
		return drop(skb, DROP_NO_ROUTE);
	__builtin_memset(&nh, 0, sizeof(nh));
	nh.nh_family = AF_INET6;
	__builtin_memcpy(nh.ipv6_nh, next->addr, sizeof(nh.ipv6_nh));
	return forward(skb, FWD_NATIVE_FORWARD, bpf_redirect_neigh(DEVICE_IFINDEX, &nh, sizeof(nh), 0));
}

/* True when `ip4` is in this node's own address space (its ipcache entry
 * names this node): a packet for it that no endpoint takes has nowhere to go. */
static __always_inline bool native_is_own_address(__be32 ip4)
{
	struct remote_endpoint_info *info = lookup_ipcache(ip4);

	return info && info->tunnel_endpoint == NODE_IPV4;
}

/* True for a source no host may send from (the kernel's forwarding refuses
 * these as martians): 0/8, 127/8, 224/4 multicast, the broadcast address. */
static __always_inline bool native_is_martian(__be32 ip4)
{
	__u32 host = bpf_ntohl(ip4);

	return (host >> 24) == 0 || (host >> 24) == 127 || (host >> 28) == 0xe || host == 0xffffffff;
}

/* True when a packet from the underlay claims a source it cannot have: a
 * martian, or an address of this node (its pods, its host entries, its own
 * pod-cidr), which never comes in through the device. */
static __always_inline bool native_source_refused(__be32 saddr)
{
	return native_is_martian(saddr) || lookup_endpoint(saddr) || native_is_own_address(saddr);
}

/* The IPv6 twins of the two above. */
static __always_inline bool native_is_own_address6(const struct in6_addr *ip6)
{
	struct remote_endpoint_info *info = lookup_ipcache6(ip6);

	return info && info->tunnel_endpoint == NODE_IPV4;
}

/* ::1, the link's own addresses (multicast, link-local, unspecified),
 * which nothing routes, and IPv4-mapped ::ffff:0:0/96, never a real source
 * on the wire (RFC 4291 2.5.5.2), which a pod's UDP socket would take. */
static __always_inline bool native_is_martian6(const struct in6_addr *ip6)
{
	const __be32 *w = ipv6_words(ip6);

	return ipv6_is_multicast(ip6) || ipv6_is_link_local(ip6) || ipv6_is_unspecified(ip6) ||
	       (w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == bpf_htonl(1)) ||
	       (w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff));
}

static __always_inline bool native_source_refused6(const struct in6_addr *saddr)
{
	return native_is_martian6(saddr) || lookup_endpoint6(saddr) || native_is_own_address6(saddr);
}

#endif
