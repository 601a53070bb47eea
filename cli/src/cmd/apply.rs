//! `routec apply OUT --node NAME --cluster PATH`: load a build's datapath for
//! one node (runtime::loader). Exit 0 applied (or nothing to change), 1 failed.

use std::path::PathBuf;
use std::process::ExitCode;

use routec_runtime::loader::{self, NodePlan, Target};

/// Where a node's datapath lives; shared by apply, detach and status.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node, as named in the cluster.
    #[arg(long)]
    pub node: String,
    /// The node's network namespace (`/run/netns/NAME`, `/proc/PID/ns/net`); default: this one.
    #[arg(long)]
    pub netns: Option<PathBuf>,
    /// Where bpffs is mounted.
    #[arg(long, default_value = "/sys/fs/bpf")]
    pub bpffs: PathBuf,
    /// Pin scope: pins go to `<bpffs>/routec/<scope>/<node>/` (labs use their name).
    #[arg(long, default_value = "default")]
    pub scope: String,
}

impl NodeArgs {
    pub fn target(&self) -> Target {
        Target { netns: self.netns.clone(), bpffs: self.bpffs.clone(), ..Target::new(&self.node, &self.scope) }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Output folder of `routec build`.
    pub out: PathBuf,
    /// The cluster the build was made from (a .route file or folder): it says
    /// which lxc belongs to which pod and the node's addresses.
    #[arg(long)]
    pub cluster: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
    /// How programs are attached to the tc hooks.
    #[arg(long, value_enum, default_value = "netlink")]
    pub tc_mode: super::lab::TcModeArg,
}

pub fn run(args: Args) -> ExitCode {
    let input = super::common::InputArgs { path: args.cluster.clone(), message_format: super::common::MessageFormat::Human };
    let analysis = match super::common::analyze(&input) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let Some(cluster) = analysis.cluster.as_ref() else { return ExitCode::from(1) };
    let same_input = routec_compiler::build::analysis_digest(&args.cluster, &analysis)
        .map_err(|e| e.to_string())
        .and_then(|digest| Ok(digest == loader::build_input_digest(&args.out).map_err(|e| e.to_string())?));
    match same_input {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("error: {} was not built from {}: rebuild, or pass the input it was built from", args.out.display(), args.cluster.display());
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    }
    let result = NodePlan::from_build(&args.out, cluster, &args.node.node)
        .and_then(|plan| loader::apply(&plan, &Target { tc_mode: args.tc_mode.into(), ..args.node.target() }));
    match result {
        Ok(report) => {
            println!("node {}: {report}", args.node.node);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: apply to node {} failed, the previous datapath is unchanged: {e}", args.node.node);
            ExitCode::from(1)
        }
    }
}
