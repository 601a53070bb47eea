//! What a lab owns, and how routec recognises it as its own.
//!
//! In the state folder (default /run/routec/labs) a lab `NAME` has:
//! - `NAME.json`: its [`LabState`], which carries the `"routec": "lab"` marker;
//! - `NAME/`: its folder (build output), with the marker file `routec-lab`;
//! - `NAME.lock`: the lock `up` and `down` hold (never removed, see `lock`).
//!
//! Only a state file with the marker and a folder with the marker file are a
//! lab's: `list` shows nothing else, and `down` removes nothing else.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use routec_compiler::model::{Cluster, Ipv4Net, Mac, Node, OverlayKind, Pod};
use serde::{Deserialize, Serialize};

use super::{check_lab_name, namespace_name};
use crate::{Context, Error, Result};

/// The marker file in a lab's folder.
pub const FOLDER_MARKER: &str = "routec-lab";

/// The marker field of a lab's state file: `"routec": "lab"`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub enum Marker {
    #[default]
    #[serde(rename = "lab")]
    Lab,
}

/// Everything a lab made, as recorded in `<state_dir>/<lab>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabState {
    /// routec's marker: a JSON file without it is not a lab's.
    pub routec: Marker,
    pub name: String,
    pub bpffs: PathBuf,
    /// Build output the nodes were applied from.
    pub out: PathBuf,
    pub underlay: String,
    pub nodes: Vec<LabNode>,
    pub pods: Vec<LabPod>,
    /// Every namespace created, in creation order (removed in reverse).
    /// Recorded before the first is created.
    pub namespaces: Vec<String>,
    /// How the nodes' programs are attached.
    #[serde(default)]
    pub tc_mode: crate::loader::TcMode,
    /// Namespaces a reconcile (`lab up` of a lab that is up) is making or
    /// removing: never taken as whole by the next one, which makes them
    /// again or removes them. Empty once a reconcile finishes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabNode {
    pub name: String,
    pub address: Ipv4Addr,
    pub netns: String,
    /// What its namespace's links were made from (absent in labs made by an
    /// older routec, which a reconcile then makes anew).
    #[serde(default)]
    pub links: Option<NodeLinks>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabPod {
    pub name: String,
    /// The pod's IPv4 address, if it has one (an IPv6-only pod has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    pub node: String,
    pub netns: String,
    /// What its veth was made from (see [`LabNode::links`]).
    #[serde(default)]
    pub links: Option<PodLinks>,
}

/// Everything of the cluster that a node namespace's links are made from
/// (besides the node's name and address): a reconcile keeps a node only
/// when these are equal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeLinks {
    pub device: String,
    pub pod_cidr: Option<Ipv4Net>,
    pub router: Option<Ipv4Addr>,
    pub mtu: u32,
    pub pod_mtu: u32,
    pub overlay: OverlayKind,
    pub overlay_port: u16,
}

/// Everything a pod's veth is made from besides its IP and node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PodLinks {
    pub lxc: String,
    pub ifindex: Option<u32>,
    pub mac: Option<Mac>,
    pub node_mac: Option<Mac>,
}

impl NodeLinks {
    fn of(cluster: &Cluster, node: &Node) -> Self {
        NodeLinks {
            device: node.device.clone(),
            pod_cidr: node.pod_cidr,
            router: node.router,
            mtu: cluster.mtu,
            pod_mtu: cluster.pod_mtu(),
            overlay: cluster.overlay.kind,
            overlay_port: cluster.overlay.port,
        }
    }
}

impl PodLinks {
    fn of(pod: &Pod) -> Self {
        PodLinks { lxc: pod.lxc.clone(), ifindex: pod.ifindex, mac: pod.mac, node_mac: pod.node_mac }
    }
}

impl LabState {
    pub fn plan(cluster: &Cluster, name: &str, bpffs: &Path, out: &Path) -> Result<Self> {
        check_lab_name(name)?;
        check_interfaces(cluster)?;
        let nodes: Vec<LabNode> = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| LabNode {
                name: n.name.clone(),
                address: n.address,
                netns: namespace_name(name, &n.name, i),
                links: Some(NodeLinks::of(cluster, n)),
            })
            .collect();
        let pods: Vec<LabPod> = cluster
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| LabPod {
                name: p.name.clone(),
                ip: p.ip,
                ip6: p.ip6,
                node: cluster.nodes[p.node].name.clone(),
                netns: namespace_name(name, &p.name, cluster.nodes.len() + i),
                links: Some(PodLinks::of(p)),
            })
            .collect();
        let underlay = format!("{name}-underlay");
        let mut all: Vec<&str> = vec![&underlay];
        all.extend(nodes.iter().map(|n| n.netns.as_str()));
        all.extend(pods.iter().map(|p| p.netns.as_str()));
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = all.iter().find(|n| !seen.insert(**n)) {
            return Err(Error::msg(format!("two lab objects map to the namespace name `{dup}`")));
        }
        Ok(LabState {
            routec: Marker::Lab,
            name: name.to_string(),
            bpffs: bpffs.to_path_buf(),
            out: out.to_path_buf(),
            underlay,
            nodes,
            pods,
            namespaces: Vec::new(),
            tc_mode: crate::loader::TcMode::default(),
            incomplete: Vec::new(),
        })
    }

    pub fn state_file(state_dir: &Path, name: &str) -> PathBuf {
        state_dir.join(format!("{name}.json"))
    }

    pub fn load(state_dir: &Path, name: &str) -> Result<Self> {
        check_lab_name(name)?;
        let path = Self::state_file(state_dir, name);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::msg(format!("no lab named `{name}` (no {})", path.display())),
            _ => Error::msg(format!("cannot read {}: {e}", path.display())),
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::msg(format!("{} is not a routec lab's state file ({e}): routec leaves it alone", path.display()))
        })
    }

    /// Written atomically (temp file + rename): a crash never leaves half a record.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir).context(|| format!("cannot create {}", state_dir.display()))?;
        let path = Self::state_file(state_dir, &self.name);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("lab state serializes");
        std::fs::write(&tmp, text).context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// `<bpffs>/routec/<lab>`: every node's pins live below it.
    pub fn pin_root(&self) -> PathBuf {
        self.bpffs.join("routec").join(&self.name)
    }

    pub fn node(&self, name: &str) -> Option<&LabNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// A pod by name (`namespace/name`) or IP.
    pub fn pod(&self, name_or_ip: &str) -> Option<&LabPod> {
        match name_or_ip.parse::<Ipv4Addr>() {
            Ok(ip) => self.pods.iter().find(|p| p.ip == Some(ip)),
            Err(_) => self.pods.iter().find(|p| p.name == name_or_ip),
        }
    }

    /// Every namespace the lab consists of, in creation order.
    pub fn all_namespaces(&self) -> Vec<String> {
        std::iter::once(self.underlay.clone())
            .chain(self.nodes.iter().map(|n| n.netns.clone()))
            .chain(self.pods.iter().map(|p| p.netns.clone()))
            .collect()
    }
}

/// Refuses, before anything exists, a lab whose interfaces the kernel would
/// refuse: a declared ifindex 1 (every namespace's loopback), or a MAC that
/// is multicast or zero (valid in the language, only warning W0103).
fn check_interfaces(cluster: &Cluster) -> Result<()> {
    for pod in &cluster.pods {
        if pod.ifindex == Some(1) {
            return Err(Error::msg(format!(
                "pod {} declares ifindex 1, which is the loopback device of every namespace: the lab cannot give it to {}",
                pod.name, pod.lxc
            )));
        }
        for (keyword, mac) in [("mac", pod.mac), ("node-mac", pod.node_mac)] {
            let Some(mac) = mac.filter(|m| m.is_zero() || m.is_multicast()) else { continue };
            let what = if mac.is_zero() { "all zero" } else { "multicast" };
            return Err(Error::msg(format!(
                "pod {} declares `{keyword}` {mac}, which is {what}: the kernel gives no interface such an address, so the lab cannot be made (warning W0103)",
                pod.name
            )));
        }
    }
    Ok(())
}

/// The lab's folder `<state_dir>/<name>`, created with its marker file if
/// missing. A folder that exists without the marker is not routec's: refused.
pub fn claim_dir(state_dir: &Path, name: &str) -> Result<PathBuf> {
    check_lab_name(name)?;
    let dir = state_dir.join(name);
    if dir.exists() {
        if !is_lab_dir(&dir) {
            return Err(foreign(&dir));
        }
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(FOLDER_MARKER), format!("routec lab {name}\n"))
        .context(|| format!("cannot write {}", dir.join(FOLDER_MARKER).display()))?;
    Ok(dir)
}

pub(super) fn is_lab_dir(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
        && std::fs::symlink_metadata(dir.join(FOLDER_MARKER)).is_ok_and(|m| m.is_file())
}

pub(super) fn foreign(path: &Path) -> Error {
    Error::msg(format!(
        "{} exists but is not a routec lab's (no `{FOLDER_MARKER}` marker): routec leaves it alone",
        path.display()
    ))
}

/// A lab found in the state folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabEntry {
    pub name: String,
    /// False for a lab folder without a state file: a lab stopped after its
    /// build and before its first namespace (`lab down NAME` removes it).
    pub complete: bool,
}

/// Labs with a state file, and lab folders left without one; only entries
/// with routec's marker count.
pub fn list(state_dir: &Path) -> Result<Vec<LabEntry>> {
    let mut labs = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else { return Ok(labs) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".json") {
            if check_lab_name(name).is_ok() && LabState::load(state_dir, name).is_ok() {
                labs.push(LabEntry { name: name.to_string(), complete: true });
            }
        } else if check_lab_name(&file).is_ok()
            && is_lab_dir(&entry.path())
            && !LabState::state_file(state_dir, &file).exists()
        {
            labs.push(LabEntry { name: file, complete: false });
        }
    }
    labs.sort();
    Ok(labs)
}
