//! `routec check PATH`: parse and validate; exit 0 clean or warnings only,
//! 1 errors, 2 usage or I/O errors.

use std::process::ExitCode;

use super::common::{self, InputArgs};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: Args) -> ExitCode {
    match common::load(&args.input) {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
