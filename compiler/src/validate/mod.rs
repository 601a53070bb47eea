//! Turns the syntax trees of all input files into a [`model::Cluster`],
//! checking every rule of the language (docs/language.md) and reporting every
//! problem found, not just the first.
//!
//! One engine serves `check` and the language server alike. Each file's
//! items become facts (`local.rs`: what of each item is valid, and the
//! diagnostics one item alone decides). The cross-file rules (`cross.rs`,
//! and `per_family.rs` for those both address families share) read the
//! facts through indexes kept by name, and by address and pod-cidr for each
//! family, and each rule's diagnostics belong to one *group* (a node name, a
//! pod IP, a pod-cidr, ...). [`Validation::replace`] swaps one file's facts,
//! marks the groups its old and new facts touch, and re-runs only those:
//! work in proportion to the file and what it affects. A full validation is
//! the same engine with every group marked (but those that cannot report:
//! a pod name or ip declared once).

mod cross;
mod local;
pub(crate) mod per_family;

use std::collections::{BTreeMap, BTreeSet};

use foldhash::{HashMap, HashSet, HashSetExt};

use crate::diagnostics::{Code, Diagnostic, Severity};
use crate::expect::Expectation;
use crate::model::{self, OverlayKind};
use crate::source::FileId;
use crate::syntax::ast::*;

use local::{Name, NodeFact, PodFact};
use per_family::{bits, cidr_key, Family, FamilyIndex};
use smallvec::SmallVec;

pub use cross::first_usable;

pub const DEFAULT_VXLAN_PORT: u16 = 8472;
pub const DEFAULT_GENEVE_PORT: u16 = 6081;
pub const DEFAULT_MTU: u32 = 1500;
pub const DEFAULT_DEVICE: &str = "eth0";

/// A node or pod by declaration: (file, its index among that file's nodes
/// or pods). Ordered as declared, so the first of a list is "first declared".
type Ref = (u32, u32);

/// The declarations of one index key: nearly always one, kept inline.
type Refs = SmallVec<[Ref; 1]>;

/// Where a diagnostic sorts within its file: by primary span and code as
/// `check` prints them, then by the rule that made it and its subject, so
/// two diagnostics of one place keep one order however they were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    start: u32,
    end: u32,
    code: Code,
    rule: Rule,
    /// Overlaps (E0009) of one place are listed by the address, then the
    /// length, of the overlapping pod-cidr: lowest first, as a sweep finds them.
    cidr: (u128, u8),
    subject: (u32, u32),
}

/// The rules in the order their diagnostics of one place are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Rule {
    Local,
    Cluster,
    NodeDeclaredTwice,
    SameNodeAddress,
    PodCidrOverlap(Family),
    NodeAddressInPodCidr,
    PodDeclaredTwice,
    UnknownNode,
    SamePodIp,
    PodIpInPodCidr,
    EndpointOnNode,
    LxcOnNode,
    IfindexOnNode,
    NodeWithoutPods,
    NativeIpv6Address,
    Expect,
}

/// The unit of re-validation: every cross-file diagnostic belongs to one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Group {
    Cluster,
    /// The nodes of this name (declared twice, without pods, without the
    /// IPv6 address native routing needs).
    NodeName(Name),
    /// The nodes of this address.
    NodeAddress(Family, u128),
    /// The nodes of this pod-cidr (network, length).
    PodCidr(Family, u128, u8),
    PodName(Name),
    PodIp(Family, u128),
    /// The pods placed on this node name.
    PodsOn(Name),
    /// The expectations of one file.
    Expects(u32),
}

/// One file's facts and the diagnostics its items alone decide.
#[derive(Debug, Default)]
struct FileFacts {
    clusters: Vec<ClusterItem>,
    nodes: Vec<NodeFact>,
    pods: Vec<PodFact>,
    expects: Vec<ExpectFact>,
    local: Vec<Diagnostic>,
}

#[derive(Debug)]
struct ExpectFact {
    item: ExpectItem,
    /// Its canonical line (`fmt`'s), which reports name it by.
    text: String,
    checked: Option<Expectation>,
}

/// The cross-file indexes, each list in declaration order.
#[derive(Debug, Default)]
struct Index {
    nodes_by_name: HashMap<Name, Refs>,
    pods_by_name: HashMap<Name, Refs>,
    pods_on: HashMap<Name, Refs>,
    /// By address and pod-cidr, IPv4's then IPv6's (by [`Family`]).
    families: [FamilyIndex; 2],
    /// Node names pods are placed on that no node has (their "did you mean"
    /// changes with the set of node names).
    unknown_nodes: BTreeSet<Name>,
}

/// The validation of a set of parsed files, kept up to date file by file.
#[derive(Debug, Default)]
pub struct Validation {
    files: Vec<FileFacts>,
    index: Index,
    /// The cluster block's name, overlay and MTU, when valid.
    cluster: Option<(String, model::Overlay, u32)>,
    /// How many pods on each node name have a valid IPv6 ip, and in all.
    valid_ip6: HashMap<Name, u32>,
    valid_ip6_total: u32,
    /// Whether IPv6 pods are routed natively (`overlay none` and a valid
    /// IPv6 pod ip): every node then needs an IPv6 address (E0019).
    native_ipv6: bool,
    /// Where each group's diagnostics are.
    groups: HashMap<Group, Vec<(u32, Key)>>,
    /// Each file's diagnostics, sorted.
    by_file: Vec<BTreeMap<Key, Diagnostic>>,
    /// The diagnostics of other files that label each file (file, key).
    labelled_from: Vec<BTreeSet<(u32, Key)>>,
    errors: usize,
    /// Files whose diagnostics may have changed since [`Validation::take_changed`].
    changed: BTreeSet<FileId>,
}

impl Validation {
    /// Validates `files` (file `i` parsed as `FileId` `i` from `texts[i]`).
    pub fn new(files: &[File], texts: &[&str]) -> Validation {
        let mut v = Validation {
            by_file: vec![BTreeMap::new(); files.len()],
            labelled_from: vec![BTreeSet::new(); files.len()],
            ..Validation::default()
        };
        v.files = files.iter().zip(texts).map(|(tree, text)| facts(tree, text)).collect();
        let nodes = v.files.iter().map(|f| f.nodes.len()).sum();
        let pods = v.files.iter().map(|f| f.pods.len()).sum();
        v.index.nodes_by_name.reserve(nodes);
        v.index.pods_on.reserve(nodes);
        v.index.pods_by_name.reserve(pods);
        for id in 0..files.len() {
            v.insert_local(id);
            v.index_file(id, None);
        }
        for fx in &mut v.index.families {
            fx.reorder_lengths();
        }
        // Every group, once.
        let ix = &v.index;
        let mut groups = Vec::new();
        for name in ix.nodes_by_name.keys() {
            groups.push(Group::NodeName(name.clone()));
            if !ix.pods_on.contains_key(name) {
                groups.push(Group::PodsOn(name.clone()));
            }
        }
        groups.extend(ix.pods_on.keys().map(|n| Group::PodsOn(n.clone())));
        // A pod name or ip declared once has nothing to report (its rules
        // need a second declaration): most of the groups, skipped here.
        let twice = |refs: &&Refs| refs.len() > 1;
        groups.extend(ix.pods_by_name.iter().filter(|(_, r)| twice(r)).map(|(k, _)| Group::PodName(k.clone())));
        for family in Family::ALL {
            let fx = &ix.families[family as usize];
            groups.extend(fx.pod_ips.iter().filter(|(_, r)| twice(r)).map(|(&ip, _)| Group::PodIp(family, ip)));
            groups.extend(fx.node_addresses.keys().map(|&a| Group::NodeAddress(family, a)));
            groups.extend(fx.pod_cidrs.keys().map(|&(net, len)| Group::PodCidr(family, net, len)));
        }
        groups.extend(v.always_checked());
        v.recheck(groups);
        v
    }

    /// File `id` was parsed again: its facts replace the old ones, and the
    /// groups either touches are checked again.
    pub fn replace(&mut self, id: FileId, tree: &File, text: &str) {
        // Its expectations, even if it has none now: the old ones' go.
        let mut dirty = HashSet::new();
        dirty.insert(Group::Expects(id as u32));
        let had_nodes = !self.files[id].nodes.is_empty();
        let old_cidrs = self.unindex_file(id, &mut dirty);
        self.remove_local(id);
        self.files[id] = facts(tree, text);
        self.insert_local(id);
        let new_cidrs = self.index_file(id, Some(&mut dirty));
        for (family, net, len) in old_cidrs.into_iter().chain(new_cidrs) {
            self.touch_inside(family, net, len, &mut dirty);
        }
        for family in Family::ALL {
            if self.index.families[family as usize].reorder_lengths() {
                // Rare (the first pod-cidr of a length moved past another's):
                // every lookup of this family may find another owner.
                let fx = &self.index.families[family as usize];
                dirty.extend(fx.node_addresses.keys().map(|&a| Group::NodeAddress(family, a)));
                dirty.extend(self.index.pods_on.keys().map(|n| Group::PodsOn(n.clone())));
            }
        }
        // The set of node names may have changed: so may every unknown
        // node's "did you mean".
        if had_nodes || !self.files[id].nodes.is_empty() {
            dirty.extend(self.index.unknown_nodes.iter().map(|n| Group::PodsOn(n.clone())));
        }
        dirty.extend(self.always_checked());
        self.recheck(dirty.into_iter().collect());
    }

    /// The diagnostics of file `id`, sorted as `check` prints them.
    pub fn diagnostics(&self, id: FileId) -> impl Iterator<Item = &Diagnostic> {
        self.by_file[id].values()
    }

    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// The diagnostics of other files with a label in file `id`, with the
    /// label's file: the editor shows them there too. In `check`'s order.
    pub fn labelling(&self, id: FileId) -> impl Iterator<Item = (FileId, &Diagnostic)> {
        self.labelled_from[id].iter().map(|(file, key)| (*file as FileId, &self.by_file[*file as usize][key]))
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The files whose diagnostics may have changed since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<FileId> {
        std::mem::take(&mut self.changed)
    }

    /// The expectations without errors, in input order.
    pub fn expectations(&self) -> Vec<Expectation> {
        self.files.iter().flat_map(|f| &f.expects).filter_map(|e| e.checked.clone()).collect()
    }

    /// The cluster, when there is no error.
    pub fn cluster(&self) -> Option<model::Cluster> {
        if self.has_errors() {
            return None;
        }
        let (name, overlay, mtu) = self.cluster.clone()?;
        let nodes: Vec<&NodeFact> = self.files.iter().flat_map(|f| &f.nodes).collect();
        let mut order: Vec<usize> = (0..nodes.len()).collect();
        order.sort_by(|&a, &b| nodes[a].name.value.cmp(&nodes[b].name.value));
        let mut model_nodes = Vec::with_capacity(nodes.len());
        for &i in &order {
            let n = nodes[i];
            let pod_cidr = n.pod_cidr.map(|(net, _)| net);
            let pod_cidr6 = n.v6.pod_cidr6_with_router();
            if pod_cidr.is_none() && pod_cidr6.is_none() {
                return None;
            }
            model_nodes.push(model::Node {
                name: n.name.value.to_string(),
                address: n.address.as_ref()?.value,
                pod_cidr,
                router: pod_cidr.map(|net| n.router.unwrap_or_else(|| first_usable(net))),
                device: n.device.clone().unwrap_or_else(|| DEFAULT_DEVICE.to_string()),
                address6: n.v6.address6.as_ref().map(|a| a.value),
                pod_cidr6: pod_cidr6.map(|(net, _)| net),
                router6: pod_cidr6.map(|(_, router)| router),
            });
        }
        let mut pods = Vec::new();
        // Searched once per run of pods that share their node's name.
        let mut last: Option<(&Name, usize)> = None;
        for p in self.files.iter().flat_map(|f| &f.pods) {
            let node = match last {
                Some((name, node)) if Name::ptr_eq(name, &p.node.value) => node,
                _ => model_nodes.binary_search_by(|n| n.name.as_str().cmp(&*p.node.value)).ok()?,
            };
            last = Some((&p.node.value, node));
            pods.push(model::Pod {
                name: p.name.value.to_string(),
                node,
                ip: p.ip.as_ref().map(|ip| ip.value),
                endpoint: p.endpoint.as_ref()?.value,
                identity: p.identity?,
                lxc: p.lxc.as_ref()?.value.clone(),
                ifindex: p.ifindex.as_ref().map(|i| i.value),
                mac: p.mac,
                node_mac: p.node_mac,
                ip6: p.ip6.as_ref().map(|ip| ip.value),
            });
        }
        pods.sort_by_key(model::Pod::order);
        Some(model::Cluster { name, overlay, mtu, nodes: model_nodes, pods })
    }

    fn node(&self, (file, i): Ref) -> &NodeFact {
        &self.files[file as usize].nodes[i as usize]
    }

    fn pod(&self, (file, i): Ref) -> &PodFact {
        &self.files[file as usize].pods[i as usize]
    }

    fn insert_local(&mut self, id: FileId) {
        let local = std::mem::take(&mut self.files[id].local);
        for (seq, diag) in local.iter().enumerate() {
            self.insert(id as u32, Rule::Local, (seq as u32, 0), diag.clone());
        }
        self.files[id].local = local;
    }

    fn remove_local(&mut self, id: FileId) {
        let keys: Vec<Key> = (self.by_file[id].keys()).filter(|k| k.rule == Rule::Local).copied().collect();
        for key in keys {
            self.remove(id as u32, key);
        }
    }

    /// Adds file `id`'s facts to the indexes, marks the groups they are in,
    /// and returns their pod-cidrs.
    fn index_file(&mut self, id: FileId, mut dirty: Option<&mut HashSet<Group>>) -> Vec<(Family, u128, u8)> {
        let file = id as u32;
        let facts = &self.files[id];
        let ix = &mut self.index;
        let mut cidrs = Vec::new();
        for (i, n) in facts.nodes.iter().enumerate() {
            let r = (file, i as u32);
            add(entry(&mut ix.nodes_by_name, &n.name.value), r);
            for family in Family::ALL {
                let fx = &mut ix.families[family as usize];
                if let Some(a) = n.address(family) {
                    add(fx.node_addresses.entry(bits(a.value)).or_default(), r);
                }
                if let Some((net, _)) = n.pod_cidr(family) {
                    let key = cidr_key(net);
                    add(fx.pod_cidrs.entry(key).or_default(), r);
                    add(fx.pod_cidr_lengths.entry(key.1).or_default(), r);
                    cidrs.push((family, key.0, key.1));
                }
            }
            if let Some(dirty) = dirty.as_deref_mut() {
                touch_node(n, dirty);
            }
        }
        // The pods of one node mostly come together, sharing its name
        // (`facts`): one lookup of `pods_on` per run of them.
        let mut on: Option<(&Name, &mut Refs)> = None;
        for (i, p) in facts.pods.iter().enumerate() {
            let r = (file, i as u32);
            add(entry(&mut ix.pods_by_name, &p.name.value), r);
            match &mut on {
                Some((node, refs)) if Name::ptr_eq(node, &p.node.value) => add(refs, r),
                _ => {
                    let refs = entry(&mut ix.pods_on, &p.node.value);
                    add(refs, r);
                    on = Some((&p.node.value, refs));
                }
            }
            for family in Family::ALL {
                let fx = &mut ix.families[family as usize];
                if let Some(ip) = p.ip(family) {
                    add(fx.pod_ips.entry(bits(ip.value)).or_default(), r);
                }
                for ip in p.more_ips(family) {
                    add(fx.more_pod_ips.entry(ip).or_default(), r);
                }
            }
            if let Some(dirty) = dirty.as_deref_mut() {
                touch_pod(p, dirty);
            }
        }
        cidrs
    }

    /// Takes file `id`'s facts out of the indexes, marks the groups they
    /// were in, and returns their pod-cidrs.
    fn unindex_file(&mut self, id: FileId, dirty: &mut HashSet<Group>) -> Vec<(Family, u128, u8)> {
        let file = id as u32;
        let facts = &self.files[id];
        let ix = &mut self.index;
        let mut cidrs = Vec::new();
        for n in &facts.nodes {
            drop_refs(&mut ix.nodes_by_name, &*n.name.value, file);
            for family in Family::ALL {
                let fx = &mut ix.families[family as usize];
                if let Some(a) = n.address(family) {
                    drop_refs(&mut fx.node_addresses, &bits(a.value), file);
                }
                if let Some((net, _)) = n.pod_cidr(family) {
                    let key = cidr_key(net);
                    drop_refs(&mut fx.pod_cidrs, &key, file);
                    drop_refs(&mut fx.pod_cidr_lengths, &key.1, file);
                    cidrs.push((family, key.0, key.1));
                }
            }
            touch_node(n, dirty);
        }
        for p in &facts.pods {
            drop_refs(&mut ix.pods_by_name, &*p.name.value, file);
            drop_refs(&mut ix.pods_on, &*p.node.value, file);
            for family in Family::ALL {
                let fx = &mut ix.families[family as usize];
                if let Some(ip) = p.ip(family) {
                    drop_refs(&mut fx.pod_ips, &bits(ip.value), file);
                }
                for ip in p.more_ips(family) {
                    drop_refs(&mut fx.more_pod_ips, &ip, file);
                }
            }
            touch_pod(p, dirty);
        }
        cidrs
    }

    /// Marks what a pod-cidr that came or went changes: the node addresses
    /// and pod-cidrs inside it, and the pods whose IP is inside it.
    fn touch_inside(&self, family: Family, net: u128, len: u8, dirty: &mut HashSet<Group>) {
        let range = net..=family.last(net, len);
        let fx = &self.index.families[family as usize];
        dirty.extend(fx.node_addresses.range(range.clone()).map(|(&a, _)| Group::NodeAddress(family, a)));
        let cidrs = fx.pod_cidrs.range((net, 0)..=(*range.end(), family.max_len()));
        dirty.extend(cidrs.map(|(&(n, l), _)| Group::PodCidr(family, n, l)));
        for refs in fx.pod_ips.range(range).map(|(_, refs)| refs) {
            dirty.extend(refs.iter().map(|&r| Group::PodsOn(self.pod(r).node.value.clone())));
        }
    }

    /// The pods of one IPv6 ip: which of them is the first, and so may count
    /// as a valid IPv6 pod (E0019), changes with the others.
    fn touch_same_ip6(&self, groups: &[Group], dirty: &mut HashSet<Group>) {
        let fx = &self.index.families[Family::V6 as usize];
        for group in groups {
            if let Group::PodIp(Family::V6, ip) = group {
                let refs = fx.pod_ips.get(ip).map_or(&[][..], |refs| &refs[..]);
                dirty.extend(refs.iter().map(|&r| Group::PodsOn(self.pod(r).node.value.clone())));
            }
        }
    }

    /// Keeps the count of valid IPv6 pods on node name `name`.
    fn count_valid_ip6(&mut self, name: &Name, valid: u32) {
        let old = if valid == 0 { self.valid_ip6.remove(name) } else { self.valid_ip6.insert(name.clone(), valid) };
        self.valid_ip6_total = self.valid_ip6_total - old.unwrap_or(0) + valid;
    }

    /// The cluster block and the expectations: few, and they read every
    /// declaration, so they are checked on every change.
    fn always_checked(&self) -> impl Iterator<Item = Group> + '_ {
        let expects = (0..self.files.len()).filter(|&f| !self.files[f].expects.is_empty());
        expects.map(|f| Group::Expects(f as u32)).chain([Group::Cluster])
    }

    /// Checks these groups (each once) again. The node names go last: whether
    /// E0019 applies is known once the cluster block and the pods are.
    fn recheck(&mut self, groups: Vec<Group>) {
        let (names, rest): (Vec<Group>, Vec<Group>) = groups.into_iter().partition(|g| matches!(g, Group::NodeName(_)));
        self.check_groups(rest);
        let native = self.cluster.as_ref().is_some_and(|c| c.1.kind == OverlayKind::None) && self.valid_ip6_total > 0;
        if native == self.native_ipv6 {
            self.check_groups(names);
        } else {
            // Every node's E0019 comes or goes.
            self.native_ipv6 = native;
            let mut all: HashSet<Group> = names.into_iter().collect();
            all.extend(self.index.nodes_by_name.keys().map(|n| Group::NodeName(n.clone())));
            self.check_groups(all.into_iter().collect());
        }
    }

    fn check_groups(&mut self, mut groups: Vec<Group>) {
        if !self.groups.is_empty() {
            let mut more = HashSet::new();
            self.touch_same_ip6(&groups, &mut more);
            if !more.is_empty() {
                let mut all: HashSet<Group> = groups.into_iter().collect();
                all.extend(more);
                groups = all.into_iter().collect();
            }
            // All old diagnostics go first: a subject that moved to another
            // group keeps its key.
            for group in &groups {
                for (file, key) in self.groups.remove(group).unwrap_or_default() {
                    self.remove(file, key);
                }
            }
        }
        for group in groups {
            let found = self.check(&group);
            if let Group::PodsOn(name) = &group {
                let ix = &mut self.index;
                if ix.pods_on.contains_key(name) && !ix.nodes_by_name.contains_key(name) {
                    ix.unknown_nodes.insert(name.clone());
                } else {
                    ix.unknown_nodes.remove(name);
                }
            }
            let mut keys = Vec::with_capacity(found.len());
            for (rule, subject, diag) in found {
                let file = diag.primary_span().file;
                keys.push((file, self.insert(file, rule, subject, diag)));
            }
            if !keys.is_empty() {
                self.groups.insert(group, keys);
            }
        }
    }

    fn insert(&mut self, file: u32, rule: Rule, subject: (u32, u32), diag: Diagnostic) -> Key {
        let span = diag.primary_span();
        let cidr = match rule {
            Rule::PodCidrOverlap(family) => {
                cidr_key(self.node(subject).pod_cidr(family).expect("overlaps are of pod-cidrs").0)
            }
            _ => (0, 0),
        };
        let key = Key { start: span.start, end: span.end, code: diag.code, rule, cidr, subject };
        if diag.severity() == Severity::Error {
            self.errors += 1;
        }
        self.changed.insert(file as FileId);
        for other in other_files(&diag) {
            self.labelled_from[other as usize].insert((file, key));
            self.changed.insert(other as FileId);
        }
        let old = self.by_file[file as usize].insert(key, diag);
        debug_assert!(old.is_none(), "two diagnostics with one key: {key:?}");
        key
    }

    fn remove(&mut self, file: u32, key: Key) {
        if let Some(diag) = self.by_file[file as usize].remove(&key) {
            if diag.severity() == Severity::Error {
                self.errors -= 1;
            }
            self.changed.insert(file as FileId);
            for other in other_files(&diag) {
                self.labelled_from[other as usize].remove(&(file, key));
                self.changed.insert(other as FileId);
            }
        }
    }
}

/// A file's facts: each item through its own rules, in input order.
fn facts(tree: &File, text: &str) -> FileFacts {
    let mut facts = FileFacts::default();
    for item in &tree.items {
        match item {
            Item::Cluster(c) => facts.clusters.push(c.clone()),
            Item::Node(n) => facts.nodes.push(local::node(n, &mut facts.local)),
            Item::Pod(p) => {
                // The pods of a node mostly come together: they share its name.
                let node = match facts.pods.last() {
                    Some(previous) if *previous.node.value == *p.node.value => Name::clone(&previous.node.value),
                    _ => Name::from(p.node.value.as_str()),
                };
                facts.pods.push(local::pod(p, node, &mut facts.local))
            }
            Item::Expect(e) => facts.expects.push(ExpectFact {
                item: e.clone(),
                text: crate::fmt::expect_text(text, e),
                checked: None,
            }),
        }
    }
    facts
}

/// The files other than its own a diagnostic has labels in.
fn other_files(diag: &Diagnostic) -> impl Iterator<Item = u32> + '_ {
    let own = diag.primary_span().file;
    diag.labels.iter().map(|l| l.span.file).filter(move |&f| f != own)
}

/// The refs of `name`, made empty if it has none.
fn entry<'m>(map: &'m mut HashMap<Name, Refs>, name: &Name) -> &'m mut Refs {
    map.entry(Name::clone(name)).or_default()
}

/// Adds `r` in declaration order (a file's refs go in together, so this is
/// nearly always a push).
fn add(refs: &mut Refs, r: Ref) {
    let at = refs.partition_point(|&x| x < r);
    refs.insert(at, r);
}

/// Takes file `file`'s refs out of one index entry, and the entry if that
/// leaves it empty.
fn drop_refs<K: ?Sized, M: RefIndex<K>>(map: &mut M, key: &K, file: u32) {
    if let Some(refs) = map.refs(key) {
        refs.retain(|r| r.0 != file);
        if refs.is_empty() {
            map.drop_key(key);
        }
    }
}

/// The indexes' maps, ordered or hashed.
trait RefIndex<K: ?Sized> {
    fn refs(&mut self, key: &K) -> Option<&mut Refs>;
    fn drop_key(&mut self, key: &K);
}

impl<K: Ord> RefIndex<K> for BTreeMap<K, Refs> {
    fn refs(&mut self, key: &K) -> Option<&mut Refs> {
        self.get_mut(key)
    }
    fn drop_key(&mut self, key: &K) {
        self.remove(key);
    }
}

impl RefIndex<str> for HashMap<Name, Refs> {
    fn refs(&mut self, key: &str) -> Option<&mut Refs> {
        self.get_mut(key)
    }
    fn drop_key(&mut self, key: &str) {
        self.remove(key);
    }
}

fn touch_node(n: &NodeFact, dirty: &mut HashSet<Group>) {
    dirty.insert(Group::NodeName(n.name.value.clone()));
    dirty.insert(Group::PodsOn(n.name.value.clone()));
    for family in Family::ALL {
        if let Some(a) = n.address(family) {
            dirty.insert(Group::NodeAddress(family, bits(a.value)));
        }
        if let Some((net, _)) = n.pod_cidr(family) {
            let (net, len) = cidr_key(net);
            dirty.insert(Group::PodCidr(family, net, len));
        }
    }
}

fn touch_pod(p: &PodFact, dirty: &mut HashSet<Group>) {
    dirty.insert(Group::PodName(p.name.value.clone()));
    dirty.insert(Group::PodsOn(p.node.value.clone()));
    dirty.insert(Group::NodeName(p.node.value.clone()));
    for family in Family::ALL {
        if let Some(ip) = p.ip(family) {
            dirty.insert(Group::PodIp(family, bits(ip.value)));
        }
    }
}
