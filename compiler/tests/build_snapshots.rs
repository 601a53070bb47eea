//! The whole build output (without clang: text, and the binary seed as hex) of each
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
            let bytes = std::fs::read(entry.path()).unwrap();
            // Binary seeds as hex, one entry (36 bytes) a line; everything else is text.
            let text = match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => e
                    .as_bytes()
                    .chunks(36)
                    .map(|entry| format!("{}\n", routec_compiler::seeds::hex_bytes(entry)))
                    .collect(),
            };
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
