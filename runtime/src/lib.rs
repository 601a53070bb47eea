//! routec's runtime: loads a build into the kernel and runs the namespace lab.
//!
//! - [`loader`]: `routec apply/detach/status` for one node (aya 0.14; cls_bpf filters or TCX links).
//! - [`lab`]: a whole cluster in network namespaces on this machine.
//! - [`netns`]: the one way code enters a network namespace (a dedicated thread).
//! - [`lock`]: one writer per node and per lab (`flock`).
//! - [`packets`]: real packets in a lab for `routec test --lab` / `--live`.
//! - [`bpffs`]: pins go only into a mounted bpf filesystem.

pub mod bpffs;
pub mod lab;
pub mod live_trace;
pub mod loader;
pub mod lock;
pub mod netlink;
pub mod netns;
pub mod packets;

/// Everything that can go wrong in the runtime, with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{context}: {source}")]
    Context { context: String, source: Box<Error> },
    #[error("{0}")]
    Msg(String),
    /// A failed `apply`, with what it left of the datapath.
    #[error("{0}")]
    Apply(Box<loader::ApplyFailure>),
}

impl Error {
    pub fn msg(text: impl Into<String>) -> Self {
        Error::Msg(text.into())
    }

    /// What a failed apply left, under any context added since.
    pub fn apply_outcome(&self) -> Option<loader::ApplyOutcome> {
        match self {
            Error::Apply(failure) => Some(failure.outcome),
            Error::Context { source, .. } => source.apply_outcome(),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "while doing X" context to errors.
pub trait Context<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::Context { context: context(), source: Box::new(e.into()) })
    }
}
