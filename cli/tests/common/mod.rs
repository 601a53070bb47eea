//! Helpers shared by the CLI's root-only tests, which drive the `routec`
//! binary against labs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tests' lab state folder, apart from real labs.
pub const STATE_DIR: &str = "/run/routec/test-labs";

/// True when the test may make namespaces and pin maps; prints why it skips
/// otherwise, and fails under CI=true, where skipping is not allowed.
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root (CI=true does not allow skipping)");
    }
    eprintln!("skipping {test}: needs root to create network namespaces and pin maps");
    false
}

/// Runs `program`, echoing the command and what it printed into the test's log.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program).args(args).output().unwrap();
    eprintln!(
        "$ {program} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn routec(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_routec"), args)
}

/// examples/mycluster, the reference cluster.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster")
}
