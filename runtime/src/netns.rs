//! Running code inside a network namespace.
//!
//! aya, `if_nametoindex` and netlink sockets act in the calling thread's
//! network namespace, so namespace work runs on a dedicated OS thread that
//! enters the namespace with `setns(CLONE_NEWNET)` and ends with the work: no
//! other code ever runs on a thread that switched namespaces. (`ip netns exec`
//! is avoided because it remounts /sys and hides bpffs.)

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Runs `work` on a fresh thread inside the network namespace at `netns`
/// (a file such as `/run/netns/NAME` or `/proc/PID/ns/net`), or in the
/// caller's namespace when `netns` is `None`.
pub fn run_in<T, E, F>(netns: Option<&Path>, work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send,
    T: Send,
    E: Send + From<io::Error>,
{
    let Some(netns) = netns else { return work() };
    let file = File::open(netns)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot open network namespace {}: {e}", netns.display())))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(&file, netns)?;
                work()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn enter(file: &File, path: &Path) -> io::Result<()> {
    // SAFETY: setns only reads the descriptor; it affects this thread alone.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("cannot enter network namespace {}: {e}", path.display())));
    }
    Ok(())
}

/// Writes a sysctl of the current thread's network namespace
/// (`key` like `net/ipv4/conf/all/rp_filter`). /proc/sys/net resolves the
/// namespace of the opening task, so this works from a thread inside [`run_in`].
pub fn write_sysctl(key: &str, value: &str) -> io::Result<()> {
    let path = Path::new("/proc/sys").join(key);
    std::fs::write(&path, value).map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}
