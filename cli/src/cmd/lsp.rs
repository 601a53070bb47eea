//! `routec lsp`: the language server, over stdin and stdout, for editors
//! (docs/editors.md). Exit 2 if the connection fails.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: Args) -> ExitCode {
    match routec_lsp::run_stdio() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: routec lsp: {e}");
            ExitCode::from(2)
        }
    }
}
