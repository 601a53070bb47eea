//! Programs on tc hooks: attaching or switching (atomically, in place),
//! removing, and recognising routec's own programs on a hook from the
//! kernel alone, so that a hook attached by an apply that died before its
//! record is adopted or removed instead of wedging the node.
//!
//! A program on a hook is routec's when it sits where routec attaches (the
//! cls_bpf filter at priority 1, handle 1, or a TCX link pinned in the
//! node's pin folder), has the name of one of routec's programs, and uses
//! this node's pinned `cilium_lxc` or `routec_counters` map.

use std::path::Path;

use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::tc::{NlOptions, SchedClassifierLink, TcAttachOptions, TcHandle};
use aya::programs::{LinkOrder, ProgramError, ProgramInfo, SchedClassifier, TcAttachType};
use routec_compiler::bpf::{Direction, PROGRAMS};
use routec_compiler::layout;

use super::state::AttachRecord;
use super::{chain, maps, Target, TcMode};
use crate::netlink;
use crate::{Error, Result};

/// Priority and handle of routec's cls_bpf filter on a hook.
const NETLINK_PRIORITY: u16 = 1;
const NETLINK_HANDLE: TcHandle = TcHandle::new(0, 1);

/// The kernel keeps this many characters of a program's name.
const KERNEL_NAME_LEN: usize = 15;

pub(super) fn tc_attach_type(direction: Direction) -> TcAttachType {
    match direction {
        Direction::Ingress => TcAttachType::Ingress,
        Direction::Egress => TcAttachType::Egress,
    }
}

pub(super) fn tc_parent(direction: Direction) -> u32 {
    match direction {
        Direction::Ingress => netlink::TC_PARENT_INGRESS,
        Direction::Egress => netlink::TC_PARENT_EGRESS,
    }
}

/// The ids of the node's pinned maps that every routec program uses.
pub(super) struct NodeMaps {
    ids: Vec<u32>,
}

impl NodeMaps {
    pub(super) fn of(target: &Target) -> Self {
        let ids = [layout::CILIUM_LXC, layout::ROUTEC_COUNTERS]
            .iter()
            .filter_map(|spec| maps::pinned_map_id(target, spec))
            .collect();
        NodeMaps { ids }
    }

    /// True when program `id` is one of routec's programs using these maps.
    fn run_by(&self, id: u32) -> bool {
        program_info(id).is_some_and(|info| {
            let name = info.name_as_str().unwrap_or_default();
            let named =
                PROGRAMS.iter().any(|p| !name.is_empty() && &p.name[..p.name.len().min(KERNEL_NAME_LEN)] == name);
            let uses = info.map_ids().ok().flatten().unwrap_or_default();
            named && uses.iter().any(|m| self.ids.contains(m))
        })
    }
}

fn program_info(id: u32) -> Option<ProgramInfo> {
    aya::programs::loaded_programs().flatten().find(|info| info.id() == id)
}

fn netlink_filter(record: &AttachRecord) -> Option<netlink::TcFilter> {
    let ifindex = netlink::link_by_name(&record.interface).ok()??.ifindex;
    netlink::tc_bpf_filters(ifindex, tc_parent(record.direction))
        .ok()?
        .into_iter()
        .find(|f| f.priority == NETLINK_PRIORITY && f.handle == u32::from(NETLINK_HANDLE))
}

/// Program ids attached with TCX on `interface`/`direction` in the current namespace.
pub(super) fn tcx_programs(interface: &str, direction: Direction) -> Result<Vec<(u32, String)>> {
    let (_, programs) = SchedClassifier::query_tcx(interface, tc_attach_type(direction)).map_err(|e| {
        Error::msg(format!("cannot list the tcx programs of {interface} {}: {}", direction.as_str(), chain(&e)))
    })?;
    Ok(programs.iter().map(|p| (p.id(), p.name_as_str().unwrap_or("?").to_string())).collect())
}

/// The program id behind a pinned link, if the pin exists.
pub(super) fn pinned_link_program(pin: &Path) -> Option<u32> {
    let link = FdLink::from(PinnedLink::from_pin(pin).ok()?);
    link.info().ok().map(|info| info.program_id())
}

/// True when the link pinned at the record's pin is attached where the record says.
fn link_is_live(record: &AttachRecord) -> bool {
    let Some(program) = pinned_link_program(&record.link_pin) else { return false };
    tcx_programs(&record.interface, record.direction).is_ok_and(|ids| ids.iter().any(|(id, _)| *id == program))
}

/// True when the record's program is attached where the record says (in
/// the current namespace).
pub(super) fn is_live(record: &AttachRecord) -> bool {
    match record.mode {
        TcMode::TcxLink => link_is_live(record),
        TcMode::Netlink => netlink_filter(record).is_some_and(|f| f.program_id == record.program_id),
    }
}

/// The id of routec's program on the record's hook in the record's mode,
/// whichever apply attached it.
pub(super) fn running(record: &AttachRecord, maps: &NodeMaps) -> Option<u32> {
    match record.mode {
        TcMode::TcxLink if link_is_live(record) => pinned_link_program(&record.link_pin),
        TcMode::TcxLink => None,
        TcMode::Netlink => {
            netlink_filter(record).map(|f| f.program_id).filter(|id| *id == record.program_id || maps.run_by(*id))
        }
    }
}

/// A cls_bpf filter that is not routec's where routec attaches: apply
/// refuses to replace it.
pub(super) fn foreign_filter(record: &AttachRecord, maps: &NodeMaps) -> Option<String> {
    if record.mode != TcMode::Netlink {
        return None;
    }
    let filter = netlink_filter(record)?;
    (running(record, maps).is_none()).then(|| {
        format!(
            "{} {} holds a tc filter at priority {NETLINK_PRIORITY} handle {} that routec did not attach \
             (program {} `{}`): remove it first",
            record.interface,
            record.direction.as_str(),
            u32::from(NETLINK_HANDLE),
            filter.program_id,
            filter.name
        )
    })
}

/// Program `id` on the record's hook, held open so that it can be attached again.
pub(super) fn hold(record: &AttachRecord, id: u32) -> Result<SchedClassifier> {
    let held = |e: ProgramError| Error::msg(format!("cannot hold program {id} of {}: {}", record.hook(), chain(&e)));
    let info = program_info(id).ok_or_else(|| Error::msg(format!("program {id} of {} is gone", record.hook())))?;
    SchedClassifier::from_program_info(info, record.program.clone().into()).map_err(held)
}

/// Attaches `prog` per `record`, switching atomically from the program that
/// runs there when there is one (phase 1 made sure such a filter is
/// routec's). Returns the program id.
pub(super) fn attach(prog: &mut SchedClassifier, record: &AttachRecord) -> Result<u32> {
    let what = || format!("cannot attach {} to {} {}", record.program, record.interface, record.direction.as_str());
    let fail = |e: &dyn std::error::Error| Error::msg(format!("{}: {}", what(), chain(e)));
    let program_id = prog.info().map_err(|e| fail(&e))?.id();
    match record.mode {
        TcMode::TcxLink => {
            let live = link_is_live(record);
            let link_id = if live {
                let pinned = PinnedLink::from_pin(&record.link_pin).map_err(|e| fail(&e))?;
                let link = SchedClassifierLink::try_from(FdLink::from(pinned)).map_err(|e| fail(&e))?;
                prog.attach_to_link(link).map_err(|e| fail(&e))?
            } else {
                // A pin whose link no longer works (its interface was re-created) is replaced.
                let _ = std::fs::remove_file(&record.link_pin);
                prog.attach_with_options(
                    &record.interface,
                    tc_attach_type(record.direction),
                    TcAttachOptions::TcxOrder(LinkOrder::default()),
                )
                .map_err(|e| fail(&e))?
            };
            let link = prog.take_link(link_id).map_err(|e| fail(&e))?;
            if !live {
                let fd_link: FdLink = link.try_into().map_err(|e: aya::programs::links::LinkError| fail(&e))?;
                fd_link
                    .pin(&record.link_pin)
                    .map_err(|e| Error::msg(format!("{}: cannot pin the link: {}", what(), chain(&e))))?;
            }
        }
        TcMode::Netlink => {
            if let Err(e) = aya::programs::tc::qdisc_add_clsact(&record.interface) {
                let exists =
                    matches!(&e, aya::programs::tc::TcError::NetlinkError(n) if n.raw_os_error() == Some(libc::EEXIST));
                if !exists {
                    return Err(fail(&e));
                }
            }
            let options = NlOptions { priority: NETLINK_PRIORITY, handle: NETLINK_HANDLE, classid: None };
            let link_id = if netlink_filter(record).is_some() {
                // Replacing the filter in place swaps the program atomically.
                let existing = SchedClassifierLink::attached(
                    &record.interface,
                    tc_attach_type(record.direction),
                    NETLINK_PRIORITY,
                    NETLINK_HANDLE,
                    None,
                )
                .map_err(|e| fail(&e))?;
                prog.attach_to_link(existing).map_err(|e| fail(&e))?
            } else {
                prog.attach_with_options(
                    &record.interface,
                    tc_attach_type(record.direction),
                    TcAttachOptions::Netlink(options),
                )
                .map_err(|e| fail(&e))?
            };
            // A netlink link detaches when dropped: this one must outlive the process.
            std::mem::forget(prog.take_link(link_id).map_err(|e| fail(&e))?);
        }
    }
    Ok(program_id)
}

/// Removes routec's program from the record's hook (in the current
/// namespace); `Ok(false)` when none was there.
pub(super) fn detach(record: &AttachRecord, maps: &NodeMaps) -> Result<bool> {
    match record.mode {
        TcMode::TcxLink => {
            let program = pinned_link_program(&record.link_pin);
            if std::fs::remove_file(&record.link_pin).is_err() {
                return Ok(false);
            }
            // The kernel frees an unpinned link asynchronously: wait until
            // its program is off the hook, so the caller sees it gone.
            let Some(id) = program else { return Ok(true) };
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while tcx_programs(&record.interface, record.direction).is_ok_and(|ids| ids.iter().any(|(p, _)| *p == id)) {
                if std::time::Instant::now() > deadline {
                    return Err(Error::msg(format!(
                        "{} still runs program {id} after its link was unpinned",
                        record.hook()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(true)
        }
        TcMode::Netlink => {
            if running(record, maps).is_none() {
                return Ok(false);
            }
            let link = SchedClassifierLink::attached(
                &record.interface,
                tc_attach_type(record.direction),
                NETLINK_PRIORITY,
                NETLINK_HANDLE,
                None,
            )?;
            // Dropping an attached netlink link deletes the filter.
            drop(link);
            Ok(true)
        }
    }
}
