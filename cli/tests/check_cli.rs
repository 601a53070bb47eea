//! The `routec` binary on good, bad and unreadable input: exit codes, where
//! diagnostics go, and the check / fmt / gen commands end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().expect("routec runs")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed by a signal")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A scratch folder removed when the test ends, pass or fail.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("routec-check-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }
    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn reference_cluster_checks_with_a_warning() {
    let out = routec(&["check", &examples().join("mycluster").display().to_string()]);
    assert_eq!(code(&out), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning[W0102]"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "no colour when stderr is not a terminal");
    assert!(out.stdout.is_empty());
}

#[test]
fn multi_file_example_is_clean() {
    let out = routec(&["check", &examples().join("multi-file").display().to_string()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty());
}

#[test]
fn garbage_is_an_error_not_a_crash() {
    let s = Scratch::new("garbage");
    let inputs: [&[u8]; 5] = [
        b"\x00\x01{{{{}}}} @@@ \"",
        b"node",
        b"}}}}}}",
        b"cluster c { overlay vxlan { port 99999999999999999999999 } }",
        &[b'{'; 200_000],
    ];
    for (i, bytes) in inputs.iter().enumerate() {
        let file = s.file(&format!("g{i}.route"), bytes);
        let out = routec(&["check", &file]);
        assert_eq!(code(&out), 1, "input {i}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("error["));
    }
}

#[test]
fn unreadable_input_is_exit_2() {
    let s = Scratch::new("unreadable");
    let not_utf8 = s.file("latin1.route", b"cluster caf\xe9 {}\n");
    let out = routec(&["check", &not_utf8]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));

    let out = routec(&["check", &format!("{}/does-not-exist.route", s.path())]);
    assert_eq!(code(&out), 2);

    let empty = Scratch::new("empty");
    let out = routec(&["check", &empty.path()]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no .route files"));

    let out = routec(&["check"]);
    assert_eq!(code(&out), 2, "clap's usage error");
}

#[test]
fn bad_settings_are_exit_2() {
    let s = Scratch::new("settings");
    s.file("cluster.route", std::fs::read(examples().join("mycluster/cluster.route")).unwrap().as_slice());
    s.file("routec.toml", b"outptu = \"x\"\n");
    let out = routec(&["check", &s.path()]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("outptu"));
}

#[test]
fn folders_skip_hidden_entries_and_read_subfolders() {
    let s = Scratch::new("folder");
    s.file("a/cluster.route", b"cluster c {}\n");
    s.file("b/nodes/n.route", b"node n { address 172.18.0.2; pod-cidr 10.0.0.0/24 }\npod a/b on n { ip 10.0.0.2; endpoint 1; identity 300; lxc lxc1 }\n");
    s.file(".git/broken.route", b"this is not parsed {{{");
    s.file("notes.txt", b"neither is this {{{");
    let out = routec(&["check", &s.path()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn json_lines_on_stdout() {
    let s = Scratch::new("json");
    let file = s.file("bad.route", b"cluster c {}\nnode worker {\n    address 172.18.0.2\n    pod-cidr 10.0.0.0/24\n}\npod a/b on wroker { ip 10.0.0.2; endpoint 1; identity 300; lxc lxc1 }\n");
    let out = routec(&["check", "--message-format", "json", &file]);
    assert_eq!(code(&out), 1);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let objects: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let codes: Vec<&str> = objects.iter().map(|o| o["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["W0102", "E0006"]);
    assert_eq!(objects[1]["help"], "did you mean `worker`?");
    assert_eq!(objects[1]["severity"], "error");
    assert!(objects[1]["file"].as_str().unwrap().ends_with("bad.route"));
}

#[test]
fn fmt_rewrites_and_checks() {
    let s = Scratch::new("fmt");
    let file = s.file(
        "x.route",
        b"cluster c { overlay vxlan { port 8472 } }   # keep me\nnode n { address 172.18.0.2; pod-cidr 10.0.0.0/24 }\n",
    );
    let out = routec(&["fmt", "--check", &s.path()]);
    assert_eq!(code(&out), 1);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), file);
    assert_eq!(code(&routec(&["fmt", &file])), 0);
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        formatted,
        "cluster c {\n    overlay vxlan {\n        port 8472\n    }\n} # keep me\n\nnode n {\n    address 172.18.0.2\n    pod-cidr 10.0.0.0/24\n}\n"
    );
    assert_eq!(code(&routec(&["fmt", "--check", &s.path()])), 0);

    let broken = s.file("broken.route", b"node n {\n");
    let out = routec(&["fmt", &broken]);
    assert_eq!(code(&out), 1);
    assert_eq!(std::fs::read(&broken).unwrap(), b"node n {\n", "files with syntax errors are left alone");

    assert_eq!(code(&routec(&["fmt", "--check", &examples().display().to_string()])), 0, "examples are canonical");
}

#[test]
fn gen_writes_a_valid_deterministic_cluster() {
    let s = Scratch::new("gen");
    let a = format!("{}/a.route", s.path());
    let b = format!("{}/b.route", s.path());
    assert_eq!(code(&routec(&["gen", "--nodes", "300", "--pods-per-node", "31", "--seed", "7", "-o", &a])), 0);
    let out = routec(&["gen", "--nodes", "300", "--pods-per-node", "31", "--seed", "7"]);
    assert_eq!(code(&out), 0);
    std::fs::write(&b, &out.stdout).unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), out.stdout, "same seed, same cluster");
    let check = routec(&["check", &a]);
    assert_eq!(code(&check), 0, "{}", String::from_utf8_lossy(&check.stderr));
    assert!(check.stderr.is_empty(), "no warnings either");
    assert_eq!(code(&routec(&["gen", "--nodes", "0", "--pods-per-node", "1"])), 2);
    assert_eq!(code(&routec(&["gen", "--nodes", "1", "--pods-per-node", "254"])), 2);
}

#[test]
fn gen_overlay_none_writes_a_native_cluster() {
    let s = Scratch::new("gen-native");
    let path = format!("{}/n.route", s.path());
    assert_eq!(code(&routec(&["gen", "--nodes", "4", "--pods-per-node", "10", "--overlay", "none", "-o", &path])), 0);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("--overlay none`.\ncluster synthetic {\n    overlay none\n"), "{}", &text[..200]);
    let check = routec(&["check", &path]);
    assert_eq!(code(&check), 0, "{}", String::from_utf8_lossy(&check.stderr));
    assert_eq!(code(&routec(&["gen", "--nodes", "1", "--pods-per-node", "1", "--overlay", "geneve"])), 2);
}

#[test]
fn gen_dual_stack_mixes_in_ipv6_only_pods() {
    let s = Scratch::new("gen-dual");
    let path = format!("{}/c.route", s.path());
    let args = ["gen", "--nodes", "40", "--pods-per-node", "30", "--dual-stack", "--ipv6-only", "25", "-o", &path];
    assert_eq!(code(&routec(&args)), 0);
    let check = routec(&["check", &path]);
    assert_eq!(code(&check), 0, "{}", String::from_utf8_lossy(&check.stderr));
    assert!(check.stderr.is_empty(), "no warnings either");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("pod-cidr fd00:10:27::/64"), "node 39's IPv6 pod-cidr");
    // --ipv6-only needs --dual-stack, and a share of at most 100.
    assert_eq!(code(&routec(&["gen", "--nodes", "1", "--pods-per-node", "1", "--ipv6-only", "5"])), 2);
    assert_eq!(
        code(&routec(&["gen", "--nodes", "1", "--pods-per-node", "1", "--dual-stack", "--ipv6-only", "101"])),
        2
    );
}

/// With `--message-format json`, input errors that are not diagnostics (a
/// file that is not UTF-8, a path that cannot be read, a folder without
/// .route files, an invalid routec.toml) are JSON lines on stdout too, in
/// every command taking the input flags (before: plain text on stderr).
#[test]
fn input_errors_are_json_lines_too() {
    let s = Scratch::new("json-input-errors");
    let not_utf8 = s.file("latin1/x.route", b"node caf\xe9 {}\n");
    let missing = s.0.join("missing.route").display().to_string();
    s.file("empty/notes.txt", b"");
    s.file("settings/x.route", b"node n { address 172.18.0.2; pod-cidr 10.0.0.0/24 }\n");
    s.file("settings/routec.toml", b"[maps]\nlxc = 0\n");
    let cases = [
        (not_utf8.clone(), "not-utf8", "is not UTF-8 text", not_utf8.clone()),
        (missing.clone(), "io", "cannot read", missing.clone()),
        (format!("{}/empty", s.path()), "no-route-files", "no .route files", format!("{}/empty", s.path())),
        (
            format!("{}/settings", s.path()),
            "settings",
            "cilium_lxc must hold at least 1 entry",
            format!("{}/settings/routec.toml", s.path()),
        ),
    ];
    let out_dir = s.0.join("out").display().to_string();
    for (input, kind, message, file) in &cases {
        let commands: [Vec<&str>; 3] = [
            vec!["check", input],
            vec!["build", input, "-o", &out_dir, "--no-clang"],
            vec!["trace", "ns/a", "ns/b", input],
        ];
        for args in commands {
            let out = routec(&[&args[..], &["--message-format", "json"]].concat());
            assert_eq!(code(&out), 2, "{args:?}");
            // trace's stdout is its report: its JSON lines go to stderr.
            let (lines_stream, quiet) =
                if args[0] == "trace" { (out.stderr, out.stdout) } else { (out.stdout, out.stderr) };
            assert!(quiet.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&quiet));
            let stdout = String::from_utf8(lines_stream).unwrap();
            let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(lines.len(), 1, "{args:?}: {stdout}");
            assert_eq!(lines[0]["kind"], *kind, "{args:?}");
            assert_eq!(lines[0]["severity"], "error");
            assert_eq!(lines[0]["file"], file.as_str(), "{args:?}");
            assert!(lines[0]["message"].as_str().unwrap().contains(message), "{args:?}: {stdout}");
        }
    }
    // Errors after the input was read are JSON lines too.
    let good = s.file("good/x.route", &std::fs::read(examples().join("mycluster/cluster.route")).unwrap());
    let out = routec(&["build", &good, "--no-clang", "--message-format", "json"]);
    assert_eq!(code(&out), 2);
    let last = |out: &Output| -> serde_json::Value {
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap()
    };
    let line = last(&out);
    assert_eq!(line["kind"], "usage");
    let out = routec(&["trace", "ns/nobody", "ns/b", &good, "--message-format", "json"]);
    assert_eq!(code(&out), 2);
    let line = last(&out);
    assert_eq!(line["kind"], "trace");
    assert!(line["message"].as_str().unwrap().contains("is neither a pod"), "{line}");
}

/// fmt rewrites a source atomically where it lives: a symlinked source is
/// formatted at its target and stays a link, the file keeps its
/// permissions, and no temporary file is left beside it.
#[test]
fn fmt_rewrites_in_place_keeping_links_and_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new("fmt-place");
    let real = s.file("real.route", b"cluster c { overlay vxlan }\n");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = format!("{}/link.route", s.path());
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(code(&routec(&["fmt", &link])), 0);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert_eq!(std::fs::read_to_string(&real).unwrap(), "cluster c {\n    overlay vxlan\n}\n");
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
    let mut names: Vec<String> =
        std::fs::read_dir(s.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["link.route", "real.route"]);
}
