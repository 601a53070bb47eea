//! `routec plan`: what the kernel holds now for one node, read back into the
//! plain [`diff::NodeState`] that `routec diff` compares, and compared with
//! what an apply of a build would make of it ([`plan`]).
//!
//! The old side is the kernel: the pinned maps' entries and sizes, and the
//! program on each hook the build, the node's record or an unfinished
//! apply's journal names, recognised as routec's the way apply recognises
//! it ([`hooks`]). The kernel keeps neither an object's digest nor the
//! values its `.rodata` constants stand for, so those two come from the
//! node's record, and only for a program whose kernel id is the one
//! recorded: anything else on routec's hooks is an unknown object (shown
//! replaced) or a foreign program (shown and noted). The new side is the
//! build's state with the lxc ifindexes and MACs apply would discover.
//!
//! Read-only: nothing is created, written or attached. It takes the node's
//! lock file shared (`flock`), only if that file exists: it waits for an
//! apply in progress to finish, and an apply that starts meanwhile waits
//! only while the maps and hooks are read.

use std::collections::BTreeMap;
use std::sync::Arc;

use aya::maps::MapInfo;
use routec_compiler::bpf::{Direction, Ifindexes, LoadConstants, PROGRAMS};
use routec_compiler::build::{sha256_hex, Attachment};
use routec_compiler::diff::{self, Action, MapSize, Names, ProgramState};
use routec_compiler::layout::{self, EndpointKey, IpcacheKey, MapKey, NodeIpv6Key};

use super::discover::discover;
use super::hooks::{self, tc_parent, tcx_programs, NodeMaps};
use super::maps::{check_pin, open_map, read_map, LiveMap, MaxEntries};
use super::plan::{BuildOutput, NodePlan};
use super::state::{earlier_hooks, AttachRecord, Journal, NodeState as Record};
use super::{chain, Target, TcMode};
use crate::lock::{SharedLock, Wait};
use crate::{bpffs, netlink, netns, Error, Result};

/// The digest of an object the kernel runs but routec has no record of.
pub const UNKNOWN_OBJECT: &str = "unknown (not in the node's record)";
/// The object of a foreign program on one of routec's hooks.
pub const FOREIGN_OBJECT: &str = "(not routec's)";

/// One node as the kernel holds it and as an apply of the build would make it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub kernel: diff::NodeState,
    /// The build's state, with the lxc ifindexes and MACs apply would discover.
    pub wanted: diff::NodeState,
    /// True when the kernel holds nothing of the node (no pin, no hook).
    pub empty: bool,
    /// What a plan cannot show as a change: foreign programs, interfaces missing.
    pub notes: Vec<String>,
}

fn sorted<K: MapKey>(mut entries: Vec<(K, K::Value)>) -> Vec<(K, K::Value)> {
    layout::sort_by_key_bytes(&mut entries);
    entries
}

fn map_sizes<'a>(maps: impl Iterator<Item = (&'a str, u32)>) -> Vec<MapSize> {
    let mut sizes: Vec<MapSize> = maps.map(|(name, max_entries)| MapSize { name: name.into(), max_entries }).collect();
    sizes.sort_by(|a, b| a.name.cmp(&b.name));
    sizes
}

/// The entries of a map that is pinned, sorted by key bytes.
fn pinned_entries<K: LiveMap>(target: &Target) -> Result<Vec<(K, K::Value)>> {
    read_map::<K>(open_map(target, K::SPEC)?)
}

/// What a hook runs, as far as a plan tells it apart.
enum Found {
    /// Routec's program `id`, in `mode`.
    Routec { id: u32, mode: TcMode },
    /// Program `id`, which routec did not attach, at routec's place on the hook.
    Foreign { id: u32, name: String, message: String },
}

/// One hook routec holds or will hold, looked at in the node's namespace.
struct HookProbe {
    interface: String,
    direction: Direction,
}

impl HookProbe {
    /// A record of this hook in `mode`, with the id the node's record has there.
    fn record(&self, target: &Target, mode: TcMode, recorded: Option<&AttachRecord>, plan: &NodePlan) -> AttachRecord {
        AttachRecord {
            interface: self.interface.clone(),
            direction: self.direction,
            program: String::new(),
            object: String::new(),
            mode,
            link_pin: target.link_pin(&self.interface, self.direction),
            program_id: recorded.filter(|r| r.mode == mode).map_or(0, |r| r.program_id),
            object_sha256: String::new(),
            constants: plan.constants,
            ifindexes: Ifindexes::default(),
        }
    }

    /// Routec's program on the hook (a TCX link first: it runs first), or a
    /// foreign one where routec attaches; and every other program there.
    fn look(&self, target: &Target, recorded: Option<&AttachRecord>, plan: &NodePlan, maps: &NodeMaps) -> Looked {
        let tcx = self.record(target, TcMode::TcxLink, recorded, plan);
        let netlink = self.record(target, TcMode::Netlink, recorded, plan);
        let found = if let Some(id) = hooks::running(&tcx, maps) {
            Some(Found::Routec { id, mode: TcMode::TcxLink })
        } else if let Some(id) = hooks::running(&netlink, maps) {
            Some(Found::Routec { id, mode: TcMode::Netlink })
        } else {
            hooks::foreign_filter(&netlink, maps).and_then(|message| {
                // foreign_filter names the program as "(program ID `NAME`)".
                let (id, name) =
                    self.programs().into_iter().find(|(id, _)| message.contains(&format!("(program {id} `")))?;
                Some(Found::Foreign { id, name, message })
            })
        };
        let at_routecs_place = match &found {
            Some(Found::Routec { id, .. } | Found::Foreign { id, .. }) => Some(*id),
            None => None,
        };
        let beside = self.programs().into_iter().filter(|(id, _)| Some(*id) != at_routecs_place).collect();
        Looked { found, beside }
    }

    /// Every program on the hook: TCX links, then cls_bpf filters.
    fn programs(&self) -> Vec<(u32, String)> {
        let mut found = tcx_programs(&self.interface, self.direction).unwrap_or_default();
        let ifindex = netlink::link_by_name(&self.interface).ok().flatten().map(|l| l.ifindex);
        if let Some(ifindex) = ifindex {
            let filters = netlink::tc_bpf_filters(ifindex, tc_parent(self.direction)).unwrap_or_default();
            found.extend(filters.into_iter().map(|f| (f.program_id, f.name)));
        }
        found.dedup();
        found
    }

    fn name(&self) -> String {
        format!("{} {}", self.interface, self.direction.as_str())
    }
}

struct Looked {
    found: Option<Found>,
    /// Programs on the hook that are not the one found (id, kernel name).
    beside: Vec<(u32, String)>,
}

/// The kernel keeps 15 characters of a program's name.
fn program_of_kernel_name(name: &str) -> Option<&'static routec_compiler::bpf::Program> {
    PROGRAMS.iter().find(|p| !name.is_empty() && p.name.starts_with(name) && (name.len() >= 15 || p.name == name))
}

/// The program `id` loaded in the kernel: its (possibly cut) name.
fn kernel_name(id: u32) -> String {
    aya::programs::loaded_programs()
        .flatten()
        .find(|info| info.id() == id)
        .and_then(|info| info.name_as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What the node's hooks run, as a [`diff::NodeState`] holds it.
struct SeenHooks {
    /// Sorted, as an attach plan.
    hooks: Vec<Attachment>,
    /// Sorted by name.
    programs: Vec<ProgramState>,
    /// Those of the recorded programs that run.
    constants: Option<LoadConstants>,
    /// The device ifindexes the recorded programs were loaded with.
    ifindexes: Option<Ifindexes>,
    notes: Vec<String>,
}

/// The hooks, programs and constants the kernel holds for the node of
/// `plan`, and notes on foreign programs (in the node's namespace).
fn observe_hooks(plan: &NodePlan, target: &Target, record: Option<&Record>, journal: Option<&Journal>) -> SeenHooks {
    let mut probes: Vec<(String, Direction)> =
        plan.attachments.iter().map(|a| (a.interface.clone(), a.direction)).collect();
    probes.extend(earlier_hooks(record, journal).into_iter().map(|h| (h.interface, h.direction)));
    probes.sort();
    probes.dedup();
    let maps = NodeMaps::of(target);
    let records = record.map_or(&[][..], |r| &r.attachments[..]);
    let (mut attached, mut notes) = (Vec::new(), Vec::new());
    let mut programs: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let (mut constants, mut ifindexes) = (None, None);
    for (interface, direction) in probes {
        let probe = HookProbe { interface, direction };
        let recorded = records.iter().find(|r| r.interface == probe.interface && r.direction == probe.direction);
        let looked = probe.look(target, recorded, plan, &maps);
        for (id, name) in &looked.beside {
            notes.push(format!(
                "{} also runs program {id} `{name}`, which routec did not attach (apply leaves it there)",
                probe.name()
            ));
        }
        let attachment = |program: String, object: String| Attachment {
            interface: probe.interface.clone(),
            direction: probe.direction,
            program,
            object,
        };
        match looked.found {
            None => {}
            Some(Found::Foreign { name, message, .. }) => {
                notes.push(format!("foreign hook: {message} (apply refuses to replace it)"));
                attached.push(attachment(name, FOREIGN_OBJECT.to_string()));
            }
            Some(Found::Routec { id, mode }) => {
                let known = recorded.filter(|r| r.mode == mode && r.program_id == id);
                let (program, object, sha256) = match known {
                    Some(r) => {
                        constants.get_or_insert(r.constants);
                        ifindexes.get_or_insert(r.ifindexes);
                        (r.program.clone(), r.object.clone(), r.object_sha256.clone())
                    }
                    None => {
                        let kernel = kernel_name(id);
                        match program_of_kernel_name(&kernel) {
                            Some(p) => (p.name.to_string(), format!("bpf/{}", p.object), UNKNOWN_OBJECT.to_string()),
                            None => (kernel, "?".to_string(), UNKNOWN_OBJECT.to_string()),
                        }
                    }
                };
                let entry = programs.entry(program.clone()).or_insert_with(|| (object.clone(), Vec::new()));
                if !entry.1.contains(&sha256) {
                    entry.1.push(sha256);
                }
                attached.push(attachment(program, object));
            }
        }
    }
    attached.sort();
    let programs = programs
        .into_iter()
        .map(|(name, (object, mut digests))| {
            // Hooks that run one program from different objects: none of them is the build's.
            digests.sort();
            ProgramState { name, object, sha256: digests.join(", ") }
        })
        .collect();
    SeenHooks { hooks: attached, programs, constants, ifindexes, notes }
}

/// What the kernel holds now for the node of `plan` and what an apply of it
/// would make (see the module documentation), read under the shared lock.
pub fn observe(plan: &NodePlan, target: &Target, wait: Wait) -> Result<Observed> {
    bpffs::check(&target.bpffs)?;
    let _lock = SharedLock::acquire_existing(&target.lock_file(), &target.lock_subject(), wait)?;
    let record = Record::load(target)?;
    let journal = Journal::load(target)?;
    let netns = target.netns.clone().or_else(|| record.as_ref().and_then(|r| r.netns.clone()));
    let (discovered, hooks_seen) = netns::run_in(netns.as_deref(), || -> Result<_> {
        Ok((discover(plan), observe_hooks(plan, target, record.as_ref(), journal.as_ref())))
    })?;
    let SeenHooks { hooks: attached, programs, constants, ifindexes: loaded_with, mut notes } = hooks_seen;

    let mut pinned = Vec::new();
    for spec in &layout::ALL_MAPS {
        let path = target.map_pin(spec.name);
        if check_pin(&path, spec, MaxEntries::Ignore)? {
            let info = MapInfo::from_pin(&path)
                .map_err(|e| Error::msg(format!("{} is not a usable map pin: {}", path.display(), chain(&e))))?;
            pinned.push((spec.name, info.max_entries()));
        }
    }
    let is_pinned = |spec: &layout::MapSpec| pinned.iter().any(|(name, _)| *name == spec.name);
    let lxc = if is_pinned(&layout::CILIUM_LXC) { pinned_entries::<EndpointKey>(target)? } else { Vec::new() };
    let ipcache = if is_pinned(&layout::CILIUM_IPCACHE) { pinned_entries::<IpcacheKey>(target)? } else { Vec::new() };
    let node_ipv6 =
        if is_pinned(&layout::ROUTEC_NODE_IPV6) { pinned_entries::<NodeIpv6Key>(target)? } else { Vec::new() };
    let empty = pinned.is_empty() && attached.is_empty();
    let kernel = diff::NodeState {
        name: plan.node.clone(),
        lxc,
        ipcache: Arc::new(ipcache),
        node_ipv6,
        programs: Some(programs),
        hooks: attached,
        constants,
        maps: map_sizes(pinned.into_iter()),
    };

    let wanted_lxc = match discovered {
        Ok((lxc, now)) => {
            if let Some(loaded) = loaded_with {
                // Not constants of the build: apply discovers them, and reloads the programs when one moved.
                for (what, now, loaded) in
                    [("overlay", now.overlay, loaded.overlay), ("underlay", now.device, loaded.device)]
                {
                    if now != loaded {
                        notes.push(format!(
                            "the {what} device has ifindex {now} now, the programs were loaded with {loaded}: \
                             apply reloads them"
                        ));
                    }
                }
            }
            lxc
        }
        Err(e) => {
            notes.push(format!(
                "apply would fail: {e}; cilium_lxc is compared with the build's values (undeclared ifindexes and \
                 MACs as 0)"
            ));
            plan.lxc_seed.clone()
        }
    };
    let digests: BTreeMap<&str, String> = plan.objects.iter().map(|(k, v)| (k.as_str(), sha256_hex(v))).collect();
    let mut new_programs: Vec<ProgramState> = PROGRAMS
        .iter()
        .filter_map(|p| {
            let object = format!("bpf/{}", p.object);
            let sha256 = digests.get(object.as_str())?.clone();
            Some(ProgramState { name: p.name.to_string(), object, sha256 })
        })
        .collect();
    new_programs.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hooks = plan.attachments.clone();
    hooks.sort();
    let wanted = diff::NodeState {
        name: plan.node.clone(),
        lxc: sorted(wanted_lxc),
        ipcache: Arc::new(sorted(plan.ipcache_seed.clone())),
        node_ipv6: sorted(plan.node_ipv6_seed.clone()),
        programs: Some(new_programs),
        hooks,
        constants: Some(plan.constants),
        maps: map_sizes(plan.maps.iter().map(|m| (m.name, m.max_entries))),
    };
    Ok(Observed { kernel, wanted, empty, notes })
}

/// `routec plan`: what an apply of `build` would change on the node of
/// `target`, against what the kernel holds now.
pub fn plan(build: &BuildOutput, target: &Target, wait: Wait) -> Result<diff::Plan> {
    let node_plan = NodePlan::from_build(build, &target.node)?;
    let observed = observe(&node_plan, target, wait)?;
    let names = Names::new(build.cluster()?);
    let changes = diff::diff_node(&observed.kernel, &observed.wanted, (&names, &names));
    let status = match () {
        _ if changes.is_empty() => Action::NoOp,
        _ if observed.empty => Action::Create,
        _ => Action::Update,
    };
    Ok(diff::Plan { nodes: vec![diff::NodePlan { node: target.node.clone(), status, changes }], notes: observed.notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_cut_at_15_characters_are_routecs_programs() {
        assert_eq!(program_of_kernel_name("cil_from_contai").map(|p| p.name), Some("cil_from_container"));
        assert_eq!(program_of_kernel_name("cil_from_host").map(|p| p.name), Some("cil_from_host"));
        assert!(program_of_kernel_name("cil_from").is_none(), "a shorter name is another program");
        assert!(program_of_kernel_name("").is_none());
    }
}
