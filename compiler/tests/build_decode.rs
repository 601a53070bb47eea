//! `decode` on arbitrary input: never a panic, and every bpftool text form of
//! an entry gives back its bytes.

use proptest::prelude::*;
use routec_compiler::decode::{decode_entry, parse_entries, parse_hex_arg, MapKind, RawEntry};
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
        if let Ok(entries) = parse_entries(&text) {
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
        prop_assert_eq!(parse_entries(&blocks).unwrap(), expected.clone());
        let one_line: String = entries.iter().map(|(k, v)| format!("key: {}  value: {}\n", hex_bytes(k), hex_bytes(v))).collect();
        prop_assert_eq!(parse_entries(&one_line).unwrap(), expected.clone());
        let seed: String = entries.iter().map(|(k, v)| format!("key hex {} value hex {}\n", hex_bytes(k), hex_bytes(v))).collect();
        prop_assert_eq!(parse_entries(&seed).unwrap(), expected);
    }
}

#[test]
fn a_value_without_a_key_and_a_key_without_a_value_are_errors() {
    assert!(parse_entries("value: 00\n").unwrap_err().to_string().contains("without a `key:`"));
    assert!(parse_entries("key: 00\n").unwrap_err().to_string().contains("without `value:`"));
    assert!(parse_entries("key:\nvalue: 00\n").unwrap_err().to_string().contains("without a `key:`"));
    assert!(parse_entries("Error: bpf map lookup elem failed: No such file or directory\n").is_err());
}

#[test]
fn btf_formatted_dumps_point_to_bpftool_json() {
    let formatted = r#"[{
        "key": { "ip4": 2030700042, "pad1": 0, "pad2": 0, "pad3": 0, "family": 1, "key": 0, "cluster_id": 0 },
        "value": { "ifindex": 11 }
    }]"#;
    let err = parse_entries(formatted).unwrap_err().to_string();
    assert!(err.contains("run bpftool with -j"), "{err}");
    // `bpftool -j` of a BTF map: raw bytes plus "formatted", which is ignored.
    let json = r#"[{"key":["0x0a","0x0b"],"value":["0x01"],"formatted":{"key":{},"value":{}}}]"#;
    assert_eq!(parse_entries(json).unwrap(), vec![RawEntry { key: vec![10, 11], value: vec![1] }]);
}

#[test]
fn a_huge_bad_token_is_shortened_in_errors() {
    let token = "z".repeat(1_000_000);
    let shortened = format!("`{}…{}`", "z".repeat(40), "z".repeat(20));
    let text_error = parse_entries(&format!("key: 0a {token}\nvalue: 00\n")).unwrap_err().to_string();
    let arg_error = parse_hex_arg(&format!("0a {token}")).unwrap_err();
    let json_error =
        parse_entries(&format!("[{{\"key\": [\"{token}\"], \"value\": [\"0x00\"]}}]")).unwrap_err().to_string();
    for error in [&text_error, &arg_error, &json_error] {
        assert!(error.len() < 200, "{} bytes", error.len());
    }
    assert!(text_error.starts_with(&format!("line 1: {shortened} is not a hex byte")), "{text_error}");
    assert_eq!(arg_error, format!("{shortened} is not hex"));
    assert!(json_error.contains(&format!("`\"{}…{}\"`", "z".repeat(39), "z".repeat(19))), "{json_error}");
}
