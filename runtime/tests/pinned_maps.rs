//! aya 0.14 reuses a pinned map without looking at it: the loader checks
//! type, key and value size, max entries and flags itself.

mod common;

use common::*;
use routec_compiler::layout::{CILIUM_IPCACHE, CILIUM_LXC};
use routec_runtime::loader::{self, MaxEntries, Target};

struct PinCleanup(Target);
impl Drop for PinCleanup {
    fn drop(&mut self) {
        let _ = loader::detach(&self.0);
    }
}

fn create(target: &Target, name: &str, args: &str) {
    let status = std::process::Command::new("bpftool")
        .args(["map", "create"])
        .arg(target.map_pin(name))
        .args(args.split(' '))
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn incompatible_pinned_maps_are_refused() {
    if !can_run("incompatible_pinned_maps_are_refused") {
        return;
    }
    let mut target = Target::new("node", "t-pins");
    target.state_dir = options().state_dir.join("t-pins");
    let _cleanup = PinCleanup(target.clone());
    std::fs::create_dir_all(target.pin_dir()).unwrap();

    // Right shape: accepted.
    create(&target, "cilium_ipcache", "type lpm_trie key 24 value 12 entries 512000 name cilium_ipcache flags 1");
    assert!(loader::check_pinned_map(&target.map_pin("cilium_ipcache"), &CILIUM_IPCACHE).unwrap());
    // Not pinned yet: fine, apply creates it.
    std::fs::remove_file(target.map_pin("cilium_ipcache")).unwrap();
    assert!(!loader::check_pinned_map(&target.map_pin("cilium_ipcache"), &CILIUM_IPCACHE).unwrap());

    // A map of another layout (40-byte values) is refused, naming both sizes.
    create(&target, "cilium_lxc", "type hash key 20 value 40 entries 65535 name cilium_lxc flags 1");
    let err = loader::check_pinned_map(&target.map_pin("cilium_lxc"), &CILIUM_LXC).unwrap_err().to_string();
    assert!(err.contains("value 40 B") && err.contains("value 48 B"), "{err}");
    std::fs::remove_file(target.map_pin("cilium_lxc")).unwrap();

    // Wrong max entries and flags.
    create(&target, "cilium_lxc", "type hash key 20 value 48 entries 1024 name cilium_lxc");
    let err = loader::check_pinned_map(&target.map_pin("cilium_lxc"), &CILIUM_LXC).unwrap_err().to_string();
    assert!(
        err.contains("max entries 1024") && err.contains("max entries 65535") && err.contains("flags 0x0"),
        "{err}"
    );
    std::fs::remove_file(target.map_pin("cilium_lxc")).unwrap();

    // A reader (trace --live) takes any max entries the build chose, and
    // nothing else: the same one check, with max entries ignored.
    create(&target, "cilium_lxc", "type hash key 20 value 48 entries 1024 name cilium_lxc flags 1");
    assert!(loader::check_pinned_map(&target.map_pin("cilium_lxc"), &CILIUM_LXC).is_err());
    assert!(loader::check_pin(&target.map_pin("cilium_lxc"), &CILIUM_LXC, MaxEntries::Ignore).unwrap());
    std::fs::remove_file(target.map_pin("cilium_lxc")).unwrap();
    create(&target, "cilium_lxc", "type hash key 20 value 40 entries 1024 name cilium_lxc flags 1");
    let err =
        loader::check_pin(&target.map_pin("cilium_lxc"), &CILIUM_LXC, MaxEntries::Ignore).unwrap_err().to_string();
    assert!(err.contains("value 40 B") && err.contains("max entries 65535 (or any)"), "{err}");
    assert!(!err.contains("routec detach"), "no advice to detach for a reader: {err}");
}
