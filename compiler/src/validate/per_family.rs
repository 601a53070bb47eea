//! The node rules that read the same in both address families: disjoint
//! pod-cidrs and node addresses outside them (E0009, E0014), and which
//! node's pod-cidr holds an address (for E0007's "did you mean"). One code
//! path over `IpAddr`/`IpNet`, run by `validate` for IPv4 and by
//! `dual_stack` for IPv6.

use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};
use ipnet::IpNet;

use crate::diagnostics::{short, Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::Spanned;

/// A node's valid address and pod-cidr of one family, where declared.
pub(crate) struct NodeNet<'a> {
    pub name: &'a Spanned<String>,
    pub address: Option<(IpAddr, Span)>,
    pub pod_cidr: Option<(IpNet, Span)>,
}

/// An address as an integer of its family's width (IPv4 zero-extended).
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn width(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// Which node's pod-cidr holds an address: one hash probe per prefix length
/// in use, so a lookup is O(1) for any number of nodes.
pub(crate) struct CidrOwners {
    by_len: Vec<(u8, HashMap<u128, usize>)>,
}

impl CidrOwners {
    pub fn new(nodes: &[NodeNet]) -> CidrOwners {
        let mut by_len: Vec<(u8, HashMap<u128, usize>)> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let Some((net, _)) = node.pod_cidr else { continue };
            let slot = match by_len.iter().position(|(len, _)| *len == net.prefix_len()) {
                Some(slot) => slot,
                None => {
                    by_len.push((net.prefix_len(), HashMap::new()));
                    by_len.len() - 1
                }
            };
            by_len[slot].1.entry(bits(net.network())).or_insert(i);
        }
        CidrOwners { by_len }
    }

    /// The index of the node whose pod-cidr holds `addr` (nodes of one family).
    pub fn find(&self, addr: IpAddr) -> Option<usize> {
        let (addr, width) = (bits(addr), width(addr));
        self.by_len.iter().find_map(|(len, map)| {
            let mask = if *len == 0 { 0 } else { u128::MAX << (width - len) };
            map.get(&(addr & mask)).copied()
        })
    }
}

/// E0009 overlapping pod-cidrs, E0014 shared node addresses and node
/// addresses inside a pod-cidr. Sorting and hashing keep this O(n log n)
/// for thousands of nodes. `cidr_word` names the pod-cidr in the help
/// (`pod-cidr`, `IPv6 pod-cidr`).
pub(crate) fn node_overlaps(nodes: &[NodeNet], cidr_word: &str, diags: &mut Vec<Diagnostic>) {
    let mut addresses: HashMap<IpAddr, usize> = HashMap::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        let Some((addr, span)) = node.address else { continue };
        match addresses.get(&addr) {
            Some(&first) => {
                let other = &nodes[first];
                diags.push(
                    Diagnostic::new(
                        Code::E0014,
                        span,
                        format!(
                            "nodes `{}` and `{}` have the same address {addr}",
                            short(&other.name.value),
                            short(&node.name.value),
                        ),
                    )
                    .label("used again here")
                    .secondary(other.address.map_or(other.name.span, |(_, span)| span), "first used here")
                    .help("every node needs its own underlay address"),
                );
            }
            None => {
                addresses.insert(addr, i);
            }
        }
    }

    let mut ranges: Vec<(u128, u128, usize)> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, node)| node.pod_cidr.map(|(net, _)| (bits(net.network()), bits(net.broadcast()), i)))
        .collect();
    ranges.sort_unstable_by_key(|&(start, end, i)| (start, std::cmp::Reverse(end), i));
    let mut widest: Option<(u128, usize)> = None;
    for &(start, end, i) in &ranges {
        match widest {
            Some((widest_end, j)) if start <= widest_end => {
                let (first, second) = (&nodes[j.min(i)], &nodes[j.max(i)]);
                let (first_net, first_span) = first.pod_cidr.expect("ranges come from pod-cidrs");
                let (second_net, second_span) = second.pod_cidr.expect("ranges come from pod-cidrs");
                diags.push(
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
                    .help(format!("give every node its own, disjoint {cidr_word}")),
                );
                if end > widest_end {
                    widest = Some((end, i));
                }
            }
            _ => widest = Some((end, i)),
        }
    }

    let owners = CidrOwners::new(nodes);
    for node in nodes {
        let Some((addr, span)) = node.address else { continue };
        if let Some(other) = owners.find(addr).map(|i| &nodes[i]) {
            let (net, cidr_span) = other.pod_cidr.expect("owners hold pod-cidrs");
            diags.push(
                Diagnostic::new(
                    Code::E0014,
                    span,
                    format!("address {addr} of node `{}` is inside pod-cidr {net}", short(&node.name.value)),
                )
                .label("node address in a pod-cidr")
                .secondary(cidr_span, format!("pod-cidr of `{}`", short(&other.name.value)))
                .help("node addresses are on the underlay, outside every pod-cidr"),
            );
        }
    }
}
