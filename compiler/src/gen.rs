//! Large synthetic clusters for benchmarks and scale tests: valid by
//! construction (no overlaps, every id unique where the language requires),
//! deterministic for a seed, and printed in `routec fmt`'s canonical layout.
//!
//! Layout: node `i` has underlay address `172.16.0.0/12` + `i` (skipping `.0`
//! and `.255`), pod-cidr `10.(i / 256).(i % 256).0/24` and its default
//! router `.1`; its pods are `.2` upwards. So up to 65,536 nodes of up to
//! 253 pods, and no node address can fall inside a pod-cidr.
//!
//! Dual stack ([`Stack`]) adds the IPv6 pod-cidr `fd00:10:<i in hex>::/64`
//! (router `::1`) to node `i` and `fd00:10:<i>::<2 + j>` to its pod `j`;
//! IPv6-only pods (a given share, drawn from the seed) have no IPv4 `ip`.
//! Without it the output is the IPv4-only cluster it has always been.
//!
//! `overlay none` ([`generate_network`]) writes native routing instead of
//! VXLAN, and with dual stack gives node `i` the IPv6 address
//! `fd00:172:16::<i + 1>`, its IPv6 next hop.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::model::OverlayKind;

pub const MAX_NODES: usize = 65_536;
pub const MAX_PODS_PER_NODE: usize = 253;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    pub nodes: usize,
    pub pods_per_node: usize,
    pub seed: u64,
}

/// Which address families the generated pods have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stack {
    /// IPv6 pod-cidrs on every node and IPv6 ips on every pod.
    pub dual_stack: bool,
    /// The percentage (0..=100) of pods that have only their IPv6 ip; needs `dual_stack`.
    pub ipv6_only_percent: u8,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("--ipv6-only must be 0..=100 percent and needs --dual-stack, got {0}")]
    Ipv6Only(u8),
    #[error("--nodes must be 1..={MAX_NODES} (pod-cidrs are /24s of 10.0.0.0/8), got {0}")]
    Nodes(usize),
    #[error("--pods-per-node must be 0..={MAX_PODS_PER_NODE} (a /24 has 253 addresses besides its network, broadcast and router), got {0}")]
    PodsPerNode(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

const NAMESPACES: &[&str] = &["default", "shop", "payments", "search", "monitoring", "batch", "auth", "media"];
const APPS: &[&str] =
    &["frontend", "api", "worker", "cache", "db", "gateway", "indexer", "exporter", "scheduler", "proxy"];

/// splitmix64: a dozen lines that keep generated clusters identical across
/// versions of any random-number crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MASK48: u64 = (1 << 48) - 1;

/// A bijection on 48-bit values keyed by the seed, so lxc names look random
/// yet can never collide.
fn permute48(x: u64, key: u64) -> u64 {
    let mut x = (x ^ key) & MASK48;
    x = x.wrapping_mul(0x9e37_79b9_7f4b) & MASK48;
    x ^= x >> 24;
    x = x.wrapping_mul(0xbf58_476d_1ce5) & MASK48;
    x ^ (x >> 17)
}

pub fn node_address(i: usize) -> Ipv4Addr {
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 0));
    Ipv4Addr::from(base + (i as u32 / 254) * 256 + (i as u32 % 254) + 1)
}

pub fn pod_cidr_network(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, (i >> 8) as u8, (i & 0xff) as u8, 0)
}

fn mac(rng: &mut SplitMix) -> String {
    let b = rng.next().to_le_bytes();
    // Locally administered unicast.
    let first = (b[0] & 0xfc) | 0x02;
    format!("{first:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[1], b[2], b[3], b[4], b[5])
}

/// The IPv6 pod-cidr network of node `i`: `fd00:10:<i>::`.
pub fn pod_cidr6_network(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x10, i as u16, 0, 0, 0, 0, 0)
}

/// The IPv6 underlay address of node `i` under native routing:
/// `fd00:172:16::<i + 1>`, outside every pod-cidr `fd00:10:<i>::/64`.
pub fn node_address6(i: usize) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0xfd00, 0x172, 0x16, 0, 0, 0, 0, 0)) + i as u128 + 1)
}

/// Writes the IPv4-only cluster to `out`.
pub fn generate(opts: &GenOptions, out: &mut dyn Write) -> Result<(), GenError> {
    generate_stack(opts, Stack::default(), out)
}

/// Writes the cluster with the address families of `stack` to `out`.
pub fn generate_stack(opts: &GenOptions, stack: Stack, out: &mut dyn Write) -> Result<(), GenError> {
    generate_network(opts, stack, OverlayKind::Vxlan, out)
}

/// Writes the cluster with the address families of `stack` and the overlay
/// `overlay` (VXLAN on port 8472, or `none` for native routing) to `out`.
pub fn generate_network(
    opts: &GenOptions,
    stack: Stack,
    overlay: OverlayKind,
    out: &mut dyn Write,
) -> Result<(), GenError> {
    if stack.ipv6_only_percent > 100 || (stack.ipv6_only_percent > 0 && !stack.dual_stack) {
        return Err(GenError::Ipv6Only(stack.ipv6_only_percent));
    }
    if opts.nodes == 0 || opts.nodes > MAX_NODES {
        return Err(GenError::Nodes(opts.nodes));
    }
    if opts.pods_per_node > MAX_PODS_PER_NODE {
        return Err(GenError::PodsPerNode(opts.pods_per_node));
    }
    let mut rng = SplitMix(opts.seed);
    let lxc_key = rng.next();
    let width = (opts.nodes - 1).to_string().len();
    let mut flags = match (stack.dual_stack, stack.ipv6_only_percent) {
        (false, _) => String::new(),
        (true, 0) => " --dual-stack".to_string(),
        (true, share) => format!(" --dual-stack --ipv6-only {share}"),
    };
    if overlay != OverlayKind::Vxlan {
        flags += &format!(" --overlay {}", overlay.as_str());
    }
    let overlay_block = match overlay {
        OverlayKind::None => "    overlay none\n".to_string(),
        kind => format!("    overlay {} {{\n        port {}\n    }}\n", kind.as_str(), default_port(kind)),
    };
    writeln!(
        out,
        "# Generated by `routec gen --nodes {} --pods-per-node {} --seed {}{flags}`.",
        opts.nodes, opts.pods_per_node, opts.seed
    )?;
    writeln!(out, "cluster synthetic {{\n{overlay_block}    mtu 1500\n}}")?;
    for i in 0..opts.nodes {
        let node = format!("node-{i:0width$}");
        let net = pod_cidr_network(i);
        write!(out, "\nnode {node} {{\n    address {}\n    pod-cidr {net}/24\n", node_address(i))?;
        if stack.dual_stack {
            writeln!(out, "    pod-cidr {}/64", pod_cidr6_network(i))?;
            if overlay == OverlayKind::None {
                // Native routing's IPv6 next hop (E0019).
                writeln!(out, "    address {}", node_address6(i))?;
            }
        }
        writeln!(out, "}}")?;
        let endpoint_offset = rng.below(4095);
        for j in 0..opts.pods_per_node {
            let namespace = NAMESPACES[rng.below(NAMESPACES.len() as u64) as usize];
            let app = APPS[rng.below(APPS.len() as u64) as usize];
            let ip = Ipv4Addr::from(u32::from(net) + 2 + j as u32);
            // 11 is coprime to 4095, so endpoints on one node never repeat.
            let endpoint = (j as u64 * 11 + endpoint_offset) % 4095 + 1;
            let identity = 256 + rng.below(65_536);
            let lxc = permute48(((i as u64) << 8) | j as u64, lxc_key);
            writeln!(out, "\npod {namespace}/{app}-{i}-{j} on {node} {{")?;
            // Drawn only when asked for, so other outputs keep their random stream.
            let ipv6_only = stack.ipv6_only_percent > 0 && rng.below(100) < u64::from(stack.ipv6_only_percent);
            if !ipv6_only {
                writeln!(out, "    ip {ip}")?;
            }
            if stack.dual_stack {
                let ip6 = Ipv6Addr::from(u128::from(pod_cidr6_network(i)) + 2 + j as u128);
                writeln!(out, "    ip {ip6}")?;
            }
            writeln!(out, "    endpoint {endpoint}\n    identity {identity}\n    lxc lxc{lxc:012x}")?;
            // A quarter of the pods leave ifindex and MACs to discovery, as
            // real clusters exported from incomplete dumps do.
            if rng.below(4) != 0 {
                writeln!(out, "    ifindex {}", 10 + 2 * j)?;
                writeln!(out, "    mac {}\n    node-mac {}", mac(&mut rng), mac(&mut rng))?;
            }
            writeln!(out, "}}")?;
        }
    }
    Ok(())
}

/// The port `overlay` takes by default (docs/language.md).
fn default_port(overlay: OverlayKind) -> u16 {
    match overlay {
        OverlayKind::Geneve => 6081,
        OverlayKind::Vxlan | OverlayKind::None => 8472,
    }
}

pub fn generate_string(opts: &GenOptions) -> Result<String, GenError> {
    generate_stack_string(opts, Stack::default())
}

pub fn generate_stack_string(opts: &GenOptions, stack: Stack) -> Result<String, GenError> {
    let mut out = Vec::new();
    generate_stack(opts, stack, &mut out)?;
    Ok(String::from_utf8(out).expect("the generator writes ASCII"))
}
