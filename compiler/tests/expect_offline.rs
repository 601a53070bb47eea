//! Expectations evaluated offline with the tracer: every outcome and every
//! reason the tracer can end on, each passing and failing on purpose, and
//! the messages a failure carries.

use routec_compiler::expect::{evaluate_all, report::Report, FoundOutcome, Status};
use routec_compiler::frontend::{analyze_sources, Analysis};
use routec_compiler::layout::Reason;
use routec_compiler::settings::Settings;
use routec_compiler::source::Sources;
use routec_compiler::trace::Snapshot;

fn reference() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/mycluster/cluster.route")).unwrap()
}

/// The reference cluster plus `expectations` in a second file.
fn analyze(cluster: &str, expectations: &str) -> Analysis {
    let mut sources = Sources::new();
    sources.add("cluster.route".to_string(), cluster.to_string());
    sources.add("expect.route".to_string(), expectations.to_string());
    let analysis = analyze_sources(sources, Settings::default());
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    analysis
}

/// Evaluates each line of `expectations` against the reference cluster.
fn run(expectations: &str) -> (Analysis, Vec<(Status, String)>) {
    run_on(&reference(), expectations)
}

fn run_on(cluster: &str, expectations: &str) -> (Analysis, Vec<(Status, String)>) {
    let analysis = analyze(cluster, expectations);
    let view = Snapshot::from_cluster(analysis.cluster.as_ref().unwrap());
    let results =
        evaluate_all(&view, &analysis.expectations).into_iter().map(|r| (r.status, r.found.summary())).collect();
    (analysis, results)
}

const BUSYBOX: &str = "networking101/busybox-c8bbbbb84-t6ggh";

/// Every reason an IPv4 trace of the reference cluster ends on, with a
/// packet that ends on it.
const CASES: &[(&str, Reason)] = &[
    ("10.10.2.117 -> 10.10.2.121", Reason::LocalDelivery),
    ("10.10.2.117 -> 10.10.1.155", Reason::OverlayDelivery),
    ("node mycluster-worker2 -> 10.10.1.164", Reason::HostDelivery),
    ("10.10.2.117 -> node mycluster-worker", Reason::ToStack),
    ("10.10.2.117 -> 10.10.9.9", Reason::NoRoute),
    ("10.10.2.117 -> 10.10.1.200", Reason::NoEndpoint),
    ("10.10.2.117 -> node mycluster-worker2", Reason::NoTunnelEndpoint),
    ("10.10.2.117 -> 10.10.1.155 { ttl 1 }", Reason::TtlExceeded),
];

fn line(ends: &str, outcome: &str, reason: Option<Reason>) -> String {
    let (ends, block) = ends.split_once(" {").map_or((ends, String::new()), |(e, b)| (e, format!(" {{{b}")));
    match reason {
        Some(r) => format!("expect {ends} {outcome} {}{block}\n", r.name()),
        None => format!("expect {ends} {outcome}{block}\n"),
    }
}

fn outcome(reason: Reason) -> &'static str {
    if reason.is_drop() {
        "dropped"
    } else {
        "delivered"
    }
}

fn opposite(reason: Reason) -> &'static str {
    if reason.is_drop() {
        "delivered"
    } else {
        "dropped"
    }
}

#[test]
fn every_reason_passes_when_right() {
    let mut text = String::new();
    for &(ends, reason) in CASES {
        text.push_str(&line(ends, outcome(reason), Some(reason)));
        text.push_str(&line(ends, outcome(reason), None));
    }
    let (_, results) = run(&text);
    for (result, line) in results.iter().zip(text.lines()) {
        assert_eq!(result.0, Status::Passed, "{line}: found {}", result.1);
    }
    assert_eq!(results.len(), 2 * CASES.len());
}

#[test]
fn every_reason_fails_when_wrong() {
    let mut text = String::new();
    let mut expected = Vec::new();
    for &(ends, reason) in CASES {
        // The wrong outcome.
        text.push_str(&line(ends, opposite(reason), None));
        expected.push(format!("{} {}", outcome(reason), reason.name()));
        // The right outcome with another reason of the same kind.
        let other = Reason::ALL.iter().find(|r| r.is_drop() == reason.is_drop() && **r != reason).unwrap();
        text.push_str(&line(ends, outcome(reason), Some(*other)));
        expected.push(format!("{} {}", outcome(reason), reason.name()));
    }
    let (_, results) = run(&text);
    let found: Vec<String> = results.iter().map(|r| r.1.clone()).collect();
    assert_eq!(found, expected);
    for (result, line) in results.iter().zip(text.lines()) {
        assert_eq!(result.0, Status::Failed, "{line}");
    }
}

#[test]
fn reasons_no_ipv4_trace_ends_on_fail_with_what_was_found() {
    // Valid names that fit their outcome, but the tracer of an IPv4 packet
    // never ends on them: the expectation is accepted and fails.
    let text = "expect 10.10.2.117 -> 10.10.1.155 delivered tunnel-encap\n\
                expect 10.10.2.117 -> 10.10.1.155 delivered arp-reply\n\
                expect 10.10.2.117 -> 10.10.9.9 dropped unknown-l3\n\
                expect 10.10.2.117 -> 10.10.9.9 dropped wrong-vni\n";
    let (_, results) = run(text);
    let found: Vec<&str> = results.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        found,
        ["delivered overlay-delivery", "delivered overlay-delivery", "dropped no-route", "dropped no-route"]
    );
    assert!(results.iter().all(|r| r.0 == Status::Failed));
}

#[test]
fn a_packet_the_tracer_refuses_fails_with_the_reason() {
    let (analysis, _) = run("expect node mycluster-worker -> 10.10.1.164 delivered\n");
    let view = Snapshot::from_cluster(analysis.cluster.as_ref().unwrap());
    let results = evaluate_all(&view, &analysis.expectations);
    assert_eq!(results[0].found.outcome, FoundOutcome::NotTraced);
    let report = Report { sources: &analysis.sources, results };
    let text = report.render_text_string();
    assert!(text.contains("cannot be traced: node mycluster-worker sends 10.10.1.164 through its own stack"), "{text}");
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
}

/// The reference cluster without the pod `name` (its whole block).
fn without_pod(name: &str) -> String {
    let text = reference();
    let start = text.find(&format!("pod {name} on")).unwrap();
    let end = start + text[start..].find("}\n").unwrap() + 2;
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn a_pod_expected_to_reach_a_removed_pod_fails_with_the_right_message() {
    let expectations = format!("expect {BUSYBOX} -> 10.10.1.155 delivered\n");
    let (_, before) = run(&expectations);
    assert_eq!(before[0].0, Status::Passed);

    let cluster = without_pod("networking101/netshoot-7d996d7884-gcxrm");
    let analysis = analyze(&cluster, &expectations);
    let view = Snapshot::from_cluster(analysis.cluster.as_ref().unwrap());
    let report = Report { sources: &analysis.sources, results: evaluate_all(&view, &analysis.expectations) };
    let text = report.render_text_string();
    insta::with_settings!({snapshot_path => "../../snapshots/expect", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("removed-pod", text);
    });
    assert!(text.contains("error: expected delivered, the trace found dropped no-endpoint"), "{text}");
    assert!(text.contains("diverged at hop 2: cil_from_netdev on eth0 of mycluster-worker2"), "{text}");

    // Named by its name, the removed pod is an input error with a code.
    let mut sources = Sources::new();
    sources.add("cluster.route".to_string(), cluster);
    sources.add(
        "expect.route".to_string(),
        format!("expect {BUSYBOX} -> networking101/netshoot-7d996d7884-gcxrm delivered\n"),
    );
    let analysis = analyze_sources(sources, Settings::default());
    let rendered = analysis.render_human_string();
    assert!(
        rendered.contains("error[E0017]: pod `networking101/netshoot-7d996d7884-gcxrm` is not declared"),
        "{rendered}"
    );
}

#[test]
fn text_json_and_junit_reports() {
    let text = "expect 10.10.2.117 -> 10.10.2.121 delivered local-delivery\n\
                expect 10.10.2.117 -> 10.10.1.155 delivered local-delivery\n\
                expect 10.10.2.117 -> 10.10.9.9 delivered { proto tcp; port 443 }\n";
    let (analysis, _) = run(text);
    let view = Snapshot::from_cluster(analysis.cluster.as_ref().unwrap());
    let report = Report { sources: &analysis.sources, results: evaluate_all(&view, &analysis.expectations) };
    assert_eq!(report.summary(), "1 passed, 2 failed");
    insta::with_settings!({snapshot_path => "../../snapshots/expect", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("report-text", report.render_text_string());
        insta::assert_snapshot!("report-json", report.to_json());
        insta::assert_snapshot!("report-junit", report.to_junit());
    });
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["version"], 1);
    let first = &json["expectations"][0];
    assert_eq!(first["file"], "expect.route");
    assert_eq!(first["line"], 1);
    assert_eq!(first["text"], "expect 10.10.2.117 -> 10.10.2.121 delivered local-delivery");
    assert_eq!(first["status"], "passed");
    let third = &json["expectations"][2];
    assert_eq!(third["status"], "failed");
    assert_eq!(third["found"]["outcome"], "dropped");
    assert_eq!(third["found"]["reason"], "no-route");
    assert_eq!(third["found"]["hop"]["index"], 1);
    assert_eq!(third["found"]["hop"]["program"], "cil_from_container");
}
