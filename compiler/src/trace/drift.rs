//! Drift between what a build says the maps hold and what the kernel's pinned
//! maps hold. The loader fills ifindexes and MACs the cluster did not declare,
//! so a zero there in the build matches any live value.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::view::{hex, Datapath, Snapshot};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, MapKey, NodeIpv6Key, RemoteEndpointInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// In the build, not in the kernel.
    Missing,
    /// In the kernel, not in the build.
    Stale,
    /// In both, with different values (beyond what the loader fills).
    Different,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub node: String,
    pub map: &'static str,
    pub kind: DriftKind,
    pub key: String,
    pub key_hex: String,
    pub expected_hex: Option<String>,
    pub live_hex: Option<String>,
    /// For `different`: the fields that differ.
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// Entries compared (the union of both sides).
    pub compared: usize,
    pub drift: Vec<Drift>,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

fn lxc_fields(expected: &EndpointInfo, live: &EndpointInfo) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if expected.ifindex != 0 && expected.ifindex != live.ifindex {
        fields.push("ifindex");
    }
    if expected.lxc_id != live.lxc_id {
        fields.push("lxc_id");
    }
    if expected.flags != live.flags {
        fields.push("flags");
    }
    if !expected.mac().is_zero() && expected.mac != live.mac {
        fields.push("mac");
    }
    if !expected.node_mac().is_zero() && expected.node_mac != live.node_mac {
        fields.push("node_mac");
    }
    if expected.sec_id != live.sec_id {
        fields.push("sec_id");
    }
    let (e_unused, l_unused, e_pad0, l_pad0) = (expected.unused, live.unused, expected.pad0, live.pad0);
    if e_unused != l_unused
        || e_pad0 != l_pad0
        || expected.pad != live.pad
        || expected.mac[6..] != live.mac[6..]
        || expected.node_mac[6..] != live.node_mac[6..]
    {
        fields.push("padding");
    }
    fields
}

fn ipcache_fields(expected: &RemoteEndpointInfo, live: &RemoteEndpointInfo) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if expected.sec_identity != live.sec_identity {
        fields.push("sec_identity");
    }
    if expected.tunnel_endpoint != live.tunnel_endpoint {
        fields.push("tunnel_endpoint");
    }
    if expected.key != live.key {
        fields.push("key");
    }
    let (e_pad, l_pad) = (expected.pad, live.pad);
    if e_pad != l_pad || expected.flags != live.flags {
        fields.push("padding");
    }
    fields
}

/// Compares two sides entry by entry, in key order over the union of keys.
fn compare<K: Ord + Clone, V>(
    expected: BTreeMap<K, V>,
    live: BTreeMap<K, V>,
    mut emit: impl FnMut(&K, Option<&V>, Option<&V>),
) -> usize {
    let keys: BTreeSet<&K> = expected.keys().chain(live.keys()).collect();
    for key in &keys {
        emit(key, expected.get(key), live.get(key));
    }
    keys.len()
}

fn kind_of<V>(expected: Option<&V>, live: Option<&V>, fields: &[&'static str]) -> Option<DriftKind> {
    match (expected, live) {
        (Some(_), None) => Some(DriftKind::Missing),
        (None, Some(_)) => Some(DriftKind::Stale),
        _ if !fields.is_empty() => Some(DriftKind::Different),
        _ => None,
    }
}

/// Every entry missing, stale or different between `expected` (a build) and
/// `live` (the kernel), node by node, `cilium_lxc`, `cilium_ipcache`, then
/// `routec_node_ipv6` (empty on both sides but for a native cluster with
/// IPv6 node addresses).
/// Only nodes whose maps `live` has are compared.
pub fn drift(expected: &Snapshot, live: &Snapshot) -> DriftReport {
    let mut report = DriftReport { compared: 0, drift: Vec::new() };
    for node in expected.nodes.iter().filter(|n| live.has_maps(&n.name)) {
        let name = node.name.as_str();
        let exp: BTreeMap<_, _> = expected.lxc_entries(name).into_iter().map(|(k, v)| (k.to_bytes(), v)).collect();
        let liv: BTreeMap<_, _> = live.lxc_entries(name).into_iter().map(|(k, v)| (k.to_bytes(), v)).collect();
        report.compared += compare(exp, liv, |key, e, l| {
            let fields = match (e, l) {
                (Some(e), Some(l)) => lxc_fields(e, l),
                _ => Vec::new(),
            };
            if let Some(kind) = kind_of(e, l, &fields) {
                let decoded = EndpointKey::from_bytes(key).expect("key size");
                report.drift.push(Drift {
                    node: name.to_string(),
                    map: "cilium_lxc",
                    kind,
                    key: decoded.ip_addr().to_string(),
                    key_hex: hex(key),
                    expected_hex: e.map(|v| hex(&v.to_bytes())),
                    live_hex: l.map(|v| hex(&v.to_bytes())),
                    fields,
                });
            }
        });

        let entries = |side: &Snapshot| -> BTreeMap<[u8; IpcacheKey::SIZE], RemoteEndpointInfo> {
            side.ipcache(name)
                .map(|c| c.entries())
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_bytes(), v))
                .collect()
        };
        report.compared += compare(entries(expected), entries(live), |key, e, l| {
            let fields = match (e, l) {
                (Some(e), Some(l)) => ipcache_fields(e, l),
                _ => Vec::new(),
            };
            if let Some(kind) = kind_of(e, l, &fields) {
                let decoded = IpcacheKey::from_bytes(key).expect("key size");
                let prefix = decoded.ip_prefix_len().map_or(String::new(), |len| format!("/{len}"));
                report.drift.push(Drift {
                    node: name.to_string(),
                    map: "cilium_ipcache",
                    kind,
                    key: format!("{}{prefix}", decoded.ip_addr()),
                    key_hex: hex(key),
                    expected_hex: e.map(|v| hex(&v.to_bytes())),
                    live_hex: l.map(|v| hex(&v.to_bytes())),
                    fields,
                });
            }
        });

        let node_ipv6 = |side: &Snapshot| -> BTreeMap<_, _> {
            side.node_ipv6_entries(name).into_iter().map(|(k, v)| (k.to_bytes(), v)).collect()
        };
        report.compared += compare(node_ipv6(expected), node_ipv6(live), |key, e, l| {
            let fields = match (e, l) {
                (Some(e), Some(l)) if e != l => vec!["node_ipv6"],
                _ => Vec::new(),
            };
            if let Some(kind) = kind_of(e, l, &fields) {
                report.drift.push(Drift {
                    node: name.to_string(),
                    map: NodeIpv6Key::SPEC.name,
                    kind,
                    key: std::net::Ipv4Addr::from(*key).to_string(),
                    key_hex: hex(key),
                    expected_hex: e.map(|v| hex(&v.to_bytes())),
                    live_hex: l.map(|v| hex(&v.to_bytes())),
                    fields,
                });
            }
        });
    }
    report
}
