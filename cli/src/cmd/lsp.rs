//! `routec lsp`: the language server, over stdin and stdout, for editors
//! (docs/editors.md). Exit 0 after `shutdown` and `exit`, 1 on `exit`
//! without `shutdown` (as the LSP specification asks), 2 if the connection
//! fails.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for editors that pass it; stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: Args) -> ExitCode {
    match routec_lsp::run_stdio() {
        Ok(routec_lsp::Ending::Shutdown) => ExitCode::SUCCESS,
        Ok(routec_lsp::Ending::NoShutdown) => {
            eprintln!("error: routec lsp: the client exited without `shutdown`");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: routec lsp: {e}");
            ExitCode::from(2)
        }
    }
}
