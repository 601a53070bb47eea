//! The offline view of a `routec build` output folder: the seeds as the
//! loader would write them, with nodes and pods named as in the cluster the
//! build records (`cluster/cluster.json`). Every file is read through
//! [`BuildFiles`], so a file edited after the build is refused, as the
//! loader refuses it.

use std::path::{Path, PathBuf};

use super::view::{Mode, NodeConfig, PodRef, Snapshot};
use crate::build::{BuildFiles, ReadError, IPCACHE_SEED, LXC_SEED, NODE_IPV6_SEED};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo};
use crate::model::Cluster;
use crate::seeds;

#[derive(Debug, thiserror::Error)]
pub enum BuildViewError {
    #[error(transparent)]
    Cluster(#[from] ReadError),
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// Seed lines decoded with `decode` (a layout's `from_bytes` pair).
fn read_seed<K, V>(
    files: &BuildFiles,
    rel: &str,
    decode: impl Fn(&[u8], &[u8]) -> Result<(K, V), crate::layout::LengthError>,
) -> Result<Vec<(K, V)>, BuildViewError> {
    let invalid = |message: String| BuildViewError::Invalid { path: files.out.join(rel), message };
    let text = files.read_text(rel)?;
    let lines = seeds::parse_seed(&text).map_err(|e| invalid(e.to_string()))?;
    lines.iter().map(|(k, v)| decode(k, v).map_err(|e| invalid(e.to_string()))).collect()
}

impl Snapshot {
    /// The maps a build folder `out` seeds, read from its seed files; nodes
    /// and pods are those of the cluster it was built from.
    pub fn from_build(out: &Path) -> Result<Self, BuildViewError> {
        let files = BuildFiles::open(out)?;
        let cluster = files.read_cluster()?;
        let mut lxc = Vec::with_capacity(cluster.nodes.len());
        for node in &cluster.nodes {
            let rel = format!("nodes/{}/{LXC_SEED}", node.name);
            let entries =
                read_seed(&files, &rel, |k, v| Ok((EndpointKey::from_bytes(k)?, EndpointInfo::from_bytes(v)?)))?;
            lxc.push((node.name.as_str(), entries));
        }
        let ipcache = read_seed(&files, IPCACHE_SEED, |k, v| {
            Ok((IpcacheKey::from_bytes(k)?, RemoteEndpointInfo::from_bytes(v)?))
        })?;
        // A build writes this seed only when it has entries.
        let node_ipv6 = match files.record(NODE_IPV6_SEED) {
            Some(_) => {
                read_seed(&files, NODE_IPV6_SEED, |k, v| Ok((NodeIpv6Key::from_bytes(k)?, NodeIpv6::from_bytes(v)?)))?
            }
            None => Vec::new(),
        };
        Ok(Snapshot::from_seeds(&cluster, lxc, ipcache, node_ipv6))
    }

    /// The offline view of seeds already read from a build of `cluster`:
    /// `lxc` for the nodes given (a loader holds only its own node's), and
    /// the ipcache and routec_node_ipv6 every node shares.
    pub fn from_seeds<'n>(
        cluster: &Cluster,
        lxc: impl IntoIterator<Item = (&'n str, Vec<(EndpointKey, EndpointInfo)>)>,
        ipcache: impl IntoIterator<Item = (IpcacheKey, RemoteEndpointInfo)>,
        node_ipv6: impl IntoIterator<Item = (NodeIpv6Key, NodeIpv6)>,
    ) -> Self {
        let mut snapshot =
            Snapshot::new(Mode::Offline, NodeConfig::all_from_cluster(cluster), PodRef::all_from_cluster(cluster));
        for (node, entries) in lxc {
            snapshot.set_lxc(node, entries);
        }
        snapshot.set_shared_ipcache(ipcache);
        snapshot.set_shared_node_ipv6(node_ipv6);
        snapshot
    }
}
