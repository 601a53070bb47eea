//! inotify on the watched path, through `notify`. Two watches: the folder
//! holding the path (non-recursive), which sees a symlink or a folder
//! renamed over it, and the folder the path resolves to (recursive), which
//! sees files written in place. inotify watches inodes, so after every swap
//! the second watch is moved to the new folder ([`Watches::follow`]).
//! Events only wake the agent: it reads the build again and compares
//! digests, so an event it does not care about costs one manifest read.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use routec_runtime::{Error, Result};

use crate::agent::Wake;

pub struct Watches {
    watcher: RecommendedWatcher,
    watch: PathBuf,
    /// The resolved folder the recursive watch is on.
    target: Option<PathBuf>,
}

impl Watches {
    pub fn new(watch: &Path, wake: Sender<Wake>) -> Result<Self> {
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
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
