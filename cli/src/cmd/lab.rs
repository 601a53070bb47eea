//! `routec lab up|exec|status|down|list`: a whole cluster in network
//! namespaces on this machine (runtime::lab).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_runtime::lab::{self, LabOptions, LabState};
use routec_runtime::loader;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LabCommand,
    /// Where labs keep their state and build output.
    #[arg(long, global = true, default_value = "/run/routec/labs")]
    pub state_dir: PathBuf,
    /// Where bpffs is mounted.
    #[arg(long, global = true, default_value = "/sys/fs/bpf")]
    pub bpffs: PathBuf,
}

/// How programs are attached to the tc hooks (both outlive routec).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcModeArg {
    /// TCX links pinned in bpffs (Linux >= 6.6).
    Tcx,
    /// cls_bpf filters on a clsact qdisc, as Cilium 1.14 (shown by any bpftool).
    Netlink,
}

impl From<TcModeArg> for loader::TcMode {
    fn from(mode: TcModeArg) -> Self {
        match mode {
            TcModeArg::Tcx => loader::TcMode::TcxLink,
            TcModeArg::Netlink => loader::TcMode::Netlink,
        }
    }
}

#[derive(clap::Subcommand)]
pub enum LabCommand {
    /// Build the cluster at PATH and bring it up in namespaces named `<LAB>-...`.
    Up {
        /// A .route file or a folder of them.
        path: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "netlink")]
        tc_mode: TcModeArg,
    },
    /// Run a command inside a pod's (or node's) network namespace.
    Exec {
        lab: String,
        /// Pod name (`namespace/name`), pod IP, or node name.
        pod: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Nodes, pods, attached programs and counters of a lab.
    Status {
        lab: String,
        #[arg(long, value_enum, default_value = "text")]
        format: super::status::Format,
    },
    /// Remove everything the lab made: namespaces, pins, state.
    Down { lab: String },
    /// Labs that are up.
    List,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

pub fn run(args: Args) -> ExitCode {
    let mut options = LabOptions { state_dir: args.state_dir, bpffs: args.bpffs, ..LabOptions::default() };
    match args.command {
        LabCommand::Up { path, name, tc_mode } => {
            options.tc_mode = tc_mode.into();
            up(&path, &name, &options)
        }
        LabCommand::Exec { lab, pod, command } => exec(&lab, &pod, &command, &options),
        LabCommand::Status { lab, format } => status(&lab, format, &options),
        LabCommand::Down { lab } => match lab::down(&options.state_dir, &lab) {
            Ok(()) => {
                println!("lab {lab} is down");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        LabCommand::List => match lab::list(&options.state_dir) {
            Ok(names) => {
                names.iter().for_each(|n| println!("{n}"));
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

fn up(path: &std::path::Path, name: &str, options: &LabOptions) -> ExitCode {
    let input = super::common::InputArgs { path: path.to_path_buf(), message_format: super::common::MessageFormat::Human };
    let analysis = match super::common::analyze(&input) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let Some(cluster) = analysis.cluster.as_ref() else { return ExitCode::from(1) };
    let digest = match routec_compiler::build::analysis_digest(path, &analysis) {
        Ok(digest) => digest,
        Err(e) => return fail(e),
    };
    let started = std::time::Instant::now();
    let mut progress = |line: &str| eprintln!("[{:>6.2}s] {line}", started.elapsed().as_secs_f64());
    match lab::up(cluster, &digest, name, options, &mut progress) {
        Ok(state) => {
            println!(
                "lab {name} is up: {} nodes, {} pods in {:.2}s (`routec lab exec {name} POD -- CMD`, `routec lab down {name}`)",
                state.nodes.len(),
                state.pods.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("lab {name} did not come up (everything it made was removed): {e}")),
    }
}

fn exec(name: &str, who: &str, command: &[String], options: &LabOptions) -> ExitCode {
    let state = match LabState::load(&options.state_dir, name) {
        Ok(state) => state,
        Err(e) => return fail(e),
    };
    let netns = match (state.pod(who), state.node(who)) {
        (Some(pod), _) => pod.netns.clone(),
        (None, Some(node)) => node.netns.clone(),
        (None, None) => return fail(format!("lab {name} has no pod or node `{who}`")),
    };
    match lab::exec_command(&netns, command).status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| c.clamp(0, 255) as u8)),
        Err(e) => fail(format!("cannot run nsenter: {e}")),
    }
}

fn status(name: &str, format: super::status::Format, options: &LabOptions) -> ExitCode {
    let state = match LabState::load(&options.state_dir, name) {
        Ok(state) => state,
        Err(e) => return fail(e),
    };
    let mut nodes = Vec::new();
    for node in &state.nodes {
        let target = match lab::node_target(&state, &node.name) {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        nodes.push((node, loader::status(&target)));
    }
    match format {
        super::status::Format::Json => {
            let json = serde_json::json!({
                "lab": state.name,
                "nodes": nodes.iter().map(|(node, status)| serde_json::json!({
                    "name": node.name,
                    "netns": node.netns,
                    "address": node.address,
                    "status": status.as_ref().ok(),
                    "error": status.as_ref().err().map(|e| e.to_string()),
                })).collect::<Vec<_>>(),
                "pods": state.pods,
            });
            println!("{}", serde_json::to_string_pretty(&json).expect("status serializes"));
        }
        super::status::Format::Text => {
            println!("lab {} ({} nodes, {} pods)", state.name, state.nodes.len(), state.pods.len());
            for (node, status) in &nodes {
                println!("\nnode {} {} netns {}", node.name, node.address, node.netns);
                for pod in state.pods.iter().filter(|p| p.node == node.name) {
                    println!("  pod {} {} netns {}", pod.name, pod.ip, pod.netns);
                }
                match status {
                    Ok(status) => print!("{}", indent(&status.to_string())),
                    Err(e) => println!("  datapath: {e}"),
                }
            }
        }
    }
    ExitCode::SUCCESS
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
