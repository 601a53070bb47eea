//! Phase 0 of an apply: one node's part of a `routec build` output, every
//! file checked against the manifest before use.
//!
//! A build lists, per node, `nodes/<node>/node.json` (what the loader needs
//! of cluster.json for that node) and the ipcache seed in binary
//! (`cluster/cilium_ipcache.bin`), so one node's apply reads and checks a
//! few kilobytes and one 36-byte-per-entry file, never the whole cluster.
//! A build by an older routec has neither: its plan comes from cluster.json
//! and the hex seed, the same facts derived the same way ([`NodeFile::for_node`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use routec_compiler::bpf::LoadConstants;
use routec_compiler::build::{
    manifest_digest, parse_binary_seed, Attachment, BuildFiles, NodeFile, ReadError, ATTACH_PLAN, IPCACHE_SEED,
    IPCACHE_SEED_BIN, LXC_SEED, MANIFEST, NODE_FILE, NODE_IPV6_SEED, NODE_IPV6_SEED_BIN,
};
use routec_compiler::layout::{self, Encoded, EndpointKey, IpcacheKey, MapKey, MapSpec, NodeIpv6Key};
use routec_compiler::model::Cluster;

use crate::{Error, Result};

/// A pod of this node as the loader needs it: where its lxc is.
pub use routec_compiler::build::NodeEndpoint as PlannedEndpoint;

type IpcacheSeed = Vec<(IpcacheKey, <IpcacheKey as MapKey>::Value)>;

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
    pub ipcache_seed: IpcacheSeed,
    /// routec_node_ipv6 seed: empty when the build has none (no native
    /// cluster with IPv6 node addresses).
    pub node_ipv6_seed: Vec<(NodeIpv6Key, <NodeIpv6Key as MapKey>::Value)>,
    pub endpoints: Vec<PlannedEndpoint>,
    /// The node's load-time constants but the overlay ifindex, which apply discovers.
    pub constants: LoadConstants,
    /// The maps' kernel definitions, `max_entries` as the build sized them.
    pub maps: Vec<MapSpec>,
    /// Name of the overlay device (its ifindex becomes OVERLAY_IFINDEX), if any.
    pub overlay_device: Option<String>,
    /// The node's underlay device when a program uses it (its ifindex becomes DEVICE_IFINDEX).
    pub device: Option<String>,
}

/// A `routec build` output opened for loading: its manifest, and what its
/// nodes share, read when first needed and then kept: the cluster it was
/// built from (`cluster/cluster.json`: the lab's topology, plan's names, and
/// an older build's node facts) and the ipcache seed. Every file is read
/// through [`BuildFiles::read`], checked against the manifest's sha256 before
/// use. Opened once, it serves the plans of all its nodes.
#[derive(Debug)]
pub struct BuildOutput {
    pub out: PathBuf,
    files: BuildFiles,
    cluster: OnceLock<std::result::Result<Cluster, String>>,
    ipcache_seed: OnceLock<std::result::Result<Arc<IpcacheSeed>, String>>,
}

impl BuildOutput {
    pub fn open(out: &Path) -> Result<Self> {
        let files = BuildFiles::open(out).map_err(read_error)?;
        Ok(BuildOutput { out: out.to_path_buf(), files, cluster: OnceLock::new(), ipcache_seed: OnceLock::new() })
    }
    /// Every file of the build is there ([`BuildFiles::check_complete`]):
    /// for a reader that takes only its node's part of a build that may be
    /// half written.
    pub fn check_complete(&self) -> Result<()> {
        self.files.check_complete().map_err(read_error)
    }

    /// The build's identity, from the manifest this output was opened with.
    pub fn digest(&self) -> &str {
        &self.files.digest
    }

    /// The cluster the build was made from ([`BuildFiles::read_cluster`]).
    pub fn cluster(&self) -> Result<&Cluster> {
        let cluster = self.cluster.get_or_init(|| self.files.read_cluster().map_err(|e| e.to_string()));
        cluster.as_ref().map_err(|e| Error::msg(e.clone()))
    }

    /// The ipcache seed all nodes share: its binary form when the build has
    /// one, else the hex text.
    fn ipcache_seed(&self) -> Result<Arc<IpcacheSeed>> {
        let seed = self.ipcache_seed.get_or_init(|| {
            let seed = match self.files.record(IPCACHE_SEED_BIN) {
                Some(_) => read_binary_seed(&self.files, IPCACHE_SEED_BIN),
                None => read_seed(&self.files, IPCACHE_SEED),
            };
            seed.map(Arc::new).map_err(|e| e.to_string())
        });
        seed.clone().map_err(Error::msg)
    }

    /// `node`'s loader facts: its node.json, or, in a build without one,
    /// derived from cluster.json (read beside the ipcache seed, the two
    /// large files of such a build).
    fn node_file(&self, node: &str) -> Result<NodeFile> {
        let rel = format!("nodes/{node}/{NODE_FILE}");
        if self.files.record(&rel).is_some() {
            let bytes = self.files.read(&rel).map_err(read_error)?;
            return NodeFile::parse(&bytes, node)
                .map_err(|e| Error::msg(format!("{}: {e}", self.out.join(&rel).display())));
        }
        let cluster = std::thread::scope(|scope| {
            let seed = scope.spawn(|| self.ipcache_seed().map(drop));
            let cluster = self.cluster();
            seed.join().expect("reading the ipcache seed panicked")?;
            cluster
        })?;
        let index = cluster.nodes.iter().position(|n| n.name == node).expect("the manifest's nodes are the cluster's");
        Ok(NodeFile::for_node(cluster, index))
    }

    /// The routec_node_ipv6 seed (small: one entry per node), binary when
    /// the build has it, else the hex text, else none.
    fn node_ipv6_seed(&self) -> Result<Vec<(NodeIpv6Key, <NodeIpv6Key as MapKey>::Value)>> {
        if self.files.record(NODE_IPV6_SEED_BIN).is_some() {
            read_binary_seed(&self.files, NODE_IPV6_SEED_BIN)
        } else if self.files.record(NODE_IPV6_SEED).is_some() {
            read_seed(&self.files, NODE_IPV6_SEED)
        } else {
            Ok(Vec::new())
        }
    }

    /// The layout's map definitions with the build's `max_entries`. A build
    /// by an older routec does not define routec_node_ipv6 (its objects
    /// have no such map): it is left out of the plan.
    fn map_specs(&self) -> Result<Vec<MapSpec>> {
        layout::ALL_MAPS
            .iter()
            .filter_map(|spec| match self.files.manifest.maps.iter().find(|m| m.name == spec.name) {
                Some(m) => Some(Ok(MapSpec { max_entries: m.max_entries, ..*spec })),
                None if spec.name == NodeIpv6Key::SPEC.name => None,
                None => Some(Err(Error::msg(format!("manifest.json does not size map {}", spec.name)))),
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

/// A binary seed file ([`parse_binary_seed`]) decoded into `K`'s typed entries.
fn read_binary_seed<K: MapKey>(files: &BuildFiles, rel: &str) -> Result<Vec<(K, K::Value)>> {
    let bytes = files.read(rel).map_err(read_error)?;
    parse_binary_seed(&bytes).map_err(|e| Error::msg(format!("{}: {e}", files.out.join(rel).display())))
}

fn read_error(e: ReadError) -> Error {
    Error::msg(e.to_string())
}

impl NodePlan {
    /// Reads one node's part of a build output.
    pub fn from_build(build: &BuildOutput, node: &str) -> Result<Self> {
        let (out, manifest) = (build.out.as_path(), &build.files.manifest);
        if !manifest.nodes.iter().any(|n| n == node) {
            return Err(Error::msg(format!("{} has no node `{node}` (cluster `{}`)", out.display(), manifest.cluster)));
        }
        if !manifest.objects_compiled {
            return Err(Error::msg(format!(
                "{} was built without eBPF objects (--no-clang): rebuild with clang",
                out.display()
            )));
        }
        let NodeFile { constants, overlay_device, device, endpoints, .. } = build.node_file(node)?;
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
            build_digest: manifest.input_digest.clone(),
            attachments,
            objects,
            lxc_seed: read_seed(&build.files, &format!("nodes/{node}/{LXC_SEED}"))?,
            ipcache_seed: build.ipcache_seed()?.as_ref().clone(),
            node_ipv6_seed: build.node_ipv6_seed()?,
            endpoints,
            constants,
            maps: build.map_specs()?,
            overlay_device,
            device,
        })
    }
}

/// The identity ([`manifest_digest`]) of the build in `out` from its manifest
/// alone, without opening the build: a cheap probe for a changed folder.
pub fn build_digest(out: &Path) -> Result<String> {
    let path = out.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| Error::msg(format!("cannot read {}: {e}", path.display())))?;
    Ok(manifest_digest(&bytes))
}
