//! The netlink (cls_bpf) attach mode: traffic, bpftool visibility, an
//! idempotent re-apply, and switching a live node to TCX links and back.

mod common;

use common::*;
use routec_runtime::lab::{self, LabOptions};
use routec_runtime::loader::{self, TcMode};

const WORKER: &str = "mycluster-worker";

fn bpftool_net_show(netns: &str) -> String {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["--", "bpftool", "net", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn netlink_mode_carries_traffic_and_switches_with_tcx() {
    if !can_run("netlink_mode_carries_traffic_and_switches_with_tcx") {
        return;
    }
    let options = LabOptions { tc_mode: TcMode::Netlink, ..options() };
    assert_eq!(TcMode::default(), TcMode::Netlink, "the default mode");
    let name = "t-netlink";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let out = state.out.clone();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let worker_ns = state.node(WORKER).unwrap().netns.clone();
    assert!(ping(&busybox, "10.10.2.121") && ping(&busybox, "10.10.1.155") && ping(&worker_ns, "10.10.2.117"));

    // Any bpftool lists cls_bpf filters, like the reference cluster's dump.
    let shown = bpftool_net_show(&worker_ns);
    assert!(shown.contains("lxc4a891387ff1a(9) clsact/ingress cil_from_container"), "{shown}");
    assert!(shown.contains("clsact/egress cil_from_host"), "{shown}");

    let mut target = lab::node_target(&state, WORKER).unwrap();
    let plan = node_plan(&out, WORKER).unwrap();
    let again = loader::apply(&plan, &target).unwrap();
    assert!(again.changed_nothing(), "{again}");

    // Switch the live node to TCX links: the filters go, traffic keeps flowing.
    target.tc_mode = TcMode::TcxLink;
    let switched = loader::apply(&plan, &target).unwrap();
    assert_eq!(switched.attached.len(), 5, "{switched}");
    assert!(switched.detached.is_empty(), "same hooks, other mode: {switched}");
    let status = loader::status(&target).unwrap();
    assert!(status.programs.iter().all(|p| p.mode == "tcx-link"), "{status}");
    assert!(!bpftool_net_show(&worker_ns).contains("cil_from_container"), "no cls_bpf filter left");
    assert!(ping(&busybox, "10.10.2.121") && ping(&busybox, "10.10.1.155"));

    // And back; then detach removes the filters.
    target.tc_mode = TcMode::Netlink;
    loader::apply(&plan, &target).unwrap();
    let status = loader::status(&target).unwrap();
    assert!(status.programs.iter().all(|p| p.mode == "netlink") && status.programs.len() == 5, "{status}");
    assert!(ping(&busybox, "10.10.2.121"));
    let removed = loader::detach(&target).unwrap();
    assert!(removed.iter().filter(|r| r.starts_with("filter")).count() == 5, "{removed:?}");
    assert!(!bpftool_net_show(&worker_ns).contains("cil_from"), "nothing attached after detach");
    assert!(!ping(&busybox, "10.10.2.121"));
}
