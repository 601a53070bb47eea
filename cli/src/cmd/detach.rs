//! `routec detach --node NAME`: remove every link, pin and record apply made.

use std::process::ExitCode;

use super::apply::NodeArgs;
use super::common::WaitArg;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub wait: WaitArg,
}

pub fn run(args: Args) -> ExitCode {
    match routec_runtime::loader::detach_with(&args.node.target(), args.wait.wait()) {
        Ok(removed) if removed.is_empty() => {
            println!("node {}: nothing to detach", args.node.node);
            ExitCode::SUCCESS
        }
        Ok(removed) => {
            println!("node {}: removed {}", args.node.node, removed.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: detach of node {}: {e}", args.node.node);
            ExitCode::from(1)
        }
    }
}
