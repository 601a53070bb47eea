//! `routec decode` on the bpftool dumps of the reference cluster, fed verbatim.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/data").join(name)
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data("seed-maps.json")).unwrap()).unwrap()
}

fn decode(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_routec"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// (dump file, map, index in seed-maps.json)
const DUMPS: [(&str, &str, usize); 3] = [
    ("cilium_lxc-mycluster-worker.dump", "cilium_lxc", 0),
    ("cilium_lxc-mycluster-worker2.dump", "cilium_lxc", 1),
    ("cilium_ipcache-mycluster-worker.dump", "cilium_ipcache", 0),
];

#[test]
fn each_dump_decodes_to_the_documented_fields() {
    let vectors = vectors();
    for (file, map, index) in DUMPS {
        let dump = std::fs::read_to_string(data(file)).unwrap();
        let decoded = json_of(&decode(&["--map", map, "--format", "json"], &dump));
        assert_eq!(decoded, serde_json::json!([vectors[map][index]["decoded"].clone()]), "{file}");
    }
}

#[test]
fn text_output_names_every_field() {
    let dump = std::fs::read_to_string(data("cilium_lxc-mycluster-worker.dump")).unwrap();
    let output = decode(&["--map", "cilium_lxc"], &dump);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for line in [
        "cilium_lxc entry 1",
        "  ip:              10.10.2.121",
        "  ifindex:         11",
        "  lxc_id:          1587",
        "  mac:             ea:c4:71:d6:4f:a0",
        "  node_mac:        f6:87:b6:c3:a6:45",
        "  sec_id:          3372",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    let dump = std::fs::read_to_string(data("cilium_ipcache-mycluster-worker.dump")).unwrap();
    let text = String::from_utf8(decode(&["--map", "cilium_ipcache"], &dump).stdout).unwrap();
    assert!(text.contains("  prefix:          10.10.1.155/32\n"), "{text}");
    assert!(text.contains("  sec_identity:    10388\n"), "{text}");
    assert!(text.contains("  tunnel_endpoint: 172.18.0.4\n"), "{text}");
}

#[test]
fn a_dump_of_several_entries_in_both_bpftool_forms() {
    let vectors = vectors();
    let lxc = &vectors["cilium_lxc"];
    // `bpftool map dump`: multi-line blocks, then a one-line entry, then the trailer.
    let dump = format!(
        "key:\n{}\nvalue:\n{}\nkey: {}  value: {}\nFound 2 elements\n",
        lxc[0]["key"].as_str().unwrap(),
        lxc[0]["value"].as_str().unwrap(),
        lxc[1]["key"].as_str().unwrap(),
        lxc[1]["value"].as_str().unwrap(),
    );
    let decoded = json_of(&decode(&["--map", "cilium_lxc", "--format", "json"], &dump));
    assert_eq!(decoded, serde_json::json!([lxc[0]["decoded"].clone(), lxc[1]["decoded"].clone()]));
}

#[test]
fn bpftool_json_and_seed_lines_are_accepted() {
    let vector = &vectors()["cilium_ipcache"][0];
    let bytes =
        |field: &str| -> Vec<String> { vector[field].as_str().unwrap().split(' ').map(|b| format!("0x{b}")).collect() };
    let json = serde_json::json!([{ "key": bytes("key"), "value": bytes("value") }]).to_string();
    let decoded = json_of(&decode(&["--map", "cilium_ipcache", "--format", "json"], &json));
    assert_eq!(decoded[0], vector["decoded"]);
    let seed = format!("key hex {} value hex {}\n", vector["key"].as_str().unwrap(), vector["value"].as_str().unwrap());
    let decoded = json_of(&decode(&["--map", "cilium_ipcache", "--format", "json"], &seed));
    assert_eq!(decoded[0], vector["decoded"]);
}

#[test]
fn key_and_value_flags_take_spaced_or_contiguous_hex() {
    let vector = &vectors()["cilium_lxc"][0];
    let key = vector["key"].as_str().unwrap();
    let contiguous_value = vector["value"].as_str().unwrap().replace(' ', "");
    let decoded =
        json_of(&decode(&["--map", "cilium_lxc", "--format", "json", "--key", key, "--value", &contiguous_value], ""));
    assert_eq!(decoded[0], vector["decoded"]);
}

#[test]
fn bad_input_is_a_clear_error_with_exit_1() {
    let vector = &vectors()["cilium_lxc"][0];
    let key = vector["key"].as_str().unwrap();
    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["--map", "cilium_ipcache", "--key", key, "--value", "00"],
            "",
            "a cilium_ipcache key must be 24 bytes, got 20",
        ),
        (&["--map", "cilium_lxc", "--key", key, "--value", "0g"], "", "--value: `0g` is not hex"),
        (&["--map", "cilium_lxc", "--key", "abc", "--value", "00"], "", "odd number of hex digits"),
        (&["--map", "cilium_lxc"], "key: 0a 0a\nvalue: zz\n", "line 2: `zz` is not a hex byte"),
        (&["--map", "cilium_lxc"], "\n", "no `key:`/`value:` entry"),
    ];
    for (args, stdin, message) in cases {
        let output = decode(args, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
    let empty_map = decode(&["--map", "cilium_lxc", "--format", "json"], "Found 0 elements\n");
    assert_eq!(json_of(&empty_map), serde_json::json!([]));
    let usage = decode(&["--map", "cilium_nope"], "");
    assert_eq!(usage.status.code(), Some(2));
}

/// IPv6 keys (family 2) of both maps, as routec's dual-stack seeds write them
/// and bpftool prints them, decode to IPv6 addresses and prefixes.
#[test]
fn ipv6_keys_decode_in_both_maps() {
    let lxc_key = "fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 20 02 00 00 00";
    let lxc_value = "09 00 00 00 00 00 c9 00 00 00 00 00 00 00 00 00 0a 58 0a 14 02 14 00 00 0e 11 22 33 44 04 00 00 24 4e 00 00 00 00 00 00 00 00 00 00 00 00 00 00";
    let lxc =
        json_of(&decode(&["--map", "cilium_lxc", "--format", "json", "--key", lxc_key, "--value", lxc_value], ""));
    assert_eq!(
        (lxc[0]["ip"].as_str(), lxc[0]["family"].as_u64(), lxc[0]["lxc_id"].as_u64()),
        (Some("fd00:10:2::20"), Some(2), Some(201))
    );
    let seed = "key hex 60 00 00 00 00 00 00 02 fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 00 value hex 02 00 00 00 ac 12 00 03 00 00 00 00\n";
    let ipcache = json_of(&decode(&["--map", "cilium_ipcache", "--format", "json"], seed));
    assert_eq!(ipcache[0]["prefix"], "fd00:10:2::/64");
    assert_eq!(ipcache[0]["prefixlen"], 96);
    assert_eq!(ipcache[0]["tunnel_endpoint"], "172.18.0.3");
}

#[test]
fn a_routec_node_ipv6_entry_decodes_from_bpftool_json_and_from_flags() {
    // `bpftool -j map dump` of a routec_node_ipv6 pin (no BTF: hex bytes).
    let dump = r#"[{"key":["0xac","0x12","0x00","0x03"],"value":["0xfd","0x00","0x00","0xff","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x00","0x03"]}]"#;
    let decoded = json_of(&decode(&["--map", "routec_node_ipv6", "--format", "json"], dump));
    assert_eq!(decoded, serde_json::json!([{"node_ipv4": "172.18.0.3", "node_ipv6": "fd00:ff::3"}]));
    let flags =
        decode(&["--map", "routec_node_ipv6", "--key", "ac120003", "--value", "fd0000ff000000000000000000000003"], "");
    assert!(String::from_utf8_lossy(&flags.stdout).contains("node_ipv6:       fd00:ff::3"));
    // A value of the wrong size is an input error (exit 1) naming the map.
    let short = decode(&["--map", "routec_node_ipv6", "--key", "ac120003", "--value", "fd00"], "");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("routec_node_ipv6 value"), "{short:?}");
}
