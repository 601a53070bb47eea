//! The three inputs as records: CiliumEndpoints, CiliumNodes (or core
//! Nodes), and an agent's `cilium-dbg endpoint list -o json`. Field names and
//! shapes are Cilium's (see docs/import.md for where each was checked).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::address::{self, parse_address};
use super::json::{objects, At, PathError, Result};
use super::report::Notes;
use crate::model::rules::{self, check_interface, check_pod_name, check_subdomain};
use crate::model::Mac;

/// The label Cilium puts on every identity: the name of its cluster.
pub const CLUSTER_LABEL: &str = "k8s:io.cilium.k8s.policy.cluster=";

/// The best name for an object in a message: `namespace/name`, `name`, or none.
pub fn object_name(obj: &At) -> Option<String> {
    let meta = obj.opt("metadata").ok()??;
    let name = meta.opt("name").ok()??.value.as_str()?.to_string();
    match meta.opt("namespace").ok().flatten().and_then(|n| n.value.as_str().map(str::to_string)) {
        Some(namespace) => Some(format!("{namespace}/{name}")),
        None => Some(name),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    CiliumNode,
    Node,
}

#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub name: String,
    pub path: String,
    pub kind: NodeKind,
    pub address: Ipv4Addr,
    /// The CiliumInternalIP (`cilium_host`), when the object carries one.
    pub router: Option<Ipv4Addr>,
    pub pod_cidr: Ipv4Net,
}

/// One value of a kind a node has at most one of; `found` holds each with its path.
fn at_most_one<T: std::fmt::Display + Copy>(found: &[(T, String)], what: &str) -> Result<Option<T>> {
    match found {
        [] => Ok(None),
        [(one, _)] => Ok(Some(*one)),
        [(a, _), (b, b_path), ..] => Err(PathError::new(
            b_path,
            format!("is a second {what} ({b}, besides {a}); the language holds one per node"),
        )),
    }
}

pub fn read_nodes(root: &At, notes: &mut Notes) -> Vec<std::result::Result<NodeRecord, (PathError, Option<String>)>> {
    let items = match objects(root, &["CiliumNode", "Node"]) {
        Ok(items) => items,
        Err(e) => return vec![Err((e, None))],
    };
    items.iter().map(|obj| read_node(obj, notes).map_err(|e| (e, object_name(obj)))).collect()
}

fn read_node(obj: &At, notes: &mut Notes) -> Result<NodeRecord> {
    let kind = match obj.kind()? {
        Some("CiliumNode") => NodeKind::CiliumNode,
        Some("Node") => NodeKind::Node,
        Some(other) => return Err(obj.field("kind")?.error(format!("is `{other}`, not CiliumNode or Node"))),
        None => return Err(PathError::new(&format!("{}.kind", obj.path), "is missing (CiliumNode or Node)")),
    };
    let name_at = obj.field("metadata")?.field("name")?;
    let name = name_at.str()?;
    check_subdomain(name).map_err(|e| name_at.error(format!("`{name}` is not a node name routec accepts: {e}")))?;
    let object = format!("{} {name}", if kind == NodeKind::CiliumNode { "CiliumNode" } else { "Node" });
    let (addresses, ip_field, cidrs) = match kind {
        NodeKind::CiliumNode => {
            let spec = obj.field("spec")?;
            (spec.field("addresses")?, "ip", spec.field("ipam")?.field("podCIDRs")?)
        }
        NodeKind::Node => {
            let spec = obj.field("spec")?;
            let cidrs = match spec.opt("podCIDRs")? {
                Some(list) => list,
                None => spec.field("podCIDR")?,
            };
            (obj.field("status")?.field("addresses")?, "address", cidrs)
        }
    };
    let mut internal = Vec::new();
    let mut cilium_internal = Vec::new();
    for entry in addresses.items()? {
        let type_at = entry.field("type")?;
        let kind = type_at.str()?;
        if kind == "Hostname" || kind == "InternalDNS" || kind == "ExternalDNS" {
            continue;
        }
        let ip_at = entry.field(ip_field)?;
        match kind {
            "InternalIP" => {
                if let Some(ip) = address::address(&ip_at, &object, notes)? {
                    internal.push((ip, ip_at.path.clone()));
                }
            }
            "CiliumInternalIP" => {
                if let Some(ip) = address::address(&ip_at, &object, notes)? {
                    cilium_internal.push((ip, ip_at.path.clone()));
                }
            }
            other => {
                let ip = parse_address(&ip_at)?;
                notes.skip(
                    &ip_at.path,
                    &object,
                    format!("{other} {ip}: not used (the tunnel endpoint is the InternalIP)"),
                );
            }
        }
    }
    let address = at_most_one(&internal, "IPv4 InternalIP")?
        .ok_or_else(|| addresses.error("has no IPv4 InternalIP (the node's underlay address)"))?;
    let router = at_most_one(&cilium_internal, "IPv4 CiliumInternalIP")?;
    let mut prefixes = Vec::new();
    let cidr_items = if cidrs.value.is_string() { vec![cidrs.clone()] } else { cidrs.items()? };
    for cidr in cidr_items {
        if let Some(net) = address::prefix(&cidr, &object, notes)? {
            prefixes.push((net, cidr.path.clone()));
        }
    }
    let pod_cidr = at_most_one(&prefixes, "IPv4 pod CIDR")?
        .ok_or_else(|| cidrs.error("has no IPv4 prefix (the node's pod-cidr)"))?;
    Ok(NodeRecord { name: name.to_string(), path: obj.path.clone(), kind, address, router, pod_cidr })
}

#[derive(Debug, Clone)]
pub struct EndpointRecord {
    /// `namespace/name`.
    pub pod: String,
    pub path: String,
    pub id: u16,
    pub identity: u32,
    pub ip: Ipv4Addr,
    pub ip_path: String,
    pub node_ip: Ipv4Addr,
    pub node_path: String,
    pub cni_attachment_id: Option<String>,
    pub container_id: Option<String>,
    /// The cluster its identity's labels name, and where.
    pub cluster_label: Option<(String, String)>,
}

pub fn read_endpoints(
    root: &At,
    notes: &mut Notes,
) -> Vec<std::result::Result<EndpointRecord, (PathError, Option<String>)>> {
    let items = match objects(root, &["CiliumEndpoint"]) {
        Ok(items) => items,
        Err(e) => return vec![Err((e, None))],
    };
    items.iter().map(|obj| read_endpoint(obj, notes).map_err(|e| (e, object_name(obj)))).collect()
}

fn read_endpoint(obj: &At, notes: &mut Notes) -> Result<EndpointRecord> {
    match obj.kind()? {
        None | Some("CiliumEndpoint") => {}
        Some(other) => return Err(obj.field("kind")?.error(format!("is `{other}`, not CiliumEndpoint"))),
    }
    let meta = obj.field("metadata")?;
    let namespace = meta.field("namespace")?.str()?;
    let name_at = meta.field("name")?;
    let pod = format!("{namespace}/{}", name_at.str()?);
    check_pod_name(&pod).map_err(|e| name_at.error(format!("`{pod}` is not a pod name routec accepts: {e}")))?;
    let object = format!("CiliumEndpoint {pod}");
    let status = obj.field("status")?;
    let id = status.field("id")?.u64_in(&rules::ENDPOINT_RANGE)? as u16;
    let identity_at = status.field("identity")?;
    let identity = identity_at.field("id")?.u64_in(&rules::IDENTITY_RANGE)? as u32;
    let mut cluster_label = None;
    if let Some(labels) = identity_at.opt("labels")? {
        for (label_at, label) in labels.strings()? {
            if let Some(cluster) = label.strip_prefix(CLUSTER_LABEL) {
                cluster_label = Some((cluster.to_string(), label_at.path.clone()));
            }
        }
    }
    let networking = status.field("networking")?;
    let addressing = networking.field("addressing")?;
    let mut ips = Vec::new();
    for pair in addressing.items()? {
        if let Some(v4) = pair.opt("ipv4")? {
            if let Some(ip) = address::address(&v4, &object, notes)? {
                ips.push((ip, v4.path.clone()));
            }
        }
        if let Some(v6) = pair.opt("ipv6")? {
            address::address(&v6, &object, notes)?;
        }
    }
    let (ip, ip_path) = match ips.as_slice() {
        [] => return Err(addressing.error("has no IPv4 address: an endpoint without one cannot be a pod")),
        [one] => one.clone(),
        [(a, _), (b, b_path), ..] => {
            return Err(PathError::new(b_path, format!("is a second IPv4 address ({b}, besides {a}); a pod has one")))
        }
    };
    let node_at = networking.field("node")?;
    let node_ip = match parse_address(&node_at)? {
        std::net::IpAddr::V4(v4) => v4,
        std::net::IpAddr::V6(v6) => {
            return Err(node_at.error(format!("is {v6}: the language's node addresses are IPv4 only for now")))
        }
    };
    let ids = status.opt("external-identifiers")?;
    let text = |key: &str| -> Result<Option<String>> {
        match &ids {
            Some(ids) => Ok(ids.opt(key)?.map(|v| v.str().map(str::to_string)).transpose()?),
            None => Ok(None),
        }
    };
    Ok(EndpointRecord {
        pod,
        path: obj.path.clone(),
        id,
        identity,
        ip,
        ip_path,
        node_ip,
        node_path: node_at.path.clone(),
        cni_attachment_id: text("cni-attachment-id")?,
        container_id: text("container-id")?,
        cluster_label,
    })
}

/// One entry of `cilium-dbg endpoint list -o json` that is a pod.
#[derive(Debug, Clone)]
pub struct AgentEndpoint {
    pub path: String,
    pub id: u64,
    pub ipv4: Option<Ipv4Addr>,
    pub interface_name: Option<String>,
    pub ifindex: Option<u32>,
    pub mac: Option<Mac>,
    pub host_mac: Option<Mac>,
}

/// The pods of an agent's endpoint list; reserved endpoints (host, health,
/// ...) are noted as skipped.
pub fn read_agent(
    root: &At,
    notes: &mut Notes,
) -> Vec<std::result::Result<AgentEndpoint, (PathError, Option<String>)>> {
    let items = match root.items() {
        Ok(items) => items,
        Err(e) => return vec![Err((e, None))],
    };
    items
        .iter()
        .filter_map(|item| {
            let object = item.opt("id").ok().flatten().map(|id| format!("endpoint {}", id.value));
            read_agent_endpoint(item, notes).map_err(|e| (e, object)).transpose()
        })
        .collect()
}

fn read_agent_endpoint(item: &At, notes: &mut Notes) -> Result<Option<AgentEndpoint>> {
    let id = item.field("id")?.u64()?;
    let object = format!("endpoint {id}");
    let status = item.field("status")?;
    let mut labels = Vec::new();
    if let Some(identity) = status.opt("identity")? {
        if let Some(list) = identity.opt("labels")? {
            labels.extend(list.strings()?);
        }
    }
    if let Some((label_at, label)) = labels.iter().find(|(_, l)| l.starts_with("reserved:")) {
        notes.skip(&label_at.path, &object, format!("{label}: not a pod"));
        return Ok(None);
    }
    let networking = status.field("networking")?;
    let mut ipv4 = None;
    if let Some(addressing) = networking.opt("addressing")? {
        for pair in addressing.items()? {
            if let Some(v4) = pair.opt("ipv4")? {
                if let std::net::IpAddr::V4(ip) = parse_address(&v4)? {
                    ipv4 = Some(ip);
                }
            }
        }
    }
    let interface_name = match networking.opt("interface-name")? {
        Some(at) => {
            let name = at.str()?;
            check_interface(name).map_err(|e| at.error(format!("`{name}` is not an interface name: {e}")))?;
            Some(name.to_string())
        }
        None => None,
    };
    let ifindex = networking.opt("interface-index")?.map(|at| at.u64_in(&rules::IFINDEX_RANGE)).transpose()?;
    let mac = |key: &str| -> Result<Option<Mac>> {
        networking
            .opt(key)?
            .map(|at| {
                let text = at.str()?;
                text.parse::<Mac>().map_err(|e| at.error(e))
            })
            .transpose()
    };
    Ok(Some(AgentEndpoint {
        path: item.path.clone(),
        id,
        ipv4,
        interface_name,
        ifindex: ifindex.map(|i| i as u32),
        mac: mac("mac")?,
        host_mac: mac("host-mac")?,
    }))
}
