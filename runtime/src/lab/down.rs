//! `lab down`: removes what exists of a lab, not only what was recorded.
//!
//! A namespace is the lab's when its state file names it (recorded before it
//! was created) or when it carries the lab's marker (the alias on its `lo`).
//! Namespaces named like the lab's in /run/netns are looked at too, but one
//! without the marker is never deleted unless the record names it, and one
//! carrying another lab's marker never is. Pins are removed only from a bpf
//! filesystem, folders only with their marker file.

use std::path::Path;

use super::iproute::{batch, json, OnError};
use super::state::{foreign, is_lab_dir};
use super::topology::namespace_marker;
use super::{check_lab_name, lock_path, netns_path, LabState, NETNS_DIR};
use crate::lock::{Lock, Wait};
use crate::{Context, Error, Result};

/// Removes everything lab `name` made: namespaces (in reverse order of
/// creation), pins, apply records, its folder and its state file. Holds the
/// lab's lock, so it waits for a running `up` instead of racing it.
/// Tolerates objects already gone, so it also cleans up after a crash at any
/// point of `up`.
pub fn down(state_dir: &Path, name: &str) -> Result<()> {
    down_with(state_dir, name, Wait::Block)
}

/// [`down`], refusing at once with `Wait::NoWait` while another routec holds
/// the lab's lock.
pub fn down_with(state_dir: &Path, name: &str, wait: Wait) -> Result<()> {
    check_lab_name(name)?;
    let _lock = Lock::acquire(&lock_path(state_dir, name), &format!("lab {name}"), wait)?;
    down_locked(state_dir, name)
}

/// [`down`] for a caller that holds the lab's lock.
pub(super) fn down_locked(state_dir: &Path, name: &str) -> Result<()> {
    let state_file = LabState::state_file(state_dir, name);
    let state = match state_file.exists() {
        true => Some(LabState::load(state_dir, name)?),
        false => None,
    };
    let folder = state_dir.join(name);
    if folder.exists() && !is_lab_dir(&folder) {
        return Err(foreign(&folder));
    }
    // Agents first: one left running would repair what is being removed.
    super::agents::stop(state_dir, name)?;
    let namespaces = lab_namespaces(name, state.as_ref())?;
    if state.is_none() && namespaces.is_empty() && !folder.exists() {
        return Err(Error::msg(format!("no lab named `{name}` (no {})", state_file.display())));
    }

    let mut failures = Vec::new();
    let deletes: Vec<String> = namespaces.iter().rev().map(|ns| format!("netns del {ns}")).collect();
    if let Err(e) = batch(None, &deletes, OnError::Continue) {
        failures.push(e.to_string());
    }
    if let Some(state) = &state {
        // No pins were ever made where there is no bpf filesystem.
        let pins = state.pin_root();
        if crate::bpffs::check(&state.bpffs).is_ok() && pins.exists() {
            if let Err(e) = std::fs::remove_dir_all(&pins) {
                failures.push(format!("cannot remove {}: {e}", pins.display()));
            }
        }
    }
    let records = Path::new(crate::loader::STATE_DIR).join(name);
    for dir in [folder, records] {
        if dir.exists() {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                failures.push(format!("cannot remove {}: {e}", dir.display()));
            }
        }
    }
    if let Some(left) = namespaces.iter().find(|ns| netns_path(ns).exists()) {
        failures.push(format!("namespace {left} is still there"));
    }
    if !failures.is_empty() {
        return Err(Error::msg(format!("lab `{name}` is only partly down: {}", failures.join("; "))));
    }
    if state.is_some() {
        std::fs::remove_file(&state_file).context(|| format!("cannot remove the state of lab `{name}`"))?;
    }
    Ok(())
}

/// The lab's namespaces that exist now: recorded ones without another lab's
/// marker, and any `<name>-*` in /run/netns that carries this lab's marker.
fn lab_namespaces(name: &str, state: Option<&LabState>) -> Result<Vec<String>> {
    let ours = |ns: &str, recorded: bool| is_ours(name, ns, recorded);
    let mut found: Vec<String> = state
        .map(|s| s.namespaces.iter().filter(|ns| netns_path(ns).exists() && ours(ns, true)).cloned().collect())
        .unwrap_or_default();
    let prefix = format!("{name}-");
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::msg(format!("cannot list {NETNS_DIR}: {e}"))),
    };
    let mut extra: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|ns| ns.starts_with(&prefix) && !found.contains(ns) && ours(ns, false))
        .collect();
    extra.sort();
    found.extend(extra);
    Ok(found)
}

/// Whether namespace `ns` is lab `name`'s: it carries the lab's marker, or
/// no marker at all and `recorded` (the lab's record names it).
pub(super) fn is_ours(name: &str, ns: &str, recorded: bool) -> bool {
    match lo_alias(ns) {
        Some(alias) => alias == namespace_marker(name),
        None => recorded,
    }
}

/// The alias on `lo` in namespace `ns`, if it has one (and can be read).
fn lo_alias(ns: &str) -> Option<String> {
    let links = json(ns, &["link", "show", "dev", "lo"])?;
    links.get(0)?.get("ifalias")?.as_str().map(str::to_string)
}
