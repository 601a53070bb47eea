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

/// A synthetic cluster of `nodes` nodes with `pods_per_node` pods each, in
/// the model's order (nodes by name, pods by node then ip). Ifindexes and MACs
/// are declared on every other pod so both seed paths are exercised.
pub fn synthetic_cluster(nodes: usize, pods_per_node: usize) -> Cluster {
    assert!(nodes <= 65536 && pods_per_node <= 250);
    let mut cluster = Cluster {
        name: "synthetic".into(),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 0 },
        mtu: 1500,
        nodes: Vec::with_capacity(nodes),
        pods: Vec::with_capacity(nodes * pods_per_node),
    };
    for n in 0..nodes {
        let (hi, lo) = ((n >> 8) as u8, n as u8);
        let pod_cidr: routec_compiler::model::Ipv4Net = format!("10.{hi}.{lo}.0/24").parse().unwrap();
        cluster.nodes.push(Node {
            name: format!("node-{n:05}"),
            address: std::net::Ipv4Addr::new(172, 16 + (hi >> 4), (hi << 4) | (lo >> 4), (lo & 15) + 1),
            pod_cidr,
            router: std::net::Ipv4Addr::new(10, hi, lo, 1),
            device: "eth0".into(),
        });
        for p in 0..pods_per_node {
            let declared = p % 2 == 0;
            let mac = |side: u8| Mac([0x02, side, hi, lo, 0, p as u8]);
            cluster.pods.push(Pod {
                name: format!("ns{}/pod-{n:05}-{p:03}", n % 10),
                node: n,
                ip: std::net::Ipv4Addr::new(10, hi, lo, 2 + p as u8),
                endpoint: 1 + p as u16,
                identity: 256 + ((n * pods_per_node + p) % 5000) as u32,
                lxc: format!("lxc{n:05}{p:03}"),
                ifindex: declared.then_some(10 + p as u32),
                mac: declared.then(|| mac(0xaa)),
                node_mac: declared.then(|| mac(0xbb)),
            });
        }
    }
    cluster
}
