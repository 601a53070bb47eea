//! The rules that relate items, possibly of different files: one function
//! per rule, each computing the diagnostics of one group from the indexes
//! (those both address families share are in `per_family.rs`).
//! They read nothing but the facts and indexes of [`Validation`], so the
//! same group gives the same diagnostics however the files arrived.

use foldhash::{HashMap, HashMapExt};
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

use super::local::{in_range, Once};
use super::per_family::{bits, Family};
use super::{Group, Ref, Rule, Validation, DEFAULT_GENEVE_PORT, DEFAULT_MTU, DEFAULT_VXLAN_PORT};
use crate::diagnostics::{short, suggest, Code, Diagnostic};
use crate::dual_stack;
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
                self.native_ipv6_address(refs, &mut found);
            }
            Group::NodeAddress(family, addr) => {
                let ix = &self.index.families[*family as usize];
                let refs = ix.node_addresses.get(addr).map_or(&[][..], |refs| &refs[..]);
                self.same_node_address(*family, refs, &mut found);
                self.node_address_in_pod_cidr(*family, *addr, refs, &mut found);
            }
            Group::PodCidr(family, net, len) => {
                let ix = &self.index.families[*family as usize];
                let refs = ix.pod_cidrs.get(&(*net, *len)).map_or(&[][..], |refs| &refs[..]);
                self.pod_cidr_overlap(*family, *net, *len, refs, &mut found);
            }
            Group::PodName(name) => {
                let refs = self.index.pods_by_name.get(name).map_or(&[][..], |refs| &refs[..]);
                self.pod_declared_twice(refs, &mut found);
            }
            Group::PodIp(family, ip) => {
                let ix = &self.index.families[*family as usize];
                let refs = ix.pod_ips.get(ip).map_or(&[][..], |refs| &refs[..]);
                self.same_pod_ip(*family, refs, &mut found);
            }
            Group::PodsOn(name) => {
                let pods = self.index.pods_on.get(name).map_or(&[][..], |refs| &refs[..]);
                let valid_ip6 = match self.index.nodes_by_name.get(name).map(|refs| refs[0]) {
                    None => {
                        self.unknown_node(pods, &mut found);
                        0
                    }
                    Some(node) => {
                        self.pod_ip_in_pod_cidr(node, pods, &mut found);
                        let valid = self.pod_ip6_in_pod_cidr(node, pods, &mut found);
                        self.unique_on_node(pods, &mut found);
                        valid
                    }
                };
                self.count_valid_ip6(name, valid_ip6);
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

    /// E0019: with `overlay none` and a pod with a valid IPv6 ip, a node
    /// without an IPv6 address (each declaration, duplicates too).
    fn native_ipv6_address(&self, refs: &[Ref], found: &mut Vec<Found>) {
        if !self.native_ipv6 {
            return;
        }
        for &r in refs {
            let node = self.node(r);
            if node.v6.address6.is_none() {
                found.push((Rule::NativeIpv6Address, r, dual_stack::native_address(&node.name)));
            }
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

    /// E0007 (a pod's IPv4 ip outside its node's pod-cidr, or the node has
    /// no IPv4 pod-cidr) and E0015 (a reserved address of it); `node` is the
    /// first node of the pods' node name.
    fn pod_ip_in_pod_cidr(&self, node: Ref, pods: &[Ref], found: &mut Vec<Found>) {
        let node = self.node(node);
        if !node.declares_pod_cidr4 {
            for &r in pods {
                let pod = self.pod(r);
                for ip in pod.ip.iter().chain(&pod.more_ips) {
                    let diag =
                        dual_stack::no_cidr_of_family(&pod.name, ip.span, &ip.value.to_string(), &node.name, "IPv4");
                    found.push((Rule::PodIpInPodCidr, r, diag));
                }
            }
            return;
        }
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
                let diag = match self.pod_cidr_holding(Family::V4, bits(ip.value.into())) {
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

    /// The IPv6 half of [`Self::pod_ip_in_pod_cidr`] (`dual_stack`'s rules).
    /// How many of the pods have a valid IPv6 ip (the first pod of its ip,
    /// inside the pod-cidr, not reserved): E0019 looks for one.
    fn pod_ip6_in_pod_cidr(&self, node: Ref, pods: &[Ref], found: &mut Vec<Found>) -> u32 {
        let node = self.node(node);
        let mut valid = 0;
        for &r in pods {
            let pod = self.pod(r);
            let Some(ip) = &pod.ip6 else { continue };
            let addr = bits(ip.value.into());
            let owner = || self.pod_cidr_holding(Family::V6, addr).map(|o| &*self.node(o).name.value);
            let mut diags = Vec::new();
            let passed = dual_stack::ip6_in_node(&pod.name, ip, &node.name, &node.v6, owner, &mut diags);
            found.extend(diags.into_iter().map(|d| (Rule::PodIpInPodCidr, r, d)));
            let first_of_ip =
                self.index.families[Family::V6 as usize].pod_ips.get(&addr).is_some_and(|refs| refs[0] == r);
            if passed && first_of_ip {
                valid += 1;
            }
        }
        valid
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
    fn pod_with_ip(&self, ip: IpAddr) -> Option<&str> {
        let family = if ip.is_ipv4() { Family::V4 } else { Family::V6 };
        let fx = &self.index.families[family as usize];
        let first = |index: &std::collections::BTreeMap<u128, super::Refs>| index.get(&bits(ip)).map(|refs| refs[0]);
        // The first pod declared with this ip in any `ip` statement.
        let r = first(&fx.pod_ips).into_iter().chain(first(&fx.more_pod_ips)).min()?;
        Some(&*self.pod(r).name.value)
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
