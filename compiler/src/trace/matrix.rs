//! `routec trace --all`: the verdict for every ordered pair of distinct pods.

use std::net::IpAddr;

use serde::Serialize;

use super::simulate::{check_buildable, trace_packet, Family, Packet, Proto, ReasonRef, TraceError, Verdict};
use super::view::{Datapath, PodRef};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairVerdict {
    pub src: String,
    pub dst: String,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    /// `delivered`, `to-stack`, `dropped` or `left-cluster`.
    pub result: &'static str,
    /// The node whose program decided.
    pub node: String,
    pub reason: ReasonRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matrix {
    /// The family of every packet (IPv4 unless asked for IPv6).
    #[serde(skip_serializing_if = "is_ipv4")]
    pub family: Family,
    /// Every pod with an address of the family: the columns.
    pub pods: Vec<PodRef>,
    /// Indexes into `pods` of the rows: the pods traced from (all of them,
    /// unless the view lacks some node's maps).
    pub sources: Vec<usize>,
    /// Row by row, skipping the diagonal.
    pub pairs: Vec<PairVerdict>,
    pub delivered: usize,
    pub not_delivered: usize,
}

impl Matrix {
    /// The verdict from pod `src` to pod `dst` (indexes into `pods`).
    pub fn get(&self, src: usize, dst: usize) -> Option<&PairVerdict> {
        let row = self.sources.binary_search(&src).ok()?;
        if src == dst {
            return None;
        }
        let column = if dst > src { dst - 1 } else { dst };
        self.pairs.get(row * (self.pods.len() - 1) + column)
    }
}

/// The most pairs `--all` computes (about 2,000 pods): every pair is kept in
/// memory with its verdict, around 250 bytes each.
pub const MAX_PAIRS: u64 = 4_194_304;

fn is_ipv4(family: &Family) -> bool {
    *family == Family::Ipv4
}

/// The IPv4 matrix: [`matrix_of`] IPv4.
pub fn matrix(view: &(dyn Datapath + Sync)) -> Result<Matrix, TraceError> {
    matrix_of(view, Family::Ipv4)
}

/// The IPv6 matrix, when any pod of the view has an IPv6 address.
pub fn matrix6(view: &(dyn Datapath + Sync)) -> Result<Option<Matrix>, TraceError> {
    if !view.pods().iter().any(|p| p.ip6.is_some()) {
        return Ok(None);
    }
    matrix_of(view, Family::Ipv6).map(Some)
}

/// Traces an ICMP packet (TTL 64) of `family` between every ordered pair of
/// distinct pods that have an address of it, from every such pod on a node
/// whose maps the view has. Rows are traced on all cores: each trace is
/// independent.
pub fn matrix_of(view: &(dyn Datapath + Sync), family: Family) -> Result<Matrix, TraceError> {
    check_buildable(view)?;
    let pods: Vec<PodRef> = view.pods().iter().filter(|p| p.ip_of(family).is_some()).cloned().collect();
    let pod_count = pods.len();
    let pairs = pod_count as u64 * pod_count.saturating_sub(1) as u64;
    if pairs > MAX_PAIRS {
        return Err(TraceError::MatrixTooLarge { pods: pod_count, pairs, limit: MAX_PAIRS });
    }
    let sources: Vec<usize> = (0..pods.len()).filter(|&i| view.has_maps(&pods[i].node)).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = sources.len().div_ceil(threads).max(1);
    let rows: Vec<Result<Vec<PairVerdict>, TraceError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = sources
            .chunks(chunk)
            .map(|rows| {
                let pods = &pods;
                scope.spawn(move || {
                    let mut pairs = Vec::with_capacity(rows.len() * pods.len());
                    for &i in rows {
                        trace_row(view, family, pods, i, &mut pairs)?;
                    }
                    Ok(pairs)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut pairs = Vec::with_capacity(sources.len() * pods.len().saturating_sub(1));
    for row in rows {
        pairs.extend(row?);
    }
    let delivered = pairs.iter().filter(|p| p.result == "delivered").count();
    Ok(Matrix { family, not_delivered: pairs.len() - delivered, delivered, pods, sources, pairs })
}

/// The verdicts from pod `i` to every other pod, appended to `pairs`.
fn trace_row(
    view: &dyn Datapath,
    family: Family,
    pods: &[PodRef],
    i: usize,
    pairs: &mut Vec<PairVerdict>,
) -> Result<(), TraceError> {
    let src = &pods[i];
    let address = |pod: &PodRef| pod.ip_of(family).expect("the matrix holds pods of its family");
    for (j, dst) in pods.iter().enumerate() {
        if i == j {
            continue;
        }
        let packet = Packet { src: address(src), dst: address(dst), proto: Proto::Icmp, port: None, ttl: 64 };
        let trace = trace_packet(view, src, packet)?;
        let (result, node) = match &trace.verdict {
            Verdict::Delivered { node, .. } => ("delivered", node.clone()),
            Verdict::ToStack { node, .. } => ("to-stack", node.clone()),
            Verdict::Dropped { node, .. } => ("dropped", node.clone()),
            Verdict::LeftCluster { node, .. } => ("left-cluster", node.clone()),
        };
        pairs.push(PairVerdict {
            src: src.name.clone(),
            dst: dst.name.clone(),
            src_ip: packet.src,
            dst_ip: packet.dst,
            result,
            node,
            reason: trace.verdict.reason(),
        });
    }
    Ok(())
}
