/* SPDX-License-Identifier: Apache-2.0 */
/* IPv6 header access: addresses, the bounded extension-header walk, hop
 * limit. Contract: docs/datapath.md, "IPv6". */
#ifndef ROUTEC_LIB_IPV6_H
#define ROUTEC_LIB_IPV6_H

#include <linux/ipv6.h>

#include "lib/eth.h"
#include "lib/reasons.h"

/* Next-header values (<netinet/in.h> is libc's, not the BPF target's). */
#define IPV6_NEXT_HOP_BY_HOP 0
#define IPV6_NEXT_ROUTING 43
#define IPV6_NEXT_FRAGMENT 44
#define IPV6_NEXT_AUTH 51
#define IPV6_NEXT_DEST_OPTS 60
#define IPV6_NEXT_ICMPV6 58

/* How many extension headers the datapath walks before it gives up on a
 * packet (Cilium's limit): the verifier needs a bound, and no sane packet
 * carries more. */
#define IPV6_MAX_EXT_HEADERS 4

/* The IPv6 header after the Ethernet header, or NULL when the packet is
 * truncated or not version 6. It may pull data, which invalidates earlier
 * packet pointers: *eth is set to the Ethernet header taken again. */
static __always_inline struct ipv6hdr *ipv6_header(struct __sk_buff *skb, struct ethhdr **eth)
{
	struct ethhdr *l2 = eth_header_and(skb, sizeof(struct ipv6hdr));

	if (!l2)
		return NULL;

	struct ipv6hdr *ip6 = (void *)(l2 + 1);

	if (ip6->version != 6)
		return NULL;
	*eth = l2;
	return ip6;
}

/* An address as four network-order words, the way the maps store it. */
static __always_inline const __be32 *ipv6_words(const struct in6_addr *addr)
{
	return addr->in6_u.u6_addr32;
}

static __always_inline bool ipv6_equal(const struct in6_addr *a, const volatile __be32 b[4])
{
	const __be32 *w = ipv6_words(a);

	return w[0] == b[0] && w[1] == b[1] && w[2] == b[2] && w[3] == b[3];
}

static __always_inline bool ipv6_is_unspecified(const struct in6_addr *a)
{
	const __be32 *w = ipv6_words(a);

	return (w[0] | w[1] | w[2] | w[3]) == 0;
}

/* ff00::/8 */
static __always_inline bool ipv6_is_multicast(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xff;
}

/* fe80::/10 */
static __always_inline bool ipv6_is_link_local(const struct in6_addr *a)
{
	return a->in6_u.u6_addr8[0] == 0xfe && (a->in6_u.u6_addr8[1] & 0xc0) == 0x80;
}

/* True when the packet only makes sense on its link: from or to a
 * multicast, link-local or unspecified address. Nothing routes those. */
static __always_inline bool ipv6_is_link_scope(const struct ipv6hdr *ip6)
{
	return ipv6_is_multicast(&ip6->daddr) || ipv6_is_link_local(&ip6->daddr) ||
	       ipv6_is_unspecified(&ip6->daddr) || ipv6_is_multicast(&ip6->saddr) ||
	       ipv6_is_link_local(&ip6->saddr) || ipv6_is_unspecified(&ip6->saddr);
}

/* Where the upper-layer header starts and what it is. */
struct ipv6_payload {
	__u32 offset; /* from the start of the frame */
	__u8 proto;
};

/* Walks at most IPV6_MAX_EXT_HEADERS extension headers (hop-by-hop,
 * routing, destination options, authentication) after the fixed header.
 * Returns 0 with *payload set, or the reason to drop the packet for: a
 * fragment header anywhere (the datapath does not reassemble, and a later
 * fragment carries no ports to check), more extension headers than the
 * bound, or a header cut short. */
static __always_inline __u32 ipv6_find_payload(struct __sk_buff *skb, const struct ipv6hdr *ip6,
						struct ipv6_payload *payload)
{
	__u32 offset = sizeof(struct ethhdr) + sizeof(struct ipv6hdr);
	__u8 next = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < IPV6_MAX_EXT_HEADERS + 1; i++) {
		/* Byte 0 of every extension header is its next header, byte 1
		 * its length: 8-octet units beyond the first 8, or for AH
		 * 4-octet units beyond the first 8. */
		__u8 ext[2];

		switch (next) {
		case IPV6_NEXT_FRAGMENT:
			return DROP_FRAGMENT;
		case IPV6_NEXT_HOP_BY_HOP:
		case IPV6_NEXT_ROUTING:
		case IPV6_NEXT_DEST_OPTS:
		case IPV6_NEXT_AUTH:
			break;
		default:
			payload->offset = offset;
			payload->proto = next;
			return 0;
		}
		if (i == IPV6_MAX_EXT_HEADERS)
			break;
		if (bpf_skb_load_bytes(skb, offset, ext, sizeof(ext)) < 0)
			return DROP_INVALID_PACKET;
		offset += next == IPV6_NEXT_AUTH ? ((__u32)ext[1] + 2) * 4 : ((__u32)ext[1] + 1) * 8;
		next = ext[0];
	}
	return DROP_IPV6_EXT_HEADERS;
}

/* 1 when the payload is UDP to `port` (host order), 0 when it is not, -1
 * when it is UDP but too short to hold the port. */
static __always_inline int ipv6_is_udp_to(struct __sk_buff *skb, const struct ipv6_payload *payload, __u16 port)
{
	__be16 dport;

	if (payload->proto != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, payload->offset + __builtin_offsetof(struct udphdr, dest), &dport,
			       sizeof(dport)) < 0)
		return -1;
	return dport == bpf_htons(port);
}

#endif
