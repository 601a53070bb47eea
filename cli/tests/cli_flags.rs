//! Whole-binary behaviour of the CLI that no single command owns: a closed
//! stdout, names that become paths, shared flags, lab leftovers.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// SIGPIPE's number on every Linux architecture.
const SIGPIPE: i32 = 13;

fn routec() -> Command {
    Command::new(env!("CARGO_BIN_EXE_routec"))
}

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command` with its stdout a pipe whose reader is already closed,
/// as `routec ... | head -0` would leave it.
fn into_closed_pipe(mut command: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command.stdout(writer).stderr(Stdio::piped()).stdin(Stdio::null());
    command.output().unwrap()
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let mut decode = routec();
    decode.args(["decode", "--map", "cilium_lxc"]);
    let dump = std::fs::File::open(repo("compiler/tests/data/cilium_lxc-mycluster-worker.dump")).unwrap();
    let mut trace = routec();
    trace.args(["trace", "--all"]).arg(repo("examples/mycluster"));
    for (name, mut command) in [("decode", decode), ("trace", trace)] {
        if name == "decode" {
            command.stdin(dump.try_clone().unwrap());
        }
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = command.stdout(writer).stderr(Stdio::piped()).output().unwrap();
        let stderr = text(&output.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert_eq!(output.status.signal(), Some(SIGPIPE), "{name}: {:?} {stderr}", output.status);
    }
    let output = into_closed_pipe({
        let mut c = routec();
        c.args(["lab", "list", "--state-dir"]).arg(lab_folder_with_leftover("pipe").path());
        c
    });
    assert!(!text(&output.stderr).contains("panicked"), "{}", text(&output.stderr));
    assert_ne!(output.status.code(), Some(101));
}

#[test]
fn node_and_scope_cannot_reach_outside_bpffs() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("keep"), "x").unwrap();
    let escape = format!("../../../..{}", victim.path().display());
    for (command, flag, value) in [
        ("detach", "--scope", escape.as_str()),
        ("detach", "--node", escape.as_str()),
        ("status", "--scope", "a/b"),
        ("status", "--node", ".."),
        ("detach", "--node", "Node_1"),
    ] {
        let mut args = vec![command, "--node", "x", "--scope", "default"];
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
        let output = routec().args(&args).output().unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        let what = if flag == "--scope" { "invalid scope" } else { "invalid node name" };
        assert!(stderr.contains(what), "{args:?}: {stderr}");
    }
    let output = routec().args(["apply", "out", "--node", "x", "--scope", "../x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(victim.path().join("keep").exists());
}

#[test]
fn trace_help_names_its_operands_and_defaults() {
    let output = routec().args(["trace", "--help"]).output().unwrap();
    let help = text(&output.stdout);
    assert!(help.contains("routec trace [OPTIONS] <SRC> <DST> [PATH]"), "{help}");
    assert!(help.contains("routec trace [OPTIONS] --all [PATH]"), "{help}");
    assert!(help.contains("[default: /sys/fs/bpf]"), "{help}");
    assert!(help.contains("--state-dir"), "{help}");
    let bad = routec().args(["trace", "a", "b", "x.route", "--proto", "sctp"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("[possible values: icmp, tcp, udp]"), "{}", text(&bad.stderr));
}

/// A state folder holding `<name>/out/` but no `<name>.json`: a lab killed
/// after its build and before its state file.
fn lab_folder_with_leftover(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(name).join("out")).unwrap();
    std::fs::write(dir.path().join(name).join("out/manifest.json"), "{}").unwrap();
    std::fs::write(dir.path().join(name).join(routec_runtime::lab::state::FOLDER_MARKER), "").unwrap();
    dir
}

fn lab(args: &[&str], state_dir: &Path) -> Output {
    routec().arg("lab").args(args).arg("--state-dir").arg(state_dir).output().unwrap()
}

#[test]
fn lab_down_removes_a_lab_stopped_before_its_state_file() {
    let dir = lab_folder_with_leftover("half");
    let list = lab(&["list"], dir.path());
    assert!(list.status.success());
    assert!(text(&list.stdout).contains("half (incomplete"), "{}", text(&list.stdout));

    let down = lab(&["down", "half"], dir.path());
    assert!(down.status.success(), "{}", text(&down.stderr));
    assert!(!dir.path().join("half").exists());
    assert_eq!(text(&lab(&["list"], dir.path()).stdout), "");

    let missing = lab(&["down", "half"], dir.path());
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no lab named `half`"), "{}", text(&missing.stderr));
    let bad = lab(&["down", "../etc"], dir.path());
    assert!(text(&bad.stderr).contains("invalid lab name"), "{}", text(&bad.stderr));
}

#[test]
fn lab_up_says_it_cleaned_up_only_when_it_did() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("taken.json"), "{}").unwrap();
    let up = lab(&["up", repo("examples/mycluster").to_str().unwrap(), "--name", "taken"], dir.path());
    let stderr = text(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("everything it made was removed"), "{stderr}");
    assert!(stderr.contains("not a routec lab's state file") || stderr.contains("as root"), "{stderr}");
    assert!(!dir.path().join("taken").exists(), "nothing was made beside a foreign state file");

    let bad = lab(&["up", repo("examples/mycluster").to_str().unwrap(), "--name", "Bad_Name"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("invalid lab name"), "{}", text(&bad.stderr));
    assert!(!text(&bad.stderr).contains("everything it made was removed"));
}

/// `--format` and `--tc-mode` are one definition each (cli/src/cmd/common.rs),
/// so every command documents them alike.
#[test]
fn shared_flags_read_the_same_in_every_command() {
    let help_line = |args: &[&str], flag: &str| -> String {
        let output = routec().args(args).arg("--help").output().unwrap();
        let help = text(&output.stdout);
        let at = help.find(flag).unwrap_or_else(|| panic!("{args:?} has no {flag}:\n{help}"));
        // The flag's line and its description, up to the next flag.
        let mut lines = help[at..].lines();
        let first = lines.next().unwrap().to_string();
        lines.take_while(|l| !l.trim_start().starts_with('-')).fold(first, |all, l| all + "\n" + l.trim())
    };
    let tc_modes: Vec<String> = [&["apply"][..], &["lab", "up"]].iter().map(|a| help_line(a, "--tc-mode")).collect();
    assert_eq!(tc_modes[0], tc_modes[1]);
    assert!(tc_modes[0].contains("How programs are attached"), "{tc_modes:?}");
    let formats: Vec<String> =
        [&["status"][..], &["decode"], &["lab", "status"]].iter().map(|a| help_line(a, "--format")).collect();
    assert!(formats.iter().all(|f| f == &formats[0] && f.contains("Output format")), "{formats:?}");
    assert!(help_line(&["trace"], "--format").contains("Output format"));
}

/// scripts/lib/root.sh, which scripts/setup, test and demo source: from a
/// root shell without sudo they run (before, the README said `sudo
/// scripts/...`, which fails there); not root, they go through sudo when it
/// exists, and otherwise stop (or, for `test`, go on) with a message.
#[test]
fn scripts_run_as_root_without_sudo_and_use_sudo_otherwise() {
    let uid = Command::new("id").arg("-u").output().unwrap().stdout;
    if text(&uid).trim() != "0" {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs root to switch users");
        eprintln!("skipped: switching users needs root");
        return;
    }
    // A PATH with only what root.sh uses, and no sudo.
    let bin = tempfile::tempdir().unwrap();
    for tool in ["bash", "id", "basename", "env", "setpriv"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let target = String::from_utf8(found.stdout).unwrap().trim().to_string();
        assert!(!target.is_empty(), "{tool} is installed");
        std::os::unix::fs::symlink(target, bin.path().join(tool)).unwrap();
    }
    std::fs::set_permissions(bin.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A copy nobody can read, wherever the checkout is (/root is private).
    let lib = bin.path().join("root.sh");
    std::fs::copy(repo("scripts/lib/root.sh"), &lib).unwrap();
    let run = |user: Option<&str>, path: &str, need: &str| -> Output {
        let script = format!(". '{}'; as_root {need} one two; echo \"continued: $*\"", lib.display());
        let mut command = Command::new(bin.path().join("bash"));
        if let Some(uid) = user {
            command = Command::new(bin.path().join("setpriv"));
            command.args([&format!("--reuid={uid}"), &format!("--regid={uid}"), "--clear-groups", "bash"]);
        }
        command.args(["-c", &script, "scripts/demo", "one", "two"]).env_clear().env("PATH", path).env("HOME", "/");
        command.output().unwrap()
    };
    let path = bin.path().display().to_string();
    let as_root = run(None, &path, "required");
    assert!(as_root.status.success(), "{}", text(&as_root.stderr));
    assert_eq!(text(&as_root.stdout), "continued: one two\n");
    assert!(as_root.stderr.is_empty(), "{}", text(&as_root.stderr));

    let nobody = "65534";
    let refused = run(Some(nobody), &path, "required");
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty());
    assert!(text(&refused.stderr).contains("demo: needs root, and sudo is not installed"), "{}", text(&refused.stderr));
    let unprivileged = run(Some(nobody), &path, "optional");
    assert!(unprivileged.status.success());
    assert_eq!(text(&unprivileged.stdout), "continued: one two\n");
    assert!(text(&unprivileged.stderr).contains("not root and no sudo"));

    // With a sudo, the script runs itself again through it, toolchain kept.
    let with_sudo = tempfile::tempdir().unwrap();
    let fake_sudo = with_sudo.path().join("sudo");
    std::fs::write(&fake_sudo, "#!/bin/sh\necho \"sudo $*\"\n").unwrap();
    std::fs::set_permissions(&fake_sudo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(with_sudo.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", with_sudo.path().display(), bin.path().display());
    let via_sudo = run(Some(nobody), &path, "required");
    assert!(via_sudo.status.success(), "{}", text(&via_sudo.stderr));
    let line = text(&via_sudo.stdout);
    assert!(
        line.starts_with(&format!("sudo env PATH={path} RUSTUP_HOME=//.rustup CARGO_HOME=//.cargo CI= ")),
        "{line}"
    );
    assert!(line.ends_with("scripts/demo one two\n"), "{line}");
    assert!(text(&via_sudo.stderr).contains("running it again through sudo"));
}

/// A full disk behind stdout is an I/O error, exit 2 with a message, for
/// every command that prints a report: not a panic, and not a silent exit 0.
#[test]
fn a_full_stdout_is_an_io_error_not_a_panic() {
    let example = repo("examples/mycluster");
    let example = example.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["check", example, "--message-format", "json"],
        &["snapshot", example],
        &["test", example, "--format", "junit"],
        &["trace", "10.10.2.117", "10.10.1.155", example],
        &["trace", "--all", example, "--format", "json"],
    ];
    for args in commands {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = routec().args(args).stdout(full).stderr(Stdio::piped()).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error: cannot write to stdout"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
