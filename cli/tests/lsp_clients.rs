//! `routec lsp` under real clients: the pytest-lsp suite (lsp/tests/pytest)
//! and a Neovim headless smoke test (lsp/tests/neovim/smoke.lua), both
//! starting this crate's `routec` binary as an editor would. Each skips with
//! a reason when its client is missing, and fails instead under CI=true
//! (scripts/setup installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Whether a client is there; under CI=true a missing one is a failure.
fn available(what: &str, found: bool) -> bool {
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but {what} is missing: run scripts/setup");
        }
        eprintln!("skipping: {what} is missing (scripts/setup installs it)");
    }
    found
}

/// The Python with pytest-lsp: `ROUTEC_LSP_PYTHON`, the virtualenv
/// scripts/setup makes, or `python3`.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("ROUTEC_LSP_PYTHON") {
        return path.into();
    }
    let venv = Path::new("/opt/routec-lsp-venv/bin/python");
    if venv.exists() {
        return venv.to_path_buf();
    }
    PathBuf::from("python3")
}

#[test]
fn pytest_lsp_suite() {
    let python = python();
    let has_pytest_lsp =
        Command::new(&python).args(["-c", "import pytest_lsp"]).output().is_ok_and(|out| out.status.success());
    if !available(&format!("pytest-lsp for {}", python.display()), has_pytest_lsp) {
        return;
    }
    let out = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(workspace_root().join("lsp/tests/pytest"))
        .env("ROUTEC", env!("CARGO_BIN_EXE_routec"))
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "pytest-lsp suite failed:\n{report}");
    assert!(report.contains("6 passed"), "{report}");
}

#[test]
fn neovim_smoke() {
    let has_nvim = Command::new("nvim").arg("--version").output().is_ok_and(|out| out.status.success());
    if !available("nvim (Debian's neovim)", has_nvim) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("multi-file");
    copy_dir(&workspace_root().join("examples/multi-file"), &root);
    let script = workspace_root().join("lsp/tests/neovim/smoke.lua");
    let out = Command::new("timeout")
        .args(["120", "nvim", "--headless", "-u", "NONE", "-i", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("ROUTEC", env!("CARGO_BIN_EXE_routec"))
        .env("ROUTEC_ROOT", &root)
        .output()
        .expect("nvim runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Neovim smoke test failed:\n{report}");
    for step in [
        "ok: diagnostic E0002",
        "ok: applied Replace `adress` with `address`",
        "ok: diagnostics cleared",
        "ok: formatted",
    ] {
        assert!(report.contains(step), "{step} missing:\n{report}");
    }
    // Nothing but the buffer changed: the file on disk is the example's.
    let on_disk = std::fs::read_to_string(root.join("nodes/edge-a.route")).unwrap();
    assert_eq!(
        on_disk,
        std::fs::read_to_string(workspace_root().join("examples/multi-file/nodes/edge-a.route")).unwrap()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A client that speaks JSON-RPC to `routec lsp` by hand: `initialize`,
/// then `messages`, then the end of its input. The exit code.
fn lsp_session(messages: &[&str]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_routec"))
        .arg("lsp")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
    let initialized = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
    for message in [initialize, initialized].iter().chain(messages) {
        write!(stdin, "Content-Length: {}\r\n\r\n{message}", message.len()).unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

const SHUTDOWN: &str = r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#;
const EXIT: &str = r#"{"jsonrpc":"2.0","method":"exit"}"#;

/// The LSP specification: `exit` ends the server with 0 after `shutdown`,
/// with 1 without it. (Failed before: `exit` alone was ignored until the
/// input ended, then the server exited with 0.)
#[test]
fn lsp_exit_without_shutdown_exits_1() {
    let (code, stderr) = lsp_session(&[EXIT]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("without `shutdown`"), "{stderr}");
    let (code, stderr) = lsp_session(&[SHUTDOWN, EXIT]);
    assert_eq!(code, Some(0), "{stderr}");
}
