//! docs/build-output.md states layout facts that must not drift from layout.rs.

use routec_compiler::layout::{EndpointInfo, EndpointKey, IpcacheKey, Reason, RemoteEndpointInfo, ALL_MAPS};

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/build-output.md")).unwrap()
}

#[test]
fn reason_table_matches_layout() {
    let doc = doc();
    let section = &doc[doc.find("## Reason codes").unwrap()..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| ") && l.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().to_string()).collect())
        .collect();
    let expected: Vec<Vec<String>> = Reason::ALL
        .iter()
        .map(|r| vec![r.code().to_string(), r.c_name().into(), r.name().into(), r.description().into()])
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn map_headings_state_the_layout_sizes() {
    let doc = doc();
    for spec in ALL_MAPS {
        let heading = doc.lines().find(|l| l.starts_with(&format!("### {}:", spec.name))).unwrap();
        assert!(heading.contains(&format!("key {} B", spec.key_size)), "{heading}");
        assert!(heading.contains(&format!("value {} B", spec.value_size)), "{heading}");
        assert!(heading.contains(&format!("{} entries", spec.max_entries)), "{heading}");
    }
    assert_eq!([EndpointKey::SIZE, EndpointInfo::SIZE, IpcacheKey::SIZE, RemoteEndpointInfo::SIZE], [20, 48, 24, 12]);
}
