//! `routec gen`: write a large synthetic, valid, deterministic cluster.

use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

use routec_compiler::gen::{self, GenError, GenOptions, Stack};
use routec_compiler::model::OverlayKind;

use super::output_file::{self, OutputArg};

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
    /// How pods reach pods on other nodes: a VXLAN tunnel, or native routing on the underlay.
    #[arg(long, value_enum, default_value = "vxlan")]
    pub overlay: Overlay,
    #[command(flatten)]
    pub output: OutputArg,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    Vxlan,
    /// Native routing (`overlay none`).
    None,
}

impl From<Overlay> for OverlayKind {
    fn from(overlay: Overlay) -> Self {
        match overlay {
            Overlay::Vxlan => OverlayKind::Vxlan,
            Overlay::None => OverlayKind::None,
        }
    }
}

pub fn run(args: Args) -> ExitCode {
    let opts = GenOptions { nodes: args.nodes, pods_per_node: args.pods_per_node, seed: args.seed };
    let stack = Stack { dual_stack: args.dual_stack, ipv6_only_percent: args.ipv6_only };
    let overlay = OverlayKind::from(args.overlay);
    let result = match &args.output.output {
        Some(path) => match output_file::write(path, is_generated, |out| write(&opts, stack, overlay, out)) {
            Ok(()) => Ok(()),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        None => write(&opts, stack, overlay, BufWriter::new(io::stdout().lock())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(opts: &GenOptions, stack: Stack, overlay: OverlayKind, mut out: impl Write) -> Result<(), GenError> {
    gen::generate_network(opts, stack, overlay, &mut out)?;
    out.flush()?;
    Ok(())
}

/// A cluster file `routec gen` wrote: its first line says so.
fn is_generated(file: &mut dyn Read) -> io::Result<bool> {
    Ok(output_file::header(file)?.starts_with(gen::HEADER_START.as_bytes()))
}
