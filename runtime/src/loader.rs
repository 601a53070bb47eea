//! `routec apply/detach/status`: one node's datapath in the kernel.
//!
//! Apply works in three phases so that a failure leaves the previous
//! datapath exactly as it was:
//! 1. *validate* (nothing live is touched): read the build, find every
//!    interface of the attach plan and every lxc in the node's namespace
//!    (declared ifindexes and MACs must match), check pinned maps against
//!    `layout::MapSpec`, load every object through the verifier;
//! 2. *seed*: write only the map entries that differ, then delete stale ones;
//! 3. *attach*: cls_bpf filters via netlink (default, as Cilium 1.14) or TCX
//!    links pinned in bpffs ([`TcMode`]); both outlive this process, and an
//!    attachment that exists is switched to the new program atomically.
//!
//! Phases 2 and 3 journal every change (the previous value of each written
//! or deleted entry, the previous program of each switched or removed hook,
//! held open); a failure undoes them, last first, and the error ends with
//! what it left: unchanged (phase 1), rolled back, or a rollback that failed.
//!
//! Pins: `<bpffs>/routec/<scope>/<node>/{cilium_lxc,cilium_ipcache,routec_counters}`
//! and, for TCX links, `.../links/<direction>/<interface>`. bpffs holds no
//! regular files, so the record of what was attached (mode, object digest,
//! constants, program ids) lives in `/run/routec/nodes/<scope>/<node>.json`.
//!
//! The pod-side MAC of an lxc is found through the kernel's own pointers
//! (IFLA_LINK + IFLA_LINK_NETNSID, then RTM_GETLINK with
//! IFLA_TARGET_NETNSID), so apply needs no path to the pod's namespace.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{HashMap as BpfHashMap, Map, MapData, MapInfo, PerCpuArray};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::tc::{NlOptions, SchedClassifierLink, TcAttachOptions, TcHandle};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType};
use aya::{Ebpf, EbpfLoader};
use routec_compiler::bpf::{Direction, LoadConstants, OVERLAY_DEVICE};
use routec_compiler::build::{Attachment, BuildFiles, ReadError, ATTACH_PLAN, IPCACHE_SEED, LXC_SEED};
use routec_compiler::layout::{self, EndpointInfo, EndpointKey, MapSpec, Reason};
use routec_compiler::model::{Cluster, Mac};
use serde::{Deserialize, Serialize};

use crate::netlink::{self, LinkInfo};
use crate::{netns, Context, Error, Result};

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
        self.bpffs.join("routec").join(&self.scope).join(&self.node)
    }
    pub fn map_pin(&self, map: &str) -> PathBuf {
        self.pin_dir().join(map)
    }
    fn link_pin(&self, interface: &str, direction: Direction) -> PathBuf {
        // bpffs refuses names with a dot; `:` never occurs in interface names.
        self.pin_dir().join("links").join(direction.as_str()).join(interface.replace('.', ":"))
    }
    fn state_file(&self) -> PathBuf {
        self.state_dir.join(&self.scope).join(format!("{}.json", self.node))
    }
}

fn tc_attach_type(direction: Direction) -> TcAttachType {
    match direction {
        Direction::Ingress => TcAttachType::Ingress,
        Direction::Egress => TcAttachType::Egress,
    }
}

fn tc_parent(direction: Direction) -> u32 {
    match direction {
        Direction::Ingress => netlink::TC_PARENT_INGRESS,
        Direction::Egress => netlink::TC_PARENT_EGRESS,
    }
}

/// Per-node load-time constants (the `const volatile` globals of the
/// objects), as recorded with each attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConstants {
    pub node_ipv4: Ipv4Addr,
    pub router_ipv4: Ipv4Addr,
    pub overlay_port: u16,
    pub vni: u32,
    pub pod_mtu: u32,
    /// Discovered: ifindex of the overlay device in the node's namespace.
    pub overlay_ifindex: u32,
}

impl NodeConstants {
    fn load_constants(&self) -> LoadConstants {
        LoadConstants {
            node_ipv4: self.node_ipv4.octets(),
            router_ipv4: self.router_ipv4.octets(),
            overlay_port: self.overlay_port,
            vni: self.vni,
            pod_mtu: self.pod_mtu,
        }
    }
}

/// A pod of this node as the loader needs it: where its lxc is, and what was declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEndpoint {
    pub ip: Ipv4Addr,
    pub lxc: String,
}

/// Everything `apply` needs for one node, read from a build.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub node: String,
    pub attachments: Vec<Attachment>,
    /// Object file name -> bytes.
    pub objects: BTreeMap<String, Vec<u8>>,
    /// cilium_lxc seed (ifindex/MACs zero where undeclared).
    pub lxc_seed: Vec<(EndpointKey, EndpointInfo)>,
    /// cilium_ipcache seed: raw key/value bytes.
    pub ipcache_seed: Vec<([u8; 24], [u8; 12])>,
    pub endpoints: Vec<PlannedEndpoint>,
    /// Constants known at build time (`overlay_ifindex` is filled by apply).
    pub constants: NodeConstants,
    /// The maps' kernel definitions, `max_entries` as the build sized them.
    pub maps: Vec<MapSpec>,
    /// Name of the overlay device (its ifindex becomes OVERLAY_IFINDEX), if any.
    pub overlay_device: Option<String>,
}

/// What one attachment is, as recorded after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRecord {
    pub interface: String,
    pub direction: Direction,
    pub program: String,
    pub object: String,
    pub mode: TcMode,
    /// `tcx-link`: where the link is pinned.
    pub link_pin: PathBuf,
    /// `netlink`: the program attached at (priority 1, handle 1), as the
    /// kernel numbered it when attached.
    #[serde(default)]
    pub program_id: u32,
    /// sha256 of the object and the constants it was loaded with: equal
    /// values mean the attached program is already the wanted one.
    pub object_sha256: String,
    pub constants: NodeConstants,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub node: String,
    pub scope: String,
    pub bpffs: PathBuf,
    pub netns: Option<PathBuf>,
    pub attachments: Vec<AttachRecord>,
}

/// Counts of entries written per map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MapChanges {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
}

impl MapChanges {
    pub fn is_empty(&self) -> bool {
        self.added + self.updated + self.deleted == 0
    }
}

impl std::fmt::Display for MapChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} deleted, {} unchanged",
            self.added, self.updated, self.deleted, self.unchanged
        )
    }
}

/// What an apply did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub cilium_lxc: MapChanges,
    pub cilium_ipcache: MapChanges,
    /// `interface.direction` of attachments made or switched.
    pub attached: Vec<String>,
    /// `interface.direction` of attachments removed (no longer in the plan).
    pub detached: Vec<String>,
}

impl ApplyReport {
    pub fn changed_nothing(&self) -> bool {
        self.cilium_lxc.is_empty()
            && self.cilium_ipcache.is_empty()
            && self.attached.is_empty()
            && self.detached.is_empty()
    }
}

impl std::fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.changed_nothing() {
            return write!(f, "nothing to change: the datapath already matches the build");
        }
        writeln!(f, "cilium_lxc: {}", self.cilium_lxc)?;
        writeln!(f, "cilium_ipcache: {}", self.cilium_ipcache)?;
        write!(f, "attached: {}", if self.attached.is_empty() { "-".into() } else { self.attached.join(", ") })?;
        if !self.detached.is_empty() {
            write!(f, "\ndetached: {}", self.detached.join(", "))?;
        }
        Ok(())
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

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a pinned map's `max_entries` must equal the wanted one: apply
/// needs the size the build chose; a reader only needs the entries to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxEntries {
    Check,
    Ignore,
}

/// Checks a pinned map against the layout (type, key and value sizes, flags
/// and, unless ignored, `max_entries`); `Ok(false)` when it is not pinned.
pub fn check_pin(path: &Path, spec: &MapSpec, max_entries: MaxEntries) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let info = MapInfo::from_pin(path)
        .map_err(|e| Error::msg(format!("{} is not a usable map pin: {}", path.display(), chain(&e))))?;
    let map_type = info.map_type().map_or(u32::MAX, |t| t as u32);
    let found = [map_type, info.key_size(), info.value_size(), info.max_entries(), info.map_flags()];
    let wanted = [spec.map_type, spec.key_size, spec.value_size, spec.max_entries, spec.flags];
    let differs = |i: usize| found[i] != wanted[i] && !(i == 3 && max_entries == MaxEntries::Ignore);
    if (0..found.len()).any(differs) {
        return Err(Error::msg(format!(
            "pinned map {} does not match {}: found type {}, key {} B, value {} B, max entries {}, flags {:#x}; \
             wanted type {}, key {} B, value {} B, max entries {}{}, flags {:#x}",
            path.display(),
            spec.name,
            found[0],
            found[1],
            found[2],
            found[3],
            found[4],
            wanted[0],
            wanted[1],
            wanted[2],
            wanted[3],
            if max_entries == MaxEntries::Ignore { " (or any)" } else { "" },
            wanted[4],
        )));
    }
    Ok(true)
}

/// [`check_pin`] as apply needs it: exactly the build's definition.
pub fn check_pinned_map(path: &Path, spec: &MapSpec) -> Result<bool> {
    check_pin(path, spec, MaxEntries::Check)
        .map_err(|e| Error::msg(format!("{e} (remove it with `routec detach` first)")))
}

/// A `routec build` output opened for loading: its manifest and the cluster
/// it was built from (`cluster/cluster.json`), which says which lxc belongs
/// to which pod and gives the nodes' constants. Every file is read through
/// [`BuildFiles::read`], checked against the manifest's sha256 before use.
/// Opened once, it serves the plans of all its nodes.
#[derive(Debug)]
pub struct BuildOutput {
    pub out: PathBuf,
    pub cluster: Cluster,
    files: BuildFiles,
}

impl BuildOutput {
    pub fn open(out: &Path) -> Result<Self> {
        let files = BuildFiles::open(out).map_err(read_error)?;
        let cluster = files.read_cluster().map_err(read_error)?;
        Ok(BuildOutput { out: out.to_path_buf(), cluster, files })
    }
    /// The layout's map definitions with the build's `max_entries`.
    fn map_specs(&self) -> Result<Vec<MapSpec>> {
        layout::ALL_MAPS
            .iter()
            .map(|spec| match self.files.manifest.maps.iter().find(|m| m.name == spec.name) {
                Some(m) => Ok(MapSpec { max_entries: m.max_entries, ..*spec }),
                None => Err(Error::msg(format!("manifest.json does not size map {}", spec.name))),
            })
            .collect()
    }
    fn read_seed(&self, rel: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let text = self.files.read_text(rel).map_err(read_error)?;
        routec_compiler::seeds::parse_seed(&text)
            .map_err(|e| Error::msg(format!("{}: {e}", self.out.join(rel).display())))
    }
}

fn read_error(e: ReadError) -> Error {
    Error::msg(e.to_string())
}

/// Reads one node's part of a build output.
impl NodePlan {
    pub fn from_build(build: &BuildOutput, node: &str) -> Result<Self> {
        use routec_compiler::model::OverlayKind;
        let (out, cluster) = (build.out.as_path(), &build.cluster);
        let node_index = cluster.nodes.iter().position(|n| n.name == node).ok_or_else(|| {
            Error::msg(format!("{} has no node `{node}` (cluster `{}`)", out.display(), cluster.name))
        })?;
        let constants = LoadConstants::for_node(cluster, node_index);
        if !build.files.manifest.objects_compiled {
            return Err(Error::msg(format!(
                "{} was built without eBPF objects (--no-clang): rebuild with clang",
                out.display()
            )));
        }
        let attach_rel = format!("nodes/{node}/{ATTACH_PLAN}");
        let attach_text = build.files.read_text(&attach_rel).map_err(read_error)?;
        let attachments: Vec<Attachment> = serde_json::from_str(&attach_text)
            .map_err(|e| Error::msg(format!("{} is not an attach plan: {e}", out.join(&attach_rel).display())))?;
        let mut objects = BTreeMap::new();
        for a in &attachments {
            if !objects.contains_key(&a.object) {
                objects.insert(a.object.clone(), build.files.read(&a.object).map_err(read_error)?);
            }
        }
        let lxc_seed = build
            .read_seed(&format!("nodes/{node}/{LXC_SEED}"))?
            .into_iter()
            .map(|(k, v)| {
                Ok((
                    EndpointKey::from_bytes(&k).map_err(seed_error)?,
                    EndpointInfo::from_bytes(&v).map_err(seed_error)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let ipcache_seed = build
            .read_seed(IPCACHE_SEED)?
            .into_iter()
            .map(|(k, v)| Ok((fixed(&k, "a cilium_ipcache key")?, fixed(&v, "a cilium_ipcache value")?)))
            .collect::<Result<Vec<_>>>()?;
        let endpoints = cluster.pods_on(node_index).map(|p| PlannedEndpoint { ip: p.ip, lxc: p.lxc.clone() }).collect();
        Ok(NodePlan {
            node: node.to_string(),
            attachments,
            objects,
            lxc_seed,
            ipcache_seed,
            endpoints,
            constants: NodeConstants {
                node_ipv4: Ipv4Addr::from(constants.node_ipv4),
                router_ipv4: Ipv4Addr::from(constants.router_ipv4),
                overlay_port: constants.overlay_port,
                vni: constants.vni,
                pod_mtu: constants.pod_mtu,
                overlay_ifindex: 0,
            },
            maps: build.map_specs()?,
            overlay_device: (cluster.overlay.kind != OverlayKind::None).then(|| OVERLAY_DEVICE.to_string()),
        })
    }
}

fn seed_error(e: layout::LengthError) -> Error {
    Error::msg(format!("bad seed entry: {e}"))
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| Error::msg(format!("{what} must be {N} bytes, got {}", bytes.len())))
}

/// Finds every interface the plan names in the current namespace and fills
/// the undeclared ifindexes and MACs of the lxc seed. All problems are
/// reported at once.
fn discover(plan: &NodePlan) -> Result<(Vec<(EndpointKey, EndpointInfo)>, u32)> {
    let mut missing = Vec::new();
    let mut links: HashMap<&str, LinkInfo> = HashMap::new();
    let names = plan
        .attachments
        .iter()
        .map(|a| a.interface.as_str())
        .chain(plan.endpoints.iter().map(|e| e.lxc.as_str()))
        .chain(plan.overlay_device.as_deref());
    for name in names {
        if links.contains_key(name) || missing.contains(&name) {
            continue;
        }
        match netlink::link_by_name(name).context(|| format!("cannot query interface {name}"))? {
            Some(link) => {
                links.insert(name, link);
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        return Err(Error::msg(format!("interface(s) missing in the node's namespace: {}", missing.join(", "))));
    }
    let overlay_ifindex = plan.overlay_device.as_deref().map_or(0, |d| links[d].ifindex);

    let mut problems = Vec::new();
    let mut filled = Vec::with_capacity(plan.lxc_seed.len());
    for (key, seeded) in &plan.lxc_seed {
        let mut info = *seeded;
        if !info.is_host() {
            let Some(endpoint) = plan.endpoints.iter().find(|e| e.ip == key.ip4()) else {
                problems.push(format!("cilium_lxc has {} but the cluster has no such pod on this node", key.ip4()));
                continue;
            };
            let link = &links[endpoint.lxc.as_str()];
            let lxc = &endpoint.lxc;
            if info.ifindex == 0 {
                info.ifindex = link.ifindex;
            } else if info.ifindex != link.ifindex {
                problems.push(format!(
                    "{lxc}: declared ifindex {} but the interface has ifindex {}",
                    info.ifindex, link.ifindex
                ));
            }
            let mut fill_mac = |slot: &mut [u8; 8], real: Mac, what: &str| {
                let declared = Mac(slot[..6].try_into().unwrap());
                if declared.is_zero() {
                    slot[..6].copy_from_slice(&real.0);
                } else if declared != real {
                    problems.push(format!("{lxc}: declared {what} {declared} but the interface has {real}"));
                }
            };
            fill_mac(&mut info.node_mac, link.mac, "node-mac");
            match netlink::peer_mac(link).context(|| format!("cannot find the pod side of {lxc}"))? {
                Some(peer) => fill_mac(&mut info.mac, peer, "mac (pod side)"),
                None => {
                    problems.push(format!("{lxc} is not a veth with a reachable peer: the pod-side MAC is unknown"))
                }
            }
        }
        filled.push((*key, info));
    }
    if !problems.is_empty() {
        return Err(Error::msg(problems.join("\n")));
    }
    Ok((filled, overlay_ifindex))
}

/// Loads every object of the plan through the verifier, with the node's
/// constants and the node's pinned maps.
fn load_objects(plan: &NodePlan, target: &Target, constants: &NodeConstants) -> Result<BTreeMap<String, Ebpf>> {
    let globals = constants.load_constants().globals(constants.overlay_ifindex);
    let pins: Vec<(&str, PathBuf)> = plan.maps.iter().map(|m| (m.name, target.map_pin(m.name))).collect();
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
                prog.load().map_err(|e| verifier_error(object, program, e))?;
            }
        }
        loaded.insert(object.clone(), ebpf);
    }
    Ok(loaded)
}

fn verifier_error(object: &str, program: &str, error: ProgramError) -> Error {
    match error {
        ProgramError::LoadError { io_error, verifier_log } => Error::msg(format!(
            "the kernel rejected {program} from {object} ({io_error}); verifier log:\n{verifier_log}"
        )),
        other => Error::msg(format!("cannot load {program} from {object}: {}", chain(&other))),
    }
}

fn open_map(target: &Target, spec: &MapSpec) -> Result<Map> {
    let path = target.map_pin(spec.name);
    let data =
        MapData::from_pin(&path).map_err(|e| Error::msg(format!("cannot open {}: {}", path.display(), chain(&e))))?;
    Map::from_map_data(data).map_err(|e| Error::msg(format!("cannot open {}: {}", path.display(), chain(&e))))
}

fn map_error(spec: &MapSpec, what: &str) -> impl Fn(aya::maps::MapError) -> Error {
    let name = spec.name;
    let what = what.to_string();
    move |e| Error::msg(format!("{name} {what}: {}", chain(&e)))
}

/// Writes `wanted` into cilium_lxc: only differing entries, stale ones deleted.
pub fn sync_lxc(target: &Target, wanted: &[(EndpointKey, EndpointInfo)]) -> Result<MapChanges> {
    sync_lxc_journaled(target, wanted, &mut Vec::new())
}

fn lxc_map(target: &Target) -> Result<BpfHashMap<MapData, [u8; 20], [u8; 48]>> {
    let spec = &layout::CILIUM_LXC;
    BpfHashMap::try_from(open_map(target, spec)?).map_err(map_error(spec, "has the wrong shape"))
}

fn ipcache_map(target: &Target) -> Result<LpmTrie<MapData, [u8; 20], [u8; 12]>> {
    let spec = &layout::CILIUM_IPCACHE;
    LpmTrie::try_from(open_map(target, spec)?).map_err(map_error(spec, "has the wrong shape"))
}

/// [`sync_lxc`], recording in `journal` each key it writes or deletes with
/// its previous value, before the change.
fn sync_lxc_journaled(
    target: &Target,
    wanted: &[(EndpointKey, EndpointInfo)],
    journal: &mut Vec<([u8; 20], Option<[u8; 48]>)>,
) -> Result<MapChanges> {
    let spec = &layout::CILIUM_LXC;
    let mut map = lxc_map(target)?;
    let mut current = HashMap::new();
    for entry in map.iter() {
        let (k, v) = entry.map_err(map_error(spec, "cannot be read"))?;
        current.insert(k, v);
    }
    let mut changes = MapChanges::default();
    let mut keep = std::collections::HashSet::new();
    for (key, info) in wanted {
        let (k, v) = (key.to_bytes(), info.to_bytes());
        keep.insert(k);
        match current.get(&k) {
            Some(old) if *old == v => changes.unchanged += 1,
            found => {
                journal.push((k, found.copied()));
                map.insert(k, v, 0).map_err(map_error(spec, &format!("update of {} failed", key.ip4())))?;
                if found.is_some() {
                    changes.updated += 1
                } else {
                    changes.added += 1
                }
            }
        }
    }
    for (k, v) in current.iter().filter(|(k, _)| !keep.contains(*k)) {
        journal.push((*k, Some(*v)));
        map.remove(k).map_err(map_error(spec, "delete failed"))?;
        changes.deleted += 1;
    }
    Ok(changes)
}

/// Writes `wanted` into cilium_ipcache: only differing entries, stale ones deleted.
pub fn sync_ipcache(target: &Target, wanted: &[([u8; 24], [u8; 12])]) -> Result<MapChanges> {
    sync_ipcache_journaled(target, wanted, &mut Vec::new())
}

/// [`sync_ipcache`], journaled as [`sync_lxc_journaled`].
fn sync_ipcache_journaled(
    target: &Target,
    wanted: &[([u8; 24], [u8; 12])],
    journal: &mut Vec<([u8; 24], Option<[u8; 12]>)>,
) -> Result<MapChanges> {
    let spec = &layout::CILIUM_IPCACHE;
    let mut map = ipcache_map(target)?;
    let mut current = HashMap::new();
    for entry in map.iter() {
        let (k, v) = entry.map_err(map_error(spec, "cannot be read"))?;
        current.insert(raw_ipcache_key(&k), v);
    }
    let mut changes = MapChanges::default();
    let mut keep = std::collections::HashSet::new();
    for (k, v) in wanted {
        keep.insert(*k);
        match current.get(k) {
            Some(old) if old == v => changes.unchanged += 1,
            found => {
                journal.push((*k, found.copied()));
                map.insert(&lpm_key(k), v, 0).map_err(map_error(spec, "update failed"))?;
                if found.is_some() {
                    changes.updated += 1
                } else {
                    changes.added += 1
                }
            }
        }
    }
    for (k, v) in current.iter().filter(|(k, _)| !keep.contains(*k)) {
        journal.push((*k, Some(*v)));
        map.remove(&lpm_key(k)).map_err(map_error(spec, "delete failed"))?;
        changes.deleted += 1;
    }
    Ok(changes)
}

/// Puts back the previous values a journal recorded, last change first.
fn restore_lxc(target: &Target, journal: &[([u8; 20], Option<[u8; 48]>)]) -> Result<()> {
    if journal.is_empty() {
        return Ok(());
    }
    let spec = &layout::CILIUM_LXC;
    let mut map = lxc_map(target)?;
    for (k, old) in journal.iter().rev() {
        match old {
            Some(v) => map.insert(k, v, 0).map_err(map_error(spec, "restore failed"))?,
            None => map.remove(k).map_err(map_error(spec, "restore failed"))?,
        }
    }
    Ok(())
}

fn restore_ipcache(target: &Target, journal: &[([u8; 24], Option<[u8; 12]>)]) -> Result<()> {
    if journal.is_empty() {
        return Ok(());
    }
    let spec = &layout::CILIUM_IPCACHE;
    let mut map = ipcache_map(target)?;
    for (k, old) in journal.iter().rev() {
        match old {
            Some(v) => map.insert(&lpm_key(k), v, 0).map_err(map_error(spec, "restore failed"))?,
            None => map.remove(&lpm_key(k)).map_err(map_error(spec, "restore failed"))?,
        }
    }
    Ok(())
}

fn lpm_key(raw: &[u8; 24]) -> LpmKey<[u8; 20]> {
    LpmKey::new(u32::from_le_bytes(raw[..4].try_into().unwrap()), raw[4..].try_into().unwrap())
}

fn raw_ipcache_key(key: &LpmKey<[u8; 20]>) -> [u8; 24] {
    let mut raw = [0u8; 24];
    raw[..4].copy_from_slice(&key.prefix_len().to_le_bytes());
    raw[4..].copy_from_slice(&key.data());
    raw
}

/// Program ids attached with TCX on `interface`/`direction` in the current namespace.
fn tcx_programs(interface: &str, direction: Direction) -> Result<Vec<(u32, String)>> {
    let (_, programs) = SchedClassifier::query_tcx(interface, tc_attach_type(direction)).map_err(|e| {
        Error::msg(format!("cannot list the tcx programs of {interface} {}: {}", direction.as_str(), chain(&e)))
    })?;
    Ok(programs.iter().map(|p| (p.id(), p.name_as_str().unwrap_or("?").to_string())).collect())
}

/// The program id behind a pinned link, if the pin exists.
fn pinned_link_program(pin: &Path) -> Option<u32> {
    let link = FdLink::from(PinnedLink::from_pin(pin).ok()?);
    link.info().ok().map(|info| info.program_id())
}

/// True when the link pinned at `pin` is attached where the record says.
fn link_is_live(record: &AttachRecord) -> bool {
    let Some(program) = pinned_link_program(&record.link_pin) else { return false };
    tcx_programs(&record.interface, record.direction).is_ok_and(|ids| ids.iter().any(|(id, _)| *id == program))
}

impl NodeState {
    fn load(target: &Target) -> Result<Option<Self>> {
        let path = target.state_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::msg(format!("{} is not a node state file: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::msg(format!("cannot read {}: {e}", path.display()))),
        }
    }
    fn save(&self, target: &Target) -> Result<()> {
        let path = target.state_file();
        let dir = path.parent().expect("state file has a folder");
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self).expect("state serializes"))
            .context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).context(|| format!("cannot write {}", path.display()))
    }
}

/// Pins need a bpffs; on a plain directory they fail with a puzzling EPERM.
fn check_bpffs(bpffs: &Path) -> Result<()> {
    const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
    let path = std::ffi::CString::new(bpffs.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::msg(format!("{} is not a usable path", bpffs.display())))?;
    // SAFETY: statfs fills the zeroed struct it is given.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(path.as_ptr(), &mut stat) } != 0 || stat.f_type as i64 != BPF_FS_MAGIC {
        return Err(Error::msg(format!(
            "{} is not a bpffs mount: point --bpffs at one (the usual place is /sys/fs/bpf; \
             if nothing is mounted there, `mount -t bpf bpf /sys/fs/bpf`)",
            bpffs.display()
        )));
    }
    Ok(())
}

/// How an apply that failed before touching anything ends its error. Every
/// error of [`apply`] ends with what it left: this, "rolled back: ..." or
/// "rollback failed: ...".
pub const UNCHANGED: &str = "nothing was changed: the previous datapath is unchanged";

/// `routec apply`: see the module documentation for the phases.
pub fn apply(plan: &NodePlan, target: &Target) -> Result<ApplyReport> {
    apply_observed(plan, target, &mut |_| {})
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
    let unchanged = |e: Error| Error::msg(format!("{e}\n{UNCHANGED}"));
    check_bpffs(&target.bpffs).map_err(unchanged)?;
    // Phase 1: validate. Pinned maps first (cheap, and outside any namespace).
    let mut preexisting = Vec::new();
    for spec in &plan.maps {
        if check_pinned_map(&target.map_pin(spec.name), spec).map_err(unchanged)? {
            preexisting.push(spec.name);
        }
    }
    let previous = NodeState::load(target).map_err(unchanged)?;
    let applied = netns::run_in(target.netns.as_deref(), || -> Result<ApplyReport> {
        let (lxc, overlay_ifindex) = discover(plan).context(|| format!("node {}", plan.node)).map_err(unchanged)?;
        let constants = NodeConstants { overlay_ifindex, ..plan.constants };
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
                constants,
            })
            .collect();
        let previous_records = previous.as_ref().map_or(&[][..], |s| &s.attachments[..]);
        let mut to_attach = Vec::new();
        for (index, w) in wanted.iter_mut().enumerate() {
            match previous_records.iter().find(|p| p.same_program_as(w) && is_live(p)) {
                Some(live) => w.program_id = live.program_id,
                None => to_attach.push(index),
            }
        }
        let maps_missing = preexisting.len() < plan.maps.len();
        // Only pins this apply created go when it fails: nothing else saw them.
        let remove_created = || {
            for spec in plan.maps.iter().filter(|s| !preexisting.contains(&s.name)) {
                let _ = std::fs::remove_file(target.map_pin(spec.name));
            }
            if previous.is_none() {
                remove_empty_dirs(target);
            }
        };

        std::fs::create_dir_all(target.pin_dir().join("links/ingress"))
            .and_then(|()| std::fs::create_dir_all(target.pin_dir().join("links/egress")))
            .context(|| format!("cannot create {}", target.pin_dir().display()))
            .map_err(unchanged)?;
        let mut loaded = BTreeMap::new();
        if !to_attach.is_empty() || maps_missing {
            loaded = load_objects(plan, target, &constants).map_err(|e| {
                remove_created();
                unchanged(e)
            })?;
        }

        // Phases 2 and 3 change the live datapath: every change is journaled
        // so that a failure puts the previous datapath back.
        let mut undo = Undo::default();
        let changed = (|| -> Result<ApplyReport> {
            // Phase 2: seed.
            let mut report = ApplyReport {
                cilium_lxc: sync_lxc_journaled(target, &lxc, &mut undo.lxc)?,
                cilium_ipcache: sync_ipcache_journaled(target, &plan.ipcache_seed, &mut undo.ipcache)?,
                ..ApplyReport::default()
            };

            // Phase 3: attach.
            for &index in &to_attach {
                let record = &mut wanted[index];
                let ebpf = loaded.get_mut(&record.object).expect("every object of the plan is loaded");
                let prog: &mut SchedClassifier = ebpf
                    .program_mut(&record.program)
                    .expect("checked while loading")
                    .try_into()
                    .expect("checked while loading");
                let previous = previous_records.iter().find(|p| p.same_hook_as(record) && p.mode == record.mode);
                let hook = format!("{}.{}", record.interface, record.direction.as_str());
                before_switch(&hook);
                let running = previous.map(running_program).transpose()?.flatten();
                record.program_id = attach_one(prog, record, previous)?;
                undo.hooks.push(match (previous, running) {
                    (Some(previous), Some(program)) => HookUndo::Switched { previous: previous.clone(), program },
                    _ => HookUndo::Added(record.clone()),
                });
                report.attached.push(hook);
            }
            // Hooks no longer in the plan, or attached in the other mode.
            for stale in
                previous_records.iter().filter(|p| !wanted.iter().any(|w| w.same_hook_as(p) && w.mode == p.mode))
            {
                let running = running_program(stale)?;
                if detach_one(stale)? {
                    if let Some(program) = running {
                        undo.hooks.push(HookUndo::Removed { previous: stale.clone(), program });
                    }
                }
                if !wanted.iter().any(|w| w.same_hook_as(stale)) {
                    report.detached.push(format!("{}.{}", stale.interface, stale.direction.as_str()));
                }
            }
            let state = NodeState {
                node: plan.node.clone(),
                scope: target.scope.clone(),
                bpffs: target.bpffs.clone(),
                netns: target.netns.clone(),
                attachments: wanted.clone(),
            };
            if previous.as_ref() != Some(&state) {
                state.save(target)?;
            }
            Ok(report)
        })();
        changed.map_err(|e| match undo.restore(target) {
            Ok(()) => {
                remove_created();
                Error::msg(format!("{e}\nrolled back: the previous datapath is restored (map entries and attachments)"))
            }
            Err(problems) => Error::msg(format!(
                "{e}\nrollback failed, the datapath may mix old and new parts: {problems}\n\
                 apply a good build again, or remove the node's datapath with `routec detach`"
            )),
        })
    });
    // The work reports its outcome in every error; a bare I/O error means
    // the namespace could not be entered, before anything was touched.
    applied.map_err(|e| match e {
        Error::Io(_) => unchanged(e),
        e => e,
    })
}

/// What phases 2 and 3 of an apply changed, in order, so that a failure can
/// put the previous datapath back.
#[derive(Default)]
struct Undo {
    /// Each written or deleted cilium_lxc key with its previous value (`None`: it was absent).
    lxc: Vec<([u8; 20], Option<[u8; 48]>)>,
    ipcache: Vec<([u8; 24], Option<[u8; 12]>)>,
    hooks: Vec<HookUndo>,
}

enum HookUndo {
    /// An attachment on a hook that ran nothing of ours: remove it.
    Added(AttachRecord),
    /// The hook ran `program` per `previous` before it was switched: switch back.
    Switched { previous: AttachRecord, program: SchedClassifier },
    /// A stale attachment that was removed: attach it again.
    Removed { previous: AttachRecord, program: SchedClassifier },
}

impl Undo {
    /// Undoes everything, last change first; the problems, if any.
    fn restore(self, target: &Target) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        for hook in self.hooks.into_iter().rev() {
            let (what, result) = match hook {
                HookUndo::Added(record) => (record, Err(())),
                HookUndo::Switched { previous, mut program } => {
                    let result = attach_one(&mut program, &previous, Some(&previous)).map(drop);
                    (previous, Ok(result))
                }
                HookUndo::Removed { previous, mut program } => {
                    let result = attach_one(&mut program, &previous, None).map(drop);
                    (previous, Ok(result))
                }
            };
            let result = match result {
                Ok(result) => result,
                Err(()) => detach_one(&what).map(drop),
            };
            if let Err(e) = result {
                problems.push(format!("{}.{}: {e}", what.interface, what.direction.as_str()));
            }
        }
        let mut restore_map = |spec: &MapSpec, result: Result<()>| {
            if let Err(e) = result {
                problems.push(format!("{}: {e}", spec.name));
            }
        };
        restore_map(&layout::CILIUM_LXC, restore_lxc(target, &self.lxc));
        restore_map(&layout::CILIUM_IPCACHE, restore_ipcache(target, &self.ipcache));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// The program of ours that runs on `record`'s hook now (in the current
/// namespace), held open so that it can be attached again.
fn running_program(record: &AttachRecord) -> Result<Option<SchedClassifier>> {
    let id = match record.mode {
        TcMode::TcxLink if link_is_live(record) => pinned_link_program(&record.link_pin),
        TcMode::Netlink => netlink_filter(record).map(|f| f.program_id).filter(|id| *id == record.program_id),
        TcMode::TcxLink => None,
    };
    let Some(id) = id else { return Ok(None) };
    let held = |e: ProgramError| {
        Error::msg(format!(
            "cannot hold program {id} of {} {}: {}",
            record.interface,
            record.direction.as_str(),
            chain(&e)
        ))
    };
    for info in aya::programs::loaded_programs() {
        let info = info.map_err(held)?;
        if info.id() == id {
            return SchedClassifier::from_program_info(info, record.program.clone().into()).map(Some).map_err(held);
        }
    }
    Ok(None)
}

impl AttachRecord {
    fn same_hook_as(&self, other: &AttachRecord) -> bool {
        self.interface == other.interface && self.direction == other.direction
    }
    /// Same hook, same mode, same program built from the same object with
    /// the same constants: nothing to do.
    fn same_program_as(&self, other: &AttachRecord) -> bool {
        self.same_hook_as(other)
            && self.mode == other.mode
            && self.program == other.program
            && self.object_sha256 == other.object_sha256
            && self.constants == other.constants
            && self.link_pin == other.link_pin
    }
}

/// Priority and handle of routec's cls_bpf filter on a hook.
const NETLINK_PRIORITY: u16 = 1;
const NETLINK_HANDLE: TcHandle = TcHandle::new(0, 1);

fn netlink_filter(record: &AttachRecord) -> Option<netlink::TcFilter> {
    let ifindex = netlink::link_by_name(&record.interface).ok()??.ifindex;
    netlink::tc_bpf_filters(ifindex, tc_parent(record.direction))
        .ok()?
        .into_iter()
        .find(|f| f.priority == NETLINK_PRIORITY && f.handle == u32::from(NETLINK_HANDLE))
}

/// True when the record's program is attached where the record says
/// (in the current namespace).
fn is_live(record: &AttachRecord) -> bool {
    match record.mode {
        TcMode::TcxLink => link_is_live(record),
        TcMode::Netlink => netlink_filter(record).is_some_and(|f| f.program_id == record.program_id),
    }
}

/// Attaches `prog` per `record`, switching atomically from what `previous`
/// (same hook and mode) attached when that is still live. Returns the
/// program id.
fn attach_one(prog: &mut SchedClassifier, record: &AttachRecord, previous: Option<&AttachRecord>) -> Result<u32> {
    let what = || format!("cannot attach {} to {} {}", record.program, record.interface, record.direction.as_str());
    let fail = |e: &dyn std::error::Error| Error::msg(format!("{}: {}", what(), chain(e)));
    let program_id = prog.info().map_err(|e| fail(&e))?.id();
    match record.mode {
        TcMode::TcxLink => {
            let live = previous.is_some_and(link_is_live);
            let link_id = if live {
                let pinned = PinnedLink::from_pin(&record.link_pin).map_err(|e| fail(&e))?;
                let link = SchedClassifierLink::try_from(FdLink::from(pinned)).map_err(|e| fail(&e))?;
                prog.attach_to_link(link).map_err(|e| fail(&e))?
            } else {
                // A pin whose link no longer works (its interface was re-created) is replaced.
                let _ = std::fs::remove_file(&record.link_pin);
                prog.attach_with_options(
                    &record.interface,
                    tc_attach_type(record.direction),
                    TcAttachOptions::TcxOrder(LinkOrder::default()),
                )
                .map_err(|e| fail(&e))?
            };
            let link = prog.take_link(link_id).map_err(|e| fail(&e))?;
            if !live {
                let fd_link: FdLink = link.try_into().map_err(|e: aya::programs::links::LinkError| fail(&e))?;
                fd_link
                    .pin(&record.link_pin)
                    .map_err(|e| Error::msg(format!("{}: cannot pin the link: {}", what(), chain(&e))))?;
            }
        }
        TcMode::Netlink => {
            if let Err(e) = aya::programs::tc::qdisc_add_clsact(&record.interface) {
                let exists =
                    matches!(&e, aya::programs::tc::TcError::NetlinkError(n) if n.raw_os_error() == Some(libc::EEXIST));
                if !exists {
                    return Err(fail(&e));
                }
            }
            let options = NlOptions { priority: NETLINK_PRIORITY, handle: NETLINK_HANDLE, classid: None };
            let link_id = if previous.is_some() && netlink_filter(record).is_some() {
                // Replacing the filter in place swaps the program atomically.
                let existing = SchedClassifierLink::attached(
                    &record.interface,
                    tc_attach_type(record.direction),
                    NETLINK_PRIORITY,
                    NETLINK_HANDLE,
                    None,
                )
                .map_err(|e| fail(&e))?;
                prog.attach_to_link(existing).map_err(|e| fail(&e))?
            } else {
                prog.attach_with_options(
                    &record.interface,
                    tc_attach_type(record.direction),
                    TcAttachOptions::Netlink(options),
                )
                .map_err(|e| fail(&e))?
            };
            // A netlink link detaches when dropped: this one must outlive the process.
            std::mem::forget(prog.take_link(link_id).map_err(|e| fail(&e))?);
        }
    }
    Ok(program_id)
}

/// Removes one attachment (in the current namespace); `Ok(false)` when it
/// was already gone.
fn detach_one(record: &AttachRecord) -> Result<bool> {
    match record.mode {
        TcMode::TcxLink => {
            let program = pinned_link_program(&record.link_pin);
            if std::fs::remove_file(&record.link_pin).is_err() {
                return Ok(false);
            }
            // The kernel frees an unpinned link asynchronously: wait until
            // its program is off the hook, so the caller sees it gone.
            let Some(id) = program else { return Ok(true) };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while tcx_programs(&record.interface, record.direction).is_ok_and(|ids| ids.iter().any(|(p, _)| *p == id)) {
                if std::time::Instant::now() > deadline {
                    return Err(Error::msg(format!(
                        "{} {} still runs program {id} after its link was unpinned",
                        record.interface,
                        record.direction.as_str()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(true)
        }
        TcMode::Netlink => {
            if netlink_filter(record).is_none_or(|f| f.program_id != record.program_id) {
                return Ok(false);
            }
            let link = SchedClassifierLink::attached(
                &record.interface,
                tc_attach_type(record.direction),
                NETLINK_PRIORITY,
                NETLINK_HANDLE,
                None,
            )?;
            // Dropping an attached netlink link deletes the filter.
            drop(link);
            Ok(true)
        }
    }
}

fn remove_empty_dirs(target: &Target) {
    for direction in [Direction::Ingress, Direction::Egress] {
        let _ = std::fs::remove_dir(target.pin_dir().join("links").join(direction.as_str()));
    }
    let _ = std::fs::remove_dir(target.pin_dir().join("links"));
    let _ = std::fs::remove_dir(target.pin_dir());
    let _ = std::fs::remove_dir(target.bpffs.join("routec").join(&target.scope));
}

/// `routec detach`: removes every link, pin and record apply made for the node.
pub fn detach(target: &Target) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let state = NodeState::load(target)?;
    let netns = target.netns.clone().or_else(|| state.as_ref().and_then(|s| s.netns.clone()));
    netns::run_in(netns.as_deref(), || -> Result<()> {
        for record in state.iter().flat_map(|s| &s.attachments) {
            let hook = format!("{}.{}", record.interface, record.direction.as_str());
            if detach_one(record).context(|| format!("cannot detach {hook}"))? {
                let kind = match record.mode {
                    TcMode::TcxLink => "link",
                    TcMode::Netlink => "filter",
                };
                removed.push(format!("{kind} {hook}"));
            }
        }
        Ok(())
    })?;
    for direction in [Direction::Ingress, Direction::Egress] {
        let links = target.pin_dir().join("links").join(direction.as_str());
        for entry in std::fs::read_dir(&links).into_iter().flatten().flatten() {
            if std::fs::remove_file(entry.path()).is_ok() {
                removed.push(format!("link {}.{}", entry.file_name().to_string_lossy(), direction.as_str()));
            }
        }
    }
    for spec in &layout::ALL_MAPS {
        if std::fs::remove_file(target.map_pin(spec.name)).is_ok() {
            removed.push(format!("map {}", spec.name));
        }
    }
    remove_empty_dirs(target);
    let _ = std::fs::remove_file(target.state_file());
    let _ = std::fs::remove_dir(target.state_dir.join(&target.scope));
    if target.pin_dir().exists() {
        return Err(Error::msg(format!("{} still holds pins routec did not make", target.pin_dir().display())));
    }
    Ok(removed)
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramStatus {
    pub interface: String,
    pub ifindex: u32,
    pub direction: Direction,
    /// `tcx-link`, `netlink`, or `foreign` for a program routec did not attach.
    pub mode: String,
    pub program: String,
    pub id: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapStatus {
    pub name: String,
    pub pin: PathBuf,
    pub entries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CounterStatus {
    pub reason: &'static str,
    pub code: u32,
    pub drop: bool,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub scope: String,
    pub programs: Vec<ProgramStatus>,
    pub maps: Vec<MapStatus>,
    pub counters: Vec<CounterStatus>,
}

impl NodeStatus {
    pub fn counter(&self, reason: Reason) -> u64 {
        self.counters.iter().find(|c| c.code == reason.code()).map_or(0, |c| c.packets)
    }
}

/// The status for people. Programs read like `bpftool net show`'s tc lines
/// (`lxc4a891387ff1a(9) clsact/ingress cil_from_container id 1285`); how a
/// program is attached follows only where it is not the classic cls_bpf
/// filter: `(tcx)` for a TCX link, `(not routec's)` for a program routec did
/// not attach.
impl std::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "node {} (scope {})", self.node, self.scope)?;
        writeln!(f, "tc:")?;
        for p in &self.programs {
            let mode = match p.mode.as_str() {
                m if m == TcMode::TcxLink.as_str() => " (tcx)",
                m if m == TcMode::Netlink.as_str() => "",
                _ => " (not routec's)",
            };
            writeln!(
                f,
                "{}({}) clsact/{} {} id {}{mode}",
                p.interface,
                p.ifindex,
                p.direction.as_str(),
                p.program,
                p.id
            )?;
        }
        writeln!(f, "maps:")?;
        for m in &self.maps {
            writeln!(f, "{} {} entries ({})", m.name, m.entries, m.pin.display())?;
        }
        writeln!(f, "counters:")?;
        for c in self.counters.iter().filter(|c| c.packets > 0) {
            let verdict = if c.drop { "drop" } else { "forward" };
            writeln!(f, "{verdict:<8} {:<20} {:>10} packets {:>12} bytes", c.reason, c.packets, c.bytes)?;
        }
        Ok(())
    }
}

/// Sums the per-CPU counters of every reason.
pub fn counters(target: &Target) -> Result<Vec<CounterStatus>> {
    let spec = &layout::ROUTEC_COUNTERS;
    let map: PerCpuArray<MapData, [u64; 2]> =
        PerCpuArray::try_from(open_map(target, spec)?).map_err(map_error(spec, "has the wrong shape"))?;
    Reason::ALL
        .iter()
        .map(|reason| {
            let values = map.get(&reason.code(), 0).map_err(map_error(spec, "cannot be read"))?;
            let (packets, bytes) = values.iter().fold((0, 0), |(p, b), v| (p + v[0], b + v[1]));
            Ok(CounterStatus { reason: reason.name(), code: reason.code(), drop: reason.is_drop(), packets, bytes })
        })
        .collect()
}

/// `routec status`: attached programs per interface, maps with entry counts, counters.
pub fn status(target: &Target) -> Result<NodeStatus> {
    let state = NodeState::load(target)?
        .ok_or_else(|| Error::msg(format!("node {} has no datapath applied (scope {})", target.node, target.scope)))?;
    let netns = target.netns.clone().or(state.netns.clone());
    let programs = netns::run_in(netns.as_deref(), || -> Result<Vec<ProgramStatus>> {
        let mut out = Vec::new();
        for record in &state.attachments {
            let ifindex = netlink::link_by_name(&record.interface)?.map_or(0, |l| l.ifindex);
            let ours = match record.mode {
                TcMode::TcxLink => pinned_link_program(&record.link_pin),
                TcMode::Netlink => Some(record.program_id),
            };
            // Every program on the hook, ours or not (TCX links first, they
            // run first); the kernel keeps 15 characters of a name, the
            // record has ours in full.
            let mut found = tcx_programs(&record.interface, record.direction).unwrap_or_default();
            let filters = netlink::tc_bpf_filters(ifindex, tc_parent(record.direction)).unwrap_or_default();
            found.extend(filters.into_iter().map(|f| (f.program_id, f.name)));
            for (id, name) in found {
                let (program, mode) = if Some(id) == ours {
                    (record.program.clone(), record.mode.as_str().to_string())
                } else {
                    (name, "foreign".to_string())
                };
                out.push(ProgramStatus {
                    interface: record.interface.clone(),
                    ifindex,
                    direction: record.direction,
                    mode,
                    program,
                    id,
                });
            }
        }
        out.sort_by_key(|p| (p.ifindex, p.direction, p.id));
        // Two records on one hook would list its programs twice.
        out.dedup_by(|a, b| a.ifindex == b.ifindex && a.direction == b.direction && a.id == b.id);
        Ok(out)
    })?;
    let mut maps = Vec::new();
    for spec in &layout::ALL_MAPS {
        let map = open_map(target, spec)?;
        let entries = match spec.map_type {
            // An array always has max_entries slots.
            2 | 6 => spec.max_entries as usize,
            _ => count_keys(&map, spec)?,
        };
        maps.push(MapStatus { name: spec.name.into(), pin: target.map_pin(spec.name), entries });
    }
    Ok(NodeStatus {
        node: target.node.clone(),
        scope: target.scope.clone(),
        programs,
        maps,
        counters: counters(target)?,
    })
}

fn count_keys(map: &Map, spec: &MapSpec) -> Result<usize> {
    match map {
        Map::HashMap(_) => {
            let m: BpfHashMap<&MapData, [u8; 20], [u8; 48]> =
                BpfHashMap::try_from(map).map_err(map_error(spec, "has the wrong shape"))?;
            Ok(m.keys().count())
        }
        Map::LpmTrie(_) => {
            let m: LpmTrie<&MapData, [u8; 20], [u8; 12]> =
                LpmTrie::try_from(map).map_err(map_error(spec, "has the wrong shape"))?;
            Ok(m.keys().count())
        }
        _ => Err(Error::msg(format!("{} has an unexpected map type", spec.name))),
    }
}
