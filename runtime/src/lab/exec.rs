//! `routec lab exec`: a command inside a lab namespace, with that
//! namespace's own view of /sys, as `ip netns exec` gives it.
//!
//! sysfs shows the network namespace of whoever mounted it, so entering the
//! namespace is not enough for `cat /sys/class/net/eth0/address`. The child
//! (never routec itself, which keeps entering namespaces with `setns` on a
//! thread) enters the network namespace, takes a private mount namespace
//! whose mounts no longer propagate back, and mounts a fresh sysfs on /sys.
//! Unlike `ip netns exec`, the host's bpffs stays visible at /sys/fs/bpf, so
//! `bpftool` in a node namespace still finds the lab's pins.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::{Context, Result};

const SYS: &str = "/sys";
const BPFFS: &str = "/sys/fs/bpf";

/// A command that runs `argv` inside the lab namespace `netns`.
pub fn exec_command(netns: &str, argv: &[String]) -> Result<Command> {
    let path = super::netns_path(netns);
    let namespace = File::open(&path).context(|| format!("cannot open network namespace {}", path.display()))?;
    let keep_bpffs = crate::bpffs::check(Path::new(BPFFS)).is_ok();
    let cstr = |s: &str| CString::new(s).expect("no NUL in a constant");
    let (sys, sysfs, root, bpffs, empty) = (cstr(SYS), cstr("sysfs"), cstr("/"), cstr(BPFFS), cstr(""));
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    // SAFETY: runs between fork and exec; only system calls on data prepared above.
    unsafe {
        command.pre_exec(move || {
            let check = |rc: libc::c_long| if rc >= 0 { Ok(rc) } else { Err(std::io::Error::last_os_error()) };
            check(libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET).into())?;
            check(libc::unshare(libc::CLONE_NEWNS).into())?;
            // Nothing mounted below propagates back to the host.
            let flags = libc::MS_REC | libc::MS_SLAVE;
            check(libc::mount(std::ptr::null(), root.as_ptr(), std::ptr::null(), flags, std::ptr::null()).into())?;
            // A detached copy of the bpffs mount, to put back over the fresh sysfs.
            let bpffs_tree = match keep_bpffs {
                true => check(libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    bpffs.as_ptr(),
                    OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
                ))
                .ok(),
                false => None,
            };
            check(libc::umount2(sys.as_ptr(), libc::MNT_DETACH).into())?;
            check(libc::mount(sysfs.as_ptr(), sys.as_ptr(), sysfs.as_ptr(), 0, std::ptr::null()).into())?;
            if let Some(tree) = bpffs_tree {
                check(libc::syscall(
                    libc::SYS_move_mount,
                    tree,
                    empty.as_ptr(),
                    libc::AT_FDCWD,
                    bpffs.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ))?;
            }
            Ok(())
        });
    }
    Ok(command)
}

/// linux/mount.h (not in the libc crate).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
