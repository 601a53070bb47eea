//! Native routing (`overlay none`) in the simulation: `cil_from_container`
//! sending a packet for another node's pod out of the node's device with
//! that node as next hop (`bpf_redirect_neigh`), and `cil_from_netdev` on
//! the receiving node's device (docs/datapath.md, "Native routing").

use std::net::{IpAddr, Ipv4Addr};

use super::simulate::{
    deliver, drop_hop, ipcache_lookup, lxc_lookup, new_hop, program, Family, Hop, Packet, Step, Verdict,
};
use super::view::{Datapath, NodeConfig};
use crate::bpf::Interface;
use crate::layout::Reason;

/// `cil_from_container`'s last step under native routing: the packet leaves
/// through `node`'s device for `remote`, the node whose ipcache entry covers
/// the destination. An IPv6 packet has no next hop: dropped `no-route`.
pub(super) fn forward<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    packet: &Packet,
    remote: Ipv4Addr,
    mut hop: Hop,
) -> (Hop, Step<'a>) {
    if packet.family() == Family::Ipv6 {
        // lib/lxc6.h: the kernel takes only an IPv6 next hop for an IPv6
        // packet, and the ipcache names the node by its IPv4 address.
        let why = format!("native routing has no IPv6 next hop for {}", packet.dst);
        return drop_hop(hop, Reason::NoRoute, why);
    }
    let next = view.node_by_address(remote);
    hop.reason = Reason::NativeForward.into();
    hop.action = format!(
        "bpf_redirect_neigh({}, next hop {remote}): the kernel resolves {remote}'s MAC on {} and writes the \
         Ethernet header",
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

/// `cil_from_netdev` on `node`'s device: a packet another node routed here.
pub(super) fn from_netdev<'a>(
    view: &'a dyn Datapath,
    node: &'a NodeConfig,
    packet: &Packet,
    ttl: u8,
    hops: &mut Vec<Hop>,
) -> Step<'a> {
    let mut hop = new_hop(node, program(Interface::Device), node.device.clone(), None);
    hop.checks.push(format!("untagged IPv4 to {}'s MAC (PACKET_HOST)", node.device));
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
    let IpAddr::V4(src4) = src else { return None };
    if is_martian(src4) {
        hop.checks.push(format!("source {src} is a martian (0/8, 127/8, 224/4, 255.255.255.255)"));
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

/// `TC_ACT_OK`: the node's stack handles the packet, as if no program ran.
fn to_stack(mut hop: Hop, node: &NodeConfig, why: String) -> (Hop, Step<'static>) {
    hop.reason = Reason::ToStack.into();
    hop.action = format!("TC_ACT_OK: {why}, pass to its network stack");
    let verdict = Verdict::ToStack { node: node.name.clone(), reason: hop.reason };
    (hop, Step::Done(verdict))
}
