//! Real packets for expectations (`routec test --lab`, `--live LAB`): for
//! each `expect`, one packet from the source's namespace in a running lab,
//! and whether an answer came back. ICMP is an echo (`ping`, the client a
//! person would use), TCP a connect to a listener opened in the destination's
//! namespace for it, UDP a datagram to a socket there that echoes it. An
//! answer means the packet was delivered; none within the timeout, dropped.
//! Sockets are made inside the namespaces through [`crate::netns`] and keep
//! their namespace afterwards, so no helper process is needed for them.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use routec_compiler::expect::{Endpoint, Expectation, FoundOutcome, PacketCheck, TestResult};
use routec_compiler::trace::{Family, Proto};

use crate::lab::{self, netns_path, LabState};
use crate::netns;
use crate::{Context, Error, Result};

/// How long a packet may take to be answered. Generous, so a loaded machine
/// does not turn a delivery into a drop; every drop costs this much.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends the expectation's packet, from the source's namespace to `dst` (the
/// traced packet's destination, which fixes the family), and reports what
/// happened.
pub fn check(state: &LabState, e: &Expectation, dst: IpAddr) -> Result<PacketCheck> {
    let src_ns = source_namespace(state, &e.src)?;
    let dst_ns = destination_namespace(state, dst);
    let (delivered, detail) = match e.proto {
        Proto::Icmp => icmp(&src_ns, dst, e.ttl)?,
        Proto::Tcp => tcp(&src_ns, dst_ns.as_deref(), dst, port(e)?, e.ttl)?,
        Proto::Udp => udp(&src_ns, dst_ns.as_deref(), dst, port(e)?, e.ttl)?,
    };
    let outcome = if delivered { FoundOutcome::Delivered } else { FoundOutcome::Dropped };
    Ok(PacketCheck { outcome, detail })
}

/// Adds real packets to every result the tracer could follow (a packet it
/// refused has no offline verdict to compare with).
pub fn check_all<'a>(state: &LabState, results: Vec<TestResult<'a>>) -> Result<Vec<TestResult<'a>>> {
    results
        .into_iter()
        .map(|r| {
            let traced = r.found.trace.as_ref().map(|t| t.packet.dst);
            let Some(dst) = traced.filter(|_| r.found.outcome != FoundOutcome::NotTraced) else {
                return Ok(r);
            };
            let packets = check(state, r.expectation, dst).context(|| r.expectation.text.clone())?;
            Ok(r.with_packets(packets))
        })
        .collect()
}

fn port(e: &Expectation) -> Result<u16> {
    e.port.ok_or_else(|| Error::msg(format!("{}: tcp and udp expectations have a port", e.text)))
}

fn source_namespace(state: &LabState, src: &Endpoint) -> Result<String> {
    let found = match src {
        Endpoint::Pod(name) => state.pod(name).map(|p| p.netns.clone()),
        Endpoint::Node(name) => state.node(name).map(|n| n.netns.clone()),
        Endpoint::Address(ip) => state.pod(&ip.to_string()).map(|p| p.netns.clone()),
    };
    found.ok_or_else(|| Error::msg(format!("lab `{}` has no {}", state.name, src.operand())))
}

/// The namespace that owns `ip` in the lab, if any: where a listener goes.
fn destination_namespace(state: &LabState, ip: IpAddr) -> Option<PathBuf> {
    let pod = state.pods.iter().find(|p| p.ip.map(IpAddr::V4) == Some(ip) || p.ip6.map(IpAddr::V6) == Some(ip));
    let node = state.nodes.iter().find(|n| n.own_ips().any(|own| own == ip));
    pod.map(|p| &p.netns).or(node.map(|n| &n.netns)).map(|ns| netns_path(ns))
}

/// The unspecified address of `ip`'s family: what a socket binds to.
fn any_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// "TTL" or "hop limit", as the family calls it.
fn ttl_name(ip: IpAddr) -> &'static str {
    Family::of(ip).ttl_name()
}

fn icmp(src_ns: &str, dst: IpAddr, ttl: u8) -> Result<(bool, String)> {
    let wait = ANSWER_TIMEOUT.as_secs().to_string();
    let argv: Vec<String> = ["ping", "-n", "-q", "-c", "1", "-W", &wait, "-t", &ttl.to_string(), &dst.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let output = lab::exec_command(src_ns, &argv)?.output().context(|| "cannot run ping".to_string())?;
    let delivered = output.status.success();
    let detail = if delivered {
        format!("ICMP echo to {dst} ({} {ttl}) was answered", ttl_name(dst))
    } else {
        format!("ICMP echo to {dst} ({} {ttl}) got no reply within {wait}s", ttl_name(dst))
    };
    Ok((delivered, detail))
}

/// The namespace's default TTL (IPv4) or every interface's hop limit
/// (IPv6, which has no namespace-wide default) set to `ttl` while `work`
/// runs, for sockets whose TTL cannot be set before they send (a TCP
/// connect's SYN; std sets no IPv6 unicast hop limit at all).
fn with_default_ttl<T>(dst: IpAddr, ttl: u8, work: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let keys: Vec<String> = match dst {
        IpAddr::V4(_) => vec!["net/ipv4/ip_default_ttl".to_string()],
        IpAddr::V6(_) => std::fs::read_dir("/proc/sys/net/ipv6/conf")?
            .map(|entry| Ok(format!("net/ipv6/conf/{}/hop_limit", entry?.file_name().to_string_lossy())))
            .collect::<std::io::Result<_>>()?,
    };
    let mut before = Vec::with_capacity(keys.len());
    for key in &keys {
        before.push(std::fs::read_to_string(std::path::Path::new("/proc/sys").join(key))?);
        netns::write_sysctl(key, &ttl.to_string())?;
    }
    let result = work();
    for (key, value) in keys.iter().zip(&before) {
        netns::write_sysctl(key, value.trim())?;
    }
    result
}

fn tcp(src_ns: &str, dst_ns: Option<&std::path::Path>, dst: IpAddr, port: u16, ttl: u8) -> Result<(bool, String)> {
    // The kernel completes the handshake for a listening socket: no accept needed.
    let listener = match dst_ns {
        Some(ns) => Some(netns::run_in(Some(ns), || TcpListener::bind((any_of(dst), port)))?),
        None => None,
    };
    let target = SocketAddr::from((dst, port));
    let connected = netns::run_in(Some(&netns_path(src_ns)), || {
        with_default_ttl(dst, ttl, || Ok(TcpStream::connect_timeout(&target, ANSWER_TIMEOUT)))
    })?;
    drop(listener);
    let name = ttl_name(dst);
    Ok(match connected {
        Ok(_) => (true, format!("TCP connect to {target} ({name} {ttl}) was accepted")),
        // A reset is an answer from the destination's stack: the SYN got there.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            (true, format!("TCP connect to {target} ({name} {ttl}) was refused by its stack"))
        }
        Err(e) => (false, format!("TCP connect to {target} ({name} {ttl}) failed: {e}")),
    })
}

fn udp(src_ns: &str, dst_ns: Option<&std::path::Path>, dst: IpAddr, port: u16, ttl: u8) -> Result<(bool, String)> {
    let echo = match dst_ns {
        Some(ns) => Some(netns::run_in(Some(ns), || {
            let socket = UdpSocket::bind((any_of(dst), port))?;
            socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
            Ok::<_, std::io::Error>(socket)
        })?),
        None => None,
    };
    let echoer = echo.map(|socket| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            if let Ok((len, from)) = socket.recv_from(&mut buf) {
                let _ = socket.send_to(&buf[..len], from);
            }
        })
    });
    let target = SocketAddr::from((dst, port));
    let answered = netns::run_in(Some(&netns_path(src_ns)), || {
        let socket = UdpSocket::bind((any_of(dst), 0))?;
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        let sent = match dst {
            IpAddr::V4(_) => socket.set_ttl(u32::from(ttl)).and_then(|()| socket.send_to(b"routec test", target)),
            IpAddr::V6(_) => with_default_ttl(dst, ttl, || socket.send_to(b"routec test", target)),
        };
        sent?;
        let mut buf = [0u8; 64];
        Ok::<_, std::io::Error>(socket.recv_from(&mut buf).is_ok())
    })?;
    if let Some(thread) = echoer {
        let _ = thread.join();
    }
    Ok(if answered {
        (true, format!("UDP datagram to {target} ({} {ttl}) was echoed", ttl_name(dst)))
    } else {
        let wait = ANSWER_TIMEOUT.as_secs();
        (false, format!("UDP datagram to {target} ({} {ttl}) got no answer within {wait}s", ttl_name(dst)))
    })
}
