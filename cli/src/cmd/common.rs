//! Flags used by more than one command, defined once here (each command
//! flattens the groups it needs), and the loading of a cluster input shared
//! by `check`, `build`, `trace` and `lab up`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use routec_compiler::diagnostics;
use routec_compiler::frontend::{self, Analysis};
use routec_compiler::model::Cluster;
use routec_compiler::settings::Settings;
use routec_runtime::{lab, loader, lock};

#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// A .route file, or a folder whose *.route files (recursively) form one input.
    pub path: PathBuf,
    #[command(flatten)]
    pub messages: MessageFormatArg,
}

#[derive(clap::Args, Debug, Clone, Copy)]
pub struct MessageFormatArg {
    /// How to print diagnostics and errors: `human` on stderr, or `json` (one object per line) on stdout
    /// (on stderr for commands whose stdout is their report: test, snapshot, trace).
    #[arg(long, value_enum, default_value = "human")]
    pub message_format: MessageFormat,
    /// Set by commands whose stdout carries their own report, so that JSON
    /// diagnostics cannot corrupt it.
    #[arg(skip)]
    pub json_on_stderr: bool,
}

impl MessageFormatArg {
    /// Diagnostics for people, on stderr.
    pub fn human() -> Self {
        MessageFormatArg { message_format: MessageFormat::Human, json_on_stderr: false }
    }

    /// The same format, JSON lines going to stderr.
    pub fn beside_a_report(self) -> Self {
        MessageFormatArg { json_on_stderr: true, ..self }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    Human,
    Json,
}

/// Reads and validates the input, printing its diagnostics. Errors in the
/// input give exit code 1, an unreadable input 2.
pub fn load(input: &InputArgs) -> Result<(Cluster, Settings), ExitCode> {
    let analysis = analyze(input)?;
    match analysis.cluster {
        Some(cluster) => Ok((cluster, analysis.settings)),
        None => Err(ExitCode::from(1)),
    }
}

/// Like [`load`], but hands back the whole analysis.
pub fn analyze(input: &InputArgs) -> Result<Analysis, ExitCode> {
    let analysis = match frontend::analyze_path(&input.path) {
        Ok(a) => a,
        Err(e) => {
            match input.messages.message_format {
                MessageFormat::Human => eprintln!("error: {e}"),
                MessageFormat::Json if input.messages.json_on_stderr => eprintln!("{}", e.to_json()),
                MessageFormat::Json => print_json_line(&e.to_json()),
            }
            return Err(ExitCode::from(2));
        }
    };
    report(&analysis, input.messages);
    Ok(analysis)
}

/// A full disk or a closed file behind stdout is an I/O error (exit 2), not
/// a crash: `print!` panics with "failed printing to stdout", and this hook
/// turns that one panic into the error it is. Every other panic keeps the
/// default report.
pub fn exit_2_when_stdout_fails() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(cause) = message.strip_prefix("failed printing to stdout: ") {
            eprintln!("error: cannot write to stdout: {cause}");
            std::process::exit(2);
        }
        default(info);
    }));
}

/// Stdout cannot be written: exit 2.
pub fn stdout_failed(error: &std::io::Error) -> ! {
    eprintln!("error: cannot write to stdout: {error}");
    std::process::exit(2);
}

/// Prints a usage or I/O error for people: exit 2.
pub fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Prints an error that is not a diagnostic: `error: MESSAGE` on stderr for
/// people, or a JSON line ([`diagnostics::error_json`]) on stdout, where the
/// diagnostics go.
pub fn print_error(format: MessageFormat, kind: &str, message: &str, file: Option<&std::path::Path>) {
    match format {
        MessageFormat::Human => eprintln!("error: {message}"),
        MessageFormat::Json => {
            let file = file.map(|f| f.display().to_string());
            print_json_line(&diagnostics::error_json(kind, message, file.as_deref()));
        }
    }
}

fn print_json_line(line: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed stdout leaves nobody to tell.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Prints diagnostics in the chosen format, with a summary line for people.
pub fn report(analysis: &Analysis, messages: MessageFormatArg) {
    match messages.message_format {
        MessageFormat::Human => {
            // A closed stderr leaves nobody to tell.
            let _ = analysis.render_human_to_stderr();
            let summary = analysis.summary();
            if !summary.is_empty() {
                eprintln!("{}: {summary}", if analysis.has_errors() { "error" } else { "warning" });
            }
        }
        MessageFormat::Json if messages.json_on_stderr => {
            // A closed stderr leaves nobody to tell.
            let _ = analysis.render_json(&mut std::io::stderr().lock());
        }
        MessageFormat::Json => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if let Err(e) = analysis.render_json(&mut out).and_then(|_| out.flush()) {
                stdout_failed(&e);
            }
        }
    }
}

/// `--format`, the one definition of the flag: `F` is the command's set of
/// formats, [`OutputFormat`] for most, each with a `text` (the default).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct FormatArg<F: clap::ValueEnum + Clone + Send + Sync + 'static> {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: F,
}

/// The formats of commands that print a report for people or for programs.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// `--detailed-exitcode` of the commands that print a plan (`diff`, `plan`),
/// Terraform's convention.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DetailedExitcodeArg {
    /// Exit 0 when nothing changes, 2 when something does, 1 on any error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

impl DetailedExitcodeArg {
    /// Commands whose `--detailed-exitcode` makes 2 mean "changes".
    const COMMANDS: [&'static str; 2] = ["diff", "plan"];

    /// An error's exit code: `code`, or 1 with --detailed-exitcode.
    pub fn error(self, code: u8) -> ExitCode {
        ExitCode::from(if self.detailed_exitcode { 1 } else { code })
    }

    /// Success: 2 with --detailed-exitcode when there are changes, else 0.
    pub fn success(self, changes: bool) -> ExitCode {
        if self.detailed_exitcode && changes {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    }

    /// Ends the process on a usage error as clap does (exit 2), except for a
    /// command given --detailed-exitcode, where 2 means "changes": a pipeline
    /// must see such an error as 1.
    pub fn exit_on_usage_error(error: clap::Error) -> ! {
        let mut args = std::env::args().skip(1);
        let command = args.next();
        let detailed = Self::COMMANDS.contains(&command.as_deref().unwrap_or_default())
            && args.any(|a| a == "--detailed-exitcode");
        if detailed && error.use_stderr() {
            let _ = error.print();
            std::process::exit(1);
        }
        error.exit()
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct BpffsArg {
    /// Where bpffs is mounted [default: /sys/fs/bpf]
    #[arg(long, value_name = "DIR")]
    pub bpffs: Option<PathBuf>,
}

impl BpffsArg {
    /// The given mount point, else `fallback` (e.g. routec.toml's `bpffs`).
    pub fn or(&self, fallback: PathBuf) -> PathBuf {
        self.bpffs.clone().unwrap_or(fallback)
    }

    /// The given mount point, else the usual one.
    pub fn or_default(&self) -> PathBuf {
        self.or(Settings::default().bpffs)
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct LabStateDirArg {
    /// Where labs keep their state and build output.
    #[arg(long, value_name = "DIR", global = true, default_value = lab::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
}

#[derive(clap::Args, Debug, Clone, Copy)]
pub struct WaitArg {
    /// Fail at once when another routec holds the node's (or lab's) lock, instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
}

impl WaitArg {
    pub fn wait(&self) -> lock::Wait {
        if self.no_wait {
            lock::Wait::NoWait
        } else {
            lock::Wait::Block
        }
    }
}

/// `--tc-mode` of the commands that attach programs (`apply`, `lab up`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct TcModeArgs {
    /// How programs are attached to the tc hooks.
    #[arg(long, value_enum, default_value = "netlink")]
    pub tc_mode: TcModeArg,
}

impl From<TcModeArgs> for loader::TcMode {
    fn from(args: TcModeArgs) -> Self {
        args.tc_mode.into()
    }
}

/// How programs are attached to the tc hooks (both outlive routec).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcModeArg {
    /// TCX links pinned in bpffs (Linux >= 6.6).
    Tcx,
    /// cls_bpf filters on a clsact qdisc, as Cilium 1.14 (shown by any bpftool).
    Netlink,
}

impl From<TcModeArg> for loader::TcMode {
    fn from(mode: TcModeArg) -> Self {
        match mode {
            TcModeArg::Tcx => loader::TcMode::TcxLink,
            TcModeArg::Netlink => loader::TcMode::Netlink,
        }
    }
}

/// clap value parser: a node name as the language allows it (a DNS-1123
/// subdomain), so it is safe as a path component.
pub fn node_name(name: &str) -> Result<String, String> {
    lab::check_node_name(name).map(|()| name.to_string()).map_err(|e| e.to_string())
}

/// clap value parser: a lab name (it becomes namespace and folder names).
pub fn lab_name(name: &str) -> Result<String, String> {
    lab::check_lab_name(name).map(|()| name.to_string()).map_err(|e| e.to_string())
}

/// clap value parser: a pin scope, plain like a lab name (labs use their
/// name as scope), so it is safe as a path component.
pub fn scope_name(name: &str) -> Result<String, String> {
    lab::check_scope(name).map(|()| name.to_string()).map_err(|e| e.to_string())
}
