//! `routec plan` against a real kernel: labs of examples/mycluster and of a
//! generated cluster brought up by `routec lab up`, drift made by hand with
//! bpftool, a changed cluster, a changed template object, and programs that
//! are not this scope's (foreign hooks). Everything through the binary.
//!
//! Needs root (namespaces, bpffs); skips with a reason otherwise, except
//! under CI=true, where it fails instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{can_run, routec, run, STATE_DIR};

const BPFFS: &str = "/sys/fs/bpf";

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A lab brought up for one test and always taken down.
struct Lab {
    name: &'static str,
}

impl Lab {
    fn up(name: &'static str, input: &Path) -> Lab {
        let lab = Lab { name };
        let up = routec(&["lab", "up", path_str(input), "--name", name, "--state-dir", STATE_DIR]);
        assert!(up.status.success(), "lab up {name}");
        lab
    }
    fn out(&self) -> PathBuf {
        Path::new(STATE_DIR).join(self.name).join("out")
    }
    fn netns(&self, node: &str) -> String {
        format!("/run/netns/{}-{node}", self.name)
    }
    fn pin(&self, node: &str, map: &str) -> String {
        format!("{BPFFS}/routec/{}/{node}/{map}", self.name)
    }
    /// `routec plan OUT` for `node` of this lab, in `scope`, with `extra` flags.
    fn plan_in_scope(&self, out: &Path, node: &str, scope: &str, extra: &[&str]) -> Output {
        let netns = self.netns(node);
        let args = [path_str(out), "--node", node, "--scope", scope, "--bpffs", BPFFS, "--netns", &netns];
        routec(&[&["plan"][..], &args, extra].concat())
    }
    fn plan(&self, out: &Path, node: &str, extra: &[&str]) -> Output {
        self.plan_in_scope(out, node, self.name, extra)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if Path::new(STATE_DIR).join(format!("{}.json", self.name)).exists() {
            let down = routec(&["lab", "down", self.name, "--state-dir", STATE_DIR]);
            assert!(down.status.success() || std::thread::panicking(), "lab {} was left behind", self.name);
        }
    }
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// (node, kind, subject, actions) of every change of a JSON plan.
fn outline(json: &str) -> Vec<(String, String, String, String)> {
    let document: serde_json::Value = serde_json::from_str(json).unwrap();
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    document["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (text(&c["node"]), text(&c["kind"]), text(&c["subject"]), c["actions"].to_string()))
        .collect()
}

fn outline_of(node: &str, changes: &[(&str, &str, &str)]) -> Vec<(String, String, String, String)> {
    changes
        .iter()
        .map(|(kind, subject, action)| (node.into(), kind.to_string(), subject.to_string(), format!("[\"{action}\"]")))
        .collect()
}

/// Kernel ids and digests change from run to run and toolchain to toolchain.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut words = text.split_inclusive(|c: char| !c.is_ascii_alphanumeric());
    let mut previous = String::new();
    for word in words.by_ref() {
        let body = word.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        let tail = &word[body.len()..];
        if previous == "program " && body.chars().all(|c| c.is_ascii_digit()) && !body.is_empty() {
            out.push_str("[id]");
        } else if body.len() == 64 && body.chars().all(|c| c.is_ascii_hexdigit()) {
            out.push_str("[sha256]");
        } else {
            out.push_str(body);
        }
        out.push_str(tail);
        previous = word.to_string();
    }
    out
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({snapshot_path => "../../snapshots/plan", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, redact(text));
    });
}

fn bpftool(args: &[&str]) {
    let output = run("bpftool", args);
    assert!(output.status.success(), "bpftool {args:?} failed");
}

/// `key hex …`/`value hex …` of the seed line of `rel` in `out` whose key starts with `key_prefix`.
fn seed_line(out: &Path, rel: &str, key_prefix: &str) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(out.join(rel)).unwrap();
    let line = text.lines().find(|l| l.starts_with(&format!("key hex {key_prefix}"))).unwrap();
    let (key, value) = line.trim_start_matches("key hex ").split_once(" value hex ").unwrap();
    (key.split(' ').map(String::from).collect(), value.split(' ').map(String::from).collect())
}

fn bpftool_map(verb: &str, pin: &str, key: &[String], value: Option<&[String]>) {
    let mut args = vec!["map", verb, "pinned", pin, "key", "hex"];
    args.extend(key.iter().map(String::as_str));
    if let Some(value) = value {
        args.extend(["value", "hex"]);
        args.extend(value.iter().map(String::as_str));
    }
    bpftool(&args);
}

const WORKER: &str = "mycluster-worker";
/// netshoot-fwt8z on mycluster-worker declares its ifindex and MACs: its
/// entry is the same in the build and in the kernel, byte for byte.
const NETSHOOT_LXC_KEY: &str = "0a 0a 02 79";
const FMHWC_IPCACHE_KEY: &str = "40 00 00 00 00 00 00 01 0a 0a 01 a4";

#[test]
fn plan_shows_hand_made_drift_replaced_programs_and_foreign_hooks() {
    if !can_run("plan_shows_hand_made_drift_replaced_programs_and_foreign_hooks") {
        return;
    }
    let lab = Lab::up("t-plan", &example("mycluster"));
    let out = lab.out();

    // What lab up applied is what the kernel holds.
    let same = lab.plan(&out, WORKER, &["--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0));
    assert!(stdout(&same).contains("\nNo changes."), "{}", stdout(&same));

    // An apply holding the node's lock: plan waits for it, or fails at once with --no-wait.
    let lock = format!("/run/routec/nodes/{}/{WORKER}.lock", lab.name);
    let mut holder = Command::new("flock").args(["-x", &lock, "sleep", "1"]).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let busy = lab.plan(&out, WORKER, &["--no-wait"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("is busy"), "{busy:?}");
    let waited = lab.plan(&out, WORKER, &["--detailed-exitcode"]);
    assert_eq!(waited.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&waited.stderr).contains("routec: waiting for node"), "{waited:?}");
    holder.wait().unwrap();

    // Drift by hand: one ipcache entry deleted, one lxc entry's identity changed.
    let (ipcache_key, ipcache_value) = seed_line(&out, "cluster/cilium_ipcache.seed", FMHWC_IPCACHE_KEY);
    let (lxc_key, lxc_value) = seed_line(&out, &format!("nodes/{WORKER}/cilium_lxc.seed"), NETSHOOT_LXC_KEY);
    bpftool_map("delete", &lab.pin(WORKER, "cilium_ipcache"), &ipcache_key, None);
    let mut drifted = lxc_value.clone();
    (drifted[32], drifted[33]) = ("0f".into(), "27".into()); // sec_id 10388 -> 9999
    bpftool_map("update", &lab.pin(WORKER, "cilium_lxc"), &lxc_key, Some(&drifted));

    let text = lab.plan(&out, WORKER, &["--detailed-exitcode"]);
    assert_eq!(text.status.code(), Some(2), "changes with --detailed-exitcode");
    let json = lab.plan(&out, WORKER, &["--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "changes are a success without --detailed-exitcode");
    assert_eq!(
        outline(&stdout(&json)),
        outline_of(
            WORKER,
            &[
                ("cilium_lxc", "pod networking101/netshoot-7d996d7884-fwt8z", "update"),
                ("cilium_ipcache", "pod networking101/busybox-c8bbbbb84-fmhwc", "create"),
            ]
        )
    );
    assert!(stdout(&text).contains("      sec_id: 9999 -> 10388\n"), "{}", stdout(&text));
    snapshot("drift.txt", &stdout(&text));
    snapshot("drift.json", &stdout(&json));

    // Put back by hand: nothing to do again.
    bpftool_map("update", &lab.pin(WORKER, "cilium_ipcache"), &ipcache_key, Some(&ipcache_value));
    bpftool_map("update", &lab.pin(WORKER, "cilium_lxc"), &lxc_key, Some(&lxc_value));
    assert_eq!(lab.plan(&out, WORKER, &["--detailed-exitcode"]).status.code(), Some(0));

    // A build whose bpf_lxc.o differs (the template edited): that program is replaced, nothing else.
    let scratch = tempfile::tempdir().unwrap();
    let edited = scratch.path().join("edited");
    let copied = run("cp", &["-a", path_str(&out), path_str(&edited)]);
    assert!(copied.status.success());
    recompile_lxc_object(scratch.path(), &edited);
    let replaced = lab.plan(&edited, WORKER, &["--format", "json", "--detailed-exitcode"]);
    assert_eq!(replaced.status.code(), Some(2));
    let replaced_json: serde_json::Value = serde_json::from_slice(&replaced.stdout).unwrap();
    assert_eq!(
        outline(&stdout(&replaced)),
        [(WORKER.into(), "program".into(), format!("node {WORKER}"), r#"["delete","create"]"#.into())]
    );
    let change = &replaced_json["changes"][0];
    assert_eq!(change["address"], "cil_from_container");
    assert_ne!(change["before"]["sha256"], change["after"]["sha256"]);
    // Applied, the node runs it, and the record ties the kernel's program to its object.
    let netns = lab.netns(WORKER);
    let applied = routec(&[
        "apply",
        path_str(&edited),
        "--node",
        WORKER,
        "--scope",
        lab.name,
        "--bpffs",
        BPFFS,
        "--netns",
        &netns,
    ]);
    assert!(applied.status.success());
    assert_eq!(lab.plan(&edited, WORKER, &["--detailed-exitcode"]).status.code(), Some(0));
    let back = lab.plan(&out, WORKER, &["--format", "json"]);
    assert_eq!(outline(&stdout(&back)), outline(&stdout(&replaced)), "the lab's build replaces it again");

    // Without the node's record, routec's programs are still recognised on
    // their hooks, but nothing says which object they came from: replaced.
    let record = PathBuf::from(format!("/run/routec/nodes/{}/{WORKER}.json", lab.name));
    let kept = std::fs::read(&record).unwrap();
    std::fs::remove_file(&record).unwrap();
    let unrecorded = lab.plan(&out, WORKER, &["--format", "json"]);
    std::fs::write(&record, kept).unwrap();
    let document: serde_json::Value = serde_json::from_slice(&unrecorded.stdout).unwrap();
    let mut kinds = Vec::new();
    for change in document["changes"].as_array().unwrap() {
        kinds.push((change["kind"].as_str().unwrap().to_string(), change["actions"].to_string()));
        if change["kind"] == "program" {
            assert_eq!(change["before"]["sha256"], "unknown (not in the node's record)");
        }
    }
    let replace = r#"["delete","create"]"#.to_string();
    let create = r#"["create"]"#.to_string();
    let mut expected = vec![("constant".to_string(), create); 5];
    expected.extend(vec![("program".to_string(), replace); 4]); // cil_from_container, _host, _overlay, _netdev
    assert_eq!(kinds, expected, "the hooks are routec's, with the programs the build has");

    // Programs of another scope on this node's hooks are foreign to it: shown and noted, no crash.
    let other = lab.plan_in_scope(&out, WORKER, "t-plan-other", &["--detailed-exitcode"]);
    assert_eq!(other.status.code(), Some(2));
    let other_text = stdout(&other);
    assert!(other_text.contains("note: foreign hook: lxc5b7b34955e61 ingress holds a tc filter"), "{other_text}");
    assert!(other_text.contains("(not routec's) -> bpf/bpf_lxc.o"), "{other_text}");
    // The notes and the hooks (the entries hold MACs the lab's veths got at random).
    snapshot("foreign.txt", &notes_and_hooks(&other_text));
    assert!(!Path::new(BPFFS).join("routec/t-plan-other").exists(), "plan never writes");
    assert!(!Path::new("/run/routec/nodes/t-plan-other").exists(), "plan never writes");
}

/// The `note:` lines of a text plan, and its hook changes with their details.
fn notes_and_hooks(text: &str) -> String {
    let mut kept = String::new();
    let mut in_hook = false;
    for line in text.lines() {
        if line.starts_with("  ") && !line.starts_with("      ") {
            in_hook = line.contains(" hook[");
        }
        if line.starts_with("note:") || (in_hook && line.starts_with("  ")) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// Compiles bpf_lxc.c of an edited copy of bpf-templates/ (a comment line
/// added at the top: the same code, other line numbers in its debug info)
/// into `out/bpf/bpf_lxc.o`, and records it in the manifest as if built so.
fn recompile_lxc_object(scratch: &Path, out: &Path) {
    let templates = scratch.join("templates");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-templates");
    assert!(run("cp", &["-a", path_str(&source), path_str(&templates)]).status.success());
    let lxc = templates.join("bpf_lxc.c");
    let text = std::fs::read_to_string(&lxc).unwrap();
    std::fs::write(&lxc, format!("/* edited for routec plan's test */\n{text}")).unwrap();
    let arch = Command::new("clang").arg("-print-multiarch").output().unwrap();
    let include = format!("/usr/include/{}", String::from_utf8(arch.stdout).unwrap().trim());
    let object = out.join("bpf/bpf_lxc.o");
    let compiled = run(
        "clang",
        &[
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-Wall",
            "-I",
            path_str(&templates),
            "-idirafter",
            &include,
            "-c",
            path_str(&lxc),
            "-o",
            path_str(&object),
        ],
    );
    assert!(compiled.status.success(), "clang");
    use sha2::Digest;
    let bytes = std::fs::read(&object).unwrap();
    let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for file in manifest["files"].as_array_mut().unwrap() {
        if file["path"] == "bpf/bpf_lxc.o" {
            file["sha256"] = sha.clone().into();
            file["size"] = bytes.len().into();
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

/// `routec gen` of 3 nodes x 3 pods, with the identity of `pod` (by name) set to `identity`.
fn generated(identity_of: Option<(&str, u32)>) -> String {
    let text = stdout(&routec(&["gen", "--nodes", "3", "--pods-per-node", "3"]));
    let Some((pod, identity)) = identity_of else { return text };
    let start = text.find(&format!("pod {pod} on")).unwrap();
    let at = start + text[start..].find("identity ").unwrap();
    let end = at + text[at..].find('\n').unwrap();
    format!("{}identity {identity}{}", &text[..at], &text[end..])
}

#[test]
fn plan_of_a_cluster_where_one_pod_changed_shows_that_pods_entries_only() {
    if !can_run("plan_of_a_cluster_where_one_pod_changed_shows_that_pods_entries_only") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let (before, after) = (scratch.path().join("before.route"), scratch.path().join("after.route"));
    std::fs::write(&before, generated(None)).unwrap();
    let pod = "media/proxy-1-1"; // on node-1
    std::fs::write(&after, generated(Some((pod, 4242)))).unwrap();
    let lab = Lab::up("t-plan-gen", &before);
    let changed = scratch.path().join("out");
    let built = routec(&["build", path_str(&after), "-o", path_str(&changed)]);
    assert!(built.status.success());

    let subject = format!("pod {pod}");
    for node in ["node-0", "node-1", "node-2"] {
        assert_eq!(lab.plan(&lab.out(), node, &["--detailed-exitcode"]).status.code(), Some(0), "{node}");
        let plan = lab.plan(&changed, node, &["--format", "json", "--detailed-exitcode"]);
        assert_eq!(plan.status.code(), Some(2), "{node}");
        let mut expected = Vec::new();
        if node == "node-1" {
            expected.push(("cilium_lxc", subject.as_str(), "update"));
        }
        expected.push(("cilium_ipcache", subject.as_str(), "update"));
        assert_eq!(outline(&stdout(&plan)), outline_of(node, &expected), "{node}");
    }

    // Programs attached as TCX links are recognised as well: the node is in sync.
    let netns = lab.netns("node-0");
    let out = lab.out();
    let args = [path_str(&out), "--node", "node-0", "--scope", lab.name, "--bpffs", BPFFS, "--netns", &netns];
    assert!(routec(&[&["apply"][..], &args, &["--tc-mode", "tcx"]].concat()).status.success());
    let tcx = lab.plan(&lab.out(), "node-0", &["--detailed-exitcode"]);
    assert_eq!(tcx.status.code(), Some(0), "{}", stdout(&tcx));
}

#[test]
fn a_node_never_applied_is_all_creates_and_a_missing_build_is_exit_1() {
    if !can_run("a_node_never_applied_is_all_creates_and_a_missing_build_is_exit_1") {
        return;
    }
    // A namespace of this test's own, with none of the build's interfaces.
    let netns = "t-plan-empty";
    let _ = run("ip", &["netns", "del", netns]);
    assert!(run("ip", &["netns", "add", netns]).status.success());
    struct Del(&'static str);
    impl Drop for Del {
        fn drop(&mut self) {
            let _ = run("ip", &["netns", "del", self.0]);
        }
    }
    let _del = Del(netns);
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    assert!(routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out)]).status.success());
    let args = |extra: &[&str]| {
        let base = ["plan", path_str(&out), "--node", WORKER, "--scope", "t-plan-empty", "--bpffs", BPFFS];
        [&base[..], &["--netns", "/run/netns/t-plan-empty"], extra].concat().iter().map(|s| s.to_string()).collect()
    };
    let run_plan = |extra: &[&str]| {
        let args: Vec<String> = args(extra);
        routec(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let plan = run_plan(&["--format", "json", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2));
    let document: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let changes = document["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for change in changes {
        assert_eq!(change["actions"], serde_json::json!(["create"]), "{change}");
    }
    let kinds: std::collections::BTreeSet<&str> = changes.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["cilium_ipcache", "cilium_lxc", "constant", "hook", "map", "program"]
    );
    assert_eq!(document["nodes"][0]["actions"], serde_json::json!(["create"]));
    let notes = document["notes"].to_string();
    assert!(notes.contains("apply would fail: interface(s) missing"), "{notes}");

    let missing = routec(&["plan", "/nonexistent/out", "--node", WORKER, "--detailed-exitcode"]);
    assert_eq!(missing.status.code(), Some(1));
    let unknown = run_plan(&["--fromat", "json", "--detailed-exitcode"]);
    assert_eq!(unknown.status.code(), Some(1), "a usage error is 1 with --detailed-exitcode");
    let unknown = run_plan(&["--fromat", "json"]);
    assert_eq!(unknown.status.code(), Some(2));
}

/// Native routing: plan and apply know the hook on the node's device. After
/// lab up there is nothing to change; a `cil_from_netdev` filter removed by
/// hand is a planned change that apply puts back, and then there is none.
#[test]
fn plan_and_apply_know_cil_from_netdev_on_the_device() {
    if !can_run("plan_and_apply_know_cil_from_netdev_on_the_device") {
        return;
    }
    const NODE: &str = "native-b";
    let lab = Lab::up("t-plan-native", &example("native"));
    let out = lab.out();
    let same = lab.plan(&out, NODE, &["--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));

    let netns = lab.netns(NODE);
    let removed = Command::new("nsenter")
        .args([&format!("--net={netns}"), "tc", "filter", "del", "dev", "eth0", "ingress"])
        .status();
    assert!(removed.unwrap().success());
    let missing = lab.plan(&out, NODE, &["--detailed-exitcode"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stdout(&missing));
    assert!(stdout(&missing).contains("cil_from_netdev"), "{}", stdout(&missing));

    let args = [path_str(&out), "--node", NODE, "--scope", lab.name, "--bpffs", BPFFS, "--netns", &netns];
    let apply = routec(&[&["apply"][..], &args].concat());
    assert!(apply.status.success(), "{}", String::from_utf8_lossy(&apply.stderr));
    let repaired = lab.plan(&out, NODE, &["--detailed-exitcode"]);
    assert_eq!(repaired.status.code(), Some(0), "{}", stdout(&repaired));
}
