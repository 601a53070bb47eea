//! The datapath as a hostile pod or host meets it (docs/datapath.md,
//! "What the source checks cover"): real packets, built by
//! `data/forge.py`, through the reference cluster (examples/mycluster) in a
//! lab. A listener in each victim pod records what arrives; the counters say
//! which check stopped the rest.

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use routec_compiler::layout::Reason;
use routec_compiler::trace::{trace, Proto, Snapshot, Verdict};
use routec_runtime::lab::{netns_path, LabState};
use routec_runtime::netns;

const WORKER: &str = "mycluster-worker";
const WORKER2: &str = "mycluster-worker2";
/// The listeners' port in the victim pods.
const PORT: u16 = 7777;

/// UDP listeners on `PORT` in pods; each records the payloads it receives
/// until the scope ends.
struct Listeners<'a> {
    received: Vec<(Ipv4Addr, Mutex<Vec<String>>)>,
    stop: AtomicBool,
    state: &'a LabState,
}

impl<'a> Listeners<'a> {
    fn new(state: &'a LabState, pods: &[Ipv4Addr]) -> Self {
        let received = pods.iter().map(|ip| (*ip, Mutex::new(Vec::new()))).collect();
        Listeners { received, stop: AtomicBool::new(false), state }
    }

    /// Runs `work` while every listener is bound and reading.
    fn during<T>(&self, work: impl FnOnce() -> T) -> T {
        std::thread::scope(|scope| {
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            for (ip, received) in &self.received {
                let netns = netns_path(&self.state.pod(&ip.to_string()).unwrap().netns);
                let ready_tx = ready_tx.clone();
                scope.spawn(move || {
                    netns::run_in(Some(&netns), || -> std::io::Result<()> {
                        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, PORT))?;
                        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
                        ready_tx.send(()).unwrap();
                        let mut buf = [0u8; 2048];
                        while !self.stop.load(Ordering::Relaxed) {
                            if let Ok(n) = socket.recv(&mut buf) {
                                received.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                            }
                        }
                        Ok(())
                    })
                    .unwrap()
                });
            }
            for _ in &self.received {
                ready_rx.recv_timeout(Duration::from_secs(5)).expect("listener ready");
            }
            let result = work();
            self.stop.store(true, Ordering::Relaxed);
            result
        })
    }

    fn got(&self, ip: Ipv4Addr) -> Vec<String> {
        self.received.iter().find(|(i, _)| *i == ip).unwrap().1.lock().unwrap().clone()
    }

    /// Waits until `payload` has reached the pod `ip`.
    fn wait_for(&self, ip: Ipv4Addr, payload: &str) -> bool {
        (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            self.got(ip).iter().any(|p| p == payload)
        })
    }
}

/// `ip -j link show dev DEV` in `netns`: the device's MAC.
fn mac_of(netns: &str, dev: &str) -> String {
    let out = Command::new("ip").args(["-n", netns, "-j", "link", "show", "dev", dev]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    links[0]["address"].as_str().unwrap().to_string()
}

/// Counters of the reasons a test watches, on every node.
fn counters(state: &LabState, reasons: &[Reason]) -> Vec<(&'static str, Reason, u64)> {
    [WORKER, WORKER2]
        .iter()
        .flat_map(|node| reasons.iter().map(move |reason| (*node, *reason)))
        .map(|(node, reason)| (node, reason, counter(state, node, reason)))
        .collect()
}

fn moved(
    before: &[(&'static str, Reason, u64)],
    after: &[(&'static str, Reason, u64)],
    node: &str,
    reason: Reason,
) -> u64 {
    let find = |list: &[(&str, Reason, u64)]| list.iter().find(|(n, r, _)| *n == node && *r == reason).unwrap().2;
    find(after) - find(before)
}

#[test]
fn vxlan_from_a_pod_or_a_stranger_is_not_decapsulated_into_pods() {
    if !can_run("vxlan_from_a_pod_or_a_stranger_is_not_decapsulated_into_pods") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-sec-vxlan", &options, &reference_cluster());
    let ns = |ip: &str| state.pod(ip).unwrap().netns.clone();
    let attacker = ns("10.10.2.117");
    let (victim, remote_victim, remote_peer) = ("10.10.2.121", "10.10.1.155", ns("10.10.1.164"));
    let (worker_ns, worker2_ns) =
        (state.node(WORKER).unwrap().netns.clone(), state.node(WORKER2).unwrap().netns.clone());
    let watched =
        [Reason::OverlayPort, Reason::UnknownTunnelSource, Reason::InnerSourceMismatch, Reason::OverlayDelivery];
    let listeners = Listeners::new(&state, &[victim.parse().unwrap(), remote_victim.parse().unwrap()]);

    let (before, after) = listeners.during(|| {
        let before = counters(&state, &watched);
        // A pod, as uid 65534 with a plain UDP socket, to its own node's
        // address and router address, and to another node's.
        for (to, inner_src, inner_dst, tag) in [
            ("172.18.0.2", "10.10.1.155", victim, "pod-to-node-address"),
            ("10.10.2.1", "8.8.8.8", victim, "pod-to-router"),
            ("172.18.0.2", "8.8.8.8", victim, "pod-to-node-address-world"),
            ("10.10.2.1", "10.10.1.164", victim, "pod-to-router-other-pod"),
            ("172.18.0.4", "10.10.2.121", remote_victim, "pod-to-other-node-address"),
            ("10.10.1.1", "8.8.8.8", remote_victim, "pod-to-other-router"),
        ] {
            forge(&attacker, &["vxlan", to, inner_src, inner_dst, &PORT.to_string(), tag, "--as-nobody"]);
        }
        // An unprivileged process on the node itself: the outer source is
        // the node's own address.
        forge(
            &worker_ns,
            &["vxlan", "172.18.0.2", "10.10.1.164", victim, &PORT.to_string(), "node-to-itself", "--as-nobody"],
        );
        // Another node speaking for pods that are not its own.
        for (inner_src, tag) in [("10.10.2.117", "node-for-foreign-pod"), ("8.8.8.8", "node-for-world")] {
            forge(&worker2_ns, &["vxlan", "172.18.0.2", inner_src, victim, &PORT.to_string(), tag]);
        }
        // A host on the underlay that is no node.
        let underlay = &state.underlay;
        let added = Command::new("ip").args(["-n", underlay, "addr", "add", "172.18.0.250/24", "dev", "br0"]).status();
        assert!(added.unwrap().success());
        forge(underlay, &["vxlan", "172.18.0.2", "10.10.1.164", victim, &PORT.to_string(), "stranger"]);

        // Controls: the same kind of frame from a node for its own pod is
        // delivered, and so is plain cross-node traffic.
        forge(&worker2_ns, &["vxlan", "172.18.0.2", "10.10.1.164", victim, &PORT.to_string(), "node-for-own-pod"]);
        assert!(
            listeners.wait_for(victim.parse().unwrap(), "node-for-own-pod"),
            "{:?}",
            listeners.got(victim.parse().unwrap())
        );
        netns::run_in(Some(&netns_path(&remote_peer)), || -> std::io::Result<()> {
            UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?
                .send_to(b"cross-node", (victim.parse::<Ipv4Addr>().unwrap(), PORT))?;
            Ok(())
        })
        .unwrap();
        assert!(listeners.wait_for(victim.parse().unwrap(), "cross-node"));
        assert!(ping(&attacker, remote_victim), "10.10.2.117 -> 10.10.1.155 still works");
        // Give the injections to the other node as long as the controls took.
        std::thread::sleep(Duration::from_millis(300));
        (before, counters(&state, &watched))
    });

    assert_eq!(listeners.got(victim.parse().unwrap()), ["node-for-own-pod", "cross-node"], "only the controls arrive");
    assert_eq!(listeners.got(remote_victim.parse().unwrap()), Vec::<String>::new(), "nothing reaches 10.10.1.155");
    let moved = |node, reason| moved(&before, &after, node, reason);
    // cil_from_container drops the pod's packets to node addresses' port 8472...
    assert_eq!(moved(WORKER, Reason::OverlayPort), 5, "own node address, router, other node address");
    // ...and the other node's router address reaches that node only inside
    // the tunnel, where its device's cil_from_netdev decapsulates and drops
    // it before its stack sees it.
    assert_eq!(moved(WORKER2, Reason::OverlayPort), 1, "the other node's router");
    assert_eq!(moved(WORKER, Reason::UnknownTunnelSource), 2, "the node itself and the stranger");
    assert_eq!(moved(WORKER, Reason::InnerSourceMismatch), 2, "worker2 for worker's pod, and for 8.8.8.8");
    assert!(moved(WORKER, Reason::OverlayDelivery) >= 2, "the controls");

    // `routec trace` gives the kernel's verdicts for the pod's four targets.
    let view = Snapshot::from_cluster(&reference_cluster());
    for (to, node) in [("172.18.0.2", WORKER), ("10.10.2.1", WORKER), ("172.18.0.4", WORKER), ("10.10.1.1", WORKER2)] {
        let t = trace(&view, "10.10.2.117", to, Proto::Udp, Some(8472), 64).unwrap();
        assert_eq!(t.verdict.reason().reason(), Reason::OverlayPort, "trace to {to}");
        assert!(matches!(&t.verdict, Verdict::Dropped { node: n, .. } if n == node), "trace to {to}: {:?}", t.verdict);
    }
}

#[test]
fn vlan_tagged_frames_are_dropped_as_unknown_l3() {
    if !can_run("vlan_tagged_frames_are_dropped_as_unknown_l3") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-sec-vlan", &options, &reference_cluster());
    let ns = |ip: &str| state.pod(ip).unwrap().netns.clone();
    let sender = ns("10.10.2.121");
    let (local_victim, remote_victim) = ("10.10.2.117", "10.10.1.155");
    let worker_ns = state.node(WORKER).unwrap().netns.clone();
    let worker2_ns = state.node(WORKER2).unwrap().netns.clone();
    // The sender's gateway MAC: its lxc's (the datapath answers ARP with it).
    let gateway = mac_of(&worker_ns, "lxc5b7b34955e61");
    let port = PORT.to_string();
    let listeners = Listeners::new(&state, &[local_victim.parse().unwrap(), remote_victim.parse().unwrap()]);

    let (before, after) = listeners.during(|| {
        let before = counters(&state, &[Reason::UnknownL3]);
        // This kernel has no 802.1Q driver for a VLAN subinterface, so the
        // tagged frames come from an AF_PACKET socket on the pod's eth0: on
        // receive the kernel moves the tag into skb->vlan_tci either way.
        // TCI 0 (a priority tag) is what a victim without VLANs accepts.
        for tci in ["0", "100"] {
            for dst in [local_victim, remote_victim] {
                let tag = format!("tagged-{tci}-{dst}");
                forge(&sender, &["raw", "eth0", &gateway, "10.10.2.121", dst, &port, &tag, "--tci", tci]);
            }
        }
        // Inside the tunnel: worker2, for its own pod, sends a tagged frame.
        forge(
            &worker2_ns,
            &["vxlan", "172.18.0.2", "10.10.1.164", local_victim, &port, "tagged-overlay", "--tci", "0"],
        );
        // Controls: the same frames untagged are delivered.
        for dst in [local_victim, remote_victim] {
            forge(&sender, &["raw", "eth0", &gateway, "10.10.2.121", dst, &port, "untagged"]);
            assert!(
                listeners.wait_for(dst.parse().unwrap(), "untagged"),
                "untagged to {dst}: {:?}",
                listeners.got(dst.parse().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        (before, counters(&state, &[Reason::UnknownL3]))
    });

    assert_eq!(listeners.got(local_victim.parse().unwrap()), ["untagged"], "no tagged frame arrives");
    assert_eq!(listeners.got(remote_victim.parse().unwrap()), ["untagged"], "no tagged frame arrives");
    assert_eq!(moved(&before, &after, WORKER, Reason::UnknownL3), 5, "4 from the pod, 1 from the tunnel");
}

#[test]
fn vxlan_decapsulated_at_the_device_meets_the_same_checks() {
    if !can_run("vxlan_decapsulated_at_the_device_meets_the_same_checks") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-sec-decap", &options, &reference_cluster());
    let victim = "10.10.2.121";
    let (worker_ns, worker2_ns) =
        (state.node(WORKER).unwrap().netns.clone(), state.node(WORKER2).unwrap().netns.clone());
    let watched = [
        Reason::WrongVni,
        Reason::OverlayPort,
        Reason::UnknownTunnelSource,
        Reason::InnerSourceMismatch,
        Reason::UnknownL3,
        Reason::OverlayDelivery,
    ];
    let port = PORT.to_string();
    let listeners = Listeners::new(&state, &[victim.parse().unwrap()]);

    let (before, after, through_cilium_vxlan) = listeners.during(|| {
        let before = counters(&state, &watched);
        let vxlan_rx = link_packets(&worker_ns, "cilium_vxlan").0;
        // A zero outer UDP checksum, as routec's encapsulation sends it: the
        // node's device decapsulates these, its VXLAN socket never sees them.
        let send = |from: &str, inner_src: &str, inner_dst: &str, inner_port: &str, tag: &str, extra: &[&str]| {
            let mut args = vec!["vxlan", "172.18.0.2", inner_src, inner_dst, inner_port, tag, "--no-udp-checksum"];
            args.extend_from_slice(extra);
            forge(from, &args);
        };
        send(&worker2_ns, "10.10.1.164", victim, &port, "wrong-vni", &["--vni", "5"]);
        send(&worker2_ns, "10.10.2.117", victim, &port, "node-for-foreign-pod", &[]);
        send(&worker2_ns, "8.8.8.8", victim, &port, "node-for-world", &[]);
        send(&worker2_ns, "10.10.1.164", "10.10.2.1", "8472", "inside-to-router-overlay-port", &[]);
        send(&worker2_ns, "10.10.1.164", "172.18.0.2", "8472", "inside-to-node-overlay-port", &[]);
        let underlay = &state.underlay;
        let added = Command::new("ip").args(["-n", underlay, "addr", "add", "172.18.0.250/24", "dev", "br0"]).status();
        assert!(added.unwrap().success());
        send(underlay, "10.10.1.164", victim, &port, "stranger", &[]);
        // The control: worker2 for its own pod is delivered.
        send(&worker2_ns, "10.10.1.164", victim, &port, "node-for-own-pod", &[]);
        assert!(listeners.wait_for(victim.parse().unwrap(), "node-for-own-pod"));
        // A tagged inner frame is not the device's to decapsulate: it goes on
        // to cilium_vxlan, whose program drops it.
        send(&worker2_ns, "10.10.1.164", victim, &port, "tagged-inside", &["--tci", "0"]);
        std::thread::sleep(Duration::from_millis(300));
        let through_cilium_vxlan = link_packets(&worker_ns, "cilium_vxlan").0 - vxlan_rx;
        (before, counters(&state, &watched), through_cilium_vxlan)
    });

    assert_eq!(listeners.got(victim.parse().unwrap()), ["node-for-own-pod"], "only the control arrives");
    let moved = |reason| moved(&before, &after, WORKER, reason);
    assert_eq!(moved(Reason::WrongVni), 1);
    assert_eq!(moved(Reason::InnerSourceMismatch), 2, "worker2 for worker's pod, and for 8.8.8.8");
    assert_eq!(moved(Reason::OverlayPort), 2, "the router's and the node's port 8472 inside the tunnel");
    assert_eq!(moved(Reason::UnknownTunnelSource), 1, "the stranger");
    assert_eq!(moved(Reason::OverlayDelivery), 1, "the control");
    assert_eq!(moved(Reason::UnknownL3), 1, "the tagged frame, by cil_from_overlay");
    assert_eq!(through_cilium_vxlan, 1, "only the tagged frame reached cilium_vxlan");
}
