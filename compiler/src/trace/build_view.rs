//! The offline view of a `routec build` output folder: the seeds as the
//! loader would write them, and each node's constants from its
//! `node_config.h`. A build carries no pod names, so pods are named by IP.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::view::{Mode, NodeConfig, PodRef, Snapshot};
use crate::layout::{EndpointInfo, EndpointKey, IpcacheKey, RemoteEndpointInfo};
use crate::seeds;

#[derive(Debug, thiserror::Error)]
pub enum BuildViewError {
    #[error("{0} is not a routec build output: no manifest.json")]
    NotABuild(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn read(path: &Path) -> Result<String, BuildViewError> {
    std::fs::read_to_string(path).map_err(|source| BuildViewError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn invalid(path: &Path, message: impl Into<String>) -> BuildViewError {
    BuildViewError::Invalid {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Seed lines decoded with `decode` (a layout's `from_bytes` pair).
fn read_seed<K, V>(
    path: &Path,
    decode: impl Fn(&[u8], &[u8]) -> Result<(K, V), crate::layout::LengthError>,
) -> Result<Vec<(K, V)>, BuildViewError> {
    let text = read(path)?;
    let lines = seeds::parse_seed(&text).map_err(|e| invalid(path, e.to_string()))?;
    lines
        .iter()
        .map(|(k, v)| decode(k, v).map_err(|e| invalid(path, e.to_string())))
        .collect()
}

/// The value of `#define ROUTEC_<name> <value>` in a node_config.h.
fn define<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.lines().find_map(|line| {
        let rest = line.strip_prefix("#define ROUTEC_")?.strip_prefix(name)?;
        rest.starts_with(' ').then(|| rest.trim())
    })
}

/// `IPV4(172, 18, 0, 2)` -> 172.18.0.2.
fn ipv4_macro(value: &str) -> Option<Ipv4Addr> {
    let inner = value.strip_prefix("IPV4(")?.strip_suffix(')')?;
    let octets: Vec<u8> = inner
        .split(',')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    let octets: [u8; 4] = octets.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

/// The `/* pod-cidr X, underlay device Y, overlay Z */` comment's fields.
fn comment_field<'a>(header: &'a str, field: &str) -> Option<&'a str> {
    let line = header.lines().find(|l| l.starts_with("/* pod-cidr "))?;
    let body = line.trim_start_matches("/* ").trim_end_matches(" */");
    body.split(", ")
        .find_map(|part| part.strip_prefix(field)?.strip_prefix(' '))
}

fn node_config(name: &str, path: &Path) -> Result<NodeConfig, BuildViewError> {
    let header = read(path)?;
    let missing = |what: &str| invalid(path, format!("no usable `#define ROUTEC_{what}`"));
    let address = define(&header, "NODE_IPV4")
        .and_then(ipv4_macro)
        .ok_or_else(|| missing("NODE_IPV4"))?;
    let router = define(&header, "ROUTER_IPV4")
        .and_then(ipv4_macro)
        .ok_or_else(|| missing("ROUTER_IPV4"))?;
    let overlay_port = define(&header, "OVERLAY_PORT")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| missing("OVERLAY_PORT"))?;
    let vni = define(&header, "VNI")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| missing("VNI"))?;
    Ok(NodeConfig {
        name: name.to_string(),
        address,
        router,
        pod_cidr: comment_field(&header, "pod-cidr").map(str::to_string),
        overlay: comment_field(&header, "overlay")
            .unwrap_or("vxlan")
            .to_string(),
        overlay_port,
        vni,
        device: comment_field(&header, "underlay device")
            .unwrap_or("eth0")
            .to_string(),
    })
}

impl Snapshot {
    /// The maps a build folder `out` seeds. Nodes are the folders of
    /// `out/nodes`; pods are the non-host entries of each node's cilium_lxc.
    pub fn from_build(out: &Path) -> Result<Self, BuildViewError> {
        if !out.join("manifest.json").is_file() {
            return Err(BuildViewError::NotABuild(out.to_path_buf()));
        }
        let nodes_dir = out.join("nodes");
        let mut names: Vec<String> = std::fs::read_dir(&nodes_dir)
            .map_err(|source| BuildViewError::Read {
                path: nodes_dir.clone(),
                source,
            })?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        names.sort();
        let mut nodes = Vec::new();
        let mut lxc = Vec::new();
        let mut pods = Vec::new();
        for name in &names {
            let dir = nodes_dir.join(name);
            nodes.push(node_config(name, &dir.join("node_config.h"))?);
            let entries = read_seed(&dir.join("cilium_lxc.seed"), |k, v| {
                Ok((EndpointKey::from_bytes(k)?, EndpointInfo::from_bytes(v)?))
            })?;
            for (key, info) in entries.iter().filter(|(_, info)| !info.is_host()) {
                pods.push(PodRef {
                    name: None,
                    ip: key.ip4(),
                    node: name.clone(),
                    endpoint: info.lxc_id,
                    lxc: None,
                    ifindex: Some(info.ifindex).filter(|&i| i != 0),
                });
            }
            lxc.push((name.clone(), entries));
        }
        let ipcache = read_seed(&out.join("cluster").join("cilium_ipcache.seed"), |k, v| {
            Ok((
                IpcacheKey::from_bytes(k)?,
                RemoteEndpointInfo::from_bytes(v)?,
            ))
        })?;
        let mut snapshot = Snapshot::new(Mode::Offline, nodes, pods);
        for (name, entries) in lxc {
            snapshot.set_lxc(&name, entries);
        }
        snapshot.set_shared_ipcache(ipcache);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_node_config_defines() {
        let header = "/* pod-cidr 10.10.2.0/24, underlay device eth0, overlay vxlan */\n\
                      #define ROUTEC_NODE_IPV4 IPV4(172, 18, 0, 2)\n#define ROUTEC_ROUTER_IPV4 IPV4(10, 10, 2, 1)\n\
                      #define ROUTEC_OVERLAY_PORT 8472\n#define ROUTEC_VNI 0\n";
        assert_eq!(
            define(header, "NODE_IPV4").and_then(ipv4_macro),
            Some(Ipv4Addr::new(172, 18, 0, 2))
        );
        assert_eq!(define(header, "VNI"), Some("0"));
        assert_eq!(define(header, "V"), None);
        assert_eq!(comment_field(header, "pod-cidr"), Some("10.10.2.0/24"));
        assert_eq!(comment_field(header, "underlay device"), Some("eth0"));
        assert_eq!(comment_field(header, "overlay"), Some("vxlan"));
    }
}
