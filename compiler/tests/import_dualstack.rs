//! `routec import` of a dual-stack cluster: the seed cluster's fixtures with
//! the IPv6 fields Cilium and Kubernetes print (tests/data/import/dualstack,
//! constructed, see its README). The generated files and report
//! (snapshots), the build's IPv6 map entries byte for byte (DATAPATH.md v2:
//! family 2) beside the seed's IPv4 entries unchanged, and one test per way
//! the IPv6 fields can fail.

mod build_support;
mod import_support;

use std::path::Path;

use build_support::hex;
use import_support::*;
use routec_compiler::build::{build, BuildOptions, ClangChoice};
use routec_compiler::cilium_import::{Import, ImportError, Options};
use routec_compiler::frontend::analyze_path;
use routec_compiler::model::OverlayKind;
use routec_compiler::seeds::{parse_seed, SeedLine};
use serde_json::json;

fn dual_import() -> Import {
    Texts::dual_stack().run(&Options::default()).unwrap()
}

fn render_files(import: &Import) -> String {
    import.files.iter().map(|f| format!("=== {} ===\n{}", f.path, f.text)).collect()
}

#[test]
fn snapshots_of_the_files_and_the_report() {
    let import = dual_import();
    insta::with_settings!({snapshot_path => "../../snapshots/import", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("import-dualstack-files", render_files(&import));
        insta::assert_json_snapshot!("import-dualstack-report.json", import.report);
    });
}

/// The seeds of a build of `import`, written and read back through the
/// front end as `routec check` reads it: (worker's cilium_lxc, cilium_ipcache).
fn build_seeds(import: &Import, scratch: &Path) -> (Vec<SeedLine>, Vec<SeedLine>) {
    let input = scratch.join("cluster");
    routec_compiler::cilium_import::write(import, &input).unwrap();
    let analysis = analyze_path(&input).unwrap();
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    let out = scratch.join("out");
    build(analysis.cluster.as_ref().unwrap(), &BuildOptions::new(ClangChoice::Skip, "sha256:test".into()), &out)
        .unwrap();
    let read = |file: &str| parse_seed(&std::fs::read_to_string(out.join(file)).unwrap()).unwrap();
    (read("nodes/mycluster-worker/cilium_lxc.seed"), read("cluster/cilium_ipcache.seed"))
}

fn value_of<'a>(seed: &'a [SeedLine], key: &str) -> &'a [u8] {
    let key = hex(key);
    &seed.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("no entry with key {key:02x?}")).1
}

/// Import, write, check, build: the IPv6 entries are the IPv6 keys of
/// DATAPATH.md v2 (family 2; ipcache prefixlen 32 + the prefix length)
/// with the values of the pod's IPv4 entries, and every IPv4 entry is the
/// one the IPv4-only seed import builds.
#[test]
fn import_then_build_gives_ipv6_entries_beside_the_seed_ones() {
    let scratch = tempfile::tempdir().unwrap();
    let (lxc, ipcache) = build_seeds(&dual_import(), &scratch.path().join("dual"));
    let (seed_lxc, seed_ipcache) =
        build_seeds(&Texts::seed().run(&Options::default()).unwrap(), &scratch.path().join("seed"));

    // fwt8z on mycluster-worker: fd00:10:2::79, family 2, beside 10.10.2.121.
    let pod6 = value_of(&lxc, "fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 79 02 00 00 00");
    let expected = "0b 00 00 00 00 00 33 06 00 00 00 00 00 00 00 00 ea c4 71 d6 4f a0 00 00 \
                    f6 87 b6 c3 a6 45 00 00 94 28 00 00 00 00 00 00 00 00 00 00 00 00 00 00";
    assert_eq!(pod6, hex(expected), "ifindex 11, lxc_id 1587, the agent's MACs, sec_id 10388");
    assert_eq!(pod6, value_of(&lxc, "0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00"));
    // The IPv6 router (cilium_host) and InternalIP are host entries (flag 1, identity 1).
    let host = hex("00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 \
                    00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    assert_eq!(value_of(&lxc, "fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 26 02 00 00 00"), host);
    assert_eq!(value_of(&lxc, "fc 00 f8 53 0c cd e7 93 00 00 00 00 00 00 00 02 02 00 00 00"), host);

    // gcxrm on mycluster-worker2: fd00:10:1::9b/128 (prefixlen 160), identity
    // 10388, tunnel endpoint 172.18.0.4; its node's pod-cidr fd00:10:1::/64
    // (prefixlen 96), identity 2 (world), same tunnel endpoint.
    let key = "a0 00 00 00 00 00 00 02 fd 00 00 10 00 01 00 00 00 00 00 00 00 00 00 9b";
    assert_eq!(value_of(&ipcache, key), hex("94 28 00 00 ac 12 00 04 00 00 00 00"));
    let key = "60 00 00 00 00 00 00 02 fd 00 00 10 00 01 00 00 00 00 00 00 00 00 00 00";
    assert_eq!(value_of(&ipcache, key), hex("02 00 00 00 ac 12 00 04 00 00 00 00"));

    let ipv4 = |seed: &[SeedLine], family_at: usize| -> Vec<SeedLine> {
        seed.iter().filter(|(k, _)| k[family_at] == 1).cloned().collect()
    };
    assert_eq!(ipv4(&lxc, 16), seed_lxc, "the IPv4 cilium_lxc entries are the seed import's");
    assert_eq!(ipv4(&ipcache, 7), seed_ipcache, "the IPv4 cilium_ipcache entries are the seed import's");
    // worker: 2 pods x 2 families, 2 routers, 2 InternalIPs.
    assert_eq!(lxc.len(), 8);
}

#[test]
fn core_nodes_give_both_pod_cidrs_and_default_routers() {
    let texts = Texts { nodes: fixture(&format!("{DUAL_STACK}/{NODES}")), ..Texts::dual_stack() };
    let import = texts.run(&Options::default()).unwrap();
    let worker = import.cluster.node(WORKER).unwrap();
    assert_eq!(worker.address6.unwrap().to_string(), "fc00:f853:ccd:e793::2");
    assert_eq!(worker.pod_cidr6.unwrap().to_string(), "fd00:10:2::/64");
    assert_eq!(worker.router6.unwrap().to_string(), "fd00:10:2::1", "the language's default");
    let routers: Vec<_> = import
        .report
        .derived
        .iter()
        .filter(|d| d.object == WORKER && d.field.contains("router"))
        .map(|d| (d.field.as_str(), d.value.as_str()))
        .collect();
    assert_eq!(
        routers,
        [
            ("router", "the first usable address of pod-cidr"),
            ("IPv6 router", "the address after the network address of the IPv6 pod-cidr")
        ]
    );
}

fn ipv6_only(texts: &mut Texts) {
    texts.endpoints = remove(&texts.endpoints, "/items/2/status/networking/addressing/0", "ipv4");
    texts.agents[0].1 = remove(&texts.agents[0].1, "/3/status/networking/addressing/0", "ipv4");
}

#[test]
fn an_ipv6_only_pod_imports_and_builds_ipv6_entries_only() {
    let mut texts = Texts::dual_stack();
    ipv6_only(&mut texts);
    let import = texts.run(&Options::default()).unwrap();
    let pod = import.cluster.find_pod("networking101/netshoot-7d996d7884-fwt8z").unwrap();
    assert_eq!((pod.ip, pod.ip6.unwrap().to_string()), (None, "fd00:10:2::79".to_string()));
    let scratch = tempfile::tempdir().unwrap();
    let (lxc, _) = build_seeds(&import, scratch.path());
    value_of(&lxc, "fd 00 00 10 00 02 00 00 00 00 00 00 00 00 00 79 02 00 00 00");
    let v4 = hex("0a 0a 02 79 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00");
    assert!(lxc.iter().all(|(k, _)| *k != v4), "no IPv4 entry for an IPv6-only pod");
}

/// A node numbered from an IPv6 pod CIDR only (its IPv4 InternalIP stays the
/// tunnel endpoint): its IPv4 CiliumInternalIP is noted as unused.
#[test]
fn a_node_with_an_ipv6_pod_cidr_only_imports() {
    let mut texts = Texts::dual_stack();
    texts.nodes = edit(&texts.nodes, "/items/2/spec/ipam/podCIDRs", |cidrs| {
        cidrs.as_array_mut().unwrap().remove(0);
    });
    for pod in [0, 3] {
        texts.endpoints = remove(&texts.endpoints, &format!("/items/{pod}/status/networking/addressing/0"), "ipv4");
    }
    let import = texts.run(&Options::default()).unwrap();
    let worker2 = import.cluster.node("mycluster-worker2").unwrap();
    assert_eq!((worker2.pod_cidr, worker2.router), (None, None));
    assert_eq!(worker2.router6.unwrap().to_string(), "fd00:10:1::60");
    let skipped: Vec<_> = import.report.skipped.iter().map(|s| (s.path.as_str(), s.reason.as_str())).collect();
    assert!(
        skipped.contains(&(
            "items[2].spec.addresses[2].ip",
            "CiliumInternalIP 10.10.1.96: not used (the node has no IPv4 pod CIDR)"
        )),
        "{skipped:#?}"
    );
}

/// An IPv6-only cluster's endpoints name their node by its IPv6 InternalIP.
#[test]
fn an_endpoint_may_name_its_node_by_the_ipv6_internal_ip() {
    let mut texts = Texts::dual_stack();
    texts.endpoints =
        edit(&texts.endpoints, "/items/2/status/networking/node", |n| *n = json!("fc00:f853:ccd:e793::2"));
    let import = texts.run(&Options::default()).unwrap();
    let pod = import.cluster.find_pod("networking101/netshoot-7d996d7884-fwt8z").unwrap();
    assert_eq!(import.cluster.nodes[pod.node].name, WORKER);
}

/// A CiliumInternalIP of a family the node has no pod CIDR of routes nothing:
/// it is noted as not used, not an error.
#[test]
fn a_router_without_a_pod_cidr_of_its_family_is_noted_as_unused() {
    let mut texts = Texts::dual_stack();
    texts.nodes = edit(&texts.nodes, "/items/1/spec/ipam/podCIDRs", |cidrs| {
        cidrs.as_array_mut().unwrap().pop();
    });
    texts.endpoints = remove(&texts.endpoints, "/items/1/status/networking/addressing/0", "ipv6");
    texts.endpoints = remove(&texts.endpoints, "/items/2/status/networking/addressing/0", "ipv6");
    texts.agents.clear();
    let import = texts.run(&Options::default()).unwrap();
    let skipped: Vec<_> = import.report.skipped.iter().map(|s| (s.path.as_str(), s.reason.as_str())).collect();
    assert!(
        skipped.contains(&(
            "items[1].spec.addresses[3].ip",
            "CiliumInternalIP fd00:10:2::26: not used (the node has no IPv6 pod CIDR)"
        )),
        "{skipped:#?}"
    );
    let worker = import.cluster.node(WORKER).unwrap();
    assert_eq!((worker.pod_cidr6, worker.router6), (None, None));
}

fn endpoints_problems(pointer: &str, change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut texts = Texts::dual_stack();
    texts.endpoints = edit(&texts.endpoints, pointer, change);
    problems(texts.run(&Options::default()))
}

fn nodes_problems(pointer: &str, change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut texts = Texts::dual_stack();
    texts.nodes = edit(&texts.nodes, pointer, change);
    problems(texts.run(&Options::default()))
}

const T6GGH_V6: &str = "/items/1/status/networking/addressing/0/ipv6";

#[test]
fn an_ipv6_address_that_does_not_parse_is_named_by_its_path() {
    assert_eq!(
        endpoints_problems(T6GGH_V6, |ip| *ip = json!("fd00:10:2::zz")),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 `fd00:10:2::zz` is not an IP address (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    assert_eq!(
        endpoints_problems(T6GGH_V6, |ip| *ip = json!("fd00:10:2::75%eth0")),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 `fd00:10:2::75%eth0` is not an IP address (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    assert_eq!(
        nodes_problems("/items/1/spec/addresses/1/ip", |ip| *ip = json!("fc00:f853::ccd::2")),
        ["ciliumnodes.json: items[1].spec.addresses[1].ip `fc00:f853::ccd::2` is not an IP address (mycluster-worker)"]
    );
    assert_eq!(
        nodes_problems("/items/1/spec/ipam/podCIDRs/1", |cidr| *cidr = json!("fd00:10:2::/129")),
        ["ciliumnodes.json: items[1].spec.ipam.podCIDRs[1] `fd00:10:2::/129` is not an IP prefix (mycluster-worker)"]
    );
    assert_eq!(
        nodes_problems("/items/1/spec/ipam/podCIDRs/1", |cidr| *cidr = json!("fd00:10:2::1/64")),
        ["ciliumnodes.json: items[1].spec.ipam.podCIDRs[1] `fd00:10:2::1/64` has host bits set (the prefix is fd00:10:2::/64) (mycluster-worker)"]
    );
}

#[test]
fn an_address_in_the_field_of_the_other_family_is_an_error() {
    assert_eq!(
        endpoints_problems(T6GGH_V6, |ip| *ip = json!("10.10.2.118")),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 is 10.10.2.118, an IPv4 address in a field for IPv6 (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    assert_eq!(
        endpoints_problems("/items/1/status/networking/addressing/0/ipv4", |ip| *ip = json!("fd00:10:2::76")),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv4 is fd00:10:2::76, an IPv6 address in a field for IPv4 (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
}

#[test]
fn a_pod_with_two_ipv6_addresses_is_an_error() {
    let found = endpoints_problems("/items/1/status/networking/addressing", |pairs| {
        pairs.as_array_mut().unwrap().push(json!({"ipv6": "fd00:10:2::76"}));
    });
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[1].status.networking.addressing[1].ipv6 is a second IPv6 address (fd00:10:2::76, besides fd00:10:2::75); the language holds one per family per pod (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
}

#[test]
fn a_node_with_two_ipv6_internal_ips_or_pod_cidrs_is_an_error() {
    let found = nodes_problems("/items/1/spec/addresses", |addresses| {
        addresses.as_array_mut().unwrap().push(json!({"ip": "fc00:f853:ccd:e793::12", "type": "InternalIP"}));
    });
    assert_eq!(
        found,
        ["ciliumnodes.json: items[1].spec.addresses[4].ip is a second IPv6 InternalIP (fc00:f853:ccd:e793::12, besides fc00:f853:ccd:e793::2); the language holds one per family per node (mycluster-worker)"]
    );
    let found = nodes_problems("/items/1/spec/ipam/podCIDRs", |cidrs| {
        cidrs.as_array_mut().unwrap().push(json!("fd00:10:12::/64"));
    });
    assert_eq!(
        found,
        ["ciliumnodes.json: items[1].spec.ipam.podCIDRs[2] is a second IPv6 pod CIDR (fd00:10:12::/64, besides fd00:10:2::/64); the language holds one per family per node (mycluster-worker)"]
    );
}

#[test]
fn two_pods_or_nodes_with_one_ipv6_address_are_an_error() {
    let mut texts = Texts::dual_stack();
    texts.agents.clear();
    texts.endpoints = edit(&texts.endpoints, T6GGH_V6, |ip| *ip = json!("fd00:10:2::79"));
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["ciliumendpoints.json: items[2].status.networking.addressing[0].ipv6 fd00:10:2::79 is also the address of networking101/busybox-c8bbbbb84-t6ggh (items[1].status.networking.addressing[0].ipv6) (CiliumEndpoint networking101/netshoot-7d996d7884-fwt8z)"]
    );
    let found = nodes_problems("/items/2/spec/addresses/1/ip", |ip| *ip = json!("fc00:f853:ccd:e793::2"));
    assert_eq!(
        found,
        ["ciliumnodes.json: items[2] has InternalIP fc00:f853:ccd:e793::2, as node mycluster-worker (items[1]) has (mycluster-worker2)"]
    );
}

#[test]
fn wrong_types_in_the_ipv6_fields_are_named_by_their_path() {
    assert_eq!(
        endpoints_problems(T6GGH_V6, |ip| *ip = json!(5)),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 is a number, not a string (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    assert_eq!(
        endpoints_problems(T6GGH_V6, |ip| *ip = json!(["fd00:10:2::75"])),
        ["ciliumendpoints.json: items[1].status.networking.addressing[0].ipv6 is an array, not a string (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    assert_eq!(
        nodes_problems("/items/1/spec/ipam/podCIDRs/1", |cidr| *cidr = json!({"cidr": "fd00:10:2::/64"})),
        ["ciliumnodes.json: items[1].spec.ipam.podCIDRs[1] is an object, not a string (mycluster-worker)"]
    );
    let mut texts = Texts::dual_stack();
    texts.agents[0].1 = edit(&texts.agents[0].1, "/3/status/networking/addressing/0/ipv6", |ip| *ip = json!(true));
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["endpoints-mycluster-worker.json: [3].status.networking.addressing[0].ipv6 is a boolean, not a string (endpoint 1587)"]
    );
}

#[test]
fn truncated_dual_stack_json_is_an_error_not_a_panic() {
    let texts = Texts::dual_stack();
    let cut = texts.endpoints.find("fd00:10:2::7").unwrap() + 5;
    let truncated = Texts { endpoints: texts.endpoints[..cut].to_string(), ..texts };
    let found = problems(truncated.run(&Options::default()));
    assert!(found[0].starts_with("ciliumendpoints.json: the document is not JSON: EOF while parsing"), "{}", found[0]);
}

#[test]
fn an_agent_list_must_agree_on_the_ipv6_address() {
    let mut texts = Texts::dual_stack();
    texts.agents[0].1 =
        edit(&texts.agents[0].1, "/3/status/networking/addressing/0/ipv6", |ip| *ip = json!("fd00:10:2::99"));
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["ciliumendpoints.json: items[2].status.networking.addressing[0].ipv6 is fd00:10:2::79, but endpoint 1587 of the agent list of node mycluster-worker (endpoints-mycluster-worker.json [3]) has fd00:10:2::99 (CiliumEndpoint networking101/netshoot-7d996d7884-fwt8z)"]
    );
    let mut texts = Texts::dual_stack();
    texts.endpoints = remove(&texts.endpoints, "/items/2/status/networking/addressing/0", "ipv6");
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["ciliumendpoints.json: items[2].status.networking.addressing has no IPv6 address, but endpoint 1587 of the agent list of node mycluster-worker (endpoints-mycluster-worker.json [3]) has fd00:10:2::79 (CiliumEndpoint networking101/netshoot-7d996d7884-fwt8z)"]
    );
}

/// Input that maps but breaks a rule of the language: `routec check`'s
/// diagnostics on the generated text, nothing imported.
fn check_errors(texts: &Texts, options: &Options) -> String {
    let Err(ImportError::Invalid(analysis)) = texts.run(options) else { panic!("expected diagnostics") };
    analysis.render_human_string()
}

#[test]
fn an_ipv6_pod_ip_outside_its_nodes_ipv6_pod_cidr_is_e0007() {
    let mut texts = Texts::dual_stack();
    texts.endpoints = edit(&texts.endpoints, T6GGH_V6, |ip| *ip = json!("fd00:10:9::75"));
    texts.agents[0].1 =
        edit(&texts.agents[0].1, "/2/status/networking/addressing/0/ipv6", |ip| *ip = json!("fd00:10:9::75"));
    let text = check_errors(&texts, &Options::default());
    assert!(text.contains("error[E0007]"), "{text}");
    assert!(text.contains("fd00:10:9::75"), "{text}");
    assert!(text.contains("nodes/mycluster-worker.route"), "{text}");
}

#[test]
fn native_routing_of_ipv6_pods_needs_every_nodes_ipv6_internal_ip() {
    let options = Options { overlay: OverlayKind::None, ..Options::default() };
    assert!(Texts::dual_stack().run(&options).is_ok(), "every CiliumNode has an IPv6 InternalIP");
    let mut texts = Texts::dual_stack();
    texts.nodes = edit(&texts.nodes, "/items/0/spec/addresses", |addresses| {
        addresses.as_array_mut().unwrap().remove(1);
    });
    let text = check_errors(&texts, &options);
    assert!(text.contains("error[E0019]"), "{text}");
    assert!(text.contains("mycluster-control-plane"), "{text}");
}
