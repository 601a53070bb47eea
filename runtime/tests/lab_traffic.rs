mod common;

use common::*;
use routec_runtime::lab;

#[test]
fn reference_cluster_carries_pings() {
    if !can_run("reference_cluster_carries_pings") {
        return;
    }
    let options = options();
    let name = "t-ping";
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let cluster = reference_cluster();
    let out = options.state_dir.join(name).join("out");
    fake_build(&cluster, &out);
    let state = lab::up_from_build(&cluster, &out, name, &options, &mut |l| eprintln!("{l}")).unwrap();
    let src = &state.pod("10.10.2.117").unwrap().netns;
    for dst in ["10.10.2.121", "10.10.1.155", "172.18.0.2", "10.10.2.1"] {
        assert!(ping(src, dst), "10.10.2.117 -> {dst}");
    }
}
