//! `routec import` as a user runs it on what kubectl and cilium-dbg printed:
//! exit codes, the JSON report, nothing written on error, the round trip
//! of the README (import, check, trace a pair), and a dual-stack cluster
//! imported, checked, built and its IPv6 map entries decoded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data/import").join(name);
    path.to_str().unwrap().to_string()
}

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().unwrap()
}

fn import_args(out: &Path) -> Vec<String> {
    import_args_of("", out)
}

/// The import of the fixtures in `set` (`""`, or `"dualstack/"` for their dual-stack copies).
fn import_args_of(set: &str, out: &Path) -> Vec<String> {
    [
        "import",
        "--endpoints",
        &data(&format!("{set}ciliumendpoints.json")),
        "--nodes",
        &data(&format!("{set}ciliumnodes.json")),
        "--agent-endpoints",
        &format!("mycluster-worker={}", data(&format!("{set}endpoints-mycluster-worker.json"))),
        "-o",
        out.to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn run(args: &[String]) -> Output {
    routec(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn import_check_and_trace_a_pair() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("mycluster");
    let imported = run(&import_args(&out));
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let stdout = String::from_utf8(imported.stdout).unwrap();
    assert!(stdout.starts_with("imported mycluster into "), "{stdout}");
    let dir = out.to_str().unwrap();
    let check = routec(&["check", dir]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let trace = routec(&["trace", "10.10.2.117", "10.10.1.155", dir]);
    assert_eq!(trace.status.code(), Some(0), "{}", stderr(&trace));
    let text = String::from_utf8(trace.stdout).unwrap();
    assert!(
        text.contains(
            "result: delivered to networking101/netshoot-7d996d7884-gcxrm (10.10.1.155) on mycluster-worker2"
        ),
        "{text}"
    );
}

#[test]
fn the_json_report_says_what_was_imported_skipped_and_derived() {
    let scratch = tempfile::tempdir().unwrap();
    let mut args = import_args(&scratch.path().join("out"));
    args.extend(["--format".into(), "json".into()]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["cluster"], "mycluster");
    assert_eq!(report["imported"]["pods"].as_array().unwrap().len(), 4);
    assert_eq!(report["skipped"][0]["reason"], "reserved:host: not a pod");
    assert!(report["derived"].as_array().unwrap().iter().any(|d| d["value"] == "lxc6d8094bd0a69"));
}

#[test]
fn bad_input_exits_1_and_writes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let broken = scratch.path().join("endpoints.json");
    let text = std::fs::read_to_string(data("ciliumendpoints.json")).unwrap();
    std::fs::write(&broken, text.replacen("\"id\": 715", "\"id\": \"715\"", 1)).unwrap();
    let out = scratch.path().join("out");
    let mut args = import_args(&out);
    args[2] = broken.to_str().unwrap().to_string();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("items[1].status.id is a string, not a number (networking101/busybox-c8bbbbb84-t6ggh)"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written on error");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let mut args = import_args(&scratch.path().join("out"));
    args[2] = scratch.path().join("missing.json").to_str().unwrap().to_string();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read"), "{}", stderr(&output));

    let mut args = import_args(&scratch.path().join("out"));
    args[6] = "Not_A_Node=x.json".into();
    assert_eq!(run(&args).status.code(), Some(2));

    let foreign = scratch.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
    let output = run(&import_args(&foreign));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("refusing to replace"), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
}

/// `routec decode --format json` of a seed file, fed on stdin as a user would.
fn decode_seed(map: &str, seed: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_routec"))
        .args(["decode", "--map", map, "--format", "json"])
        .stdin(std::fs::File::open(seed).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The entries of `decoded` with family 2, each as an array of its fields `fields`.
fn ipv6_entries(decoded: &[Value], fields: &[&str]) -> Vec<Value> {
    decoded.iter().filter(|e| e["family"] == 2).map(|e| fields.iter().map(|f| e[*f].clone()).collect()).collect()
}

#[test]
fn a_dual_stack_import_checks_builds_and_decodes_to_ipv6_entries() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("mycluster");
    let imported = run(&import_args_of("dualstack/", &dir));
    assert_eq!(imported.status.code(), Some(0), "{}", stderr(&imported));
    let dir = dir.to_str().unwrap();
    let check = routec(&["check", dir]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let out = scratch.path().join("out");
    let build = routec(&["build", dir, "-o", out.to_str().unwrap(), "--no-clang"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));

    let lxc = decode_seed("cilium_lxc", &out.join("nodes/mycluster-worker/cilium_lxc.seed"));
    assert_eq!(
        ipv6_entries(&lxc, &["ip", "lxc_id", "sec_id", "ifindex", "flags"]),
        [
            // The IPv6 InternalIP and the IPv6 router (cilium_host): host entries.
            json!(["fc00:f853:ccd:e793::2", 0, 1, 0, 1]),
            json!(["fd00:10:2::26", 0, 1, 0, 1]),
            json!(["fd00:10:2::75", 715, 3372, 9, 0]),
            json!(["fd00:10:2::79", 1587, 10388, 11, 0]),
        ]
    );
    let ipcache = decode_seed("cilium_ipcache", &out.join("cluster/cilium_ipcache.seed"));
    let ipv6 = ipv6_entries(&ipcache, &["prefix", "prefixlen", "sec_identity", "tunnel_endpoint"]);
    for expected in [
        json!(["fd00:10:1::9b/128", 160, 10388, "172.18.0.4"]),
        json!(["fd00:10:2::75/128", 160, 3372, "172.18.0.2"]),
        json!(["fd00:10:1::/64", 96, 2, "172.18.0.4"]),
        json!(["fd00:10::/64", 96, 2, "172.18.0.3"]),
    ] {
        assert!(ipv6.contains(&expected), "{expected} not in {ipv6:#?}");
    }

    let trace = routec(&["trace", "fd00:10:2::75", "fd00:10:1::9b", dir]);
    assert_eq!(trace.status.code(), Some(0), "{}", stderr(&trace));
    let text = String::from_utf8(trace.stdout).unwrap();
    assert!(text.contains("delivered to networking101/netshoot-7d996d7884-gcxrm"), "{text}");
}

/// IPv6 input the import cannot map, or that breaks a rule of the language:
/// exit 1, a message naming the JSON path or the rule, nothing written.
#[test]
fn bad_ipv6_input_exits_1_and_writes_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("dualstack/ciliumendpoints.json")).unwrap();
    let out = scratch.path().join("out");
    for (bad, expected) in [
        (
            "\"fd00:10:2::zz\"",
            "ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 `fd00:10:2::zz` is not an IP address",
        ),
        ("\"fd00:10:9::75\"", "error[E0007]"),
        ("[]", "items[1].status.networking.addressing[0].ipv6 is an array, not a string"),
    ] {
        let endpoints = scratch.path().join("ciliumendpoints.json");
        std::fs::write(&endpoints, text.replacen("\"fd00:10:2::75\"", bad, 1)).unwrap();
        let mut args = import_args_of("dualstack/", &out);
        args[2] = endpoints.to_str().unwrap().to_string();
        args.truncate(5); // no agent list: it would disagree as well
        args.extend(["-o".into(), out.to_str().unwrap().into()]);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{bad}");
        assert!(stderr(&output).contains(expected), "{bad}: {}", stderr(&output));
        assert!(!out.exists(), "nothing is written on error");
    }
}

/// `import -o` never writes through a symlink or over a file (checked in
/// compiler/src/cilium_import/write.rs); through the CLI: exit 2, untouched.
#[test]
fn a_file_or_symlink_as_out_is_refused_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("file");
    std::fs::write(&file, "mine").unwrap();
    let output = run(&import_args(&file));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("it is a file"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    let folder = scratch.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let link = scratch.path().join("link");
    std::os::unix::fs::symlink(&folder, &link).unwrap();
    let output = run(&import_args(&link));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("symlink"), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
}
