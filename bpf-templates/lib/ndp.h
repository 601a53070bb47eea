/* SPDX-License-Identifier: Apache-2.0 */
/* Neighbour discovery (RFC 4861) between a pod and its lxc: the pod's only
 * neighbour is its router, ROUTER_IPV6, which the lxc answers for with its
 * own MAC. Every other neighbour-discovery or multicast message of the pod
 * (router solicitations, MLD reports, duplicate address detection,
 * solicitations for other addresses) concerns a link that has nobody else
 * on it: the caller drops it, counted as ipv6-link-local. Policy:
 * docs/datapath.md, "Neighbour discovery". */
#ifndef ROUTEC_LIB_NDP_H
#define ROUTEC_LIB_NDP_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/endpoints6.h"
#include "lib/ipv6.h"

#define NDP_NEIGHBOUR_SOLICITATION 135
#define NDP_NEIGHBOUR_ADVERTISEMENT 136
#define NDP_OPTION_TARGET_LINK_ADDRESS 2
/* Router, Solicited and Override: the answer comes from the pod's router,
 * answers its question, and replaces whatever MAC the pod had cached. */
#define NDP_ADVERT_FLAGS 0xe0000000
/* Neighbour discovery is sent, and only accepted, with hop limit 255: proof
 * it did not cross a router. */
#define NDP_HOP_LIMIT 255

/* The ICMPv6 header's offset in the frame (NDP carries no extension
 * headers). */
#define NDP_ICMP_OFFSET (sizeof(struct ethhdr) + sizeof(struct ipv6hdr))

/* A neighbour solicitation: ICMPv6 type, code, checksum, reserved word,
 * then the target address. */
#define NDP_TARGET_OFFSET (NDP_ICMP_OFFSET + 8)

/* A neighbour advertisement with its target link-layer address option. */
struct ndp_advert {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__be32 flags;
	__be32 target[4];
	__u8 option_type;
	__u8 option_len; /* in units of 8 octets */
	__u8 mac[ETH_ALEN];
};
_Static_assert(sizeof(struct ndp_advert) == 32, "ndp_advert is 32 bytes");

/* What the ICMPv6 checksum covers besides the message (RFC 8200 8.1). */
struct ipv6_pseudo_header {
	__be32 saddr[4];
	__be32 daddr[4];
	__be32 length;
	__u8 zero[3];
	__u8 next_header;
};
_Static_assert(sizeof(struct ipv6_pseudo_header) == 40, "ipv6_pseudo_header is 40 bytes");

/* One's-complement sum of `len` bytes (even) as 16-bit words, in memory
 * order: the folded complement stored in memory order is the checksum on
 * any host. */
static __always_inline __u32 csum_words(const void *data, __u32 len, __u32 sum)
{
	const __u16 *word = data;

#pragma unroll
	for (__u32 i = 0; i < len / 2; i++)
		sum += word[i];
	return sum;
}

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline bool router_ipv6_is_set(void)
{
	return (ROUTER_IPV6[0] | ROUTER_IPV6[1] | ROUTER_IPV6[2] | ROUTER_IPV6[3]) != 0;
}

/* True when the packet is an ICMPv6 neighbour solicitation. */
static __always_inline bool ndp_is_solicitation(struct __sk_buff *skb, const struct ipv6hdr *ip6)
{
	__u8 type;

	if (ip6->nexthdr != IPV6_NEXT_ICMPV6)
		return false;
	if (bpf_skb_load_bytes(skb, NDP_ICMP_OFFSET, &type, sizeof(type)) < 0)
		return false;
	return type == NDP_NEIGHBOUR_SOLICITATION;
}

/* The lxc MAC to answer a solicitation with, or the reason not to answer
 * it. From the pod's own address (how the pod's kernel resolves its router
 * for a packet it sends), the sender's cilium_lxc entry names it. From the
 * pod's link-local address (its kernel's reachability probes), it is the
 * unicast MAC the pod already sent the probe to, which the lxc received:
 * there is no entry by link-local address, and the answer goes back to the
 * same pod only. */
static __always_inline __u32 ndp_lxc_mac(struct __sk_buff *skb, const struct ethhdr *eth, const struct ipv6hdr *ip6,
					 __u8 mac[ETH_ALEN])
{
	if (ipv6_is_link_local(&ip6->saddr)) {
		if (eth->h_dest[0] & 1) /* multicast: no MAC of the lxc in sight */
			return DROP_IPV6_LINK_LOCAL;
		__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
		return 0;
	}

	struct endpoint_info *sender = lookup_source_pod6(&ip6->saddr, skb->ifindex);

	if (!sender)
		return ipv6_is_unspecified(&ip6->saddr) ? DROP_IPV6_LINK_LOCAL : DROP_UNKNOWN_SOURCE;
	mac_from_slot(mac, &sender->node_mac);
	return 0;
}

/* Answers a neighbour solicitation for ROUTER_IPV6 in place with the
 * advertisement "ROUTER_IPV6 is at the lxc's MAC", sent back into the pod.
 * Any other solicitation is dropped: duplicate address detection (source
 * ::) must find no one, and the pod has no other neighbour. */
static __always_inline int ndp_answer_router(struct __sk_buff *skb, const struct ethhdr *eth,
					     const struct ipv6hdr *ip6)
{
	struct in6_addr target;

	if (bpf_skb_load_bytes(skb, NDP_TARGET_OFFSET, &target, sizeof(target)) < 0)
		return drop(skb, DROP_INVALID_PACKET);
	if (ip6->hop_limit != NDP_HOP_LIMIT || !router_ipv6_is_set() || !ipv6_equal(&target, ROUTER_IPV6))
		return drop(skb, DROP_IPV6_LINK_LOCAL);

	__u8 lxc_mac[ETH_ALEN];
	__u32 refusal = ndp_lxc_mac(skb, eth, ip6, lxc_mac);

	if (refusal)
		return drop(skb, refusal);

	struct ethhdr reply_eth;
	struct ipv6hdr reply_ip6;
	struct ndp_advert advert;
	struct ipv6_pseudo_header pseudo;

	__builtin_memcpy(reply_eth.h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(reply_eth.h_source, lxc_mac, ETH_ALEN);
	reply_eth.h_proto = bpf_htons(ETH_P_IPV6);

	__builtin_memset(&reply_ip6, 0, sizeof(reply_ip6));
	reply_ip6.version = 6;
	reply_ip6.payload_len = bpf_htons(sizeof(advert));
	reply_ip6.nexthdr = IPV6_NEXT_ICMPV6;
	reply_ip6.hop_limit = NDP_HOP_LIMIT;
	reply_ip6.daddr = ip6->saddr;

	__builtin_memset(&advert, 0, sizeof(advert));
	advert.type = NDP_NEIGHBOUR_ADVERTISEMENT;
	advert.flags = bpf_htonl(NDP_ADVERT_FLAGS);
	advert.option_type = NDP_OPTION_TARGET_LINK_ADDRESS;
	advert.option_len = 1;
	__builtin_memcpy(advert.mac, lxc_mac, ETH_ALEN);

	__builtin_memset(&pseudo, 0, sizeof(pseudo));
#pragma unroll
	for (int i = 0; i < 4; i++) {
		reply_ip6.saddr.in6_u.u6_addr32[i] = ROUTER_IPV6[i];
		advert.target[i] = ROUTER_IPV6[i];
		pseudo.saddr[i] = ROUTER_IPV6[i];
		pseudo.daddr[i] = reply_ip6.daddr.in6_u.u6_addr32[i];
	}
	pseudo.length = bpf_htonl(sizeof(advert));
	pseudo.next_header = IPV6_NEXT_ICMPV6;
	advert.checksum = csum_fold(csum_words(&advert, sizeof(advert), csum_words(&pseudo, sizeof(pseudo), 0)));

	__u32 len_at_hook = skb->len;

	/* The reply is exactly as long as its headers: a solicitation may be
	 * shorter (no source address option) or longer (more options). This
	 * invalidates the packet pointers, which are not used below. */
	if (bpf_skb_change_tail(skb, NDP_ICMP_OFFSET + sizeof(advert), 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, &reply_eth, sizeof(reply_eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, sizeof(reply_eth), &reply_ip6, sizeof(reply_ip6), 0) < 0 ||
	    bpf_skb_store_bytes(skb, NDP_ICMP_OFFSET, &advert, sizeof(advert), 0) < 0)
		return drop(skb, DROP_INVALID_PACKET);
	return forward_resized(len_at_hook, FWD_NDP_REPLY, bpf_redirect(skb->ifindex, 0));
}

#endif
