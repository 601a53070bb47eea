//! What routec knows of a node between commands, beside its pins: the
//! record of what the last successful apply attached, and the journal of the
//! hooks an apply is about to touch. The journal is written (atomically,
//! fsync'd) before any pin, entry or hook changes, and removed only once the
//! record is written, so an apply killed at any point leaves a file that
//! names every hook it may have attached: the next apply or detach looks at
//! those hooks too, and adopts or removes what routec's programs hold there.

use std::io::Write;
use std::path::{Path, PathBuf};

use routec_compiler::bpf::{Direction, Ifindexes, LoadConstants};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Target, TcMode};
use crate::{Context, Error, Result};

/// What one attachment is, as recorded after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRecord {
    pub interface: String,
    pub direction: Direction,
    pub program: String,
    pub object: String,
    pub mode: TcMode,
    /// `tcx-link`: where the link is pinned.
    pub link_pin: PathBuf,
    /// `netlink`: the program attached at (priority 1, handle 1), as the
    /// kernel numbered it when attached.
    #[serde(default)]
    pub program_id: u32,
    /// sha256 of the object and the constants it was loaded with: equal
    /// values mean the attached program is already the wanted one.
    pub object_sha256: String,
    pub constants: LoadConstants,
    /// Discovered in the node's namespace: the overlay device's and the
    /// underlay device's ifindexes (`overlay_ifindex`, `device_ifindex`).
    #[serde(flatten)]
    pub ifindexes: Ifindexes,
}

impl AttachRecord {
    pub(super) fn same_hook_as(&self, other: &AttachRecord) -> bool {
        self.interface == other.interface && self.direction == other.direction
    }
    /// Same hook, same mode, same program built from the same object with
    /// the same constants: nothing to do.
    pub(super) fn same_program_as(&self, other: &AttachRecord) -> bool {
        self.same_hook_as(other)
            && self.mode == other.mode
            && self.program == other.program
            && self.object_sha256 == other.object_sha256
            && self.constants == other.constants
            && self.ifindexes == other.ifindexes
            && self.link_pin == other.link_pin
    }
    pub(super) fn hook(&self) -> String {
        format!("{}.{}", self.interface, self.direction.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub node: String,
    pub scope: String,
    pub bpffs: PathBuf,
    pub netns: Option<PathBuf>,
    pub attachments: Vec<AttachRecord>,
}

impl NodeState {
    pub(super) fn load(target: &Target) -> Result<Option<Self>> {
        read_json(&target.state_file(), "node state file")
    }
    pub(super) fn save(&self, target: &Target) -> Result<()> {
        write_atomically(&target.state_file(), &serde_json::to_vec_pretty(self).expect("state serializes"))
    }
}

/// The hooks an apply in progress may attach to, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Journal {
    pub netns: Option<PathBuf>,
    /// Hooks with their mode and link pin; the program fields say what was intended.
    pub hooks: Vec<AttachRecord>,
}

impl Journal {
    pub(super) fn load(target: &Target) -> Result<Option<Self>> {
        read_json(&target.journal_file(), "journal")
    }
    /// Records `hooks` (with those of an earlier, unfinished apply) before anything is touched.
    pub(super) fn begin(target: &Target, earlier: Option<&Journal>, hooks: &[AttachRecord]) -> Result<()> {
        let mut all = earlier_hooks(None, earlier);
        for hook in hooks {
            if !all.iter().any(|h| h.same_hook_as(hook) && h.mode == hook.mode) {
                all.push(hook.clone());
            }
        }
        let journal = Journal { netns: target.netns.clone(), hooks: all };
        write_atomically(&target.journal_file(), &serde_json::to_vec_pretty(&journal).expect("journal serializes"))
    }
    /// The apply finished and its record is written.
    pub(super) fn end(target: &Target) -> Result<()> {
        remove_state_file(&target.journal_file())
    }
}

fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::msg(format!("{} is not a {what}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::msg(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new
/// file: a synced temporary file renamed over it, then the folder synced.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("a state file has a folder");
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tmp_path(path);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().context(|| format!("cannot write {}", path.display()))
}

/// Where [`write_atomically`] writes `path` first; a crash may leave it.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().expect("a state file has a name").to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Removes `path` and what a crashed [`write_atomically`] of it left (absent is fine).
pub(super) fn remove_state_file(path: &Path) -> Result<()> {
    remove_durably(&tmp_path(path))?;
    remove_durably(path)
}

/// Removes `path` (absent is fine) and syncs its folder.
fn remove_durably(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::msg(format!("cannot remove {}: {e}", path.display()))),
    }
    let dir = path.parent().expect("a state file has a folder");
    std::fs::File::open(dir).and_then(|d| d.sync_all()).context(|| format!("cannot sync {}", dir.display()))
}

/// Every hook routec may hold for the node: the record's, and those of an
/// apply that did not finish (one entry per hook and mode).
pub(super) fn earlier_hooks(state: Option<&NodeState>, journal: Option<&Journal>) -> Vec<AttachRecord> {
    let mut hooks: Vec<AttachRecord> = Vec::new();
    let all = state.into_iter().flat_map(|s| &s.attachments).chain(journal.into_iter().flat_map(|j| &j.hooks));
    for hook in all {
        if !hooks.iter().any(|h| h.same_hook_as(hook) && h.mode == hook.mode) {
            hooks.push(hook.clone());
        }
    }
    hooks
}
