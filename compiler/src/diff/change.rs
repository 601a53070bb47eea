//! The changes between two datapath states, as pure functions of plain
//! values: [`diff_node`] for one node (what `routec plan` will call with the
//! kernel's state), [`diff`] for two whole builds.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::state::{
    BuildState, IpcacheEntries, LxcEntries, MapSize, Names, NodeIpv6Entries, NodeState, ProgramState, Subject,
};
use crate::bpf::LoadConstants;
use crate::build::Attachment;
use crate::decode::{decode_entry, Decoded, MapKind, RawEntry};
use crate::layout::{Encoded, MapKey};
use crate::seeds::hex_bytes;

/// Terraform's actions; a replacement is a delete and a create (`-/+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    NoOp,
    Create,
    Update,
    Delete,
    Replace,
}

impl Action {
    /// As a Terraform JSON plan lists them.
    pub fn terraform(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::Delete => &["delete"],
            Action::Replace => &["delete", "create"],
        }
    }
    /// The text marker.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Replace => "-/+",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// The node joins or leaves: its whole datapath is made or removed.
    Node,
    Constant,
    /// A map's definition (its size).
    Map,
    Program,
    Hook,
    CiliumLxc,
    CiliumIpcache,
    RoutecNodeIpv6,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Node => "node",
            ChangeKind::Constant => "constant",
            ChangeKind::Map => "map",
            ChangeKind::Program => "program",
            ChangeKind::Hook => "hook",
            ChangeKind::CiliumLxc => "cilium_lxc",
            ChangeKind::CiliumIpcache => "cilium_ipcache",
            ChangeKind::RoutecNodeIpv6 => "routec_node_ipv6",
        }
    }
}

/// A map entry: its bytes and its fields decoded by [`crate::decode`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryValue {
    pub key_hex: String,
    pub value_hex: String,
    #[serde(flatten)]
    pub fields: Decoded,
}

/// What a node's datapath holds, for a node that joins or leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSummary {
    pub cilium_lxc_entries: usize,
    pub cilium_ipcache_entries: usize,
    pub hooks: usize,
    /// `None` when the build has no objects.
    pub programs: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Entry(EntryValue),
    Program { object: String, sha256: String },
    Hook { program: String, object: String },
    Address(Ipv4Addr),
    Number(u32),
    Node(NodeSummary),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub node: String,
    pub kind: ChangeKind,
    /// Which one of its kind: `10.10.2.117`, `10.10.1.0/24`, `VNI`,
    /// `cil_from_container`, `lxc4a891387ff1a ingress`.
    pub address: String,
    pub subject: Subject,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    /// The entry's counts in a `Plan:` line: (add, change, destroy).
    pub fn counts(&self) -> (usize, usize, usize) {
        match self.action {
            Action::NoOp => (0, 0, 0),
            Action::Create => (1, 0, 0),
            Action::Update => (0, 1, 0),
            Action::Delete => (0, 0, 1),
            Action::Replace => (1, 0, 1),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Self {
        let mut summary = Summary::default();
        for change in changes {
            let (add, update, destroy) = change.counts();
            summary.add += add;
            summary.change += update;
            summary.destroy += destroy;
        }
        summary
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub node: String,
    /// `Create`/`Delete` for a node that joins or leaves, `Update` when
    /// anything changes on it, `NoOp` when nothing does.
    pub status: Action,
    pub changes: Vec<Change>,
}

impl NodePlan {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.changes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Sorted by node name: every node of either build.
    pub nodes: Vec<NodePlan>,
    /// What could not be compared (programs of a build without objects).
    pub notes: Vec<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        Summary::of(self.nodes.iter().flat_map(|n| &n.changes))
    }
    pub fn has_changes(&self) -> bool {
        self.nodes.iter().any(|n| !n.changes.is_empty())
    }
    /// Only the node `name` (with its changes), or `None` when neither build has it.
    pub fn only_node(mut self, name: &str) -> Option<Plan> {
        self.nodes.retain(|n| n.node == name);
        (!self.nodes.is_empty()).then_some(self)
    }
}

/// Walks two key-sorted lists at once and calls `emit(before, after)` for
/// every key on either side whose value differs: linear, no lookups.
fn merge<'a, E, K: Ord>(
    old: &'a [E],
    new: &'a [E],
    key: impl Fn(&'a E) -> K,
    same: impl Fn(&E, &E) -> bool,
    mut emit: impl FnMut(Option<&'a E>, Option<&'a E>),
) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => key(a).cmp(&key(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                emit(Some(&old[i]), None);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                emit(None, Some(&new[j]));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if !same(&old[i], &new[j]) {
                    emit(Some(&old[i]), Some(&new[j]));
                }
                i += 1;
                j += 1;
            }
        }
    }
}

fn action_of<T>(before: Option<T>, after: Option<T>) -> Action {
    match (before.is_some(), after.is_some()) {
        (false, true) => Action::Create,
        (true, false) => Action::Delete,
        _ => Action::Update,
    }
}

fn entry_value(map: MapKind, key: &[u8], value: &[u8]) -> Value {
    let raw = RawEntry { key: key.to_vec(), value: value.to_vec() };
    let fields = decode_entry(map, &raw, 1).expect("layout encodes what decode reads");
    Value::Entry(EntryValue { key_hex: hex_bytes(key), value_hex: hex_bytes(value), fields })
}

/// Pairs a delete and a create of the same map and subject (a pod whose IP
/// changed, a node whose address changed) into one replacement, as
/// Terraform shows `-/+`: one change per pod and map.
fn pair_replacements(changes: Vec<Change>) -> Vec<Change> {
    let mut creates: HashMap<(ChangeKind, Subject), usize> = HashMap::new();
    let mut deletes: HashMap<(ChangeKind, Subject), usize> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        if change.subject == Subject::Unknown {
            continue;
        }
        let slot = match change.action {
            Action::Create => &mut creates,
            Action::Delete => &mut deletes,
            _ => continue,
        };
        // A subject with two creates (or deletes) is not one replacement.
        slot.entry((change.kind, change.subject.clone())).and_modify(|at| *at = usize::MAX).or_insert(i);
    }
    let mut pairs: HashMap<usize, usize> = HashMap::new();
    for (subject, &deleted) in &deletes {
        if let Some(&created) = creates.get(subject) {
            if deleted != usize::MAX && created != usize::MAX {
                pairs.insert(deleted, created);
            }
        }
    }
    if pairs.is_empty() {
        return changes;
    }
    // The replacement stands where the first of its two halves stood (the
    // create sorts first when the new key is below the old one).
    let at_first: HashMap<usize, (usize, usize)> =
        pairs.iter().map(|(&deleted, &created)| (deleted.min(created), (deleted, created))).collect();
    let mut slots: Vec<Option<Change>> = changes.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len() - pairs.len());
    for i in 0..slots.len() {
        if let Some(&(deleted, created)) = at_first.get(&i) {
            let deleted = slots[deleted].take().expect("each index pairs once");
            let created = slots[created].take().expect("each index pairs once");
            out.push(Change {
                address: format!("{} -> {}", deleted.address, created.address),
                action: Action::Replace,
                before: deleted.before,
                after: created.after,
                ..created
            });
        } else if let Some(change) = slots[i].take() {
            out.push(change);
        }
    }
    out
}

/// One map's entries, sorted by key bytes.
pub type Entries<K> = [(K, <K as MapKey>::Value)];

/// One key whose value differs between two lists of a map's entries:
/// (before, after), at least one side present.
pub type EntryDelta<'a, K> = (Option<&'a (K, <K as MapKey>::Value)>, Option<&'a (K, <K as MapKey>::Value)>);

/// The entries that differ between two lists of one map's entries, both
/// sorted by key bytes, in key order: one linear merge, no lookups. The
/// loader's incremental apply writes exactly these.
pub fn entry_deltas<'a, K: MapKey>(old: &'a Entries<K>, new: &'a Entries<K>) -> Vec<EntryDelta<'a, K>> {
    let mut deltas = Vec::new();
    merge(old, new, |(k, _)| k.encode(), |a, b| a.1 == b.1, |before, after| deltas.push((before, after)));
    deltas
}

/// The changes between two sorted lists of one map's entries, each named
/// by `subject` on the side (old or new cluster) that has it.
fn entry_changes<K: MapKey>(
    node: &str,
    kind: ChangeKind,
    map: MapKind,
    (old, new): (&Entries<K>, &Entries<K>),
    names: (&Names, &Names),
    subject: impl Fn(&Names, &K) -> Subject,
) -> Vec<Change> {
    let value = |(key, value): &(K, K::Value)| entry_value(map, &key.encode(), &value.encode());
    entry_deltas(old, new)
        .into_iter()
        .map(|(before, after)| {
            let (key, side_names) = match (before, after) {
                (_, Some((k, _))) => (k, names.1),
                (Some((k, _)), None) => (k, names.0),
                (None, None) => unreachable!("merge emits a side"),
            };
            Change {
                node: node.to_string(),
                kind,
                address: key.to_string(),
                subject: subject(side_names, key),
                action: action_of(before, after),
                before: before.map(value),
                after: after.map(value),
            }
        })
        .collect()
}

fn lxc_changes(node: &str, old: &LxcEntries, new: &LxcEntries, names: (&Names, &Names)) -> Vec<Change> {
    entry_changes(node, ChangeKind::CiliumLxc, MapKind::Lxc, (old, new), names, |n, key| n.lxc(key))
}

fn node_ipv6_changes(node: &str, old: &NodeIpv6Entries, new: &NodeIpv6Entries, names: (&Names, &Names)) -> Vec<Change> {
    entry_changes(node, ChangeKind::RoutecNodeIpv6, MapKind::NodeIpv6, (old, new), names, |n, key| n.node_ipv6(key))
}

/// The ipcache changes with an empty node name: [`diff`] computes them once
/// for the ipcache all nodes of a build share and copies them per node.
fn ipcache_changes(old: &IpcacheEntries, new: &IpcacheEntries, names: (&Names, &Names)) -> Vec<Change> {
    pair_replacements(entry_changes("", ChangeKind::CiliumIpcache, MapKind::Ipcache, (old, new), names, |n, key| {
        n.ipcache(key)
    }))
}

/// The load-time constants the loader sets by global name (`OVERLAY_IFINDEX`
/// is discovered on the node, so it is not part of a build).
const CONSTANTS: usize = 5;

fn constant_values(c: &LoadConstants) -> [(&'static str, Value); CONSTANTS] {
    [
        ("NODE_IPV4", Value::Address(c.node_ipv4)),
        ("ROUTER_IPV4", Value::Address(c.router_ipv4)),
        ("OVERLAY_PORT", Value::Number(c.overlay_port.into())),
        ("VNI", Value::Number(c.vni)),
        ("POD_MTU", Value::Number(c.pod_mtu)),
    ]
}

/// Everything of one node except the ipcache.
fn local_changes(old: &NodeState, new: &NodeState, names: (&Names, &Names)) -> Vec<Change> {
    let node = new.name.as_str();
    let mut changes = Vec::new();
    let change = |kind, address: String, subject, before: Option<Value>, after: Option<Value>| Change {
        node: node.to_string(),
        kind,
        address,
        subject,
        action: action_of(before.as_ref(), after.as_ref()),
        before,
        after,
    };
    let (old_constants, new_constants) =
        (old.constants.as_ref().map(constant_values), new.constants.as_ref().map(constant_values));
    for index in 0..CONSTANTS {
        let before = old_constants.as_ref().map(|c| c[index].1.clone());
        let after = new_constants.as_ref().map(|c| c[index].1.clone());
        if before != after {
            let name = old_constants.as_ref().or(new_constants.as_ref()).expect("a side differs")[index].0;
            changes.push(change(ChangeKind::Constant, name.to_string(), Subject::Node(node.into()), before, after));
        }
    }
    merge(
        &old.maps,
        &new.maps,
        |m| m.name.as_str(),
        |a, b| a == b,
        |before, after| {
            let name = before.or(after).map(|m| m.name.clone()).unwrap_or_default();
            let size = |m: &MapSize| Value::Number(m.max_entries);
            changes.push(change(ChangeKind::Map, name, Subject::Node(node.into()), before.map(size), after.map(size)));
        },
    );
    if let (Some(old_programs), Some(new_programs)) = (&old.programs, &new.programs) {
        // A program no hook of this node runs is not loaded here (apply loads
        // what the attach plan names), so its object changes nothing here.
        let runs_here = |name: &str| old.hooks.iter().chain(&new.hooks).any(|h| h.program == name);
        merge(
            old_programs,
            new_programs,
            |p| p.name.as_str(),
            |a, b| a == b,
            |before, after| {
                let name = before.or(after).map(|p| p.name.clone()).unwrap_or_default();
                if !runs_here(&name) {
                    return;
                }
                let value = |p: &ProgramState| Value::Program { object: p.object.clone(), sha256: p.sha256.clone() };
                let mut program =
                    change(ChangeKind::Program, name, Subject::Node(node.into()), before.map(value), after.map(value));
                if program.action == Action::Update {
                    // A new object is loaded and swapped onto its hooks.
                    program.action = Action::Replace;
                }
                changes.push(program);
            },
        );
    }
    let mut hooks = Vec::new();
    merge(
        &old.hooks,
        &new.hooks,
        |a| (a.interface.as_str(), a.direction),
        |a, b| a == b,
        |before, after| {
            let hook = before.or(after).expect("merge emits a side");
            let side_names = if after.is_some() { names.1 } else { names.0 };
            let value = |a: &Attachment| Value::Hook { program: a.program.clone(), object: a.object.clone() };
            hooks.push(change(
                ChangeKind::Hook,
                format!("{} {}", hook.interface, hook.direction.as_str()),
                side_names.hook(node, &hook.interface),
                before.map(value),
                after.map(value),
            ));
        },
    );
    changes.extend(pair_replacements(hooks));
    changes.extend(pair_replacements(lxc_changes(node, &old.lxc, &new.lxc, names)));
    changes.extend(node_ipv6_changes(node, &old.node_ipv6, &new.node_ipv6, names));
    changes
}

/// What changes on a node whose state is `old` when it becomes `new`;
/// `names` name the entries of each side (old, new).
pub fn diff_node(old: &NodeState, new: &NodeState, names: (&Names, &Names)) -> Vec<Change> {
    let mut changes = local_changes(old, new, names);
    changes.extend(
        ipcache_changes(&old.ipcache, &new.ipcache, names).into_iter().map(|c| Change { node: new.name.clone(), ..c }),
    );
    changes
}

fn node_summary(state: &NodeState) -> Value {
    Value::Node(NodeSummary {
        cilium_lxc_entries: state.lxc.len(),
        cilium_ipcache_entries: state.ipcache.len(),
        hooks: state.hooks.len(),
        programs: state.programs.as_ref().map(Vec::len),
    })
}

/// What changes on every node when the build `new` replaces `old`. A node
/// that joins or leaves is one change (its whole datapath, summarised); the
/// ipcache, shared by all nodes, is compared once and its changes are listed
/// on every node that has it, as an apply writes them on each.
pub fn diff(old: &BuildState, new: &BuildState) -> Plan {
    let (old_names, new_names) = (old.names(), new.names());
    let names = (&old_names, &new_names);
    let mut shared: Option<(*const IpcacheEntries, *const IpcacheEntries, Vec<Change>)> = None;
    let mut nodes = Vec::new();
    merge(
        &old.nodes,
        &new.nodes,
        |n| n.name.as_str(),
        |_, _| false,
        |before, after| {
            let plan = match (before, after) {
                (Some(o), Some(n)) => {
                    let pointers = (std::sync::Arc::as_ptr(&o.ipcache), std::sync::Arc::as_ptr(&n.ipcache));
                    if shared.as_ref().is_none_or(|(a, b, _)| (*a, *b) != pointers) {
                        shared = Some((pointers.0, pointers.1, ipcache_changes(&o.ipcache, &n.ipcache, names)));
                    }
                    let mut changes = local_changes(o, n, names);
                    let ipcache = &shared.as_ref().expect("just computed").2;
                    changes.extend(ipcache.iter().map(|c| Change { node: n.name.clone(), ..c.clone() }));
                    let status = if changes.is_empty() { Action::NoOp } else { Action::Update };
                    NodePlan { node: n.name.clone(), status, changes }
                }
                (side_old, side_new) => {
                    let state = side_new.or(side_old).expect("merge emits a side");
                    let change = Change {
                        node: state.name.clone(),
                        kind: ChangeKind::Node,
                        address: state.name.clone(),
                        subject: Subject::Node(state.name.clone()),
                        action: action_of(side_old, side_new),
                        before: side_old.map(node_summary),
                        after: side_new.map(node_summary),
                    };
                    NodePlan { node: state.name.clone(), status: change.action, changes: vec![change] }
                }
            };
            nodes.push(plan);
        },
    );
    let without_objects: Vec<&str> =
        [("OLD", old), ("NEW", new)].into_iter().filter(|(_, s)| !s.objects_compiled).map(|(side, _)| side).collect();
    let notes = match without_objects[..] {
        [] => Vec::new(),
        [side] => vec![format!("programs not compared: {side} was built without objects (--no-clang)")],
        _ => vec!["programs not compared: OLD and NEW were built without objects (--no-clang)".to_string()],
    };
    Plan { nodes, notes }
}
