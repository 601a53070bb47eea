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

    // The reviewer's case: one line of the node's cilium_lxc seed deleted;
    // and each other file the plan takes, the per-node file and the binary
    // ipcache seed among them.
    let edits: [(&str, Edit); 4] = [
        ("nodes/mycluster-worker/cilium_lxc.seed", |bytes| drop_first_line(bytes)),
        ("cluster/cilium_ipcache.bin", |bytes| bytes[36..].to_vec()),
        ("nodes/mycluster-worker/attach.json", |bytes| replace(bytes, "cil_from_host", "cil_from_overlay")),
        ("nodes/mycluster-worker/node.json", |bytes| replace(bytes, "lxc", "lxd")),
    ];
    refuses_each_edit(&out, &edits);
    // Another node's files do not matter to this node's plan.
    let other = out.join("nodes/mycluster-worker2/cilium_lxc.seed");
    std::fs::write(&other, "").unwrap();
    assert!(node_plan(&out, WORKER).is_ok());
    assert!(node_plan(&out, "mycluster-worker2").unwrap_err().to_string().contains("changed after the build"));
}

fn drop_first_line(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.lines().skip(1).map(|l| format!("{l}\n")).collect::<String>().into_bytes()
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(bytes.to_vec()).unwrap().replace(from, to).into_bytes()
}

/// Each edit, made alone, makes the worker's plan fail naming the file.
/// A change made to a file's bytes.
type Edit = fn(&[u8]) -> Vec<u8>;

fn refuses_each_edit(out: &std::path::Path, edits: &[(&str, Edit)]) {
    for (rel, edit) in edits {
        let path = out.join(rel);
        let original = std::fs::read(&path).unwrap();
        std::fs::write(&path, edit(&original)).unwrap();
        let err = node_plan(out, WORKER).unwrap_err().to_string();
        assert!(err.contains(rel) && err.contains("changed after the build"), "{rel}: {err}");
        std::fs::write(&path, &original).unwrap();
    }
}

#[test]
fn a_build_without_node_files_or_binary_seed_plans_the_same_from_cluster_json() {
    let scratch = Scratch(std::env::temp_dir().join(format!("routec-plan-older-{}", std::process::id())));
    let out = scratch.0.join("out");
    build(&reference_cluster(), &out);
    let newer = node_plan(&out, WORKER).unwrap();
    strip_to_older_build(&out);
    let older = node_plan(&out, WORKER).unwrap();
    assert_eq!(
        (&older.endpoints, &older.constants, &older.overlay_device, &older.ipcache_seed, &older.lxc_seed),
        (&newer.endpoints, &newer.constants, &newer.overlay_device, &newer.ipcache_seed, &newer.lxc_seed)
    );
    assert!(!older.endpoints.is_empty());
    // There the loader takes cluster.json and the hex seed, checked the same way.
    let edits: [(&str, Edit); 2] = [
        ("cluster/cilium_ipcache.seed", |bytes| drop_first_line(bytes)),
        ("cluster/cluster.json", |bytes| replace(bytes, "lxc", "lxd")),
    ];
    refuses_each_edit(&out, &edits);
}

#[test]
fn a_resealed_node_file_for_another_node_or_with_a_bad_interface_is_refused() {
    let scratch = Scratch(std::env::temp_dir().join(format!("routec-plan-node-file-{}", std::process::id())));
    let out = scratch.0.join("out");
    build(&reference_cluster(), &out);
    let rel = "nodes/mycluster-worker/node.json";
    let original = std::fs::read(out.join(rel)).unwrap();
    let other = std::fs::read(out.join("nodes/mycluster-worker2/node.json")).unwrap();
    let first_lxc = |bytes: &[u8]| {
        let file: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        file["endpoints"][0]["lxc"].as_str().unwrap().to_string()
    };
    let bad_lxc = replace(&original, &first_lxc(&original), "../../etc");
    for (bytes, expect) in [(other, "not of `mycluster-worker`"), (bad_lxc, "interface `../../etc`")] {
        std::fs::write(out.join(rel), &bytes).unwrap();
        reseal_manifest(&out, rel);
        let err = node_plan(&out, WORKER).unwrap_err().to_string();
        assert!(err.contains(rel) && err.contains(expect), "{err}");
    }
}
