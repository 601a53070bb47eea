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
    let name = path.file_name().ok_or_else(|| format!("cannot write {}: not a file name", path.display()))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".routec-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let cannot = |e: &dyn Display| format!("cannot write {}: {e}", path.display());
    // create_new: a file of that name that routec did not make stays as it is.
    let file = File::options().write(true).create_new(true).open(&tmp).map_err(|e| cannot(&e))?;
    let written = (|| {
        let mut out = BufWriter::new(file);
        fill(&mut out).map_err(|e| cannot(&e))?;
        let file = out.into_inner().map_err(|e| cannot(&e.into_error()))?;
        if let Some(permissions) = replaced {
            file.set_permissions(permissions).map_err(|e| cannot(&e))?;
        }
        file.sync_all().map_err(|e| cannot(&e))?;
        // Checked again right before the rename: what was refused stays refused.
        check_replaceable(path, mark)?;
        std::fs::rename(&tmp, path).map_err(|e| cannot(&e))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| cannot(&e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Ok when `path` does not exist (None), or is a regular file `mark`
/// recognises (its permissions, which the new file keeps).
fn check_replaceable(path: &Path, mark: Mark) -> Result<Option<std::fs::Permissions>, String> {
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
        Ok(Some(meta.permissions()))
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
