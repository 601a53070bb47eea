/* SPDX-License-Identifier: Apache-2.0 */
/* VXLAN encapsulation in the program (RFC 7348): outer IPv4, UDP and VXLAN
 * headers written in front of the pod's whole Ethernet frame, sent straight
 * out of the node's device to the tunnel endpoint. No VXLAN device, UDP
 * tunnel socket or route lookup on the way out: bpf_skb_set_tunnel_key marks
 * its metadata TUNNEL_NOCACHE, so going through cilium_vxlan costs a route
 * lookup per packet. The wire format is the kernel's, so a node that
 * receives through cilium_vxlan takes these packets unchanged. The inner
 * frame is carried whole: nothing here reads its L3 header. Contract:
 * docs/datapath.md, "cil_from_container" and "The overlay's path". */
#ifndef ROUTEC_LIB_ENCAP_H
#define ROUTEC_LIB_ENCAP_H

#include "lib/config.h"
#include "lib/counters.h"
#include "lib/reasons.h"

/* From <net/vxlan.h> (not a uapi header). */
struct vxlanhdr {
	__be32 vx_flags;
	__be32 vx_vni;
};
#define VXLAN_HF_VNI 0x08000000 /* the I flag: the VNI is valid */

/* What goes between the outer Ethernet header and the inner packet's L3
 * header: the inner frame's Ethernet header is part of the tunnel payload. */
struct vxlan_encap {
	struct iphdr ip;
	struct udphdr udp;
	struct vxlanhdr vxlan;
	struct ethhdr inner_eth;
} __attribute__((packed));
_Static_assert(sizeof(struct vxlan_encap) == 50, "VXLAN over IPv4 adds 50 bytes");

/* The outer TTL, as the tunnel key had it. */
#define VXLAN_OUTER_TTL 64
/* The kernel's VXLAN source ports (udp_flow_src_port with the default local
 * port range): a hash of the inner flow, so RSS and ECMP on the underlay
 * spread flows as they do for kernel VXLAN. */
#define VXLAN_SRC_PORT_MIN 32768
#define VXLAN_SRC_PORT_MAX 61000
#define IPV4_DF 0x4000

/* bpf_skb_adjust_room: the room goes after the Ethernet header, and GSO
 * packets become UDP tunnel GSO packets (segmented, if ever, with inner and
 * outer headers). FIXED_GSO: the pods' MTU already leaves room for the 50
 * bytes, so the inner segment size stays. */
#define VXLAN_ENCAP_FLAGS                                                                  \
	(BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | \
	 BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr)))

static __always_inline __sum16 ipv4_header_checksum(const struct iphdr *ip4)
{
	const __u16 *word = (const __u16 *)ip4;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip4) / 2); i++)
		sum += word[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__sum16)~sum;
}

/* The UDP source port of the flow, from the inner packet's hash (computed
 * by the kernel's flow dissector when the skb has none yet). */
static __always_inline __be16 vxlan_source_port(struct __sk_buff *skb)
{
	__u32 hash = bpf_get_hash_recalc(skb);

	hash ^= hash << 16;
	return bpf_htons((__u16)((((__u64)hash * (VXLAN_SRC_PORT_MAX - VXLAN_SRC_PORT_MIN)) >> 32) +
				 VXLAN_SRC_PORT_MIN));
}

/* The outer headers for a frame of `inner_len` bytes (Ethernet header
 * included) to `tunnel_endpoint`. The UDP checksum is zero, as RFC 7348
 * allows over IPv4: the inner packet carries its own. DF and IP id 0 (RFC
 * 6864): the pods' MTU leaves room for these headers, and an outer packet
 * the underlay cannot carry is better lost than fragmented (RFC 7348: VTEPs
 * must not fragment). */
static __always_inline void vxlan_encap_fill(struct vxlan_encap *h, __u32 inner_len, __be32 tunnel_endpoint,
					     __be16 source_port)
{
	__u32 udp_len = inner_len + sizeof(struct udphdr) + sizeof(struct vxlanhdr);
	struct iphdr ip = {
		.version = 4,
		.ihl = sizeof(struct iphdr) / 4,
		.tot_len = bpf_htons(udp_len + sizeof(struct iphdr)),
		.frag_off = bpf_htons(IPV4_DF),
		.ttl = VXLAN_OUTER_TTL,
		.protocol = IPPROTO_UDP,
		.saddr = NODE_IPV4,
		.daddr = tunnel_endpoint,
	};

	ip.check = ipv4_header_checksum(&ip);
	__builtin_memcpy(&h->ip, &ip, sizeof(ip));
	h->udp.source = source_port;
	h->udp.dest = bpf_htons(OVERLAY_PORT);
	h->udp.len = bpf_htons(udp_len);
	h->udp.check = 0;
	h->vxlan.vx_flags = bpf_htonl(VXLAN_HF_VNI);
	h->vxlan.vx_vni = bpf_htonl(VNI << 8);
}

/* The largest frame whose outer IPv4 length fits the 16-bit field. The
 * pods' GSO packets stay below it (64 KB GSO, the kernel's default); a
 * larger one (BIG TCP) goes through the overlay device instead. */
#define VXLAN_MAX_INNER_LEN (0xffff - sizeof(struct iphdr) - sizeof(struct udphdr) - sizeof(struct vxlanhdr))

/* The way through the overlay device: the kernel's VXLAN device
 * encapsulates from the tunnel key (external mode). */
static __always_inline int vxlan_encap_by_device(struct __sk_buff *skb, __be32 tunnel_endpoint)
{
	struct bpf_tunnel_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.remote_ipv4 = bpf_ntohl(tunnel_endpoint); /* the helper takes host order */
	key.tunnel_id = VNI;
	key.tunnel_ttl = VXLAN_OUTER_TTL;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return drop(skb, DROP_INVALID_PACKET);
	return forward(skb, FWD_TUNNEL_ENCAP, bpf_redirect(OVERLAY_IFINDEX, 0));
}

/* Encapsulates the frame and sends it out of DEVICE_IFINDEX to
 * `tunnel_endpoint`, whose MAC the kernel resolves by ARP there. What the
 * kernel will not encapsulate here goes through the overlay device
 * instead, untouched: a frame already carrying a tunnel's offloads (a pod
 * that runs its own tunnel: bpf_skb_adjust_room refuses a second level),
 * or one too long for an IPv4 length. */
static __always_inline int vxlan_encapsulate(struct __sk_buff *skb, __be32 tunnel_endpoint)
{
	struct vxlan_encap h;
	__u32 inner_len = skb->len;
	__be16 ip_proto = bpf_htons(ETH_P_IP);

	if (inner_len > VXLAN_MAX_INNER_LEN ||
	    bpf_skb_load_bytes(skb, 0, &h.inner_eth, sizeof(h.inner_eth)) < 0)
		return vxlan_encap_by_device(skb, tunnel_endpoint);
	vxlan_encap_fill(&h, inner_len, tunnel_endpoint, vxlan_source_port(skb));
	if (bpf_skb_adjust_room(skb, sizeof(h), BPF_ADJ_ROOM_MAC, VXLAN_ENCAP_FLAGS) < 0)
		return vxlan_encap_by_device(skb, tunnel_endpoint);
	/* The outer Ethernet header is the frame's own, moved to the front:
	 * its unicast destination is what bpf_redirect_neigh requires, and it
	 * rewrites both addresses. RECOMPUTE_CSUM keeps a CHECKSUM_COMPLETE
	 * sum, which covers what follows the Ethernet header, true. */
	if (bpf_skb_store_bytes(skb, __builtin_offsetof(struct ethhdr, h_proto), &ip_proto, sizeof(ip_proto), 0) < 0 ||
	    bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &h, sizeof(h), BPF_F_RECOMPUTE_CSUM) < 0)
		return drop(skb, DROP_INVALID_PACKET);

	struct bpf_redir_neigh nh;

	__builtin_memset(&nh, 0, sizeof(nh));
	nh.nh_family = AF_INET;
	nh.ipv4_nh = tunnel_endpoint;
	return forward_resized(inner_len, FWD_TUNNEL_ENCAP, bpf_redirect_neigh(DEVICE_IFINDEX, &nh, sizeof(nh), 0));
}

#endif
