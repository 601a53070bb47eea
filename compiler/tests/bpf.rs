//! The eBPF templates: they compile with clang -Werror into valid BPF objects
//! with the expected programs, maps and load-time globals, deterministically;
//! their reason codes and map definitions equal layout.rs; and, as root, the
//! lab script proves them with real packets.

#[path = "data/trace/mycluster.rs"]
mod mycluster;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use routec_compiler::bpf::{self, ClangError, Direction, Ifindexes, Interface, LoadConstants, PROGRAMS};
use routec_compiler::layout::{Reason, ALL_MAPS};
use routec_compiler::model::{Cluster, OverlayKind};

/// A scratch directory removed when the test ends, also on failure.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("routec-bpf-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns false) with a printed reason, or fails under CI=true.
fn require(available: bool, what: &str) -> bool {
    if !available {
        assert!(!in_ci(), "{what} is required when CI=true");
        eprintln!("skipped: {what} is not available");
    }
    available
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn clang() -> Option<PathBuf> {
    let found = bpf::find_clang(None).ok();
    require(found.is_some(), "clang").then(|| found.unwrap())
}

fn compiled(dir: &ScratchDir, clang: &Path) -> Vec<PathBuf> {
    bpf::write_sources(&dir.0).unwrap();
    bpf::compile(&dir.0, clang).unwrap_or_else(|e| panic!("{e}"))
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn templates_compile_to_bpf_objects_with_programs_maps_and_globals() {
    let Some(clang) = clang() else { return };
    let dir = ScratchDir::new("objects");
    let objects = compiled(&dir, &clang);
    assert_eq!(objects.len(), bpf::objects().count());
    let globals = LoadConstants {
        node_ipv4: Ipv4Addr::UNSPECIFIED,
        router_ipv4: Ipv4Addr::UNSPECIFIED,
        router_ipv6: Some(std::net::Ipv6Addr::UNSPECIFIED),
        overlay_port: 0,
        vni: 0,
        pod_mtu: 0,
        native_routing: false,
    }
    .globals(Ifindexes::default());

    for (program, object) in bpf::objects().zip(&objects) {
        assert_eq!(object.file_name().unwrap(), program.object);
        let bytes = std::fs::read(object).unwrap();
        assert_eq!(&bytes[..4], b"\x7fELF", "{} is not an ELF file", program.object);
        let machine = u16::from_le_bytes([bytes[18], bytes[19]]);
        assert_eq!(machine, 247, "{} is not EM_BPF", program.object);

        if require(tool("llvm-objdump"), "llvm-objdump") {
            let headers = run("llvm-objdump", &["-h", object.to_str().unwrap()]);
            for section in [program.section, ".maps", ".rodata", "license", ".BTF"] {
                assert!(
                    headers.lines().any(|l| l.split_whitespace().nth(1) == Some(section)),
                    "{} has no section {section}:\n{headers}",
                    program.object
                );
            }
            // Symbols: the program in its section, the maps, and the globals
            // the loader sets, with the sizes LoadConstants::globals writes.
            let symbols = run("llvm-objdump", &["-t", object.to_str().unwrap()]);
            let symbol = |name: &str| {
                symbols
                    .lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>())
                    .find(|f| f.last() == Some(&name))
                    .unwrap_or_else(|| panic!("{} has no symbol {name}:\n{symbols}", program.object))
            };
            // Every program of the object (bpf_host.o holds two).
            for program in PROGRAMS.iter().filter(|p| p.object == program.object) {
                let function = symbol(program.name);
                assert!(function.contains(&program.section), "{function:?}");
            }
            for map in ALL_MAPS {
                assert!(symbol(map.name).contains(&".maps"));
            }
            for (name, value) in &globals {
                let fields = symbol(name);
                assert!(fields.contains(&".rodata"), "{name} is not in .rodata: {fields:?}");
                let size = u64::from_str_radix(fields[fields.len() - 2], 16).unwrap();
                assert_eq!(size, value.len() as u64, "{name} in {}", program.object);
            }
        }
        if require(tool_bpftool(), "bpftool") {
            let btf = run("bpftool", &["btf", "dump", "file", object.to_str().unwrap()]);
            for program in PROGRAMS.iter().filter(|p| p.object == program.object) {
                assert!(btf.contains(&format!("FUNC '{}'", program.name)), "{btf}");
            }
            for map in ALL_MAPS {
                assert!(btf.contains(&format!("VAR '{}'", map.name)), "{} lacks map {}", program.object, map.name);
            }
            assert!(btf.contains("DATASEC '.maps'") && btf.contains("DATASEC '.rodata'"));
        }
    }
}

fn tool_bpftool() -> bool {
    Command::new("bpftool").arg("version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn objects_do_not_depend_on_the_output_directory() {
    let Some(clang) = clang() else { return };
    let first = ScratchDir::new("det-a");
    let second = ScratchDir::new("det-b");
    let nested = second.0.join("some/deeper/dir");
    let a = compiled(&first, &clang);
    bpf::write_sources(&nested).unwrap();
    let b = bpf::compile(&nested, &clang).unwrap();
    for (a, b) in a.iter().zip(&b) {
        assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap(), "{} differs", a.display());
    }
}

#[test]
fn compile_errors_carry_clangs_stderr() {
    let Some(clang) = clang() else { return };
    let dir = ScratchDir::new("broken");
    bpf::write_sources(&dir.0).unwrap();
    std::fs::write(dir.0.join("bpf_host.c"), "int broken(void) { return undeclared; }\n").unwrap();
    match bpf::compile(&dir.0, &clang) {
        Err(ClangError::Compile { source_file, stderr, .. }) => {
            assert!(source_file.ends_with("bpf_host.c"));
            assert!(stderr.contains("undeclared"), "{stderr}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn a_missing_clang_names_the_packages_to_install() {
    let err = bpf::find_clang(Some(Path::new("/nonexistent/clang"))).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("/nonexistent/clang"), "{message}");
    assert!(message.contains("clang, llvm and libbpf-dev"), "{message}");
}

fn template(path: &str) -> &'static str {
    bpf::TEMPLATES.iter().find(|t| t.path == path).unwrap().text
}

#[test]
fn reason_codes_in_reasons_h_equal_layout() {
    let in_header: BTreeMap<String, u32> = template("lib/reasons.h")
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("#define")).then_some(())?;
            let name = words.next()?;
            let code = words.next()?.parse().ok()?;
            Some((name.to_string(), code))
        })
        .collect();
    let in_layout: BTreeMap<String, u32> = Reason::ALL.iter().map(|r| (r.c_name().to_string(), r.code())).collect();
    assert_eq!(in_header, in_layout);
}

#[test]
fn identities_in_maps_h_equal_layout() {
    let defined = |name: &str| {
        template("lib/maps.h")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("#define {name} ")))
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    assert_eq!(defined("IDENTITY_REMOTE_NODE"), Some(routec_compiler::layout::IDENTITY_REMOTE_NODE));
}

/// The sizes the `_Static_assert(sizeof(struct X) == N, ...)` lines state.
fn struct_sizes(header: &str) -> BTreeMap<String, u32> {
    header
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("_Static_assert(sizeof(struct ")?;
            let (name, rest) = rest.split_once(") == ")?;
            let size = rest.split(',').next()?.trim().parse().ok()?;
            Some((name.to_string(), size))
        })
        .collect()
}

#[test]
fn map_definitions_in_maps_h_equal_layout() {
    let header = template("lib/maps.h");
    let sizes = struct_sizes(header);
    let size_of = |ty: &str| match ty.strip_prefix("struct ") {
        Some(name) => sizes[name],
        None => match ty {
            "__u32" | "__be32" => 4,
            other => panic!("unexpected key/value type {other}"),
        },
    };
    let map_type = |name: &str| match name {
        "BPF_MAP_TYPE_HASH" => 1,
        "BPF_MAP_TYPE_PERCPU_ARRAY" => 6,
        "BPF_MAP_TYPE_LPM_TRIE" => 11,
        other => panic!("unexpected map type {other}"),
    };
    let mut found = Vec::new();
    for block in header.split("struct {").skip(1) {
        let (body, rest) = block.split_once('}').unwrap();
        let name = rest.split_whitespace().next().unwrap();
        let field = |field: &str| {
            body.lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{field}, "))?.strip_suffix(");"))
                .map(str::to_string)
        };
        let spec = ALL_MAPS.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("map {name} not in layout"));
        assert_eq!(map_type(&field("__uint(type").unwrap()), spec.map_type, "{name} type");
        // The seeded maps carry sizes only (no BTF types, so bpftool prints
        // their bytes as the seed does); the counters carry BTF.
        let (key, value) = if name != "routec_counters" {
            assert_eq!(field("__type(key"), None, "{name} has no BTF key type");
            let size_field = |f: &str| {
                let text = field(f).unwrap();
                text.strip_prefix("sizeof(").and_then(|t| t.strip_suffix(')')).unwrap().to_string()
            };
            (size_field("__uint(key_size"), size_field("__uint(value_size"))
        } else {
            (field("__type(key").unwrap(), field("__type(value").unwrap())
        };
        assert_eq!(size_of(&key), spec.key_size, "{name} key size");
        assert_eq!(size_of(&value), spec.value_size, "{name} value size");
        assert_eq!(field("__uint(max_entries").unwrap().parse::<u32>().unwrap(), spec.max_entries, "{name} entries");
        let flags = match field("__uint(map_flags").as_deref() {
            None => 0,
            Some("BPF_F_NO_PREALLOC") => 1,
            Some(other) => panic!("unexpected flags {other}"),
        };
        assert_eq!(flags, spec.flags, "{name} flags");
        assert_eq!(field("__uint(pinning").as_deref(), Some("LIBBPF_PIN_BY_NAME"), "{name} pinning");
        found.push(name.to_string());
    }
    let mut expected: Vec<_> = ALL_MAPS.iter().map(|m| m.name.to_string()).collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn program_table_names_the_hooks() {
    let cluster = mycluster(OverlayKind::Vxlan);
    let node = &cluster.nodes[1];
    let hooks: Vec<_> = PROGRAMS
        .iter()
        .map(|p| (p.name, p.interface.device(node), p.direction.as_str(), p.attached_in(&cluster)))
        .collect();
    assert_eq!(
        hooks,
        [
            ("cil_from_container", None, "ingress", true),
            ("cil_from_overlay", Some("cilium_vxlan"), "ingress", true),
            ("cil_from_host", Some("cilium_host"), "egress", true),
            ("cil_from_netdev", Some("eth0"), "ingress", true),
        ]
    );
    let native = mycluster(OverlayKind::None);
    let attached: Vec<_> = bpf::programs_of(&native).map(|p| p.name).collect();
    assert_eq!(attached, ["cil_from_container", "cil_from_host", "cil_from_netdev"]);
    let objects: Vec<_> = bpf::objects().map(|p| p.object).collect();
    assert_eq!(objects, ["bpf_lxc.o", "bpf_overlay.o", "bpf_host.o"]);
    assert_eq!(PROGRAMS[0].interface, Interface::Lxc);
    assert_eq!(PROGRAMS[2].direction, Direction::Egress);
    for program in PROGRAMS {
        let source = template(program.source);
        assert!(source.contains(&format!("SEC(\"{}\")\nint {}(", program.section, program.name)));
    }
}

/// examples/mycluster with its overlay replaced by `kind`.
fn mycluster(kind: OverlayKind) -> Cluster {
    let mut cluster = mycluster::mycluster();
    cluster.overlay.kind = kind;
    cluster
}

#[test]
fn load_constants_and_node_config_of_a_worker() {
    let cluster = mycluster(OverlayKind::Vxlan);
    let constants = LoadConstants::for_node(&cluster, 1);
    assert_eq!(
        constants,
        LoadConstants {
            node_ipv4: Ipv4Addr::new(172, 18, 0, 2),
            router_ipv4: Ipv4Addr::new(10, 10, 2, 1),
            router_ipv6: None,
            overlay_port: 8472,
            vni: 0,
            pod_mtu: 1450,
            native_routing: false,
        }
    );
    let globals = constants.globals(Ifindexes { overlay: 3, device: 7 });
    assert!(globals.iter().all(|(name, _)| *name != "ROUTER_IPV6"), "an IPv4-only node keeps the object's zeros");
    assert_eq!(globals[0], ("NODE_IPV4", vec![172, 18, 0, 2]));
    assert_eq!(globals[2], ("OVERLAY_IFINDEX", 3u32.to_ne_bytes().to_vec()));
    assert_eq!(globals[3], ("OVERLAY_PORT", 8472u16.to_ne_bytes().to_vec()));
    assert_eq!(globals[6], ("DEVICE_IFINDEX", 7u32.to_ne_bytes().to_vec()));
    assert_eq!(globals[7], ("NATIVE_ROUTING", 0u32.to_ne_bytes().to_vec()));
    assert_eq!(
        bpf::node_config_header(&cluster, 1),
        "/* node_config.h of node mycluster-worker in cluster mycluster, generated by routec.
 *
 * The load-time constants of lib/config.h for this node: the loader sets
 * the globals of the same names without the ROUTEC_ prefix. For review;
 * `clang -include node_config.h` bakes them into an object instead.
 * OVERLAY_IFINDEX (cilium_vxlan's ifindex) and DEVICE_IFINDEX (eth0's) are
 * discovered by the loader.
 */
#ifndef ROUTEC_NODE_CONFIG_H
#define ROUTEC_NODE_CONFIG_H

/* pod-cidr 10.10.2.0/24, underlay device eth0, overlay vxlan */
#define ROUTEC_NODE_IPV4 IPV4(172, 18, 0, 2)
#define ROUTEC_ROUTER_IPV4 IPV4(10, 10, 2, 1)
#define ROUTEC_OVERLAY_PORT 8472
#define ROUTEC_VNI 0
#define ROUTEC_POD_MTU 1450
#define ROUTEC_NATIVE_ROUTING 0

#endif
"
    );
}

fn dualstack() -> Cluster {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dualstack");
    routec_compiler::frontend::analyze_path(&path).unwrap().cluster.unwrap()
}

#[test]
fn an_ipv6_node_sets_router_ipv6_and_its_node_config_bakes_it_in() {
    let cluster = dualstack();
    let constants = LoadConstants::for_node(&cluster, 0);
    let router: std::net::Ipv6Addr = "fd00:10:1::1".parse().unwrap();
    assert_eq!(constants.router_ipv6, Some(router));
    let globals = constants.globals(Ifindexes::default());
    assert_eq!(globals.last().unwrap(), &("ROUTER_IPV6", router.octets().to_vec()));
    let header = bpf::node_config_header(&cluster, 0);
    let define = "#define ROUTEC_ROUTER_IPV6 { bpf_htonl(0xfd000010), bpf_htonl(0x00010000), bpf_htonl(0x00000000), bpf_htonl(0x00000001) }";
    assert!(header.contains(define), "{header}");
    // Older records without the field read as IPv4-only constants.
    let mut json = serde_json::to_value(LoadConstants::for_node(&mycluster(OverlayKind::Vxlan), 1)).unwrap();
    assert!(json.get("router_ipv6").is_none());
    json.as_object_mut().unwrap().remove("router_ipv6");
    assert_eq!(serde_json::from_value::<LoadConstants>(json).unwrap().router_ipv6, None);

    let Some(clang) = clang() else { return };
    let dir = ScratchDir::new("node-config6");
    bpf::write_sources(&dir.0).unwrap();
    std::fs::write(dir.0.join("node_config.h"), header).unwrap();
    let status = Command::new(&clang)
        .current_dir(&dir.0)
        .args(["-O2", "-target", "bpf", "-Wall", "-Werror", "-I", ".", "-include", "node_config.h"])
        .args(["-idirafter", &format!("/usr/include/{}", run(clang.to_str().unwrap(), &["-print-multiarch"]).trim())])
        .args(["-c", "bpf_lxc.c", "-o", "bpf_lxc.o"])
        .status()
        .unwrap();
    assert!(status.success());
    if require(tool("llvm-objdump"), "llvm-objdump") {
        let rodata = run("llvm-objdump", &["-s", "-j", ".rodata", dir.0.join("bpf_lxc.o").to_str().unwrap()]);
        // The dump's hex words, without offsets and text: ROUTER_IPV6 follows
        // NODE_IPV4 and ROUTER_IPV4.
        let words: Vec<&str> =
            rodata.lines().filter(|l| l.starts_with(' ')).flat_map(|l| l.split_whitespace().skip(1).take(4)).collect();
        assert_eq!(words[..6], ["ac120002", "0a140101", "fd000010", "00010000", "00000000", "00000001"], "{rodata}");
    }
}

#[test]
fn a_node_config_header_builds_into_an_object() {
    let Some(clang) = clang() else { return };
    let dir = ScratchDir::new("node-config");
    bpf::write_sources(&dir.0).unwrap();
    std::fs::write(dir.0.join("node_config.h"), bpf::node_config_header(&mycluster(OverlayKind::Vxlan), 1)).unwrap();
    let status = Command::new(&clang)
        .current_dir(&dir.0)
        .args(["-O2", "-target", "bpf", "-Wall", "-Werror", "-I", ".", "-include", "node_config.h"])
        .args(["-idirafter", &format!("/usr/include/{}", run(clang.to_str().unwrap(), &["-print-multiarch"]).trim())])
        .args(["-c", "bpf_lxc.c", "-o", "bpf_lxc.o"])
        .status()
        .unwrap();
    assert!(status.success());
    if require(tool("llvm-objdump"), "llvm-objdump") {
        let rodata = run("llvm-objdump", &["-s", "-j", ".rodata", dir.0.join("bpf_lxc.o").to_str().unwrap()]);
        // NODE_IPV4 = 172.18.0.2 and ROUTER_IPV4 = 10.10.2.1 lead .rodata.
        assert!(rodata.contains("ac120002 0a0a0201"), "{rodata}");
    }
}

#[test]
fn vxlan_and_native_routing_are_supported() {
    assert_eq!(bpf::check_supported(&mycluster(OverlayKind::Vxlan)), Ok(()));
    assert_eq!(bpf::check_supported(&mycluster(OverlayKind::None)), Ok(()));
    let message = bpf::check_supported(&mycluster(OverlayKind::Geneve)).unwrap_err().to_string();
    assert!(message.contains("`overlay geneve`"), "{message}");
    assert!(message.contains("`overlay vxlan` and `overlay none` are built"), "{message}");
}

#[test]
fn a_dual_stack_native_cluster_builds_with_its_nodes_ipv6_next_hops() {
    use routec_compiler::build::{build, input_digest, BuildOptions, ClangChoice, NODE_IPV6_SEED, NODE_IPV6_SEED_BIN};
    let mut cluster = dualstack();
    cluster.overlay.kind = OverlayKind::None;
    // E0019: every node of a native cluster with IPv6 pods has an IPv6 address.
    cluster.nodes[0].address6 = Some("fd00:ff::2".parse().unwrap());
    assert_eq!(bpf::check_supported(&cluster), Ok(()));
    let dir = ScratchDir::new("native6-build");
    let options = BuildOptions::new(ClangChoice::Skip, input_digest([("cluster.route", "x")]));
    let out = dir.0.join("out");
    build(&cluster, &options, &out).unwrap();
    // ds-worker 172.18.0.2 -> fd00:ff::2, ds-worker2 172.18.0.3 -> fd00:ff::3.
    let seed = std::fs::read_to_string(out.join(NODE_IPV6_SEED)).unwrap();
    assert_eq!(
        seed,
        "key hex ac 12 00 02 value hex fd 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 02\n\
         key hex ac 12 00 03 value hex fd 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 03\n"
    );
    let binary = std::fs::read(out.join(NODE_IPV6_SEED_BIN)).unwrap();
    assert_eq!(binary.len(), 2 * 20);
    assert_eq!(&binary[..4], &[0xac, 0x12, 0x00, 0x02]);
    assert_eq!(binary[4..20], "fd00:ff::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"routec_node_ipv6\""), "{manifest}");
    insta::with_settings!({snapshot_path => "../../snapshots/build", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("native6-datapath", routec_compiler::snapshot::render(&cluster).unwrap());
    });

    // The overlay and an IPv4-only native cluster seed nothing into it: no file.
    for (kind, strip_ipv6) in [(OverlayKind::Vxlan, false), (OverlayKind::None, true)] {
        let mut other = dualstack();
        other.overlay.kind = kind;
        if strip_ipv6 {
            other.pods.retain(|pod| pod.ip.is_some());
            other.pods.iter_mut().for_each(|pod| pod.ip6 = None);
            other.nodes.iter_mut().for_each(|node| (node.address6, node.pod_cidr6, node.router6) = (None, None, None));
        }
        let out = dir.0.join(format!("out-{}-{strip_ipv6}", kind.as_str()));
        build(&other, &options, &out).unwrap();
        assert!(!out.join(NODE_IPV6_SEED).exists() && !out.join(NODE_IPV6_SEED_BIN).exists(), "{kind:?}");
    }
}

#[test]
fn native_routing_load_constants() {
    let cluster = mycluster(OverlayKind::None);
    let constants = LoadConstants::for_node(&cluster, 1);
    assert!(constants.native_routing);
    assert_eq!(constants.pod_mtu, 1500, "no overlay overhead");
    assert!(bpf::node_config_header(&cluster, 1).contains("#define ROUTEC_NATIVE_ROUTING 1\n"));
}

#[test]
fn written_sources_are_the_templates() {
    let dir = ScratchDir::new("sources");
    let written = bpf::write_sources(&dir.0).unwrap();
    assert_eq!(written.len(), bpf::TEMPLATES.len());
    for (path, template) in written.iter().zip(bpf::TEMPLATES) {
        assert_eq!(std::fs::read_to_string(path).unwrap(), template.text);
    }
    // Every header the sources include is among the templates.
    for template in bpf::TEMPLATES {
        for include in template.text.lines().filter_map(|l| l.strip_prefix("#include \"")) {
            let header = include.trim_end_matches('"');
            assert!(bpf::TEMPLATES.iter().any(|t| t.path == header), "{} includes unknown {header}", template.path);
        }
    }
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

fn is_root() -> bool {
    run("id", &["-u"]).trim() == "0"
}

/// The real-packet proof (see the script's header): pings across the two
/// workers of examples/mycluster in network namespaces, checking counters.
#[test]
fn lab_script_moves_real_packets() {
    let tools = ["clang", "bpftool", "ip", "tc", "nsenter", "unshare"].iter().all(|t| on_path(t));
    if !require(is_root(), "root") || !require(tools, "clang, bpftool, iproute2 and util-linux") {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bpf-templates/tests/lab.sh");
    let out =
        Command::new("bash").arg(&script).env("RBPF_PREFIX", format!("rbpf{}", std::process::id())).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("lab: all checks passed"), "{stdout}");
}
