//! The bpf filesystem: routec pins only where one is mounted.
//!
//! A `--bpffs` (or routec.toml `bpffs`) that names an ordinary folder would
//! make pins plain files and let `detach` remove files routec never made, so
//! every command that pins, unpins or reads pins checks the mount first.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::{Error, Result};

/// `f_type` of a bpf filesystem (linux/magic.h).
const BPF_FS_MAGIC: i64 = 0xcafe4a11;

/// Refuses `path` unless it is the root of, or a folder inside, a mounted
/// bpf filesystem.
pub fn check(path: &Path) -> Result<()> {
    let mount_hint = || format!("mount one with `mount -t bpf bpf {}`", path.display());
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::msg(format!("{} is not a usable path", path.display())))?;
    // SAFETY: statfs writes into a zeroed struct we own; the path is NUL-terminated.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c_path.as_ptr(), &mut stat) } != 0 {
        let error = std::io::Error::last_os_error();
        return Err(Error::msg(format!("bpffs {} cannot be used ({error}); {}", path.display(), mount_hint())));
    }
    if stat.f_type as i64 != BPF_FS_MAGIC {
        return Err(Error::msg(format!(
            "{} is not a bpf filesystem (statfs type {:#x}): routec pins only into bpffs; {}",
            path.display(),
            stat.f_type,
            mount_hint()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ordinary_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let error = super::check(dir.path()).unwrap_err().to_string();
        assert!(error.contains("is not a bpf filesystem"), "{error}");
        let missing = super::check(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(missing.contains("cannot be used"), "{missing}");
    }
}
