//! `routec detach --node NAME`: remove every link, pin and record apply made.

use std::process::ExitCode;

use super::apply::NodeArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: NodeArgs,
}

pub fn run(args: Args) -> ExitCode {
    match routec_runtime::loader::detach(&args.node.target()) {
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
