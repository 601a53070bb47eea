//! A node's datapath state as a plain value: the entries of each map (typed
//! keys and values of [`crate::layout`], sorted by key bytes), the programs
//! with their object digests, the hooks of the attach plan, the load-time
//! constants and the map sizes. [`BuildState::read`] makes it from a build
//! folder; the kernel side of `routec plan` fills the same [`NodeState`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::bpf::{self, LoadConstants};
use crate::build::{Attachment, BuildFiles, ReadError, ATTACH_PLAN, IPCACHE_SEED, LXC_SEED, NODE_IPV6_SEED};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, LengthError, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo};
use crate::model::Cluster;
use crate::seeds::{self, pod_range};

pub type LxcEntries = Vec<(EndpointKey, EndpointInfo)>;
pub type IpcacheEntries = Vec<(IpcacheKey, RemoteEndpointInfo)>;
pub type NodeIpv6Entries = Vec<(NodeIpv6Key, NodeIpv6)>;

/// A loaded program and the object it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramState {
    pub name: String,
    /// Relative to OUT (`bpf/bpf_lxc.o`).
    pub object: String,
    /// The object's sha256 (hex).
    pub sha256: String,
}

/// A map's kernel definition as far as a change can alter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSize {
    pub name: String,
    pub max_entries: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    pub name: String,
    /// Sorted by key bytes.
    pub lxc: LxcEntries,
    /// Sorted by key bytes. A build has one ipcache for all its nodes, shared
    /// here rather than copied.
    pub ipcache: Arc<IpcacheEntries>,
    /// Sorted by key bytes; the same on every node of a build (one entry
    /// per node at most, so copied).
    pub node_ipv6: NodeIpv6Entries,
    /// `None` when the objects are unknown (a build made with `--no-clang`).
    pub programs: Option<Vec<ProgramState>>,
    /// Sorted, as in `attach.json`.
    pub hooks: Vec<Attachment>,
    /// `None` when no program is known to run with any (a node the kernel
    /// holds nothing of, or whose programs routec has no record of).
    pub constants: Option<LoadConstants>,
    pub maps: Vec<MapSize>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Every node's state of one build, and the cluster that names its entries.
#[derive(Debug, Clone)]
pub struct BuildState {
    pub cluster: Cluster,
    pub input_digest: String,
    pub objects_compiled: bool,
    /// In the cluster's node order (sorted by name).
    pub nodes: Vec<NodeState>,
}

fn read_seed<K, V>(
    files: &BuildFiles,
    rel: &str,
    decode: impl Fn(&[u8], &[u8]) -> Result<(K, V), LengthError>,
) -> Result<Vec<(K, V)>, StateError> {
    let invalid = |message: String| StateError::Invalid { path: files.out.join(rel), message };
    let text = files.read_text(rel)?;
    let lines = seeds::parse_seed(&text).map_err(|e| invalid(e.to_string()))?;
    let mut entries: Vec<(Vec<u8>, (K, V))> = lines
        .iter()
        .map(|(k, v)| decode(k, v).map(|entry| (k.clone(), entry)).map_err(|e| invalid(e.to_string())))
        .collect::<Result<_, _>>()?;
    // Build writes seeds sorted; sorting again costs nothing then and makes
    // the merge in `diff` correct for any seed.
    if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(invalid("holds the same key twice".into()));
        }
    }
    Ok(entries.into_iter().map(|(_, entry)| entry).collect())
}

impl BuildState {
    /// Reads the state of every node of the build `files` opened. Every file
    /// is checked against the manifest's sha256, objects included.
    pub fn read(files: &BuildFiles) -> Result<Self, StateError> {
        let cluster = files.read_cluster()?;
        let ipcache = Arc::new(read_seed(files, IPCACHE_SEED, |k, v| {
            Ok((IpcacheKey::from_bytes(k)?, RemoteEndpointInfo::from_bytes(v)?))
        })?);
        // Written only when it has entries.
        let node_ipv6 = match files.record(NODE_IPV6_SEED) {
            Some(_) => {
                read_seed(files, NODE_IPV6_SEED, |k, v| Ok((NodeIpv6Key::from_bytes(k)?, NodeIpv6::from_bytes(v)?)))?
            }
            None => Vec::new(),
        };
        let objects_compiled = files.manifest.objects_compiled;
        let programs = if objects_compiled { Some(read_programs(files)?) } else { None };
        let maps: Vec<MapSize> =
            files.manifest.maps.iter().map(|m| MapSize { name: m.name.clone(), max_entries: m.max_entries }).collect();
        let read_node = |index: usize| -> Result<NodeState, StateError> {
            let node = &cluster.nodes[index];
            let folder = format!("nodes/{}/", node.name);
            let lxc = read_seed(files, &format!("{folder}{LXC_SEED}"), |k, v| {
                Ok((EndpointKey::from_bytes(k)?, EndpointInfo::from_bytes(v)?))
            })?;
            let plan_path = format!("{folder}{ATTACH_PLAN}");
            let hooks: Vec<Attachment> = serde_json::from_slice(&files.read(&plan_path)?).map_err(|e| {
                StateError::Invalid { path: files.out.join(&plan_path), message: format!("not an attach plan: {e}") }
            })?;
            Ok(NodeState {
                name: node.name.clone(),
                lxc,
                ipcache: Arc::clone(&ipcache),
                node_ipv6: node_ipv6.clone(),
                programs: programs.clone(),
                hooks,
                constants: Some(LoadConstants::for_node(&cluster, index)),
                maps: maps.clone(),
            })
        };
        // Nodes are independent: split them over the cores, as build does.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = cluster.nodes.len().div_ceil(threads).max(1);
        let chunks: Vec<Result<Vec<NodeState>, StateError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..cluster.nodes.len())
                .step_by(chunk)
                .map(|start| {
                    let end = (start + chunk).min(cluster.nodes.len());
                    scope.spawn(move || (start..end).map(read_node).collect())
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("reading nodes panicked")).collect()
        });
        let mut nodes = Vec::with_capacity(cluster.nodes.len());
        for chunk in chunks {
            nodes.extend(chunk?);
        }
        Ok(BuildState { input_digest: files.manifest.input_digest.clone(), objects_compiled, nodes, cluster })
    }

    pub fn names(&self) -> Names<'_> {
        Names::new(&self.cluster)
    }
}

/// The programs of [`bpf::PROGRAMS`], each with its object's digest (read,
/// so a changed object is refused).
fn read_programs(files: &BuildFiles) -> Result<Vec<ProgramState>, StateError> {
    bpf::PROGRAMS
        .iter()
        .map(|program| {
            let object = format!("bpf/{}", program.object);
            files.read(&object)?;
            let record = files.record(&object).expect("read found it");
            Ok(ProgramState { name: program.name.to_string(), object, sha256: record.sha256.clone() })
        })
        .collect()
}

/// What a map entry, a hook or a node is for, in a cluster's words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `namespace/name`.
    Pod(String),
    /// The node itself (its address entries, programs, constants).
    Node(String),
    /// The node's router (gateway) address.
    Router(String),
    PodCidr(String),
    /// An entry no declaration accounts for (drift in the kernel).
    Unknown,
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Pod(name) => write!(f, "pod {name}"),
            Subject::Node(name) => write!(f, "node {name}"),
            Subject::Router(name) => write!(f, "node {name} router"),
            Subject::PodCidr(name) => write!(f, "node {name} pod-cidr"),
            Subject::Unknown => f.write_str("no declaration"),
        }
    }
}

/// Names entries by the cluster they were built from: pods by IP (an index
/// sorted once, so naming is a binary search), nodes by address, router and
/// pod-cidr.
pub struct Names<'a> {
    cluster: &'a Cluster,
    pods_by_ip: Vec<(IpAddr, u32)>,
}

impl<'a> Names<'a> {
    pub fn new(cluster: &'a Cluster) -> Self {
        let mut pods_by_ip: Vec<(IpAddr, u32)> =
            cluster.pods.iter().enumerate().flat_map(|(i, p)| p.ips().map(move |ip| (ip, i as u32))).collect();
        pods_by_ip.sort_unstable();
        Names { cluster, pods_by_ip }
    }

    fn pod(&self, ip: IpAddr) -> Option<&'a str> {
        let at = self.pods_by_ip.binary_search_by_key(&ip, |&(ip, _)| ip).ok()?;
        Some(&self.cluster.pods[self.pods_by_ip[at].1 as usize].name)
    }

    fn node_of_address(&self, ip: IpAddr) -> Option<Subject> {
        let node = self.cluster.nodes.iter().find(|n| n.address == ip || n.address6.is_some_and(|a| a == ip));
        node.map(|n| Subject::Node(n.name.clone())).or_else(|| {
            self.cluster.nodes.iter().find(|n| n.router_ips().any(|r| r == ip)).map(|n| Subject::Router(n.name.clone()))
        })
    }

    pub fn lxc(&self, key: &EndpointKey) -> Subject {
        let ip = key.ip_addr();
        match self.pod(ip) {
            Some(pod) => Subject::Pod(pod.to_string()),
            None => self.node_of_address(ip).unwrap_or(Subject::Unknown),
        }
    }

    pub fn ipcache(&self, key: &IpcacheKey) -> Subject {
        let ip = key.ip_addr();
        let host_len = if ip.is_ipv4() { 32 } else { 128 };
        match key.ip_prefix_len() {
            Some(len) if len == host_len => match self.pod(ip) {
                Some(pod) => Subject::Pod(pod.to_string()),
                None => self.node_of_address(ip).unwrap_or(Subject::Unknown),
            },
            Some(len) => self
                .cluster
                .nodes
                .iter()
                .find(|n| {
                    let v4 = n
                        .pod_cidr
                        .is_some_and(|net| IpAddr::V4(net.network()) == ip && u32::from(net.prefix_len()) == len);
                    let v6 = n
                        .pod_cidr6
                        .is_some_and(|net| IpAddr::V6(net.network()) == ip && u32::from(net.prefix_len()) == len);
                    v4 || v6
                })
                .map_or(Subject::Unknown, |n| Subject::PodCidr(n.name.clone())),
            None => Subject::Unknown,
        }
    }

    /// A routec_node_ipv6 entry is for the node whose IPv4 address its key is.
    pub fn node_ipv6(&self, key: &NodeIpv6Key) -> Subject {
        self.node_of_address(std::net::IpAddr::V4(key.node_ipv4)).unwrap_or(Subject::Unknown)
    }

    /// A hook is for the pod whose lxc it is on, else for the node itself.
    pub fn hook(&self, node: &str, interface: &str) -> Subject {
        let index = self.cluster.nodes.binary_search_by(|n| n.name.as_str().cmp(node)).ok();
        let pod = index.and_then(|i| self.cluster.pods[pod_range(self.cluster, i)].iter().find(|p| p.lxc == interface));
        pod.map_or_else(|| Subject::Node(node.to_string()), |p| Subject::Pod(p.name.clone()))
    }
}
