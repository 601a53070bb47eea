//! The node and pod rules that read the same in both address families:
//! unique pod ips (E0008), disjoint pod-cidrs and node addresses outside
//! them (E0009, E0014), and which node's pod-cidr holds an address (for
//! E0007's "did you mean"), and the checks of one pod-cidr prefix (E0011,
//! E0001). One code path over addresses as integers of
//! their family's width, for IPv4 and IPv6 alike, each family with its own
//! indexes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::cross::Found;
use super::{Ref, Refs, Rule, Validation};
use crate::diagnostics::{short, Code, Diagnostic};
use crate::model::rules::{POD_CIDR6_MAX_LEN, POD_CIDR_MAX_LEN};
use crate::source::Span;

/// An address family: which indexes a fact goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    fn width(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// The addresses of a prefix length: the bits kept of an address.
    pub fn mask(self, len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            u128::MAX << (self.width() - len)
        }
    }

    /// The last address of the prefix `net`/`len`.
    pub fn last(self, net: u128, len: u8) -> u128 {
        let all = if self == Family::V4 { u128::from(u32::MAX) } else { u128::MAX };
        net | (all & !self.mask(len))
    }

    /// The longest prefix length.
    pub fn max_len(self) -> u8 {
        self.width()
    }

    /// What the help of E0009 calls a pod-cidr of this family.
    fn cidr_word(self) -> &'static str {
        match self {
            Family::V4 => "pod-cidr",
            Family::V6 => "IPv6 pod-cidr",
        }
    }
}

/// A pod-cidr as written: its length in range for the family (E0011), no
/// host bits (E0001), and room for what a pod-cidr holds (E0011).
pub(crate) fn checked_pod_cidr(span: Span, addr: IpAddr, len: u8, diags: &mut Vec<Diagnostic>) -> Option<IpNet> {
    let (family, max_len, range_help, room_help) = match addr {
        IpAddr::V4(_) => (
            Family::V4,
            POD_CIDR_MAX_LEN,
            None,
            "a pod-cidr needs room for its network, router, pods and broadcast addresses",
        ),
        IpAddr::V6(_) => (
            Family::V6,
            POD_CIDR6_MAX_LEN,
            Some("an IPv6 prefix length is 0..128"),
            "an IPv6 pod-cidr needs room for its network, router and pod addresses",
        ),
    };
    let Ok(net) = IpNet::new(addr, len) else {
        debug_assert!(len > family.max_len());
        let out_of_range = Diagnostic::new(Code::E0011, span, format!("prefix length {len} is out of range"))
            .label(format!("expected 0..={max_len}"));
        diags.push(match range_help {
            Some(help) => out_of_range.help(help),
            None => out_of_range,
        });
        return None;
    };
    if net.network() != addr {
        diags.push(
            Diagnostic::new(Code::E0001, span, format!("`{addr}/{len}` has host bits set"))
                .label("not a network prefix")
                .help(format!("did you mean `{}`?", net.trunc())),
        );
        return None;
    }
    if len > max_len {
        diags.push(
            Diagnostic::new(Code::E0011, span, format!("pod-cidr prefix length {len} is out of range"))
                .label(format!("expected 0..={max_len}"))
                .help(room_help),
        );
        return None;
    }
    Some(net)
}

/// An address as an integer of its family's width (IPv4 zero-extended).
pub(crate) fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// A pod-cidr as an index key: its network's bits and its length.
pub(crate) fn cidr_key(net: IpNet) -> (u128, u8) {
    (bits(net.network()), net.prefix_len())
}

/// The indexes of one address family, each list in declaration order.
#[derive(Debug, Default)]
pub(crate) struct FamilyIndex {
    /// By the first `ip` of the family of each pod.
    pub pod_ips: BTreeMap<u128, Refs>,
    /// By the `ip`s given again (E0003): an expectation may name them.
    pub more_pod_ips: BTreeMap<u128, Refs>,
    pub node_addresses: BTreeMap<u128, Refs>,
    pub pod_cidrs: BTreeMap<(u128, u8), Refs>,
    /// The nodes with a pod-cidr of each prefix length: lookups probe only
    /// these.
    pub pod_cidr_lengths: BTreeMap<u8, Refs>,
    /// The prefix lengths in use, in the order their first pod-cidrs are
    /// declared: the order in which lookups probe them.
    pub length_order: Vec<u8>,
}

impl FamilyIndex {
    /// Sets [`Self::length_order`] again; whether two lengths that were in
    /// use before and still are swapped places (a lookup of an address in
    /// pod-cidrs of both may find the other now).
    pub fn reorder_lengths(&mut self) -> bool {
        let mut order: Vec<(Ref, u8)> = self.pod_cidr_lengths.iter().map(|(&len, refs)| (refs[0], len)).collect();
        order.sort_unstable();
        let order: Vec<u8> = order.into_iter().map(|(_, len)| len).collect();
        let kept = |of: &[u8], other: &[u8]| of.iter().copied().filter(|l| other.contains(l)).collect::<Vec<u8>>();
        let swapped = kept(&self.length_order, &order) != kept(&order, &self.length_order);
        self.length_order = order;
        swapped
    }
}

impl Validation {
    /// The node whose pod-cidr holds `addr`: of the prefix lengths in the
    /// order they are first declared, the first that matches; of equal
    /// pod-cidrs, the first declared. (Pod-cidrs that overlap are E0009.)
    pub(super) fn pod_cidr_holding(&self, family: Family, addr: u128) -> Option<Ref> {
        let ix = &self.index.families[family as usize];
        let mut lengths = ix.length_order.iter();
        lengths.find_map(|&len| ix.pod_cidrs.get(&(addr & family.mask(len), len)).map(|refs| refs[0]))
    }

    /// E0014: two nodes with one address.
    pub(super) fn same_node_address(&self, family: Family, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let other = self.node(first);
        let other_address = other.address(family).expect("indexed by address");
        for &r in again {
            let d = self.node(r);
            let addr = d.address(family).expect("indexed by address");
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
    pub(super) fn node_address_in_pod_cidr(&self, family: Family, addr: u128, refs: &[Ref], found: &mut Vec<Found>) {
        let Some(owner) = self.pod_cidr_holding(family, addr) else { return };
        let other = self.node(owner);
        let (net, span) = other.pod_cidr(family).expect("indexed by pod-cidr");
        for &r in refs {
            let d = self.node(r);
            let address = d.address(family).expect("indexed by address");
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
    pub(super) fn pod_cidr_overlap(&self, family: Family, net: u128, len: u8, refs: &[Ref], found: &mut Vec<Found>) {
        let ix = &self.index.families[family as usize];
        let mut lengths = ix.pod_cidr_lengths.range(..len).map(|(&l, _)| l);
        let wider = lengths.find_map(|l| ix.pod_cidrs.get(&(net & family.mask(l), l)).map(|refs| refs[0]));
        for (k, &r) in refs.iter().enumerate() {
            let Some(widest) = wider.or((k > 0).then(|| refs[0])) else { continue };
            let (a, b) = if widest < r { (widest, r) } else { (r, widest) };
            let (first, second) = (self.node(a), self.node(b));
            let (first_net, first_span) = first.pod_cidr(family).expect("indexed by pod-cidr");
            let (second_net, second_span) = second.pod_cidr(family).expect("indexed by pod-cidr");
            found.push((
                Rule::PodCidrOverlap(family),
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
                .help(format!("give every node its own, disjoint {}", family.cidr_word())),
            ));
        }
    }

    /// E0008: two pods with one ip.
    pub(super) fn same_pod_ip(&self, family: Family, refs: &[Ref], found: &mut Vec<Found>) {
        let Some((&first, again)) = refs.split_first() else { return };
        let first = self.pod(first).ip(family).expect("indexed by ip");
        for &r in again {
            let ip = self.pod(r).ip(family).expect("indexed by ip");
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
}
