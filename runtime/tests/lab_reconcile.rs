//! `lab up` of a lab that is up follows the config: new pods and nodes are
//! made, every node applied, those gone removed, the others left untouched;
//! a reconcile killed at any point is completed by the next `lab up`.

mod common;
#[path = "common/ip_children.rs"]
mod ip_children;
mod lab_configs;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use ip_children::ip_children;
use lab_configs::*;
use routec_compiler::build::{BuildOptions, ClangChoice};
use routec_compiler::model::Cluster;
use routec_runtime::lab::{self, LabState, Up};

const BUSYBOX: &str = "10.10.2.117";
const NETSHOOT: &str = "10.10.2.121";
const REMOTE: &str = "10.10.1.155";
/// Removed in the changed config (on mycluster-worker2).
const REMOVED: &str = "networking101/busybox-c8bbbbb84-fmhwc";
/// Added on mycluster-worker, and on the added node.
const ADDED: &str = "10.10.2.130";
const ADDED_ELSEWHERE: &str = "10.10.3.10";

/// The reference cluster with a pod added on mycluster-worker, pod
/// `REMOVED` removed, and a node added with one pod.
fn changed_source() -> String {
    let node = "\nnode mycluster-worker3 {\n    address 172.18.0.5\n    pod-cidr 10.10.3.0/24\n}\n";
    without_pod(&reference_source(), REMOVED)
        + &pod("networking101/added", "mycluster-worker", ADDED, 999, 3372, "lxcadded0")
        + node
        + &pod("networking101/third", "mycluster-worker3", ADDED_ELSEWHERE, 100, 3372, "lxcthird0")
}

/// The lab's namespaces in /run/netns, sorted.
fn namespaces_of(lab: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(lab::NETNS_DIR)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|ns| ns.starts_with(&format!("{lab}-")))
        .collect();
    found.sort();
    found
}

/// The namespaces a lab of `cluster` consists of, sorted.
fn expected_namespaces(lab: &str, cluster: &Cluster) -> Vec<String> {
    let mut all =
        LabState::plan(cluster, lab, Path::new("/sys/fs/bpf"), Path::new("/nonexistent")).unwrap().all_namespaces();
    all.sort();
    all
}

fn ip_in(netns: &str, args: &[&str]) -> String {
    let output = Command::new("ip").args(["-n", netns]).args(args).output().unwrap();
    assert!(output.status.success(), "ip -n {netns} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The namespace file's inode: the same namespace as long as it is equal.
fn netns_inode(netns: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(lab::netns_path(netns)).unwrap().ino()
}

#[test]
fn up_of_a_lab_that_is_up_follows_the_config_and_leaves_the_rest_untouched() {
    if !can_run("up_of_a_lab_that_is_up_follows_the_config_and_leaves_the_rest_untouched") {
        return;
    }
    let options = options();
    let name = "t-rcn";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let build_options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    let (reference, changed) = (cluster(&reference_source()), cluster(&changed_source()));
    let state = match lab::up_or_reconcile(&reference, &build_options, name, &options, &mut |_| {}).unwrap() {
        Up::Created(state) => state,
        Up::Reconciled(..) => panic!("the lab was not up"),
    };
    let ns = |state: &LabState, ip: &str| state.pod(ip).unwrap().netns.clone();
    let (busybox, netshoot, remote) = (ns(&state, BUSYBOX), ns(&state, NETSHOOT), ns(&state, REMOTE));
    let removed_ns = state.pod(REMOVED).unwrap().netns.clone();
    let worker = state.node("mycluster-worker").unwrap().netns.clone();
    // Marks that survive only if the pod's veth and namespace are not made again.
    ip_in(&worker, &["link", "set", "lxc4a891387ff1a", "alias", "routec-test-kept"]);
    let inodes: Vec<u64> = [&busybox, &netshoot, &remote, &worker].iter().map(|n| netns_inode(n)).collect();

    let progress_lines = std::cell::RefCell::new(Vec::new());
    let up = lab::up_or_reconcile(&changed, &build_options, name, &options, &mut |l| {
        progress_lines.borrow_mut().push(l.to_string())
    })
    .unwrap();
    let Up::Reconciled(state, report) = up else { panic!("the lab was up: reconciled") };
    let text = report.to_string();
    eprintln!("{}\n{text}", progress_lines.borrow().join("\n"));
    assert_eq!(
        text.lines().take(4).collect::<Vec<_>>(),
        [
            "created: node mycluster-worker3, pod networking101/added, pod networking101/third",
            "replaced: -",
            "removed: pod networking101/busybox-c8bbbbb84-fmhwc",
            "untouched: 3 nodes, 3 pods",
        ]
    );
    assert_eq!(report.applied.len(), 4, "every node of the new config is applied: {text}");
    assert_eq!(namespaces_of(name), expected_namespaces(name, &changed), "the namespaces are exactly the config's");
    assert!(!lab::netns_path(&removed_ns).exists(), "the removed pod's namespace is gone");
    assert!(
        ip_in(&worker, &["link", "show", "dev", "lxc4a891387ff1a"]).contains("routec-test-kept"),
        "an untouched pod's veth is not made again"
    );
    let after: Vec<u64> = [&busybox, &netshoot, &remote, &worker].iter().map(|n| netns_inode(n)).collect();
    assert_eq!(after, inodes, "untouched namespaces are the same namespaces");

    // Untouched pods talk as before; the new pods are reachable, on the
    // node, across nodes and on the new node.
    assert!(ping(&busybox, NETSHOOT) && ping(&busybox, REMOTE) && ping(&remote, BUSYBOX), "untouched pods");
    assert!(ping(&busybox, ADDED) && ping(&remote, ADDED), "the pod added on mycluster-worker");
    assert!(ping(&busybox, ADDED_ELSEWHERE) && ping(&ns(&state, ADDED_ELSEWHERE), REMOTE), "the added node's pod");
    let tcp = tcp_exchange(&remote, &ns(&state, ADDED), ADDED.parse().unwrap(), 8080, b"reconciled");
    assert_eq!(tcp, b"delicnocer", "TCP to the added pod, echoed reversed");

    // And back: the added node goes with its pins, the removed pod returns.
    let third = lab::node_target(&state, "mycluster-worker3").unwrap();
    assert!(third.pin_dir().exists());
    let up = lab::up_or_reconcile(&reference, &build_options, name, &options, &mut |_| {}).unwrap();
    let Up::Reconciled(state, report) = up else { panic!("reconciled") };
    eprintln!("{report}");
    assert_eq!(report.created, ["pod networking101/busybox-c8bbbbb84-fmhwc"]);
    assert_eq!(report.removed, ["node mycluster-worker3", "pod networking101/added", "pod networking101/third"]);
    assert_eq!(namespaces_of(name), expected_namespaces(name, &reference));
    assert!(!third.pin_dir().exists(), "the removed node's pins are gone");
    assert!(ping(&busybox, "10.10.1.164") && ping(&busybox, REMOTE) && ping(&busybox, NETSHOOT));
    assert!(!ping(&busybox, ADDED), "the removed pod no longer answers");

    // The same config again: nothing made, removed or written.
    let up = lab::up_or_reconcile(&reference, &build_options, name, &options, &mut |_| {}).unwrap();
    let Up::Reconciled(_, report) = up else { panic!("reconciled") };
    assert!(report.created.is_empty() && report.replaced.is_empty() && report.removed.is_empty(), "{report}");
    assert!(report.applied.iter().all(|(_, r)| r.changed_nothing()), "{report}");
    assert_eq!(state.pods.len(), 4);
}

/// A small deterministic generator (xorshift64*) for the kill delays.
struct Delays(u64);
impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (max + 1)
    }
}

/// `routec lab up`, its stderr (progress) in `log`, its stdout beside it.
fn lab_up(binary: &Path, input: &Path, lab: &str, log: &Path) -> std::process::Child {
    Command::new(binary)
        .args(["lab", "up"])
        .arg(input)
        .args(["--name", lab, "--state-dir"])
        .arg(&options().state_dir)
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until `log` holds `line`, or `child` ends; false if it ended.
fn wait_for_line(child: &mut std::process::Child, log: &Path, line: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if std::fs::read_to_string(log).unwrap_or_default().contains(line) {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("no `{line}` in {} within 60 s", log.display());
}

#[test]
fn a_killed_reconcile_is_completed_by_the_next_up() {
    if !can_run("a_killed_reconcile_is_completed_by_the_next_up") {
        return;
    }
    let options = options();
    let name = "t-rkill";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let binary = routec_binary();
    let dir = tempfile::tempdir().unwrap();
    let sources = [reference_source(), changed_source()];
    let inputs: Vec<_> = sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let input = dir.path().join(format!("config{i}"));
            std::fs::create_dir(&input).unwrap();
            std::fs::write(input.join("cluster.route"), source).unwrap();
            input
        })
        .collect();
    let clusters: Vec<Cluster> = sources.iter().map(|s| cluster(s)).collect();
    let log = dir.path().join("up.log");
    let finish = |input: &Path| {
        let status = lab_up(&binary, input, name, &log).wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(status.success(), "lab up {}: {text}", input.display());
    };
    finish(&inputs[0]);
    // How long the reconcile part of an undisturbed `up` to each config takes
    // (after its build): the two directions differ (one adds a node, the
    // other removes it), so each kill is timed within its own direction's.
    let reconcile_ms = |input: &Path| {
        let mut child = lab_up(&binary, input, name, &log);
        assert!(wait_for_line(&mut child, &log, "reconciling:"));
        let started = Instant::now();
        assert!(child.wait().unwrap().success());
        started.elapsed().as_millis() as u64
    };
    let to_changed = reconcile_ms(&inputs[1]);
    let printed = std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(
        printed.starts_with(
            "created: node mycluster-worker3, pod networking101/added, pod networking101/third\nreplaced: -\n\
             removed: pod networking101/busybox-c8bbbbb84-fmhwc\nuntouched: 3 nodes, 3 pods\n"
        ) && printed.contains("\napplied node mycluster-worker3:\n")
            && printed.contains("lab t-rkill follows the config: 4 nodes, 5 pods"),
        "{printed}"
    );
    let max_delays = [reconcile_ms(&inputs[0]), to_changed];

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut delays = Delays(seed);
    let mut broken = Vec::new();
    let mut killed_reconciles = 0;
    for iteration in 0..8 {
        let target = (iteration + 1) % 2;
        let delay = delays.next_ms(max_delays[target]);
        let mut child = lab_up(&binary, &inputs[target], name, &log);
        if wait_for_line(&mut child, &log, "reconciling:") {
            std::thread::sleep(Duration::from_millis(delay));
            // Every other time, the kill waits for `up` to be running an `ip`.
            if iteration % 2 == 1 {
                let started = Instant::now();
                while ip_children(child.id()).is_empty()
                    && child.try_wait().unwrap().is_none()
                    && started.elapsed() < Duration::from_secs(10)
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let _ = child.kill();
        let status = child.wait().unwrap();
        let reached = std::fs::read_to_string(&log).unwrap_or_default();
        let stage = reached.lines().last().unwrap_or("").to_string();
        if status.code().is_none() {
            killed_reconciles += 1;
        }

        // The next `up` of the same config completes it.
        let mut problems = Vec::new();
        let healed = lab_up(&binary, &inputs[target], name, &log).wait().unwrap();
        if !healed.success() {
            problems.push(format!("lab up failed: {}", std::fs::read_to_string(&log).unwrap_or_default()));
        }
        let (found, expected) = (namespaces_of(name), expected_namespaces(name, &clusters[target]));
        if found != expected {
            problems.push(format!("namespaces {found:?}, expected {expected:?}"));
        }
        let state = LabState::load(&options.state_dir, name).unwrap();
        if !state.incomplete.is_empty() {
            problems.push(format!("still incomplete: {:?}", state.incomplete));
        }
        let pairs: Vec<(String, String)> = clusters[target]
            .pods
            .iter()
            .flat_map(|src| {
                let netns = state.pod(&src.ip.expect("an IPv4 pod").to_string()).unwrap().netns.clone();
                clusters[target]
                    .pods
                    .iter()
                    .filter(move |d| d.ip != src.ip)
                    .map(move |d| (netns.clone(), d.ip.expect("an IPv4 pod").to_string()))
            })
            .collect();
        let failed = ping_pairs(&pairs, 8);
        if !failed.is_empty() {
            problems.push(format!("no traffic between {failed:?}"));
        }
        for node in &state.nodes {
            let target = lab::node_target(&state, &node.name).unwrap();
            problems.extend(datapath_problems(&target).into_iter().map(|p| format!("{}: {p}", node.name)));
        }
        if !problems.is_empty() {
            broken.push(format!("kill {delay} ms into the reconcile to config {target} (last: {stage}): {problems:?}"));
        }
    }
    eprintln!(
        "killed reconciles: {killed_reconciles} of 8 at 0-{max_delays:?} ms (seed {seed:#x}); {} left something the next up did not heal",
        broken.len()
    );
    assert_eq!(broken, Vec::<String>::new());
    assert!(killed_reconciles >= 4, "most kills landed in a reconcile");
}

#[test]
fn a_namespace_in_the_way_that_is_not_the_labs_is_refused_before_anything_changes() {
    if !can_run("a_namespace_in_the_way_that_is_not_the_labs_is_refused_before_anything_changes") {
        return;
    }
    let options = options();
    let name = "t-rforeign";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let build_options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    let (reference, changed) = (cluster(&reference_source()), cluster(&changed_source()));
    lab::up_or_reconcile(&reference, &build_options, name, &options, &mut |_| {}).unwrap();
    let before = LabState::load(&options.state_dir, name).unwrap();
    let manifest = || std::fs::read_to_string(before.out.join("manifest.json")).unwrap();
    let built = manifest();
    // Somebody's namespace, named like the pod the change adds, without the lab's marker.
    let foreign = format!("{name}-networking101.added");
    assert!(Command::new("ip").args(["netns", "add", &foreign]).status().unwrap().success());
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _remove = Remove(foreign.clone());

    let err = lab::up_or_reconcile(&changed, &build_options, name, &options, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains(&foreign) && err.contains("routec leaves it alone"), "{err}");
    assert!(lab::netns_path(&foreign).exists(), "the foreign namespace is left alone");
    assert_eq!(LabState::load(&options.state_dir, name).unwrap(), before, "the record is unchanged");
    assert_eq!(manifest(), built, "the lab's build is not replaced");
    let mut expected = expected_namespaces(name, &reference);
    expected.push(foreign.clone());
    expected.sort();
    assert_eq!(namespaces_of(name), expected, "nothing was made or removed");
    let busybox = before.pod(BUSYBOX).unwrap().netns.clone();
    assert!(ping(&busybox, REMOTE) && ping(&busybox, "10.10.1.164"), "the lab still carries traffic");
}

#[test]
fn a_new_pod_may_take_the_lxc_of_a_pod_that_goes() {
    if !can_run("a_new_pod_may_take_the_lxc_of_a_pod_that_goes") {
        return;
    }
    let options = options();
    let name = "t-rlxc";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let build_options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    let reference = cluster(&reference_source());
    lab::up_or_reconcile(&reference, &build_options, name, &options, &mut |_| {}).unwrap();
    // REMOVED's lxc, on the same node, for a pod of another name and IP.
    let successor = without_pod(&reference_source(), REMOVED)
        + &pod("networking101/successor", "mycluster-worker2", "10.10.1.170", 898, 3372, "lxc0a97661d8043");
    let up = lab::up_or_reconcile(&cluster(&successor), &build_options, name, &options, &mut |_| {}).unwrap();
    let Up::Reconciled(state, report) = up else { panic!("reconciled") };
    assert_eq!(report.created, ["pod networking101/successor"]);
    assert_eq!(report.removed, [format!("pod {REMOVED}")]);
    assert_eq!(namespaces_of(name), expected_namespaces(name, &cluster(&successor)));
    let busybox = state.pod(BUSYBOX).unwrap().netns.clone();
    assert!(
        ping(&busybox, "10.10.1.170") && !ping(&busybox, "10.10.1.164"),
        "the successor answers, not its predecessor"
    );
}
