//! The agent loop. It sleeps until inotify, a signal or the verify timer
//! wakes it, and then:
//! - on a change (a swap of the path at once; anything else once the folder
//!   has been quiet for [`QUIET`]), reads the watched build and, when its digest is not the
//!   applied one, applies it under the node's lock (`loader::apply`), or
//!   refuses it and keeps the running datapath;
//! - on the timer, does the same (a change inotify could not see, a failed
//!   apply to retry), then compares the kernel with the applied build and repairs
//!   what differs by applying it again, then reads the kernel back;
//! - on SIGTERM or SIGINT, returns, leaving the datapath in place (programs
//!   and maps outlive the agent: a restart drops no packet).
//!
//! At start it adopts the datapath without writing anything when the kernel
//! already holds the watched build.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use routec_runtime::loader::{self, MapSync, Target};
use routec_runtime::lock::Wait;
use routec_runtime::{Error, Result};

use crate::health::Health;
use crate::log::{Level, Log, LogFormat};
use crate::metrics::{ApplyResult, Metrics};
use crate::verify;
use crate::watch::Watches;
use crate::watched::{self, Build};

/// How long the watched folder must be quiet before the agent reads it: a
/// build written in place sends many events.
pub const QUIET: Duration = Duration::from_millis(200);
/// The longest a stream of events can postpone a read.
const MAX_DEBOUNCE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The node's pins, record, namespace and lock.
    pub target: Target,
    /// A build folder, or a symlink to one.
    pub watch: PathBuf,
    pub listen: SocketAddr,
    pub verify_every: Duration,
    pub log_format: LogFormat,
}

/// What wakes the agent loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    Changed,
    Stop,
}

struct Agent {
    options: AgentOptions,
    log: Log,
    health: Arc<Mutex<Health>>,
    metrics: Arc<Metrics>,
    applied: Option<Build>,
    /// The folder and digest (or why there is none) of the last read, so
    /// that an event that changed neither costs no read and no log line.
    seen: Option<(Option<PathBuf>, std::result::Result<String, String>)>,
    watches: Watches,
}

/// Runs the agent until SIGTERM or SIGINT. Errors only when it cannot start
/// (the listener, inotify, signal handlers).
pub fn run(options: AgentOptions) -> Result<()> {
    let log = Log { format: options.log_format, node: options.target.node.clone() };
    let (wake, woken) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT])
        .map_err(|e| Error::msg(format!("cannot handle signals: {e}")))?;
    let stop = wake.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = stop.send(Wake::Stop);
            }
        })
        .map_err(|e| Error::msg(format!("cannot start the signal thread: {e}")))?;
    let health = Arc::new(Mutex::new(Health::default()));
    let metrics = Arc::new(Metrics::new(options.target.clone(), health.clone()));
    let bound = crate::http::serve(options.listen, options.target.netns.as_deref(), health.clone(), metrics.clone())?;
    let watches = Watches::new(&options.watch, wake)?;
    log.event(
        Level::Info,
        "started",
        &[("watch", options.watch.display().to_string()), ("listen", bound.to_string())],
        "",
    );
    let mut agent = Agent { options, log, health, metrics, applied: None, seen: None, watches };
    agent.start();
    agent.serve(&woken);
    agent.log.event(Level::Info, "stopped", &[], "the datapath stays in place");
    Ok(())
}

impl Agent {
    fn serve(&mut self, woken: &Receiver<Wake>) {
        let mut next_check = Instant::now() + self.options.verify_every;
        loop {
            match woken.recv_timeout(next_check.saturating_duration_since(Instant::now())) {
                Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Wake::Changed) => {
                    // A swap (the path now resolves to another folder) is
                    // atomic: read at once. Anything else may be a build
                    // being written in place: wait until it is quiet.
                    if self.debounce(woken) == Some(Wake::Stop) {
                        return;
                    }
                    self.reconcile();
                }
                Err(RecvTimeoutError::Timeout) => {
                    // A change inotify could not see (a network filesystem) is found here.
                    self.reconcile();
                    self.check();
                    next_check = Instant::now() + self.options.verify_every;
                }
            }
        }
    }

    /// Adopts the datapath when the kernel holds the watched build, applies
    /// the build otherwise.
    fn start(&mut self) {
        if self.watch_missing() {
            return;
        }
        let build = match watched::open(&self.options.watch, &self.options.target.node) {
            Ok(build) => build,
            Err(e) => return self.refuse(None, &e),
        };
        self.seen = Some((Some(build.folder.clone()), Ok(build.id.digest.clone())));
        let differences = verify::differences(&self.options.target, &build);
        if differences.is_empty() {
            self.log.event(Level::Info, "adopted", &self.fields(&build), "the kernel holds the watched build");
            self.set_applied(build);
        } else {
            let found = verify::summary(&differences);
            self.log.event(Level::Info, "differs", &self.fields(&build), &format!("at start: {found}"));
            self.apply(build, MapSync::Verify);
        }
    }

    /// Reads the watched build again when the path points to another folder
    /// or its manifest changed since the last read, and applies it.
    fn reconcile(&mut self) {
        self.watches.follow();
        let folder = watched::resolve(&self.options.watch);
        let digest =
            folder.as_ref().map_err(Error::to_string).and_then(|f| watched::digest(f).map_err(|e| e.to_string()));
        let seen = (folder.as_ref().ok().cloned(), digest);
        if self.seen.as_ref() == Some(&seen) {
            return;
        }
        self.seen = Some(seen);
        if self.watch_missing() {
            return;
        }
        match watched::open(&self.options.watch, &self.options.target.node) {
            Ok(build) => match &self.applied {
                Some(applied) if applied.id.cluster != build.id.cluster => {
                    let why = Error::msg(format!(
                        "{} is a build of cluster `{}`, this node runs cluster `{}`",
                        build.folder.display(),
                        build.id.cluster,
                        applied.id.cluster
                    ));
                    self.refuse(Some(&build), &why)
                }
                Some(applied) if applied.id == build.id => self.set_applied(build),
                _ => self.apply(build, MapSync::Incremental),
            },
            Err(e) => self.refuse(None, &e),
        }
    }

    /// A watched path that does not exist yet (git-sync's first clone still
    /// running) is waited for, not refused: logged, not counted.
    fn watch_missing(&mut self) -> bool {
        let missing = std::fs::metadata(&self.options.watch).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        if missing {
            let watch = self.options.watch.display().to_string();
            self.log.event(Level::Info, "waiting", &[("watch", watch)], "the watched path does not exist yet");
            self.health.lock().expect("health lock").watched = None;
        }
        missing
    }

    /// Waits until no event came for [`QUIET`] (at most [`MAX_DEBOUNCE`]),
    /// or the path was swapped; a stop request ends the wait.
    fn debounce(&self, woken: &Receiver<Wake>) -> Option<Wake> {
        let started = Instant::now();
        while started.elapsed() < MAX_DEBOUNCE && !self.swapped() {
            match woken.recv_timeout(QUIET) {
                Ok(Wake::Changed) => continue,
                Ok(Wake::Stop) => return Some(Wake::Stop),
                Err(_) => return None,
            }
        }
        None
    }

    /// Does the watched path resolve to another folder than at the last read?
    fn swapped(&self) -> bool {
        let folder = watched::resolve(&self.options.watch).ok();
        folder.is_some() && self.seen.as_ref().map(|(seen, _)| seen) != Some(&folder)
    }

    fn refuse(&mut self, build: Option<&Build>, why: &Error) {
        self.metrics.count_apply(ApplyResult::Refused);
        let fields = build.map(|b| self.fields(b)).unwrap_or_default();
        self.log.event(Level::Warn, "refused", &fields, &format!("{why}; the running datapath is kept"));
        self.health.lock().expect("health lock").watched = Some(Err(why.to_string()));
    }

    /// Applies `build`, then reads the kernel back. `sync`: a new build is
    /// applied from the last apply's record (incremental); a kernel known to
    /// differ is read back entry by entry (`--verify`).
    fn apply(&mut self, build: Build, sync: MapSync) {
        let started = Instant::now();
        let result = self.apply_plan(&build, sync);
        self.metrics.apply_duration.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(report) => {
                let result = if report.changed_nothing() { ApplyResult::Unchanged } else { ApplyResult::Applied };
                self.metrics.count_apply(result);
                let seconds = format!("{:.3}", started.elapsed().as_secs_f64());
                let mut fields = self.fields(&build);
                fields.push(("seconds", seconds));
                self.log.event(Level::Info, result.as_str(), &fields, &report.to_string());
                let clean = verify::differences(&self.options.target, &build).is_empty();
                self.set_applied(build);
                if clean {
                    self.health.lock().expect("health lock").unrepaired = None;
                } else {
                    // An incremental apply writes only what changed since
                    // the last one: drift from before is repaired now.
                    self.check();
                }
            }
            Err(e) => {
                self.metrics.count_apply(ApplyResult::Failed);
                self.log.event(Level::Error, "apply-failed", &self.fields(&build), &e.to_string());
                self.health.lock().expect("health lock").watched = Some(Err(format!("apply failed: {e}")));
                // The kernel may take it later (an interface that appears): read it again next time.
                self.seen = None;
            }
        }
    }

    /// Compares the kernel with the applied build; repairs what differs.
    fn check(&mut self) {
        let Some(build) = self.applied.clone() else { return };
        let differences = verify::differences(&self.options.target, &build);
        if differences.is_empty() {
            self.health.lock().expect("health lock").unrepaired = None;
            return;
        }
        self.log.event(Level::Warn, "drift", &self.fields(&build), &verify::summary(&differences));
        let started = Instant::now();
        let result = self.apply_plan(&build, MapSync::Verify);
        self.metrics.apply_duration.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(_) => self.metrics.count_apply(ApplyResult::Applied),
            Err(e) => {
                self.metrics.count_apply(ApplyResult::Failed);
                self.log.event(Level::Error, "repair-failed", &self.fields(&build), &e.to_string());
            }
        }
        let left = verify::differences(&self.options.target, &build);
        if left.is_empty() {
            self.metrics.drift_repairs.inc();
            let repaired = format!("{} differences", differences.len());
            self.log.event(Level::Info, "repaired", &self.fields(&build), &repaired);
        }
        self.record_unrepaired(&left);
    }

    fn apply_plan(&self, build: &Build, sync: MapSync) -> Result<loader::ApplyReport> {
        loader::apply_with(&build.plan, &self.options.target, Wait::Block, sync, &mut |_| {})
    }

    fn record_unrepaired(&mut self, differences: &[String]) {
        let unrepaired = (!differences.is_empty()).then(|| verify::summary(differences));
        if let (Some(text), Some(build)) = (&unrepaired, &self.applied) {
            self.log.event(Level::Error, "unrepaired", &self.fields(build), &format!("after repair: {text}"));
        }
        self.health.lock().expect("health lock").unrepaired = unrepaired;
    }

    fn set_applied(&mut self, build: Build) {
        let mut health = self.health.lock().expect("health lock");
        health.applied = Some(build.id.clone());
        health.watched = Some(Ok(build.id.clone()));
        drop(health);
        self.applied = Some(build);
    }

    fn fields(&self, build: &Build) -> Vec<(&'static str, String)> {
        vec![
            ("digest", build.id.digest.clone()),
            ("cluster", build.id.cluster.clone()),
            ("folder", build.folder.display().to_string()),
        ]
    }
}
