//! What the tracer reads: per node, the load-time constants and the map
//! contents, behind one trait so that a cluster, a build folder and the live
//! kernel maps are traced by the same code.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use serde::Serialize;

use super::lpm::Ipcache;
use super::simulate::Family;
use crate::bpf::{self, Unsupported};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo};
use crate::model::{Cluster, Ipv4Net, Ipv6Net};
use crate::seeds;

/// Where the map contents come from. Offline, a zero ifindex or MAC in an
/// entry is a value the loader fills in; live, the loader has filled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Offline,
    Live,
}

/// A node as the tracer sees it: its load-time constants (`NODE_IPV4`,
/// `ROUTER_IPV4`, `VNI`, ..., the type the loader sets them from) and what
/// the drawing and the routing need besides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeConfig {
    pub name: String,
    pub constants: bpf::LoadConstants,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<Ipv4Net>,
    pub overlay: String,
    /// Underlay device.
    pub device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address6: Option<Ipv6Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_cidr6: Option<Ipv6Net>,
    /// The pods' IPv6 gateway (with `pod_cidr6`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub router6: Option<Ipv6Addr>,
}

impl NodeConfig {
    /// The node's underlay addresses, IPv4 first.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> {
        std::iter::once(IpAddr::V4(self.constants.node_ipv4)).chain(self.address6.map(IpAddr::V6))
    }
    /// The node's router addresses (one per pod-cidr), IPv4 first.
    pub fn routers(&self) -> impl Iterator<Item = IpAddr> {
        let v4 = self.pod_cidr.map(|_| IpAddr::V4(self.constants.router_ipv4));
        v4.into_iter().chain(self.router6.map(IpAddr::V6))
    }
    /// Whether one of the node's pod-cidrs holds `ip`.
    pub fn pod_cidr_contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(ip) => self.pod_cidr.is_some_and(|net| net.contains(&ip)),
            IpAddr::V6(ip) => self.pod_cidr6.is_some_and(|net| net.contains(&ip)),
        }
    }
    /// The node's pod-cidr of `family`, as text.
    pub fn pod_cidr_text(&self, family: Family) -> Option<String> {
        match family {
            Family::Ipv4 => self.pod_cidr.map(|net| net.to_string()),
            Family::Ipv6 => self.pod_cidr6.map(|net| net.to_string()),
        }
    }
}

/// A pod as the tracer names it: map entries carry no names, so names come
/// from the cluster (given, or the one a build records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodRef {
    /// `namespace/name`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    pub node: String,
    pub endpoint: u16,
    /// Host-side veth name.
    pub lxc: String,
    /// The ifindex of the pod's lxc as the ingress interface has it: declared
    /// (offline) or discovered (live); `None` when not known.
    pub ifindex: Option<u32>,
}

impl PodRef {
    /// The pod's addresses, IPv4 first.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> {
        self.ip.map(IpAddr::V4).into_iter().chain(self.ip6.map(IpAddr::V6))
    }
    pub fn has_ip(&self, ip: IpAddr) -> bool {
        self.ips().any(|own| own == ip)
    }
    /// The pod's address of `family`.
    pub fn ip_of(&self, family: Family) -> Option<IpAddr> {
        self.ips().find(|&ip| Family::of(ip) == family)
    }
}

/// The tracer's view of a datapath.
pub trait Datapath {
    fn mode(&self) -> Mode;
    /// Sorted by name.
    fn nodes(&self) -> &[NodeConfig];
    fn pods(&self) -> &[PodRef];
    /// Exact lookup in the node's `cilium_lxc`.
    fn lxc_lookup(&self, node: &str, key: &EndpointKey) -> Option<EndpointInfo>;
    /// The node's `cilium_ipcache`.
    fn ipcache(&self, node: &str) -> Option<&Ipcache>;
    /// Exact lookup in the node's `routec_node_ipv6`: the IPv6 next hop of
    /// the node whose IPv4 address is `node_ipv4`.
    fn node_ipv6_lookup(&self, node: &str, node_ipv4: Ipv4Addr) -> Option<Ipv6Addr>;
    /// False when the view knows the node but not its maps (a live view of
    /// one real node knows only that node's).
    fn has_maps(&self, node: &str) -> bool;
    /// Why the datapath cannot be built for the cluster this view shows, if
    /// it cannot: there is then no datapath to trace.
    fn unsupported(&self) -> Option<&Unsupported> {
        None
    }

    fn node(&self, name: &str) -> Option<&NodeConfig> {
        self.nodes().iter().find(|n| n.name == name)
    }
    fn node_by_address(&self, address: Ipv4Addr) -> Option<&NodeConfig> {
        self.nodes().iter().find(|n| n.constants.node_ipv4 == address)
    }
    /// The pod that has `ip` (IPs are unique in a cluster).
    fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodRef> {
        self.pods().iter().find(|p| p.has_ip(ip))
    }
    /// A pod by name (`namespace/name`) or IP.
    fn find_pod(&self, name_or_ip: &str) -> Option<&PodRef> {
        match name_or_ip.parse::<IpAddr>() {
            Ok(ip) => self.pod_by_ip(ip),
            Err(_) => self.pods().iter().find(|p| p.name == name_or_ip),
        }
    }
    fn pod_at(&self, node: &str, ip: IpAddr) -> Option<&PodRef> {
        self.pod_by_ip(ip).filter(|p| p.node == node)
    }
}

/// Map contents held in memory: what the offline views (cluster, build
/// folder) and the live reader produce.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub mode: Mode,
    pub nodes: Vec<NodeConfig>,
    /// Fixed at construction: `by_ip` indexes them.
    pods: Vec<PodRef>,
    by_ip: HashMap<IpAddr, usize>,
    lxc: BTreeMap<String, HashMap<[u8; EndpointKey::SIZE], EndpointInfo>>,
    /// Offline all nodes share one ipcache; live each node has its own pin.
    ipcache: BTreeMap<String, Arc<Ipcache>>,
    /// Like the ipcache: shared offline, per node live.
    node_ipv6: BTreeMap<String, Arc<NodeIpv6Map>>,
    /// Set by [`Snapshot::from_cluster`] from `bpf::check_supported`.
    unsupported: Option<Unsupported>,
}

impl Snapshot {
    pub fn new(mode: Mode, mut nodes: Vec<NodeConfig>, pods: Vec<PodRef>) -> Self {
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let by_ip = pods.iter().enumerate().flat_map(|(i, p)| p.ips().map(move |ip| (ip, i))).collect();
        Snapshot {
            mode,
            nodes,
            pods,
            by_ip,
            lxc: BTreeMap::new(),
            ipcache: BTreeMap::new(),
            node_ipv6: BTreeMap::new(),
            unsupported: None,
        }
    }

    pub fn set_node_ipv6(&mut self, node: &str, entries: impl IntoIterator<Item = (NodeIpv6Key, NodeIpv6)>) {
        self.node_ipv6.insert(node.to_string(), Arc::new(NodeIpv6Map::new(entries)));
    }

    /// One routec_node_ipv6 for every node, as the build emits it.
    pub fn set_shared_node_ipv6(&mut self, entries: impl IntoIterator<Item = (NodeIpv6Key, NodeIpv6)>) {
        let shared = Arc::new(NodeIpv6Map::new(entries));
        for node in &self.nodes {
            self.node_ipv6.insert(node.name.clone(), shared.clone());
        }
    }

    /// The node's `routec_node_ipv6` entries, sorted by key bytes.
    pub fn node_ipv6_entries(&self, node: &str) -> Vec<(NodeIpv6Key, NodeIpv6)> {
        self.node_ipv6.get(node).map_or_else(Vec::new, |map| map.entries())
    }

    pub fn set_lxc(&mut self, node: &str, entries: impl IntoIterator<Item = (EndpointKey, EndpointInfo)>) {
        let map = entries.into_iter().map(|(k, v)| (k.to_bytes(), v)).collect();
        self.lxc.insert(node.to_string(), map);
    }

    pub fn set_ipcache(&mut self, node: &str, ipcache: Arc<Ipcache>) {
        self.ipcache.insert(node.to_string(), ipcache);
    }

    /// One ipcache for every node, as the build emits it.
    pub fn set_shared_ipcache(&mut self, entries: impl IntoIterator<Item = (IpcacheKey, RemoteEndpointInfo)>) {
        let shared = Arc::new(Ipcache::new(entries));
        for node in &self.nodes {
            self.ipcache.insert(node.name.clone(), shared.clone());
        }
    }

    /// The maps a build of `cluster` seeds, as the offline view of it. A
    /// cluster the build refuses (`bpf::check_supported`) gives a view that
    /// every trace refuses with the same message.
    pub fn from_cluster(cluster: &Cluster) -> Self {
        let mut snapshot =
            Snapshot::new(Mode::Offline, NodeConfig::all_from_cluster(cluster), PodRef::all_from_cluster(cluster));
        snapshot.unsupported = bpf::check_supported(cluster).err();
        for (index, node) in cluster.nodes.iter().enumerate() {
            snapshot.set_lxc(&node.name, seeds::lxc_entries(cluster, index));
        }
        snapshot.set_shared_ipcache(seeds::ipcache_entries(cluster));
        snapshot.set_shared_node_ipv6(seeds::node_ipv6_entries(cluster));
        snapshot
    }

    /// Sets the ifindex of the lxc that pod `ip` sends through (as the live
    /// view discovers it); false when no pod has `ip`.
    pub fn set_pod_ifindex(&mut self, ip: IpAddr, ifindex: Option<u32>) -> bool {
        match self.by_ip.get(&ip) {
            Some(&i) => {
                self.pods[i].ifindex = ifindex;
                true
            }
            None => false,
        }
    }

    /// The node's `cilium_lxc` entries, sorted by key bytes.
    pub fn lxc_entries(&self, node: &str) -> Vec<(EndpointKey, EndpointInfo)> {
        let mut entries: Vec<_> = self
            .lxc
            .get(node)
            .into_iter()
            .flatten()
            .map(|(k, v)| (EndpointKey::from_bytes(k).expect("stored keys have the key size"), *v))
            .collect();
        entries.sort_by_key(|(k, _)| k.to_bytes());
        entries
    }
}

impl Datapath for Snapshot {
    fn mode(&self) -> Mode {
        self.mode
    }
    fn nodes(&self) -> &[NodeConfig] {
        &self.nodes
    }
    fn pods(&self) -> &[PodRef] {
        &self.pods
    }
    fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodRef> {
        self.by_ip.get(&ip).map(|&i| &self.pods[i])
    }
    fn lxc_lookup(&self, node: &str, key: &EndpointKey) -> Option<EndpointInfo> {
        self.lxc.get(node)?.get(&key.to_bytes()).copied()
    }
    fn ipcache(&self, node: &str) -> Option<&Ipcache> {
        self.ipcache.get(node).map(|ipcache| &**ipcache)
    }
    fn node_ipv6_lookup(&self, node: &str, node_ipv4: Ipv4Addr) -> Option<Ipv6Addr> {
        self.node_ipv6.get(node)?.0.get(&node_ipv4).copied()
    }
    fn has_maps(&self, node: &str) -> bool {
        self.lxc.contains_key(node)
    }
    fn unsupported(&self) -> Option<&Unsupported> {
        self.unsupported.as_ref()
    }
}

/// A `routec_node_ipv6` map's contents.
#[derive(Debug, Clone, Default)]
pub struct NodeIpv6Map(BTreeMap<Ipv4Addr, Ipv6Addr>);

impl NodeIpv6Map {
    pub fn new(entries: impl IntoIterator<Item = (NodeIpv6Key, NodeIpv6)>) -> Self {
        NodeIpv6Map(entries.into_iter().map(|(k, v)| (k.node_ipv4, v.node_ipv6)).collect())
    }
    /// Sorted by key bytes (an IPv4 address's order is its bytes').
    pub fn entries(&self) -> Vec<(NodeIpv6Key, NodeIpv6)> {
        self.0.iter().map(|(&node_ipv4, &node_ipv6)| (NodeIpv6Key { node_ipv4 }, NodeIpv6 { node_ipv6 })).collect()
    }
}

impl NodeConfig {
    /// The constants the loader gives each node of `cluster`.
    pub fn all_from_cluster(cluster: &Cluster) -> Vec<NodeConfig> {
        cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| NodeConfig {
                name: node.name.clone(),
                constants: bpf::LoadConstants::for_node(cluster, index),
                pod_cidr: node.pod_cidr,
                overlay: cluster.overlay.kind.as_str().to_string(),
                device: node.device.clone(),
                address6: node.address6,
                pod_cidr6: node.pod_cidr6,
                router6: node.router6,
            })
            .collect()
    }
}

impl PodRef {
    pub fn all_from_cluster(cluster: &Cluster) -> Vec<PodRef> {
        cluster
            .pods
            .iter()
            .map(|pod| PodRef {
                name: pod.name.clone(),
                ip: pod.ip,
                ip6: pod.ip6,
                node: cluster.nodes[pod.node].name.clone(),
                endpoint: pod.endpoint,
                lxc: pod.lxc.clone(),
                ifindex: pod.ifindex,
            })
            .collect()
    }
}

/// Bytes as bpftool prints them (and seed lines hold them).
pub fn hex(bytes: &[u8]) -> String {
    crate::seeds::hex_bytes(bytes)
}
