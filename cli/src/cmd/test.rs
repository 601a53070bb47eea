//! `routec test PATH`: evaluate every `expect` of the input with the tracer
//! (from the cluster, or from a build with --build). Exit 0 when all pass, 1
//! when any fails or the input has errors, 2 for usage or I/O errors.

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::expect::{evaluate_all, report::Report};
use routec_compiler::trace::Snapshot;

use super::common::{self, InputArgs};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routec test examples/mycluster\n  \
    routec test examples/mycluster --format junit -o report.xml\n  routec test examples/mycluster --build out")]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Trace the maps of this `routec build` output instead of the cluster's.
    #[arg(long, value_name = "OUT")]
    build: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

pub fn run(args: Args) -> ExitCode {
    match run_inner(args) {
        Ok(code) => code,
        Err(code) => code,
    }
}

fn run_inner(args: Args) -> Result<ExitCode, ExitCode> {
    let analysis = common::analyze(&args.input)?;
    let Some(cluster) = &analysis.cluster else { return Err(ExitCode::from(1)) };
    let view = match &args.build {
        Some(out) => Snapshot::from_build(out).map_err(|e| usage(&e.to_string()))?,
        None => Snapshot::from_cluster(cluster),
    };
    let report = Report { sources: &analysis.sources, results: evaluate_all(&view, &analysis.expectations) };
    let output = match args.format {
        Format::Text => report.render_text_string(),
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    match &args.output {
        Some(file) => {
            std::fs::write(file, output).map_err(|e| usage(&format!("cannot write {}: {e}", file.display())))?;
            if args.format == Format::Text {
                eprintln!("{}", report.summary());
            }
        }
        None => print!("{output}"),
    }
    Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
