//! `routec agent` in labs (`routec lab up --agents`, `routec lab publish`):
//! publish, refusal, drift repair, restarts under traffic, and what
//! Prometheus sees. Root only; every test has its own lab.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use routec_runtime::lab::{self, LabState};
use routec_runtime::live_trace;

mod common;
use common::{can_run, example, routec, STATE_DIR};

const WORKER: &str = "mycluster-worker";
/// busybox on mycluster-worker, and the netshoot pods on each worker.
const BUSYBOX: &str = "10.10.2.117";
const NETSHOOT: &str = "10.10.2.121";
const REMOTE: &str = "10.10.1.155";

/// A lab with agents; taken down (agents first) when dropped.
struct Lab {
    name: &'static str,
    state: LabState,
}

impl Lab {
    fn up(name: &'static str, verify_every: u64) -> Lab {
        let example = example();
        let every = verify_every.to_string();
        let up = routec(&[
            "lab",
            "up",
            example.to_str().unwrap(),
            "--name",
            name,
            "--state-dir",
            STATE_DIR,
            "--agents",
            "--verify-every",
            &every,
        ]);
        assert!(up.status.success(), "lab up --agents");
        Lab { name, state: LabState::load(Path::new(STATE_DIR), name).unwrap() }
    }
    fn node(&self, node: &str) -> &lab::LabNode {
        self.state.node(node).unwrap()
    }
    fn pod_ns(&self, ip: &str) -> String {
        self.state.pod(ip).unwrap().netns.clone()
    }
    fn folder(&self) -> PathBuf {
        Path::new(STATE_DIR).join(self.name)
    }
    fn log(&self, node: &str) -> String {
        std::fs::read_to_string(self.folder().join("agents").join(format!("{node}.log"))).unwrap()
    }
    fn target(&self, node: &str) -> routec_runtime::loader::Target {
        lab::node_target(&self.state, node).unwrap()
    }
    /// A real client (curl) in the node's namespace, on its agent: status and body.
    fn get(&self, node: &str, path: &str) -> (u16, String) {
        let node = self.node(node);
        let url = format!("http://{}{path}", lab::agents::agent_addr(node.address));
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", node.netns))
            .args(["--", "curl", "-sS", "-m", "5", "-w", "\n%{http_code}", &url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
    fn metric(&self, node: &str, sample: &str) -> Option<f64> {
        let (_, body) = self.get(node, "/metrics");
        body.lines().find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        routec(&["lab", "down", self.name, "--state-dir", STATE_DIR]);
    }
}

/// Polls `condition` every 20 ms until it holds or `within` passed.
fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() > within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ping(netns: &str, dst: &str) -> bool {
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{netns}"))
        .args(["--", "ping", "-n", "-q", "-c", "1", "-W", "2", dst])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// The reference cluster with busybox's identity changed to `identity`
/// (same topology, other map values), written into `dir`.
fn changed_cluster(dir: &Path, identity: u32) -> PathBuf {
    let text = std::fs::read_to_string(example().join("cluster.route")).unwrap();
    let changed = text.replace("endpoint 715\n    identity 3372", &format!("endpoint 715\n    identity {identity}"));
    assert_ne!(changed, text);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cluster.route"), changed).unwrap();
    dir.to_path_buf()
}

/// busybox's security identity as the kernel holds it: in the lxc map of
/// its node, and in the ipcache of `node`.
fn busybox_identity(lab: &Lab, node: &str) -> (Option<u32>, Option<u32>) {
    let ip: Ipv4Addr = BUSYBOX.parse().unwrap();
    let lxc = live_trace::read_lxc(&lab.target(WORKER)).unwrap();
    let ipcache = live_trace::read_ipcache(&lab.target(node)).unwrap();
    (
        lxc.iter().find(|(k, _)| k.ip4() == ip).map(|(_, v)| v.sec_id),
        ipcache.iter().find(|(k, _)| k.ip4() == ip && k.ip_prefix_len() == Some(32)).map(|(_, v)| v.sec_identity),
    )
}

#[test]
fn a_published_build_converges_and_a_corrupt_one_is_refused() {
    if !can_run("a_published_build_converges_and_a_corrupt_one_is_refused") {
        return;
    }
    let lab = Lab::up("t-ag-pub", 1);
    let nodes: Vec<String> = lab.state.nodes.iter().map(|n| n.name.clone()).collect();
    for node in &nodes {
        assert_eq!(lab.get(node, "/healthz").0, 200, "{node} is healthy after up");
    }
    let tmp = tempfile::tempdir().unwrap();

    // A changed build: every node converges, the maps hold the new values.
    let changed = changed_cluster(&tmp.path().join("changed"), 4000);
    let publish = routec(&["lab", "publish", lab.name, changed.to_str().unwrap(), "--state-dir", STATE_DIR]);
    assert!(publish.status.success());
    let stdout = String::from_utf8_lossy(&publish.stdout);
    assert!(stdout.contains("all 3 nodes converged in"), "{stdout}");
    let digest = stdout.split(['(', ')']).nth(1).unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    for node in &nodes {
        let (status, body) = lab.get(node, "/healthz");
        assert_eq!(status, 200, "{node}: {body}");
        assert!(body.contains(&digest), "{node} holds the published build: {body}");
        assert_eq!(busybox_identity(&lab, node), (Some(4000), Some(4000)), "{node}'s maps hold the new entries");
        let info = format!("routec_build_info{{digest=\"{digest}\",cluster=\"mycluster\"}}");
        assert_eq!(lab.metric(node, &info), Some(1.0), "{node}");
        assert_eq!(lab.metric(node, "routec_apply_total{result=\"applied\"}"), Some(2.0), "{node}: up, then publish");
    }
    assert!(ping(&lab.pod_ns(BUSYBOX), REMOTE), "traffic follows the new build");

    // `lab up` of a lab with agents is refused (its agents would undo it), nothing changed.
    let again = routec(&["lab", "up", changed.to_str().unwrap(), "--name", lab.name, "--state-dir", STATE_DIR]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(String::from_utf8_lossy(&again.stderr).contains("runs agents"), "{again:?}");
    for node in &nodes {
        assert_eq!(lab.get(node, "/healthz").0, 200, "{node} still healthy");
    }

    // A corrupt build (a file that is not the one its manifest records) is
    // refused on every node; the running datapath is kept.
    let corrupt = lab.folder().join("builds").join("corrupt");
    let third = changed_cluster(&tmp.path().join("third"), 5000);
    let build = routec(&["build", third.to_str().unwrap(), "-o", corrupt.to_str().unwrap()]);
    assert!(build.status.success());
    let cluster_json = corrupt.join("cluster/cluster.json");
    let mut text = std::fs::read_to_string(&cluster_json).unwrap();
    text = text.replace("5000", "5001");
    std::fs::write(&cluster_json, text).unwrap();
    lab::agents::swap_watched(Path::new(STATE_DIR), lab.name, &corrupt).unwrap();
    for node in &nodes {
        let refused = eventually(Duration::from_secs(10), || {
            let (status, body) = lab.get(node, "/healthz");
            status == 503 && body.contains("the watched build is not applied") && body.contains(&digest)
        });
        assert!(refused, "{node}: {:?}", lab.get(node, "/healthz"));
        let (_, body) = lab.get(node, "/healthz");
        assert!(body.contains("cluster.json"), "the reason names the bad file: {body}");
        assert_eq!(lab.metric(node, "routec_apply_total{result=\"refused\"}"), Some(1.0), "{node}");
        assert!(lab.log(node).lines().any(|l| l.contains("event=refused")), "{node} logs the refusal");
        assert_eq!(busybox_identity(&lab, node), (Some(4000), Some(4000)), "{node} keeps its datapath");
    }
    assert!(ping(&lab.pod_ns(BUSYBOX), REMOTE), "traffic keeps flowing");
    assert!(ping(&lab.pod_ns(BUSYBOX), NETSHOOT), "traffic keeps flowing");

    // Half written (a seed missing), then a build of another cluster:
    // refused too, each counted once.
    let half = lab.folder().join("builds").join("half");
    assert!(routec(&["build", third.to_str().unwrap(), "-o", half.to_str().unwrap()]).status.success());
    std::fs::remove_file(half.join("cluster/cilium_ipcache.seed")).unwrap();
    let other_dir = tmp.path().join("other");
    let other_cluster = changed_cluster(&other_dir, 4000);
    let text = std::fs::read_to_string(other_cluster.join("cluster.route")).unwrap();
    std::fs::write(other_cluster.join("cluster.route"), text.replace("cluster mycluster {", "cluster othercluster {"))
        .unwrap();
    let other = lab.folder().join("builds").join("other");
    assert!(routec(&["build", other_cluster.to_str().unwrap(), "-o", other.to_str().unwrap()]).status.success());
    for (folder, reason, refusals) in [(&half, "cilium_ipcache.seed", 2.0), (&other, "cluster `othercluster`", 3.0)] {
        lab::agents::swap_watched(Path::new(STATE_DIR), lab.name, folder).unwrap();
        for node in &nodes {
            let refused = eventually(Duration::from_secs(10), || {
                lab.metric(node, "routec_apply_total{result=\"refused\"}") == Some(refusals)
            });
            assert!(refused, "{node}: {}", folder.display());
            let (status, body) = lab.get(node, "/healthz");
            assert_eq!(status, 503, "{node}: {body}");
            assert!(body.contains(reason), "{node}: {body}");
            assert_eq!(busybox_identity(&lab, node), (Some(4000), Some(4000)), "{node} keeps its datapath");
        }
    }
    assert!(ping(&lab.pod_ns(BUSYBOX), REMOTE), "traffic keeps flowing");
}

#[test]
fn a_deleted_entry_and_a_removed_program_are_restored_at_the_next_check() {
    if !can_run("a_deleted_entry_and_a_removed_program_are_restored_at_the_next_check") {
        return;
    }
    let lab = Lab::up("t-ag-drift", 1);
    let pin = lab.target(WORKER).map_pin("cilium_lxc");
    // netshoot's endpoint (10.10.2.121), deleted by hand as an operator would.
    let key = "0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00";
    let bpftool = |op: &str| {
        Command::new("bpftool")
            .args(["map", op, "pinned"])
            .arg(&pin)
            .arg("key")
            .arg("hex")
            .args(key.split(' '))
            .output()
            .unwrap()
    };
    let deleted = bpftool("delete");
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    assert!(!bpftool("lookup").status.success(), "the entry is gone");
    // Restored by the first check after the deletion (the deadline only
    // bounds a loaded machine): one drift found, one repair.
    assert!(eventually(Duration::from_secs(10), || bpftool("lookup").status.success()), "restored");
    assert!(eventually(Duration::from_secs(5), || lab.metric(WORKER, "routec_drift_repairs_total") == Some(1.0)));
    let log = lab.log(WORKER);
    let events: Vec<&str> = log.lines().filter(|l| l.contains("event=drift") || l.contains("event=repaired")).collect();
    assert_eq!(events.len(), 2, "{log}");
    assert!(events[0].contains("event=drift") && events[0].contains("cilium_lxc 10.10.2.121 missing"), "{log}");
    assert!(events[1].contains("event=repaired"), "{log}");
    assert_eq!(lab.get(WORKER, "/healthz").0, 200);
    assert!(ping(&lab.pod_ns(BUSYBOX), NETSHOOT), "the repaired entry delivers");

    // A program removed from its hook by hand (netshoot's lxc) is attached again.
    let tc = |args: &[&str]| {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", lab.node(WORKER).netns))
            .args(["--", "tc"])
            .args(args)
            .output()
            .unwrap()
    };
    let filters =
        || String::from_utf8_lossy(&tc(&["filter", "show", "dev", "lxc5b7b34955e61", "ingress"]).stdout).into_owned();
    assert!(filters().contains("cil_from_container"), "{}", filters());
    assert!(tc(&["filter", "del", "dev", "lxc5b7b34955e61", "ingress"]).status.success());
    assert!(!filters().contains("cil_from_container"), "{}", filters());
    assert!(eventually(Duration::from_secs(10), || filters().contains("cil_from_container")), "attached again");
    assert!(eventually(Duration::from_secs(5), || lab.metric(WORKER, "routec_drift_repairs_total") == Some(2.0)));
    let log = lab.log(WORKER);
    assert!(log.lines().any(|l| l.contains("event=drift") && l.contains("hook lxc5b7b34955e61.ingress")), "{log}");
    assert_eq!(lab.get(WORKER, "/healthz").0, 200);
    assert!(ping(&lab.pod_ns(NETSHOOT), BUSYBOX), "netshoot's packets go through routec's program again");
}

/// The argument list a running process was started with.
fn cmdline(pid: u32) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
}

/// Alive and not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

#[test]
fn an_agent_restart_drops_no_packet_and_the_new_agent_adopts() {
    if !can_run("an_agent_restart_drops_no_packet_and_the_new_agent_adopts") {
        return;
    }
    let lab = Lab::up("t-ag-restart", 1);
    let pid_file = lab.folder().join("agents").join(format!("{WORKER}.pid"));
    let first: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let args = cmdline(first);
    assert_eq!(args[1], "agent", "{args:?}");
    let tmp = tempfile::tempdir().unwrap();

    // 600 pings 10 ms apart through the worker's datapath (to the other node).
    let pings = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.pod_ns(BUSYBOX)))
        .args(["--", "ping", "-n", "-q", "-i", "0.01", "-c", "600", "-W", "1", REMOTE])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let mut agents = Vec::new();
    let mut stop_and_restart = |signal: i32, round: usize| -> String {
        let pid: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        // SAFETY: kill has no memory preconditions; `pid` is the lab's agent.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
        assert!(eventually(Duration::from_secs(10), || !running(pid)), "the agent stops");
        // Traffic while no agent runs at all.
        std::thread::sleep(Duration::from_millis(300));
        let log_path = tmp.path().join(format!("agent-{round}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_routec"))
            .args(&args[1..])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        // `lab down` stops the agent this file names.
        std::fs::write(&pid_file, child.id().to_string()).unwrap();
        agents.push(child);
        assert!(
            eventually(Duration::from_secs(20), || lab.get(WORKER, "/healthz").0 == 200),
            "the new agent is healthy"
        );
        std::fs::read_to_string(&log_path).unwrap()
    };
    for (round, signal) in [libc::SIGTERM, libc::SIGKILL].into_iter().enumerate() {
        let log = stop_and_restart(signal, round);
        assert!(log.lines().any(|l| l.contains("event=adopted")), "round {round}: {log}");
        assert!(!log.lines().any(|l| l.contains("event=applied") || l.contains("event=differs")), "{log}");
        for result in ["applied", "unchanged", "failed", "refused"] {
            let sample = format!("routec_apply_total{{result=\"{result}\"}}");
            assert_eq!(lab.metric(WORKER, &sample), Some(0.0), "the new agent wrote nothing: {sample}");
        }
    }
    let output = pings.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(summary.contains("600 packets transmitted, 600 received, 0% packet loss"), "{summary}");
    drop(lab);
    for mut agent in agents {
        // Stopped by `lab down`; reaped here.
        let _ = agent.kill();
        agent.wait().unwrap();
    }
}

#[test]
fn prometheus_scrapes_the_agent_and_reads_the_counters_map() {
    if !can_run("prometheus_scrapes_the_agent_and_reads_the_counters_map") {
        return;
    }
    let lab = Lab::up("t-ag-prom", 1);
    for _ in 0..3 {
        assert!(ping(&lab.pod_ns(BUSYBOX), NETSHOOT));
    }

    // promtool lints what a plain client gets.
    let (status, metrics) = lab.get(WORKER, "/metrics");
    assert_eq!(status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/setup installs it)");
    std::io::Write::write_all(&mut promtool.stdin.take().unwrap(), metrics.as_bytes()).unwrap();
    let lint = promtool.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );

    // A real Prometheus in the node's namespace scrapes the agent every second.
    let tmp = tempfile::tempdir().unwrap();
    let agent = lab::agents::agent_addr(lab.node(WORKER).address);
    let config = tmp.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: routec\n    static_configs:\n      - targets: ['{agent}']\n"),
    )
    .unwrap();
    let mut prometheus = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.node(WORKER).netns))
        .arg("--")
        .arg("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", tmp.path().join("data").display()))
        .arg("--web.listen-address=127.0.0.1:19090")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let reason = routec_compiler::layout::Reason::LocalDelivery;
    let expected = routec_runtime::loader::counters(&lab.target(WORKER))
        .unwrap()
        .into_iter()
        .find(|c| c.code == reason.code())
        .unwrap()
        .packets;
    assert!(expected >= 6, "three pings there and back: {expected}");
    let query = format!("routec_forward_count_total{{node=\"{WORKER}\",reason=\"{}\"}}", reason.name());
    let mut answer = String::new();
    let answered = eventually(Duration::from_secs(30), || {
        let out = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", lab.node(WORKER).netns))
            .args(["--", "curl", "-sS", "-m", "5", "http://127.0.0.1:19090/api/v1/query", "--data-urlencode"])
            .arg(format!("query={query}"))
            .output()
            .unwrap();
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        let json: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        json["data"]["result"][0]["value"][1].as_str() == Some(expected.to_string().as_str())
    });
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let log = std::fs::read_to_string(tmp.path().join("prometheus.log")).unwrap_or_default();
    assert!(answered, "Prometheus answers {query} with {expected}: {answer}\n{log}");
}

#[test]
fn the_node_comes_from_node_name_and_a_busy_port_is_an_error() {
    let missing = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["agent", "--watch", "/nonexistent"])
        .env_remove("NODE_NAME")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--node"));
    let bad = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["agent", "--watch", "/nonexistent"])
        .env("NODE_NAME", "Not_A_Node")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid node name `Not_A_Node`"), "{bad:?}");
    // NODE_NAME accepted, then the listener cannot be made: exit 2, said why.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["agent", "--watch", "/nonexistent", "--listen", &port])
        .env("NODE_NAME", "mycluster-worker")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the agent cannot start") && stderr.contains(&port), "{stderr}");
}

/// `GET` with curl in this namespace: status and body.
fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl").args(["-sS", "-m", "5", "-w", "\n%{http_code}", url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// No root needed, nothing touched: the agent's bpffs is an ordinary folder,
/// so every apply is refused by the loader before anything else.
#[test]
fn the_agent_waits_for_a_missing_watched_path_then_reads_what_appears() {
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let (watch, not_bpffs) = (tmp.path().join("current"), tmp.path().join("not-bpffs"));
    std::fs::create_dir(&not_bpffs).unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["agent", "--listen", "127.0.0.1:0", "--verify-every", "1", "--watch"])
        .arg(&watch)
        .arg("--bpffs")
        .arg(&not_bpffs)
        .env("NODE_NAME", WORKER)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(agent.stderr.take().unwrap()).lines().map(|l| l.unwrap());
    let started = lines.next().unwrap();
    let listen = started.split("listen=").nth(1).expect("the started line names the listener").to_string();
    assert!(lines.next().unwrap().contains("event=waiting"), "a missing path is waited for");
    let (status, body) = curl(&format!("http://{listen}/healthz"));
    assert_eq!((status, body.trim()), (503, "unhealthy: there is no watched build yet"));
    let (_, metrics) = curl(&format!("http://{listen}/metrics"));
    assert!(metrics.contains("routec_apply_total{result=\"refused\"} 0"), "waiting is no refusal: {metrics}");

    let build = tmp.path().join("b1");
    assert!(routec(&["build", example().to_str().unwrap(), "-o", build.to_str().unwrap()]).status.success());
    std::os::unix::fs::symlink(&build, &watch).unwrap();
    let failed = lines.find(|l| l.contains("event=apply-failed")).unwrap();
    assert!(failed.contains("is not a bpf filesystem"), "{failed}");
    let (status, body) = curl(&format!("http://{listen}/healthz"));
    assert_eq!(status, 503);
    assert!(body.contains("apply failed"), "{body}");

    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(agent.id() as i32, libc::SIGTERM) };
    assert!(lines.any(|l| l.contains("event=stopped")));
    assert!(agent.wait().unwrap().success(), "SIGTERM ends the agent with 0");
    assert!(std::fs::read_dir(&not_bpffs).unwrap().next().is_none(), "nothing was written");
}
