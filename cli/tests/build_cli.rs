//! `routec build` as a GitOps pipeline runs it: exit codes, nothing written on
//! error, byte-identical output, and real BPF objects when clang is there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap()
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn clang_available() -> bool {
    let found = ["clang", "clang-14", "clang-15", "clang-16", "clang-17", "clang-18", "clang-19"]
        .iter()
        .any(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()));
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but no clang: install clang llvm libbpf-dev");
    }
    found
}

#[test]
fn builds_the_reference_cluster_and_prints_a_summary() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let output = routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out), "--no-clang"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(": 3 nodes, 4 pods, 10 cilium_lxc entries, 10 cilium_ipcache entries, 38 files, no objects"),
        "{stdout}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let digest = manifest["input_digest"].as_str().unwrap();
    assert!(stdout.contains(&format!("input {digest}\n")), "{stdout}");
    // Warnings (W0102: a node without pods) go to stderr and do not fail the build.
    assert!(String::from_utf8_lossy(&output.stderr).contains("W0102"));
}

#[test]
fn same_input_gives_byte_identical_output_wherever_it_is_written() {
    let scratch = tempfile::tempdir().unwrap();
    let (one, two) = (scratch.path().join("one"), scratch.path().join("a/b/two"));
    for out in [&one, &two] {
        let output = routec(&["build", path_str(&example("mycluster")), "-o", path_str(out), "--no-clang"]);
        assert!(output.status.success());
    }
    assert_eq!(tree(&one), tree(&two));
    // The input digest does not depend on where the input is: a copy elsewhere agrees.
    let copy = scratch.path().join("checkout/mycluster");
    std::fs::create_dir_all(&copy).unwrap();
    for file in ["cluster.route", "expect.route"] {
        std::fs::copy(example("mycluster").join(file), copy.join(file)).unwrap();
    }
    let three = scratch.path().join("three");
    assert!(routec(&["build", path_str(&copy), "-o", path_str(&three), "--no-clang"]).status.success());
    assert_eq!(tree(&one), tree(&three));
}

#[test]
fn an_input_with_errors_writes_nothing_and_keeps_the_previous_output() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    assert!(routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out), "--no-clang"]).status.success());
    let before = tree(&out);
    let broken = scratch.path().join("broken.route");
    let text = std::fs::read_to_string(example("mycluster/cluster.route")).unwrap();
    std::fs::write(&broken, text.replace("ip 10.10.2.121", "ip 10.10.9.121")).unwrap();
    let output = routec(&["build", path_str(&broken), "-o", path_str(&out), "--no-clang", "--message-format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let codes: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.contains(&"E0007".to_string()), "{codes:?}");
    assert_eq!(tree(&out), before);
    // A fresh OUT is not even created.
    let fresh = scratch.path().join("fresh");
    assert_eq!(routec(&["build", path_str(&broken), "-o", path_str(&fresh), "--no-clang"]).status.code(), Some(1));
    assert!(!fresh.exists());
    let leftovers: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}"); // out and broken.route
}

#[test]
fn usage_and_toolchain_errors_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let missing = routec(&["build", path_str(&scratch.path().join("nope.route")), "-o", path_str(&out)]);
    assert_eq!(missing.status.code(), Some(2));
    let no_output = routec(&["build", path_str(&example("mycluster")), "--no-clang"]);
    assert_eq!(no_output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_output.stderr).contains("pass -o OUT"));
    let fake_clang = scratch.path().join("no-such-clang");
    let no_clang =
        routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out), "--clang", path_str(&fake_clang)]);
    assert_eq!(no_clang.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&no_clang.stderr);
    assert!(stderr.contains("apt-get install -y clang llvm libbpf-dev") && stderr.contains("--no-clang"), "{stderr}");
    assert!(!out.exists());
    // No clang anywhere on PATH.
    let no_path = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["build", path_str(&example("mycluster")), "-o", path_str(&out)])
        .env("PATH", scratch.path())
        .output()
        .unwrap();
    assert_eq!(no_path.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&no_path.stderr);
    assert!(
        stderr.contains("clang not found") && stderr.contains("apt-get install -y clang llvm libbpf-dev"),
        "{stderr}"
    );
    assert!(!out.exists());
    let both = routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out), "--no-clang", "--clang", "x"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn routec_toml_output_and_map_sizes_apply() {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(example("mycluster/cluster.route"), input.join("cluster.route")).unwrap();
    std::fs::write(input.join("routec.toml"), "output = \"built\"\n[maps]\nlxc = 4\nipcache = 100\n").unwrap();
    let output = routec(&["build", path_str(&input), "--no-clang"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(input.join("built/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["maps"][0]["name"], "cilium_lxc");
    assert_eq!(manifest["maps"][0]["max_entries"], 4);
    // worker needs 2 pods + 2 host entries = 4; with 3 it does not fit.
    std::fs::write(input.join("routec.toml"), "output = \"built\"\n[maps]\nlxc = 3\n").unwrap();
    let too_small = routec(&["build", path_str(&input), "--no-clang"]);
    assert_eq!(too_small.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&too_small.stderr);
    assert!(stderr.contains("cilium_lxc needs 4 entries on node mycluster-worker but holds at most 3"), "{stderr}");
    assert_eq!(manifest["maps"][0]["max_entries"], 4, "the previous build stays");
}

#[test]
fn a_native_cluster_with_more_ipv6_nodes_than_routec_node_ipv6_holds_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("big.route");
    let gen = routec(&[
        "gen",
        "--nodes",
        "65536",
        "--pods-per-node",
        "0",
        "--overlay",
        "none",
        "--dual-stack",
        "-o",
        path_str(&input),
    ]);
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let out = scratch.path().join("out");
    let build = routec(&["build", path_str(&input), "-o", path_str(&out), "--no-clang"]);
    assert_eq!(build.status.code(), Some(1), "{}", String::from_utf8_lossy(&build.stderr));
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(
        stderr.contains(
            "routec_node_ipv6 holds the IPv6 addresses of at most 65535 nodes, and this native cluster has 65536"
        ),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn with_clang_every_object_is_a_bpf_elf_and_builds_are_identical() {
    if !clang_available() {
        eprintln!("skipped: no clang on PATH (apt-get install clang llvm libbpf-dev)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let (one, two) = (scratch.path().join("one"), scratch.path().join("deeper/two"));
    for out in [&one, &two] {
        let output = routec(&["build", path_str(&example("mycluster")), "-o", path_str(out)]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let files = tree(&one);
    assert_eq!(files, tree(&two), "objects do not depend on the output folder");
    let objects: Vec<_> = files.iter().filter(|(name, _)| name.ends_with(".o")).collect();
    assert_eq!(objects.len(), 3);
    for (name, bytes) in objects {
        // ELF64, little-endian, relocatable, e_machine 247 (EM_BPF).
        assert_eq!(&bytes[..4], b"\x7fELF", "{name}");
        assert_eq!((bytes[4], bytes[5]), (2, 1), "{name}");
        assert_eq!(u16::from_le_bytes([bytes[16], bytes[17]]), 1, "{name}");
        assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 247, "{name}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(manifest["objects_compiled"], true);
    let plan: serde_json::Value = serde_json::from_slice(&files["nodes/mycluster-worker/attach.json"]).unwrap();
    for attachment in plan.as_array().unwrap() {
        assert!(files.contains_key(attachment["object"].as_str().unwrap()), "{attachment}");
    }
}

/// bpftool map pins this test creates; removed also when the test fails.
struct Pins(Vec<PathBuf>);

impl Drop for Pins {
    fn drop(&mut self) {
        for pin in &self.0 {
            let _ = std::fs::remove_file(pin);
        }
    }
}

fn can_use_bpftool() -> bool {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let bpftool = Command::new("bpftool").arg("version").output().is_ok_and(|o| o.status.success());
    let bpffs = Path::new("/sys/fs/bpf").is_dir();
    let ready = root && bpftool && bpffs;
    if !ready && std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true needs root, bpftool and /sys/fs/bpf (root {root}, bpftool {bpftool}, bpffs {bpffs})");
    }
    if !ready {
        eprintln!("skipped: needs root, bpftool and a mounted /sys/fs/bpf");
    }
    ready
}

fn run_ok(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[test]
fn seeds_load_with_bpftool_batch_and_decode_back() {
    if !can_use_bpftool() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    assert!(routec(&["build", path_str(&example("mycluster")), "-o", path_str(&out), "--no-clang"]).status.success());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let mut pins = Pins(Vec::new());
    let seeds =
        [("cilium_lxc", "nodes/mycluster-worker/cilium_lxc.seed"), ("cilium_ipcache", "cluster/cilium_ipcache.seed")];
    for (index, (map, seed)) in seeds.into_iter().enumerate() {
        // A map exactly as the manifest defines it (types: 1 hash, 11 lpm_trie).
        let spec = manifest["maps"].as_array().unwrap().iter().find(|m| m["name"] == map).unwrap();
        let kind = match spec["map_type"].as_u64().unwrap() {
            1 => "hash",
            11 => "lpm_trie",
            other => panic!("map type {other}"),
        };
        let pin = PathBuf::from(format!("/sys/fs/bpf/routec-buildtest-{}-{index}", std::process::id()));
        pins.0.push(pin.clone());
        run_ok(Command::new("bpftool").args(["map", "create", path_str(&pin), "type", kind]).args([
            "key",
            &spec["key_size"].to_string(),
            "value",
            &spec["value_size"].to_string(),
            "entries",
            "64",
            "name",
            map,
            "flags",
            &spec["flags"].to_string(),
        ]));
        // The documented recipe: prefix each seed line, feed it to bpftool batch.
        let seed_text = std::fs::read_to_string(out.join(seed)).unwrap();
        let batch: String = seed_text.lines().map(|l| format!("map update pinned {} {l}\n", pin.display())).collect();
        let batch_file = scratch.path().join(format!("{map}.batch"));
        std::fs::write(&batch_file, batch).unwrap();
        run_ok(Command::new("bpftool").args(["batch", "file", path_str(&batch_file)]));
        // bpftool's own dump, fed verbatim to decode, gives back what the seed says.
        let dump =
            String::from_utf8(run_ok(Command::new("bpftool").args(["map", "dump", "pinned", path_str(&pin)]))).unwrap();
        let from_dump = decode(map, &dump);
        let from_seed = decode(map, &seed_text);
        assert_eq!(from_dump.len(), seed_text.lines().count(), "{dump}");
        let sorted = |mut v: Vec<serde_json::Value>| {
            v.sort_by_key(|e| e.to_string());
            v
        };
        assert_eq!(sorted(from_dump), sorted(from_seed), "{map}");
    }
}

fn decode(map: &str, input: &str) -> Vec<serde_json::Value> {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["decode", "--map", map, "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice::<Vec<serde_json::Value>>(&output.stdout).unwrap()
}

/// `[maps] lxc = 4294967295` made a build whose cilium_lxc the kernel cannot
/// create (E2BIG at apply); now build and check refuse it, with the place in
/// routec.toml and the kernel's limit, and write nothing.
#[test]
fn map_sizes_the_kernel_cannot_create_are_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("input");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(example("mycluster/cluster.route"), input.join("cluster.route")).unwrap();
    std::fs::write(input.join("routec.toml"), "output = \"built\"\n[maps]\nlxc = 4294967295\n").unwrap();
    for command in ["build", "check"] {
        let output = routec(&[command, path_str(&input), "--no-clang"][..if command == "build" { 3 } else { 2 }]);
        assert_eq!(output.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("routec.toml") && stderr.contains("line 3"), "{command}: {stderr}");
        assert!(stderr.contains("cilium_lxc must hold between 1 and 134217728 entries"), "{command}: {stderr}");
    }
    assert!(!input.join("built").exists());
}

/// `build -o` replaces only a build output (compiler/tests/build_output.rs
/// checks the rule); through the CLI a file, a symlink or a foreign folder
/// is refused with exit 2 and left as it was.
#[test]
fn build_out_that_is_not_a_build_is_refused_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("file");
    std::fs::write(&file, "mine").unwrap();
    let folder = scratch.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("keep.txt"), "mine").unwrap();
    let link = scratch.path().join("link");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    for out in [&file, &folder, &link] {
        let output = routec(&["build", path_str(&example("mycluster")), "-o", path_str(out), "--no-clang"]);
        assert_eq!(output.status.code(), Some(2), "{}", out.display());
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}
