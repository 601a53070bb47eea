//! The whole build output (without clang: every file is text) of each
//! example, against insta snapshots keyed by the example's name.

mod build_support;

use build_support::analyze_example;
use routec_compiler::build::{analysis_digest, build, BuildOptions, ClangChoice};

fn render_tree(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(entry.path()).expect("--no-clang output is text");
            out.push_str(&format!("=== {rel} ===\n{text}"));
        }
    }
    out
}

#[test]
fn build_output_snapshots() {
    for name in ["mycluster", "multi-file"] {
        let (path, analysis) = analyze_example(name);
        let digest = analysis_digest(&path, &analysis).unwrap();
        let options = BuildOptions { maps: analysis.settings.maps, ..BuildOptions::new(ClangChoice::Skip, digest) };
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out");
        build(analysis.cluster.as_ref().unwrap(), &options, &out).unwrap();
        insta::with_settings!({snapshot_path => "../../snapshots/build", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("build-{name}"), render_tree(&out));
        });
    }
}
