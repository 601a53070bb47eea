//! `routec status --node NAME [--format json]`: attached programs, maps, counters.

use std::fmt::Write;
use std::process::ExitCode;

use routec_runtime::loader::{NodeStatus, TcMode};

use super::apply::NodeArgs;
use super::common::OutputFormat;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: NodeArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(args: Args) -> ExitCode {
    match routec_runtime::loader::status(&args.node.target()) {
        Ok(status) => {
            match args.format {
                OutputFormat::Text => print!("{}", render_text(&status)),
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

/// The status for people. Programs read like `bpftool net show`'s tc lines
/// (`lxc4a891387ff1a(9) clsact/ingress cil_from_container id 1285`); how a
/// program is attached follows only where it is not the classic cls_bpf
/// filter: `(tcx)` for a TCX link, `(not routec's)` for a program routec did
/// not attach.
pub fn render_text(status: &NodeStatus) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "node {} (scope {})", status.node, status.scope);
    let _ = writeln!(text, "tc:");
    for p in &status.programs {
        let mode = match p.mode.as_str() {
            m if m == TcMode::TcxLink.as_str() => " (tcx)",
            m if m == TcMode::Netlink.as_str() => "",
            _ => " (not routec's)",
        };
        let _ = writeln!(
            text,
            "{}({}) clsact/{} {} id {}{mode}",
            p.interface,
            p.ifindex,
            p.direction.as_str(),
            p.program,
            p.id
        );
    }
    let _ = writeln!(text, "maps:");
    for m in &status.maps {
        let _ = writeln!(text, "{} {} entries ({})", m.name, m.entries, m.pin.display());
    }
    let _ = writeln!(text, "counters:");
    for c in status.counters.iter().filter(|c| c.packets > 0) {
        let verdict = if c.drop { "drop" } else { "forward" };
        let _ = writeln!(text, "{verdict:<8} {:<20} {:>10} packets {:>12} bytes", c.reason, c.packets, c.bytes);
    }
    text
}

#[cfg(test)]
mod tests {
    use routec_compiler::bpf::Direction;
    use routec_runtime::loader::{NodeStatus, ProgramStatus, TcMode};

    fn program(interface: &str, ifindex: u32, direction: Direction, mode: &str, name: &str, id: u32) -> ProgramStatus {
        ProgramStatus {
            interface: interface.into(),
            ifindex,
            direction,
            mode: mode.into(),
            program: name.into(),
            id,
        }
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
        let text = super::render_text(&status);
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
