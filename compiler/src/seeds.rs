//! Map seeds: the entries of `cilium_lxc` (per node) and `cilium_ipcache`
//! (one for the whole cluster) that a validated cluster implies, and their
//! text form, one `key hex .. value hex ..` line per entry (DATAPATH.md).
//!
//! Bytes come only from the encoders of [`crate::layout`]; this module decides
//! which entries exist and how they are written down.

use std::fmt;
use std::net::IpAddr;
use std::ops::Range;

use crate::layout::{
    EndpointInfo, EndpointKey, IpcacheKey, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo, ENDPOINT_F_HOST, IDENTITY_HOST,
    IDENTITY_REMOTE_NODE, IDENTITY_WORLD,
};
use crate::model::{Cluster, Mac, OverlayKind};

/// The index range of `cluster.pods` that sits on `node`. Pods are sorted by
/// (node, ip), so a binary search finds it without scanning every pod.
pub fn pod_range(cluster: &Cluster, node: usize) -> Range<usize> {
    let start = cluster.pods.partition_point(|p| p.node < node);
    let end = start + cluster.pods[start..].partition_point(|p| p.node <= node);
    start..end
}

/// `cilium_lxc` of one node, sorted by key bytes: one entry per pod address
/// (IPv4 and IPv6: the same value under both keys), then host entries (flag
/// `ENDPOINT_F_HOST`, identity 1) for the node's addresses and its router
/// address of each family. Undeclared ifindexes and MACs are zero; the
/// loader fills them in.
pub fn lxc_entries(cluster: &Cluster, node: usize) -> Vec<(EndpointKey, EndpointInfo)> {
    let pods = &cluster.pods[pod_range(cluster, node)];
    let mut entries = Vec::with_capacity(pods.len() + 2);
    for pod in pods {
        let info = EndpointInfo::new(
            pod.ifindex.unwrap_or(0),
            pod.endpoint,
            0,
            pod.mac.unwrap_or_default(),
            pod.node_mac.unwrap_or_default(),
            pod.identity,
        );
        entries.extend(pod.ips().map(|ip| (EndpointKey::ip(ip), info)));
    }
    let host = EndpointInfo::new(0, 0, ENDPOINT_F_HOST, Mac::default(), Mac::default(), IDENTITY_HOST);
    entries.extend(cluster.nodes[node].own_ips().map(|ip| (EndpointKey::ip(ip), host)));
    sort_and_dedup(&mut entries, |(key, _)| key.to_bytes());
    entries
}

/// `cilium_ipcache` of the whole cluster (identical on every node), sorted by
/// key bytes: a /32 and a /128 per pod address (its identity, tunnel endpoint
/// = its node's IPv4 address: the underlay is IPv4), the pod-cidrs of each
/// node (identity 2 world, tunnel endpoint = that node's IPv4 address) and a
/// /32 or /128 per node address (identity 6 remote-node, no tunnel endpoint:
/// the underlay reaches it directly).
pub fn ipcache_entries(cluster: &Cluster) -> Vec<(IpcacheKey, RemoteEndpointInfo)> {
    let mut entries = Vec::with_capacity(cluster.pods.len() + 2 * cluster.nodes.len());
    for pod in &cluster.pods {
        let node = &cluster.nodes[pod.node];
        let value = RemoteEndpointInfo::new(pod.identity, Some(node.address));
        entries.extend(pod.ips().map(|ip| (IpcacheKey::host(ip), value)));
    }
    for node in &cluster.nodes {
        let cidr = RemoteEndpointInfo::new(IDENTITY_WORLD, Some(node.address));
        if let Some(net) = node.pod_cidr {
            entries.push((IpcacheKey::ipv4(net.network(), net.prefix_len()), cidr));
        }
        if let Some(net) = node.pod_cidr6 {
            entries.push((IpcacheKey::ip(IpAddr::V6(net.network()), net.prefix_len()), cidr));
        }
        let remote_node = RemoteEndpointInfo::new(IDENTITY_REMOTE_NODE, None);
        entries.push((IpcacheKey::ipv4(node.address, 32), remote_node));
        entries.extend(node.address6.map(|a| (IpcacheKey::host(IpAddr::V6(a)), remote_node)));
    }
    sort_and_dedup(&mut entries, |(key, _)| key.to_bytes());
    entries
}

/// `routec_node_ipv6` of the whole cluster (identical on every node), sorted
/// by key bytes: each node's IPv6 `address` under its IPv4 one, the next hop
/// of IPv6 native routing. Only a native cluster (`overlay none`) has
/// entries: the overlay's underlay is IPv4 and never reads the map.
pub fn node_ipv6_entries(cluster: &Cluster) -> Vec<(NodeIpv6Key, NodeIpv6)> {
    if cluster.overlay.kind != OverlayKind::None {
        return Vec::new();
    }
    let mut entries: Vec<_> = cluster
        .nodes
        .iter()
        .filter_map(|node| {
            let node_ipv6 = node.address6?;
            Some((NodeIpv6Key { node_ipv4: node.address }, NodeIpv6 { node_ipv6 }))
        })
        .collect();
    sort_and_dedup(&mut entries, |(key, _)| key.to_bytes());
    entries
}

/// Sorts by key bytes and keeps the first of equal keys. A validated cluster
/// has no equal keys except when a node's router is its own address, where
/// both host entries are the same entry.
fn sort_and_dedup<T, K: Ord>(entries: &mut Vec<T>, key: impl Fn(&T) -> K) {
    entries.sort_by_key(|e| key(e));
    entries.dedup_by(|b, a| key(a) == key(b));
}

/// A map entry that has a seed line: its key and value bytes, as encoded by
/// [`crate::layout`].
pub trait SeedEntry {
    const KEY_SIZE: usize;
    const VALUE_SIZE: usize;
    fn key_bytes(&self) -> impl AsRef<[u8]>;
    fn value_bytes(&self) -> impl AsRef<[u8]>;
}

impl SeedEntry for (EndpointKey, EndpointInfo) {
    const KEY_SIZE: usize = EndpointKey::SIZE;
    const VALUE_SIZE: usize = EndpointInfo::SIZE;
    fn key_bytes(&self) -> impl AsRef<[u8]> {
        self.0.to_bytes()
    }
    fn value_bytes(&self) -> impl AsRef<[u8]> {
        self.1.to_bytes()
    }
}

impl SeedEntry for (IpcacheKey, RemoteEndpointInfo) {
    const KEY_SIZE: usize = IpcacheKey::SIZE;
    const VALUE_SIZE: usize = RemoteEndpointInfo::SIZE;
    fn key_bytes(&self) -> impl AsRef<[u8]> {
        self.0.to_bytes()
    }
    fn value_bytes(&self) -> impl AsRef<[u8]> {
        self.1.to_bytes()
    }
}

impl SeedEntry for (NodeIpv6Key, NodeIpv6) {
    const KEY_SIZE: usize = NodeIpv6Key::SIZE;
    const VALUE_SIZE: usize = NodeIpv6::SIZE;
    fn key_bytes(&self) -> impl AsRef<[u8]> {
        self.0.to_bytes()
    }
    fn value_bytes(&self) -> impl AsRef<[u8]> {
        self.1.to_bytes()
    }
}

const KEY_PREFIX: &str = "key hex ";
const VALUE_PREFIX: &str = " value hex ";

/// Two lowercase hex digits for every byte value, so rendering a byte is one
/// slice copy (the seeds of a large cluster are tens of megabytes).
const HEX_PAIRS: [u8; 512] = {
    let digits = b"0123456789abcdef";
    let mut table = [0u8; 512];
    let mut byte = 0;
    while byte < 256 {
        table[2 * byte] = digits[byte >> 4];
        table[2 * byte + 1] = digits[byte & 15];
        byte += 1;
    }
    table
};

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&HEX_PAIRS[2 * b as usize..2 * b as usize + 2]);
    }
}

/// Hex bytes joined by single spaces (`0a 0a 02 79`), as in seed lines.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 3);
    push_hex(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The seed text: one line per entry, in the given order, each exactly
/// `key hex <bytes> value hex <bytes>\n`.
pub fn render_seed<E: SeedEntry>(entries: &[E]) -> String {
    let line_len = KEY_PREFIX.len() + 3 * E::KEY_SIZE - 1 + VALUE_PREFIX.len() + 3 * E::VALUE_SIZE - 1 + 1;
    let mut out = Vec::with_capacity(line_len * entries.len());
    for entry in entries {
        out.extend_from_slice(KEY_PREFIX.as_bytes());
        push_hex(&mut out, entry.key_bytes().as_ref());
        out.extend_from_slice(VALUE_PREFIX.as_bytes());
        push_hex(&mut out, entry.value_bytes().as_ref());
        out.push(b'\n');
    }
    String::from_utf8(out).expect("seed text is ASCII")
}

/// A seed line that is not `key hex <bytes> value hex <bytes>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SeedError {}

/// Parses one hex byte written as exactly two hex digits.
pub fn parse_hex_byte(token: &str) -> Option<u8> {
    if token.len() == 2 && token.bytes().all(|b| b.is_ascii_hexdigit()) {
        u8::from_str_radix(token, 16).ok()
    } else {
        None
    }
}

/// The key bytes and value bytes of one seed line.
pub type SeedLine = (Vec<u8>, Vec<u8>);

/// Parses seed text into (key bytes, value bytes) per line, in file order.
/// Blank lines are skipped; sizes are not checked here (the caller knows the
/// map: see [`crate::layout::MapSpec`]).
pub fn parse_seed(text: &str) -> Result<Vec<SeedLine>, SeedError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let err = |message: String| SeedError { line: line_no, message };
        if line.trim().is_empty() {
            continue;
        }
        let mut tokens = line.split_ascii_whitespace();
        if (tokens.next(), tokens.next()) != (Some("key"), Some("hex")) {
            return Err(err("expected `key hex` at the start of the line".into()));
        }
        let mut key = Vec::new();
        let mut value = Vec::new();
        let mut in_value = false;
        while let Some(token) = tokens.next() {
            if token == "value" && !in_value {
                if tokens.next() != Some("hex") {
                    return Err(err("expected `hex` after `value`".into()));
                }
                in_value = true;
                continue;
            }
            let byte = parse_hex_byte(token)
                .ok_or_else(|| err(format!("`{token}` is not a hex byte (two hex digits, like `0a`)")))?;
            if in_value { &mut value } else { &mut key }.push(byte);
        }
        if !in_value {
            return Err(err("missing `value hex`".into()));
        }
        if key.is_empty() || value.is_empty() {
            return Err(err(format!("empty {}", if key.is_empty() { "key" } else { "value" })));
        }
        entries.push((key, value));
    }
    Ok(entries)
}
