//! Native routing (`overlay none`) offline: examples/native's attach plans,
//! node files and constants, and its traces hop by hop (from_container ->
//! the node's device -> the other node's cil_from_netdev -> the pod), with
//! snapshots of every rendering.

mod trace_support;

use std::path::Path;

use routec_compiler::bpf::{self, LoadConstants};
use routec_compiler::build::{attach_plan, NodeFile};
use routec_compiler::layout::{EndpointKey, Reason};
use routec_compiler::model::{Cluster, OverlayKind};
use routec_compiler::trace::{
    matrix, render_matrix_text, render_text, trace, trace_packet, Datapath, Packet, Proto, Snapshot, Verdict,
};
use trace_support::{run, snapshot_all};

fn cluster() -> Cluster {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/native");
    routec_compiler::frontend::analyze_path(&path).unwrap().cluster.expect("examples/native is valid")
}

fn view() -> Snapshot {
    Snapshot::from_cluster(&cluster())
}

#[test]
fn a_native_node_attaches_cil_from_netdev_on_its_device_and_no_overlay() {
    let cluster = cluster();
    let plan = attach_plan(&cluster, 0);
    let hooks: Vec<_> = plan.iter().map(|a| (a.interface.as_str(), a.program.as_str(), a.object.as_str())).collect();
    assert_eq!(
        hooks,
        [
            ("cilium_host", "cil_from_host", "bpf/bpf_host.o"),
            ("eth0", "cil_from_netdev", "bpf/bpf_host.o"),
            ("lxcdba", "cil_from_container", "bpf/bpf_lxc.o"),
            ("lxcweba", "cil_from_container", "bpf/bpf_lxc.o"),
        ]
    );
    let file = NodeFile::for_node(&cluster, 0);
    assert_eq!((file.overlay_device, file.device.as_deref()), (None, Some("eth0")));
    let constants = LoadConstants::for_node(&cluster, 0);
    assert!(constants.native_routing);
    assert_eq!(constants.pod_mtu, 1500, "pods get the full MTU");
    assert!(bpf::node_config_header(&cluster, 0).contains("#define ROUTEC_NATIVE_ROUTING 1\n"));
}

#[test]
fn another_nodes_pod_is_reached_through_both_devices() {
    let t = run("default/web-a", "default/db-c", 64);
    let hops: Vec<_> =
        t.hops.iter().map(|h| (h.node.as_str(), h.device.as_str(), h.program, h.reason.reason())).collect();
    assert_eq!(
        hops,
        [
            ("native-a", "lxcweba", "cil_from_container", Reason::NativeForward),
            ("native-c", "eth0", "cil_from_netdev", Reason::NetdevDelivery),
        ]
    );
    assert!(t.hops[0].action.starts_with("bpf_redirect_neigh(eth0, next hop 192.168.50.3)"), "{}", t.hops[0].action);
    assert!(t.hops[1].action.contains("TTL 64 -> 63"), "one hop, as through the overlay: {}", t.hops[1].action);
    assert!(matches!(&t.verdict, Verdict::Delivered { pod: Some(pod), .. } if pod == "default/db-c"));
    snapshot_all("native-other-node", &t);
}

#[test]
fn a_free_address_of_the_other_nodes_pod_cidr_is_dropped_there() {
    let t = run("default/web-a", "10.60.2.99", 64);
    assert_eq!(t.hops.len(), 2);
    assert!(matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", reason }
        if node == "native-c" && reason.reason() == Reason::NoEndpoint));
    snapshot_all("native-no-endpoint-remote", &t);
}

#[test]
fn ttl_1_is_dropped_by_the_delivering_node() {
    let t = run("default/web-a", "default/web-b", 1);
    assert_eq!(t.hops[0].reason.reason(), Reason::NativeForward, "the sending node leaves the TTL alone");
    assert!(matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", reason }
        if node == "native-b" && reason.reason() == Reason::TtlExceeded));
}

#[test]
fn another_nodes_router_goes_to_its_stack() {
    let t = run("default/web-a", "10.60.1.1", 64);
    assert!(matches!(&t.verdict, Verdict::ToStack { node, .. } if node == "native-b"));
    assert_eq!(t.hops[1].program, "cil_from_netdev");
}

/// examples/native, with native-c's `cilium_lxc` taking db-c's entry for
/// every address of `spoofed` too: native-c sends from them as an underlay
/// host may, whatever its own source check.
fn view_with_native_c_sending_from(spoofed: &[&str]) -> Snapshot {
    let mut view = view();
    let mut entries = view.lxc_entries("native-c");
    let db_c = view.lxc_lookup("native-c", &EndpointKey::ip("10.60.2.10".parse().unwrap())).unwrap();
    entries.extend(spoofed.iter().map(|ip| (EndpointKey::ip(ip.parse().unwrap()), db_c)));
    view.set_lxc("native-c", entries);
    view
}

#[test]
fn the_underlay_cannot_speak_for_the_delivering_nodes_own_addresses_or_martians() {
    // native-a's router, its sibling pod, a free address of its pod-cidr,
    // then the martians: none reaches web-a through native-a's device.
    let refused = ["10.60.0.1", "10.60.0.11", "10.60.0.99", "127.0.0.1", "0.0.0.1", "224.0.0.1", "255.255.255.255"];
    let view = view_with_native_c_sending_from(&refused);
    let db_c = view.find_pod("default/db-c").unwrap().clone();
    let send = |src: &str| {
        let packet = Packet {
            src: src.parse().unwrap(),
            dst: "10.60.0.10".parse().unwrap(),
            proto: Proto::Icmp,
            port: None,
            ttl: 64,
        };
        trace_packet(&view, &db_c, packet).unwrap()
    };
    for src in refused {
        let t = send(src);
        assert_eq!(t.hops[0].reason.reason(), Reason::NativeForward, "{src}: native-c sends it");
        assert!(
            matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", reason }
                if node == "native-a" && reason.reason() == Reason::UnknownSource),
            "{src}: {:?}",
            t.verdict
        );
    }
    // Another node's pod (web-b) may: native routing does not check which node sent it.
    let view = view_with_native_c_sending_from(&["10.60.1.10"]);
    let packet = Packet {
        src: "10.60.1.10".parse().unwrap(),
        dst: "10.60.0.10".parse().unwrap(),
        proto: Proto::Icmp,
        port: None,
        ttl: 64,
    };
    let t = trace_packet(&view, &db_c, packet).unwrap();
    assert!(t.verdict.is_delivered(), "{:?}", t.verdict);
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("native-sibling-source.txt", render_text(&send("10.60.0.11")));
    });
}

/// examples/dualstack routed natively: ds-worker gains the IPv6 address
/// E0019 requires (ds-worker2 has one).
fn dualstack_native() -> Cluster {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dualstack");
    let mut cluster = routec_compiler::frontend::analyze_path(&path).unwrap().cluster.unwrap();
    cluster.overlay.kind = OverlayKind::None;
    cluster.nodes[0].address6 = Some("fd00:ff::2".parse().unwrap());
    cluster
}

#[test]
fn an_ipv6_packet_for_another_node_leaves_for_its_ipv6_address() {
    let cluster = dualstack_native();
    let snapshot = Snapshot::from_cluster(&cluster);
    let t = trace(&snapshot, "web/frontend-7f9c", "fd00:10:2::20", Proto::Icmp, None, 64).unwrap();
    let hops: Vec<_> = t.hops.iter().map(|h| (h.program, h.reason.reason())).collect();
    assert_eq!(
        hops,
        [("cil_from_container", Reason::NativeForward), ("cil_from_netdev", Reason::NetdevDelivery)],
        "{:?}",
        t.verdict
    );
    assert!(t.hops[0].action.contains("next hop fd00:ff::3"), "{}", t.hops[0].action);
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("native6-cross-node.txt", render_text(&t));
    });
    // Hop limit 1 is the delivering node's to drop, as the TTL is.
    let t = trace(&snapshot, "web/frontend-7f9c", "fd00:10:2::20", Proto::Icmp, None, 1).unwrap();
    assert!(
        matches!(&t.verdict, Verdict::Dropped { program: "cil_from_netdev", reason, .. }
        if reason.reason() == Reason::TtlExceeded),
        "{:?}",
        t.verdict
    );
    // Without its routec_node_ipv6 entry the node has no IPv6 next hop.
    let mut without = Snapshot::from_cluster(&cluster);
    without.set_shared_node_ipv6([]);
    let t = trace(&without, "web/frontend-7f9c", "fd00:10:2::20", Proto::Icmp, None, 64).unwrap();
    assert!(
        matches!(&t.verdict, Verdict::Dropped { program: "cil_from_container", reason, .. }
        if reason.reason() == Reason::NoRoute),
        "{:?}",
        t.verdict
    );
}

#[test]
fn an_underlay_ipv6_packet_from_the_receiving_nodes_own_addresses_or_a_martian_is_refused() {
    // ds-worker's frontend sends from addresses its lxc entry is made to
    // accept: another node's pod may reach postgres on ds-worker2 through
    // its device; ds-worker2's router, a free address of its pod-cidr and
    // ::1 and an IPv4-mapped address may not.
    let sources = [
        ("fd00:10:1::11", true),
        ("fd00:10:2::fe", false),
        ("fd00:10:2::99", false),
        ("::1", false),
        ("::ffff:10.0.0.1", false),
    ];
    let mut view = Snapshot::from_cluster(&dualstack_native());
    let mut entries = view.lxc_entries("ds-worker");
    let frontend = view.lxc_lookup("ds-worker", &EndpointKey::ip("fd00:10:1::10".parse().unwrap())).unwrap();
    entries.extend(sources.iter().map(|(ip, _)| (EndpointKey::ip(ip.parse().unwrap()), frontend)));
    view.set_lxc("ds-worker", entries);
    let sender = view.find_pod("web/frontend-7f9c").unwrap().clone();
    for (src, delivered) in sources {
        let packet = Packet {
            src: src.parse().unwrap(),
            dst: "fd00:10:2::20".parse().unwrap(),
            proto: Proto::Icmp,
            port: None,
            ttl: 64,
        };
        let t = trace_packet(&view, &sender, packet).unwrap();
        assert_eq!(t.hops[0].reason.reason(), Reason::NativeForward, "{src}: ds-worker sends it");
        match delivered {
            true => assert!(t.verdict.is_delivered(), "{src}: {:?}", t.verdict),
            false => assert!(
                matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", reason }
                    if node == "ds-worker2" && reason.reason() == Reason::UnknownSource),
                "{src}: {:?}",
                t.verdict
            ),
        }
    }
}

#[test]
fn every_pair_is_delivered_natively() {
    let m = matrix(&view()).unwrap();
    assert_eq!((m.delivered, m.not_delivered), (12, 0));
    let remote = m.pairs.iter().filter(|p| p.reason.reason() == Reason::NetdevDelivery).count();
    assert_eq!(remote, 10, "all but the two same-node pairs");
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("all-native.txt", render_matrix_text(&m));
    });
}

#[test]
fn gen_writes_valid_native_clusters_in_both_stacks() {
    use routec_compiler::gen::{generate_network, GenOptions, Stack};
    use routec_compiler::model::OverlayKind;
    let opts = GenOptions { nodes: 4, pods_per_node: 10, seed: 1 };
    for stack in [Stack::default(), Stack { dual_stack: true, ipv6_only_percent: 20 }] {
        let mut text = Vec::new();
        generate_network(&opts, stack, OverlayKind::None, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        let analysis = routec_compiler::frontend::analyze_str("gen.route", &text);
        let cluster = analysis.cluster.unwrap_or_else(|| panic!("invalid: {:?}", analysis.diagnostics));
        assert_eq!(cluster.overlay.kind, OverlayKind::None);
        assert_eq!(cluster.nodes.iter().all(|n| n.address6.is_some()), stack.dual_stack, "IPv6 next hops (E0019)");
        assert_eq!(
            routec_compiler::fmt::format_source("gen.route", &text).ok().as_deref(),
            Some(text.as_str()),
            "canonical"
        );
    }
    // VXLAN output is unchanged by the new parameter.
    let mut vxlan = Vec::new();
    generate_network(&opts, Stack::default(), OverlayKind::Vxlan, &mut vxlan).unwrap();
    assert_eq!(String::from_utf8(vxlan).unwrap(), routec_compiler::gen::generate_string(&opts).unwrap());
}
