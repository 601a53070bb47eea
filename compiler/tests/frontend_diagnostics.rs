//! Every diagnostic code, rendered for people and as JSON, against insta
//! snapshots keyed by the input's file name (tests/diagnostics/*.route).
//! An input named `E0007.route` or `E0007-what.route` must produce E0007.

use std::path::Path;

use routec_compiler::diagnostics::Code;
use routec_compiler::frontend::{analyze_str, MAX_HUMAN_DIAGNOSTICS_PER_FILE};

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
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics/E0008.route")).unwrap();
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

/// `cluster` header, then `body` as one line.
fn one_long_line(body: &str) -> String {
    format!("cluster c {{\n    overlay vxlan\n}}\n{body}\n")
}

#[test]
fn a_megabyte_line_renders_clipped_around_the_labels() {
    let unit = "node a { address 1.2.3.4 pod-cidr 10.0.0.0/24 } ";
    let text = one_long_line(&unit.repeat(1_000_000 / unit.len()));
    let analysis = analyze_str("long.route", &text);
    let human = analysis.render_human_string();
    // Each diagnostic shown has a few short lines, not the line.
    let shown = human.matches("─ long.route:4:").count();
    assert_eq!(shown, analysis.diagnostics.len().min(MAX_HUMAN_DIAGNOSTICS_PER_FILE));
    assert!(human.lines().all(|l| l.chars().count() < 200), "a line of the output is long");
    assert!(human.len() < 400 * shown, "{} bytes", human.len());
    // Columns are the source's, and the carets sit under the labelled text.
    let second_unit = 1 + unit.len() + "node a { address 1.2.3.4 ".len();
    let at = format!("long.route:4:{second_unit}");
    let block =
        human.split("\n\n").find(|b| b.contains(&at)).unwrap_or_else(|| panic!("no diagnostic at {at}:\n{human}"));
    let lines: Vec<&str> = block.lines().collect();
    let source = lines.iter().position(|l| l.starts_with("4 │ …")).expect("the clipped source line");
    let caret = lines[source + 1].find('^').expect("carets under it");
    let label = lines[source].char_indices().map(|(i, _)| i).find(|&i| lines[source][i..].starts_with("pod-cidr"));
    let column = |line: &str, byte: usize| line[..byte].chars().count();
    assert!(
        label.is_some_and(|l| column(lines[source], l) == column(lines[source + 1], caret)),
        "carets not under `pod-cidr`:\n{block}"
    );
}

#[test]
fn a_huge_name_is_shortened_in_messages_but_not_in_spans() {
    let name = "x".repeat(1_000_000);
    let analysis = analyze_str("name.route", &one_long_line(&name));
    assert_eq!(analysis.diagnostics.len(), 1);
    let message = &analysis.diagnostics[0].message;
    assert_eq!(message, &format!("unknown statement `{}…{}`", "x".repeat(40), "x".repeat(20)));
    let human = analysis.render_human_string();
    assert!(human.len() < 1000, "{human}");
    assert!(human.contains("4 │ xxxxxxxx"), "{human}");
    let json: serde_json::Value = serde_json::from_str(analysis.render_json_string().trim()).unwrap();
    assert_eq!(json["message"], message.as_str());
    assert_eq!(
        json["range"][1].as_u64().unwrap() - json["range"][0].as_u64().unwrap(),
        1_000_000,
        "the span is the whole name"
    );
    assert_eq!(json["end"]["column"], 1_000_001);
}

#[test]
fn names_up_to_the_limit_are_quoted_whole() {
    use routec_compiler::diagnostics::{short, SHORT_MAX_CHARS};
    let name = "é".repeat(SHORT_MAX_CHARS);
    assert_eq!(short(&name).to_string(), name);
    let longer = format!("{name}z");
    assert_eq!(short(&longer).to_string(), format!("{}…{}z", "é".repeat(40), "é".repeat(19)));
}

#[test]
fn human_output_shows_a_bounded_number_of_diagnostics_per_file() {
    let hidden = 57;
    let nodes: String = (0..MAX_HUMAN_DIAGNOSTICS_PER_FILE + hidden)
        .map(|i| {
            format!(
                "node n{i} {{\n    address 172.16.{}.{}\n    pod-cidr 10.{}.{}.0/24\n}}\n",
                i / 256,
                i % 256,
                i / 256,
                i % 256
            )
        })
        .collect();
    let analysis = analyze_str("many.route", &format!("cluster c {{\n    overlay vxlan\n}}\n{nodes}"));
    assert_eq!(analysis.warning_count(), MAX_HUMAN_DIAGNOSTICS_PER_FILE + hidden, "one W0102 per node");
    let human = analysis.render_human_string();
    assert_eq!(human.matches("warning[W0102]").count(), MAX_HUMAN_DIAGNOSTICS_PER_FILE);
    assert!(
        human.ends_with(&format!(
            "note: {hidden} more diagnostics in `many.route` not shown ({hidden} warnings); `--message-format json` lists them all\n\n"
        )),
        "{}",
        &human[human.len() - 300..]
    );
    assert_eq!(
        analysis.render_json_string().lines().count(),
        MAX_HUMAN_DIAGNOSTICS_PER_FILE + hidden,
        "JSON lists every one"
    );
}

#[test]
fn columns_on_a_long_line_count_characters() {
    use routec_compiler::source::SourceFile;
    let text = format!("ab\n{}x\n", "é".repeat(10_000));
    let file = SourceFile::new("t".into(), text.clone());
    for byte in [3, 5, 4099, 8193, 20_003, 20_004] {
        let expected = text[3..byte].chars().count() + 1;
        assert_eq!(file.location(byte).column, expected, "byte {byte}");
        assert_eq!(file.location(byte).line, 2);
    }
}

/// Node names go up to 253 bytes, the longest DNS-1123 subdomain; the
/// loader's state files are named to hold every one of them
/// (runtime/tests/apply_long_node_name.rs). Longer ones are refused here.
#[test]
fn node_names_are_accepted_up_to_253_bytes_and_refused_above() {
    let node = |name: &str| {
        let source = format!(
            "cluster c {{\n    overlay vxlan\n}}\nnode {name} {{\n    address 172.18.0.2\n    pod-cidr 10.10.2.0/24\n}}\n"
        );
        let diagnostics = analyze_str("long.route", &source).diagnostics;
        diagnostics.iter().filter(|d| d.code == Code::E0012).map(|d| d.message.clone()).collect::<Vec<_>>()
    };
    let labels = format!("{}.", "a".repeat(63)).repeat(3);
    let longest = format!("{labels}{}", "b".repeat(61));
    assert_eq!(longest.len(), 253);
    assert_eq!(node(&longest), Vec::<String>::new());
    for extra in ["c", "cc"] {
        assert_eq!(node(&format!("{longest}{extra}")).len(), 1, "{extra}");
    }
}
