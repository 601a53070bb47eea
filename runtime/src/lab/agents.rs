//! `routec lab up --agents` and `routec lab publish`: the GitOps loop on one
//! machine. Every node runs `routec agent` in its namespace, watching
//! `<state_dir>/<lab>/current`, a symlink to one of the lab's builds;
//! `publish` builds into `<lab>/builds/<n>` and swaps the symlink by a
//! rename, as git-sync swaps its link, so an agent sees either the old build
//! or the new one, never half of one.
//!
//! Agents are processes of their own (their own process group, so they
//! outlive `lab up`), logging to `<lab>/agents/<node>.log`; their pids are in
//! `<lab>/agents/<node>.pid`. `lab down` stops them first (SIGTERM), before
//! anything they watch is removed; a pid is signalled only while
//! `/proc/PID/cmdline` is that agent's.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use routec_compiler::build::BuildOptions;
use routec_compiler::model::Cluster;

use super::{lock, netns_path, LabOptions, LabState};
use crate::{Context, Error, Result};

/// Where each lab agent serves `/metrics` and `/healthz`, on its node's address.
pub const AGENT_PORT: u16 = 9962;

/// How `lab up --agents` starts the agents.
#[derive(Debug, Clone)]
pub struct AgentsOptions {
    /// The `routec` binary that runs `routec agent`.
    pub binary: PathBuf,
    pub verify_every: Duration,
    /// How long `up` waits for every agent to report healthy.
    pub converge_timeout: Duration,
}

/// The symlink every agent of lab `lab` watches.
pub fn watch_path(state_dir: &Path, lab: &str) -> PathBuf {
    state_dir.join(lab).join("current")
}

fn agents_dir(state_dir: &Path, lab: &str) -> PathBuf {
    state_dir.join(lab).join("agents")
}

fn builds_dir(state_dir: &Path, lab: &str) -> PathBuf {
    state_dir.join(lab).join("builds")
}

/// A lab node's agent address (in the node's namespace).
pub fn agent_addr(address: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((address, AGENT_PORT))
}

/// Points the lab's watched symlink at `folder`, atomically: a new symlink
/// renamed over the old one.
pub fn swap_watched(state_dir: &Path, lab: &str, folder: &Path) -> Result<()> {
    let link = watch_path(state_dir, lab);
    let tmp = link.with_file_name("current.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(folder, &tmp).context(|| format!("cannot create {}", tmp.display()))?;
    std::fs::rename(&tmp, &link).context(|| format!("cannot swap {}", link.display()))
}

/// Starts one agent per node of the lab watching `out`, and waits until every
/// one reports that the kernel holds that build.
pub(super) fn start(state: &LabState, out: &Path, options: &LabOptions, agents: &AgentsOptions) -> Result<()> {
    let state_dir = &options.state_dir;
    swap_watched(state_dir, &state.name, out)?;
    let dir = agents_dir(state_dir, &state.name);
    std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    for node in &state.nodes {
        let log_path = dir.join(format!("{}.log", node.name));
        let log = std::fs::File::create(&log_path).context(|| format!("cannot create {}", log_path.display()))?;
        let child = Command::new(&agents.binary)
            .arg("agent")
            .args(["--node", &node.name, "--scope", &state.name, "--tc-mode"])
            .arg(match state.tc_mode {
                crate::loader::TcMode::TcxLink => "tcx",
                crate::loader::TcMode::Netlink => "netlink",
            })
            .arg("--watch")
            .arg(watch_path(state_dir, &state.name))
            .arg("--netns")
            .arg(netns_path(&node.netns))
            .arg("--bpffs")
            .arg(&state.bpffs)
            .arg("--listen")
            .arg(agent_addr(node.address).to_string())
            .arg("--verify-every")
            .arg(agents.verify_every.as_secs().max(1).to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context(|| format!("cannot start {} agent", agents.binary.display()))?;
        let pid_path = dir.join(format!("{}.pid", node.name));
        std::fs::write(&pid_path, child.id().to_string()).context(|| format!("cannot write {}", pid_path.display()))?;
    }
    let digest = crate::loader::build_digest(out)?;
    wait_converged(state, &digest, agents.converge_timeout).map(drop)
}

/// Whether lab `lab` runs agents.
pub fn has_agents(state_dir: &Path, lab: &str) -> bool {
    agents_dir(state_dir, lab).is_dir()
}

/// Stops the lab's agents (SIGTERM, then SIGKILL after 5 s); the datapath
/// stays, for `down` to remove.
pub(super) fn stop(state_dir: &Path, lab: &str) -> Result<()> {
    let dir = agents_dir(state_dir, lab);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
    let watch = watch_path(state_dir, lab);
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "pid") {
            continue;
        }
        let pid: i32 = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        if pid > 0 && is_agent(pid, &watch) {
            // SAFETY: kill has no memory preconditions; the pid is checked to be this lab's agent.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while is_agent(pid, &watch) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if is_agent(pid, &watch) {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}

/// Is `pid` alive (not a zombie) and an agent watching `watch`?
fn is_agent(pid: i32, watch: &Path) -> bool {
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    alive && args.contains(&&b"agent"[..]) && args.contains(&watch.as_os_str().as_encoded_bytes())
}

/// `routec lab publish`: builds `cluster` as `lab up` does into a new folder
/// of the lab's builds and swaps the watched symlink to it. Keeps the
/// previous build (an agent may still be reading it) and removes older ones.
/// Returns the new build's folder and digest.
pub fn publish(
    cluster: &Cluster,
    build_options: &BuildOptions,
    name: &str,
    options: &LabOptions,
) -> Result<(PathBuf, String)> {
    let _lock = lock(name, options)?;
    LabState::load(&options.state_dir, name)?;
    if !has_agents(&options.state_dir, name) {
        return Err(Error::msg(format!("lab `{name}` runs no agents (`routec lab up --agents`)")));
    }
    let builds = builds_dir(&options.state_dir, name);
    std::fs::create_dir_all(&builds).context(|| format!("cannot create {}", builds.display()))?;
    let numbers: Vec<u64> =
        std::fs::read_dir(&builds)?.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    let next = numbers.iter().max().map_or(1, |n| n + 1);
    let folder = builds.join(next.to_string());
    routec_compiler::build::build(cluster, build_options, &folder)
        .map_err(|e| Error::msg(format!("routec build failed: {e}")))?;
    let previous = std::fs::canonicalize(watch_path(&options.state_dir, name)).ok();
    swap_watched(&options.state_dir, name, &folder)?;
    for old in numbers.iter().map(|n| builds.join(n.to_string())) {
        // Only routec builds, never the one agents may still be reading.
        if Some(&old) != previous.as_ref() && old.join(routec_compiler::build::MANIFEST).is_file() {
            let _ = std::fs::remove_dir_all(&old);
        }
    }
    let digest = crate::loader::build_digest(&folder)?;
    Ok((folder, digest))
}

/// Waits until every node's agent answers `/healthz` with 200 for build
/// `digest`; the time it took.
pub fn wait_converged(state: &LabState, digest: &str, timeout: Duration) -> Result<Duration> {
    let started = Instant::now();
    let mut waiting: Vec<&super::LabNode> = state.nodes.iter().collect();
    while !waiting.is_empty() {
        waiting.retain(|node| !matches!(healthz(node), Ok((200, body)) if body.contains(digest)));
        if waiting.is_empty() {
            break;
        }
        if started.elapsed() > timeout {
            let reasons: Vec<String> = waiting
                .iter()
                .map(|node| match healthz(node) {
                    Ok((status, body)) => format!("{}: {status} {}", node.name, body.trim()),
                    Err(e) => format!("{}: {e}", node.name),
                })
                .collect();
            return Err(Error::msg(format!(
                "not every agent holds build {digest} after {:.0?}: {}",
                timeout,
                reasons.join("; ")
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(started.elapsed())
}

/// `GET /healthz` from the node's agent: status code and body.
pub fn healthz(node: &super::LabNode) -> Result<(u16, String)> {
    http_get(node, "/healthz")
}

/// A plain HTTP/1.0 GET to the node's agent, from inside the node's namespace.
pub fn http_get(node: &super::LabNode, path: &str) -> Result<(u16, String)> {
    let addr = agent_addr(node.address);
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let reply = crate::netns::run_in(Some(&netns_path(&node.netns)), || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(request.as_bytes())?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply)?;
        Ok(reply)
    })
    .context(|| format!("GET http://{addr}{path} in {}", node.netns))?;
    let status = reply.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_string();
    Ok((status, body))
}
