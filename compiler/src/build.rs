//! `routec build`: a validated cluster to its output folder
//! (see docs/build-output.md for the contract).
//!
//! Everything is written into a temporary sibling folder which replaces OUT
//! only once complete, so an error leaves no partial output and a previous OUT
//! stays whole. The same input gives byte-identical files: no timestamps, no
//! absolute paths, every list sorted.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod beneath;
mod binary_seed;
mod node_file;

pub use binary_seed::{parse_binary_seed, render_binary_seed, IPCACHE_SEED_BIN, NODE_IPV6_SEED_BIN};
pub use node_file::{NodeEndpoint, NodeFile, NODE_FILE};

use crate::bpf;
use crate::frontend::Analysis;
use crate::layout::{MapSpec, CILIUM_IPCACHE, CILIUM_LXC, ROUTEC_COUNTERS, ROUTEC_NODE_IPV6};
use crate::model::Cluster;
use crate::seeds::{ipcache_entries, lxc_entries, node_ipv6_entries, pod_range, render_seed};
use crate::settings::{MapSizes, FILE_NAME as SETTINGS_FILE};

/// Version of the output layout; bumped when a file's meaning changes.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
/// The most of manifest.json that is read back. Its size is recorded nowhere
/// else; this is far above the manifest of the largest cluster `routec gen`
/// makes (about 150 bytes per file, three files per node).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
/// The most of any other file of OUT that is read back, whatever size the
/// manifest records (a manifest edited to promise a 20 GB sparse seed must
/// not make a reader allocate it). The largest file, `cluster.json`, is about
/// 280 bytes per pod: this allows some 1.9 million pods.
pub const MAX_FILE_BYTES: u64 = 512 << 20;
pub const IPCACHE_SEED: &str = "cluster/cilium_ipcache.seed";
/// Written only when it has entries (a native cluster with IPv6 node
/// addresses): a build without it means an empty `routec_node_ipv6`.
pub const NODE_IPV6_SEED: &str = "cluster/routec_node_ipv6.seed";
/// The validated cluster the build was made from: what a node's loader and
/// the tracer need beyond the seeds (pod names, lxc names, node addresses).
pub const CLUSTER_JSON: &str = "cluster/cluster.json";
pub const LXC_SEED: &str = "cilium_lxc.seed";
pub const NODE_CONFIG: &str = "node_config.h";
pub const ATTACH_PLAN: &str = "attach.json";

/// Whether and with which clang to compile the eBPF objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClangChoice {
    /// Write the C sources only (`--no-clang`).
    Skip,
    /// Compile with this clang, or the one found on PATH when `None`.
    Use(Option<PathBuf>),
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub clang: ClangChoice,
    /// From [`input_digest`] or [`analysis_digest`]: identifies the input in
    /// the manifest.
    pub input_digest: String,
    /// `max_entries` of the cluster-sized maps (routec.toml `[maps]`): the
    /// build refuses a cluster that does not fit, and the manifest records them.
    pub maps: MapSizes,
}

impl BuildOptions {
    pub fn new(clang: ClangChoice, input_digest: String) -> Self {
        BuildOptions { clang, input_digest, maps: MapSizes::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReport {
    pub out: PathBuf,
    pub nodes: usize,
    pub pods: usize,
    /// Entries of every node's cilium_lxc seed together.
    pub lxc_entries: usize,
    pub ipcache_entries: usize,
    /// Files in OUT, the manifest included.
    pub files: usize,
    pub objects_compiled: bool,
    pub input_digest: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Unsupported(#[from] bpf::Unsupported),
    /// No runnable clang: the message says what to install.
    #[error("{0}\n  (or build the C sources without objects: --no-clang)")]
    ClangMissing(bpf::ClangError),
    #[error("compiling the eBPF programs failed: {0}")]
    Compile(bpf::ClangError),
    #[error(
        "{map} needs {needed} entries{where_} but holds at most {max_entries}: raise `maps.{setting}` in routec.toml"
    )]
    MapTooSmall { map: &'static str, setting: &'static str, needed: usize, max_entries: u32, where_: String },
    /// More IPv6 node addresses than the fixed-size map of next hops holds.
    #[error("{map} holds the IPv6 addresses of at most {max_entries} nodes, and this native cluster has {needed}")]
    TooManyNodes { map: &'static str, needed: usize, max_entries: u32 },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// OUT is something other than a previous routec build output: never replaced.
    #[error("refusing to replace {}: {why}", path.display())]
    NotAnOutput { path: PathBuf, why: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_path_buf(), source }
}

/// The digest of the input files, in the given order (the front end's order:
/// sorted by path): sha256 over, per file, its path (relative to the input
/// root, `/`-separated), a NUL, its length as a little-endian u64 and its
/// bytes. Framed so that moving bytes between files or names changes it.
pub fn input_digest<P: AsRef<str>, C: AsRef<[u8]>>(files: impl IntoIterator<Item = (P, C)>) -> String {
    let mut hasher = Sha256::new();
    for (path, contents) in files {
        let contents = contents.as_ref();
        hasher.update(path.as_ref().as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(contents);
    }
    format!("sha256:{}", hex_digest(hasher.finalize().as_slice()))
}

/// [`input_digest`] of what the front end read from `input` (a `.route` file
/// or a folder): every source under its path relative to `input`, then the
/// folder's routec.toml when it has one, so the digest does not depend on
/// where the input is checked out.
pub fn analysis_digest(input: &Path, analysis: &Analysis) -> Result<String, BuildError> {
    let relative = |name: &str| -> String {
        let path = Path::new(name);
        let rel = path.strip_prefix(input).ok().filter(|r| !r.as_os_str().is_empty());
        let rel = rel.or_else(|| path.file_name().map(Path::new)).unwrap_or(path);
        let parts: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
        parts.join("/")
    };
    let mut files: Vec<(String, Vec<u8>)> =
        analysis.sources.iter().map(|(_, f)| (relative(&f.name), f.text.as_bytes().to_vec())).collect();
    let settings = input.join(SETTINGS_FILE);
    if input.is_dir() && settings.is_file() {
        files.push((SETTINGS_FILE.to_string(), std::fs::read(&settings).map_err(io_error(&settings))?));
    }
    Ok(input_digest(files))
}

/// The sha256 of `bytes` in lowercase hex, as the manifest lists files.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_digest(Sha256::digest(bytes).as_slice())
}

fn hex_digest(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// One file of the output, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative to OUT, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Serialize)]
struct Manifest<'a> {
    format_version: u32,
    routec_version: &'static str,
    cluster: &'a str,
    input_digest: &'a str,
    objects_compiled: bool,
    nodes: Vec<&'a str>,
    maps: Vec<MapRecord>,
    files: &'a [FileRecord],
}

/// A map's kernel definition as the loader must create or check it.
#[derive(Serialize)]
struct MapRecord {
    name: &'static str,
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
}

impl MapRecord {
    fn new(spec: MapSpec, max_entries: u32) -> Self {
        MapRecord {
            name: spec.name,
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries,
            flags: spec.flags,
        }
    }
}

/// One line of a node's attach plan (`attach.json`), as build writes it and
/// the loader reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Attachment {
    pub interface: String,
    /// The tc hook: `ingress` or `egress`.
    pub direction: bpf::Direction,
    pub program: String,
    /// Object file, relative to OUT (`bpf/bpf_lxc.o`).
    pub object: String,
}

/// The attach plan of one node, sorted: `cil_from_container` on every pod's
/// lxc (ingress), `cil_from_host` on `cilium_host` (egress), and
/// `cil_from_overlay` on `cilium_vxlan` (ingress) with an overlay or
/// `cil_from_netdev` on the node's device (ingress) without.
pub fn attach_plan(cluster: &Cluster, node: usize) -> Vec<Attachment> {
    let mut plan = Vec::new();
    for program in bpf::programs_of(cluster) {
        let attach = |interface: &str| Attachment {
            interface: interface.to_string(),
            direction: program.direction,
            program: program.name.to_string(),
            object: format!("bpf/{}", program.object),
        };
        match program.interface.device(&cluster.nodes[node]) {
            Some(device) => plan.push(attach(device)),
            None => plan.extend(cluster.pods[pod_range(cluster, node)].iter().map(|pod| attach(&pod.lxc))),
        }
    }
    plan.sort();
    plan
}

/// Writes files below a root and records each one's size and digest.
struct FileWriter<'a> {
    root: &'a Path,
    records: Vec<FileRecord>,
}

impl<'a> FileWriter<'a> {
    fn new(root: &'a Path) -> Self {
        FileWriter { root, records: Vec::new() }
    }
    fn put(&mut self, rel: &str, bytes: &[u8]) -> Result<(), BuildError> {
        let path = self.root.join(rel);
        std::fs::write(&path, bytes).map_err(io_error(&path))?;
        self.records.push(FileRecord { path: rel.to_string(), size: bytes.len() as u64, sha256: sha256_hex(bytes) });
        Ok(())
    }
    /// Writes `value` as [`json_bytes`] would, streamed: the cluster of a
    /// large input is tens of megabytes of JSON, not worth holding in memory.
    fn put_json<T: Serialize>(&mut self, rel: &str, value: &T) -> Result<(), BuildError> {
        let path = self.root.join(rel);
        let file = std::fs::File::create(&path).map_err(io_error(&path))?;
        // Buffered before the digest: serde_json writes token by token.
        let mut sink =
            io::BufWriter::with_capacity(1 << 16, HashingWriter { inner: file, hasher: Sha256::new(), size: 0 });
        serde_json::to_writer_pretty(&mut sink, value)
            .map_err(io::Error::from)
            .and_then(|()| sink.write_all(b"\n"))
            .map_err(io_error(&path))?;
        let sink = sink.into_inner().map_err(|e| BuildError::Io { path: path.clone(), source: e.into_error() })?;
        self.records.push(FileRecord {
            path: rel.to_string(),
            size: sink.size,
            sha256: hex_digest(sink.hasher.finalize().as_slice()),
        });
        Ok(())
    }
    fn mkdir(&self, rel: &str) -> Result<(), BuildError> {
        let path = self.root.join(rel);
        std::fs::create_dir_all(&path).map_err(io_error(&path))
    }
    /// Records files that another tool wrote below `rel` (sources, objects).
    fn record_tree(&mut self, rel: &str) -> Result<(), BuildError> {
        let dir = self.root.join(rel);
        for entry in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(&dir).to_path_buf();
                BuildError::Io { path, source: e.into() }
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let bytes = std::fs::read(entry.path()).map_err(io_error(entry.path()))?;
            let rel_path = entry.path().strip_prefix(self.root).expect("walked below the root");
            let rel_path: Vec<_> = rel_path.components().map(|c| c.as_os_str().to_string_lossy()).collect();
            self.records.push(FileRecord {
                path: rel_path.join("/"),
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
            });
        }
        Ok(())
    }
}

/// A writer that digests and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.size += written as u64;
        Ok(written)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Renders the JSON files: pretty, two-space indent, a final newline.
fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("plain data serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes the files of the nodes `nodes` (indexes) and returns their records
/// and the number of lxc entries.
fn write_nodes(
    cluster: &Cluster,
    nodes: std::ops::Range<usize>,
    root: &Path,
) -> Result<(Vec<FileRecord>, usize), BuildError> {
    let mut writer = FileWriter::new(root);
    let mut lxc_count = 0;
    for node in nodes {
        let dir = format!("nodes/{}", cluster.nodes[node].name);
        writer.mkdir(&dir)?;
        let entries = lxc_entries(cluster, node);
        lxc_count += entries.len();
        writer.put(&format!("{dir}/{LXC_SEED}"), render_seed(&entries).as_bytes())?;
        writer.put(&format!("{dir}/{NODE_CONFIG}"), bpf::node_config_header(cluster, node).as_bytes())?;
        writer.put(&format!("{dir}/{ATTACH_PLAN}"), &json_bytes(&attach_plan(cluster, node)))?;
        writer.put(&format!("{dir}/{NODE_FILE}"), &json_bytes(&NodeFile::for_node(cluster, node)))?;
    }
    Ok((writer.records, lxc_count))
}

/// The temporary output folder, removed when the build ends: on an error it
/// holds the partial build; after an exchange, the previous build; after a
/// plain rename, nothing is left there.
pub(crate) struct TempDir {
    pub(crate) path: PathBuf,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A sibling of `out` named after it, so that renaming stays on one file system.
pub(crate) fn sibling(out: &Path, tag: &str) -> PathBuf {
    let name = out.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    out.with_file_name(format!(".{name}.routec-{tag}-{}", std::process::id()))
}

/// Builds `cluster` into `out`. On error nothing is written (a previous `out`
/// is left as it was).
pub fn build(cluster: &Cluster, options: &BuildOptions, out: &Path) -> Result<BuildReport, BuildError> {
    bpf::check_supported(cluster)?;
    let clang = match &options.clang {
        ClangChoice::Skip => None,
        ClangChoice::Use(path) => Some(bpf::find_clang(path.as_deref()).map_err(BuildError::ClangMissing)?),
    };
    check_map_sizes(cluster, options.maps)?;
    check_replaceable(out)?;
    let out = if out.file_name().is_none() {
        // `routec build -o .` or `-o dir/..`: name the folder so it has a sibling.
        std::path::absolute(out).map_err(io_error(out))?
    } else {
        out.to_path_buf()
    };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let temp = TempDir { path: sibling(&out, "tmp") };
    if temp.path.exists() {
        std::fs::remove_dir_all(&temp.path).map_err(io_error(&temp.path))?;
    }
    std::fs::create_dir(&temp.path).map_err(io_error(&temp.path))?;
    let root = temp.path.as_path();

    let mut writer = FileWriter::new(root);
    writer.mkdir("bpf")?;
    let bpf_dir = root.join("bpf");
    bpf::write_sources(&bpf_dir).map_err(io_error(&bpf_dir))?;
    if let Some(clang) = &clang {
        bpf::compile(&bpf_dir, clang).map_err(BuildError::Compile)?;
    }
    writer.record_tree("bpf")?;
    writer.mkdir("cluster")?;
    writer.mkdir("nodes")?;

    // Nodes are independent: split them over the cores; the ipcache seed (the
    // largest file) is rendered alongside.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = cluster.nodes.len().div_ceil(threads).max(1);
    let (ipcache_count, cluster_record, node_results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cluster.nodes.len())
            .step_by(chunk)
            .map(|start| {
                let end = (start + chunk).min(cluster.nodes.len());
                scope.spawn(move || write_nodes(cluster, start..end, root))
            })
            .collect();
        let cluster_json = scope.spawn(move || {
            let mut writer = FileWriter::new(root);
            writer.put_json(CLUSTER_JSON, cluster).map(|()| writer.records)
        });
        let ipcache = ipcache_entries(cluster);
        let ipcache_result = writer
            .put(IPCACHE_SEED, render_seed(&ipcache).as_bytes())
            .and_then(|()| writer.put(IPCACHE_SEED_BIN, &render_binary_seed(&ipcache)))
            .map(|()| ipcache.len());
        drop(ipcache);
        let node_ipv6 = node_ipv6_entries(cluster);
        let ipcache_result = ipcache_result.and_then(|count| {
            if !node_ipv6.is_empty() {
                writer.put(NODE_IPV6_SEED, render_seed(&node_ipv6).as_bytes())?;
                writer.put(NODE_IPV6_SEED_BIN, &render_binary_seed(&node_ipv6))?;
            }
            Ok(count)
        });
        let cluster_record = cluster_json.join().expect("cluster writer panicked");
        let nodes: Vec<_> = handles.into_iter().map(|h| h.join().expect("node writer panicked")).collect();
        (ipcache_result, cluster_record, nodes)
    });
    let ipcache_count = ipcache_count?;
    let mut records = writer.records;
    records.extend(cluster_record?);
    let mut lxc_count = 0;
    for result in node_results {
        let (node_records, count) = result?;
        records.extend(node_records);
        lxc_count += count;
    }
    records.sort_by(|a, b| a.path.cmp(&b.path));

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        routec_version: env!("CARGO_PKG_VERSION"),
        cluster: &cluster.name,
        input_digest: &options.input_digest,
        objects_compiled: clang.is_some(),
        nodes: cluster.nodes.iter().map(|n| n.name.as_str()).collect(),
        maps: vec![
            MapRecord::new(CILIUM_LXC, options.maps.lxc),
            MapRecord::new(CILIUM_IPCACHE, options.maps.ipcache),
            MapRecord::new(ROUTEC_COUNTERS, ROUTEC_COUNTERS.max_entries),
            MapRecord::new(ROUTEC_NODE_IPV6, ROUTEC_NODE_IPV6.max_entries),
        ],
        files: &records,
    };
    let manifest_path = root.join(MANIFEST);
    std::fs::write(&manifest_path, json_bytes(&manifest)).map_err(io_error(&manifest_path))?;

    let files = records.len() + 1;
    put_in_place(&temp.path, &out)?;
    drop(temp);
    Ok(BuildReport {
        out,
        nodes: cluster.nodes.len(),
        pods: cluster.pods.len(),
        lxc_entries: lxc_count,
        ipcache_entries: ipcache_count,
        files,
        objects_compiled: clang.is_some(),
        input_digest: options.input_digest.clone(),
    })
}

/// Why the cluster of a build output could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{} is not a routec build output: cannot read its manifest.json: {source}", .0.display(), source = .1)]
    NotAnOutput(PathBuf, #[source] io::Error),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// A map's size as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestMap {
    pub name: String,
    pub max_entries: u32,
}

/// manifest.json as read back: only a manifest routec wrote (same
/// [`FORMAT_VERSION`], every field present) is accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct BuildManifest {
    pub format_version: u32,
    pub routec_version: String,
    pub cluster: String,
    pub input_digest: String,
    pub objects_compiled: bool,
    pub nodes: Vec<String>,
    pub maps: Vec<ManifestMap>,
    pub files: Vec<FileRecord>,
}

/// A build output opened for reading: every file is read through
/// [`BuildFiles::read`], which refuses one that is not the file the manifest
/// lists (missing, unlisted, of another size, or changed after the build),
/// and reads it as OUT's own regular file: walked from OUT's descriptor
/// without following a symlink, never a FIFO or device, never more bytes
/// than the manifest records. Paths in the manifest (and those the caller
/// got from the build's files, such as attach.json's objects) must stay
/// inside OUT: no `..`, no leading `/`, no empty component. The loader and
/// the tracer read OUT only this way.
#[derive(Debug, Clone)]
pub struct BuildFiles {
    pub out: PathBuf,
    dir: std::sync::Arc<std::os::fd::OwnedFd>,
    pub manifest: BuildManifest,
    /// [`manifest_digest`] of the manifest bytes parsed: the build's identity.
    pub digest: String,
}

/// A build's identity: the sha256 of its manifest, which lists every file's
/// sha256, so it names the whole build (`routec agent`'s `/healthz` and
/// `routec_build_info`).
pub fn manifest_digest(manifest: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(manifest))
}

impl BuildFiles {
    pub fn open(out: &Path) -> Result<Self, ReadError> {
        let path = out.join(MANIFEST);
        let dir = beneath::open_dir(out).map_err(|e| ReadError::NotAnOutput(out.to_path_buf(), e))?;
        let bytes =
            beneath::read(dir.as_fd(), MANIFEST, None, MAX_MANIFEST_BYTES).map_err(|refusal| match refusal {
                beneath::Refusal::Io(e) => ReadError::NotAnOutput(out.to_path_buf(), e),
                other => ReadError::Invalid { path: path.clone(), message: other.to_string() },
            })?;
        let digest = manifest_digest(&bytes);
        let text = String::from_utf8(bytes)
            .map_err(|_| ReadError::Invalid { path: path.clone(), message: "is not UTF-8 text".into() })?;
        let manifest = parse_manifest(&text).map_err(|message| ReadError::Invalid { path, message })?;
        Ok(BuildFiles { out: out.to_path_buf(), dir: std::sync::Arc::new(dir), manifest, digest })
    }

    /// The bytes of `rel` (relative to OUT, `/`-separated), checked against
    /// the size and sha256 the manifest lists for it.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, ReadError> {
        let path = self.out.join(rel);
        beneath::check_relative(rel).map_err(|message| ReadError::Invalid { path: path.clone(), message })?;
        let Some(record) = self.record(rel) else {
            return Err(ReadError::Invalid { path, message: "is not listed in manifest.json".into() });
        };
        let bytes =
            beneath::read(self.dir.as_fd(), rel, Some(record.size), MAX_FILE_BYTES).map_err(
                |refusal| match refusal {
                    beneath::Refusal::Io(source) => ReadError::Io { path: path.clone(), source },
                    other => ReadError::Invalid { path: path.clone(), message: other.to_string() },
                },
            )?;
        if sha256_hex(&bytes) != record.sha256 {
            return Err(ReadError::Invalid {
                path,
                message: "changed after the build (its sha256 differs from manifest.json): rebuild".into(),
            });
        }
        Ok(bytes)
    }

    /// Every file the manifest lists is there, of its recorded size (stat
    /// only: a reader still checks the sha256 of what it reads). A build
    /// folder still being written, or with a file removed, is refused.
    pub fn check_complete(&self) -> Result<(), ReadError> {
        for record in &self.manifest.files {
            let path = || self.out.join(&record.path);
            beneath::check_relative(&record.path).map_err(|message| ReadError::Invalid { path: path(), message })?;
            beneath::check_present(self.dir.as_fd(), &record.path, record.size).map_err(|refusal| match refusal {
                beneath::Refusal::Io(source) => ReadError::Io { path: path(), source },
                other => ReadError::Invalid { path: path(), message: other.to_string() },
            })?;
        }
        Ok(())
    }

    /// The manifest's record of `rel`, if it lists it.
    pub fn record(&self, rel: &str) -> Option<&FileRecord> {
        let files = &self.manifest.files;
        files.binary_search_by(|f| f.path.as_str().cmp(rel)).ok().map(|i| &files[i])
    }

    /// [`BuildFiles::read`] for a text file.
    pub fn read_text(&self, rel: &str) -> Result<String, ReadError> {
        String::from_utf8(self.read(rel)?)
            .map_err(|_| ReadError::Invalid { path: self.out.join(rel), message: "is not UTF-8 text".into() })
    }

    /// The cluster the build was made from ([`CLUSTER_JSON`]), for the
    /// cluster and nodes the manifest names, and well formed
    /// ([`Cluster::check_well_formed`]).
    pub fn read_cluster(&self) -> Result<Cluster, ReadError> {
        let path = self.out.join(CLUSTER_JSON);
        let invalid = |message: String| ReadError::Invalid { path: path.clone(), message };
        if !self.manifest.files.iter().any(|f| f.path == CLUSTER_JSON) {
            return Err(ReadError::Invalid {
                path: self.out.join(MANIFEST),
                message: format!(
                    "lists no {CLUSTER_JSON} (a build by an older routec): rebuild {}",
                    self.out.display()
                ),
            });
        }
        let bytes = self.read(CLUSTER_JSON)?;
        let cluster: Cluster =
            serde_json::from_slice(&bytes).map_err(|e| invalid(format!("not a routec cluster: {e}")))?;
        cluster.check_well_formed().map_err(invalid)?;
        if cluster.name != self.manifest.cluster || !cluster.nodes.iter().map(|n| &n.name).eq(&self.manifest.nodes) {
            return Err(invalid("its cluster or nodes differ from those of manifest.json".into()));
        }
        Ok(cluster)
    }
}

/// A manifest routec wrote, or why it is not one.
fn parse_manifest(text: &str) -> Result<BuildManifest, String> {
    let manifest: BuildManifest = serde_json::from_str(text).map_err(|e| format!("not a routec manifest: {e}"))?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(format!(
            "format_version {} is not the one this routec reads ({FORMAT_VERSION}): rebuild",
            manifest.format_version
        ));
    }
    for file in &manifest.files {
        beneath::check_relative(&file.path).map_err(|why| format!("lists `{}`, which {why}", file.path))?;
    }
    // Build writes the records sorted by path, once each; `BuildFiles::record`
    // relies on it to find a file without scanning them all.
    if let Some(pair) = manifest.files.windows(2).find(|w| w[0].path >= w[1].path) {
        return Err(format!("lists `{}` out of order (or twice), after `{}`", pair[1].path, pair[0].path));
    }
    Ok(manifest)
}

/// The cluster `out` was built from: [`BuildFiles::read_cluster`].
pub fn read_cluster(out: &Path) -> Result<Cluster, ReadError> {
    BuildFiles::open(out)?.read_cluster()
}

/// Refuses a cluster whose seeds would not fit the maps: the loader could
/// only fail half-way.
fn check_map_sizes(cluster: &Cluster, maps: MapSizes) -> Result<(), BuildError> {
    // Entry counts without building the entries: pods + node cidr + node address,
    // and per node its pods + address + router (one entry when they are equal).
    // As many entries as `seeds::ipcache_entries` makes, without making them.
    let ipcache = cluster.pods.iter().map(|p| p.ips().count()).sum::<usize>()
        + cluster.nodes.iter().map(|n| n.pod_cidrs().len() + 1 + usize::from(n.address6.is_some())).sum::<usize>();
    if ipcache > maps.ipcache as usize {
        return Err(BuildError::MapTooSmall {
            map: CILIUM_IPCACHE.name,
            setting: "ipcache",
            needed: ipcache,
            max_entries: maps.ipcache,
            where_: String::new(),
        });
    }
    let node_ipv6 = node_ipv6_entries(cluster).len();
    if node_ipv6 > ROUTEC_NODE_IPV6.max_entries as usize {
        return Err(BuildError::TooManyNodes {
            map: ROUTEC_NODE_IPV6.name,
            needed: node_ipv6,
            max_entries: ROUTEC_NODE_IPV6.max_entries,
        });
    }
    for (index, node) in cluster.nodes.iter().enumerate() {
        let own: std::collections::BTreeSet<_> = node.own_ips().collect();
        let lxc = cluster.pods[pod_range(cluster, index)].iter().map(|p| p.ips().count()).sum::<usize>() + own.len();
        if lxc > maps.lxc as usize {
            return Err(BuildError::MapTooSmall {
                map: CILIUM_LXC.name,
                setting: "lxc",
                needed: lxc,
                max_entries: maps.lxc,
                where_: format!(" on node {}", node.name),
            });
        }
    }
    Ok(())
}

/// OUT may be missing, an empty folder, or a previous build: a folder whose
/// manifest.json is routec's and which holds nothing but the files that
/// manifest lists. Anything else could be someone's files, never replaced.
fn check_replaceable(out: &Path) -> Result<(), BuildError> {
    let refuse = |why: String| Err(BuildError::NotAnOutput { path: out.to_path_buf(), why });
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BuildError::Io { path: out.to_path_buf(), source: e }),
        Ok(meta) => meta,
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symlink, not a build output folder (give the folder itself)".into());
    }
    if !meta.is_dir() {
        return refuse("it is a file, not a build output folder".into());
    }
    if std::fs::read_dir(out).map_err(io_error(out))?.next().is_none() {
        return Ok(());
    }
    let dir = beneath::open_dir(out).map_err(io_error(out))?;
    let text = match beneath::read(dir.as_fd(), MANIFEST, None, MAX_MANIFEST_BYTES) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(beneath::Refusal::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            return refuse("it is not empty and has no manifest.json, so it is not a routec build output".into())
        }
        Err(e) => {
            return refuse(format!("cannot read its manifest.json ({e}), so it may not be a routec build output"))
        }
    };
    let manifest = match parse_manifest(&text) {
        Ok(manifest) => manifest,
        Err(why) => return refuse(format!("its manifest.json is not routec's ({why})")),
    };
    let listed: std::collections::HashSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    // The folders the listed files need: every proper prefix of their paths.
    let folders: std::collections::HashSet<&str> =
        manifest.files.iter().flat_map(|f| f.path.match_indices('/').map(|(at, _)| &f.path[..at])).collect();
    for entry in walkdir::WalkDir::new(out).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(out).to_path_buf();
            BuildError::Io { path, source: e.into() }
        })?;
        let rel = entry.path().strip_prefix(out).expect("walked below OUT");
        let rel: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
        let rel = rel.join("/");
        let kind = entry.file_type();
        let expected = if kind.is_file() {
            rel == MANIFEST || listed.contains(rel.as_str())
        } else {
            kind.is_dir() && folders.contains(rel.as_str())
        };
        if !expected {
            return refuse(format!(
                "{} is not part of the routec build its manifest.json lists (move it away or build elsewhere)",
                entry.path().display()
            ));
        }
    }
    Ok(())
}

/// Moves the finished `temp` to `out`. A previous `out` is swapped with it in
/// one step (renameat2 RENAME_EXCHANGE) so readers see the old or the new
/// build, never none; it is then at `temp`.
pub(crate) fn put_in_place(temp: &Path, out: &Path) -> Result<(), BuildError> {
    if !out.exists() {
        return std::fs::rename(temp, out).map_err(io_error(out));
    }
    let exchanged =
        rustix::fs::renameat_with(rustix::fs::CWD, temp, rustix::fs::CWD, out, rustix::fs::RenameFlags::EXCHANGE);
    if exchanged.is_ok() {
        return Ok(());
    }
    // File systems without RENAME_EXCHANGE: move the old build aside first.
    let old = sibling(out, "old");
    std::fs::rename(out, &old).map_err(io_error(out))?;
    if let Err(e) = std::fs::rename(temp, out) {
        let _ = std::fs::rename(&old, out);
        return Err(BuildError::Io { path: out.to_path_buf(), source: e });
    }
    // The new build is in place; a leftover old copy is only untidy.
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
