//! `routec fmt`: snapshots of formatted inputs, canonical examples, and the
//! two laws: formatting keeps the meaning (same tree, modulo spans) and is
//! idempotent, over files and over proptest-generated clusters.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use routec_compiler::fmt::format_source;
use routec_compiler::gen::{generate_string, GenOptions};
use routec_compiler::syntax::parse;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn route_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        walk(dir).into_iter().filter(|p| p.extension().is_some_and(|x| x == "route")).collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The syntax tree's Debug form without its spans (`@file:start..end`).
fn tree_without_spans(text: &str) -> String {
    let mut diags = Vec::new();
    let tree = format!("{:?}", parse(0, text, &mut diags));
    assert!(diags.is_empty(), "{diags:?}");
    let mut out = String::with_capacity(tree.len());
    let mut chars = tree.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' {
            while chars.peek().is_some_and(|c| c.is_ascii_digit() || *c == ':' || *c == '.') {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn comments(text: &str) -> Vec<String> {
    use routec_compiler::syntax::lexer::{Lexer, TokenKind};
    Lexer::new(text, true)
        .filter(|t| t.kind == TokenKind::Comment)
        .map(|t| text[t.start..t.end].trim_end().to_string())
        .collect()
}

fn check_laws(name: &str, text: &str) -> String {
    let once = format_source(name, text).unwrap_or_else(|a| panic!("{name}: {}", a.render_human_string()));
    assert_eq!(tree_without_spans(text), tree_without_spans(&once), "{name}: formatting changed the meaning");
    assert_eq!(comments(text), comments(&once), "{name}: formatting lost or moved a comment");
    let twice = format_source(name, &once).unwrap();
    assert_eq!(once, twice, "{name}: formatting is not idempotent");
    once
}

#[test]
fn fmt_snapshots() {
    for path in route_files(&manifest().join("tests/fmt")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let formatted = check_laws(&name, &text);
        insta::with_settings!({snapshot_path => "../../snapshots/frontend", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!(format!("fmt-{}", name.trim_end_matches(".route")), formatted);
        });
    }
}

#[test]
fn examples_are_canonical() {
    for path in route_files(&manifest().join("../examples")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let formatted = check_laws(&path.display().to_string(), &text);
        assert_eq!(formatted, text, "{} is not in canonical layout", path.display());
    }
}

#[test]
fn diagnostics_inputs_keep_their_meaning() {
    for path in route_files(&manifest().join("tests/diagnostics")) {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut diags = Vec::new();
        parse(0, &text, &mut diags);
        if diags.is_empty() {
            check_laws(&path.display().to_string(), &text);
        } else {
            assert!(
                format_source("x.route", &text).is_err(),
                "{}: files with syntax errors are not formatted",
                path.display()
            );
        }
    }
}

#[test]
fn generated_clusters_are_canonical() {
    let text = generate_string(&GenOptions { nodes: 20, pods_per_node: 7, seed: 3 }).unwrap();
    assert_eq!(check_laws("gen.route", &text), text);
}

/// Literals as a person may write them, per statement.
fn value(keyword: &'static str) -> BoxedStrategy<String> {
    match keyword {
        "mtu" | "port" | "vni" | "endpoint" | "identity" | "ifindex" | "ttl" => {
            prop_oneof![any::<u32>().prop_map(|n| n.to_string()), any::<u16>().prop_map(|n| format!("0x{n:x}"))].boxed()
        }
        // IPv6 in the forms people write: compressed (std's), full, and uppercase.
        "address" | "router" | "ip" => prop_oneof![
            any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
            any::<u128>().prop_map(|a| std::net::Ipv6Addr::from(a).to_string()),
            any::<[u16; 8]>().prop_map(|g| g.map(|x| format!("{x:X}")).join(":")),
        ]
        .boxed(),
        "pod-cidr" => prop_oneof![
            (any::<[u8; 4]>(), 0u8..=32).prop_map(|(b, l)| format!("{}.{}.{}.{}/{l}", b[0], b[1], b[2], b[3])),
            (any::<u128>(), 0u8..=130).prop_map(|(a, l)| format!("{}/{l}", std::net::Ipv6Addr::from(a))),
        ]
        .boxed(),
        "mac" | "node-mac" => any::<[u8; 6]>().prop_map(|b| routec_compiler::model::Mac(b).to_string()).boxed(),
        "proto" => prop::sample::select(&["icmp", "tcp", "udp"][..]).prop_map(str::to_string).boxed(),
        _ => "[a-z_][a-z0-9_./-]{0,12}".boxed(),
    }
}

fn statements(keywords: &'static [&'static str]) -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(prop::sample::select(keywords), 0..6)
        .prop_flat_map(|kws| {
            kws.into_iter().map(|k| value(k).prop_map(move |v| format!("{k} {v}"))).collect::<Vec<_>>()
        })
        .boxed()
}

/// Joins statements with random separators, indentation and comments.
fn layout(header: String, stmts: Vec<String>, choices: Vec<(u8, u8)>) -> String {
    let mut out = header + " {";
    for (stmt, (sep, extra)) in stmts.iter().zip(choices.iter().cycle()) {
        match sep % 4 {
            0 => out.push_str(&format!("\n    {stmt}")),
            1 => out.push_str(&format!("\n\t{stmt}\n")),
            2 => out.push_str(&format!("\n{stmt} # note {extra}\n")),
            _ => out.push_str(&format!("; {stmt}")),
        }
        if extra % 5 == 0 {
            out.push_str(&format!("\n  # own line {extra}\n"));
        }
    }
    out.push_str(if choices.first().is_some_and(|c| c.1 % 2 == 0) { "\n}" } else { " }" });
    out
}

/// One end of an expectation: a pod, an address, or a node.
fn endpoint() -> BoxedStrategy<String> {
    prop_oneof!["[a-z]{1,5}/[a-z0-9-]{1,8}", value("ip"), "[a-z][a-z0-9-]{0,8}".prop_map(|n| format!("node {n}")),]
        .boxed()
}

fn item() -> BoxedStrategy<String> {
    let choices = prop::collection::vec((any::<u8>(), any::<u8>()), 1..4);
    prop_oneof![
        (
            "[a-z][a-z0-9-]{0,8}",
            statements(&["mtu"]),
            prop::sample::select(&["vxlan", "geneve", "none"][..]),
            statements(&["port", "vni"]),
            choices.clone()
        )
            .prop_map(|(name, stmts, kind, overlay, choices)| {
                let mut stmts = stmts;
                stmts.push(layout(format!("overlay {kind}"), overlay, choices.clone()));
                layout(format!("cluster {name}"), stmts, choices)
            }),
        ("[a-z][a-z0-9-]{0,8}", statements(&["address", "pod-cidr", "router", "device"]), choices.clone())
            .prop_map(|(name, stmts, choices)| layout(format!("node {name}"), stmts, choices)),
        (
            "[a-z]{1,5}/[a-z0-9-]{1,8}",
            "[a-z][a-z0-9-]{0,8}",
            statements(&["ip", "endpoint", "identity", "lxc", "ifindex", "mac", "node-mac"]),
            choices.clone()
        )
            .prop_map(|(name, node, stmts, choices)| layout(format!("pod {name} on {node}"), stmts, choices)),
        (
            endpoint(),
            endpoint(),
            prop::sample::select(&["delivered", "dropped"][..]),
            prop::option::of("[a-z][a-z-]{0,12}"),
            prop::option::of((statements(&["proto", "port", "ttl"]), choices)),
        )
            .prop_map(|(src, dst, outcome, reason, block)| {
                let mut header = format!("expect {src} -> {dst} {outcome}");
                if let Some(reason) = reason {
                    header = format!("{header} {reason}");
                }
                match block {
                    Some((stmts, choices)) => layout(header, stmts, choices),
                    None => header,
                }
            }),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fmt_laws_hold_for_generated_files(items in prop::collection::vec((item(), 0u8..4), 0..6)) {
        let mut text = String::new();
        for (item, gap) in items {
            text.push_str(&item);
            text.push_str(["\n", "\n\n", "\n\n\n# between\n", "\n# right above\n"][gap as usize]);
        }
        check_laws("generated.route", &text);
    }
}
