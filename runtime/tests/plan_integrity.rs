//! The loader reads a build only as built: every file it takes from OUT
//! (objects, seeds, attach plan, cluster) must match manifest.json.

mod common;

use common::*;

const WORKER: &str = "mycluster-worker";

/// A scratch folder removed also when the test fails.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn files_edited_after_the_build_are_refused() {
    let scratch = Scratch(std::env::temp_dir().join(format!("routec-plan-integrity-{}", std::process::id())));
    let out = scratch.0.join("out");
    build(&reference_cluster(), &out);
    let plan = node_plan(&out, WORKER).unwrap();
    assert_eq!(plan.lxc_seed.len(), 4);

    // The reviewer's case: one line of the node's cilium_lxc seed deleted.
    type Edit = fn(&str) -> String;
    let edits: [(&str, Edit); 3] = [
        ("nodes/mycluster-worker/cilium_lxc.seed", |text| text.lines().skip(1).map(|l| format!("{l}\n")).collect()),
        ("cluster/cilium_ipcache.seed", |text| text.lines().skip(1).map(|l| format!("{l}\n")).collect()),
        ("nodes/mycluster-worker/attach.json", |text| text.replace("cil_from_host", "cil_from_overlay")),
    ];
    for (rel, edit) in edits {
        let path = out.join(rel);
        let original = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, edit(&original)).unwrap();
        let err = node_plan(&out, WORKER).unwrap_err().to_string();
        assert!(err.contains(rel) && err.contains("changed after the build"), "{rel}: {err}");
        std::fs::write(&path, &original).unwrap();
    }
    // Another node's files do not matter to this node's plan.
    let other = out.join("nodes/mycluster-worker2/cilium_lxc.seed");
    std::fs::write(&other, "").unwrap();
    assert!(node_plan(&out, WORKER).is_ok());
    assert!(node_plan(&out, "mycluster-worker2").unwrap_err().to_string().contains("changed after the build"));
}
