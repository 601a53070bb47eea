//! `routec.toml`: defaults, relative paths, and refusals.

use std::path::{Path, PathBuf};

use routec_compiler::settings::{MapSizes, Settings};

#[test]
fn defaults() {
    let s = Settings::parse("", Path::new("/in")).unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.output, None);
    assert_eq!(s.clang, PathBuf::from("clang"));
    assert_eq!(s.bpffs, PathBuf::from("/sys/fs/bpf"));
    assert_eq!(s.maps, MapSizes { lxc: 65535, ipcache: 512000 });
}

#[test]
fn relative_paths_are_anchored_at_the_folder() {
    let s =
        Settings::parse("output = \"out\"\nclang = \"tools/clang-17\"\n[maps]\nlxc = 10\n", Path::new("/in")).unwrap();
    assert_eq!(s.output, Some(PathBuf::from("/in/out")));
    assert_eq!(s.clang, PathBuf::from("/in/tools/clang-17"));
    assert_eq!(s.maps, MapSizes { lxc: 10, ipcache: 512000 });
    let s = Settings::parse("output = \"/abs\"\nclang = \"clang-17\"\n", Path::new("/in")).unwrap();
    assert_eq!(s.output, Some(PathBuf::from("/abs")));
    assert_eq!(s.clang, PathBuf::from("clang-17"), "a bare name is looked up in PATH");
}

#[test]
fn refusals() {
    for bad in ["outptu = \"x\"", "[maps]\nlxc = 0", "[maps]\nlcx = 5", "bpffs = 3", "output = "] {
        assert!(Settings::parse(bad, Path::new("/in")).is_err(), "{bad:?}");
    }
}

/// A map size the kernel cannot create is refused when routec.toml is read,
/// naming the line, the map and the kernel's limit (before: the build
/// recorded it and apply failed with E2BIG).
#[test]
fn map_sizes_beyond_the_kernels_limit_are_refused() {
    let err = Settings::parse("[maps]\nlxc = 4294967295\n", Path::new("/in")).unwrap_err();
    assert!(err.contains("line 2") && err.contains("cilium_lxc must hold between 1 and 134217728 entries"), "{err}");
    let err = Settings::parse("[maps]\nlxc = 134217729\n", Path::new("/in")).unwrap_err();
    assert!(err.contains("134217728"), "{err}");
    let err = Settings::parse("[maps]\nipcache = 0\n", Path::new("/in")).unwrap_err();
    assert!(err.contains("line 2") && err.contains("cilium_ipcache must hold at least 1 entry"), "{err}");
    let s = Settings::parse("[maps]\nlxc = 134217728\nipcache = 4294967295\n", Path::new("/in")).unwrap();
    assert_eq!(s.maps, MapSizes { lxc: 134217728, ipcache: u32::MAX });
    assert!(Settings::parse("[maps]\nipcache = 4294967296\n", Path::new("/in")).is_err());
}
