//! `routec agent --node NAME --watch DIR`: the node's datapath follows the
//! build in DIR, with `/metrics` and `/healthz` (routec-agent). Runs until
//! SIGTERM, which leaves the datapath in place. Exit 2 when it cannot start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use routec_agent::{AgentOptions, LogFormat};
use routec_runtime::loader::Target;

use super::apply::NodeArgs;

use super::common::{self, TcModeArgs};

#[derive(clap::Args)]
pub struct Args {
    /// The node and where its datapath lives (`--netns`: the listener is made there too).
    #[command(flatten)]
    pub node: NodeArgs,
    /// A build output folder, or a symlink to one swapped atomically (git-sync's `--link`).
    #[arg(long, value_name = "DIR")]
    pub watch: PathBuf,
    /// Where `/metrics` and `/healthz` are served (9962 is Cilium's agent metrics port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:9962")]
    pub listen: SocketAddr,
    /// Seconds between checks of the kernel against the applied build.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub verify_every: u64,
    /// `text` (logfmt) for people, `json` (one object per line) for collectors.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormatArg,
    #[command(flatten)]
    pub tc_mode: TcModeArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum LogFormatArg {
    Text,
    Json,
}

pub fn run(args: Args) -> ExitCode {
    let target = Target { tc_mode: args.tc_mode.into(), ..args.node.target() };
    let options = AgentOptions {
        target,
        watch: args.watch,
        listen: args.listen,
        verify_every: Duration::from_secs(args.verify_every),
        log_format: match args.log_format {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        },
    };
    match routec_agent::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => common::usage_error(&format!("the agent cannot start: {e}")),
    }
}
