//! inotify on the watched path, through `notify`. Two watches: the folder
//! holding the path (non-recursive), which sees a symlink or a folder
//! renamed over it, and the folder the path resolves to (recursive), which
//! sees files written in place. inotify watches inodes, so after every swap
//! the second watch is moved to the new folder ([`Watches::follow`]).
//! Events only wake the agent: it reads the build again and compares
//! digests, so an event it does not care about costs one manifest read.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use routec_runtime::{Error, Result};

use crate::agent::Wake;

/// inotify also reports opens and reads (the agent's own, of the build it
/// watches): only a change may wake the agent, or every read would wake it
/// to read again.
fn changes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

pub struct Watches {
    watcher: RecommendedWatcher,
    watch: PathBuf,
    /// The resolved folder the recursive watch is on.
    target: Option<PathBuf>,
}

impl Watches {
    pub fn new(watch: &Path, wake: Sender<Wake>) -> Result<Self> {
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| changes(&e.kind)) {
                // The agent is gone when this fails: nothing to wake.
                let _ = wake.send(Wake::Changed);
            }
        })
        .map_err(|e| Error::msg(format!("cannot start inotify: {e}")))?;
        let parent = match watch.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        watcher
            .watch(&parent, RecursiveMode::NonRecursive)
            .map_err(|e| Error::msg(format!("cannot watch {}: {e}", parent.display())))?;
        let mut watches = Watches { watcher, watch: watch.to_path_buf(), target: None };
        watches.follow();
        Ok(watches)
    }

    /// Moves the recursive watch onto the folder the path resolves to now
    /// (a missing path is fine: the folder watch sees it appear).
    pub fn follow(&mut self) {
        if let Some(old) = self.target.take() {
            let _ = self.watcher.unwatch(&old);
        }
        if let Ok(folder) = std::fs::canonicalize(&self.watch) {
            if self.watcher.watch(&folder, RecursiveMode::Recursive).is_ok() {
                self.target = Some(folder);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn reads_do_not_wake_the_agent_and_writes_and_swaps_do() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for folder in [&a, &b] {
            std::fs::create_dir(folder).unwrap();
            std::fs::write(folder.join("manifest.json"), "{}").unwrap();
        }
        let link = dir.path().join("current");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let (wake, woken) = mpsc::channel();
        let mut watches = Watches::new(&link, wake).unwrap();
        let quiet = |woken: &mpsc::Receiver<Wake>| woken.recv_timeout(Duration::from_millis(300)).is_err();
        let drain = |woken: &mpsc::Receiver<Wake>| while woken.recv_timeout(Duration::from_millis(100)).is_ok() {};

        // The agent's own reads of the build (inotify reports opens).
        std::fs::read(link.join("manifest.json")).unwrap();
        assert!(quiet(&woken), "a read woke the agent");

        std::fs::write(link.join("manifest.json"), "{ }").unwrap();
        assert!(!quiet(&woken), "a file written in place");
        drain(&woken);

        let tmp = dir.path().join("current.tmp");
        std::os::unix::fs::symlink(&b, &tmp).unwrap();
        std::fs::rename(&tmp, &link).unwrap();
        assert!(!quiet(&woken), "the symlink swapped");
        drain(&woken);
        watches.follow();
        std::fs::write(b.join("manifest.json"), "{ }").unwrap();
        assert!(!quiet(&woken), "a write in the new folder");
        drain(&woken);
        std::fs::write(a.join("manifest.json"), "{  }").unwrap();
        assert!(quiet(&woken), "the old folder is no longer watched");
    }
}
