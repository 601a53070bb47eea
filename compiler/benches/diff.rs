//! `routec diff` of two builds of the cluster `routec gen --nodes 5000
//! --pods-per-node 30` writes, one pod's identity changed: both builds read
//! back (every file checked against its manifest) and compared. Budget:
//! well under 1 s.

use criterion::{criterion_group, criterion_main, Criterion};
use routec_compiler::build::BuildFiles;
use routec_compiler::build::{build, BuildOptions, ClangChoice};
use routec_compiler::diff::{diff, diff_builds, BuildState};

#[path = "../tests/build_support/mod.rs"]
mod build_support;

fn bench_diff(c: &mut Criterion) {
    let old = build_support::generated_cluster(5000, 30);
    let mut new = old.clone();
    new.pods[75_000].identity += 1;
    let options = BuildOptions::new(ClangChoice::Skip, "sha256:bench".into());
    let base = std::env::var_os("ROUTEC_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let scratch = base.join(format!("routec-bench-diff-{}", std::process::id()));
    let (old_out, new_out) = (scratch.join("old"), scratch.join("new"));
    build(&old, &options, &old_out).unwrap();
    build(&new, &options, &new_out).unwrap();
    drop((old, new));
    let mut group = c.benchmark_group("diff");
    group.sample_size(10);
    group.bench_function("diff_5000_nodes_150k_pods_one_pod_changed", |b| {
        b.iter(|| {
            let plan = diff_builds(&old_out, &new_out, false).unwrap();
            assert_eq!(plan.summary().change, 5001);
            plan
        })
    });
    // The parts: reading one build back, and comparing two states in memory.
    let read = |out: &std::path::Path| BuildState::read(&BuildFiles::open(out).unwrap()).unwrap();
    group.bench_function("read_one_build", |b| b.iter(|| read(&new_out).nodes.len()));
    let (old_state, new_state) = (read(&old_out), read(&new_out));
    group.bench_function("compare_two_states", |b| b.iter(|| diff(&old_state, &new_state).summary()));
    group.finish();
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, bench_diff);
criterion_main!(benches);
