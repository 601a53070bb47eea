//! `routec diff OLD_OUT NEW_OUT`: what changes on each node if the build NEW
//! replaces OLD (docs/gitops.md). No root, no kernel: both builds are read
//! back through their manifests. Exit 0 success, 1 a build cannot be read
//! (or is of another cluster), 2 usage; with --detailed-exitcode 0 no
//! changes, 2 changes, 1 any error (Terraform's convention).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::diff::{self, Sides};

use super::common::{self, DetailedExitcodeArg, OutputFormat};

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
    #[command(flatten)]
    detailed_exitcode: DetailedExitcodeArg,
    /// Compare builds of two different clusters (refused by default).
    #[arg(long)]
    allow_cluster_change: bool,
}

pub fn run(args: Args) -> ExitCode {
    let error_code = |code: u8| args.detailed_exitcode.error(code);
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
    args.detailed_exitcode.success(plan.has_changes())
}
