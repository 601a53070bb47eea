//! `routec snapshot PATH`: print what the cluster compiles to as reviewable
//! text (or write it with -o); with --check FILE, print the unified diff
//! against FILE instead. Exit 0 (same), 1 (different, or errors in the
//! input), 2 for usage or I/O errors.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::snapshot;

use super::common::{self, InputArgs};
use super::output_file::{self, OutputArg};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routec snapshot examples/mycluster -o examples/mycluster/datapath.snap\n  \
    routec snapshot examples/mycluster --check examples/mycluster/datapath.snap")]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    output: OutputArg,
    /// Compare with the snapshot in FILE: print the diff and exit 1 when they differ.
    #[arg(long, value_name = "FILE", conflicts_with = "output")]
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
    match &args.output.output {
        Some(file) => output_file::write(file, is_snapshot, |out| out.write_all(text.as_bytes()))
            .map_err(|e| common::usage_error(&e))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A snapshot of any format: its first line is the header up to the format's number.
fn is_snapshot(file: &mut dyn Read) -> io::Result<bool> {
    let start = snapshot::HEADER.trim_end_matches(|c: char| c.is_ascii_digit());
    Ok(output_file::header(file)?.starts_with(start.as_bytes()))
}
