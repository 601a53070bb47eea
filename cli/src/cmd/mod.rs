//! One module per subcommand: its flags (defined once, here) and a `run` that
//! calls into the libraries and maps the outcome to an exit code.

pub mod agent;
pub mod apply;
pub mod build;
pub mod check;
pub mod common;
pub mod decode;
pub mod detach;
pub mod diff;
pub mod fmt;
pub mod gen;
pub mod import;
pub mod lab;
pub mod lsp;
pub mod output_file;
pub mod plan;
pub mod snapshot;
pub mod status;
pub mod test;
pub mod trace;
