//! Just enough rtnetlink for the loader: a link's ifindex and MAC, for a
//! veth the MAC of its peer (which lives in another namespace), and the
//! cls_bpf filters on a clsact hook.
//!
//! Hand-written (two small queries) because aya keeps its netlink code
//! private, and RTM_GETLINK with IFLA_TARGET_NETNSID plus one RTM_GETTFILTER
//! dump do not justify a netlink crate stack. The peer is
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

const RTM_NEWTFILTER: u16 = 44;
const RTM_GETTFILTER: u16 = 46;
const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP: u16 = 0x300;
const TCMSG: usize = 20;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_ID: u16 = 11;
/// `tcm_parent` of the clsact qdisc's ingress and egress hooks.
pub const TC_PARENT_INGRESS: u32 = 0xffff_fff2;
pub const TC_PARENT_EGRESS: u32 = 0xffff_fff3;

/// A cls_bpf filter on a clsact hook, as `tc filter show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcFilter {
    pub priority: u16,
    pub handle: u32,
    pub program_id: u32,
    pub name: String,
}

/// The cls_bpf filters on one clsact hook (`parent`) of `ifindex`, in the
/// current namespace. Other filter kinds are skipped.
pub fn tc_bpf_filters(ifindex: u32, parent: u32) -> io::Result<Vec<TcFilter>> {
    // SAFETY: plain socket(2); the descriptor is owned right away.
    let raw = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let len = NLMSG_HDR + TCMSG;
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_GETTFILTER.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&(ifindex as i32).to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // handle
    msg.extend_from_slice(&parent.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes()); // info
                                                // SAFETY: msg is a valid buffer of msg.len() bytes.
    if unsafe { libc::send(socket.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut filters = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: buf is a writable buffer of buf.len() bytes.
        let got = unsafe { libc::recv(socket.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = 0;
        let got = got as usize;
        while at + NLMSG_HDR <= got {
            let msg_len = u32_at(&buf, at) as usize;
            if msg_len < NLMSG_HDR || at + msg_len > got {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "short rtnetlink reply"));
            }
            let msg = &buf[at..at + msg_len];
            match u16_at(msg, 4) {
                NLMSG_DONE => return Ok(filters),
                NLMSG_ERROR => {
                    let errno = -(u32_at(msg, NLMSG_HDR) as i32);
                    // No clsact qdisc (EINVAL) or no device: no filters.
                    if errno == libc::EINVAL || errno == libc::ENODEV || errno == libc::ENOENT {
                        return Ok(filters);
                    }
                    return Err(io::Error::from_raw_os_error(errno));
                }
                RTM_NEWTFILTER => filters.extend(parse_filter(msg)),
                _ => {}
            }
            at += msg_len.next_multiple_of(4);
        }
    }
}

fn attributes(mut rest: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u16_at(rest, 0) as usize;
        if len < 4 || len > rest.len() {
            return None;
        }
        let item = (u16_at(rest, 2) & 0x3fff, &rest[4..len]);
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        Some(item)
    })
}

fn parse_filter(msg: &[u8]) -> Option<TcFilter> {
    let tcmsg = msg.get(NLMSG_HDR..NLMSG_HDR + TCMSG)?;
    let handle = u32_at(tcmsg, 8);
    let priority = (u32_at(tcmsg, 16) >> 16) as u16;
    let mut kind_is_bpf = false;
    let mut filter = TcFilter { priority, handle, program_id: 0, name: String::new() };
    for (kind, payload) in attributes(&msg[NLMSG_HDR + TCMSG..]) {
        match kind {
            TCA_KIND => kind_is_bpf = payload.starts_with(b"bpf\0"),
            TCA_OPTIONS => {
                for (option, value) in attributes(payload) {
                    match option {
                        TCA_BPF_ID if value.len() == 4 => filter.program_id = u32_at(value, 0),
                        TCA_BPF_NAME => {
                            filter.name =
                                String::from_utf8_lossy(value.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // The first message of a priority is the chain head without options.
    (kind_is_bpf && filter.program_id != 0).then_some(filter)
}
