//! `routec build` without clang of the cluster `routec gen --nodes 5000
//! --pods-per-node 30` writes (150,000 pods): seeds, node configs, attach plans, manifest. Budget: ≤ 1 s.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use routec_compiler::build::{build, BuildOptions, ClangChoice};
use routec_compiler::seeds::{ipcache_entries, render_seed};

#[path = "../tests/build_support/mod.rs"]
mod build_support;

fn bench_build(c: &mut Criterion) {
    let cluster = build_support::generated_cluster(5000, 30);
    let options = BuildOptions::new(ClangChoice::Skip, "sha256:bench".into());
    let scratch = std::env::temp_dir().join(format!("routec-bench-build-{}", std::process::id()));
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("ipcache_seed_150k_pods", |b| b.iter(|| render_seed(&ipcache_entries(&cluster)).len()));
    let mut round = 0;
    group.bench_function("build_5000_nodes_150k_pods_no_clang", |b| {
        b.iter_batched(
            || {
                round += 1;
                scratch.join(format!("out-{round}"))
            },
            |out| {
                let report = build(&cluster, &options, &out).unwrap();
                assert_eq!(report.pods, 150_000);
                out
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&scratch);
}

criterion_group!(benches, bench_build);
criterion_main!(benches);
