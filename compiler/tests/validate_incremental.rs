//! The language server updates a validation file by file
//! (`Validation::replace`); `check` validates all files at once. Random
//! multi-file inputs, drawn from small pools of names, addresses and
//! pod-cidrs so that duplicates, overlaps, unknown nodes and broken
//! expectations across files are common, are edited one file at a time:
//! after every edit the updated validation must equal a fresh one, and every
//! file whose diagnostics changed must be reported as changed. Nodes and
//! pods mix the families: IPv4 only, dual stack, IPv6 only, IPv6 node
//! addresses inside IPv6 pod-cidrs, routers without a pod-cidr of their
//! family, and clusters with `overlay none` (E0019).

use proptest::prelude::*;
use routec_compiler::diagnostics::Diagnostic;
use routec_compiler::syntax::{ast, parse};
use routec_compiler::validate::Validation;

fn node() -> impl Strategy<Value = String> {
    let address = prop_oneof![
        3 => (0..2u8, 0..4u8).prop_map(|(third, host)| format!("172.16.{third}.{host}")),
        1 => (0..6u8, 0..3u8, 0..4u8).prop_map(|(net, third, host)| format!("10.{net}.{}.{host}", third * 2)),
    ];
    let ipv4 = (0..6u8, prop::sample::select(vec![16u8, 23, 24, 25]), 0..3u8, any::<bool>()).prop_map(
        |(net, len, third, router)| {
            let cidr = format!("; pod-cidr 10.{net}.{}.0/{len}", third * 2);
            let router = if router { format!("; router 10.{net}.{}.9", third * 2) } else { String::new() };
            format!("{cidr}{router}")
        },
    );
    (0..6u8, address, families(), ipv4, ipv6_node()).prop_map(|(name, address, (v4, v6), ipv4, ipv6)| {
        let ipv4 = match v4 {
            Some(true) => ipv4,
            // An IPv4 router without an IPv4 pod-cidr (E0004).
            Some(false) => "; router 10.0.0.9".to_string(),
            None => String::new(),
        };
        let ipv6 = if v6 { ipv6 } else { String::new() };
        format!("node n{name} {{ address {address}{ipv4}{ipv6} }}\n")
    })
}

/// Which families a node or pod has: IPv4 (`Some(false)`: a stray
/// statement of it only), IPv6.
fn families() -> impl Strategy<Value = (Option<bool>, bool)> {
    prop_oneof![
        5 => Just((Some(true), false)),
        4 => Just((Some(true), true)),
        2 => Just((None, true)),
        1 => Just((Some(false), true)),
    ]
}

/// A node's IPv6 statements: an address (sometimes in a pod-cidr), a
/// pod-cidr, a router.
fn ipv6_node() -> impl Strategy<Value = String> {
    (
        prop::option::of((0..3u8, 0..3u8)),
        prop::option::of((0..4u8, prop::sample::select(vec![48u8, 56, 64, 65]))),
        prop::option::of(0..2u8),
    )
        .prop_map(|(address, cidr, router)| {
            let address = match address {
                Some((0, host)) => format!("; address fd00:ff::{host}"),
                Some((net, host)) => format!("; address fd00:{net}::{host}"),
                None => String::new(),
            };
            let cidr = cidr.map_or(String::new(), |(net, len)| format!("; pod-cidr fd00:{net}::/{len}"));
            let router = router.map_or(String::new(), |host| format!("; router fd00:1::{}", host + 1));
            format!("{address}{cidr}{router}")
        })
}

fn pod() -> impl Strategy<Value = String> {
    let rest = (prop::sample::select(vec![0u8, 1, 9, 20, 255]), 1..4u16, 0..3u8, any::<bool>());
    (0..8u8, 0..7u8, 0..6u8, 0..3u8, rest, families(), 0..4u8, prop::sample::select(vec![0u8, 1, 2, 16])).prop_map(
        |(name, node, net, third, (host, endpoint, lxc, ifindex), (v4, v6), net6, host6)| {
            let ifindex = if ifindex { format!("; ifindex {}", lxc + 2) } else { String::new() };
            let ip = match v4 {
                Some(_) => format!("; ip 10.{net}.{}.{host}", third * 2),
                None => String::new(),
            };
            let ip6 = if v6 { format!("; ip fd00:{net6}::{host6:x}") } else { String::new() };
            format!(
                "pod ns/p{name} on n{node} {{ endpoint {endpoint}; identity 300; lxc lxc{lxc}{ifindex}{ip}{ip6} }}\n"
            )
        },
    )
}

fn expect() -> impl Strategy<Value = String> {
    (0..9u8, 0..9u8, 0..7u8, 0..6u8).prop_map(|(src, dst, node, net)| match (src + dst) % 3 {
        0 => format!("expect ns/p{src} -> ns/p{dst} delivered\n"),
        1 => format!("expect node n{node} -> 10.{net}.0.9 dropped no-route\n"),
        _ if net % 2 == 0 => format!("expect 10.{net}.0.{src} -> ns/p{dst} delivered\n"),
        _ => format!("expect fd00:{}::{src:x} -> ns/p{dst} delivered\n", net % 4),
    })
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => node(),
        6 => pod(),
        2 => expect(),
        1 => (0..2u8).prop_map(|c| format!("cluster c{c} {{ mtu {} }}\n", 1400 + u32::from(c) * 9000)),
        1 => Just("cluster native { overlay none }\n".to_string()),
        // IPv6 routed natively (E0019 for every node without an IPv6 address).
        1 => Just("cluster native { overlay none }\nnode n3 { address 172.16.1.3; pod-cidr fd00:3::/64 }\npod ns/p3 on n3 { ip fd00:3::10; endpoint 1; identity 300; lxc lxc0 }\n".to_string()),
        1 => Just("node n1 { address 172.16.0.1\n".to_string()),
        1 => Just("pod ns/p1 on n1 { ip 10.0.0.5; endpoint 70000; identity 5; lxc lxc1; lxc lxc2 }\n".to_string()),
        1 => Just("pod ns/p2 on n2 { ip 10.2.0.5; ip 10.2.0.6; ip fd00:2::5; ip fd00:2::6; endpoint 7; identity 300; lxc lxc7 }\n".to_string()),
        1 => Just("node n2 { address 172.16.0.2; address fd00:ff::2; address fd00:ff::3; pod-cidr fd00:2::/129; router fd00:2::1; router fd00:2::2 }\n".to_string()),
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

/// The inputs reach the cross-file rules of both families, not just syntax
/// errors (the property above holds trivially on inputs that never get there).
#[test]
fn the_random_inputs_reach_every_cross_file_rule() {
    use proptest::strategy::ValueTree;
    use std::collections::BTreeSet;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut codes = BTreeSet::new();
    for _ in 0..400 {
        let texts = prop::collection::vec(file(), 1..5).new_tree(&mut runner).unwrap().current();
        let trees = parsed(&texts);
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let v = Validation::new(&trees, &refs);
        for id in 0..texts.len() {
            codes.extend(v.diagnostics(id).map(|d| format!("{:?}", d.code)));
        }
    }
    for code in [
        "E0004", "E0005", "E0006", "E0007", "E0008", "E0009", "E0010", "E0014", "E0015", "E0016", "E0017", "E0019",
        "W0102",
    ] {
        assert!(codes.contains(code), "no input reached {code}: {codes:?}");
    }
}

/// Each input's files validated one at a time into a validation of empty
/// files equal `check`'s validation of them all at once.
/// The codes of the fresh validation.
fn assert_built_file_by_file_equals_fresh(name: &str, texts: &[String]) -> Vec<String> {
    let trees = parsed(texts);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let fresh = Validation::new(&trees, &refs);
    let empty = vec![String::new(); texts.len()];
    let mut live = Validation::new(&parsed(&empty), &vec![""; texts.len()]);
    for (id, tree) in trees.iter().enumerate() {
        live.replace(id, tree, &texts[id]);
    }
    assert!(seen(&live, texts.len()) == seen(&fresh, texts.len()), "{name}: diagnostics differ");
    assert_eq!(live.cluster(), fresh.cluster(), "{name}");
    assert_eq!(live.expectations(), fresh.expectations(), "{name}");
    (0..texts.len()).flat_map(|id| fresh.diagnostics(id).map(|d| format!("{:?}", d.code)).collect::<Vec<_>>()).collect()
}

#[test]
fn the_repository_inputs_built_file_by_file_equal_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |paths: Vec<std::path::PathBuf>| -> Vec<String> {
        paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    };
    let mut inputs = 0;
    for dir in ["examples/mycluster", "examples/multi-file", "examples/dualstack"] {
        let files = routec_compiler::frontend::route_files(&root.join(dir)).unwrap();
        assert_built_file_by_file_equals_fresh(dir, &read(files));
        inputs += 1;
    }
    // The diagnostics snapshots' inputs, each file alone and all as one input.
    let all = routec_compiler::frontend::route_files(&root.join("compiler/tests/diagnostics")).unwrap();
    for file in &all {
        assert_built_file_by_file_equals_fresh(&file.display().to_string(), &read(vec![file.clone()]));
        inputs += 1;
    }
    assert_built_file_by_file_equals_fresh("compiler/tests/diagnostics", &read(all));
    assert!(inputs > 30, "the inputs were not found");
}

/// `routec gen --dual-stack --ipv6-only 30`, one file per node, with
/// `overlay none` (every node without an IPv6 address is E0019), as
/// generated and with digits changed at random (every kind of clash).
#[test]
fn generated_dual_stack_clusters_built_file_by_file_equal_check() {
    use routec_compiler::gen::{generate_stack_string, GenOptions, Stack};
    let options = GenOptions { nodes: 60, pods_per_node: 12, seed: 3 };
    let text = generate_stack_string(&options, Stack { dual_stack: true, ipv6_only_percent: 30 }).unwrap();
    let split = |text: &str| -> Vec<String> {
        let mut parts = text.split("\nnode ");
        let mut files = vec![parts.next().unwrap().to_string()];
        files.extend(parts.map(|part| format!("node {part}")));
        files
    };
    assert!(assert_built_file_by_file_equals_fresh("gen --dual-stack", &split(&text)).is_empty());
    let native = text.replacen("overlay vxlan {\n        port 8472\n    }", "overlay none", 1);
    let codes = assert_built_file_by_file_equals_fresh("gen --dual-stack, overlay none", &split(&native));
    assert_eq!(codes, vec!["E0019".to_string(); 60]);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut changed: Vec<u8> = native.into_bytes();
    for _ in 0..300 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let at = (rng % changed.len() as u64) as usize;
        if changed[at].is_ascii_digit() {
            changed[at] = b'0' + (rng >> 32) as u8 % 10;
        }
    }
    let changed = String::from_utf8(changed).unwrap();
    let codes = assert_built_file_by_file_equals_fresh("gen --dual-stack, digits changed", &split(&changed));
    assert!(codes.len() > 20, "{codes:?}");
}
