//! Hover: a node's addresses and pods, a pod's map entries as the build
//! writes them (seed line and decoded), a keyword's reference text.

use std::fmt::Write;

use routec_compiler::decode::{self, MapKind, RawEntry};
use routec_compiler::layout::IpcacheKey;
use routec_compiler::model::Cluster;
use routec_compiler::seeds;
use routec_compiler::source::FileId;
use routec_compiler::syntax::ast::{Item, NodeStmt};

use crate::names::{self, NameKind};
use crate::reference;
use crate::workspace::Workspace;

/// The Markdown shown at `offset`, if anything is there.
pub fn hover(workspace: &mut Workspace, file: FileId, offset: usize) -> Option<String> {
    workspace.cluster();
    let workspace = &*workspace;
    if let Some(occurrence) = names::at(workspace, file, offset) {
        let name = occurrence.name;
        return Some(match occurrence.kind {
            NameKind::Node => node(workspace, name),
            NameKind::Pod => pod(workspace, name),
        });
    }
    let text = &workspace.document(file).text;
    let keyword = &text[word_at(text, offset)?];
    reference::is_keyword(keyword).then(|| reference::describe(keyword)).flatten()
}

fn word_at(text: &str, offset: usize) -> Option<std::ops::Range<usize>> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    // Word characters are ASCII, so the byte after a non-word character (or
    // before one) is a char boundary whatever that character's width.
    let start =
        text[..offset].rfind(|c| !is_word(c)).map_or(0, |i| i + text[i..].chars().next().map_or(1, char::len_utf8));
    let end = text[offset..].find(|c| !is_word(c)).map_or(text.len(), |i| offset + i);
    (start < end).then_some(start..end)
}

fn cluster(workspace: &Workspace) -> Option<&Cluster> {
    workspace.current_cluster()
}

const UNAVAILABLE: &str = "*The cluster has errors: the values the build would use are shown once it has none.*";

fn node(workspace: &Workspace, name: &str) -> String {
    let pods = names::find_all(workspace, NameKind::Node, name).iter().filter(|o| !o.declaration).count();
    let mut out = format!("**node** `{name}`\n\n");
    if let Some(node) = cluster(workspace).and_then(|c| c.node(name)) {
        let _ = writeln!(out, "| | |\n| --- | --- |");
        let _ = writeln!(out, "| address | `{}` |", node.address);
        let rows = [
            ("pod-cidr", node.pod_cidr.map(|n| n.to_string())),
            ("router", node.router.map(|r| r.to_string())),
            ("IPv6 address", node.address6.map(|a| a.to_string())),
            ("IPv6 pod-cidr", node.pod_cidr6.map(|n| n.to_string())),
            ("IPv6 router", node.router6.map(|r| r.to_string())),
        ];
        for (what, value) in rows {
            if let Some(value) = value {
                let _ = writeln!(out, "| {what} | `{value}` |");
            }
        }
        let _ = writeln!(out, "| device | `{}` |", node.device);
        let _ = writeln!(out, "| pods | {pods} |");
        return out;
    }
    // Not validated: what the declaration says, as written.
    let declared = workspace.trees().iter().flat_map(|t| &t.items).find_map(|item| match item {
        Item::Node(n) if n.name.value == name => Some(n),
        _ => None,
    });
    let Some(declared) = declared else {
        let _ = write!(out, "not declared; {pods} pod(s) placed on it");
        return out;
    };
    for stmt in &declared.block.stmts {
        let (keyword, value) = match &stmt.kind {
            NodeStmt::Address(a) => ("address", a.span),
            NodeStmt::PodCidr(p) => ("pod-cidr", p.span),
            NodeStmt::Router(r) => ("router", r.span),
            NodeStmt::Device(d) => ("device", d.span),
            NodeStmt::Address6(a) => ("address", a.span),
            NodeStmt::PodCidr6(p) => ("pod-cidr", p.span),
            NodeStmt::Router6(r) => ("router", r.span),
        };
        let _ = writeln!(out, "- {keyword} `{}`", workspace.slice(value));
    }
    let _ = write!(out, "- pods: {pods}\n\n{UNAVAILABLE}");
    out
}

fn pod(workspace: &Workspace, name: &str) -> String {
    let mut out = format!("**pod** `{name}`\n\n");
    let Some(cluster) = cluster(workspace) else {
        out.push_str(UNAVAILABLE);
        return out;
    };
    let Some(pod) = cluster.pods.iter().find(|p| p.name == name) else { return out };
    let node = &cluster.nodes[pod.node];
    let ips: Vec<String> = pod.ips().map(|ip| format!("`{ip}`")).collect();
    let _ = writeln!(out, "on node `{}`, ip {}\n", node.name, ips.join(" and "));
    // The entries of the pod's first address (its IPv4 one when it has one).
    let Some(ip) = pod.ips().next() else { return out };
    let lxc = seeds::lxc_entries(cluster, pod.node).into_iter().find(|(key, _)| key.ip_addr() == ip);
    if let Some(entry) = lxc {
        let raw = RawEntry { key: entry.0.to_bytes().to_vec(), value: entry.1.to_bytes().to_vec() };
        entry_section(&mut out, MapKind::Lxc, &format!("node `{}`", node.name), &seeds::render_seed(&[entry]), &raw);
    }
    let key = IpcacheKey::host(ip);
    let ipcache = seeds::ipcache_entries(cluster).into_iter().find(|(k, _)| *k == key);
    if let Some(entry) = ipcache {
        let raw = RawEntry { key: entry.0.to_bytes().to_vec(), value: entry.1.to_bytes().to_vec() };
        entry_section(&mut out, MapKind::Ipcache, "every node", &seeds::render_seed(&[entry]), &raw);
    }
    out
}

/// One map entry: the seed line the build writes, then `routec decode`'s
/// reading of those bytes.
fn entry_section(out: &mut String, map: MapKind, on: &str, seed: &str, raw: &RawEntry) {
    let _ = writeln!(out, "`{}` on {on}:\n```\n{}```", map.name(), seed);
    if let Ok(decoded) = decode::decode_entry(map, raw, 1) {
        let _ = writeln!(out, "```\n{}```", decode::render_text(map, &[decoded]));
    }
}
