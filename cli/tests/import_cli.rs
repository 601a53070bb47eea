//! `routec import` as a user runs it on what kubectl and cilium-dbg printed:
//! exit codes, the JSON report, nothing written on error, and the round trip
//! of the README (import, check, trace a pair).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data/import").join(name);
    path.to_str().unwrap().to_string()
}

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap()
}

fn import_args(out: &Path) -> Vec<String> {
    [
        "import",
        "--endpoints",
        &data("ciliumendpoints.json"),
        "--nodes",
        &data("ciliumnodes.json"),
        "--agent-endpoints",
        &format!("mycluster-worker={}", data("endpoints-mycluster-worker.json")),
        "-o",
        out.to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn run(args: &[String]) -> Output {
    routec(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn import_check_and_trace_a_pair() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("mycluster");
    let imported = run(&import_args(&out));
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let stdout = String::from_utf8(imported.stdout).unwrap();
    assert!(stdout.starts_with("imported mycluster into "), "{stdout}");
    let dir = out.to_str().unwrap();
    let check = routec(&["check", dir]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let trace = routec(&["trace", "10.10.2.117", "10.10.1.155", dir]);
    assert_eq!(trace.status.code(), Some(0), "{}", stderr(&trace));
    let text = String::from_utf8(trace.stdout).unwrap();
    assert!(
        text.contains(
            "result: delivered to networking101/netshoot-7d996d7884-gcxrm (10.10.1.155) on mycluster-worker2"
        ),
        "{text}"
    );
}

#[test]
fn the_json_report_says_what_was_imported_skipped_and_derived() {
    let scratch = tempfile::tempdir().unwrap();
    let mut args = import_args(&scratch.path().join("out"));
    args.extend(["--format".into(), "json".into()]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["cluster"], "mycluster");
    assert_eq!(report["imported"]["pods"].as_array().unwrap().len(), 4);
    assert_eq!(report["skipped"][0]["reason"], "reserved:host: not a pod");
    assert!(report["derived"].as_array().unwrap().iter().any(|d| d["value"] == "lxc6d8094bd0a69"));
}

#[test]
fn bad_input_exits_1_and_writes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("endpoints.json");
    let text = std::fs::read_to_string(data("ciliumendpoints.json")).unwrap();
    std::fs::write(&broken, text.replacen("\"id\": 715", "\"id\": \"715\"", 1)).unwrap();
    let out = scratch.path().join("out");
    let mut args = import_args(&out);
    args[2] = broken.to_str().unwrap().to_string();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("items[1].status.id is a string, not a number (networking101/busybox-c8bbbbb84-t6ggh)"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on error");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let mut args = import_args(&scratch.path().join("out"));
    args[2] = scratch.path().join("missing.json").to_str().unwrap().to_string();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read"), "{}", stderr(&output));

    let mut args = import_args(&scratch.path().join("out"));
    args[6] = "Not_A_Node=x.json".into();
    assert_eq!(run(&args).status.code(), Some(2));

    let foreign = scratch.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let output = run(&import_args(&foreign));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("refusing to replace"), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
}
