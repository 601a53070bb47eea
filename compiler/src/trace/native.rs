//! Native routing (`overlay none`) in the simulation: `cil_from_container`
//! sending a packet for another node's pod out of the node's device with
//! that node as next hop (`bpf_redirect_neigh`), and `cil_from_netdev` on
//! the receiving node's device (docs/datapath.md, "Native routing"), for
//! IPv4 and IPv6 packets alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::simulate::{
    deliver, drop_hop, ipcache_lookup, lxc_lookup, new_hop, program, Family, Hop, Lookup, LookupValue, Packet, Step,
    Verdict,
};
use super::view::{hex, Datapath, NodeConfig};
use crate::bpf::Interface;
use crate::layout::{MapKey, NodeIpv6, NodeIpv6Key, Reason};

/// `cil_from_container`'s last step under native routing: the packet leaves
/// through `node`'s device for `remote`, the node whose ipcache entry covers
/// the destination; an IPv6 packet for `remote`'s IPv6 address, from
/// `routec_node_ipv6` (`native_forward6`), or dropped `no-route` without one.
pub(super) fn forward<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    packet: &Packet,
    remote: Ipv4Addr,
    mut hop: Hop,
) -> (Hop, Step<'a>) {
    let next_hop = match packet.family() {
        Family::Ipv4 => IpAddr::V4(remote),
        Family::Ipv6 => {
            let (lookup, found) = node_ipv6_lookup(view, &node.name, remote);
            hop.lookups.push(lookup);
            match found {
                Some(ip6) => IpAddr::V6(ip6),
                None => {
                    let why = format!("routec_node_ipv6 has no IPv6 address of node {remote}: no next hop");
                    return drop_hop(hop, Reason::NoRoute, why);
                }
            }
        }
    };
    let next = view.node_by_address(remote);
    // IPv4 resolves by ARP, IPv6 by neighbour discovery.
    let resolution = match next_hop {
        IpAddr::V4(_) => "",
        IpAddr::V6(_) => " by neighbour discovery",
    };
    hop.reason = Reason::NativeForward.into();
    hop.action = format!(
        "bpf_redirect_neigh({}, next hop {next_hop}): the kernel resolves {next_hop}'s MAC on {}{resolution} and \
         writes the Ethernet header",
        node.device, node.device
    );
    match next.filter(|next| view.has_maps(&next.name)) {
        Some(next) => {
            hop.next = Some(format!("{} -> underlay -> {} {remote} {}", node.device, next.name, next.device));
            (hop, Step::Netdev { node: next, ttl: packet.ttl })
        }
        None => {
            hop.next = Some(match next {
                Some(next) => {
                    format!("{} -> {} {remote}, whose maps this view does not have", node.device, next.name)
                }
                None => format!("{} -> {remote}, which is no node of this view", node.device),
            });
            let verdict = Verdict::LeftCluster { node: node.name.clone(), tunnel_endpoint: remote, reason: hop.reason };
            (hop, Step::Done(verdict))
        }
    }
}

/// `native_forward6`'s lookup of the destination node's IPv6 address.
fn node_ipv6_lookup(view: &dyn Datapath, node: &str, remote: Ipv4Addr) -> (Lookup, Option<Ipv6Addr>) {
    let key = NodeIpv6Key { node_ipv4: remote };
    let found = view.node_ipv6_lookup(node, remote);
    let lookup = Lookup {
        map: NodeIpv6Key::SPEC.name,
        match_kind: "exact",
        purpose: "next hop",
        key: format!("node {remote}"),
        key_hex: hex(&key.to_bytes()),
        hit: found.is_some(),
        matched_key: None,
        matched_key_hex: None,
        value_hex: found.map(|node_ipv6| hex(&NodeIpv6 { node_ipv6 }.to_bytes())),
        value: found.map(|node_ipv6| LookupValue::NodeIpv6 { node_ipv6 }),
        check: found.map(|ip6| format!("the IPv6 next hop: {ip6}")),
    };
    (lookup, found)
}

/// `cil_from_netdev` on `node`'s device: a packet another node routed here.
pub(super) fn from_netdev<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    packet: &Packet,
    ttl: u8,
    hops: &mut Vec<Hop>,
) -> Step<'a> {
    let mut hop = new_hop(node, program(Interface::Device), node.device.clone(), None);
    let family = match packet.family() {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    };
    hop.checks.push(format!("untagged {family} to {}'s MAC (PACKET_HOST)", node.device));
    let (lookup, found) = lxc_lookup(view, &node.name, packet.dst, "destination");
    hop.lookups.push(lookup);
    let (hop, step) = match found {
        Some(info) if !info.is_host() => match refused_source(view, node, packet.src, &mut hop) {
            Some(why) => drop_hop(hop, Reason::UnknownSource, why),
            None => deliver(view, node, packet, ttl, info, Reason::NetdevDelivery, hop),
        },
        Some(_) => {
            let why = format!("{} is {}'s own address", packet.dst, node.name);
            to_stack(hop, node, why)
        }
        None => {
            let (mut lookup, found) = ipcache_lookup(view, &node.name, packet.dst, "destination");
            let own = found.and_then(|(_, value)| value.tunnel_endpoint()) == Some(node.constants.node_ipv4);
            lookup.check = Some(match own {
                true => {
                    format!("tunnel endpoint {} = NODE_IPV4: {}'s own pod-cidr", node.constants.node_ipv4, node.name)
                }
                false => format!("not {}'s: another node's or no one's", node.name),
            });
            hop.lookups.push(lookup);
            match own {
                true => drop_hop(hop, Reason::NoEndpoint, format!("no endpoint on {} has {}", node.name, packet.dst)),
                false => {
                    let why = format!("{} is no pod of {}", packet.dst, node.name);
                    to_stack(hop, node, why)
                }
            }
        }
    };
    hops.push(hop);
    step
}

/// Why a packet for one of `node`'s pods cannot have come from the underlay
/// with source `src` (`native_source_refused` in lib/native.h), if it cannot.
fn refused_source(view: &dyn Datapath, node: &NodeConfig, src: IpAddr, hop: &mut Hop) -> Option<String> {
    let martian = match src {
        IpAddr::V4(src4) => is_martian(src4).then_some("0/8, 127/8, 224/4, 255.255.255.255"),
        IpAddr::V6(src6) => is_martian6(src6).then_some("ff00::/8, fe80::/10, ::, ::1"),
    };
    if let Some(which) = martian {
        hop.checks.push(format!("source {src} is a martian ({which})"));
        return Some(format!("no host sends from {src}"));
    }
    let (mut lookup, found) = lxc_lookup(view, &node.name, src, "source");
    if found.is_some() {
        lookup.check = Some(format!("{src} is {}'s own endpoint or address", node.name));
        hop.lookups.push(lookup);
        return Some(format!("{src} is on {}: it never comes in through {}", node.name, node.device));
    }
    hop.lookups.push(lookup);
    let (mut lookup, found) = ipcache_lookup(view, &node.name, src, "source");
    let own = found.and_then(|(_, value)| value.tunnel_endpoint()) == Some(node.constants.node_ipv4);
    lookup.check = Some(match own {
        true => format!("tunnel endpoint {} = NODE_IPV4: {}'s own pod-cidr", node.constants.node_ipv4, node.name),
        false => format!("not {}'s", node.name),
    });
    hop.lookups.push(lookup);
    own.then(|| format!("{src} is in {}'s own pod-cidr: it never comes in through {}", node.name, node.device))
}

/// The sources `native_is_martian` in lib/native.h refuses.
fn is_martian(ip: Ipv4Addr) -> bool {
    let first = ip.octets()[0];
    first == 0 || first == 127 || ip.is_multicast() || ip.is_broadcast()
}

/// The sources `native_is_martian6` in lib/native.h refuses.
fn is_martian6(ip: Ipv6Addr) -> bool {
    ip.is_multicast()
        || ip.is_unicast_link_local()
        || ip.is_unspecified()
        || ip.is_loopback()
        || ip.to_ipv4_mapped().is_some()
}

/// `TC_ACT_OK`: the node's stack handles the packet, as if no program ran.
fn to_stack(mut hop: Hop, node: &NodeConfig, why: String) -> (Hop, Step<'static>) {
    hop.reason = Reason::ToStack.into();
    hop.action = format!("TC_ACT_OK: {why}, pass to its network stack");
    let verdict = Verdict::ToStack { node: node.name.clone(), reason: hop.reason };
    (hop, Step::Done(verdict))
}
