//! `lab up` of a lab that is up: the lab follows the config, the way
//! `kubectl apply` follows manifests, so a change can be rehearsed on a
//! running lab with traffic flowing.
//!
//! A node or pod whose record (name, address, what its links are made of)
//! is unchanged, and whose namespace is whole, is not touched: no veth is
//! made again, and its traffic only sees the apply. Everything else goes in
//! this order, under the lab's lock:
//! 1. the record gets every namespace involved, those being made or removed
//!    listed as `incomplete` (never whole for the next reconcile);
//! 2. namespaces that must be made again (changed links, or left incomplete)
//!    are removed, their node detached first;
//! 3. new namespaces and links are made, and the kept nodes get routes to
//!    new nodes' addresses;
//! 4. every node is applied ([`super::apply_all`]);
//! 5. pods and nodes that are gone are removed (nodes detached first: pins,
//!    links and apply records), with the kept nodes' routes to them;
//! 6. the record becomes the new lab's.
//!
//! A reconcile killed at any point leaves a record the next `lab up` (or
//! `lab down`) completes from: what it lists as incomplete is made again or
//! removed. Only namespaces the record names or that carry the lab's marker
//! are ever removed.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use routec_compiler::build::BuildOptions;
use routec_compiler::model::Cluster;

use super::down::is_ours;
use super::iproute::{batch, json, OnError};
use super::topology::{in_parallel, make_namespaces, node_topology, pod_topology, routes_on_device, underlay_route};
use super::{netns_path, node_target, LabOptions, LabPod, LabState};
use crate::loader::{ApplyReport, BuildOutput};
use crate::{Context, Error, Result};

/// What a reconcile did.
#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// `node NAME` or `pod NAME`, new in the config.
    pub created: Vec<String>,
    /// Made anew: its links changed, or an interrupted reconcile left it.
    pub replaced: Vec<String>,
    /// Gone from the config (and namespaces an interrupted reconcile left).
    pub removed: Vec<String>,
    /// Every node of the new config, applied.
    pub applied: Vec<(String, ApplyReport)>,
    pub untouched_nodes: usize,
    pub untouched_pods: usize,
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |items: &[String]| if items.is_empty() { "-".to_string() } else { items.join(", ") };
        writeln!(f, "created: {}", list(&self.created))?;
        writeln!(f, "replaced: {}", list(&self.replaced))?;
        writeln!(f, "removed: {}", list(&self.removed))?;
        writeln!(f, "untouched: {} nodes, {} pods", self.untouched_nodes, self.untouched_pods)?;
        for (node, report) in &self.applied {
            writeln!(f, "applied node {node}:")?;
            for line in report.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// What `lab up` did.
#[derive(Debug)]
pub enum Up {
    /// The lab was not up: made from scratch.
    Created(LabState),
    /// The lab was up: reconciled to the config.
    Reconciled(LabState, ReconcileReport),
}

/// `routec lab up`: brings lab `name` up from `cluster` ([`super::up`]), or,
/// when it is up, builds the cluster into its folder the same way and
/// reconciles the lab to it.
pub fn up_or_reconcile(
    cluster: &Cluster,
    build_options: &BuildOptions,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Up> {
    super::preflight(name, options)?;
    let _lock = super::lock(name, options)?;
    if !LabState::state_file(&options.state_dir, name).exists() {
        return super::up_locked(cluster, build_options, name, options, progress).map(Up::Created);
    }
    // Refused before the build replaces the lab's folder.
    if super::agents::has_agents(&options.state_dir, name) {
        // Its agents would repair the nodes back to the build they watch.
        return Err(Error::msg(format!(
            "lab `{name}` runs agents: give them a new build with `routec lab publish {name} PATH` \
             (a change of nodes or pods needs `routec lab down {name}` and `routec lab up` again)"
        )));
    }
    let old = LabState::load(&options.state_dir, name)?;
    let new = LabState::plan(cluster, name, &options.bpffs, &super::out_dir(options, name))?;
    plan(&old, &new, cluster, options)?;
    super::claim_dir(&options.state_dir, name)?;
    let out = super::out_dir(options, name);
    progress(&format!("building {} nodes, {} pods into {}", cluster.nodes.len(), cluster.pods.len(), out.display()));
    routec_compiler::build::build(cluster, build_options, &out)
        .map_err(|e| Error::msg(format!("routec build failed: {e}")))?;
    let (state, report) = reconcile_locked(old, &out, options, progress).map_err(|e| {
        Error::msg(format!(
            "lab `{name}` did not follow the config: {e}\n(`routec lab up` again completes what the lab records as incomplete; `routec lab down {name}` removes it)"
        ))
    })?;
    Ok(Up::Reconciled(state, report))
}

/// Reconciles lab `name`, which is up, to the build at `out`.
pub fn reconcile_from_build(
    out: &Path,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<(LabState, ReconcileReport)> {
    super::preflight(name, options)?;
    let _lock = super::lock(name, options)?;
    reconcile_locked(LabState::load(&options.state_dir, name)?, out, options, progress)
}

/// The namespaces of the old record, split by what happens to them.
struct Plan {
    /// Names of the nodes and pods kept as they are.
    kept: BTreeSet<String>,
    /// Existing namespaces that are not kept: removed.
    stale: Vec<String>,
    /// Indices into the new cluster's nodes and pods to make.
    new_nodes: Vec<usize>,
    new_pods: Vec<usize>,
}

/// Reconciles the lab `old` records to the build at `out`, under its lock.
fn reconcile_locked(
    old: LabState,
    out: &Path,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<(LabState, ReconcileReport)> {
    let name = old.name.as_str();
    let build = BuildOutput::open(out)?;
    let cluster = build.cluster()?;
    let mut new = LabState::plan(cluster, name, &options.bpffs, out)?;
    new.tc_mode = options.tc_mode;
    let plan = plan(&old, &new, cluster, options)?;
    let mut report = describe(&old, &new, cluster, &plan);
    progress(&format!(
        "reconciling: {} to create, {} to make anew, {} to remove, {} nodes and {} pods untouched",
        report.created.len(),
        report.replaced.len(),
        report.removed.len(),
        report.untouched_nodes,
        report.untouched_pods
    ));

    // 1. Record everything involved before anything changes.
    let to_make: Vec<String> = plan
        .new_nodes
        .iter()
        .map(|&i| new.nodes[i].netns.clone())
        .chain(plan.new_pods.iter().map(|&i| new.pods[i].netns.clone()))
        .collect();
    let mut involved = old.clone();
    involved.out = new.out.clone();
    involved.tc_mode = new.tc_mode;
    involved.nodes = union_by_name(&new.nodes, &old.nodes, |n| &n.name);
    involved.pods = union_by_name(&new.pods, &old.pods, |p| &p.name);
    involved.namespaces = dedup(old.namespaces.iter().chain(&old.all_namespaces()).chain(&new.all_namespaces()));
    involved.incomplete = dedup(to_make.iter().chain(&plan.stale));
    involved.save(&options.state_dir)?;

    // 2. What is in the way of what is made goes first: namespaces made
    // again, and gone pods whose lxc name or ifindex a new pod takes.
    let in_the_way = |ns: &String| {
        to_make.contains(ns)
            || old.pods.iter().filter(|p| &p.netns == ns).any(|gone| {
                plan.new_pods.iter().map(|&i| &new.pods[i]).any(|made| made.node == gone.node && same_link(made, gone))
            })
    };
    let (clashing, gone): (Vec<String>, Vec<String>) = plan.stale.iter().cloned().partition(in_the_way);
    remove_namespaces(&involved, &clashing, progress)?;

    // 3. New namespaces and links.
    if !to_make.is_empty() {
        progress(&format!("creating {} namespaces", to_make.len()));
        make_namespaces(&new, &to_make)?;
    }
    let legs = free_legs(&new.underlay, plan.new_nodes.len())?;
    let made = in_parallel(
        plan.new_nodes.len(),
        |i| node_topology(cluster, &new, plan.new_nodes[i], &legs[i]),
        &mut |i, _| progress(&format!("node {}: interfaces", cluster.nodes[plan.new_nodes[i]].name)),
    );
    made.into_iter().collect::<Result<()>>()?;
    let on_kept_nodes: Vec<usize> =
        plan.new_pods.iter().copied().filter(|&i| plan.kept.contains(&new.pods[i].node)).collect();
    for &i in &on_kept_nodes {
        progress(&format!("pod {}: interfaces", new.pods[i].name));
        pod_topology(cluster, &new, i)?;
    }
    let new_addresses: Vec<IpAddr> = plan
        .new_nodes
        .iter()
        .flat_map(|&i| {
            std::iter::once(cluster.nodes[i].address.into()).chain(cluster.nodes[i].address6.map(Into::into))
        })
        .collect();
    route_kept_nodes(&new, cluster, &plan, Route::Replace, &new_addresses)?;

    // 4. Every node follows the new build.
    report.applied = super::apply_all(&build, &new, progress)?;

    // 5. What is gone goes last.
    let wanted: BTreeSet<IpAddr> = cluster
        .nodes
        .iter()
        .flat_map(|n| std::iter::once(n.address.into()).chain(n.address6.map(Into::into)))
        .collect();
    let old_addresses: Vec<IpAddr> = involved
        .nodes
        .iter()
        .flat_map(|n| {
            let address6 = n.links.as_ref().and_then(|l| l.address6);
            std::iter::once(n.address.into()).chain(address6.map(Into::into))
        })
        .filter(|a| !wanted.contains(a))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    route_kept_nodes(&new, cluster, &plan, Route::Delete, &old_addresses)?;
    remove_namespaces(&involved, &gone, progress)?;

    // 6. The record is the new lab's.
    new.namespaces = new.all_namespaces();
    new.save(&options.state_dir)?;
    Ok((new, report))
}

/// Which nodes and pods are kept, which namespaces are stale, what to make;
/// or why lab `old` cannot become `new` (nothing is changed to find out).
fn plan(old: &LabState, new: &LabState, cluster: &Cluster, options: &LabOptions) -> Result<Plan> {
    let name = &old.name;
    if old.bpffs != options.bpffs {
        return Err(Error::msg(format!(
            "lab `{name}` pins into {}, not {}: take it down (`routec lab down {name}`) to move it",
            old.bpffs.display(),
            options.bpffs.display()
        )));
    }
    if !netns_path(&old.underlay).exists() {
        return Err(Error::msg(format!(
            "the underlay namespace {} of lab `{name}` is gone: take the lab down (`routec lab down {name}`) and up again",
            old.underlay
        )));
    }
    let whole =
        |ns: &str| netns_path(ns).exists() && !old.incomplete.iter().any(|i| i == ns) && is_ours(&old.name, ns, true);
    let mut kept = BTreeSet::new();
    for node in &new.nodes {
        if old.nodes.iter().any(|o| o == node) && whole(&node.netns) {
            kept.insert(node.name.clone());
        }
    }
    let pods_kept: Vec<&str> = new
        .pods
        .iter()
        .filter(|pod| kept.contains(&pod.node) && old.pods.iter().any(|o| o == *pod) && whole(&pod.netns))
        .map(|pod| pod.name.as_str())
        .collect();
    kept.extend(pods_kept.iter().map(|p| p.to_string()));
    let kept_namespaces: BTreeSet<&str> = new
        .nodes
        .iter()
        .filter(|n| kept.contains(&n.name))
        .map(|n| n.netns.as_str())
        .chain(new.pods.iter().filter(|p| kept.contains(&p.name)).map(|p| p.netns.as_str()))
        .chain(std::iter::once(old.underlay.as_str()))
        .collect();
    let known = dedup(old.namespaces.iter().chain(&old.all_namespaces()));
    let stale: Vec<String> = known
        .into_iter()
        .filter(|ns| !kept_namespaces.contains(ns.as_str()) && netns_path(ns).exists() && is_ours(&old.name, ns, true))
        .collect();
    let new_nodes: Vec<usize> = (0..cluster.nodes.len()).filter(|&i| !kept.contains(&new.nodes[i].name)).collect();
    let new_pods: Vec<usize> = (0..cluster.pods.len()).filter(|&i| !kept.contains(&new.pods[i].name)).collect();
    // A namespace to make that exists, is not recorded and lacks the lab's
    // marker is somebody else's.
    for ns in new_nodes.iter().map(|&i| &new.nodes[i].netns).chain(new_pods.iter().map(|&i| &new.pods[i].netns)) {
        if netns_path(ns).exists() && !stale.contains(ns) {
            return Err(Error::msg(format!(
                "namespace {ns} exists but is not lab `{}`'s (no `routec-lab:{}` marker): routec leaves it alone",
                old.name, old.name
            )));
        }
    }
    Ok(Plan { kept, stale, new_nodes, new_pods })
}

/// The report's lists, before anything is done.
fn describe(old: &LabState, new: &LabState, cluster: &Cluster, plan: &Plan) -> ReconcileReport {
    let was = |ns: &str| old.all_namespaces().iter().any(|o| o == ns) || plan.stale.iter().any(|s| s == ns);
    let mut report = ReconcileReport::default();
    for &i in &plan.new_nodes {
        let entry = format!("node {}", new.nodes[i].name);
        match was(&new.nodes[i].netns) {
            true => report.replaced.push(entry),
            false => report.created.push(entry),
        }
    }
    for &i in &plan.new_pods {
        let entry = format!("pod {}", new.pods[i].name);
        match was(&new.pods[i].netns) {
            true => report.replaced.push(entry),
            false => report.created.push(entry),
        }
    }
    let wanted: BTreeSet<String> = new.all_namespaces().into_iter().collect();
    for ns in plan.stale.iter().filter(|ns| !wanted.contains(*ns)) {
        let entry = match (old.nodes.iter().find(|n| &n.netns == ns), old.pods.iter().find(|p| &p.netns == ns)) {
            (Some(node), _) => format!("node {}", node.name),
            (None, Some(pod)) => format!("pod {}", pod.name),
            (None, None) => format!("namespace {ns}"),
        };
        report.removed.push(entry);
    }
    report.untouched_nodes = cluster.nodes.len() - plan.new_nodes.len();
    report.untouched_pods = cluster.pods.len() - plan.new_pods.len();
    report
}

/// Removes `namespaces` (which exist and are the lab's): a node's datapath
/// is detached first, while its namespace still holds its hooks.
///
/// The kernel tears a removed namespace's devices down later, in the
/// background: its veths are deleted first, so that a name made again at
/// once (a pod's lxc) is free and no peer of them lingers (a node's
/// underlay leg would still answer ARP for the node's address).
fn remove_namespaces(state: &LabState, namespaces: &[String], progress: &mut dyn FnMut(&str)) -> Result<()> {
    if namespaces.is_empty() {
        return Ok(());
    }
    progress(&format!("removing {} namespaces", namespaces.len()));
    for node in state.nodes.iter().filter(|n| namespaces.contains(&n.netns) && netns_path(&n.netns).exists()) {
        crate::loader::detach(&node_target(state, &node.name)?)
            .context(|| format!("cannot detach node {} before removing it", node.name))?;
    }
    for ns in namespaces {
        let veths = json(ns, &["link", "show", "type", "veth"])
            .ok_or_else(|| Error::msg(format!("cannot list the links of namespace {ns}")))?;
        let deletes: Vec<String> = link_names(&veths).map(|link| format!("link del {link}")).collect();
        // A veth whose peer went first is gone already.
        let _ = batch(Some(ns), &deletes, OnError::Continue);
    }
    let deletes: Vec<String> = namespaces.iter().map(|ns| format!("netns del {ns}")).collect();
    batch(None, &deletes, OnError::Continue)?;
    match namespaces.iter().find(|ns| netns_path(ns).exists()) {
        Some(left) => Err(Error::msg(format!("namespace {left} is still there"))),
        None => Ok(()),
    }
}

/// The names in `ip -j link show`'s answer.
fn link_names(links: &serde_json::Value) -> impl Iterator<Item = &str> {
    links.as_array().into_iter().flatten().filter_map(|l| l.get("ifname")?.as_str())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Added, or left as it is (`ip route replace`).
    Replace,
    /// Removed if there.
    Delete,
}

/// The kept nodes' underlay routes to `addresses`, made or removed. Made
/// ones also forget the addresses' neighbour entries: a node made anew has
/// a new MAC.
fn route_kept_nodes(new: &LabState, cluster: &Cluster, plan: &Plan, route: Route, addresses: &[IpAddr]) -> Result<()> {
    let verb = match route {
        Route::Replace => "replace",
        Route::Delete => "del",
    };
    for (node, lab_node) in cluster.nodes.iter().zip(&new.nodes).filter(|(n, _)| plan.kept.contains(&n.name)) {
        let lines: Vec<String> = addresses
            .iter()
            .filter(|&&a| routes_on_device(cluster, node, a))
            .map(|a| format!("route {verb} {}", underlay_route(*a, &node.device)))
            .collect();
        match route {
            Route::Replace => {
                batch(Some(&lab_node.netns), &lines, OnError::Stop)?;
                let forget: Vec<String> =
                    addresses.iter().map(|a| format!("neigh del {a} dev {}", node.device)).collect();
                // Most have no entry.
                let _ = batch(Some(&lab_node.netns), &forget, OnError::Continue);
            }
            // A route already gone is what a delete wants.
            Route::Delete => {
                let _ = batch(Some(&lab_node.netns), &lines, OnError::Continue);
            }
        }
    }
    Ok(())
}

/// `count` names `uN` no link in the underlay namespace has.
fn free_legs(underlay: &str, count: usize) -> Result<Vec<String>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let links = json(underlay, &["link", "show"])
        .ok_or_else(|| Error::msg(format!("cannot list the links of namespace {underlay}")))?;
    let taken: BTreeSet<String> =
        links.as_array().into_iter().flatten().filter_map(|l| l.get("ifname")?.as_str().map(str::to_string)).collect();
    Ok((0..).map(|i| format!("u{i}")).filter(|leg| !taken.contains(leg)).take(count).collect())
}

/// Whether two pods' host-side veths would have the same name or ifindex.
fn same_link(a: &LabPod, b: &LabPod) -> bool {
    match (&a.links, &b.links) {
        (Some(a), Some(b)) => a.lxc == b.lxc || (a.ifindex.is_some() && a.ifindex == b.ifindex),
        _ => false,
    }
}

/// `first`, then the items of `second` whose name `first` lacks.
fn union_by_name<T: Clone>(first: &[T], second: &[T], name: impl Fn(&T) -> &String) -> Vec<T> {
    let mut all = first.to_vec();
    all.extend(second.iter().filter(|s| !first.iter().any(|f| name(f) == name(s))).cloned());
    all
}

fn dedup<'a>(names: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    names.filter(|n| seen.insert(n.as_str())).cloned().collect()
}
