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
        if LabState::state_file_exists(&self.options, &self.name) {
            if let Err(e) = lab::down(&self.options.state_dir, &self.name) {
                eprintln!("lab down {}: {e}", self.name);
            }
        }
    }
}

struct LabState;
impl LabState {
    fn state_file_exists(options: &LabOptions, name: &str) -> bool {
        routec_runtime::lab::LabState::state_file(&options.state_dir, name).exists()
    }
}

/// A stand-in for `routec build` until the build command is merged: the
/// objects compiled from bpf-templates, the seeds and the attach plans.
pub fn fake_build(cluster: &routec_compiler::model::Cluster, out: &std::path::Path) {
    use routec_compiler::seeds;
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-templates");
    std::fs::create_dir_all(out.join("bpf")).unwrap();
    std::fs::create_dir_all(out.join("cluster")).unwrap();
    for object in ["bpf_lxc", "bpf_overlay", "bpf_host"] {
        compile_bpf(&templates.join(format!("{object}.c")), &out.join(format!("bpf/{object}.o")));
    }
    std::fs::write(out.join("manifest.json"), "{}").unwrap();
    std::fs::write(out.join("cluster/cilium_ipcache.seed"), seeds::render_seed(&seeds::ipcache_entries(cluster))).unwrap();
    for (i, node) in cluster.nodes.iter().enumerate() {
        let dir = out.join("nodes").join(&node.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cilium_lxc.seed"), seeds::render_seed(&seeds::lxc_entries(cluster, i))).unwrap();
        let mut attach: Vec<serde_json::Value> = cluster
            .pods_on(i)
            .map(|p| serde_json::json!({"interface": p.lxc, "direction": "ingress", "program": "cil_from_container", "object": "bpf/bpf_lxc.o"}))
            .collect();
        attach.push(serde_json::json!({"interface": "cilium_vxlan", "direction": "ingress", "program": "cil_from_overlay", "object": "bpf/bpf_overlay.o"}));
        attach.push(serde_json::json!({"interface": "cilium_host", "direction": "egress", "program": "cil_from_host", "object": "bpf/bpf_host.o"}));
        std::fs::write(dir.join("attach.json"), serde_json::to_string_pretty(&attach).unwrap()).unwrap();
    }
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

/// The reference cluster (examples/mycluster), by hand until the front end is merged.
pub fn reference_cluster() -> routec_compiler::model::Cluster {
    use routec_compiler::model::*;
    let node = |name: &str, a: [u8; 4], cidr: &str| {
        let net: Ipv4Net = cidr.parse().unwrap();
        let mut r = net.network().octets();
        r[3] += 1;
        Node { name: name.into(), address: a.into(), pod_cidr: net, router: r.into(), device: "eth0".into() }
    };
    let pod = |name: &str, node: usize, ip: [u8; 4], endpoint: u16, identity: u32, lxc: &str, ifindex: Option<u32>, macs: Option<(&str, &str)>| Pod {
        name: name.into(),
        node,
        ip: ip.into(),
        endpoint,
        identity,
        lxc: lxc.into(),
        ifindex,
        mac: macs.map(|m| m.0.parse().unwrap()),
        node_mac: macs.map(|m| m.1.parse().unwrap()),
    };
    Cluster {
        name: "mycluster".into(),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 0 },
        mtu: 1500,
        nodes: vec![
            node("mycluster-control-plane", [172, 18, 0, 3], "10.10.0.0/24"),
            node("mycluster-worker", [172, 18, 0, 2], "10.10.2.0/24"),
            node("mycluster-worker2", [172, 18, 0, 4], "10.10.1.0/24"),
        ],
        pods: vec![
            pod("networking101/busybox-c8bbbbb84-t6ggh", 1, [10, 10, 2, 117], 715, 3372, "lxc4a891387ff1a", Some(9), None),
            pod("networking101/netshoot-7d996d7884-fwt8z", 1, [10, 10, 2, 121], 1587, 10388, "lxc5b7b34955e61", Some(11), Some(("ea:c4:71:d6:4f:a0", "f6:87:b6:c3:a6:45"))),
            pod("networking101/busybox-c8bbbbb84-fmhwc", 2, [10, 10, 1, 164], 897, 3372, "lxc0a97661d8043", None, None),
            pod("networking101/netshoot-7d996d7884-gcxrm", 2, [10, 10, 1, 155], 3564, 10388, "lxc174c023046ff", Some(11), Some(("be:57:3d:54:40:f1", "92:65:df:09:dd:28"))),
        ],
    }
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
pub fn tcp_exchange(src_netns: &str, dst_netns: &str, dst_ip: std::net::Ipv4Addr, port: u16, payload: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    use routec_runtime::{lab::netns_path, netns};
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
            let mut conn = std::net::TcpStream::connect_timeout(&(dst_ip, port).into(), std::time::Duration::from_secs(3))?;
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

/// Forward/drop counter of one node of a lab.
pub fn counter(state: &routec_runtime::lab::LabState, options: &routec_runtime::lab::LabOptions, node: &str, reason: routec_compiler::layout::Reason) -> u64 {
    let target = routec_runtime::lab::node_target(state, &options.state_dir, node).unwrap();
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
        routec_runtime::lab::LabState::state_file(&options.state_dir, name),
    ] {
        if path.exists() {
            found.push(path.display().to_string());
        }
    }
    found
}

/// A synthetic cluster: `nodes` nodes with `pods_per_node` pods each, no
/// declared ifindexes or MACs (all discovered at apply).
pub fn generated_cluster(nodes: usize, pods_per_node: usize) -> routec_compiler::model::Cluster {
    use routec_compiler::model::*;
    Cluster {
        name: format!("gen{nodes}x{pods_per_node}"),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 7 },
        mtu: 1500,
        nodes: (0..nodes)
            .map(|n| Node {
                name: format!("node{n:02}"),
                address: [172, 31, 0, n as u8 + 1].into(),
                pod_cidr: format!("10.40.{n}.0/24").parse().unwrap(),
                router: [10, 40, n as u8, 1].into(),
                device: "eth0".into(),
            })
            .collect(),
        pods: (0..nodes)
            .flat_map(|n| {
                (0..pods_per_node).map(move |p| Pod {
                    name: format!("default/pod-{n}-{p}"),
                    node: n,
                    ip: [10, 40, n as u8, p as u8 + 10].into(),
                    endpoint: p as u16 + 1,
                    identity: 1000 + p as u32,
                    lxc: format!("lxc{n:02}x{p:03}"),
                    ifindex: None,
                    mac: None,
                    node_mac: None,
                })
            })
            .collect(),
    }
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
