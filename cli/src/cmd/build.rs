//! `routec build PATH -o OUT`: validate, then write the datapath of every
//! node (docs/build-output.md). Exit codes as `check`: 0 built (warnings
//! allowed), 1 errors in the input (nothing written), 2 usage, I/O or
//! toolchain errors (nothing written).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use routec_compiler::build::{self, BuildError, BuildOptions, BuildReport, ClangChoice};
use routec_compiler::frontend::Analysis;
use routec_compiler::settings::Settings;

use super::common::{self, InputArgs, MessageFormat};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output folder; defaults to `output` in routec.toml. Replaced whole on
    /// success, untouched on failure.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write the C sources but compile no objects (no clang needed).
    #[arg(long, conflicts_with = "clang")]
    pub no_clang: bool,
    /// The clang to compile with (default: routec.toml `clang`, else clang on PATH).
    #[arg(long)]
    pub clang: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let analysis = match common::analyze(&args.input) {
        Ok(analysis) => analysis,
        Err(code) => return code,
    };
    let Some(cluster) = &analysis.cluster else {
        return ExitCode::from(1);
    };
    let format = args.input.messages.message_format;
    let Some(out) = args.output.clone().or_else(|| analysis.settings.output.clone()) else {
        common::print_error(format, "usage", "no output folder: pass -o OUT, or set `output` in routec.toml", None);
        return ExitCode::from(2);
    };
    let options = match options(&args.input.path, &analysis, args.clang.clone(), args.no_clang) {
        Ok(options) => options,
        Err(e) => return fail(format, &e),
    };
    match build::build(cluster, &options, &out) {
        Ok(report) => {
            let summary = summary(&cluster.name, &report);
            // JSON diagnostics own stdout: people's summary goes to stderr then.
            match format {
                MessageFormat::Human => print!("{summary}"),
                MessageFormat::Json => eprint!("{summary}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format, &e),
    }
}

/// The build settings for the input at `path`: routec.toml's `[maps]` and
/// `clang` (`--clang` wins), as `routec build` and `routec lab up` both use them.
pub fn options(
    path: &Path,
    analysis: &Analysis,
    clang: Option<PathBuf>,
    no_clang: bool,
) -> Result<BuildOptions, BuildError> {
    let input_digest = build::analysis_digest(path, analysis)?;
    Ok(BuildOptions {
        clang: clang_choice(clang, no_clang, &analysis.settings),
        input_digest,
        maps: analysis.settings.maps,
    })
}

fn clang_choice(clang: Option<PathBuf>, no_clang: bool, settings: &Settings) -> ClangChoice {
    if no_clang {
        ClangChoice::Skip
    } else if let Some(clang) = clang {
        ClangChoice::Use(Some(clang))
    } else if settings.clang == Settings::default().clang {
        // The default name: search PATH for clang or a versioned clang-N.
        ClangChoice::Use(None)
    } else {
        ClangChoice::Use(Some(settings.clang.clone()))
    }
}

fn fail(format: MessageFormat, error: &BuildError) -> ExitCode {
    let file = match error {
        BuildError::Io { path, .. } | BuildError::NotAnOutput { path, .. } => Some(path.as_path()),
        _ => None,
    };
    common::print_error(format, "build", &error.to_string(), file);
    match error {
        // The input is valid but does not fit its maps.
        BuildError::MapTooSmall { .. } | BuildError::TooManyNodes { .. } => ExitCode::from(1),
        _ => ExitCode::from(2),
    }
}

fn summary(cluster: &str, report: &BuildReport) -> String {
    let objects = if report.objects_compiled { "objects compiled" } else { "no objects (--no-clang)" };
    format!(
        "built {cluster} into {}: {} nodes, {} pods, {} cilium_lxc entries, {} cilium_ipcache entries, {} files, {objects}\ninput {}\n",
        report.out.display(),
        report.nodes,
        report.pods,
        report.lxc_entries,
        report.ipcache_entries,
        report.files,
        report.input_digest,
    )
}
