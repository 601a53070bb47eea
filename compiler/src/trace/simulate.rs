//! The simulation proper: each program of docs/datapath.md as a function
//! from (node, packet, maps) to one hop of the trace.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::native;
use super::view::{hex, Datapath, Mode, NodeConfig, PodRef};
use crate::bpf::{self, Interface, Program, OVERLAY_DEVICE, PROGRAMS};
use crate::layout::{
    EndpointInfo, EndpointKey, IpcacheKey, Reason, RemoteEndpointInfo, IDENTITY_HEALTH, IDENTITY_HOST,
    IDENTITY_REMOTE_NODE, IDENTITY_WORLD,
};
use crate::model::Mac;

/// The program that runs on `interface`, from the build's program table.
pub fn program(interface: Interface) -> &'static Program {
    PROGRAMS.iter().find(|p| p.interface == interface).expect("every interface kind has its program")
}

fn hook(program: &Program) -> &'static str {
    match program.direction {
        bpf::Direction::Ingress => "tc ingress",
        bpf::Direction::Egress => "tc egress",
    }
}
/// How a MAC the cluster did not declare reads in a seed entry.
const ZERO_MAC: &str = "00:00:00:00:00:00";
/// TTL the encapsulating program gives the outer header.
const TUNNEL_TTL: u8 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Icmp,
    Tcp,
    Udp,
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "icmp" => Ok(Proto::Icmp),
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(format!("`{s}` is not a protocol: use icmp, tcp or udp")),
        }
    }
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Icmp => "icmp",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// An address family: which of a pod's or node's addresses a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
    /// The bits of one address: the prefix length of a host entry.
    pub fn host_len(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
    /// What the IP header's TTL field is called in this family.
    pub fn ttl_name(self) -> &'static str {
        match self {
            Family::Ipv4 => "TTL",
            Family::Ipv6 => "hop limit",
        }
    }
}

/// The traced IPv4 or IPv6 packet (both addresses of one family). The
/// datapath decides on addresses, and on the port only where UDP meets a
/// node's overlay port; otherwise protocol and port are carried for the
/// reader. `ttl` is IPv6's hop limit for an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: Proto,
    pub port: Option<u16>,
    pub ttl: u8,
}

impl Packet {
    pub fn family(&self) -> Family {
        Family::of(self.dst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReasonRef {
    pub code: u32,
    pub name: &'static str,
    pub drop: bool,
}

impl From<Reason> for ReasonRef {
    fn from(reason: Reason) -> Self {
        ReasonRef { code: reason.code(), name: reason.name(), drop: reason.is_drop() }
    }
}

impl ReasonRef {
    pub fn reason(self) -> Reason {
        Reason::from_code(self.code).expect("built from a Reason")
    }
}

/// A map entry's value, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LookupValue {
    Endpoint {
        endpoint: u16,
        ifindex: u32,
        flags: u32,
        host: bool,
        mac: String,
        node_mac: String,
        identity: u32,
    },
    Remote {
        identity: u32,
        identity_name: Option<&'static str>,
        tunnel_endpoint: Option<Ipv4Addr>,
    },
    /// A `routec_node_ipv6` entry: the node's IPv6 address.
    NodeIpv6 {
        node_ipv6: std::net::Ipv6Addr,
    },
}

/// One map lookup a program made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookup {
    pub map: &'static str,
    /// `exact` (hash) or `longest-prefix` (LPM trie).
    #[serde(rename = "match")]
    pub match_kind: &'static str,
    /// What the program looks up: `source` or `destination`.
    pub purpose: &'static str,
    /// The key, decoded.
    pub key: String,
    pub key_hex: String,
    pub hit: bool,
    /// For a longest-prefix hit: the entry that matched.
    pub matched_key: Option<String>,
    pub matched_key_hex: Option<String>,
    pub value_hex: Option<String>,
    pub value: Option<LookupValue>,
    /// What the program checked on the result, and how it came out.
    pub check: Option<String>,
}

/// One program run on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    pub node: String,
    pub device: String,
    pub ifindex: Option<u32>,
    pub hook: &'static str,
    pub program: &'static str,
    /// Checks other than map lookups (VNI, TTL), in order.
    pub checks: Vec<String>,
    pub lookups: Vec<Lookup>,
    /// The counter the program bumps.
    pub reason: ReasonRef,
    /// What the program does with the packet.
    pub action: String,
    /// Where the packet goes next (none after a drop or the stack).
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Verdict {
    Delivered {
        node: String,
        pod: Option<String>,
        ip: IpAddr,
        lxc: Option<String>,
        endpoint: u16,
        reason: ReasonRef,
    },
    ToStack {
        node: String,
        reason: ReasonRef,
    },
    Dropped {
        node: String,
        program: &'static str,
        reason: ReasonRef,
    },
    /// Encapsulated towards an underlay address beyond the view: no node of
    /// the view has it, or the view lacks that node's maps.
    LeftCluster {
        node: String,
        tunnel_endpoint: Ipv4Addr,
        reason: ReasonRef,
    },
}

impl Verdict {
    pub fn is_delivered(&self) -> bool {
        matches!(self, Verdict::Delivered { .. })
    }
    /// The counter that decided the packet's fate.
    pub fn reason(&self) -> ReasonRef {
        match self {
            Verdict::Delivered { reason, .. }
            | Verdict::ToStack { reason, .. }
            | Verdict::Dropped { reason, .. }
            | Verdict::LeftCluster { reason, .. } => *reason,
        }
    }
}

/// Where the packet starts: a pod's eth0, or a node's own stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    Pod(PodRef),
    /// The node's stack, sending from its router address into its pod-cidr
    /// (both of the packet's family).
    Node {
        name: String,
        address: IpAddr,
        router: IpAddr,
    },
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::Pod(pod) => pod.name.clone(),
            Source::Node { name, .. } => format!("node {name}"),
        }
    }
    pub fn node(&self) -> &str {
        match self {
            Source::Pod(pod) => &pod.node,
            Source::Node { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub ip: IpAddr,
    pub pod: Option<PodRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub mode: Mode,
    pub packet: Packet,
    pub src: Source,
    pub dst: Destination,
    pub notes: Vec<String>,
    pub hops: Vec<Hop>,
    pub verdict: Verdict,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("`{0}` is neither a pod nor a node: give a pod's `namespace/name` or IP address, or a node's name")]
    UnknownSource(String),
    #[error("node {node} sends {dst} through its own stack, not its datapath: only its pod-cidr {cidr} is routed to cilium_host")]
    NotViaHost { node: String, dst: IpAddr, cidr: String },
    #[error("`{0}` is neither a pod, a node nor an IP address")]
    UnknownDestination(String),
    #[error("`{who}` has no {} address", family.name())]
    NoAddress { who: String, family: Family },
    #[error("`{src}` and `{dst}` share no address family: one is IPv4 only, the other IPv6 only")]
    NoCommonFamily { src: String, dst: String },
    #[error("{src} and {dst} are of different families: a packet has both addresses of one")]
    MixedFamilies { src: IpAddr, dst: IpAddr },
    #[error("`{sender}` is on node `{node}`, whose maps this view does not have")]
    NoMaps { sender: String, node: String },
    #[error("`{0}` sends to itself: its own kernel answers on lo, the datapath never sees the packet")]
    ToItself(String),
    #[error("--port needs --proto tcp or udp")]
    PortWithoutTransport,
    #[error("a TTL of 0 cannot leave the pod")]
    ZeroTtl,
    #[error("--all on {pods} pods is {pairs} pairs, more than the {limit} a matrix holds: trace single pairs, or a smaller cluster")]
    MatrixTooLarge { pods: usize, pairs: u64, limit: u64 },
    #[error("no datapath to trace: {0}")]
    Unsupported(#[from] bpf::Unsupported),
}

/// Refuses a view of a cluster the datapath cannot be built for: tracing it
/// would follow programs that `routec build` never emits.
pub(super) fn check_buildable(view: &dyn Datapath) -> Result<(), TraceError> {
    match view.unsupported() {
        Some(unsupported) => Err(unsupported.clone().into()),
        None => Ok(()),
    }
}

/// Traces a packet from `src` (a pod's name or IP, or a node's name) to
/// `dst` (a pod's name, a node's name for its address, or any IP address).
/// The family is the one of an address given at either end, else IPv4 when
/// both ends have IPv4, else IPv6.
pub fn trace(
    view: &dyn Datapath,
    src: &str,
    dst: &str,
    proto: Proto,
    port: Option<u16>,
    ttl: u8,
) -> Result<Trace, TraceError> {
    let dst_literal = dst.parse::<IpAddr>().ok();
    let dst_ips: Vec<IpAddr> = match (dst_literal, view.find_pod(dst), view.node(dst)) {
        (Some(ip), _, _) => vec![ip],
        (None, Some(pod), _) => pod.ips().collect(),
        (None, None, Some(node)) => node.addresses().collect(),
        (None, None, None) => return Err(TraceError::UnknownDestination(dst.to_string())),
    };
    if port.is_some() && proto == Proto::Icmp {
        return Err(TraceError::PortWithoutTransport);
    }
    if ttl == 0 {
        return Err(TraceError::ZeroTtl);
    }
    let src_literal = src.parse::<IpAddr>().ok();
    let pod = view.find_pod(src);
    let node = match pod {
        Some(_) => None,
        None => Some(view.node(src).ok_or_else(|| TraceError::UnknownSource(src.to_string()))?),
    };
    let src_ips: Vec<IpAddr> = match (src_literal, pod, node) {
        (Some(ip), Some(_), _) => vec![ip],
        (_, Some(pod), _) => pod.ips().collect(),
        (_, None, Some(node)) => node.routers().collect(),
        (_, None, None) => Vec::new(),
    };
    if let (Some(src), Some(dst)) = (src_literal, dst_literal) {
        if Family::of(src) != Family::of(dst) {
            return Err(TraceError::MixedFamilies { src, dst });
        }
    }
    let has = |ips: &[IpAddr], family| ips.iter().any(|&ip| Family::of(ip) == family);
    let family = match dst_literal.or(src_literal) {
        Some(ip) => Family::of(ip),
        None => [Family::Ipv4, Family::Ipv6]
            .into_iter()
            .find(|&f| has(&src_ips, f) && has(&dst_ips, f))
            .ok_or_else(|| TraceError::NoCommonFamily { src: src.to_string(), dst: dst.to_string() })?,
    };
    let pick = |ips: &[IpAddr], who: &str| {
        ips.iter()
            .copied()
            .find(|&ip| Family::of(ip) == family)
            .ok_or_else(|| TraceError::NoAddress { who: who.to_string(), family })
    };
    let dst_ip = pick(&dst_ips, dst)?;
    if let Some(pod) = pod {
        if pod.has_ip(dst_ip) {
            return Err(TraceError::ToItself(pod.name.clone()));
        }
        let packet = Packet { src: pick(&src_ips, &pod.name)?, dst: dst_ip, proto, port, ttl };
        return trace_packet(view, pod, packet);
    }
    let node = node.expect("a node when no pod");
    let packet = Packet { src: pick(&src_ips, &format!("node {}", node.name))?, dst: dst_ip, proto, port, ttl };
    trace_from_node(view, node, packet)
}

/// Traces `packet` leaving `src`'s eth0.
pub fn trace_packet(view: &dyn Datapath, src: &PodRef, packet: Packet) -> Result<Trace, TraceError> {
    check_buildable(view)?;
    let no_maps = || TraceError::NoMaps { sender: src.name.clone(), node: src.node.clone() };
    let node = view.node(&src.node).filter(|n| view.has_maps(&n.name)).ok_or_else(no_maps)?;
    let family = packet.family();
    let mut notes = vec![match (family, node.router6) {
        (Family::Ipv6, Some(router6)) => format!(
            "before its first packet the pod resolves its router {router6} by neighbour solicitation on eth0; {} on {} answers with the lxc's MAC (counted as ndp-reply)",
            program(Interface::Lxc).name,
            src.lxc,
        ),
        _ => format!(
            "before its first packet the pod resolves its gateway {} by ARP on eth0; {} on {} answers with the lxc's MAC (counted as arp-reply)",
            node.constants.router_ipv4,
            program(Interface::Lxc).name,
            src.lxc,
        ),
    }];
    let family_name = family.name();
    match packet.proto {
        Proto::Icmp => {}
        Proto::Tcp => {
            notes.push(format!("the datapath decides on {family_name} addresses only: tcp is carried untouched"))
        }
        Proto::Udp => notes.push(format!(
            "the datapath decides on {family_name} addresses, and reads the UDP port only to refuse a node's overlay port {}",
            node.constants.overlay_port
        )),
    }
    let mut hops = Vec::new();
    let mut step = from_container(view, node, src, &packet, &mut hops);
    let verdict = loop {
        match step {
            Step::Done(verdict) => break verdict,
            Step::Overlay { node, from, vni, ttl } => {
                step = from_overlay(view, node, from, vni, &packet, ttl, &mut hops)
            }
            Step::Netdev { node, ttl } => step = native::from_netdev(view, node, &packet, ttl, &mut hops),
        }
    };
    let loader_fills = |l: &Lookup| match &l.value {
        Some(LookupValue::Endpoint { host: false, ifindex, mac, node_mac, .. }) => {
            *ifindex == 0 || mac == ZERO_MAC || node_mac == ZERO_MAC
        }
        _ => false,
    };
    if view.mode() == Mode::Offline && hops.iter().flat_map(|h| &h.lookups).any(loader_fills) {
        notes.push(
            "offline: a zero ifindex or MAC in an entry is filled in by the loader from the interface".to_string(),
        );
    }
    Ok(Trace {
        mode: view.mode(),
        packet,
        src: Source::Pod(src.clone()),
        dst: Destination { ip: packet.dst, pod: view.pod_by_ip(packet.dst).cloned() },
        notes,
        hops,
        verdict,
    })
}

pub(super) enum Step<'a> {
    Done(Verdict),
    /// Routed natively to `node`'s device ([`super::native`]).
    Netdev {
        node: &'a NodeConfig,
        ttl: u8,
    },
    /// Decapsulated by `node`, sent from the underlay address `from`.
    Overlay {
        node: &'a NodeConfig,
        from: Ipv4Addr,
        vni: u32,
        ttl: u8,
    },
}

fn identity_name(identity: u32) -> Option<&'static str> {
    match identity {
        IDENTITY_HOST => Some("host"),
        IDENTITY_WORLD => Some("world"),
        IDENTITY_HEALTH => Some("health"),
        IDENTITY_REMOTE_NODE => Some("remote-node"),
        _ => None,
    }
}

fn endpoint_value(info: &EndpointInfo) -> LookupValue {
    LookupValue::Endpoint {
        endpoint: info.lxc_id,
        ifindex: info.ifindex,
        flags: info.flags,
        host: info.is_host(),
        mac: info.mac().to_string(),
        node_mac: info.node_mac().to_string(),
        identity: info.sec_id,
    }
}

pub(super) fn lxc_lookup(
    view: &dyn Datapath,
    node: &str,
    ip: IpAddr,
    purpose: &'static str,
) -> (Lookup, Option<EndpointInfo>) {
    let key = EndpointKey::ip(ip);
    let found = view.lxc_lookup(node, &key);
    let family = match Family::of(ip) {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    };
    let lookup = Lookup {
        map: "cilium_lxc",
        match_kind: "exact",
        purpose,
        key: format!("{ip} family {family}"),
        key_hex: hex(&key.to_bytes()),
        hit: found.is_some(),
        matched_key: None,
        matched_key_hex: None,
        value_hex: found.map(|v| hex(&v.to_bytes())),
        value: found.as_ref().map(endpoint_value),
        check: None,
    };
    (lookup, found)
}

pub(super) fn ipcache_lookup(
    view: &dyn Datapath,
    node: &str,
    ip: IpAddr,
    purpose: &'static str,
) -> (Lookup, Option<(IpcacheKey, RemoteEndpointInfo)>) {
    let key = IpcacheKey::host(ip);
    let found = view.ipcache(node).and_then(|ipcache| ipcache.lookup(&key)).copied();
    let lookup = Lookup {
        map: "cilium_ipcache",
        match_kind: "longest-prefix",
        purpose,
        key: format!("{ip}/{} (prefixlen {})", Family::of(ip).host_len(), { key.prefixlen }),
        key_hex: hex(&key.to_bytes()),
        hit: found.is_some(),
        matched_key: found.map(|(k, _)| prefix_text(&k)),
        matched_key_hex: found.map(|(k, _)| hex(&k.to_bytes())),
        value_hex: found.map(|(_, v)| hex(&v.to_bytes())),
        value: found.map(|(_, v)| LookupValue::Remote {
            identity: v.sec_identity,
            identity_name: identity_name(v.sec_identity),
            tunnel_endpoint: v.tunnel_endpoint(),
        }),
        check: None,
    };
    (lookup, found)
}

fn prefix_text(key: &IpcacheKey) -> String {
    match key.ip_prefix_len() {
        Some(len) => format!("{}/{len}", key.ip_addr()),
        None => format!("{} prefixlen {}", key.ip_addr(), { key.prefixlen }),
    }
}

fn mac_text(mac: Mac, mode: Mode) -> String {
    if mac.is_zero() && mode == Mode::Offline {
        "(filled by the loader)".to_string()
    } else {
        mac.to_string()
    }
}

fn dropped(mut hop: Hop, reason: Reason, why: String) -> (Hop, Verdict) {
    let verdict = Verdict::Dropped { node: hop.node.clone(), program: hop.program, reason: reason.into() };
    hop.reason = reason.into();
    hop.action = why;
    (hop, verdict)
}

pub(super) fn drop_hop(hop: Hop, reason: Reason, why: String) -> (Hop, Step<'static>) {
    let (hop, verdict) = dropped(hop, reason, why);
    (hop, Step::Done(verdict))
}

/// A `cilium_lxc` miss where only a local endpoint could be meant.
fn no_endpoint(hop: Hop, node: &NodeConfig, packet: &Packet) -> (Hop, Verdict) {
    dropped(hop, Reason::NoEndpoint, format!("no endpoint on {} has {}", node.name, packet.dst))
}

/// True when the packet is UDP to `node`'s overlay port. Only a node's
/// addresses listen there (the node's VXLAN socket), so only packets for a
/// node are checked.
fn to_overlay_port(node: &NodeConfig, packet: &Packet) -> bool {
    packet.proto == Proto::Udp && packet.port == Some(node.constants.overlay_port)
}

fn overlay_port_drop(mut hop: Hop, node: &NodeConfig, packet: &Packet, whose: &str) -> (Hop, Step<'static>) {
    hop.checks.push(format!("UDP port {} = overlay port {}", node.constants.overlay_port, node.constants.overlay_port));
    let why = format!("{} is {whose}: its overlay port takes VXLAN from other nodes only", packet.dst);
    drop_hop(hop, Reason::OverlayPort, why)
}

/// A host entry of `cilium_lxc`: the packet is for the node itself, and
/// goes to its stack unless it is UDP to the overlay port.
fn to_stack(mut hop: Hop, node: &NodeConfig, packet: &Packet) -> (Hop, Step<'static>) {
    if to_overlay_port(node, packet) {
        return overlay_port_drop(hop, node, packet, &format!("{}'s own address", node.name));
    }
    hop.reason = Reason::ToStack.into();
    hop.action = format!("TC_ACT_OK: {} is {}'s own address, pass to its network stack", packet.dst, node.name);
    let verdict = Verdict::ToStack { node: node.name.clone(), reason: hop.reason };
    (hop, Step::Done(verdict))
}

/// A hop of `program` on `device` before it decides anything.
pub(super) fn new_hop(node: &NodeConfig, program: &Program, device: String, ifindex: Option<u32>) -> Hop {
    Hop {
        node: node.name.clone(),
        device,
        ifindex,
        hook: hook(program),
        program: program.name,
        checks: Vec::new(),
        lookups: Vec::new(),
        reason: Reason::InvalidPacket.into(),
        action: String::new(),
        next: None,
    }
}

fn from_container<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    src: &PodRef,
    packet: &Packet,
    hops: &mut Vec<Hop>,
) -> Step<'a> {
    let hop = new_hop(node, program(Interface::Lxc), src.lxc.clone(), src.ifindex);
    let (hop, step) = from_container_hop(view, node, src, packet, hop);
    hops.push(hop);
    step
}

fn from_container_hop<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    src: &PodRef,
    packet: &Packet,
    mut hop: Hop,
) -> (Hop, Step<'a>) {
    let mode = view.mode();
    // IPv6 for the pod's link only, refused before the source check (lib/lxc6.h).
    if let Some(address) = [packet.dst, packet.src].into_iter().find(|&ip| is_ipv6_link_scope(ip)) {
        hop.checks.push(format!("{address} is multicast, link-local or unspecified"));
        let why = format!("{address} is for the pod's link only, never routed");
        return drop_hop(hop, Reason::Ipv6LinkLocal, why);
    }
    // Source check: the sender must be the endpoint behind this interface.
    let (mut lookup, found) = lxc_lookup(view, &node.name, packet.src, "source");
    let source_ok = match found {
        None => {
            lookup.check = Some("no endpoint has the source address".to_string());
            false
        }
        Some(info) if info.is_host() => {
            lookup.check = Some("the source address is the node's own (host entry)".to_string());
            false
        }
        Some(info) => {
            let (ok, text) = match (info.ifindex, src.ifindex) {
                (0, _) if mode == Mode::Offline => {
                    (true, "ifindex 0 in the seed: filled by the loader with the ingress lxc's ifindex".to_string())
                }
                (entry, Some(ingress)) if entry == ingress => {
                    (true, format!("ifindex {entry} = ingress ifindex {ingress}"))
                }
                (entry, Some(ingress)) => (false, format!("ifindex {entry} != ingress ifindex {ingress}")),
                (entry, None) => (true, format!("ifindex {entry} (the ingress ifindex is not known here)")),
            };
            lookup.check = Some(text);
            ok
        }
    };
    hop.lookups.push(lookup);
    if !source_ok {
        let why = format!("{} is not the endpoint behind {}", packet.src, hop.device);
        return drop_hop(hop, Reason::UnknownSource, why);
    }

    let (lookup, found) = lxc_lookup(view, &node.name, packet.dst, "destination");
    hop.lookups.push(lookup);
    match found {
        Some(info) if info.is_host() => to_stack(hop, node, packet),
        Some(info) => deliver(view, node, packet, packet.ttl, info, Reason::LocalDelivery, hop),
        None => route(view, node, packet, hop),
    }
}

/// `ipv6_is_link_scope` in lib/ipv6.h, for one address: multicast
/// (ff00::/8), link-local (fe80::/10) or unspecified (::).
fn is_ipv6_link_scope(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(ip) => ip.is_multicast() || ip.is_unicast_link_local() || ip.is_unspecified(),
    }
}

/// A `cilium_lxc` pod hit on an ingress hook: TTL check, then delivery.
pub(super) fn deliver<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    packet: &Packet,
    ttl: u8,
    info: EndpointInfo,
    reason: Reason,
    mut hop: Hop,
) -> (Hop, Step<'a>) {
    if ttl <= 1 {
        // IPv6's hop limit is counted as IPv4's TTL is (Cilium's DROP_TTL_EXCEEDED serves both).
        let name = packet.family().ttl_name();
        hop.checks.push(format!("{name} {ttl} <= 1"));
        return drop_hop(hop, Reason::TtlExceeded, format!("the {name} would reach zero"));
    }
    let (hop, verdict) = delivered(view, node, packet, info, reason, Handover::Peer { ttl }, hop);
    (hop, Step::Done(verdict))
}

/// How a program hands a packet to a pod on its node.
enum Handover {
    /// From an ingress hook, straight into the pod: the TTL drops by one.
    Peer { ttl: u8 },
    /// From `cilium_host` egress, out of the lxc: the stack already routed it.
    LxcEgress,
}

/// MAC rewrite and redirect to the pod of the `cilium_lxc` entry `info`.
fn delivered(
    view: &dyn Datapath,
    node: &NodeConfig,
    packet: &Packet,
    info: EndpointInfo,
    reason: Reason,
    handover: Handover,
    mut hop: Hop,
) -> (Hop, Verdict) {
    let mode = view.mode();
    let pod = view.pod_at(&node.name, packet.dst);
    let lxc = pod.map(|p| p.lxc.clone());
    let ifindex = match (info.ifindex, mode) {
        (0, Mode::Offline) => "ifindex filled by the loader".to_string(),
        (ifindex, _) => format!("ifindex {ifindex}"),
    };
    let name = packet.family().ttl_name();
    let (ttl, redirect) = match handover {
        Handover::Peer { ttl } => (format!("{name} {ttl} -> {}", ttl - 1), format!("bpf_redirect_peer({ifindex})")),
        Handover::LxcEgress => {
            (format!("{name} untouched (the stack routed it)"), format!("bpf_redirect({ifindex}) to the lxc's egress"))
        }
    };
    hop.reason = reason.into();
    hop.action = format!(
        "Ethernet source {} destination {}, {ttl}, {redirect}",
        mac_text(info.node_mac(), mode),
        mac_text(info.mac(), mode),
    );
    hop.next = Some(format!(
        "{} ({ifindex}) -> eth0 of {}, endpoint {}",
        lxc.as_deref().unwrap_or("the endpoint's lxc"),
        pod.map_or_else(|| packet.dst.to_string(), |p| p.name.clone()),
        info.lxc_id,
    ));
    let verdict = Verdict::Delivered {
        node: node.name.clone(),
        pod: pod.map(|p| p.name.clone()),
        ip: packet.dst,
        lxc,
        endpoint: info.lxc_id,
        reason: hop.reason,
    };
    (hop, verdict)
}

/// A `cilium_lxc` miss: the ipcache decides between encapsulation and a drop.
fn route<'a>(view: &'a dyn Datapath, node: &'a NodeConfig, packet: &Packet, mut hop: Hop) -> (Hop, Step<'a>) {
    let (lookup, found) = ipcache_lookup(view, &node.name, packet.dst, "destination");
    hop.lookups.push(lookup);
    let Some((key, value)) = found else {
        return drop_hop(hop, Reason::NoRoute, format!("no cilium_ipcache prefix covers {}", packet.dst));
    };
    if is_node_entry(&value) && to_overlay_port(node, packet) {
        return overlay_port_drop(hop, node, packet, "another node's address");
    }
    let Some(remote) = value.tunnel_endpoint() else {
        return drop_hop(hop, Reason::NoTunnelEndpoint, format!("{} has no tunnel endpoint", prefix_text(&key)));
    };
    if remote == node.constants.node_ipv4 {
        return drop_hop(
            hop,
            Reason::NoEndpoint,
            format!(
                "{} is in {}'s own address space ({}) but no endpoint has it",
                packet.dst,
                node.name,
                prefix_text(&key)
            ),
        );
    }
    if node.constants.native_routing {
        return native::forward(view, node, packet, remote, hop);
    }
    hop.reason = Reason::TunnelEncap.into();
    let device = &node.device;
    hop.action = format!(
        "bpf_skb_adjust_room(+50: outer IPv4 {} -> {remote} TTL {TUNNEL_TTL}, UDP {}, VNI {}), \
         bpf_redirect_neigh({device}, next hop {remote})",
        node.constants.node_ipv4, node.constants.overlay_port, node.constants.vni
    );
    match view.node_by_address(remote).filter(|next| view.has_maps(&next.name)) {
        Some(next) => {
            let (next_device, _) = overlay_receiver(next, packet.family());
            hop.next = Some(format!(
                "{device} -> {} UDP {} -> {} {} {next_device}",
                node.overlay, node.constants.overlay_port, next.name, next.constants.node_ipv4
            ));
            (
                hop,
                Step::Overlay { node: next, from: node.constants.node_ipv4, vni: node.constants.vni, ttl: packet.ttl },
            )
        }
        None => {
            hop.next = Some(match view.node_by_address(remote) {
                Some(next) => format!("{device} -> {} {remote}, whose maps this view does not have", next.name),
                None => format!("{device} -> {remote}, which is no node of this view"),
            });
            let verdict = Verdict::LeftCluster { node: node.name.clone(), tunnel_endpoint: remote, reason: hop.reason };
            (hop, Step::Done(verdict))
        }
    }
}

/// An ipcache entry of a node address (the seed's /32 per node): identity
/// remote-node and no tunnel endpoint, which no pod or pod-cidr entry lacks.
fn is_node_entry(value: &RemoteEndpointInfo) -> bool {
    value.sec_identity == IDENTITY_REMOTE_NODE && value.tunnel_endpoint().is_none()
}

/// Where `node` decapsulates an overlay packet of `family`: an IPv4 one at
/// its device (`cil_from_netdev`), anything else after the kernel's VXLAN
/// device (`cil_from_overlay`), with the same checks in the same order. (GSO
/// and checksummed VXLAN also take the second way: a trace is of one small
/// packet.)
fn overlay_receiver(node: &NodeConfig, family: Family) -> (&str, &'static Program) {
    match family {
        Family::Ipv4 => (&node.device, program(Interface::Device)),
        Family::Ipv6 => (OVERLAY_DEVICE, program(Interface::Overlay)),
    }
}

fn from_overlay<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    from: Ipv4Addr,
    vni: u32,
    packet: &Packet,
    ttl: u8,
    hops: &mut Vec<Hop>,
) -> Step<'a> {
    let (device, program) = overlay_receiver(node, packet.family());
    let hop = new_hop(node, program, device.to_string(), None);
    let (hop, step) = from_overlay_hop(view, node, from, vni, packet, ttl, hop);
    hops.push(hop);
    step
}

fn from_overlay_hop<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    from: Ipv4Addr,
    vni: u32,
    packet: &Packet,
    ttl: u8,
    mut hop: Hop,
) -> (Hop, Step<'a>) {
    if vni != node.constants.vni {
        hop.checks.push(format!("tunnel id {vni} != VNI {}", node.constants.vni));
        let why = format!("the packet carries VNI {vni}, {} expects {}", node.name, node.constants.vni);
        return drop_hop(hop, Reason::WrongVni, why);
    }
    hop.checks.push(format!("tunnel id {vni} = VNI {}", node.constants.vni));

    // Outer source: another node of the cluster, never this one.
    let (mut lookup, found) = ipcache_lookup(view, &node.name, IpAddr::V4(from), "tunnel source");
    let sender_ok = from != node.constants.node_ipv4 && found.is_some_and(|(_, value)| is_node_entry(&value));
    lookup.check = Some(if from == node.constants.node_ipv4 {
        format!("{from} is {}'s own address (NODE_IPV4)", node.name)
    } else if sender_ok {
        format!("{from} is another node (identity remote-node, no tunnel endpoint)")
    } else {
        format!("{from} is no node of the cluster")
    });
    hop.lookups.push(lookup);
    if !sender_ok {
        let why = format!("the outer source {from} is not another node of the cluster");
        return drop_hop(hop, Reason::UnknownTunnelSource, why);
    }

    // Inner source: an endpoint the sending node hosts.
    let (mut lookup, found) = ipcache_lookup(view, &node.name, packet.src, "source");
    let endpoint = found.and_then(|(_, value)| value.tunnel_endpoint());
    lookup.check = Some(match endpoint {
        Some(endpoint) if endpoint == from => format!("tunnel endpoint {endpoint} = outer source {from}"),
        Some(endpoint) => format!("tunnel endpoint {endpoint} != outer source {from}"),
        None => format!("no tunnel endpoint: {from} cannot speak for {}", packet.src),
    });
    hop.lookups.push(lookup);
    if endpoint != Some(from) {
        let why = format!("{from} sent a packet from {}, which is not its endpoint", packet.src);
        return drop_hop(hop, Reason::InnerSourceMismatch, why);
    }

    let (lookup, found) = lxc_lookup(view, &node.name, packet.dst, "destination");
    hop.lookups.push(lookup);
    match found {
        Some(info) if info.is_host() => to_stack(hop, node, packet),
        Some(info) => deliver(view, node, packet, ttl, info, Reason::OverlayDelivery, hop),
        None => {
            let (hop, verdict) = no_endpoint(hop, node, packet);
            (hop, Step::Done(verdict))
        }
    }
}

/// A packet the node's stack routes into its pod-cidr: `cil_from_host` on
/// `cilium_host` egress.
pub fn trace_from_node(view: &dyn Datapath, node: &NodeConfig, packet: Packet) -> Result<Trace, TraceError> {
    check_buildable(view)?;
    let family = packet.family();
    if !node.pod_cidr_contains(packet.dst) {
        return Err(TraceError::NotViaHost {
            node: node.name.clone(),
            dst: packet.dst,
            cidr: node.pod_cidr_text(family).unwrap_or_else(|| format!("(it has no {} pod-cidr)", family.name())),
        });
    }
    if !view.has_maps(&node.name) {
        return Err(TraceError::NoMaps { sender: format!("node {}", node.name), node: node.name.clone() });
    }
    let program = program(Interface::Host);
    let device = bpf::HOST_DEVICE.to_string();
    let mut hop = new_hop(node, program, device, None);
    let (lookup, found) = lxc_lookup(view, &node.name, packet.dst, "destination");
    hop.lookups.push(lookup);
    let (hop, verdict) = match found {
        Some(info) if !info.is_host() => {
            delivered(view, node, &packet, info, Reason::HostDelivery, Handover::LxcEgress, hop)
        }
        _ => no_endpoint(hop, node, &packet),
    };
    Ok(Trace {
        mode: view.mode(),
        packet,
        src: Source::Node {
            name: node.name.clone(),
            address: node
                .addresses()
                .find(|&a| Family::of(a) == family)
                .unwrap_or(IpAddr::V4(node.constants.node_ipv4)),
            router: packet.src,
        },
        dst: Destination { ip: packet.dst, pod: view.pod_by_ip(packet.dst).cloned() },
        notes: vec![format!(
            "the node's stack routes {} to {} with source {}",
            node.pod_cidr_text(family).unwrap_or_default(),
            hop.device,
            packet.src
        )],
        hops: vec![hop],
        verdict,
    })
}
