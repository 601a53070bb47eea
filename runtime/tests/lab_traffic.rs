//! Real packets through the reference cluster (examples/mycluster) in a lab.

mod common;

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::lab;

const WORKER: &str = "mycluster-worker";
const WORKER2: &str = "mycluster-worker2";

#[test]
fn reference_cluster_carries_icmp_and_tcp() {
    if !can_run("reference_cluster_carries_icmp_and_tcp") {
        return;
    }
    let options = options();
    let name = "t-ref";
    let (_guard, state) = up_lab(name, &options, &reference_cluster());
    let ns = |ip: &str| state.pod(ip).unwrap().netns.clone();
    let (busybox, netshoot, remote) = (ns("10.10.2.117"), ns("10.10.2.121"), ns("10.10.1.155"));

    let local_before = counter(&state, WORKER, Reason::LocalDelivery);
    let encap_before = counter(&state, WORKER, Reason::TunnelEncap);
    let overlay_before = counter(&state, WORKER2, Reason::OverlayDelivery);

    // ICMP: same node, other node, and back.
    assert!(ping(&busybox, "10.10.2.121"), "10.10.2.117 -> 10.10.2.121 (same node)");
    assert!(ping(&busybox, "10.10.1.155"), "10.10.2.117 -> 10.10.1.155 (other node)");
    assert!(ping(&netshoot, "10.10.2.117"), "10.10.2.121 -> 10.10.2.117 (back)");
    assert!(ping(&remote, "10.10.2.117"), "10.10.1.155 -> 10.10.2.117 (back, other node)");

    // TCP: a byte stream through real sockets, checked both ways.
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let reversed: Vec<u8> = payload.iter().rev().copied().collect();
    for (src, dst, ip) in
        [(&busybox, &netshoot, "10.10.2.121"), (&busybox, &remote, "10.10.1.155"), (&remote, &busybox, "10.10.2.117")]
    {
        let reply = tcp_exchange(src, dst, ip.parse().unwrap(), 8080, &payload);
        assert!(reply == reversed, "TCP echo {src} -> {ip} came back intact");
    }

    // The node reaches its own pods (through cilium_host), and the pods the node.
    let worker_ns = &state.node(WORKER).unwrap().netns;
    assert!(ping(worker_ns, "10.10.2.117") && ping(worker_ns, "10.10.2.121"), "node -> own pods");
    assert!(ping(&busybox, "172.18.0.2"), "pod -> its node");
    assert!(counter(&state, WORKER, Reason::HostDelivery) >= 2);

    assert!(counter(&state, WORKER, Reason::LocalDelivery) >= local_before + 2);
    assert!(counter(&state, WORKER, Reason::TunnelEncap) > encap_before);
    assert!(counter(&state, WORKER2, Reason::OverlayDelivery) > overlay_before);
    assert!(counter(&state, WORKER, Reason::ArpReply) >= 1);

    // No pod has these addresses: dropped and counted as no-endpoint, on
    // this node (own pod-cidr) and on the other node (after the tunnel).
    let drops_here = counter(&state, WORKER, Reason::NoEndpoint);
    let drops_there = counter(&state, WORKER2, Reason::NoEndpoint);
    assert!(!ping(&busybox, "10.10.2.200"), "10.10.2.200 has no pod");
    assert!(!ping(&busybox, "10.10.1.200"), "10.10.1.200 has no pod");
    assert!(counter(&state, WORKER, Reason::NoEndpoint) > drops_here);
    assert!(counter(&state, WORKER2, Reason::NoEndpoint) > drops_there);

    // bpftool reads the pinned cilium_lxc like Cilium's: endpoint 1587.
    let pin = lab::node_target(&state, WORKER).unwrap().map_pin("cilium_lxc");
    let lookup = std::process::Command::new("bpftool")
        .args(["-j", "map", "lookup", "pinned"])
        .arg(&pin)
        .args("key hex 0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00".split(' '))
        .output()
        .unwrap();
    assert!(lookup.status.success(), "{}", String::from_utf8_lossy(&lookup.stderr));
    let entry: serde_json::Value = serde_json::from_slice(&lookup.stdout).unwrap();
    let value: Vec<&str> = entry["value"].as_array().unwrap().iter().map(|b| b.as_str().unwrap()).collect();
    assert_eq!(&value[6..8], ["0x33", "0x06"], "{entry}");
    assert_eq!(&value[0..4], ["0x0b", "0x00", "0x00", "0x00"], "ifindex 11: {entry}");
    assert_eq!(value[16..22].join(" "), "0xea 0xc4 0x71 0xd6 0x4f 0xa0", "{entry}");
}
