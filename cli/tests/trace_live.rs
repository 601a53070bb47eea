//! `routec trace` against real packets: a generated cluster (4 nodes, 40
//! pods) in a lab. For every ordered pod pair the offline verdict must equal
//! what a real ping does; counters must move as the trace predicts; `--live`
//! must report no drift, and after one pinned entry is deleted, exactly that
//! drift, with the real packet dropped where the live trace says.
//!
//! Needs root (namespaces, bpffs); skips with a reason otherwise, except
//! under CI=true, where it fails instead.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use routec_compiler::build::{self, BuildOptions, ClangChoice};
use routec_compiler::gen::{generate_string, GenOptions};
use routec_compiler::layout::Reason;
use routec_compiler::model::Cluster;
use routec_compiler::trace::{self, Datapath, Proto, Snapshot, Trace, Verdict};
use routec_compiler::{frontend, seeds};
use routec_runtime::lab::{self, LabOptions, LabState};
use routec_runtime::{live_trace, loader};

const LAB: &str = "t-trace";

fn can_run(test: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0) {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CI=true does not allow skipping)");
    }
    eprintln!("skipping {test}: needs root to create network namespaces and pin maps");
    false
}

/// Takes the lab down and removes the work folder, also when the test fails.
struct Guard {
    options: LabOptions,
    work: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if LabState::state_file(&self.options.state_dir, LAB).exists() {
            if let Err(e) = lab::down(&self.options.state_dir, LAB) {
                eprintln!("lab down {LAB}: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// A folder of the real bpffs, removed also when the test fails.
struct BpffsFolder(PathBuf);

impl Drop for BpffsFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0.join("routec/default"));
        let _ = std::fs::remove_dir(self.0.join("routec"));
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `routec build` of the cluster into `out`, objects compiled.
fn write_build(cluster: &Cluster, out: &Path) {
    let options = BuildOptions::new(ClangChoice::Use(None), "trace-live-test".into());
    build::build(cluster, &options, out).unwrap();
}

fn ping(netns: &str, dst: IpAddr) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", lab::netns_path(netns).display()))
        .args(["--", "ping", "-n", "-q", "-c", "1", "-W", "2"])
        .arg(dst.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Pings every (netns, dst) in parallel, `width` at a time; returns the outcomes in order.
fn ping_all(pairs: &[(String, IpAddr)], width: usize) -> Vec<bool> {
    let mut results = vec![false; pairs.len()];
    for (chunk, out) in pairs.chunks(width).zip(results.chunks_mut(width)) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk.iter().map(|(ns, dst)| scope.spawn(move || ping(ns, *dst))).collect();
            for (handle, slot) in handles.into_iter().zip(out.iter_mut()) {
                *slot = handle.join().unwrap();
            }
        });
    }
    results
}

fn routec(args: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap();
    assert!(output.status.success(), "routec {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Packets per (node, reason), summed over CPUs.
fn counters(state: &LabState) -> BTreeMap<(String, Reason), u64> {
    let mut all = BTreeMap::new();
    for node in &state.nodes {
        let target = lab::node_target(state, &node.name).unwrap();
        for counter in loader::counters(&target).unwrap() {
            let reason = Reason::from_code(counter.code).expect("routec counts only its own reasons");
            all.insert((node.name.clone(), reason), counter.packets);
        }
    }
    all
}

/// Every (node, reason) the trace says a program counts.
fn predicted(t: &Trace) -> Vec<(String, Reason)> {
    t.hops.iter().map(|h| (h.node.clone(), h.reason.reason())).collect()
}

/// Pings once and checks that every counter the trace predicts went up.
fn assert_counted(state: &LabState, t: &Trace, src_netns: &str) -> bool {
    let before = counters(state);
    let delivered = ping(src_netns, t.packet.dst);
    let after = counters(state);
    for key in predicted(t) {
        assert!(
            after.get(&key) > before.get(&key),
            "{} -> {}: the trace predicts {} on {}, but its counter did not move",
            t.packet.src,
            t.packet.dst,
            key.1.name(),
            key.0
        );
    }
    delivered
}

#[test]
fn offline_and_live_traces_agree_with_real_packets() {
    if !can_run("offline_and_live_traces_agree_with_real_packets") {
        return;
    }
    let options = LabOptions { state_dir: PathBuf::from("/run/routec/test-labs"), ..LabOptions::default() };
    // A run killed before its guard could act leaves its lab behind.
    if LabState::state_file(&options.state_dir, LAB).exists() {
        lab::down(&options.state_dir, LAB).unwrap();
    }
    let work = options.state_dir.join(format!("{LAB}-work"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let guard = Guard { options: options.clone(), work: work.clone() };

    let text = generate_string(&GenOptions { nodes: 4, pods_per_node: 10, seed: 5 }).unwrap();
    let route = work.join("cluster.route");
    std::fs::write(&route, &text).unwrap();
    let cluster = frontend::analyze_path(&route).unwrap().cluster.expect("the generated cluster is valid");
    assert_eq!((cluster.nodes.len(), cluster.pods.len()), (4, 40));
    let out = work.join("out");
    write_build(&cluster, &out);
    let state = lab::up_from_build(&out, LAB, &options, &mut |_| {}).unwrap();

    // Offline verdicts for every ordered pair, from the cluster and from the build.
    let offline = Snapshot::from_cluster(&cluster);
    let matrix = trace::matrix(&offline).unwrap();
    assert_eq!(matrix.pairs.len(), 40 * 39);
    let from_build = trace::matrix(&Snapshot::from_build(&out).unwrap()).unwrap();
    let verdicts =
        |m: &trace::Matrix| m.pairs.iter().map(|p| (p.src_ip, p.dst_ip, p.result, p.reason)).collect::<Vec<_>>();
    assert_eq!(verdicts(&matrix), verdicts(&from_build), "the build folder traces like the cluster");

    // --live: no drift, and the same verdicts from the kernel's maps.
    let state_dir = options.state_dir.to_str().unwrap();
    let route_arg = route.to_str().unwrap();
    let live = routec(&["trace", "--all", route_arg, "--live", LAB, "--state-dir", state_dir, "--format", "json"]);
    assert_eq!(live["drift"]["drift"], serde_json::json!([]), "a fresh lab has no drift");
    assert!(live["drift"]["compared"].as_u64().unwrap() > 0);
    let live_pairs = live["matrix"]["pairs"].as_array().unwrap();
    assert_eq!(live_pairs.len(), matrix.pairs.len());
    for (offline_pair, live_pair) in matrix.pairs.iter().zip(live_pairs) {
        assert_eq!(live_pair["result"], offline_pair.result, "{} -> {}", offline_pair.src_ip, offline_pair.dst_ip);
        assert_eq!(live_pair["reason"]["code"], offline_pair.reason.code);
    }

    // Real packets: a ping succeeds exactly when both directions are delivered.
    let delivered: BTreeMap<(IpAddr, IpAddr), bool> =
        matrix.pairs.iter().map(|p| ((p.src_ip, p.dst_ip), p.result == "delivered")).collect();
    let netns = |ip: IpAddr| state.pod(&ip.to_string()).unwrap().netns.clone();
    let pairs: Vec<(String, IpAddr)> = matrix.pairs.iter().map(|p| (netns(p.src_ip), p.dst_ip)).collect();
    let before = counters(&state);
    let started = std::time::Instant::now();
    let outcomes = ping_all(&pairs, 16);
    eprintln!("{} pairs pinged in {:.1}s", pairs.len(), started.elapsed().as_secs_f64());
    let disagreements: Vec<String> = matrix
        .pairs
        .iter()
        .zip(&outcomes)
        .filter(|(p, ok)| **ok != (delivered[&(p.src_ip, p.dst_ip)] && delivered[&(p.dst_ip, p.src_ip)]))
        .map(|(p, ok)| format!("{} -> {}: trace {} ({}), ping {}", p.src_ip, p.dst_ip, p.result, p.reason.name, ok))
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} disagreements, e.g. {:?}",
        disagreements.len(),
        &disagreements[..disagreements.len().min(5)]
    );

    // Every counter moved by exactly what the traces predict: one echo request
    // and one reply per pair, each counted by every program on its path.
    // Only ARP (arp-reply) is extra traffic.
    let after = counters(&state);
    let mut expected: BTreeMap<(String, Reason), u64> = BTreeMap::new();
    for p in &matrix.pairs {
        for (src, dst) in [(p.src_ip, p.dst_ip), (p.dst_ip, p.src_ip)] {
            let t = trace::trace(&offline, &src.to_string(), &dst.to_string(), Proto::Icmp, None, 64).unwrap();
            for key in predicted(&t) {
                *expected.entry(key).or_default() += 1;
            }
        }
    }
    for (key, count) in &after {
        if key.1 == Reason::ArpReply {
            continue;
        }
        let moved = count - before.get(key).copied().unwrap_or(0);
        let wanted = expected.get(key).copied().unwrap_or(0);
        assert_eq!(moved, wanted, "{} on {}: counted {moved}, traces predict {wanted}", key.1.name(), key.0);
    }

    // Counters move as predicted: same node, other node, and two pod-less addresses.
    let pods = &cluster.pods;
    let (a, same, other) = (&pods[0], &pods[1], &pods[25]);
    assert_eq!(a.node, same.node);
    assert_ne!(a.node, other.node);
    let no_pod_here = Ipv4Addr::from(u32::from(cluster.nodes[a.node].pod_cidr.unwrap().network()) + 200);
    let no_pod_there = Ipv4Addr::from(u32::from(cluster.nodes[other.node].pod_cidr.unwrap().network()) + 200);
    for dst in [same.ip.unwrap(), other.ip.unwrap(), no_pod_here, no_pod_there] {
        let t = trace::trace(&offline, &a.name, &dst.to_string(), Proto::Icmp, None, 64).unwrap();
        let delivered = assert_counted(&state, &t, &netns(a.ip.unwrap().into()));
        assert_eq!(delivered, t.verdict.is_delivered(), "{} -> {dst}", a.ip.unwrap());
    }

    // The node's stack to its own pod (cil_from_host) and to a pod-less address.
    let node = &cluster.nodes[same.node];
    let node_netns = state.node(&node.name).unwrap().netns.clone();
    for dst in [same.ip.unwrap(), no_pod_here] {
        let t = trace::trace(&offline, &node.name, &dst.to_string(), Proto::Icmp, None, 64).unwrap();
        assert_eq!(t.hops[0].program, "cil_from_host");
        let delivered = assert_counted(&state, &t, &node_netns);
        assert_eq!(delivered, t.verdict.is_delivered(), "{} -> {dst}", node.name);
    }

    // --node: one node's maps as a real node would have them (pins under
    // scope `default`; here a link to the lab's pins, in a folder of the
    // real bpffs: routec reads pins only from a bpf filesystem). A packet
    // for another node ends at the tunnel, beyond this view.
    let fake_bpffs = BpffsFolder(Path::new("/sys/fs/bpf").join(format!("routec-trace-live-{}", std::process::id())));
    let fake_bpffs = &fake_bpffs.0;
    std::fs::create_dir_all(fake_bpffs.join("routec")).unwrap();
    std::os::unix::fs::symlink(state.pin_root(), fake_bpffs.join("routec/default")).unwrap();
    let node_name = cluster.nodes[a.node].name.clone();
    let node_args = |dst: &str| -> serde_json::Value {
        let bpffs = fake_bpffs.to_str().unwrap();
        routec(&["trace", &a.name, dst, route_arg, "--node", &node_name, "--bpffs", bpffs, "--format", "json"])
    };
    let local = node_args(&same.name);
    assert_eq!(local["drift"]["drift"], serde_json::json!([]));
    assert_eq!(local["trace"]["verdict"]["result"], "delivered");
    let remote = node_args(&other.name);
    assert_eq!(remote["trace"]["verdict"]["result"], "left-cluster");
    assert_eq!(remote["trace"]["hops"][0]["reason"]["name"], "tunnel-encap");
    let bpffs = fake_bpffs.to_str().unwrap();
    let rows = routec(&["trace", "--all", route_arg, "--node", &node_name, "--bpffs", bpffs, "--format", "json"]);
    assert_eq!(rows["matrix"]["sources"].as_array().unwrap().len(), 10, "only {node_name}'s pods send");
    assert_eq!(rows["matrix"]["pairs"].as_array().unwrap().len(), 10 * 39);
    let elsewhere = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["trace", &other.name, &a.name, route_arg, "--node", &node_name, "--bpffs", bpffs])
        .output()
        .unwrap();
    assert_eq!(elsewhere.status.code(), Some(2), "a sender on another node is beyond this view");

    // Delete one pinned entry: --live reports exactly that drift, predicts the
    // drop, and the real packet is dropped there.
    let victim = &pods[37];
    let victim_node = &cluster.nodes[victim.node].name;
    let pin = lab::node_target(&state, victim_node).unwrap().map_pin("cilium_lxc");
    let key_hex = seeds::hex_bytes(&routec_compiler::layout::EndpointKey::ipv4(victim.ip.unwrap()).to_bytes());
    let status = Command::new("bpftool")
        .args(["map", "delete", "pinned"])
        .arg(&pin)
        .arg("key")
        .arg("hex")
        .args(key_hex.split(' '))
        .status()
        .unwrap();
    assert!(status.success(), "bpftool map delete");

    let report = routec(&[
        "trace",
        &a.name,
        &victim.name,
        route_arg,
        "--live",
        LAB,
        "--state-dir",
        state_dir,
        "--format",
        "json",
    ]);
    let drift = report["drift"]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["node"], victim_node.as_str());
    assert_eq!(drift[0]["map"], "cilium_lxc");
    assert_eq!(drift[0]["kind"], "missing");
    assert_eq!(drift[0]["key_hex"], key_hex.as_str());
    assert_eq!(report["trace"]["verdict"]["result"], "dropped");
    assert_eq!(report["trace"]["verdict"]["reason"]["code"], Reason::NoEndpoint.code());
    assert_eq!(report["trace"]["verdict"]["node"], victim_node.as_str());

    let text = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["trace", &a.name, &victim.name, route_arg, "--live", LAB, "--state-dir", state_dir])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    eprintln!("{text}");
    assert!(text.contains("drift: 1 of "), "{text}");
    assert!(
        text.contains(&format!("  {victim_node} cilium_lxc {}: missing from the kernel", victim.ip.unwrap())),
        "{text}"
    );

    // The same prediction from the library's live view, then the real packet.
    let live_view = live_trace::live_snapshot(
        &offline,
        &live_trace::LiveSource::Lab { name: LAB.into(), state_dir: options.state_dir.clone(), bpffs: None },
    )
    .unwrap();
    let t = trace::trace(&live_view, &a.name, &victim.name, Proto::Icmp, None, 64).unwrap();
    assert!(matches!(&t.verdict, Verdict::Dropped { node, .. } if node == victim_node));
    assert!(!assert_counted(&state, &t, &netns(a.ip.unwrap().into())), "the packet to the deleted endpoint is dropped");
    // And the victim's own packets now fail the source check.
    let back = trace::trace(&live_view, &victim.name, &a.name, Proto::Icmp, None, 64).unwrap();
    assert_eq!(back.verdict.reason().reason(), Reason::UnknownSource);
    assert!(!assert_counted(&state, &back, &netns(victim.ip.unwrap().into())));
    assert!(live_view.has_maps(victim_node));
    drop(guard);
}
