/* SPDX-License-Identifier: Apache-2.0 */
/* Ethernet header access. */
#ifndef ROUTEC_LIB_ETH_H
#define ROUTEC_LIB_ETH_H

#include "lib/common.h"

/* Makes the first `len` bytes directly accessible when the packet has them
 * (headers may sit in paged data); returns false when it is shorter. */
static __always_inline bool pull_headers(struct __sk_buff *skb, __u32 len)
{
	if (skb->len < len)
		return false;
	if ((void *)(long)skb->data + len <= (void *)(long)skb->data_end)
		return true;
	return bpf_skb_pull_data(skb, len) == 0;
}

/* The Ethernet header, with the `l3_len` bytes after it directly accessible
 * too, or NULL when the packet is shorter. Pulling data invalidates every
 * packet pointer taken before: take them again from the one returned. */
static __always_inline struct ethhdr *eth_header_and(struct __sk_buff *skb, __u32 l3_len)
{
	if (!pull_headers(skb, sizeof(struct ethhdr) + l3_len))
		return NULL;

	struct ethhdr *eth = (void *)(long)skb->data;

	if ((void *)(eth + 1) + l3_len > (void *)(long)skb->data_end)
		return NULL;
	return eth;
}

/* The Ethernet header, or NULL when the packet is shorter than one. */
static __always_inline struct ethhdr *eth_header(struct __sk_buff *skb)
{
	return eth_header_and(skb, 0);
}

/* True when the frame carried an 802.1Q or 802.1ad tag that the kernel took
 * out of the header into skb metadata (it does so on receive, before tc
 * runs): h_proto then names the inner protocol. A tag still in the header
 * shows as its own h_proto. */
static __always_inline bool eth_tag_in_metadata(const struct __sk_buff *skb)
{
	return skb->vlan_present;
}

/* A MAC stored in a cilium_lxc u64 slot (wire order, 2 zero bytes after). */
static __always_inline void mac_from_slot(__u8 dst[ETH_ALEN], const __u64 *slot)
{
	__builtin_memcpy(dst, slot, ETH_ALEN);
}

#endif
