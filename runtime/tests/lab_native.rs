//! Native routing (`overlay none`) with real packets: a generated 4 x 10
//! cluster pinged pair by pair, TCP across nodes at the full MTU, node to
//! pod and pod to node, the nodes' own traffic over the device that
//! cil_from_netdev sits on (netlink cls_bpf and TCX), offline trace verdicts
//! against real pings, and what must not get through: a pod spoofing another
//! pod's address, an underlay packet for a pod the receiving node does not
//! have, a frame the underlay floods to every node, and underlay frames
//! claiming the receiving node's own addresses or a martian as source.

mod common;

use std::net::{IpAddr, UdpSocket};
use std::time::Duration;

use common::*;
use routec_compiler::gen::{generate_network, GenOptions, Stack};
use routec_compiler::layout::Reason;
use routec_compiler::model::{Cluster, OverlayKind};
use routec_compiler::trace::{trace, Proto, Snapshot};
use routec_runtime::lab::{netns_path, LabState};
use routec_runtime::loader::TcMode;
use routec_runtime::netns;

/// `routec gen --overlay none` through the front end.
fn native_cluster(nodes: usize, pods_per_node: usize) -> Cluster {
    let mut text = Vec::new();
    let opts = GenOptions { nodes, pods_per_node, seed: 1 };
    generate_network(&opts, Stack::default(), OverlayKind::None, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    routec_compiler::frontend::analyze_str("gen.route", &text).cluster.expect("routec gen output is valid")
}

/// Runs `cmd` in lab namespace `netns`; true when it exits 0.
fn run_in(netns: &str, cmd: &[&str]) -> bool {
    std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .arg("--")
        .args(cmd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn output_in(netns: &str, cmd: &[&str]) -> String {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .arg("--")
        .args(cmd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn node_netns<'a>(state: &'a LabState, node: &str) -> &'a str {
    &state.nodes.iter().find(|n| n.name == node).unwrap().netns
}

/// The lab pods of `node`, in cluster order.
fn pods_on<'a>(state: &'a LabState, node: &str) -> impl Iterator<Item = &'a routec_runtime::lab::LabPod> {
    let node = node.to_string();
    state.pods.iter().filter(move |p| p.node == node)
}

#[test]
fn native_four_nodes_ten_pods_all_pairs() {
    if !can_run("native_four_nodes_ten_pods_all_pairs") {
        return;
    }
    let options = options();
    let cluster = native_cluster(4, 10);
    let (_guard, state) = up_lab("t-nat-all", &options, &cluster);
    for node in &cluster.nodes {
        let netns = node_netns(&state, &node.name);
        let routes = output_in(netns, &["ip", "-4", "route"]);
        for other in cluster.nodes.iter().filter(|o| o.name != node.name) {
            let cidr = other.pod_cidr.unwrap().to_string();
            assert!(!routes.contains(&cidr), "{} routes {cidr}, another node's pod-cidr:\n{routes}", node.name);
        }
        assert!(!run_in(netns, &["ip", "link", "show", "cilium_vxlan"]), "{} has no overlay device", node.name);
    }
    let pairs: Vec<(String, String)> = state
        .pods
        .iter()
        .flat_map(|a| {
            state.pods.iter().filter(move |b| b.ip != a.ip).map(move |b| (a.netns.clone(), b.ip.unwrap().to_string()))
        })
        .collect();
    assert_eq!(pairs.len(), 40 * 39);
    // As in lab_scale: a ping lost among 16 in flight on two loaded cores is
    // tried once more alone; a pair the datapath cannot route fails twice.
    let first_pass = ping_pairs(&pairs, 16);
    assert!(first_pass.len() * 100 <= pairs.len(), "{} of {} pairs failed", first_pass.len(), pairs.len());
    let failed = ping_pairs(&first_pass, 1);
    assert!(failed.is_empty(), "{} pairs failed, e.g. {:?}", failed.len(), &failed[..failed.len().min(5)]);
    for node in &cluster.nodes {
        assert!(counter(&state, &node.name, Reason::NativeForward) >= 30 * 10, "{} forwarded natively", node.name);
        assert!(counter(&state, &node.name, Reason::NetdevDelivery) >= 30 * 10, "{} delivered from eth0", node.name);
        assert_eq!(counter(&state, &node.name, Reason::TunnelEncap), 0);
    }

    // Offline trace verdicts against real pings, for a sample of pairs and
    // for free addresses of other nodes' pod-cidrs (dropped there).
    let view = Snapshot::from_cluster(&cluster);
    let mut sample: Vec<(usize, IpAddr)> = (0..state.pods.len())
        .step_by(7)
        .map(|i| (i, IpAddr::V4(state.pods[(i * 13 + 5) % state.pods.len()].ip.unwrap())))
        .collect();
    sample.extend([(0, "10.0.3.200".parse().unwrap()), (15, "10.0.0.250".parse().unwrap())]);
    for (src, dst) in sample {
        let pod = &state.pods[src];
        if IpAddr::V4(pod.ip.unwrap()) == dst {
            continue;
        }
        let traced = trace(&view, &pod.name, &dst.to_string(), Proto::Icmp, None, 64).unwrap();
        assert_eq!(
            traced.verdict.is_delivered(),
            ping(&pod.netns, &dst.to_string()),
            "{} -> {dst}: trace says {:?}",
            pod.name,
            traced.verdict
        );
    }
}

#[test]
fn native_tcp_across_nodes_at_full_mtu_node_to_pod_and_pod_to_node() {
    if !can_run("native_tcp_across_nodes_at_full_mtu_node_to_pod_and_pod_to_node") {
        return;
    }
    let options = options();
    let cluster = native_cluster(2, 2);
    let (_guard, state) = up_lab("t-nat-tcp", &options, &cluster);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let pod_a = pods_on(&state, &a.name).next().unwrap();
    let pod_b = pods_on(&state, &b.name).next().unwrap();
    assert!(output_in(&pod_a.netns, &["ip", "link", "show", "eth0"]).contains("mtu 1500"), "no overlay overhead");

    // 1472 bytes of ICMP payload fill a 1500-byte packet, with DF set.
    let full = ["ping", "-n", "-q", "-c", "1", "-W", "2", "-M", "do", "-s", "1472"];
    let dst = pod_b.ip.unwrap().to_string();
    assert!(run_in(&pod_a.netns, &[&full[..], &[dst.as_str()]].concat()), "a full-MTU packet crosses nodes");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let reply = tcp_exchange(&pod_a.netns, &pod_b.netns, pod_b.ip.unwrap().into(), 8080, &payload);
    assert_eq!(reply, payload.iter().rev().copied().collect::<Vec<u8>>(), "the reply came back intact");

    // Node to its own pod (cilium_host) and pod to its own node (to the stack).
    let a_netns = node_netns(&state, &a.name);
    assert!(ping(a_netns, &pod_a.ip.unwrap().to_string()), "node to pod");
    assert!(ping(&pod_a.netns, &a.address.to_string()), "pod to node");
    let reply = tcp_exchange(&pod_a.netns, a_netns, a.router.unwrap().into(), 8081, b"hello");
    assert_eq!(reply, b"olleh", "pod to its node's router over TCP");
    assert!(counter(&state, &a.name, Reason::HostDelivery) >= 1);
    assert!(counter(&state, &a.name, Reason::ToStack) >= 1);
}

/// The nodes' own traffic over the device cil_from_netdev is attached to:
/// ping and TCP between node addresses, in both tc modes.
#[test]
fn native_nodes_own_traffic_through_the_device_keeps_working() {
    if !can_run("native_nodes_own_traffic_through_the_device_keeps_working") {
        return;
    }
    for (mode, lab) in [(TcMode::Netlink, "t-nat-own"), (TcMode::TcxLink, "t-nat-own-tcx")] {
        let options = routec_runtime::lab::LabOptions { tc_mode: mode, ..options() };
        let cluster = native_cluster(2, 1);
        let (_guard, state) = up_lab(lab, &options, &cluster);
        let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
        let (a_netns, b_netns) = (node_netns(&state, &a.name), node_netns(&state, &b.name));
        let target = routec_runtime::lab::node_target(&state, &b.name).unwrap();
        let programs = routec_runtime::loader::status(&target).unwrap().programs;
        let on_eth0: Vec<_> =
            programs.iter().filter(|p| p.interface == "eth0").map(|p| (p.program.as_str(), p.mode.as_str())).collect();
        assert_eq!(on_eth0, [("cil_from_netdev", mode.as_str())], "{mode:?}: the kernel runs it on eth0");
        let before = counter(&state, &b.name, Reason::ToStack);
        assert!(ping(a_netns, &b.address.to_string()), "{mode:?}: node to node");
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let reply = tcp_exchange(a_netns, b_netns, b.address.into(), 9090, &payload);
        assert_eq!(reply.len(), payload.len(), "{mode:?}: TCP between nodes");
        assert!(counter(&state, &b.name, Reason::ToStack) > before, "{mode:?}: seen by cil_from_netdev, passed on");
        assert_eq!(counter(&state, &b.name, Reason::NetdevDelivery), 0);
        // Detach takes routec's program off the device and leaves the node's traffic.
        routec_runtime::loader::detach(&target).unwrap();
        let left = output_in(b_netns, &["tc", "filter", "show", "dev", "eth0", "ingress"]);
        assert!(!left.contains("cil_from_netdev"), "{mode:?}: detached:\n{left}");
        assert!(ping(a_netns, &b.address.to_string()), "{mode:?}: node to node after detach");
    }
}

#[test]
fn native_refuses_spoofed_sources_misrouted_packets_and_flooded_frames() {
    if !can_run("native_refuses_spoofed_sources_misrouted_packets_and_flooded_frames") {
        return;
    }
    let options = options();
    let cluster = native_cluster(3, 1);
    let (_guard, state) = up_lab("t-nat-fault", &options, &cluster);
    let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
    let pod = |node: &str| pods_on(&state, node).next().unwrap();
    let (pod_a, pod_b, pod_c) = (pod(names[0]), pod(names[1]), pod(names[2]));
    let a_netns = node_netns(&state, names[0]);
    let address = |i: usize| cluster.nodes[i].address.to_string();

    // A pod on A claims pod B's address towards pod C: dropped on A.
    let spoofed = pod_b.ip.unwrap().to_string();
    assert!(run_in(&pod_a.netns, &["ip", "addr", "add", &format!("{spoofed}/32"), "dev", "eth0"]));
    let c_delivered = counter(&state, names[2], Reason::NetdevDelivery);
    let ping_from = ["ping", "-n", "-q", "-c", "1", "-W", "1", "-I", &spoofed];
    assert!(!run_in(&pod_a.netns, &[&ping_from[..], &[pod_c.ip.unwrap().to_string().as_str()]].concat()));
    assert!(counter(&state, names[0], Reason::UnknownSource) >= 1, "counted on A");
    assert_eq!(counter(&state, names[2], Reason::NetdevDelivery), c_delivered, "nothing reached C");

    // Node A's stack sends pod B's address to node C: C has no such pod and
    // passes it to its stack (which has no route for it), B never sees it.
    let pod_b_ip = pod_b.ip.unwrap().to_string();
    assert!(run_in(a_netns, &["ip", "route", "add", &format!("{pod_b_ip}/32"), "via", &address(2), "dev", "eth0"]));
    let (c_stack, b_delivered) =
        (counter(&state, names[2], Reason::ToStack), counter(&state, names[1], Reason::NetdevDelivery));
    assert!(!ping(a_netns, &pod_b_ip));
    assert!(counter(&state, names[2], Reason::ToStack) > c_stack, "C passed it to its stack");
    assert_eq!(counter(&state, names[2], Reason::NetdevDelivery), c_delivered, "C delivered nothing");
    assert_eq!(counter(&state, names[1], Reason::NetdevDelivery), b_delivered, "B never got it");

    // Node A sends pod C's address to node C: delivered (the reply has no
    // way back to a node address, so only the counter tells).
    let pod_c_ip = pod_c.ip.unwrap().to_string();
    assert!(run_in(a_netns, &["ip", "route", "add", &format!("{pod_c_ip}/32"), "via", &address(2), "dev", "eth0"]));
    ping(a_netns, &pod_c_ip);
    let delivered = counter(&state, names[2], Reason::NetdevDelivery);
    assert_eq!(delivered, c_delivered + 1, "control: C delivers what is addressed to its MAC");

    // The same packet to a MAC no node has: the underlay bridge floods it to
    // every node, and no node may deliver a frame that was not addressed to it.
    let fake =
        ["ip", "neigh", "replace", &address(2), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "permanent"];
    assert!(run_in(a_netns, &fake));
    let before: Vec<u64> = names.iter().map(|node| counter(&state, node, Reason::NetdevDelivery)).collect();
    ping(a_netns, &pod_c_ip);
    let after: Vec<u64> = names.iter().map(|node| counter(&state, node, Reason::NetdevDelivery)).collect();
    assert_eq!(after, before, "no node delivered the flooded frame");
}

/// The MAC of `device` in lab namespace `netns`.
fn device_mac(netns: &str, device: &str) -> String {
    let links: serde_json::Value =
        serde_json::from_str(&output_in(netns, &["ip", "-j", "link", "show", device])).unwrap();
    links[0]["address"].as_str().unwrap().to_string()
}

#[test]
fn native_refuses_underlay_frames_from_the_nodes_own_addresses_and_martians() {
    if !can_run("native_refuses_underlay_frames_from_the_nodes_own_addresses_and_martians") {
        return;
    }
    const PORT: u16 = 7799;
    let cluster = native_cluster(2, 2);
    let (_guard, state) = up_lab("t-nat-martian", &options(), &cluster);
    let (a, b) = (&cluster.nodes[0], &cluster.nodes[1]);
    let mut on_a = pods_on(&state, &a.name);
    let (victim, sibling) = (on_a.next().unwrap(), on_a.next().unwrap());
    let pod_b = pods_on(&state, &b.name).next().unwrap();
    let a_mac = device_mac(node_netns(&state, &a.name), &a.device);
    let listener = netns::run_in(Some(&netns_path(&victim.netns)), || UdpSocket::bind(("0.0.0.0", PORT))).unwrap();
    listener.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let watched =
        |node: &str| (counter(&state, node, Reason::UnknownSource), counter(&state, node, Reason::NetdevDelivery));
    let before = watched(&a.name);

    // The underlay's links and the bridge's forwarding settle on the first
    // exchange after `lab up`; the forged frames must not be the first.
    ping(node_netns(&state, &b.name), &a.address.to_string());
    // From node B's namespace, straight onto the underlay to A's device MAC.
    let (router, sibling, pod_b) =
        (a.router.unwrap().to_string(), sibling.ip.unwrap().to_string(), pod_b.ip.unwrap().to_string());
    let dst = victim.ip.unwrap().to_string();
    for (src, payload) in
        [(router.as_str(), "router"), (&sibling, "sibling"), ("127.0.0.1", "loopback"), (&pod_b, "control")]
    {
        forge(node_netns(&state, &b.name), &["raw", &b.device, &a_mac, src, &dst, &PORT.to_string(), payload]);
    }
    let mut received = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = listener.recv(&mut buf) {
        received.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }

    assert_eq!(received, ["control"], "only another node's pod reaches the pod");
    let after = watched(&a.name);
    assert_eq!((after.0 - before.0, after.1 - before.1), (3, 1), "(unknown-source, netdev-delivery) on A");
}
