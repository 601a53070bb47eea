//! The lab and loader commands end to end, through the `routec` binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
#[path = "../../runtime/tests/common/ip_children.rs"]
mod ip_children;
use common::{can_run, example, routec, STATE_DIR};
use ip_children::ip_children;

const LAB: &str = "t-cli";

struct Down;
impl Drop for Down {
    fn drop(&mut self) {
        if Path::new(STATE_DIR).join(format!("{LAB}.json")).exists() {
            routec(&["lab", "down", LAB, "--state-dir", STATE_DIR]);
        }
    }
}

#[test]
fn lab_up_exec_status_apply_down() {
    if !can_run("lab_up_exec_status_apply_down") {
        return;
    }
    let _down = Down;
    let example = example();
    let up = routec(&["lab", "up", example.to_str().unwrap(), "--name", LAB, "--state-dir", STATE_DIR]);
    assert!(up.status.success());
    assert!(String::from_utf8_lossy(&up.stderr).contains("applied (3/3)"), "progress is shown");

    let exec = |pod: &str, dst: &str| {
        routec(&["lab", "exec", LAB, pod, "--state-dir", STATE_DIR, "--", "ping", "-c", "1", "-W", "2", dst])
            .status
            .success()
    };
    assert!(exec("networking101/busybox-c8bbbbb84-t6ggh", "10.10.1.155"), "by pod name, to the other node");
    assert!(exec("10.10.1.155", "10.10.2.121"), "by pod IP, back");
    assert!(!exec("10.10.2.117", "10.10.2.200"), "no pod has 10.10.2.200");

    // The command sees the pod's own sysfs, not the host's.
    let netshoot = "networking101/netshoot-7d996d7884-fwt8z";
    let mac =
        routec(&["lab", "exec", LAB, netshoot, "--state-dir", STATE_DIR, "--", "cat", "/sys/class/net/eth0/address"]);
    assert!(mac.status.success());
    assert_eq!(String::from_utf8_lossy(&mac.stdout).trim(), "ea:c4:71:d6:4f:a0", "the declared MAC of the pod's eth0");
    assert_eq!(
        String::from_utf8_lossy(&mac.stdout).trim(),
        eth0_mac(&format!("{LAB}-networking101.netshoot-7d996d7884-fwt8z"))
    );
    // ... and, in a node, still the host's bpffs with the lab's pins.
    let pins = routec(&[
        "lab",
        "exec",
        LAB,
        "mycluster-worker",
        "--state-dir",
        STATE_DIR,
        "--",
        "ls",
        &format!("/sys/fs/bpf/routec/{LAB}"),
    ]);
    assert!(String::from_utf8_lossy(&pins.stdout).contains("mycluster-worker"), "bpffs is visible in lab exec");

    let status = routec(&["status", "--node", "mycluster-worker", "--scope", LAB, "--format", "json"]);
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let programs: Vec<(&str, &str, &str)> = status["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["interface"].as_str().unwrap(), p["direction"].as_str().unwrap(), p["program"].as_str().unwrap()))
        .collect();
    for expected in [
        ("lxc4a891387ff1a", "ingress", "cil_from_container"),
        ("lxc5b7b34955e61", "ingress", "cil_from_container"),
        ("cilium_vxlan", "ingress", "cil_from_overlay"),
        ("cilium_host", "egress", "cil_from_host"),
        ("eth0", "ingress", "cil_from_netdev"),
    ] {
        assert!(programs.contains(&expected), "{expected:?} in {programs:?}");
    }
    let lxc = status["maps"].as_array().unwrap().iter().find(|m| m["name"] == "cilium_lxc").unwrap();
    assert_eq!(lxc["entries"], 4, "two pods and two host entries");
    let counter = |name: &str| {
        status["counters"].as_array().unwrap().iter().find(|c| c["reason"] == name).unwrap()["packets"]
            .as_u64()
            .unwrap()
    };
    assert!(counter("tunnel-encap") >= 1 && counter("no-endpoint") >= 1);

    let lab_status = routec(&["lab", "status", LAB, "--state-dir", STATE_DIR]);
    assert!(lab_status.status.success());
    let text = String::from_utf8_lossy(&lab_status.stdout);
    assert!(text.contains("node mycluster-worker2") && text.contains("cil_from_overlay"), "{text}");

    // Re-applying the lab's own build through `routec apply` changes nothing.
    let out = Path::new(STATE_DIR).join(LAB).join("out");
    let netns = format!("/run/netns/{LAB}-mycluster-worker");
    let apply =
        routec(&["apply", out.to_str().unwrap(), "--node", "mycluster-worker", "--netns", &netns, "--scope", LAB]);
    assert!(apply.status.success());
    assert!(String::from_utf8_lossy(&apply.stdout).contains("nothing to change"));

    let down = routec(&["lab", "down", LAB, "--state-dir", STATE_DIR]);
    assert!(down.status.success());
    assert!(!Path::new(&netns).exists());
    assert!(!Path::new("/sys/fs/bpf/routec").join(LAB).exists());
    assert!(!Path::new(STATE_DIR).join(format!("{LAB}.json")).exists());
}

/// The MAC of `eth0` in namespace `netns`, as iproute2 reports it.
fn eth0_mac(netns: &str) -> String {
    let out = Command::new("ip").args(["-n", netns, "-j", "link", "show", "dev", "eth0"]).output().unwrap();
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    links[0]["address"].as_str().unwrap().to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn spawn_up(input: &Path, lab: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["lab", "up"])
        .arg(input)
        .args(["--name", lab, "--state-dir", STATE_DIR])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    let output = child.wait_with_output().unwrap();
    eprintln!("$ routec lab up ...\n{}{}", text(&output.stdout), text(&output.stderr));
    output
}

fn state_file(lab: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{lab}.json"))
}

/// Every trace lab `lab` can leave: namespaces, pins, records, state.
fn leftovers(lab: &str) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|ns| ns.starts_with(&format!("{lab}-")))
        .map(|ns| format!("namespace {ns}"))
        .collect();
    for path in [
        Path::new("/sys/fs/bpf/routec").join(lab),
        Path::new("/run/routec/nodes").join(lab),
        Path::new(STATE_DIR).join(lab),
        state_file(lab),
    ] {
        if path.exists() {
            found.push(path.display().to_string());
        }
    }
    found.sort();
    found
}

/// Live `ip` processes whose routec died: re-parented to pid 1 or to a
/// subreaper, so their parent is neither a routec nor this test.
fn orphaned_ip() -> Vec<String> {
    let comm_of = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((comm, rest)) = stat.split_once(") ") else { continue };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        // A zombie is dead already; it only waits to be reaped.
        let parent_is_ours = comm_of(ppid).trim() == "routec" || ppid == std::process::id().to_string();
        if comm.ends_with("(ip") && state != "Z" && !parent_is_ours {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!("pid {}: {}", entry.file_name().to_string_lossy(), text(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// Takes lab `lab` down (if anything of it is left) when the test ends.
struct DownGuard(&'static str);
impl Drop for DownGuard {
    fn drop(&mut self) {
        if !leftovers(self.0).is_empty() {
            routec(&["lab", "down", self.0, "--state-dir", STATE_DIR]);
        }
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pod to pod across nodes and back, through `lab exec`.
fn traffic_flows(lab: &str, pairs: &[(String, String)]) -> bool {
    pairs.iter().all(|(src, dst)| {
        routec(&["lab", "exec", lab, src, "--state-dir", STATE_DIR, "--", "ping", "-c", "1", "-W", "2", dst])
            .status
            .success()
    })
}

fn reference_pairs() -> Vec<(String, String)> {
    vec![("10.10.2.117".into(), "10.10.1.155".into()), ("10.10.1.155".into(), "10.10.2.121".into())]
}

#[test]
fn two_lab_ups_of_one_name_never_interleave() {
    if !can_run("two_lab_ups_of_one_name_never_interleave") {
        return;
    }
    const RACE: &str = "t-race-up";
    let _down = DownGuard(RACE);
    let (first, second) = (spawn_up(&example(), RACE, &[]), spawn_up(&example(), RACE, &[]));
    let (first, second) = (finish(first), finish(second));
    // One makes the lab; the other runs after it and finds it up: it
    // reconciles the lab to the same config, which makes and removes nothing.
    let (made, followed) = if text(&first.stdout).contains("is up") { (first, second) } else { (second, first) };
    assert!(made.status.success() && text(&made.stdout).contains("is up"), "{}", text(&made.stderr));
    assert!(followed.status.success(), "{}", text(&followed.stderr));
    let report = text(&followed.stdout);
    assert!(report.contains("follows the config"), "{report}");
    assert!(report.contains("created: -\nreplaced: -\nremoved: -\nuntouched: 3 nodes, 4 pods"), "{report}");
    assert!(traffic_flows(RACE, &reference_pairs()), "the lab is whole");
    let status = routec(&["lab", "status", RACE, "--state-dir", STATE_DIR]);
    assert!(status.status.success() && !text(&status.stdout).contains("error"), "{}", text(&status.stdout));
    assert!(routec(&["lab", "down", RACE, "--state-dir", STATE_DIR]).status.success());
    assert_eq!(leftovers(RACE), Vec::<String>::new());
}

#[test]
fn lab_down_during_lab_up_waits_for_it_and_removes_everything() {
    if !can_run("lab_down_during_lab_up_waits_for_it_and_removes_everything") {
        return;
    }
    const RACE: &str = "t-race-down";
    let _down = DownGuard(RACE);
    let in_namespaces = || state_file(RACE).exists();

    // Waiting: down runs after up, whole.
    let up = spawn_up(&example(), RACE, &[]);
    wait_for("lab up to record its namespaces", Duration::from_secs(60), in_namespaces);
    let down = routec(&["lab", "down", RACE, "--state-dir", STATE_DIR]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert!(text(&down.stderr).contains("waiting for lab t-race-down"), "{}", text(&down.stderr));
    let up = finish(up);
    assert!(up.status.success(), "up was not disturbed: {}", text(&up.stderr));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(leftovers(RACE), Vec::<String>::new());

    // --no-wait: refused at once while `up` holds the lab.
    let up = spawn_up(&example(), RACE, &[]);
    wait_for("lab up to record its namespaces", Duration::from_secs(60), in_namespaces);
    let refused = routec(&["lab", "down", RACE, "--state-dir", STATE_DIR, "--no-wait"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("is busy"), "{}", text(&refused.stderr));
    let busy_up = finish(spawn_up(&example(), RACE, &["--no-wait"]));
    assert_eq!(busy_up.status.code(), Some(1));
    assert!(text(&busy_up.stderr).contains("is busy"), "{}", text(&busy_up.stderr));
    assert!(finish(up).status.success());
    assert!(routec(&["lab", "down", RACE, "--state-dir", STATE_DIR]).status.success());

    // The name is usable again.
    let again = finish(spawn_up(&example(), RACE, &[]));
    assert!(again.status.success());
    assert!(traffic_flows(RACE, &reference_pairs()));
    assert!(routec(&["lab", "down", RACE, "--state-dir", STATE_DIR]).status.success());
    assert_eq!(leftovers(RACE), Vec::<String>::new());
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

/// Kills `routec lab up` (SIGKILL, the process alone) after a random delay
/// (up to the time a whole `up` takes, at least 1500 ms; every other time
/// at the next moment it runs an `ip` child),
/// `iterations` times; after each, `lab down` must succeed (or find nothing),
/// nothing of the lab may remain, no `ip` may be orphaned, and every
/// `fresh_every`th time a fresh `lab up` must carry traffic. Returns how many
/// iterations left something broken, with what.
fn kill_lab_up_repeatedly(
    input: &Path,
    lab: &'static str,
    iterations: usize,
    pairs: &[(String, String)],
) -> Vec<String> {
    let _down = DownGuard(lab);
    // Kills land anywhere from the start to the end of a whole `up`.
    let started = Instant::now();
    assert!(finish(spawn_up(input, lab, &[])).status.success(), "an undisturbed lab up works");
    let max_delay = (started.elapsed().as_millis() as u64).max(1500);
    assert!(routec(&["lab", "down", lab, "--state-dir", STATE_DIR]).status.success());
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut delays = Delays(seed);
    let mut broken = Vec::new();
    let mut stages = std::collections::BTreeMap::<&str, usize>::new();
    for iteration in 0..iterations {
        let delay = delays.next_ms(max_delay);
        let log = Path::new(STATE_DIR).join(format!("{lab}.stress-log"));
        let mut up = Command::new(env!("CARGO_BIN_EXE_routec"))
            .args(["lab", "up"])
            .arg(input)
            .args(["--name", lab, "--state-dir", STATE_DIR])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        // Every other time, the kill waits for `up` to be running an `ip`.
        if iteration % 2 == 1 {
            let started = Instant::now();
            while ip_children(up.id()).is_empty() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let _ = up.kill();
        let status = up.wait().unwrap();
        let reached = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        // The last progress line says what `up` was doing when it died.
        let last = reached.lines().last().unwrap_or("");
        let stage = match status.code() {
            Some(0) => "finished",
            _ if last.contains("applied") => "applying nodes",
            _ if last.contains("interfaces") => "making interfaces",
            _ if last.contains("creating") => "making namespaces",
            _ if last.contains("building") => "building",
            _ => "reading the input",
        };
        *stages.entry(stage).or_default() += 1;

        let down = routec(&["lab", "down", lab, "--state-dir", STATE_DIR]);
        let down_ok = down.status.success()
            || (down.status.code() == Some(1) && text(&down.stderr).contains(&format!("no lab named `{lab}`")));
        // Time for an orphan, if there were one, to make namespaces after down.
        std::thread::sleep(Duration::from_millis(300));
        let mut problems = Vec::new();
        if !down_ok {
            problems.push(format!("lab down failed: {}", text(&down.stderr).trim()));
        }
        problems.extend(leftovers(lab));
        problems.extend(orphaned_ip());
        let fresh = iteration % 5 == 4 || iteration + 1 == iterations;
        if problems.is_empty() && fresh {
            let up = finish(spawn_up(input, lab, &[]));
            if !up.status.success() {
                problems.push(format!("a fresh lab up failed: {}", text(&up.stderr).trim()));
            } else if !traffic_flows(lab, pairs) {
                problems.push("a fresh lab up carries no traffic".into());
            }
            if !routec(&["lab", "down", lab, "--state-dir", STATE_DIR]).status.success() {
                problems.push("lab down after the fresh up failed".into());
            }
        }
        if !problems.is_empty() {
            broken.push(format!("kill after {delay} ms ({stage}): {problems:?}"));
            routec(&["lab", "down", lab, "--state-dir", STATE_DIR]);
        }
    }
    eprintln!(
        "stress {lab}: {iterations} killed lab ups at 0-{max_delay} ms (seed {seed:#x}), {} left something broken; killed at: {stages:?}",
        broken.len()
    );
    broken
}

fn stress_iterations() -> usize {
    std::env::var("ROUTEC_LAB_STRESS_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(10)
}

#[test]
fn killed_lab_ups_of_the_reference_cluster_leave_nothing_behind() {
    if !can_run("killed_lab_ups_of_the_reference_cluster_leave_nothing_behind") {
        return;
    }
    let broken = kill_lab_up_repeatedly(&example(), "t-kill-ref", stress_iterations(), &reference_pairs());
    assert_eq!(broken, Vec::<String>::new());
}

#[test]
fn killed_lab_ups_of_a_generated_cluster_leave_nothing_behind() {
    if !can_run("killed_lab_ups_of_a_generated_cluster_leave_nothing_behind") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gen.route");
    let gen = routec(&["gen", "--nodes", "4", "--pods-per-node", "10", "-o", input.to_str().unwrap()]);
    assert!(gen.status.success());
    // Pod 1 of node 1 to a pod of node 4, by IP (the generator's address plan).
    let ips: Vec<String> = std::fs::read_to_string(&input)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ip ").map(str::to_string))
        .collect();
    let pairs = vec![(ips[0].clone(), ips[ips.len() - 1].clone()), (ips[ips.len() - 1].clone(), ips[1].clone())];
    let broken = kill_lab_up_repeatedly(&input, "t-kill-gen", stress_iterations(), &pairs);
    assert_eq!(broken, Vec::<String>::new());
}

/// examples/mycluster copied into a fresh folder, with `edit` applied to its
/// cluster.route and `toml` as its routec.toml.
fn example_copy(edit: impl Fn(String) -> String, toml: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(example().join("cluster.route")).unwrap();
    std::fs::write(dir.path().join("cluster.route"), edit(source)).unwrap();
    if let Some(toml) = toml {
        std::fs::write(dir.path().join("routec.toml"), toml).unwrap();
    }
    dir
}

#[test]
fn a_lab_with_a_multicast_mac_is_refused_before_anything_exists() {
    if !can_run("a_lab_with_a_multicast_mac_is_refused_before_anything_exists") {
        return;
    }
    const BAD: &str = "t-mcast";
    let _down = DownGuard(BAD);
    let input = example_copy(|s| s.replace("mac ea:c4:71:d6:4f:a0", "mac 01:00:5e:00:00:01"), None);
    let up = finish(spawn_up(input.path(), BAD, &[]));
    let stderr = text(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "a message and exit 1, not a signal: {stderr}");
    assert!(stderr.contains("W0103"), "the warning is shown: {stderr}");
    assert!(stderr.contains("01:00:5e:00:00:01") && stderr.contains("multicast"), "{stderr}");
    assert!(!stderr.contains("creating"), "refused before any namespace: {stderr}");
    assert_eq!(leftovers(BAD), Vec::<String>::new());
}

#[test]
fn lab_up_builds_exactly_what_routec_build_builds() {
    if !can_run("lab_up_builds_exactly_what_routec_build_builds") {
        return;
    }
    const TOML: &str = "t-toml";
    let _down = DownGuard(TOML);
    let input = example_copy(|s| s, Some("[maps]\nlxc = 64\nipcache = 512\n"));
    let out = input.path().join("built");
    let build = routec(&["build", input.path().to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(build.status.success());
    let up = finish(spawn_up(input.path(), TOML, &[]));
    assert!(up.status.success());
    let manifest = |dir: &Path| std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let lab_manifest = manifest(&Path::new(STATE_DIR).join(TOML).join("out"));
    assert!(lab_manifest.contains("512"), "the lab's build has routec.toml's map sizes: {lab_manifest}");
    assert_eq!(lab_manifest, manifest(&out), "same files, same digests");
    assert!(routec(&["lab", "down", TOML, "--state-dir", STATE_DIR]).status.success());
}

/// Containment needs no root: nothing here is a lab, so nothing is touched.
#[test]
fn lab_down_and_list_touch_only_what_carries_routecs_marker() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("docs/guide")).unwrap();
    std::fs::write(dir.path().join("docs/guide/readme.md"), "keep me").unwrap();
    std::fs::write(dir.path().join("notes.json"), r#"{"name": "notes"}"#).unwrap();
    std::fs::create_dir(dir.path().join("other")).unwrap();

    let list = routec(&["lab", "list", "--state-dir", state_dir]);
    assert!(list.status.success());
    assert_eq!(text(&list.stdout), "", "no folder or JSON file without routec's marker is a lab");
    for name in ["docs", "notes", "other"] {
        let down = routec(&["lab", "down", name, "--state-dir", state_dir]);
        assert_eq!(down.status.code(), Some(1), "{name}");
        assert!(text(&down.stderr).contains("routec leaves it alone"), "{}", text(&down.stderr));
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("docs/guide/readme.md")).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(dir.path().join("notes.json")).unwrap(), r#"{"name": "notes"}"#);
    assert!(dir.path().join("other").is_dir());
}

#[test]
fn lab_up_refuses_a_bpffs_that_is_not_a_bpf_filesystem() {
    let input = example_copy(|s| s, Some("bpffs = \"pins\"\n"));
    let keep = input.path().join("pins/routec/t-nobpffs/mycluster-worker/cilium_lxc");
    std::fs::create_dir_all(keep.parent().unwrap()).unwrap();
    std::fs::write(&keep, "not a pin").unwrap();
    let state = tempfile::tempdir().unwrap();
    let up = routec(&[
        "lab",
        "up",
        input.path().to_str().unwrap(),
        "--name",
        "t-nobpffs",
        "--state-dir",
        state.path().to_str().unwrap(),
    ]);
    assert_eq!(up.status.code(), Some(1));
    assert!(text(&up.stderr).contains("is not a bpf filesystem"), "{}", text(&up.stderr));
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "not a pin");
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0, "nothing made in the state folder");
    assert!(!Path::new("/run/netns/t-nobpffs-underlay").exists());
}

#[test]
fn a_lab_up_killed_while_ip_runs_takes_its_ip_along() {
    if !can_run("a_lab_up_killed_while_ip_runs_takes_its_ip_along") {
        return;
    }
    const KILLED: &str = "t-kill-ip";
    let _down = DownGuard(KILLED);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("gen.route");
    // 245 namespaces: `ip netns add` of all of them takes a while.
    assert!(routec(&["gen", "--nodes", "4", "--pods-per-node", "60", "-o", input.to_str().unwrap()]).status.success());
    let mut up = spawn_up(&input, KILLED, &[]);
    wait_for("lab up to run ip", Duration::from_secs(60), || !ip_children(up.id()).is_empty());
    up.kill().unwrap();
    up.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(orphaned_ip(), Vec::<String>::new(), "ip died with routec");
    let down = routec(&["lab", "down", KILLED, "--state-dir", STATE_DIR]);
    assert!(down.status.success(), "{}", text(&down.stderr));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(leftovers(KILLED), Vec::<String>::new(), "nothing appears after down");
}
