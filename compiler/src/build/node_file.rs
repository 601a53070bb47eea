//! `nodes/<node>/node.json`: the part of `cluster/cluster.json` that one
//! node's loader needs (its pods' lxc names and addresses, its load-time
//! constants, the overlay device), so that `routec apply --node` reads a few
//! kilobytes instead of the whole cluster. Derived from the cluster at build
//! time and checked against the manifest like every file of OUT.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::bpf::{self, Interface, LoadConstants, OVERLAY_DEVICE};
use crate::model::rules::check_interface;
use crate::model::{Cluster, OverlayKind};

pub const NODE_FILE: &str = "node.json";

/// A pod of the node as the loader needs it: where its lxc is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEndpoint {
    /// The pod's addresses, IPv4 first: each has a `cilium_lxc` entry.
    pub ips: Vec<IpAddr>,
    pub lxc: String,
}

/// One node's loader input. Unknown fields are ignored when read, so later
/// additions stay readable by this routec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFile {
    pub node: String,
    /// The node's load-time constants but the overlay ifindex, which apply discovers.
    pub constants: LoadConstants,
    /// Name of the overlay device (its ifindex becomes OVERLAY_IFINDEX), if any.
    pub overlay_device: Option<String>,
    /// The node's underlay device when a program attaches to it (its ifindex
    /// becomes DEVICE_IFINDEX); absent in older builds, which attach none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The node's pods, in cluster.json's order (by ip).
    pub endpoints: Vec<NodeEndpoint>,
}

impl NodeFile {
    /// The one derivation, used by build and by readers of an older build
    /// that has only cluster.json.
    pub fn for_node(cluster: &Cluster, node: usize) -> Self {
        NodeFile {
            node: cluster.nodes[node].name.clone(),
            constants: LoadConstants::for_node(cluster, node),
            overlay_device: (cluster.overlay.kind != OverlayKind::None).then(|| OVERLAY_DEVICE.to_string()),
            device: bpf::programs_of(cluster)
                .any(|p| p.interface == Interface::Device)
                .then(|| cluster.nodes[node].device.clone()),
            endpoints: cluster
                .pods_on(node)
                .map(|p| NodeEndpoint { ips: p.ips().collect(), lxc: p.lxc.clone() })
                .collect(),
        }
    }

    /// Parses a node file read back for `node`, or says why it is not one:
    /// it must name that node, and hold interface names the language allows
    /// (they become netlink lookups), as cluster.json's well-formedness check
    /// would have required.
    pub fn parse(bytes: &[u8], node: &str) -> Result<Self, String> {
        let file: NodeFile = serde_json::from_slice(bytes).map_err(|e| format!("not a routec node file: {e}"))?;
        if file.node != node {
            return Err(format!("is the node file of `{}`, not of `{node}`", file.node));
        }
        let devices = file.overlay_device.iter().chain(&file.device).map(String::as_str);
        for name in file.endpoints.iter().map(|e| e.lxc.as_str()).chain(devices) {
            check_interface(name).map_err(|why| format!("interface `{name}`: {why}"))?;
        }
        Ok(file)
    }
}
