//! One writer per node. Two `routec apply` of one node at once once made
//! one fail with "Filter already exists" and roll back the pins the other
//! was using: the attached programs kept unpinned maps, status failed with
//! ENOENT, counters stayed at zero and a removed pod stayed reachable.

mod common;

use std::process::{Command, Stdio};

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::lock::{Lock, Wait};
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";
const ROUNDS: usize = 6;
const AT_ONCE: usize = 4;

#[test]
fn concurrent_applies_of_one_node_leave_one_whole_datapath() {
    if !can_run("concurrent_applies_of_one_node_leave_one_whole_datapath") {
        return;
    }
    let routec = routec_binary();
    let options = options();
    let name = "t-concurrent";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    let out = state.out.clone();

    // The node without the netshoot pod of the worker.
    let mut smaller = cluster.clone();
    smaller.pods.retain(|p| p.ip.unwrap().to_string() != "10.10.2.121");
    let smaller_out = options.state_dir.join(name).join("out-smaller");
    build(&smaller, &smaller_out);

    let apply = |out: &std::path::Path, mode: &str, extra: &[&str]| {
        Command::new(&routec)
            .arg("apply")
            .arg(out)
            .args(node_args(&target))
            .args(["--tc-mode", mode])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut tried = 0;
    let mut broken = Vec::new();
    for round in 0..ROUNDS {
        // Every other round starts from nothing, as the first apply of a node does.
        if round % 2 == 0 {
            loader::detach(&target).unwrap();
        }
        let mode = if round % 4 < 2 { "netlink" } else { "tcx" };
        let children: Vec<_> = (0..AT_ONCE).map(|_| apply(&out, mode, &[])).collect();
        for child in children {
            tried += 1;
            let output = child.wait_with_output().unwrap();
            if !output.status.success() {
                broken.push(format!("round {round}: apply failed: {}", String::from_utf8_lossy(&output.stderr)));
            }
        }
        let problems = datapath_problems(&target);
        if !problems.is_empty() {
            broken.push(format!("round {round}: {problems:?}"));
        }
        let before = counter(&state, WORKER, Reason::TunnelEncap);
        if !ping(&busybox, "10.10.1.155") || counter(&state, WORKER, Reason::TunnelEncap) <= before {
            broken.push(format!("round {round}: traffic does not flow through the pinned counters"));
        }
    }
    eprintln!("concurrent applies tried: {tried} ({ROUNDS} rounds of {AT_ONCE}), rounds left broken: {}", broken.len());
    assert_eq!(broken, Vec::<String>::new());

    // The removed pod is unreachable once a build without it is applied.
    assert!(ping(&busybox, "10.10.2.121"));
    let output = apply(&smaller_out, "tcx", &[]).wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!ping(&busybox, "10.10.2.121"), "a removed pod is unreachable");
    assert_eq!(datapath_problems(&target), Vec::<String>::new());

    // A caller finds the lock held: --no-wait fails at once, without it the
    // caller waits with a message and goes on when the lock is free.
    let held = Lock::acquire(&target.lock_file(), "test", Wait::NoWait).unwrap();
    let output = apply(&out, "tcx", &["--no-wait"]).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is busy") && stderr.contains("unchanged"), "{stderr}");
    let output = Command::new(&routec).arg("detach").args(node_args(&target)).arg("--no-wait").output().unwrap();
    assert!(!output.status.success() && String::from_utf8_lossy(&output.stderr).contains("is busy"));
    let mut waiting = apply(&out, "tcx", &[]);
    let mut stderr = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.contains("waiting for node mycluster-worker (scope t-concurrent)"), "{first}");
    assert!(waiting.try_wait().unwrap().is_none(), "the waiter waits while the lock is held");
    drop(held);
    let status = waiting.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(ping(&busybox, "10.10.2.121"), "the waiter applied the pod again");
}
