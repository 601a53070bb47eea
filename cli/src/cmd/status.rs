//! `routec status --node NAME [--format json]`: attached programs, maps, counters.

use std::process::ExitCode;

use super::apply::NodeArgs;
use super::common::{FormatArg, OutputFormat};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub format: FormatArg<OutputFormat>,
}

pub fn run(args: Args) -> ExitCode {
    match routec_runtime::loader::status(&args.node.target()) {
        Ok(status) => {
            match args.format.format {
                OutputFormat::Text => print!("{status}"),
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&status).expect("status serializes")),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use routec_compiler::bpf::Direction;
    use routec_runtime::loader::{NodeStatus, ProgramStatus, TcMode};

    fn program(interface: &str, ifindex: u32, direction: Direction, mode: &str, name: &str, id: u32) -> ProgramStatus {
        ProgramStatus { interface: interface.into(), ifindex, direction, mode: mode.into(), program: name.into(), id }
    }

    #[test]
    fn programs_read_like_bpftool_with_the_mode_only_where_unusual() {
        let status = NodeStatus {
            node: "worker".into(),
            scope: "default".into(),
            programs: vec![
                program("lxc4a891387ff1a", 9, Direction::Ingress, TcMode::Netlink.as_str(), "cil_from_container", 1285),
                program("cilium_vxlan", 4, Direction::Egress, TcMode::TcxLink.as_str(), "cil_to_overlay", 1290),
                program("eth0", 2, Direction::Ingress, "foreign", "other", 7),
            ],
            maps: vec![],
            counters: vec![],
        };
        let text = status.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1..5],
            [
                "tc:",
                "lxc4a891387ff1a(9) clsact/ingress cil_from_container id 1285",
                "cilium_vxlan(4) clsact/egress cil_to_overlay id 1290 (tcx)",
                "eth0(2) clsact/ingress other id 7 (not routec's)",
            ]
        );
    }
}
