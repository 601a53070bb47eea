//! Turns the syntax trees of all input files into a [`model::Cluster`],
//! checking every rule of the language (docs/language.md) and reporting every
//! problem found, not just the first.

use foldhash::{HashMap, HashMapExt};
use std::net::Ipv4Addr;

use crate::diagnostics::{short, suggest, Code, Diagnostic};
use crate::dual_stack;
use crate::model::rules::*;
use crate::model::{self, Ipv4Net, Mac, OverlayKind};
use crate::source::Span;
use crate::syntax::ast::*;

pub(crate) mod per_family;
use per_family::{CidrOwners, NodeNet};

pub const DEFAULT_VXLAN_PORT: u16 = 8472;
pub const DEFAULT_GENEVE_PORT: u16 = 6081;
pub const DEFAULT_MTU: u32 = 1500;
pub const DEFAULT_DEVICE: &str = "eth0";

/// Checks the whole input. Returns the cluster when this phase found no
/// error (the caller also discards it when parsing found errors).
pub fn validate(files: &[File], diags: &mut Vec<Diagnostic>) -> Option<model::Cluster> {
    let errors_before = count_errors(diags);
    let mut v = Validator { diags };

    let mut clusters = Vec::new();
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for file in files {
        for item in &file.items {
            match item {
                Item::Cluster(c) => clusters.push(c),
                Item::Node(n) => nodes.push(n),
                Item::Pod(p) => pods.push(p),
                // Checked by `crate::expect`: they are not part of the model.
                Item::Expect(_) => {}
            }
        }
    }

    let cluster = v.cluster(&clusters);
    let ipv6 = dual_stack::check(&nodes, &pods, cluster.as_ref().map(|c| c.1.kind), v.diags);
    let nodes = v.nodes(&nodes);
    let pods = v.pods(&pods, &nodes);

    if count_errors(v.diags) > errors_before {
        return None;
    }
    let (name, overlay, mtu) = cluster?;
    build_model(name, overlay, mtu, nodes, pods, &ipv6)
}

fn count_errors(diags: &[Diagnostic]) -> usize {
    diags.iter().filter(|d| d.severity() == crate::diagnostics::Severity::Error).count()
}

struct Validator<'d> {
    diags: &'d mut Vec<Diagnostic>,
}

/// A node as declared, with whatever of it is valid.
struct NodeDecl<'a> {
    item: &'a NodeItem,
    address: Option<Spanned<Ipv4Addr>>,
    pod_cidr: Option<(Ipv4Net, Span)>,
    router: Option<Ipv4Addr>,
    device: Option<String>,
}

struct PodDecl<'a> {
    item: &'a PodItem,
    /// The pod's position in the input (the index of its `dual_stack::Facts`).
    index: usize,
    node: usize,
    ip: Option<Ipv4Addr>,
    endpoint: u16,
    identity: u32,
    lxc: &'a str,
    ifindex: Option<u32>,
    mac: Option<Mac>,
    node_mac: Option<Mac>,
}

/// Keeps the first occurrence of each statement of a block and reports the
/// others (E0003) with both places labelled. Statements are numbered per
/// block (`slot`); no block has more than seven kinds, so nothing allocates.
struct Once<'a> {
    seen: [Option<Span>; 8],
    diags: &'a mut Vec<Diagnostic>,
}

impl Once<'_> {
    fn first(&mut self, slot: usize, keyword: &'static str, span: Span) -> bool {
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

impl<'d> Validator<'d> {
    fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    fn once(&mut self) -> Once<'_> {
        Once { seen: [None; 8], diags: self.diags }
    }

    /// E0011 unless `value` is in `range`.
    fn in_range(&mut self, what: &str, value: &Spanned<u64>, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        if range.contains(&value.value) {
            return Some(value.value);
        }
        let message = if value.value == u64::MAX {
            format!("{what} is out of range")
        } else {
            format!("{what} {} is out of range", value.value)
        };
        self.push(Diagnostic::new(Code::E0011, value.span, message).label(format!(
            "expected {}..={}",
            range.start(),
            range.end()
        )));
        None
    }

    /// E0004 for `kind` (`node`, `pod`) `name`.
    fn missing(&mut self, header: Span, kind: &str, name: &str, keyword: &str, example: &str) {
        self.push(
            Diagnostic::new(Code::E0004, header, format!("{kind} `{}` has no `{keyword}`", short(name)))
                .label(format!("`{keyword}` is required"))
                .help(format!("add `{keyword} {example}` inside the block")),
        );
    }

    fn cluster(&mut self, clusters: &[&ClusterItem]) -> Option<(String, model::Overlay, u32)> {
        let Some(first) = clusters.first() else {
            // No span is more right than another: point at the start of the input.
            self.push(
                Diagnostic::new(Code::E0013, Span::default(), "no `cluster` block in the input")
                    .label("expected a `cluster` block in one of the files")
                    .help("add `cluster NAME { }` to one file"),
            );
            return None;
        };
        for extra in &clusters[1..] {
            self.push(
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
        let mut once = self.once();
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
            let mut once = self.once();
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
                port = self.in_range("port", v, PORT_RANGE).map(|p| p as u16);
            }
            if let Some(v) = vni_stmt {
                vni = self.in_range("vni", v, VNI_RANGE).map(|p| p as u32);
            }
        }
        if let Some(v) = mtu_stmt {
            let range = if kind == OverlayKind::None { MTU_RANGE } else { MTU_RANGE_OVERLAY };
            mtu = self.in_range("mtu", v, range).map(|m| m as u32);
        }
        let default_port = match kind {
            OverlayKind::Vxlan => DEFAULT_VXLAN_PORT,
            OverlayKind::Geneve => DEFAULT_GENEVE_PORT,
            OverlayKind::None => 0,
        };
        let overlay = model::Overlay { kind, port: port.unwrap_or(default_port), vni: vni.unwrap_or(0) };
        Some((first.name.value.clone(), overlay, mtu.unwrap_or(DEFAULT_MTU)))
    }

    fn nodes<'a>(&mut self, items: &[&'a NodeItem]) -> Vec<NodeDecl<'a>> {
        let mut decls = Vec::with_capacity(items.len());
        let mut names: HashMap<&str, Span> = HashMap::with_capacity(items.len());
        for item in items {
            if let Some(first) = names.get(item.name.value.as_str()) {
                self.push(
                    Diagnostic::new(
                        Code::E0005,
                        item.name.span,
                        format!("node `{}` is declared twice", short(&item.name.value)),
                    )
                    .label("declared again here")
                    .secondary(*first, "first declared here")
                    .help("node names must be unique"),
                );
            } else {
                names.insert(&item.name.value, item.name.span);
            }
            if let Err(why) = check_subdomain(&item.name.value) {
                self.invalid_name(item.name.span, "node", &item.name.value, why);
            }
            decls.push(self.node(item));
        }
        per_family::node_overlaps(&node_nets(&decls), "pod-cidr", self.diags);
        decls
    }

    fn node<'a>(&mut self, item: &'a NodeItem) -> NodeDecl<'a> {
        let mut decl = NodeDecl { item, address: None, pod_cidr: None, router: None, device: None };
        let mut once = self.once();
        let mut cidr_stmt = None;
        let mut device_stmt = None;
        let mut has_cidr = false;
        for stmt in &item.block.stmts {
            match &stmt.kind {
                NodeStmt::Address(a) if once.first(0, "address", stmt.keyword) => decl.address = Some(a.clone()),
                NodeStmt::PodCidr(p) if once.first(1, "pod-cidr", stmt.keyword) => {
                    has_cidr = true;
                    cidr_stmt = Some(p)
                }
                NodeStmt::Router(r) if once.first(2, "router", stmt.keyword) => decl.router = Some(r.value),
                NodeStmt::Device(d) if once.first(3, "device", stmt.keyword) => device_stmt = Some(d),
                _ => {}
            }
        }
        if !item.block.recovered {
            if decl.address.is_none() {
                self.missing(item.name.span, "node", &item.name.value, "address", "ADDRESS");
            }
            if !has_cidr && !dual_stack::has_pod_cidr6(item) {
                self.missing(item.name.span, "node", &item.name.value, "pod-cidr", "PREFIX");
            }
        }
        if let Some(p) = cidr_stmt {
            decl.pod_cidr = self.pod_cidr(p).map(|net| (net, p.span));
        }
        if let Some(d) = device_stmt {
            if let Err(why) = check_interface(&d.value) {
                self.invalid_name(d.span, "interface", &d.value, why);
            }
            decl.device = Some(d.value.clone());
        }
        decl
    }

    fn pod_cidr(&mut self, p: &Spanned<Prefix>) -> Option<Ipv4Net> {
        let Prefix { addr, len } = p.value;
        if len > 32 {
            self.push(
                Diagnostic::new(Code::E0011, p.span, format!("prefix length {len} is out of range"))
                    .label(format!("expected 0..={POD_CIDR_MAX_LEN}")),
            );
            return None;
        }
        let net = Ipv4Net::new(addr, len).expect("length checked above");
        if net.network() != addr {
            self.push(
                Diagnostic::new(Code::E0001, p.span, format!("`{addr}/{len}` has host bits set"))
                    .label("not a network prefix")
                    .help(format!("did you mean `{}`?", net.trunc())),
            );
            return None;
        }
        if len > POD_CIDR_MAX_LEN {
            self.push(
                Diagnostic::new(Code::E0011, p.span, format!("pod-cidr prefix length {len} is out of range"))
                    .label(format!("expected 0..={POD_CIDR_MAX_LEN}"))
                    .help("a pod-cidr needs room for its network, router, pods and broadcast addresses"),
            );
            return None;
        }
        Some(net)
    }

    fn invalid_name(&mut self, span: Span, kind: &str, name: &str, why: &str) {
        let rule = match kind {
            "node" => "node names are DNS-1123 subdomains: lowercase letters, digits, `-` and `.`, at most 253 bytes",
            "pod" => "pod names are `namespace/name`, both DNS-1123 labels: lowercase letters, digits and `-`, at most 63 bytes",
            _ => "interface names are 1..15 bytes of letters, digits, `_`, `-` and `.`",
        };
        self.push(
            Diagnostic::new(Code::E0012, span, format!("invalid {kind} name `{}`", short(name)))
                .label(why.to_string())
                .help(rule),
        );
    }

    fn pods<'a>(&mut self, items: &[&'a PodItem], nodes: &[NodeDecl]) -> Vec<PodDecl<'a>> {
        let mut node_index: HashMap<&str, usize> = HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            node_index.entry(n.item.name.value.as_str()).or_insert(i);
        }
        let lookup = CidrOwners::new(&node_nets(nodes));
        let mut pod_counts = vec![0usize; nodes.len()];
        let mut names: HashMap<&str, Span> = HashMap::with_capacity(items.len());
        let mut ips: HashMap<Ipv4Addr, Span> = HashMap::with_capacity(items.len());
        let mut endpoints: HashMap<(usize, u16), Span> = HashMap::with_capacity(items.len());
        let mut lxcs: HashMap<(usize, &str), Span> = HashMap::with_capacity(items.len());
        let mut ifindexes: HashMap<(usize, u32), Span> = HashMap::with_capacity(items.len());
        let mut decls = Vec::with_capacity(items.len());

        for (index, item) in items.iter().enumerate() {
            let name = item.name.value.as_str();
            if let Some(first) = names.get(name) {
                self.push(
                    Diagnostic::new(Code::E0005, item.name.span, format!("pod `{}` is declared twice", short(name)))
                        .label("declared again here")
                        .secondary(*first, "first declared here")
                        .help("pod names must be unique"),
                );
            } else {
                names.insert(name, item.name.span);
            }
            if let Err(why) = check_pod_name(name) {
                self.invalid_name(item.name.span, "pod", name, why);
            }
            let node = node_index.get(item.node.value.as_str()).copied();
            match node {
                Some(n) => pod_counts[n] += 1,
                None => {
                    let diag = Diagnostic::new(
                        Code::E0006,
                        item.node.span,
                        format!(
                            "pod `{}` is on node `{}`, which is not declared",
                            short(name),
                            short(&item.node.value)
                        ),
                    )
                    .label("unknown node");
                    let diag = match suggest(&item.node.value, nodes.iter().map(|n| n.item.name.value.as_str())) {
                        Some(s) => diag.help(format!("did you mean `{}`?", short(s))),
                        None => diag.help(format!("declare it with `node {} {{ ... }}`", short(&item.node.value))),
                    };
                    self.push(diag);
                }
            }

            let mut once = self.once();
            let (mut ip, mut endpoint, mut identity, mut lxc, mut ifindex, mut mac, mut node_mac) =
                (None, None, None, None, None, None, None);
            for stmt in &item.block.stmts {
                match &stmt.kind {
                    PodStmt::Ip(v) if once.first(0, "ip", stmt.keyword) => ip = Some(v),
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
                if ip.is_none() && !dual_stack::has_ip6(item) {
                    self.missing(item.name.span, "pod", name, "ip", "ADDRESS");
                }
                if endpoint.is_none() {
                    self.missing(item.name.span, "pod", name, "endpoint", "ID");
                }
                if identity.is_none() {
                    self.missing(item.name.span, "pod", name, "identity", "ID");
                }
                if lxc.is_none() {
                    self.missing(item.name.span, "pod", name, "lxc", "INTERFACE");
                }
            }
            let endpoint_value = endpoint.and_then(|v| self.in_range("endpoint", v, ENDPOINT_RANGE)).map(|e| e as u16);
            let identity_value = identity.and_then(|v| self.in_range("identity", v, IDENTITY_RANGE)).map(|i| i as u32);
            if let (Some(id), Some(v)) = (identity_value, identity) {
                if RESERVED_IDENTITIES.contains(&(id as u64)) {
                    self.push(
                        Diagnostic::new(Code::W0101, v.span, format!("identity {id} is in the reserved range 1..=255"))
                            .label("reserved identity")
                            .help("Cilium reserves identities 1..=255 for host, world, health and other special endpoints"),
                    );
                }
            }
            let ifindex_value = ifindex.and_then(|v| self.in_range("ifindex", v, IFINDEX_RANGE)).map(|i| i as u32);
            if let Some(l) = lxc {
                if let Err(why) = check_interface(&l.value) {
                    self.invalid_name(l.span, "interface", &l.value, why);
                }
            }
            for (keyword, m) in [("mac", mac), ("node-mac", node_mac)] {
                if let Some(m) = m {
                    if m.value.is_zero() || m.value.is_multicast() {
                        let what = if m.value.is_zero() { "all zero" } else { "a multicast address" };
                        self.push(
                            Diagnostic::new(Code::W0103, m.span, format!("`{keyword}` {} is {what}", m.value))
                                .label(what)
                                .help("an interface's MAC is a unicast address (lowest bit of the first byte clear)"),
                        );
                    }
                }
            }

            if let Some(ip) = ip {
                if let Some(first) = ips.get(&ip.value) {
                    self.push(
                        Diagnostic::new(Code::E0008, ip.span, format!("ip {} is used by two pods", ip.value))
                            .label("used again here")
                            .secondary(*first, "first used here")
                            .help("every pod needs its own ip"),
                    );
                } else {
                    ips.insert(ip.value, ip.span);
                }
                if let Some(n) = node {
                    self.pod_ip_in_node(item, ip, &nodes[n], nodes, &lookup);
                }
            }
            if let Some(n) = node {
                if let (Some(e), Some(v)) = (endpoint_value, endpoint) {
                    self.unique_on_node(&mut endpoints, (n, e), v.span, Code::E0010, || {
                        format!("endpoint {e} is used twice on node `{}`", short(&item.node.value))
                    });
                }
                if let Some(l) = lxc {
                    self.unique_on_node(&mut lxcs, (n, l.value.as_str()), l.span, Code::E0016, || {
                        format!("lxc `{}` is used twice on node `{}`", short(&l.value), short(&item.node.value))
                    });
                }
                if let (Some(i), Some(v)) = (ifindex_value, ifindex) {
                    self.unique_on_node(&mut ifindexes, (n, i), v.span, Code::E0016, || {
                        format!("ifindex {i} is used twice on node `{}`", short(&item.node.value))
                    });
                }
            }

            if let (Some(node), Some(endpoint), Some(identity), Some(lxc)) = (node, endpoint_value, identity_value, lxc)
            {
                decls.push(PodDecl {
                    item,
                    index,
                    node,
                    ip: ip.map(|ip| ip.value),
                    endpoint,
                    identity,
                    lxc: &lxc.value,
                    ifindex: ifindex_value,
                    mac: mac.map(|m| m.value),
                    node_mac: node_mac.map(|m| m.value),
                });
            }
        }

        for (i, (decl, count)) in nodes.iter().zip(&pod_counts).enumerate() {
            // A duplicate declaration already has its error (E0005).
            let duplicate = node_index[decl.item.name.value.as_str()] != i;
            if *count == 0 && !duplicate {
                self.push(
                    Diagnostic::new(
                        Code::W0102,
                        decl.item.name.span,
                        format!("node `{}` has no pods", short(&decl.item.name.value)),
                    )
                    .label("no pod is placed on this node")
                    .help("nothing is routed to this node's pod-cidr; place pods on it with `pod NAME on NODE`"),
                );
            }
        }
        decls
    }

    fn unique_on_node<K: std::hash::Hash + Eq>(
        &mut self,
        seen: &mut HashMap<K, Span>,
        key: K,
        span: Span,
        code: Code,
        message: impl FnOnce() -> String,
    ) {
        match seen.get(&key) {
            Some(first) => self.push(
                Diagnostic::new(code, span, message())
                    .label("used again here")
                    .secondary(*first, "first used here")
                    .help("values must be unique among the pods of one node"),
            ),
            None => {
                seen.insert(key, span);
            }
        }
    }

    /// E0007 (outside the node's pod-cidr) and E0015 (a reserved address of it).
    fn pod_ip_in_node(
        &mut self,
        pod: &PodItem,
        ip: &Spanned<Ipv4Addr>,
        node: &NodeDecl,
        nodes: &[NodeDecl],
        lookup: &CidrOwners,
    ) {
        let Some((net, cidr_span)) = node.pod_cidr else { return };
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
            let diag = match lookup.find(ip.value.into()) {
                Some(other) => diag.help(format!(
                    "{} is in the pod-cidr of node `{}`: did you mean `on {}`?",
                    ip.value,
                    short(&nodes[other].item.name.value),
                    short(&nodes[other].item.name.value)
                )),
                None => diag.help(format!("pick an ip inside {net}")),
            };
            self.push(diag);
            return;
        }
        let router = node.router.unwrap_or_else(|| first_usable(net));
        let role = if ip.value == net.network() {
            Some("the network address")
        } else if ip.value == net.broadcast() {
            Some("the broadcast address")
        } else if ip.value == router {
            Some("the router address")
        } else {
            None
        };
        if let Some(role) = role {
            self.push(
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
            );
        }
    }
}

/// The IPv4 half of each node, for the rules both families share.
fn node_nets<'a>(decls: &[NodeDecl<'a>]) -> Vec<NodeNet<'a>> {
    decls
        .iter()
        .map(|d| NodeNet {
            name: &d.item.name,
            address: d.address.as_ref().map(|a| (a.value.into(), a.span)),
            pod_cidr: d.pod_cidr.map(|(net, span)| (net.into(), span)),
        })
        .collect()
}

/// The default router: the first address after the network address.
pub fn first_usable(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(1))
}

fn build_model(
    name: String,
    overlay: model::Overlay,
    mtu: u32,
    nodes: Vec<NodeDecl>,
    pods: Vec<PodDecl>,
    ipv6: &dual_stack::Facts,
) -> Option<model::Cluster> {
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| nodes[a].item.name.value.cmp(&nodes[b].item.name.value));
    let mut new_index = vec![0usize; nodes.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut model_nodes = Vec::with_capacity(nodes.len());
    for &old in &order {
        let d = &nodes[old];
        let pod_cidr = d.pod_cidr.map(|(net, _)| net);
        let node6 = ipv6.nodes[old];
        if pod_cidr.is_none() && node6.pod_cidr6.is_none() {
            return None;
        }
        model_nodes.push(model::Node {
            name: d.item.name.value.clone(),
            address: d.address.as_ref()?.value,
            pod_cidr,
            router: pod_cidr.map(|net| d.router.unwrap_or_else(|| first_usable(net))),
            device: d.device.clone().unwrap_or_else(|| DEFAULT_DEVICE.to_string()),
            address6: node6.address6,
            pod_cidr6: node6.pod_cidr6.map(|(net, _)| net),
            router6: node6.pod_cidr6.map(|(_, router)| router),
        });
    }
    let mut model_pods: Vec<model::Pod> = pods
        .into_iter()
        .map(|p| model::Pod {
            name: p.item.name.value.clone(),
            node: new_index[p.node],
            ip: p.ip,
            endpoint: p.endpoint,
            identity: p.identity,
            lxc: p.lxc.to_string(),
            ifindex: p.ifindex,
            mac: p.mac,
            node_mac: p.node_mac,
            ip6: ipv6.pods[p.index],
        })
        .collect();
    model_pods.sort_by_key(model::Pod::order);
    Some(model::Cluster { name, overlay, mtu, nodes: model_nodes, pods: model_pods })
}
