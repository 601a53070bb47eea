//! `routec diff` on builds of generated clusters with known edits: each edit
//! shows exactly the entries it implies and nothing else; plus snapshots of
//! a sample change to examples/mycluster, and unreadable builds.

mod build_support;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use build_support::{example, generated_cluster};
use routec_compiler::build::{build, BuildFiles, BuildOptions, ClangChoice};
use routec_compiler::diff::{
    diff_builds, diff_node, render_json, render_text, Action, BuildState, Change, ChangeKind, DiffError, NodeState,
    Plan, ProgramState, Sides, Subject, Summary,
};
use routec_compiler::frontend::analyze_str;
use routec_compiler::gen;
use routec_compiler::model::{Cluster, Node, Pod};

struct Builds {
    _scratch: tempfile::TempDir,
    old: PathBuf,
    new: PathBuf,
}

fn build_into(cluster: &Cluster, out: &Path) {
    build(cluster, &BuildOptions::new(ClangChoice::Skip, "sha256:test".into()), out).unwrap();
}

fn builds(old: &Cluster, new: &Cluster) -> Builds {
    let scratch = tempfile::tempdir().unwrap();
    let (old_out, new_out) = (scratch.path().join("old"), scratch.path().join("new"));
    build_into(old, &old_out);
    build_into(new, &new_out);
    Builds { _scratch: scratch, old: old_out, new: new_out }
}

fn plan_of(old: &Cluster, new: &Cluster) -> Plan {
    let b = builds(old, new);
    diff_builds(&b.old, &b.new, false).unwrap()
}

fn changes(plan: &Plan) -> Vec<&Change> {
    plan.nodes.iter().flat_map(|n| &n.changes).collect()
}

/// (node, kind, subject, action) of every change, for exact comparisons.
fn outline(plan: &Plan) -> Vec<(String, ChangeKind, String, Action)> {
    changes(plan).iter().map(|c| (c.node.clone(), c.kind, c.subject.to_string(), c.action)).collect()
}

fn node_names(cluster: &Cluster) -> Vec<String> {
    cluster.nodes.iter().map(|n| n.name.clone()).collect()
}

fn cluster() -> Cluster {
    generated_cluster(4, 5)
}

#[test]
fn one_pod_identity_change_is_one_lxc_entry_and_one_ipcache_entry_per_node() {
    let old = cluster();
    let mut new = old.clone();
    let pod = 7; // the third pod of node-1
    new.pods[pod].identity += 1;
    let (pod_name, pod_node) = (new.pods[pod].name.clone(), new.nodes[new.pods[pod].node].name.clone());
    let plan = plan_of(&old, &new);
    let subject = format!("pod {pod_name}");
    let mut expected = Vec::new();
    for node in node_names(&old) {
        if node == pod_node {
            expected.push((node.clone(), ChangeKind::CiliumLxc, subject.clone(), Action::Update));
        }
        expected.push((node, ChangeKind::CiliumIpcache, subject.clone(), Action::Update));
    }
    assert_eq!(outline(&plan), expected);
    assert_eq!(plan.summary(), Summary { add: 0, change: 5, destroy: 0 });
    // The key is the pod's; the values differ in the identity only.
    let lxc = changes(&plan).into_iter().find(|c| c.kind == ChangeKind::CiliumLxc).unwrap();
    assert_eq!(lxc.address, new.pods[pod].ip.unwrap().to_string());
    let json = |v: &Option<routec_compiler::diff::Value>| serde_json::to_value(v).unwrap();
    let (before, after) = (json(&lxc.before), json(&lxc.after));
    assert_eq!(after["sec_id"].as_u64().unwrap(), before["sec_id"].as_u64().unwrap() + 1);
    assert_eq!(before["key_hex"], after["key_hex"]);
    assert_eq!(before["ip"], new.pods[pod].ip.unwrap().to_string());
}

#[test]
fn one_pod_ip_change_is_one_replacement_per_map_and_node() {
    let old = cluster();
    let mut new = old.clone();
    let pod = 9; // the last pod of node-1: a higher IP keeps the pods sorted
    let old_ip = new.pods[pod].ip.unwrap();
    let new_ip = Ipv4Addr::new(old_ip.octets()[0], old_ip.octets()[1], old_ip.octets()[2], 200);
    new.pods[pod].ip = Some(new_ip);
    let pod_node = new.nodes[new.pods[pod].node].name.clone();
    let plan = plan_of(&old, &new);
    let subject = format!("pod {}", new.pods[pod].name);
    let mut expected = Vec::new();
    for node in node_names(&old) {
        if node == pod_node {
            expected.push((node.clone(), ChangeKind::CiliumLxc, subject.clone(), Action::Replace));
        }
        expected.push((node, ChangeKind::CiliumIpcache, subject.clone(), Action::Replace));
    }
    assert_eq!(outline(&plan), expected);
    assert_eq!(plan.summary(), Summary { add: 5, change: 0, destroy: 5 });
    let lxc = changes(&plan).into_iter().find(|c| c.kind == ChangeKind::CiliumLxc).unwrap();
    assert_eq!(lxc.address, format!("{old_ip} -> {new_ip}"));
}

#[test]
fn a_pod_moved_to_a_lower_ip_is_one_replacement_too() {
    // The create of the new key sorts before the delete of the old one.
    let text = std::fs::read_to_string(example("mycluster").join("cluster.route")).unwrap();
    let old = analyze_str("cluster.route", &text).cluster.unwrap();
    let new = analyze_str("cluster.route", &text.replace("10.10.2.121", "10.10.2.119")).cluster.unwrap();
    let plan = plan_of(&old, &new);
    let subject = "pod networking101/netshoot-7d996d7884-fwt8z".to_string();
    let mut expected = vec![];
    for node in node_names(&old) {
        if node == "mycluster-worker" {
            expected.push((node.clone(), ChangeKind::CiliumLxc, subject.clone(), Action::Replace));
        }
        expected.push((node, ChangeKind::CiliumIpcache, subject.clone(), Action::Replace));
    }
    assert_eq!(outline(&plan), expected);
    let lxc = changes(&plan).into_iter().find(|c| c.kind == ChangeKind::CiliumLxc).unwrap();
    assert_eq!(lxc.address, "10.10.2.121 -> 10.10.2.119");
}

fn extra_pod(cluster: &Cluster, node: usize) -> Pod {
    let template = cluster.pods.iter().rfind(|p| p.node == node).unwrap().clone();
    let net = cluster.nodes[node].pod_cidr.unwrap().network().octets();
    Pod {
        name: "default/added-pod".into(),
        ip: Some(Ipv4Addr::new(net[0], net[1], net[2], 250)),
        endpoint: 4000,
        lxc: "lxcadded000001".into(),
        ..template
    }
}

#[test]
fn adding_a_pod_creates_its_hook_and_entries() {
    let old = cluster();
    let mut new = old.clone();
    let pod = extra_pod(&new, 2);
    let at = new.pods.iter().rposition(|p| p.node == 2).unwrap() + 1;
    new.pods.insert(at, pod);
    let plan = plan_of(&old, &new);
    let subject = "pod default/added-pod".to_string();
    let mut expected = Vec::new();
    for node in node_names(&old) {
        if node == "node-2" {
            expected.push((node.clone(), ChangeKind::Hook, subject.clone(), Action::Create));
            expected.push((node.clone(), ChangeKind::CiliumLxc, subject.clone(), Action::Create));
        }
        expected.push((node, ChangeKind::CiliumIpcache, subject.clone(), Action::Create));
    }
    assert_eq!(outline(&plan), expected);
    assert_eq!(plan.summary(), Summary { add: 6, change: 0, destroy: 0 });
}

#[test]
fn removing_a_pod_deletes_its_hook_and_entries() {
    let old = cluster();
    let mut new = old.clone();
    let removed = new.pods.remove(3);
    let plan = plan_of(&old, &new);
    let subject = format!("pod {}", removed.name);
    let host = old.nodes[removed.node].name.clone();
    let mut expected = Vec::new();
    for node in node_names(&old) {
        if node == host {
            expected.push((node.clone(), ChangeKind::Hook, subject.clone(), Action::Delete));
            expected.push((node.clone(), ChangeKind::CiliumLxc, subject.clone(), Action::Delete));
        }
        expected.push((node, ChangeKind::CiliumIpcache, subject.clone(), Action::Delete));
    }
    assert_eq!(outline(&plan), expected);
    assert_eq!(plan.summary(), Summary { add: 0, change: 0, destroy: 6 });
    let hook = changes(&plan).into_iter().find(|c| c.kind == ChangeKind::Hook).unwrap();
    assert_eq!(hook.address, format!("{} ingress", removed.lxc));
}

#[test]
fn adding_a_node_is_one_node_change_and_its_ipcache_entries_elsewhere() {
    let old = cluster();
    let mut new = old.clone();
    let base = &new.nodes[0];
    new.nodes.push(Node {
        name: "node-new".into(),
        address: gen::node_address(99),
        pod_cidr: Some(format!("{}/24", gen::pod_cidr_network(99)).parse().unwrap()),
        router: Some(Ipv4Addr::from(u32::from(gen::pod_cidr_network(99)) + 1)),
        device: base.device.clone(),
        address6: None,
        pod_cidr6: None,
        router6: None,
    });
    let plan = plan_of(&old, &new);
    let mut expected = Vec::new();
    for node in node_names(&old) {
        // Sorted by key: the pod-cidr 10.0.99.0/24, then the address 172.16.0.100/32.
        expected.push((node.clone(), ChangeKind::CiliumIpcache, "node node-new pod-cidr".into(), Action::Create));
        expected.push((node, ChangeKind::CiliumIpcache, "node node-new".into(), Action::Create));
    }
    expected.push(("node-new".into(), ChangeKind::Node, "node node-new".into(), Action::Create));
    assert_eq!(outline(&plan), expected);
    let joined = plan.nodes.iter().find(|n| n.node == "node-new").unwrap();
    assert_eq!(joined.status, Action::Create);
    let after = serde_json::to_value(&joined.changes[0].after).unwrap();
    assert_eq!(after["cilium_lxc_entries"], 2);
    assert_eq!(after["cilium_ipcache_entries"], 20 + 2 * 5);
    assert_eq!(after["programs"], serde_json::Value::Null);

    // And the other way round: the node leaves.
    let back = plan_of(&new, &old);
    let left = back.nodes.iter().find(|n| n.node == "node-new").unwrap();
    assert_eq!(left.status, Action::Delete);
    assert_eq!(back.summary(), Summary { add: 0, change: 0, destroy: 1 + 2 * 4 });
}

#[test]
fn changing_the_overlay_port_and_vni_changes_two_constants_on_every_node() {
    let old = cluster();
    let mut new = old.clone();
    new.overlay.port = 4789;
    new.overlay.vni = 7;
    let plan = plan_of(&old, &new);
    let mut expected = Vec::new();
    for node in node_names(&old) {
        expected.push((node.clone(), ChangeKind::Constant, format!("node {node}"), Action::Update));
        expected.push((node.clone(), ChangeKind::Constant, format!("node {node}"), Action::Update));
    }
    assert_eq!(outline(&plan), expected);
    let addresses: Vec<&str> = plan.nodes[0].changes.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(addresses, ["OVERLAY_PORT", "VNI"]);
    let port = &plan.nodes[0].changes[0];
    assert_eq!(serde_json::to_value(&port.before).unwrap(), 8472);
    assert_eq!(serde_json::to_value(&port.after).unwrap(), 4789);
}

#[test]
fn a_map_size_change_is_a_map_update_on_every_node() {
    let cluster = cluster();
    let scratch = tempfile::tempdir().unwrap();
    let (old, new) = (scratch.path().join("old"), scratch.path().join("new"));
    build_into(&cluster, &old);
    let mut options = BuildOptions::new(ClangChoice::Skip, "sha256:test".into());
    options.maps.ipcache = 1024;
    build(&cluster, &options, &new).unwrap();
    let plan = diff_builds(&old, &new, false).unwrap();
    let expected: Vec<_> = node_names(&cluster)
        .into_iter()
        .map(|node| (node.clone(), ChangeKind::Map, format!("node {node}"), Action::Update))
        .collect();
    assert_eq!(outline(&plan), expected);
    let change = &plan.nodes[0].changes[0];
    assert_eq!(change.address, "cilium_ipcache");
    assert_eq!(serde_json::to_value(&change.after).unwrap(), 1024);
}

#[test]
fn identical_builds_have_no_changes() {
    let cluster = cluster();
    let plan = plan_of(&cluster, &cluster);
    assert!(!plan.has_changes());
    assert!(plan.nodes.iter().all(|n| n.status == Action::NoOp));
    let text = render_text(&plan, Sides { old: "a", new: "b" });
    assert!(text.contains("\nNo changes."), "{text}");
    assert_eq!(plan.notes, ["programs not compared: OLD and NEW were built without objects (--no-clang)"]);
}

#[test]
fn a_replaced_object_is_a_program_replacement() {
    let b = builds(&cluster(), &cluster());
    let mut old = BuildState::read(&BuildFiles::open(&b.old).unwrap()).unwrap();
    let program = |sha: &str| ProgramState {
        name: "cil_from_container".into(),
        object: "bpf/bpf_lxc.o".into(),
        sha256: sha.into(),
    };
    old.nodes[0].programs = Some(vec![program("aa")]);
    let mut new = old.nodes[0].clone();
    new.programs = Some(vec![program("bb")]);
    let names = old.names();
    let changes = diff_node(&old.nodes[0], &new, (&names, &names));
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].kind, changes[0].action), (ChangeKind::Program, Action::Replace));
    assert_eq!(changes[0].subject, Subject::Node("node-0".into()));

    // A node whose hooks do not run the program does not load it: no change there.
    let mut idle = old.nodes[0].clone();
    idle.hooks.retain(|h| h.program != "cil_from_container");
    let mut idle_new = idle.clone();
    idle_new.programs = Some(vec![program("bb")]);
    assert!(diff_node(&idle, &idle_new, (&names, &names)).is_empty());
}

#[test]
fn builds_of_different_clusters_are_refused_unless_allowed() {
    let old = cluster();
    let mut new = old.clone();
    new.name = "other".into();
    let b = builds(&old, &new);
    let err = diff_builds(&b.old, &b.new, false).unwrap_err();
    assert!(matches!(err, DiffError::ClusterChanged { .. }), "{err}");
    assert!(err.to_string().contains("--allow-cluster-change"), "{err}");
    assert!(!diff_builds(&b.old, &b.new, true).unwrap().has_changes());
}

#[test]
fn a_build_changed_after_it_was_made_is_refused() {
    let cluster = cluster();
    let b = builds(&cluster, &cluster);
    let seed = b.new.join("nodes/node-1/cilium_lxc.seed");
    let mut text = std::fs::read_to_string(&seed).unwrap();
    text.push_str(&text.lines().next().unwrap().replace("key hex 0a", "key hex 0b"));
    std::fs::write(&seed, text).unwrap();
    let err = diff_builds(&b.old, &b.new, false).unwrap_err();
    assert!(err.to_string().contains("changed after the build"), "{err}");
    assert!(err.to_string().contains("node-1/cilium_lxc.seed"), "{err}");
}

/// examples/mycluster with one pod's identity and another's IP changed, a
/// pod added and the VNI changed.
fn edited_mycluster() -> (Cluster, Cluster) {
    let text = std::fs::read_to_string(example("mycluster").join("cluster.route")).unwrap();
    let old = analyze_str("cluster.route", &text).cluster.unwrap();
    let edited = text
        .replace("endpoint 715\n    identity 3372", "endpoint 715\n    identity 4242")
        .replace("ip 10.10.1.164", "ip 10.10.1.170")
        .replace("port 8472\n", "port 8472\n        vni 9\n")
        + "\npod networking101/curl-5f8d on mycluster-worker2 {\n    ip 10.10.1.200\n    endpoint 42\n    \
           identity 10388\n    lxc lxc0000000000aa\n}\n";
    let analysis = analyze_str("cluster.route", &edited);
    assert!(!analysis.has_errors(), "{}", analysis.render_human_string());
    (old, analysis.cluster.unwrap())
}

#[test]
fn sample_change_snapshots() {
    let (old, new) = edited_mycluster();
    let plan = plan_of(&old, &new);
    let sides = Sides { old: "deployed", new: "out" };
    insta::with_settings!({snapshot_path => "../../snapshots/diff", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("mycluster-sample.txt", render_text(&plan, sides));
        insta::assert_snapshot!("mycluster-sample.json", render_json(&plan, sides));
    });
}

/// `diff_node` (what `routec plan` calls with the kernel's state) of each
/// node of two builds.
fn per_node(old: &Cluster, new: &Cluster) -> Vec<(String, ChangeKind, String, Action)> {
    let b = builds(old, new);
    let old = BuildState::read(&BuildFiles::open(&b.old).unwrap()).unwrap();
    let new = BuildState::read(&BuildFiles::open(&b.new).unwrap()).unwrap();
    let (old_names, new_names) = (old.names(), new.names());
    let mut outline = Vec::new();
    for new_node in &new.nodes {
        let Some(old_node) = old.nodes.iter().find(|n| n.name == new_node.name) else { continue };
        let changes = diff_node(old_node, new_node, (&old_names, &new_names));
        outline.extend(changes.iter().map(|c| (c.node.clone(), c.kind, c.subject.to_string(), c.action)));
    }
    outline
}

#[test]
fn diff_node_gives_each_edit_exactly_its_entries_on_every_node() {
    let old = cluster();
    let edits: Vec<(&str, Cluster)> = vec![
        ("identity", {
            let mut new = old.clone();
            new.pods[7].identity += 1;
            new
        }),
        ("add a pod", {
            let mut new = old.clone();
            let at = new.pods.iter().rposition(|p| p.node == 2).unwrap() + 1;
            new.pods.insert(at, extra_pod(&old, 2));
            new
        }),
        ("remove a pod", {
            let mut new = old.clone();
            new.pods.remove(3);
            new
        }),
    ];
    for (edit, new) in edits {
        // Every node both builds have: what `diff` lists for it, `diff_node` gives.
        assert_eq!(per_node(&old, &new), outline(&plan_of(&old, &new)), "{edit}");
    }
    // A node added: the nodes that were there see its pod-cidr and address, nothing else.
    let mut new = old.clone();
    new.nodes.push(Node {
        name: "node-new".into(),
        address: gen::node_address(99),
        pod_cidr: Some(format!("{}/24", gen::pod_cidr_network(99)).parse().unwrap()),
        router: Some(Ipv4Addr::from(u32::from(gen::pod_cidr_network(99)) + 1)),
        device: old.nodes[0].device.clone(),
        address6: None,
        pod_cidr6: None,
        router6: None,
    });
    let expected: Vec<_> = node_names(&old)
        .into_iter()
        .flat_map(|node| {
            [
                (node.clone(), ChangeKind::CiliumIpcache, "node node-new pod-cidr".to_string(), Action::Create),
                (node, ChangeKind::CiliumIpcache, "node node-new".to_string(), Action::Create),
            ]
        })
        .collect();
    assert_eq!(per_node(&old, &new), expected);
}

#[test]
fn a_node_that_holds_nothing_yet_is_all_creates() {
    let cluster = cluster();
    let b = builds(&cluster, &cluster);
    let built = BuildState::read(&BuildFiles::open(&b.new).unwrap()).unwrap();
    let wanted = &built.nodes[1];
    let nothing = NodeState {
        name: wanted.name.clone(),
        lxc: Vec::new(),
        ipcache: std::sync::Arc::new(Vec::new()),
        node_ipv6: Vec::new(),
        programs: Some(Vec::new()),
        hooks: Vec::new(),
        constants: None,
        maps: Vec::new(),
    };
    let names = built.names();
    let changes = diff_node(&nothing, wanted, (&names, &names));
    assert!(changes.iter().all(|c| c.action == Action::Create && c.before.is_none()), "{changes:#?}");
    let count = |kind| changes.iter().filter(|c| c.kind == kind).count();
    assert_eq!(count(ChangeKind::Constant), 5, "the load-time constants come with the programs");
    assert_eq!(count(ChangeKind::Map), 4);
    assert_eq!(count(ChangeKind::Hook), wanted.hooks.len());
    assert_eq!(count(ChangeKind::CiliumLxc), wanted.lxc.len());
    assert_eq!(count(ChangeKind::CiliumIpcache), wanted.ipcache.len());
    assert_eq!(count(ChangeKind::Program), 0, "a build without objects has no programs to compare");
    assert_eq!(Summary::of(&changes), Summary { add: changes.len(), change: 0, destroy: 0 });
}
