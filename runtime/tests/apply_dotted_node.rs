//! Node names with dots are valid (DNS-1123 subdomains) but bpffs refuses a
//! pin folder with a dot: such a node could never be applied. Its pins now
//! go under the name with `:` for `.`.

mod common;

use common::*;
use routec_compiler::layout::Reason;
use routec_runtime::{lab, loader};

// Sorted where the worker was: nodes are kept sorted by name.
const NODE: &str = "mycluster-worker.example.com";

#[test]
fn a_node_named_with_dots_is_applied_and_forwards() {
    if !can_run("a_node_named_with_dots_is_applied_and_forwards") {
        return;
    }
    let options = options();
    let name = "t-dotted";
    let mut cluster = reference_cluster();
    let worker = cluster.nodes.iter().position(|n| n.name == "mycluster-worker").unwrap();
    cluster.nodes[worker].name = NODE.into();
    let (_guard, state) = up_lab(name, &options, &cluster);
    let target = lab::node_target(&state, NODE).unwrap();
    assert!(target.pin_dir().ends_with("mycluster-worker:example:com"), "{}", target.pin_dir().display());
    assert!(target.map_pin("cilium_lxc").exists());

    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();
    assert!(ping(&busybox, "10.10.2.121"), "on the node");
    assert!(ping(&busybox, "10.10.1.155"), "across nodes");
    assert!(counter(&state, NODE, Reason::TunnelEncap) >= 1);
    assert_eq!(datapath_problems(&target), Vec::<String>::new());
    let again = loader::apply(&node_plan(&state.out, NODE).unwrap(), &target).unwrap();
    assert!(again.changed_nothing(), "{again}");
    loader::detach(&target).unwrap();
    assert!(!target.pin_dir().exists());
}
