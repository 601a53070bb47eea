//! The lab and loader commands end to end, through the `routec` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const STATE_DIR: &str = "/run/routec/test-labs";
const LAB: &str = "t-cli";

fn can_run(test: &str) -> bool {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if uid.unwrap_or(false) {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CI=true does not allow skipping)");
    }
    eprintln!("skipping {test}: needs root to create network namespaces");
    false
}

fn routec(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap();
    eprintln!(
        "$ routec {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster")
}

struct Down;
impl Drop for Down {
    fn drop(&mut self) {
        if Path::new(STATE_DIR).join(format!("{LAB}.json")).exists() {
            routec(&["lab", "down", LAB, "--state-dir", STATE_DIR]);
        }
    }
}

#[test]
fn lab_up_exec_status_apply_down() {
    if !can_run("lab_up_exec_status_apply_down") {
        return;
    }
    let _down = Down;
    let example = example();
    let up = routec(&["lab", "up", example.to_str().unwrap(), "--name", LAB, "--state-dir", STATE_DIR]);
    assert!(up.status.success());
    assert!(String::from_utf8_lossy(&up.stderr).contains("applied (3/3)"), "progress is shown");

    let exec = |pod: &str, dst: &str| {
        routec(&["lab", "exec", LAB, pod, "--state-dir", STATE_DIR, "--", "ping", "-c", "1", "-W", "2", dst])
            .status
            .success()
    };
    assert!(exec("networking101/busybox-c8bbbbb84-t6ggh", "10.10.1.155"), "by pod name, to the other node");
    assert!(exec("10.10.1.155", "10.10.2.121"), "by pod IP, back");
    assert!(!exec("10.10.2.117", "10.10.2.200"), "no pod has 10.10.2.200");

    let status = routec(&["status", "--node", "mycluster-worker", "--scope", LAB, "--format", "json"]);
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let programs: Vec<(&str, &str, &str)> = status["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["interface"].as_str().unwrap(), p["direction"].as_str().unwrap(), p["program"].as_str().unwrap()))
        .collect();
    for expected in [
        ("lxc4a891387ff1a", "ingress", "cil_from_container"),
        ("lxc5b7b34955e61", "ingress", "cil_from_container"),
        ("cilium_vxlan", "ingress", "cil_from_overlay"),
        ("cilium_host", "egress", "cil_from_host"),
    ] {
        assert!(programs.contains(&expected), "{expected:?} in {programs:?}");
    }
    let lxc = status["maps"].as_array().unwrap().iter().find(|m| m["name"] == "cilium_lxc").unwrap();
    assert_eq!(lxc["entries"], 4, "two pods and two host entries");
    let counter = |name: &str| {
        status["counters"].as_array().unwrap().iter().find(|c| c["reason"] == name).unwrap()["packets"]
            .as_u64()
            .unwrap()
    };
    assert!(counter("tunnel-encap") >= 1 && counter("no-endpoint") >= 1);

    let lab_status = routec(&["lab", "status", LAB, "--state-dir", STATE_DIR]);
    assert!(lab_status.status.success());
    let text = String::from_utf8_lossy(&lab_status.stdout);
    assert!(text.contains("node mycluster-worker2") && text.contains("cil_from_overlay"), "{text}");

    // Re-applying the lab's own build through `routec apply` changes nothing.
    let out = Path::new(STATE_DIR).join(LAB).join("out");
    let netns = format!("/run/netns/{LAB}-mycluster-worker");
    let apply =
        routec(&["apply", out.to_str().unwrap(), "--node", "mycluster-worker", "--netns", &netns, "--scope", LAB]);
    assert!(apply.status.success());
    assert!(String::from_utf8_lossy(&apply.stdout).contains("nothing to change"));

    let down = routec(&["lab", "down", LAB, "--state-dir", STATE_DIR]);
    assert!(down.status.success());
    assert!(!Path::new(&netns).exists());
    assert!(!Path::new("/sys/fs/bpf/routec").join(LAB).exists());
    assert!(!Path::new(STATE_DIR).join(format!("{LAB}.json")).exists());
}
