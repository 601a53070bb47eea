//! The validated model of the reference cluster, field by field.

use std::net::Ipv4Addr;
use std::path::Path;

use routec_compiler::diagnostics::Code;
use routec_compiler::frontend::{analyze_path, analyze_str};
use routec_compiler::model::{Mac, OverlayKind};

fn examples() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples"))
}

#[test]
fn reference_cluster_model() {
    let analysis = analyze_path(&examples().join("mycluster")).unwrap();
    let codes: Vec<Code> = analysis.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::W0102], "only the pod-less control plane is worth a warning");
    let c = analysis.cluster.expect("the reference cluster is valid");
    assert_eq!(c.name, "mycluster");
    assert_eq!(c.overlay.kind, OverlayKind::Vxlan);
    assert_eq!(c.overlay.port, 8472);
    assert_eq!(c.overlay.vni, 0);
    assert_eq!(c.mtu, 1500);
    let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["mycluster-control-plane", "mycluster-worker", "mycluster-worker2"]);
    let worker = &c.nodes[1];
    assert_eq!(worker.address, Ipv4Addr::new(172, 18, 0, 2));
    assert_eq!(worker.pod_cidr.unwrap().to_string(), "10.10.2.0/24");
    assert_eq!(worker.router, Some(Ipv4Addr::new(10, 10, 2, 1)));
    assert_eq!(worker.device, "eth0");
    assert_eq!(c.nodes[2].router, Some(Ipv4Addr::new(10, 10, 1, 1)));

    let pods: Vec<(usize, Ipv4Addr)> = c.pods.iter().map(|p| (p.node, p.ip.unwrap())).collect();
    assert_eq!(
        pods,
        [
            (1, Ipv4Addr::new(10, 10, 2, 117)),
            (1, Ipv4Addr::new(10, 10, 2, 121)),
            (2, Ipv4Addr::new(10, 10, 1, 155)),
            (2, Ipv4Addr::new(10, 10, 1, 164)),
        ]
    );
    let netshoot = c.find_pod("networking101/netshoot-7d996d7884-fwt8z").unwrap();
    assert_eq!(netshoot.endpoint, 1587);
    assert_eq!(netshoot.identity, 10388);
    assert_eq!(netshoot.lxc, "lxc5b7b34955e61");
    assert_eq!(netshoot.ifindex, Some(11));
    assert_eq!(netshoot.mac, Some("ea:c4:71:d6:4f:a0".parse::<Mac>().unwrap()));
    assert_eq!(netshoot.node_mac, Some("f6:87:b6:c3:a6:45".parse::<Mac>().unwrap()));
    let fmhwc = c.find_pod("10.10.1.164").unwrap();
    assert_eq!((fmhwc.ifindex, fmhwc.mac, fmhwc.node_mac), (None, None, None));
}

#[test]
fn defaults_and_one_line_blocks() {
    let text = "cluster c { overlay geneve }\nnode n { address 172.31.0.1; pod-cidr 10.244.1.0/24 }\n\
                pod a/b on n { ip 10.244.1.2; endpoint 0x10; identity 300; lxc lxc0 }\r\n";
    let analysis = analyze_str("t.route", text);
    assert!(analysis.diagnostics.is_empty(), "{}", analysis.render_human_string());
    let c = analysis.cluster.unwrap();
    assert_eq!((c.overlay.kind, c.overlay.port, c.overlay.vni, c.mtu), (OverlayKind::Geneve, 6081, 0, 1500));
    assert_eq!(c.pods[0].endpoint, 16);
    assert_eq!(c.nodes[0].router, Some(Ipv4Addr::new(10, 244, 1, 1)));
}

#[test]
fn multi_file_example_is_one_input() {
    let analysis = analyze_path(&examples().join("multi-file")).unwrap();
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    assert!(analysis.sources.len() > 2);
    let c = analysis.cluster.unwrap();
    assert!(c.nodes.windows(2).all(|w| w[0].name < w[1].name));
    assert!(c.pods.windows(2).all(|w| (w[0].node, w[0].ip) < (w[1].node, w[1].ip)));
    assert!(analysis.settings.output.as_ref().unwrap().ends_with("out"));
}
