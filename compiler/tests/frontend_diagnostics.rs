//! Every diagnostic code, rendered for people and as JSON, against insta
//! snapshots keyed by the input's file name (tests/diagnostics/*.route).
//! An input named `E0007.route` or `E0007-what.route` must produce E0007.

use std::path::Path;

use routec_compiler::diagnostics::Code;
use routec_compiler::frontend::analyze_str;

fn inputs() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut inputs: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "route"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn every_code_has_an_input() {
    let names: Vec<String> = inputs().into_iter().map(|(name, _)| name).collect();
    for code in Code::ALL {
        assert!(names.iter().any(|n| n.starts_with(code.as_str())), "no input in tests/diagnostics for {code}");
    }
}

#[test]
fn diagnostics_snapshots() {
    for (name, text) in inputs() {
        let analysis = analyze_str(&name, &text);
        let expected = &name[..5];
        assert!(
            analysis.diagnostics.iter().any(|d| d.code.as_str() == expected),
            "{name} should produce {expected}:\n{}",
            analysis.render_human_string()
        );
        assert_eq!(analysis.cluster.is_some(), !analysis.has_errors());
        let stem = name.trim_end_matches(".route");
        insta::with_settings!({snapshot_path => "../../snapshots/frontend", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("diagnostics-{stem}"), analysis.render_human_string());
            insta::assert_snapshot!(format!("diagnostics-{stem}.json"), analysis.render_json_string());
        });
    }
}

#[test]
fn json_lines_have_the_documented_fields() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics/E0008.route")).unwrap();
    let analysis = analyze_str("E0008.route", &text);
    let json = analysis.render_json_string();
    let line = json.lines().next().unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["code"], "E0008");
    assert_eq!(v["severity"], "error");
    assert_eq!(v["file"], "E0008.route");
    let [start, end] = [v["range"][0].as_u64().unwrap() as usize, v["range"][1].as_u64().unwrap() as usize];
    assert_eq!(&text[start..end], "10.10.2.10");
    assert_eq!(v["start"]["line"], 18);
    assert_eq!(v["start"]["column"], 8);
    assert_eq!(v["end"]["column"], 18);
    assert_eq!(v["labels"].as_array().unwrap().len(), 2, "both places are labelled");
    assert_eq!(v["labels"][1]["start"]["line"], 11);
    assert!(v["help"].is_string());
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let text = "cluster c {\n    overlay vxlen\n}\nnode n {\n    adress 1.2.3.4\n    address 172.18.0.2\n    pod-cidr 10.0.0.0/24\n}\n\
                pod a/b on n {\n    ip 10.0.0.2\n    endpoint 9999\n    identity 1000\n    lxc lxc1\n}\n\
                pod a/c on m {\n    ip 10.0.0.3\n    endpoint 2\n    identity 1000\n    lxc lxc2\n}\n";
    let analysis = analyze_str("t.route", text);
    let codes: Vec<Code> = analysis.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::E0001, Code::E0002, Code::E0011, Code::E0006]);
}
