//! `kill -9` of `routec apply` at any point. Killed after attaching but
//! before writing its record, an apply once wedged the node: `detach` exited
//! 0 and left the filters, every later apply failed with "Filter already
//! exists". Now the journal names the hooks before they are touched, and
//! apply and detach adopt or remove routec's programs found there.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";
const KILLS: usize = 30;

/// Waits (in the node's namespace, polling the kernel) until the first hook
/// of the plan runs a program, or the apply ended; true when it runs one.
fn wait_for_first_hook(
    netns: &str,
    hook: &routec_compiler::build::Attachment,
    child: &mut std::process::Child,
) -> bool {
    use routec_compiler::bpf::Direction;
    use routec_runtime::netlink;
    let (interface, direction) = (hook.interface.clone(), hook.direction);
    let path = lab::netns_path(netns);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let interface = interface.clone();
        let attached = routec_runtime::netns::run_in(Some(&path), move || -> std::io::Result<bool> {
            let Some(link) = netlink::link_by_name(&interface)? else { return Ok(false) };
            let (parent, kind) = match direction {
                Direction::Ingress => (netlink::TC_PARENT_INGRESS, aya::programs::TcAttachType::Ingress),
                Direction::Egress => (netlink::TC_PARENT_EGRESS, aya::programs::TcAttachType::Egress),
            };
            let filters = !netlink::tc_bpf_filters(link.ifindex, parent)?.is_empty();
            let tcx = aya::programs::SchedClassifier::query_tcx(&interface, kind).is_ok_and(|(_, p)| !p.is_empty());
            Ok(filters || tcx)
        })
        .unwrap();
        if attached {
            return true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            return false;
        }
    }
}

/// A small deterministic generator (xorshift), seeded per run and printed.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

#[test]
fn applies_killed_at_random_points_never_wedge_the_node() {
    if !can_run("applies_killed_at_random_points_never_wedge_the_node") {
        return;
    }
    let routec = routec_binary();
    let options = options();
    let name = "t-crash-apply";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let node_ns = state.node(WORKER).unwrap().netns.clone();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    // Two builds that differ by the worker's netshoot pod.
    let mut smaller = cluster.clone();
    smaller.pods.retain(|p| p.ip.unwrap().to_string() != "10.10.2.121");
    let smaller_out = options.state_dir.join(name).join("out-smaller");
    build(&smaller, &smaller_out);
    let builds = [state.out.clone(), smaller_out];
    let apply = |out: &std::path::Path, mode: &str| {
        let mut command = Command::new(&routec);
        command.arg("apply").arg(out).args(node_args(&target)).args(["--tc-mode", mode]);
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        command
    };

    // How long an apply from nothing takes: the kills fall within it.
    loader::detach(&target).unwrap();
    let started = Instant::now();
    let output = apply(&builds[0], "netlink").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let full = started.elapsed().as_millis() as u64;
    let window = full.clamp(50, 1000);

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut random = Random(seed);
    let first_hook = node_plan(&builds[0], WORKER).unwrap().attachments[0].clone();
    let mut broken = Vec::new();
    let mut targeted = 0;
    for kill in 0..KILLS {
        let out = &builds[kill % 2];
        let mode = if (kill / 2) % 2 == 0 { "netlink" } else { "tcx" };
        // Every third kill comes from nothing and lands just after the first
        // hook is attached, before any record: the window that wedged nodes.
        let just_attached = kill % 3 == 2;
        if just_attached || kill % 5 == 4 {
            loader::detach(&target).unwrap();
        }
        let delay = random.below(window + 1);
        let mut child = apply(out, mode).spawn().unwrap();
        if just_attached {
            targeted += usize::from(wait_for_first_hook(&node_ns, &first_hook, &mut child));
        } else {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let _ = child.kill();
        child.wait().unwrap();
        // The next apply (of the same build) must succeed and traffic flow.
        let output = apply(out, mode).output().unwrap();
        let what = format!("kill {kill} ({mode}, {} after {delay} ms)", out.display());
        if !output.status.success() {
            broken.push(format!("{what}: next apply failed: {}", String::from_utf8_lossy(&output.stderr)));
            continue;
        }
        let problems = datapath_problems(&target);
        if !problems.is_empty() {
            broken.push(format!("{what}: {problems:?}"));
        }
        if !ping(&busybox, "10.10.1.155") || !ping(&node_ns, "10.10.2.117") {
            broken.push(format!("{what}: traffic does not flow"));
        }
        let netshoot_reachable = ping(&busybox, "10.10.2.121");
        if netshoot_reachable != (kill % 2 == 0) {
            broken.push(format!("{what}: netshoot reachable = {netshoot_reachable} with the other build"));
        }
    }
    eprintln!(
        "killed applies tried: {KILLS} ({targeted} just after the first attach, the others after 0-{window} ms; \
         a full apply took {full} ms; seed {seed}), left broken: {}",
        broken.len()
    );
    assert_eq!(broken, Vec::<String>::new());

    // A last kill just after the first attach, then detach alone: nothing
    // of routec's may stay.
    loader::detach(&target).unwrap();
    let mut child = apply(&builds[0], "netlink").spawn().unwrap();
    assert!(wait_for_first_hook(&node_ns, &first_hook, &mut child), "the apply attached");
    child.kill().unwrap();
    child.wait().unwrap();
    let output = Command::new(&routec).arg("detach").args(node_args(&target)).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut left = Vec::new();
    let plan = node_plan(&builds[0], WORKER).unwrap();
    let mut interfaces: Vec<&str> = plan.attachments.iter().map(|a| a.interface.as_str()).collect();
    interfaces.dedup();
    for interface in interfaces {
        left.extend(hooks_on(&node_ns, interface));
    }
    if target.pin_dir().exists() {
        left.push(format!("pins under {}", target.pin_dir().display()));
    }
    for entry in std::fs::read_dir(target.state_dir.join(&target.scope)).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&format!("{WORKER}.")) && file != format!("{WORKER}.lock") {
            left.push(format!("record {file}"));
        }
    }
    assert_eq!(left, Vec::<String>::new(), "detach after a killed apply leaves nothing");
}

#[test]
fn a_filter_routec_did_not_attach_is_neither_adopted_nor_removed() {
    if !can_run("a_filter_routec_did_not_attach_is_neither_adopted_nor_removed") {
        return;
    }
    let options = options();
    let name = "t-foreign";
    let cluster = reference_cluster();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, WORKER).unwrap();
    let node_ns = state.node(WORKER).unwrap().netns.clone();
    let plan = node_plan(&state.out, WORKER).unwrap();
    let lxc = plan.attachments.iter().find(|a| a.program == "cil_from_container").unwrap().interface.clone();
    loader::detach(&target).unwrap();

    // Someone else's program, named like routec's, where routec attaches.
    let object = options.state_dir.join(name).join("foreign.o");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/foreign_classifier.c");
    compile_bpf(&source, &object);
    let tc = |args: &[&str]| {
        let status = Command::new("tc").args(["-n", &node_ns]).args(args).status().unwrap();
        assert!(status.success(), "tc {args:?}");
    };
    tc(&["qdisc", "replace", "dev", &lxc, "clsact"]);
    let object = object.to_str().unwrap();
    tc(&[
        "filter",
        "add",
        "dev",
        &lxc,
        "ingress",
        "prio",
        "1",
        "handle",
        "1",
        "bpf",
        "da",
        "obj",
        object,
        "sec",
        "classifier",
    ]);

    let error = loader::apply(&plan, &target).unwrap_err();
    assert_eq!(error.apply_outcome(), Some(loader::ApplyOutcome::Unchanged), "{error}");
    assert!(error.to_string().contains("that routec did not attach"), "{error}");
    assert!(!target.pin_dir().exists(), "nothing was pinned");
    loader::detach(&target).unwrap();
    let left = hooks_on(&node_ns, &lxc).join("\n");
    assert!(left.contains("foreign.o") && left.contains("cil_from_contai"), "detach leaves the foreign filter: {left}");
}
