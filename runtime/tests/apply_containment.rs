//! A `--bpffs` that is not a bpf filesystem is refused before anything else:
//! `detach` once deleted ordinary files named like routec's pins there.

mod common;

use common::*;

#[test]
fn an_ordinary_folder_given_as_bpffs_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let pins = dir.path().join("routec/default/n1");
    std::fs::create_dir_all(pins.join("links/ingress")).unwrap();
    let files = ["cilium_lxc", "cilium_ipcache", "routec_counters", "links/ingress/eth0"];
    for file in files {
        std::fs::write(pins.join(file), format!("precious {file}")).unwrap();
    }
    let routec = routec_binary();
    let bpffs = dir.path().display().to_string();
    let node = ["--node", "n1", "--bpffs", &bpffs];
    let out = dir.path().join("no-build");
    for args in [vec!["detach"], vec!["status"], vec!["apply", out.to_str().unwrap()]] {
        let output = std::process::Command::new(&routec).args(&args).args(node).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must fail");
        if args[0] != "apply" {
            assert!(stderr.contains("is not a bpf filesystem"), "{args:?}: {stderr}");
        }
    }
    // apply reads its build first; with a build the bpffs is refused before any pin.
    let build_out = dir.path().join("out");
    build(&reference_cluster(), &build_out);
    let output = std::process::Command::new(&routec)
        .args(["apply", build_out.to_str().unwrap(), "--node", "mycluster-worker", "--bpffs", &bpffs])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not a bpf filesystem") && stderr.contains("unchanged"), "{stderr}");
    assert!(!dir.path().join("routec/default/mycluster-worker").exists(), "no pin folder made");
    for file in files {
        assert_eq!(std::fs::read_to_string(pins.join(file)).unwrap(), format!("precious {file}"), "{file} untouched");
    }
}
