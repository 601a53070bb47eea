//! `routec test --lab` and `--live LAB` through the binary: real packets
//! for the examples' expectations. Root only; run under the lab lock.

use std::path::Path;

mod common;
use common::{can_run, example, routec, STATE_DIR};

const LAB: &str = "t-expect-live";

struct Down;
impl Drop for Down {
    fn drop(&mut self) {
        if Path::new(STATE_DIR).join(format!("{LAB}.json")).exists() {
            routec(&["lab", "down", LAB, "--state-dir", STATE_DIR]);
        }
    }
}

fn labs_left() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(STATE_DIR) else { return Vec::new() };
    // A lab's lock file outlives it by design (see runtime/src/lock.rs).
    entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("test-") && !n.ends_with(".lock"))
        .collect()
}

#[test]
fn test_lab_and_live() {
    if !can_run("test_lab_and_live") {
        return;
    }
    let example = example();
    let example = example.to_str().unwrap();

    // --lab: a lab of its own, taken down after.
    let out = routec(&["test", example, "--lab", "--state-dir", STATE_DIR]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.lines().last().unwrap().ends_with(" passed, 0 failed"), "{text}");
    assert!(text.contains("dropped no-route  (real packet: dropped)"), "{text}");
    assert!(text.contains("{ proto udp; port 53 }  (real packet: delivered)"), "{text}");
    assert!(labs_left().is_empty(), "the lab is down: {:?}", labs_left());

    // --live: against a lab that is already up, which stays up.
    let _down = Down;
    assert!(routec(&["lab", "up", example, "--name", LAB, "--state-dir", STATE_DIR]).status.success());
    let live = routec(&["test", example, "--live", LAB, "--state-dir", STATE_DIR, "--format", "json"]);
    assert_eq!(live.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    for e in doc["expectations"].as_array().unwrap() {
        assert_eq!(e["status"], "passed", "{e}");
        assert_eq!(e["packets"]["outcome"], e["found"]["outcome"], "{e}");
        assert_eq!(e["disagreement"], false);
    }
    assert!(Path::new(STATE_DIR).join(format!("{LAB}.json")).exists(), "--live leaves the lab up");

    // A wrong expectation fails with real packets too, as a JUnit failure.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(example).join("cluster.route"), dir.path().join("cluster.route")).unwrap();
    std::fs::write(
        dir.path().join("expect.route"),
        "expect 10.10.2.117 -> 10.10.9.9 delivered { proto tcp; port 80 }\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let wrong = routec(&["test", path, "--live", LAB, "--state-dir", STATE_DIR, "--format", "junit"]);
    assert_eq!(wrong.status.code(), Some(1));
    let xml = String::from_utf8_lossy(&wrong.stdout);
    assert!(xml.contains("<failure type=\"expectation\""), "{xml}");
    assert!(xml.contains("real packets: TCP connect to 10.10.9.9:80 (TTL 64) failed"), "{xml}");

    assert_eq!(routec(&["test", example, "--live", "no-such-lab", "--state-dir", STATE_DIR]).status.code(), Some(2));
}
