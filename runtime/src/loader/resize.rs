//! A pinned map whose `max_entries` differs from the build's is replaced
//! without loss (DATAPATH.md v2, "Replacing a datapath without loss"): the
//! new map is made and pinned as `<map>:pending` (bpffs refuses a `.` in a
//! name, `:` is fine), filled, the programs are loaded against it and
//! switched onto every hook (cls_bpf replaced at the same priority and
//! handle, or `bpf_link_update` for TCX), and only then the pending pin is
//! renamed over the old one (bpffs renames within the same file system,
//! replacing the target). The old map lives on as long as a program still
//! uses it, so traffic never meets a missing map.
//!
//! Crash safety: the journal is open during all of it. A `:pending` pin
//! left by an apply that died is removed by the next apply (which starts the
//! replacement again from the old pin, while the hooks keep running whatever
//! programs they ran) and by detach.

use std::path::PathBuf;

use aya::maps::MapData;
use routec_compiler::layout::MapSpec;

use super::maps::{check_pin, MaxEntries};
use super::{chain, Target};
use crate::{Error, Result};

const PENDING: &str = ":pending";

/// Where the replacement of map `name` is pinned until it takes its place.
pub(super) fn pending_pin(target: &Target, name: &str) -> PathBuf {
    target.map_pin(&format!("{name}{PENDING}"))
}

/// Removes every `:pending` pin of the node (an apply that died left it):
/// the programs that use such a map keep it alive until they are replaced.
pub(super) fn remove_pending(target: &Target, specs: &[MapSpec]) -> Vec<String> {
    specs
        .iter()
        .filter(|spec| std::fs::remove_file(pending_pin(target, spec.name)).is_ok())
        .map(|spec| format!("map {}{PENDING}", spec.name))
        .collect()
}

/// True when the pin at the map's place differs from `spec` only in
/// `max_entries`: it is replaced, not refused.
pub(super) fn needs_resize(target: &Target, spec: &MapSpec) -> bool {
    let pin = target.map_pin(spec.name);
    check_pin(&pin, spec, MaxEntries::Check).is_err() && check_pin(&pin, spec, MaxEntries::Ignore).unwrap_or(false)
}

/// The old maps, held open while their replacements take their pins, so
/// that the swap can be undone exactly.
pub(super) struct Swapped {
    old: Vec<(&'static str, MapData)>,
}

/// Renames each pending pin over its map's pin.
pub(super) fn commit(target: &Target, names: &[&'static str]) -> Result<Swapped> {
    let mut swapped = Swapped { old: Vec::new() };
    for &name in names {
        let pin = target.map_pin(name);
        let old =
            MapData::from_pin(&pin).map_err(|e| Error::msg(format!("cannot open {}: {}", pin.display(), chain(&e))))?;
        if let Err(e) = std::fs::rename(pending_pin(target, name), &pin) {
            let problem = Error::msg(format!("cannot rename {name}{PENDING} over {}: {e}", pin.display()));
            return Err(match swapped.undo(target) {
                Ok(()) => problem,
                Err(more) => Error::msg(format!("{problem}; {more}")),
            });
        }
        swapped.old.push((name, old));
    }
    Ok(swapped)
}

impl Swapped {
    /// Puts each old map back at its pin and the new one back at its pending pin.
    pub(super) fn undo(self, target: &Target) -> Result<()> {
        for (name, old) in self.old.into_iter().rev() {
            let pin = target.map_pin(name);
            std::fs::rename(&pin, pending_pin(target, name))
                .map_err(|e| Error::msg(format!("cannot move {} back to {name}{PENDING}: {e}", pin.display())))?;
            old.pin(&pin).map_err(|e| Error::msg(format!("cannot pin the old {name} again: {}", chain(&e))))?;
        }
        Ok(())
    }
}
