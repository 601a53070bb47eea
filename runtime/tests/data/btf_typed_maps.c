// SPDX-License-Identifier: Apache-2.0
/* cilium_lxc and cilium_ipcache as routec declared them before they lost
 * their BTF types (bpf-templates/lib/maps.h, December 2026): loaded and
 * pinned by bpftool, they stand for the pins an older routec left on a
 * node. The structs are that version's, member for member. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct endpoint_key {
	__be32 ip4;
	__u32 pad1;
	__u32 pad2;
	__u32 pad3;
	__u8 family;
	__u8 key;
	__u16 cluster_id;
} __attribute__((packed));

struct endpoint_info {
	__u32 ifindex;
	__u16 unused;
	__u16 lxc_id;
	__u32 flags;
	__u32 pad0;
	__u64 mac;
	__u64 node_mac;
	__u32 sec_id;
	__u32 pad[3];
};

struct ipcache_key {
	__u32 prefixlen;
	__u16 cluster_id;
	__u8 pad1;
	__u8 family;
	__be32 ip4;
	__u32 pad4;
	__u32 pad5;
	__u32 pad6;
} __attribute__((packed));

struct remote_endpoint_info {
	__u32 sec_identity;
	__be32 tunnel_endpoint;
	__u16 pad;
	__u8 key;
	__u8 flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, 65535);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cilium_lxc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, 512000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cilium_ipcache SEC(".maps");

/* Uses both maps, so bpftool loads (and pins) them. */
SEC("classifier")
int uses_the_maps(struct __sk_buff *skb)
{
	struct endpoint_key lxc_key = {};
	struct ipcache_key ipcache_key = {};

	if (bpf_map_lookup_elem(&cilium_lxc, &lxc_key) || bpf_map_lookup_elem(&cilium_ipcache, &ipcache_key))
		return TC_ACT_OK;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
