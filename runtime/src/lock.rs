//! One writer per node and per lab: an exclusive `flock` on a lock file
//! beside the node's or lab's state, held for the whole operation.
//!
//! The kernel drops a `flock` when its holder dies, `kill -9` included, so a
//! crashed routec never leaves a lock behind; the file itself is never
//! removed (removing it would let two callers lock two different files). The
//! holder writes its pid into the file so that a waiter can say who it waits
//! for. The descriptor is close-on-exec: children (`ip -batch`) do not hold
//! the lock after their parent is gone.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::{Context, Error, Result};

/// What a caller does when another routec holds the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Wait for it, saying so once on stderr.
    #[default]
    Block,
    /// Fail at once (`--no-wait`).
    NoWait,
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Takes the lock at `path` (creating the file and its folder), for the
    /// operation on `what` (e.g. "node mycluster-worker (scope default)").
    pub fn acquire(path: &Path, what: &str, wait: Wait) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .context(|| format!("cannot open the lock file {}", path.display()))?;
        take(&mut file, libc::LOCK_EX, path, what, wait)?;
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .context(|| format!("cannot write {}", path.display()))?;
        Ok(Lock { file, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Clear the pid first so that nobody names a finished holder.
        let _ = self.file.set_len(0);
    }
}

/// A reader's hold of a lock: shared with other readers, excluding a
/// [`Lock`] holder; dropping it releases it.
#[derive(Debug)]
pub struct SharedLock {
    _file: File,
}

impl SharedLock {
    /// Shares the lock at `path` when the file exists. Never creates it: a
    /// lock no writer ever took has nothing to wait for (`None`).
    pub fn acquire_existing(path: &Path, what: &str, wait: Wait) -> Result<Option<SharedLock>> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::msg(format!("cannot open the lock file {}: {e}", path.display()))),
        };
        take(&mut file, libc::LOCK_SH, path, what, wait)?;
        Ok(Some(SharedLock { _file: file }))
    }
}

/// Takes `operation` (`LOCK_EX`, `LOCK_SH`) on `file`: at once when free,
/// else failing with `NoWait` or waiting, saying once for whom.
fn take(file: &mut File, operation: libc::c_int, path: &Path, what: &str, wait: Wait) -> Result<()> {
    if try_flock(file, operation | libc::LOCK_NB)? {
        return Ok(());
    }
    let holder = holder_pid(file).map_or_else(|| "another routec".to_string(), |pid| format!("pid {pid}"));
    if wait == Wait::NoWait {
        return Err(Error::msg(format!(
            "{what} is busy: {holder} holds {} (without --no-wait, routec waits for it)",
            path.display()
        )));
    }
    eprintln!("routec: waiting for {what}: {holder} holds {}", path.display());
    while !try_flock(file, operation)? {}
    Ok(())
}

/// `Ok(false)` when a non-blocking attempt found the lock held; a signal
/// interrupting a blocking wait is retried by the caller's loop.
fn try_flock(file: &File, operation: libc::c_int) -> Result<bool> {
    // SAFETY: flock on a descriptor this File owns for the whole call.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        return Ok(true);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        Some(libc::EWOULDBLOCK) | Some(libc::EINTR) => Ok(false),
        _ => Err(Error::Io(error)),
    }
}

fn holder_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_no_wait_and_admitted_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/node.lock");
        let first = Lock::acquire(&path, "node n1", Wait::NoWait).unwrap();
        let busy = Lock::acquire(&path, "node n1", Wait::NoWait).unwrap_err().to_string();
        assert!(busy.contains("node n1 is busy"), "{busy}");
        assert!(busy.contains(&format!("pid {}", std::process::id())), "{busy}");
        drop(first);
        // Waits rather than fails: a child another test forks in this process
        // holds a copy of the descriptor until it execs (close-on-exec).
        Lock::acquire(&path, "node n1", Wait::Block).unwrap();
    }

    #[test]
    fn readers_share_the_lock_and_are_refused_while_a_writer_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.lock");
        assert!(SharedLock::acquire_existing(&path, "node n1", Wait::NoWait).unwrap().is_none());
        assert!(!path.exists(), "a reader never creates the lock file");
        let writer = Lock::acquire(&path, "node n1", Wait::NoWait).unwrap();
        let busy = SharedLock::acquire_existing(&path, "node n1", Wait::NoWait).unwrap_err().to_string();
        assert!(busy.contains("node n1 is busy"), "{busy}");
        drop(writer);
        let first = SharedLock::acquire_existing(&path, "node n1", Wait::Block).unwrap();
        let second = SharedLock::acquire_existing(&path, "node n1", Wait::NoWait).unwrap();
        assert!(first.is_some() && second.is_some());
        assert!(Lock::acquire(&path, "node n1", Wait::NoWait).is_err(), "readers exclude a writer");
    }

    #[test]
    fn a_waiter_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.lock");
        let first = Lock::acquire(&path, "lab a", Wait::Block).unwrap();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || Lock::acquire(&path, "lab a", Wait::Block).map(|_| ()))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished(), "the waiter must wait while the lock is held");
        drop(first);
        waiter.join().unwrap().unwrap();
    }
}
