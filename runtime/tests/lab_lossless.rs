//! Replacement without loss, measured: steady UDP streams between pods that
//! a change does not touch, on one node and across nodes, while the lab is
//! reconciled to 20 alternating configs, to a build whose program object
//! changed, between tc modes, to another map size; and while an apply fails
//! half way (an interface removed). Every case prints packets sent and lost
//! per stream, and none may be lost.

mod common;
mod lab_configs;

use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use lab_configs::*;
use routec_compiler::build::{BuildOptions, ClangChoice};
use routec_runtime::lab::{self, LabOptions, LabState};
use routec_runtime::{loader, netns};

/// Packets per second of each stream.
const RATE: u64 = 2000;
const BUSYBOX: &str = "10.10.2.117";
const NETSHOOT: &str = "10.10.2.121";
const REMOTE: &str = "10.10.1.155";
/// The pods the changes add, remove and change (never a stream's).
const OTHER: &str = "networking101/busybox-c8bbbbb84-fmhwc";
const OTHER_IP: &str = "10.10.1.164";

/// A UDP stream of sequence numbers from one pod to another.
struct Stream {
    label: String,
    stop_sending: Arc<AtomicBool>,
    stop_receiving: Arc<AtomicBool>,
    sender: JoinHandle<u64>,
    receiver: JoinHandle<Vec<bool>>,
}

/// A socket bound to `(ip, port)` in namespace `netns` (it stays there).
fn socket_in(netns_name: &str, ip: Ipv4Addr, port: u16) -> UdpSocket {
    netns::run_in(Some(&lab::netns_path(netns_name)), || UdpSocket::bind((ip, port))).unwrap()
}

impl Stream {
    fn start(label: &str, state: &LabState, src: &str, dst: &str, port: u16) -> Stream {
        let (src_ip, dst_ip): (Ipv4Addr, Ipv4Addr) = (src.parse().unwrap(), dst.parse().unwrap());
        let receiving = socket_in(&state.pod(dst).unwrap().netns, dst_ip, port);
        // Room for seconds of packets: a receiver thread the busy machine
        // does not run for a while must not drop them itself.
        let size: libc::c_int = 8 << 20;
        // SAFETY: a valid socket and an int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                receiving.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &size as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_RCVBUFFORCE");
        receiving.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let sending = socket_in(&state.pod(src).unwrap().netns, src_ip, 0);
        let (stop_sending, stop_receiving) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let receiver = {
            let stop = stop_receiving.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 64];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((8, _)) = receiving.recv_from(&mut buf) {
                        let seq = u64::from_be_bytes(buf[..8].try_into().unwrap()) as usize;
                        if seq >= seen.len() {
                            seen.resize(seq + 1, false);
                        }
                        seen[seq] = true;
                    }
                }
                seen
            })
        };
        let sender = {
            let stop = stop_sending.clone();
            std::thread::spawn(move || {
                let interval = Duration::from_nanos(1_000_000_000 / RATE);
                let mut next = Instant::now();
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // A send the kernel refuses is a packet lost too.
                    let _ = sending.send_to(&seq.to_be_bytes(), (dst_ip, port));
                    seq += 1;
                    next += interval;
                    let now = Instant::now();
                    match next.checked_duration_since(now) {
                        Some(wait) => std::thread::sleep(wait),
                        // Far behind (the machine is busy): no burst to catch up.
                        None if now - next > Duration::from_millis(20) => next = now,
                        None => {}
                    }
                }
                seq
            })
        };
        Stream { label: label.to_string(), stop_sending, stop_receiving, sender, receiver }
    }

    /// Stops the streams together; (label, packets sent, packets lost) of each.
    fn finish_all(streams: Vec<Stream>) -> Vec<(String, u64, u64)> {
        for stream in &streams {
            stream.stop_sending.store(true, Ordering::Relaxed);
        }
        let stopped: Vec<_> = streams
            .into_iter()
            .map(|Stream { label, stop_receiving, sender, receiver, .. }| {
                (label, stop_receiving, receiver, sender.join().unwrap())
            })
            .collect();
        // The last packets in flight arrive.
        std::thread::sleep(Duration::from_millis(300));
        stopped
            .into_iter()
            .map(|(label, stop_receiving, receiver, sent)| {
                stop_receiving.store(true, Ordering::Relaxed);
                let seen = receiver.join().unwrap();
                let received = seen.iter().take(sent as usize).filter(|s| **s).count() as u64;
                (label, sent, sent - received)
            })
            .collect()
    }
}

/// The next case's first port. Each case binds ports no earlier case used:
/// binding the second case's receiver to the first case's port failed once
/// with AddrInUse after the first case's socket was closed (a child another
/// test forked holding the descriptor until its exec would do that).
static NEXT_PORT: AtomicU16 = AtomicU16::new(7001);

/// The streams of every case: on one node and across nodes, both ways.
fn streams(state: &LabState) -> Vec<Stream> {
    let port = NEXT_PORT.fetch_add(3, Ordering::Relaxed);
    vec![
        Stream::start("same node", state, BUSYBOX, NETSHOOT, port),
        Stream::start("across nodes", state, BUSYBOX, REMOTE, port + 1),
        Stream::start("across nodes, back", state, REMOTE, NETSHOOT, port + 2),
    ]
}

/// Runs `change` with the streams flowing (a short steady stretch before
/// and after); records each stream's figures under `case`.
fn measured(case: &str, state: &LabState, results: &mut Vec<String>, change: impl FnOnce()) {
    let streams = streams(state);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    change();
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    for (label, sent, lost) in Stream::finish_all(streams) {
        let line =
            format!("{case:<44} {label:<20} sent {sent:>6}  lost {lost:>4}  (change took {:.2}s)", took.as_secs_f64());
        eprintln!("{line}");
        results.push(line);
    }
}

fn lost_in(results: &[String]) -> Vec<&String> {
    results.iter().filter(|l| !l.contains(" lost    0 ")).collect()
}

/// The reference cluster with the other pods in variant `k`: even ones drop
/// OTHER and add a pod on each worker, odd ones bring OTHER back with
/// another identity and drop the second new pod; the first new pod's
/// identity changes every time.
fn variant(k: u32) -> String {
    let base = without_pod(&reference_source(), OTHER);
    let first = pod("networking101/churn-a", "mycluster-worker", "10.10.2.140", 2001, 5000 + k, "lxcchurna");
    match k % 2 {
        0 => base + &first + &pod("networking101/churn-b", "mycluster-worker2", "10.10.1.140", 2002, 6000, "lxcchurnb"),
        _ => base + &first + &pod(OTHER, "mycluster-worker2", OTHER_IP, 897, 3000 + k, "lxc0a97661d8043"),
    }
}

fn reconcile(source: &str, name: &str, options: &LabOptions, build_options: &BuildOptions) -> LabState {
    match lab::up_or_reconcile(&cluster(source), build_options, name, options, &mut |_| {}).unwrap() {
        lab::Up::Created(state) | lab::Up::Reconciled(state, _) => state,
    }
}

fn lab_for(name: &str) -> (LabGuard, LabState, LabOptions, BuildOptions) {
    let options = options();
    let guard = LabGuard { name: name.into(), options: options.clone() };
    let build_options = BuildOptions::new(ClangChoice::Use(None), "test".into());
    let state = reconcile(&variant(1), name, &options, &build_options);
    (guard, state, options, build_options)
}

#[test]
fn streams_of_untouched_pods_lose_nothing_while_the_lab_changes() {
    if !can_run("streams_of_untouched_pods_lose_nothing_while_the_lab_changes") {
        return;
    }
    let name = "t-lossless";
    let (_guard, state, mut options, build_options) = lab_for(name);
    let mut results = Vec::new();

    measured("steady (no change)", &state, &mut results, || std::thread::sleep(Duration::from_secs(1)));

    measured("20 configs adding, removing, changing pods", &state, &mut results, || {
        for k in 2..22 {
            let state = reconcile(&variant(k), name, &options, &build_options);
            assert_eq!(state.pods.len(), 5, "variant {k}");
        }
    });

    // The same config, with bpf_lxc's source changed (one line more): its
    // object, and so every lxc program, is replaced.
    let changed_out = options.state_dir.join(name).join("out-changed-object");
    build(&cluster(&variant(21)), &changed_out);
    let source = changed_out.join("bpf/bpf_lxc.c");
    let text = std::fs::read_to_string(&source).unwrap();
    std::fs::write(&source, format!("/* a changed template */\n{text}")).unwrap();
    let object = changed_out.join("bpf/bpf_lxc.o");
    let before = std::fs::read(&object).unwrap();
    compile_bpf(&source, &object);
    assert_ne!(std::fs::read(&object).unwrap(), before, "the object changed");
    reseal_manifest(&changed_out, "bpf/bpf_lxc.c");
    reseal_manifest(&changed_out, "bpf/bpf_lxc.o");
    measured("a build whose bpf_lxc object changed", &state, &mut results, || {
        let (_, report) = lab::reconcile_from_build(&changed_out, name, &options, &mut |_| {}).unwrap();
        let worker = &report.applied.iter().find(|(n, _)| n == "mycluster-worker").unwrap().1;
        assert_eq!(worker.attached.len(), 3, "every lxc of the worker runs the new object: {worker}");
    });

    for (case, mode) in [
        ("tc mode netlink -> tcx-link", loader::TcMode::TcxLink),
        ("tc mode tcx-link -> netlink", loader::TcMode::Netlink),
    ] {
        options.tc_mode = mode;
        measured(case, &state, &mut results, || {
            let state = reconcile(&variant(21), name, &options, &build_options);
            for node in &state.nodes {
                let status = loader::status(&lab::node_target(&state, &node.name).unwrap()).unwrap();
                assert!(status.programs.iter().all(|p| p.mode == mode.as_str()), "{status}");
            }
        });
    }

    // The control: streams do see a loss. mycluster-worker2 without its
    // datapath for a moment loses what crosses to it, and only that.
    let mut control = Vec::new();
    measured("control: worker2 detached for 100 ms", &state, &mut control, || {
        loader::detach(&lab::node_target(&state, "mycluster-worker2").unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        reconcile(&variant(21), name, &options, &build_options);
    });
    let lost = |label: &str| control.iter().any(|l| l.contains(label) && !l.contains(" lost    0 "));
    assert!(lost("across nodes  ") && lost("across nodes, back") && !lost("same node"), "{control:?}");

    eprintln!("\n{}\n{}", results.join("\n"), control.join("\n"));
    assert_eq!(lost_in(&results), Vec::<&String>::new(), "packets were lost");
}

#[test]
fn streams_lose_nothing_while_a_map_changes_size() {
    if !can_run("streams_lose_nothing_while_a_map_changes_size") {
        return;
    }
    let name = "t-lossresize";
    let (_guard, state, options, mut build_options) = lab_for(name);
    let mut results = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.route"), variant(1)).unwrap();
    for (case, lxc) in [("cilium_lxc 65535 -> 16384 entries", 16384), ("cilium_lxc 16384 -> 65535 entries", 65535)] {
        // The size comes from routec.toml, read as `routec build` reads it.
        std::fs::write(dir.path().join("routec.toml"), format!("[maps]\nlxc = {lxc}\n")).unwrap();
        let analysis = routec_compiler::frontend::analyze_path(dir.path()).unwrap();
        build_options.maps = analysis.settings.maps;
        measured(case, &state, &mut results, || {
            lab::up_or_reconcile(analysis.cluster.as_ref().unwrap(), &build_options, name, &options, &mut |_| {})
                .unwrap();
        });
        let pin = lab::node_target(&state, "mycluster-worker").unwrap().map_pin("cilium_lxc");
        assert_eq!(aya::maps::MapInfo::from_pin(&pin).unwrap().max_entries(), lxc);
    }
    eprintln!("\n{}", results.join("\n"));
    assert_eq!(lost_in(&results), Vec::<&String>::new(), "packets were lost");
}

#[test]
fn a_failed_apply_keeps_the_streams_and_the_previous_datapath() {
    if !can_run("a_failed_apply_keeps_the_streams_and_the_previous_datapath") {
        return;
    }
    let name = "t-lossfail";
    let (_guard, state, options, _) = lab_for(name);
    let node = "mycluster-worker2";
    let target = lab::node_target(&state, node).unwrap();
    let victim = cluster(&variant(1)).pods.iter().find(|p| p.name == OTHER).unwrap().lxc.clone();
    // A build that replaces every program of the node (a load-time
    // constant changed: the pod MTU) and a seed entry.
    let mut changed = cluster(&variant(1));
    changed.mtu -= 10;
    changed.pods.iter_mut().find(|p| p.name == OTHER).unwrap().identity = 4242;
    let changed_out = options.state_dir.join(name).join("out-failing");
    build(&changed, &changed_out);
    let plan = node_plan(&changed_out, node).unwrap();
    let programs = |s: &loader::NodeStatus| {
        s.programs.iter().filter(|p| p.interface != victim).map(|p| (p.interface.clone(), p.id)).collect::<Vec<_>>()
    };
    let before = loader::status(&target).unwrap();
    let node_ns = state.node(node).unwrap().netns.clone();

    let mut results = Vec::new();
    let mut error = String::new();
    measured("an apply that fails half way (lxc removed)", &state, &mut results, || {
        // The other pod's lxc disappears just before its hook is switched,
        // after the seeds were written and other hooks switched.
        let mut switched = 0;
        error = loader::apply_observed(&plan, &target, &mut |hook| {
            switched += 1;
            if hook.starts_with(&format!("{victim}.")) {
                assert!(switched > 1, "other hooks are switched first: {hook}");
                let deleted =
                    std::process::Command::new("ip").args(["-n", &node_ns, "link", "del", &victim]).status().unwrap();
                assert!(deleted.success());
            }
        })
        .unwrap_err()
        .to_string();
    });
    eprintln!("{error}");
    assert!(error.contains("rolled back: the previous datapath is restored"), "{error}");
    let after = loader::status(&target).unwrap();
    assert_eq!(programs(&after), programs(&before), "the previous programs run");
    assert!(ping(&state.pod(BUSYBOX).unwrap().netns, REMOTE), "and carry new traffic");
    eprintln!("\n{}", results.join("\n"));
    assert_eq!(lost_in(&results), Vec::<&String>::new(), "packets were lost");
}
