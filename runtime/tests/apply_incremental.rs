//! Apply in O(changes): an apply after a clean one writes the delta from
//! the record of what that one wrote, reading nothing back; `--verify` (and
//! every apply whose base is unknown: an apply killed mid-way, a damaged
//! record) reads every entry back and repairs drift.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use routec_compiler::layout::EndpointKey;
use routec_compiler::seeds;
use routec_runtime::live_trace::read_lxc;
use routec_runtime::lock::Wait;
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";
const NETSHOOT: &str = "10.10.2.121";

/// Where apply keeps what it last wrote for the target's node.
fn applied_file(target: &loader::Target) -> PathBuf {
    target.state_dir.join(&target.scope).join(format!("{}.applied", target.node))
}

fn journal_file(target: &loader::Target) -> PathBuf {
    target.state_dir.join(&target.scope).join(format!("{}.journal.json", target.node))
}

fn verify(out: &std::path::Path, target: &loader::Target) -> loader::ApplyReport {
    let plan = node_plan(out, WORKER).unwrap();
    loader::apply_with(&plan, target, Wait::Block, loader::MapSync::Verify, &mut |_| {}).unwrap()
}

/// (added, updated, deleted, kernel reads, kernel writes) of one map.
fn counts(changes: &loader::MapChanges) -> (usize, usize, usize, usize, usize) {
    (changes.added, changes.updated, changes.deleted, changes.kernel_reads, changes.kernel_writes)
}

#[test]
fn a_one_pod_change_writes_exactly_its_entries_and_reads_nothing_back() {
    if !can_run("a_one_pod_change_writes_exactly_its_entries_and_reads_nothing_back") {
        return;
    }
    let options = options();
    let name = "t-incr-one-pod";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    assert!(applied_file(&target).exists(), "the lab's apply recorded what it wrote");

    // The same build again: the record says it all, nothing is read or written.
    let again = loader::apply(&node_plan(&state.out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(again.path, loader::SyncPath::Incremental, "{again}");
    assert!(again.changed_nothing(), "{again}");
    assert_eq!(counts(&again.cilium_lxc), (0, 0, 0, 0, 0));
    assert_eq!(counts(&again.cilium_ipcache), (0, 0, 0, 0, 0));
    assert_eq!(again.cilium_lxc.unchanged, 4);

    // One pod's identity: its lxc entry and its ipcache entry, nothing else.
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    let changed_out = options.state_dir.join(name).join("out-changed");
    build(&changed, &changed_out);
    let report = loader::apply(&node_plan(&changed_out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(report.path, loader::SyncPath::Incremental, "{report}");
    assert_eq!(counts(&report.cilium_lxc), (0, 1, 0, 0, 1), "{report}");
    assert_eq!(counts(&report.cilium_ipcache), (0, 1, 0, 0, 1), "{report}");
    assert_eq!(report.cilium_lxc.unchanged, 3);
    assert!(report.attached.is_empty() && report.programs_replaced.is_empty(), "{report}");

    // The kernel holds exactly the build: a full read-back finds nothing to repair.
    let verified = verify(&changed_out, &target);
    assert_eq!(verified.path, loader::SyncPath::Verified);
    assert_eq!(verified.verified_because.as_deref(), Some("--verify"));
    assert!(verified.changed_nothing(), "{verified}");
    assert_eq!(verified.cilium_lxc.kernel_reads, 4, "{verified}");
    assert!(verified.cilium_ipcache.kernel_reads > 4, "{verified}");
    assert!(ping(&busybox, NETSHOOT) && ping(&busybox, "10.10.1.155"));

    // A pod removed, then back: one delete, then one add, in each map.
    let mut smaller = changed.clone();
    smaller.pods.retain(|p| p.ip.unwrap().to_string() != NETSHOOT);
    let smaller_out = options.state_dir.join(name).join("out-smaller");
    build(&smaller, &smaller_out);
    let report = loader::apply(&node_plan(&smaller_out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(counts(&report.cilium_lxc), (0, 0, 1, 0, 1), "{report}");
    assert_eq!(counts(&report.cilium_ipcache), (0, 0, 1, 0, 1), "{report}");
    assert!(!ping(&busybox, NETSHOOT), "the removed pod is no longer reached");
    let report = loader::apply(&node_plan(&changed_out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(counts(&report.cilium_lxc), (1, 0, 0, 0, 1), "{report}");
    assert_eq!(counts(&report.cilium_ipcache), (1, 0, 0, 0, 1), "{report}");
    assert!(ping(&busybox, NETSHOOT));
    assert!(verify(&changed_out, &target).changed_nothing());
}

#[test]
fn drift_made_by_hand_is_left_by_a_plain_apply_and_repaired_by_verify() {
    if !can_run("drift_made_by_hand_is_left_by_a_plain_apply_and_repaired_by_verify") {
        return;
    }
    let options = options();
    let name = "t-incr-drift";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let key = EndpointKey::ipv4(NETSHOOT.parse().unwrap());
    let status = Command::new("bpftool")
        .args(["map", "delete", "pinned"])
        .arg(target.map_pin("cilium_lxc"))
        .args(["key", "hex"])
        .args(seeds::hex_bytes(&key.to_bytes()).split(' '))
        .status()
        .unwrap();
    assert!(status.success(), "bpftool map delete");
    let has_netshoot = || read_lxc(&target).unwrap().iter().any(|(k, _)| *k == key);
    assert!(!has_netshoot() && !ping(&busybox, NETSHOOT), "the drift drops the pod's traffic");

    // A plain apply trusts its record: it neither reads nor writes.
    let plain = loader::apply(&node_plan(&state.out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(plain.path, loader::SyncPath::Incremental, "{plain}");
    assert_eq!(counts(&plain.cilium_lxc), (0, 0, 0, 0, 0), "{plain}");
    assert!(!has_netshoot(), "a plain apply does not look at the kernel's maps");

    // --verify reads every entry back and puts the missing one back.
    let verified = verify(&state.out, &target);
    assert_eq!(counts(&verified.cilium_lxc), (1, 0, 0, 3, 1), "{verified}");
    assert!(verified.cilium_ipcache.is_empty(), "{verified}");
    assert!(has_netshoot() && ping(&busybox, NETSHOOT));
    let after = loader::apply(&node_plan(&state.out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(after.path, loader::SyncPath::Incremental);
    assert!(after.changed_nothing(), "{after}");
}

/// `routec apply OUT --format json` for the lab node.
fn apply_json(
    routec: &std::path::Path,
    out: &std::path::Path,
    target: &loader::Target,
    extra: &[&str],
) -> serde_json::Value {
    let output = Command::new(routec)
        .arg("apply")
        .arg(out)
        .args(node_args(target))
        .args(["--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn an_apply_killed_mid_way_or_a_damaged_record_sends_the_next_apply_down_the_read_back() {
    if !can_run("an_apply_killed_mid_way_or_a_damaged_record_sends_the_next_apply_down_the_read_back") {
        return;
    }
    let routec = routec_binary();
    let options = options();
    let name = "t-incr-killed";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    // The other build changes a pod's entries and, through the MTU, every
    // program: the apply loads objects, which keeps its journal open a while.
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    changed.mtu -= 10;
    let changed_out = options.state_dir.join(name).join("out-changed");
    build(&changed, &changed_out);

    // kill -9 while the journal is open (an apply that finished first is retried).
    let mut killed = false;
    for attempt in 0..20 {
        let out = if attempt % 2 == 0 { &changed_out } else { &state.out };
        let mut child = Command::new(&routec)
            .arg("apply")
            .arg(out)
            .args(node_args(&target))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !journal_file(&target).exists() && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = child.kill();
        child.wait().unwrap();
        if journal_file(&target).exists() {
            killed = true;
            break;
        }
    }
    assert!(killed, "an apply was killed with its journal open");
    let report = apply_json(&routec, &state.out, &target, &[]);
    assert_eq!(report["path"], "verified", "{report:#}");
    assert!(report["verified_because"].as_str().unwrap().contains("did not finish"), "{report:#}");
    // Unchanged when the kill came before the killed apply changed anything.
    assert!(["applied", "unchanged"].contains(&report["outcome"].as_str().unwrap()), "{report:#}");
    // That read-back left the kernel matching the build and a record to trust.
    let verified = verify(&state.out, &target);
    assert!(verified.changed_nothing(), "{verified}");
    assert_eq!(datapath_problems(&target), Vec::<String>::new());
    assert!(ping(&busybox, NETSHOOT) && ping(&busybox, "10.10.1.155"));
    let plain = apply_json(&routec, &state.out, &target, &[]);
    assert_eq!(plain["path"], "incremental", "{plain:#}");

    // A damaged record is not trusted either.
    let file = applied_file(&target);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let report = apply_json(&routec, &changed_out, &target, &[]);
    assert_eq!(report["path"], "verified", "{report:#}");
    assert!(report["verified_because"].as_str().unwrap().contains("is not a record"), "{report:#}");
    assert!(verify(&changed_out, &target).changed_nothing());
}

/// The JSON report with what differs between runs (digests) replaced.
fn redacted(mut report: serde_json::Value) -> String {
    report["build_digest"] = "[digest]".into();
    for program in report["programs_replaced"].as_array_mut().into_iter().flatten() {
        program["object_sha256"] = "[sha256]".into();
    }
    serde_json::to_string_pretty(&report).unwrap()
}

#[test]
fn apply_json_reports_per_map_counts_programs_hooks_and_the_path() {
    if !can_run("apply_json_reports_per_map_counts_programs_hooks_and_the_path") {
        return;
    }
    let routec = routec_binary();
    let options = options();
    let name = "t-incr-json";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let mut one_pod = cluster.clone();
    one_pod.pods[0].identity = 4242;
    let one_pod_out = options.state_dir.join(name).join("out-one-pod");
    build(&one_pod, &one_pod_out);
    let mut programs = one_pod.clone();
    programs.mtu -= 10;
    let programs_out = options.state_dir.join(name).join("out-programs");
    build(&programs, &programs_out);

    let one_pod = apply_json(&routec, &one_pod_out, &target, &[]);
    let programs = apply_json(&routec, &programs_out, &target, &[]);
    let verified = apply_json(&routec, &programs_out, &target, &["--verify"]);
    insta::with_settings!({snapshot_path => "../../snapshots/apply", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("apply-one-pod.json", redacted(one_pod));
        insta::assert_snapshot!("apply-programs.json", redacted(programs));
        insta::assert_snapshot!("apply-verify.json", redacted(verified));
    });
}

#[test]
fn a_failure_in_the_incremental_path_restores_exactly_and_forgets_the_record() {
    if !can_run("a_failure_in_the_incremental_path_restores_exactly_and_forgets_the_record") {
        return;
    }
    let options = options();
    let name = "t-incr-rollback";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let node_ns = state.node(WORKER).unwrap().netns.clone();
    assert!(applied_file(&target).exists() && !journal_file(&target).exists(), "the next apply is incremental");
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    changed.mtu -= 10;
    let changed_out = options.state_dir.join(name).join("out-changed");
    build(&changed, &changed_out);
    let plan = node_plan(&changed_out, WORKER).unwrap();
    let last = plan.attachments.last().unwrap().interface.clone();
    let (lxc, ipcache) = (read_lxc(&target).unwrap(), routec_runtime::live_trace::read_ipcache(&target).unwrap());
    let hooks = plan.attachments.len();
    let mut seen = 0;
    let mut written = None;
    let err = loader::apply_observed(&plan, &target, &mut |_| {
        seen += 1;
        if seen == hooks {
            written = Some(read_lxc(&target).unwrap());
            let deleted = Command::new("ip").args(["-n", &node_ns, "link", "del", &last]).status().unwrap();
            assert!(deleted.success());
        }
    })
    .unwrap_err();
    assert_eq!(err.apply_outcome(), Some(loader::ApplyOutcome::RolledBack), "{err}");
    assert_ne!(written.unwrap(), lxc, "the delta was written before the failure");
    assert_eq!(read_lxc(&target).unwrap(), lxc, "cilium_lxc restored exactly");
    assert_eq!(routec_runtime::live_trace::read_ipcache(&target).unwrap(), ipcache, "cilium_ipcache restored exactly");
    assert!(!applied_file(&target).exists(), "a failed apply is no base for the next one");
}
