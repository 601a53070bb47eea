//! The eBPF datapath: the C templates of `bpf-templates/` (embedded, so a
//! `routec` binary needs no source tree), the table of programs and where they
//! attach, invoking Debian's clang to compile them, and the per-node values
//! the loader sets as load-time constants.
//!
//! Objects are compiled once per datapath feature set, not per node: per-node
//! values are `const volatile` globals in `.rodata` (see `lib/config.h`) that
//! the loader sets by name ([`LoadConstants::globals`]); `node_config.h`
//! repeats them for review.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::model::{Cluster, Node, OverlayKind};

/// One file of `bpf-templates/`, by its path relative to that folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub path: &'static str,
    pub text: &'static str,
}

macro_rules! templates {
    ($($path:literal),* $(,)?) => {
        /// Every file the programs are built from, headers included.
        pub const TEMPLATES: &[Template] = &[
            $(Template { path: $path, text: include_str!(concat!("../../bpf-templates/", $path)) },)*
        ];
    };
}

templates![
    "bpf_lxc.c",
    "bpf_overlay.c",
    "bpf_host.c",
    "lib/arp.h",
    "lib/common.h",
    "lib/config.h",
    "lib/counters.h",
    "lib/decap.h",
    "lib/encap.h",
    "lib/endpoints.h",
    "lib/endpoints6.h",
    "lib/eth.h",
    "lib/host6.h",
    "lib/ipv4.h",
    "lib/ipv6.h",
    "lib/lxc6.h",
    "lib/maps.h",
    "lib/native.h",
    "lib/ndp.h",
    "lib/overlay.h",
    "lib/overlay6.h",
    "lib/reasons.h",
];

/// The overlay device of a node (VXLAN, external mode).
pub const OVERLAY_DEVICE: &str = "cilium_vxlan";
/// The node-side device carrying the router address; the node routes its
/// pod-cidr to it.
pub const HOST_DEVICE: &str = "cilium_host";

/// Which interface a program attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interface {
    /// Every pod's host-side veth (the pod's `lxc` name).
    Lxc,
    /// [`OVERLAY_DEVICE`].
    Overlay,
    /// [`HOST_DEVICE`].
    Host,
    /// The node's underlay interface (its `device`).
    Device,
}

impl Interface {
    /// The device name on `node`, or `None` for [`Interface::Lxc`] (one per pod).
    pub fn device(self, node: &Node) -> Option<&str> {
        match self {
            Interface::Lxc => None,
            Interface::Overlay => Some(OVERLAY_DEVICE),
            Interface::Host => Some(HOST_DEVICE),
            Interface::Device => Some(&node.device),
        }
    }
}

/// Which clusters attach a program: how pods reach pods on other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Every cluster.
    Any,
    /// Through the overlay (`overlay vxlan`).
    Overlay,
}

impl Routing {
    fn includes(self, kind: OverlayKind) -> bool {
        match self {
            Routing::Any => true,
            Routing::Overlay => kind != OverlayKind::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// A tc program of the datapath and its hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The function name, as `bpftool net show` lists it.
    pub name: &'static str,
    /// The C file in `bpf-templates/`.
    pub source: &'static str,
    /// The object file `compile` writes next to it.
    pub object: &'static str,
    /// ELF section. `classifier`, not `tc`: aya 0.14 only recognises
    /// `classifier` for tc programs (libbpf and iproute2 accept both).
    pub section: &'static str,
    pub interface: Interface,
    pub direction: Direction,
    /// The clusters that attach it.
    pub routing: Routing,
}

impl Program {
    /// Whether `cluster`'s nodes attach this program.
    pub fn attached_in(&self, cluster: &Cluster) -> bool {
        self.routing.includes(cluster.overlay.kind)
    }
}

/// The programs `cluster`'s nodes attach, in [`PROGRAMS`] order.
pub fn programs_of(cluster: &Cluster) -> impl Iterator<Item = &'static Program> + '_ {
    PROGRAMS.iter().filter(|p| p.attached_in(cluster))
}

pub const PROGRAMS: &[Program] = &[
    Program {
        name: "cil_from_container",
        source: "bpf_lxc.c",
        object: "bpf_lxc.o",
        section: "classifier",
        interface: Interface::Lxc,
        direction: Direction::Ingress,
        routing: Routing::Any,
    },
    Program {
        name: "cil_from_overlay",
        source: "bpf_overlay.c",
        object: "bpf_overlay.o",
        section: "classifier",
        interface: Interface::Overlay,
        direction: Direction::Ingress,
        routing: Routing::Overlay,
    },
    Program {
        name: "cil_from_host",
        source: "bpf_host.c",
        object: "bpf_host.o",
        section: "classifier",
        interface: Interface::Host,
        direction: Direction::Egress,
        routing: Routing::Any,
    },
    Program {
        name: "cil_from_netdev",
        source: "bpf_host.c",
        object: "bpf_host.o",
        section: "classifier",
        interface: Interface::Device,
        direction: Direction::Ingress,
        routing: Routing::Any,
    },
];

/// A cluster feature the datapath does not implement yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the datapath does not support {feature} yet ({why})")]
pub struct Unsupported {
    pub feature: &'static str,
    pub why: &'static str,
}

/// Refuses clusters whose features the templates do not implement.
pub fn check_supported(cluster: &Cluster) -> Result<(), Unsupported> {
    match cluster.overlay.kind {
        OverlayKind::Vxlan | OverlayKind::None => Ok(()),
        OverlayKind::Geneve => Err(Unsupported {
            feature: "`overlay geneve`",
            why: "no program handles Geneve tunnel metadata; `overlay vxlan` and `overlay none` are built",
        }),
    }
}

/// Writes every template under `dir` (created if missing), keeping the
/// `lib/` folder; returns the written paths in [`TEMPLATES`] order.
pub fn write_sources(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir.join("lib"))?;
    TEMPLATES
        .iter()
        .map(|template| {
            let path = dir.join(template.path);
            std::fs::write(&path, template.text)?;
            Ok(path)
        })
        .collect()
}

const INSTALL_HINT: &str =
    "install the Debian packages clang, llvm and libbpf-dev (apt-get install -y clang llvm libbpf-dev)";

#[derive(Debug, thiserror::Error)]
pub enum ClangError {
    #[error("clang not found on PATH: {INSTALL_HINT}")]
    NotFound,
    #[error("{path} cannot be run as clang ({source}): {INSTALL_HINT}")]
    NotRunnable { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("clang failed to compile {source_file}:\n{stderr}{hint}")]
    Compile { source_file: PathBuf, stderr: String, hint: &'static str },
}

/// The clang to use: `explicit` when given (it must run), else the first of
/// `clang`, `clang-<N>` (newest first) on `PATH`.
pub fn find_clang(explicit: Option<&Path>) -> Result<PathBuf, ClangError> {
    if let Some(path) = explicit {
        let not_runnable = |source| ClangError::NotRunnable { path: path.to_path_buf(), source };
        let status = Command::new(path)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(not_runnable)?;
        if !status.success() {
            return Err(not_runnable(io::Error::other(format!("`--version` exited with {status}"))));
        }
        return Ok(path.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let names = std::iter::once("clang".to_string()).chain((14..=21).rev().map(|v| format!("clang-{v}")));
    for name in names {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(&name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(ClangError::NotFound)
}

/// Compiles every program's source in `dir` (as written by
/// [`write_sources`]) to its object next to it; returns the objects in
/// [`PROGRAMS`] order, each once ([`objects`]). The objects do not depend on where `dir` is: debug
/// paths are rewritten to `.`.
pub fn compile(dir: &Path, clang: &Path) -> Result<Vec<PathBuf>, ClangError> {
    let not_runnable = |source| ClangError::NotRunnable { path: clang.to_path_buf(), source };
    let dir = std::fs::canonicalize(dir).map_err(|source| ClangError::Io { path: dir.to_path_buf(), source })?;
    let mut common_args = vec![
        "-O2".to_string(),
        "-g".to_string(),
        "-target".to_string(),
        "bpf".to_string(),
        "-Wall".to_string(),
        "-Werror".to_string(),
        "-I".to_string(),
        ".".to_string(),
        format!("-fdebug-prefix-map={}=.", dir.display()),
    ];
    // The kernel's uapi headers include <asm/types.h>, which Debian keeps in
    // the host's multiarch folder; -target bpf does not search it.
    if let Some(multiarch) = host_multiarch(clang) {
        common_args.push("-idirafter".to_string());
        common_args.push(format!("/usr/include/{multiarch}"));
    }
    // The compilations are independent: run them side by side.
    let children: Vec<_> = objects()
        .map(|program| {
            let mut command = Command::new(clang);
            command
                .current_dir(&dir)
                .args(&common_args)
                .args(["-c", program.source, "-o", program.object])
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            dies_with_this_process(&mut command);
            command.spawn().map_err(not_runnable)
        })
        .collect();
    let mut objects = Vec::with_capacity(children.len());
    for (program, child) in self::objects().zip(children) {
        let output = child?.wait_with_output().map_err(not_runnable)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            let hint = if stderr.contains("bpf/bpf_helpers.h' file not found")
                || stderr.contains("asm/types.h' file not found")
            {
                "\nhint: install the Debian packages libbpf-dev and linux-libc-dev"
            } else {
                ""
            };
            return Err(ClangError::Compile { source_file: dir.join(program.source), stderr, hint });
        }
        objects.push(dir.join(program.object));
    }
    Ok(objects)
}

/// A clang left running by a killed build would go on writing into a
/// folder that `lab down` or the next build removes: the child gets SIGKILL
/// when the thread that spawned it (and waits for it) dies.
fn dies_with_this_process(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs between fork and exec and makes only raw
    // system calls (prctl, getppid), which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The parent died before the signal was armed: nobody waits for us.
            if rustix::process::getppid() != Some(parent) {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            Ok(())
        });
    }
}

/// The first program of each object file, in [`PROGRAMS`] order: one
/// compilation each (a C file may hold several programs).
pub fn objects() -> impl Iterator<Item = &'static Program> {
    PROGRAMS.iter().enumerate().filter(|(i, p)| PROGRAMS[..*i].iter().all(|q| q.object != p.object)).map(|(_, p)| p)
}

/// The host's multiarch tuple (`x86_64-linux-gnu`), when clang knows one.
fn host_multiarch(clang: &Path) -> Option<String> {
    let output = Command::new(clang).arg("-print-multiarch").stderr(Stdio::null()).output().ok()?;
    let tuple = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !tuple.is_empty()).then_some(tuple)
}

/// The per-node load-time constants of `lib/config.h`, except the overlay
/// device's ifindex, which the loader discovers in the node's namespace. The
/// one definition: the loader sets and records them, `node_config.h` prints
/// them, and the tracer's node view carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadConstants {
    /// The node's underlay address.
    pub node_ipv4: Ipv4Addr,
    /// The pods' gateway address.
    pub router_ipv4: Ipv4Addr,
    /// The pods' IPv6 gateway, only on a node with an IPv6 pod-cidr: the
    /// objects of any other node keep the all-zero default, which answers
    /// no neighbour solicitation (and an IPv4-only node's constants read
    /// as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_ipv6: Option<Ipv6Addr>,
    pub overlay_port: u16,
    pub vni: u32,
    pub pod_mtu: u32,
    /// `overlay none`: pods on other nodes are reached through the node's
    /// device, not the overlay (absent in the records of older routecs,
    /// which built only the overlay).
    #[serde(default)]
    pub native_routing: bool,
}

/// The interface indexes among the load-time constants: facts of the node's
/// namespace, not of the build, so the loader discovers them (0 for a device
/// the node's programs do not use). Field names are the records' keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ifindexes {
    /// OVERLAY_IFINDEX: [`OVERLAY_DEVICE`]'s.
    #[serde(default, rename = "overlay_ifindex")]
    pub overlay: u32,
    /// DEVICE_IFINDEX: the node's `device`'s.
    #[serde(default, rename = "device_ifindex")]
    pub device: u32,
}

impl LoadConstants {
    pub fn for_node(cluster: &Cluster, node: usize) -> Self {
        let n = &cluster.nodes[node];
        LoadConstants {
            node_ipv4: n.address,
            // A node without an IPv4 pod-cidr has no IPv4 router: 0.0.0.0 answers no ARP.
            router_ipv4: n.router.unwrap_or(Ipv4Addr::UNSPECIFIED),
            router_ipv6: n.router6,
            overlay_port: cluster.overlay.port,
            vni: cluster.overlay.vni,
            pod_mtu: cluster.pod_mtu(),
            native_routing: cluster.overlay.kind == OverlayKind::None,
        }
    }

    /// Every `.rodata` global of `lib/config.h` with its bytes as the BPF
    /// object stores it (addresses in network order, integers in the
    /// target's byte order, which `-target bpf` takes from the host), ready
    /// for aya's `EbpfLoader::set_global(name, bytes.as_slice(), true)`.
    pub fn globals(&self, ifindexes: Ifindexes) -> Vec<(&'static str, Vec<u8>)> {
        let mut globals = vec![
            ("NODE_IPV4", self.node_ipv4.octets().to_vec()),
            ("ROUTER_IPV4", self.router_ipv4.octets().to_vec()),
            ("OVERLAY_IFINDEX", ifindexes.overlay.to_ne_bytes().to_vec()),
            ("OVERLAY_PORT", self.overlay_port.to_ne_bytes().to_vec()),
            ("VNI", self.vni.to_ne_bytes().to_vec()),
            ("POD_MTU", self.pod_mtu.to_ne_bytes().to_vec()),
            ("DEVICE_IFINDEX", ifindexes.device.to_ne_bytes().to_vec()),
            ("NATIVE_ROUTING", u32::from(self.native_routing).to_ne_bytes().to_vec()),
        ];
        globals.extend(self.router_ipv6.map(|router| ("ROUTER_IPV6", router.octets().to_vec())));
        globals
    }
}

/// The human-readable `node_config.h` of `node`: the values the loader sets,
/// as `ROUTEC_<GLOBAL>` defines (`-include node_config.h` builds them into an
/// object instead). Names are safe in C: the language restricts them.
pub fn node_config_header(cluster: &Cluster, node: usize) -> String {
    let n = &cluster.nodes[node];
    let values = LoadConstants::for_node(cluster, node);
    let ipv4 = |ip: Ipv4Addr| {
        let ip = ip.octets();
        format!("IPV4({}, {}, {}, {})", ip[0], ip[1], ip[2], ip[3])
    };
    let lines = [
        format!("/* node_config.h of node {} in cluster {}, generated by routec.", n.name, cluster.name),
        " *".to_string(),
        " * The load-time constants of lib/config.h for this node: the loader sets".to_string(),
        " * the globals of the same names without the ROUTEC_ prefix. For review;".to_string(),
        " * `clang -include node_config.h` bakes them into an object instead.".to_string(),
        format!(" * OVERLAY_IFINDEX ({OVERLAY_DEVICE}'s ifindex) and DEVICE_IFINDEX ({}'s) are", n.device),
        " * discovered by the loader.".to_string(),
        " */".to_string(),
        "#ifndef ROUTEC_NODE_CONFIG_H".to_string(),
        "#define ROUTEC_NODE_CONFIG_H".to_string(),
        String::new(),
        format!(
            "/* pod-cidr {}, underlay device {}, overlay {} */",
            n.pod_cidrs().join(" and "),
            n.device,
            cluster.overlay.kind.as_str()
        ),
        format!("#define ROUTEC_NODE_IPV4 {}", ipv4(values.node_ipv4)),
        format!("#define ROUTEC_ROUTER_IPV4 {}", ipv4(values.router_ipv4)),
    ];
    let router_ipv6 = values.router_ipv6.map(|router| {
        let words: Vec<String> = router
            .octets()
            .chunks(4)
            .map(|w| format!("bpf_htonl(0x{:02x}{:02x}{:02x}{:02x})", w[0], w[1], w[2], w[3]))
            .collect();
        format!("#define ROUTEC_ROUTER_IPV6 {{ {} }}", words.join(", "))
    });
    let tail = [
        format!("#define ROUTEC_OVERLAY_PORT {}", values.overlay_port),
        format!("#define ROUTEC_VNI {}", values.vni),
        format!("#define ROUTEC_POD_MTU {}", values.pod_mtu),
        format!("#define ROUTEC_NATIVE_ROUTING {}", u32::from(values.native_routing)),
        String::new(),
        "#endif".to_string(),
    ];
    let mut out = String::new();
    for line in lines.into_iter().chain(router_ipv6).chain(tail) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
