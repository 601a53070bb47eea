//! The dual-stack rules of docs/language.md (LANGUAGE.md "Version 2"): the
//! IPv6 `address`, `pod-cidr`, `router` of nodes and `ip` of pods, each once
//! per block (E0003), in range and a network (E0011, E0001), an IPv6 pod ip in
//! its node's IPv6 pod-cidr and not its network or router (E0007, E0015),
//! a `router` only beside a pod-cidr of its family (E0004), a pod ip of a
//! family its node has a pod-cidr of (E0007) and native routing's IPv6 node
//! addresses (E0019).
//!
//! `validate` runs them: the rules of one item here give each node its IPv6
//! facts ([`Node6`]) and each pod its IPv6 ip; the rules that relate items
//! are functions of those facts, called for the groups `validate` checks.
//! Unique pod ips, disjoint pod-cidrs and node addresses outside them (E0008,
//! E0009, E0014) are one code path for both families
//! (`validate/per_family.rs`).

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use crate::diagnostics::{short, Code, Diagnostic};
use crate::model::rules::first_usable6;
use crate::model::Ipv6Net;
use crate::source::Span;
use crate::syntax::ast::*;
use crate::validate::per_family;

/// A node's IPv6 statements as declared, with whatever of them is valid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node6 {
    pub address6: Option<Spanned<Ipv6Addr>>,
    pub pod_cidr6: Option<(Ipv6Net, Span)>,
    pub router6: Option<Ipv6Addr>,
    /// Whether an IPv6 `pod-cidr` statement is there (valid or not).
    pub declares_pod_cidr6: bool,
}

impl Node6 {
    /// The valid IPv6 pod-cidr with its router (given or the default).
    pub fn pod_cidr6_with_router(&self) -> Option<(Ipv6Net, Ipv6Addr)> {
        self.pod_cidr6.map(|(net, _)| (net, self.router6.unwrap_or_else(|| first_usable6(net))))
    }
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

/// A node's IPv6 statements (E0003, E0011, E0001) and the `router` of
/// either family without a pod-cidr of it (E0004).
pub(crate) fn node(item: &NodeItem, diags: &mut Vec<Diagnostic>) -> Node6 {
    let mut decl = Node6::default();
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
    decl.declares_pod_cidr6 = cidr.is_some();
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

/// A pod's first IPv6 `ip`, with E0003 for any other.
pub(crate) fn pod_ip6(pod: &PodItem, diags: &mut Vec<Diagnostic>) -> Option<Spanned<Ipv6Addr>> {
    let mut first: Option<(Span, &Spanned<Ipv6Addr>)> = None;
    for stmt in &pod.block.stmts {
        if let PodStmt::Ip6(ip) = &stmt.kind {
            match first {
                Some((span, _)) => twice(span, stmt.keyword, "IPv6", "ip", diags),
                None => first = Some((stmt.keyword, ip)),
            }
        }
    }
    first.map(|(_, ip)| ip.clone())
}

fn router_without_cidr(span: Span, node: &str, family: &str, example: &str) -> Diagnostic {
    Diagnostic::new(Code::E0004, span, format!("node `{node}` has an {family} `router` but no {family} `pod-cidr`"))
        .label(format!("an {family} router needs an {family} pod-cidr"))
        .help(format!("add `pod-cidr {example}` (the prefix its pods are numbered from) or remove the `router`"))
}

fn pod_cidr6(p: &Spanned<Prefix6>, diags: &mut Vec<Diagnostic>) -> Option<Ipv6Net> {
    match per_family::checked_pod_cidr(p.span, IpAddr::V6(p.value.addr), p.value.len, diags)? {
        IpNet::V6(net) => Some(net),
        IpNet::V4(_) => unreachable!("an IPv6 address makes an IPv6 prefix"),
    }
}

/// E0007 (outside its node's IPv6 pod-cidr, or the node has none) and E0015
/// (the network or router address) for a pod's IPv6 `ip`; `owner` finds the
/// node whose IPv6 pod-cidr holds the ip (asked only for an ip outside its
/// own node's). Whether the ip passed.
pub(crate) fn ip6_in_node<'a>(
    pod: &Spanned<Arc<str>>,
    ip: &Spanned<Ipv6Addr>,
    node: &Spanned<Arc<str>>,
    node6: &Node6,
    owner: impl FnOnce() -> Option<&'a str>,
    found: &mut Vec<Diagnostic>,
) -> bool {
    let Some((net, cidr_span)) = node6.pod_cidr6 else {
        if !node6.declares_pod_cidr6 {
            found.push(no_cidr_of_family(pod, ip.span, &ip.value.to_string(), node, "IPv6"));
        }
        // Otherwise the pod-cidr itself is wrong, and reported.
        return false;
    };
    let node_name = short(&node.value);
    if !net.contains(&ip.value) {
        let diag = Diagnostic::new(
            Code::E0007,
            ip.span,
            format!("ip {} of pod `{}` is outside pod-cidr {net} of node `{node_name}`", ip.value, short(&pod.value)),
        )
        .label("outside the node's pod-cidr")
        .secondary(cidr_span, format!("pod-cidr of `{node_name}`"));
        let diag = match owner() {
            Some(other) => {
                let other = short(other);
                diag.help(format!("{} is in the pod-cidr of node `{other}`: did you mean `on {other}`?", ip.value))
            }
            None => diag.help(format!("pick an ip inside {net}")),
        };
        found.push(diag);
        return false;
    }
    let router = node6.router6.unwrap_or_else(|| first_usable6(net));
    let role = if ip.value == net.network() {
        "the network address"
    } else if ip.value == router {
        "the router address"
    } else {
        return true;
    };
    found.push(
        Diagnostic::new(
            Code::E0015,
            ip.span,
            format!("ip {} of pod `{}` is {role} of pod-cidr {net}", ip.value, short(&pod.value)),
        )
        .label(role.to_string())
        .secondary(cidr_span, format!("pod-cidr of `{node_name}`"))
        .help(format!(
            "pods use addresses of {net} other than its network ({}) and router ({router}); IPv6 has no broadcast address",
            net.network()
        )),
    );
    false
}

/// E0007: a pod ip of a family its node has no pod-cidr of.
pub(crate) fn no_cidr_of_family(
    pod: &Spanned<Arc<str>>,
    span: Span,
    ip: &str,
    node: &Spanned<Arc<str>>,
    family: &str,
) -> Diagnostic {
    let node_name = short(&node.value);
    let example = if family == "IPv6" { "fd00:10:1::/64" } else { "10.244.1.0/24" };
    Diagnostic::new(
        Code::E0007,
        span,
        format!("ip {ip} of pod `{}` is {family}, but node `{node_name}` has no {family} pod-cidr", short(&pod.value)),
    )
    .label(format!("no {family} pod-cidr on the pod's node"))
    .secondary(node.span, format!("node `{node_name}`"))
    .help(format!("add an {family} `pod-cidr` (like `pod-cidr {example}`) to node `{node_name}`, or remove this ip"))
}

/// E0019: under native routing every node forwards IPv6 pod traffic to the
/// destination node's IPv6 address, so with IPv6 pods every node needs one.
pub(crate) fn native_address(node: &Spanned<Arc<str>>) -> Diagnostic {
    let name = short(&node.value);
    Diagnostic::new(
        Code::E0019,
        node.span,
        format!("node `{name}` has no IPv6 `address`, but the cluster routes IPv6 pods natively"),
    )
    .label("no IPv6 underlay address")
    .help(
        "with `overlay none` an IPv6 packet leaves for the destination node's IPv6 address: \
         add `address <IPv6>` to every node, or use `overlay vxlan`",
    )
}
