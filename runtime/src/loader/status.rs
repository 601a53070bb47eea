//! `routec status`: attached programs per interface, maps with entry counts, counters.

use std::path::PathBuf;

use aya::maps::{MapData, PerCpuArray};
use routec_compiler::bpf::Direction;
use routec_compiler::layout::{self, Reason};
use serde::Serialize;

use super::hooks::{pinned_link_program, tc_parent, tcx_programs};
use super::maps::{count_entries, map_error, open_map};
use super::state::NodeState;
use super::{Target, TcMode};
use crate::{bpffs, netlink, netns, Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ProgramStatus {
    pub interface: String,
    pub ifindex: u32,
    pub direction: Direction,
    /// `tcx-link`, `netlink`, or `foreign` for a program routec did not attach.
    pub mode: String,
    pub program: String,
    pub id: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapStatus {
    pub name: String,
    pub pin: PathBuf,
    pub entries: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CounterStatus {
    pub reason: &'static str,
    pub code: u32,
    pub drop: bool,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: String,
    pub scope: String,
    pub programs: Vec<ProgramStatus>,
    pub maps: Vec<MapStatus>,
    pub counters: Vec<CounterStatus>,
}

impl NodeStatus {
    pub fn counter(&self, reason: Reason) -> u64 {
        self.counters.iter().find(|c| c.code == reason.code()).map_or(0, |c| c.packets)
    }
}

/// The status for people. Programs read like `bpftool net show`'s tc lines
/// (`lxc4a891387ff1a(9) clsact/ingress cil_from_container id 1285`); how a
/// program is attached follows only where it is not the classic cls_bpf
/// filter: `(tcx)` for a TCX link, `(not routec's)` for a program routec did
/// not attach.
impl std::fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "node {} (scope {})", self.node, self.scope)?;
        writeln!(f, "tc:")?;
        for p in &self.programs {
            let mode = match p.mode.as_str() {
                m if m == TcMode::TcxLink.as_str() => " (tcx)",
                m if m == TcMode::Netlink.as_str() => "",
                _ => " (not routec's)",
            };
            writeln!(
                f,
                "{}({}) clsact/{} {} id {}{mode}",
                p.interface,
                p.ifindex,
                p.direction.as_str(),
                p.program,
                p.id
            )?;
        }
        writeln!(f, "maps:")?;
        for m in &self.maps {
            writeln!(f, "{} {} entries ({})", m.name, m.entries, m.pin.display())?;
        }
        writeln!(f, "counters:")?;
        for c in self.counters.iter().filter(|c| c.packets > 0) {
            let verdict = if c.drop { "drop" } else { "forward" };
            writeln!(f, "{verdict:<8} {:<20} {:>10} packets {:>12} bytes", c.reason, c.packets, c.bytes)?;
        }
        Ok(())
    }
}

/// Sums the per-CPU counters of every reason.
pub fn counters(target: &Target) -> Result<Vec<CounterStatus>> {
    let spec = &layout::ROUTEC_COUNTERS;
    let map: PerCpuArray<MapData, [u64; 2]> =
        PerCpuArray::try_from(open_map(target, spec)?).map_err(map_error(spec, "has the wrong shape"))?;
    Reason::ALL
        .iter()
        .map(|reason| {
            let values = map.get(&reason.code(), 0).map_err(map_error(spec, "cannot be read"))?;
            let (packets, bytes) = values.iter().fold((0, 0), |(p, b), v| (p + v[0], b + v[1]));
            Ok(CounterStatus { reason: reason.name(), code: reason.code(), drop: reason.is_drop(), packets, bytes })
        })
        .collect()
}

/// `routec status`: attached programs per interface, maps with entry counts, counters.
pub fn status(target: &Target) -> Result<NodeStatus> {
    bpffs::check(&target.bpffs)?;
    let state = NodeState::load(target)?
        .ok_or_else(|| Error::msg(format!("node {} has no datapath applied (scope {})", target.node, target.scope)))?;
    let netns = target.netns.clone().or(state.netns.clone());
    let programs = netns::run_in(netns.as_deref(), || -> Result<Vec<ProgramStatus>> {
        let mut out = Vec::new();
        for record in &state.attachments {
            let ifindex = netlink::link_by_name(&record.interface)?.map_or(0, |l| l.ifindex);
            let ours = match record.mode {
                TcMode::TcxLink => pinned_link_program(&record.link_pin),
                TcMode::Netlink => Some(record.program_id),
            };
            // Every program on the hook, ours or not (TCX links first, they
            // run first); the kernel keeps 15 characters of a name, the
            // record has ours in full.
            let mut found = tcx_programs(&record.interface, record.direction).unwrap_or_default();
            let filters = netlink::tc_bpf_filters(ifindex, tc_parent(record.direction)).unwrap_or_default();
            found.extend(filters.into_iter().map(|f| (f.program_id, f.name)));
            for (id, name) in found {
                let (program, mode) = if Some(id) == ours {
                    (record.program.clone(), record.mode.as_str().to_string())
                } else {
                    (name, "foreign".to_string())
                };
                out.push(ProgramStatus {
                    interface: record.interface.clone(),
                    ifindex,
                    direction: record.direction,
                    mode,
                    program,
                    id,
                });
            }
        }
        out.sort_by_key(|p| (p.ifindex, p.direction, p.id));
        // Two records on one hook would list its programs twice.
        out.dedup_by(|a, b| a.ifindex == b.ifindex && a.direction == b.direction && a.id == b.id);
        Ok(out)
    })?;
    let mut maps = Vec::new();
    for spec in &layout::ALL_MAPS {
        let entries = count_entries(target, spec)?;
        maps.push(MapStatus { name: spec.name.into(), pin: target.map_pin(spec.name), entries });
    }
    Ok(NodeStatus {
        node: target.node.clone(),
        scope: target.scope.clone(),
        programs,
        maps,
        counters: counters(target)?,
    })
}
