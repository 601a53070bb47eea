//! `routec test PATH`: evaluate every `expect` of the input with the tracer
//! (from the cluster, or from a build with --build); with --lab or --live LAB
//! also with a real packet each. Exit 0 when all pass, 1 when any fails or
//! the input has errors, 2 for usage, I/O or lab errors.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::expect::report::{Report, JUNIT_ROOT};
use routec_compiler::expect::{evaluate_all, TestResult};
use routec_compiler::frontend::Analysis;
use routec_compiler::model::Cluster;
use routec_compiler::trace::Snapshot;
use routec_runtime::lab::{self, LabOptions, LabState};
use routec_runtime::packets;

use super::common::{self, InputArgs, LabStateDirArg};
use super::output_file::{self, OutputArg};
use routec_compiler::build::BuildFiles;

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
}

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routec test examples/mycluster\n  \
    routec test examples/mycluster --format junit -o report.xml\n  routec test examples/mycluster --build out\n  \
    sudo routec test examples/mycluster --lab\n  sudo routec test examples/mycluster --live mylab")]
pub struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Trace the maps of this `routec build` output instead of the cluster's.
    #[arg(long, value_name = "OUT")]
    build: Option<PathBuf>,
    /// How to report: text for people, json (one versioned document) or junit (JUnit XML for CI).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    output: OutputArg,
    /// Also send a real packet per expectation, in a lab brought up for this run and taken down after (root).
    #[arg(long, conflicts_with = "live")]
    lab: bool,
    /// Also send a real packet per expectation, in this running lab (root).
    #[arg(long, value_name = "LAB", value_parser = common::lab_name)]
    live: Option<String>,
    #[command(flatten)]
    lab_state: LabStateDirArg,
}

pub fn run(args: Args) -> ExitCode {
    run_inner(args).unwrap_or_else(|code| code)
}

fn run_inner(args: Args) -> Result<ExitCode, ExitCode> {
    let input = InputArgs { messages: args.input.messages.beside_a_report(), ..args.input.clone() };
    let analysis = common::analyze(&input)?;
    let Some(cluster) = &analysis.cluster else { return Err(ExitCode::from(1)) };
    let view = match &args.build {
        Some(out) => {
            let built = BuildFiles::open(out).map_err(|e| common::usage_error(&e.to_string()))?.manifest.cluster;
            if built != cluster.name {
                return Err(common::usage_error(&format!(
                    "{} is a build of cluster `{built}`, not of `{}`: build {} first",
                    out.display(),
                    cluster.name,
                    args.input.path.display()
                )));
            }
            Snapshot::from_build(out).map_err(|e| common::usage_error(&e.to_string()))?
        }
        None => Snapshot::from_cluster(cluster),
    };
    if analysis.expectations.is_empty() {
        eprintln!("warning: {} holds no `expect`: nothing is tested", args.input.path.display());
    }
    let mut results = evaluate_all(&view, &analysis.expectations);
    if args.lab {
        results = in_new_lab(&args, &analysis, cluster, results)?;
    } else if let Some(name) = &args.live {
        let state = LabState::load(&args.lab_state.state_dir, name).map_err(|e| common::usage_error(&e.to_string()))?;
        results = packets::check_all(&state, results).map_err(|e| common::usage_error(&e.to_string()))?;
    }
    let report = Report { sources: &analysis.sources, results };
    let output = match args.format {
        Format::Text => report.render_text_string(),
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    match &args.output.output {
        Some(file) => {
            output_file::write(file, is_test_report, |out| out.write_all(output.as_bytes()))
                .map_err(|e| common::usage_error(&e))?;
            if args.format == Format::Text {
                eprintln!("{}", report.summary());
            }
        }
        None => print!("{output}"),
    }
    Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A JUnit or JSON report of `routec test` (text reports have no header:
/// they are written to new files only).
fn is_test_report(file: &mut dyn Read) -> io::Result<bool> {
    let mut text = Vec::new();
    file.take(JSON_REPORT_MAX_BYTES).read_to_end(&mut text)?;
    let junit = text.split(|&b| b == b'\n').take(2).any(|line| line.starts_with(JUNIT_ROOT.as_bytes()));
    let json = serde_json::from_slice::<serde_json::Value>(&text).is_ok_and(|doc| {
        doc.as_object().is_some_and(|o| {
            let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
            keys.sort_unstable();
            keys == ["expectations", "failed", "passed", "version"]
        })
    });
    Ok(junit || json)
}

/// Larger files are not read whole to recognise a report.
const JSON_REPORT_MAX_BYTES: u64 = 256 << 20;

/// `--lab`: brings the cluster up in a lab of its own (from --build OUT, or
/// built now), sends the packets, and takes the lab down whatever happened.
fn in_new_lab<'a>(
    args: &Args,
    analysis: &Analysis,
    cluster: &Cluster,
    results: Vec<TestResult<'a>>,
) -> Result<Vec<TestResult<'a>>, ExitCode> {
    let name = format!("test-{}", std::process::id());
    let options = LabOptions { state_dir: args.lab_state.state_dir.clone(), ..LabOptions::default() };
    let mut progress = |line: &str| eprintln!("lab {name}: {line}");
    let up = match &args.build {
        Some(out) => lab::up_from_build(out, &name, &options, &mut progress),
        None => {
            // Built as `routec build` builds it (routec.toml's maps and clang).
            let build_options = super::build::options(&args.input.path, analysis, None, false)
                .map_err(|e| common::usage_error(&e.to_string()))?;
            lab::up(cluster, &build_options, &name, &options, &mut progress)
        }
    };
    let state = up.map_err(|e| common::usage_error(&format!("cannot bring up lab {name}: {e}")))?;
    let checked = packets::check_all(&state, results);
    let down = lab::down(&options.state_dir, &name);
    if let Err(e) = &down {
        eprintln!("error: cannot take lab {name} down: {e}");
    }
    let results = checked.map_err(|e| common::usage_error(&e.to_string()))?;
    down.map_err(|_| ExitCode::from(2))?;
    Ok(results)
}
