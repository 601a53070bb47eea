//! Configs of the reference cluster with pods added, removed and changed,
//! as `.route` text (what a user edits), for the reconcile tests.
#![allow(dead_code)]

use std::path::Path;

use routec_compiler::model::Cluster;

/// examples/mycluster/cluster.route.
pub fn reference_source() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster/cluster.route");
    std::fs::read_to_string(path).unwrap()
}

/// `source` without the block of pod `name`.
pub fn without_pod(source: &str, name: &str) -> String {
    let start = source.find(&format!("pod {name} ")).unwrap_or_else(|| panic!("no pod {name}"));
    let end = start + source[start..].find("}\n").unwrap() + 2;
    format!("{}{}", &source[..start], &source[end..])
}

/// A pod block whose ifindex and MACs are left to discovery.
pub fn pod(name: &str, node: &str, ip: &str, endpoint: u16, identity: u32, lxc: &str) -> String {
    format!(
        "\npod {name} on {node} {{\n    ip {ip}\n    endpoint {endpoint}\n    identity {identity}\n    lxc {lxc}\n}}\n"
    )
}

pub fn cluster(source: &str) -> Cluster {
    routec_compiler::frontend::analyze_str("cluster.route", source).cluster.expect("the test's cluster is valid")
}
