//! Faults and isolation: a failed apply keeps the old datapath, apply is
//! idempotent, labs run side by side, `lab down` leaves nothing, and the
//! root namespace never changes.

mod common;

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";

fn worker_ns(state: &lab::LabState) -> &str {
    &state.node(WORKER).unwrap().netns
}

#[test]
fn failed_apply_keeps_the_previous_datapath_and_reapply_changes_nothing() {
    if !can_run("failed_apply_keeps_the_previous_datapath_and_reapply_changes_nothing") {
        return;
    }
    let options = options();
    let name = "t-fault";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let out = state.out.clone();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let target = lab::node_target(&state, WORKER).unwrap();

    // Apply the same build again: nothing is written.
    let plan = node_plan(&out, WORKER).unwrap();
    let again = loader::apply(&plan, &target).unwrap();
    assert!(again.changed_nothing(), "second apply changed: {again}");
    assert_eq!(again.cilium_lxc.unchanged, 4);

    // A new pod whose lxc does not exist: apply fails before touching anything.
    let mut grown = cluster.clone();
    let mut extra = grown.pods[0].clone();
    extra.name = "networking101/extra".into();
    extra.ip = Some("10.10.2.130".parse().unwrap());
    extra.endpoint = 999;
    extra.lxc = "lxcmissing0".into();
    extra.ifindex = None;
    grown.pods.insert(2, extra);
    let grown_out = options.state_dir.join(name).join("out-grown");
    build(&grown, &grown_out);
    let status_before = loader::status(&target).unwrap();
    let plan = node_plan(&grown_out, WORKER).unwrap();
    let err = loader::apply(&plan, &target).unwrap_err().to_string();
    assert!(err.contains("lxcmissing0"), "the error names the missing interface: {err}");
    let status_after = loader::status(&target).unwrap();
    let ids = |s: &loader::NodeStatus| s.programs.iter().map(|p| (p.interface.clone(), p.id)).collect::<Vec<_>>();
    assert_eq!(ids(&status_before), ids(&status_after), "attachments untouched");
    assert_eq!(status_after.maps.iter().find(|m| m.name == "cilium_lxc").unwrap().entries, 4);
    assert!(ping(&busybox, "10.10.2.121") && ping(&busybox, "10.10.1.155"), "old datapath still forwards");

    // A declared ifindex that differs from the real one is refused, naming both.
    let mut wrong = cluster.clone();
    wrong.pods[0].ifindex = Some(77);
    let wrong_out = options.state_dir.join(name).join("out-wrong");
    build(&wrong, &wrong_out);
    let plan = node_plan(&wrong_out, WORKER).unwrap();
    let err = loader::apply(&plan, &target).unwrap_err().to_string();
    assert!(err.contains("declared ifindex 77") && err.contains("has ifindex 9"), "{err}");

    // A changed identity is written incrementally: one entry updated.
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    let changed_out = options.state_dir.join(name).join("out-changed");
    build(&changed, &changed_out);
    let plan = node_plan(&changed_out, WORKER).unwrap();
    let report = loader::apply(&plan, &target).unwrap();
    assert_eq!((report.cilium_lxc.updated, report.cilium_lxc.added, report.cilium_lxc.deleted), (1, 0, 0), "{report}");
    assert_eq!((report.cilium_ipcache.updated, report.cilium_ipcache.added), (1, 0), "{report}");
    assert!(report.attached.is_empty(), "same objects and constants: no re-attach: {report}");
    assert!(ping(&busybox, "10.10.2.121"));

    // An object the verifier rejects: the error carries the verifier's log,
    // and the datapath keeps running the old programs.
    let bad_out = options.state_dir.join(name).join("out-bad");
    build(&cluster, &bad_out);
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rejected_by_verifier.c");
    compile_bpf(&source, &bad_out.join("bpf/bpf_host.o"));
    let plan = node_plan(&bad_out, WORKER);
    assert!(plan.unwrap_err().to_string().contains("changed after the build"), "the manifest guards the objects");
    reseal_manifest(&bad_out, "bpf/bpf_host.o");
    let plan = node_plan(&bad_out, WORKER).unwrap();
    let before = loader::status(&target).unwrap();
    let err = loader::apply(&plan, &target).unwrap_err().to_string();
    eprintln!("{err}");
    assert!(err.contains("rejected cil_from_host") && err.contains("verifier log:"), "{err}");
    assert!(err.contains("invalid access to packet"), "the log itself is shown: {err}");
    assert_eq!(ids(&before), ids(&loader::status(&target).unwrap()));
    assert!(ping(&busybox, "10.10.2.121") && ping(worker_ns(&state), "10.10.2.117"));

    // detach removes every pin and link of the node; traffic stops.
    let removed = loader::detach(&target).unwrap();
    assert!(removed.iter().any(|r| r.starts_with("filter")), "{removed:?}");
    assert!(!target.pin_dir().exists());
    assert!(!ping(&busybox, "10.10.2.121"), "no datapath, no forwarding");
}

#[test]
fn two_labs_side_by_side_and_nothing_left_after_down() {
    if !can_run("two_labs_side_by_side_and_nothing_left_after_down") {
        return;
    }
    let options = options();
    let before = root_namespace_snapshot();
    let cluster = reference_cluster();
    {
        let (a, b) = ("t-side-a", "t-side-b");
        let _guard_a = LabGuard { name: a.into(), options: options.clone() };
        let _guard_b = LabGuard { name: b.into(), options: options.clone() };
        let mut states = Vec::new();
        for name in [a, b] {
            let out = lab::claim_dir(&options.state_dir, name).unwrap().join("out");
            build(&cluster, &out);
            states.push(lab::up_from_build(&out, name, &options, &mut |_| {}).unwrap());
        }
        for state in &states {
            let src = &state.pod("10.10.2.117").unwrap().netns;
            assert!(ping(src, "10.10.1.155"), "lab {} forwards", state.name);
            assert!(counter(state, WORKER, Reason::TunnelEncap) >= 1);
        }
        // A third lab with a taken name is refused, and leaves the first alone.
        let err = lab::up_from_build(&states[0].out, a, &options, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("already up"), "{err}");
        assert!(ping(&states[0].pod("10.10.2.117").unwrap().netns, "10.10.2.121"));
        lab::down(&options.state_dir, a).unwrap();
        assert_eq!(leftovers(a, &options), Vec::<String>::new());
        assert!(ping(&states[1].pod("10.10.2.117").unwrap().netns, "10.10.2.121"), "lab b survives a's down");
    }
    // Guards ran: b is down too.
    assert_eq!(leftovers("t-side-b", &options), Vec::<String>::new());
    assert_eq!(root_namespace_snapshot(), before, "the root namespace is unchanged");
}

#[test]
fn down_cleans_up_after_a_crashed_up() {
    if !can_run("down_cleans_up_after_a_crashed_up") {
        return;
    }
    let options = options();
    let name = "t-crash";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let cluster = reference_cluster();
    let out = lab::claim_dir(&options.state_dir, name).unwrap().join("out");
    build(&cluster, &out);
    // Topology only, as if `up` died before applying.
    let mut state = lab::LabState::plan(&cluster, name, &options.bpffs, &out).unwrap();
    lab::create_topology(&cluster, &mut state, &options.state_dir, &mut |_| {}).unwrap();
    // And one node applied.
    let target = lab::node_target(&state, WORKER).unwrap();
    loader::apply(&node_plan(&out, WORKER).unwrap(), &target).unwrap();
    lab::down(&options.state_dir, name).unwrap();
    assert_eq!(leftovers(name, &options), Vec::<String>::new());
}

#[test]
fn a_failure_after_seeding_and_switching_rolls_everything_back() {
    if can_run("a_failure_after_seeding_and_switching_rolls_everything_back") {
        rollback_after_a_late_failure("t-rollback-nl", loader::TcMode::Netlink);
    }
}

#[test]
fn a_failure_after_switching_tcx_links_rolls_everything_back() {
    if can_run("a_failure_after_switching_tcx_links_rolls_everything_back") {
        rollback_after_a_late_failure("t-rollback-tcx", loader::TcMode::TcxLink);
    }
}

/// Applies a changed build in `mode` whose last attach fails (its interface
/// disappears just before), after the seeds were written and the other hooks
/// switched: everything must be as before, and traffic flow.
fn rollback_after_a_late_failure(name: &str, mode: loader::TcMode) {
    use routec_runtime::live_trace::{read_ipcache, read_lxc};
    let options = options();
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let out = state.out.clone();
    let mut target = lab::node_target(&state, WORKER).unwrap();
    target.tc_mode = mode;
    // The datapath to fall back to, in the mode under test.
    loader::apply(&node_plan(&out, WORKER).unwrap(), &target).unwrap();
    let node_ns = worker_ns(&state).to_string();

    // A build that changes a seed entry and, through the pod MTU (a load-time
    // constant), every program of the node.
    let mut changed = cluster.clone();
    changed.pods[0].identity = 4242;
    changed.mtu -= 10;
    let changed_out = options.state_dir.join(name).join("out-changed");
    build(&changed, &changed_out);
    let plan = node_plan(&changed_out, WORKER).unwrap();
    let hooks: Vec<String> =
        plan.attachments.iter().map(|a| format!("{}.{}", a.interface, a.direction.as_str())).collect();
    assert!(hooks.len() >= 3, "{hooks:?}");
    let last = plan.attachments.last().unwrap().interface.clone();

    let programs = |s: &loader::NodeStatus| {
        s.programs.iter().filter(|p| p.interface != last).map(|p| (p.interface.clone(), p.id)).collect::<Vec<_>>()
    };
    let status_before = loader::status(&target).unwrap();
    let (lxc_before, ipcache_before) = (read_lxc(&target).unwrap(), read_ipcache(&target).unwrap());
    // Just before the last hook is switched, its interface disappears: the
    // kernel refuses the attach after the seeds were written and the other
    // hooks switched to the new programs.
    let mut seen = Vec::new();
    let mut at_failure = None;
    let err = loader::apply_observed(&plan, &target, &mut |hook| {
        seen.push(hook.to_string());
        if seen.len() == hooks.len() {
            at_failure = Some((loader::status(&target).unwrap(), read_lxc(&target).unwrap()));
            let deleted =
                std::process::Command::new("ip").args(["-n", &node_ns, "link", "del", &last]).status().unwrap();
            assert!(deleted.success(), "ip link del {last}");
        }
    })
    .unwrap_err()
    .to_string();
    eprintln!("{err}");
    assert_eq!(seen, hooks, "every hook was reached");
    let (status_mid, lxc_mid) = at_failure.unwrap();
    assert_ne!(lxc_mid, lxc_before, "the new seeds were written before the failure");
    assert_ne!(programs(&status_mid), programs(&status_before), "hooks ran new programs before the failure");

    assert!(err.contains("cannot attach") && err.contains(&last), "the error names the failed step: {err}");
    assert!(err.contains("rolled back: the previous datapath is restored"), "{err}");
    assert!(!err.contains("unchanged"), "{err}");
    assert_eq!(read_lxc(&target).unwrap(), lxc_before, "cilium_lxc restored");
    assert_eq!(read_ipcache(&target).unwrap(), ipcache_before, "cilium_ipcache restored");
    let status_after = loader::status(&target).unwrap();
    assert_eq!(programs(&status_after), programs(&status_before), "the previous programs are attached again");
    assert!(
        status_after.programs.iter().all(|p| p.mode == mode.as_str()),
        "no other program is left on a hook: {status_after}"
    );

    // Traffic still flows through the previous datapath, from the worker's
    // pod whose lxc is still there, across nodes and on the node.
    let pod =
        cluster.pods_on(cluster.nodes.iter().position(|n| n.name == WORKER).unwrap()).find(|p| p.lxc != last).unwrap();
    let src = state.pod(&pod.ip.unwrap().to_string()).unwrap().netns.clone();
    assert!(ping(&src, "10.10.1.155"), "cross-node traffic flows");
    assert!(ping(&node_ns, &pod.ip.unwrap().to_string()), "node to pod traffic flows");
}
