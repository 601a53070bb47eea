//! The three inputs as records: CiliumEndpoints, CiliumNodes (or core
//! Nodes), and an agent's `cilium-dbg endpoint list -o json`. Field names and
//! shapes are Cilium's (see docs/import.md for where each was checked).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::address;
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
    /// The IPv4 InternalIP: the tunnel endpoint, which the language requires.
    pub address: Ipv4Addr,
    pub address6: Option<Ipv6Addr>,
    /// The CiliumInternalIPs (`cilium_host`) the object carries, each only
    /// beside a pod CIDR of its family.
    pub router: Option<Ipv4Addr>,
    pub router6: Option<Ipv6Addr>,
    /// At least one of the two.
    pub pod_cidr: Option<Ipv4Net>,
    pub pod_cidr6: Option<Ipv6Net>,
}

impl NodeRecord {
    /// Whether `ip` is one of the node's InternalIPs.
    pub fn has_address(&self, ip: IpAddr) -> bool {
        ip == IpAddr::V4(self.address) || self.address6.map(IpAddr::V6) == Some(ip)
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
        let ip = address::address(&ip_at)?;
        match kind {
            "InternalIP" => internal.push((ip, ip_at.path.clone())),
            "CiliumInternalIP" => cilium_internal.push((ip, ip_at.path.clone())),
            other => {
                notes.skip(
                    &ip_at.path,
                    &object,
                    format!("{other} {ip}: not used (the tunnel endpoint is the InternalIP)"),
                );
            }
        }
    }
    let (address, address6) = address::one_per_family(&internal, "InternalIP", "node")?;
    let address = address.ok_or_else(|| {
        addresses.error("has no IPv4 InternalIP (the node's underlay address: the language's tunnel endpoint is IPv4)")
    })?;
    let mut prefixes = Vec::new();
    let cidr_items = if cidrs.value.is_string() { vec![cidrs.clone()] } else { cidrs.items()? };
    for cidr in cidr_items {
        prefixes.push((address::prefix(&cidr)?, cidr.path.clone()));
    }
    let (pod_cidr, pod_cidr6) = address::one_prefix_per_family(&prefixes, "pod CIDR", "node")?;
    if pod_cidr.is_none() && pod_cidr6.is_none() {
        return Err(cidrs.error("has no prefix (the node's pod-cidr)"));
    }
    let (router, router6) = address::one_per_family(&cilium_internal, "CiliumInternalIP", "node")?;
    // A router serves the pod CIDR of its family: without one it has nothing to route.
    let mut unused_router = |ip: IpAddr| {
        if let Some((_, path)) = cilium_internal.iter().find(|(found, _)| *found == ip) {
            let family = address::family(ip);
            notes.skip(path, &object, format!("CiliumInternalIP {ip}: not used (the node has no {family} pod CIDR)"));
        }
    };
    let router = match router {
        Some(ip) if pod_cidr.is_none() => {
            unused_router(IpAddr::V4(ip));
            None
        }
        router => router,
    };
    let router6 = match router6 {
        Some(ip) if pod_cidr6.is_none() => {
            unused_router(IpAddr::V6(ip));
            None
        }
        router6 => router6,
    };
    Ok(NodeRecord {
        name: name.to_string(),
        path: obj.path.clone(),
        kind,
        address,
        address6,
        router,
        router6,
        pod_cidr,
        pod_cidr6,
    })
}

#[derive(Debug, Clone)]
pub struct EndpointRecord {
    /// `namespace/name`.
    pub pod: String,
    pub path: String,
    pub id: u16,
    pub identity: u32,
    /// Its addresses, at most one per family, IPv4 first, each with its path.
    pub ips: Vec<(IpAddr, String)>,
    /// Its node's InternalIP (IPv4 whenever the cluster has IPv4).
    pub node_ip: IpAddr,
    pub node_path: String,
    pub cni_attachment_id: Option<String>,
    pub container_id: Option<String>,
    /// The cluster its identity's labels name, and where.
    pub cluster_label: Option<(String, String)>,
}

impl EndpointRecord {
    /// Its address of `ip`'s family, with its path.
    pub fn ip_of_family(&self, ip: IpAddr) -> Option<&(IpAddr, String)> {
        self.ips.iter().find(|(own, _)| own.is_ipv4() == ip.is_ipv4())
    }
}

pub fn read_endpoints(root: &At) -> Vec<std::result::Result<EndpointRecord, (PathError, Option<String>)>> {
    let items = match objects(root, &["CiliumEndpoint"]) {
        Ok(items) => items,
        Err(e) => return vec![Err((e, None))],
    };
    items.iter().map(|obj| read_endpoint(obj).map_err(|e| (e, object_name(obj)))).collect()
}

fn read_endpoint(obj: &At) -> Result<EndpointRecord> {
    match obj.kind()? {
        None | Some("CiliumEndpoint") => {}
        Some(other) => return Err(obj.field("kind")?.error(format!("is `{other}`, not CiliumEndpoint"))),
    }
    let meta = obj.field("metadata")?;
    let namespace = meta.field("namespace")?.str()?;
    let name_at = meta.field("name")?;
    let pod = format!("{namespace}/{}", name_at.str()?);
    check_pod_name(&pod).map_err(|e| name_at.error(format!("`{pod}` is not a pod name routec accepts: {e}")))?;
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
            ips.push((IpAddr::V4(address::ipv4(&v4)?), v4.path.clone()));
        }
        if let Some(v6) = pair.opt("ipv6")? {
            ips.push((IpAddr::V6(address::ipv6(&v6)?), v6.path.clone()));
        }
    }
    if ips.is_empty() {
        return Err(addressing.error("has no IPv4 or IPv6 address: an endpoint without one cannot be a pod"));
    }
    address::one_per_family(&ips, "address", "pod")?;
    ips.sort_by_key(|(ip, _)| ip.is_ipv6());
    let node_at = networking.field("node")?;
    let node_ip = address::address(&node_at)?;
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
        ips,
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
    /// Its addresses (`addressing[].ipv4`, `.ipv6`), checked against the CiliumEndpoint's.
    pub ips: Vec<IpAddr>,
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
    let mut ips = Vec::new();
    if let Some(addressing) = networking.opt("addressing")? {
        for pair in addressing.items()? {
            if let Some(v4) = pair.opt("ipv4")? {
                ips.push(IpAddr::V4(address::ipv4(&v4)?));
            }
            if let Some(v6) = pair.opt("ipv6")? {
                ips.push(IpAddr::V6(address::ipv6(&v6)?));
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
        ips,
        interface_name,
        ifindex: ifindex.map(|i| i as u32),
        mac: mac("mac")?,
        host_mac: mac("host-mac")?,
    }))
}
