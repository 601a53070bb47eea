//! `routec apply/detach/status`: one node's datapath in the kernel.
//!
//! One module per phase of an apply, each with one job:
//! - [`plan`]: a build folder read back into one node's [`NodePlan`];
//! - [`discover`]: the plan's interfaces in the node's namespace (declared
//!   ifindexes and MACs checked, undeclared ones filled);
//! - [`maps`]: pinned maps checked against `layout::MapSpec`, and the one
//!   generic sync and undo of both maps over `layout`'s typed keys and values;
//! - [`hooks`]: attaching, switching and removing programs on tc hooks
//!   (cls_bpf filters or TCX links), and recognising routec's programs on a
//!   hook without any record;
//! - [`state`]: the record of what was attached, and the journal of what an
//!   apply is about to touch, both written atomically and fsync'd;
//! - [`applied`]: the entries the last clean apply wrote, from which the next
//!   one computes its delta without reading the maps back;
//! - [`resize`]: a map whose size changed, replaced through a `:pending` pin
//!   without a moment where the programs lack a map;
//! - [`apply`], [`detach`], [`status`]: the three commands.
//!
//! Every command refuses a `--bpffs` that is not a bpf filesystem before
//! anything else, and apply and detach hold the node's lock
//! (`<state_dir>/<scope>/<node>.lock`) from start to end: one writer per node.
//!
//! Pins: `<bpffs>/routec/<scope>/<pin folder>/{cilium_lxc,cilium_ipcache,routec_counters}`
//! and, for TCX links, `.../links/<direction>/<interface>`, where the pin
//! folder is the node name with `.` written as `:` ([`pin_folder_name`]):
//! bpffs refuses names with a dot. bpffs holds no regular files, so the
//! record of what was attached lives in `/run/routec/nodes/<scope>/<node>.json`,
//! and the entries the last apply wrote in `<node>.applied` beside it.

mod applied;
mod apply;
mod detach;
mod discover;
mod hooks;
mod maps;
mod observe;
mod plan;
mod resize;
mod state;
mod status;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::Digest;

pub use apply::{
    apply, apply_json, apply_observed, apply_with, ApplyFailure, ApplyOutcome, ApplyReport, MapSync, ReplacedProgram,
    SyncPath, APPLY_JSON_VERSION,
};
pub use detach::{detach, detach_with};
pub use maps::{check_pin, check_pinned_map, read_map, sync_ipcache, sync_lxc, LiveMap, MapChanges, MaxEntries, Table};
pub use observe::{observe, plan, Observed, FOREIGN_OBJECT, UNKNOWN_OBJECT};
pub use plan::{build_digest, BuildOutput, NodePlan, PlannedEndpoint};
pub use state::{AttachRecord, NodeState};
pub use status::{counters, status, CounterStatus, MapStatus, NodeStatus, ProgramStatus};

use routec_compiler::bpf::Direction;

/// Default root of the per-node state records.
pub const STATE_DIR: &str = "/run/routec/nodes";

/// How programs are attached to tc hooks. Both outlive the loader process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TcMode {
    /// TCX bpf_links (Linux >= 6.6), pinned under the node's pin folder;
    /// switched atomically with `bpf_link_update`. Listed by `routec status`
    /// and by bpftool >= 7.3 (older ones do not see them).
    TcxLink,
    /// Classic cls_bpf filters on a clsact qdisc (priority 1, handle 1),
    /// switched atomically by replacing the filter; listed by every
    /// `bpftool net show` and `tc filter show`, as in Cilium 1.14, which is
    /// why it is the default.
    #[default]
    Netlink,
}

impl TcMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TcMode::TcxLink => "tcx-link",
            TcMode::Netlink => "netlink",
        }
    }
}

/// Where one node's datapath lives.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: String,
    /// The node's network namespace (`/run/netns/X`, `/proc/PID/ns/net`), or
    /// the caller's.
    pub netns: Option<PathBuf>,
    pub bpffs: PathBuf,
    /// Lab name, or `default`.
    pub scope: String,
    pub state_dir: PathBuf,
    /// How `apply` attaches (detach and status follow each record's own mode).
    pub tc_mode: TcMode,
}

/// The pin folder of a node: its name with every `.` written as `:`. bpffs
/// refuses names with a dot, and node names (DNS-1123 subdomains) never
/// hold a `:`, so the mapping is reversible: `n1.example.com` pins under
/// `n1:example:com`.
pub fn pin_folder_name(node: &str) -> String {
    node.replace('.', ":")
}

/// The longest stem a node's state file names may have: a file name holds
/// 255 bytes, and the longest made from the stem is `<stem>.journal.json`
/// written as `<stem>.journal.json.tmp` (17 bytes more).
const NODE_FILE_STEM_MAX: usize = 255 - ".journal.json.tmp".len();

/// The stem of a node's state files: its name, or for a name too long for
/// every file name to hold (node names go up to 253 bytes) the longest
/// prefix that leaves room for `~` and 16 hex digits of the name's sha256.
/// DNS-1123 names never hold a `~`, so a stem never equals a plain name.
fn node_file_stem(node: &str) -> String {
    if node.len() <= NODE_FILE_STEM_MAX {
        return node.to_string();
    }
    let digest = sha2::Sha256::digest(node.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut end = NODE_FILE_STEM_MAX - 1 - hash.len();
    while !node.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}~{hash}", &node[..end])
}

impl Target {
    pub fn new(node: &str, scope: &str) -> Self {
        Target {
            node: node.to_string(),
            netns: None,
            bpffs: PathBuf::from("/sys/fs/bpf"),
            scope: scope.to_string(),
            state_dir: PathBuf::from(STATE_DIR),
            tc_mode: TcMode::default(),
        }
    }
    pub fn pin_dir(&self) -> PathBuf {
        self.bpffs.join("routec").join(&self.scope).join(pin_folder_name(&self.node))
    }
    pub fn map_pin(&self, map: &str) -> PathBuf {
        self.pin_dir().join(map)
    }
    fn link_pin(&self, interface: &str, direction: Direction) -> PathBuf {
        // bpffs refuses names with a dot; `:` never occurs in interface names.
        self.pin_dir().join("links").join(direction.as_str()).join(interface.replace('.', ":"))
    }
    fn node_file(&self, suffix: &str) -> PathBuf {
        self.state_dir.join(&self.scope).join(format!("{}{suffix}", node_file_stem(&self.node)))
    }
    /// The lock that makes apply and detach of this node one at a time.
    pub fn lock_file(&self) -> PathBuf {
        self.node_file(".lock")
    }
    fn state_file(&self) -> PathBuf {
        self.node_file(".json")
    }
    fn journal_file(&self) -> PathBuf {
        self.node_file(".journal.json")
    }
    fn applied_file(&self) -> PathBuf {
        self.node_file(".applied")
    }
    fn lock_subject(&self) -> String {
        format!("node {} (scope {})", self.node, self.scope)
    }
    /// Removes the node's pin folders where they are empty.
    fn remove_empty_pin_dirs(&self) {
        for direction in [Direction::Ingress, Direction::Egress] {
            let _ = std::fs::remove_dir(self.pin_dir().join("links").join(direction.as_str()));
        }
        let _ = std::fs::remove_dir(self.pin_dir().join("links"));
        let _ = std::fs::remove_dir(self.pin_dir());
        let _ = std::fs::remove_dir(self.bpffs.join("routec").join(&self.scope));
    }
}

/// An error with its causes: aya's errors keep the errno in `source()`.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text += &format!(": {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_folder_name_has_no_dot_and_gives_the_node_name_back() {
        for node in ["n1.example.com", "mycluster-worker", "a.b-c.d"] {
            let folder = pin_folder_name(node);
            assert!(!folder.contains('.'), "{folder}");
            assert_eq!(folder.replace(':', "."), node);
        }
        let target = Target::new("n1.example.com", "default");
        assert!(target.pin_dir().ends_with("routec/default/n1:example:com"));
        assert!(target.state_file().ends_with("default/n1.example.com.json"));
    }

    #[test]
    fn state_file_names_fit_for_every_node_name_and_stay_distinct() {
        let prefix = format!("{}.", "a".repeat(63)).repeat(3);
        let (a, b) = (format!("{prefix}{}", "b".repeat(61)), format!("{prefix}{}", "c".repeat(61)));
        assert_eq!(a.len(), 253);
        let (sa, sb) = (node_file_stem(&a), node_file_stem(&b));
        assert_ne!(sa, sb, "names that differ past the prefix");
        assert!(sa.starts_with(&a[..200]) && sa.contains('~'), "{sa}");
        let target = Target::new(&a, "default");
        for file in [target.journal_file(), target.state_file(), target.lock_file(), target.applied_file()] {
            assert!(file.file_name().unwrap().len() + ".tmp".len() <= 255, "{}", file.display());
        }
        assert_eq!(node_file_stem("n1.example.com"), "n1.example.com", "short names as they were");
    }
}
