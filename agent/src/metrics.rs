//! `/metrics`: the agent's own counters in a `prometheus-client` registry,
//! and a collector that reads the kernel at scrape time (the counters map,
//! the maps' entry counts), so every scrape shows what the datapath holds
//! now, not what it held at the last check.
//!
//! prometheus-client writes OpenMetrics text, which Prometheus asks for. The
//! classic text format (version 0.0.4) differs only in that a counter's
//! `HELP`/`TYPE` lines name the `_total` sample and there is no `# UNIT` or
//! `# EOF`; clients that do not ask for OpenMetrics (`curl`, `promtool check
//! metrics`) get that form, as the Go client serves both.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use routec_runtime::live_trace;
use routec_runtime::loader::{self, Target};

use crate::health::Health;

/// How an apply ended, the label of `routec_apply_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyResult {
    /// The kernel was changed to match the build.
    Applied,
    /// The kernel already matched.
    Unchanged,
    /// The build was not applied: invalid, incomplete, or of another cluster.
    Refused,
    /// The kernel refused it; the previous datapath was kept or restored.
    Failed,
}

impl ApplyResult {
    pub const ALL: [ApplyResult; 4] =
        [ApplyResult::Applied, ApplyResult::Unchanged, ApplyResult::Refused, ApplyResult::Failed];
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyResult::Applied => "applied",
            ApplyResult::Unchanged => "unchanged",
            ApplyResult::Refused => "refused",
            ApplyResult::Failed => "failed",
        }
    }
}

type ResultLabel = [(&'static str, &'static str); 1];

/// The registry and the metrics the agent loop updates.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    apply_total: Family<ResultLabel, Counter>,
    pub apply_duration: Histogram,
    pub drift_repairs: Counter,
}

impl Metrics {
    pub fn new(target: Target, health: Arc<Mutex<Health>>) -> Self {
        let mut registry = Registry::default();
        let apply_total = Family::<ResultLabel, Counter>::default();
        // Every result from 0, so that `increase()` sees the first one.
        for result in ApplyResult::ALL {
            drop(apply_total.get_or_create(&[("result", result.as_str())]));
        }
        registry.register("routec_apply", "Applies of a build by result", apply_total.clone());
        // 1 ms to about 33 s.
        let apply_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register("routec_apply_duration_seconds", "Time an apply took", apply_duration.clone());
        let drift_repairs = Counter::default();
        registry.register(
            "routec_drift_repairs",
            "Checks that found the kernel differing from the applied build and repaired it",
            drift_repairs.clone(),
        );
        registry.register_collector(Box::new(KernelCollector { target, health }));
        Metrics { registry, apply_total, apply_duration, drift_repairs }
    }

    pub fn count_apply(&self, result: ApplyResult) {
        self.apply_total.get_or_create(&[("result", result.as_str())]).inc();
    }

    /// The exposition for a client that sent `accept`: OpenMetrics when it
    /// asks for it, else the classic text format. Returns (content type, body).
    pub fn encode(&self, accept: Option<&str>) -> (&'static str, String) {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
            ("application/openmetrics-text; version=1.0.0; charset=utf-8", text)
        } else {
            ("text/plain; version=0.0.4; charset=utf-8", classic_text(&text))
        }
    }
}

/// OpenMetrics text to the classic Prometheus text format (see the module
/// documentation): the only differences for the metric types used here.
fn classic_text(openmetrics: &str) -> String {
    let counters: Vec<&str> =
        openmetrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out += renamed.as_deref().unwrap_or(line);
        out.push('\n');
    }
    out
}

/// Reads the node's pinned maps on every scrape. A map that cannot be read
/// (no datapath yet) leaves its metrics out rather than failing the scrape.
#[derive(Debug)]
struct KernelCollector {
    target: Target,
    health: Arc<Mutex<Health>>,
}

impl Collector for KernelCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let node = self.target.node.as_str();
        if let Ok(counters) = loader::counters(&self.target) {
            let families = [
                ("routec_forward_count", "Packets forwarded, by reason", false, false),
                ("routec_forward_bytes", "Bytes forwarded, by reason", false, true),
                ("routec_drop_count", "Packets dropped, by reason", true, false),
                ("routec_drop_bytes", "Bytes dropped, by reason", true, true),
            ];
            for (name, help, drops, bytes) in families {
                let mut family = encoder.encode_descriptor(name, help, None, ConstCounter::new(0u64).metric_type())?;
                for c in counters.iter().filter(|c| c.drop == drops) {
                    let value = if bytes { c.bytes } else { c.packets };
                    ConstCounter::new(value).encode(family.encode_family(&[("node", node), ("reason", c.reason)])?)?;
                }
            }
        }
        let entries = [
            ("cilium_lxc", live_trace::read_lxc(&self.target).map(|e| e.len())),
            ("cilium_ipcache", live_trace::read_ipcache(&self.target).map(|e| e.len())),
        ];
        if entries.iter().any(|(_, count)| count.is_ok()) {
            let gauge = ConstGauge::new(0i64).metric_type();
            let mut family =
                encoder.encode_descriptor("routec_map_entries", "Entries in each pinned map", None, gauge)?;
            for (map, count) in entries {
                if let Ok(count) = count {
                    ConstGauge::new(count as i64).encode(family.encode_family(&[("map", map)])?)?;
                }
            }
        }
        let applied = self.health.lock().expect("health lock").applied.clone();
        if let Some(build) = applied {
            let gauge = ConstGauge::new(1i64);
            let mut family = encoder.encode_descriptor(
                "routec_build_info",
                "The build the node holds",
                None,
                gauge.metric_type(),
            )?;
            gauge.encode(
                family.encode_family(&[("digest", build.digest.as_str()), ("cluster", build.cluster.as_str())])?,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_classic_text_names_counters_by_their_sample() {
        let openmetrics = "# HELP routec_apply Applies.\n# TYPE routec_apply counter\nroutec_apply_total{result=\"refused\"} 1\n\
                           # HELP routec_apply_duration_seconds Time.\n# TYPE routec_apply_duration_seconds histogram\n\
                           # UNIT routec_apply_duration_seconds seconds\nroutec_apply_duration_seconds_count 0\n# EOF\n";
        assert_eq!(
            classic_text(openmetrics),
            "# HELP routec_apply_total Applies.\n# TYPE routec_apply_total counter\nroutec_apply_total{result=\"refused\"} 1\n\
             # HELP routec_apply_duration_seconds Time.\n# TYPE routec_apply_duration_seconds histogram\n\
             routec_apply_duration_seconds_count 0\n"
        );
    }
}
