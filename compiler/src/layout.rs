//! The on-the-wire layouts of every map routec's datapath uses: the one
//! definition shared by the seed encoder, the loader, `routec decode` and the
//! tracer. The C side (`bpf-templates/lib/maps.h`, `lib/reasons.h`) asserts the
//! same sizes; a test compares the reason codes of both sides.
//!
//! All integers are little-endian except IP addresses, which are kept in
//! network order (IPv4 in the first 4 of the 16 address bytes, IPv6 in all
//! 16), exactly as Cilium lays them out.
//!
//! Bytes are encoded field by field rather than viewed through zerocopy or
//! bytemuck: the seed bytes must be little-endian whatever the host's byte
//! order, addresses stay in network order, and the two keys are packed. The
//! structs still mirror the C layout, which `assert_layout!` checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::Mac;

pub const FAMILY_IPV4: u8 = 1;
pub const FAMILY_IPV6: u8 = 2;
pub const ENDPOINT_F_HOST: u32 = 1;

/// Reserved security identities (Cilium's numbering).
pub const IDENTITY_HOST: u32 = 1;
pub const IDENTITY_WORLD: u32 = 2;
pub const IDENTITY_HEALTH: u32 = 4;
pub const IDENTITY_REMOTE_NODE: u32 = 6;

/// A map's kernel-side definition, as the loader creates or checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSpec {
    pub name: &'static str,
    /// `bpf_map_type` number: one of the `BPF_MAP_TYPE_*` below.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
}

pub const BPF_F_NO_PREALLOC: u32 = 1;
/// The `bpf_map_type` numbers of routec's maps (linux/bpf.h).
pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;

impl MapSpec {
    /// The largest `max_entries` Linux accepts for a map of this type
    /// (kernel/bpf/, as of 6.x):
    /// - HASH: `htab_map_alloc` rounds `max_entries` up to a power of two
    ///   buckets and fails with E2BIG when `n_buckets > U32_MAX /
    ///   sizeof(struct bucket)`; a bucket is 16 bytes (a list head and a
    ///   4-byte lock), so at most 2^27 buckets, hence 2^27 = 134217728
    ///   entries. (Kernels with lock debugging have larger buckets and a
    ///   lower limit; memory may also run out earlier, with ENOMEM.)
    /// - LPM_TRIE: `trie_alloc` only refuses 0; nodes are allocated as
    ///   entries are added, so any u32 is accepted.
    pub fn kernel_max_entries(&self) -> u32 {
        match self.map_type {
            BPF_MAP_TYPE_HASH => 1 << 27,
            _ => u32::MAX,
        }
    }
}

pub const CILIUM_LXC: MapSpec = MapSpec {
    name: "cilium_lxc",
    map_type: BPF_MAP_TYPE_HASH,
    key_size: EndpointKey::SIZE as u32,
    value_size: EndpointInfo::SIZE as u32,
    max_entries: 65535,
    flags: BPF_F_NO_PREALLOC,
};

pub const CILIUM_IPCACHE: MapSpec = MapSpec {
    name: "cilium_ipcache",
    map_type: BPF_MAP_TYPE_LPM_TRIE,
    key_size: IpcacheKey::SIZE as u32,
    value_size: RemoteEndpointInfo::SIZE as u32,
    max_entries: 512000,
    flags: BPF_F_NO_PREALLOC,
};

/// The destination node's IPv6 address under its IPv4 one: the next hop of
/// an IPv6 packet under native routing (docs/datapath.md, "Native
/// routing"). One for the whole cluster, like `cilium_ipcache`; seeded only
/// for a native cluster with IPv6 node addresses, empty otherwise.
pub const ROUTEC_NODE_IPV6: MapSpec = MapSpec {
    name: "routec_node_ipv6",
    map_type: BPF_MAP_TYPE_HASH,
    key_size: NodeIpv6Key::SIZE as u32,
    value_size: NodeIpv6::SIZE as u32,
    max_entries: 65535,
    flags: BPF_F_NO_PREALLOC,
};

/// Per-CPU packet and byte counters indexed by [`Reason`] code.
pub const ROUTEC_COUNTERS: MapSpec = MapSpec {
    name: "routec_counters",
    map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
    key_size: 4,
    value_size: Counter::SIZE as u32,
    max_entries: 256,
    flags: 0,
};

pub const ALL_MAPS: [MapSpec; 4] = [CILIUM_LXC, CILIUM_IPCACHE, ROUTEC_COUNTERS, ROUTEC_NODE_IPV6];

#[derive(Debug)]
pub struct LengthError {
    pub what: &'static str,
    pub expected: usize,
    pub got: usize,
}

impl std::fmt::Display for LengthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} must be {} bytes, got {}", self.what, self.expected, self.got)
    }
}

impl std::error::Error for LengthError {}

fn exact<const N: usize>(what: &'static str, bytes: &[u8]) -> Result<[u8; N], LengthError> {
    bytes.try_into().map_err(|_| LengthError { what, expected: N, got: bytes.len() })
}

/// A key or value of a map, with its fixed-size byte encoding.
pub trait Encoded: Copy + PartialEq + std::fmt::Debug + Sized {
    const SIZE: usize;
    fn encode(&self) -> Vec<u8>;
    fn decode(bytes: &[u8]) -> Result<Self, LengthError>;
}

/// The key type of a map, naming its value type and kernel definition, so
/// that code over both maps (sync, undo, reading) is written once. It
/// displays as the address it stands for, for messages.
pub trait MapKey: Encoded + Eq + std::hash::Hash + std::fmt::Display {
    type Value: Encoded;
    const SPEC: &'static MapSpec;
}

/// Sorts map entries by their key bytes, the order seeds, the loader's
/// records and diffs keep; only a check when they are sorted already, as a
/// build writes them.
pub fn sort_by_key_bytes<K: MapKey>(entries: &mut [(K, K::Value)]) {
    if !entries.windows(2).all(|pair| pair[0].0.encode() <= pair[1].0.encode()) {
        entries.sort_by_cached_key(|(k, _)| k.encode());
    }
}

macro_rules! encoded {
    ($($ty:ty),*) => {$(
        impl Encoded for $ty {
            const SIZE: usize = <$ty>::SIZE;
            fn encode(&self) -> Vec<u8> {
                self.to_bytes().to_vec()
            }
            fn decode(bytes: &[u8]) -> Result<Self, LengthError> {
                <$ty>::from_bytes(bytes)
            }
        }
    )*};
}
encoded!(EndpointKey, EndpointInfo, IpcacheKey, RemoteEndpointInfo, NodeIpv6Key, NodeIpv6);

impl std::fmt::Display for EndpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.ip_addr())
    }
}

impl std::fmt::Display for IpcacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ip_prefix_len() {
            Some(len) => write!(f, "{}/{len}", self.ip_addr()),
            None => write!(f, "{} (prefixlen {})", self.ip_addr(), { self.prefixlen }),
        }
    }
}

impl std::fmt::Display for NodeIpv6Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.node_ipv4)
    }
}

/// The address of a key's 16 address bytes: IPv6 for family 2, else the
/// IPv4 of the first 4 (what Cilium's IPv4 keys hold).
fn ip_of(family: u8, ip: &[u8; 16]) -> IpAddr {
    if family == FAMILY_IPV6 {
        IpAddr::V6(Ipv6Addr::from(*ip))
    } else {
        IpAddr::V4(ip_at(ip, 0))
    }
}

/// The 16 address bytes and family of an address.
fn ip_bytes(ip: IpAddr) -> ([u8; 16], u8) {
    match ip {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            (bytes, FAMILY_IPV4)
        }
        IpAddr::V6(v6) => (v6.octets(), FAMILY_IPV6),
    }
}

impl MapKey for EndpointKey {
    type Value = EndpointInfo;
    const SPEC: &'static MapSpec = &CILIUM_LXC;
}

impl MapKey for IpcacheKey {
    type Value = RemoteEndpointInfo;
    const SPEC: &'static MapSpec = &CILIUM_IPCACHE;
}

impl MapKey for NodeIpv6Key {
    type Value = NodeIpv6;
    const SPEC: &'static MapSpec = &ROUTEC_NODE_IPV6;
}

/// Compile-time checks that a struct has the size and field offsets that its
/// `to_bytes`/`from_bytes` and its C twin in `bpf-templates/lib/maps.h` use.
macro_rules! assert_layout {
    ($ty:ty, $size:expr, { $($field:ident: $offset:literal),* $(,)? }) => {
        const _: () = {
            assert!(std::mem::size_of::<$ty>() == $size);
            $(assert!(std::mem::offset_of!($ty, $field) == $offset);)*
        };
    };
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}
fn mac_at(b: &[u8], at: usize) -> Mac {
    Mac(b[at..at + 6].try_into().unwrap())
}

/// Key of `cilium_lxc` (Cilium's `struct endpoint_key`), 20 bytes.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointKey {
    /// IPv4 in network order in the first 4 bytes; IPv6 in all 16.
    pub ip: [u8; 16],
    pub family: u8,
    pub key: u8,
    pub cluster_id: u16,
}
assert_layout!(EndpointKey, EndpointKey::SIZE, { ip: 0, family: 16, key: 17, cluster_id: 18 });

impl EndpointKey {
    pub const SIZE: usize = 20;

    pub fn ipv4(ip: Ipv4Addr) -> Self {
        Self::ip(IpAddr::V4(ip))
    }
    /// The key of an address of either family (family 1 or 2).
    pub fn ip(ip: IpAddr) -> Self {
        let (ip, family) = ip_bytes(ip);
        EndpointKey { ip, family, key: 0, cluster_id: 0 }
    }
    pub fn ip4(&self) -> Ipv4Addr {
        ip_at(&self.ip, 0)
    }
    /// The address the key stands for, by its family.
    pub fn ip_addr(&self) -> IpAddr {
        ip_of(self.family, &self.ip)
    }
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[..16].copy_from_slice(&self.ip);
        b[16] = self.family;
        b[17] = self.key;
        let cluster_id = self.cluster_id;
        b[18..20].copy_from_slice(&cluster_id.to_le_bytes());
        b
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a cilium_lxc key", bytes)?;
        Ok(EndpointKey { ip: b[..16].try_into().unwrap(), family: b[16], key: b[17], cluster_id: u16_at(&b, 18) })
    }
}

/// Value of `cilium_lxc` (Cilium's `struct endpoint_info`), 48 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointInfo {
    /// Host-side lxc veth.
    pub ifindex: u32,
    pub unused: u16,
    /// Endpoint id.
    pub lxc_id: u16,
    /// Bit 0: [`ENDPOINT_F_HOST`].
    pub flags: u32,
    /// Alignment padding before the u64-sized MAC slots.
    pub pad0: u32,
    /// Pod-side MAC in wire order, 2 zero bytes after (a u64 slot in C).
    pub mac: [u8; 8],
    /// Host-side lxc MAC, likewise.
    pub node_mac: [u8; 8],
    pub sec_id: u32,
    pub pad: [u32; 3],
}
assert_layout!(EndpointInfo, EndpointInfo::SIZE, {
    ifindex: 0, unused: 4, lxc_id: 6, flags: 8, pad0: 12, mac: 16, node_mac: 24, sec_id: 32, pad: 36,
});

fn mac_slot(mac: Mac) -> [u8; 8] {
    let mut slot = [0u8; 8];
    slot[..6].copy_from_slice(&mac.0);
    slot
}

impl EndpointInfo {
    pub const SIZE: usize = 48;

    pub fn new(ifindex: u32, lxc_id: u16, flags: u32, mac: Mac, node_mac: Mac, sec_id: u32) -> Self {
        EndpointInfo {
            ifindex,
            lxc_id,
            flags,
            mac: mac_slot(mac),
            node_mac: mac_slot(node_mac),
            sec_id,
            ..Default::default()
        }
    }
    pub fn mac(&self) -> Mac {
        mac_at(&self.mac, 0)
    }
    pub fn node_mac(&self) -> Mac {
        mac_at(&self.node_mac, 0)
    }
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.ifindex.to_le_bytes());
        b[4..6].copy_from_slice(&self.unused.to_le_bytes());
        b[6..8].copy_from_slice(&self.lxc_id.to_le_bytes());
        b[8..12].copy_from_slice(&self.flags.to_le_bytes());
        b[12..16].copy_from_slice(&self.pad0.to_le_bytes());
        b[16..24].copy_from_slice(&self.mac);
        b[24..32].copy_from_slice(&self.node_mac);
        b[32..36].copy_from_slice(&self.sec_id.to_le_bytes());
        for (i, pad) in self.pad.iter().enumerate() {
            b[36 + 4 * i..40 + 4 * i].copy_from_slice(&pad.to_le_bytes());
        }
        b
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a cilium_lxc value", bytes)?;
        Ok(EndpointInfo {
            ifindex: u32_at(&b, 0),
            unused: u16_at(&b, 4),
            lxc_id: u16_at(&b, 6),
            flags: u32_at(&b, 8),
            pad0: u32_at(&b, 12),
            mac: b[16..24].try_into().unwrap(),
            node_mac: b[24..32].try_into().unwrap(),
            sec_id: u32_at(&b, 32),
            pad: [u32_at(&b, 36), u32_at(&b, 40), u32_at(&b, 44)],
        })
    }
    pub fn is_host(&self) -> bool {
        self.flags & ENDPOINT_F_HOST != 0
    }
}

/// Key of `cilium_ipcache` (Cilium's `struct ipcache_key`), 24 bytes. An LPM
/// trie key: `prefixlen` counts the 32 bits of cluster_id, pad and family
/// before the address, so an IPv4 /32 is 64 and a /24 is 56, an IPv6 /128
/// is 160 and a /64 is 96. The family byte is inside the static prefix, so
/// an IPv4 key never matches an IPv6 entry.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpcacheKey {
    pub prefixlen: u32,
    pub cluster_id: u16,
    pub pad1: u8,
    pub family: u8,
    pub ip: [u8; 16],
}
assert_layout!(IpcacheKey, IpcacheKey::SIZE, { prefixlen: 0, cluster_id: 4, pad1: 6, family: 7, ip: 8 });

impl IpcacheKey {
    pub const SIZE: usize = 24;
    /// Bits of the key before the address (cluster_id, pad1, family).
    pub const STATIC_PREFIX_BITS: u32 = 32;

    pub fn ipv4(ip: Ipv4Addr, prefix_len: u8) -> Self {
        Self::ip(IpAddr::V4(ip), prefix_len)
    }
    /// The key of a prefix of either family (family 1 or 2).
    pub fn ip(ip: IpAddr, prefix_len: u8) -> Self {
        let (ip, family) = ip_bytes(ip);
        IpcacheKey { prefixlen: Self::STATIC_PREFIX_BITS + u32::from(prefix_len), cluster_id: 0, pad1: 0, family, ip }
    }
    /// The key of one address: a /32 or a /128.
    pub fn host(ip: IpAddr) -> Self {
        Self::ip(ip, if ip.is_ipv4() { 32 } else { 128 })
    }
    pub fn ip4(&self) -> Ipv4Addr {
        ip_at(&self.ip, 0)
    }
    /// The address the key stands for, by its family.
    pub fn ip_addr(&self) -> IpAddr {
        ip_of(self.family, &self.ip)
    }
    /// The IP prefix length, or `None` when prefixlen is below the static bits.
    pub fn ip_prefix_len(&self) -> Option<u32> {
        let prefixlen = self.prefixlen;
        prefixlen.checked_sub(Self::STATIC_PREFIX_BITS)
    }
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        let prefixlen = self.prefixlen;
        let cluster_id = self.cluster_id;
        b[0..4].copy_from_slice(&prefixlen.to_le_bytes());
        b[4..6].copy_from_slice(&cluster_id.to_le_bytes());
        b[6] = self.pad1;
        b[7] = self.family;
        b[8..24].copy_from_slice(&self.ip);
        b
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a cilium_ipcache key", bytes)?;
        Ok(IpcacheKey {
            prefixlen: u32_at(&b, 0),
            cluster_id: u16_at(&b, 4),
            pad1: b[6],
            family: b[7],
            ip: b[8..24].try_into().unwrap(),
        })
    }
}

/// Value of `cilium_ipcache` (Cilium's `struct remote_endpoint_info`), 12 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteEndpointInfo {
    pub sec_identity: u32,
    /// Underlay address of the hosting node, network order; 0.0.0.0 = none.
    pub tunnel_endpoint: [u8; 4],
    pub pad: u16,
    pub key: u8,
    pub flags: u8,
}
assert_layout!(RemoteEndpointInfo, RemoteEndpointInfo::SIZE, { sec_identity: 0, tunnel_endpoint: 4, pad: 8, key: 10, flags: 11 });

impl RemoteEndpointInfo {
    pub const SIZE: usize = 12;

    pub fn new(sec_identity: u32, tunnel_endpoint: Option<Ipv4Addr>) -> Self {
        RemoteEndpointInfo {
            sec_identity,
            tunnel_endpoint: tunnel_endpoint.map_or([0; 4], |ip| ip.octets()),
            pad: 0,
            key: 0,
            flags: 0,
        }
    }
    pub fn tunnel_endpoint(&self) -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(self.tunnel_endpoint)).filter(|ip| !ip.is_unspecified())
    }
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.sec_identity.to_le_bytes());
        b[4..8].copy_from_slice(&self.tunnel_endpoint);
        b[8..10].copy_from_slice(&self.pad.to_le_bytes());
        b[10] = self.key;
        b[11] = self.flags;
        b
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a cilium_ipcache value", bytes)?;
        Ok(RemoteEndpointInfo {
            sec_identity: u32_at(&b, 0),
            tunnel_endpoint: b[4..8].try_into().unwrap(),
            pad: u16_at(&b, 8),
            key: b[10],
            flags: b[11],
        })
    }
}

/// Key of `routec_node_ipv6`: a node's IPv4 `address` (the ipcache's tunnel
/// endpoint), network order, 4 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeIpv6Key {
    pub node_ipv4: Ipv4Addr,
}

impl NodeIpv6Key {
    pub const SIZE: usize = 4;

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        self.node_ipv4.octets()
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a routec_node_ipv6 key", bytes)?;
        Ok(NodeIpv6Key { node_ipv4: Ipv4Addr::from(b) })
    }
}

/// Value of `routec_node_ipv6` (`struct node_ipv6`): that node's IPv6
/// `address`, network order, 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeIpv6 {
    pub node_ipv6: Ipv6Addr,
}

impl NodeIpv6 {
    pub const SIZE: usize = 16;

    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        self.node_ipv6.octets()
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LengthError> {
        let b = exact::<{ Self::SIZE }>("a routec_node_ipv6 value", bytes)?;
        Ok(NodeIpv6 { node_ipv6: Ipv6Addr::from(b) })
    }
}

/// Value of `routec_counters` (per CPU), 16 bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}
assert_layout!(Counter, Counter::SIZE, { packets: 0, bytes: 8 });

impl Counter {
    pub const SIZE: usize = 16;
}

macro_rules! reasons {
    ($($variant:ident = $code:literal, $c_name:literal, $name:literal, $doc:literal;)*) => {
        /// Why a program forwarded or dropped a packet. Codes are stable: they
        /// index `routec_counters` and match `bpf-templates/lib/reasons.h`.
        /// Forward reasons are 1..=127, drop reasons 128..=255.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum Reason { $(#[doc = $doc] $variant = $code,)* }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];
            pub fn code(self) -> u32 { self as u32 }
            /// The kebab-case name users see.
            pub fn name(self) -> &'static str { match self { $(Reason::$variant => $name,)* } }
            /// The macro name in `reasons.h`.
            pub fn c_name(self) -> &'static str { match self { $(Reason::$variant => $c_name,)* } }
            pub fn description(self) -> &'static str { match self { $(Reason::$variant => $doc,)* } }
            pub fn from_code(code: u32) -> Option<Reason> {
                match code { $($code => Some(Reason::$variant),)* _ => None }
            }
            pub fn is_drop(self) -> bool { self.code() >= 128 }
        }
    };
}

reasons! {
    LocalDelivery = 1, "FWD_LOCAL_DELIVERY", "local-delivery", "from a pod to a pod on the same node (cilium_lxc hit)";
    TunnelEncap = 2, "FWD_TUNNEL_ENCAP", "tunnel-encap", "from a pod to a pod on another node, encapsulated (cilium_ipcache hit with a tunnel endpoint)";
    ToStack = 3, "FWD_TO_STACK", "to-stack", "passed to the node's network stack: for the node itself (cilium_lxc host entry), or from its device for no pod of this node";
    ArpReply = 4, "FWD_ARP_REPLY", "arp-reply", "ARP request for the gateway answered with the lxc MAC";
    OverlayDelivery = 5, "FWD_OVERLAY_DELIVERY", "overlay-delivery", "from the overlay to a pod on this node (cilium_lxc hit)";
    HostDelivery = 6, "FWD_HOST_DELIVERY", "host-delivery", "from the node's stack to a pod on this node (cilium_lxc hit)";
    NdpReply = 7, "FWD_NDP_REPLY", "ndp-reply", "IPv6 neighbour solicitation for the router answered with the lxc MAC";
    NativeForward = 8, "FWD_NATIVE_FORWARD", "native-forward", "from a pod to a pod on another node, sent out of the node's device to that node (native routing, bpf_redirect_neigh)";
    NetdevDelivery = 9, "FWD_NETDEV_DELIVERY", "netdev-delivery", "from the node's device to a pod on this node (native routing, cilium_lxc hit)";
    InvalidPacket = 128, "DROP_INVALID_PACKET", "invalid-packet", "truncated or malformed headers";
    UnknownL3 = 129, "DROP_UNKNOWN_L3", "unknown-l3", "neither IPv4, IPv6 nor ARP (a VLAN-tagged frame is neither)";
    UnknownSource = 130, "DROP_UNKNOWN_SOURCE", "unknown-source", "source address is not an endpoint behind the ingress interface, or (from the node's device) one the underlay cannot have";
    TtlExceeded = 131, "DROP_TTL_EXCEEDED", "ttl-exceeded", "TTL would reach zero";
    NoRoute = 132, "DROP_NO_ROUTE", "no-route", "destination not in cilium_ipcache";
    NoTunnelEndpoint = 133, "DROP_NO_TUNNEL_ENDPOINT", "no-tunnel-endpoint", "cilium_ipcache entry without a tunnel endpoint";
    NoEndpoint = 134, "DROP_NO_ENDPOINT", "no-endpoint", "destination in this node's address space but no endpoint has it";
    ArpUnsupported = 135, "DROP_ARP_UNSUPPORTED", "arp-unsupported", "ARP that is not a request for the gateway";
    WrongVni = 136, "DROP_WRONG_VNI", "wrong-vni", "overlay packet with another VNI than the cluster's";
    OverlayPort = 137, "DROP_OVERLAY_PORT", "overlay-port", "UDP to a node's overlay port from a pod, or from inside the tunnel: only nodes speak the overlay";
    UnknownTunnelSource = 138, "DROP_UNKNOWN_TUNNEL_SOURCE", "unknown-tunnel-source", "overlay packet whose outer source is not another node of the cluster";
    InnerSourceMismatch = 139, "DROP_INNER_SOURCE_MISMATCH", "inner-source-mismatch", "overlay packet whose inner source is not an endpoint of the node that sent it";
    Fragment = 140, "DROP_FRAGMENT", "fragment", "IPv6 packet with a fragment header: the datapath does not reassemble";
    Ipv6ExtHeaders = 141, "DROP_IPV6_EXT_HEADERS", "ipv6-ext-headers", "IPv6 packet with more than 4 extension headers (the bounded walk, as Cilium's)";
    Ipv6LinkLocal = 142, "DROP_IPV6_LINK_LOCAL", "ipv6-link-local", "IPv6 for the pod's link only: multicast (MLD, router solicitations), link-local or unspecified addresses, neighbour solicitations not for the router";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn lxc_vector_round_trips() {
        let key = hex("0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00");
        let value = hex("0b 00 00 00 00 00 33 06 00 00 00 00 00 00 00 00 ea c4 71 d6 4f a0 00 00 f6 87 b6 c3 a6 45 00 00 2c 0d 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        let k = EndpointKey::from_bytes(&key).unwrap();
        assert_eq!(k, EndpointKey::ipv4(Ipv4Addr::new(10, 10, 2, 121)));
        assert_eq!(k.to_bytes().to_vec(), key);
        let v = EndpointInfo::from_bytes(&value).unwrap();
        assert_eq!((v.ifindex, v.lxc_id, v.flags, v.sec_id), (11, 1587, 0, 3372));
        assert_eq!(v.mac().to_string(), "ea:c4:71:d6:4f:a0");
        assert_eq!(v.node_mac().to_string(), "f6:87:b6:c3:a6:45");
        assert_eq!(v.to_bytes().to_vec(), value);
    }

    #[test]
    fn ipcache_vector_round_trips() {
        let key = hex("40 00 00 00 00 00 00 01 0a 0a 01 9b 00 00 00 00 00 00 00 00 00 00 00 00");
        let value = hex("94 28 00 00 ac 12 00 04 00 00 00 00");
        let k = IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 32);
        assert_eq!(k.to_bytes().to_vec(), key);
        assert_eq!(IpcacheKey::from_bytes(&key).unwrap(), k);
        let v = RemoteEndpointInfo::new(10388, Some(Ipv4Addr::new(172, 18, 0, 4)));
        assert_eq!(v.to_bytes().to_vec(), value);
        assert_eq!(RemoteEndpointInfo::from_bytes(&value).unwrap(), v);
    }

    #[test]
    fn ipv6_lxc_key_is_the_16_address_bytes_and_family_2() {
        let ip: Ipv6Addr = "fd00:10:2::79".parse().unwrap();
        let key = hex("fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 79 02 00 00 00");
        // Encode, then decode the same bytes back.
        assert_eq!(EndpointKey::ip(IpAddr::V6(ip)).to_bytes().to_vec(), key);
        let decoded = EndpointKey::from_bytes(&key).unwrap();
        assert_eq!(decoded.ip_addr(), IpAddr::V6(ip));
        assert_eq!((decoded.family, decoded.key, { decoded.cluster_id }), (FAMILY_IPV6, 0, 0));
        assert_eq!(decoded.to_string(), "fd00:10:2::79");
        // The IPv4 key of the same first bytes is another key.
        assert_ne!(EndpointKey::ipv4(Ipv4Addr::new(0xfd, 0, 0, 0x10)).to_bytes().to_vec(), key);
    }

    #[test]
    fn node_ipv6_vector_round_trips() {
        let key = NodeIpv6Key { node_ipv4: Ipv4Addr::new(192, 168, 0, 11) };
        let value = NodeIpv6 { node_ipv6: "fd00::b".parse().unwrap() };
        assert_eq!(key.to_bytes(), [0xc0, 0xa8, 0x00, 0x0b]);
        assert_eq!(value.to_bytes(), [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b]);
        assert_eq!(NodeIpv6Key::from_bytes(&key.to_bytes()).unwrap(), key);
        assert_eq!(NodeIpv6::from_bytes(&value.to_bytes()).unwrap(), value);
        assert!(NodeIpv6::from_bytes(&[0; 4]).is_err());
    }

    #[test]
    fn ipv6_ipcache_keys_count_32_static_bits_before_the_prefix() {
        let ip: Ipv6Addr = "fd00:10:2::79".parse().unwrap();
        let host = hex("a0 00 00 00 00 00 00 02 fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 79");
        assert_eq!(IpcacheKey::host(IpAddr::V6(ip)).to_bytes().to_vec(), host);
        let decoded = IpcacheKey::from_bytes(&host).unwrap();
        assert_eq!((decoded.ip_addr(), decoded.ip_prefix_len()), (IpAddr::V6(ip), Some(128)));
        assert_eq!(decoded.to_string(), "fd00:10:2::79/128");

        let net: Ipv6Addr = "fd00:10:2::".parse().unwrap();
        let cidr = hex("60 00 00 00 00 00 00 02 fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 00");
        assert_eq!(IpcacheKey::ip(IpAddr::V6(net), 64).to_bytes().to_vec(), cidr);
        let decoded = IpcacheKey::from_bytes(&cidr).unwrap();
        assert_eq!({ decoded.prefixlen }, 96);
        assert_eq!(decoded.to_string(), "fd00:10:2::/64");
        // The IPv4 encoders are the same function, family 1.
        assert_eq!(
            IpcacheKey::host(IpAddr::V4(Ipv4Addr::new(10, 10, 1, 155))),
            IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 32)
        );
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let err = EndpointKey::from_bytes(&[0; 19]).unwrap_err();
        assert_eq!(err.to_string(), "a cilium_lxc key must be 20 bytes, got 19");
        assert!(RemoteEndpointInfo::from_bytes(&[0; 13]).is_err());
    }
}
