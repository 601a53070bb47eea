//! The IPv6 datapath with real packets (docs/datapath.md, "IPv6"): the
//! dual-stack example (examples/dualstack) and a generated 4 x 10
//! dual-stack cluster in labs, ICMPv6 through `ping`, TCP and UDP through
//! real sockets, hand-built frames from `data/forge6.py`, the counters read
//! back from routec_counters. Root only; run under the machine-wide lab lock.

mod common;

use std::net::{IpAddr, Ipv6Addr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use routec_compiler::gen::{generate_stack_string, GenOptions, Stack};
use routec_compiler::layout::Reason;
use routec_compiler::model::Cluster;
use routec_compiler::trace::{trace, Proto, Snapshot};
use routec_runtime::lab::{netns_path, LabState};
use routec_runtime::netns;

const WORKER: &str = "ds-worker";
const WORKER2: &str = "ds-worker2";
const FRONTEND: &str = "web/frontend-7f9c";
const API: &str = "web/api-5d4b";
const V6ONLY: &str = "web/v6only-6c8d";
const POSTGRES: &str = "db/postgres-0";
/// ds-worker's IPv6 router: the address after its pod-cidr's network.
const ROUTER6: &str = "fd00:10:1::1";
/// frontend's lxc MAC, as examples/dualstack declares it.
const FRONTEND_LXC_MAC: &str = "0e:11:22:33:44:01";

fn dualstack() -> Cluster {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dualstack");
    routec_compiler::frontend::analyze_path(&path).unwrap().cluster.expect("examples/dualstack is valid")
}

fn ns<'a>(state: &'a LabState, pod: &str) -> &'a str {
    &state.pod(pod).unwrap_or_else(|| panic!("no pod {pod}")).netns
}

fn ip6(state: &LabState, pod: &str) -> Ipv6Addr {
    state.pod(pod).unwrap().ip6.unwrap()
}

/// `ping -c 1 -t TTL DST` (the hop limit, for IPv6) from inside `netns`.
fn ping_ttl(netns: &str, dst: &str, ttl: u8) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", netns_path(netns).display()))
        .args(["--", "ping", "-n", "-q", "-c", "1", "-W", "2", "-t", &ttl.to_string(), dst])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A UDP datagram from `src_netns` to `dst:port`, answered reversed by a
/// socket in `dst_netns`; returns the answer.
fn udp_exchange(src_netns: &str, dst_netns: &str, dst: IpAddr, port: u16, payload: &[u8]) -> Vec<u8> {
    let server = netns::run_in(Some(&netns_path(dst_netns)), || UdpSocket::bind((dst, port))).unwrap();
    server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::thread::scope(|scope| {
        let echo = scope.spawn(|| {
            let mut buf = [0u8; 2048];
            let (len, from) = server.recv_from(&mut buf).expect("the datagram arrives");
            let reply: Vec<u8> = buf[..len].iter().rev().copied().collect();
            server.send_to(&reply, from).unwrap();
            buf[..len].to_vec()
        });
        let reply = netns::run_in(Some(&netns_path(src_netns)), || -> std::io::Result<Vec<u8>> {
            let client = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
            client.set_read_timeout(Some(Duration::from_secs(5)))?;
            client.send_to(payload, (dst, port))?;
            let mut buf = [0u8; 2048];
            let len = client.recv(&mut buf)?;
            Ok(buf[..len].to_vec())
        })
        .expect("the answer arrives");
        assert_eq!(echo.join().unwrap(), payload, "the server received the payload intact");
        reply
    })
}

fn counters(state: &LabState, nodes: &[&str], reasons: &[Reason]) -> Vec<(String, Reason, u64)> {
    nodes
        .iter()
        .flat_map(|node| reasons.iter().map(move |reason| (node.to_string(), *reason, counter(state, node, *reason))))
        .collect()
}

fn moved(before: &[(String, Reason, u64)], after: &[(String, Reason, u64)], node: &str, reason: Reason) -> u64 {
    let find = |list: &[(String, Reason, u64)]| list.iter().find(|(n, r, _)| n == node && *r == reason).unwrap().2;
    find(after) - find(before)
}

/// `ip -6 neigh` of the pod's eth0: (address, MAC) pairs.
fn neighbours(netns: &str) -> Vec<(String, String)> {
    let out = Command::new("ip").args(["-n", netns, "-6", "-j", "neigh", "show", "dev", "eth0"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|n| Some((n["dst"].as_str()?.to_string(), n["lladdr"].as_str()?.to_string())))
        .collect()
}

#[test]
fn ipv6_pods_carry_icmp_tcp_and_udp_on_one_node_and_across_nodes() {
    if !can_run("ipv6_pods_carry_icmp_tcp_and_udp_on_one_node_and_across_nodes") {
        return;
    }
    let (_guard, state) = up_lab("t-v6-traffic", &options(), &dualstack());
    let watched = [
        Reason::NdpReply,
        Reason::LocalDelivery,
        Reason::TunnelEncap,
        Reason::OverlayDelivery,
        Reason::HostDelivery,
        Reason::ToStack,
        Reason::TtlExceeded,
    ];
    let before = counters(&state, &[WORKER, WORKER2], &watched);

    // ICMPv6: one node, across nodes, an IPv6-only pod, the node's stack to
    // a pod through cilium_host, a pod to its router (the node's stack).
    let postgres6 = ip6(&state, POSTGRES).to_string();
    assert!(ping(ns(&state, FRONTEND), &ip6(&state, API).to_string()), "same node");
    assert!(ping(ns(&state, FRONTEND), &postgres6), "across nodes");
    assert!(ping(ns(&state, V6ONLY), &postgres6), "IPv6-only pod across nodes");
    assert!(ping(&state.node(WORKER2).unwrap().netns, &postgres6), "node stack to pod");
    assert!(ping(ns(&state, FRONTEND), ROUTER6), "pod to its router");
    // IPv4 beside it, in the same lab.
    assert!(ping(ns(&state, FRONTEND), "10.20.2.20"), "IPv4 across nodes");

    // TCP and UDP, content checked (the far end answers it reversed).
    for (dst, what) in [(API, "same node"), (POSTGRES, "across nodes")] {
        let dst_ip = IpAddr::V6(ip6(&state, dst));
        let payload = format!("tcp over IPv6, {what}").into_bytes();
        let reply = tcp_exchange(ns(&state, FRONTEND), ns(&state, dst), dst_ip, 8080, &payload);
        assert_eq!(reply, payload.iter().rev().copied().collect::<Vec<_>>(), "TCP {what}");
        let payload = format!("udp over IPv6, {what}").into_bytes();
        let reply = udp_exchange(ns(&state, FRONTEND), ns(&state, dst), dst_ip, 5353, &payload);
        assert_eq!(reply, payload.iter().rev().copied().collect::<Vec<_>>(), "UDP {what}");
    }

    let after = counters(&state, &[WORKER, WORKER2], &watched);
    for (node, reason) in [
        (WORKER, Reason::NdpReply),
        (WORKER, Reason::LocalDelivery),
        (WORKER, Reason::TunnelEncap),
        (WORKER, Reason::ToStack),
        (WORKER2, Reason::OverlayDelivery),
        (WORKER2, Reason::HostDelivery),
    ] {
        assert!(moved(&before, &after, node, reason) > 0, "{node} {} did not count", reason.name());
    }
    assert_eq!(moved(&before, &after, WORKER, Reason::TtlExceeded), 0);

    // The pod resolved its router by neighbour solicitation, and the lxc's
    // answer is in its neighbour table.
    let table = neighbours(ns(&state, FRONTEND));
    assert!(table.contains(&(ROUTER6.to_string(), FRONTEND_LXC_MAC.to_string())), "{table:?}");
}

#[test]
fn ipv6_hop_limit_one_is_dropped_and_counted() {
    if !can_run("ipv6_hop_limit_one_is_dropped_and_counted") {
        return;
    }
    let (_guard, state) = up_lab("t-v6-hoplimit", &options(), &dualstack());
    let (api, postgres) = (ip6(&state, API).to_string(), ip6(&state, POSTGRES).to_string());
    // Resolve the router first, so the drops below are the echoes'.
    assert!(ping(ns(&state, FRONTEND), &api));
    let before = counters(&state, &[WORKER, WORKER2], &[Reason::TtlExceeded]);
    assert!(!ping_ttl(ns(&state, FRONTEND), &api, 1), "hop limit 1 on one node");
    assert!(!ping_ttl(ns(&state, FRONTEND), &postgres, 1), "hop limit 1 across nodes");
    let after = counters(&state, &[WORKER, WORKER2], &[Reason::TtlExceeded]);
    // Dropped where the pod would be entered: the sender's node, or the
    // receiving node's overlay program (the tunnel is not a hop).
    assert_eq!(moved(&before, &after, WORKER, Reason::TtlExceeded), 1);
    assert_eq!(moved(&before, &after, WORKER2, Reason::TtlExceeded), 1);
    assert!(ping_ttl(ns(&state, FRONTEND), &api, 2), "hop limit 2 is enough on one node");
    assert!(ping_ttl(ns(&state, FRONTEND), &postgres, 2), "hop limit 2 is enough across nodes");
}

/// `python3 forge6.py ARGS` inside the namespace `netns`; panics if it fails.
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
fn hostile_ipv6_frames_are_dropped_and_counted() {
    if !can_run("hostile_ipv6_frames_are_dropped_and_counted") {
        return;
    }
    const PORT: &str = "7777";
    let (_guard, state) = up_lab("t-v6-hostile", &options(), &dualstack());
    let (frontend, api, v6only) = (ip6(&state, FRONTEND), ip6(&state, API), ip6(&state, V6ONLY));
    let listener =
        netns::run_in(Some(&netns_path(ns(&state, API))), || UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 7777))).unwrap();
    listener.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let received = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let watched = [Reason::LocalDelivery, Reason::Fragment, Reason::Ipv6ExtHeaders, Reason::UnknownSource];

    let (before, after) = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = listener.recv(&mut buf) {
                    received.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                }
            }
        });
        let before = counters(&state, &[WORKER], &watched);
        let send = |src: &Ipv6Addr, payload: &str, extra: &[&str]| {
            let (src, dst) = (src.to_string(), api.to_string());
            let mut args = vec!["udp", "eth0", FRONTEND_LXC_MAC, &src, &dst, PORT, payload];
            args.extend_from_slice(extra);
            forge6(ns(&state, FRONTEND), &args);
        };
        // The forged frame arrives when it is clean, and with 4 extension
        // headers (the walk's bound).
        send(&frontend, "clean", &[]);
        send(&frontend, "four-extension-headers", &["--ext", "4"]);
        send(&frontend, "five-extension-headers", &["--ext", "5"]);
        send(&frontend, "fragment", &["--fragment"]);
        send(&frontend, "fragment-behind-extension-headers", &["--ext", "2", "--fragment"]);
        // Another pod's address as the source, from this pod's eth0.
        send(&v6only, "spoofed", &[]);
        let arrived = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            received.lock().unwrap().len() >= 2
        });
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        assert!(arrived, "the clean frames did not arrive: {:?}", received.lock().unwrap());
        (before, counters(&state, &[WORKER], &watched))
    });
    let mut got = received.into_inner().unwrap();
    got.sort();
    assert_eq!(got, ["clean", "four-extension-headers"]);
    assert_eq!(moved(&before, &after, WORKER, Reason::LocalDelivery), 2);
    assert_eq!(moved(&before, &after, WORKER, Reason::Ipv6ExtHeaders), 1);
    assert_eq!(moved(&before, &after, WORKER, Reason::Fragment), 2);
    assert_eq!(moved(&before, &after, WORKER, Reason::UnknownSource), 1);
}

/// Every ordered pair of distinct pods, once per family both have: the
/// source's namespace and the destination's address.
fn all_pairs(state: &LabState) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for a in &state.pods {
        for b in state.pods.iter().filter(|b| b.name != a.name) {
            let addresses = [(a.ip.is_some(), b.ip.map(IpAddr::V4)), (a.ip6.is_some(), b.ip6.map(IpAddr::V6))];
            for (_, dst) in addresses.into_iter().filter(|(has, _)| *has) {
                pairs.extend(dst.map(|dst| (a.netns.clone(), dst.to_string())));
            }
        }
    }
    pairs
}

#[test]
fn generated_dual_stack_cluster_all_pairs_both_families_and_trace_agrees() {
    if !can_run("generated_dual_stack_cluster_all_pairs_both_families_and_trace_agrees") {
        return;
    }
    let stack = Stack { dual_stack: true, ipv6_only_percent: 20 };
    let text = generate_stack_string(&GenOptions { nodes: 4, pods_per_node: 10, seed: 1 }, stack).unwrap();
    let cluster = routec_compiler::frontend::analyze_str("gen.route", &text).cluster.expect("gen output is valid");
    let ipv6_only = cluster.pods.iter().filter(|p| p.ip.is_none()).count();
    assert!(ipv6_only > 0 && ipv6_only < cluster.pods.len(), "IPv6-only pods are mixed in: {ipv6_only}");
    let (_guard, state) = up_lab("t-v6-gen40", &options(), &cluster);

    let pairs = all_pairs(&state);
    let ipv6_pairs = pairs.iter().filter(|(_, dst)| dst.contains(':')).count();
    assert_eq!(ipv6_pairs, 40 * 39, "every pod has an IPv6 address");
    assert!(pairs.len() > ipv6_pairs, "and IPv4 pairs too");
    let failed = ping_pairs(&pairs, 16);
    assert!(
        failed.is_empty(),
        "{} of {} pairs failed: {:?}",
        failed.len(),
        pairs.len(),
        &failed[..failed.len().min(10)]
    );

    // The offline trace says what real packets do, for a sample of IPv6
    // pairs with drops among them: hop limit 1, an unused address of a
    // pod-cidr, an address no prefix covers.
    let view = Snapshot::from_cluster(&cluster);
    let mut cases: Vec<(&str, String, u8)> = Vec::new();
    for (i, pod) in cluster.pods.iter().enumerate().step_by(7) {
        let other = &cluster.pods[(i * 13 + 5) % cluster.pods.len()];
        if other.name == pod.name {
            continue;
        }
        let other6 = other.ip6.unwrap().to_string();
        cases.push((&pod.name, other6.clone(), 64));
        cases.push((&pod.name, other6, 1));
        let cidr = cluster.nodes[i % 4].pod_cidr6.unwrap();
        cases.push((&pod.name, Ipv6Addr::from(u128::from(cidr.network()) + 0xfffe).to_string(), 64));
        cases.push((&pod.name, "fd99::1".to_string(), 64));
    }
    let mut delivered = 0;
    for (src, dst, ttl) in &cases {
        let traced = trace(&view, src, dst, Proto::Icmp, None, *ttl).unwrap();
        let real = ping_ttl(&state.pod(src).unwrap().netns, dst, *ttl);
        assert_eq!(real, traced.verdict.is_delivered(), "{src} -> {dst} (hop limit {ttl}): {:?}", traced.verdict);
        delivered += usize::from(real);
    }
    assert!(delivered > 0 && delivered < cases.len(), "the sample has deliveries and drops");
}

/// `ip ARGS` inside lab namespace `netns`; panics if it fails.
fn ip_in(netns: &str, args: &[&str]) {
    let out = Command::new("ip").args(["-n", netns]).args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?} in {netns}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The pod's neighbour-table state of `address` on eth0 (`REACHABLE`, ...).
fn neighbour_state(netns: &str, address: &str) -> Option<String> {
    let out = Command::new("ip").args(["-n", netns, "-6", "-j", "neigh", "show", "dev", "eth0"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()?.iter().find(|n| n["dst"] == address).and_then(|n| n["state"][0].as_str().map(str::to_string))
}

#[test]
fn neighbour_discovery_answers_the_router_only() {
    if !can_run("neighbour_discovery_answers_the_router_only") {
        return;
    }
    let (_guard, state) = up_lab("t-v6-ndp", &options(), &dualstack());
    let frontend = ns(&state, FRONTEND);
    let api = ip6(&state, API).to_string();
    let watched = [Reason::NdpReply, Reason::Ipv6LinkLocal];

    // Each kernel resolves its router from the pod's own address: the
    // sender for the echo, the other pod for the reply.
    let before = counters(&state, &[WORKER], &watched);
    assert!(ping(frontend, &api));
    let after = counters(&state, &[WORKER], &watched);
    assert_eq!(moved(&before, &after, WORKER, Reason::NdpReply), 2);

    // Its reachability probe comes from its link-local address, unicast to
    // the lxc: answered too, so the entry turns reachable again.
    ip_in(frontend, &["-6", "neigh", "change", ROUTER6, "dev", "eth0", "lladdr", FRONTEND_LXC_MAC, "nud", "stale"]);
    netns::run_in(Some(&netns_path(frontend)), || {
        netns::write_sysctl("net/ipv6/neigh/eth0/delay_first_probe_time", "1")
    })
    .unwrap();
    let before = counters(&state, &[WORKER], &watched);
    assert!(ping(frontend, &api));
    let reachable = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        neighbour_state(frontend, ROUTER6).as_deref() == Some("REACHABLE")
            && counter(&state, WORKER, Reason::NdpReply) > before[0].2
    });
    assert!(reachable, "router entry: {:?}", neighbour_state(frontend, ROUTER6));

    // A neighbour solicitation for another pod (the pod believes it on its
    // link) is not answered: the lxc is the pod's only neighbour.
    ip_in(frontend, &["-6", "route", "add", &format!("{api}/128"), "dev", "eth0"]);
    let before = counters(&state, &[WORKER], &watched);
    assert!(!ping(frontend, &api), "no answer for another pod's address");
    let after = counters(&state, &[WORKER], &watched);
    assert!(moved(&before, &after, WORKER, Reason::Ipv6LinkLocal) >= 1);
    assert_eq!(moved(&before, &after, WORKER, Reason::NdpReply), 0);
    assert!(!neighbours(frontend).iter().any(|(dst, _)| *dst == api), "{:?}", neighbours(frontend));
}

#[test]
fn ndp_reply_counts_the_solicitation_as_it_arrived() {
    if !can_run("ndp_reply_counts_the_solicitation_as_it_arrived") {
        return;
    }
    let (_guard, state) = up_lab("t-v6-ndpbytes", &options(), &dualstack());
    let frontend = ip6(&state, FRONTEND).to_string();
    // A solicitation without options is 78 bytes; the advertisement the
    // program makes of it, with its target link-layer address option, 86.
    let (packets, bytes) = counted(&state, WORKER, Reason::NdpReply);
    forge6(ns(&state, FRONTEND), &["ns", "eth0", &frontend, ROUTER6]);
    let answered = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        counted(&state, WORKER, Reason::NdpReply).0 > packets
    });
    assert!(answered, "the solicitation for the router was answered");
    assert_eq!(counted(&state, WORKER, Reason::NdpReply), (packets + 1, bytes + 78), "bytes at the hook");
}
