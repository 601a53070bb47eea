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

use routec_compiler::frontend::{analyze_path, analyze_str, Analysis};
use routec_compiler::gen::{generate, GenOptions};
use routec_compiler::model::Cluster;

pub fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// An example folder through the front end; it must be free of errors.
pub fn analyze_example(name: &str) -> (PathBuf, Analysis) {
    let path = example(name);
    let analysis = analyze_path(&path).unwrap();
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    (path, analysis)
}

/// examples/mycluster: the reference cluster of the byte vectors.
pub fn reference_cluster() -> Cluster {
    analyze_example("mycluster").1.cluster.unwrap()
}

/// The cluster `routec gen` writes for these sizes (seed 1).
pub fn generated_cluster(nodes: usize, pods_per_node: usize) -> Cluster {
    let mut text = Vec::new();
    generate(&GenOptions { nodes, pods_per_node, seed: 1 }, &mut text).unwrap();
    let analysis = analyze_str("generated.route", std::str::from_utf8(&text).unwrap());
    assert!(!analysis.has_errors(), "{}", analysis.summary());
    analysis.cluster.unwrap()
}
