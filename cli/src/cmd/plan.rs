//! `routec plan OUT --node NAME`: what `routec apply OUT` would change on the
//! node, against what its kernel holds now (runtime::loader::observe), so
//! hand-made drift shows too (docs/gitops.md). Read-only. Exit 0 success, 1
//! an error (the build, the pins, the namespace), 2 usage; with
//! --detailed-exitcode 0 no changes, 2 changes, 1 any error.

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::diff::{self, Sides};
use routec_runtime::loader::{self, BuildOutput};

use super::apply::NodeArgs;
use super::common::{DetailedExitcodeArg, FormatArg, OutputFormat, WaitArg};

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routec plan out/ --node worker-1\n  \
    routec plan out/ --node worker-1 --netns /run/netns/worker-1 --format json\n  \
    routec plan out/ --node worker-1 --detailed-exitcode || [ $? -eq 2 ]\n\
    Exit status: 0 success, 1 an error, 2 usage error.\nWith --detailed-exitcode: 0 no changes, 2 changes, 1 any error.")]
pub struct Args {
    /// Output folder of `routec build`: the datapath an apply would make.
    pub out: PathBuf,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub format: FormatArg<OutputFormat>,
    #[command(flatten)]
    pub detailed_exitcode: DetailedExitcodeArg,
    #[command(flatten)]
    pub wait: WaitArg,
}

pub fn run(args: Args) -> ExitCode {
    let target = args.node.target();
    let plan = BuildOutput::open(&args.out).and_then(|build| loader::plan(&build, &target, args.wait.wait()));
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: plan of node {} failed: {e}", target.node);
            return args.detailed_exitcode.error(1);
        }
    };
    let kernel = format!("kernel (node {}, scope {})", target.node, target.scope);
    let out = args.out.display().to_string();
    let text = match args.format.format {
        OutputFormat::Text => diff::render_text_titled(&plan, &format!("routec plan {out}: {kernel} -> {out}")),
        OutputFormat::Json => diff::render_json(&plan, Sides { old: &kernel, new: &out }),
    };
    print!("{text}");
    args.detailed_exitcode.success(plan.has_changes())
}
