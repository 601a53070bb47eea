//! `routec diff` as a pipeline runs it: exit codes with and without
//! --detailed-exitcode, the JSON document, --node, and unreadable builds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Builds (without clang) examples/mycluster as `deployed` and a copy edited
/// by `edit` as `out`.
fn two_builds(edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let scratch = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(example("mycluster").join("cluster.route")).unwrap();
    let edited = scratch.path().join("edited.route");
    std::fs::write(&edited, edit(source)).unwrap();
    let (deployed, out) = (scratch.path().join("deployed"), scratch.path().join("out"));
    for (input, target) in [(example("mycluster"), &deployed), (edited, &out)] {
        let built = routec(&["build", path_str(&input), "-o", path_str(target), "--no-clang"]);
        assert!(built.status.success(), "{}", stderr(&built));
    }
    (scratch, deployed, out)
}

fn identity_change(text: String) -> String {
    text.replace("endpoint 715\n    identity 3372", "endpoint 715\n    identity 4242")
}

#[test]
fn detailed_exitcode_says_whether_anything_changes() {
    let (_scratch, deployed, out) = two_builds(identity_change);
    let changed = routec(&["diff", path_str(&deployed), path_str(&out), "--detailed-exitcode"]);
    assert_eq!(changed.status.code(), Some(2), "{}", stderr(&changed));
    let text = stdout(&changed);
    assert!(text.contains("~ cilium_lxc[10.10.2.117]  (pod networking101/busybox-c8bbbbb84-t6ggh)"), "{text}");
    assert!(text.contains("      sec_id: 3372 -> 4242\n"), "{text}");
    assert!(text.ends_with("Plan: 0 to add, 4 to change, 0 to destroy.\n"), "{text}");

    let plain = routec(&["diff", path_str(&deployed), path_str(&out)]);
    assert_eq!(plain.status.code(), Some(0), "changes are a success without --detailed-exitcode");

    let same = routec(&["diff", path_str(&deployed), path_str(&deployed), "--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(stdout(&same).contains("\nNo changes."), "{}", stdout(&same));
}

#[test]
fn json_lists_every_change_with_terraform_actions() {
    let (_scratch, deployed, out) = two_builds(identity_change);
    let output = routec(&["diff", path_str(&deployed), path_str(&out), "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["format_version"], 1);
    let changes = document["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4, "one lxc entry on its node, one ipcache entry on each of 3 nodes");
    for change in changes {
        assert_eq!(change["actions"], serde_json::json!(["update"]));
        assert_eq!(change["subject"], "pod networking101/busybox-c8bbbbb84-t6ggh");
        assert_eq!(change["before"]["key_hex"], change["after"]["key_hex"]);
    }
    assert_eq!(document["summary"], serde_json::json!({"add": 0, "change": 4, "destroy": 0}));
}

#[test]
fn node_shows_one_node_and_an_unknown_node_is_an_error() {
    let (_scratch, deployed, out) = two_builds(identity_change);
    let one = routec(&["diff", path_str(&deployed), path_str(&out), "--node", "mycluster-worker2"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let text = stdout(&one);
    assert!(text.contains("node mycluster-worker2\n") && !text.contains("node mycluster-worker\n"), "{text}");
    assert!(text.ends_with("Plan: 0 to add, 1 to change, 0 to destroy.\n"), "{text}");

    let unknown = routec(&["diff", path_str(&deployed), path_str(&out), "--node", "nowhere"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("neither build has this node"), "{}", stderr(&unknown));
    let detailed = routec(&["diff", path_str(&deployed), path_str(&out), "--node", "nowhere", "--detailed-exitcode"]);
    assert_eq!(detailed.status.code(), Some(1), "every error is 1 with --detailed-exitcode");

    // A usage error clap finds (a misspelt flag) is 2 as for every command,
    // but 1 with --detailed-exitcode, where 2 would mean "changes".
    let misspelt = routec(&["diff", path_str(&deployed), path_str(&out), "--fromat", "json"]);
    assert_eq!(misspelt.status.code(), Some(2));
    let misspelt = routec(&["diff", path_str(&deployed), path_str(&out), "--detailed-exitcode", "--fromat", "json"]);
    assert_eq!(misspelt.status.code(), Some(1), "{}", stderr(&misspelt));
    assert!(stderr(&misspelt).contains("--fromat"), "{}", stderr(&misspelt));
    let help = routec(&["diff", "--detailed-exitcode", "--help"]);
    assert_eq!(help.status.code(), Some(0));
}

#[test]
fn a_corrupted_build_is_exit_1_with_the_readers_message() {
    let (_scratch, deployed, out) = two_builds(identity_change);
    let seed = out.join("cluster/cilium_ipcache.seed");
    let text = std::fs::read_to_string(&seed).unwrap().replacen("2c 0d", "2d 0d", 1);
    std::fs::write(&seed, text).unwrap();
    for extra in [&[][..], &["--detailed-exitcode"][..]] {
        let output = routec(&[&["diff", path_str(&deployed), path_str(&out)][..], extra].concat());
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(stderr(&output).contains("cilium_ipcache.seed: changed after the build"), "{}", stderr(&output));
        assert!(output.stdout.is_empty(), "no plan from a build that cannot be trusted");
    }
    let missing = routec(&["diff", path_str(&deployed), "/nonexistent/out"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("is not a routec build output"), "{}", stderr(&missing));
}

#[test]
fn builds_of_another_cluster_are_refused_unless_allowed() {
    let (_scratch, deployed, out) = two_builds(|text| text.replace("cluster mycluster {", "cluster othercluster {"));
    let refused = routec(&["diff", path_str(&deployed), path_str(&out)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("cluster `mycluster` and NEW of cluster `othercluster`"), "{}", stderr(&refused));
    let allowed = routec(&["diff", path_str(&deployed), path_str(&out), "--allow-cluster-change"]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
}

fn clang_available() -> bool {
    let found = ["clang", "clang-14", "clang-15", "clang-16", "clang-17", "clang-18", "clang-19"]
        .iter()
        .any(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but no clang: install clang llvm libbpf-dev");
    }
    found
}

#[test]
fn builds_with_objects_compare_their_programs() {
    if !clang_available() {
        eprintln!("skipped: no clang to compile the objects");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let (compiled, no_objects) = (scratch.path().join("compiled"), scratch.path().join("no-objects"));
    let mycluster = example("mycluster");
    for (target, extra) in [(&compiled, &[][..]), (&no_objects, &["--no-clang"][..])] {
        let args = [&["build", path_str(&mycluster), "-o", path_str(target)][..], extra].concat();
        let built = routec(&args);
        assert!(built.status.success(), "{}", stderr(&built));
    }
    let same = routec(&["diff", path_str(&compiled), path_str(&compiled), "--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(!stdout(&same).contains("note:"), "both builds have objects: {}", stdout(&same));
    let mixed = routec(&["diff", path_str(&compiled), path_str(&no_objects), "--detailed-exitcode"]);
    assert_eq!(mixed.status.code(), Some(0), "{}", stderr(&mixed));
    assert!(
        stdout(&mixed).contains("note: programs not compared: NEW was built without objects (--no-clang)"),
        "{}",
        stdout(&mixed)
    );
}
