//! Phase 1a of an apply: every interface the plan names, found in the
//! current (the node's) namespace. Declared ifindexes and MACs must match
//! the real ones; undeclared ones are filled in. The pod-side MAC of an lxc
//! is found through the kernel's own pointers (IFLA_LINK + IFLA_LINK_NETNSID,
//! then RTM_GETLINK with IFLA_TARGET_NETNSID), so apply needs no path to the
//! pod's namespace.

use std::collections::HashMap;

use routec_compiler::bpf::Ifindexes;
use routec_compiler::layout::{EndpointInfo, EndpointKey};
use routec_compiler::model::Mac;

use super::plan::NodePlan;
use crate::netlink::{self, LinkInfo};
use crate::{Context, Error, Result};

/// The lxc seed with every ifindex and MAC filled, and the ifindexes of the
/// overlay device and the underlay device (0 for one the plan does not
/// name). All problems are reported at once.
pub(super) fn discover(plan: &NodePlan) -> Result<(Vec<(EndpointKey, EndpointInfo)>, Ifindexes)> {
    let mut missing = Vec::new();
    let mut links: HashMap<&str, LinkInfo> = HashMap::new();
    let names = plan
        .attachments
        .iter()
        .map(|a| a.interface.as_str())
        .chain(plan.endpoints.iter().map(|e| e.lxc.as_str()))
        .chain(plan.overlay_device.as_deref())
        .chain(plan.device.as_deref());
    for name in names {
        if links.contains_key(name) || missing.contains(&name) {
            continue;
        }
        match netlink::link_by_name(name).context(|| format!("cannot query interface {name}"))? {
            Some(link) => {
                links.insert(name, link);
            }
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        return Err(Error::msg(format!("interface(s) missing in the node's namespace: {}", missing.join(", "))));
    }
    let ifindex_of = |device: &Option<String>| device.as_deref().map_or(0, |d| links[d].ifindex);
    let ifindexes = Ifindexes { overlay: ifindex_of(&plan.overlay_device), device: ifindex_of(&plan.device) };

    let mut problems = Vec::new();
    let mut filled = Vec::with_capacity(plan.lxc_seed.len());
    for (key, seeded) in &plan.lxc_seed {
        let mut info = *seeded;
        if !info.is_host() {
            let Some(endpoint) = plan.endpoints.iter().find(|e| e.ips.contains(&key.ip_addr())) else {
                problems.push(format!("cilium_lxc has {key} but the cluster has no such pod on this node"));
                continue;
            };
            let link = &links[endpoint.lxc.as_str()];
            let lxc = &endpoint.lxc;
            if info.ifindex == 0 {
                info.ifindex = link.ifindex;
            } else if info.ifindex != link.ifindex {
                problems.push(format!(
                    "{lxc}: declared ifindex {} but the interface has ifindex {}",
                    info.ifindex, link.ifindex
                ));
            }
            let mut fill_mac = |slot: &mut [u8; 8], real: Mac, what: &str| {
                let declared = Mac(slot[..6].try_into().unwrap());
                if declared.is_zero() {
                    slot[..6].copy_from_slice(&real.0);
                } else if declared != real {
                    problems.push(format!("{lxc}: declared {what} {declared} but the interface has {real}"));
                }
            };
            fill_mac(&mut info.node_mac, link.mac, "node-mac");
            match netlink::peer_mac(link).context(|| format!("cannot find the pod side of {lxc}"))? {
                Some(peer) => fill_mac(&mut info.mac, peer, "mac (pod side)"),
                None => {
                    problems.push(format!("{lxc} is not a veth with a reachable peer: the pod-side MAC is unknown"))
                }
            }
        }
        filled.push((*key, info));
    }
    if !problems.is_empty() {
        return Err(Error::msg(problems.join("\n")));
    }
    Ok((filled, ifindexes))
}
