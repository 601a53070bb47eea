/* SPDX-License-Identifier: Apache-2.0 */
/* The maps every program shares. Layouts and names are Cilium's (cilium_lxc,
 * cilium_ipcache) so the familiar bpftool commands work; all are pinned by
 * name, so the three objects of a node share one instance of each through
 * the pin directory the loader chooses. Sizes equal compiler/src/layout.rs
 * (a test compares them). */
#ifndef ROUTEC_LIB_MAPS_H
#define ROUTEC_LIB_MAPS_H

#include "lib/common.h"

#define ENDPOINT_KEY_IPV4 1
#define ENDPOINT_KEY_IPV6 2
#define ENDPOINT_F_HOST 1

/* Key of cilium_lxc: an endpoint's IP. */
struct endpoint_key {
	__be32 ip4; /* an IPv6 address fills ip4 and pad1..pad3 (endpoints6.h) */
	__u32 pad1;
	__u32 pad2;
	__u32 pad3;
	__u8 family;
	__u8 key;
	__u16 cluster_id;
} __attribute__((packed));
_Static_assert(sizeof(struct endpoint_key) == 20, "endpoint_key is 20 bytes");
_Static_assert(__builtin_offsetof(struct endpoint_key, family) == 16, "endpoint_key.family at 16");
_Static_assert(__builtin_offsetof(struct endpoint_key, cluster_id) == 18, "endpoint_key.cluster_id at 18");

/* Value of cilium_lxc: a local endpoint (a pod, or the node itself). */
struct endpoint_info {
	__u32 ifindex; /* host-side lxc veth */
	__u16 unused;
	__u16 lxc_id; /* endpoint id */
	__u32 flags; /* ENDPOINT_F_HOST */
	__u32 pad0;
	__u64 mac; /* pod-side MAC in wire order, 2 zero bytes after */
	__u64 node_mac; /* host-side lxc MAC, likewise */
	__u32 sec_id;
	__u32 pad[3];
};
_Static_assert(sizeof(struct endpoint_info) == 48, "endpoint_info is 48 bytes");
_Static_assert(__builtin_offsetof(struct endpoint_info, lxc_id) == 6, "endpoint_info.lxc_id at 6");
_Static_assert(__builtin_offsetof(struct endpoint_info, flags) == 8, "endpoint_info.flags at 8");
_Static_assert(__builtin_offsetof(struct endpoint_info, mac) == 16, "endpoint_info.mac at 16");
_Static_assert(__builtin_offsetof(struct endpoint_info, node_mac) == 24, "endpoint_info.node_mac at 24");
_Static_assert(__builtin_offsetof(struct endpoint_info, sec_id) == 32, "endpoint_info.sec_id at 32");

/* Key of cilium_ipcache, an LPM trie key: prefixlen counts the 32 bits of
 * cluster_id, pad1 and family before the address (a /32 is 64). */
struct ipcache_key {
	__u32 prefixlen;
	__u16 cluster_id;
	__u8 pad1;
	__u8 family;
	__be32 ip4; /* an IPv6 address fills ip4 and pad4..pad6 (endpoints6.h) */
	__u32 pad4;
	__u32 pad5;
	__u32 pad6;
} __attribute__((packed));
_Static_assert(sizeof(struct ipcache_key) == 24, "ipcache_key is 24 bytes");
_Static_assert(__builtin_offsetof(struct ipcache_key, family) == 7, "ipcache_key.family at 7");
_Static_assert(__builtin_offsetof(struct ipcache_key, ip4) == 8, "ipcache_key.ip4 at 8");

#define IPCACHE_STATIC_PREFIX_BITS 32

/* Cilium's reserved identity of the cluster's other nodes: the ipcache /32
 * of a node address carries it, and no tunnel endpoint. */
#define IDENTITY_REMOTE_NODE 6

/* Value of cilium_ipcache: what the cluster knows about an IP or prefix. */
struct remote_endpoint_info {
	__u32 sec_identity;
	__be32 tunnel_endpoint; /* underlay address of the hosting node; 0 = none */
	__u16 pad;
	__u8 key;
	__u8 flags;
};
_Static_assert(sizeof(struct remote_endpoint_info) == 12, "remote_endpoint_info is 12 bytes");
_Static_assert(__builtin_offsetof(struct remote_endpoint_info, tunnel_endpoint) == 4,
	       "remote_endpoint_info.tunnel_endpoint at 4");

/* Value of routec_node_ipv6: a node's IPv6 address, network order, under its
 * IPv4 underlay address (the ipcache's tunnel endpoint, network order): the
 * next hop of an IPv6 packet under native routing, which the kernel takes
 * only as an IPv6 address. */
struct node_ipv6 {
	__be32 addr[4];
};
_Static_assert(sizeof(struct node_ipv6) == 16, "node_ipv6 is 16 bytes");

/* Value of routec_counters (per CPU), indexed by a reason code (reasons.h). */
struct counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct counter) == 16, "counter is 16 bytes");

/* cilium_lxc and cilium_ipcache carry no BTF key/value types (sizes only),
 * as when Cilium's agent creates them: bpftool prints their entries as the
 * hex bytes the seed's readers and `routec decode` expect, not as fields. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(struct endpoint_key));
	__uint(value_size, sizeof(struct endpoint_info));
	__uint(max_entries, 65535);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_lxc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct ipcache_key));
	__uint(value_size, sizeof(struct remote_endpoint_info));
	__uint(max_entries, 512000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilium_ipcache SEC(".maps");

/* Sizes only, like cilium_ipcache: bpftool prints the seed's hex bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(__be32));
	__uint(value_size, sizeof(struct node_ipv6));
	__uint(max_entries, 65535);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} routec_node_ipv6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct counter);
	__uint(max_entries, 256);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} routec_counters SEC(".maps");

#endif
