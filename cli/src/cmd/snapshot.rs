//! `routec snapshot PATH`: print what the cluster compiles to as reviewable
//! text (or write it with -o); with --check FILE, print the unified diff
//! against FILE instead. Exit 0 (same), 1 (different, or errors in the
//! input), 2 for usage or I/O errors.

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::snapshot;

use super::common::{self, InputArgs};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routec snapshot examples/mycluster -o examples/mycluster/datapath.snap\n  \
    routec snapshot examples/mycluster --check examples/mycluster/datapath.snap")]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Write the snapshot to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE", conflicts_with = "check")]
    output: Option<PathBuf>,
    /// Compare with the snapshot in FILE: print the diff and exit 1 when they differ.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    run_inner(args).unwrap_or_else(|code| code)
}

fn run_inner(args: Args) -> Result<ExitCode, ExitCode> {
    let input = InputArgs { messages: args.input.messages.beside_a_report(), ..args.input.clone() };
    let (cluster, _) = common::load(&input)?;
    let text = snapshot::render(&cluster).map_err(|e| common::usage_error(&e.to_string()))?;
    if let Some(file) = &args.check {
        let old = std::fs::read_to_string(file)
            .map_err(|e| common::usage_error(&format!("cannot read {}: {e}", file.display())))?;
        let new_name = args.input.path.display().to_string();
        return Ok(match snapshot::diff(&old, &text, &file.display().to_string(), &new_name) {
            None => ExitCode::SUCCESS,
            Some(diff) => {
                print!("{diff}");
                eprintln!("error: the snapshot of {new_name} differs from {}", file.display());
                ExitCode::from(1)
            }
        });
    }
    match &args.output {
        Some(file) => std::fs::write(file, text)
            .map_err(|e| common::usage_error(&format!("cannot write {}: {e}", file.display())))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
