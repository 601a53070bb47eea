//! The output folder of `build`: layout, attach plans, manifest, determinism
//! and atomicity.

mod build_support;

use std::collections::BTreeMap;
use std::path::Path;

use build_support::reference_cluster;
use routec_compiler::build::{
    build, input_digest, read_cluster, BuildError, BuildFiles, BuildOptions, ClangChoice, ReadError,
};

fn no_clang() -> BuildOptions {
    BuildOptions::new(ClangChoice::Skip, input_digest([("cluster.route", "x")]))
}

/// Every file below `dir`, relative path to contents.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

fn text(tree: &BTreeMap<String, Vec<u8>>, path: &str) -> String {
    String::from_utf8(tree[path].clone()).unwrap()
}

#[test]
fn output_has_the_documented_layout() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let report = build(&reference_cluster(), &no_clang(), &out).unwrap();
    assert_eq!((report.nodes, report.pods, report.lxc_entries, report.ipcache_entries), (3, 4, 10, 10));
    assert!(!report.objects_compiled);
    let files = tree(&out);
    for node in ["mycluster-control-plane", "mycluster-worker", "mycluster-worker2"] {
        for file in ["cilium_lxc.seed", "node_config.h", "attach.json", "node.json"] {
            assert!(files.contains_key(&format!("nodes/{node}/{file}")), "{node}/{file}");
        }
    }
    assert!(files.contains_key("cluster/cilium_ipcache.seed"));
    assert!(files.contains_key("cluster/cilium_ipcache.bin"));
    assert!(files.contains_key("cluster/cluster.json"));
    assert!(files.contains_key("manifest.json"));
    assert!(files.keys().any(|f| f.starts_with("bpf/") && f.ends_with(".c")));
    assert!(!files.keys().any(|f| f.ends_with(".o")), "--no-clang writes no objects");
    assert_eq!(report.files, files.len());
    // Nothing is left beside OUT.
    let siblings: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(siblings, ["out"]);
}

#[test]
fn a_build_with_a_file_missing_or_cut_short_is_not_complete() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    BuildFiles::open(&out).unwrap().check_complete().unwrap();

    let seed = out.join("cluster/cilium_ipcache.seed");
    let text = std::fs::read(&seed).unwrap();
    std::fs::write(&seed, &text[..text.len() / 2]).unwrap();
    let cut = BuildFiles::open(&out).unwrap().check_complete().unwrap_err().to_string();
    assert!(cut.contains("cilium_ipcache.seed") && cut.contains("changed after the build"), "{cut}");

    std::fs::remove_file(&seed).unwrap();
    let missing = BuildFiles::open(&out).unwrap().check_complete().unwrap_err().to_string();
    assert!(missing.contains("cilium_ipcache.seed"), "{missing}");
}

#[test]
fn attach_plan_covers_every_lxc_the_overlay_the_host_and_the_device() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("nodes/mycluster-worker/attach.json")).unwrap())
            .unwrap();
    let rows: Vec<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a.as_object().unwrap().len(), 4);
            format!("{} {} {} {}", a["interface"], a["direction"], a["program"], a["object"]).replace('"', "")
        })
        .collect();
    let object = |program: &str| {
        routec_compiler::bpf::PROGRAMS.iter().find(|p| p.name == program).map(|p| format!("bpf/{}", p.object)).unwrap()
    };
    assert_eq!(
        rows,
        [
            format!("cilium_host egress cil_from_host {}", object("cil_from_host")),
            format!("cilium_vxlan ingress cil_from_overlay {}", object("cil_from_overlay")),
            format!("eth0 ingress cil_from_netdev {}", object("cil_from_netdev")),
            format!("lxc4a891387ff1a ingress cil_from_container {}", object("cil_from_container")),
            format!("lxc5b7b34955e61 ingress cil_from_container {}", object("cil_from_container")),
        ]
    );
}

#[test]
fn manifest_lists_every_file_with_its_digest() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let options = no_clang();
    build(&reference_cluster(), &options, &out).unwrap();
    let files = tree(&out);
    let manifest: serde_json::Value = serde_json::from_str(&text(&files, "manifest.json")).unwrap();
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["routec_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["input_digest"], options.input_digest.as_str());
    assert_eq!(manifest["objects_compiled"], false);
    assert_eq!(
        manifest["nodes"],
        serde_json::json!(["mycluster-control-plane", "mycluster-worker", "mycluster-worker2"])
    );
    let listed: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    let on_disk: Vec<&str> = files.keys().map(String::as_str).filter(|f| *f != "manifest.json").collect();
    assert_eq!(listed, on_disk);
    for file in manifest["files"].as_array().unwrap() {
        let bytes = &files[file["path"].as_str().unwrap()];
        assert_eq!(file["size"], bytes.len());
        let digest = input_digest(Vec::<(&str, &[u8])>::new()); // shape check of the digest format
        assert!(digest.starts_with("sha256:"));
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(file["sha256"], sha.as_str(), "{}", file["path"]);
    }
}

#[test]
fn input_digest_frames_paths_and_contents() {
    let a = input_digest([("a.route", "node x {}"), ("b.route", "")]);
    assert_eq!(a, input_digest([("a.route", "node x {}"), ("b.route", "")]));
    assert_ne!(a, input_digest([("a.route", "node x {"), ("b.route", "}")]));
    assert_ne!(a, input_digest([("b.route", "node x {}"), ("a.route", "")]));
    assert_eq!(a.len(), "sha256:".len() + 64);
}

#[test]
fn two_builds_in_different_folders_are_byte_identical() {
    let scratch = tempfile::tempdir().unwrap();
    let (one, two) = (scratch.path().join("one"), scratch.path().join("nested/two"));
    build(&reference_cluster(), &no_clang(), &one).unwrap();
    build(&reference_cluster(), &no_clang(), &two).unwrap();
    assert_eq!(tree(&one), tree(&two));
    // Rebuilding over a previous build replaces it whole: edited and
    // missing files of the build come back as built (a stray file would be
    // refused: see a_folder_with_someone_elses_manifest_is_never_replaced).
    std::fs::write(one.join("cluster/cilium_ipcache.seed"), "edited").unwrap();
    std::fs::remove_file(one.join("nodes/mycluster-worker/attach.json")).unwrap();
    build(&reference_cluster(), &no_clang(), &one).unwrap();
    assert_eq!(tree(&one), tree(&two));
    let siblings: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(siblings.len(), 2, "{siblings:?}");
}

#[test]
fn a_failed_build_leaves_a_previous_output_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let before = tree(&out);
    let missing_clang =
        BuildOptions { clang: ClangChoice::Use(Some(scratch.path().join("no-such-clang"))), ..no_clang() };
    let err = build(&reference_cluster(), &missing_clang, &out).unwrap_err();
    assert!(matches!(err, BuildError::ClangMissing(_)), "{err}");
    assert!(err.to_string().contains("apt-get install -y clang llvm libbpf-dev"), "{err}");
    assert_eq!(tree(&out), before);
    let mut unsupported = reference_cluster();
    unsupported.overlay.kind = routec_compiler::model::OverlayKind::Geneve;
    assert!(matches!(build(&unsupported, &no_clang(), &out), Err(BuildError::Unsupported(_))));
    assert_eq!(tree(&out), before);
    let siblings: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(siblings, ["out"]);
}

#[test]
fn a_folder_that_is_not_a_build_output_is_never_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let refused = |out: &Path| match build(&reference_cluster(), &no_clang(), out) {
        Err(e @ BuildError::NotAnOutput { .. }) => e.to_string(),
        other => panic!("{} was not refused: {other:?}", out.display()),
    };
    let out = scratch.path().join("home");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    assert!(refused(&out).contains("has no manifest.json"));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    // A file or a symlink in the way is refused as such; an empty folder is fine.
    let file = scratch.path().join("file");
    std::fs::write(&file, "x").unwrap();
    assert!(refused(&file).contains("it is a file"), "{}", refused(&file));
    let link = scratch.path().join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    assert!(refused(&link).contains("it is a symlink"), "{}", refused(&link));
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    build(&reference_cluster(), &no_clang(), &empty).unwrap();
    assert!(empty.join("manifest.json").is_file());
}

#[test]
fn a_folder_with_someone_elses_manifest_is_never_replaced() {
    // The reviewer's case: a web app's folder that happens to hold a manifest.json.
    let scratch = tempfile::tempdir().unwrap();
    let webapp = scratch.path().join("webapp");
    std::fs::create_dir(&webapp).unwrap();
    std::fs::write(webapp.join("manifest.json"), "{}").unwrap();
    std::fs::write(webapp.join("index.html"), "x").unwrap();
    let err = build(&reference_cluster(), &no_clang(), &webapp).unwrap_err();
    assert!(matches!(err, BuildError::NotAnOutput { .. }), "{err}");
    assert!(err.to_string().contains("its manifest.json is not routec's"), "{err}");
    assert_eq!(std::fs::read_to_string(webapp.join("index.html")).unwrap(), "x");
    assert_eq!(std::fs::read_to_string(webapp.join("manifest.json")).unwrap(), "{}");

    // A manifest of another format version is not taken for routec's either.
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let manifest_path = out.join("manifest.json");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&original).unwrap();
    manifest["format_version"] = 99.into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let err = build(&reference_cluster(), &no_clang(), &out).unwrap_err().to_string();
    assert!(err.contains("format_version 99"), "{err}");
    std::fs::write(&manifest_path, &original).unwrap();

    // A real build with a file or a folder of someone else's added: refused,
    // naming it; the build output stays as it was.
    std::fs::write(out.join("nodes/mycluster-worker/notes.txt"), "mine").unwrap();
    let before = tree(&out);
    let err = build(&reference_cluster(), &no_clang(), &out).unwrap_err().to_string();
    assert!(err.contains("nodes/mycluster-worker/notes.txt is not part of the routec build"), "{err}");
    assert_eq!(tree(&out), before);
    std::fs::remove_file(out.join("nodes/mycluster-worker/notes.txt")).unwrap();
    std::fs::create_dir(out.join("extra")).unwrap();
    let err = build(&reference_cluster(), &no_clang(), &out).unwrap_err().to_string();
    assert!(err.contains("extra is not part of the routec build"), "{err}");
    std::fs::remove_dir(out.join("extra")).unwrap();

    // Files of the build that went missing do not matter: it is rebuilt.
    std::fs::remove_file(out.join("nodes/mycluster-worker/attach.json")).unwrap();
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    assert!(out.join("nodes/mycluster-worker/attach.json").is_file());
}

#[test]
fn every_file_is_read_back_only_as_built() {
    use routec_compiler::build::BuildFiles;
    use routec_compiler::trace::Snapshot;
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let seed = "nodes/mycluster-worker/cilium_lxc.seed";
    let files = BuildFiles::open(&out).unwrap();
    let original = files.read(seed).unwrap();
    assert_eq!(original, std::fs::read(out.join(seed)).unwrap());
    assert!(Snapshot::from_build(&out).is_ok());

    // One line of a seed deleted after the build.
    let text = String::from_utf8(original.clone()).unwrap();
    let edited: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(out.join(seed), edited).unwrap();
    let err = files.read(seed).unwrap_err().to_string();
    assert!(err.contains(seed) && err.contains("changed after the build"), "{err}");
    let err = Snapshot::from_build(&out).unwrap_err().to_string();
    assert!(err.contains(seed) && err.contains("changed after the build"), "trace --build refuses it too: {err}");
    std::fs::write(out.join(seed), &original).unwrap();

    for rel in ["cluster/cilium_ipcache.seed", "nodes/mycluster-worker/attach.json"] {
        let bytes = std::fs::read(out.join(rel)).unwrap();
        std::fs::write(out.join(rel), [&bytes[..], b"\n"].concat()).unwrap();
        let err = files.read(rel).unwrap_err().to_string();
        assert!(err.contains("changed after the build"), "{rel}: {err}");
        std::fs::write(out.join(rel), &bytes).unwrap();
        assert_eq!(files.read(rel).unwrap(), bytes);
    }
    assert!(Snapshot::from_build(&out).is_ok());

    // Files the manifest does not list, or that are gone, are not read.
    std::fs::write(out.join("nodes/extra.seed"), "").unwrap();
    assert!(files.read("nodes/extra.seed").unwrap_err().to_string().contains("is not listed in manifest.json"));
    std::fs::remove_file(out.join(seed)).unwrap();
    assert!(files.read(seed).is_err());
    assert!(Snapshot::from_build(&out).is_err());
}

#[test]
fn a_build_failing_half_way_leaves_nothing_behind() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = tempfile::tempdir().unwrap();
    // A clang that answers --version but cannot compile: the failure comes
    // after the sources are written into the temporary folder.
    let fake_clang = scratch.path().join("fake-clang");
    std::fs::write(&fake_clang, "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\necho 'fake clang: boom' >&2\nexit 1\n")
        .unwrap();
    std::fs::set_permissions(&fake_clang, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let before = tree(&out);
    let options = BuildOptions { clang: ClangChoice::Use(Some(fake_clang)), ..no_clang() };
    let err = build(&reference_cluster(), &options, &out).unwrap_err();
    assert!(matches!(err, BuildError::Compile(_)), "{err}");
    assert!(err.to_string().contains("fake clang: boom"), "{err}");
    assert_eq!(tree(&out), before);
    let mut names: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, ["fake-clang", "out"]);
}

#[test]
fn the_output_records_the_cluster_it_was_built_from() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let cluster = reference_cluster();
    build(&cluster, &no_clang(), &out).unwrap();
    assert_eq!(read_cluster(&out).unwrap(), cluster);
    // Plain JSON a reader can follow: addresses, cidrs and MACs as text.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cluster/cluster.json")).unwrap()).unwrap();
    assert_eq!(json["overlay"], serde_json::json!({"kind": "vxlan", "port": 8472, "vni": 0}));
    assert_eq!(json["nodes"][1]["pod_cidr"], "10.10.2.0/24");
    let netshoot = &json["pods"][1];
    assert_eq!(netshoot["name"], "networking101/netshoot-7d996d7884-fwt8z");
    assert_eq!((&netshoot["node"], &netshoot["ip"]), (&1.into(), &"10.10.2.121".into()));
    assert_eq!((&netshoot["mac"], &netshoot["node_mac"]), (&"ea:c4:71:d6:4f:a0".into(), &"f6:87:b6:c3:a6:45".into()));
    assert_eq!(json["pods"][0]["mac"], serde_json::Value::Null, "undeclared: found at load time");
}

#[test]
fn a_recorded_cluster_is_read_back_only_as_built() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let recorded = out.join("cluster/cluster.json");
    let original = std::fs::read_to_string(&recorded).unwrap();
    let message = |out: &Path| read_cluster(out).unwrap_err().to_string();

    std::fs::write(&recorded, original.replace("10.10.2.121", "10.10.2.122")).unwrap();
    assert!(message(&out).contains("changed after the build"), "{}", message(&out));

    // Well formed as well as listed: a pod on a node that does not exist is
    // refused, not an index out of bounds later.
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    json["pods"][0]["node"] = 7.into();
    std::fs::write(&recorded, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    reseal(&out, "cluster/cluster.json");
    assert!(message(&out).contains("is on node #7 of 3"), "{}", message(&out));
    json["pods"][0]["node"] = 1.into();
    json["pods"][0]["mac"] = "not-a-mac".into();
    std::fs::write(&recorded, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    reseal(&out, "cluster/cluster.json");
    assert!(message(&out).contains("`not-a-mac` is not a MAC address"), "{}", message(&out));

    // A build of an older routec lists no cluster.json: rebuild.
    let manifest_path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["files"].as_array_mut().unwrap().retain(|f| f["path"] != "cluster/cluster.json");
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::remove_file(&recorded).unwrap();
    assert!(message(&out).contains("lists no cluster/cluster.json"), "{}", message(&out));

    assert!(matches!(read_cluster(scratch.path()), Err(ReadError::NotAnOutput(..))));
}

/// Records the current digest of `rel` in the manifest, as if built so.
fn reseal(out: &Path, rel: &str) {
    use sha2::Digest;
    let bytes = std::fs::read(out.join(rel)).unwrap();
    let path = out.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for file in manifest["files"].as_array_mut().unwrap().iter_mut().filter(|f| f["path"] == rel) {
        file["sha256"] = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>().into();
        file["size"] = bytes.len().into();
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
}

/// A build folder whose files were swapped for something hostile after the
/// build: each is refused at once, with a message naming the file, and
/// nothing is read through a symlink or past the recorded size.
mod hostile_build_folders {
    use super::*;
    use routec_compiler::build::BuildFiles;
    use routec_compiler::trace::Snapshot;

    const SEED: &str = "nodes/mycluster-worker/cilium_lxc.seed";

    fn built() -> (tempfile::TempDir, std::path::PathBuf) {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out");
        build(&reference_cluster(), &no_clang(), &out).unwrap();
        (scratch, out)
    }

    fn refused(out: &Path, rel: &str, expect: &str) {
        let files = BuildFiles::open(out).unwrap();
        let err = files.read(rel).unwrap_err().to_string();
        assert!(err.contains(expect), "{rel}: {err}");
        let err = Snapshot::from_build(out).unwrap_err().to_string();
        assert!(err.contains(expect), "trace --build: {err}");
    }

    #[test]
    fn a_seed_symlinked_to_dev_zero_is_not_followed() {
        let (_scratch, out) = built();
        std::fs::remove_file(out.join(SEED)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", out.join(SEED)).unwrap();
        refused(&out, SEED, "is a symlink");
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let (_scratch, out) = built();
        std::fs::remove_file(out.join(SEED)).unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, out.join(SEED), rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
        refused(&out, SEED, "is a FIFO, not a regular file");
    }

    #[test]
    fn a_symlinked_folder_is_not_walked_through() {
        let (scratch, out) = built();
        let elsewhere = scratch.path().join("elsewhere");
        std::fs::rename(out.join("nodes/mycluster-worker"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("nodes/mycluster-worker")).unwrap();
        refused(&out, SEED, "is a symlink or lies below one");
    }

    #[test]
    fn a_file_larger_than_recorded_is_not_read() {
        let (_scratch, out) = built();
        let file = std::fs::OpenOptions::new().append(true).open(out.join(SEED)).unwrap();
        // Sparse: 1 GiB that would have been read whole before.
        file.set_len(1 << 30).unwrap();
        refused(&out, SEED, "changed after the build (it is 1073741824 bytes");
    }

    #[test]
    fn a_size_the_manifest_promises_is_still_bounded() {
        let (_scratch, out) = built();
        let file = std::fs::OpenOptions::new().append(true).open(out.join(SEED)).unwrap();
        let huge: u64 = 20 << 30;
        file.set_len(huge).unwrap(); // sparse
                                     // The manifest edited to record the new size: the reader must not believe it.
        let manifest_path = out.join("manifest.json");
        let mut manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
        for record in manifest["files"].as_array_mut().unwrap() {
            if record["path"] == SEED {
                record["size"] = huge.into();
            }
        }
        std::fs::write(&manifest_path, serde_json::to_string(&manifest).unwrap()).unwrap();
        refused(&out, SEED, "is larger than");
    }

    #[test]
    fn paths_leaving_the_folder_are_refused() {
        let (_scratch, out) = built();
        let files = BuildFiles::open(&out).unwrap();
        for rel in ["../../../../etc/passwd", "/etc/passwd", "nodes//x", "./manifest.json", ""] {
            let err = files.read(rel).unwrap_err().to_string();
            assert!(err.contains("path") || err.contains("component"), "{rel:?}: {err}");
        }
        // A manifest edited to list such a path is not a routec manifest.
        let manifest_path = out.join("manifest.json");
        let manifest = std::fs::read_to_string(&manifest_path).unwrap();
        let edited = manifest.replacen("\"path\": \"bpf/", "\"path\": \"../../../../etc/", 1);
        assert_ne!(edited, manifest);
        std::fs::write(&manifest_path, edited).unwrap();
        let err = BuildFiles::open(&out).unwrap_err().to_string();
        assert!(err.contains("lists `../../../../etc/") && err.contains("`..` component"), "{err}");
    }

    #[test]
    fn manifest_json_itself_is_read_only_as_a_regular_file() {
        let (_scratch, out) = built();
        std::fs::remove_file(out.join("manifest.json")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", out.join("manifest.json")).unwrap();
        let err = BuildFiles::open(&out).unwrap_err().to_string();
        assert!(err.contains("is a symlink"), "{err}");
        std::fs::remove_file(out.join("manifest.json")).unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, out.join("manifest.json"), rustix::fs::FileType::Fifo, 0o644.into(), 0)
            .unwrap();
        let err = BuildFiles::open(&out).unwrap_err().to_string();
        assert!(err.contains("is a FIFO"), "{err}");
    }
}

/// The per-node files and the binary seed say what cluster.json and the hex
/// seed say, derived once (`NodeFile::for_node`, `render_binary_seed`).
#[test]
fn node_files_and_the_binary_seed_carry_the_facts_of_cluster_json_and_the_hex_seed() {
    use routec_compiler::build::{parse_binary_seed, BuildFiles, NodeFile, IPCACHE_SEED_BIN};
    use routec_compiler::layout::{Encoded, IpcacheKey, MapKey};
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    build(&reference_cluster(), &no_clang(), &out).unwrap();
    let files = BuildFiles::open(&out).unwrap();
    let cluster = files.read_cluster().unwrap();
    for (index, node) in cluster.nodes.iter().enumerate() {
        let bytes = files.read(&format!("nodes/{}/node.json", node.name)).unwrap();
        assert_eq!(NodeFile::parse(&bytes, &node.name).unwrap(), NodeFile::for_node(&cluster, index));
    }
    let binary = parse_binary_seed::<IpcacheKey>(&files.read(IPCACHE_SEED_BIN).unwrap()).unwrap();
    let text = routec_compiler::seeds::parse_seed(&files.read_text("cluster/cilium_ipcache.seed").unwrap()).unwrap();
    let text: Vec<_> = text
        .iter()
        .map(|(k, v)| (IpcacheKey::decode(k).unwrap(), <IpcacheKey as MapKey>::Value::decode(v).unwrap()))
        .collect();
    assert_eq!(binary, text);
    assert_eq!(binary.len(), 10);
}
