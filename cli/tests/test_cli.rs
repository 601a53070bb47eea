//! `routec test` and `routec snapshot` end to end: exit codes, the reports
//! (JUnit checked by a real parser and by the schema), builds that do not
//! change with expectations, and snapshots that are stable and diff exactly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().expect("routec runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A scratch folder holding a copy of examples/mycluster's cluster.route and
/// `expectations` as expect.route.
fn cluster_with(expectations: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(repo("examples/mycluster/cluster.route"), dir.path().join("cluster.route")).unwrap();
    if !expectations.is_empty() {
        std::fs::write(dir.path().join("expect.route"), expectations).unwrap();
    }
    dir
}

/// Whether an outside tool is there; outside CI a missing one skips the test
/// with a reason, under CI=true it fails it (scripts/setup installs them).
fn have(tool: &str, test: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "{test}: `{tool}` is missing (scripts/setup installs it)"
        );
        eprintln!("skipping {test}: `{tool}` is not installed");
    }
    found
}

const FAILING: &str = "expect 10.10.2.117 -> 10.10.2.121 delivered local-delivery\n\
                       expect 10.10.2.117 -> 10.10.1.155 delivered local-delivery\n\
                       expect 10.10.2.117 -> 10.10.9.9 delivered\n\
                       expect 10.10.2.117 -> 10.10.2.121 dropped { proto udp; port 53 }\n";

#[test]
fn the_examples_pass() {
    for example in ["examples/mycluster", "examples/multi-file", "examples/dualstack"] {
        let out = routec(&["test", s(&repo(example))]);
        let text = stdout(&out);
        assert_eq!(code(&out), 0, "{text}");
        let last = text.lines().last().unwrap();
        assert!(last.ends_with(" passed, 0 failed") && !last.starts_with("0 "), "{example}: {last}");
        assert!(text.lines().filter(|l| l.starts_with("passed  ")).count() >= 5, "{text}");
    }
}

#[test]
fn failures_exit_1_with_a_diagnostic_each_and_the_summary() {
    let dir = cluster_with(FAILING);
    let out = routec(&["test", s(dir.path())]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert_eq!(text.lines().last().unwrap(), "1 passed, 3 failed");
    assert_eq!(text.matches("\nerror: expected ").count(), 3, "{text}");
    assert!(text.contains("error: expected delivered, the trace found dropped no-route"), "{text}");
    assert!(text.contains("= diverged at hop 1: cil_from_container on lxc4a891387ff1a of mycluster-worker"), "{text}");
    assert!(text.contains("expect.route:3:1"), "the diagnostic points at the expect: {text}");
}

#[test]
fn input_errors_exit_1_and_usage_errors_2() {
    let dir = cluster_with("expect networking101/nobody -> 10.10.2.121 delivered\n");
    let out = routec(&["test", s(dir.path())]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("error[E0017]"));

    let dir = cluster_with("expect 10.10.2.117 -> 10.10.9.9 delivered no-route\n");
    let check = routec(&["check", s(dir.path())]);
    assert_eq!(code(&check), 1, "check reports expectations' codes like every other");
    assert!(String::from_utf8_lossy(&check.stderr).contains("error[E0018]: `no-route` is a drop reason"));

    assert_eq!(code(&routec(&["test", s(&repo("examples/mycluster")), "--format", "xml"])), 2);
    assert_eq!(code(&routec(&["test", "/nonexistent/routec/input"])), 2);
    assert_eq!(code(&routec(&["test", s(&repo("examples/mycluster")), "--build", "/nonexistent/out"])), 2);

    // A build of another cluster is refused, not traced into "cannot be traced" failures.
    let other = tempfile::tempdir().unwrap();
    let other_out = other.path().join("out");
    assert_eq!(code(&routec(&["build", "--no-clang", s(&repo("examples/multi-file")), "-o", s(&other_out)])), 0);
    let refused = routec(&["test", s(&repo("examples/mycluster")), "--build", s(&other_out)]);
    assert_eq!(code(&refused), 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is a build of cluster `edge`, not of `mycluster`"));

    // JSON diagnostics (W0102 here) never land in the report on stdout.
    let both = routec(&["test", s(&repo("examples/mycluster")), "--format", "json", "--message-format", "json"]);
    assert_eq!(code(&both), 0);
    serde_json::from_slice::<serde_json::Value>(&both.stdout).expect("stdout is the report alone");
    assert!(String::from_utf8_lossy(&both.stderr).contains("\"code\":\"W0102\""));

    // An input without expectations passes, and says it tested nothing.
    let none = routec(&["test", s(&repo("examples/mycluster/cluster.route"))]);
    assert_eq!(code(&none), 0);
    assert!(String::from_utf8_lossy(&none.stderr).contains("holds no `expect`: nothing is tested"));
}

#[test]
fn json_lists_every_expectation() {
    let dir = cluster_with(FAILING);
    let out = routec(&["test", s(dir.path()), "--format", "json"]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["version"], 1);
    let list = doc["expectations"].as_array().unwrap();
    assert_eq!(list.len(), 4);
    let statuses: Vec<&str> = list.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["passed", "failed", "failed", "failed"]);
    for (i, e) in list.iter().enumerate() {
        assert!(e["file"].as_str().unwrap().ends_with("expect.route"));
        assert_eq!(e["line"], i + 1);
        assert!(e["text"].as_str().unwrap().starts_with("expect 10.10.2.117 -> "));
        assert!(e["found"]["outcome"].is_string());
    }
    assert_eq!(list[3]["found"]["reason"], "local-delivery");
}

#[test]
fn junit_reads_in_junitparser_and_matches_the_schema() {
    let dir = cluster_with(FAILING);
    // Expectations in two files: one testsuite per file.
    std::fs::write(dir.path().join("more.route"), "expect 10.10.2.121 -> node mycluster-worker delivered to-stack\n")
        .unwrap();
    let report = dir.path().join("report.xml");
    let out = routec(&["test", s(dir.path()), "--format", "junit", "-o", s(&report)]);
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty() || code(&out) == 1);

    if have("xmllint", "junit_matches_the_schema") {
        let schema = repo("cli/tests/data/junit.xsd");
        let lint = Command::new("xmllint").args(["--noout", "--schema", s(&schema), s(&report)]).output().unwrap();
        assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    }
    if have("python3", "junit_reads_in_junitparser") {
        let script = r#"
import sys
try:
    from junitparser import JUnitXml, Failure
except ImportError:
    print("missing"); sys.exit(3)
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    print("suite", suite.name.rsplit("/", 1)[-1], suite.tests, suite.failures)
    for case in suite:
        failure = [r for r in case.result if isinstance(r, Failure)]
        print("case", case.name, "failed" if failure else "passed", failure[0].message if failure else "")
        if failure:
            assert "1. mycluster-worker" in failure[0].text or "cannot be traced" in failure[0].text
"#;
        let run = Command::new("python3").args(["-c", script, s(&report)]).output().unwrap();
        let printed = String::from_utf8_lossy(&run.stdout);
        if run.status.code() == Some(3) {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "junitparser is missing (scripts/setup installs it)"
            );
            eprintln!("skipping the junitparser check: the package is not installed");
            return;
        }
        assert!(run.status.success(), "{printed}{}", String::from_utf8_lossy(&run.stderr));
        let expected = "suite expect.route 4 3\n\
            case expect 10.10.2.117 -> 10.10.2.121 delivered local-delivery passed \n\
            case expect 10.10.2.117 -> 10.10.1.155 delivered local-delivery failed expected delivered local-delivery, the trace found delivered overlay-delivery\n\
            case expect 10.10.2.117 -> 10.10.9.9 delivered failed expected delivered, the trace found dropped no-route\n\
            case expect 10.10.2.117 -> 10.10.2.121 dropped { proto udp; port 53 } failed expected dropped, the trace found delivered local-delivery\n\
            suite more.route 1 0\n\
            case expect 10.10.2.121 -> node mycluster-worker delivered to-stack passed \n";
        assert_eq!(printed, expected);
    }
}

#[test]
fn a_build_folder_gives_the_same_results() {
    let dir = cluster_with(FAILING);
    let out_dir = dir.path().join("out");
    assert_eq!(code(&routec(&["build", s(dir.path()), "-o", s(&out_dir), "--no-clang"])), 0);
    let from_cluster = routec(&["test", s(dir.path()), "--format", "json"]);
    let from_build = routec(&["test", s(dir.path()), "--build", s(&out_dir), "--format", "json"]);
    assert_eq!(code(&from_build), 1);
    assert_eq!(stdout(&from_cluster), stdout(&from_build));
}

/// Every file of a build folder, relative path to bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir(dir)
        .into_iter()
        .map(|p| (p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn expectations_change_no_map_byte_and_no_program() {
    let clang = Command::new("clang").arg("--version").output().is_ok_and(|o| o.status.success());
    let build = |dir: &Path| {
        let out = dir.join("out");
        let mut args = vec!["build", s(dir), "-o", s(&out)];
        if !clang {
            args.push("--no-clang");
        }
        let result = routec(&args);
        assert_eq!(code(&result), 0, "{}", String::from_utf8_lossy(&result.stderr));
        tree(&out)
    };
    let without = cluster_with("");
    let with = cluster_with(&std::fs::read_to_string(repo("examples/mycluster/expect.route")).unwrap());
    let (a, b) = (build(without.path()), build(with.path()));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    if clang {
        assert!(a.keys().any(|k| k.ends_with(".o")), "programs are compared too");
    }
    for (name, bytes) in &a {
        if name == "manifest.json" {
            continue;
        }
        assert!(bytes == &b[name], "{name} differs with expectations");
    }
    let (ma, mb) = (String::from_utf8_lossy(&a["manifest.json"]), String::from_utf8_lossy(&b["manifest.json"]));
    let differing: Vec<(&str, &str)> = ma.lines().zip(mb.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(differing.len(), 1, "{differing:?}");
    assert!(differing[0].0.contains("\"input_digest\""), "{differing:?}");
}

#[test]
fn snapshot_is_stable_and_committed() {
    for name in ["mycluster", "dualstack", "native", "native6"] {
        let example = repo(&format!("examples/{name}"));
        let snap = repo(&format!("examples/{name}/datapath.snap"));
        let first = routec(&["snapshot", s(&example)]);
        let second = routec(&["snapshot", s(&example)]);
        assert_eq!(code(&first), 0);
        assert_eq!(first.stdout, second.stdout, "byte-stable across runs");
        let committed = std::fs::read(&snap).unwrap();
        assert!(first.stdout == committed, "examples/{name}/datapath.snap is out of date: run routec snapshot -o");
        let check = routec(&["snapshot", s(&example), "--check", s(&snap)]);
        assert_eq!(code(&check), 0, "{}", stdout(&check));
        assert!(check.stdout.is_empty());
    }
}

#[test]
fn snapshot_check_shows_exactly_a_one_pod_change() {
    let dir = cluster_with("");
    let old = dir.path().join("old.snap");
    assert_eq!(code(&routec(&["snapshot", s(dir.path()), "-o", s(&old)])), 0);
    // One pod gets another identity: its cilium_lxc and cilium_ipcache entries change.
    let cluster = dir.path().join("cluster.route");
    let text = std::fs::read_to_string(&cluster).unwrap();
    let changed =
        text.replacen("    endpoint 3564\n    identity 10388\n", "    endpoint 3564\n    identity 10400\n", 1);
    assert_ne!(text, changed);
    std::fs::write(&cluster, changed).unwrap();

    let out = routec(&["snapshot", s(dir.path()), "--check", s(&old)]);
    assert_eq!(code(&out), 1);
    let diff = stdout(&out);
    let changes: Vec<&str> =
        diff.lines().filter_map(|l| l.split_once('│').map(|(_, t)| t)).filter(|t| !t.starts_with(' ')).collect();
    let expected = [
        "-      value  endpoint 3564, ifindex 11, flags 0x0, mac be:57:3d:54:40:f1, node-mac 92:65:df:09:dd:28, identity 10388",
        "-      bytes  0b 00 00 00 00 00 ec 0d 00 00 00 00 00 00 00 00 be 57 3d 54 40 f1 00 00 92 65 df 09 dd 28 00 00 94 28 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        "+      value  endpoint 3564, ifindex 11, flags 0x0, mac be:57:3d:54:40:f1, node-mac 92:65:df:09:dd:28, identity 10400",
        "+      bytes  0b 00 00 00 00 00 ec 0d 00 00 00 00 00 00 00 00 be 57 3d 54 40 f1 00 00 92 65 df 09 dd 28 00 00 a0 28 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
        "-      value  identity 10388, tunnel endpoint 172.18.0.4",
        "-      bytes  94 28 00 00 ac 12 00 04 00 00 00 00",
        "+      value  identity 10400, tunnel endpoint 172.18.0.4",
        "+      bytes  a0 28 00 00 ac 12 00 04 00 00 00 00",
    ];
    assert_eq!(changes, expected, "{diff}");
    assert!(
        diff.contains("    10.10.1.155 (pod networking101/netshoot-7d996d7884-gcxrm)"),
        "context names the pod: {diff}"
    );
    assert!(diff.starts_with("-old snapshot: "), "{diff}");
}
