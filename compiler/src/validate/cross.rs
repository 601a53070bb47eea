//! The rules that relate items, possibly of different files: one function
//! per rule, each computing the diagnostics of one group from the indexes.
//! They read nothing but the facts and indexes of [`Validation`], so the
//! same group gives the same diagnostics however the files arrived.

use foldhash::{HashMap, HashMapExt};
use std::hash::Hash;
use std::net::Ipv4Addr;

use super::local::{in_range, Once};
use super::{Group, Ref, Rule, Validation, DEFAULT_GENEVE_PORT, DEFAULT_MTU, DEFAULT_VXLAN_PORT};
use crate::diagnostics::{short, suggest, Code, Diagnostic};
use crate::expect::{self, Declared, Expectation};
use crate::model::rules::*;
use crate::model::{self, Ipv4Net, OverlayKind};
use crate::source::Span;
use crate::syntax::ast::*;

/// A diagnostic with the rule that made it and its subject (what it is
/// about, so that one rule's diagnostics of one place stay distinct).
pub(super) type Found = (Rule, (u32, u32), Diagnostic);

/// The cluster block: its name, overlay and MTU.
pub(super) type ClusterSettings = (String, model::Overlay, u32);

/// The default router: the first address after the network address.
pub fn first_usable(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(1))
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

impl Validation {
    /// The diagnostics of one group; the cluster's settings and the
    /// expectations are kept as they are checked.
    pub(super) fn check(&mut self, group: &Group) -> Vec<Found> {
        let mut found = Vec::new();
        match group {
            Group::Cluster => (found, self.cluster) = self.cluster_block(),
            Group::Expects(file) => {
                let checked;
                (found, checked) = self.expects(*file);
                for (e, checked) in self.files[*file as usize].expects.iter_mut().zip(checked) {
                    e.checked = checked;
                }
            }
            Group::NodeName(name) => {
                let refs = self.index.nodes_by_name.get(name).map_or(&[][..], |refs| &refs[..]);
                self.node_declared_twice(refs, &mut found);
                self.node_without_pods(name, refs, &mut found);
            }
            Group::NodeAddress(addr) => {
                let refs = self.index.node_addresses.get(addr).map_or(&[][..], |refs| &refs[..]);
                self.same_node_address(refs, &mut found);
                self.node_address_in_pod_cidr(*addr, refs, &mut found);
            }
            Group::PodCidr(net, len) => {
                let refs = self.index.pod_cidrs.get(&(*net, *len)).map_or(&[][..], |refs| &refs[..]);
                self.pod_cidr_overlap(*net, *len, refs, &mut found);
            }
            Group::PodName(name) => {
                let refs = self.index.pods_by_name.get(name).map_or(&[][..], |refs| &refs[..]);
                self.pod_declared_twice(refs, &mut found);
            }
            Group::PodIp(ip) => {
                let refs = self.index.pod_ips.get(ip).map_or(&[][..], |refs| &refs[..]);
                self.same_pod_ip(refs, &mut found);
            }
            Group::PodsOn(name) => {
                let pods = self.index.pods_on.get(name).map_or(&[][..], |refs| &refs[..]);
                match self.index.nodes_by_name.get(name).map(|refs| refs[0]) {
                    None => self.unknown_node(pods, &mut found),
                    Some(node) => {
                        self.pod_ip_in_pod_cidr(node, pods, &mut found);
                        self.unique_on_node(pods, &mut found);
                    }
                }
            }
        }
        found
    }

    /// E0013 (no cluster block, or more than one) and the statements of the
    /// first one.
    fn cluster_block(&self) -> (Vec<Found>, Option<ClusterSettings>) {
        let mut diags = Vec::new();
        let clusters: Vec<&ClusterItem> = self.files.iter().flat_map(|f| &f.clusters).collect();
        let settings = cluster_settings(&clusters, &mut diags);
        // Without files there is no place for "no cluster block" (`check` refuses such an input).
        if self.files.is_empty() {
            return (Vec::new(), None);
        }
        let found = diags.into_iter().enumerate().map(|(seq, d)| (Rule::Cluster, (seq as u32, 0), d)).collect();
        (found, settings)
    }

    /// E0017 and E0018 of one file's expectations, and the expectations
    /// without errors.
    fn expects(&self, file: u32) -> (Vec<Found>, Vec<Option<Expectation>>) {
        let mut found = Vec::new();
        let mut checked = Vec::new();
        for (i, e) in self.files[file as usize].expects.iter().enumerate() {
            let mut diags = Vec::new();
            checked.push(expect::check(&e.item, e.text.clone(), self, &mut diags));
            found.extend(diags.into_iter().enumerate().map(|(seq, d)| (Rule::Expect, (i as u32, seq as u32), d)));
        }
        (found, checked)
    }

    /// The node whose pod-cidr holds `addr`: the longest match, as the
    /// datapath's LPM lookup picks (the first declared of equal ones).
    fn pod_cidr_holding(&self, addr: u32) -> Option<Ref> {
        let mut lengths = self.index.pod_cidr_lengths.keys().rev();
        lengths.find_map(|&len| self.index.pod_cidrs.get(&(addr & mask(len), len)).map(|refs| refs[0]))
    }

    /// E0005: a node name declared again.
    fn node_declared_twice(&self, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let first = self.node(first);
        for &r in again {
            let item = self.node(r);
            found.push((
                Rule::NodeDeclaredTwice,
                r,
                Diagnostic::new(
                    Code::E0005,
                    item.name.span,
                    format!("node `{}` is declared twice", short(&item.name.value)),
                )
                .label("declared again here")
                .secondary(first.name.span, "first declared here")
                .help("node names must be unique"),
            ));
        }
    }

    /// W0102: a node no pod is placed on (once per name: a duplicate has E0005).
    fn node_without_pods(&self, name: &str, refs: &[Ref], found: &mut Vec<Found>) {
        let Some(&first) = refs.first() else { return };
        if self.index.pods_on.contains_key(name) {
            return;
        }
        let node = self.node(first);
        found.push((
            Rule::NodeWithoutPods,
            first,
            Diagnostic::new(Code::W0102, node.name.span, format!("node `{}` has no pods", short(&node.name.value)))
                .label("no pod is placed on this node")
                .help("nothing is routed to this node's pod-cidr; place pods on it with `pod NAME on NODE`"),
        ));
    }

    /// E0014: two nodes with one address.
    fn same_node_address(&self, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let other = self.node(first);
        let other_address = other.address.as_ref().expect("indexed by address");
        for &r in again {
            let d = self.node(r);
            let addr = d.address.as_ref().expect("indexed by address");
            found.push((
                Rule::SameNodeAddress,
                r,
                Diagnostic::new(
                    Code::E0014,
                    addr.span,
                    format!(
                        "nodes `{}` and `{}` have the same address {}",
                        short(&other.name.value),
                        short(&d.name.value),
                        addr.value
                    ),
                )
                .label("used again here")
                .secondary(other_address.span, "first used here")
                .help("every node needs its own underlay address"),
            ));
        }
    }

    /// E0014: a node address inside a pod-cidr.
    fn node_address_in_pod_cidr(&self, addr: u32, refs: &[Ref], found: &mut Vec<Found>) {
        let Some(owner) = self.pod_cidr_holding(addr) else { return };
        let other = self.node(owner);
        let (net, span) = other.pod_cidr.expect("indexed by pod-cidr");
        for &r in refs {
            let d = self.node(r);
            let address = d.address.as_ref().expect("indexed by address");
            found.push((
                Rule::NodeAddressInPodCidr,
                r,
                Diagnostic::new(
                    Code::E0014,
                    address.span,
                    format!("address {} of node `{}` is inside pod-cidr {net}", address.value, short(&d.name.value)),
                )
                .label("node address in a pod-cidr")
                .secondary(span, format!("pod-cidr of `{}`", short(&other.name.value)))
                .help("node addresses are on the underlay, outside every pod-cidr"),
            ));
        }
    }

    /// E0009: overlapping pod-cidrs. Prefixes either nest or are disjoint,
    /// so each pod-cidr is paired with the widest one holding it (the first
    /// declared of equal ones), once per pair of nodes.
    fn pod_cidr_overlap(&self, net: u32, len: u8, refs: &[Ref], found: &mut Vec<Found>) {
        let mut lengths = self.index.pod_cidr_lengths.range(..len).map(|(&l, _)| l);
        let wider = lengths.find_map(|l| self.index.pod_cidrs.get(&(net & mask(l), l)).map(|refs| refs[0]));
        for (k, &r) in refs.iter().enumerate() {
            let Some(widest) = wider.or((k > 0).then(|| refs[0])) else { continue };
            let (a, b) = if widest < r { (widest, r) } else { (r, widest) };
            let (first, second) = (self.node(a), self.node(b));
            let (first_net, first_span) = first.pod_cidr.expect("indexed by pod-cidr");
            let (second_net, second_span) = second.pod_cidr.expect("indexed by pod-cidr");
            found.push((
                Rule::PodCidrOverlap,
                r,
                Diagnostic::new(
                    Code::E0009,
                    second_span,
                    format!(
                        "pod-cidr {second_net} of node `{}` overlaps pod-cidr {first_net} of node `{}`",
                        short(&second.name.value),
                        short(&first.name.value)
                    ),
                )
                .label("overlaps")
                .secondary(first_span, format!("pod-cidr of `{}`", short(&first.name.value)))
                .help("give every node its own, disjoint pod-cidr"),
            ));
        }
    }

    /// E0005: a pod name declared again.
    fn pod_declared_twice(&self, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let first = self.pod(first);
        for &r in again {
            let name = &self.pod(r).name;
            found.push((
                Rule::PodDeclaredTwice,
                r,
                Diagnostic::new(Code::E0005, name.span, format!("pod `{}` is declared twice", short(&name.value)))
                    .label("declared again here")
                    .secondary(first.name.span, "first declared here")
                    .help("pod names must be unique"),
            ));
        }
    }

    /// E0008: two pods with one ip.
    fn same_pod_ip(&self, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let first = self.pod(first).ip.as_ref().expect("indexed by ip");
        for &r in again {
            let ip = self.pod(r).ip.as_ref().expect("indexed by ip");
            found.push((
                Rule::SamePodIp,
                r,
                Diagnostic::new(Code::E0008, ip.span, format!("ip {} is used by two pods", ip.value))
                    .label("used again here")
                    .secondary(first.span, "first used here")
                    .help("every pod needs its own ip"),
            ));
        }
    }

    /// E0006: pods on a node no node declares.
    fn unknown_node(&self, pods: &[Ref], found: &mut Vec<Found>) {
        for &r in pods {
            let pod = self.pod(r);
            let diag = Diagnostic::new(
                Code::E0006,
                pod.node.span,
                format!(
                    "pod `{}` is on node `{}`, which is not declared",
                    short(&pod.name.value),
                    short(&pod.node.value)
                ),
            )
            .label("unknown node");
            let diag = match suggest(&pod.node.value, self.node_names()) {
                Some(s) => diag.help(format!("did you mean `{}`?", short(s))),
                None => diag.help(format!("declare it with `node {} {{ ... }}`", short(&pod.node.value))),
            };
            found.push((Rule::UnknownNode, r, diag));
        }
    }

    /// E0007 (a pod's ip outside its node's pod-cidr) and E0015 (a reserved
    /// address of it); `node` is the first node of the pods' node name.
    fn pod_ip_in_pod_cidr(&self, node: Ref, pods: &[Ref], found: &mut Vec<Found>) {
        let node = self.node(node);
        let Some((net, cidr_span)) = node.pod_cidr else { return };
        let node_name = short(&node.name.value);
        let router = node.router.unwrap_or_else(|| first_usable(net));
        for &r in pods {
            let pod = self.pod(r);
            let Some(ip) = &pod.ip else { continue };
            if !net.contains(&ip.value) {
                let diag = Diagnostic::new(
                    Code::E0007,
                    ip.span,
                    format!(
                        "ip {} of pod `{}` is outside pod-cidr {net} of node `{node_name}`",
                        ip.value,
                        short(&pod.name.value)
                    ),
                )
                .label("outside the node's pod-cidr")
                .secondary(cidr_span, format!("pod-cidr of `{node_name}`"));
                let diag = match self.pod_cidr_holding(u32::from(ip.value)) {
                    Some(other) => {
                        let other = short(&self.node(other).name.value);
                        diag.help(format!(
                            "{} is in the pod-cidr of node `{other}`: did you mean `on {other}`?",
                            ip.value
                        ))
                    }
                    None => diag.help(format!("pick an ip inside {net}")),
                };
                found.push((Rule::PodIpInPodCidr, r, diag));
                continue;
            }
            let role = if ip.value == net.network() {
                "the network address"
            } else if ip.value == net.broadcast() {
                "the broadcast address"
            } else if ip.value == router {
                "the router address"
            } else {
                continue;
            };
            found.push((
                Rule::PodIpInPodCidr,
                r,
                Diagnostic::new(
                    Code::E0015,
                    ip.span,
                    format!("ip {} of pod `{}` is {role} of pod-cidr {net}", ip.value, short(&pod.name.value)),
                )
                .label(role.to_string())
                .secondary(cidr_span, format!("pod-cidr of `{node_name}`"))
                .help(format!(
                    "pods use addresses of {net} other than its network ({}), broadcast ({}) and router ({router})",
                    net.network(),
                    net.broadcast()
                )),
            ));
        }
    }

    /// E0010 (endpoint) and E0016 (lxc, ifindex): values unique among the
    /// pods of one node.
    fn unique_on_node(&self, pods: &[Ref], found: &mut Vec<Found>) {
        let mut endpoints = HashMap::new();
        let mut lxcs = HashMap::new();
        let mut ifindexes = HashMap::new();
        for &r in pods {
            let pod = self.pod(r);
            let node = short(&pod.node.value);
            if let Some(e) = &pod.endpoint {
                unique(&mut endpoints, e.value, e.span, r, Rule::EndpointOnNode, Code::E0010, found, || {
                    format!("endpoint {} is used twice on node `{node}`", e.value)
                });
            }
            if let Some(l) = &pod.lxc {
                unique(&mut lxcs, l.value.as_str(), l.span, r, Rule::LxcOnNode, Code::E0016, found, || {
                    format!("lxc `{}` is used twice on node `{node}`", short(&l.value))
                });
            }
            if let Some(i) = &pod.ifindex {
                unique(&mut ifindexes, i.value, i.span, r, Rule::IfindexOnNode, Code::E0016, found, || {
                    format!("ifindex {} is used twice on node `{node}`", i.value)
                });
            }
        }
    }

    fn node_names(&self) -> impl Iterator<Item = &str> {
        self.index.nodes_by_name.keys().map(|n| &**n)
    }
}

#[allow(clippy::too_many_arguments)] // one rule's whole message: kept in one call
fn unique<K: Hash + Eq>(
    seen: &mut HashMap<K, Span>,
    key: K,
    span: Span,
    subject: Ref,
    rule: Rule,
    code: Code,
    found: &mut Vec<Found>,
    message: impl FnOnce() -> String,
) {
    match seen.get(&key) {
        Some(first) => found.push((
            rule,
            subject,
            Diagnostic::new(code, span, message())
                .label("used again here")
                .secondary(*first, "first used here")
                .help("values must be unique among the pods of one node"),
        )),
        None => {
            seen.insert(key, span);
        }
    }
}

impl Declared for Validation {
    fn has_node(&self, name: &str) -> bool {
        self.index.nodes_by_name.contains_key(name)
    }
    fn has_pod(&self, name: &str) -> bool {
        self.index.pods_by_name.contains_key(name)
    }
    fn pod_with_ip(&self, ip: Ipv4Addr) -> Option<&str> {
        let refs = self.index.pod_ips.get(&u32::from(ip))?;
        Some(&*self.pod(refs[0]).name.value)
    }
    fn node_names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(Validation::node_names(self))
    }
    fn pod_names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        Box::new(self.index.pods_by_name.keys().map(|n| &**n))
    }
}

/// The first cluster block's settings, with E0013 for none or several.
fn cluster_settings(clusters: &[&ClusterItem], diags: &mut Vec<Diagnostic>) -> Option<ClusterSettings> {
    let Some(first) = clusters.first() else {
        // No span is more right than another: point at the start of the input.
        diags.push(
            Diagnostic::new(Code::E0013, Span::default(), "no `cluster` block in the input")
                .label("expected a `cluster` block in one of the files")
                .help("add `cluster NAME { }` to one file"),
        );
        return None;
    };
    for extra in &clusters[1..] {
        diags.push(
            Diagnostic::new(Code::E0013, extra.name.span, "more than one `cluster` block")
                .label("another `cluster` block")
                .secondary(first.name.span, "the cluster is first declared here")
                .help("an input describes exactly one cluster: keep one `cluster` block"),
        );
    }
    let mut kind = None;
    let mut port = None;
    let mut vni = None;
    let mut mtu = None;
    let mut once = Once::new(diags);
    let mut overlay_blocks = Vec::new();
    let mut mtu_stmt = None;
    for stmt in &first.block.stmts {
        match &stmt.kind {
            ClusterStmt::Overlay { kind: k, block } => {
                if once.first(0, "overlay", stmt.keyword) {
                    kind = Some(k.value);
                    overlay_blocks.extend(block.as_ref());
                }
            }
            ClusterStmt::Mtu(v) => {
                if once.first(1, "mtu", stmt.keyword) {
                    mtu_stmt = Some(v);
                }
            }
        }
    }
    let kind = kind.unwrap_or(OverlayKind::Vxlan);
    for block in overlay_blocks {
        let mut once = Once::new(diags);
        let mut port_stmt = None;
        let mut vni_stmt = None;
        for stmt in &block.stmts {
            match &stmt.kind {
                OverlayStmt::Port(v) if once.first(0, "port", stmt.keyword) => port_stmt = Some(v),
                OverlayStmt::Vni(v) if once.first(1, "vni", stmt.keyword) => vni_stmt = Some(v),
                _ => {}
            }
        }
        if let Some(v) = port_stmt {
            port = in_range("port", v, PORT_RANGE, diags).map(|p| p as u16);
        }
        if let Some(v) = vni_stmt {
            vni = in_range("vni", v, VNI_RANGE, diags).map(|p| p as u32);
        }
    }
    if let Some(v) = mtu_stmt {
        let range = if kind == OverlayKind::None { MTU_RANGE } else { MTU_RANGE_OVERLAY };
        mtu = in_range("mtu", v, range, diags).map(|m| m as u32);
    }
    let default_port = match kind {
        OverlayKind::Vxlan => DEFAULT_VXLAN_PORT,
        OverlayKind::Geneve => DEFAULT_GENEVE_PORT,
        OverlayKind::None => 0,
    };
    let overlay = model::Overlay { kind, port: port.unwrap_or(default_port), vni: vni.unwrap_or(0) };
    Some((first.name.value.clone(), overlay, mtu.unwrap_or(DEFAULT_MTU)))
}
