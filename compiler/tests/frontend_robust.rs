//! Hostile input: random bytes, truncations and token-level mutations of the
//! examples, deep nesting, huge garbage. The front end must answer with a
//! clean result or diagnostics, never a panic or a stack overflow.

use std::path::Path;

use proptest::prelude::*;
use routec_compiler::fmt::format_source;
use routec_compiler::frontend::analyze_str;
use routec_compiler::syntax::lexer::{Lexer, TokenKind};
use routec_compiler::syntax::parser::MAX_SYNTAX_ERRORS;

fn examples() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut texts = Vec::new();
    for dir in [
        "mycluster/cluster.route",
        "multi-file/cluster.route",
        "multi-file/nodes/edge-a.route",
        "multi-file/nodes/edge-b.route",
    ] {
        texts.push(std::fs::read_to_string(root.join(dir)).unwrap());
    }
    texts
}

/// Everything the front end offers, on one text; panics are the failure.
fn exercise(text: &str) {
    let analysis = analyze_str("fuzz.route", text);
    assert_eq!(analysis.cluster.is_some(), !analysis.has_errors());
    // Rendering touches every span: they must all be in bounds.
    analysis.render_human_string();
    analysis.render_json_string();
    if let Ok(formatted) = format_source("fuzz.route", text) {
        assert_eq!(format_source("fuzz.route", &formatted).ok().as_deref(), Some(formatted.as_str()));
    }
}

/// The source slices of every token, newlines included.
fn tokens(text: &str) -> Vec<String> {
    Lexer::new(text, true).map(|t| text[t.start..t.end].to_string()).collect()
}

fn rejoin(tokens: &[String]) -> String {
    let mut out = String::new();
    for t in tokens {
        if t != "\n" && !out.is_empty() && !out.ends_with('\n') {
            out.push(' ');
        }
        out.push_str(t);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Replace(usize, &'static str),
}

const REPLACEMENTS: &[&str] = &[
    "{",
    "}",
    ";",
    "\n",
    "node",
    "pod",
    "cluster",
    "on",
    "ip",
    "overlay",
    "vxlan",
    "0",
    "0x",
    "4096",
    "99999999999999999999999",
    "10.10.2.999",
    "10.10.2.0/33",
    "1.2.3.4/24",
    "ea:c4:71",
    "\"unterminated",
    "\"str\"",
    "@",
    "é",
    "-1",
    "# comment",
    "mycluster-wroker",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), prop::sample::select(REPLACEMENTS)).prop_map(|(a, r)| Mutation::Replace(a, r)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_from_the_alphabet(text in "[a-z0-9 {};:./#\"\\\\\n\r\t-]{0,600}") {
        exercise(&text);
    }

    #[test]
    fn truncations(which in 0usize..4, cut in any::<prop::sample::Index>()) {
        let text = &examples()[which];
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        exercise(&text[..end]);
    }

    #[test]
    fn token_mutations(which in 0usize..4, mutations in prop::collection::vec(mutation(), 1..8)) {
        let mut toks = tokens(&examples()[which]);
        for m in mutations {
            let n = toks.len();
            if n == 0 {
                break;
            }
            match m {
                Mutation::Delete(i) => { toks.remove(i % n); }
                Mutation::Duplicate(i) => { let t = toks[i % n].clone(); toks.insert(i % n, t); }
                Mutation::Swap(a, b) => toks.swap(a % n, b % n),
                Mutation::Replace(i, r) => toks[i % n] = r.to_string(),
            }
        }
        exercise(&rejoin(&toks));
    }
}

#[test]
fn token_rejoin_keeps_meaning() {
    // The mutation test's baseline: unmutated examples rejoined stay valid.
    let text = rejoin(&tokens(&examples()[0]));
    assert!(!analyze_str("x.route", &text).has_errors());
}

#[test]
fn deep_nesting_is_a_diagnostic() {
    for text in [
        "{".repeat(1_000_000),
        format!("cluster c {{ overlay vxlan {}", "{".repeat(1_000_000)),
        format!("node n {{\n{}{}\n}}", "{\n".repeat(200_000), "}".repeat(200_000)),
        "}".repeat(1_000_000),
    ] {
        let analysis = analyze_str("deep.route", &text);
        assert!(analysis.diagnostics.iter().any(|d| d.code.as_str() == "E0001"));
        assert!(analysis.diagnostics.len() <= MAX_SYNTAX_ERRORS + 3, "{} diagnostics", analysis.diagnostics.len());
    }
}

#[test]
fn huge_garbage_gives_a_bounded_report() {
    let text = "@ 1 ; } pod\n".repeat(200_000);
    let analysis = analyze_str("garbage.route", &text);
    let syntax = analysis.diagnostics.iter().filter(|d| d.code.as_str() == "E0001").count();
    assert_eq!(syntax, MAX_SYNTAX_ERRORS + 1, "capped, with a last 'too many errors' diagnostic");
    assert!(analysis.has_errors());
}

#[test]
fn lexer_spans_cover_the_text() {
    for text in examples() {
        let mut pos = 0;
        for tok in Lexer::new(&text, true) {
            assert!(text[pos..tok.start].chars().all(|c| c == ' ' || c == '\t' || c == '\r'));
            assert!(tok.end > tok.start);
            assert!(!matches!(tok.kind, TokenKind::Error(_)));
            pos = tok.end;
        }
        assert!(text[pos..].trim().is_empty());
    }
}

#[test]
fn control_characters_are_errors() {
    // A form feed once made the lexer emit an empty token forever.
    for text in ["\x0c", "node\x0bn {}", "\0", "cluster c {}\n\x1b[31m"] {
        let analysis = analyze_str("ctl.route", text);
        assert!(analysis.diagnostics.iter().any(|d| d.message.starts_with("unexpected character")), "{text:?}");
    }
}

#[test]
fn parallel_parse_equals_sequential() {
    use routec_compiler::gen::{generate_string, GenOptions};
    use routec_compiler::syntax::parser::{parse, parse_sequential};
    let text = generate_string(&GenOptions { nodes: 400, pods_per_node: 20, seed: 5 }).unwrap();
    assert!(text.len() > 1 << 20, "large enough for the parallel path");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert_eq!(parse(0, &text, &mut a), parse_sequential(0, &text, &mut b));
    assert!(a.is_empty() && b.is_empty());

    // An error anywhere: the same diagnostics as the sequential parse.
    let broken = text.replacen("    ip 10.0.100.2\n", "    ip 10.0.100.2 @\n", 1).replacen(
        "node node-300 {",
        "node node-300 {{",
        1,
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert_eq!(parse(0, &broken, &mut a), parse_sequential(0, &broken, &mut b));
    assert_eq!(a, b);
    assert!(a.len() >= 2, "{a:?}");
}
