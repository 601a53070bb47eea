//! `routec lab up|publish|exec|status|down|list`: a whole cluster in network
//! namespaces on this machine (runtime::lab).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_runtime::lab::{self, LabOptions, LabState};
use routec_runtime::loader;

use super::common::{
    self, BpffsArg, FormatArg, InputArgs, LabStateDirArg, MessageFormatArg, OutputFormat, TcModeArgs, WaitArg,
};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: LabCommand,
    #[command(flatten)]
    pub state: LabStateDirArg,
}

#[derive(clap::Subcommand)]
pub enum LabCommand {
    /// Build the cluster at PATH and bring it up in namespaces named `<LAB>-...`;
    /// a lab that is up follows the config (new pods and nodes made, every node
    /// applied, those gone removed; the others untouched).
    Up {
        /// A .route file or a folder of them, built as `routec build` builds it
        /// (a folder's routec.toml `[maps]` and `clang`; its `bpffs` is the
        /// default of --bpffs).
        path: PathBuf,
        #[arg(long, value_parser = common::lab_name)]
        name: String,
        #[command(flatten)]
        tc_mode: TcModeArgs,
        #[command(flatten)]
        bpffs: BpffsArg,
        #[command(flatten)]
        wait: WaitArg,
        /// Run `routec agent` on every node, watching the lab's build (`routec lab publish` swaps it).
        #[arg(long)]
        agents: bool,
        /// With --agents: seconds between the agents' checks of the kernel.
        #[arg(long, value_name = "SECS", default_value_t = 30, requires = "agents")]
        verify_every: u64,
    },
    /// Build PATH and swap it into the lab's watched folder, as CI publishes; wait until every agent holds it.
    Publish {
        lab: String,
        /// A .route file or a folder of them, built as `lab up` builds it.
        path: PathBuf,
        /// Seconds to wait for every node's agent to report the new build healthy (0: do not wait).
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
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
        #[command(flatten)]
        format: FormatArg<OutputFormat>,
    },
    /// Remove everything the lab made: namespaces, pins, state (only what carries routec's markers).
    Down {
        lab: String,
        #[command(flatten)]
        wait: WaitArg,
    },
    /// Labs that are up (and, marked incomplete, folders of labs stopped half way up).
    List,
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

pub fn run(args: Args) -> ExitCode {
    let mut options = LabOptions { state_dir: args.state.state_dir, ..LabOptions::default() };
    match args.command {
        LabCommand::Up { path, name, tc_mode, bpffs, wait, agents, verify_every } => {
            options.tc_mode = tc_mode.into();
            options.wait = wait.wait();
            if agents {
                match agents_options(verify_every) {
                    Ok(agents) => options.agents = Some(agents),
                    Err(code) => return code,
                }
            }
            up(&path, &name, &bpffs, &mut options)
        }
        LabCommand::Publish { lab, path, timeout } => publish(&lab, &path, timeout, &options),
        LabCommand::Exec { lab, pod, command } => exec(&lab, &pod, &command, &options),
        LabCommand::Status { lab, format } => status(&lab, format.format, &options),
        LabCommand::Down { lab, wait } => match lab::down_with(&options.state_dir, &lab, wait.wait()) {
            Ok(()) => {
                println!("lab {lab} is down");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        LabCommand::List => match lab::list(&options.state_dir) {
            Ok(labs) => {
                for entry in labs {
                    match entry.complete {
                        true => println!("{}", entry.name),
                        false => println!(
                            "{} (incomplete: stopped before it was up; `routec lab down {}`)",
                            entry.name, entry.name
                        ),
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

fn up(path: &std::path::Path, name: &str, bpffs: &BpffsArg, options: &mut LabOptions) -> ExitCode {
    let input = InputArgs { path: path.to_path_buf(), messages: MessageFormatArg::human() };
    let analysis = match common::analyze(&input) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    options.bpffs = bpffs.or(analysis.settings.bpffs.clone());
    let Some(cluster) = analysis.cluster.as_ref() else { return ExitCode::from(1) };
    let build_options = match super::build::options(path, &analysis, None, false) {
        Ok(build_options) => build_options,
        Err(e) => return fail(e),
    };
    let started = std::time::Instant::now();
    let mut progress = |line: &str| eprintln!("[{:>6.2}s] {line}", started.elapsed().as_secs_f64());
    match lab::up_or_reconcile(cluster, &build_options, name, options, &mut progress) {
        Ok(lab::Up::Created(state)) => {
            println!(
                "lab {name} is up: {} nodes, {} pods in {:.2}s (`routec lab exec {name} POD -- CMD`, `routec lab down {name}`)",
                state.nodes.len(),
                state.pods.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(lab::Up::Reconciled(state, report)) => {
            print!("{report}");
            println!(
                "lab {name} follows the config: {} nodes, {} pods in {:.2}s",
                state.nodes.len(),
                state.pods.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("lab up {name}: {e}")),
    }
}

fn agents_options(verify_every: u64) -> Result<lab::agents::AgentsOptions, ExitCode> {
    let binary =
        std::env::current_exe().map_err(|e| common::usage_error(&format!("cannot find routec itself: {e}")))?;
    Ok(lab::agents::AgentsOptions {
        binary,
        verify_every: std::time::Duration::from_secs(verify_every.max(1)),
        converge_timeout: std::time::Duration::from_secs(60),
    })
}

fn publish(name: &str, path: &std::path::Path, timeout: u64, options: &LabOptions) -> ExitCode {
    let input = InputArgs { path: path.to_path_buf(), messages: MessageFormatArg::human() };
    let analysis = match common::analyze(&input) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let Some(cluster) = analysis.cluster.as_ref() else { return ExitCode::from(1) };
    let build_options = match super::build::options(path, &analysis, None, false) {
        Ok(build_options) => build_options,
        Err(e) => return fail(e),
    };
    let (folder, digest) = match lab::agents::publish(cluster, &build_options, name, options) {
        Ok(published) => published,
        Err(e) => return fail(format!("lab {name}: publish failed: {e}")),
    };
    println!("lab {name}: published {} ({digest})", folder.display());
    if timeout == 0 {
        return ExitCode::SUCCESS;
    }
    let converged = LabState::load(&options.state_dir, name).and_then(|state| {
        lab::agents::wait_converged(&state, &digest, std::time::Duration::from_secs(timeout))
            .map(|took| (state.nodes.len(), took))
    });
    match converged {
        Ok((nodes, took)) => {
            println!("lab {name}: all {nodes} nodes converged in {:.3}s", took.as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("lab {name}: {e}")),
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
    let mut child = match lab::exec_command(&netns, command) {
        Ok(child) => child,
        Err(e) => return fail(e),
    };
    match child.status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |c| c.clamp(0, 255) as u8)),
        Err(e) => fail(format!("cannot run `{}` in namespace {netns}: {e}", command[0])),
    }
}

fn status(name: &str, format: OutputFormat, options: &LabOptions) -> ExitCode {
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
        OutputFormat::Json => {
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
        OutputFormat::Text => {
            println!("lab {} ({} nodes, {} pods)", state.name, state.nodes.len(), state.pods.len());
            for (node, status) in &nodes {
                println!("\nnode {} {} netns {}", node.name, node.address, node.netns);
                for pod in state.pods.iter().filter(|p| p.node == node.name) {
                    let ips: Vec<String> =
                        pod.ip.map(|ip| ip.to_string()).into_iter().chain(pod.ip6.map(|ip| ip.to_string())).collect();
                    println!("  pod {} {} netns {}", pod.name, ips.join(" "), pod.netns);
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
