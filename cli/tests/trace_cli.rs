//! `routec trace` offline, through the binary: formats, --all, --build, -o,
//! and the exit codes of bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use routec_compiler::build::{self, BuildOptions, ClangChoice};
use routec_compiler::frontend;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster/cluster.route")
}

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).arg("trace").args(args).output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A private scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("routec-trace-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `routec build` of the example into `out`, without compiling objects
/// (the tracer reads the seeds and the cluster the build records).
fn write_seeds(out: &Path) {
    let cluster = frontend::analyze_path(&example()).unwrap().cluster.unwrap();
    let options = BuildOptions::new(ClangChoice::Skip, "trace-cli-test".into());
    build::build(&cluster, &options, out).unwrap();
}

#[test]
fn text_names_the_hops_and_key_bytes() {
    let text = stdout_of(&routec(&["10.10.2.117", "10.10.1.155", example().to_str().unwrap()]));
    assert!(
        text.contains("1. mycluster-worker  lxc4a891387ff1a (ifindex 9)  tc ingress  cil_from_container"),
        "{text}"
    );
    assert!(text.contains("key    40 00 00 00 00 00 00 01 0a 0a 01 9b 00 00 00 00 00 00 00 00 00 00 00 00"));
    assert!(text.contains("2. mycluster-worker2  eth0  tc ingress  cil_from_netdev"), "{text}");
    assert!(text.ends_with("via lxc174c023046ff, endpoint 3564 [overlay-delivery]\n"), "{text}");
}

#[test]
fn json_has_the_trace_and_no_drift_offline() {
    let out = stdout_of(&routec(&[
        "networking101/busybox-c8bbbbb84-t6ggh",
        "10.10.1.200",
        example().to_str().unwrap(),
        "--format",
        "json",
        "--proto",
        "udp",
        "--port",
        "53",
    ]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["drift"], serde_json::Value::Null);
    assert_eq!(json["trace"]["packet"]["proto"], "udp");
    assert_eq!(json["trace"]["packet"]["port"], 53);
    assert_eq!(json["trace"]["verdict"]["result"], "dropped");
    assert_eq!(json["trace"]["verdict"]["reason"]["name"], "no-endpoint");
    assert_eq!(json["trace"]["verdict"]["node"], "mycluster-worker2");
}

#[test]
fn svg_goes_to_the_output_file() {
    let scratch = Scratch::new("svg");
    let file = scratch.0.join("route.svg");
    let output = routec(&[
        "10.10.2.117",
        "192.168.99.1",
        example().to_str().unwrap(),
        "--format",
        "svg",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty());
    let svg = std::fs::read_to_string(&file).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("dropped by cil_from_container: no-route (132)"));
    assert!(svg.ends_with("</svg>\n"));
    assert!(!svg.contains("<script") && !svg.contains("@import") && !svg.contains("href=\"http"));
}

#[test]
fn all_pairs_as_json() {
    let out = stdout_of(&routec(&["--all", example().to_str().unwrap(), "--format", "json"]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["matrix"]["pairs"].as_array().unwrap().len(), 12);
    assert_eq!(json["matrix"]["delivered"], 12);
}

#[test]
fn build_folder_traces_like_the_cluster() {
    let scratch = Scratch::new("build");
    let out = scratch.0.join("out");
    write_seeds(&out);
    let build = out.to_str().unwrap();
    let cluster = example();
    let cluster = cluster.to_str().unwrap();
    // Same pods, names, hops and verdicts: the build records its cluster.
    assert_eq!(
        stdout_of(&routec(&["--all", "--build", build, "--format", "json"])),
        stdout_of(&routec(&["--all", cluster, "--format", "json"]))
    );
    let busybox = "networking101/busybox-c8bbbbb84-t6ggh";
    for (src, dst) in [(busybox, "10.10.1.155"), ("10.10.2.117", "networking101/netshoot-7d996d7884-gcxrm")] {
        for format in ["text", "json", "svg"] {
            let from_build = stdout_of(&routec(&[src, dst, "--build", build, "--format", format]));
            assert_eq!(
                from_build,
                stdout_of(&routec(&[src, dst, cluster, "--format", format])),
                "{src} -> {dst} as {format}"
            );
        }
    }
    let text = stdout_of(&routec(&[busybox, "10.10.1.155", "--build", build]));
    assert!(text.contains("cil_from_netdev") && text.contains("endpoint 3564") && text.contains(busybox), "{text}");
    // A build whose recorded cluster changed after the build is refused.
    let recorded = out.join("cluster/cluster.json");
    let json = std::fs::read_to_string(&recorded).unwrap();
    std::fs::write(&recorded, json.replace("busybox-c8bbbbb84-t6ggh", "busybox-c8bbbbb84-xxxxx")).unwrap();
    let changed = routec(&[busybox, "10.10.1.155", "--build", build]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&changed.stderr).contains("changed after the build"),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
}

#[test]
fn bad_input_exit_codes() {
    let path = example();
    let path = path.to_str().unwrap();
    let unknown = routec(&["ns/nobody", "10.10.2.121", path]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`ns/nobody` is neither a pod nor a node"));
    assert_eq!(routec(&["10.10.2.117"]).status.code(), Some(2));
    assert_eq!(routec(&["10.10.2.117", "10.10.2.121"]).status.code(), Some(2));
    assert_eq!(routec(&["10.10.2.117", "10.10.2.121", path, "--port", "80"]).status.code(), Some(2));
    assert_eq!(routec(&["--all", path, "--format", "svg"]).status.code(), Some(2));
    assert_eq!(routec(&["10.10.2.117", "10.10.2.121", "/nonexistent/cluster.route"]).status.code(), Some(2));
    let scratch = Scratch::new("bad");
    let broken = scratch.0.join("broken.route");
    std::fs::write(&broken, "node n {\n    address 300.1.1.1\n}\n").unwrap();
    assert_eq!(routec(&["10.10.2.117", "10.10.2.121", broken.to_str().unwrap()]).status.code(), Some(1));
    assert_eq!(routec(&["10.10.2.117", "10.10.2.121", "--build", scratch.0.to_str().unwrap()]).status.code(), Some(2));
}

/// `trace --build` of a folder whose files were swapped after the build for
/// a symlink to /dev/zero, a FIFO, a symlinked folder, or an attach.json
/// naming a file outside OUT: a clear error and exit 2, at once (before the
/// fix: memory grew until the OOM killer came, or it hung).
/// Spoils a build folder: (OUT, a seed's path relative to it).
type Spoil = fn(&Path, &str);

#[test]
fn hostile_build_folders_are_refused_at_once() {
    let cases: [(&str, Spoil, &str); 3] = [
        (
            "dev-zero",
            |out, seed| {
                std::fs::remove_file(out.join(seed)).unwrap();
                std::os::unix::fs::symlink("/dev/zero", out.join(seed)).unwrap();
            },
            "is a symlink",
        ),
        (
            "fifo",
            |out, seed| {
                std::fs::remove_file(out.join(seed)).unwrap();
                let status = Command::new("mkfifo").arg(out.join(seed)).status().unwrap();
                assert!(status.success());
            },
            "is a FIFO, not a regular file",
        ),
        (
            "symlinked-folder",
            |out, seed| {
                let node = out.join(Path::new(seed).parent().unwrap());
                let aside = out.parent().unwrap().join("aside");
                std::fs::rename(&node, &aside).unwrap();
                std::os::unix::fs::symlink(&aside, &node).unwrap();
            },
            "is a symlink or lies below one",
        ),
    ];
    for (name, spoil, expect) in cases {
        let scratch = Scratch::new(name);
        let out = scratch.0.join("out");
        write_seeds(&out);
        let node = std::fs::read_dir(out.join("nodes")).unwrap().next().unwrap().unwrap().file_name();
        let seed = format!("nodes/{}/cilium_lxc.seed", node.to_string_lossy());
        spoil(&out, &seed);
        let output = routec(&["10.10.2.117", "10.10.1.155", "--build", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(&seed) && stderr.contains(expect), "{name}: {stderr}");
    }
}

/// `--node` and `--live` become pin paths: checked as `apply --node` and lab
/// names are (before, `--node ../../x` looked for maps outside bpffs).
#[test]
fn live_node_and_lab_names_cannot_reach_outside_bpffs() {
    for (flag, value, expect) in [
        ("--node", "../../etc", "invalid node name"),
        ("--node", "a/b", "invalid node name"),
        ("--live", "../x", "lab name"),
    ] {
        let output = routec(&["10.10.2.117", "10.10.1.155", flag, value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(expect), "{flag} {value}: {stderr}");
    }
}
