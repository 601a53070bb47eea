//! Node names are DNS-1123 subdomains of up to 253 bytes (docs/language.md),
//! but a file name holds at most 255: the node's state files (its name plus
//! `.journal.json`, and `.tmp` while written) overflowed it from 239 bytes
//! on, so such a node could never be applied. A node of the longest name
//! the language accepts is built, applied, forwards and is detached.

mod common;

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::{lab, loader};

/// 253 bytes, sorted where the worker was (nodes are kept sorted by name).
fn longest_name() -> String {
    let label = "a".repeat(63);
    let name = format!("mycluster-worker.{label}.{label}.{label}.{}", "b".repeat(44));
    assert_eq!(name.len(), 253);
    name
}

#[test]
fn a_node_with_the_longest_name_is_applied_and_forwards() {
    if !can_run("a_node_with_the_longest_name_is_applied_and_forwards") {
        return;
    }
    let options = options();
    let node = longest_name();
    let mut cluster = reference_cluster();
    let worker = cluster.nodes.iter().position(|n| n.name == "mycluster-worker").unwrap();
    cluster.nodes[worker].name = node.clone();
    let (_guard, state) = up_lab("t-longname", &options, &cluster);
    let target = lab::node_target(&state, &node).unwrap();
    assert!(target.map_pin("cilium_lxc").exists());

    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    assert!(ping(&busybox, "10.10.2.121"), "on the node");
    assert!(ping(&busybox, "10.10.1.155"), "across nodes");
    assert!(counter(&state, &node, Reason::TunnelEncap) >= 1);
    assert_eq!(datapath_problems(&target), Vec::<String>::new());
    let again = loader::apply(&node_plan(&state.out, &node).unwrap(), &target).unwrap();
    assert!(again.changed_nothing(), "{again}");
    loader::detach(&target).unwrap();
    assert!(!target.pin_dir().exists());
}
