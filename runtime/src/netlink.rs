//! Just enough rtnetlink to describe a link: its ifindex and MAC, and for a
//! veth the MAC of its peer, which lives in another namespace.
//!
//! Hand-written (about a hundred lines) because aya keeps its netlink code
//! private and the one query needed here, RTM_GETLINK with
//! IFLA_TARGET_NETNSID, does not justify a netlink crate stack. The peer is
//! found through the kernel's own pointers (IFLA_LINK + IFLA_LINK_NETNSID),
//! so no namespace path has to be known or guessed. Works in the calling
//! thread's network namespace (see `netns`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use routec_compiler::model::Mac;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK: u16 = 5;
const IFLA_LINK_NETNSID: u16 = 37;
const IFLA_TARGET_NETNSID: u16 = 46;
const NLMSG_HDR: usize = 16;
const IFINFOMSG: usize = 16;

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    pub ifindex: u32,
    pub mac: Mac,
    /// For a veth: the peer's ifindex (in `peer_netnsid`'s namespace).
    pub peer_ifindex: Option<u32>,
    /// The peer's namespace as an id relative to this link's namespace.
    pub peer_netnsid: Option<i32>,
}

/// Looks up the link called `name` in the current namespace.
/// `Ok(None)` when there is no such link.
pub fn link_by_name(name: &str) -> io::Result<Option<LinkInfo>> {
    let mut attrs = Vec::new();
    let mut ifname = name.as_bytes().to_vec();
    ifname.push(0);
    push_attr(&mut attrs, IFLA_IFNAME, &ifname);
    get_link(0, &attrs)
}

/// Looks up the link with index `ifindex` in the namespace that the current
/// namespace calls `netnsid`.
pub fn link_in_peer_namespace(netnsid: i32, ifindex: u32) -> io::Result<Option<LinkInfo>> {
    let mut attrs = Vec::new();
    push_attr(&mut attrs, IFLA_TARGET_NETNSID, &netnsid.to_ne_bytes());
    get_link(ifindex, &attrs)
}

/// The MAC of a veth's peer, wherever it lives.
pub fn peer_mac(link: &LinkInfo) -> io::Result<Option<Mac>> {
    match (link.peer_ifindex, link.peer_netnsid) {
        (Some(peer), Some(nsid)) => Ok(link_in_peer_namespace(nsid, peer)?.map(|l| l.mac)),
        (Some(peer), None) => Ok(get_link(peer, &[])?.map(|l| l.mac)),
        _ => Ok(None),
    }
}

fn push_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

fn get_link(ifindex: u32, attrs: &[u8]) -> io::Result<Option<LinkInfo>> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };

    let len = NLMSG_HDR + IFINFOMSG + attrs.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_GETLINK.to_ne_bytes());
    msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    msg.extend_from_slice(&[0; 8]); // flags, change
    msg.extend_from_slice(attrs);
    // SAFETY: msg is a valid buffer of msg.len() bytes.
    if unsafe { libc::send(socket.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut reply = vec![0u8; 64 * 1024];
    // SAFETY: reply is a writable buffer of reply.len() bytes.
    let got = unsafe { libc::recv(socket.as_raw_fd(), reply.as_mut_ptr().cast(), reply.len(), 0) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_reply(&reply[..got as usize])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn parse_reply(msg: &[u8]) -> io::Result<Option<LinkInfo>> {
    let short = || io::Error::new(io::ErrorKind::InvalidData, "short rtnetlink reply");
    if msg.len() < NLMSG_HDR + 4 {
        return Err(short());
    }
    let len = (u32_at(msg, 0) as usize).min(msg.len());
    match u16_at(msg, 4) {
        NLMSG_ERROR => {
            let errno = -(u32_at(msg, NLMSG_HDR) as i32);
            if errno == libc::ENODEV {
                return Ok(None);
            }
            Err(io::Error::from_raw_os_error(errno))
        }
        RTM_NEWLINK if len >= NLMSG_HDR + IFINFOMSG => {
            let ifindex = u32_at(msg, NLMSG_HDR + 4);
            let mut info = LinkInfo { ifindex, mac: Mac::default(), peer_ifindex: None, peer_netnsid: None };
            let mut at = NLMSG_HDR + IFINFOMSG;
            while at + 4 <= len {
                let attr_len = u16_at(msg, at) as usize;
                if attr_len < 4 || at + attr_len > len {
                    break;
                }
                let payload = &msg[at + 4..at + attr_len];
                match u16_at(msg, at + 2) {
                    IFLA_ADDRESS if payload.len() == 6 => info.mac = Mac(payload.try_into().unwrap()),
                    // Sent only when it differs from the link itself; across
                    // namespaces the peer's number may equal ours.
                    IFLA_LINK if payload.len() == 4 => info.peer_ifindex = Some(u32_at(payload, 0)).filter(|&p| p != 0),
                    IFLA_LINK_NETNSID if payload.len() == 4 => info.peer_netnsid = Some(u32_at(payload, 0) as i32),
                    _ => {}
                }
                at += attr_len.next_multiple_of(4);
            }
            Ok(Some(info))
        }
        _ => Err(short()),
    }
}
