//! `routec lab`: a whole cluster in network namespaces on this machine.
//!
//! One namespace for the underlay (a bridge), one per node, one per pod;
//! nothing in the root namespace. The topology is made with iproute2's `ip`
//! (one `ip -batch` per namespace): the lab is a test harness and iproute2 is
//! the reference tool for these objects, so a reader can replay every step by
//! hand.
//!
//! Safe to run unattended:
//! - one writer per lab: `up` and `down` hold the lab's lock
//!   (`<state_dir>/<lab>.lock`) for their whole run;
//! - crash at any point: every namespace is recorded before it is created
//!   and marked as the lab's inside itself, `ip` children die with routec,
//!   and `down` removes what exists ([`down`]);
//! - containment: only what carries routec's markers is a lab's ([`state`]),
//!   and pins go only into a bpf filesystem.
//!
//! Modules: [`state`] (the record and markers), `topology` (creating),
//! [`down`] (removing), [`reconcile`] (`up` of a lab that is up: it follows
//! the config), [`exec`] (`lab exec`), `iproute` (running `ip`),
//! [`agents`] (`up --agents`, `publish`).

pub mod agents;
pub mod down;
pub mod exec;
mod iproute;
pub mod reconcile;
pub mod state;
mod topology;

use std::path::{Path, PathBuf};

use routec_compiler::build::BuildOptions;
use routec_compiler::model::Cluster;

pub use down::{down, down_with};
pub use exec::exec_command;
pub use reconcile::{reconcile_from_build, up_or_reconcile, ReconcileReport, Up};
pub use state::{claim_dir, list, LabEntry, LabNode, LabPod, LabState, NodeLinks, PodLinks};
pub use topology::{create_topology, namespace_marker};

use crate::loader::BuildOutput;
use crate::lock::{Lock, Wait};
use crate::{Context, Error, Result};

/// Where labs keep their state and build output, and where bpffs is.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub state_dir: PathBuf,
    pub bpffs: PathBuf,
    /// How the nodes' programs are attached.
    pub tc_mode: crate::loader::TcMode,
    /// What `up` does when another routec holds the lab's lock.
    pub wait: Wait,
    /// `Some`: `up` starts one agent per node ([`agents`]) instead of applying once.
    pub agents: Option<agents::AgentsOptions>,
}

/// Where labs keep their state and build output unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/routec/labs";

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            bpffs: PathBuf::from("/sys/fs/bpf"),
            tc_mode: crate::loader::TcMode::default(),
            wait: Wait::default(),
            agents: None,
        }
    }
}

/// Directory where `ip netns` keeps its namespace files.
pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// The lock file of lab `name`, beside its state (never removed).
pub fn lock_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.lock"))
}

/// Lab names become namespace and pin folder names: keep them short and plain.
pub fn check_lab_name(name: &str) -> Result<()> {
    check_plain_name("lab name", name)
}

/// A pin scope becomes a folder below `<bpffs>/routec/` (labs use their
/// name as scope): plain like a lab name, so it cannot reach outside.
pub fn check_scope(name: &str) -> Result<()> {
    check_plain_name("scope", name)
}

/// Node names become pin and record folder names: DNS-1123 subdomains, as
/// the language requires, so none reaches outside its folder.
pub fn check_node_name(name: &str) -> Result<()> {
    routec_compiler::model::rules::check_subdomain(name)
        .map_err(|why| Error::msg(format!("invalid node name `{name}`: {why} (node names are DNS-1123 subdomains)")))
}

fn check_plain_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "invalid {what} `{name}`: use 1 to 32 characters of a-z, 0-9 and `-`, not starting with `-`"
        )))
    }
}

/// Namespace names are files in /run/netns: at most 255 bytes, no `/`.
fn namespace_name(lab: &str, object: &str, index: usize) -> String {
    let plain = format!("{lab}-{}", object.replace('/', "."));
    if plain.len() <= 200 {
        plain
    } else {
        format!("{}-{index}", &plain[..190])
    }
}

/// The loader's view of one lab node: its namespace, pins and apply record
/// under the lab's scope (so `routec status --node N --scope LAB` finds it).
pub fn node_target(state: &LabState, node: &str) -> Result<crate::loader::Target> {
    let lab_node = state.node(node).ok_or_else(|| Error::msg(format!("lab `{}` has no node `{node}`", state.name)))?;
    Ok(crate::loader::Target {
        node: node.to_string(),
        netns: Some(netns_path(&lab_node.netns)),
        bpffs: state.bpffs.clone(),
        scope: state.name.clone(),
        state_dir: PathBuf::from(crate::loader::STATE_DIR),
        tc_mode: state.tc_mode,
    })
}

/// Applies `build` (the lab's build, at `state.out`) to every node of the
/// lab, several nodes at a time.
pub fn apply_all(
    build: &BuildOutput,
    state: &LabState,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, crate::loader::ApplyReport)>> {
    let cluster = build.cluster()?;
    let results = topology::in_parallel(
        cluster.nodes.len(),
        |index| {
            let node = &cluster.nodes[index].name;
            crate::loader::NodePlan::from_build(build, node)
                .and_then(|plan| crate::loader::apply(&plan, &node_target(state, node)?))
                .context(|| format!("apply to node {node} failed"))
                .map(|report| (node.clone(), report))
        },
        &mut |index, done| {
            progress(&format!("node {} applied ({done}/{})", cluster.nodes[index].name, cluster.nodes.len()))
        },
    );
    results.into_iter().collect()
}

/// Checks that come before anything is created or locked: the bpffs first
/// (pins into an ordinary folder would make `down` delete files routec
/// never made), then root.
fn preflight(name: &str, options: &LabOptions) -> Result<()> {
    check_lab_name(name)?;
    crate::bpffs::check(&options.bpffs)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::msg("a lab creates network namespaces and loads eBPF programs: run it as root"));
    }
    Ok(())
}

fn lock(name: &str, options: &LabOptions) -> Result<Lock> {
    Lock::acquire(&lock_path(&options.state_dir, name), &format!("lab {name}"), options.wait)
}

fn refuse_if_up(name: &str, options: &LabOptions) -> Result<()> {
    if LabState::state_file(&options.state_dir, name).exists() {
        return Err(Error::msg(format!("lab `{name}` is already up (`routec lab down {name}` first)")));
    }
    Ok(())
}

/// Brings a lab up from an existing build at `out` (of the cluster it
/// records): topology, then every node applied. On failure everything made
/// is removed again.
pub fn up_from_build(out: &Path, name: &str, options: &LabOptions, progress: &mut dyn FnMut(&str)) -> Result<LabState> {
    preflight(name, options)?;
    let _lock = lock(name, options)?;
    refuse_if_up(name, options)?;
    up_from_build_locked(out, name, options, progress)
}

fn up_from_build_locked(
    out: &Path,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LabState> {
    let build = BuildOutput::open(out)?;
    let cluster = build.cluster()?;
    let mut state = LabState::plan(cluster, name, &options.bpffs, out)?;
    state.tc_mode = options.tc_mode;
    let result =
        create_topology(cluster, &mut state, &options.state_dir, progress).and_then(|()| match &options.agents {
            None => apply_all(&build, &state, progress).map(drop),
            Some(agents) => agents::start(&state, out, options, agents),
        });
    match result {
        Ok(_) => Ok(state),
        Err(e) if !LabState::state_file(&options.state_dir, name).exists() => Err(e),
        Err(e) => Err(cleaned_up(e, down::down_locked(&options.state_dir, name))),
    }
}

fn cleaned_up(error: Error, cleanup: Result<()>) -> Error {
    match cleanup {
        Ok(()) => Error::msg(format!("{error} (everything it made was removed)")),
        Err(cleanup) => Error::msg(format!("{error}\n(and cleaning up failed: {cleanup})")),
    }
}

/// Where `lab up` puts the lab's build output.
pub fn out_dir(options: &LabOptions, name: &str) -> PathBuf {
    options.state_dir.join(name).join("out")
}

/// `routec lab up`: builds `cluster` exactly as `routec build` would with
/// `build_options` (the same entry point and settings: routec.toml's
/// `[maps]` and `clang`) into the lab's folder ([`out_dir`]), then brings the
/// lab up from it. Holds the lab's lock throughout; a lab that fails to come
/// up leaves nothing behind.
pub fn up(
    cluster: &Cluster,
    build_options: &BuildOptions,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LabState> {
    preflight(name, options)?;
    let _lock = lock(name, options)?;
    refuse_if_up(name, options)?;
    up_locked(cluster, build_options, name, options, progress)
}

/// [`up`] for a caller that holds the lab's lock, of a lab that is not up.
fn up_locked(
    cluster: &Cluster,
    build_options: &BuildOptions,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LabState> {
    // Checked before the folder exists, so a refused lab makes nothing.
    LabState::plan(cluster, name, &options.bpffs, &out_dir(options, name))?;
    let folder = claim_dir(&options.state_dir, name)?;
    let out = out_dir(options, name);
    progress(&format!("building {} nodes, {} pods into {}", cluster.nodes.len(), cluster.pods.len(), out.display()));
    let result = routec_compiler::build::build(cluster, build_options, &out)
        .map_err(|e| Error::msg(format!("routec build failed: {e}")))
        .and_then(|_| up_from_build_locked(&out, name, options, progress));
    match result {
        // A lab that never got a state file leaves only its folder behind.
        Err(e) if !LabState::state_file(&options.state_dir, name).exists() && folder.exists() => {
            Err(cleaned_up(e, down::down_locked(&options.state_dir, name)))
        }
        result => result,
    }
}
