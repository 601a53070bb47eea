//! Flags and loading shared by every command that reads a cluster, so they
//! are defined once: `check`, `build`, `trace` flatten [`InputArgs`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::frontend::{self, Analysis};
use routec_compiler::model::Cluster;
use routec_compiler::settings::Settings;

#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// A .route file, or a folder whose *.route files (recursively) form one input.
    pub path: PathBuf,
    /// How to print diagnostics: `human` on stderr, or `json` (one object per line) on stdout.
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    Human,
    Json,
}

/// Reads and validates the input, printing its diagnostics. Errors in the
/// input give exit code 1, an unreadable input 2.
pub fn load(input: &InputArgs) -> Result<(Cluster, Settings), ExitCode> {
    let analysis = analyze(input)?;
    match analysis.cluster {
        Some(cluster) => Ok((cluster, analysis.settings)),
        None => Err(ExitCode::from(1)),
    }
}

/// Like [`load`], but hands back the whole analysis.
pub fn analyze(input: &InputArgs) -> Result<Analysis, ExitCode> {
    let analysis = match frontend::analyze_path(&input.path) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    report(&analysis, input.message_format);
    Ok(analysis)
}

/// Prints diagnostics in the chosen format, with a summary line for people.
pub fn report(analysis: &Analysis, format: MessageFormat) {
    match format {
        MessageFormat::Human => {
            // A closed stderr leaves nobody to tell.
            let _ = analysis.render_human_to_stderr();
            let summary = analysis.summary();
            if !summary.is_empty() {
                eprintln!("{}: {summary}", if analysis.has_errors() { "error" } else { "warning" });
            }
        }
        MessageFormat::Json => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let _ = analysis.render_json(&mut out).and_then(|_| out.flush());
        }
    }
}
