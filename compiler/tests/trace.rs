//! `routec trace` offline: the reference routes of the mycluster example with
//! their exact key bytes, drops with the datapath's reason codes, the
//! reachability matrix, drift, and snapshots of every rendering.

#[path = "data/trace/mycluster.rs"]
mod mycluster;
mod trace_support;

use std::net::Ipv4Addr;

use routec_compiler::bpf;
use routec_compiler::layout::{EndpointKey, IpcacheKey, Reason, RemoteEndpointInfo};
use routec_compiler::model::OverlayKind;
use routec_compiler::trace::{
    drift, matrix, render_drift_text, render_matrix_text, render_svg, render_text, trace, Datapath, DriftKind, Ipcache,
    LookupValue, Mode, Proto, Snapshot, Trace, TraceError, Verdict,
};
use trace_support::{run, snapshot_all};

const ROUTE1_LXC_KEY: &str = "0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00";
const ROUTE2_IPCACHE_KEY: &str = "40 00 00 00 00 00 00 01 0a 0a 01 9b 00 00 00 00 00 00 00 00 00 00 00 00";
const ROUTE2_IPCACHE_VALUE: &str = "94 28 00 00 ac 12 00 04 00 00 00 00";
const ROUTE2_REMOTE_LXC_KEY: &str = "0a 0a 01 9b 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00";

fn view() -> Snapshot {
    Snapshot::from_cluster(&mycluster::mycluster())
}

fn reason_of(trace: &Trace) -> Reason {
    trace.verdict.reason().reason()
}

#[test]
fn route1_same_node_is_local_delivery() {
    let t = run("10.10.2.117", "10.10.2.121", 64);
    assert_eq!(t.hops.len(), 1);
    let hop = &t.hops[0];
    assert_eq!((hop.node.as_str(), hop.device.as_str(), hop.ifindex), ("mycluster-worker", "lxc4a891387ff1a", Some(9)));
    assert_eq!(hop.program, "cil_from_container");
    // The source check, then the destination lookup with the reference key.
    assert_eq!(hop.lookups.len(), 2);
    assert_eq!(hop.lookups[0].purpose, "source");
    assert!(hop.lookups[0].hit);
    let dst = &hop.lookups[1];
    assert_eq!((dst.map, dst.purpose, dst.hit), ("cilium_lxc", "destination", true));
    assert_eq!(dst.key_hex, ROUTE1_LXC_KEY);
    assert_eq!(
        dst.key_hex,
        routec_compiler::seeds::hex_bytes(&EndpointKey::ipv4(Ipv4Addr::new(10, 10, 2, 121)).to_bytes())
    );
    match &dst.value {
        Some(LookupValue::Endpoint { endpoint, ifindex, mac, node_mac, .. }) => {
            assert_eq!((*endpoint, *ifindex), (1587, 11));
            assert_eq!((mac.as_str(), node_mac.as_str()), ("ea:c4:71:d6:4f:a0", "f6:87:b6:c3:a6:45"));
        }
        other => panic!("expected an endpoint value, got {other:?}"),
    }
    assert_eq!(hop.reason.code, Reason::LocalDelivery.code());
    assert!(hop.action.contains("Ethernet source f6:87:b6:c3:a6:45 destination ea:c4:71:d6:4f:a0"));
    match &t.verdict {
        Verdict::Delivered { node, lxc, endpoint, pod, .. } => {
            assert_eq!(node, "mycluster-worker");
            assert_eq!(lxc.as_deref(), Some("lxc5b7b34955e61"));
            assert_eq!(*endpoint, 1587);
            assert_eq!(pod.as_deref(), Some("networking101/netshoot-7d996d7884-fwt8z"));
        }
        other => panic!("expected delivery, got {other:?}"),
    }
    let text = render_text(&t);
    assert!(text.contains(ROUTE1_LXC_KEY));
    snapshot_all("route1-local", &t);
}

#[test]
fn route2_other_node_goes_through_the_tunnel() {
    let t = trace(
        &view(),
        "networking101/busybox-c8bbbbb84-t6ggh",
        "networking101/netshoot-7d996d7884-gcxrm",
        Proto::Icmp,
        None,
        64,
    )
    .unwrap();
    assert_eq!(t.hops.len(), 2);
    let first = &t.hops[0];
    assert_eq!(
        (first.node.as_str(), first.program, first.device.as_str()),
        ("mycluster-worker", "cil_from_container", "lxc4a891387ff1a")
    );
    assert_eq!(first.lookups.len(), 3);
    assert_eq!((first.lookups[1].map, first.lookups[1].hit), ("cilium_lxc", false));
    let ipcache = &first.lookups[2];
    assert_eq!((ipcache.map, ipcache.match_kind, ipcache.hit), ("cilium_ipcache", "longest-prefix", true));
    assert_eq!(ipcache.key_hex, ROUTE2_IPCACHE_KEY);
    assert_eq!(ipcache.matched_key_hex.as_deref(), Some(ROUTE2_IPCACHE_KEY));
    assert_eq!(ipcache.value_hex.as_deref(), Some(ROUTE2_IPCACHE_VALUE));
    assert_eq!(
        ipcache.value,
        Some(LookupValue::Remote {
            identity: 10388,
            identity_name: None,
            tunnel_endpoint: Some(Ipv4Addr::new(172, 18, 0, 4))
        })
    );
    assert_eq!(first.reason.code, Reason::TunnelEncap.code());
    assert!(first.action.contains("outer IPv4 172.18.0.2 -> 172.18.0.4 TTL 64, UDP 8472, VNI 0"), "{}", first.action);
    assert!(first.action.contains("bpf_redirect_neigh(eth0, next hop 172.18.0.4)"), "{}", first.action);

    let second = &t.hops[1];
    assert_eq!(
        (second.node.as_str(), second.program, second.device.as_str()),
        ("mycluster-worker2", "cil_from_netdev", "eth0")
    );
    // The outer source is worker (a node), the inner source worker's pod.
    assert_eq!(second.lookups.len(), 3);
    let (tunnel_source, inner_source) = (&second.lookups[0], &second.lookups[1]);
    assert_eq!(
        (tunnel_source.map, tunnel_source.purpose, tunnel_source.hit),
        ("cilium_ipcache", "tunnel source", true)
    );
    assert_eq!(tunnel_source.matched_key.as_deref(), Some("172.18.0.2/32"));
    assert_eq!((inner_source.purpose, inner_source.matched_key.as_deref()), ("source", Some("10.10.2.117/32")));
    assert_eq!(second.lookups[2].key_hex, ROUTE2_REMOTE_LXC_KEY);
    assert!(second.lookups[2].hit);
    assert_eq!(second.reason.code, Reason::OverlayDelivery.code());
    match &t.verdict {
        Verdict::Delivered { node, lxc, endpoint, .. } => {
            assert_eq!(
                (node.as_str(), lxc.as_deref(), *endpoint),
                ("mycluster-worker2", Some("lxc174c023046ff"), 3564)
            );
        }
        other => panic!("expected delivery, got {other:?}"),
    }
    let text = render_text(&t);
    assert!(text.contains(ROUTE2_IPCACHE_KEY) && text.contains(ROUTE2_REMOTE_LXC_KEY));
    snapshot_all("route2-tunnel", &t);
}

#[test]
fn no_pod_on_the_source_node_is_no_endpoint() {
    let t = run("10.10.2.117", "10.10.2.200", 64);
    assert_eq!(t.hops.len(), 1);
    assert_eq!(reason_of(&t), Reason::NoEndpoint);
    assert_eq!(t.verdict.reason().code, 134);
    assert!(
        matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_container", .. } if node == "mycluster-worker")
    );
    // The /24 of the node's own pod-cidr matched: prefixlen 32 + 24 = 0x38.
    assert_eq!(
        t.hops[0].lookups[2].matched_key_hex.as_deref(),
        Some("38 00 00 00 00 00 00 01 0a 0a 02 00 00 00 00 00 00 00 00 00 00 00 00 00")
    );
    snapshot_all("drop-no-endpoint-local", &t);
}

#[test]
fn no_pod_on_another_node_is_encapsulated_then_no_endpoint() {
    let t = run("10.10.2.117", "10.10.1.200", 64);
    assert_eq!(t.hops.len(), 2);
    assert_eq!(t.hops[0].reason.code, Reason::TunnelEncap.code());
    assert_eq!(t.hops[1].program, "cil_from_netdev");
    assert!(!t.hops[1].lookups[2].hit);
    assert_eq!(reason_of(&t), Reason::NoEndpoint);
    assert!(
        matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", .. } if node == "mycluster-worker2")
    );
    snapshot_all("drop-no-endpoint-remote", &t);
}

#[test]
fn outside_every_prefix_is_no_route() {
    let t = run("10.10.2.117", "192.168.99.1", 64);
    assert_eq!(reason_of(&t), Reason::NoRoute);
    assert_eq!(t.verdict.reason().code, 132);
    assert!(!t.hops[0].lookups[2].hit);
    snapshot_all("drop-no-route", &t);
}

#[test]
fn node_address_goes_to_the_stack_or_lacks_a_tunnel() {
    // Own node address: host entry in cilium_lxc.
    let own = run("10.10.2.117", "172.18.0.2", 64);
    assert_eq!(reason_of(&own), Reason::ToStack);
    let router = run("10.10.2.117", "10.10.2.1", 64);
    assert_eq!(reason_of(&router), Reason::ToStack);
    // Another node's address: the /32 remote-node entry has no tunnel endpoint.
    let other = run("10.10.2.117", "172.18.0.4", 64);
    assert_eq!(reason_of(&other), Reason::NoTunnelEndpoint);
    // A node's name stands for its address.
    assert_eq!(run("10.10.2.117", "mycluster-worker", 64).packet.dst, Ipv4Addr::new(172, 18, 0, 2));
    assert_eq!(reason_of(&run("10.10.2.117", "mycluster-worker2", 64)), Reason::NoTunnelEndpoint);
}

#[test]
fn node_stack_to_its_pod_is_host_delivery() {
    let t = run("mycluster-worker", "networking101/netshoot-7d996d7884-fwt8z", 64);
    assert_eq!(t.packet.src, Ipv4Addr::new(10, 10, 2, 1), "the stack sends from the router address");
    assert_eq!(t.hops.len(), 1);
    let hop = &t.hops[0];
    assert_eq!((hop.program, hop.device.as_str(), hop.hook), ("cil_from_host", "cilium_host", "tc egress"));
    assert_eq!(hop.lookups[0].key_hex, ROUTE1_LXC_KEY);
    assert_eq!(reason_of(&t), Reason::HostDelivery);
    assert!(hop.action.contains("TTL untouched"));
    snapshot_all("node-host-delivery", &t);

    assert_eq!(reason_of(&run("mycluster-worker", "10.10.2.200", 64)), Reason::NoEndpoint);
    // The router address itself is a host entry: cil_from_host drops it.
    assert_eq!(reason_of(&run("mycluster-worker", "10.10.2.1", 64)), Reason::NoEndpoint);
    let err = trace(&view(), "mycluster-worker", "10.10.1.155", Proto::Icmp, None, 64).unwrap_err();
    assert_eq!(
        err.to_string(),
        "node mycluster-worker sends 10.10.1.155 through its own stack, not its datapath: only its pod-cidr 10.10.2.0/24 is routed to cilium_host"
    );
}

#[test]
fn undeclared_ifindex_passes_the_source_check_offline() {
    // busybox-fmhwc declares no ifindex: its seed entry has ifindex 0.
    let t = run("networking101/busybox-c8bbbbb84-fmhwc", "10.10.2.121", 64);
    let check = t.hops[0].lookups[0].check.as_deref().unwrap();
    assert!(check.contains("filled by the loader"), "{check}");
    assert!(t.verdict.is_delivered());
    snapshot_all("undeclared-ifindex", &t);
}

#[test]
fn live_ifindex_mismatch_is_unknown_source() {
    let mut live = view();
    live.mode = Mode::Live;
    // The kernel says the sender's lxc is ifindex 9, but it sits behind 12.
    assert!(live.set_pod_ifindex(Ipv4Addr::new(10, 10, 2, 117).into(), Some(12)));
    let t = trace(&live, "10.10.2.117", "10.10.2.121", Proto::Icmp, None, 64).unwrap();
    assert_eq!(reason_of(&t), Reason::UnknownSource);
    assert_eq!(t.hops[0].lookups.len(), 1);
}

#[test]
fn ttl_is_checked_where_it_is_decremented() {
    // Encapsulation leaves the TTL alone; the receiving node checks it.
    let t = trace(&view(), "10.10.2.117", "10.10.1.155", Proto::Icmp, None, 1).unwrap();
    assert_eq!(t.hops[0].reason.code, Reason::TunnelEncap.code());
    assert_eq!(reason_of(&t), Reason::TtlExceeded);
    assert!(
        matches!(&t.verdict, Verdict::Dropped { node, program: "cil_from_netdev", .. } if node == "mycluster-worker2")
    );
    let t = trace(&view(), "10.10.2.117", "10.10.2.121", Proto::Icmp, None, 2).unwrap();
    assert!(t.verdict.is_delivered());
    assert!(t.hops[0].action.contains("TTL 2 -> 1"));
}

#[test]
fn ttl_one_is_exceeded_at_delivery() {
    let t = trace(&view(), "10.10.2.117", "10.10.2.121", Proto::Icmp, None, 1).unwrap();
    assert_eq!(reason_of(&t), Reason::TtlExceeded);
}

#[test]
fn wrong_vni_on_the_receiving_node() {
    let mut v = view();
    v.nodes.iter_mut().find(|n| n.name == "mycluster-worker2").unwrap().constants.vni = 7;
    let t = trace(&v, "10.10.2.117", "10.10.1.155", Proto::Icmp, None, 64).unwrap();
    assert_eq!(reason_of(&t), Reason::WrongVni);
    assert_eq!(t.hops[1].checks, vec!["tunnel id 0 != VNI 7".to_string()]);
}

#[test]
fn tcp_port_is_carried() {
    let t = trace(&view(), "10.10.2.117", "10.10.1.155", Proto::Tcp, Some(80), 64).unwrap();
    assert!(t.verdict.is_delivered());
    assert!(render_text(&t).contains("tcp port 80"));
}

#[test]
fn bad_endpoints_are_errors() {
    let v = view();
    assert_eq!(
        trace(&v, "10.10.2.200", "10.10.2.121", Proto::Icmp, None, 64).unwrap_err(),
        TraceError::UnknownSource("10.10.2.200".into())
    );
    assert_eq!(
        trace(&v, "10.10.2.117", "ns/nope", Proto::Icmp, None, 64).unwrap_err(),
        TraceError::UnknownDestination("ns/nope".into())
    );
    assert_eq!(
        trace(&v, "10.10.2.117", "10.10.2.121", Proto::Icmp, Some(80), 64).unwrap_err(),
        TraceError::PortWithoutTransport
    );
    assert_eq!(trace(&v, "10.10.2.117", "10.10.2.121", Proto::Icmp, None, 0).unwrap_err(), TraceError::ZeroTtl);
    assert_eq!(
        trace(&v, "10.10.2.117", "networking101/busybox-c8bbbbb84-t6ggh", Proto::Icmp, None, 64).unwrap_err(),
        TraceError::ToItself("networking101/busybox-c8bbbbb84-t6ggh".into())
    );
}

#[test]
fn all_pairs_matrix() {
    let m = matrix(&view()).unwrap();
    assert_eq!(m.pairs.len(), 12);
    assert_eq!(m.delivered, 12);
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("all-mycluster.txt", render_matrix_text(&m));
        insta::assert_json_snapshot!("all-mycluster.json", m);
    });
}

#[test]
fn a_matrix_too_large_to_hold_is_a_clear_error() {
    let options = routec_compiler::gen::GenOptions { nodes: 100, pods_per_node: 30, seed: 1 };
    let text = routec_compiler::gen::generate_string(&options).unwrap();
    let cluster = routec_compiler::frontend::analyze_str("big.route", &text).cluster.unwrap();
    let err = matrix(&Snapshot::from_cluster(&cluster)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--all on 3000 pods is 8997000 pairs, more than the 4194304 a matrix holds: \
         trace single pairs, or a smaller cluster"
    );
}

#[test]
fn matrix_reports_drops() {
    // Remove worker2's entry for 10.10.1.155: packets to it die there, and its
    // own packets fail the source check.
    let cluster = mycluster::mycluster();
    let mut v = Snapshot::from_cluster(&cluster);
    let kept: Vec<_> = v
        .lxc_entries("mycluster-worker2")
        .into_iter()
        .filter(|(k, _)| k.ip4() != Ipv4Addr::new(10, 10, 1, 155))
        .collect();
    v.set_lxc("mycluster-worker2", kept);
    let m = matrix(&v).unwrap();
    assert_eq!(m.not_delivered, 6);
    let gone = std::net::IpAddr::from(Ipv4Addr::new(10, 10, 1, 155));
    for pair in m.pairs.iter().filter(|p| p.result == "dropped") {
        match pair.reason.name {
            "no-endpoint" => assert_eq!((pair.dst_ip, pair.node.as_str()), (gone, "mycluster-worker2")),
            "unknown-source" => assert_eq!(pair.src_ip, gone),
            other => panic!("unexpected drop {other}"),
        }
    }
    let text = render_matrix_text(&m);
    assert!(text.contains("dropped on mycluster-worker2: no-endpoint (134)"), "{text}");
}

#[test]
fn drift_modulo_loader_filled_fields() {
    let expected = view();
    let mut live = view();
    live.mode = Mode::Live;
    // The loader fills busybox-fmhwc's ifindex and MACs: not drift.
    let filled: Vec<_> = live
        .lxc_entries("mycluster-worker2")
        .into_iter()
        .map(|(k, mut v)| {
            if k.ip4() == Ipv4Addr::new(10, 10, 1, 164) {
                v.ifindex = 8;
                v.mac = [2, 0, 0, 0, 0, 1, 0, 0];
                v.node_mac = [2, 0, 0, 0, 0, 2, 0, 0];
            }
            (k, v)
        })
        .collect();
    live.set_lxc("mycluster-worker2", filled.clone());
    let clean = drift(&expected, &live);
    assert!(clean.is_clean(), "{:?}", clean.drift);
    assert_eq!(render_drift_text(&clean), format!("drift: none ({} entries compared)\n", clean.compared));

    // A declared ifindex that differs is drift; a deleted entry is missing;
    // an extra entry is stale; an ipcache value changed is different.
    let mut changed: Vec<_> = filled
        .into_iter()
        .filter(|(k, _)| k.ip4() != Ipv4Addr::new(10, 10, 1, 164))
        .map(|(k, mut v)| {
            if k.ip4() == Ipv4Addr::new(10, 10, 1, 155) {
                v.ifindex = 12;
            }
            (k, v)
        })
        .collect();
    let extra = changed[0];
    changed.push((EndpointKey::ipv4(Ipv4Addr::new(10, 10, 1, 99)), extra.1));
    live.set_lxc("mycluster-worker2", changed);
    let mut ipcache = expected.ipcache("mycluster-worker").unwrap().entries();
    for (k, v) in &mut ipcache {
        if *k == IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 32) {
            *v = RemoteEndpointInfo::new(10388, Some(Ipv4Addr::new(172, 18, 0, 3)));
        }
    }
    live.set_ipcache("mycluster-worker", std::sync::Arc::new(Ipcache::new(ipcache)));
    let report = drift(&expected, &live);
    let summary: Vec<_> =
        report.drift.iter().map(|d| (d.node.as_str(), d.map, d.kind, d.key.as_str(), d.fields.clone())).collect();
    assert_eq!(
        summary,
        vec![
            ("mycluster-worker", "cilium_ipcache", DriftKind::Different, "10.10.1.155/32", vec!["tunnel_endpoint"]),
            ("mycluster-worker2", "cilium_lxc", DriftKind::Stale, "10.10.1.99", vec![]),
            ("mycluster-worker2", "cilium_lxc", DriftKind::Different, "10.10.1.155", vec!["ifindex"]),
            ("mycluster-worker2", "cilium_lxc", DriftKind::Missing, "10.10.1.164", vec![]),
        ]
    );
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("drift-mycluster.txt", render_drift_text(&report));
    });
}

#[test]
fn hand_built_model_is_the_parsed_example() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster/cluster.route");
    let analysis = routec_compiler::frontend::analyze_path(&path).unwrap();
    assert_eq!(analysis.cluster.as_ref(), Some(&mycluster::mycluster()));
}

#[test]
fn large_cluster_svg_draws_the_path_part() {
    use routec_compiler::gen::{generate_string, GenOptions};
    let text = generate_string(&GenOptions { nodes: 6, pods_per_node: 20, seed: 3 }).unwrap();
    let cluster = routec_compiler::frontend::analyze_str("gen.route", &text).cluster.unwrap();
    let v = Snapshot::from_cluster(&cluster);
    let (src, dst) = (&cluster.pods[0], &cluster.pods[100]);
    let t = trace(&v, &src.name, &dst.name, Proto::Icmp, None, 64).unwrap();
    assert!(t.verdict.is_delivered());
    let svg = render_svg(&v, &t);
    assert!(svg.contains("; 4 nodes off the path not drawn"), "only the two nodes on the path");
    assert_eq!(svg.matches("+ 19 more pods, not on this path").count(), 2);
    assert!(svg.contains(&src.name) && svg.contains(&dst.name));
    assert!(!svg.contains(&cluster.pods[1].name));
    for hidden in ["node-1", "node-2", "node-3", "node-4"] {
        assert!(!svg.contains(hidden), "{hidden} is off the path");
    }
}

#[test]
fn a_cluster_the_build_refuses_is_not_traced() {
    for kind in [OverlayKind::Geneve] {
        let mut cluster = mycluster::mycluster();
        cluster.overlay.kind = kind;
        let refused = TraceError::Unsupported(bpf::check_supported(&cluster).unwrap_err());
        let v = Snapshot::from_cluster(&cluster);
        for (src, dst) in
            [("10.10.2.117", "10.10.1.155"), ("10.10.2.117", "10.10.2.121"), ("mycluster-worker", "10.10.2.117")]
        {
            let err = trace(&v, src, dst, Proto::Icmp, None, 64).unwrap_err();
            assert_eq!(err, refused, "{src} -> {dst}");
        }
        assert_eq!(matrix(&v).unwrap_err(), refused);
        assert_eq!(
            refused.to_string(),
            format!(
                "no datapath to trace: the datapath does not support `overlay {}` yet ({})",
                kind.as_str(),
                bpf::check_supported(&cluster).unwrap_err().why
            )
        );
    }
}

/// The boxes (x, y, width, height) of the SVG's `<rect>`s with `rx="{rx}"`,
/// and their fills.
fn svg_rects(svg: &str, rx: &str) -> Vec<([i32; 4], String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[start..].split('"').next().map(str::to_string)
    };
    svg.lines()
        .filter(|l| l.starts_with("<rect ") && attr(l, "rx").as_deref() == Some(rx))
        .map(|l| {
            let n = |name| attr(l, name).unwrap().parse::<i32>().unwrap();
            let fill = attr(l, "fill").unwrap();
            ([n("x"), n("y"), n("width"), n("height")], fill)
        })
        .collect()
}

#[test]
fn svg_labels_never_cover_a_pod_or_device_box() {
    let v = view();
    let pods: Vec<String> = v.pods().iter().flat_map(|p| p.ip).map(|ip| ip.to_string()).collect();
    let mut cases = Vec::new();
    for src in &pods {
        for dst in pods.iter().chain(&[
            "10.10.2.200".to_string(),
            "10.10.1.200".to_string(),
            "192.0.2.1".to_string(),
            "172.18.0.4".to_string(),
            "10.10.2.1".to_string(),
        ]) {
            if src != dst {
                cases.push((src.clone(), dst.clone(), 64));
                cases.push((src.clone(), dst.clone(), 1));
            }
        }
    }
    for node in ["mycluster-worker", "mycluster-worker2"] {
        for dst in ["10.10.2.117", "10.10.2.121", "10.10.2.200", "10.10.1.155", "10.10.1.200"] {
            cases.push((node.to_string(), dst.to_string(), 64));
        }
    }
    let mut labels_seen = 0;
    for (src, dst, ttl) in &cases {
        let Ok(t) = trace(&v, src, dst, Proto::Icmp, None, *ttl) else {
            continue;
        };
        let svg = render_svg(&v, &t);
        let boxes: Vec<[i32; 4]> = svg_rects(&svg, "6")
            .into_iter()
            .filter(|(_, fill)| fill == "#eceff1" || fill == "white")
            .map(|(b, _)| b)
            .collect();
        let labels = svg_rects(&svg, "3");
        assert_eq!(labels.len(), t.hops.len(), "{src} -> {dst}: one label a hop");
        for ([lx, ly, lw, lh], _) in &labels {
            for [bx, by, bw, bh] in &boxes {
                let apart = lx + lw <= *bx || bx + bw <= *lx || ly + lh <= *by || by + bh <= *ly;
                assert!(
                    apart,
                    "{src} -> {dst} TTL {ttl}: label at ({lx}, {ly}) {lw}x{lh} covers the box at ({bx}, {by}) {bw}x{bh}"
                );
            }
        }
        labels_seen += labels.len();
    }
    assert!(labels_seen > 80, "only {labels_seen} labels checked");
}

/// UDP to a node's overlay port never reaches a node's VXLAN socket from a
/// pod: refused where the pod sends it, or (another node's router address,
/// reached only through the tunnel) where the tunnel ends.
#[test]
fn udp_to_an_overlay_port_of_a_node_is_refused() {
    let cases = [
        ("mycluster-worker", Proto::Udp, Some(8472), Reason::OverlayPort, "mycluster-worker", "cil_from_container"),
        ("10.10.2.1", Proto::Udp, Some(8472), Reason::OverlayPort, "mycluster-worker", "cil_from_container"),
        ("mycluster-worker2", Proto::Udp, Some(8472), Reason::OverlayPort, "mycluster-worker", "cil_from_container"),
        ("10.10.1.1", Proto::Udp, Some(8472), Reason::OverlayPort, "mycluster-worker2", "cil_from_netdev"),
        // Other ports, other protocols, and pods on the port are untouched.
        ("mycluster-worker", Proto::Udp, Some(53), Reason::ToStack, "mycluster-worker", "cil_from_container"),
        ("mycluster-worker", Proto::Tcp, Some(8472), Reason::ToStack, "mycluster-worker", "cil_from_container"),
        ("10.10.1.1", Proto::Icmp, None, Reason::ToStack, "mycluster-worker2", "cil_from_netdev"),
        ("mycluster-worker2", Proto::Udp, Some(53), Reason::NoTunnelEndpoint, "mycluster-worker", "cil_from_container"),
        ("10.10.2.121", Proto::Udp, Some(8472), Reason::LocalDelivery, "mycluster-worker", "cil_from_container"),
        ("10.10.1.155", Proto::Udp, Some(8472), Reason::OverlayDelivery, "mycluster-worker2", "cil_from_netdev"),
    ];
    for (dst, proto, port, reason, node, program) in cases {
        let t = trace(&view(), "10.10.2.117", dst, proto, port, 64).unwrap();
        let hop = t.hops.last().unwrap();
        assert_eq!(
            (reason_of(&t), hop.node.as_str(), hop.program),
            (reason, node, program),
            "{dst} {proto:?} {port:?}"
        );
    }
    let t = trace(&view(), "10.10.2.117", "10.10.1.1", Proto::Udp, Some(8472), 64).unwrap();
    assert_eq!(t.hops[0].reason.code, Reason::TunnelEncap.code());
    assert!(t.hops[1].action.contains("10.10.1.1 is mycluster-worker2's own address"), "{}", t.hops[1].action);
}

/// cil_from_overlay takes packets only from other nodes, and from each node
/// only for its own endpoints: here the maps disagree with the constants.
#[test]
fn the_overlay_checks_the_outer_and_the_inner_source() {
    // worker sends from an address the ipcache does not know as a node.
    let mut v = view();
    v.nodes.iter_mut().find(|n| n.name == "mycluster-worker").unwrap().constants.node_ipv4 =
        Ipv4Addr::new(172, 18, 0, 99);
    let t = trace(&v, "10.10.2.117", "10.10.1.155", Proto::Icmp, None, 64).unwrap();
    assert_eq!(reason_of(&t), Reason::UnknownTunnelSource);
    assert_eq!(t.hops[1].lookups[0].check.as_deref(), Some("172.18.0.99 is no node of the cluster"));

    // The ipcache says 10.10.2.117 lives behind the control plane.
    let mut v = view();
    let mut entries = v.ipcache("mycluster-worker").unwrap().entries();
    let moved = IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 2, 117), 32);
    for (key, value) in &mut entries {
        if *key == moved {
            *value = RemoteEndpointInfo::new(value.sec_identity, Some(Ipv4Addr::new(172, 18, 0, 3)));
        }
    }
    v.set_shared_ipcache(entries);
    let t = trace(&v, "10.10.2.117", "10.10.1.155", Proto::Icmp, None, 64).unwrap();
    assert_eq!(reason_of(&t), Reason::InnerSourceMismatch);
    assert_eq!(t.hops[1].lookups[1].check.as_deref(), Some("tunnel endpoint 172.18.0.3 != outer source 172.18.0.2"));
}
