//! Expectations: `expect SRC -> DST OUTCOME [REASON] [{ ... }]` items, tests
//! of the datapath that live next to the config. They are validated with the
//! rest of the input (E0017, E0018) but are not part of the model: a build
//! with or without them holds the same maps and programs. `routec test`
//! evaluates each with the trace engine ([`evaluate`]) and reports the results
//! as text, JSON or JUnit XML ([`report`]).

mod evaluate;
pub mod report;
mod validate;

use std::net::IpAddr;

use serde::Serialize;

use crate::layout::Reason;
use crate::source::Span;
use crate::trace::Proto;

pub use evaluate::{
    evaluate, evaluate_all, DecidingHop, Found, Outcome as FoundOutcome, PacketCheck, Status, TestResult,
};
pub(crate) use validate::{check, Declared};

/// TTL of an expectation's packet when it gives none: the one a pod's
/// kernel puts on it, and `routec trace`'s default.
pub const DEFAULT_TTL: u8 = 64;

/// What an expectation says happens to the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Delivered,
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Delivered, Outcome::Dropped];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Dropped => "dropped",
        }
    }

    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether a counter's reason can end a packet with this outcome: drop
    /// reasons end it dropped, forward reasons delivered.
    pub fn fits(self, reason: Reason) -> bool {
        reason.is_drop() == (self == Outcome::Dropped)
    }
}

/// One end of a validated expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "lowercase")]
pub enum Endpoint {
    /// A declared pod, by name (an IP that names a pod is resolved to it).
    Pod(String),
    /// Any address (destinations only).
    Address(IpAddr),
    /// A declared node.
    Node(String),
}

impl Endpoint {
    /// How the tracer is told about this end: a pod's or node's name, or the address.
    pub fn operand(&self) -> String {
        match self {
            Endpoint::Pod(name) | Endpoint::Node(name) => name.clone(),
            Endpoint::Address(ip) => ip.to_string(),
        }
    }
}

/// An expectation that passed validation: its ends are declared and its
/// reason fits its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The whole `expect` item.
    pub span: Span,
    /// The canonical one-line text (`fmt`'s), which names it in reports.
    pub text: String,
    pub src: Endpoint,
    /// The source as written when it is a pod's address: it picks the
    /// packet's family (`expect fd00:10:1::10 -> ns/b` is an IPv6 packet).
    pub src_address: Option<IpAddr>,
    pub dst: Endpoint,
    pub outcome: Outcome,
    pub reason: Option<Reason>,
    pub proto: Proto,
    pub port: Option<u16>,
    pub ttl: u8,
}

impl Expectation {
    /// `delivered` or `dropped no-route`.
    pub fn expected(&self) -> String {
        match self.reason {
            Some(reason) => format!("{} {}", self.outcome.name(), reason.name()),
            None => self.outcome.name().to_string(),
        }
    }
}
