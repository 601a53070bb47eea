/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4 header access and TTL handling. */
#ifndef ROUTEC_LIB_IPV4_H
#define ROUTEC_LIB_IPV4_H

#include "lib/eth.h"

/* The IPv4 header after the Ethernet header, or NULL when the packet is
 * truncated or the header length is below the minimum. It may pull data,
 * which invalidates earlier packet pointers: *eth is set to the Ethernet
 * header taken again. */
static __always_inline struct iphdr *ipv4_header(struct __sk_buff *skb, struct ethhdr **eth)
{
	struct ethhdr *l2 = eth_header_and(skb, sizeof(struct iphdr));

	if (!l2)
		return NULL;

	struct iphdr *ip4 = (void *)(l2 + 1);

	if (ip4->ihl < 5)
		return NULL;
	*eth = l2;
	return ip4;
}

/* The fragment offset bits of iphdr.frag_off (host order). */
#define IPV4_FRAGMENT_OFFSET 0x1fff

/* 1 when the packet is UDP to `port` (host order), 0 when it is not, -1
 * when it is UDP but too short to hold the port. Only the first fragment
 * (offset 0) holds the UDP header; later ones start 8 bytes or more into
 * the datagram, and Linux discards a datagram whose fragments overlap, so
 * the port of the first fragment is the port reassembly delivers to. */
static __always_inline int ipv4_is_udp_to(struct __sk_buff *skb, const struct iphdr *ip4, __u16 port)
{
	__be16 dport;

	if (ip4->protocol != IPPROTO_UDP || (ip4->frag_off & bpf_htons(IPV4_FRAGMENT_OFFSET)))
		return 0;
	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + ip4->ihl * 4 + __builtin_offsetof(struct udphdr, dest),
			       &dport, sizeof(dport)) < 0)
		return -1;
	return dport == bpf_htons(port);
}

/* Decrements the TTL, updating the header checksum incrementally (RFC 1624):
 * the TTL is the high byte of its 16-bit word, so the sum grows by 0x0100. */
static __always_inline void ipv4_decrement_ttl(struct iphdr *ip4)
{
	__u32 check = (__u32)ip4->check + (__u32)bpf_htons(0x0100);

	ip4->check = (__u16)(check + (check >= 0xffff));
	ip4->ttl -= 1;
}

#endif
