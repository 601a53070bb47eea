//! Putting an import on disk the way `build` does: everything is written
//! into a temporary sibling folder that replaces OUT only when complete, so
//! an error writes nothing. OUT is only ever replaced when it is missing,
//! empty, or an earlier import left unchanged: [`MARKER`] lists the files
//! that import wrote and their digests.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Import;
use crate::build::{put_in_place, sha256_hex, sibling, BuildError, TempDir};

/// The file that marks a folder as `routec import`'s (hidden: `check` and
/// `build` read only `*.route` files).
pub const MARKER: &str = ".routec-import.json";
const MARKER_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    format_version: u32,
    written_by: String,
    files: Vec<MarkedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkedFile {
    path: String,
    sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// OUT holds something `routec import` did not write, or changed since.
    #[error("refusing to replace {}: {why}", path.display())]
    NotAnImport { path: PathBuf, why: String },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError::Io { path: path.to_path_buf(), source }
}

/// Writes the import's files below `out` and returns the folder written.
pub fn write(import: &Import, out: &Path) -> Result<PathBuf, WriteError> {
    check_replaceable(out)?;
    let out =
        if out.file_name().is_none() { std::path::absolute(out).map_err(io_error(out))? } else { out.to_path_buf() };
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let temp = TempDir { path: sibling(&out, "import") };
    if temp.path.exists() {
        std::fs::remove_dir_all(&temp.path).map_err(io_error(&temp.path))?;
    }
    std::fs::create_dir(&temp.path).map_err(io_error(&temp.path))?;
    let mut marked = Vec::new();
    for file in &import.files {
        let path = temp.path.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::write(&path, &file.text).map_err(io_error(&path))?;
        marked.push(MarkedFile { path: file.path.clone(), sha256: sha256_hex(file.text.as_bytes()) });
    }
    let marker = Marker { format_version: MARKER_VERSION, written_by: "routec import".into(), files: marked };
    let mut bytes = serde_json::to_vec_pretty(&marker).expect("plain data serializes");
    bytes.push(b'\n');
    let marker_path = temp.path.join(MARKER);
    std::fs::write(&marker_path, bytes).map_err(io_error(&marker_path))?;
    put_in_place(&temp.path, &out).map_err(|e| match e {
        BuildError::Io { path, source } => WriteError::Io { path, source },
        other => WriteError::Io { path: out.clone(), source: io::Error::other(other.to_string()) },
    })?;
    drop(temp);
    Ok(out)
}

/// OUT may be missing, an empty folder, or an earlier import whose files are
/// all still as import wrote them.
fn check_replaceable(out: &Path) -> Result<(), WriteError> {
    let refuse = |why: String| Err(WriteError::NotAnImport { path: out.to_path_buf(), why });
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(WriteError::Io { path: out.to_path_buf(), source: e }),
        Ok(meta) => meta,
    };
    if meta.file_type().is_symlink() {
        return refuse("it is a symlink (give the folder itself)".into());
    }
    if !meta.is_dir() {
        return refuse("it is a file, not a folder".into());
    }
    if std::fs::read_dir(out).map_err(io_error(out))?.next().is_none() {
        return Ok(());
    }
    let marker_path = out.join(MARKER);
    let marker: Marker = match std::fs::read(&marker_path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(marker) => marker,
            Err(e) => return refuse(format!("its {MARKER} is not routec import's ({e})")),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return refuse(format!("it is not empty and has no {MARKER}, so routec import did not make it"))
        }
        Err(e) => return refuse(format!("cannot read its {MARKER}: {e}")),
    };
    let folders: std::collections::HashSet<&str> =
        marker.files.iter().flat_map(|f| f.path.match_indices('/').map(|(at, _)| &f.path[..at])).collect();
    for entry in walkdir::WalkDir::new(out).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(out).to_path_buf();
            WriteError::Io { path, source: e.into() }
        })?;
        let rel = entry.path().strip_prefix(out).expect("walked below OUT");
        let rel: Vec<_> = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect();
        let rel = rel.join("/");
        let kind = entry.file_type();
        if kind.is_dir() && folders.contains(rel.as_str()) || kind.is_file() && rel == MARKER {
            continue;
        }
        let Some(marked) = marker.files.iter().find(|f| f.path == rel).filter(|_| kind.is_file()) else {
            return refuse(format!(
                "{} is not one of the files routec import wrote there (move it away or import elsewhere)",
                entry.path().display()
            ));
        };
        let bytes = std::fs::read(entry.path()).map_err(io_error(entry.path()))?;
        if sha256_hex(&bytes) != marked.sha256 {
            return refuse(format!(
                "{} changed since routec import wrote it (move the folder away or import elsewhere)",
                entry.path().display()
            ));
        }
    }
    Ok(())
}
