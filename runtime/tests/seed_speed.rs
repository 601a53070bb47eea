//! How fast a large cilium_ipcache is seeded (docs/performance.md):
//! 150,000 entries into a fresh pinned LPM trie, then a no-change re-sync.

mod common;

use common::*;
use routec_compiler::layout::{IpcacheKey, RemoteEndpointInfo, CILIUM_IPCACHE};
use routec_runtime::loader::{self, Target};

#[test]
fn ipcache_of_150k_entries_seeds_fast() {
    if !can_run("ipcache_of_150k_entries_seeds_fast") {
        return;
    }
    let mut target = Target::new("node", "t-seed");
    target.state_dir = options().state_dir.join("t-seed");
    let _cleanup = PinCleanup(target.clone());
    std::fs::create_dir_all(target.pin_dir()).unwrap();
    let spec = CILIUM_IPCACHE;
    let created = std::process::Command::new("bpftool")
        .args(["map", "create"])
        .arg(target.map_pin(spec.name))
        .args([
            "type",
            "lpm_trie",
            "key",
            "24",
            "value",
            "12",
            "entries",
            "512000",
            "name",
            "cilium_ipcache",
            "flags",
            "1",
        ])
        .status()
        .unwrap();
    assert!(created.success());
    assert!(loader::check_pinned_map(&target.map_pin(spec.name), &spec).unwrap());

    let entries: Vec<(IpcacheKey, RemoteEndpointInfo)> = (0..150_000u32)
        .map(|i| {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            (
                IpcacheKey::ipv4(ip, 32),
                RemoteEndpointInfo::new(1000 + i % 5000, Some([172, 18, 0, (i % 200) as u8 + 1].into())),
            )
        })
        .collect();
    let started = std::time::Instant::now();
    let fresh = loader::sync_ipcache(&target, &entries).unwrap();
    let fresh_time = started.elapsed();
    assert_eq!(fresh.added, 150_000);

    let started = std::time::Instant::now();
    let again = loader::sync_ipcache(&target, &entries).unwrap();
    let again_time = started.elapsed();
    assert!(again.is_empty() && again.unchanged == 150_000);
    eprintln!(
        "cilium_ipcache 150000 entries: fresh seed {:.3}s, no-change re-sync {:.3}s",
        fresh_time.as_secs_f64(),
        again_time.as_secs_f64()
    );
}

struct PinCleanup(Target);
impl Drop for PinCleanup {
    fn drop(&mut self) {
        let _ = loader::detach(&self.0);
    }
}
