//! `routec fmt PATH [--check]`: rewrite .route files in canonical layout, or
//! list those that are not (exit 1).

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::fmt::format_source;
use routec_compiler::frontend::{input_files, read_source};

use super::output_file;

#[derive(clap::Args)]
pub struct Args {
    /// A .route file, or a folder whose *.route files (recursively) are formatted.
    pub path: PathBuf,
    /// Change nothing; list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: Args) -> ExitCode {
    let files = match input_files(&args.path) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut code = ExitCode::SUCCESS;
    let mut io_error = false;
    for file in files {
        let text = match read_source(&file) {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {e}");
                io_error = true;
                continue;
            }
        };
        let formatted = match format_source(&file.display().to_string(), &text) {
            Ok(formatted) => formatted,
            Err(analysis) => {
                let _ = analysis.render_human_to_stderr();
                eprintln!("error: `{}` has syntax errors and was not formatted", file.display());
                code = ExitCode::from(1);
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if args.check {
            println!("{}", file.display());
            code = ExitCode::from(1);
        } else if let Err(message) = std::fs::canonicalize(&file)
            .map_err(|e| format!("cannot write {}: {e}", file.display()))
            // A symlinked source (which input reads as its target) is
            // formatted where it lives; the link stays a link.
            .and_then(|real| {
                output_file::write(&real, output_file::any_file, |out| out.write_all(formatted.as_bytes()))
            })
        {
            eprintln!("error: {message}");
            io_error = true;
        }
    }
    if io_error {
        ExitCode::from(2)
    } else {
        code
    }
}
