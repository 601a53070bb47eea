//! Phase 0 of an apply: one node's part of a `routec build` output, every
//! file checked against the manifest before use.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use routec_compiler::bpf::{LoadConstants, OVERLAY_DEVICE};
use routec_compiler::build::{Attachment, BuildFiles, ReadError, ATTACH_PLAN, IPCACHE_SEED, LXC_SEED};
use routec_compiler::layout::{self, Encoded, EndpointKey, IpcacheKey, MapKey, MapSpec};
use routec_compiler::model::{Cluster, OverlayKind};

use crate::{Error, Result};

/// A pod of this node as the loader needs it: where its lxc is, and what was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEndpoint {
    pub ip: Ipv4Addr,
    pub lxc: String,
}

/// Everything `apply` needs for one node, read from a build.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub node: String,
    /// The build's `input_digest` (manifest.json).
    pub build_digest: String,
    pub attachments: Vec<Attachment>,
    /// Object file name -> bytes.
    pub objects: BTreeMap<String, Vec<u8>>,
    /// cilium_lxc seed (ifindex/MACs zero where undeclared).
    pub lxc_seed: Vec<(EndpointKey, <EndpointKey as MapKey>::Value)>,
    pub ipcache_seed: Vec<(IpcacheKey, <IpcacheKey as MapKey>::Value)>,
    pub endpoints: Vec<PlannedEndpoint>,
    /// The node's load-time constants but the overlay ifindex, which apply discovers.
    pub constants: LoadConstants,
    /// The maps' kernel definitions, `max_entries` as the build sized them.
    pub maps: Vec<MapSpec>,
    /// Name of the overlay device (its ifindex becomes OVERLAY_IFINDEX), if any.
    pub overlay_device: Option<String>,
}

/// A `routec build` output opened for loading: its manifest and the cluster
/// it was built from (`cluster/cluster.json`), which says which lxc belongs
/// to which pod and gives the nodes' constants. Every file is read through
/// [`BuildFiles::read`], checked against the manifest's sha256 before use.
/// Opened once, it serves the plans of all its nodes.
#[derive(Debug)]
pub struct BuildOutput {
    pub out: PathBuf,
    pub cluster: Cluster,
    files: BuildFiles,
    /// The ipcache seed all nodes share, read once.
    ipcache_seed: Vec<(IpcacheKey, <IpcacheKey as MapKey>::Value)>,
}

impl BuildOutput {
    pub fn open(out: &Path) -> Result<Self> {
        let files = BuildFiles::open(out).map_err(read_error)?;
        // The two large files of a build, read and checked side by side.
        let (cluster, ipcache_seed) = std::thread::scope(|scope| {
            let seed = scope.spawn(|| read_seed(&files, IPCACHE_SEED));
            let cluster = files.read_cluster().map_err(read_error);
            (cluster, seed.join().expect("reading the ipcache seed panicked"))
        });
        Ok(BuildOutput { out: out.to_path_buf(), cluster: cluster?, ipcache_seed: ipcache_seed?, files })
    }
    /// The layout's map definitions with the build's `max_entries`.
    fn map_specs(&self) -> Result<Vec<MapSpec>> {
        layout::ALL_MAPS
            .iter()
            .map(|spec| match self.files.manifest.maps.iter().find(|m| m.name == spec.name) {
                Some(m) => Ok(MapSpec { max_entries: m.max_entries, ..*spec }),
                None => Err(Error::msg(format!("manifest.json does not size map {}", spec.name))),
            })
            .collect()
    }
}

/// A seed file decoded into `K`'s typed entries.
fn read_seed<K: MapKey>(files: &BuildFiles, rel: &str) -> Result<Vec<(K, K::Value)>> {
    let text = files.read_text(rel).map_err(read_error)?;
    let bad = |e: String| Error::msg(format!("{}: {e}", files.out.join(rel).display()));
    routec_compiler::seeds::parse_seed(&text)
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .map(|(k, v)| {
            Ok((K::decode(&k).map_err(|e| bad(e.to_string()))?, K::Value::decode(&v).map_err(|e| bad(e.to_string()))?))
        })
        .collect()
}

fn read_error(e: ReadError) -> Error {
    Error::msg(e.to_string())
}

impl NodePlan {
    /// Reads one node's part of a build output.
    pub fn from_build(build: &BuildOutput, node: &str) -> Result<Self> {
        let (out, cluster) = (build.out.as_path(), &build.cluster);
        let node_index = cluster.nodes.iter().position(|n| n.name == node).ok_or_else(|| {
            Error::msg(format!("{} has no node `{node}` (cluster `{}`)", out.display(), cluster.name))
        })?;
        if !build.files.manifest.objects_compiled {
            return Err(Error::msg(format!(
                "{} was built without eBPF objects (--no-clang): rebuild with clang",
                out.display()
            )));
        }
        let attach_rel = format!("nodes/{node}/{ATTACH_PLAN}");
        let attach_text = build.files.read_text(&attach_rel).map_err(read_error)?;
        let attachments: Vec<Attachment> = serde_json::from_str(&attach_text)
            .map_err(|e| Error::msg(format!("{} is not an attach plan: {e}", out.join(&attach_rel).display())))?;
        let mut objects = BTreeMap::new();
        for a in &attachments {
            if !objects.contains_key(&a.object) {
                objects.insert(a.object.clone(), build.files.read(&a.object).map_err(read_error)?);
            }
        }
        Ok(NodePlan {
            node: node.to_string(),
            build_digest: build.files.manifest.input_digest.clone(),
            attachments,
            objects,
            lxc_seed: read_seed(&build.files, &format!("nodes/{node}/{LXC_SEED}"))?,
            ipcache_seed: build.ipcache_seed.clone(),
            endpoints: cluster.pods_on(node_index).map(|p| PlannedEndpoint { ip: p.ip, lxc: p.lxc.clone() }).collect(),
            constants: LoadConstants::for_node(cluster, node_index),
            maps: build.map_specs()?,
            overlay_device: (cluster.overlay.kind != OverlayKind::None).then(|| OVERLAY_DEVICE.to_string()),
        })
    }
}
