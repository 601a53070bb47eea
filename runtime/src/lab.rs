//! `routec lab`: a whole cluster in network namespaces on this machine.
//!
//! One namespace for the underlay (a bridge), one per node, one per pod;
//! nothing in the root namespace. The topology is made with iproute2's `ip`
//! (one `ip -batch` per namespace): the lab is a test harness and iproute2 is
//! the reference tool for these objects, so a reader can replay every step by
//! hand. Every namespace is recorded in the lab's state file *before* it is
//! created, so `lab down` removes exactly what was made, even after a crash.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use routec_compiler::model::{Cluster, Node};
use serde::{Deserialize, Serialize};

use crate::loader::BuildOutput;
use crate::{netns, Context, Error, Result};

/// Where labs keep their state and build output, and where bpffs is.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub state_dir: PathBuf,
    pub bpffs: PathBuf,
    /// How the nodes' programs are attached.
    pub tc_mode: crate::loader::TcMode,
}

/// Where labs keep their state and build output unless told otherwise.
pub const DEFAULT_STATE_DIR: &str = "/run/routec/labs";

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            bpffs: PathBuf::from("/sys/fs/bpf"),
            tc_mode: crate::loader::TcMode::default(),
        }
    }
}

/// Everything a lab made, as recorded in `<state_dir>/<lab>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabState {
    pub name: String,
    pub bpffs: PathBuf,
    /// Build output the nodes were applied from.
    pub out: PathBuf,
    pub underlay: String,
    pub nodes: Vec<LabNode>,
    pub pods: Vec<LabPod>,
    /// Every namespace created, in creation order (removed in reverse).
    pub namespaces: Vec<String>,
    /// How the nodes' programs are attached.
    #[serde(default)]
    pub tc_mode: crate::loader::TcMode,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabNode {
    pub name: String,
    pub address: Ipv4Addr,
    pub netns: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabPod {
    pub name: String,
    pub ip: Ipv4Addr,
    pub node: String,
    pub netns: String,
}

/// Directory where `ip netns` keeps its namespace files.
pub const NETNS_DIR: &str = "/run/netns";

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
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

impl LabState {
    pub fn plan(cluster: &Cluster, name: &str, bpffs: &Path, out: &Path) -> Result<Self> {
        check_lab_name(name)?;
        if let Some(pod) = cluster.pods.iter().find(|p| p.ifindex == Some(1)) {
            return Err(Error::msg(format!(
                "pod {} declares ifindex 1, which is the loopback device of every namespace: the lab cannot give it to {}",
                pod.name, pod.lxc
            )));
        }
        let nodes: Vec<LabNode> = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| LabNode { name: n.name.clone(), address: n.address, netns: namespace_name(name, &n.name, i) })
            .collect();
        let pods: Vec<LabPod> = cluster
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| LabPod {
                name: p.name.clone(),
                ip: p.ip,
                node: cluster.nodes[p.node].name.clone(),
                netns: namespace_name(name, &p.name, cluster.nodes.len() + i),
            })
            .collect();
        let underlay = format!("{name}-underlay");
        let mut all: Vec<&str> = vec![&underlay];
        all.extend(nodes.iter().map(|n| n.netns.as_str()));
        all.extend(pods.iter().map(|p| p.netns.as_str()));
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = all.iter().find(|n| !seen.insert(**n)) {
            return Err(Error::msg(format!("two lab objects map to the namespace name `{dup}`")));
        }
        Ok(LabState {
            name: name.to_string(),
            bpffs: bpffs.to_path_buf(),
            out: out.to_path_buf(),
            underlay,
            nodes,
            pods,
            namespaces: Vec::new(),
            tc_mode: crate::loader::TcMode::default(),
        })
    }

    pub fn state_file(state_dir: &Path, name: &str) -> PathBuf {
        state_dir.join(format!("{name}.json"))
    }

    pub fn load(state_dir: &Path, name: &str) -> Result<Self> {
        check_lab_name(name)?;
        let path = Self::state_file(state_dir, name);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::msg(format!("no lab named `{name}` (no {})", path.display())),
            _ => Error::msg(format!("cannot read {}: {e}", path.display())),
        })?;
        serde_json::from_str(&text).map_err(|e| Error::msg(format!("{} is not a lab state file: {e}", path.display())))
    }

    /// Written atomically (temp file + rename): a crash never leaves half a record.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        std::fs::create_dir_all(state_dir).context(|| format!("cannot create {}", state_dir.display()))?;
        let path = Self::state_file(state_dir, &self.name);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("lab state serializes");
        std::fs::write(&tmp, text).context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// `<bpffs>/routec/<lab>`: every node's pins live below it.
    pub fn pin_root(&self) -> PathBuf {
        self.bpffs.join("routec").join(&self.name)
    }

    pub fn node(&self, name: &str) -> Option<&LabNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// A pod by name (`namespace/name`) or IP.
    pub fn pod(&self, name_or_ip: &str) -> Option<&LabPod> {
        match name_or_ip.parse::<Ipv4Addr>() {
            Ok(ip) => self.pods.iter().find(|p| p.ip == ip),
            Err(_) => self.pods.iter().find(|p| p.name == name_or_ip),
        }
    }
}

/// Runs `ip [-n NS] -batch -` with `lines`; the error names the namespace
/// and carries ip's own message.
fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut command = Command::new("ip");
    if let Some(ns) = netns {
        command.args(["-n", ns]);
    }
    command.args(["-batch", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().context(|| "cannot run `ip` (iproute2)".to_string())?;
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        for line in lines {
            writeln!(stdin, "{line}").context(|| "cannot write to `ip -batch`".to_string())?;
        }
    }
    let output = child.wait_with_output().context(|| "`ip -batch` did not finish".to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        let place = netns.map_or("the current namespace".to_string(), |ns| format!("namespace {ns}"));
        Err(Error::msg(format!("iproute2 failed in {place}: {}", String::from_utf8_lossy(&output.stderr).trim())))
    }
}

/// Sysctls every lab namespace gets before any interface exists (so the
/// `default` values reach every interface): no reverse-path filtering (the
/// datapath delivers packets on interfaces the routes do not point at), no
/// IPv6 (it would only add neighbour-discovery noise to the counters).
fn base_sysctls(netns: &str, forwarding: bool) -> Result<()> {
    netns::run_in(Some(&netns_path(netns)), || -> Result<()> {
        for (key, value) in [
            ("net/ipv4/conf/all/rp_filter", "0"),
            ("net/ipv4/conf/default/rp_filter", "0"),
            ("net/ipv6/conf/all/disable_ipv6", "1"),
            ("net/ipv6/conf/default/disable_ipv6", "1"),
            ("net/ipv4/ip_forward", if forwarding { "1" } else { "0" }),
        ] {
            netns::write_sysctl(key, value)?;
        }
        Ok(())
    })
    .context(|| format!("cannot set sysctls in namespace {netns}"))
}

/// Creates every namespace and interface of the lab. `progress` receives one
/// line per step (large labs take a while).
pub fn create_topology(
    cluster: &Cluster,
    state: &mut LabState,
    state_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let all: Vec<String> = std::iter::once(state.underlay.clone())
        .chain(state.nodes.iter().map(|n| n.netns.clone()))
        .chain(state.pods.iter().map(|p| p.netns.clone()))
        .collect();
    if let Some(existing) = all.iter().find(|ns| netns_path(ns).exists()) {
        return Err(Error::msg(format!(
            "namespace {existing} already exists: is a lab named `{}` up? (`routec lab down {}`)",
            state.name, state.name
        )));
    }
    // Record first, create second: a crash in between leaves only names
    // that `lab down` tolerates as already gone.
    state.namespaces = all.clone();
    state.save(state_dir)?;
    progress(&format!("creating {} namespaces", all.len()));
    let adds: Vec<String> = all.iter().map(|ns| format!("netns add {ns}")).collect();
    ip_batch(None, &adds)?;
    for ns in &all {
        let forwarding = state.nodes.iter().any(|n| &n.netns == ns);
        base_sysctls(ns, forwarding)?;
    }

    ip_batch(
        Some(&state.underlay),
        &["link set lo up".into(), "link add br0 type bridge".into(), "link set br0 up".into()],
    )?;

    let built = in_parallel(cluster.nodes.len(), |index| node_topology(cluster, state, index), &mut |index, done| {
        progress(&format!("node {}: interfaces ({done}/{})", cluster.nodes[index].name, cluster.nodes.len()))
    });
    built.into_iter().collect()
}

/// Runs `work` for 0..count on up to 8 threads (the work is mostly waiting
/// for iproute2 and the kernel), reporting each finished index to `done` on
/// the calling thread. Results come back in index order.
fn in_parallel<T: Send>(
    count: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
    done: &mut dyn FnMut(usize, usize),
) -> Vec<Result<T>> {
    const PARALLEL: usize = 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    let mut results: Vec<(usize, Result<T>)> = Vec::with_capacity(count);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(count) {
            let sender = sender.clone();
            let (next, work) = (&next, &work);
            scope.spawn(move || loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= count || sender.send((index, work(index))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            results.push((index, result));
            done(index, results.len());
        }
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// One node's interfaces, and those of its pods.
fn node_topology(cluster: &Cluster, state: &LabState, index: usize) -> Result<()> {
    let node = &cluster.nodes[index];
    let pod_mtu = cluster.pod_mtu();
    ip_batch(Some(&state.nodes[index].netns), &node_commands(cluster, state, index, node, pod_mtu))?;
    ip_batch(Some(&state.underlay), &[format!("link set u{index} master br0 up")])?;
    for (pod, lab_pod) in cluster.pods.iter().zip(&state.pods).filter(|(p, _)| p.node == index) {
        let router = node.router;
        ip_batch(
            Some(&lab_pod.netns),
            &[
                "link set lo up".into(),
                format!("link set eth0 mtu {pod_mtu}"),
                format!("addr add {}/32 dev eth0", pod.ip),
                "link set eth0 up".into(),
                format!("route add {router}/32 dev eth0 scope link"),
                format!("route add default via {router} dev eth0"),
            ],
        )?;
    }
    Ok(())
}

/// The node namespace: lxc veths first (their declared ifindexes must not be
/// taken by an auto-numbered device), then the underlay leg `eth0`, the
/// overlay device and `cilium_host`.
fn node_commands(cluster: &Cluster, state: &LabState, index: usize, node: &Node, pod_mtu: u32) -> Vec<String> {
    let mut lines = vec!["link set lo up".to_string()];
    let mut pods: Vec<(usize, &routec_compiler::model::Pod)> =
        cluster.pods.iter().enumerate().filter(|(_, p)| p.node == index).collect();
    pods.sort_by_key(|(_, p)| p.ifindex.is_none());
    for (pod_index, pod) in &pods {
        let mut host_side = format!("link add {}", pod.lxc);
        if let Some(ifindex) = pod.ifindex {
            host_side += &format!(" index {ifindex}");
        }
        if let Some(mac) = pod.node_mac {
            host_side += &format!(" address {mac}");
        }
        let mut pod_side = String::from(" type veth peer name eth0");
        if let Some(mac) = pod.mac {
            pod_side += &format!(" address {mac}");
        }
        pod_side += &format!(" netns {}", state.pods[*pod_index].netns);
        lines.push(host_side + &pod_side);
        lines.push(format!("link set {} mtu {pod_mtu} up", pod.lxc));
    }
    lines.push(format!("link add {} type veth peer name u{index} netns {}", node.device, state.underlay));
    lines.push(format!("link set {} mtu {} up", node.device, cluster.mtu));
    lines.push(format!("addr add {}/32 dev {}", node.address, node.device));
    for other in cluster.nodes.iter().filter(|n| n.name != node.name) {
        lines.push(format!("route add {}/32 dev {} scope link", other.address, node.device));
    }
    if cluster.overlay.kind != routec_compiler::model::OverlayKind::None {
        let kind = cluster.overlay.kind.as_str();
        lines.push(format!(
            "link add cilium_{kind} mtu {pod_mtu} type {kind} external dstport {}",
            cluster.overlay.port
        ));
        lines.push(format!("link set cilium_{kind} up"));
    }
    // A veth pair, as in Cilium (this kernel may lack the dummy driver):
    // what the node routes to its pod-cidr leaves through cilium_host, whose
    // egress program delivers it; anything left over dies in cilium_net.
    lines.push("link add cilium_host type veth peer name cilium_net".into());
    lines.push(format!("link set cilium_net mtu {pod_mtu} up"));
    lines.push(format!("link set cilium_host arp off mtu {pod_mtu} up"));
    lines.push(format!("addr add {}/32 dev cilium_host", node.router));
    lines.push(format!("route add {} dev cilium_host", node.pod_cidr));
    lines
}

/// Removes everything the lab made: namespaces (in reverse order), pins,
/// build output and the state file. Tolerates objects already gone, so it
/// also cleans up after a crash half way through `up`, including one before
/// the state file was written (only the lab's folder exists then).
pub fn down(state_dir: &Path, name: &str) -> Result<()> {
    check_lab_name(name)?;
    let folder = state_dir.join(name);
    if !LabState::state_file(state_dir, name).exists() && folder.is_dir() {
        return std::fs::remove_dir_all(&folder).context(|| format!("cannot remove {}", folder.display()));
    }
    let state = LabState::load(state_dir, name)?;
    let mut failures = Vec::new();
    for ns in state.namespaces.iter().rev() {
        if netns_path(ns).exists() {
            if let Err(e) = ip_batch(None, &[format!("netns del {ns}")]) {
                failures.push(e.to_string());
            }
        }
    }
    let pins = state.pin_root();
    if pins.exists() {
        if let Err(e) = std::fs::remove_dir_all(&pins) {
            failures.push(format!("cannot remove {}: {e}", pins.display()));
        }
    }
    let records = Path::new(crate::loader::STATE_DIR).join(name);
    for dir in [state_dir.join(name), records] {
        if !dir.exists() {
            continue;
        }
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            failures.push(format!("cannot remove {}: {e}", dir.display()));
        }
    }
    if !failures.is_empty() {
        return Err(Error::msg(format!("lab `{name}` is only partly down: {}", failures.join("; "))));
    }
    std::fs::remove_file(LabState::state_file(state_dir, name))
        .context(|| format!("cannot remove the state of lab `{name}`"))?;
    Ok(())
}

/// A lab found in the state folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabEntry {
    pub name: String,
    /// False for a folder without a state file: a lab stopped after its
    /// build and before its first namespace (`lab down NAME` removes it).
    pub complete: bool,
}

/// Labs with a state file, and lab folders left without one.
pub fn list(state_dir: &Path) -> Result<Vec<LabEntry>> {
    let mut labs = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else { return Ok(labs) };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".json") {
            labs.push(LabEntry { name: name.to_string(), complete: true });
        } else if entry.path().is_dir()
            && check_lab_name(&file).is_ok()
            && !LabState::state_file(state_dir, &file).exists()
        {
            labs.push(LabEntry { name: file, complete: false });
        }
    }
    labs.sort();
    Ok(labs)
}

/// A command that runs `argv` inside the lab namespace `netns` (setns via
/// `nsenter --net=`, not `ip netns exec`, which would remount /sys).
pub fn exec_command(netns: &str, argv: &[String]) -> Command {
    let mut command = Command::new("nsenter");
    command.arg(format!("--net={}", netns_path(netns).display())).arg("--").args(argv);
    command
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
    let cluster = &build.cluster;
    let results = in_parallel(
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

/// Brings a lab up from an existing build at `out` (of the cluster it
/// records): topology, then every node applied. On failure everything made
/// is removed again.
pub fn up_from_build(out: &Path, name: &str, options: &LabOptions, progress: &mut dyn FnMut(&str)) -> Result<LabState> {
    if LabState::state_file(&options.state_dir, name).exists() {
        return Err(Error::msg(format!("lab `{name}` is already up (`routec lab down {name}` first)")));
    }
    check_root()?;
    let build = BuildOutput::open(out)?;
    let cluster = &build.cluster;
    let mut state = LabState::plan(cluster, name, &options.bpffs, out)?;
    state.tc_mode = options.tc_mode;
    let result = create_topology(cluster, &mut state, &options.state_dir, progress)
        .and_then(|()| apply_all(&build, &state, progress));
    match result {
        Ok(_) => Ok(state),
        Err(e) => {
            if !LabState::state_file(&options.state_dir, name).exists() {
                return Err(e);
            }
            match down(&options.state_dir, name) {
                Ok(()) => Err(Error::msg(format!("{e} (everything it made was removed)"))),
                Err(cleanup) => Err(Error::msg(format!("{e}\n(and cleaning up failed: {cleanup})"))),
            }
        }
    }
}

fn check_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::msg("a lab creates network namespaces and loads eBPF programs: run it as root"));
    }
    Ok(())
}

/// Where `lab up` puts the lab's build output.
pub fn out_dir(options: &LabOptions, name: &str) -> PathBuf {
    options.state_dir.join(name).join("out")
}

/// `routec lab up`: builds `cluster` (`routec build`, objects compiled with
/// clang) into the lab's folder ([`out_dir`]), then brings the lab up from
/// it ([`up_from_build`]). `input_digest` identifies the input in the manifest.
pub fn up(
    cluster: &Cluster,
    input_digest: &str,
    name: &str,
    options: &LabOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<LabState> {
    use routec_compiler::build::{build, BuildOptions, ClangChoice};
    check_lab_name(name)?;
    check_root()?;
    if LabState::state_file(&options.state_dir, name).exists() {
        return Err(Error::msg(format!("lab `{name}` is already up (`routec lab down {name}` first)")));
    }
    let out = out_dir(options, name);
    progress(&format!("building {} nodes, {} pods into {}", cluster.nodes.len(), cluster.pods.len(), out.display()));
    let built = std::fs::create_dir_all(options.state_dir.join(name)).map_err(Error::from).and_then(|()| {
        build(cluster, &BuildOptions::new(ClangChoice::Use(None), input_digest.to_string()), &out)
            .map_err(|e| Error::msg(format!("routec build failed: {e}")))
    });
    let result = built.and_then(|_| up_from_build(&out, name, options, progress));
    // A lab that never got a state file leaves only its build behind: remove it.
    let folder = options.state_dir.join(name);
    match result {
        Err(e) if !LabState::state_file(&options.state_dir, name).exists() && folder.exists() => {
            match std::fs::remove_dir_all(&folder) {
                Ok(()) => Err(Error::msg(format!("{e} (everything it made was removed)"))),
                Err(cleanup) => Err(Error::msg(format!("{e}\n(and removing {} failed: {cleanup})", folder.display()))),
            }
        }
        result => result,
    }
}
