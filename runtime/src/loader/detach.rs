//! `routec detach`: removes every hook, pin and record routec made for a
//! node, including hooks of an apply that died before writing its record
//! (its journal names them; routec's programs are recognised on them).

use routec_compiler::bpf::Direction;
use routec_compiler::layout;

use super::hooks::{self, NodeMaps};
use super::resize;
use super::state::{earlier_hooks, remove_state_file, Journal, NodeState};
use super::{Target, TcMode};
use crate::lock::{Lock, Wait};
use crate::{bpffs, netns, Context, Error, Result};

/// [`detach_with`], waiting for the node's lock.
pub fn detach(target: &Target) -> Result<Vec<String>> {
    detach_with(target, Wait::Block)
}

/// Removes the node's datapath; what was removed, as `filter|link|map NAME`.
pub fn detach_with(target: &Target, wait: Wait) -> Result<Vec<String>> {
    bpffs::check(&target.bpffs)?;
    let _lock = Lock::acquire(&target.lock_file(), &target.lock_subject(), wait)?;
    let mut removed = Vec::new();
    let state = NodeState::load(target)?;
    let journal = Journal::load(target)?;
    let netns = target
        .netns
        .clone()
        .or_else(|| state.as_ref().and_then(|s| s.netns.clone()))
        .or_else(|| journal.as_ref().and_then(|j| j.netns.clone()));
    let node_maps = NodeMaps::of(target);
    let known = earlier_hooks(state.as_ref(), journal.as_ref());
    netns::run_in(netns.as_deref(), || -> Result<()> {
        for record in &known {
            if hooks::detach(record, &node_maps).context(|| format!("cannot detach {}", record.hook()))? {
                let kind = match record.mode {
                    TcMode::TcxLink => "link",
                    TcMode::Netlink => "filter",
                };
                removed.push(format!("{kind} {}", record.hook()));
            }
        }
        Ok(())
    })?;
    for direction in [Direction::Ingress, Direction::Egress] {
        let links = target.pin_dir().join("links").join(direction.as_str());
        for entry in std::fs::read_dir(&links).into_iter().flatten().flatten() {
            if std::fs::remove_file(entry.path()).is_ok() {
                removed.push(format!("link {}.{}", entry.file_name().to_string_lossy(), direction.as_str()));
            }
        }
    }
    for spec in &layout::ALL_MAPS {
        if std::fs::remove_file(target.map_pin(spec.name)).is_ok() {
            removed.push(format!("map {}", spec.name));
        }
    }
    removed.extend(resize::remove_pending(target, &layout::ALL_MAPS));
    target.remove_empty_pin_dirs();
    remove_state_file(&target.state_file())?;
    remove_state_file(&target.journal_file())?;
    remove_state_file(&target.applied_file())?;
    if target.pin_dir().exists() {
        return Err(Error::msg(format!("{} still holds pins routec did not make", target.pin_dir().display())));
    }
    Ok(removed)
}
