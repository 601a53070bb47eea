//! `routec.toml`: build and runtime settings read from the root of an input
//! folder. Nothing here changes what a `.route` file means.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::layout;

pub const FILE_NAME: &str = "routec.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Settings {
    /// Folder `routec build` writes to when no `-o` is given. A relative path
    /// is relative to the folder holding `routec.toml`.
    pub output: Option<PathBuf>,
    /// The clang used to compile the eBPF programs (a name looked up in PATH, or a path).
    pub clang: PathBuf,
    /// Mount point of the BPF filesystem `routec lab up` pins below (its
    /// `--bpffs` wins). A relative path is relative to the folder holding
    /// `routec.toml`.
    pub bpffs: PathBuf,
    pub maps: MapSizes,
}

/// `max_entries` of the maps whose size depends on the cluster's size, each
/// between 1 and [`layout::MapSpec::kernel_max_entries`], so that a build
/// never records a map the loader cannot create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MapSizes {
    /// `cilium_lxc`: endpoints of one node.
    #[serde(deserialize_with = "lxc_entries")]
    pub lxc: u32,
    /// `cilium_ipcache`: every pod and node of the cluster.
    #[serde(deserialize_with = "ipcache_entries")]
    pub ipcache: u32,
}

fn lxc_entries<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    map_entries(deserializer, layout::CILIUM_LXC)
}

fn ipcache_entries<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    map_entries(deserializer, layout::CILIUM_IPCACHE)
}

/// A `max_entries` for `spec`'s map, refused (with the TOML place, which the
/// toml crate adds) unless the kernel can create the map.
fn map_entries<'de, D: serde::Deserializer<'de>>(deserializer: D, spec: layout::MapSpec) -> Result<u32, D::Error> {
    use serde::de::Error;
    let value = u64::deserialize(deserializer)?;
    let limit = spec.kernel_max_entries();
    if value == 0 {
        return Err(D::Error::custom(format!("{} must hold at least 1 entry", spec.name)));
    }
    if value > u64::from(limit) {
        return Err(D::Error::custom(format!(
            "{} must hold between 1 and {limit} entries (the kernel refuses to create a larger map of its type), not {value}",
            spec.name
        )));
    }
    Ok(value as u32)
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            output: None,
            clang: PathBuf::from("clang"),
            bpffs: PathBuf::from("/sys/fs/bpf"),
            maps: MapSizes::default(),
        }
    }
}

impl Default for MapSizes {
    fn default() -> MapSizes {
        MapSizes { lxc: layout::CILIUM_LXC.max_entries, ipcache: layout::CILIUM_IPCACHE.max_entries }
    }
}

impl Settings {
    /// Parses a `routec.toml`; relative paths in it are taken relative to `root`.
    pub fn parse(text: &str, root: &Path) -> Result<Settings, String> {
        let mut settings: Settings = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(output) = &settings.output {
            if output.is_relative() {
                settings.output = Some(root.join(output));
            }
        }
        if settings.bpffs.is_relative() {
            settings.bpffs = root.join(&settings.bpffs);
        }
        // A bare name is looked up in PATH; only a relative path is anchored.
        if settings.clang.components().count() > 1 && settings.clang.is_relative() {
            settings.clang = root.join(&settings.clang);
        }
        Ok(settings)
    }
}
