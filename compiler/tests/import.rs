//! `routec import` on the seed cluster as kubectl and cilium-dbg print it:
//! the generated files and report (snapshots), the round trip through the
//! front end and `build` to the seed's bytes, agreement with
//! examples/mycluster, and one test per way the inputs can fail.

mod build_support;
mod import_support;

use build_support::{hex, reference_cluster, vectors};
use import_support::*;
use routec_compiler::build::{build, BuildOptions, ClangChoice};
use routec_compiler::cilium_import::{
    cilium_lxc_name, write, Import, ImportError, LxcNaming, Options, WriteError, MARKER,
};
use routec_compiler::frontend::analyze_path;
use routec_compiler::model::{Cluster, OverlayKind};
use routec_compiler::seeds::parse_seed;
use serde_json::json;

fn seed_import() -> Import {
    Texts::seed().run(&Options::default()).unwrap()
}

fn render_files(import: &Import) -> String {
    import.files.iter().map(|f| format!("=== {} ===\n{}", f.path, f.text)).collect()
}

#[test]
fn snapshots_of_the_files_and_the_report() {
    let import = seed_import();
    insta::with_settings!({snapshot_path => "../../snapshots/import", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("import-seed-files", render_files(&import));
        insta::assert_json_snapshot!("import-seed-report.json", import.report);
        insta::assert_snapshot!("import-seed-report.txt", import.report.render_text("OUT"));
    });
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let a = seed_import();
    let b = seed_import();
    assert_eq!(a.files, b.files);
    assert_eq!(a.report, b.report);
    let scratch = tempfile::tempdir().unwrap();
    let (one, two) = (scratch.path().join("one"), scratch.path().join("two"));
    write(&a, &one).unwrap();
    write(&b, &two).unwrap();
    for name in ["cluster.route", "nodes/mycluster-worker.route", MARKER] {
        assert_eq!(std::fs::read(one.join(name)).unwrap(), std::fs::read(two.join(name)).unwrap(), "{name}");
    }
}

#[test]
fn the_files_are_in_fmt_layout() {
    for file in seed_import().files {
        let formatted = routec_compiler::fmt::format_source(&file.path, &file.text).unwrap();
        assert_eq!(formatted, file.text, "{}", file.path);
    }
}

/// Import, write, read back with the front end, build without clang: the
/// entries of 10.10.2.121 (cilium_lxc on mycluster-worker) and 10.10.1.155
/// (cilium_ipcache) are the seed's bytes, sec_id being the declared identity.
#[test]
fn import_then_build_reproduces_the_seed_vectors() {
    let scratch = tempfile::tempdir().unwrap();
    let input = scratch.path().join("mycluster");
    write(&seed_import(), &input).unwrap();
    let analysis = analyze_path(&input).unwrap();
    let cluster = analysis.cluster.expect("the written files pass check");
    let out = scratch.path().join("out");
    build(&cluster, &BuildOptions::new(ClangChoice::Skip, "sha256:test".into()), &out).unwrap();

    let vectors = vectors();
    let lxc = &vectors["cilium_lxc"][0];
    assert_eq!(lxc["decoded"]["ip"], "10.10.2.121");
    let seed =
        parse_seed(&std::fs::read_to_string(out.join("nodes/mycluster-worker/cilium_lxc.seed")).unwrap()).unwrap();
    let key = hex(lxc["key"].as_str().unwrap());
    let dumped = hex(lxc["value"].as_str().unwrap());
    let (_, value) = seed.iter().find(|(k, _)| *k == key).expect("an entry for 10.10.2.121");
    assert_eq!(&value[32..36], &10388u32.to_le_bytes(), "sec_id is the declared identity");
    assert_eq!(&value[..32], &dumped[..32]);
    assert_eq!(&value[36..], &dumped[36..]);

    let ipcache = &vectors["cilium_ipcache"][0];
    assert_eq!(ipcache["decoded"]["prefix"], "10.10.1.155/32");
    let seed = parse_seed(&std::fs::read_to_string(out.join("cluster/cilium_ipcache.seed")).unwrap()).unwrap();
    let key = hex(ipcache["key"].as_str().unwrap());
    let (_, value) = seed.iter().find(|(k, _)| *k == key).expect("an entry for 10.10.1.155/32");
    assert_eq!(*value, hex(ipcache["value"].as_str().unwrap()));
}

/// The lxc names Cilium gives the worker2 pods, computed outside routec
/// (`printf '%s' ID | sha256sum | cut -c1-12`) from the fixtures' ids.
const WORKER2_LXC_BY_ATTACHMENT: [(&str, &str); 2] = [
    ("networking101/busybox-c8bbbbb84-fmhwc", "lxc5749960d8c9f"),
    ("networking101/netshoot-7d996d7884-gcxrm", "lxc6d8094bd0a69"),
];
const WORKER2_LXC_BY_CONTAINER: [(&str, &str); 2] = [
    ("networking101/busybox-c8bbbbb84-fmhwc", "lxc631d3a34724c"),
    ("networking101/netshoot-7d996d7884-gcxrm", "lxc77583a462a56"),
];

fn lxc_of<'a>(cluster: &'a Cluster, pod: &str) -> &'a str {
    &cluster.find_pod(pod).unwrap().lxc
}

/// Where the import and the hand-written example describe the same thing,
/// they agree: every node and pod field, except what the import leaves to
/// discovery (no agent list for worker2), the lxc names it derives there,
/// and the routers, which are the CiliumInternalIPs.
#[test]
fn the_import_agrees_with_examples_mycluster() {
    let imported = seed_import().cluster;
    let example = reference_cluster();
    assert_eq!(imported.name, example.name);
    assert_eq!(imported.overlay, example.overlay);
    assert_eq!(imported.mtu, example.mtu);
    assert_eq!(imported.nodes.len(), example.nodes.len());
    let routers = [
        ("mycluster-control-plane", "10.10.0.211"),
        ("mycluster-worker", "10.10.2.38"),
        ("mycluster-worker2", "10.10.1.96"),
    ];
    for (node, router) in routers {
        let (a, b) = (imported.node(node).unwrap(), example.node(node).unwrap());
        assert_eq!((&a.name, a.address, a.pod_cidr, &a.device), (&b.name, b.address, b.pod_cidr, &b.device));
        assert_eq!(a.router.unwrap().to_string(), router);
    }
    assert_eq!(imported.pods.len(), example.pods.len());
    for pod in &imported.pods {
        let other = example.find_pod(&pod.name).unwrap();
        let node = |c: &Cluster, p: &routec_compiler::model::Pod| c.nodes[p.node].name.clone();
        assert_eq!(node(&imported, pod), node(&example, other));
        assert_eq!((pod.ip, pod.endpoint, pod.identity), (other.ip, other.endpoint, other.identity), "{}", pod.name);
        let on_worker = node(&imported, pod) == WORKER;
        if on_worker {
            assert_eq!(pod.lxc, other.lxc, "{}", pod.name);
        }
        assert!(pod.ifindex.is_none() || pod.ifindex == other.ifindex, "{}", pod.name);
        assert!(pod.mac.is_none() || pod.mac == other.mac, "{}", pod.name);
        assert!(pod.node_mac.is_none() || pod.node_mac == other.node_mac, "{}", pod.name);
        assert_eq!(on_worker, pod.ifindex.is_some(), "{}: ifindex from the agent list only", pod.name);
    }
    for (pod, lxc) in WORKER2_LXC_BY_ATTACHMENT {
        assert_eq!(lxc_of(&imported, pod), lxc);
    }
}

#[test]
fn lxc_names_follow_the_chosen_cilium_naming() {
    let options = Options { lxc_naming: LxcNaming::ContainerId, ..Options::default() };
    let cluster = Texts::seed().run(&options).unwrap().cluster;
    for (pod, lxc) in WORKER2_LXC_BY_CONTAINER {
        assert_eq!(lxc_of(&cluster, pod), lxc);
    }
    // The agent's list wins over any derivation.
    assert_eq!(lxc_of(&cluster, "networking101/netshoot-7d996d7884-fwt8z"), "lxc5b7b34955e61");
    // `printf '%s' abc:eth0 | sha256sum | cut -c1-12`
    assert_eq!(cilium_lxc_name("abc:eth0"), "lxcb133159de544");
}

#[test]
fn core_nodes_are_the_fallback_and_routers_default() {
    let texts = Texts { nodes: fixture(NODES), ..Texts::seed() };
    let import = texts.run(&Options::default()).unwrap();
    let example = reference_cluster();
    for node in &import.cluster.nodes {
        let other = example.node(&node.name).unwrap();
        assert_eq!(node, other, "a Node gives address and pod-cidr; the router is the language's default");
    }
    let routers: Vec<_> =
        import.report.derived.iter().filter(|d| d.field == "router").map(|d| d.object.as_str()).collect();
    assert_eq!(routers, ["mycluster-control-plane", "mycluster-worker", "mycluster-worker2"]);
}

#[test]
fn one_endpoint_object_is_accepted_as_well_as_a_list() {
    let list = fixture_json(ENDPOINTS);
    let one = serde_json::to_string(&list["items"][1]).unwrap();
    let texts = Texts { endpoints: one, ..Texts::seed() };
    let import = texts.run(&Options::default()).unwrap();
    assert_eq!(import.report.imported.pods, ["networking101/busybox-c8bbbbb84-t6ggh"]);
}

fn endpoints_problems(pointer: &str, change: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
    let mut texts = Texts::seed();
    texts.endpoints = edit(&texts.endpoints, pointer, change);
    problems(texts.run(&Options::default()))
}

#[test]
fn a_missing_field_is_named_by_its_path_and_object() {
    let mut texts = Texts::seed();
    texts.endpoints = remove(&texts.endpoints, "/items/2/status", "id");
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["ciliumendpoints.json: items[2].status.id is missing (networking101/netshoot-7d996d7884-fwt8z)"]
    );
}

#[test]
fn a_wrong_type_is_named_by_its_path() {
    let found = endpoints_problems("/items/1/status/id", |id| *id = json!("715"));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[1].status.id is a string, not a number (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
    let found = endpoints_problems("/items/1/status/identity/id", |id| *id = json!(16_777_216));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[1].status.identity.id 16777216 is outside 1..=16777215 (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
}

#[test]
fn a_pod_whose_node_is_not_among_the_nodes_is_an_error() {
    let found = endpoints_problems("/items/0/status/networking/node", |n| *n = json!("172.18.0.9"));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[0].status.networking.node 172.18.0.9 is not the InternalIP of any node in ciliumnodes.json: the pod's node is not among the nodes (CiliumEndpoint networking101/busybox-c8bbbbb84-fmhwc)"]
    );
}

#[test]
fn an_endpoint_without_an_address_is_an_error() {
    let found = endpoints_problems("/items/1/status/networking/addressing", |a| *a = json!([]));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[1].status.networking.addressing has no IPv4 or IPv6 address: an endpoint without one cannot be a pod (networking101/busybox-c8bbbbb84-t6ggh)"]
    );
}

#[test]
fn two_endpoints_with_one_ip_are_an_error() {
    let found = endpoints_problems("/items/3/status/networking/addressing/0/ipv4", |ip| *ip = json!("10.10.1.164"));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[3].status.networking.addressing[0].ipv4 10.10.1.164 is also the address of networking101/busybox-c8bbbbb84-fmhwc (items[0].status.networking.addressing[0].ipv4) (CiliumEndpoint networking101/netshoot-7d996d7884-gcxrm)"]
    );
}

#[test]
fn two_endpoints_with_one_id_on_a_node_are_an_error() {
    let mut texts = Texts::seed();
    texts.agents.clear();
    texts.endpoints = edit(&texts.endpoints, "/items/1/status/id", |id| *id = json!(1587));
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["ciliumendpoints.json: items[2].status.id 1587 is also the endpoint id of networking101/busybox-c8bbbbb84-t6ggh on node mycluster-worker (CiliumEndpoint networking101/netshoot-7d996d7884-fwt8z)"]
    );
}

#[test]
fn an_agent_endpoint_without_an_interface_name_is_an_error() {
    let mut texts = Texts::seed();
    texts.agents[0].1 = remove(&texts.agents[0].1, "/3/status/networking", "interface-name");
    assert_eq!(
        problems(texts.run(&Options::default())),
        ["endpoints-mycluster-worker.json: [3].status.networking.interface-name is missing: it is the lxc name of networking101/netshoot-7d996d7884-fwt8z (endpoint 1587)"]
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let mut texts = Texts::seed();
    texts.endpoints = remove(&texts.endpoints, "/items/0/status", "identity");
    texts.endpoints = edit(&texts.endpoints, "/items/3/metadata/name", |n| *n = json!("Gcxrm"));
    let found = problems(texts.run(&Options::default()));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("items[0].status.identity is missing"), "{}", found[0]);
    assert!(found[1].contains("items[3].metadata.name `networking101/Gcxrm` is not a pod name"), "{}", found[1]);
}

#[test]
fn names_cannot_carry_syntax_into_the_files() {
    let found = endpoints_problems("/items/1/metadata/name", |n| *n = json!("x {\n    ip 10.10.2.9\n}"));
    assert!(found[0].starts_with("ciliumendpoints.json: items[1].metadata.name `networking101/x {"), "{}", found[0]);
    let mut texts = Texts::seed();
    texts.agents[0].1 = edit(&texts.agents[0].1, "/2/status/networking/interface-name", |n| *n = json!("lxc\n}"));
    let found = problems(texts.run(&Options::default()));
    assert!(
        found[0].contains("[2].status.networking.interface-name `lxc\n}` is not an interface name"),
        "{}",
        found[0]
    );
}

#[test]
fn an_agent_list_must_match_the_endpoints_and_nodes() {
    let mut texts = Texts::seed();
    texts.agents[0].0 = "mycluster-wroker".into();
    let found = problems(texts.run(&Options::default()));
    assert_eq!(
        found,
        ["--agent-endpoints mycluster-wroker=endpoints-mycluster-worker.json: no node mycluster-wroker in ciliumnodes.json (did you mean `mycluster-worker`?)"]
    );

    let mut texts = Texts::seed();
    texts.agents[0].1 = edit(&texts.agents[0].1, "", |list| {
        list.as_array_mut().unwrap().remove(2);
    });
    let found = problems(texts.run(&Options::default()));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[1].status.id 715 is not an endpoint in the agent list of node mycluster-worker (endpoints-mycluster-worker.json) (CiliumEndpoint networking101/busybox-c8bbbbb84-t6ggh)"]
    );

    let mut texts = Texts::seed();
    texts.agents[0].1 =
        edit(&texts.agents[0].1, "/3/status/networking/addressing/0/ipv4", |ip| *ip = json!("10.10.2.99"));
    let found = problems(texts.run(&Options::default()));
    assert!(
        found[0].contains("is 10.10.2.121, but endpoint 1587 of the agent list of node mycluster-worker"),
        "{}",
        found[0]
    );
}

#[test]
fn a_missing_naming_id_asks_for_the_agent_list_or_the_other_naming() {
    let mut texts = Texts::seed();
    texts.endpoints = remove(&texts.endpoints, "/items/0/status/external-identifiers", "cni-attachment-id");
    let found = problems(texts.run(&Options::default()));
    assert_eq!(
        found,
        ["ciliumendpoints.json: items[0].status.external-identifiers.cni-attachment-id is missing: the lxc name is derived from it without an agent list for node mycluster-worker2 (pass --agent-endpoints mycluster-worker2=FILE, or --lxc-naming for container-id (Cilium before 1.15)) (CiliumEndpoint networking101/busybox-c8bbbbb84-fmhwc)"]
    );
}

#[test]
fn the_cluster_name_comes_from_the_labels_or_the_flag() {
    let mut texts = Texts::seed();
    for i in 0..4 {
        texts.endpoints = edit(&texts.endpoints, &format!("/items/{i}/status/identity/labels"), |labels| {
            labels.as_array_mut().unwrap().retain(|l| !l.as_str().unwrap().contains("policy.cluster="));
        });
    }
    let found = problems(texts.run(&Options::default()));
    assert_eq!(
        found,
        ["ciliumendpoints.json: no endpoint's identity has the `io.cilium.k8s.policy.cluster` label that names the cluster: pass --cluster-name"]
    );
    let options = Options { cluster_name: Some("lab".into()), overlay: OverlayKind::None, ..Options::default() };
    let import = texts.run(&options).unwrap();
    assert_eq!((import.cluster.name.as_str(), import.cluster.overlay.kind), ("lab", OverlayKind::None));
}

#[test]
fn wrong_files_and_bad_json_are_errors_not_panics() {
    let texts = Texts { endpoints: fixture(CILIUM_NODES), nodes: fixture(ENDPOINTS), ..Texts::seed() };
    let found = problems(texts.run(&Options::default()));
    assert!(
        found.iter().any(|p| p.contains("items[0].kind is `CiliumEndpoint`, not CiliumNode or Node")),
        "{found:#?}"
    );
    let texts = Texts { endpoints: fixture(ENDPOINTS)[..900].to_string(), ..Texts::seed() };
    let found = problems(texts.run(&Options::default()));
    assert!(found[0].starts_with("ciliumendpoints.json: the document is not JSON: EOF while parsing"), "{}", found[0]);
}

/// Input that maps but does not pass the validator: its diagnostics, on the
/// generated text.
#[test]
fn generated_files_that_fail_check_are_not_an_import() {
    let mut texts = Texts::seed();
    texts.endpoints =
        edit(&texts.endpoints, "/items/0/status/networking/addressing/0/ipv4", |ip| *ip = json!("10.10.9.9"));
    let Err(ImportError::Invalid(analysis)) = texts.run(&Options::default()) else { panic!("expected diagnostics") };
    let text = analysis.render_human_string();
    assert!(text.contains("error[E0007]"), "{text}");
    assert!(text.contains("nodes/mycluster-worker2.route"), "{text}");
}

#[test]
fn write_replaces_only_a_folder_import_made() {
    let import = seed_import();
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("cluster");
    write(&import, &out).unwrap();
    write(&import, &out).expect("an unchanged earlier import is replaced");

    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let Err(WriteError::NotAnImport { why, .. }) = write(&import, &out) else { panic!("replaced a foreign file") };
    assert!(why.contains("notes.txt is not one of the files routec import wrote"), "{why}");
    std::fs::remove_file(out.join("notes.txt")).unwrap();

    let edited = out.join("nodes/mycluster-worker.route");
    std::fs::write(&edited, "# my edits\n").unwrap();
    let Err(WriteError::NotAnImport { why, .. }) = write(&import, &out) else { panic!("replaced an edited file") };
    assert!(why.contains("changed since routec import wrote it"), "{why}");
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "# my edits\n");

    let foreign = scratch.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("cluster.route"), "cluster x {}\n").unwrap();
    assert!(matches!(write(&import, &foreign), Err(WriteError::NotAnImport { .. })));
    assert_eq!(std::fs::read_to_string(foreign.join("cluster.route")).unwrap(), "cluster x {}\n");
    let names: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "no temporary folder is left behind: {names:?}");
}
