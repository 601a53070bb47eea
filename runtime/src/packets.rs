//! Real packets for expectations (`routec test --lab`, `--live LAB`): for
//! each `expect`, one packet from the source's namespace in a running lab,
//! and whether an answer came back. ICMP is an echo (`ping`, the client a
//! person would use), TCP a connect to a listener opened in the destination's
//! namespace for it, UDP a datagram to a socket there that echoes it. An
//! answer means the packet was delivered; none within the timeout, dropped.
//! Sockets are made inside the namespaces through [`crate::netns`] and keep
//! their namespace afterwards, so no helper process is needed for them.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

use routec_compiler::expect::{Endpoint, Expectation, FoundOutcome, PacketCheck, TestResult};
use routec_compiler::trace::Proto;

use crate::lab::{self, netns_path, LabState};
use crate::netns;
use crate::{Context, Error, Result};

/// How long a packet may take to be answered. Generous, so a loaded machine
/// does not turn a delivery into a drop; every drop costs this much.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends the expectation's packet in the lab and reports what happened.
pub fn check(state: &LabState, e: &Expectation) -> Result<PacketCheck> {
    let src_ns = source_namespace(state, &e.src)?;
    let dst = destination_ip(state, &e.dst)?;
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
            if r.found.outcome == FoundOutcome::NotTraced {
                return Ok(r);
            }
            let packets = check(state, r.expectation).context(|| r.expectation.text.clone())?;
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

fn destination_ip(state: &LabState, dst: &Endpoint) -> Result<Ipv4Addr> {
    match dst {
        Endpoint::Address(IpAddr::V4(ip)) => Some(*ip),
        Endpoint::Address(IpAddr::V6(ip)) => {
            return Err(Error::msg(format!(
                "{ip}: the lab sends IPv4 packets only (its pods have no IPv6 addresses yet)"
            )))
        }
        Endpoint::Pod(name) => state.pod(name).and_then(|p| p.ip),
        Endpoint::Node(name) => state.node(name).map(|n| n.address),
    }
    .ok_or_else(|| Error::msg(format!("lab `{}` has no {}", state.name, dst.operand())))
}

/// The namespace that owns `ip` in the lab, if any: where a listener goes.
fn destination_namespace(state: &LabState, ip: Ipv4Addr) -> Option<PathBuf> {
    let pod = state.pods.iter().find(|p| p.ip == Some(ip)).map(|p| &p.netns);
    let node = state.nodes.iter().find(|n| n.address == ip).map(|n| &n.netns);
    pod.or(node).map(|ns| netns_path(ns))
}

fn icmp(src_ns: &str, dst: Ipv4Addr, ttl: u8) -> Result<(bool, String)> {
    let wait = ANSWER_TIMEOUT.as_secs().to_string();
    let argv: Vec<String> = ["ping", "-n", "-q", "-c", "1", "-W", &wait, "-t", &ttl.to_string(), &dst.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let output = lab::exec_command(src_ns, &argv)?.output().context(|| "cannot run ping".to_string())?;
    let delivered = output.status.success();
    let detail = if delivered {
        format!("ICMP echo to {dst} (TTL {ttl}) was answered")
    } else {
        format!("ICMP echo to {dst} (TTL {ttl}) got no reply within {wait}s")
    };
    Ok((delivered, detail))
}

/// The namespace's default TTL set to `ttl` while `work` runs, for sockets
/// whose TTL cannot be set before they send (a TCP connect's SYN).
fn with_default_ttl<T>(ttl: u8, work: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    const KEY: &str = "net/ipv4/ip_default_ttl";
    let before = std::fs::read_to_string(std::path::Path::new("/proc/sys").join(KEY))?;
    netns::write_sysctl(KEY, &ttl.to_string())?;
    let result = work();
    netns::write_sysctl(KEY, before.trim())?;
    result
}

fn tcp(src_ns: &str, dst_ns: Option<&std::path::Path>, dst: Ipv4Addr, port: u16, ttl: u8) -> Result<(bool, String)> {
    // The kernel completes the handshake for a listening socket: no accept needed.
    let listener = match dst_ns {
        Some(ns) => Some(netns::run_in(Some(ns), || TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)))?),
        None => None,
    };
    let target = SocketAddr::from((dst, port));
    let connected = netns::run_in(Some(&netns_path(src_ns)), || {
        with_default_ttl(ttl, || Ok(TcpStream::connect_timeout(&target, ANSWER_TIMEOUT)))
    })?;
    drop(listener);
    Ok(match connected {
        Ok(_) => (true, format!("TCP connect to {target} (TTL {ttl}) was accepted")),
        // A reset is an answer from the destination's stack: the SYN got there.
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            (true, format!("TCP connect to {target} (TTL {ttl}) was refused by its stack"))
        }
        Err(e) => (false, format!("TCP connect to {target} (TTL {ttl}) failed: {e}")),
    })
}

fn udp(src_ns: &str, dst_ns: Option<&std::path::Path>, dst: Ipv4Addr, port: u16, ttl: u8) -> Result<(bool, String)> {
    let echo = match dst_ns {
        Some(ns) => Some(netns::run_in(Some(ns), || {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))?;
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
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        socket.set_ttl(u32::from(ttl))?;
        socket.set_read_timeout(Some(ANSWER_TIMEOUT))?;
        socket.send_to(b"routec test", target)?;
        let mut buf = [0u8; 64];
        Ok::<_, std::io::Error>(socket.recv_from(&mut buf).is_ok())
    })?;
    if let Some(thread) = echoer {
        let _ = thread.join();
    }
    Ok(if answered {
        (true, format!("UDP datagram to {target} (TTL {ttl}) was echoed"))
    } else {
        (false, format!("UDP datagram to {target} (TTL {ttl}) got no answer within {}s", ANSWER_TIMEOUT.as_secs()))
    })
}
