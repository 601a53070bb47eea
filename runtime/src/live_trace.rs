//! `routec trace --live`: the tracer's view of the maps pinned in the kernel,
//! for a lab (every node) or for the node this runs on. Names and load-time
//! constants come from the expected view (the cluster or its build); map
//! contents and the lxc ifindexes come from the kernel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aya::maps::{Map, MapData};
use routec_compiler::layout::{
    EndpointInfo, EndpointKey, IpcacheKey, MapKey, MapSpec, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo,
};
use routec_compiler::trace::{Datapath, Ipcache, Mode, PodRef, Snapshot};

use crate::lab::{self, LabState};
use crate::loader::{self, Target};
use crate::{bpffs, netlink, netns, Error, Result};

/// Where the live maps are.
#[derive(Debug, Clone)]
pub enum LiveSource {
    /// Every node of a lab; `bpffs` overrides the one the lab recorded.
    Lab { name: String, state_dir: PathBuf, bpffs: Option<PathBuf> },
    /// The node this runs on (its maps pinned under scope `default`).
    Node { name: String, bpffs: PathBuf },
    /// Exactly these nodes, with their own namespace and scope (an agent's node).
    Targets(Vec<Target>),
}

impl LiveSource {
    /// The loader targets of the nodes this source covers.
    pub fn targets(&self) -> Result<Vec<Target>> {
        match self {
            LiveSource::Lab { name, state_dir, bpffs } => {
                let mut state = LabState::load(state_dir, name)?;
                if let Some(bpffs) = bpffs {
                    state.bpffs = bpffs.clone();
                }
                state.nodes.iter().map(|node| lab::node_target(&state, &node.name)).collect()
            }
            LiveSource::Node { name, bpffs } => {
                let mut target = Target::new(name, "default");
                target.bpffs = bpffs.clone();
                Ok(vec![target])
            }
            LiveSource::Targets(targets) => Ok(targets.clone()),
        }
    }
}

fn open(target: &Target, spec: &MapSpec) -> Result<Map> {
    bpffs::check(&target.bpffs)?;
    let path = target.map_pin(spec.name);
    if !path.exists() {
        return Err(Error::msg(format!(
            "node {}: no {} pinned at {} (is its datapath applied?)",
            target.node,
            spec.name,
            path.display()
        )));
    }
    // Refuse a pin whose entries would not decode with the layout; its
    // max_entries is the build's choice and does not matter for reading.
    loader::check_pin(&path, spec, loader::MaxEntries::Ignore)?;
    let data = MapData::from_pin(&path).map_err(|e| Error::msg(format!("cannot open {}: {e}", path.display())))?;
    Map::from_map_data(data).map_err(|e| Error::msg(format!("cannot open {}: {e}", path.display())))
}

/// Every entry of the node's pinned `cilium_lxc`, sorted by key.
pub fn read_lxc(target: &Target) -> Result<Vec<(EndpointKey, EndpointInfo)>> {
    read(target)
}

/// Every entry of the node's pinned `cilium_ipcache`, sorted by key.
pub fn read_ipcache(target: &Target) -> Result<Vec<(IpcacheKey, RemoteEndpointInfo)>> {
    read(target)
}

/// Every entry of the node's pinned `routec_node_ipv6`, sorted by key; none
/// when a datapath applied by an older routec has no such pin.
pub fn read_node_ipv6(target: &Target) -> Result<Vec<(NodeIpv6Key, NodeIpv6)>> {
    if !target.map_pin(NodeIpv6Key::SPEC.name).exists() {
        return Ok(Vec::new());
    }
    read(target)
}

fn read<K: loader::LiveMap>(target: &Target) -> Result<Vec<(K, K::Value)>> {
    loader::read_map(open(target, K::SPEC)?).map_err(|e| Error::msg(format!("node {}: {e}", target.node)))
}

/// The ifindex of each pod's lxc in the node's namespace (`None` when the
/// interface does not exist).
fn lxc_ifindexes(netns: Option<&Path>, pods: &[&PodRef]) -> Result<Vec<Option<u32>>> {
    let names: Vec<String> = pods.iter().map(|p| p.lxc.clone()).collect();
    netns::run_in(netns, move || -> Result<Vec<Option<u32>>> {
        names.iter().map(|name| Ok(netlink::link_by_name(name)?.map(|link| link.ifindex))).collect()
    })
}

/// The live view: `expected`'s nodes and pod names, the kernel's maps, and
/// the real ifindex of every pod's lxc.
pub fn live_snapshot(expected: &Snapshot, source: &LiveSource) -> Result<Snapshot> {
    let targets = source.targets()?;
    for target in &targets {
        if !expected.nodes.iter().any(|n| n.name == target.node) {
            return Err(Error::msg(format!("the cluster has no node `{}`", target.node)));
        }
    }
    let mut snapshot = Snapshot::new(Mode::Live, expected.nodes.clone(), expected.pods().to_vec());
    for target in &targets {
        let on_node: Vec<PodRef> = expected.pods().iter().filter(|p| p.node == target.node).cloned().collect();
        let refs: Vec<&PodRef> = on_node.iter().collect();
        let ifindexes = lxc_ifindexes(target.netns.as_deref(), &refs)?;
        for (pod, ifindex) in on_node.iter().zip(ifindexes) {
            for ip in pod.ips() {
                snapshot.set_pod_ifindex(ip, ifindex);
            }
        }
        snapshot.set_lxc(&target.node, read_lxc(target)?);
        snapshot.set_ipcache(&target.node, Arc::new(Ipcache::new(read_ipcache(target)?)));
        snapshot.set_node_ipv6(&target.node, read_node_ipv6(target)?);
    }
    Ok(snapshot)
}
