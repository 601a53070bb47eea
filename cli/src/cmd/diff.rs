//! `routec diff OLD_OUT NEW_OUT`: what changes on each node if the build NEW
//! replaces OLD (docs/gitops.md). No root, no kernel: both builds are read
//! back through their manifests. Exit 0 success, 1 a build cannot be read
//! (or is of another cluster), 2 usage; with --detailed-exitcode 0 no
//! changes, 2 changes, 1 any error (Terraform's convention).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::diff::{self, Sides};

use super::common::{self, OutputFormat};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routec diff deployed/ out/\n  routec diff deployed/ out/ --node worker-1 --format json\n  \
    routec diff deployed/ out/ --detailed-exitcode || [ $? -eq 2 ]\nExit status: 0 success, 1 a build cannot be \
    read or is of another cluster, 2 usage error.\nWith --detailed-exitcode: 0 no changes, 2 changes, 1 any error."
)]
pub struct Args {
    /// The build deployed now (a `routec build` output folder).
    old: PathBuf,
    /// The build that would replace it.
    new: PathBuf,
    /// Show only this node.
    #[arg(long, value_name = "NAME", value_parser = common::node_name)]
    node: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: OutputFormat,
    /// Exit 0 when nothing changes, 2 when something does, 1 on any error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Compare builds of two different clusters (refused by default).
    #[arg(long)]
    allow_cluster_change: bool,
}

/// Ends the process on a usage error as clap does (exit 2), except for
/// `routec diff --detailed-exitcode`, where 2 means "changes": a pipeline
/// must see such an error as 1.
pub fn exit_on_usage_error(error: clap::Error) -> ! {
    let mut args = std::env::args().skip(1);
    let detailed = args.next().as_deref() == Some("diff") && args.any(|a| a == "--detailed-exitcode");
    if detailed && error.use_stderr() {
        let _ = error.print();
        std::process::exit(1);
    }
    error.exit()
}

pub fn run(args: Args) -> ExitCode {
    let error_code = |code: u8| ExitCode::from(if args.detailed_exitcode { 1 } else { code });
    let plan = match diff::diff_builds(&args.old, &args.new, args.allow_cluster_change) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return error_code(1);
        }
    };
    let plan = match &args.node {
        None => plan,
        Some(name) => match plan.only_node(name) {
            Some(plan) => plan,
            None => {
                eprintln!("error: --node {name}: neither build has this node");
                return error_code(2);
            }
        },
    };
    let (old, new) = (args.old.display().to_string(), args.new.display().to_string());
    let sides = Sides { old: &old, new: &new };
    let out = match args.format {
        OutputFormat::Text => diff::render_text(&plan, sides),
        OutputFormat::Json => diff::render_json(&plan, sides),
    };
    print!("{out}");
    if args.detailed_exitcode && plan.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
