//! The front end at scale: a generated 5,000-node x 30-pod cluster (150,000
//! pods, ~27 MB of text). Budget: parse + validate <= 0.5 s on the 2-core
//! reference machine (see docs/performance.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use routec_compiler::frontend::analyze_str;
use routec_compiler::gen::{generate_string, GenOptions};
use routec_compiler::syntax::parse;

fn frontend(c: &mut Criterion) {
    let text = generate_string(&GenOptions { nodes: 5000, pods_per_node: 30, seed: 1 }).expect("valid options");
    let mut group = c.benchmark_group("frontend-5000x30");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse", |b| {
        b.iter(|| {
            let mut diags = Vec::new();
            let file = parse(0, &text, &mut diags);
            assert!(diags.is_empty());
            file
        })
    });
    group.bench_function("parse+validate", |b| {
        b.iter(|| {
            let analysis = analyze_str("bench.route", &text);
            assert_eq!(analysis.cluster.as_ref().map(|c| c.pods.len()), Some(150_000));
            analysis
        })
    });
    group.finish();
}

criterion_group!(benches, frontend);
criterion_main!(benches);
