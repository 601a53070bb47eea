//! The validated cluster: what the front end hands to code generation, the
//! tracer and the lab. Every value here has passed every rule of the language,
//! so consumers never re-check names, ranges or uniqueness.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::{Ipv4Net, Ipv6Net};
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
    /// The underlay IPv4 address: the tunnel endpoint of the node's pods.
    pub address: Ipv4Addr,
    /// The IPv4 pod-cidr; a node has this, `pod_cidr6`, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<Ipv4Net>,
    /// Defaults to the first usable address of `pod_cidr`; set iff it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Ipv4Addr>,
    /// Underlay interface; defaults to `eth0`.
    pub device: String,
    /// The underlay IPv6 address (native routing's IPv6 next hop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<Ipv6Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr6: Option<Ipv6Net>,
    /// Defaults to the address after the network address of `pod_cidr6`; set iff it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router6: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pod {
    /// `namespace/name`.
    pub name: String,
    /// Index into `Cluster::nodes`.
    pub node: usize,
    /// The IPv4 address; a pod has this, `ip6`, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
}

impl Pod {
    /// The pod's addresses, IPv4 first.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> {
        self.ip.map(IpAddr::V4).into_iter().chain(self.ip6.map(IpAddr::V6))
    }
    /// Whether the pod has `ip` (of either family).
    pub fn has_ip(&self, ip: IpAddr) -> bool {
        self.ips().any(|own| own == ip)
    }
    /// The sort key of `Cluster::pods`.
    pub fn order(&self) -> (usize, Option<Ipv4Addr>, Option<Ipv6Addr>) {
        (self.node, self.ip, self.ip6)
    }
}

impl Node {
    /// The node's pod-cidrs of both families as text, IPv4 first.
    pub fn pod_cidrs(&self) -> Vec<String> {
        let v4 = self.pod_cidr.map(|net| net.to_string());
        v4.into_iter().chain(self.pod_cidr6.map(|net| net.to_string())).collect()
    }
    /// The node's router addresses of both families, IPv4 first.
    pub fn router_ips(&self) -> impl Iterator<Item = IpAddr> {
        self.router.map(IpAddr::V4).into_iter().chain(self.router6.map(IpAddr::V6))
    }
    /// The node's own addresses (underlay and routers) of both families.
    pub fn own_ips(&self) -> impl Iterator<Item = IpAddr> {
        std::iter::once(IpAddr::V4(self.address)).chain(self.address6.map(IpAddr::V6)).chain(self.router_ips())
    }
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
        match name_or_ip.parse::<IpAddr>() {
            Ok(ip) => self.pods.iter().find(|p| p.has_ip(ip)),
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
            if node.pod_cidr.is_none() && node.pod_cidr6.is_none() {
                return Err(format!("node {} has no pod-cidr", node.name));
            }
            if node.pod_cidr.is_some() != node.router.is_some() || node.pod_cidr6.is_some() != node.router6.is_some() {
                return Err(format!(
                    "node {} has a router without its pod-cidr, or a pod-cidr without a router",
                    node.name
                ));
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
            if pod.ip.is_none() && pod.ip6.is_none() {
                return Err(format!("pod {} has no ip", pod.name));
            }
            if index > 0 {
                let previous = &self.pods[index - 1];
                if previous.order() >= pod.order() {
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
