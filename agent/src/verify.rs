//! Does the kernel still hold the applied build? Two checks, both read-only:
//! the maps, entry by entry, through the drift check of `trace --live`
//! (`trace::drift` over `live_trace::live_snapshot`), and every hook of the
//! node's attach plan, which must run routec's program (`loader::status`).

use routec_compiler::trace;
use routec_runtime::live_trace::{live_snapshot, LiveSource};
use routec_runtime::loader::{self, Target};

use crate::watched::Build;

/// What differs between the kernel and `build`, one line per difference;
/// empty when the kernel holds the build. Unreadable maps or records are
/// differences too: the datapath is not the one applied.
pub fn differences(target: &Target, build: &Build) -> Vec<String> {
    let mut found = Vec::new();
    match live_snapshot(&build.expected, &LiveSource::Targets(vec![target.clone()])) {
        Ok(live) => {
            for d in trace::drift(&build.expected, &live).drift {
                let kind = serde_json::to_value(d.kind).ok().and_then(|v| v.as_str().map(String::from));
                found.push(format!("{} {} {}", d.map, d.key, kind.unwrap_or_default()));
            }
        }
        Err(e) => found.push(format!("maps: {e}")),
    }
    match loader::status(target) {
        Ok(status) => {
            for a in &build.plan.attachments {
                let ours = status.programs.iter().any(|p| {
                    p.interface == a.interface
                        && p.direction == a.direction
                        && p.mode != "foreign"
                        && p.program == a.program
                });
                if !ours {
                    found.push(format!("hook {}.{} does not run {}", a.interface, a.direction.as_str(), a.program));
                }
            }
        }
        Err(e) => found.push(format!("hooks: {e}")),
    }
    found
}

/// The differences as one line for logs and `/healthz`, the first few named.
pub fn summary(differences: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = differences.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if differences.len() > SHOWN {
        text += &format!(" and {} more", differences.len() - SHOWN);
    }
    text
}
