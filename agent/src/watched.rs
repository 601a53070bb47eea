//! The build behind the watched path. The path is resolved once per read
//! (a git-sync symlink may be swapped at any moment), and everything is read
//! from the resolved folder through the loader's readers: every file checked
//! against the manifest's sizes and sha256, the node looked up in the build's
//! cluster. A build that fails any check is refused whole.

use std::path::{Path, PathBuf};

use routec_compiler::trace::Snapshot;
use routec_runtime::loader::{self, BuildOutput, NodePlan};
use routec_runtime::{Error, Result};

/// Which build: its digest (`loader::build_digest`) and the cluster it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildId {
    pub digest: String,
    pub cluster: String,
}

/// A build read for this node: its plan and the map contents it seeds (for
/// drift checks), kept in memory so that the folder may go away (git-sync
/// removes old worktrees) while the datapath runs.
#[derive(Debug, Clone)]
pub struct Build {
    pub id: BuildId,
    /// The folder the watched path pointed to when read.
    pub folder: PathBuf,
    pub plan: NodePlan,
    pub expected: Snapshot,
}

/// The folder the watched path points to now.
pub fn resolve(watch: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(watch).map_err(|e| Error::msg(format!("cannot resolve {}: {e}", watch.display())))
}

/// The digest of the build in `folder`, from its manifest alone (cheap: the
/// agent compares it on every event and every verify tick).
pub fn digest(folder: &Path) -> Result<String> {
    loader::build_digest(folder)
}

/// Reads node `node`'s part of the build the watched path points to. Every
/// file, the manifest its digest comes from included, is read from one
/// descriptor of the resolved folder, so all of it is one build even when
/// the folder is replaced meanwhile.
pub fn open(watch: &Path, node: &str) -> Result<Build> {
    let folder = resolve(watch)?;
    let output = BuildOutput::open(&folder)?;
    output.check_complete()?;
    let plan = NodePlan::from_build(&output, node)?;
    // The drift check compares this node only: its seeds, already read for the plan.
    let cluster = output.cluster()?;
    let expected = Snapshot::from_seeds(
        cluster,
        [(node, plan.lxc_seed.clone())],
        plan.ipcache_seed.clone(),
        plan.node_ipv6_seed.clone(),
    );
    let id = BuildId { digest: output.digest().to_string(), cluster: cluster.name.clone() };
    Ok(Build { id, folder, plan, expected })
}
