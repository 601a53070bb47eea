//! routec's language server (`routec lsp`): the compiler's front end for
//! editors, on rust-analyzer's `lsp-server` and `lsp-types`, synchronous.
//! See docs/editors.md for setting it up and docs/ARCHITECTURE.md for where
//! it sits.

mod actions;
mod context;
mod convert;
mod expect;
mod features;
mod hover;
mod line_index;
mod names;
mod reference;
mod server;
mod workspace;

pub use server::{run, Ending};

/// Serves an editor over stdin and stdout until it exits.
pub fn run_stdio() -> Result<Ending, Box<dyn std::error::Error + Send + Sync>> {
    let (connection, io_threads) = lsp_server::Connection::stdio();
    let ending = run(connection)?;
    io_threads.join()?;
    Ok(ending)
}
