//! `routec build` without clang of the cluster `routec gen --nodes 5000
//! --pods-per-node 30` writes (150,000 pods): seeds, node configs, attach
//! plans, cluster.json, manifest (15,016 files in 5,000 folders). Budget: ≤ 1 s.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use routec_compiler::build::{build, BuildOptions, ClangChoice};
use routec_compiler::seeds::{ipcache_entries, lxc_entries, render_seed};

#[path = "../tests/build_support/mod.rs"]
mod build_support;

fn bench_build(c: &mut Criterion) {
    let cluster = build_support::generated_cluster(5000, 30);
    let options = BuildOptions::new(ClangChoice::Skip, "sha256:bench".into());
    // ROUTEC_BENCH_DIR picks the file system (e.g. /dev/shm to leave the
    // disk's inode allocator out of the figure).
    let base = std::env::var_os("ROUTEC_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let scratch = base.join(format!("routec-bench-build-{}", std::process::id()));
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("ipcache_seed_150k_pods", |b| b.iter(|| render_seed(&ipcache_entries(&cluster)).len()));
    // Every seed of the cluster in memory: the build's work without the file system.
    group.bench_function("all_seeds_in_memory", |b| {
        b.iter(|| {
            let lxc: usize = (0..cluster.nodes.len()).map(|n| render_seed(&lxc_entries(&cluster, n)).len()).sum();
            lxc + render_seed(&ipcache_entries(&cluster)).len()
        })
    });
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
