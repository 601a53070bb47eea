//! `decode` on arbitrary input: never a panic, and every bpftool text form of
//! an entry gives back its bytes.

use proptest::prelude::*;
use routec_compiler::decode::{
    btf_members, decode_entry, decode_text, parse_entries, parse_hex_arg, Decoded, MapKind, RawEntry,
};
use routec_compiler::seeds::hex_bytes;

fn bpftool_block(bytes: &[u8]) -> String {
    // bpftool prints 16 bytes a line, split in two groups of 8 by a double space.
    bytes
        .chunks(16)
        .map(|line| line.chunks(8).map(hex_bytes).collect::<Vec<_>>().join("  "))
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        if let Ok(entries) = parse_entries(MapKind::Lxc, &text) {
            for (i, entry) in entries.iter().enumerate() {
                let _ = decode_entry(MapKind::Lxc, entry, i + 1);
                let _ = decode_entry(MapKind::Ipcache, entry, i + 1);
            }
        }
        let _ = parse_hex_arg(&text);
    }

    #[test]
    fn arbitrary_bytes_of_any_length_never_panic(key in proptest::collection::vec(any::<u8>(), 0..40),
                                                 value in proptest::collection::vec(any::<u8>(), 0..60)) {
        let entry = RawEntry { key: key.clone(), value: value.clone() };
        let lxc = decode_entry(MapKind::Lxc, &entry, 1);
        prop_assert_eq!(lxc.is_ok(), key.len() == 20 && value.len() == 48);
        let ipcache = decode_entry(MapKind::Ipcache, &entry, 1);
        prop_assert_eq!(ipcache.is_ok(), key.len() == 24 && value.len() == 12);
    }

    #[test]
    fn every_bpftool_form_gives_back_the_bytes(entries in proptest::collection::vec(
        (proptest::collection::vec(any::<u8>(), 1..30), proptest::collection::vec(any::<u8>(), 1..60)), 1..4)) {
        let expected: Vec<RawEntry> = entries.iter().map(|(k, v)| RawEntry { key: k.clone(), value: v.clone() }).collect();
        let blocks: String = entries
            .iter()
            .map(|(k, v)| format!("key:\n{}\nvalue:\n{}\n", bpftool_block(k), bpftool_block(v)))
            .collect::<String>() + &format!("Found {} elements\n", entries.len());
        prop_assert_eq!(parse_entries(MapKind::Lxc, &blocks).unwrap(), expected.clone());
        let one_line: String = entries.iter().map(|(k, v)| format!("key: {}  value: {}\n", hex_bytes(k), hex_bytes(v))).collect();
        prop_assert_eq!(parse_entries(MapKind::Lxc, &one_line).unwrap(), expected.clone());
        let seed: String = entries.iter().map(|(k, v)| format!("key hex {} value hex {}\n", hex_bytes(k), hex_bytes(v))).collect();
        prop_assert_eq!(parse_entries(MapKind::Lxc, &seed).unwrap(), expected);
    }
}

#[test]
fn a_value_without_a_key_and_a_key_without_a_value_are_errors() {
    assert!(parse_entries(MapKind::Lxc, "value: 00\n").unwrap_err().to_string().contains("without a `key:`"));
    assert!(parse_entries(MapKind::Lxc, "key: 00\n").unwrap_err().to_string().contains("without `value:`"));
    assert!(parse_entries(MapKind::Lxc, "key:\nvalue: 00\n").unwrap_err().to_string().contains("without a `key:`"));
    assert!(parse_entries(MapKind::Lxc, "Error: bpf map lookup elem failed: No such file or directory\n").is_err());
}

/// bpftool's plain output of maps that have BTF, captured from routec's pins
/// of examples/mycluster before these maps lost their BTF types.
fn captured(name: &str) -> String {
    let path = format!("{}/tests/data/bpftool-btf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn vector(map: &str, index: usize) -> RawEntry {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("data/seed-maps.json")).expect("seed-maps.json parses");
    let hex = |field: &str| parse_hex_arg(vectors[map][index][field].as_str().unwrap()).unwrap();
    RawEntry { key: hex("key"), value: hex("value") }
}

#[test]
fn btf_formatted_lookups_give_back_the_seed_bytes() {
    // worker's 10.10.2.121: the vector's bytes, but the declared identity
    // 10388 (0x2894) where the stale dump has 3372.
    let mut lxc = vector("cilium_lxc", 0);
    lxc.value[32..34].copy_from_slice(&[0x94, 0x28]);
    assert_eq!(parse_entries(MapKind::Lxc, &captured("cilium_lxc-lookup.txt")).unwrap(), vec![lxc]);
    assert_eq!(
        parse_entries(MapKind::Ipcache, &captured("cilium_ipcache-lookup.txt")).unwrap(),
        vec![vector("cilium_ipcache", 0)]
    );
    // A dump is a list of them; decoded as any other input.
    let dump = decode_text(MapKind::Ipcache, &captured("cilium_ipcache-dump.txt")).unwrap();
    let prefixes: Vec<String> = dump
        .iter()
        .map(|d| match d {
            Decoded::Ipcache(f) => format!("{} via {}", f.prefix.clone().unwrap(), f.tunnel_endpoint),
            Decoded::Lxc(_) | Decoded::NodeIpv6(_) => unreachable!(),
        })
        .collect();
    assert!(prefixes.contains(&"10.10.1.155/32 via 172.18.0.4".to_string()), "{prefixes:?}");
    assert!(prefixes.contains(&"10.10.2.0/24 via 172.18.0.2".to_string()), "{prefixes:?}");
    assert!(prefixes.contains(&"172.18.0.3/32 via 0.0.0.0".to_string()), "{prefixes:?}");
}

#[test]
fn btf_formatted_input_that_is_not_the_maps_struct_is_an_error() {
    let lookup = captured("cilium_lxc-lookup.txt");
    let cases = [
        (lookup.replace("\"sec_id\": 10388", "\"sec_id\": 4294967296"), "`value.sec_id` is 4294967296, not a 4-byte"),
        (lookup.replace("\"family\": 1", "\"family\": 256"), "`key.family` is 256, not a 1-byte"),
        (lookup.replace("\"ifindex\": 11", "\"ifindex\": -1"), "`value.ifindex` is -1"),
        (lookup.replace("\"pad\": [0,0,0", "\"pad\": [0,0"), "`value.pad` is not an array of 3 numbers"),
        (lookup.replace("\"pad1\": 0,", ""), "`key` has no member `pad1`"),
        (lookup.replace("\"ip4\"", "\"ip6\""), "`key` has a member `ip6` that cilium_lxc's key does not have"),
    ];
    for (text, message) in cases {
        let err = parse_entries(MapKind::Lxc, &text).unwrap_err().to_string();
        assert!(err.contains(message), "{err}");
    }
    // The lxc lookup is not an ipcache entry.
    let err = parse_entries(MapKind::Ipcache, &lookup).unwrap_err().to_string();
    assert!(err.contains("that cilium_ipcache's key does not have"), "{err}");
    // `bpftool -j` of a BTF map: raw bytes plus "formatted", which is ignored.
    let json = r#"[{"key":["0x0a","0x0b"],"value":["0x01"],"formatted":{"key":{},"value":{}}}]"#;
    assert_eq!(parse_entries(MapKind::Lxc, json).unwrap(), vec![RawEntry { key: vec![10, 11], value: vec![1] }]);
}

#[test]
fn btf_members_are_the_structs_of_maps_h() {
    let header =
        routec_compiler::bpf::TEMPLATES.iter().find(|t| t.path == "lib/maps.h").expect("maps.h is a template").text;
    // `struct NAME {` ... `}`: each member line `TYPE NAME;` or `TYPE NAME[N];`.
    let members = |name: &str| -> Vec<(String, usize, usize)> {
        let body = header.split(&format!("struct {name} {{\n")).nth(1).unwrap().split("\n}").next().unwrap();
        body.lines()
            .filter_map(|l| {
                let (ty, rest) = l.trim().split_once(' ')?;
                let declared = rest.split(';').next()?;
                let width = match ty {
                    "__u8" => 1,
                    "__u16" | "__be16" => 2,
                    "__u32" | "__be32" => 4,
                    "__u64" => 8,
                    _ => return None,
                };
                let (member, count) = match declared.split_once('[') {
                    Some((member, n)) => (member, n.trim_end_matches(']').parse().ok()?),
                    None => (declared, 1),
                };
                Some((member.to_string(), width, count))
            })
            .collect()
    };
    for (map, [key, value]) in
        [(MapKind::Lxc, ["endpoint_key", "endpoint_info"]), (MapKind::Ipcache, ["ipcache_key", "remote_endpoint_info"])]
    {
        let [key_members, value_members] = btf_members(map);
        for (name, table) in [(key, key_members), (value, value_members)] {
            let ours: Vec<_> = table.iter().map(|m| (m.name.to_string(), m.width, m.count)).collect();
            assert_eq!(ours, members(name), "struct {name}");
        }
    }
}

#[test]
fn a_node_ipv6_seed_line_decodes_to_both_addresses() {
    let line = "key hex ac 12 00 03 value hex fd 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 03\n";
    let decoded = decode_text(MapKind::NodeIpv6, line).unwrap();
    assert_eq!(
        routec_compiler::decode::render_text(MapKind::NodeIpv6, &decoded),
        "routec_node_ipv6 entry 1\n  node_ipv4:       172.18.0.3\n  node_ipv6:       fd00:ff::3\n"
    );
    let short = "key hex ac 12 00 value hex fd 00\n";
    assert!(decode_text(MapKind::NodeIpv6, short).unwrap_err().to_string().contains("routec_node_ipv6 key"));
}

#[test]
fn a_huge_bad_token_is_shortened_in_errors() {
    let token = "z".repeat(1_000_000);
    let shortened = format!("`{}…{}`", "z".repeat(40), "z".repeat(20));
    let text_error = parse_entries(MapKind::Lxc, &format!("key: 0a {token}\nvalue: 00\n")).unwrap_err().to_string();
    let arg_error = parse_hex_arg(&format!("0a {token}")).unwrap_err();
    let json_error = parse_entries(MapKind::Lxc, &format!("[{{\"key\": [\"{token}\"], \"value\": [\"0x00\"]}}]"))
        .unwrap_err()
        .to_string();
    for error in [&text_error, &arg_error, &json_error] {
        assert!(error.len() < 200, "{} bytes", error.len());
    }
    assert!(text_error.starts_with(&format!("line 1: {shortened} is not a hex byte")), "{text_error}");
    assert_eq!(arg_error, format!("{shortened} is not hex"));
    assert!(json_error.contains(&format!("`\"{}…{}\"`", "z".repeat(39), "z".repeat(19))), "{json_error}");
}
