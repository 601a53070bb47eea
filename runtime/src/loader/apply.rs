//! `routec apply`: one node's datapath made to match a plan, in phases, so
//! that a failure leaves the previous datapath working:
//! 1. *validate* (nothing live is touched): the node's lock, the bpffs, pinned
//!    maps against the build's `MapSpec`s, every interface of the plan
//!    ([`discover`]), no foreign filter where routec attaches, and every object
//!    through the verifier;
//! 2. *seed*: stale entries deleted, then only the entries that differ written.
//!    The delta comes from the record of the last clean apply ([`Applied`]),
//!    without reading the maps back, unless `--verify` was asked or that
//!    record cannot be trusted: then every entry is read back and drift is
//!    repaired;
//! 3. *attach*: each hook switched atomically in place when routec's program
//!    runs there (recorded or not), attached otherwise; hooks routec held
//!    that the plan no longer has are removed.
//!
//! The journal is written before the first pin is made; phases 2 and 3
//! remember every change that succeeded, and a failure undoes them, last
//! first. The outcome is typed ([`ApplyOutcome`]): unchanged, applied,
//! rolled back, or mixed when the rollback itself failed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aya::programs::{ProgramError, SchedClassifier};
use aya::{Ebpf, EbpfLoader};
use routec_compiler::bpf::Ifindexes;
use routec_compiler::build::sha256_hex;
use routec_compiler::layout::{self, EndpointKey, IpcacheKey, MapKey, NodeIpv6Key};
use serde::Serialize;

use super::applied::{Applied, AppliedMap};
use super::discover::discover;
use super::hooks::{self, NodeMaps};
use super::maps::{self, check_pinned_map, MapChanges, MapUndo};
use super::plan::NodePlan;
use super::resize::{self, Swapped};
use super::state::{earlier_hooks, AttachRecord, Journal, NodeState};
use super::{chain, Target};
use crate::lock::{Lock, Wait};
use crate::{bpffs, netns, Context, Error, Result};

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApplyOutcome {
    /// Nothing was changed: the datapath already matched, or a failure came
    /// before anything live was touched.
    Unchanged,
    Applied,
    /// A failure after changes, all undone: the previous datapath is back.
    RolledBack,
    /// A failure whose rollback failed too: old and new parts may mix.
    Mixed,
}

/// A failed apply: what went wrong, and what it left.
#[derive(Debug)]
pub struct ApplyFailure {
    pub error: Error,
    pub outcome: ApplyOutcome,
    /// For [`ApplyOutcome::Mixed`]: what could not be undone.
    pub rollback_problems: Option<String>,
}

impl std::fmt::Display for ApplyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.error)?;
        match self.outcome {
            ApplyOutcome::Unchanged => write!(f, "nothing was changed: the previous datapath is unchanged"),
            ApplyOutcome::Applied => write!(f, "the new datapath is applied"),
            ApplyOutcome::RolledBack => {
                write!(f, "rolled back: the previous datapath is restored (map entries and attachments)")
            }
            ApplyOutcome::Mixed => write!(
                f,
                "rollback failed, the datapath may mix old and new parts: {}\n\
                 apply a good build again, or remove the node's datapath with `routec detach`",
                self.rollback_problems.as_deref().unwrap_or("?")
            ),
        }
    }
}

fn failure(error: Error, outcome: ApplyOutcome) -> Error {
    Error::Apply(Box::new(ApplyFailure { error, outcome, rollback_problems: None }))
}

fn unchanged(error: Error) -> Error {
    match error {
        Error::Apply(_) => error,
        error => failure(error, ApplyOutcome::Unchanged),
    }
}

/// How apply finds the entries to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapSync {
    /// From the record of the last clean apply, when it can be trusted.
    #[default]
    Incremental,
    /// Always by reading every entry back, repairing drift (`--verify`).
    Verify,
}

/// The path an apply's seed phase took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncPath {
    /// The delta from the last clean apply's record; nothing read back.
    Incremental,
    /// Every entry read back from the kernel and compared.
    #[default]
    Verified,
}

/// A program loaded anew and attached or swapped onto a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplacedProgram {
    pub program: String,
    pub object: String,
    /// sha256 of the object file.
    pub object_sha256: String,
}

/// What an apply did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// The build's `input_digest`.
    pub build_digest: String,
    pub path: SyncPath,
    /// Why the maps were read back (`path` is `verified`).
    pub verified_because: Option<String>,
    pub cilium_lxc: MapChanges,
    pub cilium_ipcache: MapChanges,
    /// Always read back: one entry per node at most.
    pub routec_node_ipv6: MapChanges,
    /// Programs loaded and put on a hook (once per program and object).
    pub programs_replaced: Vec<ReplacedProgram>,
    /// `interface.direction` of attachments made or switched.
    pub attached: Vec<String>,
    /// `interface.direction` of attachments removed (no longer in the plan).
    pub detached: Vec<String>,
    /// Maps pinned with another `max_entries`, replaced by maps of the build's size.
    pub maps_replaced: Vec<String>,
}

impl ApplyReport {
    pub fn changed_nothing(&self) -> bool {
        self.cilium_lxc.is_empty()
            && self.cilium_ipcache.is_empty()
            && self.routec_node_ipv6.is_empty()
            && self.attached.is_empty()
            && self.detached.is_empty()
            && self.maps_replaced.is_empty()
    }
    pub fn outcome(&self) -> ApplyOutcome {
        if self.changed_nothing() {
            ApplyOutcome::Unchanged
        } else {
            ApplyOutcome::Applied
        }
    }
}

impl std::fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = match (&self.path, &self.verified_because) {
            (SyncPath::Incremental, _) => "incremental: from the record of the last apply".to_string(),
            (SyncPath::Verified, Some(why)) => format!("verified: maps read back ({why})"),
            (SyncPath::Verified, None) => "verified: maps read back".to_string(),
        };
        if self.changed_nothing() {
            return write!(f, "nothing to change: the datapath already matches the build ({path})");
        }
        writeln!(f, "{path}")?;
        writeln!(f, "cilium_lxc: {}", self.cilium_lxc)?;
        writeln!(f, "cilium_ipcache: {}", self.cilium_ipcache)?;
        // Only a native cluster with IPv6 node addresses seeds it.
        if self.routec_node_ipv6 != MapChanges::default() {
            writeln!(f, "routec_node_ipv6: {}", self.routec_node_ipv6)?;
        }
        write!(f, "attached: {}", if self.attached.is_empty() { "-".into() } else { self.attached.join(", ") })?;
        if !self.detached.is_empty() {
            write!(f, "\ndetached: {}", self.detached.join(", "))?;
        }
        if !self.maps_replaced.is_empty() {
            write!(f, "\nmaps replaced (new size): {}", self.maps_replaced.join(", "))?;
        }
        Ok(())
    }
}

/// The version of [`apply_json`]'s document; bumped when a field changes meaning.
pub const APPLY_JSON_VERSION: u32 = 1;

/// `routec apply --format json`: one document per apply, whether it
/// succeeded (what it wrote and how) or failed (what the failure left).
pub fn apply_json(node: &str, result: &Result<ApplyReport>) -> serde_json::Value {
    match result {
        Ok(report) => serde_json::json!({
            "format_version": APPLY_JSON_VERSION,
            "node": node,
            "outcome": report.outcome(),
            "build_digest": report.build_digest,
            "path": report.path,
            "verified_because": report.verified_because,
            "maps": maps_json(report),
            "maps_replaced": report.maps_replaced,
            "programs_replaced": report.programs_replaced,
            "hooks": { "attached": report.attached, "detached": report.detached },
            "error": null,
        }),
        Err(error) => serde_json::json!({
            "format_version": APPLY_JSON_VERSION,
            "node": node,
            "outcome": error.apply_outcome().unwrap_or(ApplyOutcome::Unchanged),
            "error": error.to_string(),
        }),
    }
}

/// The per-map counts; routec_node_ipv6 only when the apply saw an entry
/// of it (a native cluster with IPv6 node addresses, or one leaving), as in
/// the text.
fn maps_json(report: &ApplyReport) -> serde_json::Value {
    let mut maps = serde_json::json!({ "cilium_lxc": report.cilium_lxc, "cilium_ipcache": report.cilium_ipcache });
    if report.routec_node_ipv6 != MapChanges::default() {
        maps["routec_node_ipv6"] = serde_json::json!(report.routec_node_ipv6);
    }
    maps
}

/// `routec apply`, waiting for the node's lock: see the module documentation.
pub fn apply(plan: &NodePlan, target: &Target) -> Result<ApplyReport> {
    apply_with(plan, target, Wait::Block, MapSync::Incremental, &mut |_| {})
}

/// [`apply`], calling `before_switch` with each hook (`interface.direction`)
/// just before phase 3 attaches or switches it, inside the node's namespace:
/// it lets a test change the world at that moment (remove an interface) to
/// check that a late failure is rolled back.
pub fn apply_observed(
    plan: &NodePlan,
    target: &Target,
    before_switch: &mut (dyn FnMut(&str) + Send),
) -> Result<ApplyReport> {
    apply_with(plan, target, Wait::Block, MapSync::Incremental, before_switch)
}

/// [`apply_observed`] with the choice of waiting for the node's lock or not,
/// and of trusting the last apply's record or reading the maps back.
/// Every error is an [`Error::Apply`] that says what the failure left.
pub fn apply_with(
    plan: &NodePlan,
    target: &Target,
    wait: Wait,
    sync: MapSync,
    before_switch: &mut (dyn FnMut(&str) + Send),
) -> Result<ApplyReport> {
    bpffs::check(&target.bpffs).map_err(unchanged)?;
    let _lock = Lock::acquire(&target.lock_file(), &target.lock_subject(), wait).map_err(unchanged)?;
    let mut preexisting = Vec::new();
    let mut resized = Vec::new();
    for spec in &plan.maps {
        if resize::needs_resize(target, spec) {
            resized.push(spec.name);
            preexisting.push(spec.name);
        } else if check_pinned_map(&target.map_pin(spec.name), spec).map_err(unchanged)? {
            preexisting.push(spec.name);
        }
    }
    let previous = NodeState::load(target).map_err(unchanged)?;
    let journal = Journal::load(target).map_err(unchanged)?;
    let record = trusted_record(plan, target, sync, journal.is_some(), &preexisting);
    let applied = netns::run_in(target.netns.as_deref(), || {
        let run = Run {
            plan,
            target,
            previous: previous.as_ref(),
            journal: journal.as_ref(),
            preexisting: &preexisting,
            resized: &resized,
            record: &record,
        };
        run.apply(before_switch)
    });
    // A bare error means the namespace could not be entered, before anything was touched.
    applied.map_err(unchanged)
}

/// The record of the last clean apply if it describes the maps pinned now,
/// or why the maps must be read back instead.
fn trusted_record(
    plan: &NodePlan,
    target: &Target,
    sync: MapSync,
    unfinished: bool,
    preexisting: &[&'static str],
) -> std::result::Result<Applied, String> {
    if sync == MapSync::Verify {
        return Err("--verify".to_string());
    }
    if unfinished {
        return Err("the journal shows an apply that did not finish".to_string());
    }
    let record = Applied::load(target)?;
    for spec in [EndpointKey::SPEC, IpcacheKey::SPEC] {
        let Some(planned) = plan.maps.iter().find(|m| m.name == spec.name) else {
            return Err(format!("the build does not define {}", spec.name));
        };
        let id = preexisting.contains(&spec.name).then(|| maps::pinned_map_id(target, planned)).flatten();
        if !record.describes(planned, id) {
            return Err(format!("{} is not the map the last apply wrote", spec.name));
        }
    }
    Ok(record)
}

/// Sorted by key bytes, as the record keeps them and the delta needs them
/// (a build writes its seeds sorted: then this only checks).
fn sorted<K: MapKey>(entries: &[(K, K::Value)]) -> Vec<(K, K::Value)> {
    let mut entries = entries.to_vec();
    layout::sort_by_key_bytes(&mut entries);
    entries
}

/// One apply, inside the node's namespace, under its lock.
struct Run<'a> {
    plan: &'a NodePlan,
    target: &'a Target,
    previous: Option<&'a NodeState>,
    journal: Option<&'a Journal>,
    /// Map pins that existed before this run.
    preexisting: &'a [&'static str],
    /// Maps pinned with another `max_entries`: replaced through `:pending` pins.
    resized: &'a [&'static str],
    /// What the maps hold, or why that is not known.
    record: &'a std::result::Result<Applied, String>,
}

impl Run<'_> {
    fn apply(&self, before_switch: &mut (dyn FnMut(&str) + Send)) -> Result<ApplyReport> {
        let (plan, target) = (self.plan, self.target);
        // Phase 1: validate.
        let (lxc, ifindexes) = discover(plan).context(|| format!("node {}", plan.node)).map_err(unchanged)?;
        let digests: BTreeMap<&str, String> = plan.objects.iter().map(|(k, v)| (k.as_str(), sha256_hex(v))).collect();
        let mut wanted: Vec<AttachRecord> = plan
            .attachments
            .iter()
            .map(|a| AttachRecord {
                interface: a.interface.clone(),
                direction: a.direction,
                program: a.program.clone(),
                object: a.object.clone(),
                mode: target.tc_mode,
                link_pin: target.link_pin(&a.interface, a.direction),
                program_id: 0,
                object_sha256: digests[a.object.as_str()].clone(),
                constants: plan.constants,
                ifindexes,
            })
            .collect();
        let previous_records = self.previous.map_or(&[][..], |s| &s.attachments[..]);
        // A wanted hook with the program id the record has there, so that
        // the recorded program is recognised without scanning every program.
        let recorded = |w: &AttachRecord| AttachRecord {
            program_id: previous_records
                .iter()
                .find(|p| p.same_hook_as(w) && p.mode == w.mode)
                .map_or(0, |p| p.program_id),
            ..w.clone()
        };
        let node_maps = NodeMaps::of(target);
        let foreign: Vec<String> =
            wanted.iter().filter_map(|w| hooks::foreign_filter(&recorded(w), &node_maps)).collect();
        if !foreign.is_empty() {
            return Err(unchanged(Error::msg(foreign.join("\n"))));
        }
        let mut to_attach = Vec::new();
        for (index, w) in wanted.iter_mut().enumerate() {
            match previous_records.iter().find(|p| p.same_program_as(w) && hooks::is_live(p)) {
                // A replaced map needs programs that use the new one on every hook.
                Some(live) if self.resized.is_empty() => w.program_id = live.program_id,
                _ => to_attach.push(index),
            }
        }
        let earlier = earlier_hooks(self.previous, self.journal);

        // From here on pins, entries and hooks change: the journal names
        // every hook this run may touch before the first change.
        Journal::begin(target, self.journal, &wanted).map_err(unchanged)?;
        std::fs::create_dir_all(target.pin_dir().join("links/ingress"))
            .and_then(|()| std::fs::create_dir_all(target.pin_dir().join("links/egress")))
            .context(|| format!("cannot create {}", target.pin_dir().display()))
            .map_err(|e| self.unchanged_after_journal(e))?;
        // Under the lock, a `:pending` pin is what an apply that died left.
        resize::remove_pending(target, &plan.maps);
        let maps_missing = self.preexisting.len() < plan.maps.len();
        let mut loaded = BTreeMap::new();
        if !to_attach.is_empty() || maps_missing {
            loaded = load_objects(plan, target, ifindexes, self.resized).map_err(|e| {
                self.remove_created();
                self.unchanged_after_journal(e)
            })?;
        }
        // The maps exist now: the programs that use them are recognisable.
        let node_maps = NodeMaps::of(target);

        let lxc = sorted(&lxc);
        let ipcache = sorted(&plan.ipcache_seed);
        let mut undo = Undo::default();
        // A replacement map is new: a failure removes it instead of undoing its entries.
        let (mut new_lxc, mut new_ipcache, mut new_node_ipv6) = (Vec::new(), Vec::new(), Vec::new());
        let node_ipv6 = sorted(&plan.node_ipv6_seed);
        // A build by an older routec has no such map (plan::map_specs).
        let has_node_ipv6 = plan.maps.iter().any(|m| m.name == NodeIpv6Key::SPEC.name);
        let changed = (|| -> Result<ApplyReport> {
            // Phase 2: seed.
            let lxc_pin = self.seed_pin(EndpointKey::SPEC.name);
            let ipcache_pin = self.seed_pin(IpcacheKey::SPEC.name);
            let lxc_undo = if self.resized.contains(&EndpointKey::SPEC.name) { &mut new_lxc } else { &mut undo.lxc };
            let ipcache_undo =
                if self.resized.contains(&IpcacheKey::SPEC.name) { &mut new_ipcache } else { &mut undo.ipcache };
            let mut report = match self.record {
                Ok(record) => ApplyReport {
                    path: SyncPath::Incremental,
                    cilium_lxc: maps::sync_delta(&lxc_pin, &record.lxc, &lxc, lxc_undo)?,
                    cilium_ipcache: maps::sync_delta(&ipcache_pin, &record.ipcache, &ipcache, ipcache_undo)?,
                    ..ApplyReport::default()
                },
                Err(why) => ApplyReport {
                    path: SyncPath::Verified,
                    verified_because: Some(why.clone()),
                    cilium_lxc: maps::sync::<EndpointKey>(&lxc_pin, &lxc, lxc_undo)?,
                    cilium_ipcache: maps::sync::<IpcacheKey>(&ipcache_pin, &ipcache, ipcache_undo)?,
                    ..ApplyReport::default()
                },
            };
            report.build_digest = plan.build_digest.clone();
            if has_node_ipv6 {
                let pin = self.seed_pin(NodeIpv6Key::SPEC.name);
                let node_ipv6_undo = if self.resized.contains(&NodeIpv6Key::SPEC.name) {
                    &mut new_node_ipv6
                } else {
                    &mut undo.node_ipv6
                };
                report.routec_node_ipv6 = maps::sync::<NodeIpv6Key>(&pin, &node_ipv6, node_ipv6_undo)?;
            }

            // Phase 3: attach.
            for &index in &to_attach {
                let record = &mut wanted[index];
                let ebpf = loaded.get_mut(&record.object).expect("every object of the plan is loaded");
                let prog: &mut SchedClassifier = ebpf
                    .program_mut(&record.program)
                    .expect("checked while loading")
                    .try_into()
                    .expect("checked while loading");
                let hook = record.hook();
                before_switch(&hook);
                let running =
                    hooks::running(&recorded(record), &node_maps).map(|id| hooks::hold(record, id)).transpose()?;
                record.program_id = hooks::attach(prog, record)?;
                undo.hooks.push(match running {
                    Some(program) => HookUndo::Switched { record: record.clone(), program },
                    None => HookUndo::Added(record.clone()),
                });
                report.attached.push(hook);
                let replaced = ReplacedProgram {
                    program: record.program.clone(),
                    object: record.object.clone(),
                    object_sha256: record.object_sha256.clone(),
                };
                if !report.programs_replaced.contains(&replaced) {
                    report.programs_replaced.push(replaced);
                }
            }
            // Hooks routec held that the plan no longer has, or has in the other mode.
            for stale in earlier.iter().filter(|p| !wanted.iter().any(|w| w.same_hook_as(p) && w.mode == p.mode)) {
                let running = hooks::running(stale, &node_maps).map(|id| hooks::hold(stale, id)).transpose()?;
                let removed = hooks::detach(stale, &node_maps)?;
                if let (true, Some(program)) = (removed, running) {
                    undo.hooks.push(HookUndo::Removed { record: stale.clone(), program });
                }
                let recorded = previous_records.iter().any(|p| p.same_hook_as(stale));
                if (removed || recorded) && !wanted.iter().any(|w| w.same_hook_as(stale)) {
                    report.detached.push(stale.hook());
                }
            }
            // Every hook runs programs that use the replacement maps: they take the pins.
            if !self.resized.is_empty() {
                undo.swapped = Some(resize::commit(target, self.resized)?);
                report.maps_replaced = self.resized.iter().map(|m| m.to_string()).collect();
            }
            let state = NodeState {
                node: plan.node.clone(),
                scope: target.scope.clone(),
                bpffs: target.bpffs.clone(),
                netns: target.netns.clone(),
                attachments: wanted.clone(),
            };
            if self.previous != Some(&state) {
                state.save(target)?;
            }
            let written = Applied {
                build_digest: plan.build_digest.clone(),
                maps: plan
                    .maps
                    .iter()
                    .map(|m| AppliedMap::new(m, maps::pinned_map_id(target, m).unwrap_or(0)))
                    .collect(),
                lxc,
                ipcache,
            };
            if self.record.as_ref().ok() != Some(&written) {
                written.save(target)?;
            }
            Ok(report)
        })();
        match changed {
            Ok(report) => {
                // A journal left behind only makes the next run look at its hooks again.
                let _ = Journal::end(target);
                Ok(report)
            }
            Err(error) => Err({
                // A failed apply is no clean base: the next one reads the maps back.
                let _ = Applied::forget(target);
                match undo.restore(target, &node_maps) {
                    Ok(()) => {
                        self.remove_created();
                        self.end_journal_if_new();
                        failure(error, ApplyOutcome::RolledBack)
                    }
                    Err(problems) => Error::Apply(Box::new(ApplyFailure {
                        error,
                        outcome: ApplyOutcome::Mixed,
                        rollback_problems: Some(problems),
                    })),
                }
            }),
        }
    }

    /// Only pins this run created go when it fails: nothing else saw them
    /// (the node's lock keeps every other apply out).
    fn remove_created(&self) {
        for spec in self.plan.maps.iter().filter(|s| !self.preexisting.contains(&s.name)) {
            let _ = std::fs::remove_file(self.target.map_pin(spec.name));
        }
        resize::remove_pending(self.target, &self.plan.maps);
        if self.previous.is_none() {
            self.target.remove_empty_pin_dirs();
        }
    }

    /// Where phase 2 writes map `name`: its replacement when it is resized.
    fn seed_pin(&self, name: &str) -> PathBuf {
        if self.resized.contains(&name) {
            resize::pending_pin(self.target, name)
        } else {
            self.target.map_pin(name)
        }
    }

    /// A journal this run began names only hooks it did not keep.
    fn end_journal_if_new(&self) {
        if self.journal.is_none() {
            let _ = Journal::end(self.target);
        }
    }

    fn unchanged_after_journal(&self, error: Error) -> Error {
        self.end_journal_if_new();
        unchanged(error)
    }
}

/// Loads every object of the plan through the verifier, with the node's
/// constants and the node's pinned maps (aya pins the maps it creates).
/// A resized map is made (by aya, at the build's size) at its `:pending` pin.
fn load_objects(
    plan: &NodePlan,
    target: &Target,
    ifindexes: Ifindexes,
    resized: &[&str],
) -> Result<BTreeMap<String, Ebpf>> {
    let globals = plan.constants.globals(ifindexes);
    let pin = |name: &str| match resized.contains(&name) {
        true => resize::pending_pin(target, name),
        false => target.map_pin(name),
    };
    let pins: Vec<(&str, PathBuf)> = plan.maps.iter().map(|m| (m.name, pin(m.name))).collect();
    let mut loaded = BTreeMap::new();
    for (object, bytes) in &plan.objects {
        let mut loader = EbpfLoader::new();
        for (name, pin) in &pins {
            loader.map_pin_path(name, pin.as_path());
        }
        for spec in &plan.maps {
            loader.map_max_entries(spec.name, spec.max_entries);
        }
        for (name, value) in &globals {
            loader.override_global(name, value.as_slice(), false);
        }
        let mut ebpf = loader.load(bytes).map_err(|e| Error::msg(format!("cannot load {object}: {}", chain(&e))))?;
        for program in plan.attachments.iter().filter(|a| &a.object == object).map(|a| a.program.as_str()) {
            let prog: &mut SchedClassifier = ebpf
                .program_mut(program)
                .ok_or_else(|| Error::msg(format!("{object} has no program {program}")))?
                .try_into()
                .map_err(|e| Error::msg(format!("{program} in {object} is not a tc classifier: {e}")))?;
            if prog.fd().is_err() {
                load_program(prog).map_err(|e| verifier_error(object, program, e))?;
            }
        }
        loaded.insert(object.clone(), ebpf);
    }
    Ok(loaded)
}

/// How many times a program load interrupted with EAGAIN is tried (libbpf's
/// count): the verifier gives up with EAGAIN when a signal is pending for
/// the loading thread, and a second try verifies the same program.
const LOAD_ATTEMPTS: usize = 5;

fn load_program(prog: &mut SchedClassifier) -> Result<(), ProgramError> {
    let mut attempt = 1;
    loop {
        match prog.load() {
            Err(ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && attempt < LOAD_ATTEMPTS =>
            {
                attempt += 1
            }
            result => return result,
        }
    }
}

fn verifier_error(object: &str, program: &str, error: ProgramError) -> Error {
    match error {
        ProgramError::LoadError { io_error, verifier_log } => Error::msg(format!(
            "the kernel rejected {program} from {object} ({io_error}); verifier log:\n{verifier_log}"
        )),
        other => Error::msg(format!("cannot load {program} from {object}: {}", chain(&other))),
    }
}

/// What phases 2 and 3 of an apply changed, in order, so that a failure can
/// put the previous datapath back.
#[derive(Default)]
struct Undo {
    lxc: MapUndo<EndpointKey>,
    ipcache: MapUndo<IpcacheKey>,
    node_ipv6: MapUndo<NodeIpv6Key>,
    hooks: Vec<HookUndo>,
    /// Replacement maps that took their pins: the last change of all.
    swapped: Option<Swapped>,
}

enum HookUndo {
    /// An attachment on a hook that ran nothing of routec's: remove it.
    Added(AttachRecord),
    /// The hook ran `program` before it was switched: switch back.
    Switched { record: AttachRecord, program: SchedClassifier },
    /// A stale attachment that was removed: attach it again.
    Removed { record: AttachRecord, program: SchedClassifier },
}

impl Undo {
    /// Undoes everything, last change first; the problems, if any.
    fn restore(self, target: &Target, node_maps: &NodeMaps) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        if let Some(swapped) = self.swapped {
            if let Err(e) = swapped.undo(target) {
                problems.push(e.to_string());
            }
        }
        for hook in self.hooks.into_iter().rev() {
            let (record, result) = match hook {
                HookUndo::Added(record) => {
                    let result = hooks::detach(&record, node_maps).map(drop);
                    (record, result)
                }
                HookUndo::Switched { record, mut program } | HookUndo::Removed { record, mut program } => {
                    let result = hooks::attach(&mut program, &record).map(drop);
                    (record, result)
                }
            };
            if let Err(e) = result {
                problems.push(format!("{}: {e}", record.hook()));
            }
        }
        if let Err(e) = maps::restore(target, &self.lxc) {
            problems.push(format!("cilium_lxc: {e}"));
        }
        if let Err(e) = maps::restore(target, &self.ipcache) {
            problems.push(format!("cilium_ipcache: {e}"));
        }
        if let Err(e) = maps::restore(target, &self.node_ipv6) {
            problems.push(format!("routec_node_ipv6: {e}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
