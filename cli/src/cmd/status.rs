//! `routec status --node NAME [--format json]`: attached programs, maps, counters.

use std::process::ExitCode;

use super::apply::NodeArgs;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: NodeArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(args: Args) -> ExitCode {
    match routec_runtime::loader::status(&args.node.target()) {
        Ok(status) => {
            match args.format {
                Format::Text => print!("{status}"),
                Format::Json => println!("{}", serde_json::to_string_pretty(&status).expect("status serializes")),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
