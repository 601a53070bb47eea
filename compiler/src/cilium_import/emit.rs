//! The `.route` text of an import. Only values that passed the name and
//! range checks of [`super::kube`] are printed, so no input can put
//! syntax of its own into a file; the text then goes through `fmt`.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::kube::{AgentEndpoint, EndpointRecord, NodeKind, NodeRecord};
use super::report::Notes;
use super::{LxcNaming, Options};
use crate::model::OverlayKind;
use crate::validate::{DEFAULT_GENEVE_PORT, DEFAULT_MTU, DEFAULT_VXLAN_PORT};

/// Where a pod's lxc name came from.
#[derive(Debug, Clone, Copy)]
pub enum LxcSource {
    Agent,
    Derived(LxcNaming),
}

#[derive(Debug)]
pub struct PodOut<'a> {
    pub record: &'a EndpointRecord,
    /// Index of its node among the node records.
    pub node: usize,
    pub lxc: String,
    pub lxc_source: LxcSource,
    pub agent: Option<&'a AgentEndpoint>,
}

#[derive(Debug)]
pub struct NodeOut<'a> {
    pub node: &'a NodeRecord,
    pub pods: Vec<PodOut<'a>>,
}

pub fn cluster_file(name: &str, options: &Options, notes: &mut Notes) -> String {
    let overlay = options.overlay.as_str();
    notes.derive("cluster", "overlay", overlay, "--overlay: the inputs do not say");
    notes.derive("cluster", "mtu", DEFAULT_MTU.to_string(), "the language's default: the inputs do not say");
    let port = match options.overlay {
        OverlayKind::Vxlan => Some(DEFAULT_VXLAN_PORT),
        OverlayKind::Geneve => Some(DEFAULT_GENEVE_PORT),
        OverlayKind::None => None,
    };
    if let Some(port) = port {
        notes.derive("cluster", "overlay port", port.to_string(), "the language's default: the inputs do not say");
    }
    notes.derive("every node", "device", "eth0", "the language's default: the inputs do not name it");
    format!(
        "# Imported by `routec import` from the CiliumEndpoints and nodes of a\n\
         # running cluster. The overlay comes from --overlay; its port, the MTU and\n\
         # every node's device are the language's defaults.\n\
         cluster {name} {{\n    overlay {overlay}\n}}\n"
    )
}

pub fn node_file(out: &NodeOut, notes: &mut Notes) -> String {
    let node = out.node;
    let mut text = format!("# Imported by `routec import`: node {} and the pods Cilium placed on it.\n", node.name);
    let _ = writeln!(text, "node {} {{", node.name);
    let _ = writeln!(text, "    address {} # InternalIP", node.address);
    if let Some(address6) = node.address6 {
        let _ = writeln!(text, "    address {address6} # InternalIP");
    }
    if let Some(pod_cidr) = node.pod_cidr {
        let _ = writeln!(text, "    pod-cidr {pod_cidr}");
    }
    if let Some(pod_cidr6) = node.pod_cidr6 {
        let _ = writeln!(text, "    pod-cidr {pod_cidr6}");
    }
    if node.pod_cidr.is_some() {
        let router = node.router.map(IpAddr::V4);
        router_line(&mut text, node, router, "IPv4", "router", "the first usable address of pod-cidr", notes);
    }
    if node.pod_cidr6.is_some() {
        let router = node.router6.map(IpAddr::V6);
        let default = "the address after the network address of the IPv6 pod-cidr";
        router_line(&mut text, node, router, "IPv6", "IPv6 router", default, notes);
    }
    text.push_str("}\n");
    for pod in &out.pods {
        text.push('\n');
        pod_block(&mut text, &node.name, pod, notes);
    }
    text
}

/// The `router` of one family: the CiliumInternalIP, or a comment that the
/// language's default applies (and why).
fn router_line(
    text: &mut String,
    node: &NodeRecord,
    router: Option<IpAddr>,
    family: &str,
    field: &str,
    default: &str,
    notes: &mut Notes,
) {
    if let Some(router) = router {
        let _ = writeln!(text, "    router {router} # CiliumInternalIP (cilium_host)");
        return;
    }
    let why = match node.kind {
        NodeKind::CiliumNode => format!("its CiliumNode has no {family} CiliumInternalIP"),
        NodeKind::Node => "a Node object carries no CiliumInternalIP".to_string(),
    };
    let _ = writeln!(text, "    # {field}: the language's default, {default}");
    let _ = writeln!(text, "    # ({why})");
    notes.derive(&node.name, field, default, why);
}

fn pod_block(text: &mut String, node: &str, pod: &PodOut, notes: &mut Notes) {
    let ep = pod.record;
    let _ = writeln!(text, "pod {} on {node} {{", ep.pod);
    for (ip, _) in &ep.ips {
        let _ = writeln!(text, "    ip {ip}");
    }
    let _ = writeln!(text, "    endpoint {}", ep.id);
    let _ = writeln!(text, "    identity {}", ep.identity);
    let comment = match pod.lxc_source {
        LxcSource::Agent => "from the agent's endpoint list".to_string(),
        LxcSource::Derived(naming) => format!("derived from {} as Cilium names it", naming.field()),
    };
    let _ = writeln!(text, "    lxc {} # {comment}", pod.lxc);
    if let LxcSource::Derived(naming) = pod.lxc_source {
        let id = naming.id_of(ep).unwrap_or_default();
        let from = format!("sha256 of {} `{id}`, as {} name lxcs", naming.field(), naming.releases());
        notes.derive(&ep.pod, "lxc", &pod.lxc, from);
    }
    let ifindex = pod.agent.and_then(|a| a.ifindex);
    let mac = pod.agent.and_then(|a| a.mac);
    let node_mac = pod.agent.and_then(|a| a.host_mac);
    if let Some(ifindex) = ifindex {
        let _ = writeln!(text, "    ifindex {ifindex}");
    }
    if let Some(mac) = mac {
        let _ = writeln!(text, "    mac {mac}");
    }
    if let Some(node_mac) = node_mac {
        let _ = writeln!(text, "    node-mac {node_mac}");
    }
    let missing: Vec<&str> = [("ifindex", ifindex.is_none()), ("mac", mac.is_none()), ("node-mac", node_mac.is_none())]
        .into_iter()
        .filter_map(|(field, missing)| missing.then_some(field))
        .collect();
    if !missing.is_empty() {
        let fields = missing.join(", ");
        let _ = writeln!(text, "    # {fields}: discovered when the datapath loads");
        let why = match pod.agent {
            Some(_) => "the agent's endpoint list gives none".to_string(),
            None => format!("no agent endpoint list for node {node}"),
        };
        notes.derive(&ep.pod, &fields, "discovered when the datapath loads", why);
    }
    text.push_str("}\n");
}
