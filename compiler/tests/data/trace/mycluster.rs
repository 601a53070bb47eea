// The validated model of examples/mycluster/cluster.route, written out by hand
// so the trace tests do not depend on the parser.
use std::net::Ipv4Addr;

use routec_compiler::model::{Cluster, Mac, Node, Overlay, OverlayKind, Pod};

fn node(name: &str, address: [u8; 4], cidr: &str, router: [u8; 4]) -> Node {
    Node {
        name: name.to_string(),
        address: Ipv4Addr::from(address),
        pod_cidr: Some(cidr.parse().unwrap()),
        router: Some(Ipv4Addr::from(router)),
        device: "eth0".to_string(),
        address6: None,
        pod_cidr6: None,
        router6: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn pod(
    name: &str,
    node: usize,
    ip: [u8; 4],
    endpoint: u16,
    identity: u32,
    lxc: &str,
    ifindex: Option<u32>,
    macs: Option<(&str, &str)>,
) -> Pod {
    Pod {
        name: name.to_string(),
        node,
        ip: Some(Ipv4Addr::from(ip)),
        endpoint,
        identity,
        lxc: lxc.to_string(),
        ifindex,
        mac: macs.map(|(mac, _)| mac.parse::<Mac>().unwrap()),
        node_mac: macs.map(|(_, node_mac)| node_mac.parse::<Mac>().unwrap()),
        ip6: None,
    }
}

/// Pods sorted by (node, ip), as the front end hands them over.
pub fn mycluster() -> Cluster {
    Cluster {
        name: "mycluster".to_string(),
        overlay: Overlay { kind: OverlayKind::Vxlan, port: 8472, vni: 0 },
        mtu: 1500,
        nodes: vec![
            node("mycluster-control-plane", [172, 18, 0, 3], "10.10.0.0/24", [10, 10, 0, 1]),
            node("mycluster-worker", [172, 18, 0, 2], "10.10.2.0/24", [10, 10, 2, 1]),
            node("mycluster-worker2", [172, 18, 0, 4], "10.10.1.0/24", [10, 10, 1, 1]),
        ],
        pods: vec![
            pod(
                "networking101/busybox-c8bbbbb84-t6ggh",
                1,
                [10, 10, 2, 117],
                715,
                3372,
                "lxc4a891387ff1a",
                Some(9),
                None,
            ),
            pod(
                "networking101/netshoot-7d996d7884-fwt8z",
                1,
                [10, 10, 2, 121],
                1587,
                10388,
                "lxc5b7b34955e61",
                Some(11),
                Some(("ea:c4:71:d6:4f:a0", "f6:87:b6:c3:a6:45")),
            ),
            pod(
                "networking101/netshoot-7d996d7884-gcxrm",
                2,
                [10, 10, 1, 155],
                3564,
                10388,
                "lxc174c023046ff",
                Some(11),
                Some(("be:57:3d:54:40:f1", "92:65:df:09:dd:28")),
            ),
            pod("networking101/busybox-c8bbbbb84-fmhwc", 2, [10, 10, 1, 164], 897, 3372, "lxc0a97661d8043", None, None),
        ],
    }
}
