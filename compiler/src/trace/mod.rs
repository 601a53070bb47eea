//! `routec trace`: simulate, hop by hop, what the datapath of
//! docs/datapath.md does with one IPv4 or IPv6 packet, from the map contents of a
//! [`Datapath`] view (a cluster, a build folder or the live kernel maps).
//!
//! Keys and values are encoded and decoded only through `crate::layout`, the
//! same definitions the seed encoder and the loader use.

mod build_view;
mod drift;
mod lpm;
mod matrix;
mod native;
mod render;
mod simulate;
mod svg;
mod view;

pub use build_view::BuildViewError;
pub use drift::{drift, Drift, DriftKind, DriftReport};
pub use lpm::Ipcache;
pub use matrix::{matrix, matrix6, matrix_of, Matrix, PairVerdict};
pub use render::{render_drift_text, render_matrices_text, render_matrix_text, render_text, verdict_text};
pub use simulate::{
    program, trace, trace_from_node, trace_packet, Destination, Family, Hop, Lookup, LookupValue, Packet, Proto,
    ReasonRef, Source, Trace, TraceError, Verdict,
};
pub use svg::{is_trace_svg, render_svg};
pub use view::{hex, Datapath, Mode, NodeConfig, PodRef, Snapshot};

/// What `routec trace --format json` prints: the trace, and the drift report
/// when the maps were read live (else `null`).
#[derive(Debug, serde::Serialize)]
pub struct TraceReport<'a> {
    pub trace: &'a Trace,
    pub drift: Option<&'a DriftReport>,
}

/// What `routec trace --all --format json` prints.
#[derive(Debug, serde::Serialize)]
pub struct MatrixReport<'a> {
    pub matrix: &'a Matrix,
    /// The IPv6 pairs of a cluster with IPv6 pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix6: Option<&'a Matrix>,
    pub drift: Option<&'a DriftReport>,
}

fn pretty_json(value: &impl serde::Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.push('\n');
    text
}

impl TraceReport<'_> {
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }
}

impl MatrixReport<'_> {
    pub fn to_json(&self) -> String {
        pretty_json(self)
    }
}
