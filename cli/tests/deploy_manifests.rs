//! The Kubernetes manifests of deploy/: valid for the API server
//! (`kubernetes-validate --strict`, offline schemas), and in step with
//! `routec agent` (its flags, its port).

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// kubernetes-validate on PATH, else where scripts/setup installs it.
fn kubernetes_validate() -> Option<PathBuf> {
    let installed = PathBuf::from("/opt/routec-k8s-venv/bin/kubernetes-validate");
    let on_path = Command::new("kubernetes-validate").arg("--version").output().is_ok_and(|o| o.status.success());
    match (on_path, installed.exists()) {
        (true, _) => Some("kubernetes-validate".into()),
        (false, true) => Some(installed),
        (false, false) => None,
    }
}

#[test]
fn every_manifest_passes_kubernetes_validate_strict() {
    let Some(validate) = kubernetes_validate() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("kubernetes-validate is missing (scripts/setup installs it); CI=true does not allow skipping");
        }
        eprintln!("skipping: kubernetes-validate is not installed (PyPI; scripts/setup installs it)");
        return;
    };
    let files = manifests();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let out = Command::new(&validate).arg("--strict").arg(&file).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {text}", file.display());
        assert!(text.contains("passed"), "{}: {text}", file.display());
    }
}

#[test]
fn the_daemonset_runs_the_agent_with_its_own_flags_and_port() {
    let text = std::fs::read_to_string(deploy().join("daemonset.yaml")).unwrap();
    let agent = text.split("- name: agent\n").nth(1).unwrap().split("- name: git-sync\n").next().unwrap();
    let help = Command::new(env!("CARGO_BIN_EXE_routec")).args(["agent", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: Vec<&str> =
        agent.lines().filter_map(|l| l.trim().strip_prefix("- --")).map(|f| f.split('=').next().unwrap()).collect();
    assert!(flags.contains(&"watch") && flags.contains(&"listen"), "{flags:?}");
    for flag in &flags {
        assert!(help.contains(&format!("--{flag}")), "routec agent has no --{flag}");
    }
    assert!(help.contains("NODE_NAME") && agent.contains("name: NODE_NAME"), "the node comes from the downward API");
    assert!(agent.contains("--listen=0.0.0.0:9962") && agent.contains("containerPort: 9962"));
    assert_eq!(agent.matches("port: 9962").count(), 2, "both probes ask the agent");
    assert!(text.contains("prometheus.io/port: \"9962\"") && text.contains("path: /healthz"));
    assert!(agent.contains("--watch=/git/current") && text.contains("--link=current") && text.contains("--root=/git"));
}
