//! The rules that read one item alone: statements given twice, required
//! statements, ranges, name shapes (the IPv6 statements' are
//! `dual_stack`'s). Each item becomes its fact (what of it is valid), which
//! the cross-file rules (`cross.rs`, `per_family.rs`) read; nothing here
//! looks at another item, so a file's facts stay valid until it changes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;

use super::per_family::{self, Family};
use crate::diagnostics::{short, Code, Diagnostic};
use crate::dual_stack::{self, Node6};
use crate::model::rules::*;
use crate::model::{Ipv4Net, Mac};
use crate::source::Span;
use crate::syntax::ast::*;

/// A node or pod name: shared by the facts, the indexes and their groups.
pub(super) type Name = Arc<str>;

fn shared(s: &Spanned<String>) -> Spanned<Name> {
    Spanned { value: Arc::from(s.value.as_str()), span: s.span }
}

/// A node as declared, with whatever of it is valid.
#[derive(Debug, Clone)]
pub(super) struct NodeFact {
    pub name: Spanned<Name>,
    pub address: Option<Spanned<Ipv4Addr>>,
    pub pod_cidr: Option<(Ipv4Net, Span)>,
    pub router: Option<Ipv4Addr>,
    pub device: Option<String>,
    /// Whether an IPv4 `pod-cidr` statement is there (valid or not).
    pub declares_pod_cidr4: bool,
    pub v6: Node6,
}

impl NodeFact {
    /// The node's valid address of one family, where declared.
    pub fn address(&self, family: Family) -> Option<Spanned<IpAddr>> {
        match family {
            Family::V4 => self.address.as_ref().map(|a| Spanned { value: a.value.into(), span: a.span }),
            Family::V6 => self.v6.address6.as_ref().map(|a| Spanned { value: a.value.into(), span: a.span }),
        }
    }

    /// The node's valid pod-cidr of one family, where declared.
    pub fn pod_cidr(&self, family: Family) -> Option<(IpNet, Span)> {
        match family {
            Family::V4 => self.pod_cidr.map(|(net, span)| (net.into(), span)),
            Family::V6 => self.v6.pod_cidr6.map(|(net, span)| (net.into(), span)),
        }
    }
}

/// A pod as declared, with whatever of it is valid.
#[derive(Debug, Clone)]
pub(super) struct PodFact {
    pub name: Spanned<Name>,
    pub node: Spanned<Name>,
    /// The first IPv4 `ip`.
    pub ip: Option<Spanned<Ipv4Addr>>,
    /// The IPv4 `ip`s given again (E0003): still checked against the
    /// node's address families.
    pub more_ips: Vec<Spanned<Ipv4Addr>>,
    /// The first IPv6 `ip`.
    pub ip6: Option<Spanned<Ipv6Addr>>,
    pub more_ips6: Vec<Ipv6Addr>,
    pub endpoint: Option<Spanned<u16>>,
    pub identity: Option<u32>,
    pub lxc: Option<Spanned<String>>,
    pub ifindex: Option<Spanned<u32>>,
    pub mac: Option<Mac>,
    pub node_mac: Option<Mac>,
}

impl PodFact {
    /// The pod's first `ip` of one family.
    pub fn ip(&self, family: Family) -> Option<Spanned<IpAddr>> {
        match family {
            Family::V4 => self.ip.as_ref().map(|a| Spanned { value: a.value.into(), span: a.span }),
            Family::V6 => self.ip6.as_ref().map(|a| Spanned { value: a.value.into(), span: a.span }),
        }
    }

    /// The pod's `ip`s of one family given again, as index keys.
    pub fn more_ips(&self, family: Family) -> Vec<u128> {
        match family {
            Family::V4 => self.more_ips.iter().map(|ip| u128::from(u32::from(ip.value))).collect(),
            Family::V6 => self.more_ips6.iter().map(|&ip| u128::from(ip)).collect(),
        }
    }
}

/// Keeps the first occurrence of each statement of a block and reports the
/// others (E0003) with both places labelled. Statements are numbered per
/// block (`slot`); no block has more than seven kinds, so nothing allocates.
pub(super) struct Once<'a> {
    seen: [Option<Span>; 8],
    diags: &'a mut Vec<Diagnostic>,
}

impl<'a> Once<'a> {
    pub fn new(diags: &'a mut Vec<Diagnostic>) -> Once<'a> {
        Once { seen: [None; 8], diags }
    }

    pub fn first(&mut self, slot: usize, keyword: &'static str, span: Span) -> bool {
        match self.seen[slot] {
            Some(first) => {
                self.diags.push(
                    Diagnostic::new(Code::E0003, span, format!("`{keyword}` is given twice in one block"))
                        .label("given again here")
                        .secondary(first, "first given here")
                        .help(format!("keep one `{keyword}` statement")),
                );
                false
            }
            None => {
                self.seen[slot] = Some(span);
                true
            }
        }
    }
}

/// E0011 unless `value` is in `range`.
pub(super) fn in_range(
    what: &str,
    value: &Spanned<u64>,
    range: std::ops::RangeInclusive<u64>,
    diags: &mut Vec<Diagnostic>,
) -> Option<u64> {
    if range.contains(&value.value) {
        return Some(value.value);
    }
    let message = if value.value == u64::MAX {
        format!("{what} is out of range")
    } else {
        format!("{what} {} is out of range", value.value)
    };
    diags.push(Diagnostic::new(Code::E0011, value.span, message).label(format!(
        "expected {}..={}",
        range.start(),
        range.end()
    )));
    None
}

/// E0004 for `kind` (`node`, `pod`) `name`.
fn missing(header: Span, kind: &str, name: &str, keyword: &str, example: &str, diags: &mut Vec<Diagnostic>) {
    diags.push(
        Diagnostic::new(Code::E0004, header, format!("{kind} `{}` has no `{keyword}`", short(name)))
            .label(format!("`{keyword}` is required"))
            .help(format!("add `{keyword} {example}` inside the block")),
    );
}

fn invalid_name(span: Span, kind: &str, name: &str, why: &str, diags: &mut Vec<Diagnostic>) {
    let rule = match kind {
        "node" => "node names are DNS-1123 subdomains: lowercase letters, digits, `-` and `.`, at most 253 bytes",
        "pod" => {
            "pod names are `namespace/name`, both DNS-1123 labels: lowercase letters, digits and `-`, at most 63 bytes"
        }
        _ => "interface names are 1..15 bytes of letters, digits, `_`, `-` and `.`",
    };
    diags.push(
        Diagnostic::new(Code::E0012, span, format!("invalid {kind} name `{}`", short(name)))
            .label(why.to_string())
            .help(rule),
    );
}

/// A node's own rules: its name, its statements, its pod-cidr.
pub(super) fn node(item: &NodeItem, diags: &mut Vec<Diagnostic>) -> NodeFact {
    if let Err(why) = check_subdomain(&item.name.value) {
        invalid_name(item.name.span, "node", &item.name.value, why, diags);
    }
    let v6 = dual_stack::node(item, diags);
    let mut fact = NodeFact {
        name: shared(&item.name),
        address: None,
        pod_cidr: None,
        router: None,
        device: None,
        declares_pod_cidr4: false,
        v6,
    };
    let mut once = Once::new(diags);
    let mut cidr_stmt = None;
    let mut device_stmt = None;
    let mut has_cidr = false;
    for stmt in &item.block.stmts {
        match &stmt.kind {
            NodeStmt::Address(a) if once.first(0, "address", stmt.keyword) => fact.address = Some(a.clone()),
            NodeStmt::PodCidr(p) if once.first(1, "pod-cidr", stmt.keyword) => {
                has_cidr = true;
                cidr_stmt = Some(p)
            }
            NodeStmt::Router(r) if once.first(2, "router", stmt.keyword) => fact.router = Some(r.value),
            NodeStmt::Device(d) if once.first(3, "device", stmt.keyword) => device_stmt = Some(d),
            _ => {}
        }
    }
    if !item.block.recovered {
        if fact.address.is_none() {
            missing(item.name.span, "node", &item.name.value, "address", "ADDRESS", diags);
        }
        if !has_cidr && !fact.v6.declares_pod_cidr6 {
            missing(item.name.span, "node", &item.name.value, "pod-cidr", "PREFIX", diags);
        }
    }
    fact.declares_pod_cidr4 = item.block.stmts.iter().any(|s| matches!(s.kind, NodeStmt::PodCidr(_)));
    if let Some(p) = cidr_stmt {
        fact.pod_cidr = pod_cidr(p, diags).map(|net| (net, p.span));
    }
    if let Some(d) = device_stmt {
        if let Err(why) = check_interface(&d.value) {
            invalid_name(d.span, "interface", &d.value, why, diags);
        }
        fact.device = Some(d.value.clone());
    }
    fact
}

fn pod_cidr(p: &Spanned<Prefix>, diags: &mut Vec<Diagnostic>) -> Option<Ipv4Net> {
    match per_family::checked_pod_cidr(p.span, IpAddr::V4(p.value.addr), p.value.len, diags)? {
        IpNet::V4(net) => Some(net),
        IpNet::V6(_) => unreachable!("an IPv4 address makes an IPv4 prefix"),
    }
}

/// A pod's own rules: its name, its statements and their values.
/// `node` is the name it is placed on, shared.
pub(super) fn pod(item: &PodItem, node: Name, diags: &mut Vec<Diagnostic>) -> PodFact {
    let name = item.name.value.as_str();
    if let Err(why) = check_pod_name(name) {
        invalid_name(item.name.span, "pod", name, why, diags);
    }
    let ip6 = dual_stack::pod_ip6(item, diags);
    let mut more_ips = Vec::new();
    let mut once = Once::new(diags);
    let (mut ip, mut endpoint, mut identity, mut lxc, mut ifindex, mut mac, mut node_mac) =
        (None, None, None, None, None, None, None);
    for stmt in &item.block.stmts {
        match &stmt.kind {
            PodStmt::Ip(v) if once.first(0, "ip", stmt.keyword) => ip = Some(v),
            PodStmt::Ip(v) => more_ips.push(v.clone()),
            PodStmt::Endpoint(v) if once.first(1, "endpoint", stmt.keyword) => endpoint = Some(v),
            PodStmt::Identity(v) if once.first(2, "identity", stmt.keyword) => identity = Some(v),
            PodStmt::Lxc(v) if once.first(3, "lxc", stmt.keyword) => lxc = Some(v),
            PodStmt::Ifindex(v) if once.first(4, "ifindex", stmt.keyword) => ifindex = Some(v),
            PodStmt::Mac(v) if once.first(5, "mac", stmt.keyword) => mac = Some(v),
            PodStmt::NodeMac(v) if once.first(6, "node-mac", stmt.keyword) => node_mac = Some(v),
            _ => {}
        }
    }
    if !item.block.recovered {
        if ip.is_none() && ip6.is_none() {
            missing(item.name.span, "pod", name, "ip", "ADDRESS", diags);
        }
        if endpoint.is_none() {
            missing(item.name.span, "pod", name, "endpoint", "ID", diags);
        }
        if identity.is_none() {
            missing(item.name.span, "pod", name, "identity", "ID", diags);
        }
        if lxc.is_none() {
            missing(item.name.span, "pod", name, "lxc", "INTERFACE", diags);
        }
    }
    let endpoint_value = endpoint.and_then(|v| in_range("endpoint", v, ENDPOINT_RANGE, diags)).map(|e| e as u16);
    let identity_value = identity.and_then(|v| in_range("identity", v, IDENTITY_RANGE, diags)).map(|i| i as u32);
    if let (Some(id), Some(v)) = (identity_value, identity) {
        if RESERVED_IDENTITIES.contains(&(id as u64)) {
            diags.push(
                Diagnostic::new(Code::W0101, v.span, format!("identity {id} is in the reserved range 1..=255"))
                    .label("reserved identity")
                    .help("Cilium reserves identities 1..=255 for host, world, health and other special endpoints"),
            );
        }
    }
    let ifindex_value = ifindex.and_then(|v| in_range("ifindex", v, IFINDEX_RANGE, diags)).map(|i| i as u32);
    if let Some(l) = lxc {
        if let Err(why) = check_interface(&l.value) {
            invalid_name(l.span, "interface", &l.value, why, diags);
        }
    }
    for (keyword, m) in [("mac", mac), ("node-mac", node_mac)] {
        if let Some(m) = m {
            if m.value.is_zero() || m.value.is_multicast() {
                let what = if m.value.is_zero() { "all zero" } else { "a multicast address" };
                diags.push(
                    Diagnostic::new(Code::W0103, m.span, format!("`{keyword}` {} is {what}", m.value))
                        .label(what)
                        .help("an interface's MAC is a unicast address (lowest bit of the first byte clear)"),
                );
            }
        }
    }
    PodFact {
        name: shared(&item.name),
        node: Spanned { value: node, span: item.node.span },
        ip: ip.cloned(),
        more_ips,
        more_ips6: item
            .block
            .stmts
            .iter()
            .filter_map(|s| match &s.kind {
                PodStmt::Ip6(ip) => Some(ip.value),
                _ => None,
            })
            .skip(1)
            .collect(),
        ip6,
        endpoint: endpoint_value.zip(endpoint).map(|(value, v)| Spanned { value, span: v.span }),
        identity: identity_value,
        lxc: lxc.cloned(),
        ifindex: ifindex_value.zip(ifindex).map(|(value, v)| Spanned { value, span: v.span }),
        mac: mac.map(|m| m.value),
        node_mac: node_mac.map(|m| m.value),
    }
}
