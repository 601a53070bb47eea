//! Shared by the build tests: the vectors copied into tests/data.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("seed-maps.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}

use routec_compiler::model::{Cluster, Mac, Node, Overlay, OverlayKind, Pod};

/// examples/mycluster/cluster.route, built by hand.
pub fn reference_cluster() -> Cluster {
    let node = |name: &str, address: &str, cidr: &str| {
        let pod_cidr: routec_compiler::model::Ipv4Net = cidr.parse().unwrap();
        Node {
            name: name.into(),
            address: address.parse().unwrap(),
            pod_cidr,
            router: pod_cidr.hosts().next().unwrap(),
            device: "eth0".into(),
        }
    };
    let pod = |name: &str, node: usize, ip: &str, endpoint: u16, identity: u32, lxc: &str| Pod {
        name: name.into(),
        node,
        ip: ip.parse().unwrap(),
        endpoint,
        identity,
        lxc: lxc.into(),
        ifindex: None,
        mac: None,
        node_mac: None,
    };
    let mac = |s: &str| Some(s.parse::<Mac>().unwrap());
    Cluster {
        name: "mycluster".into(),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 0 },
        mtu: 1500,
        nodes: vec![
            node("mycluster-control-plane", "172.18.0.3", "10.10.0.0/24"),
            node("mycluster-worker", "172.18.0.2", "10.10.2.0/24"),
            node("mycluster-worker2", "172.18.0.4", "10.10.1.0/24"),
        ],
        pods: vec![
            Pod { ifindex: Some(9), ..pod("networking101/busybox-c8bbbbb84-t6ggh", 1, "10.10.2.117", 715, 3372, "lxc4a891387ff1a") },
            Pod {
                ifindex: Some(11),
                mac: mac("ea:c4:71:d6:4f:a0"),
                node_mac: mac("f6:87:b6:c3:a6:45"),
                ..pod("networking101/netshoot-7d996d7884-fwt8z", 1, "10.10.2.121", 1587, 10388, "lxc5b7b34955e61")
            },
            Pod {
                ifindex: Some(11),
                mac: mac("be:57:3d:54:40:f1"),
                node_mac: mac("92:65:df:09:dd:28"),
                ..pod("networking101/netshoot-7d996d7884-gcxrm", 2, "10.10.1.155", 3564, 10388, "lxc174c023046ff")
            },
            pod("networking101/busybox-c8bbbbb84-fmhwc", 2, "10.10.1.164", 897, 3372, "lxc0a97661d8043"),
        ],
    }
}
