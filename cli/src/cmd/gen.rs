//! `routec gen`: write a large synthetic, valid, deterministic cluster.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::gen::{self, GenError, GenOptions, Stack};

#[derive(clap::Args)]
pub struct Args {
    /// Number of nodes (1..=65536).
    #[arg(long)]
    pub nodes: usize,
    /// Pods on every node (0..=253).
    #[arg(long)]
    pub pods_per_node: usize,
    /// Seed of the pseudo-random names, identities and MACs.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Give every node an IPv6 pod-cidr and every pod an IPv6 ip too.
    #[arg(long)]
    pub dual_stack: bool,
    /// With --dual-stack: this percentage of the pods (0..=100) gets only its IPv6 ip.
    #[arg(long, value_name = "PERCENT", default_value_t = 0, requires = "dual_stack")]
    pub ipv6_only: u8,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> ExitCode {
    let opts = GenOptions { nodes: args.nodes, pods_per_node: args.pods_per_node, seed: args.seed };
    let stack = Stack { dual_stack: args.dual_stack, ipv6_only_percent: args.ipv6_only };
    let result = match &args.output {
        Some(path) => match File::create(path) {
            Ok(file) => write(&opts, stack, BufWriter::new(file)),
            Err(e) => {
                eprintln!("error: cannot create `{}`: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        None => write(&opts, stack, BufWriter::new(io::stdout().lock())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(opts: &GenOptions, stack: Stack, mut out: impl Write) -> Result<(), GenError> {
    gen::generate_stack(opts, stack, &mut out)?;
    out.flush()?;
    Ok(())
}
