//! The seed's bpftool commands print the seed's output on routec's pins:
//! `cilium_lxc` and `cilium_ipcache` have no BTF key/value types (as when
//! Cilium's agent creates them), so `bpftool map lookup` prints hex bytes,
//! the very bytes of the reference cluster's vectors (tests/data/*.dump,
//! copied from shared/vectors/SEED-CLUSTER.md).

mod common;

use common::*;
use routec_compiler::decode::{decode_text, Decoded, MapKind};
use routec_runtime::{lab, loader};

const WORKER: &str = "mycluster-worker";

/// The words of a text (labels and hex bytes), whitespace and line breaks
/// aside: bpftool breaks lines after 16 bytes, the notes after the label.
fn words(text: &str) -> Vec<String> {
    text.split_ascii_whitespace().map(str::to_string).collect()
}

fn vector_text(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bpftool(args: &[&str]) -> String {
    let output = std::process::Command::new("bpftool").args(args).output().unwrap();
    assert!(output.status.success(), "bpftool {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The key of a vector file, as `bpftool ... key hex` takes it.
fn key_words(vector: &str) -> Vec<String> {
    let all = words(vector);
    let value = all.iter().position(|w| w == "value:").unwrap();
    all[1..value].to_vec()
}

fn lookup(pin: &std::path::Path, vector: &str) -> String {
    let pin = pin.to_str().unwrap();
    let mut args = vec!["map", "lookup", "pinned", pin, "key", "hex"];
    let key = key_words(vector);
    args.extend(key.iter().map(String::as_str));
    bpftool(&args)
}

#[test]
fn bpftool_prints_the_seed_bytes_of_routec_pins() {
    if !can_run("bpftool_prints_the_seed_bytes_of_routec_pins") {
        return;
    }
    let options = options();
    let name = "t-hex";
    let (_guard, state) = up_lab(name, &options, &reference_cluster());
    let target = lab::node_target(&state, WORKER).unwrap();

    // cilium_lxc, 10.10.2.121: the dump's words, except sec_id, which the
    // build writes as the declared 10388 (94 28) where the dump has 3372.
    let vector = vector_text("cilium_lxc-mycluster-worker.dump");
    let printed = lookup(&target.map_pin("cilium_lxc"), &vector);
    let mut expected = words(&vector);
    let sec_id = expected.iter().position(|w| w == "value:").unwrap() + 1 + 32;
    assert_eq!(expected[sec_id..sec_id + 2], ["2c", "0d"]);
    expected[sec_id..sec_id + 2].clone_from_slice(&["94".to_string(), "28".to_string()]);
    assert_eq!(words(&printed), expected, "bpftool printed:\n{printed}");

    // cilium_ipcache, 10.10.1.155/32: exactly the dump.
    let vector = vector_text("cilium_ipcache-mycluster-worker.dump");
    let printed = lookup(&target.map_pin("cilium_ipcache"), &vector);
    assert_eq!(words(&printed), words(&vector), "bpftool printed:\n{printed}");

    // What routec decode makes of bpftool's output equals the vector's.
    let decoded = decode_text(MapKind::Ipcache, &printed).unwrap();
    let Decoded::Ipcache(fields) = &decoded[0] else { panic!("{decoded:?}") };
    assert_eq!((fields.prefix.as_deref(), fields.tunnel_endpoint.as_str()), (Some("10.10.1.155/32"), "172.18.0.4"));

    // The kernel holds no BTF for these two maps; routec's counters keep it.
    for (map, has_btf) in [("cilium_lxc", false), ("cilium_ipcache", false), ("routec_counters", true)] {
        let show = bpftool(&["-j", "map", "show", "pinned", target.map_pin(map).to_str().unwrap()]);
        let info: serde_json::Value = serde_json::from_str(&show).unwrap();
        assert_eq!(info.get("btf_id").is_some(), has_btf, "{map}: {show}");
    }
}

#[test]
fn pins_an_older_routec_made_with_btf_are_reused_and_decoded() {
    if !can_run("pins_an_older_routec_made_with_btf_are_reused_and_decoded") {
        return;
    }
    let options = options();
    let name = "t-hexold";
    let (_guard, state) = up_lab(name, &options, &reference_cluster());
    let target = lab::node_target(&state, WORKER).unwrap();
    let busybox = state.pod("10.10.2.117").unwrap().netns.clone();

    // The node as an older routec left it: maps with BTF key/value types.
    loader::detach(&target).unwrap();
    let work = tempfile::tempdir().unwrap();
    let object = work.path().join("btf_typed_maps.o");
    compile_bpf(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/btf_typed_maps.c"), &object);
    std::fs::create_dir_all(target.pin_dir()).unwrap();
    let programs = target.pin_dir().join("old-programs");
    let (object, programs, pins) =
        (object.to_str().unwrap(), programs.to_str().unwrap(), target.pin_dir().to_str().unwrap().to_string());
    bpftool(&["prog", "loadall", object, programs, "type", "classifier", "pinmaps", &pins]);
    std::fs::remove_dir_all(programs).unwrap();
    let show = bpftool(&["-j", "map", "show", "pinned", target.map_pin("cilium_lxc").to_str().unwrap()]);
    assert!(show.contains("btf_id"), "the stand-in pin has BTF: {show}");

    // apply takes them (same type, sizes, entries, flags) and the pods talk.
    let plan = node_plan(&state.out, WORKER).unwrap();
    loader::apply(&plan, &target).unwrap();
    assert!(ping(&busybox, "10.10.2.121") && ping(&busybox, "10.10.1.155"), "traffic through the old pins");

    // bpftool prints those pins' fields; routec decode reads them back.
    let vector = vector_text("cilium_lxc-mycluster-worker.dump");
    let printed = lookup(&target.map_pin("cilium_lxc"), &vector);
    assert!(printed.contains("\"lxc_id\": 1587"), "BTF-formatted: {printed}");
    let decoded = decode_text(MapKind::Lxc, &printed).unwrap();
    let Decoded::Lxc(fields) = &decoded[0] else { panic!("{decoded:?}") };
    assert_eq!(
        (fields.ip.as_str(), fields.ifindex, fields.mac.as_str(), fields.node_mac.as_str(), fields.sec_id),
        ("10.10.2.121", 11, "ea:c4:71:d6:4f:a0", "f6:87:b6:c3:a6:45", 10388)
    );
}
