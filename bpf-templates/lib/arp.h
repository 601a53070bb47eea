/* SPDX-License-Identifier: Apache-2.0 */
/* ARP for IPv4 over Ethernet: answering a pod's request for its gateway. */
#ifndef ROUTEC_LIB_ARP_H
#define ROUTEC_LIB_ARP_H

#include "lib/eth.h"

/* From <linux/if_arp.h>, which cannot be included here: it pulls in libc
 * socket headers that do not exist for the BPF target. */
#define ARPHRD_ETHER 1
#define ARPOP_REQUEST 1
#define ARPOP_REPLY 2

/* An IPv4-over-Ethernet ARP packet after the Ethernet header. */
struct arp_ipv4 {
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
	__u8 sha[ETH_ALEN];
	__be32 sip;
	__u8 tha[ETH_ALEN];
	__be32 tip;
} __attribute__((packed));
_Static_assert(sizeof(struct arp_ipv4) == 28, "arp_ipv4 is 28 bytes");

/* The ARP packet, or NULL when the packet is too short to hold one. It may
 * pull data, which invalidates earlier packet pointers: *eth is set to the
 * Ethernet header taken again. */
static __always_inline struct arp_ipv4 *arp_header(struct __sk_buff *skb, struct ethhdr **eth)
{
	struct ethhdr *l2 = eth_header_and(skb, sizeof(struct arp_ipv4));

	if (!l2)
		return NULL;
	*eth = l2;
	return (void *)(l2 + 1);
}

static __always_inline bool arp_is_ipv4_request(const struct arp_ipv4 *arp)
{
	return arp->ar_hrd == bpf_htons(ARPHRD_ETHER) && arp->ar_pro == bpf_htons(ETH_P_IP) &&
	       arp->ar_hln == ETH_ALEN && arp->ar_pln == 4 &&
	       arp->ar_op == bpf_htons(ARPOP_REQUEST);
}

/* Turns the request in place into the reply "`ip` is at `mac`", addressed to
 * the requester. */
static __always_inline void arp_reply_in_place(struct ethhdr *eth, struct arp_ipv4 *arp,
					       const __u8 mac[ETH_ALEN], __be32 ip)
{
	__be32 requester_ip = arp->sip;

	__builtin_memcpy(eth->h_dest, arp->sha, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	arp->ar_op = bpf_htons(ARPOP_REPLY);
	__builtin_memcpy(arp->tha, arp->sha, ETH_ALEN);
	arp->tip = requester_ip;
	__builtin_memcpy(arp->sha, mac, ETH_ALEN);
	arp->sip = ip;
}

#endif
