//! Running iproute2's `ip -batch` for the lab.
//!
//! Two rules keep a crashed or refused run from doing harm:
//! - the batch is handed over as a memfd on stdin, not a pipe, so an `ip`
//!   that stops at the first refused line can never kill routec with SIGPIPE;
//! - the child asks the kernel for SIGKILL when its parent dies
//!   (`PR_SET_PDEATHSIG`), so a `kill -9` of `lab up` never leaves an orphaned
//!   `ip` creating namespaces after `lab down` has run.

use std::ffi::CStr;
use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use crate::{Context, Error, Result};

/// What `ip` does after a line the kernel refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnError {
    /// Stop (creating: the first refusal is the error to report).
    Stop,
    /// Go on with the other lines (removing: remove all that can be).
    Continue,
}

/// Runs `ip [-n NS] -batch -` with `lines`; the error names the namespace
/// and carries ip's own message.
pub(super) fn batch(netns: Option<&str>, lines: &[String], on_error: OnError) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut command = Command::new("ip");
    if let Some(ns) = netns {
        command.args(["-n", ns]);
    }
    if on_error == OnError::Continue {
        command.arg("-force");
    }
    command.args(["-batch", "-"]).stdin(batch_file(lines)?).stdout(Stdio::null()).stderr(Stdio::piped());
    die_with_parent(&mut command);
    let output = command.output().context(|| "cannot run `ip` (iproute2)".to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        let place = netns.map_or("the current namespace".to_string(), |ns| format!("namespace {ns}"));
        Err(Error::msg(format!("iproute2 failed in {place}: {}", String::from_utf8_lossy(&output.stderr).trim())))
    }
}

/// `ip -n NS -j ARGS`'s answer, when it runs and answers JSON.
pub(super) fn json(netns: &str, args: &[&str]) -> Option<serde_json::Value> {
    let mut command = Command::new("ip");
    command.args(["-n", netns, "-j"]).args(args);
    die_with_parent(&mut command);
    let output = command.output().ok().filter(|o| o.status.success())?;
    serde_json::from_slice(&output.stdout).ok()
}

/// The lines in an anonymous in-memory file, rewound for reading.
fn batch_file(lines: &[String]) -> Result<File> {
    const NAME: &CStr = c"routec-ip-batch";
    // SAFETY: memfd_create takes a NUL-terminated name; the new descriptor is ours.
    let fd = unsafe { libc::memfd_create(NAME.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::Io(std::io::Error::last_os_error())).context(|| "cannot create the batch file".into());
    }
    // SAFETY: fd is a fresh descriptor owned by nobody else.
    let mut file = unsafe { File::from_raw_fd(fd) };
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    file.write_all(text.as_bytes())
        .and_then(|()| file.rewind())
        .context(|| "cannot write the batch file".to_string())?;
    Ok(file)
}

/// Makes the child get SIGKILL when the thread that spawned it ends (with
/// routec, or a `kill -9` of it). Every caller waits for its child on the
/// spawning thread, so only routec's death can trigger it.
pub(super) fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl took effect.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_first_line_is_reported_whatever_follows() {
        // More than a pipe holds (64 KiB) after a line ip refuses: with a pipe
        // on stdin, routec got EPIPE (SIGPIPE in the binary) instead of ip's message.
        let mut lines = vec!["link show dev routec-no-such-device".to_string()];
        lines.extend(std::iter::repeat_n("link show dev lo".to_string(), 20_000));
        let error = batch(None, &lines, OnError::Stop).unwrap_err().to_string();
        assert!(error.contains("routec-no-such-device") || error.contains("Cannot find device"), "{error}");
    }
}
