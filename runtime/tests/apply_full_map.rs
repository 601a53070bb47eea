//! A map exactly full for a valid build (`[maps] lxc = 4`): replacing one
//! pod once failed with E2BIG, because new entries went in before stale ones
//! were deleted, and the rollback then stopped at the undo of an entry it
//! never wrote ("rollback failed, the datapath may mix old and new parts").

mod common;

use common::*;
use routec_compiler::build::{build as build_with, BuildOptions, ClangChoice};
use routec_compiler::layout::{EndpointKey, CILIUM_LXC};
use routec_compiler::settings::MapSizes;
use routec_runtime::live_trace::read_lxc;
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";

fn build_full(cluster: &routec_compiler::model::Cluster, out: &std::path::Path) {
    let mut options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    options.maps = MapSizes { lxc: 4, ..MapSizes::default() };
    build_with(cluster, &options, out).unwrap();
}

fn ips(entries: &[(EndpointKey, routec_compiler::layout::EndpointInfo)]) -> Vec<String> {
    entries.iter().map(|(k, _)| k.ip4().to_string()).collect()
}

#[test]
fn replacing_a_pod_in_an_exactly_full_map_works_and_a_failure_rolls_back() {
    if !can_run("replacing_a_pod_in_an_exactly_full_map_works_and_a_failure_rolls_back") {
        return;
    }
    let options = options();
    let name = "t-full-map";
    let cluster = reference_cluster();
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let out = lab::claim_dir(&options.state_dir, name).unwrap().join("out");
    build_full(&cluster, &out);
    let state = lab::up_from_build(&out, name, &options, &mut |_| {}).unwrap();
    let target = lab::node_target(&state, WORKER).unwrap();
    let info = aya::maps::MapInfo::from_pin(target.map_pin(CILIUM_LXC.name)).unwrap();
    let before = read_lxc(&target).unwrap();
    assert_eq!((info.max_entries(), before.len()), (4, 4), "the worker's cilium_lxc is exactly full");

    // The same lxc now holds a pod with another address: one key out, one in.
    let mut replaced = cluster.clone();
    let busybox = replaced.pods.iter_mut().find(|p| p.ip.unwrap().to_string() == "10.10.2.117").unwrap();
    busybox.ip = Some("10.10.2.118".parse().unwrap());
    let replaced_out = options.state_dir.join(name).join("out-replaced");
    build_full(&replaced, &replaced_out);
    let plan = node_plan(&replaced_out, WORKER).unwrap();

    let report = loader::apply(&plan, &target).unwrap();
    assert_eq!(report.outcome(), loader::ApplyOutcome::Applied);
    assert_eq!((report.cilium_lxc.deleted, report.cilium_lxc.added), (1, 1), "{report}");
    let after = ips(&read_lxc(&target).unwrap());
    assert!(after.contains(&"10.10.2.118".to_string()) && !after.contains(&"10.10.2.117".to_string()), "{after:?}");
    let node_ns = state.node(WORKER).unwrap().netns.clone();
    assert!(ping(&node_ns, "10.10.2.121"), "the node reaches the pod it kept");

    // Back to the first pod, with a new pod MTU (every program switches),
    // failing late (the last hook's interface disappears): the rollback
    // undoes exactly what was written.
    let before = read_lxc(&target).unwrap();
    let mut back = cluster.clone();
    back.mtu -= 10;
    let back_out = options.state_dir.join(name).join("out-back");
    build_full(&back, &back_out);
    let plan = node_plan(&back_out, WORKER).unwrap();
    let last = plan.attachments.last().unwrap().interface.clone();
    let hooks = plan.attachments.len();
    let mut seen = 0;
    let failed = loader::apply_observed(&plan, &target, &mut |_| {
        seen += 1;
        if seen == hooks {
            let status =
                std::process::Command::new("ip").args(["-n", &node_ns, "link", "del", &last]).status().unwrap();
            assert!(status.success());
        }
    });
    let error = failed.unwrap_err();
    assert_eq!(error.apply_outcome(), Some(loader::ApplyOutcome::RolledBack), "{error}");
    assert!(error.to_string().contains("rolled back: the previous datapath is restored"), "{error}");
    assert_eq!(read_lxc(&target).unwrap(), before, "cilium_lxc as before the failed apply");
}
