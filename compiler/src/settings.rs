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

/// `max_entries` of the maps whose size depends on the cluster's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct MapSizes {
    /// `cilium_lxc`: endpoints of one node.
    pub lxc: u32,
    /// `cilium_ipcache`: every pod and node of the cluster.
    pub ipcache: u32,
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
        if settings.maps.lxc == 0 || settings.maps.ipcache == 0 {
            return Err("map sizes must be at least 1".to_string());
        }
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
