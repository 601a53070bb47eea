//! `routec apply OUT --node NAME`: load a build's datapath for one node
//! (runtime::loader); the build records its cluster, so OUT is all it needs.
//! Exit 0 applied (or nothing to change); 1 failed, with the previous
//! datapath unchanged or rolled back; 3 failed and the rollback failed too
//! (the datapath may mix old and new parts). Map entries are written from
//! the delta to the last clean apply; `--verify` reads every entry back and
//! repairs drift (docs/gitops.md).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_runtime::loader::{apply_json, ApplyOutcome, BuildOutput, MapSync, NodePlan, Target};

use super::common::{self, BpffsArg, FormatArg, OutputFormat, TcModeArgs, WaitArg};

/// Where a node's datapath lives; shared by apply, plan, detach, status and agent.
/// Node and scope become path components: both are checked while parsing.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node, as named in the cluster (on Kubernetes, the downward API's `spec.nodeName` in NODE_NAME).
    #[arg(long, env = "NODE_NAME", value_parser = common::node_name)]
    pub node: String,
    /// The node's network namespace (`/run/netns/NAME`, `/proc/PID/ns/net`); default: this one.
    #[arg(long)]
    pub netns: Option<PathBuf>,
    #[command(flatten)]
    pub bpffs: BpffsArg,
    /// Pin scope: pins go to `<bpffs>/routec/<scope>/<node>/` (labs use their name).
    #[arg(long, default_value = "default", value_parser = common::scope_name)]
    pub scope: String,
}

impl NodeArgs {
    pub fn target(&self) -> Target {
        Target { netns: self.netns.clone(), bpffs: self.bpffs.or_default(), ..Target::new(&self.node, &self.scope) }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Output folder of `routec build`.
    pub out: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub tc_mode: TcModeArgs,
    #[command(flatten)]
    pub wait: WaitArg,
    /// Read every map entry back from the kernel and repair drift, instead of
    /// writing only the delta from the last clean apply.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub format: FormatArg<OutputFormat>,
}

pub fn run(args: Args) -> ExitCode {
    let node = args.node.node.clone();
    let json = args.format.format == OutputFormat::Json;
    let result = BuildOutput::open(&args.out).and_then(|build| NodePlan::from_build(&build, &node)).and_then(|plan| {
        let target = Target { tc_mode: args.tc_mode.into(), ..args.node.target() };
        let sync = if args.verify { MapSync::Verify } else { MapSync::Incremental };
        routec_runtime::loader::apply_with(&plan, &target, args.wait.wait(), sync, &mut |_| {})
    });
    if json {
        println!("{:#}", apply_json(&node, &result));
    }
    match result {
        Ok(report) => {
            if !json {
                println!("node {node}: {report}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Every apply error ends with what the failure left; one from
            // reading the build left everything as it was.
            let left = if e.apply_outcome().is_some() { "" } else { ", the previous datapath is unchanged" };
            eprintln!("error: apply to node {node} failed{left}: {e}");
            match e.apply_outcome() {
                Some(ApplyOutcome::Mixed) => ExitCode::from(3),
                _ => ExitCode::from(1),
            }
        }
    }
}
