//! Text renderings: a trace as numbered hops, the `--all` matrix as a grid,
//! a drift report as one line per entry.

use std::fmt::Write;

use super::drift::{DriftKind, DriftReport};
use super::matrix::Matrix;
use super::simulate::{Family, Lookup, LookupValue, Trace, Verdict};
use super::view::{Mode, PodRef};
use crate::layout::Reason;

fn value_text(value: &LookupValue, mode: Mode) -> String {
    match value {
        LookupValue::Endpoint { endpoint, ifindex, flags, host, mac, node_mac, identity } => {
            if *host {
                return format!("host entry (flags {flags:#x}), identity {identity}");
            }
            // Offline, zeros are the loader's to fill.
            let filled = |text: String, zero: bool| {
                if zero && mode == Mode::Offline {
                    format!("{text} (loader fills)")
                } else {
                    text
                }
            };
            let zero_mac = "00:00:00:00:00:00";
            format!(
                "endpoint {endpoint}, {}, {}, {}, identity {identity}",
                filled(format!("ifindex {ifindex}"), *ifindex == 0),
                filled(format!("mac {mac}"), mac == zero_mac),
                filled(format!("node_mac {node_mac}"), node_mac == zero_mac),
            )
        }
        LookupValue::Remote { identity, identity_name, tunnel_endpoint } => {
            let identity = match identity_name {
                Some(name) => format!("identity {identity} ({name})"),
                None => format!("identity {identity}"),
            };
            match tunnel_endpoint {
                Some(ip) => format!("{identity}, tunnel endpoint {ip}"),
                None => format!("{identity}, no tunnel endpoint"),
            }
        }
        LookupValue::NodeIpv6 { node_ipv6 } => format!("node IPv6 address {node_ipv6}"),
    }
}

fn lookup_text(out: &mut String, lookup: &Lookup, mode: Mode) {
    let result = if lookup.hit { "hit" } else { "miss" };
    let _ = writeln!(
        out,
        "   lookup  {} ({}, {}): {} -> {result}",
        lookup.map, lookup.match_kind, lookup.purpose, lookup.key
    );
    let _ = writeln!(out, "           key    {}", lookup.key_hex);
    if let (Some(matched), Some(matched_hex)) = (&lookup.matched_key, &lookup.matched_key_hex) {
        let _ = writeln!(out, "           match  {matched_hex}  ({matched})");
    }
    if let (Some(value_hex), Some(value)) = (&lookup.value_hex, &lookup.value) {
        let _ = writeln!(out, "           value  {value_hex}");
        let _ = writeln!(out, "                  {}", value_text(value, mode));
    }
    if let Some(check) = &lookup.check {
        let _ = writeln!(out, "           check  {check}");
    }
}

/// A trace as a reader follows it: one numbered block per program run.
pub fn render_text(trace: &Trace) -> String {
    let mut out = String::new();
    let packet = &trace.packet;
    let dst_name = trace.dst.pod.as_ref().map_or("no pod", |p| p.name.as_str());
    let port = packet.port.map_or(String::new(), |p| format!(" port {p}"));
    let _ = writeln!(
        out,
        "trace {} ({}) -> {} ({}), {}{port}, {} {}, {}",
        packet.src,
        trace.src.label(),
        packet.dst,
        dst_name,
        packet.proto.as_str(),
        packet.family().ttl_name(),
        packet.ttl,
        match trace.mode {
            Mode::Offline => "offline",
            Mode::Live => "live maps",
        }
    );
    for note in &trace.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for (i, hop) in trace.hops.iter().enumerate() {
        let _ = writeln!(out);
        let ifindex = hop.ifindex.map_or(String::new(), |i| format!(" (ifindex {i})"));
        let _ = writeln!(out, "{}. {}  {}{ifindex}  {}  {}", i + 1, hop.node, hop.device, hop.hook, hop.program);
        for check in &hop.checks {
            let _ = writeln!(out, "   check   {check}");
        }
        for lookup in &hop.lookups {
            lookup_text(&mut out, lookup, trace.mode);
        }
        let kind = if hop.reason.drop { "drop" } else { "forward" };
        let _ = writeln!(out, "   verdict {kind} {} ({}): {}", hop.reason.name, hop.reason.code, hop.action);
        if let Some(next) = &hop.next {
            let _ = writeln!(out, "   next    {next}");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "result: {}", verdict_text(&trace.verdict));
    out
}

pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Delivered { node, pod, ip, lxc, endpoint, reason } => format!(
            "delivered to {} ({ip}) on {node} via {}, endpoint {endpoint} [{}]",
            pod.as_deref().unwrap_or("an unnamed endpoint"),
            lxc.as_deref().unwrap_or("its lxc"),
            reason.name
        ),
        Verdict::ToStack { node, reason } => {
            format!("passed to {node}'s network stack [{}]", reason.name)
        }
        Verdict::Dropped { node, program, reason } => {
            format!("dropped on {node} by {program}: {} (reason {})", reason.name, reason.code)
        }
        Verdict::LeftCluster { node, tunnel_endpoint, reason } => {
            let how = if reason.reason() == Reason::NativeForward { "routed natively" } else { "encapsulated" };
            format!("{how} on {node} to {tunnel_endpoint}, beyond this view [{}]", reason.name)
        }
    }
}

/// Cell symbols of the reachability grid.
fn cell(result: &str, reason: &str) -> &'static str {
    match (result, reason) {
        ("delivered", "local-delivery") => "L",
        ("delivered", "netdev-delivery") => "N",
        ("delivered", _) => "T",
        ("to-stack", _) => "S",
        ("left-cluster", _) => "?",
        _ => "x",
    }
}

/// The IPv4 matrix and, after a blank line, the IPv6 one if there is one.
pub fn render_matrices_text(matrix: &Matrix, matrix6: Option<&Matrix>) -> String {
    let mut out = render_matrix_text(matrix);
    if let Some(matrix6) = matrix6 {
        out.push('\n');
        out.push_str(&render_matrix_text(matrix6));
    }
    out
}

/// The `--all` matrix: a grid of symbols, then every pair not delivered.
pub fn render_matrix_text(matrix: &Matrix) -> String {
    let mut out = String::new();
    let n = matrix.pods.len();
    let family = match matrix.family {
        Family::Ipv4 => String::new(),
        family => format!(" ({})", family.name()),
    };
    let address = |pod: &PodRef| pod.ip_of(matrix.family).map_or_else(String::new, |ip| ip.to_string());
    let _ = writeln!(
        out,
        "reachability{family}: {} pods, {} pairs, {} delivered, {} not delivered",
        n,
        matrix.pairs.len(),
        matrix.delivered,
        matrix.not_delivered
    );
    let native = matrix.pairs.iter().any(|p| p.reason.reason() == Reason::NetdevDelivery);
    let remote = if native { "N delivered natively over the underlay" } else { "T delivered through the tunnel" };
    let _ = writeln!(out, "L local delivery, {remote}, S to the node's stack, x dropped, ? beyond this view");
    if matrix.sources.len() < n {
        let _ = writeln!(out, "rows: only the pods on nodes whose maps this view has");
    }
    let _ = writeln!(out);
    let width = n.to_string().len().max(2);
    let name_width = matrix.pods.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let _ = write!(out, "{:>w$}  {:<nw$}  ", "#", "from \\ to", w = width, nw = name_width + 16);
    for j in 0..n {
        let _ = write!(out, "{:>w$}", j + 1, w = width + 1);
    }
    let _ = writeln!(out);
    for &i in &matrix.sources {
        let pod = &matrix.pods[i];
        let _ = write!(out, "{:>w$}  {:<nw$}  {:<15} ", i + 1, pod.name, address(pod), w = width, nw = name_width);
        for j in 0..n {
            let symbol = matrix.get(i, j).map_or("-", |p| cell(p.result, p.reason.name));
            let _ = write!(out, "{symbol:>w$}", w = width + 1);
        }
        let _ = writeln!(out);
    }
    let failures: Vec<_> = matrix.pairs.iter().filter(|p| p.result != "delivered").collect();
    if !failures.is_empty() {
        let _ = writeln!(out);
        for pair in failures {
            let _ = writeln!(
                out,
                "{} ({}) -> {} ({}): {} on {}: {} ({})",
                pair.src,
                pair.src_ip,
                pair.dst,
                pair.dst_ip,
                pair.result,
                pair.node,
                pair.reason.name,
                pair.reason.code
            );
        }
    }
    out
}

/// One line per drifted entry; a clean report says so.
pub fn render_drift_text(report: &DriftReport) -> String {
    let mut out = String::new();
    if report.is_clean() {
        let _ = writeln!(out, "drift: none ({} entries compared)", report.compared);
        return out;
    }
    let _ = writeln!(out, "drift: {} of {} entries", report.drift.len(), report.compared);
    for d in &report.drift {
        let what = match d.kind {
            DriftKind::Missing => "missing from the kernel".to_string(),
            DriftKind::Stale => "stale (in the kernel, not in the build)".to_string(),
            DriftKind::Different => format!("different: {}", d.fields.join(", ")),
        };
        let _ = writeln!(out, "  {} {} {}: {what}", d.node, d.map, d.key);
        let _ = writeln!(out, "    key       {}", d.key_hex);
        if let Some(expected) = &d.expected_hex {
            let _ = writeln!(out, "    build     {expected}");
        }
        if let Some(live) = &d.live_hex {
            let _ = writeln!(out, "    kernel    {live}");
        }
    }
    out
}
