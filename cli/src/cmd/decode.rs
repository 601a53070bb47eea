//! `routec decode`: bpftool's text (stdin) or `--key`/`--value` to named fields.
//! Exit codes: 0 decoded, 1 the input is not a valid entry of the map (bad hex,
//! wrong lengths), 2 usage or I/O error.

use std::io::Read;
use std::process::ExitCode;

use routec_compiler::decode::{self, MapKind, RawEntry};

use super::common::{FormatArg, OutputFormat};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MapArg {
    #[value(name = "cilium_lxc")]
    CiliumLxc,
    #[value(name = "cilium_ipcache")]
    CiliumIpcache,
    #[value(name = "routec_node_ipv6")]
    RoutecNodeIpv6,
}

#[derive(clap::Args)]
#[command(
    after_help = "Reads `bpftool map lookup`/`map dump` output (also `-j` JSON and routec .seed lines) on stdin \
unless --key and --value are given.\nExit status: 0 decoded, 1 bad hex or wrong lengths, 2 usage or I/O error."
)]
pub struct Args {
    /// Which map the bytes come from.
    #[arg(long, value_enum)]
    map: MapArg,
    /// Key bytes in hex, space-separated (`0a 0a 02 79 ..`) or contiguous (`0a0a0279..`).
    #[arg(long, requires = "value", allow_hyphen_values = true)]
    key: Option<String>,
    /// Value bytes in hex, like --key.
    #[arg(long, requires = "key", allow_hyphen_values = true)]
    value: Option<String>,
    #[command(flatten)]
    format: FormatArg<OutputFormat>,
}

pub fn run(args: Args) -> ExitCode {
    let map = match args.map {
        MapArg::CiliumLxc => MapKind::Lxc,
        MapArg::CiliumIpcache => MapKind::Ipcache,
        MapArg::RoutecNodeIpv6 => MapKind::NodeIpv6,
    };
    let decoded = match (&args.key, &args.value) {
        (Some(key), Some(value)) => {
            let parse =
                |what: &str, text: &str| decode::parse_hex_arg(text).map_err(|e| eprintln!("error: --{what}: {e}"));
            match (parse("key", key), parse("value", value)) {
                (Ok(key), Ok(value)) => decode::decode_entry(map, &RawEntry { key, value }, 1).map(|d| vec![d]),
                _ => return ExitCode::from(1),
            }
        }
        _ => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("error: reading stdin: {e}");
                return ExitCode::from(2);
            }
            decode::decode_text(map, &text)
        }
    };
    match decoded {
        Ok(decoded) => {
            let out = match args.format.format {
                OutputFormat::Text => decode::render_text(map, &decoded),
                OutputFormat::Json => decode::render_json(&decoded),
            };
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
