//! `routec test --lab` at the library level: real packets for expectations
//! in a lab, compared with the offline verdicts. Root only (network
//! namespaces); run under the machine-wide lab lock.

mod common;

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use routec_compiler::expect::{evaluate_all, report::Report, FoundOutcome, Status};
use routec_compiler::frontend::{analyze_sources, Analysis};
use routec_compiler::gen::{generate_string, GenOptions};
use routec_compiler::model::Cluster;
use routec_compiler::settings::Settings;
use routec_compiler::source::Sources;
use routec_compiler::trace::Snapshot;
use routec_runtime::packets;

fn analyze(cluster: &str, expectations: &str) -> Analysis {
    let mut sources = Sources::new();
    sources.add("cluster.route".to_string(), cluster.to_string());
    sources.add("expect.route".to_string(), expectations.to_string());
    let analysis = analyze_sources(sources, Settings::default());
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    analysis
}

/// An address of node `node`'s pod-cidr that no pod has.
fn unused_in(cluster: &Cluster, node: usize) -> Ipv4Addr {
    let net = cluster.nodes[node].pod_cidr.unwrap();
    let last = Ipv4Addr::from(u32::from(net.broadcast()) - 1);
    assert!(cluster.pods.iter().all(|p| p.ip != Some(last)));
    last
}

/// 40 expectations over a 4 x 10 cluster, every kind of outcome the
/// datapath has for IPv4, on every protocol, drops included.
fn forty_expectations(cluster: &Cluster) -> String {
    let pods_on = |n: usize| cluster.pods_on(n).collect::<Vec<_>>();
    let mut text = String::new();
    let mut add = |line: String| writeln!(text, "{line}").unwrap();
    let protos = ["", " { proto tcp; port 8080 }", " { proto udp; port 5353 }"];
    for i in 0..10 {
        let node = i % 4;
        let pods = pods_on(node);
        let (a, b) = (pods[i % 10], pods[(i + 1) % 10]);
        add(format!("expect {} -> {} delivered local-delivery{}", a.name, b.ip.unwrap(), protos[i % 3]));
        let remote = pods_on((node + 1) % 4)[i];
        add(format!("expect {} -> {} delivered overlay-delivery{}", a.ip.unwrap(), remote.name, protos[(i + 1) % 3]));
    }
    for node in 0..4 {
        let pods = pods_on(node);
        let name = &cluster.nodes[node].name;
        add(format!("expect node {name} -> {} delivered host-delivery", pods[node].name));
        add(format!("expect {} -> node {name} delivered to-stack", pods[node + 1].ip.unwrap()));
        add(format!("expect {} -> 10.250.{node}.9 dropped no-route{}", pods[2].name, protos[node % 3]));
        add(format!("expect {} -> {} dropped no-endpoint", pods[3].ip.unwrap(), unused_in(cluster, (node + 2) % 4)));
    }
    for node in 0..2 {
        let pods = pods_on(node);
        let other = &cluster.nodes[(node + 1) % 4].name;
        add(format!("expect {} -> node {other} dropped no-tunnel-endpoint", pods[4].name));
        add(format!("expect {} -> {} dropped ttl-exceeded {{ ttl 1 }}", pods[5].name, pods[6].ip.unwrap()));
    }
    assert_eq!(text.lines().count(), 40);
    text
}

#[test]
fn forty_expectations_agree_with_real_packets() {
    if !common::can_run("forty_expectations_agree_with_real_packets") {
        return;
    }
    let cluster_text = generate_string(&GenOptions { nodes: 4, pods_per_node: 10, seed: 1 }).unwrap();
    let generated = analyze(&cluster_text, "");
    let expectations = forty_expectations(generated.cluster.as_ref().unwrap());
    let analysis = analyze(&cluster_text, &expectations);
    let cluster = analysis.cluster.as_ref().unwrap();
    let (_guard, state) = common::up_lab("t-expect40", &common::options(), cluster);

    let offline = evaluate_all(&Snapshot::from_cluster(cluster), &analysis.expectations);
    let results = packets::check_all(&state, offline).unwrap();
    let report = Report { sources: &analysis.sources, results };
    let text = report.render_text_string();
    assert_eq!(report.summary(), "40 passed, 0 failed", "{text}");
    let dropped = report.results.iter().filter(|r| r.packets.as_ref().unwrap().outcome == FoundOutcome::Dropped);
    assert_eq!(dropped.count(), 12, "drops are among them: {text}");
}

#[test]
fn wrong_expectations_fail_and_disagreements_are_named_as_bugs() {
    if !common::can_run("wrong_expectations_fail_and_disagreements_are_named_as_bugs") {
        return;
    }
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mycluster/cluster.route")).unwrap();
    // Wrong on purpose: the packets agree with the trace, the config's
    // author was wrong, for each outcome and protocol.
    let wrong = "expect 10.10.2.117 -> 10.10.9.9 delivered\n\
                 expect 10.10.2.117 -> 10.10.1.155 dropped { proto tcp; port 443 }\n\
                 expect 10.10.2.117 -> 10.10.2.121 delivered overlay-delivery { proto udp; port 53 }\n\
                 expect 10.10.2.117 -> 10.10.1.155 delivered\n";
    let analysis = analyze(&reference, wrong);
    let cluster = analysis.cluster.as_ref().unwrap();
    let (_guard, state) = common::up_lab("t-expect-wrong", &common::options(), cluster);
    let results =
        packets::check_all(&state, evaluate_all(&Snapshot::from_cluster(cluster), &analysis.expectations)).unwrap();
    let statuses: Vec<(Status, bool)> = results.iter().map(|r| (r.status, r.disagreement)).collect();
    assert_eq!(
        statuses,
        [(Status::Failed, false), (Status::Failed, false), (Status::Failed, false), (Status::Passed, false)]
    );

    // The trace of a cluster without the destination pod says dropped while
    // the lab (with it) delivers: the two disagree, which is routec's bug.
    let start = reference.find("pod networking101/netshoot-7d996d7884-gcxrm").unwrap();
    let end = start + reference[start..].find("}\n").unwrap() + 2;
    let stale = format!("{}{}", &reference[..start], &reference[end..]);
    let stale = analyze(&stale, "expect 10.10.2.117 -> 10.10.1.155 dropped no-endpoint\n");
    let offline = evaluate_all(&Snapshot::from_cluster(stale.cluster.as_ref().unwrap()), &stale.expectations);
    assert_eq!(offline[0].status, Status::Passed);
    let results = packets::check_all(&state, offline).unwrap();
    assert_eq!((results[0].status, results[0].disagreement), (Status::Failed, true));
    let report = Report { sources: &stale.sources, results };
    let text = report.render_text_string();
    assert!(
        text.contains("error: routec bug: the offline trace says dropped no-endpoint but real packets were delivered"),
        "{text}"
    );
    assert!(text.contains("this is a bug in routec, not in the config"), "{text}");
    assert!(report.to_junit().contains("<failure type=\"routec-bug\""));
}
