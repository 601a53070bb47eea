//! Reading one file of a build folder as the folder's own file: walked from
//! the folder's descriptor one component at a time (openat), never through a
//! symlink, only a regular file, and never more bytes than allowed. A build
//! folder may come from anyone; this is what keeps a symlink to /dev/zero, a
//! FIFO or `../../etc/passwd` in it from being read.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

/// Why a file below the folder was not read.
#[derive(Debug)]
pub enum Refusal {
    Io(io::Error),
    /// The file, or a folder on the way to it, is a symlink.
    Symlink,
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Larger than allowed (the manifest's size, or a fixed cap).
    TooLarge {
        limit: u64,
    },
    /// A size other than the one the manifest records.
    SizeDiffers {
        expected: u64,
        found: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Io(e) => write!(f, "{e}"),
            Refusal::Symlink => {
                f.write_str("is a symlink or lies below one: a build's files are read only as regular files inside it")
            }
            Refusal::NotRegular(kind) => write!(f, "is a {kind}, not a regular file: refused"),
            Refusal::TooLarge { limit } => write!(f, "is larger than the {limit} bytes allowed: refused"),
            Refusal::SizeDiffers { expected, found } => {
                write!(f, "changed after the build (it is {found} bytes, manifest.json records {expected}): rebuild")
            }
        }
    }
}

impl From<rustix::io::Errno> for Refusal {
    fn from(errno: rustix::io::Errno) -> Self {
        // O_NOFOLLOW on the last component, and O_DIRECTORY|O_NOFOLLOW on
        // the folders before it, fail with ELOOP on a symlink.
        if errno == rustix::io::Errno::LOOP {
            Refusal::Symlink
        } else {
            Refusal::Io(errno.into())
        }
    }
}

/// `rel` is a path below a folder: `/`-separated, no leading `/`, and no
/// empty, `.` or `..` component.
pub fn check_relative(rel: &str) -> Result<(), String> {
    if rel.is_empty() {
        return Err("is an empty path".into());
    }
    if rel.starts_with('/') {
        return Err("is an absolute path; a build names its files relative to its folder".into());
    }
    if rel.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err("has an empty, `.` or `..` component; a build names only files inside its folder".into());
    }
    if rel.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    Ok(())
}

/// Opens `dir` (following a symlink there: it is the folder the user named).
pub fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The bytes of `rel` below `dir`, which [`check_relative`] must accept.
/// With `expected_size`, a file of any other size is refused before it is
/// read; `limit` caps what is read either way.
pub fn read(dir: BorrowedFd<'_>, rel: &str, expected_size: Option<u64>, limit: u64) -> Result<Vec<u8>, Refusal> {
    let (fd, found) = open_regular(dir, rel, expected_size)?;
    let limit = expected_size.map_or(limit, |expected| expected.min(limit));
    if found > limit {
        return Err(Refusal::TooLarge { limit });
    }
    // Read one byte past the limit, to notice a file that grew since fstat.
    let mut bytes = Vec::with_capacity(found as usize);
    std::fs::File::from(fd).take(limit + 1).read_to_end(&mut bytes).map_err(Refusal::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Refusal::TooLarge { limit });
    }
    if let Some(expected) = expected_size {
        if bytes.len() as u64 != expected {
            return Err(Refusal::SizeDiffers { expected, found: bytes.len() as u64 });
        }
    }
    Ok(bytes)
}

/// Whether `rel` below `dir` is there as [`read`] would read it (a regular
/// file reached without a symlink) and `size` bytes long, without reading it.
pub fn check_present(dir: BorrowedFd<'_>, rel: &str, size: u64) -> Result<(), Refusal> {
    open_regular(dir, rel, Some(size)).map(drop)
}

/// `rel` below `dir`, opened as a regular file, with its size (refused when
/// not `expected_size`).
fn open_regular(dir: BorrowedFd<'_>, rel: &str, expected_size: Option<u64>) -> Result<(OwnedFd, u64), Refusal> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    let name = parts.pop().expect("split yields at least one part");
    let mut parent: Option<OwnedFd> = None;
    for part in parts {
        let at = parent.as_ref().map_or(dir, |fd| fd.as_fd());
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        parent = Some(rustix::fs::openat(at, part, flags, Mode::empty()).map_err(|errno| {
            // A symlink to a folder fails O_DIRECTORY|O_NOFOLLOW with ENOTDIR, as a file would.
            let is_symlink = rustix::fs::statat(at, part, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|stat| FileType::from_raw_mode(stat.st_mode) == FileType::Symlink);
            if is_symlink {
                Refusal::Symlink
            } else {
                errno.into()
            }
        })?);
    }
    let at = parent.as_ref().map_or(dir, |fd| fd.as_fd());
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it next.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(at, name, flags, Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Directory => return Err(Refusal::NotRegular("folder")),
        FileType::Fifo => return Err(Refusal::NotRegular("FIFO")),
        FileType::Socket => return Err(Refusal::NotRegular("socket")),
        FileType::CharacterDevice => return Err(Refusal::NotRegular("character device")),
        FileType::BlockDevice => return Err(Refusal::NotRegular("block device")),
        _ => return Err(Refusal::NotRegular("special file")),
    }
    let found = stat.st_size as u64;
    if let Some(expected) = expected_size {
        if found != expected {
            return Err(Refusal::SizeDiffers { expected, found });
        }
    }
    Ok((fd, found))
}
