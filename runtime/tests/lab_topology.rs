mod common;

use std::process::Command;

use common::*;
use routec_compiler::model::*;
use routec_runtime::lab::{self, LabState};

fn mini_cluster() -> Cluster {
    let node = |name: &str, a: [u8; 4], cidr: &str| Node {
        name: name.into(),
        address: a.into(),
        pod_cidr: cidr.parse().unwrap(),
        router: { let n: Ipv4Net = cidr.parse().unwrap(); let mut o = n.network().octets(); o[3] += 1; o.into() },
        device: "eth0".into(),
    };
    let pod = |name: &str, node: usize, ip: [u8; 4], ep: u16, lxc: &str, ifindex: Option<u32>| Pod {
        name: name.into(), node, ip: ip.into(), endpoint: ep, identity: 3372, lxc: lxc.into(), ifindex,
        mac: None, node_mac: None,
    };
    Cluster {
        name: "mini".into(),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 2 },
        mtu: 1500,
        nodes: vec![node("a", [172, 18, 0, 2], "10.10.2.0/24"), node("b", [172, 18, 0, 4], "10.10.1.0/24")],
        pods: vec![
            pod("ns/p1", 0, [10, 10, 2, 117], 715, "lxc1", Some(9)),
            pod("ns/p2", 1, [10, 10, 1, 155], 3564, "lxc2", Some(11)),
        ],
    }
}

#[test]
fn topology_comes_up_and_goes_down() {
    if !can_run("topology_comes_up_and_goes_down") {
        return;
    }
    let options = options();
    let name = "t-topo";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let cluster = mini_cluster();
    let mut state = LabState::plan(&cluster, name, &options.bpffs, &options.state_dir.join(name)).unwrap();
    lab::create_topology(&cluster, &mut state, &options.state_dir, &mut |l| eprintln!("{l}")).unwrap();
    let out = Command::new("ip").args(["-n", "t-topo-a", "-d", "link"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(text.contains("9: lxc1@if"), "{text}");
    let ping = Command::new("ip").args(["netns", "exec", "t-topo-a", "ping", "-c1", "-W1", "172.18.0.4"]).status().unwrap();
    assert!(ping.success());
}
