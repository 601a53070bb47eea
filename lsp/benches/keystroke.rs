//! From a keystroke in one file to its diagnostics, through the real server
//! on a memory connection: the edit goes in as `didChange`, the time ends
//! when `publishDiagnostics` for that file comes back. Each keystroke adds
//! or removes one letter of a statement keyword, so every one changes the
//! file's diagnostics (E0002 appears, then goes) and is published.
//! Targets (issue 10): <= 5 ms on examples/mycluster, <= 100 ms on the
//! 5,000-node, 150,000-pod cluster in one file per node. A keystroke
//! updates the server's validation with the one file; the last bench
//! validates the same parses whole, as `check` does, for the ratio.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use lsp_types::{Diagnostic, NumberOrString, Position, Range};
use routec_compiler::frontend;
use routec_compiler::gen::{generate_string, GenOptions};
use routec_compiler::syntax::parse;

use common::Client;

/// Times keystrokes in `file` (below `root`) at the first `address`.
fn keystrokes(c: &mut Criterion, name: &str, root: &Path, file: &Path) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut client = Client::start(root, false);
    client.open(file, &text);
    client.sync();
    let at = common::find(&text, "address", 0, 7);
    let uri = common::uri(file);
    let mut version = 1;
    let mut group = c.benchmark_group("keystroke-to-diagnostics");
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| {
            version += 2;
            client.edit(file, version, Range::new(at, at), "s");
            assert!(has_e0002(&client.next_diagnostics(&uri)));
            let after = Position::new(at.line, at.character + 1);
            client.edit(file, version + 1, Range::new(at, after), "");
            assert!(!has_e0002(&client.next_diagnostics(&uri)));
        })
    });
    group.finish();
}

fn has_e0002(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.code == Some(NumberOrString::String("E0002".into())))
}

fn mycluster(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster").canonicalize().unwrap();
    keystrokes(c, "mycluster (2 keystrokes)", &root, &root.join("cluster.route"));
}

/// `routec gen --nodes 5000 --pods-per-node 30`, one file per node.
fn split_cluster(c: &mut Criterion) {
    let text = generate_string(&GenOptions { nodes: 5000, pods_per_node: 30, seed: 1 }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut parts = text.split("\nnode ");
    std::fs::write(dir.path().join("cluster.route"), parts.next().unwrap()).unwrap();
    let mut first = None;
    for (i, part) in parts.enumerate() {
        let path = dir.path().join(format!("node-{i:04}.route"));
        std::fs::write(&path, format!("node {part}")).unwrap();
        first.get_or_insert(path);
    }
    keystrokes(c, "5000 files, 150000 pods (2 keystrokes)", dir.path(), &first.unwrap());

    // Side by side in one run: what a keystroke would cost if it validated
    // the whole cluster again, as `check` does after parsing (no server).
    let mut syntax = Vec::new();
    let texts: Vec<String> =
        frontend::route_files(dir.path()).unwrap().iter().map(|path| std::fs::read_to_string(path).unwrap()).collect();
    let trees: Vec<_> = texts.iter().enumerate().map(|(id, text)| parse(id, text, &mut syntax)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    assert!(syntax.is_empty());
    let mut group = c.benchmark_group("keystroke-to-diagnostics");
    group.sample_size(10);
    group.bench_function("5000 files, 150000 pods: whole-cluster validation, as check", |b| {
        b.iter(|| frontend::validate_parsed(&trees, &texts, Vec::new()))
    });
    group.finish();
}

criterion_group!(benches, mycluster, split_cluster);
criterion_main!(benches);
