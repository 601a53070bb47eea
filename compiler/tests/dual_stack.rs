//! Dual stack end to end in the compiler: examples/dualstack through the
//! model, its seeds (both families, exact key bytes), `decode`, the build's
//! cluster.json, offline traces of IPv6 pairs (snapshots of every rendering),
//! and `gen --dual-stack` clusters.

mod trace_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use routec_compiler::decode::{decode_text, Decoded, MapKind};
use routec_compiler::frontend::analyze_str;
use routec_compiler::gen::{generate_stack_string, generate_string, GenOptions, Stack};
use routec_compiler::layout::{EndpointKey, IpcacheKey, Reason, FAMILY_IPV6, IDENTITY_WORLD};
use routec_compiler::model::Cluster;
use routec_compiler::seeds::{hex_bytes, ipcache_entries, lxc_entries, render_seed};
use routec_compiler::trace::{
    drift, matrix, matrix6, render_matrices_text, render_text, trace, trace_packet, Datapath, Family, Packet, Proto,
    Snapshot, TraceError, Verdict,
};
use trace_support::{run, snapshot_all};

fn example_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dualstack/cluster.route");
    std::fs::read_to_string(path).unwrap()
}

fn example() -> Cluster {
    let analysis = analyze_str("cluster.route", &example_text());
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    analysis.cluster.unwrap()
}

fn v6(text: &str) -> Ipv6Addr {
    text.parse().unwrap()
}

#[test]
fn the_model_has_both_families_and_the_ipv6_router_defaults() {
    let c = example();
    let (worker, worker2) = (&c.nodes[0], &c.nodes[1]);
    assert_eq!(worker.pod_cidr6.unwrap().to_string(), "fd00:10:1::/64");
    assert_eq!(worker.router6, Some(v6("fd00:10:1::1")), "network + 1");
    assert_eq!(worker.address6, None);
    assert_eq!(worker2.router6, Some(v6("fd00:10:2::fe")), "as declared");
    assert_eq!(worker2.address6, Some(v6("fd00:ff::3")));
    let v6only = c.pods.iter().find(|p| p.name == "web/v6only-6c8d").unwrap();
    assert_eq!((v6only.ip, v6only.ip6), (None, Some(v6("fd00:10:1::12"))));
    let legacy = c.pods.iter().find(|p| p.name == "db/legacy-0").unwrap();
    assert_eq!((legacy.ip, legacy.ip6), (Some(Ipv4Addr::new(10, 20, 2, 21)), None));
    c.check_well_formed().unwrap();
}

#[test]
fn cluster_json_carries_the_ipv6_facts_and_reads_back() {
    let c = example();
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains(r#""pod_cidr6":"fd00:10:1::/64""#), "{json}");
    assert!(json.contains(r#""ip6":"fd00:10:1::12""#), "{json}");
    // An IPv6-only pod has no `ip` field at all; an IPv4-only one no `ip6`.
    let v6only = serde_json::to_value(c.pods.iter().find(|p| p.ip.is_none()).unwrap()).unwrap();
    assert!(v6only.get("ip").is_none());
    let back: Cluster = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn seeds_hold_both_families_with_the_layout_of_datapath_md() {
    let c = example();
    let worker = 0;
    let lxc = lxc_entries(&c, worker);
    let key_of = |ip: IpAddr| lxc.iter().find(|(k, _)| *k == EndpointKey::ip(ip)).map(|(_, v)| *v);
    let frontend = key_of(IpAddr::V6(v6("fd00:10:1::10"))).expect("the IPv6 endpoint");
    assert_eq!(Some(frontend), key_of(IpAddr::V4(Ipv4Addr::new(10, 20, 1, 10))), "one endpoint, two keys");
    assert_eq!((frontend.lxc_id, frontend.sec_id, frontend.ifindex), (101, 20001, 9));
    assert!(key_of(IpAddr::V6(v6("fd00:10:1::1"))).unwrap().is_host(), "the IPv6 router is a host entry");
    // 5 pod addresses on ds-worker, its address, its two routers.
    assert_eq!(lxc.len(), 5 + 3);

    let ipcache = ipcache_entries(&c);
    let find = |key: IpcacheKey| ipcache.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let pod = find(IpcacheKey::host(IpAddr::V6(v6("fd00:10:2::20")))).expect("a /128 per IPv6 pod");
    assert_eq!((pod.sec_identity, pod.tunnel_endpoint()), (20004, Some(Ipv4Addr::new(172, 18, 0, 3))));
    let cidr = find(IpcacheKey::ip(IpAddr::V6(v6("fd00:10:2::")), 64)).expect("an entry per IPv6 pod-cidr");
    assert_eq!((cidr.sec_identity, cidr.tunnel_endpoint()), (IDENTITY_WORLD, Some(Ipv4Addr::new(172, 18, 0, 3))));
    assert!(find(IpcacheKey::host(IpAddr::V6(v6("fd00:ff::3")))).is_some(), "the node's IPv6 address");
    // The exact bytes of the /64 line.
    let line = render_seed(&[(IpcacheKey::ip(IpAddr::V6(v6("fd00:10:2::")), 64), cidr)]);
    assert_eq!(
        line,
        "key hex 60 00 00 00 00 00 00 02 fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 00 value hex 02 00 00 00 ac 12 00 03 00 00 00 00\n"
    );
    insta::with_settings!({snapshot_path => "../../snapshots/build", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("seeds-dualstack-ipcache", render_seed(&ipcache));
        insta::assert_snapshot!("seeds-dualstack-lxc-ds-worker", render_seed(&lxc));
    });
}

#[test]
fn decode_reads_ipv6_keys_of_both_maps() {
    let c = example();
    let lxc = render_seed(&lxc_entries(&c, 0));
    let decoded = decode_text(MapKind::Lxc, &lxc).unwrap();
    let ipv6: Vec<&str> = decoded
        .iter()
        .filter_map(|d| match d {
            Decoded::Lxc(f) if f.family == FAMILY_IPV6 => Some(f.ip.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ipv6, ["fd00:10:1::1", "fd00:10:1::10", "fd00:10:1::11", "fd00:10:1::12"]);
    let ipcache = render_seed(&ipcache_entries(&c));
    let prefixes: Vec<String> = decode_text(MapKind::Ipcache, &ipcache)
        .unwrap()
        .into_iter()
        .filter_map(|d| match d {
            Decoded::Ipcache(f) if f.family == FAMILY_IPV6 => Some(format!("{} {}", f.prefix?, f.prefixlen)),
            _ => None,
        })
        .collect();
    assert!(prefixes.contains(&"fd00:10:2::/64 96".to_string()), "{prefixes:?}");
    assert!(prefixes.contains(&"fd00:10:2::20/128 160".to_string()), "{prefixes:?}");
}

fn view() -> Snapshot {
    Snapshot::from_cluster(&example())
}

#[test]
fn ipv6_same_node_is_local_delivery() {
    let t = run("web/frontend-7f9c", "fd00:10:1::11", 64);
    assert_eq!(t.packet.family(), Family::Ipv6);
    assert_eq!(t.verdict.reason().reason(), Reason::LocalDelivery);
    assert_eq!(t.hops[0].lookups[0].key_hex, hex_bytes(&EndpointKey::ip(IpAddr::V6(v6("fd00:10:1::10"))).to_bytes()));
    snapshot_all("ipv6-same-node", &t);
}

#[test]
fn ipv6_across_nodes_goes_through_the_ipv4_tunnel() {
    let t = run("fd00:10:1::12", "db/postgres-0", 64);
    assert_eq!(t.hops.len(), 2);
    assert!(t.hops[0].action.contains("-> 172.18.0.3"), "{}", t.hops[0].action);
    assert_eq!((t.hops[1].program, t.hops[1].device.as_str()), ("cil_from_overlay", "cilium_vxlan"));
    assert!(
        matches!(&t.verdict, Verdict::Delivered { ip, reason, .. } if *ip == IpAddr::V6(v6("fd00:10:2::20")) && reason.reason() == Reason::OverlayDelivery)
    );
    snapshot_all("ipv6-other-node", &t);
}

#[test]
fn ipv6_hop_limit_1_is_dropped_with_a_reason() {
    let t = run("web/frontend-7f9c", "fd00:10:2::20", 1);
    assert_eq!(t.verdict.reason().reason(), Reason::TtlExceeded);
    assert_eq!(t.hops.last().unwrap().checks.last().unwrap(), "hop limit 1 <= 1");
    snapshot_all("ipv6-hop-limit-1", &t);
}

#[test]
fn ipv6_outside_every_prefix_is_no_route() {
    let t = run("web/frontend-7f9c", "2001:db8::1", 64);
    assert_eq!(t.verdict.reason().reason(), Reason::NoRoute);
    assert_eq!(t.hops[0].lookups.last().unwrap().key, "2001:db8::1/128 (prefixlen 160)");
    snapshot_all("ipv6-no-route", &t);
}

#[test]
fn ipv6_link_scope_is_dropped_before_the_source_check() {
    // Multicast, link-local and unspecified destinations, as lib/lxc6.h drops them.
    for dst in ["ff02::1", "ff0e::1", "fe80::1", "febf::1", "::"] {
        let t = run("web/frontend-7f9c", dst, 64);
        assert_eq!(t.hops.len(), 1, "{dst}");
        assert!(t.hops[0].lookups.is_empty(), "{dst}: no map is read: {:?}", t.hops[0].lookups);
        assert!(
            matches!(&t.verdict, Verdict::Dropped { program: "cil_from_container", reason, .. }
                if reason.reason() == Reason::Ipv6LinkLocal),
            "{dst}: {:?}",
            t.verdict
        );
    }
    // fec0::/10 is not link-local: the ipcache decides.
    assert_eq!(run("web/frontend-7f9c", "fec0::1", 64).verdict.reason().reason(), Reason::NoRoute);
    // A link-scope source is refused as such, not as an unknown source: the C checks it first.
    let v = view();
    let pod = v.find_pod("web/frontend-7f9c").unwrap().clone();
    for src in ["fe80::1", "::", "ff02::1"] {
        let packet = Packet {
            src: src.parse().unwrap(),
            dst: "fd00:10:1::11".parse().unwrap(),
            proto: Proto::Icmp,
            port: None,
            ttl: 64,
        };
        let t = trace_packet(&v, &pod, packet).unwrap();
        assert_eq!(t.verdict.reason().reason(), Reason::Ipv6LinkLocal, "{src}");
    }
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("ipv6-link-local.txt", render_text(&run("web/frontend-7f9c", "ff02::1", 64)));
    });
}

#[test]
fn a_node_reaches_its_ipv6_pods_through_cilium_host() {
    let t = run("ds-worker2", "fd00:10:2::20", 64);
    assert_eq!(t.verdict.reason().reason(), Reason::HostDelivery);
    assert_eq!(t.packet.src, IpAddr::V6(v6("fd00:10:2::fe")));
}

#[test]
fn the_family_follows_the_addresses_given() {
    // Two names: IPv4 when both have it, else IPv6.
    assert_eq!(run("web/frontend-7f9c", "db/postgres-0", 64).packet.family(), Family::Ipv4);
    assert_eq!(run("web/v6only-6c8d", "db/postgres-0", 64).packet.family(), Family::Ipv6);
    let v = view();
    let err = trace(&v, "web/v6only-6c8d", "db/legacy-0", Proto::Icmp, None, 64).unwrap_err();
    assert!(matches!(err, TraceError::NoCommonFamily { .. }), "{err}");
    let err = trace(&v, "db/legacy-0", "fd00:10:1::10", Proto::Icmp, None, 64).unwrap_err();
    assert_eq!(err.to_string(), "`db/legacy-0` has no IPv6 address");
    let err = trace(&v, "10.20.1.10", "fd00:10:2::20", Proto::Icmp, None, 64).unwrap_err();
    assert_eq!(
        err.to_string(),
        "10.20.1.10 and fd00:10:2::20 are of different families: a packet has both addresses of one"
    );
    let err = trace(&v, "fd00:10:1::10", "fd00:10:1::10", Proto::Icmp, None, 64).unwrap_err();
    assert!(matches!(err, TraceError::ToItself(_)), "{err}");
}

#[test]
fn all_pairs_in_both_families() {
    let v = view();
    let m4 = matrix(&v).unwrap();
    let m6 = matrix6(&v).unwrap().expect("IPv6 pods");
    assert_eq!((m4.pods.len(), m6.pods.len()), (4, 4));
    assert_eq!((m4.not_delivered, m6.not_delivered), (0, 0));
    assert!(m6.pairs.iter().all(|p| p.src_ip.is_ipv6() && p.dst_ip.is_ipv6()));
    insta::with_settings!({snapshot_path => "../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("all-dualstack.txt", render_matrices_text(&m4, Some(&m6)));
    });
}

#[test]
fn an_ipv4_only_cluster_has_no_ipv6_matrix() {
    let text = generate_string(&GenOptions { nodes: 2, pods_per_node: 2, seed: 1 }).unwrap();
    let cluster = analyze_str("g.route", &text).cluster.unwrap();
    assert!(matrix6(&Snapshot::from_cluster(&cluster)).unwrap().is_none());
}

#[test]
fn generated_dual_stack_clusters_are_valid_and_mix_in_ipv6_only_pods() {
    let opts = GenOptions { nodes: 60, pods_per_node: 50, seed: 7 };
    let text = generate_stack_string(&opts, Stack { dual_stack: true, ipv6_only_percent: 20 }).unwrap();
    let analysis = analyze_str("g.route", &text);
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    let cluster = analysis.cluster.unwrap();
    let v6only = cluster.pods.iter().filter(|p| p.ip.is_none()).count();
    assert!(cluster.pods.iter().all(|p| p.ip6.is_some()));
    assert!((400..800).contains(&v6only), "about a fifth of 3000 pods: {v6only}");
    assert!(cluster.nodes.iter().all(|n| n.pod_cidr6.is_some() && n.pod_cidr.is_some()));
    // Deterministic, and the IPv4-only output is untouched by the option.
    assert_eq!(text, generate_stack_string(&opts, Stack { dual_stack: true, ipv6_only_percent: 20 }).unwrap());
    assert_eq!(generate_string(&opts).unwrap(), generate_stack_string(&opts, Stack::default()).unwrap());
    assert!(generate_stack_string(&opts, Stack { dual_stack: false, ipv6_only_percent: 5 }).is_err());
}

#[test]
fn a_node_with_only_an_ipv6_pod_cidr_is_valid() {
    let text = "cluster c { }\nnode n {\n    address 172.18.0.2\n    pod-cidr fd00:10:1::/64\n}\n\
                pod a/b on n {\n    ip fd00:10:1::5\n    endpoint 1\n    identity 1000\n    lxc lxc1\n}\n";
    let analysis = analyze_str("t.route", text);
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    let cluster = analysis.cluster.unwrap();
    assert_eq!((cluster.nodes[0].pod_cidr, cluster.nodes[0].router), (None, None));
    let t = trace(&Snapshot::from_cluster(&cluster), "n", "fd00:10:1::5", Proto::Icmp, None, 64).unwrap();
    assert_eq!(t.verdict.reason().reason(), Reason::HostDelivery);
}

#[test]
fn expectations_take_ipv6_addresses() {
    let mut text = example_text();
    text.push_str("expect fd00:10:1::10 -> fd00:10:2::20 delivered overlay-delivery\n");
    text.push_str("expect fd00:10:1::99 -> fd00:10:2::20 delivered\n");
    let analysis = analyze_str("cluster.route", &text);
    let codes: Vec<&str> = analysis.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0017"], "an IPv6 source no pod has: {}", analysis.render_human_string());
}

#[test]
fn an_ipv6_source_address_makes_an_ipv6_packet_to_a_pod_name() {
    let mut text = example_text();
    text.push_str("expect fd00:10:1::10 -> db/postgres-0 delivered\n");
    text.push_str("expect 10.20.1.10 -> db/postgres-0 delivered\n");
    let analysis = analyze_str("cluster.route", &text);
    let view = Snapshot::from_cluster(analysis.cluster.as_ref().unwrap());
    let families: Vec<Family> = analysis
        .expectations
        .iter()
        .map(|e| routec_compiler::expect::evaluate(&view, e).found.trace.unwrap().packet.family())
        .collect();
    assert_eq!(families, [Family::Ipv6, Family::Ipv4]);
}

#[test]
fn drift_names_ipv6_keys_by_their_ipv6_address() {
    let expected = view();
    let mut live = view();
    let gone = EndpointKey::ip(IpAddr::V6(v6("fd00:10:1::11")));
    let kept: Vec<_> = expected.lxc_entries("ds-worker").into_iter().filter(|(k, _)| *k != gone).collect();
    live.set_lxc("ds-worker", kept);
    let report = drift(&expected, &live);
    let keys: Vec<&str> = report.drift.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["fd00:10:1::11"]);
}

/// A build folder of the dual-stack cluster: its cluster.json reads back
/// through `BuildFiles` (the loader's and `trace --build`'s way), and its
/// seeds give the same IPv6 traces as the cluster.
#[test]
fn a_build_carries_the_ipv6_facts_to_its_readers() {
    use routec_compiler::build::{build, input_digest, BuildFiles, BuildOptions, ClangChoice};
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let options = BuildOptions::new(ClangChoice::Skip, input_digest([("cluster.route", "x")]));
    build(&example(), &options, &out).unwrap();
    assert_eq!(BuildFiles::open(&out).unwrap().read_cluster().unwrap(), example());
    let from_build = Snapshot::from_build(&out).unwrap();
    for (src, dst) in
        [("fd00:10:1::10", "fd00:10:2::20"), ("web/v6only-6c8d", "fd00:10:1::11"), ("fd00:10:1::10", "2001:db8::1")]
    {
        let built = trace(&from_build, src, dst, Proto::Icmp, None, 64).unwrap();
        let offline = trace(&view(), src, dst, Proto::Icmp, None, 64).unwrap();
        assert_eq!(built, offline, "{src} -> {dst}");
    }
}
