//! The rules of `expect` items: both ends declared (E0017), a reason that
//! exists and fits the outcome (E0018), and the statements of the block.
//! Declarations come from the validator's indexes of every item as declared
//! (`crate::validate`), so an expectation is checked even when a pod it
//! names has errors of its own.

use std::net::IpAddr;

use super::{Endpoint, Expectation, Outcome, DEFAULT_TTL};
use crate::diagnostics::{short, suggest, Code, Diagnostic};
use crate::layout::Reason;
use crate::model::rules::PORT_RANGE;
use crate::source::Span;
use crate::syntax::ast::*;
use crate::trace::Proto;

const TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=255;

/// The declarations an expectation may name, as the validator indexes them.
pub(crate) trait Declared {
    fn has_node(&self, name: &str) -> bool;
    fn has_pod(&self, name: &str) -> bool;
    /// The first pod declared with this `ip`.
    fn pod_with_ip(&self, ip: IpAddr) -> Option<&str>;
    /// Every node name, for "did you mean".
    fn node_names(&self) -> Box<dyn Iterator<Item = &str> + '_>;
    /// Every pod name, for "did you mean".
    fn pod_names(&self) -> Box<dyn Iterator<Item = &str> + '_>;
}

/// Checks one `expect` against the declarations; `text` is its canonical
/// line. The expectation, if it has no error.
pub(crate) fn check(
    e: &ExpectItem,
    text: String,
    declared: &dyn Declared,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expectation> {
    let src = source(&e.src, declared, diags);
    let dst = destination(&e.dst, declared, diags);
    let reason = e.reason.as_ref().map(|r| reason(r, &e.outcome, diags));
    let statements = statements(e, diags);
    let reason = match reason {
        Some(named) => Some(named?),
        None => None,
    };
    let (proto, port, ttl) = statements?;
    Some(Expectation {
        span: e.span,
        text,
        src: src?,
        src_address: match e.src.value {
            EndpointRef::Address(ip) => Some(ip),
            _ => None,
        },
        dst: dst?,
        outcome: e.outcome.value,
        reason,
        proto,
        port,
        ttl,
    })
}

fn source(end: &Spanned<EndpointRef>, declared: &dyn Declared, diags: &mut Vec<Diagnostic>) -> Option<Endpoint> {
    match &end.value {
        EndpointRef::Address(ip) => match declared.pod_with_ip(*ip) {
            Some(name) => Some(Endpoint::Pod(name.to_string())),
            None => {
                diags.push(
                    Diagnostic::new(Code::E0017, end.span, format!("no declared pod has the address {ip}"))
                        .label("not a pod of this cluster")
                        .help("an expectation starts at a declared pod (its name or IP) or at `node NAME`"),
                );
                None
            }
        },
        _ => destination(end, declared, diags),
    }
}

/// A destination: any address, or a declared pod or node.
fn destination(end: &Spanned<EndpointRef>, declared: &dyn Declared, diags: &mut Vec<Diagnostic>) -> Option<Endpoint> {
    match &end.value {
        EndpointRef::Address(ip) => Some(Endpoint::Address(*ip)),
        EndpointRef::Pod(name) => (declared.has_pod(name)
            || undeclared("pod", name, end.span, declared.pod_names(), diags))
        .then(|| Endpoint::Pod(name.clone())),
        EndpointRef::Node(name) => (declared.has_node(&name.value)
            || undeclared("node", &name.value, name.span, declared.node_names(), diags))
        .then(|| Endpoint::Node(name.value.clone())),
    }
}

/// E0017 for a name no declaration has, with a suggestion; always false.
fn undeclared<'a>(
    kind: &str,
    name: &str,
    span: Span,
    names: impl Iterator<Item = &'a str>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let diag = Diagnostic::new(Code::E0017, span, format!("{kind} `{}` is not declared", short(name)))
        .label(format!("no {kind} has this name"));
    diags.push(match suggest(name, names) {
        Some(s) => diag.help(format!("did you mean `{s}`?")),
        None if kind == "pod" => diag.help("pods are `namespace/name`; a node is written `node NAME`"),
        None => diag.help(format!("declare it with `node {} {{ ... }}`", short(name))),
    });
    false
}

/// The reason named after the outcome: E0018 unless it is one of
/// `layout::Reason` and fits the outcome.
fn reason(r: &Spanned<String>, outcome: &Spanned<Outcome>, diags: &mut Vec<Diagnostic>) -> Option<Reason> {
    let Some(&reason) = Reason::ALL.iter().find(|x| x.name() == r.value) else {
        let fitting = Reason::ALL.iter().filter(|x| outcome.value.fits(**x)).map(|x| x.name());
        let diag = Diagnostic::new(Code::E0018, r.span, format!("unknown reason `{}`", short(&r.value)))
            .label("not a reason the datapath counts");
        let help = match suggest(&r.value, Reason::ALL.iter().map(|x| x.name())) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("reasons after `{}`: {}", outcome.value.name(), quoted(fitting)),
        };
        diags.push(diag.help(help));
        return None;
    };
    if outcome.value.fits(reason) {
        return Some(reason);
    }
    let (kind, other) = if reason.is_drop() { ("a drop", Outcome::Dropped) } else { ("a forward", Outcome::Delivered) };
    let fitting = Reason::ALL.iter().filter(|x| outcome.value.fits(**x)).map(|x| x.name());
    diags.push(
        Diagnostic::new(
            Code::E0018,
            r.span,
            format!("`{}` is {kind} reason: it does not fit `{}`", reason.name(), outcome.value.name()),
        )
        .label(format!("{kind} reason"))
        .secondary(outcome.span, "the expected outcome")
        .help(format!("write `{} {}`, or one of: {}", other.name(), reason.name(), quoted(fitting))),
    );
    None
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// `proto`, `port` and `ttl`, each at most once; a port goes with tcp or udp
/// and tcp or udp with a port, since a real packet needs one.
fn statements(e: &ExpectItem, diags: &mut Vec<Diagnostic>) -> Option<(Proto, Option<u16>, u8)> {
    let errors = diags.len();
    let mut proto: Option<&Spanned<Proto>> = None;
    let mut port: Option<&Spanned<u64>> = None;
    let mut ttl: Option<&Spanned<u64>> = None;
    let mut first: [Option<Span>; 3] = [None; 3];
    let stmts = e.block.as_ref().map_or(&[][..], |b| &b.stmts[..]);
    for stmt in stmts {
        let (slot, keyword) = match &stmt.kind {
            ExpectStmt::Proto(_) => (0, "proto"),
            ExpectStmt::Port(_) => (1, "port"),
            ExpectStmt::Ttl(_) => (2, "ttl"),
        };
        if let Some(at) = first[slot] {
            diags.push(
                Diagnostic::new(Code::E0003, stmt.keyword, format!("`{keyword}` is given twice in one block"))
                    .label("given again here")
                    .secondary(at, "first given here")
                    .help(format!("keep one `{keyword}` statement")),
            );
            continue;
        }
        first[slot] = Some(stmt.keyword);
        match &stmt.kind {
            ExpectStmt::Proto(v) => proto = Some(v),
            ExpectStmt::Port(v) => port = Some(v),
            ExpectStmt::Ttl(v) => ttl = Some(v),
        }
    }
    let out_of_range = |what: &str, v: &Spanned<u64>, range: &std::ops::RangeInclusive<u64>| {
        let message = if v.value == u64::MAX {
            format!("{what} is out of range")
        } else {
            format!("{what} {} is out of range", v.value)
        };
        Diagnostic::new(Code::E0011, v.span, message).label(format!("expected {}..={}", range.start(), range.end()))
    };
    let port_value = port.and_then(|p| {
        if PORT_RANGE.contains(&p.value) {
            Some(p.value as u16)
        } else {
            diags.push(out_of_range("port", p, &PORT_RANGE));
            None
        }
    });
    let ttl_value = match ttl {
        Some(t) if TTL_RANGE.contains(&t.value) => t.value as u8,
        Some(t) => {
            diags.push(out_of_range("ttl", t, &TTL_RANGE));
            DEFAULT_TTL
        }
        None => DEFAULT_TTL,
    };
    let proto_value = proto.map_or(Proto::Icmp, |p| p.value);
    // A statement that did not parse may be the missing `proto` or `port`.
    let recovered = e.block.as_ref().is_some_and(|b| b.recovered);
    match (proto, port) {
        _ if recovered => {}
        (Some(p), None) if p.value != Proto::Icmp => diags.push(
            Diagnostic::new(Code::E0004, p.span, format!("`proto {}` needs a `port`", p.value.as_str()))
                .label("no `port` in this expectation")
                .help(format!("add `port N`: the {} packet is sent to that port", p.value.as_str())),
        ),
        (_, Some(port)) if proto_value == Proto::Icmp => diags.push(
            Diagnostic::new(Code::E0004, port.span, "`port` needs `proto tcp` or `proto udp`")
                .label("ICMP has no ports")
                .help("add `proto tcp` or `proto udp`"),
        ),
        _ => {}
    }
    (diags.len() == errors).then_some((proto_value, port_value, ttl_value))
}
