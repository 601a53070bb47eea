//! IPv6 native routing (`overlay none`, dual stack) with real packets: a
//! generated 4 x 10 dual-stack cluster pinged pair by pair in both
//! families, TCP across nodes over IPv6, node to pod and pod to node over
//! IPv6, the hop limit, an underlay frame claiming the receiving node's own
//! pod as source, and offline trace verdicts against real IPv6 pings.

mod common;

use std::net::{IpAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::*;
use routec_compiler::gen::{generate_network, GenOptions, Stack};
use routec_compiler::layout::Reason;
use routec_compiler::model::{Cluster, OverlayKind};
use routec_compiler::trace::{trace, Proto, Snapshot};
use routec_runtime::lab::{netns_path, LabPod, LabState};
use routec_runtime::netns;

/// `routec gen --overlay none --dual-stack` through the front end.
fn native_dual_stack(nodes: usize, pods_per_node: usize) -> Cluster {
    let mut text = Vec::new();
    let opts = GenOptions { nodes, pods_per_node, seed: 1 };
    let stack = Stack { dual_stack: true, ipv6_only_percent: 0 };
    generate_network(&opts, stack, OverlayKind::None, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    routec_compiler::frontend::analyze_str("gen.route", &text).cluster.expect("routec gen output is valid")
}

fn output_in(netns: &str, cmd: &[&str]) -> String {
    let out = Command::new("nsenter").arg(format!("--net=/run/netns/{netns}")).arg("--").args(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `ping -c 1 -t HOPS DST` from inside `netns`.
fn ping_hops(netns: &str, dst: &str, hops: u8) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", netns_path(netns).display()))
        .args(["--", "ping", "-n", "-q", "-c", "1", "-W", "2", "-t", &hops.to_string(), dst])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn node_netns<'a>(state: &'a LabState, node: &str) -> &'a str {
    &state.nodes.iter().find(|n| n.name == node).unwrap().netns
}

fn pods_on<'a>(state: &'a LabState, node: &str) -> impl Iterator<Item = &'a LabPod> {
    let node = node.to_string();
    state.pods.iter().filter(move |p| p.node == node)
}

/// Every (source namespace, destination address) pair of one family.
fn all_pairs(state: &LabState, address: impl Fn(&LabPod) -> String) -> Vec<(String, String)> {
    let address = &address;
    state
        .pods
        .iter()
        .flat_map(|a| state.pods.iter().filter(move |b| b.name != a.name).map(move |b| (a.netns.clone(), address(b))))
        .collect()
}

#[test]
fn native6_four_nodes_ten_pods_all_pairs_both_families() {
    if !can_run("native6_four_nodes_ten_pods_all_pairs_both_families") {
        return;
    }
    let cluster = native_dual_stack(4, 10);
    let (_guard, state) = up_lab("t-nat6-all", &options(), &cluster);
    for node in &cluster.nodes {
        let routes = output_in(node_netns(&state, &node.name), &["ip", "-6", "route"]);
        for other in &cluster.nodes {
            let cidr = other.pod_cidr6.unwrap().to_string();
            let own = other.name == node.name;
            assert_eq!(routes.contains(&cidr), own, "{} routes {cidr} only if it is its own:\n{routes}", node.name);
        }
    }
    for (family, pairs) in [
        ("IPv4", all_pairs(&state, |p| p.ip.unwrap().to_string())),
        ("IPv6", all_pairs(&state, |p| p.ip6.unwrap().to_string())),
    ] {
        assert_eq!(pairs.len(), 40 * 39);
        // As in lab_native: a ping lost among 16 in flight is tried once
        // more alone; a pair the datapath cannot route fails twice.
        let first_pass = ping_pairs(&pairs, 16);
        assert!(first_pass.len() * 100 <= pairs.len(), "{family}: {} of {} failed", first_pass.len(), pairs.len());
        let failed = ping_pairs(&first_pass, 1);
        assert!(failed.is_empty(), "{family}: {} failed, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
    }
    for node in &cluster.nodes {
        // Both families' 30 x 10 cross-node requests, each way.
        assert!(counter(&state, &node.name, Reason::NativeForward) >= 2 * 30 * 10, "{} forwarded", node.name);
        assert!(counter(&state, &node.name, Reason::NetdevDelivery) >= 2 * 30 * 10, "{} delivered", node.name);
        assert_eq!(counter(&state, &node.name, Reason::TunnelEncap), 0);
        assert_eq!(counter(&state, &node.name, Reason::NoRoute), 0, "{}: no IPv6 packet lacked a next hop", node.name);
    }

    // Offline trace verdicts against real IPv6 pings: a sample of pairs and
    // free addresses of pod-cidr6s (dropped on the node that owns them).
    let view = Snapshot::from_cluster(&cluster);
    let mut sample: Vec<(usize, IpAddr)> = (0..state.pods.len())
        .step_by(7)
        .map(|i| (i, IpAddr::V6(state.pods[(i * 13 + 5) % state.pods.len()].ip6.unwrap())))
        .collect();
    sample.extend([(0, "fd00:10:3::c8".parse().unwrap()), (15, "fd00:10:0::fa".parse().unwrap())]);
    let mut delivered = 0;
    for (src, dst) in sample {
        let pod = &state.pods[src];
        if IpAddr::V6(pod.ip6.unwrap()) == dst {
            continue;
        }
        let traced = trace(&view, &pod.name, &dst.to_string(), Proto::Icmp, None, 64).unwrap();
        let pinged = ping(&pod.netns, &dst.to_string());
        assert_eq!(traced.verdict.is_delivered(), pinged, "{} -> {dst}: trace says {:?}", pod.name, traced.verdict);
        delivered += usize::from(pinged);
    }
    assert!(delivered >= 4, "the sample delivers, not only drops ({delivered})");
}

#[test]
fn native6_tcp_across_nodes_node_to_pod_pod_to_node_and_hop_limit() {
    if !can_run("native6_tcp_across_nodes_node_to_pod_pod_to_node_and_hop_limit") {
        return;
    }
    let cluster = native_dual_stack(2, 2);
    let (_guard, state) = up_lab("t-nat6-tcp", &options(), &cluster);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let pod_a = pods_on(&state, &a.name).next().unwrap();
    let pod_b = pods_on(&state, &b.name).next().unwrap();
    let dst = pod_b.ip6.unwrap();

    // 1452 bytes of ICMPv6 payload fill a 1500-byte IPv6 packet.
    let full = ["ping", "-n", "-q", "-c", "1", "-W", "2", "-M", "do", "-s", "1452"];
    assert!(run_ok(&pod_a.netns, &[&full[..], &[dst.to_string().as_str()]].concat()), "a full-MTU IPv6 packet");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let reply = tcp_exchange(&pod_a.netns, &pod_b.netns, dst.into(), 8080, &payload);
    assert_eq!(reply, payload.iter().rev().copied().collect::<Vec<u8>>(), "the reply came back intact");

    // Node to its own pod (cilium_host) and pod to its own node's IPv6
    // address (to the stack), ICMPv6 and TCP.
    let a_netns = node_netns(&state, &a.name);
    let a6 = a.address6.unwrap();
    let host_before = counter(&state, &a.name, Reason::HostDelivery);
    assert!(ping(a_netns, &pod_a.ip6.unwrap().to_string()), "node to pod over IPv6");
    assert!(ping(&pod_a.netns, &a6.to_string()), "pod to node over IPv6");
    assert_eq!(tcp_exchange(a_netns, &pod_a.netns, pod_a.ip6.unwrap().into(), 8082, b"hello"), b"olleh");
    assert_eq!(tcp_exchange(&pod_a.netns, a_netns, a6.into(), 8081, b"hello"), b"olleh", "pod to node, TCP");
    assert!(counter(&state, &a.name, Reason::HostDelivery) > host_before);

    // The nodes reach each other's IPv6 address over the device.
    assert!(ping(a_netns, &b.address6.unwrap().to_string()), "node to node over IPv6");

    // Hop limit 1 leaves A (the tunnel-less hop is the delivering node's)
    // and is dropped by B's cil_from_netdev; 2 is enough.
    let exceeded = counter(&state, &b.name, Reason::TtlExceeded);
    assert!(!ping_hops(&pod_a.netns, &dst.to_string(), 1), "hop limit 1 across nodes");
    assert_eq!(counter(&state, &b.name, Reason::TtlExceeded), exceeded + 1, "counted on B");
    assert!(ping_hops(&pod_a.netns, &dst.to_string(), 2), "hop limit 2 is enough");
}

fn run_ok(netns: &str, cmd: &[&str]) -> bool {
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .arg("--")
        .args(cmd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `python3 forge6.py ARGS` inside `netns`.
fn forge6(netns: &str, args: &[&str]) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/forge6.py");
    let out = Command::new("nsenter")
        .arg(format!("--net={}", netns_path(netns).display()))
        .args(["--", "python3"])
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "forge6.py {args:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn native6_refuses_underlay_frames_claiming_the_nodes_own_pod() {
    if !can_run("native6_refuses_underlay_frames_claiming_the_nodes_own_pod") {
        return;
    }
    const PORT: u16 = 7798;
    let cluster = native_dual_stack(2, 2);
    let (_guard, state) = up_lab("t-nat6-src", &options(), &cluster);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let mut on_a = pods_on(&state, &a.name);
    let (victim, sibling) = (on_a.next().unwrap(), on_a.next().unwrap());
    let pod_b = pods_on(&state, &b.name).next().unwrap();
    let b_netns = node_netns(&state, &b.name);
    let links: serde_json::Value =
        serde_json::from_str(&output_in(node_netns(&state, &a.name), &["ip", "-j", "link", "show", &a.device]))
            .unwrap();
    let a_mac = links[0]["address"].as_str().unwrap().to_string();
    let listener = netns::run_in(Some(&netns_path(&victim.netns)), || UdpSocket::bind(("::", PORT))).unwrap();
    listener.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let watched =
        |node: &str| (counter(&state, node, Reason::UnknownSource), counter(&state, node, Reason::NetdevDelivery));
    // The underlay settles on a first exchange; the forged frames follow it.
    assert!(ping(b_netns, &a.address6.unwrap().to_string()));
    let before = watched(&a.name);

    // From node B's namespace, straight onto the underlay to A's device MAC.
    let dst = victim.ip6.unwrap().to_string();
    let (sibling, router, pod_b) =
        (sibling.ip6.unwrap().to_string(), a.router6.unwrap().to_string(), pod_b.ip6.unwrap().to_string());
    let sources = [
        (sibling.as_str(), "sibling"),
        (&router, "router"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "mapped"),
        (&pod_b, "control"),
    ];
    for (src, payload) in sources {
        forge6(b_netns, &["udp", &b.device, &a_mac, src, &dst, &PORT.to_string(), payload]);
    }
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = listener.recv(&mut buf) {
        received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(received, ["control"], "only another node's pod reaches the pod");
    let after = watched(&a.name);
    assert_eq!((after.0 - before.0, after.1 - before.1), (4, 1), "(unknown-source, netdev-delivery) on A");
}

/// A node added to a native dual-stack lab that is up: the kept nodes get a
/// route to its IPv6 address (as to its IPv4 one), so IPv6 crosses to it
/// both ways; a node removed takes its routes with it.
#[test]
fn native6_reconcile_routes_the_kept_nodes_to_a_new_nodes_ipv6_address() {
    use routec_compiler::build::{BuildOptions, ClangChoice};
    use routec_runtime::lab::{self, Up};
    if !can_run("native6_reconcile_routes_the_kept_nodes_to_a_new_nodes_ipv6_address") {
        return;
    }
    let options = options();
    let name = "t-nat6-rcn";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let build_options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    let (two, three) = (native_dual_stack(2, 1), native_dual_stack(3, 1));
    let Up::Created(_) = lab::up_or_reconcile(&two, &build_options, name, &options, &mut |_| {}).unwrap() else {
        panic!("the lab was not up")
    };
    let Up::Reconciled(state, _) = lab::up_or_reconcile(&three, &build_options, name, &options, &mut |_| {}).unwrap()
    else {
        panic!("the lab was up")
    };
    let (kept, added) = (&three.nodes[0], &three.nodes[2]);
    let routes = output_in(node_netns(&state, &kept.name), &["ip", "-6", "route"]);
    assert!(routes.contains(&format!("{} dev", added.address6.unwrap())), "{routes}");
    let from = pods_on(&state, &kept.name).next().unwrap();
    let to = pods_on(&state, &added.name).next().unwrap();
    assert!(ping(&from.netns, &to.ip6.unwrap().to_string()), "kept node's pod to the new node's pod");
    assert!(ping(&to.netns, &from.ip6.unwrap().to_string()), "and back");

    let Up::Reconciled(state, _) = lab::up_or_reconcile(&two, &build_options, name, &options, &mut |_| {}).unwrap()
    else {
        panic!("the lab was up")
    };
    let routes = output_in(node_netns(&state, &kept.name), &["ip", "-6", "route"]);
    assert!(!routes.contains(&added.address6.unwrap().to_string()), "the gone node's route went: {routes}");
}

/// routec_node_ipv6 follows the build and is rolled back with the other maps
/// when an apply fails after writing it.
#[test]
fn native6_a_failed_apply_restores_the_node_ipv6_map_exactly() {
    use routec_runtime::live_trace::read_node_ipv6;
    use routec_runtime::loader;
    if !can_run("native6_a_failed_apply_restores_the_node_ipv6_map_exactly") {
        return;
    }
    let options = options();
    let name = "t-nat6-undo";
    let cluster = native_dual_stack(2, 1);
    let (_guard, state) = up_lab(name, &options, &cluster);
    let node = &cluster.nodes[0];
    let target = routec_runtime::lab::node_target(&state, &node.name).unwrap();
    let applied = read_node_ipv6(&target).unwrap();
    assert_eq!(applied, routec_compiler::seeds::node_ipv6_entries(&cluster), "the seed is applied");
    assert_eq!(applied.len(), 2);

    let mut changed = cluster.clone();
    changed.nodes[1].address6 = Some("fd00:172:16::99".parse().unwrap());
    // A new constant: the programs are loaded again, so the hooks switch.
    changed.mtu -= 10;
    let out = options.state_dir.join(name).join("out-changed");
    build(&changed, &out);
    let plan = node_plan(&out, &node.name).unwrap();
    let last = plan.attachments.last().unwrap().interface.clone();
    let hooks = plan.attachments.len();
    let (mut seen, mut written) = (0, None);
    let err = loader::apply_observed(&plan, &target, &mut |_| {
        seen += 1;
        if seen == hooks {
            written = Some(read_node_ipv6(&target).unwrap());
            let netns = node_netns(&state, &node.name);
            assert!(Command::new("ip").args(["-n", netns, "link", "del", &last]).status().unwrap().success());
        }
    })
    .unwrap_err();
    assert_eq!(err.apply_outcome(), Some(loader::ApplyOutcome::RolledBack), "{err}");
    assert_eq!(written.unwrap(), routec_compiler::seeds::node_ipv6_entries(&changed), "written before the failure");
    assert_eq!(read_node_ipv6(&target).unwrap(), applied, "routec_node_ipv6 restored exactly");
}

/// After `lab up`, `routec plan` finds nothing to change on a native
/// dual-stack node and `trace --live` no drift; a routec_node_ipv6 entry
/// changed by hand is drift, and a plan change of kind routec_node_ipv6.
#[test]
fn native6_plan_and_live_drift_see_the_node_ipv6_map() {
    use routec_compiler::diff::ChangeKind;
    use routec_compiler::layout::{NodeIpv6, NodeIpv6Key};
    use routec_runtime::live_trace::{live_snapshot, LiveSource};
    use routec_runtime::loader::{self, BuildOutput};
    use routec_runtime::lock::Wait;
    if !can_run("native6_plan_and_live_drift_see_the_node_ipv6_map") {
        return;
    }
    let options = options();
    let name = "t-nat6-plan";
    let cluster = native_dual_stack(2, 1);
    let (_guard, state) = up_lab(name, &options, &cluster);
    let node = &cluster.nodes[0];
    let target = routec_runtime::lab::node_target(&state, &node.name).unwrap();
    let build = BuildOutput::open(&options.state_dir.join(name).join("out")).unwrap();
    let changes = |plan: &routec_compiler::diff::Plan| -> Vec<ChangeKind> {
        plan.nodes.iter().flat_map(|n| n.changes.iter().map(|c| c.kind)).collect()
    };
    assert_eq!(changes(&loader::plan(&build, &target, Wait::Block).unwrap()), [], "nothing to change");
    let offline = Snapshot::from_cluster(&cluster);
    let source = LiveSource::Lab { name: name.into(), state_dir: options.state_dir.clone(), bpffs: None };
    let clean = routec_compiler::trace::drift(&offline, &live_snapshot(&offline, &source).unwrap());
    assert!(clean.is_clean(), "{:?}", clean.drift);

    // Node 1's next hop rewritten in node 0's map, as a stray writer would.
    let key = NodeIpv6Key { node_ipv4: cluster.nodes[1].address };
    let wrong = NodeIpv6 { node_ipv6: "fd00:172:16::99".parse().unwrap() };
    let pin = target.map_pin("routec_node_ipv6");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>();
    let mut update = vec!["map".to_string(), "update".into(), "pinned".into(), pin.display().to_string()];
    update.extend(["key".to_string(), "hex".into()]);
    update.extend(hex(&key.to_bytes()));
    update.extend(["value".to_string(), "hex".into()]);
    update.extend(hex(&wrong.to_bytes()));
    assert!(Command::new("bpftool").args(&update).status().unwrap().success());
    let drift = routec_compiler::trace::drift(&offline, &live_snapshot(&offline, &source).unwrap());
    let seen: Vec<_> = drift.drift.iter().map(|d| (d.node.as_str(), d.map, d.key.as_str())).collect();
    let key_text = key.node_ipv4.to_string();
    assert_eq!(seen, [(node.name.as_str(), "routec_node_ipv6", key_text.as_str())]);
    assert_eq!(changes(&loader::plan(&build, &target, Wait::Block).unwrap()), [ChangeKind::RoutecNodeIpv6]);
}
