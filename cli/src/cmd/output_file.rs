//! `-o FILE` of the commands that write one file of their own (`snapshot`,
//! `test`, `trace`, `gen`): defined once here, with the one writer they all
//! use (and `fmt` for the sources it rewrites). routec never touches a file it did not make: FILE is written when it
//! does not exist, or when it is a regular file that the command recognises
//! as one it wrote (its [`Mark`]); a symbolic link, a folder or any other
//! file is refused (exit 2) and left untouched. The new content goes to a
//! temporary file in FILE's folder, synced, then renamed over FILE, so a
//! crash leaves the old file or the new one, never half of one.
//! Contract: docs/build-output.md, "Files routec writes with -o".

use std::fmt::Display;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct OutputArg {
    /// Write to FILE instead of stdout: a new file, or one this command wrote before (never another file).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Recognises, from the start of an existing file, one that the command
/// wrote: a format's fixed header.
pub type Mark = fn(&mut dyn Read) -> io::Result<bool>;

/// How much of an existing file a header mark reads.
const HEADER_BYTES: u64 = 4096;

/// The first bytes of `file` (at most [`HEADER_BYTES`]).
pub fn header(file: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    file.take(HEADER_BYTES).read_to_end(&mut head)?;
    Ok(head)
}

/// Writes what `fill` writes to `path`, under the rules above; the error is
/// the message to print.
pub fn write<E: Display>(
    path: &Path,
    mark: Mark,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), String> {
    let replaced = check_replaceable(path, mark)?;
    if path.file_name().is_none() {
        return Err(format!("cannot write {}: not a file name", path.display()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let cannot = |e: &dyn Display| format!("cannot write {}: {e}", path.display());
    // A fresh, randomly named file (created exclusively, retried on a
    // collision): never a file routec did not make, and its name does not
    // grow with FILE's, nor depend on a process id a left-over file may hold.
    let tmp = tempfile::Builder::new()
        .prefix(".routec-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot write {}: a temporary file in {}: {e}", path.display(), dir.display()))?;
    let file = tmp.as_file();
    if let Some(old) = &replaced {
        // The new file takes the old one's place: its mode, owner and group.
        file.set_permissions(old.permissions()).map_err(|e| cannot(&e))?;
        let new = file.metadata().map_err(|e| cannot(&e))?;
        if (new.uid(), new.gid()) != (old.uid(), old.gid()) {
            std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())).map_err(|e| {
                format!(
                    "refusing to replace {}: cannot keep its owner {}:{} ({e})",
                    path.display(),
                    old.uid(),
                    old.gid()
                )
            })?;
        }
    }
    let mut out = BufWriter::new(file);
    fill(&mut out).map_err(|e| cannot(&e))?;
    out.flush().map_err(|e| cannot(&e))?;
    drop(out);
    file.sync_all().map_err(|e| cannot(&e))?;
    // Checked again right before the rename: what was refused stays refused.
    check_replaceable(path, mark)?;
    // On an error the temporary file is removed as `tmp` is dropped.
    tmp.persist(path).map_err(|e| cannot(&e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| cannot(&e))
}

/// Ok when `path` does not exist (None), or is a regular file `mark`
/// recognises (its metadata: the new file keeps its mode and owner).
fn check_replaceable(path: &Path, mark: Mark) -> Result<Option<std::fs::Metadata>, String> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot write {shown}: {e}")),
    };
    if meta.file_type().is_symlink() {
        return Err(format!("refusing to write {shown}: it is a symbolic link (give the file itself)"));
    }
    if !meta.is_file() {
        return Err(format!("refusing to write {shown}: it is not a regular file"));
    }
    let ours = File::open(path).and_then(|mut f| mark(&mut f)).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if ours {
        Ok(Some(meta))
    } else {
        Err(format!("refusing to overwrite {shown}: routec did not write it (remove it, or give a new file)"))
    }
}

/// For formats without a fixed header: only a new file is written.
pub fn no_mark(_: &mut dyn Read) -> io::Result<bool> {
    Ok(false)
}

/// For `fmt`: the sources it was given are its to rewrite (regular files
/// only, atomically, as every other file).
pub fn any_file(_: &mut dyn Read) -> io::Result<bool> {
    Ok(true)
}
