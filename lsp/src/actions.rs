//! Quick fixes. Every diagnostic whose help says "did you mean `X`?" gets a
//! fix that writes `X` over its primary span, whatever its code, so a new
//! diagnostic with a suggestion needs no code here. E0006 (a pod on an
//! undeclared node) also gets "declare node X".

use std::net::Ipv4Addr;

use routec_compiler::diagnostics::{Code, Diagnostic};
use routec_compiler::model::Ipv4Net;
use routec_compiler::source::{FileId, Span};
use routec_compiler::syntax::ast::{Item, NodeStmt};

use crate::workspace::Workspace;

/// A fix: its title and the text edits it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub title: String,
    /// The diagnostic it fixes.
    pub fixes: Diagnostic,
    pub edits: Vec<(Span, String)>,
}

/// The suggestion of a help line written as the front end writes them.
pub fn suggestion(help: &str) -> Option<&str> {
    let word = help.strip_prefix("did you mean `")?.strip_suffix("`?")?;
    // A shortened name (`…`) is not the name: no fix rather than a wrong one.
    (!word.contains('…')).then_some(word)
}

/// The fixes for the diagnostics whose primary span in `file` meets `range`.
pub fn fixes(workspace: &mut Workspace, file: FileId, range: std::ops::Range<usize>) -> Vec<Fix> {
    let mut diagnostics = workspace.diagnostics(file);
    diagnostics.retain(|d| {
        let span = d.primary_span();
        span.start as usize <= range.end && range.start <= span.end as usize
    });
    let mut out = Vec::new();
    for diagnostic in diagnostics {
        let span = diagnostic.primary_span();
        if let Some(word) = diagnostic.help.as_deref().and_then(suggestion) {
            let title = format!("Replace `{}` with `{word}`", workspace.slice(span));
            out.push(Fix { title, edits: vec![(span, word.to_string())], fixes: diagnostic.clone() });
        }
        if diagnostic.code == Code::E0006 {
            let name = workspace.slice(span).to_string();
            let edit = declare_node(workspace, span, &name);
            out.push(Fix { title: format!("Declare node `{name}`"), edits: vec![edit], fixes: diagnostic });
        }
    }
    out
}

/// `node NAME { ... }` after the pod that names it, with an address one past
/// the highest node address and a pod-cidr: the pod's /24 when it is free,
/// else the /24 after the highest pod-cidr.
fn declare_node(workspace: &Workspace, node_ref: Span, name: &str) -> (Span, String) {
    let mut addresses = Vec::new();
    let mut cidrs = Vec::new();
    let mut pod_ip = None;
    let mut pod_end = node_ref;
    for item in workspace.trees().iter().flat_map(|t| &t.items) {
        match item {
            Item::Node(node) => {
                for stmt in &node.block.stmts {
                    match &stmt.kind {
                        NodeStmt::Address(a) => addresses.push(a.value),
                        NodeStmt::PodCidr(p) => cidrs.extend(Ipv4Net::new(p.value.addr, p.value.len).ok()),
                        _ => {}
                    }
                }
            }
            Item::Pod(pod) if pod.node.span == node_ref => {
                pod_end = pod.span;
                pod_ip = pod.block.stmts.iter().find_map(|s| match &s.kind {
                    routec_compiler::syntax::ast::PodStmt::Ip(ip) => Some(ip.value),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    let free = |net: &Ipv4Net| cidrs.iter().all(|c| !c.contains(&net.network()) && !net.contains(&c.network()));
    let own = pod_ip.and_then(|ip| Ipv4Net::new(ip, 24).ok()).map(|n| n.trunc()).filter(free);
    let cidr = own.unwrap_or_else(|| {
        let after = cidrs.iter().map(|c| u32::from(c.broadcast())).max().map_or(0x0a00_0000, |b| b.wrapping_add(1));
        Ipv4Net::new(Ipv4Addr::from(after), 24).expect("24 is a valid length").trunc()
    });
    let in_cidr = |a: Ipv4Addr| cidrs.iter().chain([&cidr]).any(|c| c.contains(&a));
    let mut address = addresses.iter().map(|&a| u32::from(a)).max().map_or(0xac10_0001, |a| a.wrapping_add(1));
    while in_cidr(Ipv4Addr::from(address)) || addresses.contains(&Ipv4Addr::from(address)) {
        address = address.wrapping_add(1);
    }
    let at = Span { file: node_ref.file, start: pod_end.end, end: pod_end.end };
    let text = format!("\n\nnode {name} {{\n    address {}\n    pod-cidr {cidr}\n}}", Ipv4Addr::from(address));
    (at, text)
}

#[cfg(test)]
mod tests {
    use super::suggestion;

    #[test]
    fn suggestions_are_read_from_help_lines() {
        assert_eq!(suggestion("did you mean `edge-a`?"), Some("edge-a"));
        assert_eq!(suggestion("declare it with `node x { ... }`"), None);
        assert_eq!(suggestion("did you mean `aaaa…bbbb`?"), None);
    }
}
