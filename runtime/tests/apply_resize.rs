//! A map size changed in routec.toml (`[maps] lxc = N`): apply once refused
//! the pinned map ("does not match ... max entries"). Now it builds the new
//! map at `<map>:pending`, fills it, swaps the programs onto it and renames
//! the pin over the old one; an apply killed in the middle is healed by the
//! next one.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use routec_compiler::build::{build as build_with, BuildOptions, ClangChoice};
use routec_compiler::layout::{EndpointInfo, EndpointKey, CILIUM_LXC};
use routec_compiler::settings::MapSizes;
use routec_runtime::live_trace::{read_ipcache, read_lxc};
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";

fn build_sized(cluster: &routec_compiler::model::Cluster, lxc: u32, out: &std::path::Path) {
    let mut options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    options.maps = MapSizes { lxc, ..MapSizes::default() };
    build_with(cluster, &options, out).unwrap();
}

fn pending(target: &loader::Target) -> std::path::PathBuf {
    target.map_pin(&format!("{}:pending", CILIUM_LXC.name))
}

/// Checks that the node runs on a cilium_lxc of `size` that every attached
/// program uses, holding `entries`, with no `:pending` pin left and traffic
/// flowing; returns the map's id.
fn check_resized(target: &loader::Target, size: u32, entries: &[(EndpointKey, EndpointInfo)], busybox: &str) -> u32 {
    let info = aya::maps::MapInfo::from_pin(target.map_pin(CILIUM_LXC.name)).unwrap();
    assert_eq!(info.max_entries(), size);
    let status = loader::status(target).unwrap();
    assert!(!status.programs.is_empty(), "{status}");
    for program in &status.programs {
        let maps = program_map_ids(program.id);
        assert!(
            maps.contains(&info.id()),
            "{} runs program {} on maps {maps:?}, not {}",
            program.interface,
            program.id,
            info.id()
        );
    }
    assert_eq!(read_lxc(target).unwrap(), entries, "the same entries");
    assert!(!pending(target).exists(), "no :pending pin is left");
    assert_eq!(datapath_problems(target), Vec::<String>::new());
    assert!(ping(busybox, "10.10.2.121") && ping(busybox, "10.10.1.155"), "traffic flows");
    info.id()
}

#[test]
fn a_map_size_change_replaces_the_map_and_keeps_its_entries() {
    if !can_run("a_map_size_change_replaces_the_map_and_keeps_its_entries") {
        return;
    }
    let options = options();
    let name = "t-resize";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let mut target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let (lxc, ipcache) = (read_lxc(&target).unwrap(), read_ipcache(&target).unwrap());
    let old_id = pinned_map_id(&target.map_pin(CILIUM_LXC.name));

    // netlink: the cls_bpf filters are replaced in place.
    let small_out = options.state_dir.join(name).join("out-64");
    build_sized(&cluster, 64, &small_out);
    let report = loader::apply(&node_plan(&small_out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(report.maps_replaced, vec!["cilium_lxc".to_string()], "{report}");
    assert_eq!(report.outcome(), loader::ApplyOutcome::Applied);
    assert_eq!(report.cilium_lxc.added, lxc.len(), "the new map is filled: {report}");
    let small_id = check_resized(&target, 64, &lxc, &busybox);
    assert_ne!(small_id, old_id);
    assert_eq!(read_ipcache(&target).unwrap(), ipcache);
    // The next apply of the same build is incremental again.
    let again = loader::apply(&node_plan(&small_out, WORKER).unwrap(), &target).unwrap();
    assert!(again.changed_nothing() && again.path == loader::SyncPath::Incremental, "{again}");

    // TCX: the links are updated in place (bpf_link_update).
    target.tc_mode = loader::TcMode::TcxLink;
    loader::apply(&node_plan(&small_out, WORKER).unwrap(), &target).unwrap();
    let large_out = options.state_dir.join(name).join("out-128");
    build_sized(&cluster, 128, &large_out);
    let report = loader::apply(&node_plan(&large_out, WORKER).unwrap(), &target).unwrap();
    assert_eq!(report.maps_replaced, vec!["cilium_lxc".to_string()], "{report}");
    let large_id = check_resized(&target, 128, &lxc, &busybox);
    assert_ne!(large_id, small_id);
}

#[test]
fn an_apply_killed_during_a_map_size_change_is_healed_by_the_next_one() {
    if !can_run("an_apply_killed_during_a_map_size_change_is_healed_by_the_next_one") {
        return;
    }
    let routec = routec_binary();
    let options = options();
    let name = "t-resize-kill";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let lxc = read_lxc(&target).unwrap();
    let apply = |out: &std::path::Path| {
        let mut command = Command::new(&routec);
        command.arg("apply").arg(out).args(node_args(&target)).stdout(Stdio::null()).stderr(Stdio::piped());
        command
    };

    // Killed while the :pending map exists (retried when an apply finished first).
    let mut left_pending = false;
    for attempt in 0..20u32 {
        let out = options.state_dir.join(name).join(format!("out-{attempt}"));
        let size = 64 + attempt;
        build_sized(&cluster, size, &out);
        let mut child = apply(&out).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pending(&target).exists() && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(100));
        }
        let _ = child.kill();
        child.wait().unwrap();
        let interrupted = pending(&target).exists();
        // Whatever the kill left, the same apply again heals the node.
        let output = apply(&out).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        check_resized(&target, size, &lxc, &busybox);
        if interrupted {
            left_pending = true;
            break;
        }
    }
    assert!(left_pending, "an apply was killed with its :pending map pinned");

    // detach removes a leftover :pending pin too.
    let out = options.state_dir.join(name).join("out-last");
    build_sized(&cluster, 200, &out);
    let mut child = apply(&out).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pending(&target).exists() && child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
    let _ = child.kill();
    child.wait().unwrap();
    loader::detach(&target).unwrap();
    assert!(!target.pin_dir().exists(), "detach leaves no pin");
}
