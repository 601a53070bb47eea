// PLACEHOLDER: replaced by the helper that owns this command.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("routec: this command is not built yet");
    ExitCode::from(2)
}
