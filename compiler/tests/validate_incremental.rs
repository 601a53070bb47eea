//! The language server updates a validation file by file
//! (`Validation::replace`); `check` validates all files at once. Random
//! multi-file inputs, drawn from small pools of names, addresses and
//! pod-cidrs so that duplicates, overlaps, unknown nodes and broken
//! expectations across files are common, are edited one file at a time:
//! after every edit the updated validation must equal a fresh one, and every
//! file whose diagnostics changed must be reported as changed.

use proptest::prelude::*;
use routec_compiler::diagnostics::Diagnostic;
use routec_compiler::syntax::{ast, parse};
use routec_compiler::validate::Validation;

fn node() -> impl Strategy<Value = String> {
    let address = prop_oneof![
        3 => (0..2u8, 0..4u8).prop_map(|(third, host)| format!("172.16.{third}.{host}")),
        1 => (0..6u8, 0..3u8, 0..4u8).prop_map(|(net, third, host)| format!("10.{net}.{}.{host}", third * 2)),
    ];
    (0..6u8, address, 0..6u8, prop::sample::select(vec![16u8, 23, 24, 25]), 0..3u8, any::<bool>()).prop_map(
        |(name, address, net, len, third, router)| {
            let cidr = format!("10.{net}.{}.0/{len}", third * 2);
            let router = if router { format!(" router 10.{net}.{}.9", third * 2) } else { String::new() };
            format!("node n{name} {{ address {address} pod-cidr {cidr}{router} }}\n")
        },
    )
}

fn pod() -> impl Strategy<Value = String> {
    (0..8u8, 0..7u8, 0..6u8, 0..3u8, prop::sample::select(vec![0u8, 1, 9, 20, 255]), 1..4u16, 0..3u8, any::<bool>())
        .prop_map(|(name, node, net, third, host, endpoint, lxc, ifindex)| {
            let ifindex = if ifindex { format!(" ifindex {}", lxc + 2) } else { String::new() };
            format!(
                "pod ns/p{name} on n{node} {{ ip 10.{net}.{}.{host} endpoint {endpoint} identity 300 lxc lxc{lxc}{ifindex} }}\n",
                third * 2
            )
        })
}

fn expect() -> impl Strategy<Value = String> {
    (0..9u8, 0..9u8, 0..7u8, 0..6u8).prop_map(|(src, dst, node, net)| match (src + dst) % 3 {
        0 => format!("expect ns/p{src} -> ns/p{dst} delivered\n"),
        1 => format!("expect node n{node} -> 10.{net}.0.9 dropped no-route\n"),
        _ => format!("expect 10.{net}.0.{src} -> ns/p{dst} delivered\n"),
    })
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => node(),
        6 => pod(),
        2 => expect(),
        1 => (0..2u8).prop_map(|c| format!("cluster c{c} {{ mtu {} }}\n", 1400 + u32::from(c) * 9000)),
        1 => Just("node n1 { address 172.16.0.1\n".to_string()),
        1 => Just("pod ns/p1 on n1 { ip 10.0.0.5 endpoint 70000 identity 5 lxc lxc1 lxc lxc2 }\n".to_string()),
    ]
}

fn file() -> impl Strategy<Value = String> {
    prop::collection::vec(item(), 0..6).prop_map(|items| items.concat())
}

fn parsed(texts: &[String]) -> Vec<ast::File> {
    texts.iter().enumerate().map(|(id, text)| parse(id, text, &mut Vec::new())).collect()
}

/// What a validation tells of one file: its diagnostics, and those of other
/// files that label it.
type Seen = (Vec<Diagnostic>, Vec<(usize, Diagnostic)>);

/// Everything a validation tells, file by file.
fn seen(v: &Validation, files: usize) -> Vec<Seen> {
    (0..files)
        .map(|id| {
            let own = v.diagnostics(id).cloned().collect();
            let labelling = v.labelling(id).map(|(f, d)| (f, d.clone())).collect();
            (own, labelling)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn an_updated_validation_equals_a_fresh_one(
        start in prop::collection::vec(file(), 1..5),
        edits in prop::collection::vec((any::<prop::sample::Index>(), file()), 1..8),
    ) {
        let mut texts = start;
        let trees = parsed(&texts);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut live = Validation::new(&trees, &refs);
        live.take_changed();
        for (which, text) in edits {
            let id = which.index(texts.len());
            let before = seen(&live, texts.len());
            texts[id] = text;
            live.replace(id, &parse(id, &texts[id], &mut Vec::new()), &texts[id]);

            let trees = parsed(&texts);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let fresh = Validation::new(&trees, &refs);
            let after = seen(&live, texts.len());
            prop_assert_eq!(&after, &seen(&fresh, texts.len()));
            prop_assert_eq!(live.has_errors(), fresh.has_errors());
            prop_assert_eq!(live.cluster(), fresh.cluster());
            prop_assert_eq!(live.expectations(), fresh.expectations());
            let changed = live.take_changed();
            for file in 0..texts.len() {
                if before[file] != after[file] {
                    prop_assert!(changed.contains(&file), "file {} changed unreported", file);
                }
            }
        }
    }
}
