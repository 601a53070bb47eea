/* SPDX-License-Identifier: Apache-2.0 */
/* VXLAN decapsulation at the node's device (tc ingress), before the node's
 * stack: no ip_rcv, UDP socket, vxlan_rcv, metadata dst or GRO cell for the
 * packets it takes. It takes only what it can check as fully as the
 * kernel's VXLAN socket and cil_from_overlay together: everything else goes
 * on to the stack, which hands it to cilium_vxlan and cil_from_overlay as
 * before. Contract: docs/datapath.md, "The overlay's path". */
#ifndef ROUTEC_LIB_DECAP_H
#define ROUTEC_LIB_DECAP_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/encap.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/overlay.h"
#include "lib/reasons.h"

/* BPF_F_ADJ_ROOM_DECAP_L3_IPV4, from <linux/bpf.h> of Linux 6.3 (Debian's
 * uapi headers are older): skb->protocol follows the new L3 header. */
#define ROUTEC_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)

#define IPV4_MF 0x2000

/* The whole VXLAN packet's headers, outer Ethernet to inner Ethernet. */
struct vxlan_packet {
	struct ethhdr eth;
	struct vxlan_encap encap;
} __attribute__((packed));

/* True when the headers are a VXLAN packet to this node that the program
 * may decapsulate: IPv4 without options or fragmentation, to NODE_IPV4, UDP
 * to OVERLAY_PORT, lengths that match the packet, a well-formed VXLAN header
 * (only the I flag, reserved bits zero, as vxlan_rcv requires), an inner
 * IPv4 frame (untagged, long enough for its header: cil_from_overlay
 * decides on every other inner frame, IPv6 included), and a zero
 * UDP checksum (a non-zero one the UDP stack verifies; routec's
 * encapsulation sends zero). GSO packets stay with the kernel too: on this
 * kernel only its tunnel device clears their tunnel offload state
 * (skb->encapsulation, SKB_GSO_UDP_TUNNEL), which bpf_skb_adjust_room
 * leaves, and a pod that forwards one would have it segmented wrongly. */
static __always_inline bool is_vxlan_to_decapsulate(const struct __sk_buff *skb, const struct vxlan_packet *p)
{
	const struct vxlan_encap *h = &p->encap;

	return skb->len >= sizeof(*p) + sizeof(struct iphdr) && p->eth.h_proto == bpf_htons(ETH_P_IP) &&
	       h->ip.version == 4 && h->ip.ihl == sizeof(struct iphdr) / 4 && h->ip.protocol == IPPROTO_UDP &&
	       !(h->ip.frag_off & bpf_htons(IPV4_MF | IPV4_FRAGMENT_OFFSET)) && h->ip.daddr == NODE_IPV4 &&
	       h->ip.tot_len == bpf_htons(skb->len - sizeof(struct ethhdr)) &&
	       h->udp.dest == bpf_htons(OVERLAY_PORT) &&
	       h->udp.len == bpf_htons(skb->len - sizeof(struct ethhdr) - sizeof(struct iphdr)) &&
	       h->udp.check == 0 && h->vxlan.vx_flags == bpf_htonl(VXLAN_HF_VNI) &&
	       !(h->vxlan.vx_vni & bpf_htonl(0xff)) && h->inner_eth.h_proto == bpf_htons(ETH_P_IP) &&
	       skb->gso_size == 0;
}

/* Decapsulates a VXLAN packet for this node: the checks of cil_from_overlay
 * in its order (VNI, outer source; then, on the inner frame, the shared
 * overlay_deliver), the outer headers removed, and delivery. Returns false
 * for anything else, untouched, for the caller to go on with. */
static __always_inline bool vxlan_decapsulate(struct __sk_buff *skb, int *verdict)
{
	if (eth_tag_in_metadata(skb))
		return false;

	struct ethhdr *eth = eth_header_and(skb, sizeof(struct vxlan_encap));

	if (!eth)
		return false;

	struct vxlan_packet *p = (void *)eth;

	if (!is_vxlan_to_decapsulate(skb, p))
		return false;
	if (bpf_ntohl(p->encap.vxlan.vx_vni) >> 8 != VNI) {
		*verdict = drop(skb, DROP_WRONG_VNI);
		return true;
	}

	__be32 tunnel_source = p->encap.ip.saddr;

	if (!is_other_node(tunnel_source)) {
		*verdict = drop(skb, DROP_UNKNOWN_TUNNEL_SOURCE);
		return true;
	}

	/* The inner frame becomes the packet: the outer IPv4, UDP and VXLAN
	 * headers and the inner Ethernet header are removed, and the inner
	 * Ethernet header is written over the outer one. */
	struct ethhdr inner_eth = p->encap.inner_eth;

	if (bpf_skb_adjust_room(skb, -(__s32)sizeof(struct vxlan_encap), BPF_ADJ_ROOM_MAC,
				ROUTEC_ADJ_ROOM_DECAP_L3_IPV4) < 0 ||
	    bpf_skb_store_bytes(skb, 0, &inner_eth, sizeof(inner_eth), 0) < 0) {
		*verdict = drop(skb, DROP_INVALID_PACKET);
		return true;
	}
	*verdict = overlay_deliver(skb, tunnel_source);
	return true;
}

#endif
