//! VXLAN in the programs (docs/datapath.md, "The overlay's path"): what
//! cil_from_container puts on the wire, and what crosses nodes through it,
//! with real packets through the reference cluster (examples/mycluster).

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::lab::netns_path;
use routec_runtime::netns;

const WORKER: &str = "mycluster-worker";
const WORKER2: &str = "mycluster-worker2";
const BUSYBOX: &str = "10.10.2.117"; // on worker
const REMOTE: &str = "10.10.1.155"; // on worker2

/// `ping -M do -s SIZE` (DF set, so nothing is fragmented on the way).
fn ping_df(netns: &str, dst: &str, size: usize) -> bool {
    pings_df(netns, dst, size, 2)
}

/// `count` pings as `ping_df`; true when every one was answered.
fn pings_df(netns: &str, dst: &str, size: usize, count: u32) -> bool {
    Command::new("nsenter")
        .arg(format!("--net={}", netns_path(netns).display()))
        .args(["--", "ping", "-n", "-q", "-i", "0.2", "-c", &count.to_string(), "-W", "2", "-M", "do"])
        .args(["-s", &size.to_string(), dst])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Sends each payload as one UDP datagram from `src_netns` to an echo server
/// on `dst_ip:port` in `dst_netns`; returns what came back, in order.
fn udp_echo(src_netns: &str, dst_netns: &str, dst_ip: Ipv4Addr, port: u16, payloads: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            netns::run_in(Some(&netns_path(dst_netns)), || -> std::io::Result<()> {
                let socket = UdpSocket::bind((dst_ip, port))?;
                socket.set_read_timeout(Some(Duration::from_secs(5)))?;
                ready_tx.send(()).unwrap();
                let mut buf = vec![0u8; 65536];
                for _ in payloads {
                    let (n, from) = socket.recv_from(&mut buf)?;
                    socket.send_to(&buf[..n], from)?;
                }
                Ok(())
            })
            .unwrap()
        });
        ready_rx.recv_timeout(Duration::from_secs(5)).expect("echo server ready");
        netns::run_in(Some(&netns_path(src_netns)), || -> std::io::Result<Vec<Vec<u8>>> {
            let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
            socket.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut buf = vec![0u8; 65536];
            let mut replies = Vec::new();
            for payload in payloads {
                socket.send_to(payload, (dst_ip, port))?;
                let n = socket.recv(&mut buf)?;
                replies.push(buf[..n].to_vec());
            }
            Ok(replies)
        })
        .unwrap()
    })
}

/// An AF_PACKET socket on `dev` of `netns` that sees every frame the device
/// receives, before any tc program runs.
struct Capture {
    fd: libc::c_int,
}

impl Capture {
    fn open(netns: &str, dev: &str) -> Self {
        let dev = std::ffi::CString::new(dev).unwrap();
        netns::run_in(Some(&netns_path(netns)), || -> std::io::Result<Capture> {
            let protocol = (libc::ETH_P_ALL as u16).to_be();
            let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, protocol as libc::c_int) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let capture = Capture { fd };
            let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_protocol = protocol;
            addr.sll_ifindex = unsafe { libc::if_nametoindex(dev.as_ptr()) } as i32;
            let bound = unsafe {
                libc::bind(
                    fd,
                    &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            let timeout = libc::timeval { tv_sec: 0, tv_usec: 200_000 };
            let timed = unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    &timeout as *const libc::timeval as *const libc::c_void,
                    std::mem::size_of::<libc::timeval>() as u32,
                )
            };
            if addr.sll_ifindex == 0 || bound < 0 || timed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(capture)
        })
        .unwrap()
    }

    /// The first received frame `wanted` accepts, within 5 seconds.
    fn first(&self, wanted: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
            if n > 0 && wanted(&buf[..n as usize]) {
                return Some(buf[..n as usize].to_vec());
            }
        }
        None
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        unsafe { libc::close(self.fd) };
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The one's-complement sum of an IPv4 header: 0xffff when its checksum is right.
fn ipv4_header_sum(header: &[u8]) -> u16 {
    let mut sum: u32 = header.chunks(2).map(|w| u32::from(be16(w, 0))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn the_program_writes_kernel_vxlan_on_the_wire() {
    if !can_run("the_program_writes_kernel_vxlan_on_the_wire") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-vx-wire", &options, &reference_cluster());
    let ns = |ip: &str| state.pod(ip).unwrap().netns.clone();
    let worker2 = state.node(WORKER2).unwrap().netns.clone();
    let marker = b"routec-vxlan-wire-check";

    let capture = Capture::open(&worker2, "eth0");
    let replies = udp_echo(&ns(BUSYBOX), &ns(REMOTE), REMOTE.parse().unwrap(), 7001, &[marker.to_vec()]);
    assert_eq!(replies, [marker.to_vec()]);
    let frame = capture
        .first(|f| f.len() > 64 && be16(f, 12) == 0x0800 && f.windows(marker.len()).any(|w| w == marker))
        .expect("worker2's eth0 received the datagram");

    // Outer IPv4: no options, DF, TTL 64, UDP, worker -> worker2, checksum right.
    let ip = &frame[14..34];
    assert_eq!(ip[0], 0x45, "IPv4 without options");
    assert_eq!(be16(ip, 2) as usize, frame.len() - 14, "total length");
    assert_eq!(be16(ip, 6), 0x4000, "DF, not a fragment");
    assert_eq!((ip[8], ip[9]), (64, 17), "TTL 64, UDP");
    assert_eq!(&ip[12..20], [172, 18, 0, 2, 172, 18, 0, 4], "NODE_IPV4 -> tunnel endpoint");
    assert_eq!(ipv4_header_sum(ip), 0xffff, "header checksum");
    // Outer UDP: a source port from the flow hash in the kernel's range, the
    // overlay port, the length, no checksum.
    let udp = &frame[34..42];
    assert!((32768..61000).contains(&be16(udp, 0)), "source port {}", be16(udp, 0));
    assert_eq!(be16(udp, 2), 8472);
    assert_eq!(be16(udp, 4) as usize, frame.len() - 34);
    assert_eq!(be16(udp, 6), 0, "zero UDP checksum");
    // VXLAN: the I flag, VNI 0, reserved bits zero.
    assert_eq!(&frame[42..50], [0x08, 0, 0, 0, 0, 0, 0, 0]);
    // The pod's own frame, whole: its Ethernet header (to its lxc's MAC),
    // its IPv4 header with the TTL it sent (the far end decrements it).
    let busybox_lxc = Command::new("ip")
        .args(["-n", &state.node(WORKER).unwrap().netns, "-j", "link", "show", "dev", "lxc4a891387ff1a"])
        .output()
        .unwrap();
    let links: serde_json::Value = serde_json::from_slice(&busybox_lxc.stdout).unwrap();
    let gateway: Vec<u8> =
        links[0]["address"].as_str().unwrap().split(':').map(|b| u8::from_str_radix(b, 16).unwrap()).collect();
    assert_eq!(&frame[50..56], &gateway[..], "inner destination MAC: busybox's gateway (its lxc)");
    assert_eq!(be16(&frame, 62), 0x0800);
    let inner = &frame[64..];
    assert_eq!(&inner[12..20], [10, 10, 2, 117, 10, 10, 1, 155], "inner addresses");
    assert_eq!(inner[8], 64, "inner TTL untouched by the encapsulation");
}

#[test]
fn tunnel_counters_count_the_frame_at_the_hook() {
    if !can_run("tunnel_counters_count_the_frame_at_the_hook") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-vx-bytes", &options, &reference_cluster());
    let busybox = state.pod(BUSYBOX).unwrap().netns.clone();
    // A first exchange resolves the neighbours on the way.
    assert!(ping_df(&busybox, REMOTE, 56), "first ping to worker2");
    let encap_before = counted(&state, WORKER, Reason::TunnelEncap);
    let delivery_before = counted(&state, WORKER2, Reason::OverlayDelivery);

    // Pings of 1000 bytes: the pod's frame is 1042 bytes (Ethernet, IPv4,
    // ICMP headers), the VXLAN packet on the underlay 1092.
    let (pings, frame) = (7u64, 1000 + 14 + 20 + 8);
    assert!(pings_df(&busybox, REMOTE, 1000, pings as u32), "pings to worker2");
    let delta = |before: (u64, u64), after: (u64, u64)| (after.0 - before.0, after.1 - before.1);
    // tunnel-encap on worker counts the pod's frame as it reached
    // cil_from_container, not the encapsulated packet.
    assert_eq!(delta(encap_before, counted(&state, WORKER, Reason::TunnelEncap)), (pings, pings * frame));
    // overlay-delivery on worker2 counts the inner frame, whichever path
    // decapsulated it (the device's program or cilium_vxlan).
    assert_eq!(delta(delivery_before, counted(&state, WORKER2, Reason::OverlayDelivery)), (pings, pings * frame));
}

#[test]
fn large_tcp_and_mtu_sized_packets_cross_nodes_through_the_program() {
    if !can_run("large_tcp_and_mtu_sized_packets_cross_nodes_through_the_program") {
        return;
    }
    let options = options();
    let (_guard, state) = up_lab("t-vx-tcp", &options, &reference_cluster());
    let ns = |ip: &str| state.pod(ip).unwrap().netns.clone();
    let (busybox, remote) = (ns(BUSYBOX), ns(REMOTE));
    let (worker, worker2) = (state.node(WORKER).unwrap().netns.clone(), state.node(WORKER2).unwrap().netns.clone());
    let vxlan_before = [link_packets(&worker, "cilium_vxlan"), link_packets(&worker2, "cilium_vxlan")];
    let (encap_packets, encap_bytes) = counted(&state, WORKER, Reason::TunnelEncap);

    // 16 MiB each way, every byte checked: GSO packets of tens of KB leave
    // the pod, are encapsulated whole and arrive whole.
    let payload: Vec<u8> = (0..16u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let reversed: Vec<u8> = payload.iter().rev().copied().collect();
    assert!(tcp_exchange(&busybox, &remote, REMOTE.parse().unwrap(), 8090, &payload) == reversed, "to worker2");
    assert!(tcp_exchange(&remote, &busybox, BUSYBOX.parse().unwrap(), 8091, &payload) == reversed, "to worker");

    let (packets, bytes) = counted(&state, WORKER, Reason::TunnelEncap);
    let (packets, bytes) = (packets - encap_packets, bytes - encap_bytes);
    assert!(packets > 0 && bytes / packets > 1500, "{packets} packets of {bytes} bytes: GSO packets encapsulated");
    // Nothing went out through cilium_vxlan: the program encapsulated all of it.
    let vxlan_after = [link_packets(&worker, "cilium_vxlan"), link_packets(&worker2, "cilium_vxlan")];
    assert_eq!((vxlan_after[0].1, vxlan_after[1].1), (vxlan_before[0].1, vxlan_before[1].1), "cilium_vxlan sent");

    // Full-size packets (1450 bytes of IPv4, the pods' MTU: 1500 on the
    // underlay) with DF, both ways, and UDP datagrams of every size near it,
    // also one the pod fragments: the bytes come back as sent.
    assert!(ping_df(&busybox, REMOTE, 1422), "1450-byte ping to worker2");
    assert!(ping_df(&remote, BUSYBOX, 1422), "1450-byte ping to worker");
    assert!(!ping_df(&busybox, REMOTE, 1423), "the pod's own MTU stops one byte more");
    let sizes = [1, 1400, 1421, 1422, 1423, 3000, 8000];
    let datagrams: Vec<Vec<u8>> = sizes.iter().map(|&n| (0..n).map(|i| (i * 31 % 253) as u8).collect()).collect();
    assert!(udp_echo(&busybox, &remote, REMOTE.parse().unwrap(), 7002, &datagrams) == datagrams, "UDP to worker2");
    assert!(udp_echo(&remote, &busybox, BUSYBOX.parse().unwrap(), 7003, &datagrams) == datagrams, "UDP to worker");
}
