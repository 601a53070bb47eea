//! `routec import --endpoints FILE --nodes FILE -o DIR`: a running Cilium
//! cluster, from what kubectl and cilium-dbg print, to .route files
//! (docs/import.md). Exit codes: 0 written, 1 the inputs cannot be mapped or
//! the result does not pass `check` (nothing written), 2 usage or I/O
//! (nothing written).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use routec_compiler::cilium_import::{self as import, AgentInput, ImportError, Input, Inputs, LxcNaming, Options};
use routec_compiler::model::OverlayKind;

use super::common::{self, MessageFormatArg, OutputFormat};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  kubectl get ciliumendpoints -A -o json > endpoints.json\n  \
    kubectl get ciliumnodes -o json > nodes.json\n  \
    routec import --endpoints endpoints.json --nodes nodes.json -o mycluster\n  routec check mycluster")]
pub struct Args {
    /// `kubectl get ciliumendpoints -A -o json` (a List, or one CiliumEndpoint).
    #[arg(long, value_name = "FILE")]
    pub endpoints: PathBuf,
    /// `kubectl get ciliumnodes -o json`, or `kubectl get nodes -o json`.
    #[arg(long, value_name = "FILE")]
    pub nodes: PathBuf,
    /// `cilium-dbg endpoint list -o json` from NODE's agent: lxc names, ifindexes and MACs.
    #[arg(long = "agent-endpoints", value_name = "NODE=FILE", value_parser = agent_arg)]
    pub agents: Vec<(String, PathBuf)>,
    /// Output folder: cluster.route and nodes/<node>.route. Replaced whole on
    /// success (only if an earlier import made it), untouched on failure.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The cluster's name [default: the io.cilium.k8s.policy.cluster label of the endpoints].
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// How pods on different nodes reach each other.
    #[arg(long, value_enum, default_value = "vxlan")]
    pub overlay: OverlayArg,
    /// What Cilium hashed into lxc names, for nodes without --agent-endpoints.
    #[arg(long, value_enum, default_value = "cni-attachment-id")]
    pub lxc_naming: LxcNamingArg,
    /// The report: text for people, or json.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverlayArg {
    Vxlan,
    None,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LxcNamingArg {
    /// sha256 of `<container-id>:<ifname>` (Cilium 1.15 and later).
    CniAttachmentId,
    /// sha256 of the container id (Cilium before 1.15).
    ContainerId,
}

/// clap value parser: `NODE=FILE`, NODE a node name.
fn agent_arg(text: &str) -> Result<(String, PathBuf), String> {
    let (node, file) = text.split_once('=').ok_or_else(|| format!("`{text}` is not NODE=FILE"))?;
    Ok((common::node_name(node)?, PathBuf::from(file)))
}

fn read(path: &Path) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        ExitCode::from(2)
    })
}

pub fn run(args: Args) -> ExitCode {
    match run_import(&args) {
        Ok(code) | Err(code) => code,
    }
}

fn run_import(args: &Args) -> Result<ExitCode, ExitCode> {
    let endpoints = read(&args.endpoints)?;
    let nodes = read(&args.nodes)?;
    let agent_texts = args.agents.iter().map(|(_, file)| read(file)).collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = std::iter::once(&args.endpoints)
        .chain(std::iter::once(&args.nodes))
        .chain(args.agents.iter().map(|(_, f)| f))
        .map(|p| p.display().to_string())
        .collect();
    let inputs = Inputs {
        endpoints: Input { name: &names[0], text: &endpoints },
        nodes: Input { name: &names[1], text: &nodes },
        agents: args
            .agents
            .iter()
            .zip(&agent_texts)
            .zip(&names[2..])
            .map(|(((node, _), text), name)| AgentInput { node, input: Input { name, text } })
            .collect(),
    };
    let options = Options {
        cluster_name: args.cluster_name.clone(),
        overlay: match args.overlay {
            OverlayArg::Vxlan => OverlayKind::Vxlan,
            OverlayArg::None => OverlayKind::None,
        },
        lxc_naming: match args.lxc_naming {
            LxcNamingArg::CniAttachmentId => LxcNaming::CniAttachmentId,
            LxcNamingArg::ContainerId => LxcNaming::ContainerId,
        },
    };
    let imported = match import::import(&inputs, &options) {
        Ok(imported) => imported,
        Err(ImportError::Input(problems)) => {
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            eprintln!(
                "error: nothing imported: {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            return Err(ExitCode::from(1));
        }
        Err(ImportError::Invalid(analysis)) => {
            common::report(&analysis, MessageFormatArg::human());
            eprintln!("error: nothing imported: the generated files do not pass `routec check`");
            return Err(ExitCode::from(1));
        }
    };
    let out = match import::write(&imported, &args.output) {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    match args.format {
        OutputFormat::Text => print!("{}", imported.report.render_text(&out.display().to_string())),
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&imported.report).expect("plain data serializes"))
        }
    }
    Ok(ExitCode::SUCCESS)
}
