//! The `routec` binary: argument parsing and dispatch only. Every command's
//! work lives in `routec-compiler` or `routec-runtime`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "routec", version, about = "A declarative routing compiler and loader for eBPF pod networking")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and validate .route files; report every problem.
    Check(cmd::check::Args),
    /// Rewrite .route files in canonical layout.
    Fmt(cmd::fmt::Args),
    /// Generate a large synthetic cluster (for benchmarks and scale tests).
    Gen(cmd::gen::Args),
    /// Describe a running Cilium cluster as .route files, from kubectl and cilium-dbg JSON.
    Import(cmd::import::Args),
    /// Compile a cluster into map seeds, eBPF objects and attach plans.
    Build(cmd::build::Args),
    /// Show what changes on each node if one build replaces another (a plan, no root).
    Diff(cmd::diff::Args),
    /// Show what an apply of a build would change on a node, against what its kernel holds now.
    Plan(cmd::plan::Args),
    /// Decode cilium_lxc / cilium_ipcache entries as bpftool prints them.
    Decode(cmd::decode::Args),
    /// Load a build's datapath for one node into the kernel.
    Apply(cmd::apply::Args),
    /// Keep a node's datapath on the build in a watched folder, with /metrics and /healthz (a DaemonSet's agent).
    Agent(cmd::agent::Args),
    /// Remove every program, link and pin that `apply` made for a node.
    Detach(cmd::detach::Args),
    /// Show a node's attached programs, maps and counters.
    Status(cmd::status::Args),
    /// Run a whole cluster in network namespaces on this machine.
    Lab(cmd::lab::Args),
    /// Explain, hop by hop, how a packet from one pod reaches another.
    Trace(cmd::trace::Args),
    /// Serve editors over stdio: diagnostics, hover, rename, quick fixes, formatting.
    Lsp(cmd::lsp::Args),
    /// Check every `expect` of the input against the traced datapath.
    Test(cmd::test::Args),
    /// Print a reviewable text of what the cluster compiles to, or diff it against a file.
    Snapshot(cmd::snapshot::Args),
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so every print to a closed pipe (`routec status |
    // head -1`) would panic. Like other Unix filters (ripgrep does the same),
    // end quietly instead: the default disposition kills the process.
    // SAFETY: called before any thread exists; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cmd::common::exit_2_when_stdout_fails();
    let cli = Cli::try_parse().unwrap_or_else(|e| cmd::common::DetailedExitcodeArg::exit_on_usage_error(e));
    match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Fmt(args) => cmd::fmt::run(args),
        Command::Gen(args) => cmd::gen::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Build(args) => cmd::build::run(args),
        Command::Decode(args) => cmd::decode::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::Detach(args) => cmd::detach::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Lab(args) => cmd::lab::run(args),
        Command::Trace(args) => cmd::trace::run(args),
        Command::Lsp(args) => cmd::lsp::run(args),
        Command::Test(args) => cmd::test::run(args),
        Command::Snapshot(args) => cmd::snapshot::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap's own checks of every command (duplicate ids, bad defaults...),
    /// which otherwise only fire when that command runs.
    #[test]
    fn every_command_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
