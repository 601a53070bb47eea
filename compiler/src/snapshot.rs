//! `routec snapshot`: a deterministic, readable text of what a cluster
//! compiles to, for review as a diff. Per node: the programs and their hooks,
//! the load-time constants, every `cilium_lxc` entry; then the cluster's
//! `cilium_ipcache` and, when it has entries, `routec_node_ipv6`; then the
//! reachability summary of `trace --all`. Entries
//! come from `seeds` and bytes from `layout`, as the build writes them, so a
//! change to the config shows up as a change to the datapath. Nothing in it
//! depends on the machine (no paths, no host byte order, no time).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use similar::{ChangeTag, TextDiff};

use crate::bpf::{self, LoadConstants};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, RemoteEndpointInfo};
use crate::model::Cluster;
use crate::seeds::{self, hex_bytes};
use crate::trace::{self, Snapshot, TraceError};

/// The first line of every snapshot; bumped when the layout of the text changes.
pub const HEADER: &str = "# routec snapshot, format 1";

/// The snapshot text of `cluster`.
pub fn render(cluster: &Cluster) -> Result<String, TraceError> {
    let mut out = String::new();
    let _ = writeln!(out, "{HEADER}");
    let overlay = &cluster.overlay;
    let _ = writeln!(
        out,
        "cluster {}: overlay {} port {} vni {}, mtu {} (pods {})",
        cluster.name,
        overlay.kind.as_str(),
        overlay.port,
        overlay.vni,
        cluster.mtu,
        cluster.pod_mtu()
    );
    for (index, node) in cluster.nodes.iter().enumerate() {
        let _ = writeln!(out, "\nnode {}", node.name);
        let none = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
        let _ = writeln!(
            out,
            "  address {}, pod-cidr {}, router {}, device {}",
            node.address,
            none(node.pod_cidr.map(|n| n.to_string())),
            none(node.router.map(|r| r.to_string())),
            node.device
        );
        if node.address6.is_some() || node.pod_cidr6.is_some() {
            let _ = writeln!(
                out,
                "  ipv6 address {}, pod-cidr {}, router {}",
                none(node.address6.map(|a| a.to_string())),
                none(node.pod_cidr6.map(|n| n.to_string())),
                none(node.router6.map(|r| r.to_string()))
            );
        }
        let pods: Vec<&crate::model::Pod> = cluster.pods_on(index).collect();
        let _ = writeln!(out, "  programs");
        for program in bpf::programs_of(cluster) {
            let devices = match program.interface.device(node) {
                Some(device) => device.to_string(),
                None if pods.is_empty() => "no lxc (no pods)".to_string(),
                None => pods.iter().map(|p| p.lxc.as_str()).collect::<Vec<_>>().join(" "),
            };
            let _ = writeln!(
                out,
                "    {} ({} section {}) on tc {}: {devices}",
                program.name,
                program.object,
                program.section,
                program.direction.as_str()
            );
        }
        let _ = writeln!(out, "  constants");
        render_constants(&mut out, LoadConstants::for_node(cluster, index));
        let lxc = seeds::lxc_entries(cluster, index);
        let _ = writeln!(out, "  cilium_lxc: {} entries", lxc.len());
        for (key, info) in &lxc {
            render_lxc(&mut out, cluster, key, info);
        }
    }
    let ipcache = seeds::ipcache_entries(cluster);
    let _ = writeln!(out, "\ncilium_ipcache (every node): {} entries", ipcache.len());
    for (key, value) in &ipcache {
        render_ipcache(&mut out, cluster, key, value);
    }
    // Only a native cluster with IPv6 node addresses seeds it, so every
    // other cluster's snapshot reads as before.
    let node_ipv6 = seeds::node_ipv6_entries(cluster);
    if !node_ipv6.is_empty() {
        let _ = writeln!(out, "\nroutec_node_ipv6 (every node): {} entries", node_ipv6.len());
        for (key, value) in &node_ipv6 {
            let owner = cluster.nodes.iter().find(|n| n.address == key.node_ipv4).map_or("", |n| n.name.as_str());
            let _ = writeln!(out, "    {} (node {owner}) -> {}", key.node_ipv4, value.node_ipv6);
            let _ = writeln!(out, "      key    {}", hex_bytes(&key.to_bytes()));
            let _ = writeln!(out, "      bytes  {}", hex_bytes(&value.to_bytes()));
        }
    }
    render_reachability(&mut out, cluster)?;
    Ok(out)
}

fn render_constants(out: &mut String, constants: LoadConstants) {
    // Names and bytes from the loader's own table, values decoded here so
    // that no line depends on the host's byte order.
    for (name, bytes) in constants.globals(bpf::Ifindexes::default()) {
        let value = match (name, bytes.len()) {
            ("OVERLAY_IFINDEX", _) => "set by the loader: the ifindex of the overlay device".to_string(),
            ("DEVICE_IFINDEX", _) => "set by the loader: the ifindex of the underlay device".to_string(),
            (_, 4) if name.ends_with("_IPV4") => {
                format!("{}.{}.{}.{} (bytes {})", bytes[0], bytes[1], bytes[2], bytes[3], hex_bytes(&bytes))
            }
            (_, 16) if name.ends_with("_IPV6") => {
                let octets: [u8; 16] = bytes.as_slice().try_into().expect("16 bytes");
                format!("{} (bytes {})", std::net::Ipv6Addr::from(octets), hex_bytes(&bytes))
            }
            (_, 2) => u16::from_ne_bytes([bytes[0], bytes[1]]).to_string(),
            (_, 4) => u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]).to_string(),
            _ => hex_bytes(&bytes),
        };
        let _ = writeln!(out, "    {name} = {value}");
    }
}

fn render_lxc(out: &mut String, cluster: &Cluster, key: &EndpointKey, info: &EndpointInfo) {
    let ip = key.ip_addr();
    let owner = match cluster.pods.iter().find(|p| p.has_ip(ip)) {
        Some(pod) => format!("pod {}", pod.name),
        None => "host entry".to_string(),
    };
    let filled = |zero: bool, text: String| if zero { "(filled by the loader)".to_string() } else { text };
    let _ = writeln!(out, "    {ip} ({owner})");
    let _ = writeln!(out, "      key    {}", hex_bytes(&key.to_bytes()));
    let _ = writeln!(
        out,
        "      value  endpoint {}, ifindex {}, flags {:#x}, mac {}, node-mac {}, identity {}",
        info.lxc_id,
        filled(info.ifindex == 0 && !info.is_host(), info.ifindex.to_string()),
        info.flags,
        filled(info.mac().is_zero() && !info.is_host(), info.mac().to_string()),
        filled(info.node_mac().is_zero() && !info.is_host(), info.node_mac().to_string()),
        info.sec_id
    );
    let _ = writeln!(out, "      bytes  {}", hex_bytes(&info.to_bytes()));
}

fn render_ipcache(out: &mut String, cluster: &Cluster, key: &IpcacheKey, value: &RemoteEndpointInfo) {
    let ip = key.ip_addr();
    let prefix = match key.ip_prefix_len() {
        Some(len) => format!("{ip}/{len}"),
        None => format!("{ip} prefixlen {}", { key.prefixlen }),
    };
    let host_len = if ip.is_ipv4() { 32 } else { 128 };
    let owner = if let Some(pod) = cluster.pods.iter().find(|p| p.has_ip(ip) && key.ip_prefix_len() == Some(host_len)) {
        format!("pod {}", pod.name)
    } else if let Some(node) = cluster.nodes.iter().find(|n| n.address == ip || n.address6.is_some_and(|a| a == ip)) {
        format!("node {} address", node.name)
    } else if let Some(node) = cluster.nodes.iter().find(|n| {
        n.pod_cidr.is_some_and(|net| net.network() == ip) || n.pod_cidr6.is_some_and(|net| net.network() == ip)
    }) {
        format!("pod-cidr of node {}", node.name)
    } else {
        "other".to_string()
    };
    let tunnel = value.tunnel_endpoint().map_or("none".to_string(), |t| t.to_string());
    let _ = writeln!(out, "    {prefix} ({owner})");
    let _ = writeln!(out, "      key    {}", hex_bytes(&key.to_bytes()));
    let _ = writeln!(out, "      value  identity {}, tunnel endpoint {tunnel}", value.sec_identity);
    let _ = writeln!(out, "      bytes  {}", hex_bytes(&value.to_bytes()));
}

/// `trace --all` counted by verdict and reason.
fn render_reachability(out: &mut String, cluster: &Cluster) -> Result<(), TraceError> {
    let view = Snapshot::from_cluster(cluster);
    render_matrix_counts(out, &trace::matrix(&view)?, "icmp");
    if let Some(matrix6) = trace::matrix6(&view)? {
        render_matrix_counts(out, &matrix6, "icmp, IPv6");
    }
    Ok(())
}

fn render_matrix_counts(out: &mut String, matrix: &trace::Matrix, what: &str) {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for pair in &matrix.pairs {
        *counts.entry((pair.result, pair.reason.name)).or_default() += 1;
    }
    let _ = writeln!(
        out,
        "\nreachability (trace --all, {what}): {} pods, {} pairs, {} delivered, {} not delivered",
        matrix.pods.len(),
        matrix.pairs.len(),
        matrix.delivered,
        matrix.not_delivered
    );
    for ((result, reason), count) in counts {
        let _ = writeln!(out, "  {result} {reason}: {count}");
    }
}

/// The differences from `old` to `new` as insta presents a snapshot change:
/// a header naming both sides, then each group of changes with three lines
/// of context and both line numbers. `None` when the texts are equal.
pub fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> Option<String> {
    if old == new {
        return None;
    }
    let diff = TextDiff::from_lines(old, new);
    let width = old.lines().count().max(new.lines().count()).to_string().len().max(5);
    let rule = |corner: char| format!("{}{corner}{}\n", "─".repeat(2 * width + 3), "─".repeat(40));
    let mut out = format!("-old snapshot: {old_name}\n+new results: {new_name}\n");
    out.push_str(&rule('┬'));
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "{:>w$}┈┈┈┈┈┈┈┈┈┈", "┈", w = 2 * width + 4);
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let number = |n: Option<usize>| n.map_or(String::new(), |n| (n + 1).to_string());
                let (sign, old_line, new_line) = match change.tag() {
                    ChangeTag::Delete => ('-', number(change.old_index()), String::new()),
                    ChangeTag::Insert => ('+', String::new(), number(change.new_index())),
                    ChangeTag::Equal => (' ', number(change.old_index()), number(change.new_index())),
                };
                let text = change.value();
                let newline = if text.ends_with('\n') { "" } else { "\n" };
                let _ = write!(out, "{old_line:>width$} {new_line:>width$} │{sign}{text}{newline}");
            }
        }
    }
    out.push_str(&rule('┴'));
    Some(out)
}
