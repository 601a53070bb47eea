//! A generated cluster in a lab: every pod reaches every other pod.

mod common;

use common::*;
use routec_runtime::lab;

fn all_pairs_reach(nodes: usize, pods: usize, name: &str) {
    let options = options();
    let _guard = LabGuard { name: name.into(), options: options.clone() };
    let cluster = generated_cluster(nodes, pods);
    let out = lab::claim_dir(&options.state_dir, name).unwrap().join("out");
    build(&cluster, &out);
    let started = std::time::Instant::now();
    let state = lab::up_from_build(&out, name, &options, &mut |_| {}).unwrap();
    let up = started.elapsed();
    let pairs: Vec<(String, String)> = state
        .pods
        .iter()
        .flat_map(|a| {
            state.pods.iter().filter(move |b| b.ip != a.ip).map(move |b| (a.netns.clone(), b.ip.unwrap().to_string()))
        })
        .collect();
    let started = std::time::Instant::now();
    let first_pass = ping_pairs(&pairs, 16);
    // A ping lost while 16 others compete for two loaded cores is tried once
    // more, alone: a pair the datapath cannot route fails both times. More
    // than 1% lost is no accident, and retrying it would take hours.
    assert!(
        first_pass.len() * 100 <= pairs.len(),
        "{} of {} pairs failed, e.g. {:?}",
        first_pass.len(),
        pairs.len(),
        &first_pass[..5]
    );
    let failed = ping_pairs(&first_pass, 1);
    eprintln!(
        "{nodes} nodes x {pods} pods: lab up {:.2}s, {} pairs pinged in {:.2}s, {} retried, {} failed",
        up.as_secs_f64(),
        pairs.len(),
        started.elapsed().as_secs_f64(),
        first_pass.len(),
        failed.len()
    );
    assert_eq!(pairs.len(), nodes * pods * (nodes * pods - 1));
    assert!(
        failed.is_empty(),
        "{} of {} pairs failed, e.g. {:?}",
        failed.len(),
        pairs.len(),
        &failed[..failed.len().min(5)]
    );
}

#[test]
fn four_nodes_ten_pods_all_pairs() {
    if !can_run("four_nodes_ten_pods_all_pairs") {
        return;
    }
    all_pairs_reach(4, 10, "t-scale");
}

/// 300 pods, 89,700 pairs: about a minute.
#[test]
fn ten_nodes_thirty_pods_all_pairs() {
    if !can_run("ten_nodes_thirty_pods_all_pairs") {
        return;
    }
    all_pairs_reach(10, 30, "t-scale300");
}
