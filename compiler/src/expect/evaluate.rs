//! Runs each expectation through the tracer and compares the verdict.

use serde::Serialize;

use super::{Expectation, Outcome as Expected};
use crate::trace::{self, verdict_text, Datapath, Trace, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
}

/// The fate of the packet as the trace found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Into a pod, or into a node's stack.
    Delivered,
    Dropped,
    /// Encapsulated towards an address that is no node of the view.
    LeftCluster,
    /// The tracer refused the packet (see `Found::error`).
    NotTraced,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Dropped => "dropped",
            Outcome::LeftCluster => "left the cluster",
            Outcome::NotTraced => "not traced",
        }
    }

    fn of(verdict: &Verdict) -> Outcome {
        match verdict {
            Verdict::Delivered { .. } | Verdict::ToStack { .. } => Outcome::Delivered,
            Verdict::Dropped { .. } => Outcome::Dropped,
            Verdict::LeftCluster { .. } => Outcome::LeftCluster,
        }
    }
}

/// The hop that decided the verdict: where the packet's path ended, and so
/// where it diverged from an expectation it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecidingHop {
    /// 1-based, as `routec trace` numbers hops.
    pub index: usize,
    pub node: String,
    pub device: String,
    pub program: &'static str,
    pub action: String,
}

/// What the trace found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub outcome: Outcome,
    /// The reason of the final verdict.
    pub reason: Option<&'static str>,
    /// `routec trace`'s one-line verdict.
    pub verdict: Option<String>,
    pub hop: Option<DecidingHop>,
    /// Each hop as `node program reason`, in order.
    pub path: Vec<String>,
    /// Why the tracer could not follow this packet.
    pub error: Option<String>,
    #[serde(skip)]
    pub trace: Option<Trace>,
}

impl Found {
    /// `dropped no-route`, `delivered overlay-delivery`, `not traced`.
    pub fn summary(&self) -> String {
        match self.reason {
            Some(reason) => format!("{} {reason}", self.outcome.name()),
            None => self.outcome.name().to_string(),
        }
    }

    fn from_trace(trace: Trace) -> Found {
        let verdict = &trace.verdict;
        let hop = trace.hops.last().map(|h| DecidingHop {
            index: trace.hops.len(),
            node: h.node.clone(),
            device: h.device.clone(),
            program: h.program,
            action: h.action.clone(),
        });
        Found {
            outcome: Outcome::of(verdict),
            reason: Some(verdict.reason().name),
            verdict: Some(verdict_text(verdict)),
            hop,
            path: trace.hops.iter().map(|h| format!("{} {} {}", h.node, h.program, h.reason.name)).collect(),
            error: None,
            trace: Some(trace),
        }
    }
}

/// What real packets did (`routec test --lab`, `--live`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketCheck {
    /// `Delivered` (a reply came back) or `Dropped` (none did).
    pub outcome: Outcome,
    /// What was sent and what came back.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult<'a> {
    #[serde(skip)]
    pub expectation: &'a Expectation,
    pub status: Status,
    pub found: Found,
    /// With real packets: what they did.
    pub packets: Option<PacketCheck>,
    /// Real packets and the offline verdict disagree: a bug in routec (its
    /// tracer or its datapath), not in the config.
    pub disagreement: bool,
}

impl TestResult<'_> {
    /// Adds what real packets did. The expectation now passes only if the
    /// packets agree with the trace too.
    pub fn with_packets(mut self, packets: PacketCheck) -> Self {
        self.disagreement = packets.outcome != self.found.outcome;
        if self.disagreement {
            self.status = Status::Failed;
        }
        self.packets = Some(packets);
        self
    }
}

/// Traces the expectation's packet through `view` and compares the verdict
/// (its outcome, and its reason when the expectation names one).
pub fn evaluate<'a>(view: &dyn Datapath, expectation: &'a Expectation) -> TestResult<'a> {
    let e = expectation;
    let src = e.src_address.map_or_else(|| e.src.operand(), |ip| ip.to_string());
    let found = match trace::trace(view, &src, &e.dst.operand(), e.proto, e.port, e.ttl) {
        Ok(trace) => Found::from_trace(trace),
        Err(error) => Found {
            outcome: Outcome::NotTraced,
            reason: None,
            verdict: None,
            hop: None,
            path: Vec::new(),
            error: Some(error.to_string()),
            trace: None,
        },
    };
    let outcome_matches = matches!(
        (e.outcome, found.outcome),
        (Expected::Delivered, Outcome::Delivered) | (Expected::Dropped, Outcome::Dropped)
    );
    let reason_matches = e.reason.is_none_or(|r| found.reason == Some(r.name()));
    let status = if outcome_matches && reason_matches { Status::Passed } else { Status::Failed };
    TestResult { expectation, status, found, packets: None, disagreement: false }
}

/// Every expectation, in order.
pub fn evaluate_all<'a>(view: &dyn Datapath, expectations: &'a [Expectation]) -> Vec<TestResult<'a>> {
    expectations.iter().map(|e| evaluate(view, e)).collect()
}
