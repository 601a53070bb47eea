//! Creating a lab's namespaces and interfaces with iproute2.
//!
//! Every namespace is recorded in the state file before it is created, and
//! the first thing set in it is routec's marker: the alias
//! `routec-lab:<lab>` on its `lo`, which lives inside the namespace itself
//! (see [`super::down`]).

use std::path::Path;

use routec_compiler::model::{Cluster, Node, Pod};

use super::iproute::{batch, OnError};
use super::{netns_path, LabState};
use crate::{netns, Context, Error, Result};

/// The alias on `lo` that marks a namespace as lab `lab`'s.
pub fn namespace_marker(lab: &str) -> String {
    format!("routec-lab:{lab}")
}

fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<()> {
    batch(netns, lines, OnError::Stop)
}

/// What a namespace is for, as its sysctls see it.
#[derive(Clone, Copy)]
struct NamespaceRole {
    /// A node namespace (IPv4 forwarding on).
    node: bool,
    /// It has IPv6 addresses.
    ipv6: bool,
}

/// Sysctls every lab namespace gets before any interface exists (so the
/// `default` values reach every interface): no reverse-path filtering (the
/// datapath delivers packets on interfaces the routes do not point at), and
/// IPv6 only where the cluster gives the namespace IPv6 addresses (else it
/// would only add neighbour-discovery noise to the counters). A node with
/// IPv6 makes no link-local addresses (`addr_gen_mode` 1): its lxcs,
/// cilium_host and cilium_vxlan need none (the datapath redirects, the
/// stack routes the pod-cidr to a NOARP device), so they send no duplicate
/// address detection, MLD or router solicitation into the pods. IPv6
/// forwarding stays off: no IPv6 packet is forwarded by a node's stack.
fn base_sysctls(netns: &str, role: NamespaceRole) -> Result<()> {
    let disable_ipv6 = if role.ipv6 { "0" } else { "1" };
    let mut sysctls = vec![
        ("net/ipv4/conf/all/rp_filter", "0"),
        ("net/ipv4/conf/default/rp_filter", "0"),
        ("net/ipv6/conf/all/disable_ipv6", disable_ipv6),
        ("net/ipv6/conf/default/disable_ipv6", disable_ipv6),
        ("net/ipv4/ip_forward", if role.node { "1" } else { "0" }),
    ];
    if role.node && role.ipv6 {
        sysctls.push(("net/ipv6/conf/default/addr_gen_mode", "1"));
    }
    netns::run_in(Some(&netns_path(netns)), || -> Result<()> {
        for (key, value) in &sysctls {
            netns::write_sysctl(key, value)?;
        }
        Ok(())
    })
    .context(|| format!("cannot set sysctls in namespace {netns}"))
}

/// Creates every namespace and interface of the lab. `progress` receives one
/// line per step (large labs take a while).
pub fn create_topology(
    cluster: &Cluster,
    state: &mut LabState,
    state_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let all = state.all_namespaces();
    if let Some(existing) = all.iter().find(|ns| netns_path(ns).exists()) {
        return Err(Error::msg(format!(
            "namespace {existing} already exists: is a lab named `{}` up? (`routec lab down {}`)",
            state.name, state.name
        )));
    }
    // Record first, create second: a crash in between leaves only names
    // that `lab down` tolerates as already gone.
    state.namespaces = all.clone();
    state.save(state_dir)?;
    progress(&format!("creating {} namespaces", all.len()));
    make_namespaces(state, &all)?;
    ip_batch(Some(&state.underlay), &["link add br0 type bridge".into(), "link set br0 up".into()])?;

    let built = in_parallel(
        cluster.nodes.len(),
        |index| node_topology(cluster, state, index, &format!("u{index}")),
        &mut |index, done| {
            progress(&format!("node {}: interfaces ({done}/{})", cluster.nodes[index].name, cluster.nodes.len()))
        },
    );
    built.into_iter().collect()
}

/// Creates the namespaces `names` of lab `state`, marks each as the lab's
/// before anything else, and sets its sysctls. The caller has recorded them.
pub(super) fn make_namespaces(state: &LabState, names: &[String]) -> Result<()> {
    let adds: Vec<String> = names.iter().map(|ns| format!("netns add {ns}")).collect();
    ip_batch(None, &adds)?;
    let marker = namespace_marker(&state.name);
    let marked = in_parallel(
        names.len(),
        |index| {
            let ns = &names[index];
            ip_batch(Some(ns), &[format!("link set lo alias {marker}"), "link set lo up".into()])?;
            base_sysctls(ns, namespace_role(state, ns))
        },
        &mut |_, _| {},
    );
    marked.into_iter().collect()
}

fn namespace_role(state: &LabState, ns: &str) -> NamespaceRole {
    match state.nodes.iter().find(|n| n.netns == ns) {
        Some(node) => {
            let ipv6 = node.links.as_ref().is_some_and(|l| l.address6.is_some() || l.pod_cidr6.is_some());
            NamespaceRole { node: true, ipv6 }
        }
        None => NamespaceRole { node: false, ipv6: state.pods.iter().any(|p| p.netns == ns && p.ip6.is_some()) },
    }
}

/// Runs `work` for 0..count on up to 8 threads (the work is mostly waiting
/// for iproute2 and the kernel), reporting each finished index to `done` on
/// the calling thread. Results come back in index order.
pub(super) fn in_parallel<T: Send>(
    count: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
    done: &mut dyn FnMut(usize, usize),
) -> Vec<Result<T>> {
    const PARALLEL: usize = 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut results: Vec<(usize, Result<T>)> = Vec::with_capacity(count);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(count) {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= count || sender.send((index, work(index))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            results.push((index, result));
            done(index, results.len());
        }
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// One node's interfaces, and those of its pods; `leg` is the name of its
/// underlay link's end in the underlay namespace.
pub(super) fn node_topology(cluster: &Cluster, state: &LabState, index: usize, leg: &str) -> Result<()> {
    let node = &cluster.nodes[index];
    let pod_mtu = cluster.pod_mtu();
    ip_batch(Some(&state.nodes[index].netns), &node_commands(cluster, state, index, leg, pod_mtu))?;
    ip_batch(Some(&state.underlay), &[format!("link set {leg} master br0 up")])?;
    for (pod, lab_pod) in cluster.pods.iter().zip(&state.pods).filter(|(p, _)| p.node == index) {
        ip_batch(Some(&lab_pod.netns), &pod_commands(pod, node, pod_mtu))?;
    }
    Ok(())
}

/// One more pod on a node whose namespace exists: its veth, then its side.
pub(super) fn pod_topology(cluster: &Cluster, state: &LabState, pod_index: usize) -> Result<()> {
    let pod = &cluster.pods[pod_index];
    let pod_mtu = cluster.pod_mtu();
    ip_batch(Some(&state.nodes[pod.node].netns), &pod_veth_commands(pod, &state.pods[pod_index].netns, pod_mtu))?;
    ip_batch(Some(&state.pods[pod_index].netns), &pod_commands(pod, &cluster.nodes[pod.node], pod_mtu))
}

/// The pod's veth, made in its node's namespace with its declared ifindex
/// and MACs, the pod side moved into `pod_netns` as `eth0`.
fn pod_veth_commands(pod: &Pod, pod_netns: &str, pod_mtu: u32) -> Vec<String> {
    let mut host_side = format!("link add {}", pod.lxc);
    if let Some(ifindex) = pod.ifindex {
        host_side += &format!(" index {ifindex}");
    }
    if let Some(mac) = pod.node_mac {
        host_side += &format!(" address {mac}");
    }
    let mut pod_side = String::from(" type veth peer name eth0");
    if let Some(mac) = pod.mac {
        pod_side += &format!(" address {mac}");
    }
    pod_side += &format!(" netns {pod_netns}");
    vec![host_side + &pod_side, format!("link set {} mtu {pod_mtu} up", pod.lxc)]
}

/// Inside the pod's namespace: its addresses and the routes to its router,
/// per family (DATAPATH.md v2): the IPv6 address without duplicate address
/// detection (`nodad`: the datapath answers no solicitation but the
/// router's, so detection would only delay it), `<router6>/128 dev eth0`
/// and `default via <router6>`.
fn pod_commands(pod: &Pod, node: &Node, pod_mtu: u32) -> Vec<String> {
    let ipv4 = pod.ip.zip(node.router);
    let ipv6 = pod.ip6.zip(node.router6);
    let mut lines = vec![format!("link set eth0 mtu {pod_mtu}")];
    lines.extend(ipv4.map(|(ip, _)| format!("addr add {ip}/32 dev eth0")));
    lines.extend(ipv6.map(|(ip, _)| format!("addr add {ip}/128 dev eth0 nodad")));
    lines.push("link set eth0 up".into());
    if let Some((_, router)) = ipv4 {
        lines.push(format!("route add {router}/32 dev eth0 scope link"));
        lines.push(format!("route add default via {router} dev eth0"));
    }
    if let Some((_, router)) = ipv6 {
        lines.push(format!("route add {router}/128 dev eth0"));
        lines.push(format!("route add ::/0 via {router} dev eth0"));
    }
    lines
}

/// The node's route to another node's address over the underlay, after
/// `route add|replace|del`.
pub(super) fn underlay_route(other: std::net::IpAddr, device: &str) -> String {
    match other {
        std::net::IpAddr::V4(other) => format!("{other}/32 dev {device} scope link"),
        std::net::IpAddr::V6(other) => format!("{other}/128 dev {device}"),
    }
}

/// Whether `node` routes `other`, another node's address, on its device:
/// every IPv4 one; an IPv6 one only under native routing and when `node`
/// has an IPv6 address itself (with an overlay the underlay is IPv4).
pub(super) fn routes_on_device(cluster: &Cluster, node: &Node, other: std::net::IpAddr) -> bool {
    match other {
        std::net::IpAddr::V4(other) => other != node.address,
        std::net::IpAddr::V6(other) => {
            cluster.overlay.kind == routec_compiler::model::OverlayKind::None
                && node.address6.is_some_and(|own| own != other)
        }
    }
}

/// The node namespace: lxc veths first (their declared ifindexes must not be
/// taken by an auto-numbered device), then the underlay leg `eth0`, the
/// overlay device and `cilium_host`.
fn node_commands(cluster: &Cluster, state: &LabState, index: usize, leg: &str, pod_mtu: u32) -> Vec<String> {
    let node = &cluster.nodes[index];
    let mut lines = Vec::new();
    let mut pods: Vec<(usize, &Pod)> = cluster.pods.iter().enumerate().filter(|(_, p)| p.node == index).collect();
    pods.sort_by_key(|(_, p)| p.ifindex.is_none());
    for (pod_index, pod) in &pods {
        lines.extend(pod_veth_commands(pod, &state.pods[*pod_index].netns, pod_mtu));
    }
    lines.push(format!("link add {} type veth peer name {leg} netns {}", node.device, state.underlay));
    lines.push(format!("link set {} mtu {} up", node.device, cluster.mtu));
    lines.push(format!("addr add {}/32 dev {}", node.address, node.device));
    // With an overlay the underlay is IPv4: a node's IPv6 address is its own
    // (the datapath passes its pods' packets for it to the stack), routed
    // nowhere else. Native routing sends IPv6 to the other nodes' IPv6
    // addresses on the device, as IPv4 to their IPv4 ones.
    lines.extend(node.address6.map(|a| format!("addr add {a}/128 dev {} nodad", node.device)));
    let native = cluster.overlay.kind == routec_compiler::model::OverlayKind::None;
    // The kernel solicits a neighbour for a packet whose source is not the
    // device's (a pod's) from the device's link-local address, and without
    // one sends no solicitation at all (ndisc_send_ns): a fixed one, made
    // from the node's IPv4 address, without duplicate address detection.
    if native && node.address6.is_some() {
        let [a, b, c, d] = node.address.octets();
        let link_local =
            std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
        lines.push(format!("addr add {link_local}/64 dev {} nodad", node.device));
    }
    for other in cluster.nodes.iter().filter(|n| n.name != node.name) {
        let addresses = std::iter::once(std::net::IpAddr::V4(other.address)).chain(other.address6.map(Into::into));
        for address in addresses.filter(|&a| routes_on_device(cluster, node, a)) {
            lines.push(format!("route add {}", underlay_route(address, &node.device)));
        }
    }
    if cluster.overlay.kind != routec_compiler::model::OverlayKind::None {
        let kind = cluster.overlay.kind.as_str();
        lines.push(format!(
            "link add cilium_{kind} mtu {pod_mtu} type {kind} external dstport {}",
            cluster.overlay.port
        ));
        lines.push(format!("link set cilium_{kind} up"));
    }
    // A veth pair, as in Cilium (this kernel may lack the dummy driver):
    // what the node routes to its pod-cidr leaves through cilium_host, whose
    // egress program delivers it; anything left over dies in cilium_net.
    lines.push("link add cilium_host type veth peer name cilium_net".into());
    lines.push(format!("link set cilium_net mtu {pod_mtu} up"));
    lines.push(format!("link set cilium_host arp off mtu {pod_mtu} up"));
    if let (Some(router), Some(pod_cidr)) = (node.router, node.pod_cidr) {
        lines.push(format!("addr add {router}/32 dev cilium_host"));
        lines.push(format!("route add {pod_cidr} dev cilium_host"));
    }
    if let (Some(router), Some(pod_cidr)) = (node.router6, node.pod_cidr6) {
        lines.push(format!("addr add {router}/128 dev cilium_host nodad"));
        lines.push(format!("route add {pod_cidr} dev cilium_host"));
    }
    lines
}
