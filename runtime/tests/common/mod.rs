//! Shared helpers for the runtime's root-only tests.
#![allow(dead_code)]

use std::path::PathBuf;

use routec_runtime::lab::{self, LabOptions};

/// True when the test may touch namespaces; prints why it skips otherwise
/// (and fails under CI=true, where skipping is not allowed).
pub fn can_run(test: &str) -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CI=true does not allow skipping)");
    }
    eprintln!("skipping {test}: needs root to create network namespaces");
    false
}

/// Lab options under a private state folder, so tests never meet real labs.
pub fn options() -> LabOptions {
    LabOptions { state_dir: PathBuf::from("/run/routec/test-labs"), ..LabOptions::default() }
}

/// Always takes the lab down, also when the test panics.
pub struct LabGuard {
    pub name: String,
    pub options: LabOptions,
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if LabState::state_file_exists(&self.options, &self.name) {
            if let Err(e) = lab::down(&self.options.state_dir, &self.name) {
                eprintln!("lab down {}: {e}", self.name);
            }
        }
    }
}

struct LabState;
impl LabState {
    fn state_file_exists(options: &LabOptions, name: &str) -> bool {
        routec_runtime::lab::LabState::state_file(&options.state_dir, name).exists()
    }
}
