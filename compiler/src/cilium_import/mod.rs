//! `routec import`: a running Cilium cluster, as `kubectl` and `cilium-dbg`
//! print it, to `.route` files (docs/import.md).
//!
//! The inputs are read as JSON values with their paths ([`json`]), turned
//! into records ([`kube`]), checked against each other here, and printed as
//! `.route` text ([`emit`]) that goes through the formatter (so it is in
//! `routec fmt` layout) and the validator (so it passes `routec check`)
//! before [`write`] puts it on disk. Everything that cannot be mapped is a
//! [`Problem`] naming the file, the JSON path and the object; nothing is
//! guessed and nothing panics, whatever the JSON.

mod address;
mod emit;
mod json;
mod kube;
mod report;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use sha2::{Digest, Sha256};

pub use json::Problem;
pub use report::{Derived, Imported, Report, Skipped};
pub use write::{write, WriteError, MARKER};

use crate::diagnostics::suggest;
use crate::fmt::format_source;
use crate::frontend::{analyze_sources, Analysis};
use crate::model::rules::check_subdomain;
use crate::model::{Cluster, OverlayKind};
use crate::settings::Settings;
use crate::source::Sources;
use emit::{LxcSource, NodeOut, PodOut};
use json::{At, PathError};
use kube::{AgentEndpoint, EndpointRecord, NodeRecord, CLUSTER_LABEL};
use report::Notes;

/// One input file: its name as the user gave it (for messages) and its text.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// `cilium-dbg endpoint list -o json` from the agent of `node`.
#[derive(Debug, Clone, Copy)]
pub struct AgentInput<'a> {
    pub node: &'a str,
    pub input: Input<'a>,
}

#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// `kubectl get ciliumendpoints -A -o json`.
    pub endpoints: Input<'a>,
    /// `kubectl get ciliumnodes -o json`, or `kubectl get nodes -o json`.
    pub nodes: Input<'a>,
    pub agents: Vec<AgentInput<'a>>,
}

/// How Cilium named a pod's lxc interface when no agent list says: `lxc` and
/// the first 12 hex digits of the sha256 of an id (Cilium's
/// `connector.Endpoint2IfName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LxcNaming {
    /// Of the CNI attachment id `<container-id>:<ifname>` (Cilium 1.15 and later).
    #[default]
    CniAttachmentId,
    /// Of the container id (Cilium before 1.15).
    ContainerId,
}

impl LxcNaming {
    /// The CiliumEndpoint field it hashes.
    pub fn field(self) -> &'static str {
        match self {
            LxcNaming::CniAttachmentId => "cni-attachment-id",
            LxcNaming::ContainerId => "container-id",
        }
    }
    /// The id of `endpoint` that this naming hashes, when it has one.
    fn id_of(self, endpoint: &EndpointRecord) -> Option<&str> {
        match self {
            LxcNaming::CniAttachmentId => endpoint.cni_attachment_id.as_deref(),
            LxcNaming::ContainerId => endpoint.container_id.as_deref(),
        }
    }
    fn releases(self) -> &'static str {
        match self {
            LxcNaming::CniAttachmentId => "Cilium 1.15 and later",
            LxcNaming::ContainerId => "Cilium before 1.15",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cluster's name; by default the `io.cilium.k8s.policy.cluster`
    /// label of the endpoints' identities.
    pub cluster_name: Option<String>,
    pub overlay: OverlayKind,
    pub lxc_naming: LxcNaming,
}

impl Default for Options {
    fn default() -> Self {
        Options { cluster_name: None, overlay: OverlayKind::Vxlan, lxc_naming: LxcNaming::default() }
    }
}

/// A generated `.route` file, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: String,
    pub text: String,
}

/// The result of an import, not yet on disk.
#[derive(Debug, Clone)]
pub struct Import {
    /// `cluster.route`, then `nodes/<node>.route` by node name.
    pub files: Vec<GeneratedFile>,
    /// The files as the front end reads them.
    pub cluster: Cluster,
    pub report: Report,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The inputs cannot be mapped: every problem found, in input order.
    #[error("{}", render_problems(.0))]
    Input(Vec<Problem>),
    /// The generated files do not pass the validator (its diagnostics are in
    /// the analysis, against the generated text).
    #[error("the imported cluster does not pass `routec check`: {}", .0.summary())]
    Invalid(Box<Analysis>),
}

fn render_problems(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("\n")
}

/// `lxc` + the first 12 hex digits of sha256(`id`): how Cilium names the
/// host side of a pod's veth.
pub fn cilium_lxc_name(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("lxc{hex}")
}

fn problem(file: &str, (error, object): (PathError, Option<String>)) -> Problem {
    error.in_file(file, object.as_deref())
}

/// Imports the cluster the inputs describe.
pub fn import(inputs: &Inputs, options: &Options) -> Result<Import, ImportError> {
    let mut problems = Vec::new();
    let mut notes = Notes::default();
    let parsed: Vec<_> = std::iter::once(inputs.nodes)
        .chain(std::iter::once(inputs.endpoints))
        .chain(inputs.agents.iter().map(|a| a.input))
        .map(|input| json::parse(input.name, input.text).map_err(|p| problems.push(p)).ok())
        .collect();
    let [Some(nodes_json), Some(endpoints_json), agents_json @ ..] = parsed.as_slice() else {
        return Err(ImportError::Input(problems));
    };
    if !problems.is_empty() {
        return Err(ImportError::Input(problems));
    }

    notes.reading(inputs.nodes.name);
    let nodes = collect(kube::read_nodes(&At::root(nodes_json), &mut notes), inputs.nodes.name, &mut problems);
    notes.reading(inputs.endpoints.name);
    let endpoints = collect(kube::read_endpoints(&At::root(endpoints_json)), inputs.endpoints.name, &mut problems);
    let mut agents: BTreeMap<&str, (&str, Vec<AgentEndpoint>)> = BTreeMap::new();
    for (agent, value) in inputs.agents.iter().zip(agents_json) {
        let Some(value) = value else { continue };
        notes.reading(agent.input.name);
        let list = collect(kube::read_agent(&At::root(value), &mut notes), agent.input.name, &mut problems);
        if agents.insert(agent.node, (agent.input.name, list)).is_some() {
            problems.push(flag_problem(agent, format!("a second endpoint list for node {}", agent.node)));
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Input(problems));
    }

    check_nodes(&nodes, inputs.nodes.name, &mut problems);
    for agent in &inputs.agents {
        if !nodes.iter().any(|n| n.name == agent.node) {
            let hint = suggest(agent.node, nodes.iter().map(|n| n.name.as_str()))
                .map_or(String::new(), |s| format!(" (did you mean `{s}`?)"));
            let message = format!("no node {} in {}{hint}", agent.node, inputs.nodes.name);
            problems.push(flag_problem(agent, message));
        }
    }
    let placed = place_endpoints(&endpoints, &nodes, inputs, &mut problems);
    let pods =
        match_agents(&placed, &nodes, &agents, options.lxc_naming, inputs.endpoints.name, &mut problems, &mut notes);
    let name = cluster_name(options, &endpoints, inputs.endpoints.name, &mut problems);
    let (Some(name), true) = (name, problems.is_empty()) else {
        return Err(ImportError::Input(problems));
    };
    generate(&name, options, &nodes, pods, notes)
}

/// The records that read cleanly; the problems of the others.
fn collect<T>(results: Vec<Result<T, (PathError, Option<String>)>>, file: &str, problems: &mut Vec<Problem>) -> Vec<T> {
    results.into_iter().filter_map(|r| r.map_err(|e| problems.push(problem(file, e))).ok()).collect()
}

fn flag_problem(agent: &AgentInput, message: String) -> Problem {
    Problem {
        file: format!("--agent-endpoints {}={}", agent.node, agent.input.name),
        path: None,
        object: None,
        message,
    }
}

fn pair_problem(file: &str, path: &str, object: &str, message: String) -> Problem {
    Problem { file: file.to_string(), path: Some(path.to_string()), object: Some(object.to_string()), message }
}

fn check_nodes(nodes: &[NodeRecord], file: &str, problems: &mut Vec<Problem>) {
    let mut names: HashMap<&str, &NodeRecord> = HashMap::new();
    let mut addresses: HashMap<IpAddr, &NodeRecord> = HashMap::new();
    for node in nodes {
        if let Some(first) = names.insert(&node.name, node) {
            let message = format!("is a second node named {} (the first is {})", node.name, first.path);
            problems.push(pair_problem(file, &node.path, &node.name, message));
        }
        let own = std::iter::once(IpAddr::V4(node.address)).chain(node.address6.map(IpAddr::V6));
        for address in own {
            if let Some(first) = addresses.insert(address, node) {
                let message = format!("has InternalIP {address}, as node {} ({}) has", first.name, first.path);
                problems.push(pair_problem(file, &node.path, &node.name, message));
            }
        }
    }
}

/// Each endpoint with the index of its node (by InternalIP).
fn place_endpoints<'a>(
    endpoints: &'a [EndpointRecord],
    nodes: &[NodeRecord],
    inputs: &Inputs,
    problems: &mut Vec<Problem>,
) -> Vec<(&'a EndpointRecord, usize)> {
    let file = inputs.endpoints.name;
    let mut by_ip: HashMap<IpAddr, (&EndpointRecord, &str)> = HashMap::new();
    let mut by_name: HashMap<&str, &EndpointRecord> = HashMap::new();
    let mut by_id: HashMap<(usize, u16), &EndpointRecord> = HashMap::new();
    let mut placed = Vec::new();
    for ep in endpoints {
        let object = format!("CiliumEndpoint {}", ep.pod);
        if let Some(first) = by_name.insert(&ep.pod, ep) {
            let message = format!("is a second CiliumEndpoint named {} (the first is {})", ep.pod, first.path);
            problems.push(pair_problem(file, &ep.path, &object, message));
        }
        for (ip, path) in &ep.ips {
            if let Some((first, first_path)) = by_ip.insert(*ip, (ep, path)) {
                let message = format!("{ip} is also the address of {} ({first_path})", first.pod);
                problems.push(pair_problem(file, path, &object, message));
            }
        }
        let Some(node) = nodes.iter().position(|n| n.has_address(ep.node_ip)) else {
            let message = format!(
                "{} is not the InternalIP of any node in {}: the pod's node is not among the nodes",
                ep.node_ip, inputs.nodes.name
            );
            problems.push(pair_problem(file, &ep.node_path, &object, message));
            continue;
        };
        if let Some(first) = by_id.insert((node, ep.id), ep) {
            let message = format!("{} is also the endpoint id of {} on node {}", ep.id, first.pod, nodes[node].name);
            problems.push(pair_problem(file, &format!("{}.status.id", ep.path), &object, message));
        }
        placed.push((ep, node));
    }
    placed
}

/// The pods: each endpoint with its lxc and, from its node's agent list when
/// given, its ifindex and MACs.
fn match_agents<'a>(
    placed: &[(&'a EndpointRecord, usize)],
    nodes: &[NodeRecord],
    agents: &'a BTreeMap<&str, (&str, Vec<AgentEndpoint>)>,
    naming: LxcNaming,
    file: &str,
    problems: &mut Vec<Problem>,
    notes: &mut Notes,
) -> Vec<PodOut<'a>> {
    let mut pods = Vec::new();
    let mut used: HashMap<&str, Vec<u64>> = HashMap::new();
    for &(ep, node) in placed {
        let node_name = nodes[node].name.as_str();
        let object = format!("CiliumEndpoint {}", ep.pod);
        let (lxc, agent) = match agents.get(node_name) {
            Some((agent_file, list)) => {
                let Some(agent) = list.iter().find(|a| a.id == u64::from(ep.id)) else {
                    let message =
                        format!("{} is not an endpoint in the agent list of node {node_name} ({agent_file})", ep.id);
                    problems.push(pair_problem(file, &format!("{}.status.id", ep.path), &object, message));
                    continue;
                };
                used.entry(node_name).or_default().push(agent.id);
                let agrees = |theirs: &IpAddr| ep.ip_of_family(*theirs).is_some_and(|(ours, _)| ours == theirs);
                if let Some(theirs) = agent.ips.iter().find(|theirs| !agrees(theirs)) {
                    let agent_has = format!(
                        "endpoint {} of the agent list of node {node_name} ({agent_file} {}) has {theirs}",
                        ep.id, agent.path
                    );
                    let (path, message) = match ep.ip_of_family(*theirs) {
                        Some((ours, path)) => (path.clone(), format!("is {ours}, but {agent_has}")),
                        None => (
                            format!("{}.status.networking.addressing", ep.path),
                            format!("has no {} address, but {agent_has}", address::family(*theirs)),
                        ),
                    };
                    problems.push(pair_problem(file, &path, &object, message));
                    continue;
                }
                let Some(lxc) = &agent.interface_name else {
                    let path = format!("{}.status.networking.interface-name", agent.path);
                    let message = format!("is missing: it is the lxc name of {}", ep.pod);
                    problems.push(pair_problem(agent_file, &path, &format!("endpoint {}", ep.id), message));
                    continue;
                };
                ((lxc.clone(), LxcSource::Agent), Some(agent))
            }
            None => {
                let Some(id) = naming.id_of(ep) else {
                    let other = match naming {
                        LxcNaming::CniAttachmentId => "container-id (Cilium before 1.15)",
                        LxcNaming::ContainerId => "cni-attachment-id (Cilium 1.15 and later)",
                    };
                    let message = format!(
                        "is missing: the lxc name is derived from it without an agent list for node {node_name} \
                         (pass --agent-endpoints {node_name}=FILE, or --lxc-naming for {other})",
                    );
                    let path = format!("{}.status.external-identifiers.{}", ep.path, naming.field());
                    problems.push(pair_problem(file, &path, &object, message));
                    continue;
                };
                ((cilium_lxc_name(id), LxcSource::Derived(naming)), None)
            }
        };
        pods.push(PodOut { record: ep, node, lxc: lxc.0, lxc_source: lxc.1, agent });
    }
    for (node, (agent_file, list)) in agents {
        notes.reading(agent_file);
        for agent in list {
            if !used.get(node).is_some_and(|ids| ids.contains(&agent.id)) {
                let reason = format!("no CiliumEndpoint on node {node} has endpoint id {}: not imported", agent.id);
                notes.skip(&agent.path, &format!("endpoint {}", agent.id), reason);
            }
        }
    }
    pods
}

fn cluster_name(
    options: &Options,
    endpoints: &[EndpointRecord],
    file: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let label = CLUSTER_LABEL.trim_start_matches("k8s:").trim_end_matches('=');
    if let Some(name) = &options.cluster_name {
        if let Err(e) = check_subdomain(name) {
            problems.push(Problem {
                file: "--cluster-name".into(),
                path: None,
                object: None,
                message: format!("`{name}` is not a cluster name routec accepts: {e}"),
            });
            return None;
        }
        return Some(name.clone());
    }
    let mut named = endpoints.iter().filter_map(|ep| ep.cluster_label.as_ref().map(|l| (ep, l)));
    let Some((first, (name, path))) = named.next() else {
        problems.push(Problem {
            file: file.to_string(),
            path: None,
            object: None,
            message: format!(
                "no endpoint's identity has the `{label}` label that names the cluster: pass --cluster-name"
            ),
        });
        return None;
    };
    if let Some((other, (other_name, other_path))) = named.find(|(_, (n, _))| n != name) {
        let message =
            format!("names cluster `{other_name}`, but {} ({path}) names `{name}`: pass --cluster-name", first.pod);
        problems.push(pair_problem(file, other_path, &format!("CiliumEndpoint {}", other.pod), message));
        return None;
    }
    if let Err(e) = check_subdomain(name) {
        problems.push(pair_problem(
            file,
            path,
            &format!("CiliumEndpoint {}", first.pod),
            format!("names cluster `{name}`, which is not a cluster name routec accepts ({e}): pass --cluster-name"),
        ));
        return None;
    }
    Some(name.clone())
}

/// Prints, formats and validates the files.
fn generate(
    name: &str,
    options: &Options,
    nodes: &[NodeRecord],
    pods: Vec<PodOut>,
    mut notes: Notes,
) -> Result<Import, ImportError> {
    if options.cluster_name.is_none() {
        notes.derive("cluster", "name", name, format!("the `{CLUSTER_LABEL}` label of the endpoints' identities"));
    }
    let mut node_outs: Vec<NodeOut> = nodes.iter().map(|node| NodeOut { node, pods: Vec::new() }).collect();
    for pod in pods {
        let node = pod.node;
        node_outs[node].pods.push(pod);
    }
    node_outs.sort_by(|a, b| a.node.name.cmp(&b.node.name));
    for out in &mut node_outs {
        out.pods.sort_by(|a, b| a.record.pod.cmp(&b.record.pod));
    }
    let mut files =
        vec![GeneratedFile { path: "cluster.route".into(), text: emit::cluster_file(name, options, &mut notes) }];
    for out in &node_outs {
        files.push(GeneratedFile {
            path: format!("nodes/{}.route", out.node.name),
            text: emit::node_file(out, &mut notes),
        });
    }
    let mut sources = Sources::new();
    for file in &mut files {
        match format_source(&file.path, &file.text) {
            Ok(formatted) => file.text = formatted,
            Err(analysis) => return Err(ImportError::Invalid(analysis)),
        }
        sources.add(file.path.clone(), file.text.clone());
    }
    let analysis = analyze_sources(sources, Settings::default());
    let Some(cluster) = analysis.cluster.clone() else {
        return Err(ImportError::Invalid(Box::new(analysis)));
    };
    let warnings = analysis
        .diagnostics
        .iter()
        .map(|d| {
            let file = &analysis.sources.get(d.primary_span().file()).name;
            format!("{} {file}: {}", d.code.as_str(), d.message)
        })
        .collect();
    let report = Report {
        cluster: name.to_string(),
        files: files.iter().map(|f| f.path.clone()).collect(),
        imported: Imported {
            nodes: cluster.nodes.iter().map(|n| n.name.clone()).collect(),
            pods: node_outs.iter().flat_map(|n| n.pods.iter().map(|p| p.record.pod.clone())).collect(),
        },
        skipped: notes.skipped,
        derived: notes.derived,
        warnings,
    };
    Ok(Import { files, cluster, report })
}
