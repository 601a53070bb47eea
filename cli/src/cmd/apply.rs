//! `routec apply OUT --node NAME`: load a build's datapath for one node
//! (runtime::loader); the build records its cluster, so OUT is all it needs.
//! Exit 0 applied (or nothing to change); 1 failed, with the previous
//! datapath unchanged or rolled back; 3 failed and the rollback failed too
//! (the datapath may mix old and new parts).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_runtime::loader::{ApplyOutcome, BuildOutput, NodePlan, Target};

use super::common::{self, BpffsArg, TcModeArgs, WaitArg};

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
}

pub fn run(args: Args) -> ExitCode {
    let plan = match BuildOutput::open(&args.out).and_then(|build| NodePlan::from_build(&build, &args.node.node)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: apply to node {} failed, the previous datapath is unchanged: {e}", args.node.node);
            return ExitCode::from(1);
        }
    };
    let target = Target { tc_mode: args.tc_mode.into(), ..args.node.target() };
    match routec_runtime::loader::apply_with(&plan, &target, args.wait.wait(), &mut |_| {}) {
        Ok(report) => {
            println!("node {}: {report}", args.node.node);
            ExitCode::SUCCESS
        }
        Err(e) => {
            // The error ends with what the failure left.
            eprintln!("error: apply to node {} failed: {e}", args.node.node);
            match e.apply_outcome() {
                Some(ApplyOutcome::Mixed) => ExitCode::from(3),
                _ => ExitCode::from(1),
            }
        }
    }
}
