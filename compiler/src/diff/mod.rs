//! `routec diff`: what changes on each node when one build replaces another
//! (docs/gitops.md). `state` reads a node's datapath as a plain value,
//! `change` compares two states (pure, linear merges of sorted lists),
//! `render` prints the plan as text or JSON.

mod change;
mod render;
mod state;

pub use change::{
    diff, diff_node, entry_deltas, Action, Change, ChangeKind, Entries, EntryDelta, EntryValue, NodePlan, NodeSummary,
    Plan, Summary, Value,
};
pub use render::{render_json, render_text, render_text_titled, Sides, JSON_FORMAT_VERSION};
pub use state::{BuildState, IpcacheEntries, LxcEntries, MapSize, Names, NodeState, ProgramState, StateError, Subject};

use std::path::Path;

use crate::build::BuildFiles;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    State(#[from] StateError),
    /// Two builds of different clusters: almost always the wrong folder.
    #[error(
        "OLD is a build of cluster `{old}` and NEW of cluster `{new}`: refusing to compare builds of different \
         clusters (pass --allow-cluster-change if NEW really replaces OLD)"
    )]
    ClusterChanged { old: String, new: String },
}

/// Reads the builds `old` and `new` (side by side, every file checked
/// against its manifest) and compares them. Builds of different clusters
/// are refused unless `allow_cluster_change`.
pub fn diff_builds(old: &Path, new: &Path, allow_cluster_change: bool) -> Result<Plan, DiffError> {
    let old_files = BuildFiles::open(old).map_err(StateError::from)?;
    let new_files = BuildFiles::open(new).map_err(StateError::from)?;
    let (old_cluster, new_cluster) = (&old_files.manifest.cluster, &new_files.manifest.cluster);
    if old_cluster != new_cluster && !allow_cluster_change {
        return Err(DiffError::ClusterChanged { old: old_cluster.clone(), new: new_cluster.clone() });
    }
    let (old_state, new_state) = std::thread::scope(|scope| {
        let old_state = scope.spawn(|| BuildState::read(&old_files));
        let new_state = BuildState::read(&new_files);
        (old_state.join().expect("reading a build panicked"), new_state)
    });
    Ok(diff(&old_state?, &new_state?))
}
