//! `routec trace`: explain a packet's path hop by hop, offline (from a
//! cluster or a build) or live (from the maps pinned in the kernel, with a
//! drift report). Exit 0 when traced (whatever the packet's fate), 1 for
//! errors in the input, 2 for usage or I/O errors.

use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::trace::{self, Proto, Snapshot};
use routec_runtime::lab::LabState;
use routec_runtime::live_trace::{live_snapshot, LiveSource};

use super::common::{self, BpffsArg, FormatArg, InputArgs, LabStateDirArg, MessageFormatArg};
use super::output_file::{self, OutputArg};

/// `--format`: the common text and json, and a drawing.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Svg,
}

/// `--proto`, mapped onto the simulator's [`Proto`].
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoArg {
    Icmp,
    Tcp,
    Udp,
}

impl From<ProtoArg> for Proto {
    fn from(proto: ProtoArg) -> Self {
        match proto {
            ProtoArg::Icmp => Proto::Icmp,
            ProtoArg::Tcp => Proto::Tcp,
            ProtoArg::Udp => Proto::Udp,
        }
    }
}

#[derive(clap::Args)]
#[command(
    override_usage = "routec trace [OPTIONS] <SRC> <DST> [PATH]\n       routec trace [OPTIONS] --all [PATH]",
    after_help = "Examples:\n  routec trace 10.10.2.117 10.10.1.155 examples/mycluster\n  \
    routec trace ns/a ns/b cluster.route --format svg -o path.svg\n  routec trace --all examples/mycluster\n  \
    routec trace 10.10.2.117 10.10.2.200 --build out\n  routec trace ns/a ns/b cluster.route --live mylab"
)]
pub struct Args {
    /// SRC DST PATH: the source pod (name or IP), the destination (pod name or
    /// any IPv4 or IPv6 address) and the cluster (.route file or folder). With
    /// --build or --live PATH may be left out; with --all give only PATH.
    /// Between two pod names the packet is IPv4 when both ends have IPv4.
    #[arg(value_name = "OPERAND", num_args = 0..=3)]
    operands: Vec<String>,
    /// Trace from a `routec build` output folder instead of a cluster.
    #[arg(long, value_name = "OUT", conflicts_with = "node")]
    build: Option<PathBuf>,
    /// Every ordered pair of pods: a reachability matrix.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    format: FormatArg<Format>,
    #[arg(long, value_enum, default_value = "icmp")]
    proto: ProtoArg,
    /// Destination port (tcp, udp).
    #[arg(long)]
    port: Option<u16>,
    /// TTL (IPv6: hop limit) of the packet as it leaves the pod.
    #[arg(long, default_value_t = 64)]
    ttl: u8,
    #[command(flatten)]
    output: OutputArg,
    /// Trace the maps pinned in the kernel by this lab, and report drift.
    #[arg(long, value_name = "LAB", conflicts_with = "node", value_parser = common::lab_name)]
    live: Option<String>,
    /// Trace the maps pinned in the kernel on this machine, as node NAME.
    #[arg(long, value_name = "NAME", value_parser = common::node_name)]
    node: Option<String>,
    // With --live or --node: where the maps are pinned.
    #[command(flatten)]
    bpffs: BpffsArg,
    // With --live: the lab's state folder.
    #[command(flatten)]
    lab_state: LabStateDirArg,
    #[command(flatten)]
    messages: MessageFormatArg,
}

/// Why a trace did not run: already reported (the input's diagnostics), or
/// a usage or I/O error still to print.
enum Failure {
    Reported(ExitCode),
    Usage(String),
}

impl From<ExitCode> for Failure {
    fn from(code: ExitCode) -> Self {
        Failure::Reported(code)
    }
}

fn usage(message: &str) -> Failure {
    Failure::Usage(message.to_string())
}

pub fn run(args: Args) -> ExitCode {
    let format = args.messages.message_format;
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Reported(code)) => code,
        Err(Failure::Usage(message)) => {
            common::print_error(format, "trace", &message, None);
            ExitCode::from(2)
        }
    }
}

fn run_inner(args: Args) -> Result<(), Failure> {
    let wanted = if args.all { 0 } else { 2 };
    if args.operands.len() < wanted {
        return Err(usage("give SRC and DST (or --all)"));
    }
    if args.operands.len() > wanted + 1 {
        return Err(usage("too many operands: give SRC DST PATH, or --all PATH"));
    }
    let (endpoints, rest) = args.operands.split_at(wanted);
    let path = rest.first().map(PathBuf::from);
    let live_source = match (&args.live, &args.node) {
        (Some(lab), _) => Some(LiveSource::Lab {
            name: lab.clone(),
            state_dir: args.lab_state.state_dir.clone(),
            bpffs: args.bpffs.bpffs.clone(),
        }),
        (None, Some(node)) => Some(LiveSource::Node { name: node.clone(), bpffs: args.bpffs.or_default() }),
        (None, None) => None,
    };
    if args.bpffs.bpffs.is_some() && live_source.is_none() {
        return Err(usage("--bpffs needs --live or --node"));
    }

    // The expected maps: from the cluster, else the build folder.
    let expected = match (path, &args.build) {
        (Some(_), Some(_)) => return Err(usage("give PATH or --build OUT, not both")),
        (Some(path), None) => {
            let (cluster, _) = common::load(&InputArgs { path, messages: args.messages.beside_a_report() })?;
            Snapshot::from_cluster(&cluster)
        }
        (None, Some(out)) => Snapshot::from_build(out).map_err(|e| usage(&e.to_string()))?,
        // A lab records the build it was applied from.
        (None, None) => match &live_source {
            Some(LiveSource::Lab { name, state_dir, .. }) => {
                let state = LabState::load(state_dir, name).map_err(|e| usage(&e.to_string()))?;
                Snapshot::from_build(&state.out).map_err(|e| usage(&e.to_string()))?
            }
            _ => return Err(usage("give the cluster PATH or --build OUT")),
        },
    };
    let live = match &live_source {
        Some(source) => Some(live_snapshot(&expected, source).map_err(|e| usage(&e.to_string()))?),
        None => None,
    };
    let view: &Snapshot = live.as_ref().unwrap_or(&expected);
    let drift = live.as_ref().map(|live| trace::drift(&expected, live));

    let output = if args.all {
        if args.format.format == Format::Svg {
            return Err(usage("--all renders as text or json"));
        }
        let matrix = trace::matrix(view).map_err(|e| usage(&e.to_string()))?;
        let matrix6 = trace::matrix6(view).map_err(|e| usage(&e.to_string()))?;
        match args.format.format {
            Format::Json => {
                trace::MatrixReport { matrix: &matrix, matrix6: matrix6.as_ref(), drift: drift.as_ref() }.to_json()
            }
            _ => with_drift(trace::render_matrices_text(&matrix, matrix6.as_ref()), drift.as_ref()),
        }
    } else {
        let t = trace::trace(view, &endpoints[0], &endpoints[1], args.proto.into(), args.port, args.ttl)
            .map_err(|e| usage(&e.to_string()))?;
        match args.format.format {
            Format::Text => with_drift(trace::render_text(&t), drift.as_ref()),
            Format::Json => trace::TraceReport { trace: &t, drift: drift.as_ref() }.to_json(),
            Format::Svg => {
                if let Some(drift) = &drift {
                    eprint!("{}", trace::render_drift_text(drift));
                }
                trace::render_svg(view, &t)
            }
        }
    };
    match &args.output.output {
        // An SVG is recognised by its first lines; text and JSON traces have
        // no header, so they are written to new files only.
        Some(file) => {
            let mark = if args.format.format == Format::Svg { svg_mark } else { output_file::no_mark };
            output_file::write(file, mark, |out| out.write_all(output.as_bytes())).map_err(|e| usage(&e))
        }
        None => {
            print!("{output}");
            Ok(())
        }
    }
}

fn with_drift(mut text: String, drift: Option<&trace::DriftReport>) -> String {
    if let Some(drift) = drift {
        text.push('\n');
        text.push_str(&trace::render_drift_text(drift));
    }
    text
}

/// A trace SVG this command wrote (`-o` may replace it).
fn svg_mark(file: &mut dyn std::io::Read) -> std::io::Result<bool> {
    Ok(trace::is_trace_svg(&output_file::header(file)?))
}
