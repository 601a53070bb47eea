//! The validated cluster: what the front end hands to code generation, the
//! tracer and the lab. Every value here has passed every rule of the language,
//! so consumers never re-check names, ranges or uniqueness.

use std::net::Ipv4Addr;

pub use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

pub mod rules;

/// Overhead of VXLAN over IPv4 (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
pub const VXLAN_OVERHEAD: u32 = 50;

/// Serialised as `OUT/cluster/cluster.json` by `routec build` (field names
/// as here; see docs/build-output.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    pub overlay: Overlay,
    /// Link MTU of the underlay.
    pub mtu: u32,
    /// Sorted by name.
    pub nodes: Vec<Node>,
    /// Sorted by (node index, ip).
    pub pods: Vec<Pod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    pub kind: OverlayKind,
    pub port: u16,
    pub vni: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlayKind {
    Vxlan,
    Geneve,
    None,
}

impl OverlayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OverlayKind::Vxlan => "vxlan",
            OverlayKind::Geneve => "geneve",
            OverlayKind::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// DNS-1123 subdomain: safe as a path component and in generated C comments.
    pub name: String,
    pub address: Ipv4Addr,
    pub pod_cidr: Ipv4Net,
    /// Defaults to the first usable address of `pod_cidr`.
    pub router: Ipv4Addr,
    /// Underlay interface; defaults to `eth0`.
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    /// `namespace/name`.
    pub name: String,
    /// Index into `Cluster::nodes`.
    pub node: usize,
    pub ip: Ipv4Addr,
    /// Cilium's lxc_id, 1..=4095, unique on its node.
    pub endpoint: u16,
    /// Security identity, 1..=16777215.
    pub identity: u32,
    /// Host-side veth name.
    pub lxc: String,
    /// Declared host-side ifindex; `None` means discovered at load time.
    pub ifindex: Option<u32>,
    /// Declared pod-side MAC; `None` means discovered at load time.
    pub mac: Option<Mac>,
    /// Declared host-side (lxc) MAC; `None` means discovered at load time.
    pub node_mac: Option<Mac>,
}

/// A MAC address in wire order. Kept as a newtype: the lexer already parses
/// it, and six bytes with a `Display` do not justify another dependency.
/// Serialised as its `aa:bb:cc:dd:ee:ff` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Mac(pub [u8; 6]);

impl From<Mac> for String {
    fn from(mac: Mac) -> String {
        mac.to_string()
    }
}

impl TryFrom<String> for Mac {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl Mac {
    pub fn is_zero(self) -> bool {
        self.0 == [0; 6]
    }
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl std::str::FromStr for Mac {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(|| format!("`{s}` is not a MAC address"))?;
            if part.len() != 2 {
                return Err(format!("`{s}` is not a MAC address"));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| format!("`{s}` is not a MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(format!("`{s}` is not a MAC address"));
        }
        Ok(Mac(out))
    }
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }
    pub fn pods_on(&self, node: usize) -> impl Iterator<Item = &Pod> {
        self.pods.iter().filter(move |p| p.node == node)
    }
    /// A pod by name (`namespace/name`) or by IP.
    pub fn find_pod(&self, name_or_ip: &str) -> Option<&Pod> {
        match name_or_ip.parse::<Ipv4Addr>() {
            Ok(ip) => self.pods.iter().find(|p| p.ip == ip),
            Err(_) => self.pods.iter().find(|p| p.name == name_or_ip),
        }
    }
    /// Checks what consumers rely on without re-checking: a cluster read back
    /// from `cluster.json` rather than made by the front end could otherwise
    /// index out of bounds or put foreign names into paths and `ip` commands.
    /// Only the structure and the names and ranges are checked, not the
    /// language's relations between declarations (overlapping cidrs, ...).
    pub fn check_well_formed(&self) -> Result<(), String> {
        use rules::{check_interface, check_pod_name, check_subdomain};
        let mtu_range =
            if self.overlay.kind == OverlayKind::None { rules::MTU_RANGE } else { rules::MTU_RANGE_OVERLAY };
        if !mtu_range.contains(&u64::from(self.mtu)) {
            return Err(format!("mtu {} is outside {mtu_range:?}", self.mtu));
        }
        check_subdomain(&self.name).map_err(|e| format!("cluster name `{}`: {e}", self.name))?;
        for (index, node) in self.nodes.iter().enumerate() {
            check_subdomain(&node.name).map_err(|e| format!("node name `{}`: {e}", node.name))?;
            check_interface(&node.device).map_err(|e| format!("node {} device `{}`: {e}", node.name, node.device))?;
            if index > 0 && self.nodes[index - 1].name >= node.name {
                return Err(format!("nodes are not sorted by name with no repeats at `{}`", node.name));
            }
        }
        for (index, pod) in self.pods.iter().enumerate() {
            check_pod_name(&pod.name).map_err(|e| format!("pod name `{}`: {e}", pod.name))?;
            if pod.node >= self.nodes.len() {
                return Err(format!("pod {} is on node #{} of {}", pod.name, pod.node, self.nodes.len()));
            }
            check_interface(&pod.lxc).map_err(|e| format!("pod {} lxc `{}`: {e}", pod.name, pod.lxc))?;
            if !rules::ENDPOINT_RANGE.contains(&u64::from(pod.endpoint)) {
                return Err(format!(
                    "pod {} endpoint {} is outside {:?}",
                    pod.name,
                    pod.endpoint,
                    rules::ENDPOINT_RANGE
                ));
            }
            if !rules::IDENTITY_RANGE.contains(&u64::from(pod.identity)) {
                return Err(format!(
                    "pod {} identity {} is outside {:?}",
                    pod.name,
                    pod.identity,
                    rules::IDENTITY_RANGE
                ));
            }
            if index > 0 {
                let previous = &self.pods[index - 1];
                if (previous.node, previous.ip) >= (pod.node, pod.ip) {
                    return Err(format!("pods are not sorted by (node, ip) with no repeats at {}", pod.name));
                }
            }
        }
        Ok(())
    }
    /// MTU that pods get: the underlay MTU minus the overlay's overhead.
    pub fn pod_mtu(&self) -> u32 {
        match self.overlay.kind {
            OverlayKind::Vxlan | OverlayKind::Geneve => self.mtu - VXLAN_OVERHEAD,
            OverlayKind::None => self.mtu,
        }
    }
}
