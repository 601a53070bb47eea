//! The syntax tree of one `.route` file. Every node carries its file and byte
//! span; statements are kept in source order, duplicates included, so that
//! validation can label both places and the formatter can print them back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::expect::Outcome;
use crate::model::{Mac, OverlayKind};
use crate::source::Span;
use crate::trace::Proto;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// An IPv4 prefix as written: the length is not yet checked against 32 nor
/// the host bits against zero (validation reports those with their codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    pub addr: Ipv4Addr,
    pub len: u8,
}

/// An IPv6 prefix as written: the length is not yet checked against 128 nor
/// the host bits against zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix6 {
    pub addr: Ipv6Addr,
    pub len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Cluster(ClusterItem),
    Node(NodeItem),
    Pod(PodItem),
    Expect(ExpectItem),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Cluster(c) => c.span,
            Item::Node(n) => n.span,
            Item::Pod(p) => p.span,
            Item::Expect(e) => e.span,
        }
    }
}

/// `{ ... }`: the statements of a block, and where its braces are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block<K> {
    pub open: Span,
    pub close: Span,
    pub stmts: Vec<Stmt<K>>,
    /// A statement of this block had a syntax error and was skipped, so a
    /// "required statement missing" would only repeat that error.
    pub recovered: bool,
}

/// One statement: its keyword, what it says, and its whole extent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt<K> {
    pub keyword: Span,
    pub kind: K,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterItem {
    pub keyword: Span,
    pub name: Spanned<String>,
    pub block: Block<ClusterStmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterStmt {
    Overlay { kind: Spanned<OverlayKind>, block: Option<Block<OverlayStmt>> },
    Mtu(Spanned<u64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayStmt {
    Port(Spanned<u64>),
    Vni(Spanned<u64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeItem {
    pub keyword: Span,
    pub name: Spanned<String>,
    pub block: Block<NodeStmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStmt {
    Address(Spanned<Ipv4Addr>),
    PodCidr(Spanned<Prefix>),
    Router(Spanned<Ipv4Addr>),
    Device(Spanned<String>),
    /// The IPv6 forms of `address`, `pod-cidr` and `router` (same keywords;
    /// the value's family picks the variant). Checked by `crate::dual_stack`.
    Address6(Spanned<Ipv6Addr>),
    PodCidr6(Spanned<Prefix6>),
    Router6(Spanned<Ipv6Addr>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodItem {
    pub keyword: Span,
    pub name: Spanned<String>,
    pub node: Spanned<String>,
    pub block: Block<PodStmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodStmt {
    Ip(Spanned<Ipv4Addr>),
    Endpoint(Spanned<u64>),
    Identity(Spanned<u64>),
    Lxc(Spanned<String>),
    Ifindex(Spanned<u64>),
    Mac(Spanned<Mac>),
    NodeMac(Spanned<Mac>),
    /// `ip` with an IPv6 address.
    Ip6(Spanned<Ipv6Addr>),
}

/// `expect SRC -> DST OUTCOME [REASON] [{ ... }]`: a test of the datapath,
/// not part of it (see `crate::expect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectItem {
    pub keyword: Span,
    pub src: Spanned<EndpointRef>,
    pub arrow: Span,
    pub dst: Spanned<EndpointRef>,
    pub outcome: Spanned<Outcome>,
    /// A reason name as written; checked against `layout::Reason` (E0018).
    pub reason: Option<Spanned<String>>,
    pub block: Option<Block<ExpectStmt>>,
    pub span: Span,
}

/// One end of an expectation, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointRef {
    /// A pod by `namespace/name`.
    Pod(String),
    Address(IpAddr),
    /// `node NAME`: the span is the name's.
    Node(Spanned<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectStmt {
    Proto(Spanned<Proto>),
    Port(Spanned<u64>),
    Ttl(Spanned<u64>),
}

/// The keywords of each block, for "unknown statement" suggestions and for
/// telling the user which block a misplaced statement belongs in.
pub const ITEM_KEYWORDS: &[&str] = &["cluster", "node", "pod", "expect"];
pub const CLUSTER_KEYWORDS: &[&str] = &["overlay", "mtu"];
pub const OVERLAY_KEYWORDS: &[&str] = &["port", "vni"];
pub const NODE_KEYWORDS: &[&str] = &["address", "pod-cidr", "router", "device"];
pub const POD_KEYWORDS: &[&str] = &["ip", "endpoint", "identity", "lxc", "ifindex", "mac", "node-mac"];
pub const EXPECT_KEYWORDS: &[&str] = &["proto", "port", "ttl"];
