//! Shared helpers for the runtime's root-only tests.
#![allow(dead_code)]

use std::path::PathBuf;

use routec_runtime::lab::{self, LabOptions};

/// True when the test may touch namespaces; prints why it skips otherwise
/// (and fails under CI=true, where skipping is not allowed).
pub fn can_run(test: &str) -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CI=true does not allow skipping)");
    }
    eprintln!("skipping {test}: needs root to create network namespaces");
    false
}

/// Lab options under a private state folder, so tests never meet real labs.
pub fn options() -> LabOptions {
    LabOptions { state_dir: PathBuf::from("/run/routec/test-labs"), ..LabOptions::default() }
}

/// Always takes the lab down, also when the test panics.
pub struct LabGuard {
    pub name: String,
    pub options: LabOptions,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let state_dir = &self.options.state_dir;
        let made_anything =
            lab::LabState::state_file(state_dir, &self.name).exists() || state_dir.join(&self.name).exists();
        if made_anything {
            if let Err(e) = lab::down(state_dir, &self.name) {
                eprintln!("lab down {}: {e}", self.name);
                // A lab left behind is a failure of the test that made it.
                assert!(std::thread::panicking(), "lab {} was left behind: {e}", self.name);
            }
        }
    }
}

/// Builds `cluster` and brings it up as lab `name`; the guard takes it down.
pub fn up_lab(
    name: &str,
    options: &LabOptions,
    cluster: &routec_compiler::model::Cluster,
) -> (LabGuard, lab::LabState) {
    let guard = LabGuard { name: name.into(), options: options.clone() };
    let out = lab::claim_dir(&options.state_dir, name).unwrap().join("out");
    build(cluster, &out);
    let state = lab::up_from_build(&out, name, options, &mut |_| {}).unwrap();
    (guard, state)
}

/// `routec build` of `cluster` into `out` (objects compiled with clang).
pub fn build(cluster: &routec_compiler::model::Cluster, out: &std::path::Path) {
    use routec_compiler::build::{build, BuildOptions, ClangChoice};
    build(cluster, &BuildOptions::new(ClangChoice::Use(None), "test".into()), out).unwrap();
}

/// The loader's plan for `node` from the build at `out`.
pub fn node_plan(out: &std::path::Path, node: &str) -> routec_runtime::Result<routec_runtime::loader::NodePlan> {
    use routec_runtime::loader::{BuildOutput, NodePlan};
    BuildOutput::open(out).and_then(|build| NodePlan::from_build(&build, node))
}

/// Records a file swapped into a build in its manifest, as if built so.
pub fn reseal_manifest(out: &std::path::Path, rel: &str) {
    use sha2::Digest;
    let bytes = std::fs::read(out.join(rel)).unwrap();
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for file in manifest["files"].as_array_mut().unwrap() {
        if file["path"] == rel {
            file["sha256"] = sha.clone().into();
            file["size"] = bytes.len().into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

/// clang -target bpf, as the build does.
pub fn compile_bpf(source: &std::path::Path, object: &std::path::Path) {
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-templates");
    let arch = std::process::Command::new("clang").arg("-print-multiarch").output().unwrap();
    let arch = String::from_utf8(arch.stdout).unwrap();
    let status = std::process::Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-I"])
        .arg(&templates)
        .arg("-idirafter")
        .arg(format!("/usr/include/{}", arch.trim()))
        .arg("-c")
        .arg(source)
        .arg("-o")
        .arg(object)
        .status()
        .unwrap();
    assert!(status.success(), "clang failed on {}", source.display());
}

/// The reference cluster, examples/mycluster, through the front end.
pub fn reference_cluster() -> routec_compiler::model::Cluster {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster");
    let analysis = routec_compiler::frontend::analyze_path(&path).unwrap();
    analysis.cluster.expect("examples/mycluster is valid")
}

/// Packets a device of a lab namespace received and sent (`ip -s link`).
pub fn link_packets(netns: &str, dev: &str) -> (u64, u64) {
    let out =
        std::process::Command::new("ip").args(["-n", netns, "-j", "-s", "link", "show", "dev", dev]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stats = &links[0]["stats64"];
    (stats["rx"]["packets"].as_u64().unwrap(), stats["tx"]["packets"].as_u64().unwrap())
}

/// `ping -c 1 -W 2 DST` from inside a lab namespace.
pub fn ping(netns: &str, dst: &str) -> bool {
    std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["--", "ping", "-n", "-q", "-c", "1", "-W", "2", dst])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Sends `payload` over TCP from a socket in `src_netns` to a listener on
/// `dst_ip:port` in `dst_netns`, which echoes it back reversed; returns what
/// the client read. Real sockets in threads that entered the namespaces.
pub fn tcp_exchange(src_netns: &str, dst_netns: &str, dst_ip: std::net::IpAddr, port: u16, payload: &[u8]) -> Vec<u8> {
    use routec_runtime::{lab::netns_path, netns};
    use std::io::{Read, Write};
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        let server = scope.spawn(|| {
            netns::run_in(Some(&netns_path(dst_netns)), || -> std::io::Result<Vec<u8>> {
                let listener = std::net::TcpListener::bind((dst_ip, port))?;
                ready_tx.send(()).unwrap();
                let (mut conn, _) = listener.accept()?;
                conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
                let mut got = Vec::new();
                conn.read_to_end(&mut got)?;
                let reply: Vec<u8> = got.iter().rev().copied().collect();
                conn.write_all(&reply)?;
                Ok(got)
            })
        });
        ready_rx.recv_timeout(std::time::Duration::from_secs(5)).expect("listener ready");
        let reply = netns::run_in(Some(&netns_path(src_netns)), || -> std::io::Result<Vec<u8>> {
            let mut conn =
                std::net::TcpStream::connect_timeout(&(dst_ip, port).into(), std::time::Duration::from_secs(3))?;
            conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            conn.write_all(payload)?;
            conn.shutdown(std::net::Shutdown::Write)?;
            let mut reply = Vec::new();
            conn.read_to_end(&mut reply)?;
            Ok(reply)
        })
        .expect("client");
        let received = server.join().unwrap().expect("server");
        assert_eq!(received, payload, "the server received the payload intact");
        reply
    })
}

/// `python3 data/forge.py ARGS` inside lab namespace `netns`; panics if it fails.
pub fn forge(netns: &str, args: &[&str]) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/forge.py");
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", lab::netns_path(netns).display()))
        .args(["--", "python3"])
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "forge.py {args:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
}

/// (packets, bytes) of `reason` on `node`, summed over CPUs.
pub fn counted(
    state: &routec_runtime::lab::LabState,
    node: &str,
    reason: routec_compiler::layout::Reason,
) -> (u64, u64) {
    let target = routec_runtime::lab::node_target(state, node).unwrap();
    let counters = routec_runtime::loader::counters(&target).unwrap();
    counters.iter().find(|c| c.code == reason.code()).map_or((0, 0), |c| (c.packets, c.bytes))
}

/// Forward/drop counter of one node of a lab.
pub fn counter(state: &routec_runtime::lab::LabState, node: &str, reason: routec_compiler::layout::Reason) -> u64 {
    let target = routec_runtime::lab::node_target(state, node).unwrap();
    routec_runtime::loader::status(&target).unwrap().counter(reason)
}

/// `ip -j addr`, `ip -j route`, `ip -j link` of the caller's (root) namespace.
pub fn root_namespace_snapshot() -> Vec<String> {
    [&["-j", "addr"][..], &["-j", "route"], &["-j", "link"], &["-j", "-4", "rule"]]
        .iter()
        .map(|args| {
            let out = std::process::Command::new("ip").args(*args).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        })
        .collect()
}

/// Every trace a lab leaves on the machine: namespaces, pins, state.
pub fn leftovers(name: &str, options: &LabOptions) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(routec_runtime::lab::NETNS_DIR).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&format!("{name}-")) {
            found.push(format!("namespace {file}"));
        }
    }
    for path in [
        options.bpffs.join("routec").join(name),
        options.state_dir.join(name),
        std::path::Path::new(routec_runtime::loader::STATE_DIR).join(name),
        routec_runtime::lab::LabState::state_file(&options.state_dir, name),
    ] {
        if path.exists() {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A cluster from `routec gen`: declared ifindexes and MACs for most pods,
/// a quarter left to discovery.
pub fn generated_cluster(nodes: usize, pods_per_node: usize) -> routec_compiler::model::Cluster {
    use routec_compiler::gen::{generate_string, GenOptions};
    let text = generate_string(&GenOptions { nodes, pods_per_node, seed: 1 }).unwrap();
    routec_compiler::frontend::analyze_str("gen.route", &text).cluster.expect("routec gen output is valid")
}

/// Pings every (source, destination) pair with `parallel` pings in flight;
/// returns the pairs that failed.
pub fn ping_pairs(pairs: &[(String, String)], parallel: usize) -> Vec<(String, String)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((src, dst)) = pairs.get(i) else { break };
                if !ping(src, dst) {
                    failed.lock().unwrap().push((src.clone(), dst.clone()));
                }
            });
        }
    });
    failed.into_inner().unwrap()
}

/// The real `routec` binary of this workspace, built first if needed (a
/// runtime test cannot name another package's binary through cargo).
/// `ROUTEC_TEST_BINARY` names another one, e.g. an older build, to show
/// that a test reproduces a failure.
pub fn routec_binary() -> std::path::PathBuf {
    if let Some(binary) = std::env::var_os("ROUTEC_TEST_BINARY") {
        return binary.into();
    }
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "routec", "--bin", "routec", "--manifest-path"])
        .arg(&manifest)
        .status()
        .unwrap();
    assert!(built.success(), "cargo build -p routec failed");
    // Integration tests run from <target>/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().parent().unwrap().join("routec");
    assert!(binary.exists(), "no routec binary at {}", binary.display());
    binary
}

/// `routec apply|detach|status` arguments that name a lab node.
pub fn node_args(target: &routec_runtime::loader::Target) -> Vec<String> {
    let mut args = vec!["--node".to_string(), target.node.clone(), "--scope".into(), target.scope.clone()];
    args.extend(["--bpffs".to_string(), target.bpffs.display().to_string()]);
    if let Some(netns) = &target.netns {
        args.extend(["--netns".to_string(), netns.display().to_string()]);
    }
    args
}

/// The ids of the maps the program `id` uses.
pub fn program_map_ids(id: u32) -> Vec<u32> {
    let info = aya::programs::loaded_programs().flatten().find(|p| p.id() == id).expect("program is loaded");
    info.map_ids().unwrap().unwrap_or_default()
}

/// The kernel's id of the map pinned at `pin`.
pub fn pinned_map_id(pin: &std::path::Path) -> u32 {
    aya::maps::MapInfo::from_pin(pin).unwrap_or_else(|e| panic!("{}: {e}", pin.display())).id()
}

/// Problems with a node whose datapath should be whole: `status` fails, or
/// an attached program does not use the pinned maps (it would keep stale
/// entries and counters nobody reads).
pub fn datapath_problems(target: &routec_runtime::loader::Target) -> Vec<String> {
    let status = match routec_runtime::loader::status(target) {
        Ok(status) => status,
        Err(e) => return vec![format!("status fails: {e}")],
    };
    let lxc = pinned_map_id(&target.map_pin("cilium_lxc"));
    let counters = pinned_map_id(&target.map_pin("routec_counters"));
    let mut problems = Vec::new();
    if status.programs.is_empty() {
        problems.push("no program attached".to_string());
    }
    for program in &status.programs {
        let maps = program_map_ids(program.id);
        if program.mode == "foreign" {
            problems.push(format!(
                "{} {} runs a foreign program {}",
                program.interface,
                program.direction.as_str(),
                program.id
            ));
        } else if !maps.contains(&lxc) || !maps.contains(&counters) {
            problems.push(format!(
                "{} {} program {} uses maps {maps:?}, not the pinned cilium_lxc {lxc} and routec_counters {counters}",
                program.interface,
                program.direction.as_str(),
                program.id
            ));
        }
    }
    problems
}

/// Every tc filter and TCX program on `interface` in lab namespace `netns`
/// (both directions), as `tc`/the kernel list them.
pub fn hooks_on(netns: &str, interface: &str) -> Vec<String> {
    let mut found = Vec::new();
    for direction in ["ingress", "egress"] {
        let out = std::process::Command::new("tc")
            .args(["-n", netns, "filter", "show", "dev", interface, direction])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        found.extend(text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("{interface} {direction}: {l}")));
    }
    let path = routec_runtime::lab::netns_path(netns);
    let name = interface.to_string();
    let tcx = routec_runtime::netns::run_in(Some(&path), move || -> std::io::Result<Vec<String>> {
        Ok([aya::programs::TcAttachType::Ingress, aya::programs::TcAttachType::Egress]
            .into_iter()
            .flat_map(|t| {
                aya::programs::SchedClassifier::query_tcx(&name, t)
                    .map(|(_, programs)| programs.iter().map(|p| format!("{name} tcx program {}", p.id())).collect())
                    .unwrap_or_else(|_| Vec::new())
            })
            .collect())
    });
    found.extend(tcx.unwrap());
    found
}

/// Turns the build at `out` into one made by a routec before per-node files
/// and the binary seed: those files removed, and from the manifest.
pub fn strip_to_older_build(out: &std::path::Path) {
    use routec_compiler::build::{IPCACHE_SEED_BIN, MANIFEST, NODE_FILE};
    let newer = |rel: &str| rel == IPCACHE_SEED_BIN || rel.ends_with(&format!("/{NODE_FILE}"));
    let path = out.join(MANIFEST);
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let files = manifest["files"].as_array_mut().unwrap();
    for file in files.iter().filter(|f| newer(f["path"].as_str().unwrap())) {
        std::fs::remove_file(out.join(file["path"].as_str().unwrap())).unwrap();
    }
    files.retain(|f| !newer(f["path"].as_str().unwrap()));
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}
