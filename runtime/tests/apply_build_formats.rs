//! Apply reads one node's part of a build: its `node.json` and the binary
//! ipcache seed, each checked against the manifest (a tampered one is
//! refused before anything changes), and a build made before those files
//! existed still applies, from cluster.json and the hex seed.

mod common;

use std::process::Command;

use common::*;
use routec_runtime::lock::Wait;
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";

fn verify(out: &std::path::Path, target: &loader::Target) -> loader::ApplyReport {
    let plan = node_plan(out, WORKER).unwrap();
    loader::apply_with(&plan, target, Wait::Block, loader::MapSync::Verify, &mut |_| {}).unwrap()
}

#[test]
fn tampered_node_files_are_refused_and_an_older_build_still_applies() {
    if !can_run("tampered_node_files_are_refused_and_an_older_build_still_applies") {
        return;
    }
    let options = options();
    let name = "t-build-formats";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let routec = routec_binary();
    let applied = target.state_dir.join(&target.scope).join(format!("{WORKER}.applied"));

    // One pod's identity changed, in builds whose node file or binary seed
    // was edited after the build: `routec apply` exits 1 and leaves the
    // node exactly as the lab applied it.
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    for (index, rel) in ["nodes/mycluster-worker/node.json", "cluster/cilium_ipcache.bin"].into_iter().enumerate() {
        let out = options.state_dir.join(name).join(format!("out-tampered-{index}"));
        build(&changed, &out);
        let path = out.join(rel);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let record_before = std::fs::read(&applied).unwrap();
        let output = Command::new(&routec).arg("apply").arg(&out).args(node_args(&target)).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{rel}: {stderr}");
        assert!(stderr.contains(rel) && stderr.contains("changed after the build"), "{rel}: {stderr}");
        assert_eq!(std::fs::read(&applied).unwrap(), record_before, "{rel}: the record is untouched");
        assert!(verify(&state.out, &target).changed_nothing(), "{rel}: the kernel still holds the lab's build");
    }

    // The same change as a build of an older routec (no node.json, no binary
    // seed): applied incrementally, one entry in each map.
    let older = options.state_dir.join(name).join("out-older");
    build(&changed, &older);
    strip_to_older_build(&older);
    let report = loader::apply(&node_plan(&older, WORKER).unwrap(), &target).unwrap();
    assert_eq!(report.path, loader::SyncPath::Incremental, "{report}");
    assert_eq!((report.cilium_lxc.kernel_writes, report.cilium_ipcache.kernel_writes), (1, 1), "{report}");
    // And back to the lab's own (current) build: the same entries in reverse.
    let report = loader::apply(&node_plan(&state.out, WORKER).unwrap(), &target).unwrap();
    assert_eq!((report.cilium_lxc.kernel_writes, report.cilium_ipcache.kernel_writes), (1, 1), "{report}");
    assert!(verify(&older, &target).cilium_lxc.kernel_writes == 1, "the older build's entries differ by one pod");
    assert!(verify(&state.out, &target).cilium_ipcache.kernel_writes == 1);
}
