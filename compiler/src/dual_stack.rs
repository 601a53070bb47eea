//! The dual-stack rules of docs/language.md (LANGUAGE.md "Version 2"): the
//! IPv6 `address`, `pod-cidr`, `router` of nodes and `ip` of pods, each once
//! per block (E0003), in range and a network (E0011, E0001), an IPv6 pod ip in
//! its node's IPv6 pod-cidr and not its network or router (E0007, E0015),
//! unique pod ips, disjoint pod-cidrs and node addresses outside them
//! (E0008, E0009, E0014), a `router` only beside a pod-cidr of its family
//! (E0004), a pod ip of a family its node has a pod-cidr of (E0007) and
//! native routing's IPv6 node addresses (E0019).
//!
//! The IPv4 rules live in `validate`; this pass reads the same syntax trees
//! and hands `validate` the IPv6 facts of each valid node and pod.

use std::net::Ipv6Addr;

use foldhash::{HashMap, HashMapExt};

use crate::diagnostics::{short, Code, Diagnostic};
use crate::model::rules::{first_usable6, POD_CIDR6_MAX_LEN};
use crate::model::{Ipv6Net, OverlayKind};
use crate::source::Span;
use crate::syntax::ast::*;
use crate::validate::per_family::{self, CidrOwners, NodeNet};

/// The IPv6 half of a valid node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Node6 {
    pub address6: Option<Ipv6Addr>,
    /// With its router (given or the default).
    pub pod_cidr6: Option<(Ipv6Net, Ipv6Addr)>,
}

/// The IPv6 facts of the input, in the order of the `nodes` and `pods`
/// given to [`check`] (by index, so that a large cluster costs no lookups).
#[derive(Debug, Default)]
pub struct Facts {
    pub nodes: Vec<Node6>,
    /// A pod's valid IPv6 ip.
    pub pods: Vec<Option<Ipv6Addr>>,
}

/// Whether a node block gives a pod-cidr of either family (the IPv4 one is
/// `validate`'s), for its "required statement missing".
pub fn has_pod_cidr6(node: &NodeItem) -> bool {
    node.block.stmts.iter().any(|s| matches!(s.kind, NodeStmt::PodCidr6(_)))
}

/// Whether a pod block gives an IPv6 `ip`.
pub fn has_ip6(pod: &PodItem) -> bool {
    pod.block.stmts.iter().any(|s| matches!(s.kind, PodStmt::Ip6(_)))
}

/// A node's IPv6 statements as declared, with whatever of them is valid.
struct Decl<'a> {
    item: &'a NodeItem,
    address6: Option<Spanned<Ipv6Addr>>,
    pod_cidr6: Option<(Ipv6Net, Span)>,
    router6: Option<Ipv6Addr>,
    /// Whether an IPv4 `pod-cidr` statement is there (valid or not).
    has_pod_cidr4: bool,
}

/// Checks every dual-stack rule; `overlay` is the cluster's overlay when its
/// block was found.
pub fn check(
    nodes: &[&NodeItem],
    pods: &[&PodItem],
    overlay: Option<OverlayKind>,
    diags: &mut Vec<Diagnostic>,
) -> Facts {
    let decls: Vec<Decl> = nodes.iter().map(|item| node(item, diags)).collect();
    let nets = node_nets(&decls);
    per_family::node_overlaps(&nets, "IPv6 pod-cidr", diags);
    let owners = CidrOwners::new(&nets);
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(decls.len());
    for (i, d) in decls.iter().enumerate() {
        by_name.entry(d.item.name.value.as_str()).or_insert(i);
    }
    // Grown as IPv6 ips appear: an IPv4-only input allocates nothing here.
    let mut ips: HashMap<Ipv6Addr, Span> = HashMap::new();
    let pod_ips: Vec<Option<Ipv6Addr>> = pods
        .iter()
        .map(|pod| {
            let node = by_name.get(pod.node.value.as_str()).map(|&i| &decls[i]);
            pod_ip6(pod, node, &decls, &owners, &mut ips, diags)
        })
        .collect();
    if overlay == Some(OverlayKind::None) && pod_ips.iter().any(Option::is_some) {
        native_addresses(&decls, diags);
    }
    let nodes = decls
        .iter()
        .map(|d| Node6 {
            address6: d.address6.as_ref().map(|a| a.value),
            pod_cidr6: d.pod_cidr6.map(|(net, _)| (net, d.router6.unwrap_or_else(|| first_usable6(net)))),
        })
        .collect();
    Facts { nodes, pods: pod_ips }
}

/// E0003 for a second statement of one family in one block.
fn twice(first: Span, again: Span, family: &str, keyword: &str, diags: &mut Vec<Diagnostic>) {
    diags.push(
        Diagnostic::new(Code::E0003, again, format!("an {family} `{keyword}` is given twice in one block"))
            .label("given again here")
            .secondary(first, "first given here")
            .help(format!("keep one {family} `{keyword}`: a block takes at most one of each address family")),
    );
}

fn node<'a>(item: &'a NodeItem, diags: &mut Vec<Diagnostic>) -> Decl<'a> {
    let mut decl = Decl { item, address6: None, pod_cidr6: None, router6: None, has_pod_cidr4: false };
    let (mut address, mut cidr, mut router) = (None::<Span>, None::<(Span, &Spanned<Prefix6>)>, None::<Span>);
    let (mut router4, mut cidr4) = (None::<Span>, false);
    for stmt in &item.block.stmts {
        match &stmt.kind {
            NodeStmt::Address6(a) => match address {
                Some(first) => twice(first, stmt.keyword, "IPv6", "address", diags),
                None => {
                    address = Some(stmt.keyword);
                    decl.address6 = Some(a.clone());
                }
            },
            NodeStmt::PodCidr6(p) => match cidr {
                Some((first, _)) => twice(first, stmt.keyword, "IPv6", "pod-cidr", diags),
                None => cidr = Some((stmt.keyword, p)),
            },
            NodeStmt::Router6(r) => match router {
                Some(first) => twice(first, stmt.keyword, "IPv6", "router", diags),
                None => {
                    router = Some(stmt.keyword);
                    decl.router6 = Some(r.value);
                }
            },
            NodeStmt::Router(_) => router4 = router4.or(Some(stmt.keyword)),
            NodeStmt::PodCidr(_) => cidr4 = true,
            NodeStmt::Address(_) | NodeStmt::Device(_) => {}
        }
    }
    decl.has_pod_cidr4 = cidr4;
    if let Some((_, p)) = cidr {
        decl.pod_cidr6 = pod_cidr6(p, diags).map(|net| (net, p.span));
    }
    let name = short(&item.name.value);
    if let (Some(span), None) = (router, cidr) {
        diags.push(router_without_cidr(span, &name.to_string(), "IPv6", "fd00:10:1::/64"));
    }
    if let (Some(span), false) = (router4, cidr4) {
        diags.push(router_without_cidr(span, &name.to_string(), "IPv4", "10.244.1.0/24"));
    }
    decl
}

fn router_without_cidr(span: Span, node: &str, family: &str, example: &str) -> Diagnostic {
    Diagnostic::new(Code::E0004, span, format!("node `{node}` has an {family} `router` but no {family} `pod-cidr`"))
        .label(format!("an {family} router needs an {family} pod-cidr"))
        .help(format!("add `pod-cidr {example}` (the prefix its pods are numbered from) or remove the `router`"))
}

/// An IPv6 pod-cidr: length in range, no host bits, room for a router and a pod.
fn pod_cidr6(p: &Spanned<Prefix6>, diags: &mut Vec<Diagnostic>) -> Option<Ipv6Net> {
    let Prefix6 { addr, len } = p.value;
    if len > 128 {
        diags.push(
            Diagnostic::new(Code::E0011, p.span, format!("prefix length {len} is out of range"))
                .label(format!("expected 0..={POD_CIDR6_MAX_LEN}"))
                .help("an IPv6 prefix length is 0..128"),
        );
        return None;
    }
    let net = Ipv6Net::new(addr, len).expect("length checked above");
    if net.network() != addr {
        diags.push(
            Diagnostic::new(Code::E0001, p.span, format!("`{addr}/{len}` has host bits set"))
                .label("not a network prefix")
                .help(format!("did you mean `{}`?", net.trunc())),
        );
        return None;
    }
    if len > POD_CIDR6_MAX_LEN {
        diags.push(
            Diagnostic::new(Code::E0011, p.span, format!("pod-cidr prefix length {len} is out of range"))
                .label(format!("expected 0..={POD_CIDR6_MAX_LEN}"))
                .help("an IPv6 pod-cidr needs room for its network, router and pod addresses"),
        );
        return None;
    }
    Some(net)
}

/// The IPv6 half of each node, for the rules both families share.
fn node_nets<'a>(decls: &[Decl<'a>]) -> Vec<NodeNet<'a>> {
    decls
        .iter()
        .map(|d| NodeNet {
            name: &d.item.name,
            address: d.address6.as_ref().map(|a| (a.value.into(), a.span)),
            pod_cidr: d.pod_cidr6.map(|(net, span)| (net.into(), span)),
        })
        .collect()
}

/// A pod's IPv6 `ip`, checked: E0003, E0008, E0007 and E0015; and E0007 for
/// an IPv4 `ip` on a node without an IPv4 pod-cidr. `None` when the pod has
/// no valid IPv6 ip.
fn pod_ip6(
    pod: &PodItem,
    node: Option<&Decl>,
    decls: &[Decl],
    owners: &CidrOwners,
    ips: &mut HashMap<Ipv6Addr, Span>,
    diags: &mut Vec<Diagnostic>,
) -> Option<Ipv6Addr> {
    let mut first: Option<(Span, &Spanned<Ipv6Addr>)> = None;
    for stmt in &pod.block.stmts {
        match &stmt.kind {
            PodStmt::Ip6(ip) => match first {
                Some((span, _)) => twice(span, stmt.keyword, "IPv6", "ip", diags),
                None => first = Some((stmt.keyword, ip)),
            },
            PodStmt::Ip(ip) => {
                if let Some(node) = node.filter(|n| !n.has_pod_cidr4) {
                    diags.push(no_cidr_of_family(pod, &ip.span, &ip.value.to_string(), node, "IPv4"));
                }
            }
            _ => {}
        }
    }
    let (_, ip) = first?;
    let mut valid = true;
    match ips.get(&ip.value) {
        Some(first) => {
            diags.push(
                Diagnostic::new(Code::E0008, ip.span, format!("ip {} is used by two pods", ip.value))
                    .label("used again here")
                    .secondary(*first, "first used here")
                    .help("every pod needs its own ip"),
            );
            valid = false;
        }
        None => {
            ips.insert(ip.value, ip.span);
        }
    }
    // An unknown node is E0006, reported by `validate`.
    let node = node?;
    let Some((net, cidr_span)) = node.pod_cidr6 else {
        if !has_pod_cidr6(node.item) {
            diags.push(no_cidr_of_family(pod, &ip.span, &ip.value.to_string(), node, "IPv6"));
        }
        // Otherwise the pod-cidr itself is wrong, and reported.
        return None;
    };
    let node_name = short(&node.item.name.value);
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
        let diag = match owners.find(ip.value.into()) {
            Some(other) => {
                let other = short(&decls[other].item.name.value);
                diag.help(format!("{} is in the pod-cidr of node `{other}`: did you mean `on {other}`?", ip.value))
            }
            None => diag.help(format!("pick an ip inside {net}")),
        };
        diags.push(diag);
        return None;
    }
    let router = node.router6.unwrap_or_else(|| first_usable6(net));
    let role = if ip.value == net.network() {
        Some("the network address")
    } else if ip.value == router {
        Some("the router address")
    } else {
        None
    };
    if let Some(role) = role {
        diags.push(
            Diagnostic::new(
                Code::E0015,
                ip.span,
                format!("ip {} of pod `{}` is {role} of pod-cidr {net}", ip.value, short(&pod.name.value)),
            )
            .label(role.to_string())
            .secondary(cidr_span, format!("pod-cidr of `{node_name}`"))
            .help(format!(
                "pods use addresses of {net} other than its network ({}) and router ({router}); IPv6 has no broadcast address",
                net.network()
            )),
        );
        return None;
    }
    valid.then_some(ip.value)
}

/// E0007: a pod ip of a family its node has no pod-cidr of.
fn no_cidr_of_family(pod: &PodItem, span: &Span, ip: &str, node: &Decl, family: &str) -> Diagnostic {
    let node_name = short(&node.item.name.value);
    let example = if family == "IPv6" { "fd00:10:1::/64" } else { "10.244.1.0/24" };
    Diagnostic::new(
        Code::E0007,
        *span,
        format!(
            "ip {ip} of pod `{}` is {family}, but node `{node_name}` has no {family} pod-cidr",
            short(&pod.name.value)
        ),
    )
    .label(format!("no {family} pod-cidr on the pod's node"))
    .secondary(node.item.name.span, format!("node `{node_name}`"))
    .help(format!("add an {family} `pod-cidr` (like `pod-cidr {example}`) to node `{node_name}`, or remove this ip"))
}

/// E0019: under native routing every node forwards IPv6 pod traffic to the
/// destination node's IPv6 address, so with IPv6 pods every node needs one.
fn native_addresses(decls: &[Decl], diags: &mut Vec<Diagnostic>) {
    for d in decls.iter().filter(|d| d.address6.is_none()) {
        let name = short(&d.item.name.value);
        diags.push(
            Diagnostic::new(
                Code::E0019,
                d.item.name.span,
                format!("node `{name}` has no IPv6 `address`, but the cluster routes IPv6 pods natively"),
            )
            .label("no IPv6 underlay address")
            .help(
                "with `overlay none` an IPv6 packet leaves for the destination node's IPv6 address: \
                 add `address <IPv6>` to every node, or use `overlay vxlan`",
            ),
        );
    }
}
